//! Scoped reads (DESIGN 9b, section 10: "scoped reads ≤ 1.2× the same read unscoped"):
//! the instrument list, bulk validity of 10 000 ids and the certificate list, each asked by an
//! unscoped user and by a customer user (and a scoped inspector where the route allows one),
//! through the API in process (rocket::local) on the generated data set, in alternating
//! rounds so machine noise falls on both. Prints the medians and the ratios.

use std::time::{Duration, Instant};

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::Database;
use diesel::prelude::*;
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A user with these roles bound to these customer codes, and a fresh token for it.
fn token(database: &Database, name: &str, roles: &[UserRole], codes: &[&str]) -> String {
    let mut conn = database.get().unwrap();
    let actor = Actor::command_line();
    if caltrace::db::users::find_user(&mut conn, name)
        .unwrap()
        .is_none()
    {
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        caltrace::workflow::users::create_user(
            &mut conn,
            &actor,
            name,
            roles,
            &Default::default(),
            &codes,
        )
        .unwrap();
    }
    caltrace::db::users::create_token(&mut conn, &actor, name)
        .unwrap()
        .1
}

/// One request's time; asserts 200 and a non-trivial answer.
async fn timed(client: &Client, get: Option<&str>, body: &str, token: &str) -> Duration {
    let auth = Header::new("Authorization", format!("Bearer {token}"));
    let started = Instant::now();
    let response = match get {
        Some(path) => client.get(path.to_string()).header(auth).dispatch().await,
        None => {
            client
                .post("/api/v1/instruments/status")
                .header(ContentType::JSON)
                .header(auth)
                .body(body)
                .dispatch()
                .await
        }
    };
    assert_eq!(response.status(), Status::Ok);
    let text = response.into_string().await.unwrap();
    let elapsed = started.elapsed();
    assert!(text.contains("\"total\"") || text.contains("\"results\""));
    elapsed
}

#[rocket::main]
async fn main() {
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment()).unwrap();
    let database = Database::open(&config.database_url, 2, 1).unwrap();
    let inspector = token(&database, "bench-inspector", &[UserRole::Inspector], &[]);
    let auditor = token(&database, "bench-auditor", &[UserRole::Auditor], &[]);
    let customer = token(
        &database,
        "bench-customer",
        &[UserRole::Customer],
        &["CUST-007"],
    );
    let scoped = token(
        &database,
        "bench-scoped-inspector",
        &[UserRole::Inspector],
        &["CUST-007", "CUST-123", "CUST-321"],
    );
    let max_id: i64 = {
        let mut conn = database.get().unwrap();
        caltrace::db::schema::instruments::table
            .select(diesel::dsl::max(caltrace::db::schema::instruments::id))
            .first::<Option<i64>>(&mut conn)
            .unwrap()
            .unwrap_or(0)
    };
    // The same 10 000 ids as bench/bulk_bench.rs, asked by everyone.
    let ids: Vec<i64> = (0..10_000)
        .map(|i| 1 + (i * 7919) % max_id.max(1))
        .collect();
    let bulk = serde_json::json!({"at": "2026-06-01", "ids": ids}).to_string();
    let client = Client::tracked(caltrace::rocket(
        caltrace::figment().merge(("log_level", "off")),
    ))
    .await
    .unwrap();
    let list = "/api/v1/instruments?page=1&per_page=50";
    let list_filtered = "/api/v1/instruments?page=1&per_page=50&customer=Customer%20007";
    let certificates = "/api/v1/certificates?page=1&per_page=50";
    let certificates_filtered = "/api/v1/certificates?page=1&per_page=50&customer=Customer%20007";
    // Per case: (who, token, GET path or None for the bulk POST); the first is the baseline.
    #[allow(clippy::type_complexity)]
    let cases: [(&str, &str, Vec<(&str, &str, Option<&str>)>); 3] = [
        (
            "instrument list, page 1 of 50",
            "",
            vec![
                ("unscoped inspector", &inspector, Some(list)),
                ("customer", &customer, Some(list)),
                ("scoped inspector", &scoped, Some(list)),
                (
                    "unscoped, ?customer= the same",
                    &inspector,
                    Some(list_filtered),
                ),
            ],
        ),
        (
            "bulk validity, 10 000 ids",
            &bulk,
            vec![
                ("unscoped inspector", &inspector, None),
                ("customer", &customer, None),
                ("scoped inspector", &scoped, None),
            ],
        ),
        (
            "certificate list, page 1 of 50",
            "",
            vec![
                ("unscoped auditor", &auditor, Some(certificates)),
                ("customer", &customer, Some(certificates)),
                (
                    "unscoped, ?customer= the same",
                    &auditor,
                    Some(certificates_filtered),
                ),
            ],
        ),
    ];
    for (name, body, users) in cases {
        // A list page takes a fraction of a millisecond: many rounds, or scheduler
        // noise decides the median.
        let rounds = if body.is_empty() && name.starts_with("instrument") {
            401
        } else {
            15
        };
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); users.len()];
        for round in 0..rounds + 2 {
            for (i, (_, token, get)) in users.iter().enumerate() {
                let elapsed = timed(&client, *get, body, token).await;
                if round >= 2 {
                    samples[i].push(elapsed);
                }
            }
        }
        let medians: Vec<Duration> = samples.into_iter().map(median).collect();
        let baseline = medians[0].as_secs_f64();
        let shown: Vec<String> = users
            .iter()
            .zip(&medians)
            .map(|((who, _, _), m)| {
                format!(
                    "{who} {:.2} ms ({:.2}x)",
                    m.as_secs_f64() * 1e3,
                    m.as_secs_f64() / baseline
                )
            })
            .collect();
        println!("{name}: {} (target <= 1.2x)", shown.join(", "));
    }
}
