-- The issuer's own certificate of an external calibration (DESIGN 9c): the PDF or DCC the
-- accredited laboratory or NMI issued, kept byte for byte with its SHA-256 so an assessor can
-- check that what the export carries is what was received. One per calibration; a new
-- upload replaces it, and the audit log keeps both hashes.
CREATE TABLE issuer_certificates (
    calibration_id BIGINT PRIMARY KEY REFERENCES calibrations(id),
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'application/xml')),
    file BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    uploaded_by BIGINT REFERENCES users(id),
    uploaded_at TEXT NOT NULL
);
