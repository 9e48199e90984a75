//! The laboratory's CMC table (ILAC P14).

use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};

use super::body::JsonBody;
use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::calibration::{validate_cmc, Cmc, CmcInput};
use crate::error::{ApiError, Problem};

/// Add a CMC row: U(x) = a + b·|x| at k = 2 over a range of one quantity kind (admin).
#[utoipa::path(
    tag = "cmcs", request_body = CmcInput,
    responses(
        (status = 201, body = Cmc, description = "The CMC entry (calibration and measurement capability) added; calibrations are checked against it from now on"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only admins manage the CMC table"),
        (status = 422, body = Problem, description = "The CMC entry is invalid; errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/cmcs", data = "<body>")]
pub async fn create(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<CmcInput>, ApiError>,
    database: &State<Database>,
) -> Result<Created<Json<Cmc>>, ApiError> {
    let actor = user?.require(roles::CMC_MANAGERS)?.actor();
    let input = body?.0;
    validate_cmc(&input).map_err(ApiError::Validation)?;
    let cmc = database
        .run(move |conn| db::calibrations::insert_cmc(conn, &actor, &input))
        .await?;
    Ok(Created::new(format!("/api/v1/cmcs/{}", cmc.id)).body(Json(cmc)))
}

/// The CMC table (any role).
#[utoipa::path(
    tag = "cmcs",
    responses(
        (status = 200, body = Vec<Cmc>, description = "Every CMC entry of the laboratory"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/cmcs")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    database: &State<Database>,
) -> Result<Json<Vec<Cmc>>, ApiError> {
    user?.require(roles::ANY)?;
    Ok(Json(database.run(db::calibrations::list_cmcs).await?))
}

pub fn routes() -> Vec<Route> {
    routes![create, list]
}
