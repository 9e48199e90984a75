-- caltrace user disable NAME (DESIGN section 9): a disabled user has no session, no token and
-- cannot log in; NULL while the user is enabled.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
