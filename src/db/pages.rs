//! What the web pages need beyond the API's own queries: the dashboard lists and asset tags of
//! many instruments at once (one query, never one per row).

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde::Serialize;

use super::calibrations::ON_RECORD;
use super::instruments::scoped;
use super::schema::{calibrations, instrument_status_changes, instruments};
use super::validity::{latest_id_of, newest, on_record_status};
use super::{DbConnection, DbResult};
use crate::domain::people::Scope;
use crate::domain::states::CalibrationStatus;
use crate::domain::validity::{InstrumentStatus, Role};

/// How many rows each dashboard list shows (the totals are counted in full).
pub const DASHBOARD_ROWS: usize = 50;

#[derive(Debug, Clone, Serialize)]
pub struct DueRow {
    pub instrument_id: i64,
    pub asset_tag: String,
    pub customer: Option<String>,
    pub due_on: NaiveDate,
    /// The section-6 reason today.
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationRow {
    pub calibration_id: i64,
    pub instrument_id: i64,
    pub asset_tag: String,
    pub customer: Option<String>,
    pub performed_on: NaiveDate,
    pub certificate_number: Option<String>,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub today: NaiveDate,
    pub horizon_days: i64,
    /// The most rows a list shows; a list that long may have more.
    pub shown_rows: usize,
    pub overdue: Vec<DueRow>,
    pub overdue_total: usize,
    pub due_soon: Vec<DueRow>,
    pub due_soon_total: usize,
    pub out_of_tolerance: Vec<CalibrationRow>,
    pub awaiting_approval: Vec<CalibrationRow>,
    /// The groups of DESIGN 9c, each counted in full and shown up to [`GROUP_ROWS`].
    pub withdrawn: Group,
    pub not_traceable: Group,
    pub suspended: Group,
    pub never_calibrated: Group,
}

/// How many rows each attention group shows (DESIGN 9c); the total is counted in full.
pub const GROUP_ROWS: i64 = 20;

/// One instrument in an attention group, with what put it there.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub instrument_id: i64,
    pub asset_tag: String,
    pub customer: Option<String>,
    /// The day it happened: the withdrawal, the suspension, or the calibration whose
    /// chain is broken; none for an instrument never calibrated.
    pub on: Option<NaiveDate>,
    /// The reason the lab recorded (withdrawal, suspension), when there is one.
    pub reason: Option<String>,
    /// The certificate the row is about (withdrawn, or resting on a broken chain).
    pub certificate_number: Option<String>,
}

/// The first [`GROUP_ROWS`] of a group and how many there are in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Group {
    pub rows: Vec<GroupRow>,
    pub total: i64,
}

diesel::alias!(calibrations as later: LaterCalibrations);

type RowTuple = (
    i64,
    i64,
    String,
    Option<String>,
    NaiveDate,
    Option<String>,
    String,
);

fn calibration_row(row: RowTuple) -> CalibrationRow {
    let (calibration_id, instrument_id, asset_tag, customer, performed_on, number, kind) = row;
    CalibrationRow {
        calibration_id,
        instrument_id,
        asset_tag,
        customer,
        performed_on,
        certificate_number: number,
        kind,
    }
}

pub fn dashboard(
    conn: &mut DbConnection,
    today: NaiveDate,
    horizon_days: i64,
    scope: &Scope,
) -> DbResult<Dashboard> {
    // Counted over the whole register, described (validity, tag, customer) only as shown.
    let due = super::validity::due_dates(conn, today, today + Duration::days(horizon_days), scope)?;
    let (overdue, due_soon): (Vec<_>, Vec<_>) =
        due.into_iter().partition(|&(_, due_on)| due_on < today);
    let (overdue, overdue_total) = due_rows(conn, overdue, today)?;
    let (due_soon, due_soon_total) = due_rows(conn, due_soon, today)?;
    Ok(Dashboard {
        today,
        horizon_days,
        shown_rows: DASHBOARD_ROWS,
        overdue,
        overdue_total,
        due_soon,
        due_soon_total,
        out_of_tolerance: out_of_tolerance_now(conn, today)?,
        awaiting_approval: awaiting_approval(conn)?,
        withdrawn: withdrawn(conn, today, scope)?,
        not_traceable: not_traceable(conn, today, scope)?,
        suspended: suspended(conn, scope)?,
        never_calibrated: never_calibrated(conn, scope)?,
    })
}

/// `COUNT(*) OVER ()`: the group's size on every row, counted before LIMIT cuts the rows,
/// so one statement both counts and shows a group.
fn group_total() -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql("COUNT(*) OVER ()")
}

/// `<column> = '<value>'` written as a literal, not bound: SQLite's planner (with its
/// stability guarantee on, plans never depend on bound values) uses a partial index only
/// when the query spells out the index's own condition (migration 000045).
fn literal_eq(
    column: &str,
    value: &str,
) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(&format!("{column} = '{value}'"))
}

/// In service today and not a national standard: what the groups other than
/// `suspended` watch (a national standard is a root, valid on its NMI's word; a suspended
/// one is listed as suspended; a retired one is no one's concern).
fn in_service() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(&format!(
        "instruments.status = '{}' AND instruments.role <> '{}'",
        InstrumentStatus::Active.as_str(),
        Role::National.as_str()
    ))
}

type GroupTuple = (
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    i64,
);

/// What the withdrawn, broken-chain and suspended queries read, before [`group`].
type WithdrawnTuple = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
);
type BrokenChainTuple = (
    i64,
    String,
    Option<String>,
    NaiveDate,
    Option<String>,
    Option<String>,
    i64,
);
type SuspendedTuple = (
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    i64,
);

fn group(rows: Vec<GroupTuple>) -> Group {
    let total = rows.first().map_or(0, |row| row.6);
    let rows = rows
        .into_iter()
        .map(
            |(instrument_id, asset_tag, customer, on, reason, certificate_number, _)| GroupRow {
                instrument_id,
                asset_tag,
                customer,
                on,
                reason,
                certificate_number,
            },
        )
        .collect();
    Group { rows, total }
}

/// The day of a stored RFC 3339 timestamp (`updated_at`), if it is one.
fn day_of(timestamp: &str) -> Option<NaiveDate> {
    timestamp.get(..10)?.parse().ok()
}

/// Instruments whose latest certificate on record today is withdrawn, latest withdrawal
/// first, with the withdrawal's day (a withdrawn record is never changed again, so its
/// `updated_at` is the withdrawal's) and reason. Driven by the partial index of withdrawn
/// calibrations: one probe of the instrument's newest record per withdrawn certificate.
fn withdrawn(conn: &mut DbConnection, today: NaiveDate, scope: &Scope) -> DbResult<Group> {
    let query = calibrations::table
        .inner_join(instruments::table)
        .select((
            calibrations::instrument_id,
            instruments::asset_tag,
            instruments::customer,
            calibrations::updated_at,
            calibrations::status_reason,
            calibrations::certificate_number,
            group_total(),
        ))
        .filter(literal_eq(
            "calibrations.status",
            CalibrationStatus::Withdrawn.as_str(),
        ))
        .filter(in_service())
        .filter(
            calibrations::id
                .nullable()
                .eq(latest_id_of!(calibrations::instrument_id, today)),
        )
        .order((calibrations::updated_at.desc(), calibrations::id.desc()))
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<WithdrawnTuple> = scoped!(query, scope).load(conn)?;
    Ok(group(
        rows.into_iter()
            .map(|(id, tag, customer, at, reason, number, total)| {
                (id, tag, customer, day_of(&at), reason, number, total)
            })
            .collect(),
    ))
}

/// Instruments not traceable today: their latest calibration on record (not withdrawn:
/// that group is above) has its chain broken, as the stored chain state says (DESIGN 7:
/// recomputed downstream on every approval, withdrawal and status change), the state
/// validity's `not_traceable` reads. Driven by the partial index of broken chains.
fn not_traceable(conn: &mut DbConnection, today: NaiveDate, scope: &Scope) -> DbResult<Group> {
    let query = calibrations::table
        .inner_join(instruments::table)
        .select((
            calibrations::instrument_id,
            instruments::asset_tag,
            instruments::customer,
            calibrations::performed_on,
            calibrations::certificate_number,
            calibrations::issuer_certificate_number,
            group_total(),
        ))
        .filter(calibrations::chain_broken)
        .filter(calibrations::status.ne(CalibrationStatus::Withdrawn))
        .filter(in_service())
        .filter(
            calibrations::id
                .nullable()
                .eq(latest_id_of!(calibrations::instrument_id, today)),
        )
        .order((calibrations::performed_on.desc(), calibrations::id.desc()))
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<BrokenChainTuple> = scoped!(query, scope).load(conn)?;
    // Ours for an internal calibration, the issuer's for an external one.
    Ok(group(
        rows.into_iter()
            .map(|(id, tag, customer, on, ours, issuers, total)| {
                (id, tag, customer, Some(on), None, ours.or(issuers), total)
            })
            .collect(),
    ))
}

/// `(SELECT <column> FROM instrument_status_changes WHERE instrument_id = instruments.id
/// ORDER BY effective_on DESC, id DESC LIMIT 1)`: of the latest status change, which put
/// a suspended instrument out of service.
macro_rules! latest_change {
    ($column:expr) => {
        instrument_status_changes::table
            .select($column)
            .filter(instrument_status_changes::instrument_id.eq(instruments::id))
            .order((
                instrument_status_changes::effective_on.desc(),
                instrument_status_changes::id.desc(),
            ))
            .limit(1)
            .single_value()
    };
}

/// Instruments suspended today (a status change takes effect the day it is made, so the
/// column is today's status), latest suspension first, with its day and reason from the
/// status-change record. Driven by the partial index of suspended instruments.
fn suspended(conn: &mut DbConnection, scope: &Scope) -> DbResult<Group> {
    let query = instruments::table
        .select((
            instruments::id,
            instruments::asset_tag,
            instruments::customer,
            latest_change!(instrument_status_changes::effective_on),
            latest_change!(instrument_status_changes::reason),
            group_total(),
        ))
        .filter(literal_eq(
            "instruments.status",
            InstrumentStatus::Suspended.as_str(),
        ))
        .order(instruments::id.desc())
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<SuspendedTuple> = scoped!(query, scope).load(conn)?;
    Ok(group(
        rows.into_iter()
            .map(|(id, tag, customer, on, reason, total)| {
                (id, tag, customer, on, reason, None, total)
            })
            .collect(),
    ))
}

/// Instruments in service with no calibration on record at all, longest registered
/// first. Nothing can index an absence: one probe of `calibrations_validity` per
/// instrument in service, in the one statement.
fn never_calibrated(conn: &mut DbConnection, scope: &Scope) -> DbResult<Group> {
    let on_record = newest
        .filter(
            newest
                .field(calibrations::instrument_id)
                .eq(instruments::id),
        )
        .filter(on_record_status!(newest.field(calibrations::status)));
    let query = instruments::table
        .select((
            instruments::id,
            instruments::asset_tag,
            instruments::customer,
            group_total(),
        ))
        .filter(in_service())
        .filter(not(exists(on_record)))
        .order(instruments::id.asc())
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<(i64, String, Option<String>, i64)> = scoped!(query, scope).load(conn)?;
    Ok(group(
        rows.into_iter()
            .map(|(id, tag, customer, total)| (id, tag, customer, None, None, None, total))
            .collect(),
    ))
}

/// The first DASHBOARD_ROWS of a due list described (tag, customer, validity), and its length.
fn due_rows(
    conn: &mut DbConnection,
    list: Vec<(i64, NaiveDate)>,
    today: NaiveDate,
) -> DbResult<(Vec<DueRow>, usize)> {
    let shown = &list[..list.len().min(DASHBOARD_ROWS)];
    let described = super::validity::describe_due(conn, shown, today)?
        .into_iter()
        .map(
            |(instrument_id, asset_tag, customer, due_on, validity)| DueRow {
                instrument_id,
                asset_tag,
                customer,
                due_on,
                reason: validity.reason.as_str(),
            },
        )
        .collect();
    Ok((described, list.len()))
}

const ROW_COLUMNS: (
    calibrations::id,
    calibrations::instrument_id,
    instruments::asset_tag,
    instruments::customer,
    calibrations::performed_on,
    calibrations::certificate_number,
    calibrations::kind,
) = (
    calibrations::id,
    calibrations::instrument_id,
    instruments::asset_tag,
    instruments::customer,
    calibrations::performed_on,
    calibrations::certificate_number,
    calibrations::kind,
);

/// Out of tolerance now: the latest calibration on record of the instrument found it so
/// (a later calibration on record, e.g. after adjustment, clears it).
fn out_of_tolerance_now(
    conn: &mut DbConnection,
    today: NaiveDate,
) -> DbResult<Vec<CalibrationRow>> {
    let later_on_record = later
        .filter(
            later
                .field(calibrations::instrument_id)
                .eq(calibrations::instrument_id),
        )
        .filter(later.field(calibrations::status).eq_any(ON_RECORD))
        .filter(later.field(calibrations::performed_on).le(today))
        .filter(
            later
                .field(calibrations::performed_on)
                .gt(calibrations::performed_on)
                .or(later
                    .field(calibrations::performed_on)
                    .eq(calibrations::performed_on)
                    .and(later.field(calibrations::id).gt(calibrations::id))),
        );
    let rows: Vec<RowTuple> = calibrations::table
        .inner_join(instruments::table)
        .filter(calibrations::out_of_tolerance.eq(true))
        .filter(calibrations::status.eq_any(ON_RECORD))
        .filter(calibrations::performed_on.le(today))
        .filter(instruments::status.ne(InstrumentStatus::Retired.as_str()))
        .filter(not(exists(later_on_record)))
        .select(ROW_COLUMNS)
        .order((calibrations::performed_on.desc(), calibrations::id.desc()))
        .limit(DASHBOARD_ROWS as i64)
        .load(conn)?;
    Ok(rows.into_iter().map(calibration_row).collect())
}

fn awaiting_approval(conn: &mut DbConnection) -> DbResult<Vec<CalibrationRow>> {
    let rows: Vec<RowTuple> = calibrations::table
        .inner_join(instruments::table)
        .filter(calibrations::status.eq(CalibrationStatus::Submitted))
        .select(ROW_COLUMNS)
        .order(calibrations::id.asc())
        .limit(DASHBOARD_ROWS as i64)
        .load(conn)?;
    Ok(rows.into_iter().map(calibration_row).collect())
}

/// Asset tags of the given instruments, in one query.
pub fn asset_tags(conn: &mut DbConnection, ids: &[i64]) -> DbResult<HashMap<i64, String>> {
    let mut tags = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(i64, String)> = instruments::table
            .select((instruments::id, instruments::asset_tag))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        tags.extend(rows);
    }
    Ok(tags)
}
