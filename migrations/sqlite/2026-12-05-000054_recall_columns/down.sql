DROP INDEX latest_calibrations_due;
CREATE INDEX latest_calibrations_due ON latest_calibrations(due_on, instrument_id)
    WHERE in_service;
DROP TRIGGER latest_calibrations_instrument_named;
DROP TRIGGER latest_calibrations_instrument_added;
CREATE TRIGGER latest_calibrations_instrument_added AFTER INSERT ON instruments
BEGIN
    INSERT INTO latest_calibrations (instrument_id, in_service)
        VALUES (NEW.id, NEW.status = 'active' AND NEW.role <> 'national');
END;
ALTER TABLE latest_calibrations DROP COLUMN customer;
ALTER TABLE latest_calibrations DROP COLUMN asset_tag;
