-- Calibrations: internal (this lab's, certified by us) and external (another
-- lab's or an NMI's certificate, recorded for traceability).
CREATE TABLE calibrations (
    id BIGSERIAL PRIMARY KEY,
    instrument_id BIGINT NOT NULL REFERENCES instruments(id),
    kind TEXT NOT NULL CHECK (kind IN ('internal', 'external')),
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'issued', 'accepted', 'rejected', 'withdrawn', 'superseded')),
    performed_on DATE NOT NULL,
    received_on DATE,
    issued_on DATE,
    due_on DATE,
    decision_rule TEXT NOT NULL,
    out_of_tolerance BOOLEAN NOT NULL DEFAULT FALSE,
    issuer_name TEXT,
    issuer_certificate_number TEXT,
    accredited BOOLEAN NOT NULL DEFAULT FALSE,
    certificate_number TEXT UNIQUE,
    replaces_number TEXT,
    superseded_by TEXT,
    status_reason TEXT,
    body TEXT NOT NULL,
    results TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    approved_by BIGINT REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- "Latest calibration on record performed on or before D" for one instrument.
CREATE INDEX calibrations_record ON calibrations(instrument_id, performed_on, id, status);
CREATE INDEX calibrations_status ON calibrations(status, performed_on);

-- Standards used, in the order given (the order traceability walks them in).
CREATE TABLE calibration_standards (
    calibration_id BIGINT NOT NULL REFERENCES calibrations(id),
    position INTEGER NOT NULL,
    standard_id BIGINT NOT NULL REFERENCES instruments(id),
    PRIMARY KEY (calibration_id, position)
);
CREATE INDEX calibration_standards_standard ON calibration_standards(standard_id, calibration_id);

-- Gapless certificate numbers per year of issue.
CREATE TABLE certificate_counters (
    year INTEGER PRIMARY KEY,
    last_number INTEGER NOT NULL
);

-- The laboratory's calibration and measurement capabilities (ILAC P14).
CREATE TABLE cmcs (
    id BIGSERIAL PRIMARY KEY,
    quantity_kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX cmcs_kind ON cmcs(quantity_kind);
