-- Competence authorisations (ISO/IEC 17025 6.2.5-6.2.6, DESIGN 9b): who may calibrate or
-- approve which quantity kind (optionally only under one procedure code) from which day until
-- which day (inclusive; NULL: until further notice). Recording and approving check them.
CREATE TABLE authorisations (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    activity TEXT NOT NULL,
    quantity_kind TEXT NOT NULL,
    procedure_code TEXT,
    valid_from DATE NOT NULL,
    valid_until DATE,
    created_at TEXT NOT NULL
);
CREATE INDEX authorisations_user ON authorisations(user_id, activity, quantity_kind);

-- The procedures register (7.2): each version of a procedure is a record of its own, with
-- its validation status; calibrations cite a code (the latest validated version on the day of
-- the work) or code@version.
CREATE TABLE procedures (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL,
    version TEXT NOT NULL,
    title TEXT NOT NULL,
    quantity_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    validated_on DATE,
    document_url TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (code, version)
);
