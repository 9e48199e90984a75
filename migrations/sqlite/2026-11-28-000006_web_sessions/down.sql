DROP TABLE web_sessions;
ALTER TABLE users DROP COLUMN password_hash;
