//! Integration tests through rocket::local, on a fresh database per test.
//! Runs on SQLite by default and on PostgreSQL with CALTRACE_TEST_DATABASE_URL.

mod audit;
mod auth;
mod common;
mod instruments;
mod service;
