//! Traceability chains up to national standards, and reverse traceability:
//! what a standard found out of tolerance has touched (DESIGN section 7).

use chrono::NaiveDate;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde::Deserialize;

use super::body::JsonBody;
use super::params;
use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::calibration::StandardCorrection;
use crate::domain::traceability::{trace, TraceabilityReport};
use crate::error::{ApiError, Problem};
use crate::workflow;
pub use crate::workflow::impact::{AffectedCalibration, DecisionChange, Impact};

/// The traceability chain of an instrument's latest calibration on or before `at` (any role).
#[utoipa::path(
    tag = "traceability",
    params(("at" = Option<chrono::NaiveDate>, Query, description = "YYYY-MM-DD, default today (UTC)")),
    responses(
        (status = 200, body = TraceabilityReport, description = "The chain from the instrument's latest calibration on or before the date up to national standards or accredited laboratories, whether it is unbroken, and where it breaks if not"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 422, body = Problem, description = "at is not a date written YYYY-MM-DD")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/<id>/traceability?<at>")]
pub async fn chain(
    user: Result<AuthUser, ApiError>,
    id: i64,
    at: Option<&str>,
    database: &State<Database>,
) -> Result<Json<TraceabilityReport>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let at = params::optional_date("at", at)?.unwrap_or_else(params::today);
    let report = database
        .run(move |conn| -> Result<_, ApiError> {
            // Only the instrument asked about is scoped: the chain below it is the
            // lab's standards, shown as the certificate shows them (DESIGN 9b).
            db::instruments::require_visible(conn, id, &scope)?;
            let graph = db::traceability::chain_graph_for(conn, id, at)?;
            Ok(trace(&graph, id, at))
        })
        .await?;
    report
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no instrument with id {id}")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactInput {
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    pub correction: Option<StandardCorrection>,
}

fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let from = from.unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let to = to.unwrap_or_else(db::traceability::far_future);
    if from > to {
        return Err(ApiError::field("from", "must not be after to"));
    }
    Ok((from, to))
}

/// Every calibration that used the standard in [from, to], and transitively
/// everything that rested on those (technician, approver, auditor, admin).
#[utoipa::path(
    tag = "traceability",
    params(("from" = Option<chrono::NaiveDate>, Query, description = "YYYY-MM-DD"), ("to" = Option<chrono::NaiveDate>, Query, description = "YYYY-MM-DD")),
    responses(
        (status = 200, body = Impact, description = "Every calibration that used this standard in the period, and everything calibrated with those in turn"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians, approvers, auditors and admins analyse impact"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 422, body = Problem, description = "from or to is not a date written YYYY-MM-DD, or from is after to")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/<id>/impact?<from>&<to>")]
pub async fn impact(
    user: Result<AuthUser, ApiError>,
    id: i64,
    from: Option<&str>,
    to: Option<&str>,
    database: &State<Database>,
) -> Result<Json<Impact>, ApiError> {
    user?.require(roles::IMPACT_READERS)?;
    let (from, to) = period(
        params::optional_date("from", from)?,
        params::optional_date("to", to)?,
    )?;
    Ok(Json(
        database
            .run(move |conn| workflow::impact::impact_of(conn, id, from, to, None))
            .await?,
    ))
}

/// The same, with an optional correction of the standard: the depth-1 points
/// re-decided, and which decisions change.
#[utoipa::path(
    tag = "traceability", request_body = ImpactInput,
    responses(
        (status = 200, body = Impact, description = "The affected calibrations as without a correction and, with one, the directly affected points decided again and the decisions that change"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians, approvers, auditors and admins analyse impact"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 422, body = Problem, description = "The body is invalid (from after to, a correction with an impossible quantity or a negative uncertainty); errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/<id>/impact", data = "<body>")]
pub async fn impact_with_correction(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<JsonBody<ImpactInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Impact>, ApiError> {
    user?.require(roles::IMPACT_READERS)?;
    let input = body?.0;
    let (from, to) = period(input.from, input.to)?;
    if let Some(correction) = &input.correction {
        for (field, quantity) in [
            ("correction.reference_offset", &correction.reference_offset),
            (
                "correction.standard_uncertainty",
                &correction.standard_uncertainty,
            ),
        ] {
            crate::domain::quantity::check_quantity(quantity, field, None)
                .map_err(|e| ApiError::Validation(vec![e]))?;
        }
        if correction.standard_uncertainty.value < 0.0 {
            return Err(ApiError::field(
                "correction.standard_uncertainty.value",
                "must not be negative",
            ));
        }
    }
    Ok(Json(
        database
            .run(move |conn| {
                workflow::impact::impact_of(conn, id, from, to, input.correction.as_ref())
            })
            .await?,
    ))
}

pub fn routes() -> Vec<Route> {
    routes![chain, impact, impact_with_correction]
}
