//! The read paths at national-register scale (issue 20), on the data set in
//! ROCKET_DATABASE_URL (`generate -- 1000000 5000000` on PostgreSQL, or the 100 000 set):
//! p50 and p99 of the service's own db functions, called in process on one pooled connection,
//! each repeated up to a count or a time budget (at least 5 runs):
//! - the dashboard (`db::pages::dashboard`, today, 30-day horizon, whole register);
//! - the recall list: the recalls API's (`db::validity::recalled`, 30 days, whole register)
//!   and a customer portal's (`db::validity::due_by`, with validity, one customer of 500);
//! - the instrument list with validity (`db::instruments::list` + `validity_explained`, the
//!   web register page), page 1 and page 1000 of 50, by offset and by keyset (`after`);
//! - the certificate list (`db::certificates::list`), the same three pages;
//! - the single status check (`validity_of_one_for_token`, what the status route runs on
//!   PostgreSQL, and `validity_of_one`) against a bare `SELECT 1` round trip, and the status
//!   route in process (rocket::local) against `/healthz` (one `SELECT 1` and a key read);
//! - bulk validity of 100 000 ids (`validity_of`) against the raw SQL of bench/bulk_bench.rs.
//!
//! Baselines alternate with their measure, round by round, so machine noise falls on both.
//! Ends with the table sizes (PostgreSQL: `pg_total_relation_size`).
//!
//!     ROCKET_DATABASE_URL=… cargo run --release --example scale_bench

use std::time::{Duration, Instant};

use caltrace::db::schema::{certificates, instruments};
use caltrace::db::{Database, DbConnection};
use caltrace::domain::people::Scope;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rocket::http::{Header, Status};
use rocket::local::asynchronous::Client;

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A named measure to alternate with: its name and one run (returning how many rows).
type Baseline<'a> = (&'a str, Box<dyn FnMut(usize) -> usize + 'a>);

/// Runs `measure` (and `baseline`, alternating) until `max_runs` or `budget` is spent, at
/// least 5 times, after one warm-up run each; prints p50 and p99 and the ratio of the p50s.
fn report(
    name: &str,
    max_runs: usize,
    budget: Duration,
    mut measure: impl FnMut(usize) -> usize,
    mut baseline: Option<Baseline<'_>>,
) {
    let mut samples = Vec::new();
    let mut base = Vec::new();
    let mut answer = measure(0);
    if let Some((_, b)) = baseline.as_mut() {
        b(0);
    }
    let started = Instant::now();
    for run in 1..=max_runs {
        let t = Instant::now();
        answer = measure(run);
        samples.push(t.elapsed());
        if let Some((_, b)) = baseline.as_mut() {
            let t = Instant::now();
            b(run);
            base.push(t.elapsed());
        }
        if run >= 5 && started.elapsed() > budget {
            break;
        }
    }
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    let mut line = format!(
        "{name}: p50 {:.3} ms, p99 {:.3} ms (n = {}, {answer} rows)",
        ms(p50),
        ms(p99),
        samples.len()
    );
    if let Some((what, _)) = baseline {
        let (b50, b99) = (percentile(&base, 0.5), percentile(&base, 0.99));
        line.push_str(&format!(
            "; {what}: p50 {:.3} ms, p99 {:.3} ms; ratio p50 {:.1}",
            ms(b50),
            ms(b99),
            p50.as_secs_f64() / b50.as_secs_f64()
        ));
    }
    println!("{line}");
}

#[path = "shared/raw_validity.rs"]
mod raw_validity;
use raw_validity::{raw_sql, run_raw};

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    rows: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = BigInt)]
    indexes: i64,
}

fn print_sizes(conn: &mut DbConnection) {
    let DbConnection::Postgresql(c) = conn else {
        return;
    };
    let sizes: Vec<Size> = diesel::sql_query(
        "SELECT c.relname::text AS name, c.reltuples::bigint AS rows, \
         pg_total_relation_size(c.oid) AS bytes, pg_indexes_size(c.oid) AS indexes \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND pg_total_relation_size(c.oid) > 1000000 \
         ORDER BY 3 DESC",
    )
    .load(c)
    .unwrap();
    for size in sizes {
        println!(
            "table {}: ~{} rows, {:.0} MB total, of which indexes {:.0} MB",
            size.name,
            size.rows,
            size.bytes as f64 / 1048576.0,
            size.indexes as f64 / 1048576.0
        );
    }
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    let total: Total = diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
        .get_result(c)
        .unwrap();
    println!("database: {:.0} MB", total.bytes as f64 / 1048576.0);
}

#[rocket::main]
async fn main() {
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment()).unwrap();
    let database = Database::open(&config.database_url, 2, 1).unwrap();
    let today = chrono::Utc::now().date_naive();
    let everything = Scope::Everything;
    let second = Duration::from_secs(1);
    let mut conn = database.get().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let max_id: i64 = instruments::table
        .select(diesel::dsl::max(instruments::id))
        .first::<Option<i64>>(conn)
        .unwrap()
        .unwrap_or(0);
    let instrument_count: i64 = instruments::table.count().get_result(conn).unwrap();
    println!(
        "== {} instruments, backend {}",
        instrument_count,
        database.backend().name()
    );
    let conn = std::cell::RefCell::new(conn);

    report(
        "dashboard (today, 30 days, whole register)",
        50,
        60 * second,
        |_| {
            let d =
                caltrace::db::pages::dashboard(*conn.borrow_mut(), today, 30, &everything).unwrap();
            (d.overdue_total + d.due_soon_total) as usize
        },
        None,
    );
    // The portal's recall list (due_by: with each instrument's validity) is a customer's;
    // one customer of 500, as bench/generate.rs makes them (user id unused with one).
    let customer: i64 = {
        use caltrace::db::schema::customers;
        customers::table
            .select(customers::id)
            .filter(customers::code.eq("CUST-007"))
            .first(&mut **conn.borrow_mut())
            .unwrap()
    };
    let one_customer = Scope::Customers {
        user_id: 0,
        customer_ids: vec![customer],
    };
    report(
        "customer portal's recall list (due_by, 30 days, one customer of 500)",
        200,
        30 * second,
        |_| {
            caltrace::db::validity::due_by(
                *conn.borrow_mut(),
                today,
                today + chrono::Days::new(30),
                &one_customer,
            )
            .unwrap()
            .len()
        },
        None,
    );
    report(
        "recall API (recalled, 30 days, whole register)",
        50,
        60 * second,
        |_| {
            caltrace::db::validity::recalled(
                *conn.borrow_mut(),
                today + chrono::Days::new(30),
                &everything,
            )
            .unwrap()
            .len()
        },
        None,
    );
    // Keyset: the id and number the 1000th page of 50 starts after.
    let (instrument_after, certificate_after) = {
        let c = &mut **conn.borrow_mut();
        let id: i64 = instruments::table
            .select(instruments::id)
            .order(instruments::id)
            .offset(999 * 50 - 1)
            .first(c)
            .unwrap();
        let number: String = certificates::table
            .select(certificates::number)
            .order(certificates::number)
            .offset(999 * 50 - 1)
            .first(c)
            .unwrap();
        (id, number)
    };
    for (page, after) in [(1, None), (1000, None), (1000, Some(instrument_after))] {
        let how = if after.is_some() {
            " by keyset (after=)"
        } else {
            ""
        };
        report(
            &format!("instrument list with validity, page {page} of 50{how}"),
            200,
            30 * second,
            |_| {
                let c = &mut **conn.borrow_mut();
                let filter = caltrace::db::instruments::InstrumentFilter {
                    page: if after.is_some() { 1 } else { page },
                    per_page: 50,
                    after,
                    ..Default::default()
                };
                let (items, _) = caltrace::db::instruments::list(c, &filter, &everything).unwrap();
                let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
                caltrace::db::validity::validity_explained(c, &ids, today, &everything)
                    .unwrap()
                    .len()
            },
            None,
        );
    }
    for (page, after) in [(1, None), (1000, None), (1000, Some(&certificate_after))] {
        let how = if after.is_some() {
            " by keyset (after=)"
        } else {
            ""
        };
        report(
            &format!("certificate list, page {page} of 50{how}"),
            200,
            30 * second,
            |_| {
                let filter = caltrace::db::certificates::CertificateFilter {
                    page: if after.is_some() { 1 } else { page },
                    per_page: 50,
                    after: after.cloned(),
                    ..Default::default()
                };
                caltrace::db::certificates::list(*conn.borrow_mut(), &filter, &everything)
                    .unwrap()
                    .0
                    .len()
            },
            None,
        );
    }

    // Single status: the statement the status route runs on PostgreSQL (token and validity in
    // one), and validity alone, against a bare round trip.
    let token = {
        let c = &mut **conn.borrow_mut();
        let actor = caltrace::db::audit::Actor::command_line();
        if caltrace::db::users::find_user(c, "bench-auditor")
            .unwrap()
            .is_none()
        {
            caltrace::db::users::create_user(
                c,
                &actor,
                "bench-auditor",
                &[caltrace::auth::UserRole::Auditor],
            )
            .unwrap();
        }
        caltrace::db::users::create_token(c, &actor, "bench-auditor")
            .unwrap()
            .1
    };
    let id_of = |run: usize| 1 + (run as i64 * 7919) % max_id.max(1);
    let select_one = |_: usize| {
        diesel::sql_query("SELECT 1")
            .execute(*conn.borrow_mut())
            .unwrap()
    };
    report(
        "single status, validity_of_one_for_token (token + validity, one statement)",
        2000,
        20 * second,
        |run| {
            caltrace::db::validity::validity_of_one_for_token(
                *conn.borrow_mut(),
                &token,
                id_of(run),
                today,
            )
            .unwrap()
            .map_or(0, |(_, v)| usize::from(v.is_some()))
        },
        Some(("bare SELECT 1", Box::new(select_one))),
    );
    report(
        "single status, validity_of_one (no token)",
        2000,
        20 * second,
        |run| {
            caltrace::db::validity::validity_of_one(*conn.borrow_mut(), id_of(run), today)
                .unwrap()
                .map_or(0, |_| 1)
        },
        Some(("bare SELECT 1", Box::new(select_one))),
    );

    // What prepared-statement reuse buys: the same check as a text statement parsed and
    // planned on every call (the raw SQL of the bulk baseline for one id).
    report(
        "single status, raw SQL text (parsed and planned per call)",
        2000,
        20 * second,
        |run| {
            run_raw(
                *conn.borrow_mut(),
                &raw_sql(&[id_of(run)], &today.to_string()),
            )
        },
        Some((
            "validity_of_one (prepared once, reused)",
            Box::new(|run| {
                caltrace::db::validity::validity_of_one(*conn.borrow_mut(), id_of(run), today)
                    .unwrap()
                    .map_or(0, |_| 1)
            }),
        )),
    );

    // Bulk validity of 100 000 ids spread over the register (1 000 000: every 10th).
    let ids: Vec<i64> = (0..100_000i64)
        .map(|i| 1 + (i * 7919) % max_id.max(1))
        .collect();
    let at = today.to_string();
    let sql = raw_sql(&ids, &at);
    report(
        "bulk validity, 100 000 ids (validity_of)",
        20,
        60 * second,
        |_| {
            caltrace::db::validity::validity_of(*conn.borrow_mut(), &ids, today, &everything)
                .unwrap()
                .len()
        },
        Some((
            "raw SQL of bulk_bench",
            Box::new(|_| run_raw(*conn.borrow_mut(), &sql)),
        )),
    );
    print_sizes(*conn.borrow_mut());

    // The status route in process (the whole request: routing, token, statement, JSON)
    // against /healthz (a SELECT 1 and the signing key's public half).
    let client = Client::tracked(caltrace::rocket(
        caltrace::figment().merge(("log_level", "off")),
    ))
    .await
    .unwrap();
    let auth = || Header::new("Authorization", format!("Bearer {token}"));
    let mut route = Vec::new();
    let mut health = Vec::new();
    for run in 0..2002usize {
        let started = Instant::now();
        let response = client
            .get(format!("/api/v1/instruments/{}/status", id_of(run)))
            .header(auth())
            .dispatch()
            .await;
        assert_eq!(response.status(), Status::Ok);
        let _ = response.into_string().await.unwrap();
        let status = started.elapsed();
        let started = Instant::now();
        let response = client.get("/healthz").dispatch().await;
        assert_eq!(response.status(), Status::Ok);
        let _ = response.into_string().await.unwrap();
        if run >= 2 {
            route.push(status);
            health.push(started.elapsed());
        }
    }
    println!(
        "status route in process: p50 {:.3} ms, p99 {:.3} ms (n = {}); /healthz: p50 {:.3} ms, p99 {:.3} ms; ratio p50 {:.1}",
        ms(percentile(&route, 0.5)),
        ms(percentile(&route, 0.99)),
        route.len(),
        ms(percentile(&health, 0.5)),
        ms(percentile(&health, 0.99)),
        percentile(&route, 0.5).as_secs_f64() / percentile(&health, 0.5).as_secs_f64()
    );
}
