//! What the laboratory publishes about itself for offline verification (DESIGN section 8b).

use rocket::http::ContentType;
use rocket::{get, routes, Route, State};

use crate::db::Database;
use crate::error::{ApiError, Problem};

/// Public: the certificates that let anyone check the laboratory's signatures offline — the
/// signing certificate, then its chain up to the root, PEM. Trust the root (last), not this
/// answer: compare its fingerprint with the one the laboratory publishes.
#[utoipa::path(
    tag = "lab",
    responses(
        (status = 200, content_type = "application/x-pem-file", body = String, description = "The signing certificate, then the CA certificates above it up to the root, PEM (RFC 7468)"),
        (status = 404, body = Problem, description = "No signing identity is installed: certificates are issued unsigned")
    )
)]
#[get("/api/v1/lab/trust")]
pub async fn trust(database: &State<Database>) -> Result<(ContentType, String), ApiError> {
    let identity = database
        .run_short_read(crate::db::signing::public)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no signing identity is installed: certificates are issued unsigned".to_string(),
            )
        })?;
    Ok((
        ContentType::new("application", "x-pem-file"),
        identity.trust_pem(),
    ))
}

pub fn routes() -> Vec<Route> {
    routes![trust]
}
