//! Generates the benchmark data set of DESIGN.md section 10 into the configured
//! database (ROCKET_DATABASE_URL): 100 000 instruments, 500 000 calibrations,
//! traceability chains up to 6 levels deep, in one transaction.
//!
//!     cargo run --release --example generate -- [instruments] [calibrations]
//!
//! Level 0 are national standards; levels 1–5 reference standards, each
//! calibrated against one or two standards of the level above; the rest are
//! working instruments calibrated against level-5 standards. Every instrument is
//! calibrated once a year, level by level ten days apart, so chains are valid;
//! about 2 % of results are out of tolerance and the last year is skipped for
//! about 5 % of instruments (expired).

use caltrace::db::audit::Actor;
use caltrace::db::schema::{
    calibration_standards, calibrations, certificates, customers, instruments, users,
};
use caltrace::db::{write_transaction, Database, DbError};
use chrono::{Datelike, NaiveDate};
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
    let started = std::time::Instant::now();

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

    // Level sizes: 10 national, then growing reference levels, the rest working.
    let level_sizes = [10usize, 60, 300, 1_000, 2_500, 5_000];
    let working = instrument_count.saturating_sub(level_sizes.iter().sum());
    let years = (calibration_target as f64 / instrument_count as f64)
        .round()
        .max(1.0) as i32;
    let today = chrono::Utc::now().date_naive();
    let first_year = today.year() - years;
    let mut random = Random(0x9e3779b97f4a7c15);
    let now = caltrace::db::now_timestamp();

    let (instrument_total, calibration_total) = write_transaction(
        &mut conn,
        |conn| -> Result<_, DbError> {
            // 500 customers as records (DESIGN 9b), each owning every 500th instrument, so
            // the scoped reads (bench/scoped_bench.rs) have a customer of ~200 instruments.
            let mut customer_ids = Vec::with_capacity(500);
            for k in 0..500 {
                let id: i64 = diesel::insert_into(customers::table)
                    .values((
                        customers::name.eq(format!("Customer {k:03}")),
                        customers::code.eq(format!("CUST-{k:03}")),
                        customers::created_at.eq(&now),
                        customers::updated_at.eq(&now),
                    ))
                    .returning(customers::id)
                    .get_result(conn)?;
                customer_ids.push(id);
            }
            let mut levels: Vec<Vec<i64>> = Vec::new();
            let mut customer_of = std::collections::HashMap::new();
            let mut tag_number = 0usize;
            for (level, size) in level_sizes
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
                    let id: i64 = diesel::insert_into(instruments::table)
                        .values((
                            instruments::asset_tag.eq(format!("GEN-{tag_number:06}")),
                            instruments::description
                                .eq(format!("generated level-{level} pressure instrument")),
                            instruments::manufacturer.eq("Generated"),
                            instruments::model.eq(format!("L{level}")),
                            instruments::serial_number.eq(format!("S{tag_number:06}")),
                            instruments::role.eq(role),
                            instruments::quantity_kind.eq("pressure"),
                            instruments::customer.eq(format!("Customer {:03}", tag_number % 500)),
                            instruments::customer_id.eq(customer_ids[tag_number % 500]),
                            instruments::interval_days.eq(if level == 0 {
                                None
                            } else {
                                Some(365)
                            }),
                            instruments::institute.eq(if level == 0 { Some("NIM") } else { None }),
                            instruments::country.eq(if level == 0 { Some("CN") } else { None }),
                            instruments::status.eq("active"),
                            instruments::created_at.eq(&now),
                            instruments::updated_at.eq(&now),
                        ))
                        .returning(instruments::id)
                        .get_result(conn)?;
                    ids.push(id);
                    customer_of.insert(id, format!("Customer {:03}", tag_number % 500));
                }
                levels.push(ids);
            }

            let mut calibration_count = 0usize;
            let mut certificate_number = 0usize;
            for year in first_year..today.year() {
                for (level, ids) in levels.iter().enumerate().skip(1) {
                    let performed_on = NaiveDate::from_ymd_opt(year, 1, 10).unwrap()
                        + chrono::Days::new(level as u64 * 10);
                    let due_on = performed_on + chrono::Days::new(365);
                    let standards_pool = &levels[if level == 6 { 5 } else { level - 1 }];
                    for &instrument_id in ids {
                        if year == today.year() - 1 && random.below(20) == 0 {
                            continue;
                        }
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
                            .map(|_| {
                                standards_pool[random.below(standards_pool.len() as u64) as usize]
                            })
                            .fold(Vec::new(), |mut acc, id| {
                                if !acc.contains(&id) {
                                    acc.push(id);
                                }
                                acc
                            });
                        let body = json!({"instrument_id": instrument_id, "kind": if external { "external" } else { "internal" },
                        "performed_on": performed_on, "standards_used": standards, "decision_rule": "simple", "points": []});
                        let id: i64 = diesel::insert_into(calibrations::table)
                            .values((
                                calibrations::instrument_id.eq(instrument_id),
                                calibrations::kind.eq(if external {
                                    "external"
                                } else {
                                    "internal"
                                }),
                                calibrations::status.eq(if external {
                                    "accepted"
                                } else {
                                    "issued"
                                }),
                                calibrations::performed_on.eq(performed_on),
                                calibrations::received_on.eq(Some(performed_on)),
                                calibrations::issued_on.eq(Some(performed_on)),
                                calibrations::due_on.eq(Some(due_on)),
                                calibrations::decision_rule.eq("simple"),
                                calibrations::out_of_tolerance.eq(out_of_tolerance),
                                calibrations::issuer_name.eq(if external {
                                    Some("NIM")
                                } else {
                                    None
                                }),
                                calibrations::issuer_certificate_number.eq(if external {
                                    Some(number.clone())
                                } else {
                                    None
                                }),
                                calibrations::accredited.eq(false),
                                calibrations::certificate_number.eq(if external {
                                    None
                                } else {
                                    Some(number.clone())
                                }),
                                calibrations::body.eq(body.to_string()),
                                calibrations::results.eq(results.to_string()),
                                calibrations::created_by.eq(technician.id),
                                calibrations::approved_by.eq(Some(approver.id)),
                                calibrations::created_at.eq(&now),
                                calibrations::updated_at.eq(&now),
                            ))
                            .returning(calibrations::id)
                            .get_result(conn)?;
                        for (position, standard) in standards.iter().enumerate() {
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
                                    certificates::number.eq(&number),
                                    certificates::calibration_id.eq(id),
                                    certificates::instrument_id.eq(instrument_id),
                                    certificates::issued_on.eq(performed_on),
                                    certificates::pdf.eq(b"%PDF-generated".to_vec()),
                                    certificates::pdf_sha256.eq("generated"),
                                    certificates::dcc.eq(b"<generated/>".to_vec()),
                                    certificates::dcc_sha256.eq("generated"),
                                    certificates::audit_head.eq("generated"),
                                    certificates::created_at.eq(&now),
                                    certificates::customer_name.eq(customer_of.get(&instrument_id)),
                                ))
                                .execute(conn)?;
                        }
                        calibration_count += 1;
                    }
                }
            }
            Ok((tag_number, calibration_count))
        },
    )?;
    println!(
        "generated {instrument_total} instruments and {calibration_total} calibrations ({years} years, chains 6 deep) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The rows above are written directly, not through approval, so their stored chain state is
    // the column default (whole). Judge every chain once, as approvals would have, so that the
    // status route answers `not_traceable` where the generated history breaks a chain.
    let started = std::time::Instant::now();
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
    Ok(())
}
