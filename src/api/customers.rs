//! Customers as records (DESIGN 9b): register, list, read and change them.

use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{get, patch, post, put, routes, Route, State};

use super::body::JsonBody;
use crate::auth::{roles, AuthUser};
use crate::db::{self, Database};
use crate::domain::customer::{validate_customer, Customer, CustomerInput};
use crate::error::{ApiError, Problem};

/// Register a customer (admin, technician).
#[utoipa::path(
    tag = "customers",
    request_body = CustomerInput,
    responses(
        (status = 201, body = Customer, description = "Registered; the Location header gives its URL"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins register customers"),
        (status = 409, body = Problem, description = "A customer with this name, or this code (regardless of case), exists; errors name the field"),
        (status = 422, body = Problem, description = "The customer is invalid; errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/customers", data = "<body>")]
pub async fn create(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<CustomerInput>, ApiError>,
    database: &State<Database>,
) -> Result<Created<Json<Customer>>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let record = validate_customer(&body?.0, None).map_err(ApiError::Validation)?;
    let created = database
        .run(move |conn| db::customers::insert(conn, &actor, &record))
        .await?;
    Ok(Created::new(format!("/api/v1/customers/{}", created.code)).body(Json(created)))
}

/// Every customer, by code (any staff role; a customer user is refused: it
/// must not learn who the lab's other customers are).
#[utoipa::path(
    tag = "customers",
    responses(
        (status = 200, body = Vec<Customer>, description = "The customers, ordered by code, each with its number of instruments"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Customer users do not list customers")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/customers")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    database: &State<Database>,
) -> Result<Json<Vec<Customer>>, ApiError> {
    let scope = user?.require(roles::STAFF)?.scope.clone();
    // A scoped inspector is told only of the customers it is scoped to.
    Ok(Json(
        database
            .run(move |conn| db::customers::list(conn, &scope))
            .await?,
    ))
}

/// One customer by code, regardless of case (any staff role; a customer user its own).
#[utoipa::path(
    tag = "customers",
    responses(
        (status = 200, body = Customer, description = "The customer"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No customer with this code")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/customers/<code>")]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    code: &str,
    database: &State<Database>,
) -> Result<Json<Customer>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let code = code.to_string();
    let customer = database
        .run(move |conn| db::customers::get_by_code(conn, &code))
        .await?;
    if !scope.sees(Some(customer.id)) {
        return Err(ApiError::NotFound(format!(
            "no customer with code '{}'",
            customer.code
        )));
    }
    Ok(Json(customer))
}

async fn change(
    user: Result<AuthUser, ApiError>,
    code: &str,
    body: Result<JsonBody<CustomerInput>, ApiError>,
    database: &State<Database>,
    patch: bool,
) -> Result<Json<Customer>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let input = body?.0;
    if !patch {
        validate_customer(&input, None).map_err(ApiError::Validation)?;
    }
    let code = code.to_string();
    let changed = database
        .run(move |conn| -> Result<_, ApiError> {
            let stored = db::customers::get_by_code(conn, &code)?;
            let record =
                validate_customer(&input, Some(&stored.record())).map_err(ApiError::Validation)?;
            let record = if patch {
                record
            } else {
                // PUT replaces: fields left out are cleared.
                crate::domain::customer::CustomerRecord {
                    address: input.address.as_ref().and(record.address),
                    contact_email: input.contact_email.as_ref().and(record.contact_email),
                    ..record
                }
            };
            Ok(db::customers::update(conn, &actor, stored.id, &record)?)
        })
        .await?;
    Ok(Json(changed))
}

/// Replace a customer's record (admin, technician); a new name reaches its
/// instruments, while certificates already issued keep the name they carry.
#[utoipa::path(
    tag = "customers", request_body = CustomerInput,
    responses(
        (status = 200, body = Customer, description = "The customer as changed"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change customers"),
        (status = 404, body = Problem, description = "No customer with this code"),
        (status = 409, body = Problem, description = "Another customer has this name or code"),
        (status = 422, body = Problem, description = "The customer is invalid; errors name each field")
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/customers/<code>", data = "<body>")]
pub async fn replace(
    user: Result<AuthUser, ApiError>,
    code: &str,
    body: Result<JsonBody<CustomerInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Customer>, ApiError> {
    change(user, code, body, database, false).await
}

/// Change some fields of a customer's record (admin, technician), e.g. rename it.
#[utoipa::path(
    tag = "customers", request_body = CustomerInput,
    responses(
        (status = 200, body = Customer, description = "The customer as changed; fields left out are kept"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins change customers"),
        (status = 404, body = Problem, description = "No customer with this code"),
        (status = 409, body = Problem, description = "Another customer has this name or code"),
        (status = 422, body = Problem, description = "A field is invalid; errors name it")
    ),
    security(("bearer" = []))
)]
#[patch("/api/v1/customers/<code>", data = "<body>")]
pub async fn amend(
    user: Result<AuthUser, ApiError>,
    code: &str,
    body: Result<JsonBody<CustomerInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Customer>, ApiError> {
    change(user, code, body, database, true).await
}

pub fn routes() -> Vec<Route> {
    routes![create, list, read, replace, amend]
}
