DROP TABLE audit_log;
DROP TABLE instrument_status_changes;
DROP TABLE instruments;
DROP TABLE api_tokens;
DROP TABLE users;
