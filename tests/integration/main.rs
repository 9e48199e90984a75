//! Integration tests through rocket::local, on a fresh database per test.
//! Runs on SQLite by default and on PostgreSQL with CALTRACE_TEST_DATABASE_URL.

mod archive;
mod audit;
mod auth;
mod calibrations;
mod certificates;
#[path = "../tools/checkers.rs"]
mod checkers;
mod common;
mod competence;
mod concurrency;
mod crash;
mod customers;
mod demo;
mod documents;
mod export;
mod import;
mod instances;
mod instruments;
mod issuer_files;
mod metrics;
mod offline_verify;
mod pades;
mod pool;
mod readme;
mod records;
mod service;
mod signing;
mod statements;
mod traceability;
mod uncertainty;
mod validity;
mod web;
