//! Competence authorisations, the procedures register and the public accreditation scope
//! (DESIGN 9b; ISO/IEC 17025 6.2.5–6.2.6, 7.2).

use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};

use super::body::JsonBody;
use super::params;
use crate::auth::{roles, AuthUser};
use crate::config::AppConfig;
use crate::db::Database;
use crate::domain::competence::{Authorisation, AuthorisationInput, Procedure, ProcedureInput};
use crate::error::{ApiError, Problem};
use crate::workflow::competence::{self as competence, Scope};

/// Record a competence authorisation of a user (admin).
#[utoipa::path(
    tag = "authorisations", request_body = AuthorisationInput,
    params(("name" = String, Path, description = "The user's login name")),
    responses(
        (status = 201, body = Authorisation, description = "Recorded: the user may perform the activity on the quantity kind (and procedure) over the period"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only admins record authorisations"),
        (status = 422, body = Problem, description = "Nothing recorded: an unknown user, activity or quantity kind, a date out of range, an until before from, or a period overlapping an authorisation of the same scope; errors name the field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/users/<name>/authorisations", data = "<body>")]
pub async fn authorise(
    user: Result<AuthUser, ApiError>,
    name: &str,
    body: Result<JsonBody<AuthorisationInput>, ApiError>,
    database: &State<Database>,
) -> Result<Created<Json<Authorisation>>, ApiError> {
    let actor = user?.require(roles::CMC_MANAGERS)?.actor();
    let input = body?.0;
    let name = name.to_string();
    let today = params::today();
    let stored = database
        .run(move |conn| competence::authorise(conn, &actor, &name, &input, today))
        .await?;
    let location = format!(
        "/api/v1/users/{}/authorisations",
        crate::web::url_encode(&stored.user)
    );
    Ok(Created::new(location).body(Json(stored)))
}

/// A user's authorisations, oldest first (admin).
#[utoipa::path(
    tag = "authorisations",
    params(("name" = String, Path, description = "The user's login name")),
    responses(
        (status = 200, body = Vec<Authorisation>, description = "Every authorisation of the user, past, current and future"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only admins read authorisations"),
        (status = 404, body = Problem, description = "No user with this name")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/users/<name>/authorisations")]
pub async fn authorisations(
    user: Result<AuthUser, ApiError>,
    name: &str,
    database: &State<Database>,
) -> Result<Json<Vec<Authorisation>>, ApiError> {
    user?.require(roles::CMC_MANAGERS)?;
    let name = name.to_string();
    Ok(Json(
        database
            .run(move |conn| competence::authorisations_of(conn, &name))
            .await?,
    ))
}

/// Register a version of a procedure (admin); a new version is a new record.
#[utoipa::path(
    tag = "procedures", request_body = ProcedureInput,
    responses(
        (status = 201, body = Procedure, description = "Registered; calibrations may cite it by code (the latest version validated on their date) or as code@version"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only admins register procedures"),
        (status = 409, body = Problem, description = "This code and version are already registered: a new version needs a version of its own"),
        (status = 422, body = Problem, description = "The procedure is invalid (blank or too long text, an '@' in the code, an unknown quantity kind or status, a validated one without validated_on, a document_url that is not http(s)); errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/procedures", data = "<body>")]
pub async fn register_procedure(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<ProcedureInput>, ApiError>,
    database: &State<Database>,
) -> Result<Created<Json<Procedure>>, ApiError> {
    let actor = user?.require(roles::CMC_MANAGERS)?.actor();
    let input = body?.0;
    let stored = database
        .run(move |conn| competence::register_procedure(conn, &actor, &input))
        .await?;
    Ok(Created::new("/api/v1/procedures").body(Json(stored)))
}

/// The procedures register, by code, every version (any role).
#[utoipa::path(
    tag = "procedures",
    responses(
        (status = 200, body = Vec<Procedure>, description = "Every registered version of every procedure, by code, in the order recorded"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/procedures")]
pub async fn procedures(
    user: Result<AuthUser, ApiError>,
    database: &State<Database>,
) -> Result<Json<Vec<Procedure>>, ApiError> {
    user?.require(roles::ANY)?;
    Ok(Json(
        database.run(crate::db::competence::list_procedures).await?,
    ))
}

/// Public: the laboratory's accreditation and its CMC table (no login).
#[utoipa::path(
    tag = "lab",
    responses(
        (status = 200, body = Scope, description = "The accreditation body and number (accredited false when none is configured) and every CMC entry")
    )
)]
#[get("/api/v1/scope")]
pub async fn scope(
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Json<Scope>, ApiError> {
    let lab = config.lab.clone();
    Ok(Json(
        database
            .run(move |conn| competence::scope(conn, &lab))
            .await?,
    ))
}

pub fn routes() -> Vec<Route> {
    routes![
        authorise,
        authorisations,
        register_procedure,
        procedures,
        scope
    ]
}
