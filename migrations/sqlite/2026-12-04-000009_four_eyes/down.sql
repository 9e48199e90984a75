ALTER TABLE calibrations DROP COLUMN updated_by;
DROP TABLE calibration_contributors;
