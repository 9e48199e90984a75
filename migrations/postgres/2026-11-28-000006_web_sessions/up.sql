-- Web pages log in with a password (PBKDF2-HMAC-SHA256, parameters stored with the hash) and
-- keep a session: only the SHA-256 of the session cookie is stored, like API tokens.
ALTER TABLE users ADD COLUMN password_hash TEXT;

CREATE TABLE web_sessions (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    session_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
