-- The recall list names each instrument by asset tag and customer: kept beside its due date
-- in latest_calibrations, the whole register's list is one range of the due-date index,
-- where it was joined with every instrument (issue 20: 115 161 rows in 303 ms at 1 000 000,
-- mostly the join). The triggers copy both from the instrument when it is registered and
-- whenever either changes.
ALTER TABLE latest_calibrations ADD COLUMN asset_tag TEXT NOT NULL DEFAULT '',
    ADD COLUMN customer TEXT;

UPDATE latest_calibrations l SET asset_tag = i.asset_tag, customer = i.customer
    FROM instruments i WHERE i.id = l.instrument_id;

CREATE OR REPLACE FUNCTION rebuild_latest_calibrations() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM latest_calibrations;
    INSERT INTO latest_calibrations (instrument_id, in_service, calibration_id, performed_on,
            due_on, status, out_of_tolerance, chain_broken, asset_tag, customer)
        SELECT i.id, i.status = 'active' AND i.role <> 'national',
            c.id, c.performed_on, COALESCE(c.due_on, c.performed_on), c.status,
            c.out_of_tolerance, c.chain_broken, i.asset_tag, i.customer
        FROM instruments i
        LEFT JOIN (
            SELECT DISTINCT ON (instrument_id) *
            FROM calibrations
            WHERE status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY instrument_id, performed_on DESC, id DESC
        ) c ON c.instrument_id = i.id;
$$;

CREATE OR REPLACE FUNCTION latest_calibrations_instrument() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO latest_calibrations (instrument_id, in_service, asset_tag, customer)
            VALUES (NEW.id, NEW.status = 'active' AND NEW.role <> 'national', NEW.asset_tag,
                NEW.customer);
    ELSE
        UPDATE latest_calibrations
            SET in_service = NEW.status = 'active' AND NEW.role <> 'national',
                asset_tag = NEW.asset_tag, customer = NEW.customer
            WHERE instrument_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER latest_calibrations_instrument_changed ON instruments;
CREATE TRIGGER latest_calibrations_instrument_changed
    AFTER UPDATE OF status, role, asset_tag, customer ON instruments
    FOR EACH ROW EXECUTE FUNCTION latest_calibrations_instrument();

-- The due-date index carries them, so the recall list is read from the index alone, in
-- order (PostgreSQL: 115 161 rows in 34 ms, where the heap rows and a sort took 213 ms).
DROP INDEX latest_calibrations_due;
CREATE INDEX latest_calibrations_due ON latest_calibrations(due_on, instrument_id) INCLUDE (asset_tag, customer)
    WHERE in_service;
