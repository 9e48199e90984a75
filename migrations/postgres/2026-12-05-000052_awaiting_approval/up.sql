-- The approvers' queue (the dashboard's "awaiting approval", DESIGN 9c) is the few
-- calibrations submitted and not yet decided; without an index of them the dashboard read
-- every calibration in id order looking for one (issue 20: 225-460 ms of the 235 ms
-- dashboard on the 100 000 set, whatever else it showed). The query spells the condition
-- out as a literal so SQLite uses the partial index.
CREATE INDEX calibrations_submitted ON calibrations(id) WHERE status = 'submitted';
