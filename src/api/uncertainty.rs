//! The stateless GUM calculator (DESIGN sections 5 and 5b): a component budget, or a
//! measurement model with correlated inputs evaluated by the GUM and/or the Monte Carlo method.

use rocket::serde::json::Json;
use rocket::{post, routes, Route};

use super::body::JsonBody;
use crate::auth::{roles, AuthUser};
use crate::domain::model::{evaluate_request, EvaluateRequest, EvaluateResult};
use crate::error::{ApiError, Problem};

/// Seeds a client did not give are drawn below 2⁵³, so that a JavaScript client can send the
/// stated seed back unchanged.
const SEED_MASK: u64 = (1 << 53) - 1;

/// Evaluate an uncertainty budget per GUM: components (section 5), or a model with inputs,
/// correlations and optionally Monte Carlo per JCGM 101 (section 5b). Any authenticated user.
#[utoipa::path(
    tag = "uncertainty",
    request_body = EvaluateRequest,
    responses(
        (status = 200, body = EvaluateResult,
         description = "the budget's result: section 5's for components; for a model the GUM result with the computed sensitivities and/or the Monte Carlo result"),
        (status = 400, body = Problem, description = "the body is not JSON"),
        (status = 401, body = Problem, description = "no valid bearer token"),
        (status = 422, body = Problem,
         description = "an invalid field, named by its JSON path (`inputs[2].half_width`, `model` with the character position, `correlations[0].coefficient`); also a model that is not finite at the estimates or in some Monte Carlo trials")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/uncertainty/evaluate", data = "<body>")]
pub async fn evaluate(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<EvaluateRequest>, ApiError>,
) -> Result<Json<EvaluateResult>, ApiError> {
    user?.require(roles::ANY)?;
    let request = body?.0;
    if request.model.is_none() {
        // A component budget: microseconds, answered in place.
        return evaluate_request(&request, 0)
            .map(Json)
            .map_err(ApiError::Validation);
    }
    let needs_seed = request
        .monte_carlo
        .as_ref()
        .is_none_or(|options| options.seed.is_none())
        && matches!(request.method.as_deref(), Some("monte_carlo" | "both"));
    let drawn_seed = if needs_seed {
        getrandom::u64()
            .map_err(|e| ApiError::Internal(format!("no randomness for a Monte Carlo seed: {e}")))?
            & SEED_MASK
    } else {
        0
    };
    // Up to 10⁷ Monte Carlo trials: off the async workers.
    rocket::tokio::task::spawn_blocking(move || evaluate_request(&request, drawn_seed))
        .await
        .map_err(|e| ApiError::Internal(format!("the model evaluation stopped: {e}")))?
        .map(Json)
        .map_err(ApiError::Validation)
}

pub fn routes() -> Vec<Route> {
    routes![evaluate]
}
