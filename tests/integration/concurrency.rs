//! 200 concurrent clients against the real server, mixing reads (health,
//! lists, instrument reads, validity) and writes (instrument registration and
//! the calibration workflow through to certificate issue, with different users
//! so four eyes holds). No response may be a 5xx or mention a locked database,
//! nothing acknowledged may be lost, and certificate numbers must come out
//! gapless and consecutive. SQLite by default; PostgreSQL with
//! CALTRACE_TEST_DATABASE_URL.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::common::fixtures::{calibration, point};
use crate::common::live::{request, LiveDatabase, Response, Server};
use crate::common::pressure_gauge;

const CLIENTS: usize = 200;
/// Each client repeats its mix this many times, so contention lasts.
const ROUNDS: usize = 3;
const TEAM: usize = 4;

struct Tokens {
    admin: String,
    inspector: String,
    auditor: String,
    technicians: Vec<String>,
    approvers: Vec<String>,
}

#[derive(Default)]
struct Outcome {
    requests: usize,
    writes: usize,
    reads: usize,
    failures: Vec<String>,
    /// instrument id -> asset tag, for every acknowledged registration
    instruments: BTreeMap<i64, String>,
    /// calibration id -> certificate number, for every acknowledged approval
    certificates: BTreeMap<i64, String>,
}

struct Client<'a> {
    port: u16,
    outcome: &'a Mutex<Outcome>,
}

impl Client<'_> {
    /// Sends one request; records a failure for a transport error, a 5xx, a
    /// locked database or a status outside `expected`.
    fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
        expected: &[u16],
    ) -> Option<Response> {
        let body = body.map(|b| b.to_string());
        let result = request(self.port, method, path, Some(token), body.as_deref());
        let mut outcome = self.outcome.lock().unwrap();
        outcome.requests += 1;
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                outcome.failures.push(format!("{method} {path}: {error}"));
                return None;
            }
        };
        let locked = response
            .body
            .to_ascii_lowercase()
            .contains("database is locked");
        if response.status >= 500 || locked || !expected.contains(&response.status) {
            outcome.failures.push(format!(
                "{method} {path}: {} {}",
                response.status, response.body
            ));
            return None;
        }
        if method == "GET" {
            outcome.reads += 1;
        } else {
            outcome.writes += 1;
        }
        Some(response)
    }

    fn register(&self, token: &str, tag: &str) -> Option<i64> {
        let created = self.send(
            "POST",
            "/api/v1/instruments",
            token,
            Some(pressure_gauge(tag, &format!("SN-{tag}"))),
            &[201],
        )?;
        let id = created.json()["id"].as_i64()?;
        self.outcome
            .lock()
            .unwrap()
            .instruments
            .insert(id, tag.to_string());
        Some(id)
    }

    /// Register, record, submit, approve (by someone else), read back.
    fn calibrate(&self, tokens: &Tokens, n: usize) -> Option<()> {
        let technician = &tokens.technicians[n % TEAM];
        let approver = &tokens.approvers[(n / TEAM) % TEAM];
        let id = self.register(technician, &format!("CC-{n}"))?;
        self.send(
            "GET",
            &format!("/api/v1/instruments/{id}"),
            technician,
            None,
            &[200],
        )?;
        let body = calibration(id, &[], "2025-06-01", vec![point(0.5003, 0.0002)]);
        let created = self.send(
            "POST",
            "/api/v1/calibrations",
            technician,
            Some(body),
            &[201],
        )?;
        let cal = created.json()["id"].as_i64()?;
        let path = format!("/api/v1/calibrations/{cal}/submit");
        self.send("POST", &path, technician, Some(json!({})), &[200])?;
        let path = format!("/api/v1/calibrations/{cal}/approve");
        let approved = self.send("POST", &path, approver, Some(json!({})), &[200])?;
        let number = approved.json()["certificate_number"].as_str()?.to_string();
        self.outcome
            .lock()
            .unwrap()
            .certificates
            .insert(cal, number);
        let read = self.send(
            "GET",
            &format!("/api/v1/instruments/{id}/status"),
            &tokens.inspector,
            None,
            &[200],
        )?;
        // Performed 2025-06-01 with a 365-day interval: on record, and expired by now.
        if read.json()["certificate_number"].as_str().is_none() {
            self.outcome.lock().unwrap().failures.push(format!(
                "status of {id} names no certificate: {}",
                read.body
            ));
        }
        Some(())
    }

    fn read_mix(&self, tokens: &Tokens, n: usize) {
        let token = &tokens.inspector;
        let guess = (n % 600) + 1;
        self.send("GET", "/healthz", token, None, &[200]);
        self.send(
            "GET",
            "/api/v1/instruments?per_page=100",
            token,
            None,
            &[200],
        );
        self.send(
            "GET",
            &format!("/api/v1/instruments/{guess}"),
            token,
            None,
            &[200, 404],
        );
        self.send(
            "GET",
            &format!("/api/v1/instruments/{guess}/status"),
            token,
            None,
            &[200, 404],
        );
        self.send(
            "GET",
            "/api/v1/calibrations?status=issued",
            token,
            None,
            &[200],
        );
        self.send("GET", "/api/v1/recalls?within=30", token, None, &[200]);
        self.send(
            "GET",
            "/api/v1/certificates?per_page=100",
            &tokens.auditor,
            None,
            &[200],
        );
        self.send(
            "POST",
            "/api/v1/instruments/status",
            token,
            Some(json!({"ids": [1, 2, 3, guess]})),
            &[200],
        );
    }
}

#[test]
fn two_hundred_clients_mixing_reads_and_writes() {
    let database = LiveDatabase::new();
    let tokens = Arc::new(Tokens {
        admin: database.user_with_token("admin", &["admin"]),
        inspector: database.user_with_token("inspector", &["inspector"]),
        auditor: database.user_with_token("auditor", &["auditor"]),
        technicians: (0..TEAM)
            .map(|i| database.user_with_token(&format!("tech{i}"), &["technician"]))
            .collect(),
        approvers: (0..TEAM)
            .map(|i| database.user_with_token(&format!("appr{i}"), &["approver"]))
            .collect(),
    });
    // The shipped configuration (Rocket.toml): pool size, busy timeout and all.
    let server = Server::start(&database, "serve.log", &[]);
    let port = server.port;
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (tokens, outcome, barrier) = (tokens.clone(), outcome.clone(), barrier.clone());
            std::thread::spawn(move || {
                let client = Client {
                    port,
                    outcome: &outcome,
                };
                barrier.wait();
                for round in 0..ROUNDS {
                    let n = n + round * CLIENTS;
                    match n % 4 {
                        0 => {
                            client.calibrate(&tokens, n / 4);
                        }
                        1 => {
                            for k in 0..3 {
                                let token = if k == 0 {
                                    &tokens.admin
                                } else {
                                    &tokens.technicians[n % TEAM]
                                };
                                if let Some(id) = client.register(token, &format!("RG-{n}-{k}")) {
                                    client.send(
                                        "GET",
                                        &format!("/api/v1/instruments/{id}"),
                                        &tokens.inspector,
                                        None,
                                        &[200],
                                    );
                                }
                            }
                        }
                        _ => client.read_mix(&tokens, n),
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client panicked");
    }
    let elapsed = started.elapsed();
    let outcome = Arc::try_unwrap(outcome).ok().unwrap().into_inner().unwrap();
    let log = server.log_text();
    assert!(
        outcome.failures.is_empty(),
        "{} of {} requests failed:\n{}",
        outcome.failures.len(),
        outcome.requests,
        outcome.failures.join("\n")
    );
    assert!(
        !log.to_ascii_lowercase().contains("database is locked"),
        "{log}"
    );
    let calibrators = CLIENTS / 4 * ROUNDS;
    assert_eq!(outcome.certificates.len(), calibrators);
    assert_eq!(outcome.instruments.len(), calibrators * 4);

    // Nothing acknowledged is lost.
    for (id, tag) in &outcome.instruments {
        let response = server.get(&format!("/api/v1/instruments/{id}"), Some(&tokens.auditor));
        assert_eq!(response.status, 200, "instrument {id}: {}", response.body);
        assert_eq!(response.json()["asset_tag"], tag.as_str());
    }
    for (cal, number) in &outcome.certificates {
        let response = server.get(
            &format!("/api/v1/calibrations/{cal}"),
            Some(&tokens.auditor),
        );
        assert_eq!(response.json()["certificate_number"], number.as_str());
    }
    // Certificate numbers: one per approval, gapless and consecutive from 1.
    let mut serials: Vec<u32> = outcome
        .certificates
        .values()
        .map(|number| number.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    serials.sort_unstable();
    assert_eq!(serials, (1..=calibrators as u32).collect::<Vec<_>>());
    let listed = server.get("/api/v1/certificates?per_page=1000", Some(&tokens.auditor));
    assert_eq!(listed.json()["total"], calibrators);
    let listed = server.get("/api/v1/instruments?per_page=1000", Some(&tokens.auditor));
    assert_eq!(listed.json()["total"], outcome.instruments.len());
    database.assert_audit_intact();
    println!(
        "concurrency ({}): {CLIENTS} clients, {} requests ({} reads, {} writes) in {:.1} s, \
         0 failures; {} instruments, {} certificates numbered 1..={}",
        database.backend(),
        outcome.requests,
        outcome.reads,
        outcome.writes,
        elapsed.as_secs_f64(),
        outcome.instruments.len(),
        outcome.certificates.len(),
        serials.len()
    );
}
