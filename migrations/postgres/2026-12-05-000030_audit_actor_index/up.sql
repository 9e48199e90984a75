-- An assessor reads what one person did (GET /api/v1/audit?actor=, DESIGN 9c).
CREATE INDEX audit_log_actor ON audit_log(user_name, seq);
