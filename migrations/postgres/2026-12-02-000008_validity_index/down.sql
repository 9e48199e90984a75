CREATE INDEX calibrations_record ON calibrations(instrument_id, performed_on, id, status);
DROP INDEX calibrations_validity;
