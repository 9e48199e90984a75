//! Competence authorisations (ISO/IEC 17025 6.2.5–6.2.6), the procedures register (7.2) and
//! the public accreditation scope (DESIGN 9b).

use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::db::users;
use chrono::{Days, Utc};
use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, point, register, submitted};
use crate::common::{fields, pdf_text, run_cli, TestApp};

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

/// A user with a token and no authorisation at all (the shared fixtures authorise theirs).
fn bare_user(app: &mut TestApp, name: &str, role: UserRole) {
    let token = app.with_conn(|conn| {
        users::create_user(conn, &Actor::command_line(), name, &[role]).unwrap();
        users::create_token(conn, &Actor::command_line(), name)
            .unwrap()
            .1
    });
    app.tokens.insert(name.to_string(), token);
}

fn authorise(app: &TestApp, name: &str, body: Value) -> (Status, Value) {
    app.post(
        &format!("/api/v1/users/{name}/authorisations"),
        Some("admin"),
        &body,
    )
}

fn gauge_body(app: &TestApp, performed_on: &str) -> Value {
    let national = register(app, "NIM-P", "national");
    let gauge = register(app, "PG-1", "working");
    calibration(
        gauge,
        &[national],
        performed_on,
        vec![point(0.5003, 0.0002)],
    )
}

fn calibration_count(app: &TestApp) -> i64 {
    app.get("/api/v1/calibrations", Some("auditor")).1["total"]
        .as_i64()
        .unwrap()
}

#[test]
fn recording_needs_a_calibrate_authorisation_valid_on_the_performed_date() {
    let mut app = TestApp::new();
    bare_user(&mut app, "tina", UserRole::Technician);
    let body = gauge_body(&app, "2026-05-10");
    let (status, refused) = app.post("/api/v1/calibrations", Some("tina"), &body);
    assert_eq!(status, Status::Forbidden, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    for word in ["'calibrate'", "pressure", "2026-05-10", "tina"] {
        assert!(detail.contains(word), "{word} not in {detail}");
    }
    // Valid only from the day after the work: still refused.
    let (status, later) = authorise(
        &app,
        "tina",
        json!({"activity": "calibrate", "quantity_kind": "pressure", "from": "2026-05-11"}),
    );
    assert_eq!(status, Status::Created, "{later}");
    assert_eq!(later["from"], "2026-05-11");
    assert_eq!(later["until"], Value::Null);
    assert_eq!(
        app.post("/api/v1/calibrations", Some("tina"), &body).0,
        Status::Forbidden
    );
    // A batch is refused whole, nothing stored.
    let batch = json!({"calibrations": [body.clone()]});
    let (status, _) = app.post("/api/v1/calibrations/batch", Some("tina"), &batch);
    assert_eq!(status, Status::Forbidden);
    assert_eq!(calibration_count(&app), 0);
    // Covering the day of the work, ending the day before the later one starts.
    let (status, earlier) = authorise(
        &app,
        "tina",
        json!({"activity": "calibrate", "quantity_kind": "pressure",
               "from": "2026-01-01", "until": "2026-05-10"}),
    );
    assert_eq!(status, Status::Created, "{earlier}");
    let (status, created) = app.post("/api/v1/calibrations", Some("tina"), &body);
    assert_eq!(status, Status::Created, "{created}");
    // Changing the draft to a date no authorisation covers is refused too.
    let mut moved = body.clone();
    moved["performed_on"] = json!("2025-12-31");
    moved["received_on"] = json!("2025-12-31");
    let id = created["id"].as_i64().unwrap();
    let (status, refused) = app.put(&format!("/api/v1/calibrations/{id}"), Some("tina"), &moved);
    assert_eq!(status, Status::Forbidden, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("2025-12-31"));
    let (_, kept) = app.get(&format!("/api/v1/calibrations/{id}"), Some("tina"));
    assert_eq!(kept["performed_on"], "2026-05-10");
    let (_, listed) = app.get("/api/v1/users/tina/authorisations", Some("admin"));
    let periods: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["from"].as_str().unwrap(), a["activity"].as_str().unwrap()))
        .collect();
    assert_eq!(
        periods,
        [("2026-05-11", "calibrate"), ("2026-01-01", "calibrate")]
    );
}

#[test]
fn an_authorisation_restricted_to_a_procedure_covers_only_that_procedure() {
    let mut app = TestApp::new();
    bare_user(&mut app, "pat", UserRole::Technician);
    let (status, _) = authorise(
        &app,
        "pat",
        json!({"activity": "calibrate", "quantity_kind": "pressure",
               "procedure": "JJG 52-2023", "from": "2026-01-01"}),
    );
    assert_eq!(status, Status::Created);
    let mut body = gauge_body(&app, "2026-05-10");
    let (status, refused) = app.post("/api/v1/calibrations", Some("pat"), &body);
    assert_eq!(status, Status::Forbidden);
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("under procedure JJG 52-2013"));
    body["procedure"] = json!("JJG 52-2023");
    let (status, created) = app.post("/api/v1/calibrations", Some("pat"), &body);
    assert_eq!(status, Status::Created, "{created}");
    assert_eq!(created["procedure_version"]["code"], "JJG 52-2023");
}

#[test]
fn approval_needs_approve_valid_on_the_approval_day_and_the_day_before_is_not_enough() {
    let mut app = TestApp::new();
    bare_user(&mut app, "abe", UserRole::Approver);
    let yesterday = today().checked_sub_days(Days::new(1)).unwrap();
    let (status, _) = authorise(
        &app,
        "abe",
        json!({"activity": "approve", "quantity_kind": "pressure",
               "from": "2026-01-01", "until": yesterday.to_string()}),
    );
    assert_eq!(status, Status::Created);
    let id = submitted(&app, &gauge_body(&app, "2026-05-10"));
    let approve = format!("/api/v1/calibrations/{id}/approve");
    let (status, refused) = app.post(&approve, Some("abe"), &json!({}));
    assert_eq!(status, Status::Forbidden, "{refused}");
    assert_eq!(
        refused["type"].as_str().unwrap(),
        "urn:caltrace:problem:forbidden"
    );
    let detail = refused["detail"].as_str().unwrap();
    for word in [
        "'approve'".to_string(),
        "pressure".into(),
        today().to_string(),
    ] {
        assert!(detail.contains(&word), "{word} not in {detail}");
    }
    let (_, still) = app.get(&format!("/api/v1/calibrations/{id}"), Some("abe"));
    assert_eq!(still["status"], "submitted");
    assert_eq!(still["certificate_number"], Value::Null);
    // From today on, the next period: no overlap with the one that ended yesterday.
    let (status, renewed) = authorise(
        &app,
        "abe",
        json!({"activity": "approve", "quantity_kind": "pressure", "from": today().to_string()}),
    );
    assert_eq!(status, Status::Created, "{renewed}");
    let (status, approved) = app.post(&approve, Some("abe"), &json!({}));
    assert_eq!(status, Status::Ok, "{approved}");
    assert_eq!(approved["status"], "issued");
}

#[test]
fn a_lab_that_keeps_no_competence_records_here_switches_the_checks_off() {
    let mut app =
        TestApp::configured(|figment| figment.merge(("lab.require_authorisations", false)));
    bare_user(&mut app, "tina", UserRole::Technician);
    bare_user(&mut app, "abe", UserRole::Approver);
    let (status, created) = app.post(
        "/api/v1/calibrations",
        Some("tina"),
        &gauge_body(&app, "2026-05-10"),
    );
    assert_eq!(status, Status::Created, "{created}");
    let id = created["id"].as_i64().unwrap();
    let submit = format!("/api/v1/calibrations/{id}/submit");
    assert_eq!(app.post(&submit, Some("tina"), &json!({})).0, Status::Ok);
    let (status, approved) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("abe"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{approved}");
    assert_eq!(approved["status"], "issued");
}

#[test]
fn bad_authorisations_are_422_naming_the_field_and_store_nothing() {
    let mut app = TestApp::new();
    bare_user(&mut app, "tina", UserRole::Technician);
    let first = json!({"activity": "approve", "quantity_kind": "pressure",
                       "from": "2026-01-01", "until": "2026-06-30"});
    assert_eq!(authorise(&app, "tina", first).0, Status::Created);
    let cases = [
        (
            "nobody",
            json!({"activity": "approve", "quantity_kind": "pressure"}),
            "user",
        ),
        (
            "tina",
            json!({"activity": "dance", "quantity_kind": "pressure"}),
            "activity",
        ),
        (
            "tina",
            json!({"activity": "approve", "quantity_kind": "colour"}),
            "quantity_kind",
        ),
        (
            "tina",
            json!({"activity": "approve", "quantity_kind": "mass",
                   "from": "2026-03-01", "until": "2026-02-01"}),
            "until",
        ),
        (
            "tina",
            json!({"activity": "approve", "quantity_kind": "pressure", "from": "2026-06-30"}),
            "from",
        ),
        (
            "tina",
            json!({"activity": "approve", "quantity_kind": "pressure", "from": "26-01-01"}),
            "from",
        ),
    ];
    for (user, body, field) in cases {
        let (status, problem) = authorise(&app, user, body.clone());
        assert_eq!(status, Status::UnprocessableEntity, "{body}: {problem}");
        assert!(
            fields(&problem).contains(&field.to_string()),
            "{body}: {problem}"
        );
    }
    // The same period for another quantity kind is another scope: no overlap.
    let mass = json!({"activity": "approve", "quantity_kind": "mass", "from": "2026-01-01"});
    assert_eq!(authorise(&app, "tina", mass).0, Status::Created);
    let (_, listed) = app.get("/api/v1/users/tina/authorisations", Some("admin"));
    let kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["quantity_kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["pressure", "mass"]);
    let body = json!({"activity": "approve", "quantity_kind": "pressure"});
    assert_eq!(
        app.post(
            "/api/v1/users/tina/authorisations",
            Some("technician"),
            &body
        )
        .0,
        Status::Forbidden
    );
    assert_eq!(
        app.get("/api/v1/users/nobody/authorisations", Some("admin"))
            .0,
        Status::NotFound
    );
    // Each authorisation recorded is audited.
    let (_, audit) = app.get("/api/v1/audit?entity=authorisation", Some("auditor"));
    assert_eq!(audit["total"], 2, "{audit}");
}

#[test]
fn the_command_line_authorises_and_refuses_bad_periods() {
    let mut app = TestApp::new();
    bare_user(&mut app, "tina", UserRole::Technician);
    let url = app.database_url.clone();
    let authorise = |extra: &[&str]| {
        let mut args = vec!["user", "authorise"];
        args.extend_from_slice(extra);
        run_cli(&url, &args)
    };
    let (ok, output) = authorise(&[
        "tina",
        "--activity",
        "calibrate",
        "--quantity-kind",
        "pressure",
        "--from",
        "2026-01-01",
        "--until",
        "2026-12-31",
    ]);
    assert!(ok, "{output}");
    assert!(
        output.contains("from 2026-01-01 until 2026-12-31"),
        "{output}"
    );
    let refusals = [
        (
            "tina calibrate pressure --from 2027-02-01 --until 2027-01-01",
            "until:",
        ),
        ("tina calibrate colour", "quantity_kind:"),
        ("tina dance pressure", "activity:"),
        ("ghost calibrate pressure", "user:"),
        (
            "tina calibrate pressure --from 2026-06-01",
            "overlaps authorisation",
        ),
    ];
    for (line, expected) in refusals {
        let words: Vec<&str> = line.split(' ').collect();
        let mut args = vec![
            words[0],
            "--activity",
            words[1],
            "--quantity-kind",
            words[2],
        ];
        args.extend_from_slice(&words[3..]);
        let (ok, output) = authorise(&args);
        assert!(!ok && output.contains(expected), "{line}: {output}");
    }
    let (_, listed) = app.get("/api/v1/users/tina/authorisations", Some("admin"));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["until"], "2026-12-31");
    let body = gauge_body(&app, "2026-05-10");
    let (status, created) = app.post("/api/v1/calibrations", Some("tina"), &body);
    assert_eq!(status, Status::Created, "{created}");
}

fn procedure(code: &str, version: &str, status: &str, validated_on: Option<&str>) -> Value {
    json!({"code": code, "title": format!("Gauges v{version}"), "version": version,
           "quantity_kind": "pressure", "status": status, "validated_on": validated_on,
           "document_url": "https://lab.example/procedures/ct-p-01.pdf"})
}

fn register_procedures(app: &TestApp) {
    for body in [
        procedure("CT-P-01", "0", "withdrawn", Some("2020-01-01")),
        procedure("CT-P-01", "1", "validated", Some("2025-01-01")),
        procedure("CT-P-01", "2", "validated", Some("2026-03-01")),
        procedure("CT-P-01", "3", "draft", None),
    ] {
        let (status, created) = app.post("/api/v1/procedures", Some("admin"), &body);
        assert_eq!(status, Status::Created, "{created}");
    }
}

#[test]
fn a_calibration_cites_the_latest_validated_version_or_the_one_named() {
    let app = TestApp::new();
    register_procedures(&app);
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let cite = |citation: &str, on: &str| {
        let mut body = calibration(gauge, &[national], on, vec![point(0.5003, 0.0002)]);
        body["procedure"] = json!(citation);
        app.post("/api/v1/calibrations", Some("technician"), &body)
    };
    let version = |(status, body): (Status, Value)| {
        assert_eq!(status, Status::Created, "{body}");
        let cited = &body["procedure_version"];
        (
            cited["version"].as_str().unwrap().to_string(),
            cited["title"].clone(),
        )
    };
    assert_eq!(version(cite("CT-P-01", "2026-02-01")).0, "1");
    let (latest, title) = version(cite("CT-P-01", "2026-05-10"));
    assert_eq!((latest.as_str(), title), ("2", json!("Gauges v2")));
    assert_eq!(version(cite("CT-P-01@1", "2026-05-10")).0, "1");
    for (citation, on, words) in [
        ("CT-P-01@3", "2026-05-10", "is draft"),
        ("CT-P-01@0", "2026-05-10", "is withdrawn"),
        ("CT-P-01@2", "2026-02-01", "validated only on 2026-03-01"),
        (
            "CT-P-01",
            "2024-06-01",
            "no version validated on or before 2024-06-01",
        ),
        ("CT-P-99", "2026-05-10", "no procedure with code 'CT-P-99'"),
        ("JJF 1171-2007", "2026-05-10", "is for temperature"),
    ] {
        let (status, problem) = cite(citation, on);
        assert_eq!(status, Status::UnprocessableEntity, "{citation}: {problem}");
        assert_eq!(fields(&problem), ["procedure"], "{citation}: {problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{citation}: {message}");
    }
    // Internal work cites the register; free text is an external laboratory's method.
    let mut body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5003, 0.0002)],
    );
    body["method"] = json!("as the technician remembers it");
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(fields(&problem), ["method"]);
    let mut external = crate::common::fixtures::external(national, &[], "2026-05-10", "NIM-1");
    external["method"] = json!("NIM's own pressure balance method");
    external.as_object_mut().unwrap().remove("procedure");
    let (status, accepted) = app.post("/api/v1/calibrations", Some("technician"), &external);
    assert_eq!(status, Status::Created, "{accepted}");
    assert_eq!(accepted["method"], "NIM's own pressure balance method");
}

#[test]
fn the_procedures_register_keeps_versions_and_refuses_bad_input() {
    let app = TestApp::new();
    register_procedures(&app);
    let (status, listed) = app.get("/api/v1/procedures", Some("inspector"));
    assert_eq!(status, Status::Ok);
    let ours: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "CT-P-01")
        .map(|p| {
            (
                p["version"].as_str().unwrap().to_string(),
                p["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("0", "withdrawn"),
        ("1", "validated"),
        ("2", "validated"),
        ("3", "draft"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(v, s)| (v.to_string(), s.to_string()))
        .collect();
    assert_eq!(ours, expected);
    let again = procedure("CT-P-01", "2", "validated", Some("2026-03-01"));
    assert_eq!(
        app.post("/api/v1/procedures", Some("admin"), &again).0,
        Status::Conflict
    );
    let mut cases = vec![
        (
            procedure("CT-P-02", "1", "approved", Some("2026-01-01")),
            "status",
        ),
        (procedure("CT-P-02", "1", "validated", None), "validated_on"),
        (procedure("CT@P", "1", "draft", None), "code"),
        (procedure("CT-P-02", " ", "draft", None), "version"),
    ];
    let mut kind = procedure("CT-P-02", "1", "draft", None);
    kind["quantity_kind"] = json!("colour");
    cases.push((kind, "quantity_kind"));
    let mut url = procedure("CT-P-02", "1", "draft", None);
    url["document_url"] = json!("file:///etc/passwd");
    cases.push((url, "document_url"));
    for (body, field) in cases {
        let (status, problem) = app.post("/api/v1/procedures", Some("admin"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{body}: {problem}");
        assert!(
            fields(&problem).contains(&field.to_string()),
            "{body}: {problem}"
        );
    }
    let draft = procedure("CT-P-02", "1", "draft", None);
    assert_eq!(
        app.post("/api/v1/procedures", Some("technician"), &draft).0,
        Status::Forbidden
    );
    let (_, audit) = app.get("/api/v1/audit?entity=procedure", Some("auditor"));
    assert_eq!(audit["total"], 4, "{audit}");
}

#[test]
fn certificates_print_the_procedure_code_version_and_title() {
    let app = TestApp::new();
    register_procedures(&app);
    let mut body = gauge_body(&app, "2026-05-10");
    body["procedure"] = json!("CT-P-01");
    let approved = crate::common::fixtures::issue(&app, &body);
    let number = approved["certificate_number"].as_str().unwrap();
    let dcc = app.bytes(
        &format!("/api/v1/certificates/{number}/dcc"),
        Some("auditor"),
    );
    let dcc = String::from_utf8(dcc).unwrap();
    assert!(
        dcc.contains("CT-P-01 (version 2): Gauges v2"),
        "the DCC's usedMethod names code, version and title"
    );
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("auditor"),
    );
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("CT-P-01 (version 2): Gauges v2"), "{text}");
    }
}

#[test]
fn the_accreditation_scope_is_public_as_a_page_and_as_json() {
    let app = TestApp::configured(|figment| {
        figment
            .merge(("lab.accreditation_body", "CNAS"))
            .merge(("lab.accreditation_number", "L0001"))
    });
    let cmc = json!({"quantity_kind": "pressure",
        "range": {"min": {"value": 0, "unit": "MPa"}, "max": {"value": 1, "unit": "MPa"}},
        "a": {"value": 0.00005, "unit": "MPa"}, "b": 0.0001});
    assert_eq!(
        app.post("/api/v1/cmcs", Some("admin"), &cmc).0,
        Status::Created
    );
    let (status, scope) = app.get("/api/v1/scope", None);
    assert_eq!(status, Status::Ok, "{scope}");
    assert_eq!(scope["accreditation"]["body"], "CNAS");
    assert_eq!(scope["accreditation"]["number"], "L0001");
    assert_eq!(scope["accreditation"]["accredited"], true);
    let cmcs = scope["cmcs"].as_array().unwrap();
    assert_eq!(cmcs.len(), 1);
    assert_eq!(cmcs[0]["quantity_kind"], "pressure");
    assert_eq!(cmcs[0]["a"]["value"], 0.00005);
    assert_eq!(cmcs[0]["range"]["max"]["unit"], "MPa");
    let response = app.client.get("/scope").dispatch();
    assert_eq!(response.status(), Status::Ok);
    let page = response.into_string().unwrap();
    for words in [
        "CNAS",
        "L0001",
        "pressure",
        "0 MPa to 1 MPa",
        "0.00005 MPa + 0.0001",
    ] {
        assert!(page.contains(words), "{words} not on the scope page");
    }
    let verify = app.client.get("/verify/CT-2026-000001").dispatch();
    let verify = verify.into_string().unwrap();
    assert!(
        verify.contains("href=\"/scope\""),
        "the verification page links the scope"
    );
    // Without an accreditation configured, the scope says so.
    let plain = TestApp::configured(|figment| figment.merge(("lab.accreditation_number", "")));
    let (_, scope) = plain.get("/api/v1/scope", None);
    assert_eq!(scope["accreditation"]["accredited"], false);
    assert_eq!(scope["cmcs"], json!([]));
}

#[test]
fn the_csv_import_records_only_in_the_name_of_an_authorised_technician() {
    use caltrace::import::{actor_named, import_calibrations, ImportError};
    use caltrace::workflow::competence::Competence;
    let mut app = TestApp::new();
    bare_user(&mut app, "tina", UserRole::Technician);
    crate::common::import::import_register(&app, include_bytes!("../data/instruments.csv"))
        .unwrap();
    let results = include_bytes!("../data/calibrations.csv");
    let import = |competence| {
        app.with_conn(|conn| {
            let actor = actor_named(conn, "tina", caltrace::auth::roles::TECHNICIANS).unwrap();
            import_calibrations(
                conn,
                &actor,
                "r.csv",
                results,
                (false, competence),
                true,
                &mut |_| {},
            )
        })
    };
    match import(Competence::Required) {
        Err(ImportError::Failed(message)) => {
            assert!(message.contains("tina holds no 'calibrate'"), "{message}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|s| s.ids)),
    }
    assert_eq!(calibration_count(&app), 0);
    let summary = import(Competence::NotKept).unwrap();
    assert_eq!(calibration_count(&app) as usize, summary.ids.len());
}
