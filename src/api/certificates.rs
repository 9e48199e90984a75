//! Certificates for auditors and customers: list, read, download the exact
//! bytes issued, and verify authenticity publicly (DESIGN section 8).

use rocket::serde::json::Json;
use rocket::{get, routes, Route, State};
use serde::Serialize;

use crate::auth::{roles, AuthUser};
use crate::db::calibrations::Calibration;
use crate::db::certificates::{CertificateItem, Document, Verification};
use crate::db::{self, Database};
use crate::error::{ApiError, Problem};
use crate::http::query::CertificateQuery;
use crate::http::Download;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificatePage {
    pub items: Vec<CertificateItem>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    /// Pass as `after` for the next page (keyset pagination); null on the last page.
    pub next_after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub certificate: CertificateItem,
    /// The calibration it certifies.
    pub calibration: Calibration,
}

/// Issued certificates, filtered (auditor, approver, admin; a customer its own).
#[utoipa::path(
    tag = "certificates",
    params(CertificateQuery),
    responses(
        (status = 200, body = CertificatePage, description = "A page of the certificates that match the filters, each with the SHA-256 of its PDF and DCC, and the total that match"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only auditors, approvers, admins and customers (their own) list certificates"),
        (status = 422, body = Problem, description = "A query parameter is invalid (an unknown status, a date not written YYYY-MM-DD, page or per_page out of range); errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates?<query..>")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    query: CertificateQuery<'_>,
    database: &State<Database>,
) -> Result<Json<CertificatePage>, ApiError> {
    let scope = user?.require(roles::CERTIFICATE_LISTERS)?.scope.clone();
    let filter = query.filter()?;
    let (page, per_page) = (filter.page, filter.per_page);
    let (items, total) = database
        .run(move |conn| db::certificates::list(conn, &filter, &scope))
        .await?;
    let next_after = super::params::full_page(&items, per_page).map(|last| last.number.clone());
    Ok(Json(CertificatePage {
        items,
        page,
        per_page,
        total,
        next_after,
    }))
}

/// One certificate with the calibration it certifies (any role).
#[utoipa::path(
    tag = "certificates",
    responses(
        (status = 200, body = CertificateDetail, description = "The certificate and the calibration it certifies"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No certificate with this number")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates/<number>", rank = 2)]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<Json<CertificateDetail>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let number = number.to_string();
    let detail = database
        .run(move |conn| -> Result<_, ApiError> {
            let certificate = db::certificates::get(conn, &number, &scope)?
                .ok_or_else(|| ApiError::NotFound(format!("no certificate numbered {number}")))?;
            let calibration = db::calibrations::get_by_certificate(conn, &number)?;
            Ok(CertificateDetail {
                certificate,
                calibration,
            })
        })
        .await?;
    Ok(Json(detail))
}

async fn download(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
    which: Document,
) -> Result<Download, ApiError> {
    let user = user?;
    let scope = &user.require(roles::ANY)?.scope;
    Ok(Download::fetch(database, number, which, scope).await?)
}

/// The certificate PDF exactly as issued (any role).
#[utoipa::path(
    tag = "certificates",
    responses(
        (status = 200, content_type = "application/pdf", description = "The certificate as issued (PDF), byte for byte: its SHA-256 is the one the certificate list gives"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No certificate with this number")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates/<number>/pdf")]
pub async fn pdf(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<Download, ApiError> {
    download(user, number, database, Document::Pdf).await
}

/// The certificate as a PTB Digital Calibration Certificate (DCC 3.3.0 XML), exactly as issued (any role).
#[utoipa::path(
    tag = "certificates",
    responses(
        (status = 200, content_type = "application/xml", description = "The Digital Calibration Certificate as issued (PTB DCC 3.3.0 XML), byte for byte: its SHA-256 is the one the certificate list gives"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No certificate with this number")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates/<number>/dcc")]
pub async fn dcc(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<Download, ApiError> {
    download(user, number, database, Document::Dcc).await
}

/// Public: is this certificate genuine and current? Either document's SHA-256 verifies. A
/// validity statement's number is answered the same way, its PDF's hash verifying.
#[utoipa::path(
    tag = "certificates",
    params(("sha256" = Option<String>, Query, pattern = "^[0-9A-Fa-f]{64}$", description = "SHA-256 of the PDF or the DCC in hand (64 hex digits)")),
    responses(
        (status = 200, body = Verification, description = "Whether the number names a certificate (or validity statement, then with `statement` saying what it is) of this laboratory, its status (issued, withdrawn, superseded) and, with sha256, whether the document in hand is the one issued; genuine is false otherwise"),
        (status = 422, body = Problem, description = "sha256 is not 64 hexadecimal digits")
    )
)]
#[get("/api/v1/verify/<number>?<sha256>")]
pub async fn verify(
    number: &str,
    sha256: Option<&str>,
    database: &State<Database>,
) -> Result<Json<Verification>, ApiError> {
    let number = number.to_string();
    let sha256 = crate::http::params::sha256(sha256)?;
    Ok(Json(
        database
            .run(move |conn| db::certificates::verify(conn, &number, sha256.as_deref()))
            .await?,
    ))
}

pub fn routes() -> Vec<Route> {
    routes![list, read, pdf, dcc, verify]
}
