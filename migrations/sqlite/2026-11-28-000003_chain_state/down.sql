CREATE INDEX calibrations_status ON calibrations(status, performed_on);
ALTER TABLE calibrations DROP COLUMN chain_broken;
