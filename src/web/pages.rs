//! The pages themselves: thin handlers that gather with db/ and domain/, then render a template.

use rocket::form::{Form, FromForm};
use rocket::fs::TempFile;
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde_json::{json, Value};

use super::session::password_matches;
use super::{layout, svg, PageError, Session};
use crate::auth::{roles, UserRole};
use crate::config::AppConfig;
use crate::db::calibrations::Calibration;
use crate::db::calibrations::CalibrationFilter;
use crate::db::certificates::Document;
use crate::db::{self, Database, DbConnection};
use crate::domain::calibration::{CalibrationKind, Stage};
use crate::domain::certificate::{printed_budget, printed_point};
use crate::domain::four_eyes::may_decide;
use crate::domain::instrument::Instrument;
use crate::domain::people::Scope;
use crate::domain::signature::signature_meaning;
use crate::domain::states::{CalibrationStatus, CertificateStatus};
use crate::domain::traceability::{trace, TraceabilityReport};
use crate::domain::validity::Validity;
use crate::http::query::{CertificateQuery, InstrumentQuery};
use crate::http::{params, Download};
use crate::workflow;
use chrono::NaiveDate;

pub(super) const PER_PAGE: i64 = 50;
/// The dashboard's "due soon" horizon.
const DUE_WITHIN_DAYS: i64 = 30;

/// Pages of a list: numbers for "previous" and "next" links, `None` at the ends.
pub(super) fn pager(page: i64, total: i64) -> Value {
    let last = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    json!({
        "page": page,
        "last": last,
        "total": total,
        "previous": (page > 1).then(|| page - 1),
        "next": (page < last).then(|| page + 1),
    })
}

fn reason_text(reason: &str) -> String {
    reason.replace('_', " ")
}

#[get("/")]
async fn dashboard(
    session: Result<Session, PageError>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    let today = params::today();
    if session.user.scope.customer_ids().is_some() {
        return portal(session, database).await;
    }
    let scope = session.user.scope.clone();
    let (data, signing) = database
        .run(move |conn| -> Result<_, PageError> {
            let data = db::pages::dashboard(conn, today, DUE_WITHIN_DAYS, &scope)?;
            Ok((data, db::signing::public(conn)?))
        })
        .await?;
    // Whether what is issued today is signed (DESIGN 8b), and by whom until when.
    let signing = signing.map(|s| json!({"subject": s.subject, "not_after": s.not_after}));
    Ok(Template::render(
        "dashboard",
        layout(
            Some(&session),
            "Dashboard",
            "dashboard",
            json!({ "dashboard": data, "signing": signing }),
        ),
    ))
}

/// The customer portal (DESIGN 9b): what a customer user (or a scoped
/// inspector) sees on logging in — its instruments with validity and due
/// dates, its certificates to download, and what is due. Every read is the
/// scoped one, so nothing of another customer is loaded or counted.
async fn portal(session: Session, database: &State<Database>) -> Result<Template, PageError> {
    let today = params::today();
    let scope = session.user.scope.clone();
    let (instruments, total, validity, certificates, due) = database
        .run(move |conn| -> Result<_, PageError> {
            let filter = db::instruments::InstrumentFilter {
                page: 1,
                per_page: 500,
                ..Default::default()
            };
            let (items, total) = db::instruments::list(conn, &filter, &scope)?;
            let ids: Vec<i64> = items.iter().map(|item| item.id).collect();
            let validity = db::validity::validity_explained(conn, &ids, today, &scope)?;
            let certificates = db::certificates::CertificateFilter {
                page: 1,
                per_page: 100,
                ..Default::default()
            };
            let (certificates, _) = db::certificates::list(conn, &certificates, &scope)?;
            let horizon = today + chrono::Days::new(DUE_WITHIN_DAYS as u64);
            let due = db::validity::due_by(conn, today, horizon, &scope)?;
            Ok((items, total, validity, certificates, due))
        })
        .await?;
    let tags: std::collections::HashMap<i64, String> = instruments
        .iter()
        .map(|item| (item.id, item.asset_tag.clone()))
        .collect();
    let rows: Vec<Value> = instruments
        .iter()
        .map(|item| {
            let v = validity.get(&item.id);
            json!({"instrument": item, "valid": v.map(|v| v.valid),
                   "reason": v.map(|v| reason_text(v.reason.as_str())), "detail": v.and_then(|v| v.reason_detail.clone()),
                   "due_on": v.and_then(|v| v.due_on), "certificate_number": v.and_then(|v| v.certificate_number.clone())})
        })
        .collect();
    let certificates: Vec<Value> = certificates
        .iter()
        .map(|c| json!({"certificate": c, "asset_tag": tags.get(&c.instrument_id)}))
        .collect();
    let recalls: Vec<Value> = due
        .iter()
        .map(|(id, tag, _, due_on, _)| {
            json!({"instrument_id": id, "asset_tag": tag, "due_on": due_on,
                   "overdue": *due_on < today})
        })
        .collect();
    let context = json!({"today": today, "rows": rows, "total": total,
                         "certificates": certificates, "recalls": recalls,
                         "horizon_days": DUE_WITHIN_DAYS});
    Ok(Template::render(
        "portal",
        layout(Some(&session), "Your instruments", "dashboard", context),
    ))
}

#[get("/instruments?<query..>")]
async fn instruments(
    session: Result<Session, PageError>,
    query: InstrumentQuery<'_>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    // The pages show a fixed number of rows; a per_page in the address is ignored.
    let query = InstrumentQuery {
        per_page: None,
        ..query
    };
    let mut filter = query.filter()?;
    filter.per_page = PER_PAGE;
    let page = filter.page;
    let today = params::today();
    let shown_filter = filter.clone();
    let scope = session.user.scope.clone();
    let (items, total, validity) = database
        .run(move |conn| -> Result<_, PageError> {
            let (items, total) = db::instruments::list(conn, &filter, &scope)?;
            let ids: Vec<i64> = items.iter().map(|item| item.id).collect();
            let validity = db::validity::validity_explained(conn, &ids, today, &scope)?;
            Ok((items, total, validity))
        })
        .await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let validity = validity.get(&item.id);
            json!({
                "instrument": item,
                "valid": validity.map(|v| v.valid),
                "reason": validity.map(|v| reason_text(v.reason.as_str())),
                "detail": validity.and_then(|v| v.reason_detail.clone()),
                "due_on": validity.and_then(|v| v.due_on),
            })
        })
        .collect();
    Ok(Template::render(
        "instruments",
        layout(
            Some(&session),
            "Instruments",
            "instruments",
            json!({
                "rows": rows,
                "filter": {
                    "q": shown_filter.text, "role": shown_filter.role,
                    "status": shown_filter.status, "customer": shown_filter.customer,
                },
                "pager": pager(page, total),
                "today": today,
            }),
        ),
    ))
}

#[get("/instruments/<id>?<at>")]
async fn instrument(
    session: Result<Session, PageError>,
    id: i64,
    at: Option<&str>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    let at = params::optional_date("at", at)?.unwrap_or_else(params::today);
    let scope = session.user.scope.clone();
    let (instrument, validity, history, report, outcomes) = database
        .run(move |conn| instrument_facts(conn, id, at, &scope))
        .await?;
    let suggested_interval = instrument
        .interval_days
        .map(|configured| crate::domain::interval::suggest_interval_days(configured, &outcomes));
    let diagram = report
        .as_ref()
        .map(|report| svg::traceability_diagram(report, &|id| format!("/instruments/{id}")));
    let history: Vec<Value> = history.iter().rev().map(history_row).collect();
    let title = format!("Instrument {}", instrument.asset_tag);
    Ok(Template::render(
        "instrument",
        layout(
            Some(&session),
            &title,
            "instruments",
            json!({
                "instrument": instrument,
                "at": at,
                "validity": validity.as_ref().map(|v| json!({
                    "valid": v.valid, "reason": v.reason.as_str(), "reason_text": reason_text(v.reason.as_str()),
                    "certificate_number": v.certificate_number, "calibrated_on": v.calibrated_on, "due_on": v.due_on,
                    "detail": v.reason_detail,
                })),
                "history": history,
                "suggested_interval_days": suggested_interval,
                "trace": report.as_ref().map(trace_summary),
                "diagram": diagram,
            }),
        ),
    ))
}

type InstrumentFacts = (
    Instrument,
    Option<Validity>,
    Vec<Calibration>,
    Option<TraceabilityReport>,
    Vec<bool>,
);

/// What the instrument page shows, read in one connection: the record, its validity and
/// chain on `at`, its calibrations, and its as-found outcomes up to today (for the interval
/// suggestion).
fn instrument_facts(
    conn: &mut DbConnection,
    id: i64,
    at: NaiveDate,
    scope: &Scope,
) -> Result<InstrumentFacts, PageError> {
    let instrument = db::instruments::get_scoped(conn, id, scope)?;
    let mut validity = db::validity::validity_of_one(conn, id, at)?;
    if let Some(validity) = validity.as_mut() {
        db::validity::explain(conn, id, at, validity)?;
    }
    let (history, _) = db::calibrations::list(
        conn,
        &CalibrationFilter {
            instrument_id: Some(id),
            page: 1,
            per_page: 500,
            ..CalibrationFilter::default()
        },
        scope,
    )?;
    let graph = db::traceability::chain_graph_for(conn, id, at)?;
    let outcomes: Vec<bool> = db::calibrations::as_found_history(conn, id, params::today())?
        .into_iter()
        .map(|(_, _, in_tolerance)| in_tolerance)
        .collect();
    Ok((
        instrument,
        validity,
        history,
        trace(&graph, id, at),
        outcomes,
    ))
}

fn history_row(c: &Calibration) -> Value {
    json!({
        "id": c.id, "kind": c.kind, "status": c.status, "performed_on": c.performed_on,
        "due_on": c.due_on, "certificate_number": c.certificate_number,
        "issuer_certificate": c.issuer.as_ref().and_then(|i| i.get("certificate_number")).cloned(),
        "out_of_tolerance": c.out_of_tolerance,
    })
}

fn trace_summary(r: &TraceabilityReport) -> Value {
    json!({
        "traceable": r.traceable,
        "broken_link": r.broken_link.as_ref().map(|b| json!({
            "instrument_id": b.instrument_id,
            "asset_tag": r.chain.asset_tag_of(b.instrument_id),
            "certificate_number": b.certificate_number,
            "reason": b.reason.describe(),
        })),
        "national_standards": r.national_standards,
        "chain": r.chain,
        "accredited_roots": r.accredited_roots,
    })
}

#[get("/calibrations/<id>")]
async fn calibration(
    session: Result<Session, PageError>,
    id: i64,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    let scope = session.user.scope.clone();
    let (calibration, flags, contributors, instrument, tags, certificate, history) = database
        .run(move |conn| -> Result<_, PageError> {
            let (calibration, below_standard) = workflow::calibrations::read(conn, id, &scope)?;
            // The issuer's certificate file of an external calibration (DESIGN 9c).
            let issuer_file = db::issuer_certificates::find(conn, id)?;
            let contributors = db::calibrations::contributors(conn, id)?;
            let instrument = db::instruments::get(conn, calibration.instrument_id)?;
            let tags = db::pages::asset_tags(conn, &calibration.standards_used)?;
            let certificate = match &calibration.certificate_number {
                Some(number) => db::certificates::get(conn, number, &scope)?,
                None => None,
            };
            let history = record_history(conn, id)?;
            Ok((
                calibration,
                (below_standard, issuer_file),
                contributors,
                instrument,
                tags,
                certificate,
                history,
            ))
        })
        .await?;
    let is_approver = session.user.roles.contains(&UserRole::Approver);
    let own_work = may_decide(&contributors, Some(session.user.id)).is_err();
    let submitted = calibration.status == CalibrationStatus::Submitted;
    let points = |stage: Stage| -> Vec<Value> {
        calibration
            .points
            .iter()
            .filter(|p| p.stage == stage)
            .map(|p| {
                let mut printed = json!(printed_point(p));
                printed["budget"] = json!(p.budget.as_ref().map(printed_budget));
                printed
            })
            .collect()
    };
    let all_points: Vec<_> = calibration.points.iter().collect();
    let chart = (!all_points.is_empty()).then(|| svg::error_chart(&all_points));
    let standards: Vec<Value> = calibration
        .standards_used
        .iter()
        .map(|id| json!({"id": id, "asset_tag": tags.get(id)}))
        .collect();
    let rule = calibration.decision_rule;
    let title = format!("Calibration {} of {}", calibration.id, instrument.asset_tag);
    Ok(Template::render(
        "calibration",
        layout(
            Some(&session),
            &title,
            "instruments",
            json!({
                "calibration": calibration,
                "instrument": instrument,
                "standards": standards,
                "as_found": points(Stage::AsFound),
                "as_left": points(Stage::AsLeft),
                "chart": chart,
                "certificate": certificate,
                "can_decide": is_approver && submitted && !own_work,
                "four_eyes_block": is_approver && submitted && own_work,
                "decision_rule_statement": rule.statement().english,
                "external": calibration.kind == CalibrationKind::External,
                "history": history,
                "below_standard": flags.0,
                "issuer_file": flags.1,
            }),
        ),
    ))
}

/// Who did what to a calibration, from draft to issue (the audit log's
/// entries for it, oldest first): what an assessor asks first.
fn record_history(conn: &mut DbConnection, id: i64) -> Result<Vec<Value>, PageError> {
    let filter = db::audit::AuditFilter {
        entity: Some("calibration".to_string()),
        entity_id: Some(id.to_string()),
        page: 1,
        per_page: 200,
        ..db::audit::AuditFilter::default()
    };
    let (entries, _) = db::audit::list(conn, &filter)?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let by = match e.user_full_name {
                Some(full_name) => format!("{full_name} ({})", e.user_name),
                None => e.user_name,
            };
            json!({"action": e.action, "by": by, "at": e.occurred_at})
        })
        .collect())
}

#[derive(FromForm)]
struct ApproveForm {
    #[field(default = String::new())]
    csrf_token: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    meaning: String,
}

/// Approving on the web is an electronic signature (21 CFR 11.50, 11.200): the approver gives
/// their password again and says what the signature means. A wrong password signs nothing
/// and is audited (11.300 d: attempts at unauthorised use are reported).
#[post("/calibrations/<id>/approve", data = "<form>")]
async fn approve(
    session: Result<Session, PageError>,
    id: i64,
    form: Form<ApproveForm>,
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Redirect, PageError> {
    let session = session?;
    session.check_csrf(&form.csrf_token)?;
    let actor = session.require(roles::APPROVERS)?.actor();
    let deciding = actor.clone();
    let today = params::today();
    let competence = workflow::competence::Competence::from_flag(config.lab.require_authorisations);
    database
        .run(move |conn| {
            workflow::calibrations::may_approve_on(conn, &deciding, id, today, competence)
        })
        .await?;
    let meaning = signature_meaning(Some(&form.meaning))
        .map_err(|e| PageError::BadRequest(format!("{}: {}", e.field, e.message)))?;
    let user_id = actor.user_id.unwrap_or_default();
    let stored = database
        .run(move |conn| db::users::password_hash(conn, user_id))
        .await?;
    if !password_matches(form.password.clone(), stored).await? {
        let refused = actor.clone();
        database
            .run(move |conn| {
                db::audit::append(
                    conn,
                    &refused,
                    "signature_refused",
                    "calibration",
                    &id.to_string(),
                    None,
                    None,
                )
            })
            .await?;
        return Err(PageError::Forbidden(
            "The password does not match: the approval was not signed. Go back and give your \
             own password."
                .into(),
        ));
    }
    let context = workflow::certificates::IssueContext::from_config(config);
    database
        .run(move |conn| {
            workflow::calibrations::approve(conn, &actor, id, (today, &meaning), &context)
        })
        .await?;
    Ok(Redirect::to(format!("/calibrations/{id}")))
}

#[derive(FromForm)]
struct RejectForm {
    #[field(default = String::new())]
    csrf_token: String,
    #[field(default = String::new())]
    reason: String,
}

#[post("/calibrations/<id>/reject", data = "<form>")]
async fn reject(
    session: Result<Session, PageError>,
    id: i64,
    form: Form<RejectForm>,
    database: &State<Database>,
) -> Result<Redirect, PageError> {
    let session = session?;
    session.check_csrf(&form.csrf_token)?;
    let actor = session.require(roles::APPROVERS)?.actor();
    let reason = params::reason(&form.reason)?;
    database
        .run(move |conn| workflow::calibrations::reject(conn, &actor, id, &reason))
        .await?;
    Ok(Redirect::to(format!("/calibrations/{id}")))
}

#[get("/certificates?<query..>")]
async fn certificates(
    session: Result<Session, PageError>,
    query: CertificateQuery<'_>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    let scope = session.require(roles::CERTIFICATE_LISTERS)?.scope.clone();
    // An empty date field of the page's form is no bound; the row count is fixed.
    let blank = |text: Option<&str>| text.is_some_and(|t| t.trim().is_empty());
    let query = CertificateQuery {
        from: query.from.filter(|_| !blank(query.from)),
        to: query.to.filter(|_| !blank(query.to)),
        instrument_id: None,
        per_page: None,
        ..query
    };
    let mut filter = query.filter()?;
    filter.per_page = PER_PAGE;
    let page = filter.page;
    let shown = json!({
        "status": filter.status, "from": filter.from, "to": filter.to, "customer": filter.customer,
    });
    let (items, total, tags) = database
        .run(move |conn| -> Result<_, PageError> {
            let (items, total) = db::certificates::list(conn, &filter, &scope)?;
            let ids: Vec<i64> = items.iter().map(|item| item.instrument_id).collect();
            let tags = db::pages::asset_tags(conn, &ids)?;
            Ok((items, total, tags))
        })
        .await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|item| json!({"certificate": item, "asset_tag": tags.get(&item.instrument_id)}))
        .collect();
    Ok(Template::render(
        "certificates",
        layout(
            Some(&session),
            "Certificates",
            "certificates",
            json!({"rows": rows, "filter": shown, "pager": pager(page, total)}),
        ),
    ))
}

#[get("/certificates/<number>")]
async fn certificate(
    session: Result<Session, PageError>,
    number: &str,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    let owned = number.to_string();
    let scope = session.user.scope.clone();
    let (certificate, calibration, instrument) = database
        .run(move |conn| -> Result<_, PageError> {
            let certificate = db::certificates::get(conn, &owned, &scope)?.ok_or_else(|| {
                crate::error::ApiError::NotFound(format!("no certificate numbered {owned}"))
            })?;
            let calibration = db::calibrations::get_by_certificate(conn, &owned)?;
            let instrument = db::instruments::get(conn, calibration.instrument_id)?;
            Ok((certificate, calibration, instrument))
        })
        .await?;
    let title = format!("Certificate {}", certificate.number);
    Ok(Template::render(
        "certificate",
        layout(
            Some(&session),
            &title,
            "certificates",
            json!({
                "certificate": certificate,
                "calibration": calibration,
                "instrument": instrument,
                "verify_url": format!("/verify/{}", super::url_encode(number)),
            }),
        ),
    ))
}

async fn download(
    session: Result<Session, PageError>,
    number: &str,
    which: Document,
    database: &State<Database>,
) -> Result<Download, PageError> {
    let session = session?;
    let scope = &session.require(roles::ANY)?.scope;
    Ok(Download::fetch(database, number, which, scope).await?)
}

/// The issuer's certificate file of an external calibration, for a logged-in reader of it.
#[get("/calibrations/<id>/issuer-certificate")]
async fn issuer_certificate(
    session: Result<Session, PageError>,
    id: i64,
    database: &State<Database>,
) -> Result<crate::http::Attachment, PageError> {
    let scope = session?.user.scope.clone();
    let (file, bytes) = database
        .run(move |conn| workflow::calibrations::issuer_certificate(conn, id, &scope))
        .await?;
    Ok(crate::http::Attachment::issuer_certificate(
        id, &file, bytes,
    )?)
}

#[get("/certificates/<number>/pdf")]
async fn certificate_pdf(
    session: Result<Session, PageError>,
    number: &str,
    database: &State<Database>,
) -> Result<Download, PageError> {
    download(session, number, Document::Pdf, database).await
}

#[get("/certificates/<number>/dcc")]
async fn certificate_dcc(
    session: Result<Session, PageError>,
    number: &str,
    database: &State<Database>,
) -> Result<Download, PageError> {
    download(session, number, Document::Dcc, database).await
}

/// Public page the certificate's QR code opens: readable on a phone, no login.
#[get("/verify/<number>?<sha256>")]
async fn verify(
    number: &str,
    sha256: Option<&str>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let owned = number.to_string();
    let hash = params::sha256(sha256)?;
    let (answer, notes, signs) = database
        .run(move |conn| -> Result<_, PageError> {
            let answer = db::certificates::verify(conn, &owned, hash.as_deref())?;
            let notes = db::certificates::register_notes(conn, &owned)?;
            Ok((answer, notes, db::signing::public(conn)?.is_some()))
        })
        .await?;
    let (headline, tone) = verify_headline(answer.genuine, answer.status);
    let title = if answer.statement.is_some() {
        format!("Verify validity statement {number}")
    } else {
        format!("Verify certificate {number}")
    };
    Ok(Template::render(
        "verify",
        layout(
            None,
            &title,
            "verify",
            json!({
                "headline": headline, "tone": tone, "answer": answer, "notes": notes,
                "checked_hash": sha256.is_some(), "lab_signs": signs,
            }),
        ),
    ))
}

#[derive(FromForm)]
struct VerifyUpload<'r> {
    file: TempFile<'r>,
}

/// Public: a PDF or DCC dropped on the verification page (DESIGN 8b), checked offline like
/// `caltrace verify` (signature, unchanged since signing, path to this lab's root at the
/// signing time), then against the register with its SHA-256.
#[post("/verify", data = "<form>")]
async fn verify_upload(
    form: Result<Form<VerifyUpload<'_>>, rocket::form::Errors<'_>>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let form = form.map_err(|errors| {
        // Rocket stops reading at the data-form limit and says so as an invalid length.
        let too_large = errors.iter().any(|error| {
            matches!(
                error.kind,
                rocket::form::error::ErrorKind::InvalidLength { max: Some(_), .. }
            )
        });
        if too_large {
            PageError::TooLarge(
                "file: larger than 16 MiB, the most this page takes; a certificate's PDF or DCC \
                 is far smaller, so check that you chose the right file"
                    .into(),
            )
        } else {
            PageError::BadRequest("file: choose the certificate's PDF or DCC to upload".into())
        }
    })?;
    let mut bytes = Vec::new();
    let mut file = form
        .file
        .open()
        .await
        .map_err(|e| PageError::BadRequest(format!("file: unreadable upload ({e})")))?;
    rocket::tokio::io::AsyncReadExt::read_to_end(&mut file, &mut bytes)
        .await
        .map_err(|e| PageError::BadRequest(format!("file: unreadable upload ({e})")))?;
    if bytes.is_empty() {
        return Err(PageError::BadRequest(
            "file: the upload is empty; choose the certificate's PDF or DCC".into(),
        ));
    }
    let verdict = database
        .run(move |conn| workflow::signing::check_upload(conn, &bytes))
        .await?;
    let (headline, tone) = match (&verdict.signature, &verdict.register) {
        (Some(_), Some(register)) => verify_headline(register.genuine, register.status),
        (Some(_), None) => ("Signed by this laboratory / 本实验室签名", "ok"),
        (None, _) => ("Signature NOT valid / 签名无效", "bad"),
    };
    Ok(Template::render(
        "verify",
        layout(
            None,
            "Verify a certificate file",
            "verify",
            json!({
                "headline": headline, "tone": tone, "answer": verdict.register,
                "notes": verdict.notes, "checked_hash": true, "upload": verdict,
            }),
        ),
    ))
}

/// The verification page's verdict (DESIGN section 8): "genuine" only for a
/// matched hash; without one, what the register says of the number.
fn verify_headline(
    genuine: Option<bool>,
    status: Option<CertificateStatus>,
) -> (&'static str, &'static str) {
    use CertificateStatus::{Issued, Superseded, Withdrawn};
    match (genuine, status) {
        (_, None) => ("Unknown certificate number / 未知证书编号", "bad"),
        (Some(false), Some(_)) => (
            "NOT GENUINE: the document differs from what was issued / 与签发文件不符",
            "bad",
        ),
        (Some(true), Some(Issued)) => ("Genuine and current / 真实有效", "ok"),
        (Some(true), Some(Withdrawn)) => ("Genuine, but WITHDRAWN / 真实，但已撤销", "bad"),
        (Some(true), Some(Superseded)) => ("Genuine, but SUPERSEDED / 真实，但已被替代", "bad"),
        (None, Some(Issued)) => (
            "Issued by this laboratory, in force / 本实验室签发，有效",
            "info",
        ),
        (None, Some(Withdrawn)) => (
            "Issued by this laboratory, WITHDRAWN / 本实验室签发，已撤销",
            "bad",
        ),
        (None, Some(Superseded)) => (
            "Issued by this laboratory, SUPERSEDED / 本实验室签发，已被替代",
            "bad",
        ),
    }
}

pub fn routes() -> Vec<Route> {
    routes![
        dashboard,
        instruments,
        instrument,
        calibration,
        approve,
        reject,
        certificates,
        certificate,
        certificate_pdf,
        certificate_dcc,
        issuer_certificate,
        verify,
        verify_upload,
        scope
    ]
}

/// Public: the accreditation scope (DESIGN 9b), linked from the verification page so whoever
/// holds a certificate can see what the laboratory is accredited for, and with which CMCs.
#[get("/scope")]
async fn scope(
    database: &State<Database>,
    config: &State<AppConfig>,
) -> Result<Template, PageError> {
    let lab = config.lab.clone();
    let scope = database
        .run(move |conn| workflow::competence::scope(conn, &lab))
        .await?;
    Ok(Template::render(
        "scope",
        layout(
            None,
            "Accreditation scope",
            "scope",
            json!({ "scope": scope }),
        ),
    ))
}
