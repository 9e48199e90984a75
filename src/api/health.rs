use diesel::connection::SimpleConnection;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::db::Database;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `reachable` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgresql`.
    pub backend: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(
    tag = "service",
    responses(
        (status = 200, body = Health, description = "The service is up and its database answers"),
        (status = 503, body = Health, description = "The service is up but its database does not answer")
    )
)]
#[get("/healthz")]
pub async fn healthz(database: &State<Database>) -> (Status, Json<Health>) {
    let reachable = database
        .run(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(crate::db::DbError::from)
        })
        .await
        .is_ok();
    let backend = database.backend().name();
    if reachable {
        (
            Status::Ok,
            Json(Health {
                status: "ok",
                database: "reachable",
                backend,
            }),
        )
    } else {
        (
            Status::ServiceUnavailable,
            Json(Health {
                status: "unavailable",
                database: "unreachable",
                backend,
            }),
        )
    }
}

pub fn routes() -> Vec<Route> {
    routes![healthz]
}
