//! Calibrations, their workflow (draft → submitted → issued/accepted or
//! rejected; withdrawn; superseded), certificate numbering, and CMCs.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::audit::{append, Actor};
use super::schema::{
    calibration_contributors, calibration_standards, calibrations, certificate_counters, cmcs,
    instruments,
};
use super::{now_timestamp, per_backend, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::calibration::{
    as_found_in_tolerance, CalibrationInput, CalibrationKind, Cmc, CmcInput, EvaluatedCalibration,
    InstrumentFacts, PointResult,
};
use crate::domain::conformity::DecisionRule;
use crate::domain::people::Scope;
use crate::domain::quantity::{QuantityJson, QuantityKind};
use crate::domain::states::CalibrationStatus;

/// Statuses that put a calibration "on record" (DESIGN section 6).
pub const ON_RECORD: [CalibrationStatus; 3] = CalibrationStatus::ON_RECORD;

/// A calibration as the API shows it: what was submitted, plus what the lab
/// computed and the workflow state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    pub id: i64,
    pub instrument_id: i64,
    pub kind: CalibrationKind,
    pub status: CalibrationStatus,
    #[schema(value_type = String, format = Date)]
    pub performed_on: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub received_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub issued_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<NaiveDate>,
    pub decision_rule: DecisionRule,
    pub out_of_tolerance: bool,
    /// This lab's certificate number (internal, once issued).
    pub certificate_number: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub issuer: Option<serde_json::Value>,
    /// The procedure as cited (a code, or code@version).
    pub procedure: Option<String>,
    /// The registered procedure version the citation resolved to when it was recorded.
    pub procedure_version: Option<crate::domain::competence::CitedProcedure>,
    /// An external laboratory's method, as free text.
    pub method: Option<String>,
    pub location: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub environment: Option<serde_json::Value>,
    pub standards_used: Vec<i64>,
    #[schema(value_type = Option<Object>)]
    pub guard_band: Option<serde_json::Value>,
    pub interval_days: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub replaces: Option<serde_json::Value>,
    /// The item's condition when received, as recorded (null: not recorded).
    pub condition_on_receipt: Option<String>,
    /// Deviations from the method, as recorded (null: none stated).
    pub deviations: Option<String>,
    pub superseded_by: Option<String>,
    /// Why it was rejected or withdrawn.
    pub reason: Option<String>,
    pub points: Vec<PointResult>,
    pub created_by: i64,
    pub approved_by: Option<i64>,
    /// What the approver's electronic signature means (21 CFR 11.50), "approved" by default.
    pub approval_meaning: Option<String>,
    /// When the approver signed (UTC).
    pub approved_at: Option<String>,
    /// Who made the last change (none: the command line).
    pub updated_by: Option<i64>,
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
    kind: CalibrationKind,
    status: CalibrationStatus,
    performed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    issued_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    decision_rule: DecisionRule,
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
    updated_by: Option<i64>,
    approval_meaning: Option<String>,
    approved_at: Option<String>,
}

fn corrupt(id: i64, what: &str) -> DbError {
    DbError::corrupt(format!("calibration {id}: stored {what}"))
}

impl TryFrom<CalibrationRow> for Calibration {
    type Error = DbError;

    fn try_from(row: CalibrationRow) -> DbResult<Calibration> {
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
            procedure_version: match field("procedure_version") {
                None => None,
                Some(value) => {
                    Some(serde_json::from_value(value).map_err(|_| corrupt(row.id, "procedure"))?)
                }
            },
            method: text("method"),
            location: text("location"),
            environment: field("environment"),
            standards_used: serde_json::from_value(field("standards_used").unwrap_or(json!([])))
                .map_err(|_| corrupt(row.id, "standards"))?,
            guard_band: field("guard_band"),
            interval_days: body.get("interval_days").and_then(|v| v.as_i64()),
            replaces: field("replaces"),
            condition_on_receipt: text("condition_on_receipt"),
            deviations: text("deviations"),
            superseded_by: row.superseded_by,
            reason: row.status_reason,
            points,
            created_by: row.created_by,
            approved_by: row.approved_by,
            approval_meaning: row.approval_meaning,
            approved_at: row.approved_at,
            updated_by: row.updated_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            chain_broken: row.chain_broken,
        })
    }
}

impl Calibration {
    /// The decision rule and guard band it was decided under, as stored. An
    /// unreadable one is corrupt data (an error), never read as a default.
    pub fn conformity_rule(&self) -> DbResult<(DecisionRule, Option<QuantityJson>)> {
        let rule = self.decision_rule;
        let guard_band = match &self.guard_band {
            None => None,
            Some(value) => Some(
                serde_json::from_value(value.clone())
                    .map_err(|_| corrupt(self.id, "guard band"))?,
            ),
        };
        Ok((rule, guard_band))
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
    #[serde(skip_serializing_if = "Option::is_none")]
    procedure_version: &'a Option<crate::domain::competence::CitedProcedure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: &'a Option<String>,
    location: &'a Option<String>,
    environment: &'a Option<crate::domain::calibration::Environment>,
    standards_used: &'a [i64],
    decision_rule: &'a Option<String>,
    guard_band: &'a Option<crate::domain::quantity::QuantityJson>,
    interval_days: Option<i64>,
    replaces: &'a Option<crate::domain::calibration::Replaces>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition_on_receipt: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deviations: &'a Option<String>,
}

impl<'a> StoredBody<'a> {
    fn new(input: &'a CalibrationInput, evaluated: &'a EvaluatedCalibration) -> StoredBody<'a> {
        StoredBody {
            procedure_version: &evaluated.procedure,
            method: &input.method,
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
            condition_on_receipt: &input.condition_on_receipt,
            deviations: &input.deviations,
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
pub fn audited(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    before: &Calibration,
) -> DbResult<Calibration> {
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

pub fn get(conn: &mut DbConnection, id: i64) -> DbResult<Calibration> {
    get_scoped(conn, id, &Scope::Everything)
}

/// One calibration as `scope` sees it: one of another customer's instruments
/// is "no calibration", as for an id that does not exist.
pub fn get_scoped(conn: &mut DbConnection, id: i64, scope: &Scope) -> DbResult<Calibration> {
    let query = calibrations::table
        .filter(calibrations::id.eq(id))
        .into_boxed();
    super::instruments::scoped_via!(query, calibrations::instrument_id, scope)
        .select(CalibrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no calibration with id {id}")))?
        .try_into()
}

/// Several calibrations by id, in one query per 10 000, in id order.
pub fn get_many(conn: &mut DbConnection, ids: &[i64]) -> DbResult<Vec<Calibration>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<CalibrationRow> = calibrations::table
            .filter(calibrations::id.eq_any(chunk))
            .select(CalibrationRow::as_select())
            .order(calibrations::id.asc())
            .load(conn)?;
        for row in rows {
            found.push(Calibration::try_from(row)?);
        }
    }
    Ok(found)
}

pub fn get_by_certificate(conn: &mut DbConnection, number: &str) -> DbResult<Calibration> {
    calibrations::table
        .filter(calibrations::certificate_number.eq(number))
        .select(CalibrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no certificate numbered {number}")))?
        .try_into()
}

pub fn list_cmcs(conn: &mut DbConnection) -> DbResult<Vec<Cmc>> {
    let rows: Vec<(i64, String)> = cmcs::table
        .select((cmcs::id, cmcs::body))
        .order(cmcs::id.asc())
        .load(conn)?;
    rows.into_iter()
        .map(|(id, body)| {
            let input: CmcInput =
                serde_json::from_str(&body).map_err(|_| DbError::corrupt(format!("cmc {id}")))?;
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

pub fn insert_cmc(conn: &mut DbConnection, actor: &Actor, input: &CmcInput) -> DbResult<Cmc> {
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

fn write_standards(conn: &mut DbConnection, id: i64, standards: &[i64]) -> DbResult<()> {
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

/// The columns a calibration's content decides, shared by insert and replace.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = calibrations, treat_none_as_null = true)]
struct EvaluatedColumns<'a> {
    instrument_id: i64,
    kind: CalibrationKind,
    performed_on: NaiveDate,
    received_on: Option<NaiveDate>,
    due_on: Option<NaiveDate>,
    decision_rule: DecisionRule,
    out_of_tolerance: bool,
    issuer_name: Option<&'a str>,
    issuer_certificate_number: Option<&'a str>,
    accredited: bool,
    replaces_number: Option<&'a str>,
    body: String,
    results: String,
}

impl<'a> EvaluatedColumns<'a> {
    fn new(
        input: &'a CalibrationInput,
        evaluated: &'a EvaluatedCalibration,
    ) -> EvaluatedColumns<'a> {
        EvaluatedColumns {
            instrument_id: input.instrument_id,
            kind: evaluated.kind,
            performed_on: input.performed_on,
            received_on: input.received_on,
            due_on: Some(evaluated.due_on),
            decision_rule: evaluated.decision_rule,
            out_of_tolerance: evaluated.out_of_tolerance,
            issuer_name: input.issuer.as_ref().map(|i| i.name.as_str()),
            issuer_certificate_number: input.issuer.as_ref().map(|i| i.certificate_number.as_str()),
            accredited: evaluated.accredited,
            replaces_number: input.replaces.as_ref().map(|r| r.number.as_str()),
            body: to_text(&StoredBody::new(input, evaluated)),
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
    status: CalibrationStatus,
) -> DbResult<i64> {
    let now = now_timestamp();
    // The command line records calibrations under a named technician (import
    // --as), never as itself: a calibration always has a creator.
    let Some(user_id) = actor.user_id else {
        return Err(DbError::MissingReference {
            what: "a calibration is recorded by a user, not by the command line".into(),
        });
    };
    let id: i64 = diesel::insert_into(calibrations::table)
        .values((
            EvaluatedColumns::new(input, evaluated),
            calibrations::status.eq(status),
            calibrations::created_by.eq(user_id),
            calibrations::updated_by.eq(user_id),
            calibrations::created_at.eq(&now),
            calibrations::updated_at.eq(&now),
        ))
        .returning(calibrations::id)
        .get_result(conn)?;
    write_standards(conn, id, &input.standards_used)?;
    record_contributor(conn, id, actor)?;
    Ok(id)
}

/// Notes that the actor had a hand in a calibration (created, changed or
/// submitted it), so four eyes can exclude them from deciding on it.
pub fn record_contributor(conn: &mut DbConnection, id: i64, actor: &Actor) -> DbResult<()> {
    let Some(user_id) = actor.user_id else {
        return Ok(());
    };
    let row = (
        calibration_contributors::calibration_id.eq(id),
        calibration_contributors::user_id.eq(user_id),
    );
    per_backend!(conn, c => diesel::insert_into(calibration_contributors::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Everyone who created, changed or submitted a calibration.
pub fn contributors(conn: &mut DbConnection, id: i64) -> DbResult<Vec<i64>> {
    Ok(calibration_contributors::table
        .select(calibration_contributors::user_id)
        .filter(calibration_contributors::calibration_id.eq(id))
        .load(conn)?)
}

pub fn set_status(
    conn: &mut DbConnection,
    actor: &Actor,
    before: &Calibration,
    status: CalibrationStatus,
    reason: Option<&str>,
    action: &str,
) -> DbResult<Calibration> {
    diesel::update(calibrations::table.find(before.id))
        .set((
            calibrations::status.eq(status),
            calibrations::status_reason.eq(reason),
            calibrations::updated_by.eq(actor.user_id),
            calibrations::updated_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    audited(conn, actor, action, before)
}

/// The next certificate number of a year, gapless: the counter row is bumped
/// inside the approval's transaction, so a rolled-back approval gives its number
/// back, and concurrent approvals queue (PostgreSQL: table lock; SQLite: the
/// write lock BEGIN IMMEDIATE already holds).
pub fn next_certificate_number(
    conn: &mut DbConnection,
    year: i32,
    prefix: &str,
) -> DbResult<String> {
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

/// Rewrites a draft (or rejected work, which goes back to draft) with newly
/// evaluated content, inside the caller's transaction.
/// Removes a calibration with its standards and contributors. Only drafts are
/// ever removed (workflow::calibrations::delete_draft); the audit log keeps it.
pub fn delete(conn: &mut DbConnection, id: i64) -> DbResult<()> {
    // A draft external calibration may already carry its issuer's certificate.
    diesel::delete(
        super::schema::issuer_certificates::table
            .filter(super::schema::issuer_certificates::calibration_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        calibration_standards::table.filter(calibration_standards::calibration_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        calibration_contributors::table.filter(calibration_contributors::calibration_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(calibrations::table.find(id)).execute(conn)?;
    Ok(())
}

pub fn update_evaluated(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    input: &CalibrationInput,
    evaluated: &EvaluatedCalibration,
) -> DbResult<()> {
    diesel::update(calibrations::table.find(id))
        .set((
            EvaluatedColumns::new(input, evaluated),
            calibrations::status.eq(CalibrationStatus::Draft),
            calibrations::status_reason.eq(None::<String>),
            calibrations::updated_by.eq(actor.user_id),
            calibrations::updated_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    write_standards(conn, id, &input.standards_used)?;
    record_contributor(conn, id, actor)
}

/// Marks a certificate superseded by its replacement, audited.
pub fn supersede(
    conn: &mut DbConnection,
    actor: &Actor,
    old: &Calibration,
    replacement: &str,
) -> DbResult<()> {
    diesel::update(calibrations::table.find(old.id))
        .set((
            calibrations::status.eq(CalibrationStatus::Superseded),
            calibrations::superseded_by.eq(replacement),
            calibrations::updated_by.eq(actor.user_id),
            calibrations::updated_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    audited(conn, actor, "supersede", old).map(|_| ())
}

/// Records the approval: the new status, our certificate number (internal
/// work) and the issue date.
pub fn mark_approved(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    status: CalibrationStatus,
    number: Option<&str>,
    (issued_on, meaning): (NaiveDate, &str),
) -> DbResult<()> {
    let now = now_timestamp();
    diesel::update(calibrations::table.find(id))
        .set((
            calibrations::status.eq(status),
            calibrations::certificate_number.eq(number),
            calibrations::issued_on.eq(Some(issued_on)),
            calibrations::approved_by.eq(actor.user_id),
            calibrations::approval_meaning.eq(meaning),
            calibrations::approved_at.eq(&now),
            calibrations::updated_by.eq(actor.user_id),
            calibrations::updated_at.eq(&now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The instrument and status of the calibration that carries a certificate
/// number, if any (what a replacement would replace).
pub fn certificate_holder(
    conn: &mut DbConnection,
    number: &str,
) -> DbResult<Option<(i64, CalibrationStatus)>> {
    Ok(calibrations::table
        .select((calibrations::instrument_id, calibrations::status))
        .filter(calibrations::certificate_number.eq(number))
        .first(conn)
        .optional()?)
}

/// What validation needs of the given instruments (those that exist): tag,
/// role, quantity kind and interval, in one query per 10 000.
pub fn facts_of(
    conn: &mut DbConnection,
    ids: &[i64],
) -> DbResult<std::collections::HashMap<i64, InstrumentFacts>> {
    let mut known = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(i64, String, String, String, Option<i32>)> = instruments::table
            .select((
                instruments::id,
                instruments::asset_tag,
                instruments::role,
                instruments::quantity_kind,
                instruments::interval_days,
            ))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        for (id, asset_tag, role, kind, interval_days) in rows {
            let corrupt = |what: &str| DbError::corrupt(format!("instrument {id}: stored {what}"));
            let facts = InstrumentFacts {
                asset_tag,
                role: role.parse().map_err(|_| corrupt("role"))?,
                quantity_kind: QuantityKind::from_name(&kind)
                    .ok_or_else(|| corrupt("quantity kind"))?,
                interval_days,
            };
            known.insert(id, facts);
        }
    }
    Ok(known)
}

#[derive(Debug, Clone, Default)]
pub struct CalibrationFilter {
    pub instrument_id: Option<i64>,
    pub status: Option<CalibrationStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: i64,
    pub per_page: i64,
}

/// A page of calibrations as `scope` sees them, and how many match.
pub fn list(
    conn: &mut DbConnection,
    filter: &CalibrationFilter,
    scope: &Scope,
) -> DbResult<(Vec<Calibration>, i64)> {
    let build = || {
        let query = calibrations::table.into_boxed();
        let mut query = super::instruments::scoped_via!(query, calibrations::instrument_id, scope);
        if let Some(id) = filter.instrument_id {
            query = query.filter(calibrations::instrument_id.eq(id));
        }
        if let Some(status) = &filter.status {
            query = query.filter(calibrations::status.eq(*status));
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
        .collect::<DbResult<Vec<_>>>()?;
    Ok((items, total))
}

/// The as-found history of an instrument, oldest first: (calibration id,
/// performed on, found in tolerance) for each calibration on record up to
/// `today` that has a decision on its as-found points (OIML D 10 looks back
/// at what was found, never at a date still to come).
pub fn as_found_history(
    conn: &mut DbConnection,
    instrument_id: i64,
    today: NaiveDate,
) -> DbResult<Vec<(i64, NaiveDate, bool)>> {
    let rows: Vec<(i64, NaiveDate, String)> = calibrations::table
        .select((
            calibrations::id,
            calibrations::performed_on,
            calibrations::results,
        ))
        .filter(calibrations::instrument_id.eq(instrument_id))
        .filter(calibrations::status.eq_any(ON_RECORD))
        .filter(calibrations::performed_on.le(today))
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
) -> DbResult<std::collections::HashMap<i64, CertificateDetail>> {
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
