ALTER TABLE calibrations DROP COLUMN approved_at;
ALTER TABLE calibrations DROP COLUMN approval_meaning;
