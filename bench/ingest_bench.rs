//! Batch ingestion through the API (POST /api/v1/calibrations/batch, in
//! process via rocket::local) against inserting the same rows directly in one
//! transaction. Prints medians and the ratio (target <= 2x, DESIGN.md section 10).
//!
//!     cargo run --release --example ingest_bench [-- postgres://…]

use std::time::{Duration, Instant};

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::schema::{
    audit_log, calibration_contributors, calibration_standards, calibrations,
};
use caltrace::db::{users, write_transaction, Database};
use caltrace::domain::calibration::CalibrationKind;
use caltrace::domain::conformity::DecisionRule;
use caltrace::domain::states::CalibrationStatus;
use diesel::prelude::*;
use rocket::http::{ContentType, Header};
use rocket::local::asynchronous::Client;
use serde_json::{json, Value};

const CALIBRATIONS: usize = 1_000;
const POINTS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn batch(instrument: i64, standard: i64) -> Value {
    let calibrations: Vec<Value> = (0..CALIBRATIONS)
        .map(|i| {
            let points: Vec<Value> = (0..POINTS)
                .map(|p| {
                    let reference = 0.1 + 0.2 * p as f64;
                    json!({"stage": "as_found", "reference": {"value": reference, "unit": "MPa"},
                           "indicated": {"value": reference + 0.0001 * (i % 7) as f64, "unit": "MPa"},
                           "tolerance": {"value": 0.0016, "unit": "MPa"},
                           "stated_uncertainty": {"expanded_uncertainty": {"value": 0.0002, "unit": "MPa"}, "coverage_factor": 2}})
                })
                .collect();
            json!({"instrument_id": instrument, "kind": "internal", "performed_on": "2026-05-10",
                   "procedure": "JJG 52-2013", "standards_used": [standard], "decision_rule": "simple", "points": points})
        })
        .collect();
    json!({"calibrations": calibrations, "submit": true})
}

#[rocket::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("ingest.sqlite3").display()));
    let figment = caltrace::figment()
        .merge(("database_url", url.clone()))
        .merge(("log_level", "off"));
    let client = Client::tracked(caltrace::rocket(figment)).await.unwrap();
    let database = client.rocket().state::<Database>().unwrap().clone();
    let (token, technician) = {
        let mut conn = database.get().unwrap();
        let user = users::create_user(
            &mut conn,
            &Actor::command_line(),
            "ingest",
            &[UserRole::Technician, UserRole::Admin],
        )
        .unwrap();
        (
            users::create_token(&mut conn, &Actor::command_line(), "ingest")
                .unwrap()
                .1,
            user,
        )
    };
    let auth = Header::new("Authorization", format!("Bearer {token}"));
    let mut ids = Vec::new();
    for (tag, role) in [("ING-REF", "reference"), ("ING-1", "working")] {
        let body = json!({"asset_tag": tag, "role": role, "quantity_kind": "pressure", "interval_days": 365});
        let response = client
            .post("/api/v1/instruments")
            .header(ContentType::JSON)
            .header(auth.clone())
            .body(body.to_string())
            .dispatch()
            .await;
        let created: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
        ids.push(created["id"].as_i64().unwrap());
    }
    let body = batch(ids[1], ids[0]).to_string();
    // The same rows as the API stores, prepared outside the timed part.
    let stored: Value = {
        let response = client
            .post("/api/v1/calibrations/batch")
            .header(ContentType::JSON)
            .header(auth.clone())
            .body(&body)
            .dispatch()
            .await;
        let result: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
        let first = result["ids"][0].as_i64().unwrap();
        let mut conn = database.get().unwrap();
        let (body, results): (String, String) = calibrations::table
            .select((calibrations::body, calibrations::results))
            .find(first)
            .first(&mut conn)
            .unwrap();
        // Its audit entry: the record as created, which the API writes for each calibration.
        let after: Option<String> = audit_log::table
            .select(audit_log::after)
            .filter(audit_log::entity.eq("calibration"))
            .filter(audit_log::entity_id.eq(first.to_string()))
            .first(&mut conn)
            .unwrap();
        json!({"body": body, "results": results, "audit_after": after})
    };
    let mut api = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let response = client
            .post("/api/v1/calibrations/batch")
            .header(ContentType::JSON)
            .header(auth.clone())
            .body(&body)
            .dispatch()
            .await;
        assert_eq!(response.status().code, 201);
        api.push(started.elapsed());

        let database = database.clone();
        let stored = stored.clone();
        let (instrument, standard, user) = (ids[1], ids[0], technician.id);
        raw.push(
            rocket::tokio::task::spawn_blocking(move || {
                let mut conn = database.get().unwrap();
                let body = stored["body"].as_str().unwrap().to_string();
                let results = stored["results"].as_str().unwrap().to_string();
                let audit_after = stored["audit_after"].as_str().unwrap().to_string();
                let started = Instant::now();
                write_transaction(&mut conn, |conn| -> Result<(), caltrace::db::DbError> {
                    let now = caltrace::db::now_timestamp();
                    let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
                    for _ in 0..CALIBRATIONS {
                        let id: i64 = diesel::insert_into(calibrations::table)
                            .values((
                                calibrations::instrument_id.eq(instrument),
                                calibrations::kind.eq(CalibrationKind::Internal),
                                calibrations::status.eq(CalibrationStatus::Submitted),
                                calibrations::performed_on.eq(day),
                                calibrations::due_on.eq(Some(day)),
                                calibrations::decision_rule.eq(DecisionRule::Simple),
                                calibrations::out_of_tolerance.eq(false),
                                calibrations::accredited.eq(false),
                                calibrations::body.eq(&body),
                                calibrations::results.eq(&results),
                                calibrations::created_by.eq(user),
                                calibrations::created_at.eq(&now),
                                calibrations::updated_at.eq(&now),
                            ))
                            .returning(calibrations::id)
                            .get_result(conn)?;
                        diesel::insert_into(calibration_standards::table)
                            .values((
                                calibration_standards::calibration_id.eq(id),
                                calibration_standards::position.eq(0),
                                calibration_standards::standard_id.eq(standard),
                            ))
                            .execute(conn)?;
                        // The rows the record needs besides the calibration: who
                        // contributed (four eyes) and its audit entry (hash given).
                        diesel::insert_into(calibration_contributors::table)
                            .values((
                                calibration_contributors::calibration_id.eq(id),
                                calibration_contributors::user_id.eq(user),
                            ))
                            .execute(conn)?;
                        let seq = 1_000_000 + id;
                        diesel::insert_into(audit_log::table)
                            .values((
                                audit_log::seq.eq(seq),
                                audit_log::occurred_at.eq(&now),
                                audit_log::user_id.eq(Some(user)),
                                audit_log::user_name.eq("ingest"),
                                audit_log::action.eq("create"),
                                audit_log::entity.eq("calibration"),
                                audit_log::entity_id.eq(id.to_string()),
                                audit_log::after.eq(Some(&audit_after)),
                                audit_log::prev_hash.eq("0".repeat(64)),
                                audit_log::hash.eq(format!("{seq:064}")),
                            ))
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .unwrap();
                started.elapsed()
            })
            .await
            .unwrap(),
        );
    }
    let (api, raw) = (median(api), median(raw));
    println!(
        "batch ingestion of {CALIBRATIONS} calibrations × {POINTS} points ({}): API {:.1} ms, raw inserts {:.1} ms, ratio {:.2} (target <= 2)",
        if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
        api.as_secs_f64() * 1e3,
        raw.as_secs_f64() * 1e3,
        api.as_secs_f64() / raw.as_secs_f64()
    );
}
