use serde_json::json;

use crate::common::TestApp;

#[test]
fn the_demo_lab_shows_every_validity_outcome() {
    let app = TestApp::new();
    let today = chrono::Utc::now().date_naive();
    let summary = app
        .with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    // One per role; the customer user is bound to ACME Valves and sees its gauges only.
    assert_eq!(summary.tokens.len(), 6);
    let customer = &summary.tokens[5];
    assert_eq!(customer.0, "customer");
    let (_, own) = app.get("/api/v1/instruments", Some(&customer.1));
    let own: Vec<&str> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["asset_tag"].as_str().unwrap())
        .collect();
    assert_eq!(own, ["PG-0001", "PG-0002", "PG-0003", "PG-0004"]);
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

/// Every pressure point of the demo's own calibrations has its U from a budget that names its
/// standard (issue 22), none is below its standard's U at that point, and the mid-range point
/// carries its repeat readings.
#[test]
fn the_demos_pressure_points_have_budgets_resting_on_their_standards() {
    let app = TestApp::new();
    let today = chrono::Utc::now().date_naive();
    app.with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    let (_, list) = app.get("/api/v1/calibrations?per_page=200", Some("auditor"));
    // Every external calibration keeps its issuer's file (DESIGN 9c), a PDF readers open.
    let externals: Vec<&serde_json::Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] == "external")
        .collect();
    assert!(externals.len() >= 9, "{}", externals.len());
    for item in externals {
        let id = item["id"].as_i64().unwrap();
        let file = app.bytes(
            &format!("/api/v1/calibrations/{id}/issuer-certificate"),
            Some("auditor"),
        );
        let number = item["issuer"]["certificate_number"].as_str().unwrap();
        let text = crate::common::pdf_text(&file).expect("pdftotext reads it");
        assert!(text.contains(number), "{number}: {text}");
    }
    let mut pressure_points = 0;
    for item in list["items"].as_array().unwrap() {
        if item["kind"] != "internal" || item["points"][0]["reference"]["unit"] != "MPa" {
            continue;
        }
        let (_, record) = app.get(
            &format!("/api/v1/calibrations/{}", item["id"]),
            Some("auditor"),
        );
        assert_eq!(record["uncertainty_below_standard"], json!([]), "{record}");
        for point in record["points"].as_array().unwrap() {
            pressure_points += 1;
            let budget = &point["budget"];
            assert_eq!(
                point["expanded_uncertainty"], budget["expanded_uncertainty"],
                "{point}"
            );
            let standard = &budget["components"][0];
            assert_eq!(standard["name"], "reference standard (its certificate)");
            assert!(
                record["standards_used"]
                    .as_array()
                    .unwrap()
                    .contains(&standard["standard"]),
                "{record}"
            );
            let repeated = point["reference"]["value"] == 0.5;
            assert_eq!(point["readings"].is_array(), repeated, "{point}");
            assert_eq!(
                budget["components"].as_array().unwrap().len(),
                if repeated { 5 } else { 4 }
            );
        }
    }
    // 3 points each: the valid, expired, failed, twice withdrawn-gauge, amended (twice),
    // pending, transfer and broken-chain gauges, and 6 for the adjusted one.
    assert_eq!(pressure_points, 3 * 10 + 6);
    // The valid gauge PG-0001 against REF-P-01 (U = 0.025 kPa, k = 2) at 0.2 MPa:
    // u² = 0.0125² + (0.05² + 0.1² + 0.05²)/3 kPa² = 0.00515625 kPa², u = 0.0718 kPa.
    let (_, gauge) = app.get(
        "/api/v1/instruments/by-tag/PG-0001/status",
        Some("inspector"),
    );
    let (_, history) = app.get(
        &format!("/api/v1/calibrations?instrument_id={}", gauge["id"]),
        Some("auditor"),
    );
    let point = &history["items"][0]["points"][0];
    let u = point["budget"]["combined_standard_uncertainty"]["value"]
        .as_f64()
        .unwrap();
    assert!((u - 0.00515625e-6_f64.sqrt()).abs() < 1e-12, "{point}");
    // Every component Type B with infinite degrees of freedom: k = z(0.97725) = 2.0000024,
    // U = 0.1436 kPa.
    let k = point["coverage_factor"].as_f64().unwrap();
    assert!((k - 2.0000024).abs() < 1e-6, "{point}");
    assert_eq!(point["expanded_uncertainty"]["unit"], "MPa");
    let expanded = point["expanded_uncertainty"]["value"].as_f64().unwrap();
    assert!((expanded - k * u).abs() < 1e-15, "{point}");
    assert!((expanded - 0.000143614).abs() < 1e-9, "{point}");
}

/// On SQLite the single status check runs the statement `db::status_reader` keeps
/// prepared; PostgreSQL runs the diesel form. Both must give every answer alike:
/// every demo instrument (every reason code), an unknown one, on dates before the
/// first calibration, on due dates and the days after them, and today.
#[test]
fn the_prepared_status_statement_answers_as_the_diesel_form() {
    let app = TestApp::new();
    let Some(readers) = app.database.status_readers() else {
        return; // PostgreSQL: there is only the diesel form.
    };
    let today = chrono::Utc::now().date_naive();
    app.with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    let token = app.tokens["inspector"].clone();
    let hash = caltrace::db::users::hash_token(&token);
    let (_, listed) = app.get("/api/v1/instruments?per_page=100", Some("inspector"));
    let mut ids: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|instrument| instrument["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 16, "{listed}");
    ids.push(ids.iter().max().unwrap() + 1000);
    let mut dates = vec![chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), today];
    for &id in &ids {
        let (_, status) = app.get(
            &format!("/api/v1/instruments/{id}/status"),
            Some("inspector"),
        );
        if let Some(due) = status["due_on"].as_str() {
            let due: chrono::NaiveDate = due.parse().unwrap();
            dates.extend([due, due.succ_opt().unwrap()]);
        }
    }
    let mut compared = 0;
    for &id in &ids {
        for &at in &dates {
            let prepared = readers.validity_for_token(&hash, id, at).unwrap();
            let diesel = app
                .with_conn(|conn| {
                    caltrace::db::validity::validity_of_one_for_token(conn, &token, id, at)
                })
                .unwrap();
            assert_eq!(prepared, diesel, "instrument {id} on {at}");
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
    assert_eq!(
        readers
            .validity_for_token("not a token", ids[0], today)
            .unwrap(),
        None
    );
}

/// The tree drawn from the walked calibrations alone (`chain_graph_for`, issue 20) is the
/// tree drawn from every calibration of the instruments reached (`graph_for`): for every
/// instrument of the demo lab (broken chains, withdrawn and expired certificates, external
/// calibrations, suspended standards) on dates across its history.
#[test]
fn the_walked_graph_draws_the_same_tree_as_the_whole_graph() {
    use caltrace::db::schema::instruments;
    use caltrace::db::traceability::{chain_graph_for, graph_for};
    use caltrace::domain::traceability::trace;
    use diesel::prelude::*;
    let app = TestApp::new();
    let today = caltrace::domain::dates::today();
    app.with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    app.with_conn(|conn| {
        let ids: Vec<i64> = instruments::table
            .select(instruments::id)
            .load(conn)
            .unwrap();
        let mut compared = 0;
        for id in ids {
            for days_back in [0, 90, 200, 400, 800] {
                let at = today - chrono::Duration::days(days_back);
                let whole = trace(&graph_for(conn, id, at).unwrap(), id, at);
                let walked = trace(&chain_graph_for(conn, id, at).unwrap(), id, at);
                assert_eq!(
                    serde_json::to_value(&walked).unwrap(),
                    serde_json::to_value(&whole).unwrap(),
                    "instrument {id} on {at}"
                );
                compared += 1;
            }
        }
        assert!(compared > 100, "{compared}");
    });
}
