//! Bulk validity of 10 000 ids through the API (in process, rocket::local)
//! against the equivalent raw SQL run directly, on the generated data set.
//! Prints both medians and the ratio (target <= 3x, DESIGN.md section 10).

use std::time::{Duration, Instant};

use caltrace::db::Database;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rocket::http::{ContentType, Header};
use rocket::local::asynchronous::Client;

#[path = "shared/raw_validity.rs"]
mod raw_validity;
use raw_validity::{raw_sql, run_raw};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Every SQLite connection this process opens, recorded by an auto-extension,
/// so the statement counters below can be read back (diesel keeps the handles
/// private).
static CONNECTIONS: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());

unsafe extern "C" fn record_connection(
    db: *mut libsqlite3_sys::sqlite3,
    _error: *mut *mut std::ffi::c_char,
    _api: *const libsqlite3_sys::sqlite3_api_routines,
) -> std::ffi::c_int {
    CONNECTIONS.lock().unwrap().push(db as usize);
    libsqlite3_sys::SQLITE_OK
}

/// Per prepared statement still open: how often SQLite re-prepared it and how
/// often it ran (sqlite3_stmt_status), counters reset after reading.
fn statement_counters() -> Vec<(String, i32, i32)> {
    let mut out = Vec::new();
    for &db in CONNECTIONS.lock().unwrap().iter() {
        let db = db as *mut libsqlite3_sys::sqlite3;
        // SAFETY: the pool keeps these connections open for the whole run and
        // no other thread uses them while the probe reads.
        unsafe {
            let mut stmt = libsqlite3_sys::sqlite3_next_stmt(db, std::ptr::null_mut());
            while !stmt.is_null() {
                let sql = std::ffi::CStr::from_ptr(libsqlite3_sys::sqlite3_sql(stmt))
                    .to_string_lossy()
                    .into_owned();
                let reprepare = libsqlite3_sys::sqlite3_stmt_status(
                    stmt,
                    libsqlite3_sys::SQLITE_STMTSTATUS_REPREPARE,
                    1,
                );
                let run = libsqlite3_sys::sqlite3_stmt_status(
                    stmt,
                    libsqlite3_sys::SQLITE_STMTSTATUS_RUN,
                    1,
                );
                if run > 0 {
                    out.push((sql, reprepare, run));
                }
                stmt = libsqlite3_sys::sqlite3_next_stmt(db, stmt);
            }
        }
    }
    out
}

#[rocket::main]
async fn main() {
    // SAFETY: registers a plain function pointer; SQLite calls it for each new connection.
    unsafe {
        libsqlite3_sys::sqlite3_auto_extension(Some(record_connection));
    }
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment()).unwrap();
    let database = Database::open(&config.database_url, 2, 1).unwrap();
    let token = {
        let mut conn = database.get().unwrap();
        let actor = caltrace::db::audit::Actor::command_line();
        if caltrace::db::users::find_user(&mut conn, "bench-inspector")
            .unwrap()
            .is_none()
        {
            caltrace::db::users::create_user(
                &mut conn,
                &actor,
                "bench-inspector",
                &[caltrace::auth::UserRole::Inspector],
            )
            .unwrap();
        }
        caltrace::db::users::create_token(&mut conn, &actor, "bench-inspector")
            .unwrap()
            .1
    };
    let max_id: i64 = {
        let mut conn = database.get().unwrap();
        conn.batch_execute("SELECT 1").unwrap();
        caltrace::db::schema::instruments::table
            .select(diesel::dsl::max(caltrace::db::schema::instruments::id))
            .first::<Option<i64>>(&mut conn)
            .unwrap()
            .unwrap_or(0)
    };
    let ids: Vec<i64> = (0..10_000)
        .map(|i| 1 + (i * 7919) % max_id.max(1))
        .collect();
    let at = "2026-06-01";
    let body = serde_json::json!({"at": at, "ids": ids}).to_string();
    let client = Client::tracked(caltrace::rocket(
        caltrace::figment().merge(("log_level", "off")),
    ))
    .await
    .unwrap();
    let sql = raw_sql(&ids, at);
    let rounds = 15;
    let mut api = Vec::new();
    let mut raw = Vec::new();
    for round in 0..rounds + 2 {
        let started = Instant::now();
        let response = client
            .post("/api/v1/instruments/status")
            .header(ContentType::JSON)
            .header(Header::new("Authorization", format!("Bearer {token}")))
            .body(&body)
            .dispatch()
            .await;
        let text = response.into_string().await.unwrap();
        let elapsed = started.elapsed();
        assert!(text.len() > 10_000, "{}", &text[..text.len().min(300)]);
        let database = database.clone();
        let query = sql.clone();
        let raw_elapsed = rocket::tokio::task::spawn_blocking(move || {
            let mut conn = database.get().unwrap();
            let started = Instant::now();
            let rows = run_raw(&mut conn, &query);
            assert!(rows >= 10_000 * 9 / 10);
            started.elapsed()
        })
        .await
        .unwrap();
        if round >= 2 {
            api.push(elapsed);
            raw.push(raw_elapsed);
        }
    }
    let direct = {
        let database = database.clone();
        let ids = ids.clone();
        rocket::tokio::task::spawn_blocking(move || {
            let mut conn = database.get().unwrap();
            let at = chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d").unwrap();
            let mut samples = Vec::new();
            for _ in 0..7 {
                let started = Instant::now();
                let answers = caltrace::db::validity::validity_of(
                    &mut conn,
                    &ids,
                    at,
                    &caltrace::domain::people::Scope::Everything,
                )
                .unwrap();
                assert!(!answers.is_empty());
                samples.push(started.elapsed());
            }
            median(samples)
        })
        .await
        .unwrap()
    };
    println!(
        "  of which the validity queries: {:.1} ms",
        direct.as_secs_f64() * 1e3
    );
    {
        let database = database.clone();
        let token = token.clone();
        rocket::tokio::task::spawn_blocking(move || {
            let mut conn = database.get().unwrap();
            let at = chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d").unwrap();
            for id in 1..=100 {
                caltrace::db::validity::validity_of_one(&mut conn, id, at).unwrap();
                caltrace::db::users::user_for_token(&mut conn, &token).unwrap();
            }
            statement_counters();
            for id in 1..=1_000 {
                caltrace::db::validity::validity_of_one(&mut conn, id * 97 % 100_000 + 1, at)
                    .unwrap();
                caltrace::db::users::user_for_token(&mut conn, &token).unwrap();
            }
            println!("  statements of 1 000 single checks with token lookup (re-prepared / run):");
            for (sql, reprepare, run) in statement_counters() {
                let sql: String = sql.chars().take(110).collect();
                println!("    {reprepare:>5} / {run:>5}  {sql}");
            }
            let started = Instant::now();
            for id in 1..=5_000 {
                caltrace::db::validity::validity_of_one(&mut conn, id, at).unwrap();
            }
            let one = started.elapsed() / 5_000;
            let started = Instant::now();
            for _ in 1..=5_000 {
                caltrace::db::users::user_for_token(&mut conn, &token).unwrap();
            }
            let auth = started.elapsed() / 5_000;
            println!(
                "  single validity {:.1} µs, token lookup {:.1} µs",
                one.as_secs_f64() * 1e6,
                auth.as_secs_f64() * 1e6
            );
        })
        .await
        .unwrap();
    }
    dated_rows(&client, &token, &ids, &body).await;
    let (api, raw) = (median(api), median(raw));
    println!(
        "bulk validity, 10 000 ids: API {:.1} ms, raw SQL {:.1} ms, ratio {:.2} (target <= 3)",
        api.as_secs_f64() * 1e3,
        raw.as_secs_f64() * 1e3,
        api.as_secs_f64() / raw.as_secs_f64()
    );
}

/// DESIGN 9c: the same 10 000 instruments with a date per row (32 dates, as an agency's
/// visit to a factory; and 365, a year of use), in JSON and as CSV in and out, against
/// the one-date request; alternating rounds, medians of 7.
async fn dated_rows(client: &Client, token: &str, ids: &[i64], one_date: &str) {
    let day = |i: usize, dates: usize| {
        (chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
            + chrono::Duration::days((i % dates) as i64))
        .to_string()
    };
    let items = |dates: usize| {
        let rows: Vec<serde_json::Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| serde_json::json!({"id": id, "at": day(i, dates)}))
            .collect();
        serde_json::json!({ "items": rows }).to_string()
    };
    let csv: String = std::iter::once("id,at".to_string())
        .chain(
            ids.iter()
                .enumerate()
                .map(|(i, id)| format!("{id},{}", day(i, 32))),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let cases: [(&str, String, ContentType, &str); 4] = [
        (
            "one date (JSON)",
            one_date.to_string(),
            ContentType::JSON,
            "application/json",
        ),
        (
            "32 dates (JSON)",
            items(32),
            ContentType::JSON,
            "application/json",
        ),
        (
            "365 dates (JSON)",
            items(365),
            ContentType::JSON,
            "application/json",
        ),
        (
            "32 dates (CSV in, CSV out)",
            csv,
            ContentType::CSV,
            "text/csv",
        ),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..9 {
        for (i, (_, body, kind, accept)) in cases.iter().enumerate() {
            let started = Instant::now();
            let response = client
                .post("/api/v1/instruments/status")
                .header(kind.clone())
                .header(Header::new("Accept", accept.to_string()))
                .header(Header::new("Authorization", format!("Bearer {token}")))
                .body(body)
                .dispatch()
                .await;
            assert_eq!(response.status(), rocket::http::Status::Ok);
            let text = response.into_string().await.unwrap();
            assert!(text.len() > 10_000);
            if round >= 2 {
                samples[i].push(started.elapsed());
            }
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let baseline = medians[0].as_secs_f64();
    for ((name, ..), m) in cases.iter().zip(&medians) {
        println!(
            "bulk validity, 10 000 rows, {name}: {:.1} ms ({:.2}x one date)",
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() / baseline
        );
    }
}
