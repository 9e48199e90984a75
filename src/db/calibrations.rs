//! Calibrations, their workflow (draft → submitted → issued/accepted or
//! rejected; withdrawn; superseded), certificate numbering, and CMCs.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::audit::{append, Actor};
use super::schema::{calibration_standards, calibrations, certificate_counters, cmcs, instruments};
use super::{now_timestamp, write_transaction, DbConnection};
use crate::domain::calibration::{
    as_found_in_tolerance, evaluate_calibration, CalibrationInput, CalibrationKind, Cmc, CmcInput,
    EvaluatedCalibration, InstrumentFacts, PointResult,
};
use crate::domain::FieldError;
use crate::error::ApiError;

/// Statuses that put a calibration "on record" (DESIGN section 6): issued
/// (including later withdrawn, so a withdrawal invalidates rather than falling
/// back to an older certificate) and accepted external ones. A superseded one
/// is replaced by its replacement.
pub const ON_RECORD: [&str; 3] = ["issued", "accepted", "withdrawn"];

/// A calibration as the API shows it: what was submitted, plus what the lab
/// computed and the workflow state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    pub id: i64,
    pub instrument_id: i64,
    /// `internal` or `external`.
    pub kind: String,
    /// `draft`, `submitted`, `issued`, `accepted`, `rejected`, `withdrawn` or `superseded`.
    pub status: String,
    #[schema(value_type = String, format = Date)]
    pub performed_on: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub received_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub issued_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<NaiveDate>,
    pub decision_rule: String,
    pub out_of_tolerance: bool,
    /// This lab's certificate number (internal, once issued).
    pub certificate_number: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub issuer: Option<serde_json::Value>,
    pub procedure: Option<String>,
    pub location: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub environment: Option<serde_json::Value>,
    pub standards_used: Vec<i64>,
    #[schema(value_type = Option<Object>)]
    pub guard_band: Option<serde_json::Value>,
    pub interval_days: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub replaces: Option<serde_json::Value>,
    pub superseded_by: Option<String>,
    /// Why it was rejected or withdrawn.
    pub reason: Option<String>,
    pub points: Vec<PointResult>,
    pub created_by: i64,
    pub approved_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// Its traceability chain was broken on its date (section 7); meaningful once on record.
    pub chain_broken: bool,
}

#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = calibrations)]
struct CalibrationRow {
    id: i64,
    instrument_id: i64,
    kind: String,
    status: String,
    performed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    issued_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    decision_rule: String,
    out_of_tolerance: bool,
    certificate_number: Option<String>,
    superseded_by: Option<String>,
    status_reason: Option<String>,
    body: String,
    results: String,
    created_by: i64,
    approved_by: Option<i64>,
    created_at: String,
    updated_at: String,
    chain_broken: bool,
}

fn corrupt(id: i64, what: &str) -> ApiError {
    ApiError::Internal(format!("calibration {id}: stored {what} is unreadable"))
}

impl TryFrom<CalibrationRow> for Calibration {
    type Error = ApiError;

    fn try_from(row: CalibrationRow) -> Result<Calibration, ApiError> {
        let body: serde_json::Value =
            serde_json::from_str(&row.body).map_err(|_| corrupt(row.id, "body"))?;
        let points: Vec<PointResult> =
            serde_json::from_str(&row.results).map_err(|_| corrupt(row.id, "results"))?;
        let field = |name: &str| body.get(name).filter(|v| !v.is_null()).cloned();
        let text = |name: &str| body.get(name).and_then(|v| v.as_str()).map(str::to_string);
        Ok(Calibration {
            id: row.id,
            instrument_id: row.instrument_id,
            kind: row.kind,
            status: row.status,
            performed_on: row.performed_on,
            received_on: row.received_on,
            issued_on: row.issued_on,
            due_on: row.due_on,
            decision_rule: row.decision_rule,
            out_of_tolerance: row.out_of_tolerance,
            certificate_number: row.certificate_number,
            issuer: field("issuer"),
            procedure: text("procedure"),
            location: text("location"),
            environment: field("environment"),
            standards_used: serde_json::from_value(field("standards_used").unwrap_or(json!([])))
                .map_err(|_| corrupt(row.id, "standards"))?,
            guard_band: field("guard_band"),
            interval_days: body.get("interval_days").and_then(|v| v.as_i64()),
            replaces: field("replaces"),
            superseded_by: row.superseded_by,
            reason: row.status_reason,
            points,
            created_by: row.created_by,
            approved_by: row.approved_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            chain_broken: row.chain_broken,
        })
    }
}

/// What a calibration's `body` column keeps: the submitted fields other than
/// the points, which live (with their results) in `results`.
#[derive(Serialize)]
struct StoredBody<'a> {
    instrument_id: i64,
    kind: &'a Option<String>,
    issuer: &'a Option<crate::domain::calibration::Issuer>,
    performed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    procedure: &'a Option<String>,
    location: &'a Option<String>,
    environment: &'a Option<crate::domain::calibration::Environment>,
    standards_used: &'a [i64],
    decision_rule: &'a Option<String>,
    guard_band: &'a Option<crate::domain::quantity::QuantityJson>,
    interval_days: Option<i64>,
    replaces: &'a Option<crate::domain::calibration::Replaces>,
}

impl<'a> From<&'a CalibrationInput> for StoredBody<'a> {
    fn from(input: &'a CalibrationInput) -> StoredBody<'a> {
        StoredBody {
            instrument_id: input.instrument_id,
            kind: &input.kind,
            issuer: &input.issuer,
            performed_on: input.performed_on,
            received_on: input.received_on,
            procedure: &input.procedure,
            location: &input.location,
            environment: &input.environment,
            standards_used: &input.standards_used,
            decision_rule: &input.decision_rule,
            guard_band: &input.guard_band,
            interval_days: input.interval_days,
            replaces: &input.replaces,
        }
    }
}

fn to_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// Reads the calibration back after a change and appends the audit entry with both states.
fn audited(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    before: &Calibration,
) -> Result<Calibration, ApiError> {
    let after = get(conn, before.id)?;
    append(
        conn,
        actor,
        action,
        "calibration",
        &before.id.to_string(),
        Some(&to_json(before)),
        Some(&to_json(&after)),
    )?;
    Ok(after)
}

pub fn get(conn: &mut DbConnection, id: i64) -> Result<Calibration, ApiError> {
    calibrations::table
        .find(id)
        .select(CalibrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no calibration with id {id}")))?
        .try_into()
}

pub fn get_by_certificate(conn: &mut DbConnection, number: &str) -> Result<Calibration, ApiError> {
    calibrations::table
        .filter(calibrations::certificate_number.eq(number))
        .select(CalibrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no certificate numbered {number}")))?
        .try_into()
}

pub fn list_cmcs(conn: &mut DbConnection) -> Result<Vec<Cmc>, ApiError> {
    let rows: Vec<(i64, String)> = cmcs::table
        .select((cmcs::id, cmcs::body))
        .order(cmcs::id.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|(id, body)| {
            let input: CmcInput = serde_json::from_str(&body)
                .map_err(|_| ApiError::Internal(format!("cmc {id} unreadable")))?;
            Ok(Cmc {
                id,
                quantity_kind: input.quantity_kind,
                range: input.range,
                a: input.a,
                b: input.b,
            })
        })
        .collect()
}

pub fn insert_cmc(
    conn: &mut DbConnection,
    actor: &Actor,
    input: &CmcInput,
) -> Result<Cmc, ApiError> {
    write_transaction(conn, |conn| {
        let id: i64 = diesel::insert_into(cmcs::table)
            .values((
                cmcs::quantity_kind.eq(&input.quantity_kind),
                cmcs::body.eq(to_json(input).to_string()),
                cmcs::created_at.eq(now_timestamp()),
            ))
            .returning(cmcs::id)
            .get_result(conn)?;
        let cmc = Cmc {
            id,
            quantity_kind: input.quantity_kind.clone(),
            range: input.range.clone(),
            a: input.a.clone(),
            b: input.b,
        };
        append(
            conn,
            actor,
            "create",
            "cmc",
            &id.to_string(),
            None,
            Some(&to_json(&cmc)),
        )?;
        Ok(cmc)
    })
}

/// Calibration intervals of the instruments a set of calibrations names (the
/// calibrated instruments and their standards), in one query.
fn known_instruments(
    conn: &mut DbConnection,
    inputs: &[CalibrationInput],
) -> Result<std::collections::HashMap<i64, Option<i32>>, ApiError> {
    let mut wanted: Vec<i64> = inputs
        .iter()
        .flat_map(|input| {
            std::iter::once(input.instrument_id).chain(input.standards_used.iter().copied())
        })
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut known = std::collections::HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(10_000) {
        let rows: Vec<(i64, Option<i32>)> = instruments::table
            .select((instruments::id, instruments::interval_days))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        known.extend(rows);
    }
    Ok(known)
}

/// Validates a calibration against the register and the CMCs and computes its
/// results; `path` prefixes field names (batch ingestion: `calibrations[3]`).
fn evaluate(
    conn: &mut DbConnection,
    input: &CalibrationInput,
    known: &std::collections::HashMap<i64, Option<i32>>,
    cmc_table: &[Cmc],
    path: &str,
) -> Result<EvaluatedCalibration, ApiError> {
    let at = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    let mut errors = Vec::new();
    let Some(interval_days) = known.get(&input.instrument_id) else {
        return Err(ApiError::Validation(vec![FieldError::new(
            at("instrument_id"),
            format!("no instrument with id {}", input.instrument_id),
        )]));
    };
    for (i, id) in input.standards_used.iter().enumerate() {
        if !known.contains_key(id) {
            errors.push(FieldError::new(
                at(&format!("standards_used[{i}]")),
                format!("no instrument with id {id}"),
            ));
        }
    }
    if let Some(replaces) = &input.replaces {
        let old: Option<(i64, String)> = calibrations::table
            .select((calibrations::instrument_id, calibrations::status))
            .filter(calibrations::certificate_number.eq(&replaces.number))
            .first(conn)
            .optional()?;
        match old {
            None => errors.push(FieldError::new(
                at("replaces.number"),
                format!("no certificate numbered {}", replaces.number),
            )),
            Some((instrument_id, _)) if instrument_id != input.instrument_id => {
                errors.push(FieldError::new(
                    at("replaces.number"),
                    "the replaced certificate is for another instrument",
                ))
            }
            Some((_, status)) if status != "issued" => errors.push(FieldError::new(
                at("replaces.number"),
                format!(
                    "certificate {} is {status}; only an issued certificate can be replaced",
                    replaces.number
                ),
            )),
            Some(_) => {}
        }
    }
    let facts = InstrumentFacts {
        interval_days: *interval_days,
    };
    match evaluate_calibration(input, &facts, cmc_table) {
        Ok(evaluated) if errors.is_empty() => Ok(evaluated),
        Ok(_) => Err(ApiError::Validation(errors)),
        Err(more) => {
            errors.extend(
                more.into_iter()
                    .map(|e| FieldError::new(at(&e.field), e.message)),
            );
            Err(ApiError::Validation(errors))
        }
    }
}

fn write_standards(conn: &mut DbConnection, id: i64, standards: &[i64]) -> Result<(), ApiError> {
    diesel::delete(
        calibration_standards::table.filter(calibration_standards::calibration_id.eq(id)),
    )
    .execute(conn)?;
    // One row at a time: diesel's multi-row INSERT is not available for the
    // two-backend connection, and a calibration names only a few standards.
    for (position, standard) in standards.iter().enumerate() {
        diesel::insert_into(calibration_standards::table)
            .values((
                calibration_standards::calibration_id.eq(id),
                calibration_standards::position.eq(position as i32),
                calibration_standards::standard_id.eq(*standard),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn kind_name(evaluated: &EvaluatedCalibration) -> &'static str {
    match evaluated.kind {
        CalibrationKind::Internal => "internal",
        CalibrationKind::External => "external",
    }
}

/// The columns a calibration's content decides, shared by insert and replace.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = calibrations, treat_none_as_null = true)]
struct EvaluatedColumns<'a> {
    instrument_id: i64,
    kind: &'static str,
    performed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    decision_rule: &'static str,
    out_of_tolerance: bool,
    issuer_name: Option<&'a str>,
    issuer_certificate_number: Option<&'a str>,
    accredited: bool,
    replaces_number: Option<&'a str>,
    body: String,
    results: String,
}

impl<'a> EvaluatedColumns<'a> {
    fn new(input: &'a CalibrationInput, evaluated: &EvaluatedCalibration) -> EvaluatedColumns<'a> {
        EvaluatedColumns {
            instrument_id: input.instrument_id,
            kind: kind_name(evaluated),
            performed_on: input.performed_on,
            received_on: input.received_on,
            due_on: Some(evaluated.due_on),
            decision_rule: evaluated.decision_rule.as_str(),
            out_of_tolerance: evaluated.out_of_tolerance,
            issuer_name: input.issuer.as_ref().map(|i| i.name.as_str()),
            issuer_certificate_number: input.issuer.as_ref().map(|i| i.certificate_number.as_str()),
            accredited: evaluated.accredited,
            replaces_number: input.replaces.as_ref().map(|r| r.number.as_str()),
            body: to_text(&StoredBody::from(input)),
            results: to_text(&evaluated.points),
        }
    }
}

/// Inserts one calibration as a draft (or submitted, for batch ingestion)
/// inside the caller's transaction.
pub fn insert_evaluated(
    conn: &mut DbConnection,
    actor: &Actor,
    input: &CalibrationInput,
    evaluated: &EvaluatedCalibration,
    status: &str,
) -> Result<i64, ApiError> {
    let now = now_timestamp();
    let user_id = actor
        .user_id
        .ok_or_else(|| ApiError::Internal("calibrations need a user".into()))?;
    let id: i64 = diesel::insert_into(calibrations::table)
        .values((
            EvaluatedColumns::new(input, evaluated),
            calibrations::status.eq(status),
            calibrations::created_by.eq(user_id),
            calibrations::created_at.eq(&now),
            calibrations::updated_at.eq(&now),
        ))
        .returning(calibrations::id)
        .get_result(conn)?;
    write_standards(conn, id, &input.standards_used)?;
    Ok(id)
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    input: &CalibrationInput,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let cmc_table = list_cmcs(conn)?;
        let known = known_instruments(conn, std::slice::from_ref(input))?;
        let evaluated = evaluate(conn, input, &known, &cmc_table, "")?;
        let id = insert_evaluated(conn, actor, input, &evaluated, "draft")?;
        let created = get(conn, id)?;
        append(
            conn,
            actor,
            "create",
            "calibration",
            &id.to_string(),
            None,
            Some(&to_json(&created)),
        )?;
        Ok(created)
    })
}

/// Batch ingestion: every calibration or none. Errors name
/// `calibrations[i].…`; all are reported, not only the first.
pub fn create_batch(
    conn: &mut DbConnection,
    actor: &Actor,
    inputs: &[CalibrationInput],
    submit: bool,
) -> Result<Vec<i64>, ApiError> {
    write_transaction(conn, |conn| {
        let cmc_table = list_cmcs(conn)?;
        let known = known_instruments(conn, inputs)?;
        let mut errors = Vec::new();
        let mut evaluated = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            match evaluate(
                conn,
                input,
                &known,
                &cmc_table,
                &format!("calibrations[{i}]"),
            ) {
                Ok(result) => evaluated.push(result),
                Err(ApiError::Validation(more)) => errors.extend(more),
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let status = if submit { "submitted" } else { "draft" };
        let mut ids = Vec::with_capacity(inputs.len());
        for (input, result) in inputs.iter().zip(&evaluated) {
            ids.push(insert_evaluated(conn, actor, input, result, status)?);
        }
        append(
            conn,
            actor,
            "create_batch",
            "calibration",
            &format!(
                "{}..{}",
                ids.first().unwrap_or(&0),
                ids.last().unwrap_or(&0)
            ),
            None,
            Some(&json!({"ids": ids, "status": status})),
        )?;
        Ok(ids)
    })
}

fn conflict_unless(
    calibration: &Calibration,
    allowed: &[&str],
    action: &str,
) -> Result<(), ApiError> {
    if allowed.contains(&calibration.status.as_str()) {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "calibration {} is {}; it cannot be {action}",
            calibration.id, calibration.status
        )))
    }
}

pub fn replace_draft(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    input: &CalibrationInput,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        // Issued data is never changed in place: only drafts (and rejected work,
        // which goes back to draft) can be replaced.
        conflict_unless(&before, &["draft", "rejected"], "changed")?;
        let cmc_table = list_cmcs(conn)?;
        let known = known_instruments(conn, std::slice::from_ref(input))?;
        let evaluated = evaluate(conn, input, &known, &cmc_table, "")?;
        diesel::update(calibrations::table.find(id))
            .set((
                EvaluatedColumns::new(input, &evaluated),
                calibrations::status.eq("draft"),
                calibrations::status_reason.eq(None::<String>),
                calibrations::updated_at.eq(now_timestamp()),
            ))
            .execute(conn)?;
        write_standards(conn, id, &input.standards_used)?;
        audited(conn, actor, "update", &before)
    })
}

fn set_status(
    conn: &mut DbConnection,
    actor: &Actor,
    before: &Calibration,
    status: &str,
    reason: Option<&str>,
    action: &str,
) -> Result<Calibration, ApiError> {
    diesel::update(calibrations::table.find(before.id))
        .set((
            calibrations::status.eq(status),
            calibrations::status_reason.eq(reason),
            calibrations::updated_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    audited(conn, actor, action, before)
}

pub fn submit(conn: &mut DbConnection, actor: &Actor, id: i64) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        conflict_unless(&before, &["draft"], "submitted")?;
        set_status(conn, actor, &before, "submitted", None, "submit")
    })
}

pub fn reject(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        conflict_unless(&before, &["submitted"], "rejected")?;
        set_status(conn, actor, &before, "rejected", Some(reason), "reject")
    })
}

/// The next certificate number of a year, gapless: the counter row is bumped
/// inside the approval's transaction, so a rolled-back approval gives its number
/// back, and concurrent approvals queue (PostgreSQL: table lock; SQLite: the
/// write lock BEGIN IMMEDIATE already holds).
fn next_certificate_number(
    conn: &mut DbConnection,
    year: i32,
    prefix: &str,
) -> Result<String, ApiError> {
    if let DbConnection::Postgresql(pg) = conn {
        // The lock also covers a year's first certificate, when there is no
        // counter row to lock yet.
        diesel::sql_query("LOCK TABLE certificate_counters IN SHARE ROW EXCLUSIVE MODE")
            .execute(pg)?;
    }
    let current: Option<i32> = certificate_counters::table
        .select(certificate_counters::last_number)
        .filter(certificate_counters::year.eq(year))
        .first(conn)
        .optional()?;
    let next = current.unwrap_or(0) + 1;
    if current.is_some() {
        diesel::update(certificate_counters::table.find(year))
            .set(certificate_counters::last_number.eq(next))
            .execute(conn)?;
    } else {
        diesel::insert_into(certificate_counters::table)
            .values((
                certificate_counters::year.eq(year),
                certificate_counters::last_number.eq(next),
            ))
            .execute(conn)?;
    }
    Ok(format!("{prefix}-{year}-{next:06}"))
}

pub fn approve(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    today: NaiveDate,
    context: &super::certificates::IssueContext,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        // Four eyes (ISO/IEC 17025 7.8.1.2 authorisation): whoever recorded the
        // work may not be the one who releases it.
        if Some(before.created_by) == actor.user_id {
            return Err(ApiError::Forbidden(
                "four eyes: the approver must not be the user who created the calibration"
                    .to_string(),
            ));
        }
        conflict_unless(&before, &["submitted"], "approved")?;
        let (status, number) = if before.kind == "internal" {
            (
                "issued",
                Some(next_certificate_number(
                    conn,
                    today.year(),
                    &context.prefix,
                )?),
            )
        } else {
            ("accepted", None)
        };
        if let (Some(number), Some(replaces)) = (&number, &before.replaces) {
            let old_number = replaces["number"].as_str().unwrap_or_default();
            let old = get_by_certificate(conn, old_number)?;
            if old.status != "issued" {
                return Err(ApiError::Conflict(format!(
                    "certificate {old_number} is {}; it can no longer be replaced",
                    old.status
                )));
            }
            diesel::update(calibrations::table.find(old.id))
                .set((
                    calibrations::status.eq("superseded"),
                    calibrations::superseded_by.eq(number),
                    calibrations::updated_at.eq(now_timestamp()),
                ))
                .execute(conn)?;
            let superseded = get(conn, old.id)?;
            append(
                conn,
                actor,
                "supersede",
                "calibration",
                &old.id.to_string(),
                Some(&to_json(&old)),
                Some(&to_json(&superseded)),
            )?;
        }
        diesel::update(calibrations::table.find(id))
            .set((
                calibrations::status.eq(status),
                calibrations::certificate_number.eq(&number),
                calibrations::issued_on.eq(Some(today)),
                calibrations::approved_by.eq(actor.user_id),
                calibrations::updated_at.eq(now_timestamp()),
            ))
            .execute(conn)?;
        // Its own chain on its date, then everything that used this instrument
        // from that date on: the new calibration may be what they now rest on.
        super::traceability::refresh_chain_state(conn, &[id])?;
        super::traceability::refresh_downstream(conn, before.instrument_id, before.performed_on)?;
        if let Some(number) = &number {
            // The certificate is rendered once, here, and kept byte for byte.
            let issued = get(conn, id)?;
            let signatory = actor.name.clone();
            let view =
                super::certificates::build_view(conn, &issued, number, today, &signatory, context)?;
            super::certificates::store_documents(conn, &view, &issued)?;
        }
        audited(conn, actor, "approve", &before)
    })
}

pub fn withdraw(
    conn: &mut DbConnection,
    actor: &Actor,
    number: &str,
    reason: &str,
) -> Result<Calibration, ApiError> {
    write_transaction(conn, |conn| {
        let before = get_by_certificate(conn, number)?;
        conflict_unless(&before, &["issued"], "withdrawn")?;
        let after = set_status(conn, actor, &before, "withdrawn", Some(reason), "withdraw")?;
        // Whatever rested on this certificate now rests on a withdrawn one.
        super::traceability::refresh_downstream(conn, before.instrument_id, before.performed_on)?;
        Ok(after)
    })
}

#[derive(Debug, Clone, Default)]
pub struct CalibrationFilter {
    pub instrument_id: Option<i64>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: i64,
    pub per_page: i64,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &CalibrationFilter,
) -> Result<(Vec<Calibration>, i64), ApiError> {
    let build = || {
        let mut query = calibrations::table.into_boxed();
        if let Some(id) = filter.instrument_id {
            query = query.filter(calibrations::instrument_id.eq(id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(calibrations::status.eq(status.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(calibrations::performed_on.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(calibrations::performed_on.le(to));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<CalibrationRow> = build()
        .select(CalibrationRow::as_select())
        .order(calibrations::id.asc())
        .limit(filter.per_page)
        .offset((filter.page - 1) * filter.per_page)
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(Calibration::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total))
}

/// The as-found history of an instrument, oldest first: (calibration id,
/// performed on, found in tolerance) for each calibration on record that has a
/// decision on its as-found points.
pub fn as_found_history(
    conn: &mut DbConnection,
    instrument_id: i64,
) -> Result<Vec<(i64, NaiveDate, bool)>, ApiError> {
    let rows: Vec<(i64, NaiveDate, String)> = calibrations::table
        .select((
            calibrations::id,
            calibrations::performed_on,
            calibrations::results,
        ))
        .filter(calibrations::instrument_id.eq(instrument_id))
        .filter(calibrations::status.eq_any(ON_RECORD))
        .order((calibrations::performed_on.asc(), calibrations::id.asc()))
        .load(conn)?;
    let mut history = Vec::with_capacity(rows.len());
    for (id, performed_on, results) in rows {
        let points: Vec<PointResult> =
            serde_json::from_str(&results).map_err(|_| corrupt(id, "results"))?;
        if let Some(in_tolerance) = as_found_in_tolerance(&points) {
            history.push((id, performed_on, in_tolerance));
        }
    }
    Ok(history)
}

/// (calibration id, our number, issuer's number, customer).
type CertificateRow = (i64, Option<String>, Option<String>, Option<String>);

pub struct CertificateDetail {
    pub our_number: Option<String>,
    pub issuer_number: Option<String>,
    pub customer: Option<String>,
}

/// Certificate numbers and customers of calibrations, in chunks of 10 000.
pub fn certificates_and_customers(
    conn: &mut DbConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, CertificateDetail>, ApiError> {
    let mut details = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<CertificateRow> = calibrations::table
            .inner_join(instruments::table)
            .select((
                calibrations::id,
                calibrations::certificate_number,
                calibrations::issuer_certificate_number,
                instruments::customer,
            ))
            .filter(calibrations::id.eq_any(chunk))
            .load(conn)?;
        details.extend(
            rows.into_iter()
                .map(|(id, our_number, issuer_number, customer)| {
                    (
                        id,
                        CertificateDetail {
                            our_number,
                            issuer_number,
                            customer,
                        },
                    )
                }),
        );
    }
    Ok(details)
}
