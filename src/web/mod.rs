//! Server-rendered pages (Tera templates) for the lab, inspectors and auditors: the same users
//! and roles as the API, with a login session cookie instead of a bearer token. Plain HTML
//! forms, no JavaScript; every form carries the session's CSRF token.

pub mod pages;
pub mod session;
pub mod svg;

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder};
use rocket::{get, routes, Route};
use rocket_dyn_templates::Template;
use serde_json::{json, Map, Value};

use crate::auth::{roles, UserRole};
use crate::error::ApiError;

pub use session::Session;

pub fn routes() -> Vec<Route> {
    let mut all = routes![stylesheet];
    all.extend(session::routes());
    all.extend(pages::routes());
    all
}

/// The one stylesheet, compiled in so the binary serves it from anywhere.
#[get("/static/style.css")]
fn stylesheet() -> (ContentType, &'static str) {
    (ContentType::CSS, include_str!("../../static/style.css"))
}

/// What went wrong while serving a page: shown as a page, never as JSON.
#[derive(Debug)]
pub enum PageError {
    /// No live session: to the login page, and back here afterwards.
    LoginRequired,
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    BadRequest(String),
    Internal(String),
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        match error {
            ApiError::Unauthorized => PageError::LoginRequired,
            ApiError::Forbidden(message) => PageError::Forbidden(message),
            ApiError::NotFound(message) => PageError::NotFound(message),
            ApiError::Conflict(message) => PageError::Conflict(message),
            ApiError::Internal(message) => PageError::Internal(message),
            other => PageError::BadRequest(
                other
                    .problem()
                    .errors
                    .iter()
                    .map(|error| format!("{}: {}", error.field, error.message))
                    .chain(std::iter::once(other.problem().detail))
                    .filter(|text| !text.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

/// Percent-encodes a path and query for the `next` parameter of the login page.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let (status, title, message) = match self {
            PageError::LoginRequired => {
                let next = request.uri().to_string();
                return Redirect::to(format!("/login?next={}", url_encode(&next)))
                    .respond_to(request);
            }
            PageError::Forbidden(message) => (Status::Forbidden, "Not allowed", message),
            PageError::NotFound(message) => (Status::NotFound, "Not found", message),
            PageError::Conflict(message) => (Status::Conflict, "Not possible now", message),
            PageError::BadRequest(message) => (Status::UnprocessableEntity, "Bad input", message),
            PageError::Internal(message) => {
                rocket::error!("page {}: {message}", request.uri());
                (
                    Status::InternalServerError,
                    "Server error",
                    "something went wrong on our side; it has been logged".to_string(),
                )
            }
        };
        let session = request.local_cache(|| None::<Session>).clone();
        let context = layout(
            session.as_ref(),
            title,
            "",
            json!({"status": status.code, "message": message}),
        );
        (status, Template::render("error", context)).respond_to(request)
    }
}

/// The context every page gets: the user and their permissions for the navigation, the CSRF
/// token for forms, merged with the page's own fields.
pub fn layout(session: Option<&Session>, title: &str, active: &str, page: Value) -> Value {
    let mut context = Map::new();
    context.insert("title".into(), json!(title));
    context.insert("active".into(), json!(active));
    if let Some(session) = session {
        let has = |allowed: &[UserRole]| session.user.roles.iter().any(|r| allowed.contains(r));
        context.insert(
            "user".into(),
            json!({
                "name": session.user.name,
                "roles": session.user.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
                "can_list_certificates": has(roles::CERTIFICATE_LISTERS),
                "is_approver": has(roles::APPROVERS),
            }),
        );
        context.insert("csrf_token".into(), json!(session.csrf_token));
    }
    if let Value::Object(fields) = page {
        context.extend(fields);
    }
    Value::Object(context)
}
