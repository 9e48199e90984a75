//! Reading the audit log (auditor, admin): each entry carries its own hash and
//! the previous one, so readers can check the chain themselves.

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::audit::AuditEntry;
use crate::error::{ApiError, Problem};
use crate::http::query::AuditQuery;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// Hash of the newest entry in the whole log.
    pub head: String,
}

/// The audit log in order, filtered by UTC date range and entity (auditor, admin).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage, description = "A page of audit-log entries in log order, the total that match, and the hash of the newest entry in the whole log (its head)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only auditors and admins read the audit log"),
        (status = 422, body = Problem, description = "A query parameter is invalid (a date not written YYYY-MM-DD, page or per_page out of range); errors name it")
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
    let filter = query.filter()?;
    let (page, per_page) = (filter.page, filter.per_page);
    let (items, total, head) = database
        .run(move |conn| -> Result<_, ApiError> {
            let (items, total) = db::audit::list(conn, &filter)?;
            Ok((items, total, db::audit::head(conn)?))
        })
        .await?;
    Ok(Json(AuditPage {
        items,
        page,
        per_page,
        total,
        head,
    }))
}

pub fn routes() -> Vec<Route> {
    routes![list]
}
