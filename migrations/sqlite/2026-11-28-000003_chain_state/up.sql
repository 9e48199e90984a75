-- Whether a calibration's traceability chain was broken on its own date
-- (DESIGN section 7), kept so validity's not_traceable costs no chain walk;
-- recomputed downstream whenever an approval, withdrawal, replacement or status
-- change alters it.
ALTER TABLE calibrations ADD COLUMN chain_broken BOOLEAN NOT NULL DEFAULT FALSE;

-- A status-only index tempts SQLite's planner (which has no statistics until
-- ANALYZE) to scan every issued calibration instead of probing by instrument.
DROP INDEX calibrations_status;
