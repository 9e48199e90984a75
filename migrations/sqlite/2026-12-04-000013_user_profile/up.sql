-- The printed signatory (DESIGN section 6): a certificate names the approver by full name and
-- title; the login name only when neither is set. NULL until `caltrace user add … --full-name`.
ALTER TABLE users ADD COLUMN full_name TEXT;
ALTER TABLE users ADD COLUMN title TEXT;
