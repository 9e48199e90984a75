-- Failed web logins per account name, so password guessing is throttled (docs/decisions.md):
-- kept in the database rather than in memory so every instance counts the same attempts.
CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    user_name TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX login_failures_by_name ON login_failures(user_name, failed_at);
