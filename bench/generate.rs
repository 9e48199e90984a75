//! Generates the benchmark data set of DESIGN.md section 10 into the configured
//! database (ROCKET_DATABASE_URL): 100 000 instruments, 500 000 calibrations,
//! traceability chains up to 6 levels deep.
//!
//!     cargo run --release --example generate -- [instruments] [calibrations]
//!
//! Level 0 are national standards; levels 1–5 reference standards, each
//! calibrated against one or two standards of the level above; the rest are
//! working instruments calibrated against level-5 standards. Every instrument is
//! calibrated once a year up to today, standards level by level ten days apart
//! from 10 January, working instruments spread over the rest of the year (so due
//! dates, and recalls, fall all through the year), so chains are valid; about 2 %
//! of results are out of tolerance and the latest calibration is skipped for about
//! 5 % of instruments (overdue).
//!
//! Two ways of writing the same rows (the same generator, the same draws, in the same order):
//! - SQLite: row inserts in one transaction, every trigger running, then every chain judged by
//!   `refresh_chain_state` as approvals would have.
//! - PostgreSQL (issue 20, the national register: `-- 1000000 5000000`): COPY in batches with
//!   triggers and foreign-key checks off (`session_replication_role = replica`, which needs
//!   the superuser of the throwaway cluster), ids assigned here and the sequences set after;
//!   chains judged by the same domain function on the standards' facts loaded once and the
//!   working instruments' facts 10 000 instruments at a time (a sample is judged again by
//!   `refresh_chain_state` and must not change); then `rebuild_latest_calibrations()` and
//!   `rebuild_customer_instrument_counts()` and `rebuild_certificate_counts()` do what the
//!   triggers would have, and `VACUUM ANALYZE`. Each phase prints its time.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use caltrace::db::audit::Actor;
use caltrace::db::schema::{
    calibration_standards, calibrations, certificates, customers, instruments, users,
};
use caltrace::db::{write_transaction, Database, DbConnection, DbError};
use caltrace::domain::traceability::{InstrumentFacts, TraceabilityGraph};
use chrono::{Datelike, NaiveDate};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use serde_json::json;

/// A small deterministic generator (xorshift), so every run builds the same data.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One generated instrument (manufacturer "Generated", quantity pressure, status active).
struct NewInstrument {
    asset_tag: String,
    description: String,
    model: String,
    serial_number: String,
    role: &'static str,
    customer: String,
    customer_id: i64,
    interval_days: Option<i32>,
    institute: Option<&'static str>,
    country: Option<&'static str>,
}

/// One generated calibration with its standards and, when internal, its certificate.
struct NewCalibration<'a> {
    instrument_id: i64,
    external: bool,
    performed_on: NaiveDate,
    due_on: NaiveDate,
    out_of_tolerance: bool,
    number: String,
    body: String,
    results: String,
    standards: &'a [i64],
    customer: Option<&'a String>,
}

/// Where the generated rows go.
trait Sink {
    fn instrument(&mut self, conn: &mut DbConnection, row: NewInstrument) -> Result<i64, DbError>;
    fn calibration(
        &mut self,
        conn: &mut DbConnection,
        row: NewCalibration<'_>,
    ) -> Result<(), DbError>;
    /// Everything still buffered, written.
    fn flush(&mut self, conn: &mut DbConnection) -> Result<(), DbError>;
}

/// Row inserts through diesel, as the generator has always written them (SQLite).
struct Inserts<'a> {
    now: &'a str,
    technician: i64,
    approver: i64,
}

impl Sink for Inserts<'_> {
    fn instrument(&mut self, conn: &mut DbConnection, row: NewInstrument) -> Result<i64, DbError> {
        Ok(diesel::insert_into(instruments::table)
            .values((
                instruments::asset_tag.eq(row.asset_tag),
                instruments::description.eq(row.description),
                instruments::manufacturer.eq("Generated"),
                instruments::model.eq(row.model),
                instruments::serial_number.eq(row.serial_number),
                instruments::role.eq(row.role),
                instruments::quantity_kind.eq("pressure"),
                instruments::customer.eq(row.customer),
                instruments::customer_id.eq(row.customer_id),
                instruments::interval_days.eq(row.interval_days),
                instruments::institute.eq(row.institute),
                instruments::country.eq(row.country),
                instruments::status.eq("active"),
                instruments::created_at.eq(self.now),
                instruments::updated_at.eq(self.now),
            ))
            .returning(instruments::id)
            .get_result(conn)?)
    }

    fn calibration(
        &mut self,
        conn: &mut DbConnection,
        row: NewCalibration<'_>,
    ) -> Result<(), DbError> {
        let external = row.external;
        let id: i64 = diesel::insert_into(calibrations::table)
            .values((
                calibrations::instrument_id.eq(row.instrument_id),
                calibrations::kind.eq(if external { "external" } else { "internal" }),
                calibrations::status.eq(if external { "accepted" } else { "issued" }),
                calibrations::performed_on.eq(row.performed_on),
                calibrations::received_on.eq(Some(row.performed_on)),
                calibrations::issued_on.eq(Some(row.performed_on)),
                calibrations::due_on.eq(Some(row.due_on)),
                calibrations::decision_rule.eq("simple"),
                calibrations::out_of_tolerance.eq(row.out_of_tolerance),
                calibrations::issuer_name.eq(if external { Some("NIM") } else { None }),
                calibrations::issuer_certificate_number.eq(if external {
                    Some(row.number.clone())
                } else {
                    None
                }),
                calibrations::accredited.eq(false),
                calibrations::certificate_number.eq(if external {
                    None
                } else {
                    Some(row.number.clone())
                }),
                calibrations::body.eq(&row.body),
                calibrations::results.eq(&row.results),
                calibrations::created_by.eq(self.technician),
                calibrations::approved_by.eq(Some(self.approver)),
                calibrations::created_at.eq(self.now),
                calibrations::updated_at.eq(self.now),
            ))
            .returning(calibrations::id)
            .get_result(conn)?;
        for (position, standard) in row.standards.iter().enumerate() {
            diesel::insert_into(calibration_standards::table)
                .values((
                    calibration_standards::calibration_id.eq(id),
                    calibration_standards::position.eq(position as i32),
                    calibration_standards::standard_id.eq(*standard),
                ))
                .execute(conn)?;
        }
        if !external {
            // The issued documents are placeholders: the lists read the
            // register, not the bytes.
            diesel::insert_into(certificates::table)
                .values((
                    certificates::number.eq(&row.number),
                    certificates::calibration_id.eq(id),
                    certificates::instrument_id.eq(row.instrument_id),
                    certificates::issued_on.eq(row.performed_on),
                    certificates::pdf.eq(b"%PDF-generated".to_vec()),
                    certificates::pdf_sha256.eq("generated"),
                    certificates::dcc.eq(b"<generated/>".to_vec()),
                    certificates::dcc_sha256.eq("generated"),
                    certificates::audit_head.eq("generated"),
                    certificates::created_at.eq(self.now),
                    certificates::customer_name.eq(row.customer),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, _conn: &mut DbConnection) -> Result<(), DbError> {
        Ok(())
    }
}

/// COPY … FROM STDIN in PostgreSQL's text format, a batch at a time; ids are assigned here
/// (from the tables' current maximum), so nothing has to be read back.
struct Copies<'a> {
    now: &'a str,
    technician: i64,
    approver: i64,
    next_instrument: i64,
    next_calibration: i64,
    instruments: Vec<u8>,
    calibrations: Vec<u8>,
    standards: Vec<u8>,
    certificates: Vec<u8>,
    buffered: usize,
    /// The placeholder documents, as bytea text.
    pdf: String,
    dcc: String,
}

/// Rows per COPY batch: bounds the memory of the buffers (about 1 KB a calibration).
const COPY_BATCH: usize = 100_000;

/// A text-format field: backslash, tab, newline and carriage return escaped.
fn field(out: &mut Vec<u8>, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(byte),
        }
    }
}

/// One text-format row: `None` is NULL (`\N`).
fn row(out: &mut Vec<u8>, fields: &[Option<&str>]) {
    for (i, value) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value {
            Some(value) => field(out, value),
            None => out.extend_from_slice(b"\\N"),
        }
    }
    out.push(b'\n');
}

/// bytea in the text format: `\x` and hex, the backslash itself escaped.
fn bytea(bytes: &[u8]) -> String {
    let mut out = String::from("\\x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn flag(value: bool) -> Option<&'static str> {
    Some(if value { "t" } else { "f" })
}

fn pg(conn: &mut DbConnection) -> &mut PgConnection {
    match conn {
        DbConnection::Postgresql(c) => c,
        DbConnection::Sqlite(_) => unreachable!("COPY is PostgreSQL's"),
    }
}

/// Sends one buffer as the data of a COPY into `table`'s `columns`.
macro_rules! copy_buffer {
    ($conn:expr, $table:path, $columns:expr, $buffer:expr) => {{
        let data: &[u8] = &$buffer;
        if !data.is_empty() {
            diesel::copy_from($table)
                .from_raw_data($columns, |out: &mut dyn Write| {
                    out.write_all(data)
                        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
                })
                .execute(pg($conn))?;
        }
    }};
}

impl Sink for Copies<'_> {
    fn instrument(&mut self, conn: &mut DbConnection, r: NewInstrument) -> Result<i64, DbError> {
        let id = self.next_instrument;
        self.next_instrument += 1;
        let (id_text, customer_id) = (id.to_string(), r.customer_id.to_string());
        let interval = r.interval_days.map(|d| d.to_string());
        row(
            &mut self.instruments,
            &[
                Some(&id_text),
                Some(&r.asset_tag),
                Some(&r.description),
                Some("Generated"),
                Some(&r.model),
                Some(&r.serial_number),
                Some(r.role),
                Some("pressure"),
                Some(&r.customer),
                Some(&customer_id),
                interval.as_deref(),
                r.institute,
                r.country,
                Some("active"),
                Some(self.now),
                Some(self.now),
            ],
        );
        if self.instruments.len() > COPY_BATCH * 200 {
            self.flush(conn)?;
        }
        Ok(id)
    }

    fn calibration(
        &mut self,
        conn: &mut DbConnection,
        r: NewCalibration<'_>,
    ) -> Result<(), DbError> {
        let id = self.next_calibration;
        self.next_calibration += 1;
        let (id_text, instrument) = (id.to_string(), r.instrument_id.to_string());
        let (performed, due) = (r.performed_on.to_string(), r.due_on.to_string());
        let (technician, approver) = (self.technician.to_string(), self.approver.to_string());
        let external = r.external;
        row(
            &mut self.calibrations,
            &[
                Some(&id_text),
                Some(&instrument),
                Some(if external { "external" } else { "internal" }),
                Some(if external { "accepted" } else { "issued" }),
                Some(&performed),
                Some(&performed),
                Some(&performed),
                Some(&due),
                Some("simple"),
                flag(r.out_of_tolerance),
                if external { Some("NIM") } else { None },
                if external { Some(&r.number) } else { None },
                flag(false),
                if external { None } else { Some(&r.number) },
                Some(&r.body),
                Some(&r.results),
                Some(&technician),
                Some(&approver),
                Some(self.now),
                Some(self.now),
            ],
        );
        for (position, standard) in r.standards.iter().enumerate() {
            row(
                &mut self.standards,
                &[
                    Some(&id_text),
                    Some(&position.to_string()),
                    Some(&standard.to_string()),
                ],
            );
        }
        if !external {
            row(
                &mut self.certificates,
                &[
                    Some(&r.number),
                    Some(&id_text),
                    Some(&instrument),
                    Some(&performed),
                    Some(&self.pdf),
                    Some("generated"),
                    Some(&self.dcc),
                    Some("generated"),
                    Some("generated"),
                    Some(self.now),
                    r.customer.map(String::as_str),
                ],
            );
        }
        self.buffered += 1;
        if self.buffered >= COPY_BATCH {
            self.flush(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, conn: &mut DbConnection) -> Result<(), DbError> {
        copy_buffer!(
            conn,
            instruments::table,
            (
                instruments::id,
                instruments::asset_tag,
                instruments::description,
                instruments::manufacturer,
                instruments::model,
                instruments::serial_number,
                instruments::role,
                instruments::quantity_kind,
                instruments::customer,
                instruments::customer_id,
                instruments::interval_days,
                instruments::institute,
                instruments::country,
                instruments::status,
                instruments::created_at,
                instruments::updated_at,
            ),
            self.instruments
        );
        copy_buffer!(
            conn,
            calibrations::table,
            (
                calibrations::id,
                calibrations::instrument_id,
                calibrations::kind,
                calibrations::status,
                calibrations::performed_on,
                calibrations::received_on,
                calibrations::issued_on,
                calibrations::due_on,
                calibrations::decision_rule,
                calibrations::out_of_tolerance,
                calibrations::issuer_name,
                calibrations::issuer_certificate_number,
                calibrations::accredited,
                calibrations::certificate_number,
                calibrations::body,
                calibrations::results,
                calibrations::created_by,
                calibrations::approved_by,
                calibrations::created_at,
                calibrations::updated_at,
            ),
            self.calibrations
        );
        copy_buffer!(
            conn,
            calibration_standards::table,
            (
                calibration_standards::calibration_id,
                calibration_standards::position,
                calibration_standards::standard_id,
            ),
            self.standards
        );
        copy_buffer!(
            conn,
            certificates::table,
            (
                certificates::number,
                certificates::calibration_id,
                certificates::instrument_id,
                certificates::issued_on,
                certificates::pdf,
                certificates::pdf_sha256,
                certificates::dcc,
                certificates::dcc_sha256,
                certificates::audit_head,
                certificates::created_at,
                certificates::customer_name,
            ),
            self.certificates
        );
        self.instruments.clear();
        self.calibrations.clear();
        self.standards.clear();
        self.certificates.clear();
        self.buffered = 0;
        Ok(())
    }
}

/// The shape of the data set: how many instruments and how many years of calibrations.
struct Shape {
    instrument_count: usize,
    years: i32,
    today: NaiveDate,
}

/// Days after their level's day on which working instruments are calibrated: spread over
/// the 290 days after the level-5 standards' calibration (which stays valid a year), so
/// due dates fall all through the year and the recall list at any date holds about a
/// month's share of the register, not all of it. Standards keep their level's day.
fn working_spread(level: usize, position: usize) -> u64 {
    if level == 6 {
        (position % 290) as u64
    } else {
        0
    }
}

/// Level sizes: 10 national, then growing reference levels, the rest working.
const LEVEL_SIZES: [usize; 6] = [10, 60, 300, 1_000, 2_500, 5_000];

/// Writes the customers, instruments and calibrations (with their standards and
/// certificates) through `sink`: the one definition of the data set. Returns the
/// instrument ids by level, and how many calibrations were written.
fn generate(
    conn: &mut DbConnection,
    sink: &mut dyn Sink,
    shape: &Shape,
    now: &str,
) -> Result<(Vec<Vec<i64>>, usize), DbError> {
    let started = Instant::now();
    let mut random = Random(0x9e3779b97f4a7c15);
    let today = shape.today;
    // `years` calendar years up to today, none after it.
    let first_year = today.year() - shape.years + 1;
    // 500 customers as records (DESIGN 9b), each owning every 500th instrument, so
    // the scoped reads (bench/scoped_bench.rs) have a customer of ~200 instruments.
    let mut customer_ids = Vec::with_capacity(500);
    for k in 0..500 {
        let id: i64 = diesel::insert_into(customers::table)
            .values((
                customers::name.eq(format!("Customer {k:03}")),
                customers::code.eq(format!("CUST-{k:03}")),
                customers::created_at.eq(now),
                customers::updated_at.eq(now),
            ))
            .returning(customers::id)
            .get_result(conn)?;
        customer_ids.push(id);
    }
    let working = shape
        .instrument_count
        .saturating_sub(LEVEL_SIZES.iter().sum());
    let mut levels: Vec<Vec<i64>> = Vec::new();
    let mut customer_of = HashMap::new();
    let mut tag_number = 0usize;
    for (level, size) in LEVEL_SIZES
        .iter()
        .copied()
        .chain(std::iter::once(working))
        .enumerate()
    {
        let role = match level {
            0 => "national",
            6 => "working",
            _ => "reference",
        };
        let mut ids = Vec::with_capacity(size);
        for _ in 0..size {
            tag_number += 1;
            let customer = format!("Customer {:03}", tag_number % 500);
            let id = sink.instrument(
                conn,
                NewInstrument {
                    asset_tag: format!("GEN-{tag_number:06}"),
                    description: format!("generated level-{level} pressure instrument"),
                    model: format!("L{level}"),
                    serial_number: format!("S{tag_number:06}"),
                    role,
                    customer: customer.clone(),
                    customer_id: customer_ids[tag_number % 500],
                    interval_days: if level == 0 { None } else { Some(365) },
                    institute: if level == 0 { Some("NIM") } else { None },
                    country: if level == 0 { Some("CN") } else { None },
                },
            )?;
            ids.push(id);
            customer_of.insert(id, customer);
        }
        levels.push(ids);
    }
    sink.flush(conn)?;
    println!(
        "  instruments: {tag_number} in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut calibration_count = 0usize;
    let mut certificate_number = 0usize;
    for year in first_year..=today.year() {
        for (level, ids) in levels.iter().enumerate().skip(1) {
            let level_day = NaiveDate::from_ymd_opt(year, 1, 10).unwrap()
                + chrono::Days::new(level as u64 * 10);
            let standards_pool = &levels[if level == 6 { 5 } else { level - 1 }];
            for (position, &instrument_id) in ids.iter().enumerate() {
                let performed_on = level_day + chrono::Days::new(working_spread(level, position));
                if performed_on > today {
                    continue;
                }
                // The latest calibration due (the one within a year of today) is skipped for
                // about 5 %: those instruments are overdue, and chains through such a standard
                // break, as a lab's register would show.
                if performed_on + chrono::Days::new(365) > today && random.below(20) == 0 {
                    continue;
                }
                let due_on = performed_on + chrono::Days::new(365);
                let out_of_tolerance = random.below(50) == 0;
                let error = if out_of_tolerance { 0.0021 } else { 0.0003 };
                let results = json!([{"stage": "as_found", "reference": {"value": 0.5, "unit": "MPa"},
                "indicated": {"value": 0.5 + error, "unit": "MPa"}, "tolerance": {"value": 0.002, "unit": "MPa"},
                "error": {"value": error, "unit": "MPa"},
                "expanded_uncertainty": {"value": 0.0001 * (level as f64 + 1.0), "unit": "MPa"},
                "coverage_factor": 2.0, "coverage_probability": 0.9545,
                "decision": if out_of_tolerance { "fail" } else { "pass" }, "tur": 5.0, "tur_flagged": false}]);
                let external = level == 1;
                certificate_number += 1;
                let number = format!("GEN-{year}-{certificate_number:07}");
                let standards: Vec<i64> = (0..1 + random.below(2))
                    .map(|_| standards_pool[random.below(standards_pool.len() as u64) as usize])
                    .fold(Vec::new(), |mut acc, id| {
                        if !acc.contains(&id) {
                            acc.push(id);
                        }
                        acc
                    });
                let body = json!({"instrument_id": instrument_id, "kind": if external { "external" } else { "internal" },
                "performed_on": performed_on, "standards_used": standards, "decision_rule": "simple", "points": []});
                sink.calibration(
                    conn,
                    NewCalibration {
                        instrument_id,
                        external,
                        performed_on,
                        due_on,
                        out_of_tolerance,
                        number,
                        body: body.to_string(),
                        results: results.to_string(),
                        standards: &standards,
                        customer: customer_of.get(&instrument_id),
                    },
                )?;
                calibration_count += 1;
            }
        }
    }
    sink.flush(conn)?;
    println!(
        "  calibrations: {calibration_count} (with their standards and certificates) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok((levels, calibration_count))
}

/// The standards' facts, loaded once, under a batch of working instruments' facts.
struct Layered<'a> {
    standards: &'a HashMap<i64, InstrumentFacts>,
    batch: &'a HashMap<i64, InstrumentFacts>,
}

impl TraceabilityGraph for Layered<'_> {
    fn instrument(&self, id: i64) -> Option<&InstrumentFacts> {
        self.batch.get(&id).or_else(|| self.standards.get(&id))
    }
}

/// Working instruments whose facts are loaded at once while judging chains.
const JUDGE_BATCH: usize = 10_000;

/// Every calibration's chain judged by `broken_link_of_calibration`, the function
/// `refresh_chain_state` judges with, on a graph holding everything its chain can reach: the
/// standards of levels 0–5 (loaded once), then the working instruments 10 000 at a time. The
/// broken ones are marked; every stored chain state is whole (the column default) before.
/// Returns how many are broken.
///
/// A working instrument's calibration is judged standard by standard: no chain passes through
/// a working instrument (only levels 0–5 are ever standards), so what a standard used on a date
/// contributes is the same whichever working instrument used it (the walk's only
/// path-dependence is a cycle back to an instrument on the path), and the chain is broken
/// exactly when one of its standards' links is (`absorb`: the first broken link is the
/// verdict, none when behind an accredited issuer or when it used no standard, which are judged
/// whole). Each (standard, date) is judged once, on this calibration with that standard
/// alone, and remembered: 25 000 walks instead of 5 million at the national size. The run
/// checks the result against `refresh_chain_state` on a spread sample (`check_chain_sample`).
fn judge_chains_in_batches(conn: &mut DbConnection, levels: &[Vec<i64>]) -> Result<usize, DbError> {
    use caltrace::db::traceability::facts_of;
    use caltrace::domain::traceability::broken_link_of_calibration;
    use caltrace::domain::validity::Role;
    let standard_ids: Vec<i64> = levels[..levels.len().min(6)].concat();
    let standards = facts_of(conn, &standard_ids)?;
    let mut broken: Vec<i64> = Vec::new();
    let graph = Layered {
        standards: &standards,
        batch: &HashMap::new(),
    };
    for (instrument_id, instrument) in &standards {
        for calibration in &instrument.calibrations {
            let id = calibration.record.calibration_id;
            if broken_link_of_calibration(&graph, *instrument_id, id).is_some() {
                broken.push(id);
            }
        }
    }
    let mut link_broken: HashMap<(i64, NaiveDate), bool> = HashMap::new();
    for ids in levels
        .get(6)
        .map_or(&[][..], |w| &w[..])
        .chunks(JUDGE_BATCH)
    {
        let batch = facts_of(conn, ids)?;
        let graph = Layered {
            standards: &standards,
            batch: &batch,
        };
        for (instrument_id, instrument) in &batch {
            for calibration in &instrument.calibrations {
                let id = calibration.record.calibration_id;
                let by_standard = instrument.role != Role::National
                    && !standards.contains_key(instrument_id)
                    && calibration.accredited_issuer.is_none()
                    && !calibration.standards_used.is_empty();
                let is_broken = if by_standard {
                    let on = calibration.record.performed_on;
                    calibration.standards_used.iter().any(|&standard| {
                        *link_broken.entry((standard, on)).or_insert_with(|| {
                            let alone = InstrumentFacts {
                                calibrations: vec![
                                    caltrace::domain::traceability::CalibrationFacts {
                                        standards_used: vec![standard],
                                        ..calibration.clone()
                                    },
                                ],
                                ..instrument.clone()
                            };
                            let one = HashMap::from([(*instrument_id, alone)]);
                            let graph = Layered {
                                standards: &standards,
                                batch: &one,
                            };
                            broken_link_of_calibration(&graph, *instrument_id, id).is_some()
                        })
                    })
                } else {
                    broken_link_of_calibration(&graph, *instrument_id, id).is_some()
                };
                if is_broken {
                    broken.push(id);
                }
            }
        }
    }
    broken.sort_unstable();
    for ids in broken.chunks(100_000) {
        diesel::update(calibrations::table.filter(calibrations::id.eq_any(ids)))
            .set(calibrations::chain_broken.eq(true))
            .execute(conn)?;
    }
    Ok(broken.len())
}

/// `refresh_chain_state` on 5 000 calibrations spread over the data set, rolled back: it must
/// find nothing to change, i.e. the bulk judgement stored what approvals would have.
fn check_chain_sample(conn: &mut DbConnection) -> Result<usize, DbError> {
    let ids: Vec<i64> = calibrations::table
        .select(calibrations::id)
        .order(calibrations::id)
        .load(conn)?;
    let step = (ids.len() / 5_000).max(1);
    let sample: Vec<i64> = ids.iter().copied().step_by(step).collect();
    let mut changed = 0;
    let _ = conn.transaction::<(), DbError, _>(|conn| {
        changed = caltrace::db::traceability::refresh_chain_state(conn, &sample)?.len();
        Err(DbError::from(diesel::result::Error::RollbackTransaction))
    });
    Ok(changed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let instrument_count: usize = args
        .get(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let calibration_target: usize = args
        .get(2)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(500_000);
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment())?;
    let database = Database::open(&config.database_url, 2, 1)?;
    let mut conn = database.get()?;
    let started = Instant::now();

    let technician = caltrace::db::users::find_user(&mut conn, "bench-technician")?;
    let technician = match technician {
        Some(user) => user,
        None => caltrace::db::users::create_user(
            &mut conn,
            &Actor::command_line(),
            "bench-technician",
            &[caltrace::auth::UserRole::Technician],
        )?,
    };
    let approver = match caltrace::db::users::find_user(&mut conn, "bench-approver")? {
        Some(user) => user,
        None => caltrace::db::users::create_user(
            &mut conn,
            &Actor::command_line(),
            "bench-approver",
            &[caltrace::auth::UserRole::Approver],
        )?,
    };
    let _ = users::table.count().get_result::<i64>(&mut conn)?;

    let years = (calibration_target as f64 / instrument_count as f64)
        .round()
        .max(1.0) as i32;
    let shape = Shape {
        instrument_count,
        years,
        today: chrono::Utc::now().date_naive(),
    };
    let now = caltrace::db::now_timestamp();
    let postgres = matches!(&*conn, DbConnection::Postgresql(_));

    if !postgres {
        let (_, calibration_total) = write_transaction(&mut conn, |conn| {
            let mut sink = Inserts {
                now: &now,
                technician: technician.id,
                approver: approver.id,
            };
            generate(conn, &mut sink, &shape, &now)
        })?;
        println!(
            "generated {instrument_count} instruments and {calibration_total} calibrations ({years} years, chains 6 deep) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The rows above are written directly, not through approval, so their stored chain
        // state is the column default (whole). Judge every chain once, as approvals would
        // have, so that the status route answers `not_traceable` where the generated history
        // breaks a chain.
        let started = Instant::now();
        let broken = write_transaction(&mut conn, |conn| -> Result<_, DbError> {
            let ids: Vec<i64> = calibrations::table
                .select(calibrations::id)
                .order(calibrations::id)
                .load(conn)?;
            caltrace::db::traceability::refresh_chain_state(conn, &ids).map(|changes| changes.len())
        })?;
        println!(
            "chain state judged for every calibration: {broken} broken chains, {:.1} s",
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }

    // PostgreSQL: bulk load with triggers off, then what they would have done.
    let (levels, calibration_total) = write_transaction(&mut conn, |conn| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(conn)?;
        let next = |conn: &mut DbConnection, sql: &str| -> Result<i64, DbError> {
            #[derive(QueryableByName)]
            struct Next {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                id: i64,
            }
            Ok(diesel::sql_query(sql).get_result::<Next>(conn)?.id)
        };
        let mut sink = Copies {
            now: &now,
            technician: technician.id,
            approver: approver.id,
            next_instrument: next(
                conn,
                "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM instruments",
            )?,
            next_calibration: next(
                conn,
                "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM calibrations",
            )?,
            instruments: Vec::new(),
            calibrations: Vec::new(),
            standards: Vec::new(),
            certificates: Vec::new(),
            buffered: 0,
            pdf: bytea(b"%PDF-generated"),
            dcc: bytea(b"<generated/>"),
        };
        let generated = generate(conn, &mut sink, &shape, &now)?;
        for table in ["instruments", "calibrations"] {
            diesel::sql_query(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .execute(conn)?;
        }
        Ok::<_, DbError>(generated)
    })?;
    println!(
        "generated {instrument_count} instruments and {calibration_total} calibrations ({years} years, chains 6 deep) by COPY in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let phase = Instant::now();
    diesel::sql_query("ANALYZE").execute(&mut conn)?;
    let broken = write_transaction(&mut conn, |conn| {
        diesel::sql_query("SET LOCAL session_replication_role = replica").execute(conn)?;
        judge_chains_in_batches(conn, &levels)
    })?;
    println!(
        "chain state judged for every calibration: {broken} broken chains, {:.1} s",
        phase.elapsed().as_secs_f64()
    );

    let phase = Instant::now();
    write_transaction(&mut conn, |conn| -> Result<_, DbError> {
        diesel::sql_query("SELECT rebuild_latest_calibrations()").execute(conn)?;
        diesel::sql_query("SELECT rebuild_customer_instrument_counts()").execute(conn)?;
        diesel::sql_query("SELECT rebuild_certificate_counts()").execute(conn)?;
        Ok(())
    })?;
    println!(
        "latest_calibrations, customer_instrument_counts and certificate_counts rebuilt: {:.1} s",
        phase.elapsed().as_secs_f64()
    );

    let phase = Instant::now();
    diesel::sql_query("VACUUM ANALYZE").execute(&mut conn)?;
    println!("VACUUM ANALYZE: {:.1} s", phase.elapsed().as_secs_f64());

    let phase = Instant::now();
    let changed = check_chain_sample(&mut conn)?;
    println!(
        "check: refresh_chain_state on 5 000 spread calibrations would change {changed} ({:.1} s)",
        phase.elapsed().as_secs_f64()
    );
    if changed != 0 {
        return Err("the bulk chain judgement differs from refresh_chain_state".into());
    }
    println!("total: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
