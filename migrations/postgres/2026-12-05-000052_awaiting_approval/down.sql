DROP INDEX calibrations_submitted;
