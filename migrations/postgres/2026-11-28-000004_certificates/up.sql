-- Issued certificate documents: rendered once at issue and kept byte for byte,
-- with their SHA-256, so every download and verification sees what was signed.
CREATE TABLE certificates (
    number TEXT PRIMARY KEY,
    calibration_id BIGINT NOT NULL UNIQUE REFERENCES calibrations(id),
    instrument_id BIGINT NOT NULL REFERENCES instruments(id),
    issued_on DATE NOT NULL,
    pdf BYTEA NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    dcc BYTEA NOT NULL,
    dcc_sha256 TEXT NOT NULL,
    audit_head TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX certificates_instrument ON certificates(instrument_id);
CREATE INDEX certificates_issued ON certificates(issued_on);
