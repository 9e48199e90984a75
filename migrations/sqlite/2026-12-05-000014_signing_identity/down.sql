DROP INDEX signing_identities_in_force;
DROP TABLE signing_identities;
