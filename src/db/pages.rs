//! What the web pages need beyond the API's own queries: the dashboard lists and asset tags of
//! many instruments at once (one query, never one per row).

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

use super::instruments::{scoped, scoped_via};
use super::schema::{calibrations, instrument_status_changes, instruments, latest_calibrations};
use super::{DbConnection, DbResult};
use crate::domain::people::Scope;
use crate::domain::states::CalibrationStatus;
use crate::domain::validity::InstrumentStatus;

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
    let horizon = today + Duration::days(horizon_days);
    let (overdue, overdue_total) = due_rows(conn, (None, today.pred_opt()), today, scope)?;
    let (due_soon, due_soon_total) = due_rows(conn, (Some(today), Some(horizon)), today, scope)?;
    Ok(Dashboard {
        today,
        horizon_days,
        shown_rows: DASHBOARD_ROWS,
        overdue,
        overdue_total,
        due_soon,
        due_soon_total,
        out_of_tolerance: out_of_tolerance_now(conn)?,
        awaiting_approval: awaiting_approval(conn)?,
        withdrawn: withdrawn(conn, scope)?,
        not_traceable: not_traceable(conn, scope)?,
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

type GroupTuple = (
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
);

/// What the withdrawn, broken-chain and suspended queries read, before [`group`].
type WithdrawnTuple = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);
type BrokenChainTuple = (
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
);
type SuspendedTuple = (
    i64,
    String,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    i64,
);

fn group(rows: Vec<GroupTuple>, total: i64) -> Group {
    let rows = rows
        .into_iter()
        .map(
            |(instrument_id, asset_tag, customer, on, reason, certificate_number)| GroupRow {
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

/// The conditions of the groups read from `latest_calibrations`, spelt as its partial
/// indexes state them (migration 000050): SQLite uses a partial index only when the query
/// states the index's own condition, with literals rather than bound values.
static WITHDRAWN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "latest_calibrations.in_service AND latest_calibrations.status = '{}'",
        CalibrationStatus::Withdrawn.as_str()
    )
});
static BROKEN_CHAIN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "latest_calibrations.in_service AND latest_calibrations.chain_broken \
         AND latest_calibrations.status <> '{}'",
        CalibrationStatus::Withdrawn.as_str()
    )
});
const NEVER_CALIBRATED: &str =
    "latest_calibrations.in_service AND latest_calibrations.calibration_id IS NULL";
const OUT_OF_TOLERANCE: &str = "latest_calibrations.out_of_tolerance";

fn condition(text: &str) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(text)
}

/// How many instruments a group holds: the entries of its partial index (within the scope),
/// counted apart from the rows shown so the count never joins the rows it does not show.
fn group_count(conn: &mut DbConnection, group: &str, scope: &Scope) -> DbResult<i64> {
    let query = latest_calibrations::table
        .filter(condition(group))
        .count()
        .into_boxed();
    Ok(scoped_via!(query, latest_calibrations::instrument_id, scope).get_result(conn)?)
}

/// `latest_calibrations` with its instrument and its calibration (none for an instrument
/// never calibrated).
macro_rules! latest_with_records {
    () => {
        latest_calibrations::table
            .inner_join(instruments::table)
            .left_join(
                calibrations::table.on(calibrations::id
                    .nullable()
                    .eq(latest_calibrations::calibration_id)),
            )
    };
}

/// Instruments whose latest certificate on record today is withdrawn, latest withdrawal
/// first, with the withdrawal's day (a withdrawn record is never changed again, so its
/// `updated_at` is the withdrawal's) and reason.
fn withdrawn(conn: &mut DbConnection, scope: &Scope) -> DbResult<Group> {
    let query = latest_with_records!()
        .select((
            latest_calibrations::instrument_id,
            instruments::asset_tag,
            instruments::customer,
            calibrations::updated_at.nullable(),
            calibrations::status_reason.nullable(),
            calibrations::certificate_number.nullable(),
        ))
        .filter(condition(&WITHDRAWN))
        .order((calibrations::updated_at.desc(), calibrations::id.desc()))
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<WithdrawnTuple> = scoped!(query, scope).load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(id, tag, customer, at, reason, number)| {
            (
                id,
                tag,
                customer,
                at.as_deref().and_then(day_of),
                reason,
                number,
            )
        })
        .collect();
    Ok(group(rows, group_count(conn, &WITHDRAWN, scope)?))
}

/// Instruments not traceable today: their latest calibration on record (not withdrawn:
/// that group is above) has its chain broken, as the stored chain state says (DESIGN 7:
/// recomputed downstream on every approval, withdrawal and status change), the state
/// validity's `not_traceable` reads.
fn not_traceable(conn: &mut DbConnection, scope: &Scope) -> DbResult<Group> {
    let query = latest_with_records!()
        .select((
            latest_calibrations::instrument_id,
            instruments::asset_tag,
            instruments::customer,
            latest_calibrations::performed_on,
            calibrations::certificate_number.nullable(),
            calibrations::issuer_certificate_number.nullable(),
        ))
        .filter(condition(&BROKEN_CHAIN))
        .order((
            latest_calibrations::performed_on.desc(),
            latest_calibrations::calibration_id.desc(),
        ))
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<BrokenChainTuple> = scoped!(query, scope).load(conn)?;
    // Ours for an internal calibration, the issuer's for an external one.
    let rows = rows
        .into_iter()
        .map(|(id, tag, customer, on, ours, issuers)| {
            (id, tag, customer, on, None, ours.or(issuers))
        })
        .collect();
    Ok(group(rows, group_count(conn, &BROKEN_CHAIN, scope)?))
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
        rows.iter()
            .map(|(id, tag, customer, on, reason, _)| {
                (
                    *id,
                    tag.clone(),
                    customer.clone(),
                    *on,
                    reason.clone(),
                    None,
                )
            })
            .collect(),
        rows.first().map_or(0, |row| row.5),
    ))
}

/// Instruments in service with no calibration on record at all, longest registered
/// first: the entries of a partial index, since the triggers keep a row for the absence.
fn never_calibrated(conn: &mut DbConnection, scope: &Scope) -> DbResult<Group> {
    let query = latest_calibrations::table
        .inner_join(instruments::table)
        .select((
            instruments::id,
            instruments::asset_tag,
            instruments::customer,
        ))
        .filter(condition(NEVER_CALIBRATED))
        .order(latest_calibrations::instrument_id.asc())
        .limit(GROUP_ROWS)
        .into_boxed();
    let rows: Vec<(i64, String, Option<String>)> = scoped!(query, scope).load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(id, tag, customer)| (id, tag, customer, None, None, None))
        .collect();
    Ok(group(rows, group_count(conn, NEVER_CALIBRATED, scope)?))
}

/// The first DASHBOARD_ROWS of the instruments due within `(from, through)` (inclusive,
/// open where None), described (tag, customer, validity), and how many there are: the
/// recall list's rows from `latest_calibrations`.
fn due_rows(
    conn: &mut DbConnection,
    window: (Option<NaiveDate>, Option<NaiveDate>),
    today: NaiveDate,
    scope: &Scope,
) -> DbResult<(Vec<DueRow>, usize)> {
    let Some(through) = window.1 else {
        return Ok((Vec::new(), 0));
    };
    let (shown, total) =
        super::validity::due_now(conn, (window.0, through), DASHBOARD_ROWS as i64, scope)?;
    let described = super::validity::describe_due(conn, &shown, today)?
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
    Ok((described, total as usize))
}

super::columns!(
    ROW_COLUMNS: RowColumns =
    calibrations::id,
    calibrations::instrument_id,
    instruments::asset_tag,
    instruments::customer,
    calibrations::performed_on,
    calibrations::certificate_number,
    calibrations::kind,
);

/// Out of tolerance now: the latest calibration on record of the instrument found it so
/// (a later calibration on record, e.g. after adjustment, clears it), newest first.
fn out_of_tolerance_now(conn: &mut DbConnection) -> DbResult<Vec<CalibrationRow>> {
    let rows: Vec<RowTuple> = latest_calibrations::table
        .inner_join(
            calibrations::table.on(calibrations::id
                .nullable()
                .eq(latest_calibrations::calibration_id)),
        )
        .inner_join(instruments::table.on(instruments::id.eq(latest_calibrations::instrument_id)))
        .filter(condition(OUT_OF_TOLERANCE))
        .filter(instruments::status.ne(InstrumentStatus::Retired.as_str()))
        .select(ROW_COLUMNS)
        .order((
            latest_calibrations::performed_on.desc(),
            latest_calibrations::calibration_id.desc(),
        ))
        .limit(DASHBOARD_ROWS as i64)
        .load(conn)?;
    Ok(rows.into_iter().map(calibration_row).collect())
}

fn awaiting_approval(conn: &mut DbConnection) -> DbResult<Vec<CalibrationRow>> {
    let rows: Vec<RowTuple> = calibrations::table
        .inner_join(instruments::table)
        .filter(literal_eq(
            "calibrations.status",
            CalibrationStatus::Submitted.as_str(),
        ))
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
