//! What the web pages need beyond the API's own queries: the dashboard lists and asset tags of
//! many instruments at once (one query, never one per row).

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde::Serialize;

use super::calibrations::ON_RECORD;
use super::schema::{calibrations, instruments};
use super::{DbConnection, DbResult};
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
) -> DbResult<Dashboard> {
    // Counted over the whole register, described (validity, tag, customer) only as shown.
    let due = super::validity::due_dates(
        conn,
        today,
        today + Duration::days(horizon_days),
        &crate::domain::people::Scope::Everything,
    )?;
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
    })
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
