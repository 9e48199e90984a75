//! Traceability from the database: the subgraph a chain can reach, fetched with
//! one recursive query plus a fixed number of loads, handed to the pure chain
//! logic of `domain::traceability`; the stored chain state of calibrations; and
//! reverse traceability (impact analysis) as one recursive query.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer};

use super::calibrations::ON_RECORD;
use super::schema::{calibration_standards, calibrations, instruments};
use super::{DbConnection, DbError, DbResult};
use crate::domain::calibration::{final_points, PointResult};
use crate::domain::quantity::parse_unit;
use crate::domain::traceability::{
    broken_link_of_calibration, broken_link_words, point_uncertainties, AccreditedIssuer,
    BrokenLink, CalibrationFacts, InstrumentFacts, StatedUncertainty,
};
use crate::domain::validity::Role;

#[derive(QueryableByName)]
struct Reached {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Instruments a chain starting at `instrument_id` on `at` can reach: each
/// step follows the latest calibration on record performed on or before the
/// date of use to its standards. UNION (not UNION ALL) on (instrument, date)
/// makes a loop of same-day calibrations end instead of recursing forever.
/// The recursive step shared by the reach queries: from each (instrument, date of use), the
/// latest calibration on record on or before that date, to the standards it used.
macro_rules! reach_recursion_sqlite {
    () => {
        "
    UNION
    SELECT cs.standard_id, c.performed_on
    FROM reach
    JOIN calibrations c ON c.id = (
        SELECT n.id FROM calibrations n
        WHERE n.instrument_id = reach.id AND n.status IN {ON_RECORD}
          AND n.performed_on <= reach.used_on
        ORDER BY n.performed_on DESC, n.id DESC LIMIT 1)
    JOIN calibration_standards cs ON cs.calibration_id = c.id
)"
    };
}
macro_rules! reach_step_sqlite {
    () => {
        concat!(reach_recursion_sqlite!(), "\nSELECT DISTINCT id FROM reach")
    };
}

macro_rules! reach_recursion_postgres {
    () => {
        "
    UNION
    SELECT cs.standard_id, c.performed_on
    FROM reach
    CROSS JOIN LATERAL (
        SELECT n.id, n.performed_on FROM calibrations n
        WHERE n.instrument_id = reach.id AND n.status IN {ON_RECORD}
          AND n.performed_on <= reach.used_on
        ORDER BY n.performed_on DESC, n.id DESC LIMIT 1) c
    JOIN calibration_standards cs ON cs.calibration_id = c.id
)"
    };
}
macro_rules! reach_step_postgres {
    () => {
        concat!(
            reach_recursion_postgres!(),
            "\nSELECT DISTINCT id FROM reach"
        )
    };
}

/// A query written with `{ON_RECORD}` for the list of statuses on record,
/// spelt from the enum (never again by hand).
/// A statement's text with the statuses on record filled in, built once per
/// process (the list comes from the enum, not from a literal in the SQL).
macro_rules! on_record_sql {
    ($template:expr) => {{
        static SQL: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| with_on_record($template));
        SQL.as_str()
    }};
}

fn with_on_record(template: &str) -> String {
    let statuses: Vec<String> = ON_RECORD
        .iter()
        .map(|status| format!("'{}'", status.as_str()))
        .collect();
    template.replace("{ON_RECORD}", &format!("({})", statuses.join(", ")))
}

const REACH_SQLITE: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (SELECT ?, ?",
    reach_step_sqlite!()
);
const REACH_POSTGRES: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (SELECT $1::bigint, $2::date",
    reach_step_postgres!()
);

/// Each (instrument, date of use) reached, with the calibration it rests on.
macro_rules! walk_select {
    () => {
        "
SELECT reach.id AS id, (
    SELECT n.id FROM calibrations n
    WHERE n.instrument_id = reach.id AND n.status IN {ON_RECORD}
      AND n.performed_on <= reach.used_on
    ORDER BY n.performed_on DESC, n.id DESC LIMIT 1) AS calibration_id
FROM reach"
    };
}

/// The walk of [`REACH_SQLITE`], answering each (instrument, date of use) reached with the
/// calibration it rests on: the latest on record on or before that date, by the key the
/// chain logic uses (date, then id), none for a national standard or a gap.
const WALK_SQLITE: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (SELECT ?, ?",
    reach_recursion_sqlite!(),
    walk_select!()
);
const WALK_POSTGRES: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (SELECT $1::bigint, $2::date",
    reach_recursion_postgres!(),
    walk_select!()
);

/// The same walk started from many calibrations at once (each from its own instrument on its
/// own date): the union of what each can reach. The ids come as one JSON array (SQLite) or
/// array (PostgreSQL) parameter, so the statement does not grow with their number.
const REACH_FROM_CALIBRATIONS_SQLITE: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (
    SELECT instrument_id, performed_on FROM calibrations
    WHERE id IN (SELECT value FROM json_each(?))",
    reach_step_sqlite!()
);
const REACH_FROM_CALIBRATIONS_POSTGRES: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (
    SELECT instrument_id, performed_on FROM calibrations WHERE id = ANY($1)",
    reach_step_postgres!()
);

/// The same walk started from many (instrument, date) pairs at once: the union of what each
/// reaches. The pairs come as one JSON array (SQLite) or two arrays (PostgreSQL), so the
/// statement does not grow with their number.
const REACH_FROM_PAIRS_SQLITE: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (
    SELECT CAST(json_extract(value, '$[0]') AS INTEGER), json_extract(value, '$[1]')
    FROM json_each(?)",
    reach_step_sqlite!()
);
const REACH_FROM_PAIRS_POSTGRES: &str = concat!(
    "WITH RECURSIVE reach(id, used_on) AS (
    SELECT * FROM unnest($1::bigint[], $2::date[])",
    reach_step_postgres!()
);

fn reachable_from_pairs(conn: &mut DbConnection, pairs: &[(i64, NaiveDate)]) -> DbResult<Vec<i64>> {
    let rows: Vec<Reached> = match conn {
        DbConnection::Sqlite(c) => {
            let json: Vec<(i64, String)> = pairs
                .iter()
                .map(|(id, at)| (*id, at.format("%Y-%m-%d").to_string()))
                .collect();
            diesel::sql_query(on_record_sql!(REACH_FROM_PAIRS_SQLITE))
                .bind::<diesel::sql_types::Text, _>(
                    serde_json::to_string(&json)
                        .map_err(|error| DbError::Internal(error.to_string()))?,
                )
                .load(c)?
        }
        DbConnection::Postgresql(c) => {
            let (ids, dates): (Vec<i64>, Vec<NaiveDate>) = pairs.iter().copied().unzip();
            diesel::sql_query(on_record_sql!(REACH_FROM_PAIRS_POSTGRES))
                .bind::<diesel::sql_types::Array<BigInt>, _>(ids)
                .bind::<diesel::sql_types::Array<Date>, _>(dates)
                .load(c)?
        }
    };
    Ok(rows.into_iter().map(|row| row.id).collect())
}

fn reachable(conn: &mut DbConnection, instrument_id: i64, at: NaiveDate) -> DbResult<Vec<i64>> {
    let rows: Vec<Reached> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(on_record_sql!(REACH_SQLITE))
            .bind::<BigInt, _>(instrument_id)
            .bind::<Date, _>(at)
            .load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(on_record_sql!(REACH_POSTGRES))
            .bind::<BigInt, _>(instrument_id)
            .bind::<Date, _>(at)
            .load(c)?,
    };
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// (id, asset tag, role, institute, country).
type InstrumentRow = (i64, String, String, Option<String>, Option<String>);

/// What validity reads of a calibration (all in the covering index `calibrations_validity`):
/// instrument, id, performed, due, status, out of tolerance, kind, our and the issuer's
/// certificate numbers.
type RecordRow = (
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

/// What a chain needs beyond that of a calibration it rests on: issuer, body, results.
type DetailRow = (Option<String>, String, String);

super::columns!(
    RECORD_COLUMNS: RecordColumns =
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

super::columns!(
    DETAIL_COLUMNS: DetailColumns =
    calibrations::issuer_name,
    calibrations::body,
    calibrations::results,
);

/// The smallest expanded U among a calibration's final points, in that point's
/// unit, with its SI value for comparison along the chain.
fn smallest_uncertainty(points: &[PointResult]) -> Option<StatedUncertainty> {
    final_points(points)
        .filter_map(|point| {
            let unit = parse_unit(&point.expanded_uncertainty.unit).ok()?;
            Some(StatedUncertainty {
                value: point.expanded_uncertainty.value,
                unit: point.expanded_uncertainty.unit.clone(),
                value_si: unit.interval_to_si(point.expanded_uncertainty.value),
                dimension: unit.dimension.si_form(),
            })
        })
        .min_by(|a, b| a.value_si.total_cmp(&b.value_si))
}

/// Everything the chain logic needs about a set of instruments, in five queries.
pub fn facts_of(conn: &mut DbConnection, ids: &[i64]) -> DbResult<HashMap<i64, InstrumentFacts>> {
    facts_with(conn, ids, None)
}

/// [`facts_of`], with the standards, results and issuer only of the calibrations in `walked`
/// when given (the others keep what validity reads: the chain logic never follows them).
fn facts_with(
    conn: &mut DbConnection,
    ids: &[i64],
    walked: Option<&HashSet<i64>>,
) -> DbResult<HashMap<i64, InstrumentFacts>> {
    let mut graph = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<InstrumentRow> = instruments::table
            .select((
                instruments::id,
                instruments::asset_tag,
                instruments::role,
                instruments::institute,
                instruments::country,
            ))
            .filter(instruments::id.eq_any(chunk))
            .load(conn)?;
        let mut changes_by_id = super::validity::status_changes_of(conn, chunk, None)?;
        let mut calibrations_by_id = calibrations_on_record(conn, chunk, walked)?;
        for (id, asset_tag, role, institute, country) in rows {
            let role: Role = role
                .parse()
                .map_err(|_| DbError::corrupt(format!("instrument role '{role}'")))?;
            graph.insert(
                id,
                InstrumentFacts {
                    id,
                    asset_tag,
                    role,
                    institute,
                    country,
                    status_changes: changes_by_id.remove(&id).unwrap_or_default(),
                    calibrations: calibrations_by_id.remove(&id).unwrap_or_default(),
                },
            );
        }
    }
    Ok(graph)
}

/// The calibrations on record of the given instruments, by instrument, with their standards
/// in the order used; of those not in `walked` (when given) only what validity reads, from
/// the covering index without visiting the table.
fn calibrations_on_record(
    conn: &mut DbConnection,
    instrument_ids: &[i64],
    walked: Option<&HashSet<i64>>,
) -> DbResult<HashMap<i64, Vec<CalibrationFacts>>> {
    let on_record = calibrations::table
        .filter(calibrations::instrument_id.eq_any(instrument_ids))
        .filter(calibrations::status.eq_any(ON_RECORD));
    let (records, mut details): (Vec<RecordRow>, HashMap<i64, DetailRow>) = match walked {
        None => {
            let rows: Vec<(RecordRow, DetailRow)> = on_record
                .select((RECORD_COLUMNS, DETAIL_COLUMNS))
                .load(conn)?;
            let details = rows.iter().map(|(r, d)| (r.1, d.clone())).collect();
            (rows.into_iter().map(|(r, _)| r).collect(), details)
        }
        Some(walked) => {
            let records: Vec<RecordRow> = on_record.select(RECORD_COLUMNS).load(conn)?;
            let ids: Vec<i64> = records
                .iter()
                .map(|r| r.1)
                .filter(|id| walked.contains(id))
                .collect();
            (records, details_of(conn, &ids)?)
        }
    };
    let detailed: Vec<i64> = details.keys().copied().collect();
    let mut standards = standards_used_by(conn, &detailed)?;
    let mut by_instrument: HashMap<i64, Vec<CalibrationFacts>> = HashMap::new();
    for row in records {
        let (instrument_id, id) = (row.0, row.1);
        let used = standards.remove(&id).unwrap_or_default();
        by_instrument
            .entry(instrument_id)
            .or_default()
            .push(calibration_facts(row, details.remove(&id), used)?);
    }
    Ok(by_instrument)
}

fn details_of(conn: &mut DbConnection, ids: &[i64]) -> DbResult<HashMap<i64, DetailRow>> {
    let mut details = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(i64, DetailRow)> = calibrations::table
            .select((calibrations::id, DETAIL_COLUMNS))
            .filter(calibrations::id.eq_any(chunk))
            .load(conn)?;
        details.extend(rows);
    }
    Ok(details)
}

/// Each calibration's standards, in the order it lists them.
fn standards_used_by(
    conn: &mut DbConnection,
    calibration_ids: &[i64],
) -> DbResult<HashMap<i64, Vec<i64>>> {
    let mut standards: HashMap<i64, Vec<(i32, i64)>> = HashMap::new();
    for ids in calibration_ids.chunks(10_000) {
        let links: Vec<(i64, i32, i64)> = calibration_standards::table
            .select((
                calibration_standards::calibration_id,
                calibration_standards::position,
                calibration_standards::standard_id,
            ))
            .filter(calibration_standards::calibration_id.eq_any(ids))
            .load(conn)?;
        for (calibration_id, position, standard_id) in links {
            standards
                .entry(calibration_id)
                .or_default()
                .push((position, standard_id));
        }
    }
    Ok(standards
        .into_iter()
        .map(|(id, mut used)| {
            used.sort_unstable();
            (id, used.into_iter().map(|(_, standard)| standard).collect())
        })
        .collect())
}

/// What traceability needs of one calibration on record. Unreadable stored
/// results or body are corrupt data, an error, never read as empty.
fn calibration_facts(
    row: RecordRow,
    detail: Option<DetailRow>,
    standards_used: Vec<i64>,
) -> DbResult<CalibrationFacts> {
    let (_, id, performed_on, due_on, status, out_of_tolerance, kind, number, issuer_number) = row;
    let record = super::validity::RecordColumns {
        id,
        performed_on,
        due_on,
        status: &status,
        out_of_tolerance,
        kind: &kind,
        number,
        issuer_number,
        // The chain is what traceability judges, so not the stored state.
        chain_broken: false,
    }
    .record();
    let Some((issuer_name, body, results)) = detail else {
        return Ok(CalibrationFacts {
            record,
            standards_used,
            accredited_issuer: None,
            smallest_uncertainty: None,
            point_uncertainties: Vec::new(),
        });
    };
    let corrupt = |what: &str| DbError::corrupt(format!("calibration {id}: stored {what}"));
    let points: Vec<PointResult> =
        serde_json::from_str(&results).map_err(|_| corrupt("results"))?;
    let body: serde_json::Value = serde_json::from_str(&body).map_err(|_| corrupt("body"))?;
    let accreditation = &body["issuer"]["accreditation"];
    let accredited_issuer =
        (kind == "external" && accreditation.is_object()).then(|| AccreditedIssuer {
            name: issuer_name.clone().unwrap_or_default(),
            accreditation_body: accreditation["body"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            accreditation_number: accreditation["number"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    Ok(CalibrationFacts {
        record,
        standards_used,
        accredited_issuer,
        smallest_uncertainty: smallest_uncertainty(&points),
        point_uncertainties: point_uncertainties(&points),
    })
}

#[derive(QueryableByName)]
struct Walked {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    calibration_id: Option<i64>,
}

/// The subgraph the chain of `instrument_id` on `at` walks, to draw its tree: the same
/// instruments as [`graph_for`], each with every calibration on record as validity reads it,
/// but with standards, results and issuer only for the calibrations the walk rests on (the
/// latest on record at each date of use). The others are most of the rows, and the tree
/// never looks at them: reading them from the covering index alone keeps the tree's p99
/// within its target (issue 20).
pub fn chain_graph_for(
    conn: &mut DbConnection,
    instrument_id: i64,
    at: NaiveDate,
) -> DbResult<HashMap<i64, InstrumentFacts>> {
    let walked: Vec<Walked> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(on_record_sql!(WALK_SQLITE))
            .bind::<BigInt, _>(instrument_id)
            .bind::<Date, _>(at)
            .load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(on_record_sql!(WALK_POSTGRES))
            .bind::<BigInt, _>(instrument_id)
            .bind::<Date, _>(at)
            .load(c)?,
    };
    let ids: HashSet<i64> = walked.iter().map(|w| w.id).collect();
    let rests_on: HashSet<i64> = walked.iter().filter_map(|w| w.calibration_id).collect();
    facts_with(conn, &ids.into_iter().collect::<Vec<_>>(), Some(&rests_on))
}

/// The subgraph a chain from `instrument_id` on `at` can reach.
pub fn graph_for(
    conn: &mut DbConnection,
    instrument_id: i64,
    at: NaiveDate,
) -> DbResult<HashMap<i64, InstrumentFacts>> {
    let ids = reachable(conn, instrument_id, at)?;
    facts_of(conn, &ids)
}

/// The subgraph the chains of many instruments, each on its own date, can reach: one
/// recursive query and the facts' loads, however many pairs (a validity statement's rows).
pub fn graph_for_many(
    conn: &mut DbConnection,
    pairs: &[(i64, NaiveDate)],
) -> DbResult<HashMap<i64, InstrumentFacts>> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = reachable_from_pairs(conn, pairs)?;
    facts_of(conn, &ids)
}

/// How many calibrations one pass of [`refresh_chain_state`] judges: bounds the graph held in
/// memory when a national standard's change reaches most of the register.
const REFRESH_BATCH: usize = 5_000;

/// Recomputes the stored chain state of calibrations (after something they
/// rest on changed). Returns how many changed.
///
/// Set-based: per batch, one recursive query for everything the batch's chains can reach, the
/// facts of those instruments in a fixed number of loads, the chains judged in memory, and at
/// most two updates. Each chain is judged on the batch's shared graph exactly as on its own:
/// a walk only looks up the standards of the calibrations it follows, and those are what the
/// reach query collects for that calibration.
pub fn refresh_chain_state(
    conn: &mut DbConnection,
    calibration_ids: &[i64],
) -> DbResult<Vec<ChainChange>> {
    let mut changes = Vec::new();
    for batch in calibration_ids.chunks(REFRESH_BATCH) {
        let stored: Vec<(i64, i64, bool)> = calibrations::table
            .select((
                calibrations::id,
                calibrations::instrument_id,
                calibrations::chain_broken,
            ))
            .filter(calibrations::id.eq_any(batch))
            .load(conn)?;
        let reached = reachable_from_calibrations(conn, batch)?;
        let graph = facts_of(conn, &reached)?;
        let batch_changes: Vec<ChainChange> = stored
            .into_iter()
            .filter_map(|(id, instrument_id, was_broken)| {
                let link = broken_link_words(&graph, instrument_id, id);
                (link.is_some() != was_broken).then_some(ChainChange {
                    calibration_id: id,
                    broken_link: link,
                })
            })
            .collect();
        for broken in [true, false] {
            let ids: Vec<i64> = batch_changes
                .iter()
                .filter(|c| c.broken_link.is_some() == broken)
                .map(|c| c.calibration_id)
                .collect();
            if !ids.is_empty() {
                diesel::update(calibrations::table.filter(calibrations::id.eq_any(&ids)))
                    .set(calibrations::chain_broken.eq(broken))
                    .execute(conn)?;
            }
        }
        changes.extend(batch_changes);
    }
    Ok(changes)
}

/// A calibration whose stored chain state changed: now broken (at the link named in words),
/// or mended (`broken_link` None).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainChange {
    pub calibration_id: i64,
    pub broken_link: Option<String>,
}

/// Every instrument the chains of these calibrations can reach, their own instruments included.
fn reachable_from_calibrations(
    conn: &mut DbConnection,
    calibration_ids: &[i64],
) -> DbResult<Vec<i64>> {
    let rows: Vec<Reached> = match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query(on_record_sql!(REACH_FROM_CALIBRATIONS_SQLITE))
                .bind::<diesel::sql_types::Text, _>(
                    serde_json::to_string(calibration_ids)
                        .map_err(|error| DbError::Internal(error.to_string()))?,
                )
                .load(c)?
        }
        DbConnection::Postgresql(c) => {
            diesel::sql_query(on_record_sql!(REACH_FROM_CALIBRATIONS_POSTGRES))
                .bind::<diesel::sql_types::Array<BigInt>, _>(calibration_ids)
                .load(c)?
        }
    };
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// The broken link of one calibration's chain, if any.
pub fn broken_link(
    conn: &mut DbConnection,
    instrument_id: i64,
    calibration_id: i64,
    performed_on: NaiveDate,
) -> DbResult<Option<BrokenLink>> {
    let graph = graph_for(conn, instrument_id, performed_on)?;
    Ok(broken_link_of_calibration(
        &graph,
        instrument_id,
        calibration_id,
    ))
}

#[derive(QueryableByName, Debug, Clone)]
pub struct Affected {
    #[diesel(sql_type = BigInt)]
    pub calibration_id: i64,
    #[diesel(sql_type = BigInt)]
    pub instrument_id: i64,
    #[diesel(sql_type = Date)]
    pub performed_on: NaiveDate,
    #[diesel(sql_type = Integer)]
    pub depth: i32,
}

/// Reverse traceability (DESIGN section 7): calibrations on record that used
/// the standard in [from, to] (depth 1), then every calibration that used an
/// affected instrument while it rested on an affected calibration — on or
/// after that calibration's date and before the instrument's next calibration
/// on record. Each calibration once, at its smallest depth. The depth bound
/// only stops a pathological loop; real chains are a handful of levels.
const IMPACT_SQLITE: &str = "
WITH RECURSIVE affected(calibration_id, instrument_id, performed_on, depth) AS (
    SELECT c.id, c.instrument_id, c.performed_on, 1
    FROM calibration_standards cs JOIN calibrations c ON c.id = cs.calibration_id
    WHERE cs.standard_id = ?1 AND c.status IN {ON_RECORD}
      AND c.performed_on >= ?2 AND c.performed_on <= ?3 AND c.instrument_id <> ?1
    UNION
    SELECT c.id, c.instrument_id, c.performed_on, a.depth + 1
    FROM affected a
    JOIN calibration_standards cs ON cs.standard_id = a.instrument_id
    JOIN calibrations c ON c.id = cs.calibration_id
    WHERE a.depth < 32 AND c.instrument_id <> ?1
      AND c.status IN {ON_RECORD}
      AND c.performed_on >= a.performed_on
      AND NOT EXISTS (
        SELECT 1 FROM calibrations n
        WHERE n.instrument_id = a.instrument_id AND n.status IN {ON_RECORD}
          AND (n.performed_on > a.performed_on OR (n.performed_on = a.performed_on AND n.id > a.calibration_id))
          AND n.performed_on <= c.performed_on)
)
SELECT calibration_id, instrument_id, performed_on, CAST(MIN(depth) AS INTEGER) AS depth
FROM affected GROUP BY calibration_id, instrument_id, performed_on
ORDER BY depth, performed_on, calibration_id";

const IMPACT_POSTGRES: &str = "
WITH RECURSIVE affected(calibration_id, instrument_id, performed_on, depth) AS (
    SELECT c.id, c.instrument_id, c.performed_on, 1
    FROM calibration_standards cs JOIN calibrations c ON c.id = cs.calibration_id
    WHERE cs.standard_id = $1 AND c.status IN {ON_RECORD}
      AND c.performed_on >= $2 AND c.performed_on <= $3 AND c.instrument_id <> $1
    UNION
    SELECT c.id, c.instrument_id, c.performed_on, a.depth + 1
    FROM affected a
    JOIN calibration_standards cs ON cs.standard_id = a.instrument_id
    JOIN calibrations c ON c.id = cs.calibration_id
    WHERE a.depth < 32 AND c.instrument_id <> $1
      AND c.status IN {ON_RECORD}
      AND c.performed_on >= a.performed_on
      AND NOT EXISTS (
        SELECT 1 FROM calibrations n
        WHERE n.instrument_id = a.instrument_id AND n.status IN {ON_RECORD}
          AND (n.performed_on > a.performed_on OR (n.performed_on = a.performed_on AND n.id > a.calibration_id))
          AND n.performed_on <= c.performed_on)
)
SELECT calibration_id, instrument_id, performed_on, MIN(depth)::integer AS depth
FROM affected GROUP BY calibration_id, instrument_id, performed_on
ORDER BY depth, performed_on, calibration_id";

pub fn impact(
    conn: &mut DbConnection,
    standard_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<Affected>> {
    Ok(match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(on_record_sql!(IMPACT_SQLITE))
            .bind::<BigInt, _>(standard_id)
            .bind::<Date, _>(from)
            .bind::<Date, _>(to)
            .load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(on_record_sql!(IMPACT_POSTGRES))
            .bind::<BigInt, _>(standard_id)
            .bind::<Date, _>(from)
            .bind::<Date, _>(to)
            .load(c)?,
    })
}

/// A date later than any calibration (NaiveDate::MAX would not compare as text in SQLite).
pub fn far_future() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date")
}

/// After a change to what `instrument_id`'s calibrations from `from` on rest
/// on, recompute the stored chain state of everything downstream.
pub fn refresh_downstream(
    conn: &mut DbConnection,
    instrument_id: i64,
    from: NaiveDate,
) -> DbResult<Vec<ChainChange>> {
    let affected = impact(conn, instrument_id, from, far_future())?;
    let ids: Vec<i64> = affected
        .iter()
        .map(|a| a.calibration_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    refresh_chain_state(conn, &ids)
}
