-- Users, their roles and bearer tokens (stored only as SHA-256 hashes).
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- The register of instruments and standards.
CREATE TABLE instruments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_tag TEXT NOT NULL UNIQUE,
    description TEXT,
    manufacturer TEXT,
    model TEXT,
    serial_number TEXT,
    role TEXT NOT NULL CHECK (role IN ('working', 'reference', 'national')),
    quantity_kind TEXT NOT NULL,
    range_min_value DOUBLE,
    range_min_unit TEXT,
    range_max_value DOUBLE,
    range_max_unit TEXT,
    resolution_value DOUBLE,
    resolution_unit TEXT,
    customer TEXT,
    location TEXT,
    interval_days INTEGER,
    institute TEXT,
    country TEXT,
    standard_identifier TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'retired')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (manufacturer, model, serial_number)
);
CREATE INDEX instruments_role ON instruments(role);
CREATE INDEX instruments_customer ON instruments(customer);

-- Status history: validity on a past date uses the status in force on that date.
CREATE TABLE instrument_status_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id INTEGER NOT NULL REFERENCES instruments(id),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'retired')),
    effective_on DATE NOT NULL,
    reason TEXT,
    changed_by INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL
);
CREATE INDEX instrument_status_changes_instrument ON instrument_status_changes(instrument_id, effective_on, id);

-- Append-only, hash-chained audit log; seq is gapless so a deleted row shows.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    occurred_at TEXT NOT NULL,
    user_id BIGINT,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id);
CREATE INDEX audit_log_occurred ON audit_log(occurred_at);
