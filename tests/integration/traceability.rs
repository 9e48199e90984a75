use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, external, issue, point, register};
use crate::common::{fields, TestApp};

fn report(app: &TestApp, id: i64, at: &str) -> Value {
    let (status, report) = app.get(
        &format!("/api/v1/instruments/{id}/traceability?at={at}"),
        Some("inspector"),
    );
    assert_eq!(status, Status::Ok, "{report}");
    report
}

fn reason(app: &TestApp, id: i64, at: &str) -> String {
    let (_, body) = app.get(
        &format!("/api/v1/instruments/{id}/status?at={at}"),
        Some("inspector"),
    );
    body["reason"].as_str().unwrap().to_string()
}

/// A chain of `depth` reference standards below a national standard, each
/// calibrated ten days after the one above; returns (national, levels…).
fn chain(app: &TestApp, depth: usize) -> Vec<i64> {
    let mut ids = vec![register(app, "NIM-P", "national")];
    for level in 1..=depth {
        let id = register(
            app,
            &format!("L{level}"),
            if level == depth {
                "working"
            } else {
                "reference"
            },
        );
        let date = format!("2026-01-{:02}", 1 + level * 3);
        issue(
            app,
            &calibration(id, &[ids[level - 1]], &date, vec![point(0.5001, 0.0002)]),
        );
        ids.push(id);
    }
    ids
}

#[test]
fn chains_of_depth_one_to_six_reach_the_national_standard() {
    for depth in 1..=6 {
        let app = TestApp::new();
        let ids = chain(&app, depth);
        let r = report(&app, *ids.last().unwrap(), "2026-06-01");
        assert_eq!(r["traceable"], true, "depth {depth}: {r}");
        assert_eq!(r["broken_link"], Value::Null);
        assert_eq!(
            r["national_standards"],
            json!([{"instrument_id": ids[0], "institute": "NIM", "country": "CN"}])
        );
        // Walk the tree down to the root.
        let mut node = &r["chain"];
        for level in (1..=depth).rev() {
            assert_eq!(node["instrument"]["id"], ids[level]);
            assert_eq!(node["link_valid"], true);
            assert_eq!(
                node["expanded_uncertainty"],
                json!({"value": 0.0002, "unit": "MPa"})
            );
            node = &node["standards"][0];
        }
        assert_eq!(node["instrument"]["role"], "national");
        assert_eq!(reason(&app, *ids.last().unwrap(), "2026-06-01"), "valid");
    }
}

#[test]
fn the_first_broken_link_depth_first_is_named_and_passed_on() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let good = register(&app, "REF-GOOD", "reference");
    let stale = register(&app, "REF-STALE", "reference");
    let transfer = register(&app, "REF-TRANSFER", "reference");
    let gauge = register(&app, "PG-1", "working");
    issue(
        &app,
        &calibration(good, &[national], "2026-01-05", vec![point(0.5001, 0.0001)]),
    );
    // Calibrated 2024-01-05 with a 365-day interval: expired when used in 2026.
    let old = issue(
        &app,
        &calibration(
            stale,
            &[national],
            "2024-01-05",
            vec![point(0.5001, 0.0001)],
        ),
    );
    issue(
        &app,
        &calibration(
            transfer,
            &[stale],
            "2026-02-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    issue(
        &app,
        &calibration(
            gauge,
            &[good, transfer],
            "2026-03-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    let r = report(&app, gauge, "2026-06-01");
    assert_eq!(r["traceable"], false);
    assert_eq!(
        r["broken_link"],
        json!({"instrument_id": stale, "certificate_number": old["certificate_number"], "reason": "standard_expired_at_use"})
    );
    // Standards keep their order; the transfer standard's own link is valid, the deeper one is not.
    assert_eq!(r["chain"]["standards"][0]["instrument"]["id"], good);
    assert_eq!(r["chain"]["standards"][0]["link_valid"], true);
    assert_eq!(r["chain"]["standards"][1]["instrument"]["id"], transfer);
    assert_eq!(r["chain"]["standards"][1]["link_valid"], true);
    assert_eq!(
        r["chain"]["standards"][1]["standards"][0]["link_valid"],
        false
    );
    assert_eq!(
        r["chain"]["standards"][1]["standards"][0]["reason"],
        "standard_expired_at_use"
    );
    assert_eq!(reason(&app, gauge, "2026-06-01"), "not_traceable");
    assert_eq!(reason(&app, transfer, "2026-06-01"), "not_traceable");
    assert_eq!(reason(&app, good, "2026-06-01"), "valid");
}

#[test]
fn later_changes_to_a_standard_reach_what_rests_on_it() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let reference = register(&app, "REF-1", "reference");
    let gauge = register(&app, "PG-1", "working");
    let standard = issue(
        &app,
        &calibration(
            reference,
            &[national],
            "2026-01-05",
            vec![point(0.5001, 0.0001)],
        ),
    );
    issue(
        &app,
        &calibration(
            gauge,
            &[reference],
            "2026-03-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    assert_eq!(reason(&app, gauge, "2026-06-01"), "valid");
    // Withdrawing the standard's certificate breaks the gauge's chain.
    let number = standard["certificate_number"].as_str().unwrap();
    app.post(
        &format!("/api/v1/certificates/{number}/withdraw"),
        Some("approver"),
        &json!({"reason": "standard damaged"}),
    );
    assert_eq!(reason(&app, gauge, "2026-06-01"), "not_traceable");
    let r = report(&app, gauge, "2026-06-01");
    assert_eq!(r["broken_link"]["reason"], "certificate_withdrawn");
    assert_eq!(r["broken_link"]["instrument_id"], reference);
    // No path at all: a working instrument calibrated against nothing.
    let orphan = register(&app, "PG-2", "working");
    issue(
        &app,
        &calibration(orphan, &[], "2026-03-01", vec![point(0.5001, 0.0002)]),
    );
    let r = report(&app, orphan, "2026-06-01");
    assert_eq!(
        (
            r["broken_link"]["reason"].as_str(),
            r["broken_link"]["instrument_id"].as_i64()
        ),
        (Some("no_path_to_national_standard"), Some(orphan))
    );
    let never = register(&app, "PG-3", "working");
    let r = report(&app, never, "2026-06-01");
    assert_eq!(
        r["broken_link"],
        json!({"instrument_id": never, "certificate_number": null, "reason": "uncalibrated"})
    );
    assert_eq!(r["chain"]["standards"], json!([]));
    assert_eq!(
        app.get("/api/v1/instruments/999/traceability", Some("inspector"))
            .0,
        Status::NotFound
    );
}

/// One issued calibration of `instrument` against one standard: a single as-found point
/// (0.5001 MPa indicated at 0.5 MPa) with the stated expanded uncertainty `u` in MPa.
fn issue_one_point(app: &TestApp, instrument: i64, standard: i64, date: &str, u: f64) -> Value {
    issue(
        app,
        &calibration(instrument, &[standard], date, vec![point(0.5001, u)]),
    )
}

/// The stored chain state is recomputed for everything downstream, in both directions and at
/// every level: a standard calibrated late mends the chains resting on it; withdrawing that
/// certificate breaks them again; a branch that never rested on it is left alone.
#[test]
fn chain_state_downstream_follows_a_standard_both_ways_at_every_level() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let reference = register(&app, "REF-1", "reference");
    let transfer = register(&app, "TR-1", "reference");
    let gauge = register(&app, "PG-1", "working");
    let bystander = register(&app, "PG-2", "working");
    // The transfer standard and the gauge are calibrated before the reference has anything on
    // record: their chains break at the reference.
    issue_one_point(&app, transfer, reference, "2026-02-01", 0.0001);
    let gauge_calibration = issue_one_point(&app, gauge, transfer, "2026-03-01", 0.0002)["id"]
        .as_i64()
        .unwrap();
    issue_one_point(&app, bystander, national, "2026-03-01", 0.0002);
    let reasons =
        |app: &TestApp| [transfer, gauge, bystander].map(|id| reason(app, id, "2026-06-01"));
    assert_eq!(reasons(&app), ["not_traceable", "not_traceable", "valid"]);
    // The reference's certificate, dated before both uses, is entered late.
    let standard = issue_one_point(&app, reference, national, "2026-01-05", 0.00005);
    assert_eq!(reasons(&app), ["valid", "valid", "valid"]);
    let number = standard["certificate_number"].as_str().unwrap();
    app.post(
        &format!("/api/v1/certificates/{number}/withdraw"),
        Some("approver"),
        &json!({"reason": "standard damaged"}),
    );
    assert_eq!(reasons(&app), ["not_traceable", "not_traceable", "valid"]);
    assert_eq!(
        report(&app, gauge, "2026-06-01")["broken_link"]["reason"],
        "certificate_withdrawn"
    );
    // Each derived change is audited on the calibration it changed, in the name of whoever
    // caused it and saying what did (issue 21), from its own approval on a broken chain.
    let chain_entries = chain_audit(&app, gauge_calibration);
    let standard_id = standard["id"].as_i64().unwrap();
    assert_eq!(
        chain_entries,
        [
            (
                "chain_broken".to_string(),
                "approver".to_string(),
                format!("calibration {gauge_calibration} approved"),
                Some("REF-1: standard not calibrated at use".to_string())
            ),
            (
                "chain_mended".to_string(),
                "approver".to_string(),
                format!("calibration {standard_id} approved"),
                None
            ),
            (
                "chain_broken".to_string(),
                "approver".to_string(),
                format!("certificate {number} withdrawn: standard damaged"),
                Some(format!(
                    "REF-1, certificate {number}: certificate withdrawn"
                ))
            ),
        ]
    );
    // The bystander's chain never changed, so its calibration has no such entry.
    let (_, all) = app.get(
        "/api/v1/audit?entity=calibration&per_page=1000",
        Some("auditor"),
    );
    let touched: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("chain_"))
        .map(|e| e["entity_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        touched,
        ["1", "2", "1", "2", "1", "2"],
        "transfer and gauge: broken at approval, mended, broken"
    );
}

/// (action, user, cause, broken link) of a calibration's chain-state audit entries, oldest first.
fn chain_audit(app: &TestApp, calibration: i64) -> Vec<(String, String, String, Option<String>)> {
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={calibration}"),
        Some("auditor"),
    );
    let mut entries: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("chain_"))
        .collect();
    entries.sort_by_key(|e| e["seq"].as_i64());
    entries
        .iter()
        .map(|e| {
            let after: Value = serde_json::from_str(e["after"].as_str().unwrap()).unwrap();
            (
                e["action"].as_str().unwrap().to_string(),
                e["user_name"].as_str().unwrap().to_string(),
                after["cause"].as_str().unwrap().to_string(),
                after["broken_link"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn an_accredited_laboratory_is_a_root_and_a_same_day_cycle_terminates() {
    let app = TestApp::new();
    let reference = register(&app, "REF-ACC", "reference");
    let gauge = register(&app, "PG-1", "working");
    let mut body = external(reference, &[], "2026-01-05", "SPCC-26-0815");
    body["issuer"]["accreditation"] = json!({"body": "CNAS", "number": "L1234"});
    issue(&app, &body);
    issue(
        &app,
        &calibration(
            gauge,
            &[reference],
            "2026-02-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    let r = report(&app, gauge, "2026-06-01");
    assert_eq!(r["traceable"], true, "{r}");
    assert_eq!(r["accredited_roots"][0]["instrument_id"], reference);
    assert_eq!(
        r["accredited_roots"][0]["issuer"]["accreditation_number"],
        "L1234"
    );

    let a = register(&app, "LOOP-A", "reference");
    let b = register(&app, "LOOP-B", "reference");
    issue(
        &app,
        &calibration(a, &[b], "2026-03-01", vec![point(0.5001, 0.0002)]),
    );
    issue(
        &app,
        &calibration(b, &[a], "2026-03-01", vec![point(0.5001, 0.0002)]),
    );
    let r = report(&app, a, "2026-06-01");
    assert_eq!(r["traceable"], false);
    assert_eq!(r["broken_link"]["reason"], "cycle");
}

/// Impact across three levels: a standard found out of tolerance, everything it touched.
#[test]
fn impact_across_three_levels_with_the_cut_off_and_a_correction() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let standard = register(&app, "REF-1", "reference");
    let transfer = register(&app, "REF-2", "reference");
    let gauge = register(&app, "PG-1", "working");
    let other = register(&app, "PG-2", "working");
    issue(
        &app,
        &calibration(
            standard,
            &[national],
            "2026-01-02",
            vec![point(0.5001, 0.00005)],
        ),
    );
    let depth1 = issue(
        &app,
        &calibration(
            transfer,
            &[standard],
            "2026-02-01",
            vec![point(0.5001, 0.0001)],
        ),
    );
    let depth2 = issue(
        &app,
        &calibration(
            gauge,
            &[transfer],
            "2026-03-01",
            vec![point(0.5009, 0.0002)],
        ),
    );
    // The transfer standard's next calibration (not using REF-1) cuts off what comes after.
    issue(
        &app,
        &calibration(
            transfer,
            &[national],
            "2026-04-01",
            vec![point(0.5001, 0.0001)],
        ),
    );
    issue(
        &app,
        &calibration(
            other,
            &[transfer],
            "2026-04-15",
            vec![point(0.5001, 0.0002)],
        ),
    );
    // Outside the period: not listed.
    issue(
        &app,
        &calibration(
            other,
            &[standard],
            "2025-12-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    let (status, impact) = app.get(
        &format!("/api/v1/instruments/{standard}/impact?from=2026-01-01&to=2026-06-30"),
        Some("auditor"),
    );
    assert_eq!(status, Status::Ok, "{impact}");
    let listed: Vec<(i64, i64)> = impact["calibrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["depth"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (depth1["id"].as_i64().unwrap(), 1),
            (depth2["id"].as_i64().unwrap(), 2)
        ]
    );
    assert_eq!(impact["instruments"], json!([transfer, gauge]));
    assert_eq!(
        impact["certificates"],
        json!([depth1["certificate_number"], depth2["certificate_number"]])
    );
    assert_eq!(impact["customers"], json!(["ACME Valves"]));
    assert_eq!(
        app.get(
            &format!("/api/v1/instruments/{standard}/impact"),
            Some("inspector")
        )
        .0,
        Status::Forbidden
    );

    // The standard's reference values were really 0.0008 MPa low: the transfer standard's
    // as-found error of +0.0001 was really −0.0007 (still within ±0.001), and with a corrected
    // uncertainty... the decision of the depth-1 point changes only if it crosses a limit.
    let (status, corrected) = app.post(
        &format!("/api/v1/instruments/{standard}/impact"),
        Some("approver"),
        &json!({"from": "2026-01-01", "to": "2026-06-30",
                "correction": {"reference_offset": {"value": 1.2, "unit": "kPa"}, "standard_uncertainty": {"value": 0.0001, "unit": "MPa"}}}),
    );
    assert_eq!(status, Status::Ok, "{corrected}");
    // e = 0.0001 MPa − 1.2 kPa = −0.0011 MPa: outside ±0.001 MPa, so pass → fail.
    assert_eq!(
        corrected["decision_changes"],
        json!([{"calibration_id": depth1["id"], "point": 0, "before": "pass", "after": "fail"}])
    );
    let (status, problem) = app.post(
        &format!("/api/v1/instruments/{standard}/impact"),
        Some("approver"),
        &json!({"correction": {"reference_offset": {"value": 1, "unit": "K"}, "standard_uncertainty": {"value": 0.0001, "unit": "MPa"}}}),
    );
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["correction".to_string()])
    );
}

/// A stored decision rule that cannot be read is corrupt data: impact analysis
/// reports it as an error instead of re-deciding under `simple` as if nothing
/// were wrong.
#[test]
fn impact_refuses_an_unreadable_stored_decision_rule() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let standard = register(&app, "REF-1", "reference");
    let gauge = register(&app, "PG-1", "working");
    issue_one_point(&app, standard, national, "2026-01-10", 0.0001);
    let used = issue_one_point(&app, gauge, standard, "2026-02-10", 0.0002);
    let id = used["id"].as_i64().unwrap();
    app.with_conn(|conn| {
        use caltrace::db::schema::calibrations;
        use diesel::prelude::*;
        diesel::update(calibrations::table.find(id))
            .set(calibrations::decision_rule.eq("guardband??"))
            .execute(conn)
            .unwrap();
    });
    let correction = json!({"correction": {"reference_offset": {"value": 0.1, "unit": "kPa"},
                                           "standard_uncertainty": {"value": 0.0001, "unit": "MPa"}}});
    let (status, problem) = app.post(
        &format!("/api/v1/instruments/{standard}/impact"),
        Some("approver"),
        &correction,
    );
    assert_eq!(status, Status::InternalServerError, "{problem}");
    assert!(problem.get("decision_changes").is_none(), "{problem}");
}
