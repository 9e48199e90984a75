-- Electronic signature at approval (21 CFR 11.50, DESIGN 8b): the meaning the approver gave
-- ("approved" unless they said otherwise) and the moment they signed, printed on the
-- certificate with their name.
ALTER TABLE calibrations ADD COLUMN approval_meaning TEXT;
ALTER TABLE calibrations ADD COLUMN approved_at TEXT;
