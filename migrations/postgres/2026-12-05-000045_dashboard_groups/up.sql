-- The dashboard's groups (DESIGN 9c) start from the few rows they are about, never from
-- the whole register: withdrawn certificates, broken chains and suspended instruments are
-- rare, so each group reads a partial index of them. The queries spell the conditions
-- out as literals: SQLite only uses a partial index whose condition the query states.
CREATE INDEX calibrations_withdrawn ON calibrations(instrument_id, performed_on, id)
    WHERE status = 'withdrawn';
CREATE INDEX calibrations_chain_broken ON calibrations(instrument_id, performed_on, id)
    WHERE chain_broken;
CREATE INDEX instruments_suspended ON instruments(id) WHERE status = 'suspended';
