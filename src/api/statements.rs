//! Validity statements (DESIGN 9c): a bulk validity check an agency takes away, numbered,
//! stored with its PDF, read back by its requester, and verifiable publicly like a
//! certificate (`/verify/{number}`, `GET /api/v1/verify/{number}`).

use rocket::http::{Header, Status};
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde::Serialize;

use super::body::JsonOrCsv;
use super::validity::{bulk_rows, BulkStatusInput};
use crate::auth::{roles, AuthUser};
use crate::config::AppConfig;
use crate::db::statements::StoredStatement;
use crate::db::Database;
use crate::domain::statement::StatementRow;
use crate::error::{ApiError, Problem};
use crate::workflow;

/// A validity statement as issued.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Statement {
    /// `VS-2026-000001`.
    pub number: String,
    /// The time of the query, UTC (RFC 3339).
    pub created_at: String,
    /// The requester's full name (their login name when the register has none).
    pub requested_by: String,
    /// The laboratory's name, as printed.
    pub lab: String,
    /// Whether the PDF carries the laboratory's digital signature (PAdES).
    pub signed: bool,
    pub pdf_url: String,
    /// SHA-256 of the PDF as issued: what `GET /api/v1/verify/{number}?sha256=` checks.
    pub sha256: String,
    /// The bulk answer's rows, in the order asked, each with its chain summary.
    pub results: Vec<StatementRow>,
}

impl From<StoredStatement> for Statement {
    fn from(stored: StoredStatement) -> Statement {
        Statement {
            pdf_url: format!("/api/v1/validity-statements/{}/pdf", stored.number),
            number: stored.number,
            created_at: stored.created_at,
            requested_by: stored.requester_name,
            lab: stored.lab_name,
            signed: stored.signed,
            sha256: stored.pdf_sha256,
            results: stored.rows,
        }
    }
}

/// A statement's PDF, byte for byte as issued.
#[derive(rocket::Responder)]
#[response(content_type = "application/pdf")]
pub struct StatementPdf {
    bytes: Vec<u8>,
    disposition: Header<'static>,
}

/// Issues a validity statement for up to 10 000 instruments (the bulk check's body: ids,
/// asset_tags or items with a date each; JSON or CSV), stored with its PDF (any role; rows
/// outside a scoped reader's customers are unknown instruments).
#[utoipa::path(
    tag = "validity",
    request_body(content(
        (BulkStatusInput = "application/json"),
        (String = "text/csv", example = "asset_tag,at\nPG-0001,2026-06-01\n")
    )),
    responses(
        (status = 201, body = Statement, description = "The statement as issued: its number, the time of the query, the requester, the laboratory, whether it is signed, where its PDF is and its SHA-256, and each row's verdict as the bulk check answers it with the instrument's traceability on that date"),
        (status = 400, body = Problem, description = "The body is not JSON (or not UTF-8 text)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 413, body = Problem, description = "The body is larger than the request limit"),
        (status = 422, body = Problem, description = "Give exactly one of ids, asset_tags or items, at most 10 000; each item an id or an asset_tag and a date YYYY-MM-DD; a CSV body starts with the header asset_tag,at or id,at"),
        (status = 503, body = Problem, description = "The laboratory's signing identity cannot sign now (expired); nothing was issued")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/validity-statements", data = "<body>")]
pub async fn create(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonOrCsv<BulkStatusInput>, ApiError>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<(Status, Json<Statement>), ApiError> {
    let user = user?.require(roles::ANY)?.clone();
    let (_, items) = bulk_rows(body?, super::validity::MAX_BULK)?;
    let context = workflow::certificates::IssueContext::from_config(config);
    let stored = database
        .run(move |conn| workflow::statements::issue(conn, &user, &items, &context))
        .await?;
    Ok((Status::Created, Json(stored.into())))
}

/// A validity statement as issued (its requester; admins and auditors any).
#[utoipa::path(
    tag = "validity",
    responses(
        (status = 200, body = Statement, description = "The statement as issued, rows as answered at the time of the query"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No validity statement with this number that this user may read")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/validity-statements/<number>")]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<Json<Statement>, ApiError> {
    let user = user?.require(roles::ANY)?.clone();
    let number = number.to_string();
    let stored = database
        .run(move |conn| workflow::statements::read(conn, &user, &number))
        .await?;
    Ok(Json(stored.into()))
}

/// The statement's PDF exactly as issued (its requester; admins and auditors any).
#[utoipa::path(
    tag = "validity",
    responses(
        (status = 200, content_type = "application/pdf", description = "The statement as issued (PDF), byte for byte: its SHA-256 is the one the statement gives"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No validity statement with this number that this user may read")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/validity-statements/<number>/pdf")]
pub async fn pdf(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<StatementPdf, ApiError> {
    let user = user?.require(roles::ANY)?.clone();
    let owned = number.to_string();
    let bytes = database
        .run(move |conn| workflow::statements::pdf(conn, &user, &owned))
        .await?;
    // The number is ours (VS-YYYY-NNNNNN), so it is safe in a header; anything else was 404.
    let disposition = Header::new(
        "Content-Disposition",
        format!("attachment; filename=\"{number}.pdf\""),
    );
    Ok(StatementPdf { bytes, disposition })
}

pub fn routes() -> Vec<Route> {
    routes![create, read, pdf]
}
