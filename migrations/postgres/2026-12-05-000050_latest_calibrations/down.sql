DROP TABLE latest_calibrations;
DROP FUNCTION latest_calibrations_calibration() CASCADE;
DROP FUNCTION latest_calibrations_instrument() CASCADE;
DROP FUNCTION rebuild_latest_calibrations();
DROP FUNCTION refresh_latest_calibration(BIGINT);
