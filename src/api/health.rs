use diesel::connection::SimpleConnection;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::db::signing::PublicIdentity;
use crate::db::Database;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `reachable` or `unreachable`.
    pub database: &'static str,
    /// `sqlite` or `postgresql`.
    pub backend: &'static str,
    /// Whether issued DCCs are signed (DESIGN section 8b); absent when the database does not
    /// answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningHealth>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SigningHealth {
    /// True when a signing identity is installed and its certificate is valid now: issued
    /// DCCs carry the laboratory's signature. False: certificates are issued unsigned (none
    /// installed), or approval stops (installed but expired).
    pub enabled: bool,
    /// The signing certificate's subject, when one is installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The end of its validity (RFC 3339), when one is installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

impl SigningHealth {
    fn of(identity: Option<PublicIdentity>) -> SigningHealth {
        match identity {
            None => SigningHealth {
                enabled: false,
                subject: None,
                not_after: None,
            },
            Some(identity) => SigningHealth {
                enabled: chrono::DateTime::parse_from_rfc3339(&identity.not_after)
                    .is_ok_and(|end| end > chrono::Utc::now()),
                subject: Some(identity.subject),
                not_after: Some(identity.not_after),
            },
        }
    }
}

/// Liveness, database reachability, and whether issued certificates are signed.
#[utoipa::path(
    tag = "service",
    responses(
        (status = 200, body = Health, description = "The service is up and its database answers"),
        (status = 503, body = Health, description = "The service is up but its database does not answer")
    )
)]
#[get("/healthz")]
pub async fn healthz(database: &State<Database>) -> (Status, Json<Health>) {
    let answer = database
        .run(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(crate::db::DbError::from)?;
            crate::db::signing::public(conn)
        })
        .await;
    let backend = database.backend().name();
    if let Ok(identity) = answer {
        (
            Status::Ok,
            Json(Health {
                status: "ok",
                database: "reachable",
                backend,
                signing: Some(SigningHealth::of(identity)),
            }),
        )
    } else {
        (
            Status::ServiceUnavailable,
            Json(Health {
                status: "unavailable",
                database: "unreachable",
                backend,
                signing: None,
            }),
        )
    }
}

pub fn routes() -> Vec<Route> {
    routes![healthz]
}
