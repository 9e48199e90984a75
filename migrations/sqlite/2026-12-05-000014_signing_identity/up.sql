-- The laboratory's signing identity (DESIGN section 8b): an X.509 signing certificate, its
-- chain (issuer first, up to the root when known) and its private key, all PEM. One row is in
-- force (retired_at NULL); installing another retires it and erases its key, keeping the
-- certificate so that what it signed can still be told apart. The key is read only to sign
-- at issue: no API answer, page, log or audit entry carries it.
CREATE TABLE signing_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    not_after TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    chain_pem TEXT NOT NULL,
    key_pem TEXT,
    installed_at TEXT NOT NULL,
    installed_by TEXT NOT NULL,
    retired_at TEXT
);

-- At most one identity in force.
CREATE UNIQUE INDEX signing_identities_in_force
    ON signing_identities ((retired_at IS NULL)) WHERE retired_at IS NULL;
