//! The stateless GUM calculator (DESIGN section 5).

use rocket::serde::json::Json;
use rocket::{post, routes, Route};

use super::body::JsonBody;
use crate::auth::{roles, AuthUser};
use crate::domain::uncertainty::{evaluate as evaluate_budget, BudgetRequest, BudgetResult};
use crate::error::{ApiError, Problem};

/// Evaluate an uncertainty budget per GUM (any authenticated user).
#[utoipa::path(
    tag = "uncertainty",
    request_body = BudgetRequest,
    responses(
        (status = 200, body = BudgetResult, description = "The budget evaluated (GUM): each component's contribution, combined and expanded uncertainty, effective degrees of freedom and coverage factor"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 422, body = Problem, description = "The budget is invalid (wrong shape, units that do not combine, impossible values); errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/uncertainty/evaluate", data = "<body>")]
pub async fn evaluate(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<BudgetRequest>, ApiError>,
) -> Result<Json<BudgetResult>, ApiError> {
    user?.require(roles::ANY)?;
    let request = body?.0;
    evaluate_budget(&request)
        .map(Json)
        .map_err(ApiError::Validation)
}

pub fn routes() -> Vec<Route> {
    routes![evaluate]
}
