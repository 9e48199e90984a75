//! Crash safety: the real binary is SIGKILLed in the middle of a stream of
//! acknowledged writes and restarted on the same database; every write that got
//! a 2xx must be there, certificate numbers must stay gapless and the audit
//! chain must still verify. Runs on SQLite, or on PostgreSQL with
//! CALTRACE_TEST_DATABASE_URL.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::fixtures::{calibration, point};
use crate::common::live::{request, LiveDatabase, Server};
use crate::common::pressure_gauge;

const WRITERS: usize = 4;
/// Kill, restart, write on: this many times.
const KILLS: usize = 3;
/// Acknowledged writes to wait for before each kill.
const WRITES_BEFORE_KILL: usize = 100;

/// What the server acknowledged (2xx) before it died.
#[derive(Default)]
struct Acknowledged {
    /// instrument id -> asset tag
    instruments: BTreeMap<i64, String>,
    /// calibration id -> (last acknowledged status, certificate number)
    calibrations: BTreeMap<i64, (String, Option<String>)>,
}

struct Tokens {
    technician: String,
    approver: String,
}

/// One writer: register an instrument, record a calibration of it, submit it,
/// approve it; again, until the server stops answering.
fn writer(
    port: u16,
    writer: &str,
    tokens: &Tokens,
    acknowledged: &Mutex<Acknowledged>,
    writes: &AtomicUsize,
    stop: &AtomicBool,
) -> usize {
    let post = |path: &str, token: &str, body: &serde_json::Value| {
        request(port, "POST", path, Some(token), Some(&body.to_string()))
    };
    let ack = || writes.fetch_add(1, Ordering::SeqCst);
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return i;
        }
        let tag = format!("CR-{writer}-{i}");
        let Ok(created) = post(
            "/api/v1/instruments",
            &tokens.technician,
            &pressure_gauge(&tag, &format!("SN-{tag}")),
        ) else {
            return i;
        };
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        acknowledged.lock().unwrap().instruments.insert(id, tag);
        ack();

        let body = calibration(id, &[], "2025-06-01", vec![point(0.5003, 0.0002)]);
        let Ok(created) = post("/api/v1/calibrations", &tokens.technician, &body) else {
            return i;
        };
        assert_eq!(created.status, 201, "{}", created.body);
        let cal = created.json()["id"].as_i64().unwrap();
        let record = |status: &str, number: Option<String>| {
            acknowledged
                .lock()
                .unwrap()
                .calibrations
                .insert(cal, (status.to_string(), number));
        };
        record("draft", None);
        ack();

        let path = format!("/api/v1/calibrations/{cal}/submit");
        let Ok(submitted) = post(&path, &tokens.technician, &json!({})) else {
            return i;
        };
        assert_eq!(submitted.status, 200, "{}", submitted.body);
        record("submitted", None);
        ack();

        let path = format!("/api/v1/calibrations/{cal}/approve");
        let Ok(approved) = post(&path, &tokens.approver, &json!({})) else {
            return i;
        };
        assert_eq!(approved.status, 200, "{}", approved.body);
        let number = approved.json()["certificate_number"]
            .as_str()
            .map(str::to_string);
        assert!(number.is_some(), "{}", approved.body);
        record("issued", number);
        ack();
    }
    unreachable!()
}

fn status_rank(status: &str) -> usize {
    ["draft", "submitted", "issued"]
        .iter()
        .position(|s| *s == status)
        .unwrap_or_else(|| panic!("unexpected status {status}"))
}

/// The sequence number at the end of `CT-2026-000123`.
fn serial(number: &str) -> u32 {
    number.rsplit('-').next().unwrap().parse().unwrap()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let database = LiveDatabase::new();
    let tokens = Arc::new(Tokens {
        technician: database.user_with_token("tech", &["technician"]),
        approver: database.user_with_token("appr", &["approver"]),
    });
    let auditor = database.user_with_token("aud", &["auditor"]);

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let writes = Arc::new(AtomicUsize::new(0));
    for kill in 0..KILLS {
        let server = Server::start(&database, &format!("serve-{kill}.log"), &[]);
        let port = server.port;
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (tokens, acknowledged, writes, stop) = (
                    tokens.clone(),
                    acknowledged.clone(),
                    writes.clone(),
                    stop.clone(),
                );
                let name = format!("{kill}-{w}");
                std::thread::spawn(move || {
                    writer(port, &name, &tokens, &acknowledged, &writes, &stop)
                })
            })
            .collect();
        let target = (kill + 1) * WRITES_BEFORE_KILL;
        let start = Instant::now();
        while writes.load(Ordering::SeqCst) < target {
            if start.elapsed() > Duration::from_secs(300) || threads.iter().any(|t| t.is_finished())
            {
                stop.store(true, Ordering::SeqCst);
                panic!(
                    "only {} writes acknowledged in {:?}:\n{}",
                    writes.load(Ordering::SeqCst),
                    start.elapsed(),
                    server.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // The writers are still running: the kill lands on requests in flight.
        server.kill();
        for thread in threads {
            thread.join().expect("writer panicked");
        }
    }
    let acknowledged = Arc::try_unwrap(acknowledged)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap();
    let total_acknowledged = writes.load(Ordering::SeqCst);

    let server = Server::start(&database, "serve-after.log", &[]);
    let mut found = 0;
    for (id, tag) in &acknowledged.instruments {
        let response = server.get(&format!("/api/v1/instruments/{id}"), Some(&auditor));
        assert_eq!(response.status, 200, "instrument {id}: {}", response.body);
        assert_eq!(response.json()["asset_tag"], tag.as_str());
        found += 1;
    }
    let mut issued = Vec::new();
    for (id, (status, number)) in &acknowledged.calibrations {
        let response = server.get(&format!("/api/v1/calibrations/{id}"), Some(&auditor));
        assert_eq!(response.status, 200, "calibration {id}: {}", response.body);
        let stored = response.json();
        let stored_status = stored["status"].as_str().unwrap();
        // The step after the last acknowledged one may have committed unacknowledged.
        assert!(
            status_rank(stored_status) >= status_rank(status),
            "calibration {id}: acknowledged {status}, found {stored_status}"
        );
        // One acknowledged step per status; counted once per acknowledged write.
        found += status_rank(status) + 1;
        if let Some(number) = number {
            assert_eq!(stored["certificate_number"], number.as_str());
        }
        if let Some(number) = stored["certificate_number"].as_str() {
            issued.push(number.to_string());
        }
    }
    assert_eq!(found, total_acknowledged);

    // Certificate numbers: gapless from 1, whatever approvals died mid-way.
    let listed = server.get("/api/v1/certificates?per_page=1000", Some(&auditor));
    assert_eq!(listed.status, 200, "{}", listed.body);
    let mut serials: Vec<u32> = listed.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| serial(item["number"].as_str().unwrap()))
        .collect();
    serials.sort_unstable();
    assert_eq!(serials, (1..=serials.len() as u32).collect::<Vec<_>>());
    assert!(serials.len() >= issued.len());

    // The audit chain survived the kill, and the service keeps writing on it.
    database.assert_audit_intact();
    let response = server.post(
        "/api/v1/instruments",
        Some(&tokens.technician),
        &pressure_gauge("AFTER-CRASH", "SN-AFTER"),
    );
    assert_eq!(response.status, 201, "{}", response.body);
    let id = response.json()["id"].as_i64().unwrap();
    let body = calibration(id, &[], "2025-06-01", vec![point(0.5003, 0.0002)]);
    let created = server.post("/api/v1/calibrations", Some(&tokens.technician), &body);
    let cal = created.json()["id"].as_i64().unwrap();
    let path = format!("/api/v1/calibrations/{cal}/submit");
    assert_eq!(
        server
            .post(&path, Some(&tokens.technician), &json!({}))
            .status,
        200
    );
    let path = format!("/api/v1/calibrations/{cal}/approve");
    let approved = server.post(&path, Some(&tokens.approver), &json!({}));
    assert_eq!(approved.status, 200, "{}", approved.body);
    let number = approved.json()["certificate_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(serial(&number), serials.len() as u32 + 1);
    server.kill();
    let verified = database.assert_audit_intact();
    println!(
        "crash safety ({}): {KILLS} SIGKILLs, {total_acknowledged} writes acknowledged, {found} found after restart \
         ({} instruments, {} calibrations, {} certificates); {}",
        database.backend(),
        acknowledged.instruments.len(),
        acknowledged.calibrations.len(),
        serials.len(),
        verified.trim()
    );
}
