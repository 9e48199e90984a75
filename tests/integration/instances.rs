//! Several service instances over one database (DESIGN section 3: the service keeps no state of
//! its own): what one instance writes the other reads at once, and approvals racing across
//! instances still get gapless, consecutive certificate numbers.

use std::collections::BTreeSet;

use serde_json::json;

use crate::common::fixtures::{calibration, point};
use crate::common::live::{LiveDatabase, Server};
use crate::common::pressure_gauge;

#[test]
fn two_instances_share_one_database_and_one_numbering() {
    let database = LiveDatabase::new();
    let technician = database.user_with_token("tech", &["technician"]);
    let approver = database.user_with_token("appr", &["approver"]);
    let inspector = database.user_with_token("insp", &["inspector"]);
    let first = Server::start(&database, "first.log", &[]);
    let second = Server::start(&database, "second.log", &[]);
    let instances = [&first, &second];

    // Written through one instance, read through the other straight away.
    let created = first.post(
        "/api/v1/instruments",
        Some(&technician),
        &pressure_gauge("PG-SHARED", "SN-SHARED"),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let gauge = created.json()["id"].as_i64().unwrap();
    let read = second.get(&format!("/api/v1/instruments/{gauge}"), Some(&inspector));
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["asset_tag"], "PG-SHARED");

    const CALIBRATIONS: usize = 24;
    let mut submitted = Vec::new();
    for n in 0..CALIBRATIONS {
        let server = instances[n % 2];
        let body = calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
        let created = server.post("/api/v1/calibrations", Some(&technician), &body);
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        let path = format!("/api/v1/calibrations/{id}/submit");
        assert_eq!(
            server.post(&path, Some(&technician), &json!({})).status,
            200
        );
        submitted.push(id);
    }

    // Eight approvers at once, half through each instance.
    let numbers: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let ids: Vec<i64> = submitted.iter().copied().skip(worker).step_by(8).collect();
                let server = instances[worker % 2];
                let approver = approver.clone();
                scope.spawn(move || {
                    ids.into_iter()
                        .map(|id| {
                            let path = format!("/api/v1/calibrations/{id}/approve");
                            let answer = server.post(&path, Some(&approver), &json!({}));
                            assert_eq!(answer.status, 200, "{}", answer.body);
                            answer.json()["certificate_number"]
                                .as_str()
                                .unwrap()
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let serials: BTreeSet<u32> = numbers
        .iter()
        .map(|number| number.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        serials,
        (1..=CALIBRATIONS as u32).collect::<BTreeSet<_>>(),
        "gapless and distinct across instances: {numbers:?}"
    );
    // Both instances list every certificate.
    for server in instances {
        let listed = server.get("/api/v1/certificates?per_page=100", Some(&approver));
        assert_eq!(listed.json()["total"], CALIBRATIONS);
    }
    database.assert_audit_intact();
}

#[test]
fn instances_started_together_on_a_new_database_all_come_up() {
    let database = LiveDatabase::new();
    // Each applies the pending migrations at start; they must not trip over each other.
    let servers: Vec<Server> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..3)
            .map(|n| {
                let database = &database;
                scope.spawn(move || Server::start(database, &format!("start-{n}.log"), &[]))
            })
            .collect();
        starting.into_iter().map(|s| s.join().unwrap()).collect()
    });
    for server in &servers {
        let health = server.get("/healthz", None);
        assert_eq!(health.status, 200, "{}", health.body);
    }
}
