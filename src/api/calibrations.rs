//! Calibration records and their workflow (DESIGN sections 6 and 8).

use rocket::http::Status;
use rocket::response::status::Created;
use rocket::serde::json::Json;
use rocket::{delete, get, post, put, routes, Route, State};
use serde::{Deserialize, Serialize};

use super::body::{FileBody, JsonBody, OptionalJsonBody};
use super::params;
use crate::auth::{roles, AuthUser};
use crate::config::AppConfig;
use crate::db::calibrations::Calibration;
use crate::db::issuer_certificates::IssuerFile;
use crate::db::{self, Database};
use crate::domain::calibration::CalibrationInput;
use crate::domain::issuer_file::check_issuer_file;
use crate::domain::signature::signature_meaning;
use crate::domain::states::CalibrationStatus;
use crate::error::{ApiError, Problem};
use crate::http::query::CalibrationQuery;
use crate::http::Attachment;
use crate::workflow;
use crate::workflow::competence::Competence;

/// Largest batch accepted in one request.
pub const MAX_BATCH: usize = 5_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CalibrationPage {
    pub items: Vec<Calibration>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// A calibration as `GET /api/v1/calibrations/{id}` answers it: the record, and its flags.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CalibrationRecord {
    #[serde(flatten)]
    pub calibration: Calibration,
    /// The points whose expanded U is smaller than the U of a standard they used, at that
    /// point (DESIGN 9c): the standard's latest calibration on or before `performed_on`, at
    /// its point of the same quantity nearest the point's reference value. Empty when none.
    /// Approval needs stated `deviations` while any is listed.
    pub uncertainty_below_standard: Vec<crate::domain::traceability::PointBelowStandard>,
    /// The issuer's certificate file of an external calibration, when one was uploaded
    /// (`GET …/issuer-certificate` downloads it).
    pub issuer_certificate: Option<IssuerFile>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    pub reason: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    pub calibrations: Vec<CalibrationInput>,
    /// Submit every calibration for approval at once.
    #[serde(default)]
    pub submit: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    pub ids: Vec<i64>,
    pub status: CalibrationStatus,
}

pub fn reason(input: ReasonInput) -> Result<String, ApiError> {
    params::reason(&input.reason)
}

/// Record a calibration as a draft (technician).
#[utoipa::path(
    tag = "calibrations", request_body = CalibrationInput,
    responses(
        (status = 201, body = Calibration, description = "Recorded as a draft, with its results evaluated (errors, expanded uncertainties, decisions); the Location header gives its URL"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians record calibrations, and only those holding a calibrate authorisation for the quantity kind (and procedure) valid on performed_on; the detail names what is missing"),
        (status = 422, body = Problem, description = "The calibration is invalid (wrong shape, an instrument or standard that is not registered, impossible values); errors name each field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/calibrations", data = "<body>")]
pub async fn create(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<CalibrationInput>, ApiError>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Created<Json<Calibration>>, ApiError> {
    let actor = user?.require(roles::TECHNICIANS)?.actor();
    let input = body?.0;
    let competence = Competence::from_flag(config.lab.require_authorisations);
    let created = database
        .run(move |conn| workflow::calibrations::create(conn, &actor, &input, competence))
        .await?;
    Ok(Created::new(format!("/api/v1/calibrations/{}", created.id)).body(Json(created)))
}

/// Store many calibrations at once, all or nothing (technician).
#[utoipa::path(
    tag = "calibrations", request_body = BatchInput,
    responses(
        (status = 201, body = BatchResult, description = "Every calibration recorded, as drafts or (with submit) submitted; their ids in the order given"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians record calibrations, and only those holding a calibrate authorisation for each calibration's quantity kind (and procedure) valid on its performed_on; nothing was recorded"),
        (status = 422, body = Problem, description = "Nothing was recorded: the batch is empty or holds more than 5 000, or some calibrations are invalid; every error is listed, named calibrations[i].field")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/calibrations/batch", data = "<body>")]
pub async fn batch(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<BatchInput>, ApiError>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Created<Json<BatchResult>>, ApiError> {
    let actor = user?.require(roles::TECHNICIANS)?.actor();
    let input = body?.0;
    if input.calibrations.is_empty() || input.calibrations.len() > MAX_BATCH {
        return Err(ApiError::field(
            "calibrations",
            format!("must hold 1 to {MAX_BATCH} calibrations"),
        ));
    }
    let submit = input.submit;
    let competence = Competence::from_flag(config.lab.require_authorisations);
    let ids = database
        .run(move |conn| {
            workflow::calibrations::create_batch(
                conn,
                &actor,
                &input.calibrations,
                (submit, competence),
            )
        })
        .await?;
    let status = if submit {
        CalibrationStatus::Submitted
    } else {
        CalibrationStatus::Draft
    };
    Ok(Created::new("/api/v1/calibrations").body(Json(BatchResult { ids, status })))
}

/// One calibration (any role).
#[utoipa::path(
    tag = "calibrations",
    responses(
        (status = 200, body = CalibrationRecord, description = "The calibration, with its evaluated results, its status, and its points whose U is smaller than the U of a standard they used (`uncertainty_below_standard`)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No calibration with this id")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/calibrations/<id>")]
pub async fn read(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Json<CalibrationRecord>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let ((calibration, uncertainty_below_standard), issuer_certificate) = database
        .run(move |conn| -> Result<_, ApiError> {
            let read = workflow::calibrations::read(conn, id, &scope)?;
            Ok((read, db::issuer_certificates::find(conn, id)?))
        })
        .await?;
    Ok(Json(CalibrationRecord {
        calibration,
        uncertainty_below_standard,
        issuer_certificate,
    }))
}

/// Calibrations, filtered, ordered by id (any role).
#[utoipa::path(
    tag = "calibrations",
    params(CalibrationQuery),
    responses(
        (status = 200, body = CalibrationPage, description = "A page of the calibrations that match the filters, and the total that match"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 422, body = Problem, description = "A query parameter is invalid (an unknown status, a date not written YYYY-MM-DD, page or per_page out of range); errors name it")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/calibrations?<query..>")]
pub async fn list(
    user: Result<AuthUser, ApiError>,
    query: CalibrationQuery<'_>,
    database: &State<Database>,
) -> Result<Json<CalibrationPage>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let filter = query.filter()?;
    let (page, per_page) = (filter.page, filter.per_page);
    let (items, total) = database
        .run(move |conn| db::calibrations::list(conn, &filter, &scope))
        .await?;
    Ok(Json(CalibrationPage {
        items,
        page,
        per_page,
        total,
    }))
}

/// Replace a draft (technician); 409 once submitted.
#[utoipa::path(
    tag = "calibrations", request_body = CalibrationInput,
    responses(
        (status = 200, body = Calibration, description = "The draft replaced and evaluated again; a rejected calibration becomes a draft again"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians change calibrations: the draft's creator, holding a calibrate authorisation for the quantity kind (and procedure) valid on performed_on"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "The calibration is neither a draft nor rejected: submitted and approved work does not change"),
        (status = 422, body = Problem, description = "The calibration is invalid (wrong shape, an instrument or standard that is not registered, impossible values); errors name each field")
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/calibrations/<id>", data = "<body>")]
pub async fn replace(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<JsonBody<CalibrationInput>, ApiError>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Json<Calibration>, ApiError> {
    let actor = user?.require(roles::TECHNICIANS)?.actor();
    let input = body?.0;
    let competence = Competence::from_flag(config.lab.require_authorisations);
    Ok(Json(
        database
            .run(move |conn| {
                workflow::calibrations::replace_draft(conn, &actor, (id, &input), competence)
            })
            .await?,
    ))
}

/// Keep the issuer's certificate file of an external calibration (technician, admin).
#[utoipa::path(
    tag = "calibrations",
    request_body(
        description = "The issuer's certificate itself, at most 16 MiB: a PDF (bytes starting %PDF-) or a DCC XML (root element digitalCalibrationCertificate)",
        content(("application/pdf"), ("application/xml"))
    ),
    responses(
        (status = 200, body = IssuerFile, description = "Kept, byte for byte, with its SHA-256; an earlier file of the calibration is replaced (the audit log keeps both hashes)"),
        (status = 400, body = Problem, description = "The body could not be read"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians and admins upload an issuer's certificate"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "The calibration is internal: only an external calibration carries its issuer's certificate"),
        (status = 413, body = Problem, description = "The file is larger than 16 MiB; nothing was kept"),
        (status = 422, body = Problem, description = "The Content-Type is neither application/pdf nor application/xml (field Content-Type), or the bytes are not what it says: not a PDF, or not a DCC (field body); nothing was kept")
    ),
    security(("bearer" = []))
)]
#[put("/api/v1/calibrations/<id>/issuer-certificate", data = "<body>")]
pub async fn upload_issuer_certificate(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<FileBody, ApiError>,
    database: &State<Database>,
) -> Result<Json<IssuerFile>, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    let body = body?;
    let format = check_issuer_file(body.content_type.as_deref(), &body.bytes)
        .map_err(|e| ApiError::field(e.field, e.message))?;
    Ok(Json(
        database
            .run(move |conn| {
                workflow::calibrations::attach_issuer_certificate(
                    conn,
                    &actor,
                    id,
                    format,
                    &body.bytes,
                )
            })
            .await?,
    ))
}

/// The issuer's certificate file of an external calibration, byte for byte (any role; a
/// customer reads only its own calibrations').
#[utoipa::path(
    tag = "calibrations",
    responses(
        (status = 200, description = "The file exactly as uploaded; its SHA-256 in the X-Content-SHA256 header", content(("application/pdf"), ("application/xml"))),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No calibration with this id that you may read, or it has no issuer's certificate file")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/calibrations/<id>/issuer-certificate")]
pub async fn issuer_certificate(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Attachment, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let (file, bytes) = database
        .run(move |conn| workflow::calibrations::issuer_certificate(conn, id, &scope))
        .await?;
    Ok(Attachment::issuer_certificate(id, &file, bytes)?)
}

/// Delete a draft (its creator, or an admin); 409 once submitted.
#[utoipa::path(
    tag = "calibrations",
    responses(
        (status = 204, description = "Deleted; the audit log keeps what it was"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only the technician who created the draft, or an admin, deletes it"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "Not a draft: submitted, approved and rejected work is kept"),
        (status = 422, body = Problem, description = "The id is not a whole number")
    ),
    security(("bearer" = []))
)]
#[delete("/api/v1/calibrations/<id>")]
pub async fn delete(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Status, ApiError> {
    let actor = user?.require(roles::REGISTER_WRITERS)?.actor();
    database
        .run(move |conn| workflow::calibrations::delete_draft(conn, &actor, id))
        .await?;
    Ok(Status::NoContent)
}

/// Submit a draft for approval (technician).
#[utoipa::path(
    tag = "calibrations",
    responses(
        (status = 200, body = Calibration, description = "Submitted: it now waits for an approver"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only technicians submit calibrations"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "Only a draft can be submitted")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/calibrations/<id>/submit")]
pub async fn submit(
    user: Result<AuthUser, ApiError>,
    id: i64,
    database: &State<Database>,
) -> Result<Json<Calibration>, ApiError> {
    let actor = user?.require(roles::TECHNICIANS)?.actor();
    Ok(Json(
        database
            .run(move |conn| workflow::calibrations::submit(conn, &actor, id))
            .await?,
    ))
}

/// Approve a submitted calibration (approver, never its creator): issues the
/// certificate of an internal one, accepts an external one. The bearer token is the
/// signature's second component; the body may say what the signature means.
#[utoipa::path(
    tag = "calibrations", request_body(content = Option<ApprovalInput>, description = "Optional: {\"meaning\": …}, \"approved\" when absent"),
    responses(
        (status = 200, body = Calibration, description = "Approved: an internal calibration is issued, with its certificate number, PDF and DCC; an external one is accepted"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only approvers approve, never a calibration they recorded themselves (four eyes), and only holding an approve authorisation for the quantity kind (and procedure) valid today; the detail names what is missing"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "The calibration is not submitted, or the certificate it replaces is no longer issued"),
        (status = 422, body = Problem, description = "The body is not {\"meaning\": text}, or the meaning is blank, longer than 200 characters or not one line")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/calibrations/<id>/approve", data = "<body>")]
pub async fn approve(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<OptionalJsonBody<ApprovalInput>, ApiError>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Json<Calibration>, ApiError> {
    let actor = user?.require(roles::APPROVERS)?.actor();
    let given = body?.0.and_then(|input| input.meaning);
    let meaning =
        signature_meaning(given.as_deref()).map_err(|error| ApiError::Validation(vec![error]))?;
    let context = workflow::certificates::IssueContext::from_config(config);
    let today = params::today();
    Ok(Json(
        database
            .run(move |conn| {
                workflow::calibrations::approve(conn, &actor, id, (today, &meaning), &context)
            })
            .await?,
    ))
}

/// An approval's optional body: what the approver's electronic signature means.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalInput {
    /// "approved" when left out (21 CFR 11.50: the meaning of the signature); one line,
    /// at most 200 characters.
    pub meaning: Option<String>,
}

/// Reject a submitted calibration with a reason (approver).
#[utoipa::path(
    tag = "calibrations", request_body = ReasonInput,
    responses(
        (status = 200, body = Calibration, description = "Rejected, with the reason; the technician can change it and submit it again"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only approvers reject calibrations"),
        (status = 404, body = Problem, description = "No calibration with this id"),
        (status = 409, body = Problem, description = "Only a submitted calibration can be rejected"),
        (status = 422, body = Problem, description = "The body is not {\"reason\": text}, or the reason is empty or longer than 1000 characters")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/calibrations/<id>/reject", data = "<body>")]
pub async fn reject(
    user: Result<AuthUser, ApiError>,
    id: i64,
    body: Result<JsonBody<ReasonInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Calibration>, ApiError> {
    let actor = user?.require(roles::APPROVERS)?.actor();
    let reason = reason(body?.0)?;
    Ok(Json(
        database
            .run(move |conn| workflow::calibrations::reject(conn, &actor, id, &reason))
            .await?,
    ))
}

/// Withdraw an issued certificate with a reason (approver, admin).
#[utoipa::path(
    tag = "certificates", request_body = ReasonInput,
    responses(
        (status = 200, body = Calibration, description = "Withdrawn: the certified calibration, now with status withdrawn; verification reports the certificate as withdrawn"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 403, body = Problem, description = "Only approvers and admins withdraw certificates"),
        (status = 404, body = Problem, description = "No certificate with this number"),
        (status = 409, body = Problem, description = "The certificate is not issued: it is already withdrawn or superseded"),
        (status = 422, body = Problem, description = "The body is not {\"reason\": text}, or the reason is empty or longer than 1000 characters")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/certificates/<number>/withdraw", data = "<body>")]
pub async fn withdraw(
    user: Result<AuthUser, ApiError>,
    number: &str,
    body: Result<JsonBody<ReasonInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<Calibration>, ApiError> {
    let actor = user?.require(roles::WITHDRAWERS)?.actor();
    let reason = reason(body?.0)?;
    let number = number.to_string();
    Ok(Json(
        database
            .run(move |conn| workflow::calibrations::withdraw(conn, &actor, &number, &reason))
            .await?,
    ))
}

pub fn routes() -> Vec<Route> {
    routes![
        create,
        batch,
        read,
        list,
        replace,
        delete,
        submit,
        approve,
        reject,
        withdraw,
        upload_issuer_certificate,
        issuer_certificate
    ]
}
