//! Certificates for auditors and customers: list, read, download the exact
//! bytes issued, and verify authenticity publicly (DESIGN section 8).

use rocket::http::{ContentType, Header};
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{get, routes, Responder, Route, State};
use serde::Serialize;

use super::params;
use crate::auth::{roles, AuthUser};
use crate::db::calibrations::Calibration;
use crate::db::certificates::{CertificateFilter, CertificateItem, Document, Verification};
use crate::db::{self, Database};
use crate::error::{ApiError, Problem};

#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificatePage {
    pub items: Vec<CertificateItem>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub certificate: CertificateItem,
    /// The calibration it certifies.
    pub calibration: Calibration,
}

const CERTIFICATE_STATUSES: [&str; 3] = ["issued", "withdrawn", "superseded"];

/// Issued certificates, filtered (auditor, approver, admin).
#[utoipa::path(
    tag = "certificates",
    params(("status" = Option<String>, Query, description = "issued, withdrawn or superseded"),
           ("from" = Option<chrono::NaiveDate>, Query, description = "issued on or after, YYYY-MM-DD"),
           ("to" = Option<chrono::NaiveDate>, Query, description = "issued on or before, YYYY-MM-DD"),
           ("instrument_id" = Option<i64>, Query), ("customer" = Option<String>, Query),
           ("page" = Option<i64>, Query, minimum = 1, maximum = 1000000), ("per_page" = Option<i64>, Query, minimum = 1, maximum = 1000)),
    responses((status = 200, body = CertificatePage), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates?<status>&<from>&<to>&<instrument_id>&<customer>&<page>&<per_page>")]
#[allow(clippy::too_many_arguments)]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    status: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    instrument_id: Option<&str>,
    customer: Option<&str>,
    page: Option<&str>,
    per_page: Option<&str>,
    database: &State<Database>,
) -> Result<Json<CertificatePage>, ApiError> {
    user?.require(roles::CERTIFICATE_LISTERS)?;
    let (page, per_page) = params::page(page, per_page)?;
    let status = params::filter(status);
    if let Some(status) = &status {
        if !CERTIFICATE_STATUSES.contains(&status.as_str()) {
            return Err(ApiError::field(
                "status",
                "must be issued, withdrawn or superseded",
            ));
        }
    }
    let filter = CertificateFilter {
        status,
        from: params::optional_date("from", from)?,
        to: params::optional_date("to", to)?,
        instrument_id: params::optional_id("instrument_id", instrument_id)?,
        customer: params::filter(customer),
        page,
        per_page,
    };
    let (items, total) = database
        .run(move |conn| db::certificates::list(conn, &filter))
        .await?;
    Ok(Json(CertificatePage {
        items,
        page,
        per_page,
        total,
    }))
}

/// One certificate with the calibration it certifies (any role).
#[utoipa::path(
    tag = "certificates",
    responses((status = 200, body = CertificateDetail), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates/<number>", rank = 2)]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
) -> Result<Json<CertificateDetail>, ApiError> {
    user?.require(roles::ANY)?;
    let number = number.to_string();
    let detail = database
        .run(move |conn| {
            let certificate = db::certificates::get(conn, &number)?
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

#[derive(Responder)]
pub struct Download {
    body: Vec<u8>,
    content_type: ContentType,
    disposition: Header<'static>,
}

async fn download(
    user: Result<AuthUser, ApiError>,
    number: &str,
    database: &State<Database>,
    which: Document,
) -> Result<Download, ApiError> {
    user?.require(roles::ANY)?;
    let (content_type, extension) = match which {
        Document::Pdf => (ContentType::PDF, "pdf"),
        Document::Dcc => (ContentType::new("application", "xml"), "xml"),
    };
    let owned = number.to_string();
    let body = database
        .run(move |conn| db::certificates::document(conn, &owned, which))
        .await?;
    let filename: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    Ok(Download {
        body,
        content_type,
        disposition: Header::new(
            "Content-Disposition",
            format!("inline; filename=\"{filename}.{extension}\""),
        ),
    })
}

/// The certificate PDF exactly as issued (any role).
#[utoipa::path(
    tag = "certificates",
    responses((status = 200, content_type = "application/pdf", description = "the bytes whose SHA-256 the list gives"),
              (status = 401, body = Problem), (status = 404, body = Problem)),
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
    responses((status = 200, content_type = "application/xml"), (status = 401, body = Problem), (status = 404, body = Problem)),
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

/// Public: is this certificate genuine and current? Either document's SHA-256 verifies.
#[utoipa::path(
    tag = "certificates",
    params(("sha256" = Option<String>, Query, description = "SHA-256 of the PDF or the DCC in hand")),
    responses((status = 200, body = Verification))
)]
#[get("/api/v1/verify/<number>?<sha256>")]
pub async fn verify(
    number: &str,
    sha256: Option<&str>,
    database: &State<Database>,
) -> Result<Json<Verification>, ApiError> {
    let number = number.to_string();
    let sha256 = sha256.map(str::to_string);
    Ok(Json(
        database
            .run(move |conn| db::certificates::verify(conn, &number, sha256.as_deref()))
            .await?,
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Public page the certificate's QR code opens: readable on a phone.
#[get("/verify/<number>?<sha256>")]
pub async fn verify_page(
    number: &str,
    sha256: Option<&str>,
    database: &State<Database>,
) -> Result<RawHtml<String>, ApiError> {
    let owned = number.to_string();
    let hash = sha256.map(str::to_string);
    let answer = database
        .run(move |conn| db::certificates::verify(conn, &owned, hash.as_deref()))
        .await?;
    let (headline, tone) = match (answer.genuine, answer.status.as_deref()) {
        (true, Some("issued")) => ("Genuine and current / 真实有效", "ok"),
        (true, Some("withdrawn")) => ("Genuine, but WITHDRAWN / 真实，但已撤销", "bad"),
        (true, Some("superseded")) => ("Genuine, but SUPERSEDED / 真实，但已被替代", "bad"),
        (false, Some(_)) => (
            "NOT GENUINE: the document differs from what was issued / 与签发文件不符",
            "bad",
        ),
        _ => ("Unknown certificate number / 未知证书编号", "bad"),
    };
    let mut rows = String::new();
    let mut row = |label: &str, value: Option<String>| {
        rows.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value.unwrap_or_else(|| "—".into()))
        ));
    };
    row("Certificate / 证书编号", Some(answer.number.clone()));
    row("Status / 状态", answer.status.clone());
    row("Superseded by / 替代证书", answer.superseded_by.clone());
    row(
        "Issued on / 签发日期",
        answer.issued_on.map(|d| d.to_string()),
    );
    row(
        "Calibrated on / 校准日期",
        answer.calibrated_on.map(|d| d.to_string()),
    );
    if let Some(item) = &answer.item {
        row("Manufacturer / 制造商", item.manufacturer.clone());
        row("Model / 型号", item.model.clone());
        row("Serial number / 出厂编号", item.serial_number.clone());
    }
    Ok(RawHtml(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Verify certificate {number}</title><style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem}}\
.ok{{background:#e6f4ea;color:#185c2b}}.bad{{background:#fde7e9;color:#8a1c1c}}h1{{font-size:1.3rem;padding:.8rem;border-radius:.4rem}}\
th{{text-align:left;padding:.3rem .8rem .3rem 0;vertical-align:top}}td{{padding:.3rem 0}}</style></head>\
<body><main><h1 class=\"{tone}\">{headline}</h1><table>{rows}</table>\
<p><small>Compare the item's identity with the paper in hand. Checking a document's SHA-256 proves it is the one issued.</small></p></main></body></html>",
        number = escape(number),
    )))
}

pub fn routes() -> Vec<Route> {
    routes![list, read, pdf, dcc, verify, verify_page]
}
