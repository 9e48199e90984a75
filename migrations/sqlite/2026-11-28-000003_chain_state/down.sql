ALTER TABLE calibrations DROP COLUMN chain_broken;
