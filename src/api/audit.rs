//! Reading the audit log (auditor, admin): each entry carries its own hash and
//! the previous one, so readers can check the chain themselves.

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::auth::{roles, AuthUser};
use crate::db::Database;
use crate::domain::audit::AuditEntry;
use crate::error::{ApiError, Problem};
use crate::http::query::AuditQuery;
use crate::workflow;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// Hash of the newest entry in the whole log.
    pub head: String,
}

/// The audit log in order, filtered by UTC date range, entity (one record's history with
/// entity_id; a certificate by its number) and actor (auditor, admin).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage, description = "A page of audit-log entries in log order, the total that match, and the hash of the newest entry in the whole log (its head)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only auditors and admins read the audit log"),
        (status = 422, body = Problem, description = "A query parameter is invalid or names what the log does not know (a date not written YYYY-MM-DD, page or per_page out of range, an unknown entity, an entity_id without entity or of no record, an actor who never was a user); errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/audit?<query..>")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    query: AuditQuery<'_>,
    database: &State<Database>,
) -> Result<Json<AuditPage>, ApiError> {
    user?.require(roles::AUDIT_READERS)?;
    let (filter, entity) = query.filter()?;
    let (page, per_page) = (filter.page, filter.per_page);
    let found = database
        .run(move |conn| workflow::audit::list(conn, filter, entity))
        .await?;
    Ok(Json(AuditPage {
        items: found.entries,
        page,
        per_page,
        total: found.total,
        head: found.head,
    }))
}

pub fn routes() -> Vec<Route> {
    routes![list]
}
