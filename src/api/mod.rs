//! JSON API handlers: thin — parse, call domain and db, respond.

pub mod audit;
pub mod body;
pub mod calibrations;
pub mod certificates;
pub mod cmcs;
pub mod competence;
pub mod customers;
pub mod export;
pub mod health;
pub mod instruments;
pub mod lab;
pub mod openapi;
pub(crate) use crate::http::params;
pub mod statements;
pub mod traceability;
pub mod uncertainty;
pub mod validity;

use rocket::Route;

pub fn routes() -> Vec<Route> {
    [
        health::routes(),
        instruments::routes(),
        customers::routes(),
        audit::routes(),
        calibrations::routes(),
        certificates::routes(),
        export::routes(),
        lab::routes(),
        cmcs::routes(),
        competence::routes(),
        validity::routes(),
        statements::routes(),
        traceability::routes(),
        uncertainty::routes(),
        openapi::routes(),
    ]
    .concat()
}
