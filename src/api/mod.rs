//! JSON API handlers: thin — parse, call domain and db, respond.

pub mod audit;
pub mod body;
pub mod health;
pub mod instruments;
pub mod openapi;
pub mod params;

use rocket::Route;

pub fn routes() -> Vec<Route> {
    [
        health::routes(),
        instruments::routes(),
        audit::routes(),
        openapi::routes(),
    ]
    .concat()
}
