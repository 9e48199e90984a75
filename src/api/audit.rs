//! Reading the audit log (auditor, admin): each entry carries its own hash and
//! the previous one, so readers can check the chain themselves.

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use super::params;
use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::audit::AuditEntry;
use crate::error::{ApiError, Problem};

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
    params(
        ("from" = Option<chrono::NaiveDate>, Query, description = "first UTC date, YYYY-MM-DD"),
        ("to" = Option<chrono::NaiveDate>, Query, description = "last UTC date, YYYY-MM-DD, inclusive"),
        ("entity" = Option<String>, Query, description = "e.g. instrument, user, api_token"),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000), ("per_page" = Option<i64>, Query, minimum = 1, maximum = 1000)
    ),
    responses(
        (status = 200, body = AuditPage, description = "A page of audit-log entries in log order, the total that match, and the hash of the newest entry in the whole log (its head)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only auditors and admins read the audit log"),
        (status = 422, body = Problem, description = "A query parameter is invalid (a date not written YYYY-MM-DD, page or per_page out of range); errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/audit?<from>&<to>&<entity>&<page>&<per_page>")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    from: Option<&str>,
    to: Option<&str>,
    entity: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
    database: &State<Database>,
) -> Result<Json<AuditPage>, ApiError> {
    user?.require(roles::AUDIT_READERS)?;
    let (page, per_page) = params::page(page, per_page)?;
    let from = params::optional_date("from", from)?;
    let to = params::optional_date("to", to)?;
    let filter = db::audit::AuditFilter {
        from: from.map(|date| format!("{date}T00:00:00")),
        to: to
            .and_then(|date| date.succ_opt())
            .map(|date| format!("{date}T00:00:00")),
        entity: params::filter(entity),
        page,
        per_page,
    };
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
