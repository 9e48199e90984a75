-- The single status check reads, of an instrument's latest calibration on record,
-- only these columns: carrying them in the index it probes anyway answers it
-- without visiting the calibrations table, whose rows (with their points and
-- budgets) are ten times larger and are never in cache for a random instrument.
-- The key keeps calibrations_record's columns in its order, so every query that
-- used that index uses this one.
CREATE INDEX calibrations_validity ON calibrations(
    instrument_id, performed_on, id, status,
    due_on, out_of_tolerance, chain_broken, kind, certificate_number, issuer_certificate_number
);
DROP INDEX calibrations_record;
