-- Validity statements (DESIGN 9c): what an inspector, an assessor or a customer takes away
-- from a bulk validity check, numbered, rendered once and stored byte for byte like a
-- certificate, so that the paper can be verified later against what was answered then.
CREATE TABLE validity_statements (
    number TEXT PRIMARY KEY,
    requested_by INTEGER NOT NULL REFERENCES users(id),
    -- As printed: a later change of the user's profile does not reach an issued statement.
    requester_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    lab_name TEXT NOT NULL,
    -- The rows asked (instrument key and date) and the rows answered, JSON text.
    request TEXT NOT NULL,
    results TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    pdf BLOB NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    signed BOOLEAN NOT NULL
);
CREATE INDEX validity_statements_requester ON validity_statements(requested_by);
CREATE INDEX validity_statements_pdf_sha256 ON validity_statements(pdf_sha256);

-- Consecutive statement numbers per year, bumped in the transaction that stores the statement.
CREATE TABLE validity_statement_counters (
    year INTEGER PRIMARY KEY,
    last_number INTEGER NOT NULL
);
