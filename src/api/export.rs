//! `GET /api/v1/certificates/export?from=&to=` (auditor, admin; DESIGN 9c): the period's
//! certificates, audit extract, CMC table, manifest and SHA256SUMS as one ZIP, streamed while
//! it is written (workflow/export.rs).

use std::io::Cursor;

use rocket::futures::stream::{self, StreamExt};
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::tokio::sync::mpsc;
use rocket::{get, routes, Route, State};

use crate::auth::{roles, AuthUser};
use crate::config::AppConfig;
use crate::db::Database;
use crate::error::ApiError;
use crate::http::{params, Parts};
use crate::workflow::export::{self as period_export, ChunkSender, ExportRequest};

/// The export, as the client reads it.
pub struct ZipDownload {
    parts: mpsc::Receiver<Vec<u8>>,
    filename: String,
}

impl<'r> Responder<'r, 'static> for ZipDownload {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let rest = stream::unfold(self.parts, |mut parts| async move {
            parts.recv().await.map(|part| (part, parts))
        })
        .boxed();
        Response::build()
            .header(ContentType::ZIP)
            .header(Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.filename),
            ))
            .streamed_body(Parts::new(Cursor::new(Vec::new()), rest))
            .ok()
    }
}

/// Every certificate issued in the period, with what an assessor needs beside it, as a ZIP.
#[utoipa::path(
    tag = "certificates",
    params(
        ("from" = String, Query, format = Date, description = "First issue date, YYYY-MM-DD"),
        ("to" = String, Query, format = Date, description = "Last issue date, YYYY-MM-DD, inclusive"),
    ),
    responses(
        (status = 200, content_type = "application/zip", description = "A ZIP, streamed: certificates/NUMBER.pdf, .xml and .json for each certificate issued in the period, external/calibration-ID.pdf or .xml (the issuer's certificate files of the external calibrations they rest on, through their standards), audit/part-NNNN.jsonl (the audit entries of their calibrations), cmc.json, manifest.json and SHA256SUMS"),
        (status = 403, body = crate::error::Problem, description = "Only auditors and admins export"),
        (status = 422, body = crate::error::Problem, description = "from or to missing, not YYYY-MM-DD, or to before from; errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/certificates/export?<from>&<to>")]
pub async fn export(
    user: Result<AuthUser, ApiError>,
    from: Option<&str>,
    to: Option<&str>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<ZipDownload, ApiError> {
    let user = user?;
    user.require(roles::AUDIT_READERS)?;
    let required = |field: &str, text: Option<&str>| {
        let text = text.ok_or_else(|| ApiError::field(field, "required: a date, YYYY-MM-DD"))?;
        params::date(field, text)
    };
    let (from, to) = (required("from", from)?, required("to", to)?);
    if to < from {
        return Err(ApiError::field("to", "must not be before from"));
    }
    // A database that is down is a 503 now, not a ZIP cut short later.
    database.run(crate::db::audit::head).await?;
    let request = ExportRequest {
        from,
        to,
        laboratory: config.lab.name.clone(),
        exported_by: user.name.clone(),
        exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let (sender, parts) = mpsc::channel(4);
    let database = database.inner().clone();
    rocket::tokio::task::spawn_blocking(move || {
        let written = database.get().map_err(Into::into).and_then(|mut conn| {
            period_export::write(&mut conn, &request, ChunkSender::new(sender))
        });
        if let Err(error) = written {
            log::error!("period export {from}..{to} stopped: {error}");
        }
    });
    Ok(ZipDownload {
        parts,
        filename: format!("certificates-{from}-{to}.zip"),
    })
}

pub fn routes() -> Vec<Route> {
    routes![export]
}
