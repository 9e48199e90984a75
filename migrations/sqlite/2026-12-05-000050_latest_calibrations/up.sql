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
    instrument_id INTEGER PRIMARY KEY NOT NULL REFERENCES instruments(id),
    in_service BOOLEAN NOT NULL,
    calibration_id BIGINT,
    performed_on DATE,
    due_on DATE,
    status TEXT,
    out_of_tolerance BOOLEAN,
    chain_broken BOOLEAN
);

INSERT INTO latest_calibrations (instrument_id, in_service)
    SELECT id, status = 'active' AND role <> 'national' FROM instruments;

UPDATE latest_calibrations SET
    (calibration_id, performed_on, due_on, status, out_of_tolerance, chain_broken) = (
        SELECT id, performed_on, COALESCE(due_on, performed_on), status, out_of_tolerance,
            chain_broken
        FROM calibrations
        WHERE calibrations.instrument_id = latest_calibrations.instrument_id
            AND status IN ('issued', 'accepted', 'withdrawn')
        ORDER BY performed_on DESC, id DESC LIMIT 1);

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

CREATE TRIGGER latest_calibrations_instrument_added AFTER INSERT ON instruments
BEGIN
    INSERT INTO latest_calibrations (instrument_id, in_service)
        VALUES (NEW.id, NEW.status = 'active' AND NEW.role <> 'national');
END;

CREATE TRIGGER latest_calibrations_instrument_changed AFTER UPDATE OF status, role ON instruments
BEGIN
    UPDATE latest_calibrations
        SET in_service = NEW.status = 'active' AND NEW.role <> 'national'
        WHERE instrument_id = NEW.id;
END;

CREATE TRIGGER latest_calibrations_recorded AFTER INSERT ON calibrations
WHEN NEW.status IN ('issued', 'accepted', 'withdrawn')
BEGIN
    UPDATE latest_calibrations SET
        (calibration_id, performed_on, due_on, status, out_of_tolerance, chain_broken) = (
            SELECT id, performed_on, COALESCE(due_on, performed_on), status, out_of_tolerance,
                chain_broken
            FROM calibrations
            WHERE instrument_id = NEW.instrument_id
                AND status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY performed_on DESC, id DESC LIMIT 1)
        WHERE instrument_id = NEW.instrument_id;
END;

CREATE TRIGGER latest_calibrations_changed
AFTER UPDATE OF status, performed_on, due_on, out_of_tolerance, chain_broken ON calibrations
WHEN OLD.status IN ('issued', 'accepted', 'withdrawn')
    OR NEW.status IN ('issued', 'accepted', 'withdrawn')
BEGIN
    UPDATE latest_calibrations SET
        (calibration_id, performed_on, due_on, status, out_of_tolerance, chain_broken) = (
            SELECT id, performed_on, COALESCE(due_on, performed_on), status, out_of_tolerance,
                chain_broken
            FROM calibrations
            WHERE instrument_id = NEW.instrument_id
                AND status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY performed_on DESC, id DESC LIMIT 1)
        WHERE instrument_id = NEW.instrument_id;
END;

CREATE TRIGGER latest_calibrations_removed AFTER DELETE ON calibrations
WHEN OLD.status IN ('issued', 'accepted', 'withdrawn')
BEGIN
    UPDATE latest_calibrations SET
        (calibration_id, performed_on, due_on, status, out_of_tolerance, chain_broken) = (
            SELECT id, performed_on, COALESCE(due_on, performed_on), status, out_of_tolerance,
                chain_broken
            FROM calibrations
            WHERE instrument_id = OLD.instrument_id
                AND status IN ('issued', 'accepted', 'withdrawn')
            ORDER BY performed_on DESC, id DESC LIMIT 1)
        WHERE instrument_id = OLD.instrument_id;
END;
