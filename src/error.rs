//! The one error type of the service and its mapping to HTTP status and
//! RFC 9457 problem+json, in one place.

use std::io::Cursor;

use diesel::result::Error as DieselError;
use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;

use crate::db::DbError;
pub use crate::domain::FieldError;

/// What a request without a valid token is told (401), by a route or the catcher.
pub const BEARER_REQUIRED: &str =
    "a valid bearer token is required (Authorization: Bearer <token>)";

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The body is not JSON at all (400).
    MalformedJson(String),
    /// No or an unknown/revoked bearer token (401).
    Unauthorized,
    /// Authenticated, but the role does not allow this (403).
    Forbidden(String),
    NotFound(String),
    /// Uniqueness or state conflict, including any change to issued data (409).
    Conflict(String),
    PayloadTooLarge(String),
    /// JSON of the wrong shape or with invalid values (422), naming each field.
    Validation(Vec<FieldError>),
    Unavailable(String),
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> Status {
        match self {
            ApiError::MalformedJson(_) => Status::BadRequest,
            ApiError::Unauthorized => Status::Unauthorized,
            ApiError::Forbidden(_) => Status::Forbidden,
            ApiError::NotFound(_) => Status::NotFound,
            ApiError::Conflict(_) => Status::Conflict,
            ApiError::PayloadTooLarge(_) => Status::PayloadTooLarge,
            ApiError::Validation(_) => Status::UnprocessableEntity,
            ApiError::Unavailable(_) => Status::ServiceUnavailable,
            ApiError::Internal(_) => Status::InternalServerError,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, detail, errors) = match self {
            ApiError::MalformedJson(detail) => ("malformed-json", detail.clone(), vec![]),
            ApiError::Unauthorized => ("unauthorized", BEARER_REQUIRED.to_string(), vec![]),
            ApiError::Forbidden(detail) => ("forbidden", detail.clone(), vec![]),
            ApiError::NotFound(detail) => ("not-found", detail.clone(), vec![]),
            ApiError::Conflict(detail) => ("conflict", detail.clone(), vec![]),
            ApiError::PayloadTooLarge(detail) => ("payload-too-large", detail.clone(), vec![]),
            ApiError::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid", many.len()),
                };
                ("validation", detail, errors.clone())
            }
            ApiError::Unavailable(detail) => ("unavailable", detail.clone(), vec![]),
            // Internal details go to the log, not to the client.
            ApiError::Internal(_) => (
                "internal",
                "an internal error occurred; it has been logged".to_string(),
                vec![],
            ),
        };
        Problem {
            problem_type: format!("urn:caltrace:problem:{slug}"),
            title: status.reason_lossy().to_string(),
            status: status.code,
            detail,
            errors,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let problem = self.problem();
        write!(
            f,
            "{} {}: {}",
            problem.status, problem.title, problem.detail
        )
    }
}

impl std::error::Error for ApiError {}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn respond(&self) -> Response<'static> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        Response::build()
            .status(Status::new(self.status))
            .header(ContentType::new("application", "problem+json"))
            .sized_body(body.len(), Cursor::new(body))
            .finalize()
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        if let ApiError::Internal(detail) = &self {
            rocket::error!("internal error: {detail}");
        }
        let mut response = self.problem().respond();
        if self == ApiError::Unauthorized {
            response.set_raw_header("WWW-Authenticate", "Bearer");
        }
        Ok(response)
    }
}

impl From<crate::domain::people::MissingRole> for ApiError {
    fn from(missing: crate::domain::people::MissingRole) -> ApiError {
        ApiError::Forbidden(missing.to_string())
    }
}

/// The storage layer's errors as the API answers them: an outage is 503, a
/// corrupt row 500 (logged, not shown), never a 4xx that blames the client.
impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::NotFound { entity } => ApiError::NotFound(entity),
            DbError::Conflict { what } | DbError::Duplicate { what, .. } => {
                ApiError::Conflict(what)
            }
            DbError::MissingReference { what } => ApiError::field("", what),
            DbError::Corrupt { .. } => ApiError::Internal(error.to_string()),
            DbError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
            DbError::Diesel(_) | DbError::Internal(_) => ApiError::Internal(error.to_string()),
        }
    }
}

/// Diesel's own errors reach the API only through the storage layer's reading
/// of them (transactions need this conversion).
impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> ApiError {
        ApiError::from(DbError::from(error))
    }
}
