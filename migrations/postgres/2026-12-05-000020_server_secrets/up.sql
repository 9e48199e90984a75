-- Secrets the service keeps for itself (issue 21: the login form's token is an HMAC of its
-- cookie under one of these). In the database, not in a process, so that every instance
-- behind a load balancer checks a form another one served.
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    secret BYTEA NOT NULL
);
