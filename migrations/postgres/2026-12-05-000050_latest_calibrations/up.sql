-- Each instrument's latest calibration on record, kept current by triggers in the same
-- transaction as every write to calibrations or instruments (issue 20): the dashboard, the
-- recall list and the register's groups then read a few index entries instead of finding
-- the newest calibration of every instrument on each request. One row per instrument; the
-- calibration columns are NULL while it has none on record. `due_on` is the date validity
-- counts from (the stated due date, else the day performed). `in_service`: active and not
-- a national standard, the instruments the recall list and the dashboard watch.
-- The latest on record ignores the calendar: no calibration dated after today can be
-- recorded (DESIGN 9), so the newest on record is the newest on record today.
CREATE TABLE latest_calibrations (
    instrument_id BIGINT PRIMARY KEY REFERENCES instruments(id),
    in_service BOOLEAN NOT NULL,
    calibration_id BIGINT,
    performed_on DATE,
    due_on DATE,
    status TEXT,
    out_of_tolerance BOOLEAN,
    chain_broken BOOLEAN
);

CREATE FUNCTION refresh_latest_calibration(instrument BIGINT) RETURNS void
LANGUAGE sql AS $$
    UPDATE latest_calibrations SET
        (calibration_id, performed_on, due_on, status, out_of_tolerance, chain_broken) = (
            SELECT id, performed_on, COALESCE(due_on, performed_on), status, out_of_tolerance,
                chain_broken
            FROM calibrations
            WHERE instrument_id = instrument
                AND status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY performed_on DESC, id DESC LIMIT 1)
        WHERE instrument_id = instrument;
$$;

-- Every instrument's row at once (the migration, and the benchmark generator after a bulk
-- load with triggers off).
CREATE FUNCTION rebuild_latest_calibrations() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM latest_calibrations;
    INSERT INTO latest_calibrations
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

SELECT rebuild_latest_calibrations();

CREATE INDEX latest_calibrations_due ON latest_calibrations(due_on, instrument_id)
    WHERE in_service;
CREATE INDEX latest_calibrations_never ON latest_calibrations(instrument_id)
    WHERE in_service AND calibration_id IS NULL;
CREATE INDEX latest_calibrations_withdrawn ON latest_calibrations(instrument_id)
    WHERE in_service AND status = 'withdrawn';
CREATE INDEX latest_calibrations_broken ON latest_calibrations(performed_on, calibration_id)
    WHERE in_service AND chain_broken AND status <> 'withdrawn';
CREATE INDEX latest_calibrations_out_of_tolerance
    ON latest_calibrations(performed_on, calibration_id) WHERE out_of_tolerance;

CREATE FUNCTION latest_calibrations_instrument() RETURNS trigger
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

CREATE TRIGGER latest_calibrations_instrument_added AFTER INSERT ON instruments
    FOR EACH ROW EXECUTE FUNCTION latest_calibrations_instrument();
CREATE TRIGGER latest_calibrations_instrument_changed AFTER UPDATE OF status, role ON instruments
    FOR EACH ROW EXECUTE FUNCTION latest_calibrations_instrument();

CREATE FUNCTION latest_calibrations_calibration() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM refresh_latest_calibration(OLD.instrument_id);
    ELSE
        PERFORM refresh_latest_calibration(NEW.instrument_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER latest_calibrations_recorded AFTER INSERT ON calibrations
    FOR EACH ROW WHEN (NEW.status IN ('issued', 'accepted', 'withdrawn'))
    EXECUTE FUNCTION latest_calibrations_calibration();
CREATE TRIGGER latest_calibrations_changed
    AFTER UPDATE OF status, performed_on, due_on, out_of_tolerance, chain_broken ON calibrations
    FOR EACH ROW WHEN (OLD.status IN ('issued', 'accepted', 'withdrawn')
        OR NEW.status IN ('issued', 'accepted', 'withdrawn'))
    EXECUTE FUNCTION latest_calibrations_calibration();
CREATE TRIGGER latest_calibrations_removed AFTER DELETE ON calibrations
    FOR EACH ROW WHEN (OLD.status IN ('issued', 'accepted', 'withdrawn'))
    EXECUTE FUNCTION latest_calibrations_calibration();
