DROP INDEX latest_calibrations_due;
CREATE INDEX latest_calibrations_due ON latest_calibrations(due_on, instrument_id)
    WHERE in_service;
DROP TRIGGER latest_calibrations_instrument_changed ON instruments;
CREATE TRIGGER latest_calibrations_instrument_changed AFTER UPDATE OF status, role ON instruments
    FOR EACH ROW EXECUTE FUNCTION latest_calibrations_instrument();
CREATE OR REPLACE FUNCTION latest_calibrations_instrument() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO latest_calibrations (instrument_id, in_service)
            VALUES (NEW.id, NEW.status = 'active' AND NEW.role <> 'national');
    ELSE
        UPDATE latest_calibrations
            SET in_service = NEW.status = 'active' AND NEW.role <> 'national'
            WHERE instrument_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION rebuild_latest_calibrations() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM latest_calibrations;
    INSERT INTO latest_calibrations (instrument_id, in_service, calibration_id, performed_on,
            due_on, status, out_of_tolerance, chain_broken)
        SELECT i.id, i.status = 'active' AND i.role <> 'national',
            c.id, c.performed_on, COALESCE(c.due_on, c.performed_on), c.status,
            c.out_of_tolerance, c.chain_broken
        FROM instruments i
        LEFT JOIN (
            SELECT DISTINCT ON (instrument_id) *
            FROM calibrations
            WHERE status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY instrument_id, performed_on DESC, id DESC
        ) c ON c.instrument_id = i.id;
$$;
ALTER TABLE latest_calibrations DROP COLUMN customer, DROP COLUMN asset_tag;
