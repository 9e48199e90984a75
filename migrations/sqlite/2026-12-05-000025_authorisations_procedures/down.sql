DROP TABLE procedures;
DROP INDEX authorisations_user;
DROP TABLE authorisations;
