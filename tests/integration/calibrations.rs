use caltrace::auth::UserRole;
use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, external, point, register};
use crate::common::{fields, pressure_gauge, TestApp};

#[test]
fn a_draft_echoes_its_computed_results() {
    let app = TestApp::new();
    let standard = register(&app, "REF-1", "reference");
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(
        gauge,
        &[standard],
        "2026-05-10",
        vec![point(0.5003, 0.0002)],
    );
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["status"], "draft");
    assert_eq!(created["due_on"], "2027-05-10");
    assert_eq!(created["standards_used"], json!([standard]));
    assert_eq!(created["certificate_number"], Value::Null);
    let p = &created["points"][0];
    assert_eq!(p["error"]["unit"], "MPa");
    assert!((p["error"]["value"].as_f64().unwrap() - 0.0003).abs() < 1e-12);
    assert_eq!(
        p["expanded_uncertainty"],
        json!({"value": 0.0002, "unit": "MPa"})
    );
    assert_eq!(p["coverage_factor"], 2.0);
    assert_eq!(p["coverage_probability"], 0.9545);
    assert_eq!(p["decision"], "pass");
    // TUR = 0.002 / (2 × 0.0002) = 5
    assert!((p["tur"].as_f64().unwrap() - 5.0).abs() < 1e-9);
    assert_eq!(p["tur_flagged"], false);
    let (_, read) = app.get(
        &format!("/api/v1/calibrations/{}", created["id"]),
        Some("inspector"),
    );
    assert_eq!(read["uncertainty_below_standard"], json!([]));
    assert_eq!(read["issuer_certificate"], json!(null));
    assert_eq!(crate::common::the_record(read), created);
}

#[test]
fn interval_override_and_temperature_points() {
    let app = TestApp::new();
    let mut thermometer = pressure_gauge("TH-1", "SN-TH-1");
    thermometer["quantity_kind"] = json!("temperature");
    thermometer["range"] =
        json!({"min": {"value": -40, "unit": "°C"}, "max": {"value": 150, "unit": "°C"}});
    thermometer["resolution"] = json!({"value": 0.01, "unit": "°C"});
    let (status, thermometer) = app.post("/api/v1/instruments", Some("admin"), &thermometer);
    assert_eq!(status, Status::Created, "{thermometer}");
    let thermometer = thermometer["id"].as_i64().unwrap();
    let mut body = calibration(
        thermometer,
        &[],
        "2026-01-31",
        vec![json!({
        "stage": "as_found", "reference": {"value": 100.0, "unit": "°C"}, "indicated": {"value": 212.36, "unit": "°F"},
        "tolerance": {"value": 0.5, "unit": "°C"},
        "stated_uncertainty": {"expanded_uncertainty": {"value": 0.1, "unit": "K"}, "coverage_factor": 2}})],
    );
    body["interval_days"] = json!(30);
    // A temperature procedure: the register's procedure is for the instrument's quantity kind.
    body["procedure"] = json!("JJF 1171-2007");
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["due_on"], "2026-03-02");
    let p = &created["points"][0];
    // 212.36 °F is 100.2 °C: the error is 0.2 °C (kelvin-sized), never a point.
    assert_eq!(p["error"]["unit"], "°C");
    assert!(
        (p["error"]["value"].as_f64().unwrap() - 0.2).abs() < 1e-9,
        "{p}"
    );
    assert_eq!(p["expanded_uncertainty"]["unit"], "°C");
    assert!((p["expanded_uncertainty"]["value"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert_eq!(p["decision"], "pass");
}

#[test]
fn every_conformity_outcome_under_each_rule() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    // Tolerance ±0.001 MPa, U = 0.0002 MPa: zones at 0.0008, 0.001, 0.0012.
    let cases = [
        ("simple", 0.5009, "pass"),
        ("simple", 0.501, "pass"),
        ("simple", 0.5011, "fail"),
        ("guard_band", 0.5008, "pass"),
        ("guard_band", 0.5009, "fail"),
        ("non_binary", 0.5005, "pass"),
        ("non_binary", 0.4991, "conditional_pass"),
        ("non_binary", 0.5011, "conditional_fail"),
        ("non_binary", 0.5013, "fail"),
        ("non_binary", 0.4987, "fail"),
    ];
    for (rule, indicated, expected) in cases {
        let mut body = calibration(gauge, &[], "2026-05-10", vec![point(indicated, 0.0002)]);
        body["decision_rule"] = json!(rule);
        let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
        assert_eq!(status, Status::Created, "{created}");
        assert_eq!(
            created["points"][0]["decision"], expected,
            "{rule} at {indicated}"
        );
        let out = expected == "fail" || expected == "conditional_fail";
        assert_eq!(created["out_of_tolerance"], out, "{rule} at {indicated}");
    }
    let mut body = calibration(gauge, &[], "2026-05-10", vec![point(0.6, 0.0002)]);
    body["decision_rule"] = json!("none");
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(created["points"][0]["decision"], Value::Null);
    assert_eq!(created["out_of_tolerance"], false);
    // An explicit guard band replaces U; asymmetric limits bound the error.
    let mut body = calibration(
        gauge,
        &[],
        "2026-05-10",
        vec![json!({
        "stage": "as_found", "reference": {"value": 500, "unit": "kPa"}, "indicated": {"value": 500.15, "unit": "kPa"},
        "limits": {"lower": {"value": -0.1, "unit": "kPa"}, "upper": {"value": 0.2, "unit": "kPa"}},
        "stated_uncertainty": {"expanded_uncertainty": {"value": 0.01, "unit": "kPa"}, "coverage_factor": 2}})],
    );
    body["decision_rule"] = json!("guard_band");
    body["guard_band"] = json!({"value": 0.06, "unit": "kPa"});
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(
        created["points"][0]["decision"], "fail",
        "0.15 > 0.2 − 0.06"
    );
    assert!((created["points"][0]["tur"].as_f64().unwrap() - 15.0).abs() < 1e-9);
    // Only the final result counts: as-left replaces a failed as-found.
    let mut adjusted = point(0.5001, 0.0002);
    adjusted["stage"] = json!("as_left");
    let body = calibration(
        gauge,
        &[],
        "2026-05-10",
        vec![point(0.502, 0.0002), adjusted],
    );
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(created["points"][0]["decision"], "fail");
    assert_eq!(created["points"][1]["decision"], "pass");
    assert_eq!(created["out_of_tolerance"], false);
    // TUR below 4:1 is flagged.
    let (_, created) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", vec![point(0.5, 0.0003)]),
    );
    assert_eq!(created["points"][0]["tur_flagged"], true);
}

#[test]
fn workflow_four_eyes_and_immutability() {
    let mut app = TestApp::new();
    let both = app.add_user("both", &[UserRole::Technician, UserRole::Approver]);
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
    let (_, created) = app.post("/api/v1/calibrations", Some(&both), &body);
    let id = created["id"].as_i64().unwrap();
    let path = |action: &str| format!("/api/v1/calibrations/{id}/{action}");
    // Approving a draft is a state conflict; technicians cannot approve at all.
    assert_eq!(
        app.post(&path("approve"), Some("approver"), &json!({})).0,
        Status::Conflict
    );
    assert_eq!(
        app.post(&path("approve"), Some("technician"), &json!({})).0,
        Status::Forbidden
    );
    assert_eq!(
        app.post(&path("submit"), Some(&both), &json!({})).0,
        Status::Ok
    );
    assert_eq!(
        app.put(
            &format!("/api/v1/calibrations/{id}"),
            Some("technician"),
            &body
        )
        .0,
        Status::Conflict
    );
    // Four eyes: the creator may not approve, even holding the approver role.
    let (status, problem) = app.post(&path("approve"), Some(&both), &json!({}));
    assert_eq!(status, Status::Forbidden, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("four eyes"));
    let (status, approved) = app.post(&path("approve"), Some("approver"), &json!({}));
    assert_eq!(status, Status::Ok, "{approved}");
    let year = chrono::Utc::now().date_naive().format("%Y").to_string();
    assert_eq!(approved["certificate_number"], format!("CT-{year}-000001"));
    assert_eq!(approved["status"], "issued");
    assert_eq!(
        approved["issued_on"],
        chrono::Utc::now().date_naive().to_string()
    );
    // Frozen: every change is 409.
    assert_eq!(
        app.put(
            &format!("/api/v1/calibrations/{id}"),
            Some("technician"),
            &body
        )
        .0,
        Status::Conflict
    );
    assert_eq!(
        app.post(&path("submit"), Some("technician"), &json!({})).0,
        Status::Conflict
    );
    assert_eq!(
        app.post(&path("approve"), Some("approver"), &json!({})).0,
        Status::Conflict
    );
    assert_eq!(
        app.post(
            &path("reject"),
            Some("approver"),
            &json!({"reason": "late"})
        )
        .0,
        Status::Conflict
    );
    let (_, unchanged) = app.get(&format!("/api/v1/calibrations/{id}"), Some("auditor"));
    assert_eq!(crate::common::the_record(unchanged), approved);
}

/// The probe's attack (issue 21): a technician-approver rewrote another
/// technician's draft, submitted it and approved it. Drafts belong to their
/// creator (and admins); whoever changed or submitted work never decides on it.
#[test]
fn four_eyes_covers_editors_and_submitters() {
    let mut app = TestApp::new();
    let both = app.add_user("both", &[UserRole::Technician, UserRole::Approver]);
    let chief = app.add_user(
        "chief",
        &[UserRole::Admin, UserRole::Technician, UserRole::Approver],
    );
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let id = created["id"].as_i64().unwrap();
    let url = format!("/api/v1/calibrations/{id}");
    let path = |action: &str| format!("{url}/{action}");
    let rewritten = calibration(gauge, &[], "2026-05-10", vec![point(0.5001, 0.0002)]);
    // Another technician may neither rewrite nor submit the draft.
    let (status, problem) = app.put(&url, Some(&both), &rewritten);
    assert_eq!(status, Status::Forbidden, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("created this calibration"));
    assert_eq!(
        app.post(&path("submit"), Some(&both), &json!({})).0,
        Status::Forbidden
    );
    let (_, unchanged) = app.get(&url, Some("auditor"));
    assert_eq!(unchanged["points"], created["points"]);
    assert_eq!(unchanged["status"], "draft");
    // An admin may correct it, and is then one of its contributors.
    let (status, edited) = app.put(&url, Some(&chief), &rewritten);
    assert_eq!(status, Status::Ok, "{edited}");
    assert_eq!(edited["created_by"], created["created_by"]);
    assert_ne!(edited["updated_by"], created["created_by"]);
    assert_eq!(
        app.post(&path("submit"), Some("technician"), &json!({})).0,
        Status::Ok
    );
    for (action, body) in [
        ("approve", json!({})),
        ("reject", json!({"reason": "mine"})),
    ] {
        let (status, problem) = app.post(&path(action), Some(&chief), &body);
        assert_eq!(status, Status::Forbidden, "{action}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains("four eyes"));
    }
    // The creator, holding the approver role too, may not reject either.
    let (_, own) = app.post("/api/v1/calibrations", Some(&both), &body);
    let own_id = own["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/calibrations/{own_id}/submit"),
        Some(&both),
        &json!({}),
    );
    let (status, _) = app.post(
        &format!("/api/v1/calibrations/{own_id}/reject"),
        Some(&both),
        &json!({"reason": "mine"}),
    );
    assert_eq!(status, Status::Forbidden);
    // A submitter who did not create it (an admin submitting a technician's draft).
    let (_, third) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let third_id = third["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/calibrations/{third_id}/submit"),
        Some(&chief),
        &json!({}),
    );
    let (status, _) = app.post(
        &format!("/api/v1/calibrations/{third_id}/approve"),
        Some(&chief),
        &json!({}),
    );
    assert_eq!(status, Status::Forbidden);
    // Someone with no hand in it approves: the certificate names that approver.
    let (status, approved) = app.post(&path("approve"), Some("approver"), &json!({}));
    assert_eq!(status, Status::Ok, "{approved}");
    assert_ne!(approved["approved_by"], edited["updated_by"]);
    assert_eq!(approved["updated_by"], approved["approved_by"]);
}

#[test]
fn rejection_sends_work_back_for_correction() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
    let (_, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let id = created["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/calibrations/{id}/submit"),
        Some("technician"),
        &json!({}),
    );
    let (status, problem) = app.post(
        &format!("/api/v1/calibrations/{id}/reject"),
        Some("approver"),
        &json!({"reason": " "}),
    );
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["reason".to_string()])
    );
    let (status, rejected) = app.post(
        &format!("/api/v1/calibrations/{id}/reject"),
        Some("approver"),
        &json!({"reason": "wrong procedure"}),
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "wrong procedure");
    let mut corrected = body.clone();
    corrected["procedure"] = json!("JJG 52-2023");
    let (status, replaced) = app.put(
        &format!("/api/v1/calibrations/{id}"),
        Some("technician"),
        &corrected,
    );
    assert_eq!(status, Status::Ok, "{replaced}");
    assert_eq!(
        (replaced["status"].as_str(), replaced["procedure"].as_str()),
        (Some("draft"), Some("JJG 52-2023"))
    );
    let (_, listed) = app.get(
        &format!("/api/v1/calibrations?instrument_id={gauge}&status=draft"),
        Some("inspector"),
    );
    assert_eq!(listed["total"], 1);
    let (_, listed) = app.get("/api/v1/calibrations?status=issued", Some("inspector"));
    assert_eq!(listed["total"], 0);
}

#[test]
fn the_cmc_floor_refuses_uncertainties_below_capability() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let cmc = json!({"quantity_kind": "pressure", "range": {"min": {"value": 0, "unit": "MPa"}, "max": {"value": 1, "unit": "MPa"}},
                     "a": {"value": 0.00005, "unit": "MPa"}, "b": 0.0001});
    assert_eq!(
        app.post("/api/v1/cmcs", Some("technician"), &cmc).0,
        Status::Forbidden
    );
    let (status, created) = app.post("/api/v1/cmcs", Some("admin"), &cmc);
    assert_eq!(status, Status::Created, "{created}");
    let (_, table) = app.get("/api/v1/cmcs", Some("inspector"));
    assert_eq!(table.as_array().unwrap().len(), 1);
    // CMC at 0.5 MPa = 0.00005 + 0.0001 × 0.5 = 0.0001 MPa (k = 2).
    let (status, problem) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", vec![point(0.5001, 0.00009)]),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), vec!["points[0].expanded_uncertainty"]);
    // Quoted by its quantity and range, as the CMC table states it, not by a row id.
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("CMC for pressure from 0 MPa to 1 MPa"),
        "{message}"
    );
    // The same U at k = 3 is a smaller standard uncertainty: still refused.
    let mut k3 = point(0.5001, 0.00012);
    k3["stated_uncertainty"]["coverage_factor"] = json!(3);
    let (status, _) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", vec![k3]),
    );
    assert_eq!(status, Status::UnprocessableEntity);
    let (status, _) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", vec![point(0.5001, 0.0001)]),
    );
    assert_eq!(status, Status::Created);
    // Outside the CMC's range, and external calibrations, have no floor.
    let mut far = point(0.5001, 0.00001);
    far["reference"] = json!({"value": 2, "unit": "MPa"});
    far["indicated"] = json!({"value": 2, "unit": "MPa"});
    assert_eq!(
        app.post(
            "/api/v1/calibrations",
            Some("technician"),
            &calibration(gauge, &[], "2026-05-10", vec![far])
        )
        .0,
        Status::Created
    );
    let mut ext = external(gauge, &[], "2026-05-10", "NIM-1");
    ext["points"] = json!([point(0.5001, 0.00001)]);
    assert_eq!(
        app.post("/api/v1/calibrations", Some("technician"), &ext).0,
        Status::Created
    );
    let (status, problem) = app.post("/api/v1/cmcs", Some("admin"), &json!({"quantity_kind": "pressure",
        "range": {"min": {"value": 1, "unit": "MPa"}, "max": {"value": 0, "unit": "MPa"}}, "a": {"value": 1, "unit": "K"}, "b": -1}));
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(fields(&problem), vec!["range", "a.unit", "b"]);
}

#[test]
fn bad_calibrations_are_422_naming_the_field() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let base = calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/instrument_id", json!(9999), "instrument_id"),
        ("/standards_used", json!([9999]), "standards_used[0]"),
        ("/standards_used", json!([gauge]), "standards_used[0]"),
        ("/kind", json!("magic"), "kind"),
        ("/decision_rule", json!("strict"), "decision_rule"),
        ("/performed_on", json!("10/05/2026"), "performed_on"),
        ("/received_on", json!("2026-06-01"), "received_on"),
        ("/points", json!([]), "points"),
        ("/points/0/stage", json!("during"), "points[0].stage"),
        (
            "/points/0/indicated/unit",
            json!("mm"),
            "points[0].indicated.unit",
        ),
        (
            "/points/0/reference/unit",
            json!("parsec"),
            "points[0].reference.unit",
        ),
        (
            "/points/0/tolerance/value",
            json!(-1),
            "points[0].tolerance.value",
        ),
        (
            "/points/0/stated_uncertainty/coverage_factor",
            json!(0),
            "points[0].stated_uncertainty.coverage_factor",
        ),
        (
            "/points/0/stated_uncertainty/expanded_uncertainty/value",
            json!(-0.1),
            "points[0].stated_uncertainty.expanded_uncertainty.value",
        ),
        (
            "/points/0/stated_uncertainty/expanded_uncertainty/unit",
            json!("degC"),
            "points[0].stated_uncertainty.expanded_uncertainty.unit",
        ),
        (
            "/environment/temperature/unit",
            json!("kPa"),
            "environment.temperature.unit",
        ),
        ("/interval_days", json!(-1), "interval_days"),
        (
            "/replaces",
            json!({"number": "CT-2026-999999", "type": "amended", "reason": "typo"}),
            "replaces.number",
        ),
    ];
    for (pointer, value, field) in cases {
        let mut body = base.clone();
        match body.pointer_mut(pointer) {
            Some(slot) => *slot = value.clone(),
            None => body[&pointer[1..]] = value.clone(),
        }
        let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
        assert_eq!(
            status,
            Status::UnprocessableEntity,
            "{pointer}={value}: {problem}"
        );
        assert_eq!(
            fields(&problem),
            vec![field.to_string()],
            "{pointer}={value}: {problem}"
        );
    }
    let mut body = base.clone();
    body["points"][0]
        .as_object_mut()
        .unwrap()
        .remove("stated_uncertainty");
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["points[0].budget".to_string()]
        )
    );
    let mut body = external(gauge, &[], "2026-05-10", "X");
    body.as_object_mut().unwrap().remove("issuer");
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["issuer".to_string()])
    );
    let (_, listed) = app.get("/api/v1/calibrations", Some("admin"));
    assert_eq!(listed["total"], 0, "nothing stored");
}

#[test]
fn batch_ingestion_is_all_or_nothing() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let mut batch: Vec<Value> = (0..1000)
        .map(|_| {
            calibration(
                gauge,
                &[],
                "2026-05-10",
                vec![point(0.5003, 0.0002), point(0.5001, 0.0002)],
            )
        })
        .collect();
    batch[637]["points"][1]["indicated"] = json!({"value": 0.5, "unit": "furlong"});
    let (status, problem) = app.post(
        "/api/v1/calibrations/batch",
        Some("technician"),
        &json!({"calibrations": batch, "submit": true}),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(
        fields(&problem),
        vec!["calibrations[637].points[1].indicated.unit"]
    );
    let (_, listed) = app.get("/api/v1/calibrations", Some("admin"));
    assert_eq!(listed["total"], 0);
    // A shape error names its path too.
    batch[637]["points"][1]["indicated"] = json!({"value": "x", "unit": "MPa"});
    let (status, problem) = app.post(
        "/api/v1/calibrations/batch",
        Some("technician"),
        &json!({"calibrations": batch}),
    );
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["calibrations[637].points[1].indicated.value".to_string()]
        )
    );
    batch[637]["points"][1]["indicated"] = json!({"value": 0.5, "unit": "MPa"});
    let (status, result) = app.post(
        "/api/v1/calibrations/batch",
        Some("technician"),
        &json!({"calibrations": batch, "submit": true}),
    );
    assert_eq!(status, Status::Created, "{result}");
    assert_eq!(result["ids"].as_array().unwrap().len(), 1000);
    let (_, listed) = app.get(
        "/api/v1/calibrations?status=submitted&per_page=1",
        Some("admin"),
    );
    assert_eq!(listed["total"], 1000);
}

#[test]
fn concurrent_approvals_take_consecutive_numbers() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let ids: Vec<i64> = (0..20)
        .map(|_| {
            let (_, created) = app.post(
                "/api/v1/calibrations",
                Some("technician"),
                &calibration(gauge, &[], "2026-05-10", vec![point(0.5003, 0.0002)]),
            );
            let id = created["id"].as_i64().unwrap();
            app.post(
                &format!("/api/v1/calibrations/{id}/submit"),
                Some("technician"),
                &json!({}),
            );
            id
        })
        .collect();
    let approver = app
        .with_conn(|conn| caltrace::db::users::find_user(conn, "approver"))
        .unwrap()
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let context = app.issue_context();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(ids.len()));
    let numbers: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|&id| {
                let database = app.database.clone();
                let actor = approver.actor();
                let barrier = barrier.clone();
                let context = context.clone();
                scope.spawn(move || {
                    barrier.wait();
                    let mut conn = database.get().unwrap();
                    caltrace::workflow::calibrations::approve(
                        &mut conn,
                        &actor,
                        id,
                        (today, "approved"),
                        &context,
                    )
                    .unwrap()
                    .certificate_number
                    .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sequence: Vec<u32> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    sequence.sort();
    assert_eq!(sequence, (1..=20).collect::<Vec<u32>>(), "{numbers:?}");
    let year = today.format("%Y").to_string();
    assert!(numbers
        .iter()
        .all(|n| n.starts_with(&format!("CT-{year}-"))));
}

/// The probe's findings (issue 21): 55 000 points were accepted, 1e308 in a
/// reading gave a 500, and `performed_on: 9999-12-31` was stored. Each is now a
/// 422 naming the field, and nothing is stored.
#[test]
fn limits_on_points_magnitudes_and_dates() {
    let app = TestApp::new();
    let gauge = register(&app, "PG-1", "working");
    let many = vec![point(0.5001, 0.0002); 1001];
    let (status, problem) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", many),
    );
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["points".to_string()])
    );
    let mut huge = point(0.5, 0.0002);
    huge["indicated"]["value"] = json!(1e308);
    huge["reference"]["value"] = json!(-1e308);
    let (status, problem) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[], "2026-05-10", vec![point(0.5001, 0.0002), huge]),
    );
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), vec!["points[1]".to_string()], "{problem}");
    for date in ["9999-12-31", "0226-05-10"] {
        let (status, problem) = app.post(
            "/api/v1/calibrations",
            Some("technician"),
            &calibration(gauge, &[], date, vec![point(0.5001, 0.0002)]),
        );
        assert_eq!(status, Status::UnprocessableEntity, "{date}: {problem}");
        assert!(
            fields(&problem).contains(&"performed_on".to_string()),
            "{problem}"
        );
    }
    let (status, problem) = app.get(
        &format!("/api/v1/instruments/{gauge}/status?at=3000-01-01"),
        Some("inspector"),
    );
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["at".to_string()])
    );
    let (_, listed) = app.get("/api/v1/calibrations", Some("auditor"));
    assert_eq!(listed["total"], 0, "nothing stored");
}
