//! Server-rendered pages (Tera templates) for the lab, inspectors and auditors: the same users
//! and roles as the API, with a login session cookie instead of a bearer token. Plain HTML
//! forms, no JavaScript; every form carries the session's CSRF token.

pub mod audit;
pub mod calculator;
pub mod histogram;
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
use crate::db::DbError;
use crate::error::ApiError;

pub use session::{LoginFormKey, Session};

pub fn routes() -> Vec<Route> {
    let mut all = routes![stylesheet, cjk_font];
    all.extend(session::routes());
    all.extend(pages::routes());
    all.extend(calculator::routes());
    all.extend(audit::routes());
    all
}

/// The one stylesheet, compiled in so the binary serves it from anywhere.
#[get("/static/style.css")]
fn stylesheet() -> (ContentType, &'static str) {
    (ContentType::CSS, include_str!("../../static/style.css"))
}

/// The Chinese characters of the pages' own text (scripts/cjk-subset.sh), so a
/// phone without CJK fonts still reads the verification page's verdict.
#[get("/static/cjk-subset.ttf")]
fn cjk_font() -> (ContentType, &'static [u8]) {
    (
        ContentType::new("font", "ttf"),
        include_bytes!("../../static/cjk-subset.ttf"),
    )
}

/// What went wrong while serving a page: shown as a page, never as JSON.
#[derive(Debug)]
pub enum PageError {
    /// No live session: to the login page, and back here afterwards.
    LoginRequired,
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    /// Values that are wrong (422), naming each field.
    BadRequest(String),
    /// A request the server cannot read at all (400).
    Malformed(String),
    TooLarge(String),
    /// The database cannot be reached (503): try again later.
    Unavailable(String),
    Internal(String),
}

impl From<crate::domain::people::MissingRole> for PageError {
    fn from(missing: crate::domain::people::MissingRole) -> PageError {
        PageError::Forbidden(missing.to_string())
    }
}

impl From<DbError> for PageError {
    fn from(error: DbError) -> PageError {
        match error {
            DbError::NotFound { entity } => PageError::NotFound(entity),
            DbError::Conflict { what } | DbError::Duplicate { what, .. } => {
                PageError::Conflict(what)
            }
            DbError::MissingReference { what } => PageError::BadRequest(what),
            DbError::Unavailable(_) => PageError::Unavailable(error.to_string()),
            DbError::Corrupt { .. } | DbError::Diesel(_) | DbError::Internal(_) => {
                PageError::Internal(error.to_string())
            }
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        match error {
            ApiError::Unauthorized => PageError::LoginRequired,
            ApiError::Forbidden(message) => PageError::Forbidden(message),
            ApiError::NotFound(message) => PageError::NotFound(message),
            ApiError::Conflict(message) => PageError::Conflict(message),
            ApiError::Internal(message) => PageError::Internal(message),
            // An outage is the server's, never the user's input (503 as on the API).
            ApiError::Unavailable(message) => PageError::Unavailable(message),
            ApiError::PayloadTooLarge(message) => PageError::TooLarge(message),
            ApiError::MalformedJson(message) => PageError::Malformed(message),
            ApiError::Validation(errors) => PageError::BadRequest(
                errors
                    .iter()
                    .map(|error| format!("{}: {}", error.field, error.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

/// What every HTML page is sent with (DESIGN section 9): scripts only from this
/// site (there are none today, so an injected one never runs), no framing, forms
/// posting only here; inline styles stay allowed because the SVG drawings carry
/// them. Pages show who is logged in and what they may see: never cached.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub fn page_headers() -> rocket::fairing::AdHoc {
    rocket::fairing::AdHoc::on_response("page security headers", |request, response| {
        // The API's own documentation page (Swagger UI) runs its bundled scripts.
        let ours = !request.uri().path().starts_with("/api/");
        Box::pin(async move {
            if ours && response.content_type() == Some(ContentType::HTML) {
                response.set_raw_header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
                response.set_raw_header("Cache-Control", "no-store");
                response.set_raw_header("X-Content-Type-Options", "nosniff");
            }
        })
    })
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

impl PageError {
    /// The status and the heading a person sees, and the message below it.
    fn shown(self) -> (Status, &'static str, String) {
        match self {
            PageError::LoginRequired => (Status::Unauthorized, "Log in", String::new()),
            PageError::Forbidden(message) => (Status::Forbidden, "Not allowed", message),
            PageError::NotFound(message) => (Status::NotFound, "Not found", message),
            PageError::Conflict(message) => (Status::Conflict, "Not possible now", message),
            PageError::BadRequest(message) => (Status::UnprocessableEntity, "Bad input", message),
            PageError::Malformed(message) => (Status::BadRequest, "Unreadable request", message),
            PageError::TooLarge(message) => (Status::PayloadTooLarge, "Too large", message),
            PageError::Unavailable(_) => (
                Status::ServiceUnavailable,
                "Temporarily unavailable",
                "the database cannot be reached just now; please try again in a minute".to_string(),
            ),
            PageError::Internal(_) => (
                Status::InternalServerError,
                "Server error",
                "something went wrong on our side; it has been logged".to_string(),
            ),
        }
    }
}

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        match &self {
            PageError::LoginRequired => {
                let next = request.uri().to_string();
                return Redirect::to(format!("/login?next={}", url_encode(&next)))
                    .respond_to(request);
            }
            PageError::Internal(message) | PageError::Unavailable(message) => {
                rocket::error!("page {}: {message}", request.uri());
            }
            _ => {}
        }
        let (status, title, message) = self.shown();
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
    // Printed pages say when the statement was true and who printed it (DESIGN 9c).
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    context.insert("printed_at".into(), json!(now));
    if let Some(session) = session {
        let has = |allowed: &[UserRole]| session.user.roles.iter().any(|r| allowed.contains(r));
        context.insert(
            "user".into(),
            json!({
                "name": session.user.name,
                "roles": session.user.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
                "can_list_certificates": has(roles::CERTIFICATE_LISTERS),
                "is_approver": has(roles::APPROVERS),
                "can_read_audit": has(roles::AUDIT_READERS),
            }),
        );
        context.insert("csrf_token".into(), json!(session.csrf_token));
    }
    if let Value::Object(fields) = page {
        context.extend(fields);
    }
    Value::Object(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The characters a TrueType font maps, from its format 4 `cmap` subtable
    /// (the one fontTools writes for the Basic Multilingual Plane).
    fn mapped_characters(font: &[u8]) -> std::collections::HashSet<char> {
        let u16_at = |at: usize| u16::from_be_bytes([font[at], font[at + 1]]) as usize;
        let u32_at = |at: usize| u32::from_be_bytes(font[at..at + 4].try_into().unwrap()) as usize;
        let tables = u16_at(4);
        let cmap = (0..tables)
            .map(|i| 12 + 16 * i)
            .find(|&record| &font[record..record + 4] == b"cmap")
            .map(|record| u32_at(record + 8))
            .expect("a cmap table");
        let subtable = (0..u16_at(cmap + 2))
            .map(|i| cmap + u32_at(cmap + 4 + 8 * i + 4))
            .find(|&at| u16_at(at) == 4)
            .expect("a format 4 subtable");
        let segments = u16_at(subtable + 6) / 2;
        let ends = subtable + 14;
        let starts = ends + 2 * segments + 2;
        let mut mapped = std::collections::HashSet::new();
        for segment in 0..segments {
            let (start, end) = (u16_at(starts + 2 * segment), u16_at(ends + 2 * segment));
            mapped.extend((start..=end).filter_map(|c| char::from_u32(c as u32)));
        }
        mapped
    }

    /// scripts/cjk-subset.sh must be run again when a page gains Chinese text.
    #[test]
    fn the_cjk_subset_covers_every_chinese_character_of_the_pages() {
        let mapped = mapped_characters(include_bytes!("../../static/cjk-subset.ttf"));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut text = String::new();
        for dir in ["templates", "src/web"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
            }
        }
        let missing: std::collections::BTreeSet<char> = text
            .chars()
            .filter(|c| {
                ('\u{3000}'..='\u{9fff}').contains(c) || ('\u{ff00}'..='\u{ffef}').contains(c)
            })
            .filter(|c| !mapped.contains(c))
            .collect();
        assert!(
            missing.is_empty(),
            "run scripts/cjk-subset.sh: {missing:?} not in the subset"
        );
    }

    /// An outage is 503 on the pages as on the API; only wrong values are 422.
    #[test]
    fn pages_answer_each_api_error_with_its_own_status() {
        let cases = [
            (ApiError::Unavailable("pool timed out".into()), 503),
            (ApiError::PayloadTooLarge("2 MiB".into()), 413),
            (ApiError::MalformedJson("not JSON".into()), 400),
            (ApiError::field("reason", "must not be empty"), 422),
            (ApiError::Conflict("issued".into()), 409),
            (ApiError::Internal("bug".into()), 500),
        ];
        for (error, status) in cases {
            let shown = PageError::from(error.clone()).shown();
            assert_eq!(shown.0.code, status, "{error:?}");
            assert_eq!(shown.0, error.status(), "pages and API agree on {error:?}");
        }
    }
}
