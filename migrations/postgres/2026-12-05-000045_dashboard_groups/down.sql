DROP INDEX instruments_suspended;
DROP INDEX calibrations_chain_broken;
DROP INDEX calibrations_withdrawn;
