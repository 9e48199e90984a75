//! Records a lab can sign (DESIGN section 6, issue 16): what must never be
//! certified is refused at create, update, batch and import alike, each a 422
//! naming the field, and nothing is written.

use caltrace::import::ImportError;
use chrono::{Days, Utc};
use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, external, issue, point, register, submitted};
use crate::common::import::{import_register, import_results_file, row_errors};
use crate::common::{fields, pdf_text, TestApp};

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

/// A reference standard and a working gauge; (gauge, standard).
fn bench(app: &TestApp) -> (i64, i64) {
    (
        register(app, "PG-1", "working"),
        register(app, "REF-1", "reference"),
    )
}

fn calibrations_total(app: &TestApp) -> i64 {
    let (_, page) = app.get("/api/v1/calibrations", Some("inspector"));
    page["total"].as_i64().unwrap()
}

/// The body refused at create, at update of a good draft and inside a batch,
/// each naming `field`; nothing written.
fn refused_everywhere(app: &TestApp, body: &Value, field: &str, words: &str) {
    let before = calibrations_total(app);
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), body);
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert!(fields(&problem).contains(&field.to_string()), "{problem}");
    let message = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains(words), "{field}: {message}");

    let mut good = body.clone();
    good["performed_on"] = json!("2026-01-15");
    good["received_on"] = json!("2026-01-15");
    static GOOD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = GOOD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    good["standards_used"] = json!([register(app, &format!("REF-GOOD-{n}"), "reference")]);
    good["points"] = json!([point(0.5002, 0.0002)]);
    let (status, draft) = app.post("/api/v1/calibrations", Some("technician"), &good);
    assert_eq!(status, Status::Created, "{draft}");
    let path = format!("/api/v1/calibrations/{}", draft["id"]);
    let (status, problem) = app.put(&path, Some("technician"), body);
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert!(fields(&problem).contains(&field.to_string()), "{problem}");
    let (_, unchanged) = app.get(&path, Some("technician"));
    assert_eq!(
        crate::common::the_record(unchanged),
        draft,
        "a refused update changes nothing"
    );

    let batch = json!({"calibrations": [good, body]});
    let (status, problem) = app.post("/api/v1/calibrations/batch", Some("technician"), &batch);
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    let batch_field = format!("calibrations[1].{field}");
    assert!(fields(&problem).contains(&batch_field), "{problem}");
    assert_eq!(calibrations_total(app), before + 1, "only the good draft");
}

#[test]
fn a_calibration_dated_after_today_is_refused() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    let tomorrow = today().checked_add_days(Days::new(1)).unwrap().to_string();
    let mut body = calibration(gauge, &[standard], &tomorrow, vec![point(0.5002, 0.0002)]);
    body["received_on"] = json!(today().to_string());
    refused_everywhere(&app, &body, "performed_on", "after today");
    // Received tomorrow, performed today: the receipt date is the one refused.
    body["performed_on"] = json!(today().to_string());
    body["received_on"] = json!(tomorrow);
    refused_everywhere(&app, &body, "received_on", "after today");
    // Today itself is a day the work can have been done.
    body["received_on"] = json!(today().to_string());
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
}

#[test]
fn received_after_performed_is_refused() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    let mut body = calibration(
        gauge,
        &[standard],
        "2026-02-01",
        vec![point(0.5002, 0.0002)],
    );
    body["received_on"] = json!("2026-02-03");
    refused_everywhere(&app, &body, "received_on", "after performed_on");
}

#[test]
fn a_pressure_gauge_is_never_calibrated_in_mm() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    let in_mm = |field: &str| {
        let mut p = point(0.5002, 0.0002);
        p[field]["unit"] = json!("mm");
        calibration(gauge, &[standard], "2026-02-01", vec![p])
    };
    // The reference sets what the rest is checked against: alone in mm it is
    // the one named; the others are named when they alone are wrong.
    refused_everywhere(
        &app,
        &in_mm("reference"),
        "points[0].reference.unit",
        "pressure",
    );
    refused_everywhere(
        &app,
        &in_mm("indicated"),
        "points[0].indicated.unit",
        "pressure",
    );
    refused_everywhere(
        &app,
        &in_mm("tolerance"),
        "points[0].tolerance.unit",
        "pressure",
    );
    let mut everything_in_mm = point(0.5002, 0.0002).to_string().replace("MPa", "mm");
    everything_in_mm = everything_in_mm.replace("\"unit\":\"mm\"", "\"unit\": \"mm\"");
    let body = calibration(
        gauge,
        &[standard],
        "2026-02-01",
        vec![serde_json::from_str(&everything_in_mm).unwrap()],
    );
    refused_everywhere(&app, &body, "points[0].reference.unit", "expected pressure");
}

#[test]
fn limits_in_another_dimension_are_refused() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    let mut p = point(0.5002, 0.0002);
    p.as_object_mut().unwrap().remove("tolerance");
    p["limits"] =
        json!({"lower": {"value": 0.499, "unit": "mm"}, "upper": {"value": 0.501, "unit": "MPa"}});
    let body = calibration(gauge, &[standard], "2026-02-01", vec![p]);
    refused_everywhere(&app, &body, "points[0].limits.lower.unit", "pressure");
}

#[test]
fn a_working_instrument_or_the_item_itself_is_no_standard() {
    let app = TestApp::new();
    let (gauge, _) = bench(&app);
    let customers = register(&app, "PG-2", "working");
    let body = calibration(
        gauge,
        &[customers],
        "2026-02-01",
        vec![point(0.5002, 0.0002)],
    );
    refused_everywhere(&app, &body, "standards_used[0]", "PG-2 (id");
    let body = calibration(gauge, &[gauge], "2026-02-01", vec![point(0.5002, 0.0002)]);
    refused_everywhere(&app, &body, "standards_used[0]", "its own standard");
    // A national standard is a standard.
    let national = register(&app, "NAT-1", "national");
    let body = calibration(
        gauge,
        &[national],
        "2026-02-01",
        vec![point(0.5002, 0.0002)],
    );
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
}

fn import(app: &TestApp, csv: &str) -> Result<Vec<i64>, ImportError> {
    let register =
        "asset_tag,role,quantity_kind,range_min,range_max,range_unit,institute,country\n\
                    PG-9,working,pressure,0,1,MPa,,\nPG-8,working,pressure,0,1,MPa,,\n\
                    REF-9,reference,pressure,0,10,MPa,,\n";
    import_register(app, register.as_bytes()).expect("register imports");
    import_results_file(app, csv.as_bytes(), false, false)
}

/// (column, message) of each row error.
fn column_messages(error: ImportError) -> Vec<(String, String)> {
    row_errors(error)
        .into_iter()
        .map(|e| (e.column, e.message))
        .collect()
}

#[test]
fn the_import_refuses_the_same_records() {
    let header =
        "calibration,asset_tag,kind,performed_on,received_on,procedure,standards,decision_rule,\
                  stage,unit,reference,indicated,tolerance,uncertainty,k\n";
    let tomorrow = today().checked_add_days(Days::new(1)).unwrap();
    let cases = [
        (
            format!("WO-1,PG-9,,{tomorrow},,JJG 52,REF-9,simple,as_found,MPa,0.5,0.5002,0.0016,0.0002,2\n"),
            "performed_on",
            "after today",
        ),
        (
            "WO-1,PG-9,,2026-02-01,,JJG 52,REF-9,simple,as_found,mm,0.5,0.5002,0.0016,0.0002,2\n".to_string(),
            "unit",
            "pressure",
        ),
        (
            "WO-1,PG-9,,2026-02-01,,JJG 52,PG-8,simple,as_found,MPa,0.5,0.5002,0.0016,0.0002,2\n".to_string(),
            "standards",
            "working instrument",
        ),
    ];
    for (row, column, words) in cases {
        let app = TestApp::new();
        let errors = column_messages(import(&app, &format!("{header}{row}")).unwrap_err());
        assert!(
            errors.iter().any(|(c, m)| c == column && m.contains(words)),
            "{row}: {errors:?}"
        );
        assert_eq!(calibrations_total(&app), 0, "all or nothing");
    }
    // A sanity check that the file format itself is right.
    let app = TestApp::new();
    let good =
        "WO-1,PG-9,,2026-02-01,,JJG 52,REF-9,simple,as_found,MPa,0.5,0.5002,0.0016,0.0002,2\n";
    assert_eq!(import(&app, &format!("{header}{good}")).unwrap().len(), 1);
}

/// A gauge calibrated on 2026-06-01 against REF-1, whose only calibration (by
/// the NMI, 2025-01-10, 365 days) had expired by then; (gauge, submitted id).
fn on_an_expired_standard(app: &TestApp, deviations: Option<&str>) -> i64 {
    let national = register(app, "NAT-1", "national");
    let standard = register(app, "REF-1", "reference");
    let mut standards_certificate = external(standard, &[national], "2025-01-10", "NIM-2025-001");
    standards_certificate["interval_days"] = json!(365);
    standards_certificate["issuer"]["issued_on"] = json!("2025-01-14");
    let id = submitted(app, &standards_certificate);
    let (status, accepted) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{accepted}");
    let gauge = register(app, "PG-1", "working");
    let mut body = calibration(
        gauge,
        &[standard],
        "2026-06-01",
        vec![point(0.5002, 0.0002)],
    );
    body["deviations"] = json!(deviations);
    submitted(app, &body)
}

#[test]
fn a_broken_chain_is_certified_only_with_stated_deviations() {
    let app = TestApp::new();
    let id = on_an_expired_standard(&app, None);
    let approve = format!("/api/v1/calibrations/{id}/approve");
    let (status, problem) = app.post(&approve, Some("approver"), &json!({}));
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), ["deviations"], "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("REF-1") && message.contains("standard expired at use"),
        "{message}"
    );
    let (_, still) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(still["status"], "submitted", "nothing issued: {still}");
    assert_eq!(still["certificate_number"], Value::Null);
    let (_, certificates) = app.get("/api/v1/certificates", Some("auditor"));
    assert_eq!(certificates["total"], 0);
}

#[test]
fn stated_deviations_are_printed_with_the_broken_link() {
    let app = TestApp::new();
    let deviations =
        "REF-1 was used 142 days past its due date; recalibrated since and found in tolerance.";
    let id = on_an_expired_standard(&app, Some(deviations));
    let (status, issued) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{issued}");
    assert_eq!(issued["deviations"], deviations);
    assert_eq!(issued["chain_broken"], true);
    let number = issued["certificate_number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("auditor"),
    );
    let Some(text) = pdf_text(&pdf) else { return };
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Deviations from the method",
        "REF-1 was used 142 days past its due date",
        "broken on the date of calibration at REF-1, certificate NIM-2025-001: standard expired at use",
        "Condition on receipt",
        "Not recorded",
        // The standard's certificate with the date its issuer wrote on it.
        "2025-01-14",
    ] {
        assert!(flat.contains(expected), "{expected} missing:\n{text}");
    }
    assert!(!flat.contains("working order"), "{text}");
}

#[test]
fn condition_on_receipt_and_the_issuers_date_are_recorded_as_given() {
    let app = TestApp::new();
    let national = register(&app, "NAT-1", "national");
    let gauge = register(&app, "PG-1", "working");
    let mut body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    body["condition_on_receipt"] = json!("Dial glass cracked; readable");
    body.as_object_mut().unwrap().remove("deviations");
    let issued = issue(&app, &body);
    assert_eq!(
        issued["condition_on_receipt"],
        "Dial glass cracked; readable"
    );
    assert_eq!(issued["deviations"], Value::Null);
    let number = issued["certificate_number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("auditor"),
    );
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Dial glass cracked; readable"), "{text}");
        assert!(!text.contains("Deviations from the method"), "{text}");
    }

    let mut external_body = external(gauge, &[national], "2026-05-12", "NIM-2026-9");
    external_body["issuer"]["issued_on"] = json!("2026-05-11");
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &external_body);
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), ["issuer.issued_on"], "{problem}");
    external_body["issuer"]["issued_on"] = json!("2026-05-20");
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &external_body);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["issuer"]["issued_on"], "2026-05-20");
}

/// Mistakes a busy technician makes get a message that says what to do.
#[test]
fn a_mistyped_date_or_id_is_named_with_what_to_write() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    for typed in ["01/12/2026", "2026-13-01", "20261-12-01", "2026-2-30"] {
        let body = calibration(gauge, &[standard], typed, vec![point(0.5002, 0.0002)]);
        let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        assert_eq!(fields(&problem), ["performed_on"], "{typed}: {problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("YYYY-MM-DD"), "{typed}: {message}");
    }
    for (path, name) in [
        ("/api/v1/calibrations/null", "id"),
        ("/api/v1/instruments/abc/status", "id"),
        ("/api/v1/calibrations/1.5/approve", "id"),
    ] {
        let (status, problem) = if path.ends_with("approve") {
            app.post(path, Some("approver"), &json!({}))
        } else {
            app.get(path, Some("inspector"))
        };
        assert_eq!(status, Status::UnprocessableEntity, "{path}: {problem}");
        assert_eq!(fields(&problem), [name], "{path}: {problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("whole numbers"),
            "{problem}"
        );
    }
}

/// A draft entered by mistake can be deleted by its creator or an admin; once
/// submitted it is kept. The audit log keeps what was deleted.
#[test]
fn a_draft_can_be_deleted_by_its_creator_until_submitted() {
    let mut app = TestApp::new();
    app.add_user("technician-2", &[caltrace::auth::UserRole::Technician]);
    let app = app;
    let (gauge, standard) = bench(&app);
    let body = calibration(
        gauge,
        &[standard],
        "2026-02-01",
        vec![point(0.5002, 0.0002)],
    );
    let delete = |id: &Value, who: &str| {
        app.send(
            rocket::http::Method::Delete,
            &format!("/api/v1/calibrations/{id}"),
            Some(who),
            "",
        )
    };
    let (_, draft) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let (status, problem) = delete(&draft["id"], "technician-2");
    assert_eq!(status, Status::Forbidden, "{problem}");
    let (status, _) = delete(&draft["id"], "technician");
    assert_eq!(status, Status::NoContent);
    let (status, _) = app.get(
        &format!("/api/v1/calibrations/{}", draft["id"]),
        Some("technician"),
    );
    assert_eq!(status, Status::NotFound);
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={}", draft["id"]),
        Some("auditor"),
    );
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"delete"), "{audit}");

    let (_, other) = app.post("/api/v1/calibrations", Some("technician"), &body);
    let (status, _) = delete(&other["id"], "admin");
    assert_eq!(status, Status::NoContent);

    let id = submitted(&app, &body);
    let (status, problem) = delete(&json!(id), "technician");
    assert_eq!(status, Status::Conflict, "{problem}");
    let (_, still) = app.get(&format!("/api/v1/calibrations/{id}"), Some("technician"));
    assert_eq!(still["status"], "submitted");
}

#[test]
fn a_semicolon_file_and_a_mistyped_audit_head_are_named_as_such() {
    let app = TestApp::new();
    let semicolons = "calibration;asset_tag;performed_on;stage;unit;reference;indicated\n\
                      WO-1;PG-9;2026-02-01;as_found;MPa;0.5;0.5002\n";
    let errors = column_messages(import(&app, semicolons).unwrap_err());
    assert!(
        errors.iter().any(|(_, m)| m.contains("separated by ';'")),
        "{errors:?}"
    );
    let (ok, output) = crate::audit::cli(&app, &["audit", "verify", "--head", "CT-2026-000001"]);
    assert!(!ok, "{output}");
    assert!(output.contains("is not an audit chain head"), "{output}");
    assert!(
        !output.contains("broken"),
        "a typing slip is not tampering: {output}"
    );
}

/// The printed signatory is the approver's full name and title, set by
/// `caltrace user add NAME --full-name … --title …`; the login name otherwise.
#[test]
fn the_signatory_is_printed_by_full_name_and_title() {
    let app = TestApp::new();
    let (ok, output) = crate::common::run_cli(
        &app.database_url,
        &[
            "user",
            "add",
            "lw",
            "--role",
            "approver",
            "--full-name",
            "Dr. Li Wei",
            "--title",
            "Head of the pressure laboratory",
        ],
    );
    assert!(ok, "{output}");
    // Approving needs an approve authorisation (DESIGN 9b), recorded by the command line.
    let (ok, output) = crate::common::run_cli(
        &app.database_url,
        &[
            "user",
            "authorise",
            "lw",
            "--activity",
            "approve",
            "--quantity-kind",
            "pressure",
            "--from",
            "2026-01-01",
        ],
    );
    assert!(ok, "{output}");
    let (ok, output) = crate::common::run_cli(&app.database_url, &["token", "create", "lw"]);
    assert!(ok, "{output}");
    let token = output.lines().last().unwrap().trim().to_string();
    let national = register(&app, "NAT-1", "national");
    let gauge = register(&app, "PG-1", "working");
    let body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    let id = submitted(&app, &body);
    let (status, issued) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some(&token),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{issued}");
    let number = issued["certificate_number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("auditor"),
    );
    if let Some(text) = pdf_text(&pdf) {
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("Dr. Li Wei, Head of the pressure laboratory"),
            "{text}"
        );
    }
    // Without a full name, the login name (the test app's "approver").
    let second = issue(
        &app,
        &calibration(
            gauge,
            &[national],
            "2026-05-11",
            vec![point(0.5002, 0.0002)],
        ),
    );
    let number = second["certificate_number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("auditor"),
    );
    if let Some(text) = pdf_text(&pdf) {
        assert!(!text.contains("Li Wei"), "{text}");
    }
}

#[test]
fn impossible_room_conditions_are_refused() {
    let app = TestApp::new();
    let (gauge, standard) = bench(&app);
    for (field, value) in [
        ("relative_humidity", json!({"value": 145, "unit": "%RH"})),
        ("temperature", json!({"value": -300, "unit": "°C"})),
        ("pressure", json!({"value": -1, "unit": "kPa"})),
    ] {
        let mut body = calibration(
            gauge,
            &[standard],
            "2026-02-01",
            vec![point(0.5002, 0.0002)],
        );
        body["environment"][field] = value;
        let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        assert_eq!(
            fields(&problem),
            [format!("environment.{field}")],
            "{problem}"
        );
    }
}

/// DESIGN 9c: a result stated more certain than the standard it was obtained with (U =
/// 0.0002 MPa on a standard whose own U is 0.0005 MPa) is not certified unless the deviation
/// is stated; the refusal names the standard by asset tag and both uncertainties.
#[test]
fn a_result_more_certain_than_its_standard_is_certified_only_with_stated_deviations() {
    let app = TestApp::new();
    let national = register(&app, "NAT-1", "national");
    let standard = register(&app, "REF-U", "reference");
    let mut standards_certificate = external(standard, &[national], "2026-04-01", "NIM-2026-009");
    standards_certificate["points"] = json!([point(0.5001, 0.0005)]);
    let id = submitted(&app, &standards_certificate);
    let (status, accepted) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{accepted}");
    let gauge = register(&app, "PG-U", "working");
    let mut body = calibration(
        gauge,
        &[standard],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    // The fixture states a deviation by default; this one states none.
    body["deviations"] = Value::Null;
    let id = submitted(&app, &body);
    let approve = format!("/api/v1/calibrations/{id}/approve");
    let (status, problem) = app.post(&approve, Some("approver"), &json!({}));
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), ["deviations"], "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("U = 0.0002 MPa is smaller than the U = 0.0005 MPa of standard REF-U"),
        "{message}"
    );
    let (_, certificates) = app.get("/api/v1/certificates", Some("auditor"));
    assert_eq!(certificates["total"], 0, "nothing issued");

    let mut stated = calibration(
        gauge,
        &[standard],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    stated["deviations"] =
        json!("U excludes the standard's contribution, by agreement with the customer.");
    let id = submitted(&app, &stated);
    let (status, issued) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{issued}");
    assert!(issued["certificate_number"].as_str().is_some());
}
