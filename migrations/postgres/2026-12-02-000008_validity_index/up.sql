-- The single status check reads, of an instrument's latest calibration on record,
-- only these columns: carrying them in the index it probes anyway allows an
-- index-only scan instead of a visit to the calibrations table, whose rows (with
-- their points and budgets) are ten times larger. The key keeps
-- calibrations_record's columns in its order, so every query that used that
-- index uses this one.
CREATE INDEX calibrations_validity ON calibrations(instrument_id, performed_on, id, status)
    INCLUDE (due_on, out_of_tolerance, chain_broken, kind, certificate_number, issuer_certificate_number);
DROP INDEX calibrations_record;
