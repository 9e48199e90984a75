-- Whether a calibration's traceability chain was broken on its own date
-- (DESIGN section 7), kept so validity's not_traceable costs no chain walk;
-- recomputed downstream whenever an approval, withdrawal, replacement or status
-- change alters it.
ALTER TABLE calibrations ADD COLUMN chain_broken BOOLEAN NOT NULL DEFAULT FALSE;
