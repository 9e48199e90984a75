//! Traceability benchmarks on the generated data set (DESIGN.md section 10):
//! the traceability tree of one instrument (p50/p99, target p99 <= 5 ms) and
//! impact analysis of a national standard through the API (in process)
//! against the same recursive CTE run directly (target <= 3x); and the stored
//! chain state recomputed for everything downstream of that standard (what a
//! withdrawal or a late certificate triggers), set-based against the
//! one-calibration-at-a-time path it replaced, both rolled back (TRACE_BENCH_REFRESH=0
//! leaves this last part out).
//!
//!     ROCKET_DATABASE_URL=… cargo run --release --example trace_bench

use std::time::{Duration, Instant};

use caltrace::db::schema::{calibrations, instruments};
use caltrace::db::{Database, DbConnection};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use rocket::http::Header;
use rocket::local::asynchronous::Client;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// The impact CTE of db::traceability, counted directly in the database.
fn raw_impact(conn: &mut DbConnection, standard: i64) -> i64 {
    let sql = "WITH RECURSIVE affected(calibration_id, instrument_id, performed_on, depth) AS (
    SELECT c.id, c.instrument_id, c.performed_on, 1
    FROM calibration_standards cs JOIN calibrations c ON c.id = cs.calibration_id
    WHERE cs.standard_id = STANDARD AND c.status IN ('issued', 'accepted', 'withdrawn')
      AND c.performed_on >= '0001-01-01' AND c.performed_on <= '9999-12-31' AND c.instrument_id <> STANDARD
    UNION
    SELECT c.id, c.instrument_id, c.performed_on, a.depth + 1
    FROM affected a
    JOIN calibration_standards cs ON cs.standard_id = a.instrument_id
    JOIN calibrations c ON c.id = cs.calibration_id
    WHERE a.depth < 32 AND c.instrument_id <> STANDARD
      AND c.status IN ('issued', 'accepted', 'withdrawn')
      AND c.performed_on >= a.performed_on
      AND NOT EXISTS (
        SELECT 1 FROM calibrations n
        WHERE n.instrument_id = a.instrument_id AND n.status IN ('issued', 'accepted', 'withdrawn')
          AND (n.performed_on > a.performed_on OR (n.performed_on = a.performed_on AND n.id > a.calibration_id))
          AND n.performed_on <= c.performed_on)
)
SELECT COUNT(DISTINCT calibration_id) AS n FROM affected"
        .replace("STANDARD", &standard.to_string());
    let rows: Vec<Count> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c).unwrap(),
        DbConnection::Postgresql(c) => diesel::sql_query(
            sql.replace("'0001-01-01'", "'0001-01-01'::date")
                .replace("'9999-12-31'", "'9999-12-31'::date"),
        )
        .load(c)
        .unwrap(),
    };
    rows[0].n
}

#[rocket::main]
async fn main() {
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment()).unwrap();
    let database = Database::open(&config.database_url, 2, 1).unwrap();
    let at = chrono::Utc::now().date_naive();
    let (working, nationals): (Vec<i64>, Vec<i64>) = {
        let mut conn = database.get().unwrap();
        let working = instruments::table
            .select(instruments::id)
            .filter(instruments::role.eq("working"))
            .order(instruments::id)
            .limit(50_000)
            .load(&mut conn)
            .unwrap();
        let nationals = instruments::table
            .select(instruments::id)
            .filter(instruments::role.eq("national"))
            .load(&mut conn)
            .unwrap();
        (working, nationals)
    };
    let trace_samples = rocket::tokio::task::spawn_blocking({
        let database = database.clone();
        move || {
            let mut conn = database.get().unwrap();
            let mut samples = Vec::with_capacity(1000);
            let mut traceable = 0;
            for i in 0..1000usize {
                let id = working[(i * 7919) % working.len()];
                let started = Instant::now();
                let graph = caltrace::db::traceability::chain_graph_for(&mut conn, id, at).unwrap();
                let report = caltrace::domain::traceability::trace(&graph, id, at).unwrap();
                let json = serde_json::to_string(&report).unwrap();
                samples.push(started.elapsed());
                traceable += usize::from(report.traceable && json.len() > 10);
            }
            (samples, traceable)
        }
    })
    .await
    .unwrap();
    let (mut samples, traceable) = trace_samples;
    println!(
        "traceability tree, 1 000 working instruments (6 levels): p50 {:.2} ms, p99 {:.2} ms ({} traceable) (target p99 <= 5 ms)",
        percentile(&mut samples, 0.5).as_secs_f64() * 1e3,
        percentile(&mut samples, 0.99).as_secs_f64() * 1e3,
        traceable
    );

    let token = {
        let mut conn = database.get().unwrap();
        let actor = caltrace::db::audit::Actor::command_line();
        if caltrace::db::users::find_user(&mut conn, "bench-auditor")
            .unwrap()
            .is_none()
        {
            caltrace::db::users::create_user(
                &mut conn,
                &actor,
                "bench-auditor",
                &[caltrace::auth::UserRole::Auditor],
            )
            .unwrap();
        }
        caltrace::db::users::create_token(&mut conn, &actor, "bench-auditor")
            .unwrap()
            .1
    };
    let client = Client::tracked(caltrace::rocket(
        caltrace::figment().merge(("log_level", "off")),
    ))
    .await
    .unwrap();
    let standard = nationals[0];
    let started = Instant::now();
    let response = client
        .get(format!("/api/v1/instruments/{standard}/impact"))
        .header(Header::new("Authorization", format!("Bearer {token}")))
        .dispatch()
        .await;
    let body = response.into_string().await.unwrap();
    let api = started.elapsed();
    let impact: serde_json::Value = serde_json::from_str(&body).unwrap();
    let reached = impact["calibrations"].as_array().map(Vec::len).unwrap_or(0);
    let raw = rocket::tokio::task::spawn_blocking({
        let database = database.clone();
        move || {
            let mut conn = database.get().unwrap();
            let started = Instant::now();
            let n = raw_impact(&mut conn, standard);
            (started.elapsed(), n)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        raw.1 as usize, reached,
        "the API lists what the CTE reaches"
    );
    println!(
        "impact analysis of national standard {standard}: {reached} calibrations; API {:.0} ms, raw recursive CTE {:.0} ms, ratio {:.2} (target <= 3)",
        api.as_secs_f64() * 1e3,
        raw.0.as_secs_f64() * 1e3,
        api.as_secs_f64() / raw.0.as_secs_f64()
    );

    // On the national register (1 000 000 instruments) the recomputation reaches ~3 million
    // calibrations (~15 min): TRACE_BENCH_REFRESH=0 leaves it out (bench/postgres.sh does
    // with SCALE=national).
    if std::env::var("TRACE_BENCH_REFRESH").as_deref() == Ok("0") {
        println!("chain state downstream: not measured (TRACE_BENCH_REFRESH=0)");
        return;
    }
    let refresh = rocket::tokio::task::spawn_blocking({
        let database = database.clone();
        move || refresh_downstream_timings(&database, standard)
    })
    .await
    .unwrap();
    println!("{refresh}");
}

/// Times `refresh_downstream` of a national standard (every calibration its impact reaches
/// judged again, the changes written) and, on the first 1 000 of those calibrations, the
/// per-calibration path (one reach query and one facts load each); all in a transaction that
/// is rolled back, so the data set is left as generated.
fn refresh_downstream_timings(database: &Database, standard: i64) -> String {
    use caltrace::db::traceability::{far_future, graph_for, impact, refresh_downstream};
    let mut conn = database.get().unwrap();
    let mut report = String::new();
    let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        let since = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let affected = impact(conn, standard, since, far_future()).unwrap();
        let started = Instant::now();
        let changed = refresh_downstream(conn, standard, since).unwrap().len();
        let set_based = started.elapsed();
        // Every k-th affected calibration, so that deep and shallow chains are both sampled.
        let step = (affected.len() / 1000).max(1);
        let sample: Vec<_> = affected.iter().step_by(step).take(1000).collect();
        let started = Instant::now();
        let mut verdicts = Vec::with_capacity(sample.len());
        for calibration in &sample {
            let graph = graph_for(conn, calibration.instrument_id, calibration.performed_on).unwrap();
            verdicts.push(
                caltrace::domain::traceability::broken_link_of_calibration(
                    &graph,
                    calibration.instrument_id,
                    calibration.calibration_id,
                )
                .is_some(),
            );
        }
        let one_at_a_time = started.elapsed();
        // The set-based refresh must have stored exactly what the one-at-a-time path judges.
        let ids: Vec<i64> = sample.iter().map(|c| c.calibration_id).collect();
        let stored: std::collections::HashMap<i64, bool> = calibrations::table
            .select((calibrations::id, calibrations::chain_broken))
            .filter(calibrations::id.eq_any(&ids))
            .load::<(i64, bool)>(conn)
            .unwrap()
            .into_iter()
            .collect();
        let disagreements = sample
            .iter()
            .zip(&verdicts)
            .filter(|(c, broken)| stored[&c.calibration_id] != **broken)
            .count();
        assert_eq!(disagreements, 0, "set-based and one-at-a-time verdicts differ");
        let per_calibration = one_at_a_time.as_secs_f64() / sample.len().max(1) as f64;
        report = format!(
            "chain state downstream of national standard {standard}: {} calibrations judged again in {:.1} s set-based ({changed} changed); \
             one at a time {:.2} ms each on {} spread over them (same verdicts), i.e. ~{:.0} s for all",
            affected.len(),
            set_based.as_secs_f64(),
            per_calibration * 1e3,
            sample.len(),
            per_calibration * affected.len() as f64,
        );
        Err(diesel::result::Error::RollbackTransaction)
    });
    report
}
