use serde_json::json;

use crate::common::TestApp;

#[test]
fn the_demo_lab_shows_every_validity_outcome() {
    let app = TestApp::new();
    let today = chrono::Utc::now().date_naive();
    let summary = app
        .with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    assert_eq!(summary.tokens.len(), 5);
    assert_eq!(summary.certificates.len(), 13);
    let tags = [
        "NIM-P-001",
        "REF-P-01",
        "REF-P-02",
        "PG-0001",
        "PG-0002",
        "PG-0003",
        "PG-0004",
        "PG-0005",
        "PG-0006",
        "PG-0007",
        "TH-0001",
        "TH-0002",
        "DMM-0001",
        "DMM-0002",
        "REF-P-03",
        "PG-0008",
    ];
    let (_, bulk) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"asset_tags": tags}),
    );
    let reasons: Vec<&str> = bulk["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "valid",
            "valid",
            "valid",
            "valid",
            "expired",
            "out_of_tolerance",
            "certificate_withdrawn",
            "valid",
            "valid",
            "never_calibrated",
            "valid",
            "never_calibrated",
            "valid",
            "suspended",
            "not_traceable",
            "not_traceable"
        ]
    );
    let (_, superseded) = app.get("/api/v1/calibrations?status=superseded", Some("auditor"));
    assert_eq!(superseded["total"], 1);
    let (_, pending) = app.get("/api/v1/calibrations?status=submitted", Some("approver"));
    assert_eq!(pending["total"], 1);
    let (_, recalls) = app.get("/api/v1/recalls?within=30", Some("inspector"));
    let recalled: Vec<&str> = recalls["customers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["instruments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["asset_tag"].as_str().unwrap())
        })
        .collect();
    assert!(
        recalled.contains(&"PG-0002") && recalled.contains(&"PG-0006"),
        "{recalls}"
    );
    // The broken chain is named where it breaks: the old tester expired before use.
    let (_, gauge) = app.get(
        "/api/v1/instruments/by-tag/PG-0008/status",
        Some("inspector"),
    );
    let (_, report) = app.get(
        &format!("/api/v1/instruments/{}/traceability", gauge["id"]),
        Some("inspector"),
    );
    assert_eq!(report["traceable"], false);
    assert_eq!(report["broken_link"]["reason"], "standard_expired_at_use");
    assert_eq!(
        report["broken_link"]["certificate_number"],
        "NIM-2024-L-0777"
    );
    let (_, valid) = app.get(
        "/api/v1/instruments/by-tag/PG-0006/status",
        Some("inspector"),
    );
    let (_, report) = app.get(
        &format!("/api/v1/instruments/{}/traceability", valid["id"]),
        Some("inspector"),
    );
    assert_eq!(report["traceable"], true, "{report}");
    assert_eq!(report["national_standards"][0]["institute"], "NIM");
    assert_eq!(
        report["accredited_roots"][0]["issuer"]["accreditation_body"],
        "CNAS"
    );
    // Seeding twice is refused rather than duplicating the lab.
    assert!(app
        .with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .is_err());
}
