//! What validity needs from the database, for one instrument or ten thousand,
//! in a fixed number of queries whatever the number of ids.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;

use super::calibrations::ON_RECORD;
use super::schema::{
    api_tokens, calibrations, instrument_status_changes, instruments, latest_calibrations,
    user_customers, users,
};
use super::{per_backend, DbConnection, DbError, DbResult};
use crate::domain::calibration::CalibrationKind;
use crate::domain::people::{AuthUser, Scope};
use crate::domain::states::CalibrationStatus;
use crate::domain::validity::{
    validity_on, CalibrationOnRecord, ReasonDetail, Role, StatusChange, Validity, ValidityReason,
};

/// SQLite allows 32 766 bound parameters per statement; stay well below it.
const CHUNK: usize = 10_000;

/// Validity on `at` of each instrument id found that `scope` sees; unknown ids
/// and other customers' instruments are absent alike (the WHERE leaves them out).
pub fn validity_of(
    conn: &mut DbConnection,
    ids: &[i64],
    at: NaiveDate,
    scope: &Scope,
) -> DbResult<HashMap<i64, Validity>> {
    let mut answers = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        answers.extend(validity_chunk(conn, chunk, at, scope)?);
    }
    Ok(answers)
}

type LatestRow = (
    bool,
    i64,
    i64,
    NaiveDate,
    Option<NaiveDate>,
    String,
    bool,
    String,
    Option<String>,
    Option<String>,
);

// The columns validity reads of a calibration.
super::columns!(
    LATEST_COLUMNS: LatestColumns =
    calibrations::chain_broken,
    calibrations::instrument_id,
    calibrations::id,
    calibrations::performed_on,
    calibrations::due_on,
    calibrations::status,
    calibrations::out_of_tolerance,
    calibrations::kind,
    calibrations::certificate_number,
    calibrations::issuer_certificate_number,
);

diesel::alias!(calibrations as newest: NewestCalibrations);

/// `status` is one of [`ON_RECORD`], spelt as equalities rather than `IN (…)`
/// so the statement stays cacheable as a prepared statement (diesel never
/// caches a statement with an `IN` list).
macro_rules! on_record_status {
    ($status:expr) => {
        $status
            .eq($crate::db::calibrations::ON_RECORD[0])
            .or($status.eq($crate::db::calibrations::ON_RECORD[1]))
            .or($status.eq($crate::db::calibrations::ON_RECORD[2]))
    };
}
pub(super) use on_record_status;

/// `(SELECT id FROM calibrations newest WHERE newest.instrument_id = <instrument>
/// AND on record AND performed_on <= at ORDER BY performed_on DESC, id DESC LIMIT 1)`:
/// one index range scan per instrument, newest first.
macro_rules! latest_id_of {
    ($instrument:expr, $at:expr) => {
        newest
            .select(newest.field(calibrations::id))
            .filter(newest.field(calibrations::instrument_id).eq($instrument))
            .filter(on_record_status!(newest.field(calibrations::status)))
            .filter(newest.field(calibrations::performed_on).le($at))
            .order((
                newest.field(calibrations::performed_on).desc(),
                newest.field(calibrations::id).desc(),
            ))
            .limit(1)
            .single_value()
    };
}
pub(super) use latest_id_of;

/// `calibrations` joined as the latest calibration on record of `$instrument`
/// on or before `$at` (for a LEFT JOIN from `instruments`).
macro_rules! latest_calibration_of {
    ($instrument:expr, $at:expr) => {
        calibrations::table.on(calibrations::id
            .nullable()
            .eq(latest_id_of!($instrument, $at)))
    };
}

/// `calibrations` joined as every calibration on record of `$instrument` performed
/// on or before `$at` (for a LEFT JOIN from one instrument row); the statement then
/// orders by [`newest_first!`] and keeps one row. Each condition is a column of
/// `calibrations_validity`, which also carries every column validity reads, so
/// SQLite walks that index backwards from `$at` and stops at the first row on
/// record, without visiting the calibrations table.
macro_rules! on_record_of {
    ($instrument:expr, $at:expr) => {
        calibrations::table.on(calibrations::instrument_id
            .eq($instrument)
            .and(on_record_status!(calibrations::status))
            .and(calibrations::performed_on.le($at)))
    };
}

/// Newest first, as `latest_id_of!` orders: of two on one day, the later created.
macro_rules! newest_first {
    () => {
        (
            calibrations::performed_on.nullable().desc(),
            calibrations::id.nullable().desc(),
        )
    };
}

/// A recalled instrument: id, asset tag, customer, due date, validity on the day asked.
pub type Recalled = (i64, String, Option<String>, NaiveDate, Validity);

/// A row of the recall list: id, asset tag, customer, due date.
pub type RecallRow = (i64, String, Option<String>, NaiveDate);

/// Instruments (not national) whose latest calibration on record today is due by
/// `horizon`, with their validity on `as_of` (the dashboard's day): the recall list.
pub fn due_by(
    conn: &mut DbConnection,
    as_of: NaiveDate,
    horizon: NaiveDate,
    scope: &Scope,
) -> DbResult<Vec<Recalled>> {
    let due: Vec<(i64, NaiveDate)> = recalled(conn, horizon, scope)?
        .into_iter()
        .map(|(id, _, _, due_on)| (id, due_on))
        .collect();
    describe_due(conn, &due, as_of)
}

/// The recall list of `GET /api/v1/recalls`, which is always as of today: the instruments
/// in service (not national, suspended or retired) whose latest calibration on record is
/// due by `horizon`, earliest due first — one range of the due-date index of the
/// triggers' `latest_calibrations` (issue 20: no scan of the register).
pub fn recalled(
    conn: &mut DbConnection,
    horizon: NaiveDate,
    scope: &Scope,
) -> DbResult<Vec<RecallRow>> {
    // Tag and customer are kept in the row (migration 000054): no join with the register.
    let query = latest_calibrations::table
        .select((
            latest_calibrations::instrument_id,
            latest_calibrations::asset_tag,
            latest_calibrations::customer,
            latest_calibrations::due_on.assume_not_null(),
        ))
        .filter(latest_calibrations::in_service)
        .filter(latest_calibrations::due_on.le(horizon))
        .order((
            latest_calibrations::due_on.asc(),
            latest_calibrations::instrument_id.asc(),
        ))
        .into_boxed();
    Ok(
        super::instruments::scoped_via!(query, latest_calibrations::instrument_id, scope)
            .load(conn)?,
    )
}

/// Today's instruments in service due within `(from, through)` (inclusive; `from` None:
/// overdue however long ago): the first `limit` (id, due date), earliest first, and how
/// many there are, each an index range of `latest_calibrations_due`.
pub fn due_now(
    conn: &mut DbConnection,
    (from, through): (Option<NaiveDate>, NaiveDate),
    limit: i64,
    scope: &Scope,
) -> DbResult<(Vec<(i64, NaiveDate)>, i64)> {
    let window = || {
        let query = latest_calibrations::table
            .filter(latest_calibrations::in_service)
            .filter(latest_calibrations::due_on.le(through))
            .into_boxed();
        let query = match from {
            Some(from) => query.filter(latest_calibrations::due_on.ge(from)),
            None => query,
        };
        super::instruments::scoped_via!(query, latest_calibrations::instrument_id, scope)
    };
    let rows = window()
        .select((
            latest_calibrations::instrument_id,
            latest_calibrations::due_on.assume_not_null(),
        ))
        .order((
            latest_calibrations::due_on.asc(),
            latest_calibrations::instrument_id.asc(),
        ))
        .limit(limit)
        .load(conn)?;
    let total = window().count().get_result(conn)?;
    Ok((rows, total))
}

/// Asset tag, customer and validity on `as_of` for the given (instrument, due date) rows,
/// in their order.
pub fn describe_due(
    conn: &mut DbConnection,
    due: &[(i64, NaiveDate)],
    as_of: NaiveDate,
) -> DbResult<Vec<Recalled>> {
    let ids: Vec<i64> = due.iter().map(|row| row.0).collect();
    // The due rows were chosen within the caller's scope already.
    let mut validity = validity_of(conn, &ids, as_of, &Scope::Everything)?;
    let mut described: HashMap<i64, (String, Option<String>)> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String, Option<String>)> = instruments::table
            .select((
                instruments::id,
                instruments::asset_tag,
                instruments::customer,
            ))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        described.extend(
            rows.into_iter()
                .map(|(id, tag, customer)| (id, (tag, customer))),
        );
    }
    Ok(due
        .iter()
        .filter_map(|&(id, due_on)| {
            let (tag, customer) = described.remove(&id)?;
            Some((id, tag, customer, due_on, validity.remove(&id)?))
        })
        .collect())
}

fn validity_chunk(
    conn: &mut DbConnection,
    ids: &[i64],
    at: NaiveDate,
    scope: &Scope,
) -> DbResult<HashMap<i64, Validity>> {
    // Each instrument with its latest calibration on record on or before `at`:
    // driven from the instruments, one index probe per instrument.
    let query = instruments::table
        .left_join(latest_calibration_of!(instruments::id, at))
        .select((
            instruments::id,
            instruments::role,
            LATEST_COLUMNS.nullable(),
        ))
        .filter(instruments::id.eq_any(ids))
        .into_boxed();
    let rows: Vec<(i64, String, Option<LatestRow>)> =
        super::instruments::scoped!(query, scope).load(conn)?;
    let found: Vec<i64> = rows.iter().map(|row| row.0).collect();
    let mut changes_by_id = status_changes_of(conn, &found, Some(at))?;
    // Instruments with nothing on or before `at` still need to know whether
    // anything is on record at all (never vs not yet calibrated).
    let without: Vec<i64> = rows
        .iter()
        .filter(|row| row.2.is_none())
        .map(|row| row.0)
        .collect();
    let calibrated_later: HashSet<i64> = if without.is_empty() {
        HashSet::new()
    } else {
        calibrations::table
            .select(calibrations::instrument_id)
            .filter(calibrations::instrument_id.eq_any(&without))
            .filter(calibrations::status.eq_any(ON_RECORD))
            .distinct()
            .load::<i64>(conn)?
            .into_iter()
            .collect()
    };
    let mut answers = HashMap::with_capacity(rows.len());
    for (id, role, latest) in rows {
        let role: Role = role
            .parse()
            .map_err(|_| DbError::corrupt(format!("instrument role '{role}'")))?;
        let record = match latest {
            Some(row) => Some(on_record(row)),
            None if calibrated_later.contains(&id) => Some(PERFORMED_LATER),
            None => None,
        };
        let changes = changes_by_id.remove(&id).unwrap_or_default();
        answers.insert(id, validity_on(role, &changes, record.as_slice(), at));
    }
    Ok(answers)
}

/// A placeholder performed after `at`: it only tells validity that the
/// instrument has been calibrated, just not yet on that date.
pub(super) const PERFORMED_LATER: CalibrationOnRecord = CalibrationOnRecord {
    calibration_id: 0,
    performed_on: NaiveDate::MAX,
    sequence: 0,
    due_on: NaiveDate::MAX,
    certificate_number: None,
    withdrawn: false,
    out_of_tolerance: false,
    chain_broken: false,
};

/// The stored columns of a calibration on record, as each reader gets them.
pub(super) struct RecordColumns<'a> {
    pub id: i64,
    pub performed_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub status: &'a str,
    pub out_of_tolerance: bool,
    pub kind: &'a str,
    pub number: Option<String>,
    pub issuer_number: Option<String>,
    pub chain_broken: bool,
}

impl RecordColumns<'_> {
    /// A calibration on record as validity sees it. Sequence is the id (creation
    /// order); the certificate is ours, or the issuer's for an external one.
    pub(super) fn record(self) -> CalibrationOnRecord {
        CalibrationOnRecord {
            calibration_id: self.id,
            performed_on: self.performed_on,
            sequence: self.id,
            due_on: self.due_on.unwrap_or(self.performed_on),
            certificate_number: if self.kind == CalibrationKind::External.as_str() {
                self.issuer_number
            } else {
                self.number
            },
            withdrawn: self.status == CalibrationStatus::Withdrawn.as_str(),
            out_of_tolerance: self.out_of_tolerance,
            chain_broken: self.chain_broken,
        }
    }
}

fn on_record(row: LatestRow) -> CalibrationOnRecord {
    let (
        chain_broken,
        _,
        id,
        performed_on,
        due_on,
        status,
        out_of_tolerance,
        kind,
        number,
        issuer_number,
    ) = row;
    RecordColumns {
        id,
        performed_on,
        due_on,
        status: &status,
        out_of_tolerance,
        kind: &kind,
        number,
        issuer_number,
        chain_broken,
    }
    .record()
}

/// `(SELECT status FROM instrument_status_changes WHERE instrument_id = <instrument>
/// AND effective_on <= at ORDER BY effective_on DESC, id DESC LIMIT 1)`: the
/// status in force on `at`, null when it never changed (active).
macro_rules! status_in_force_of {
    ($instrument:expr, $at:expr) => {
        instrument_status_changes::table
            .select(instrument_status_changes::status)
            .filter(instrument_status_changes::instrument_id.eq($instrument))
            .filter(instrument_status_changes::effective_on.le($at))
            .order((
                instrument_status_changes::effective_on.desc(),
                instrument_status_changes::id.desc(),
            ))
            .limit(1)
            .single_value()
    };
}

/// Validity of one instrument: the hot path of inspection agencies. One
/// statement answers it: the instrument's role, the status in force on `at`
/// (`status_in_force_of!`) and the latest calibration on record performed on or
/// before `at` (`on_record_of!`, newest first, one row), each an index probe. Only an instrument with
/// no such calibration needs a second statement (never vs not yet calibrated).
/// It runs on the concrete backend connection (see `per_backend!`); with
/// SQLite's query planner stability guarantee on (`db::stable_query_plans`)
/// the cached statement is never re-prepared.
pub fn validity_of_one(
    conn: &mut DbConnection,
    id: i64,
    at: NaiveDate,
) -> DbResult<Option<Validity>> {
    let rows: Vec<(String, Option<String>, Option<LatestRow>)> = per_backend!(conn, c => {
        instruments::table
            .left_join(on_record_of!(instruments::id, at))
            .select((
                instruments::role,
                status_in_force_of!(instruments::id, at),
                LATEST_COLUMNS.nullable(),
            ))
            .filter(instruments::id.eq(id))
            .order(newest_first!())
            .limit(1)
            .load(c)
    })?;
    match rows.into_iter().next() {
        Some((role, status, latest)) => validity_from(conn, id, at, role, status, latest).map(Some),
        None => Ok(None),
    }
}

/// The user holding a bearer token (None: unknown or revoked) and, when it
/// holds one, the validity of instrument `id` on `at` (None: no such
/// instrument): the single status check in one statement, so a request costs
/// one SQLite read transaction rather than one per lookup. The token part is
/// exactly `users::user_for_token`; the instrument part `validity_of_one`.
/// Nothing is cached: a revoked token is refused on its next use, and the
/// answer reflects every write committed before the statement ran, whichever
/// process or instance made it.
pub fn validity_of_one_for_token(
    conn: &mut DbConnection,
    token: &str,
    id: i64,
    at: NaiveDate,
) -> DbResult<Option<(AuthUser, Option<Validity>)>> {
    let token_hash = super::users::hash_token(token);
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        (i64, String, String),
        Option<String>,
        Option<String>,
        Option<LatestRow>,
        bool,
    )> = per_backend!(conn, c => {
        api_tokens::table
            .inner_join(users::table)
            .left_join(instruments::table.on(instruments::id.eq(id)))
            .left_join(on_record_of!(instruments::id, at))
            .select((
                (users::id, users::name, users::roles),
                instruments::role.nullable(),
                status_in_force_of!(instruments::id, at),
                LATEST_COLUMNS.nullable(),
                // Bound to customers: then the caller resolves the scope (DESIGN 9b).
                diesel::dsl::exists(
                    user_customers::table.filter(user_customers::user_id.eq(users::id)),
                ),
            ))
            .filter(api_tokens::token_hash.eq(&token_hash))
            .filter(api_tokens::revoked_at.is_null())
            .order(newest_first!())
            .limit(1)
            .load(c)
    })?;
    let Some((user, role, status, latest, bound)) = rows.into_iter().next() else {
        return Ok(None);
    };
    let mut user = super::users::auth_user(user);
    user.scope = super::users::scope_if_unbound(user.id, &user.roles, bound);
    let validity = match role {
        Some(role) => Some(validity_from(conn, id, at, role, status, latest)?),
        None => None,
    };
    Ok(Some((user, validity)))
}

/// Validity from what the single-instrument statements read.
fn validity_from(
    conn: &mut DbConnection,
    id: i64,
    at: NaiveDate,
    role: String,
    status_in_force: Option<String>,
    latest: Option<LatestRow>,
) -> DbResult<Validity> {
    let record = match latest {
        Some(row) => Some(on_record(row)),
        None => per_backend!(conn, c => calibrations::table
            .select(calibrations::id)
            .filter(calibrations::instrument_id.eq(id))
            .filter(on_record_status!(calibrations::status))
            .first::<i64>(c)
            .optional())?
        .map(|_| PERFORMED_LATER),
    };
    validity_of_row(&role, status_in_force.as_deref(), record, at)
}

/// Validity of one instrument from its role, the status in force on `at` (None: never
/// changed) and its latest calibration on record on or before `at` ([`PERFORMED_LATER`]
/// when it has only later ones).
pub(super) fn validity_of_row(
    role: &str,
    status_in_force: Option<&str>,
    record: Option<CalibrationOnRecord>,
    at: NaiveDate,
) -> DbResult<Validity> {
    let role: Role = role
        .parse()
        .map_err(|_| DbError::corrupt(format!("instrument role '{role}'")))?;
    // The change in force stands for the whole history: validity only asks
    // which status is in force on `at`.
    let changes = match status_in_force {
        Some(status) => vec![StatusChange {
            effective_on: at,
            sequence: 0,
            status: status
                .parse()
                .map_err(|_| DbError::corrupt(format!("instrument status '{status}'")))?,
        }],
        None => Vec::new(),
    };
    Ok(validity_on(role, &changes, record.as_slice(), at))
}

/// Status changes of instruments (made on or before `up_to` when given),
/// grouped by instrument.
pub fn status_changes_of(
    conn: &mut DbConnection,
    ids: &[i64],
    up_to: Option<NaiveDate>,
) -> DbResult<HashMap<i64, Vec<StatusChange>>> {
    let mut query = instrument_status_changes::table
        .select((
            instrument_status_changes::instrument_id,
            instrument_status_changes::id,
            instrument_status_changes::status,
            instrument_status_changes::effective_on,
        ))
        .filter(instrument_status_changes::instrument_id.eq_any(ids))
        .into_boxed();
    if let Some(up_to) = up_to {
        query = query.filter(instrument_status_changes::effective_on.le(up_to));
    }
    let mut changes_by_id: HashMap<i64, Vec<StatusChange>> = HashMap::new();
    for (instrument_id, sequence, status, effective_on) in
        query.load::<(i64, i64, String, NaiveDate)>(conn)?
    {
        let status = status
            .parse()
            .map_err(|_| DbError::corrupt(format!("instrument status '{status}'")))?;
        changes_by_id
            .entry(instrument_id)
            .or_default()
            .push(StatusChange {
                effective_on,
                sequence,
                status,
            });
    }
    Ok(changes_by_id)
}

/// Ids of asset tags `scope` sees (unknown tags and other customers' are absent).
pub fn ids_of_tags(
    conn: &mut DbConnection,
    tags: &[String],
    scope: &Scope,
) -> DbResult<HashMap<String, i64>> {
    let mut found = HashMap::with_capacity(tags.len());
    let wanted: Vec<String> = tags.iter().map(|tag| tag_key(tag)).collect();
    for chunk in wanted.chunks(CHUNK) {
        let query = instruments::table
            .select((instruments::asset_tag, instruments::id))
            .filter(super::lower(instruments::asset_tag).eq_any(chunk))
            .into_boxed();
        let rows: Vec<(String, i64)> = super::instruments::scoped!(query, scope).load(conn)?;
        found.extend(rows.into_iter().map(|(tag, id)| (tag_key(&tag), id)));
    }
    Ok(found)
}

/// How a tag is matched (DESIGN 9c): trimmed and regardless of case, as the unique index
/// on lower(asset_tag) already makes them; keys of [`ids_of_tags`]'s answer.
pub fn tag_key(tag: &str) -> String {
    tag.trim().to_lowercase()
}

/// What an instrument's plate says, for answers an agency matches against the
/// instrument in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plate {
    pub asset_tag: String,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
}

type PlateRow = (i64, String, Option<String>, Option<String>, Option<String>);

/// The plates of these instruments (ids already known visible), by id: one query per chunk.
pub fn plates_of(conn: &mut DbConnection, ids: &[i64]) -> DbResult<HashMap<i64, Plate>> {
    let mut plates = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<PlateRow> = instruments::table
            .select((
                instruments::id,
                instruments::asset_tag,
                instruments::manufacturer,
                instruments::model,
                instruments::serial_number,
            ))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        plates.extend(rows.into_iter().map(
            |(id, asset_tag, manufacturer, model, serial_number)| {
                (
                    id,
                    Plate {
                        asset_tag,
                        manufacturer,
                        model,
                        serial_number,
                    },
                )
            },
        ));
    }
    Ok(plates)
}

/// When and why, for each answer whose reason has a detail ([`ReasonDetail`]), in the
/// order given: two queries whatever the number of rows (the withdrawn certificates
/// and the status changes of the instruments concerned), none when no row needs one.
pub fn reason_details(
    conn: &mut DbConnection,
    asked: &[(i64, NaiveDate, &Validity)],
) -> DbResult<Vec<Option<ReasonDetail>>> {
    let needing = |wanted: fn(ValidityReason) -> bool| -> Vec<i64> {
        let mut ids: Vec<i64> = asked
            .iter()
            .filter(|(_, _, v)| wanted(v.reason))
            .map(|(id, _, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let withdrawn_ids = needing(|r| r == ValidityReason::CertificateWithdrawn);
    let out_of_service_ids =
        needing(|r| matches!(r, ValidityReason::Suspended | ValidityReason::Retired));
    let withdrawals = withdrawals_of(conn, &withdrawn_ids)?;
    let changes = status_change_reasons(conn, &out_of_service_ids)?;
    Ok(asked
        .iter()
        .map(|(id, at, validity)| match validity.reason {
            ValidityReason::CertificateWithdrawn => validity
                .certificate_number
                .as_ref()
                .and_then(|number| withdrawals.get(&(*id, number.clone())).cloned()),
            ValidityReason::Suspended | ValidityReason::Retired => {
                changes.get(id).and_then(|list| change_in_force(list, *at))
            }
            _ => None,
        })
        .collect())
}

/// Fills in the detail of one answer (single status checks, pages).
pub fn explain(
    conn: &mut DbConnection,
    id: i64,
    at: NaiveDate,
    validity: &mut Validity,
) -> DbResult<()> {
    explain_all(conn, vec![(id, at, validity)])
}

/// Fills in the when and why of every answer (instrument, date, verdict) whose reason has
/// them, in the two queries of [`reason_details`] however many there are.
pub fn explain_all(
    conn: &mut DbConnection,
    answers: Vec<(i64, NaiveDate, &mut Validity)>,
) -> DbResult<()> {
    let needing: Vec<(i64, NaiveDate, &mut Validity)> = answers
        .into_iter()
        .filter(|(_, _, validity)| validity.reason.has_detail())
        .collect();
    if needing.is_empty() {
        return Ok(());
    }
    let asked: Vec<(i64, NaiveDate, &Validity)> = needing
        .iter()
        .map(|(id, at, validity)| (*id, *at, &**validity))
        .collect();
    let details = reason_details(conn, &asked)?;
    for ((_, _, validity), detail) in needing.into_iter().zip(details) {
        validity.reason_detail = detail;
    }
    Ok(())
}

/// The withdrawn certificates of these instruments: date (of the withdrawal, UTC) and
/// reason, by (instrument, certificate number).
fn withdrawals_of(
    conn: &mut DbConnection,
    ids: &[i64],
) -> DbResult<HashMap<(i64, String), ReasonDetail>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, Option<String>, Option<String>, String)> = calibrations::table
            .select((
                calibrations::instrument_id,
                calibrations::certificate_number,
                calibrations::status_reason,
                calibrations::updated_at,
            ))
            .filter(calibrations::instrument_id.eq_any(chunk))
            .filter(calibrations::status.eq(CalibrationStatus::Withdrawn))
            .load(conn)?;
        for (id, number, reason, updated_at) in rows {
            let (Some(number), Some(on)) = (number, date_of_timestamp(&updated_at)) else {
                continue;
            };
            found.insert((id, number), ReasonDetail { on, text: reason });
        }
    }
    Ok(found)
}

/// A status change's date, sequence and reason.
type ReasonedChange = (NaiveDate, i64, Option<String>);

/// Every status change of these instruments, by instrument.
fn status_change_reasons(
    conn: &mut DbConnection,
    ids: &[i64],
) -> DbResult<HashMap<i64, Vec<ReasonedChange>>> {
    let mut found: HashMap<i64, Vec<ReasonedChange>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, i64, NaiveDate, Option<String>)> = instrument_status_changes::table
            .select((
                instrument_status_changes::instrument_id,
                instrument_status_changes::id,
                instrument_status_changes::effective_on,
                instrument_status_changes::reason,
            ))
            .filter(instrument_status_changes::instrument_id.eq_any(chunk))
            .load(conn)?;
        for (instrument, sequence, on, reason) in rows {
            found
                .entry(instrument)
                .or_default()
                .push((on, sequence, reason));
        }
    }
    Ok(found)
}

/// The change in force on `at`: the last made on or before it (by date, then sequence),
/// as [`crate::domain::validity::status_in_force`] decides the status itself.
fn change_in_force(changes: &[ReasonedChange], at: NaiveDate) -> Option<ReasonDetail> {
    changes
        .iter()
        .filter(|(on, _, _)| *on <= at)
        .max_by_key(|(on, sequence, _)| (*on, *sequence))
        .map(|(on, _, reason)| ReasonDetail {
            on: *on,
            text: reason.clone(),
        })
}

/// The date of a stored `YYYY-MM-DDTHH:MM:SS…` timestamp.
fn date_of_timestamp(timestamp: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(timestamp.get(..10)?, "%Y-%m-%d").ok()
}

/// [`validity_of`] with the when-and-why of each withdrawal, suspension or retirement
/// filled in (DESIGN 9c: wherever validity is shown), for lists of instruments.
pub fn validity_explained(
    conn: &mut DbConnection,
    ids: &[i64],
    at: NaiveDate,
    scope: &Scope,
) -> DbResult<HashMap<i64, Validity>> {
    let mut answers = validity_of(conn, ids, at, scope)?;
    let all = answers
        .iter_mut()
        .map(|(id, validity)| (*id, at, validity))
        .collect();
    explain_all(conn, all)?;
    Ok(answers)
}
