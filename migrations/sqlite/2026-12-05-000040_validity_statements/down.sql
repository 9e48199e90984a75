DROP TABLE validity_statement_counters;
DROP TABLE validity_statements;
