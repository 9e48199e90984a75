//! The instrument register: create, read, list, update, suspend, reactivate, retire.

use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{get, post, put, routes, Route, State};
use serde::{Deserialize, Serialize};

use super::body::{JsonBody, OptionalJsonBody};
use super::params;
use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::instrument::{validate_instrument, Instrument, InstrumentInput};
use crate::domain::validity::InstrumentStatus;
use crate::error::{ApiError, Problem};
use crate::http::query::InstrumentQuery;

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstrumentPage {
    pub items: Vec<Instrument>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// Pass as `after` for the next page (keyset pagination); null on the last page.
    pub next_after: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeInput {
    pub reason: Option<String>,
}

/// Register an instrument or standard (admin, technician).
#[utoipa::path(
    tag = "instruments",
    request_body = InstrumentInput,
    responses(
        (status = 201, body = Instrument, description = "Registered, active; the Location header gives its URL"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change the instrument register"),
        (status = 409, body = Problem, description = "An instrument with this asset tag, or with this manufacturer, model and serial number, is already registered"),
        (status = 422, body = Problem, description = "The instrument is invalid; errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments", data = "<body>")]
pub async fn create(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<InstrumentInput>, ApiError>,
    database: &State<Database>,
) -> Result<Created<Json<Instrument>>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let record = validate_instrument(&body?.0).map_err(ApiError::Validation)?;
    let created = database
        .run(move |conn| crate::workflow::instruments::register(conn, &actor, &record))
        .await?;
    Ok(Created::new(format!("/api/v1/instruments/{}", created.id)).body(Json(created)))
}

/// One instrument (any role).
#[utoipa::path(
    tag = "instruments",
    responses(
        (status = 200, body = Instrument, description = "The instrument as registered, with its status"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No instrument with this id")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/<id>", rank = 2)]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Json<Instrument>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    Ok(Json(
        database
            .run(move |conn| db::instruments::get_scoped(conn, id, &scope))
            .await?,
    ))
}

/// The register, filtered and paginated, ordered by id (any role).
#[utoipa::path(
    tag = "instruments",
    params(InstrumentQuery),
    responses(
        (status = 200, body = InstrumentPage, description = "A page of the instruments that match the filters, and the total that match"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 422, body = Problem, description = "A query parameter is invalid (an unknown role or status, page or per_page out of range); errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments?<query..>")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    query: InstrumentQuery<'_>,
    database: &State<Database>,
) -> Result<Json<InstrumentPage>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let filter = query.filter()?;
    let (page, per_page) = (filter.page, filter.per_page);
    let (items, total) = database
        .run(move |conn| db::instruments::list(conn, &filter, &scope))
        .await?;
    let next_after = params::full_page(&items, per_page).map(|last| last.id);
    Ok(Json(InstrumentPage {
        items,
        page,
        per_page,
        total,
        next_after,
    }))
}

/// Replace an instrument's register data (admin, technician); its status is changed
/// only through suspend, reactivate and retire.
#[utoipa::path(
    tag = "instruments",
    request_body = InstrumentInput,
    responses(
        (status = 200, body = Instrument, description = "The instrument as updated"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change the instrument register"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 409, body = Problem, description = "Another instrument already has this asset tag, or this manufacturer, model and serial number"),
        (status = 422, body = Problem, description = "The instrument is invalid; errors name each field")
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/instruments/<id>", data = "<body>")]
pub async fn update(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<JsonBody<InstrumentInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Instrument>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let record = validate_instrument(&body?.0).map_err(ApiError::Validation)?;
    Ok(Json(
        database
            .run(move |conn| crate::workflow::instruments::update(conn, &actor, id, &record))
            .await?,
    ))
}

async fn change_status(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<OptionalJsonBody<StatusChangeInput>, ApiError>,
    database: &State<Database>,
    wanted: InstrumentStatus,
) -> Result<Json<Instrument>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let reason = body?
        .0
        .and_then(|input| input.reason)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(ApiError::field("reason", "must be at most 1000 characters"));
    }
    let today = params::today();
    let changed = database
        .run(move |conn| {
            crate::workflow::instruments::change_status(
                conn,
                &actor,
                id,
                wanted,
                reason.as_deref(),
                today,
            )
        })
        .await?;
    Ok(Json(changed))
}

/// Take an instrument out of service from today (admin, technician).
#[utoipa::path(
    tag = "instruments", request_body(content = Option<StatusChangeInput>),
    responses(
        (status = 200, body = Instrument, description = "Suspended: not valid for use until reactivated; the reason, if given, is kept in the audit log"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change the instrument register"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 409, body = Problem, description = "The instrument is already suspended, or retired (retirement is final)")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/<id>/suspend", data = "<body>")]
pub async fn suspend(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<OptionalJsonBody<StatusChangeInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Instrument>, ApiError> {
    change_status(user, id, body, database, InstrumentStatus::Suspended).await
}

/// Put a suspended instrument back in service from today (admin, technician).
#[utoipa::path(
    tag = "instruments", request_body(content = Option<StatusChangeInput>),
    responses(
        (status = 200, body = Instrument, description = "Active again"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change the instrument register"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 409, body = Problem, description = "The instrument is already active, or retired (retirement is final)")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/<id>/reactivate", data = "<body>")]
pub async fn reactivate(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<OptionalJsonBody<StatusChangeInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Instrument>, ApiError> {
    change_status(user, id, body, database, InstrumentStatus::Active).await
}

/// Retire an instrument for good, from today (admin, technician).
#[utoipa::path(
    tag = "instruments", request_body(content = Option<StatusChangeInput>),
    responses(
        (status = 200, body = Instrument, description = "Retired, for good"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change the instrument register"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 409, body = Problem, description = "The instrument is already retired")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/<id>/retire", data = "<body>")]
pub async fn retire(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<OptionalJsonBody<StatusChangeInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Instrument>, ApiError> {
    change_status(user, id, body, database, InstrumentStatus::Retired).await
}

pub fn routes() -> Vec<Route> {
    routes![create, read, list, update, suspend, reactivate, retire, interval]
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AsFoundRecord {
    pub calibration_id: i64,
    #[schema(value_type = String, format = Date)]
    pub performed_on: chrono::NaiveDate,
    pub in_tolerance: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IntervalSuggestion {
    pub instrument_id: i64,
    pub configured_interval_days: Option<i32>,
    /// OIML D10 / ILAC-G24 staircase from the as-found history; a suggestion only.
    pub suggested_interval_days: Option<i32>,
    pub as_found_history: Vec<AsFoundRecord>,
    pub method: &'static str,
}

/// The configured calibration interval beside the one suggested by the OIML D10
/// staircase method from the as-found history (any role).
#[utoipa::path(
    tag = "instruments",
    responses(
        (status = 200, body = IntervalSuggestion, description = "The configured recalibration interval, the interval the as-found history suggests (OIML D10 method 1), and that history"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No instrument with this id")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/<id>/interval")]
pub async fn interval(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Json<IntervalSuggestion>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let (instrument, history) = database
        .run(move |conn| -> Result<_, ApiError> {
            Ok((
                db::instruments::get_scoped(conn, id, &scope)?,
                db::calibrations::as_found_history(conn, id, params::today())?,
            ))
        })
        .await?;
    let outcomes: Vec<bool> = history
        .iter()
        .map(|(_, _, in_tolerance)| *in_tolerance)
        .collect();
    let suggested = instrument
        .interval_days
        .map(|configured| crate::domain::interval::suggest_interval_days(configured, &outcomes));
    Ok(Json(IntervalSuggestion {
        instrument_id: id,
        configured_interval_days: instrument.interval_days,
        suggested_interval_days: suggested,
        as_found_history: history
            .into_iter()
            .map(|(calibration_id, performed_on, in_tolerance)| AsFoundRecord { calibration_id, performed_on, in_tolerance })
            .collect(),
        method: "OIML D10 method 1 (staircase): +25 % after in tolerance, −50 % after out of tolerance, within [configured/4, configured×2]",
    }))
}
