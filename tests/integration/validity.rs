use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::fixtures::{calibration, external, issue, point, register};
use crate::common::{fields, TestApp};

fn status(app: &TestApp, id: i64, at: &str) -> Value {
    let (status, body) = app.get(
        &format!("/api/v1/instruments/{id}/status?at={at}"),
        Some("inspector"),
    );
    assert_eq!(status, Status::Ok, "{body}");
    body
}

fn reason(app: &TestApp, id: i64, at: &str) -> String {
    status(app, id, at)["reason"].as_str().unwrap().to_string()
}

#[test]
fn reason_codes_and_date_boundaries() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    assert_eq!(reason(&app, gauge, "2026-06-01"), "never_calibrated");
    let issued = issue(
        &app,
        &calibration(gauge, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
    );
    let number = issued["certificate_number"].as_str().unwrap().to_string();

    let on_due_date = status(&app, gauge, "2027-05-10");
    assert_eq!(
        on_due_date,
        json!({"id": gauge, "at": "2027-05-10", "valid": true, "reason": "valid",
               "certificate_number": number, "calibrated_on": "2026-05-10", "due_on": "2027-05-10"})
    );
    assert_eq!(
        reason(&app, gauge, "2026-05-10"),
        "valid",
        "the calibration day itself"
    );
    let day_after = status(&app, gauge, "2027-05-11");
    assert_eq!(
        (day_after["valid"].as_bool(), day_after["reason"].as_str()),
        (Some(false), Some("expired"))
    );
    assert_eq!(day_after["certificate_number"], number.as_str());
    let before = status(&app, gauge, "2026-05-09");
    assert_eq!(before["reason"], "not_yet_calibrated");
    assert_eq!(before["certificate_number"], Value::Null);

    // A later calibration that failed makes the instrument out of tolerance from its date on.
    let failed = issue(
        &app,
        &calibration(gauge, &[nim], "2026-08-01", vec![point(0.503, 0.0002)]),
    );
    assert_eq!(failed["out_of_tolerance"], true);
    assert_eq!(reason(&app, gauge, "2026-07-31"), "valid");
    assert_eq!(reason(&app, gauge, "2026-08-01"), "out_of_tolerance");

    // Drafts, submitted and rejected calibrations never count.
    let (_, draft) = app.post(
        "/api/v1/calibrations",
        Some("technician"),
        &calibration(gauge, &[nim], "2026-09-01", vec![point(0.5, 0.0002)]),
    );
    app.post(
        &format!("/api/v1/calibrations/{}/submit", draft["id"]),
        Some("technician"),
        &json!({}),
    );
    assert_eq!(reason(&app, gauge, "2026-09-02"), "out_of_tolerance");

    assert_eq!(
        app.get(
            &format!("/api/v1/instruments/{gauge}/status?at=tomorrow"),
            Some("inspector")
        )
        .0,
        Status::UnprocessableEntity
    );
    assert_eq!(
        app.get("/api/v1/instruments/9999/status", Some("inspector"))
            .0,
        Status::NotFound
    );
    let (code, today) = app.get(
        &format!("/api/v1/instruments/{gauge}/status"),
        Some("auditor"),
    );
    assert_eq!(code, Status::Ok);
    assert_eq!(today["at"], chrono::Utc::now().date_naive().to_string());
}

#[test]
fn withdrawal_does_not_fall_back_to_an_older_certificate() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    issue(
        &app,
        &calibration(gauge, &[nim], "2026-01-10", vec![point(0.5003, 0.0002)]),
    );
    let newer = issue(
        &app,
        &calibration(gauge, &[nim], "2026-03-10", vec![point(0.5003, 0.0002)]),
    );
    let number = newer["certificate_number"].as_str().unwrap();
    assert_eq!(
        app.post(
            &format!("/api/v1/certificates/{number}/withdraw"),
            Some("technician"),
            &json!({"reason": "x"})
        )
        .0,
        Status::Forbidden
    );
    let (code, withdrawn) = app.post(
        &format!("/api/v1/certificates/{number}/withdraw"),
        Some("approver"),
        &json!({"reason": "wrong standard used"}),
    );
    assert_eq!(code, Status::Ok, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    let answer = status(&app, gauge, "2026-04-01");
    assert_eq!(
        (
            answer["reason"].as_str(),
            answer["certificate_number"].as_str()
        ),
        (Some("certificate_withdrawn"), Some(number))
    );
    assert_eq!(
        reason(&app, gauge, "2026-02-01"),
        "valid",
        "before the withdrawn one, the older certificate stands"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/certificates/{number}/withdraw"),
            Some("admin"),
            &json!({"reason": "again"})
        )
        .0,
        Status::Conflict
    );
    assert_eq!(
        app.post(
            "/api/v1/certificates/CT-1999-000001/withdraw",
            Some("admin"),
            &json!({"reason": "x"})
        )
        .0,
        Status::NotFound
    );
}

#[test]
fn a_replacement_supersedes_the_old_certificate() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    let old = issue(
        &app,
        &calibration(gauge, &[nim], "2026-03-10", vec![point(0.503, 0.0002)]),
    );
    let old_number = old["certificate_number"].as_str().unwrap().to_string();
    assert_eq!(reason(&app, gauge, "2026-04-01"), "out_of_tolerance");
    let mut body = calibration(gauge, &[nim], "2026-03-10", vec![point(0.5003, 0.0002)]);
    body["replaces"] = json!({"number": old_number, "type": "amended", "reason": "transcription error in the indicated value"});
    let new = issue(&app, &body);
    let new_number = new["certificate_number"].as_str().unwrap().to_string();
    assert_ne!(new_number, old_number);
    assert_eq!(new["replaces"]["number"], old_number.as_str());
    let (_, old_now) = app.get(
        &format!("/api/v1/calibrations/{}", old["id"]),
        Some("auditor"),
    );
    assert_eq!(
        (
            old_now["status"].as_str(),
            old_now["superseded_by"].as_str()
        ),
        (Some("superseded"), Some(new_number.as_str()))
    );
    let answer = status(&app, gauge, "2026-04-01");
    assert_eq!(
        (
            answer["reason"].as_str(),
            answer["certificate_number"].as_str()
        ),
        (Some("valid"), Some(new_number.as_str()))
    );
    // A superseded certificate cannot be replaced or withdrawn again.
    let mut again = calibration(gauge, &[nim], "2026-03-10", vec![point(0.5003, 0.0002)]);
    again["replaces"] = json!({"number": old_number, "type": "substituted", "reason": "again"});
    let (code, problem) = app.post("/api/v1/calibrations", Some("technician"), &again);
    assert_eq!(
        (code, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["replaces.number".to_string()]
        )
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/certificates/{old_number}/withdraw"),
            Some("admin"),
            &json!({"reason": "x"})
        )
        .0,
        Status::Conflict
    );
}

#[test]
fn status_changes_count_from_their_day_and_national_standards_are_valid() {
    let app = TestApp::new();
    let national = register(&app, "NIM-1", "national");
    let gauge = register(&app, "PG-1", "working");
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap().to_string();
    let performed = (today - chrono::Days::new(30)).to_string();
    issue(
        &app,
        &calibration(gauge, &[national], &performed, vec![point(0.5003, 0.0002)]),
    );
    assert_eq!(reason(&app, national, &today.to_string()), "valid");
    assert_eq!(
        status(&app, national, &today.to_string())["certificate_number"],
        Value::Null
    );
    assert_eq!(reason(&app, gauge, &today.to_string()), "valid");
    app.post(
        &format!("/api/v1/instruments/{gauge}/suspend"),
        Some("technician"),
        &json!({"reason": "dropped"}),
    );
    let suspended = status(&app, gauge, &today.to_string());
    assert_eq!(suspended["reason"], "suspended");
    assert!(
        suspended["certificate_number"].is_string(),
        "still names what it rests on"
    );
    assert_eq!(
        reason(&app, gauge, &yesterday),
        "valid",
        "dates before the change are unaffected"
    );
    // Reactivated the same day: the later change counts.
    app.post(
        &format!("/api/v1/instruments/{gauge}/reactivate"),
        Some("technician"),
        &json!({}),
    );
    assert_eq!(reason(&app, gauge, &today.to_string()), "valid");
    app.post(
        &format!("/api/v1/instruments/{gauge}/retire"),
        Some("admin"),
        &json!({}),
    );
    assert_eq!(reason(&app, gauge, &today.to_string()), "retired");
    app.post(
        &format!("/api/v1/instruments/{national}/suspend"),
        Some("admin"),
        &json!({}),
    );
    assert_eq!(reason(&app, national, &today.to_string()), "suspended");
}

#[test]
fn bulk_status_by_ids_and_tags_in_the_order_asked() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let valid = register(&app, "PG-1", "working");
    let never = register(&app, "PG-2", "working");
    let external_only = register(&app, "REF-1", "reference");
    issue(
        &app,
        &calibration(valid, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
    );
    // An external calibration counts once accepted, with the issuer's number.
    issue(
        &app,
        &external(external_only, &[nim], "2026-05-01", "NIM-2026-L-0012"),
    );
    let (code, bulk) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"at": "2026-06-01", "ids": [never, 424242, valid, external_only]}),
    );
    assert_eq!(code, Status::Ok, "{bulk}");
    assert_eq!(bulk["at"], "2026-06-01");
    let reasons: Vec<(&Value, &str)> = bulk["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["id"], r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (&json!(never), "never_calibrated"),
            (&json!(424242), "unknown_instrument"),
            (&json!(valid), "valid"),
            (&json!(external_only), "valid")
        ]
    );
    assert_eq!(bulk["results"][3]["certificate_number"], "NIM-2026-L-0012");
    // Each row is the single check's answer plus the instrument's plate (DESIGN 9c).
    let mut row = bulk["results"][0].clone();
    let plate: Vec<Value> = ["asset_tag", "manufacturer", "model", "serial_number"]
        .iter()
        .map(|key| row.as_object_mut().unwrap().remove(*key).unwrap())
        .collect();
    assert_eq!(
        plate,
        vec![
            json!("PG-2"),
            json!("WIKA"),
            json!("CPG1500"),
            json!("SN-PG-2")
        ]
    );
    assert_eq!(row, status(&app, never, "2026-06-01"));
    assert_eq!(bulk["results"][1]["manufacturer"], Value::Null);

    let (_, by_tags) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"at": "2026-06-01", "asset_tags": ["PG-1", "NOPE"]}),
    );
    assert_eq!(by_tags["results"][0]["reason"], "valid");
    assert_eq!(by_tags["results"][0]["id"], valid);
    assert_eq!(by_tags["results"][1]["reason"], "unknown_instrument");
    assert_eq!(by_tags["results"][1]["asset_tag"], "NOPE");
    let (code, one) = app.get(
        "/api/v1/instruments/by-tag/PG-1/status?at=2026-06-01",
        Some("inspector"),
    );
    assert_eq!((code, one["reason"].as_str()), (Status::Ok, Some("valid")));
    assert_eq!(
        app.get("/api/v1/instruments/by-tag/NOPE/status", Some("inspector"))
            .0,
        Status::NotFound
    );
    // DESIGN 9c: tags as an agency types them off a label match, trimmed and regardless of
    // case; each row still echoes the tag as asked.
    let (_, typed) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"at": "2026-06-01", "asset_tags": ["PG-1 ", "pg-1", " Pg-1"]}),
    );
    for (row, asked) in typed["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["PG-1 ", "pg-1", " Pg-1"])
    {
        assert_eq!(
            (&row["id"], &row["reason"], &row["asset_tag"]),
            (&json!(valid), &json!("valid"), &json!(asked)),
            "{typed}"
        );
    }
    let (code, one) = app.get(
        "/api/v1/instruments/by-tag/pg-1/status?at=2026-06-01",
        Some("inspector"),
    );
    assert_eq!((code, &one["id"]), (Status::Ok, &json!(valid)), "{one}");
    // And by the serial number on the plate.
    let (_, found) = app.get(
        "/api/v1/instruments?serial_number=%20SN-PG-1%20",
        Some("inspector"),
    );
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["id"], valid);
    let (_, none) = app.get(
        "/api/v1/instruments?serial_number=SN-NOPE",
        Some("inspector"),
    );
    assert_eq!(none["total"], 0);

    let too_many: Vec<i64> = (0..10_001).collect();
    let (code, problem) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"ids": too_many}),
    );
    assert_eq!(
        (code, fields(&problem)),
        (Status::UnprocessableEntity, vec!["ids".to_string()])
    );
    let many: Vec<i64> = (1..=10_000).collect();
    let (code, answer) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"ids": many}),
    );
    assert_eq!(code, Status::Ok);
    assert_eq!(answer["results"].as_array().unwrap().len(), 10_000);
    assert_eq!(answer["results"][valid as usize - 1]["reason"], "valid");
}

/// DESIGN 9c: an agency checks each instrument at the date it was used, in JSON or in
/// CSV (as its spreadsheet holds them), and takes the answer away as CSV.
#[test]
fn bulk_status_with_a_date_per_row_in_json_and_csv() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    let never = register(&app, "PG-2", "working");
    issue(
        &app,
        &calibration(gauge, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
    );
    let rows = json!([
        {"asset_tag": " pg-1", "at": "2026-06-01"},
        {"asset_tag": "PG-1", "at": "2026-05-01"},
        {"id": never},
        {"asset_tag": "NOPE", "at": "2026-06-01"}
    ]);
    let (code, bulk) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"at": "2026-06-02", "items": rows}),
    );
    assert_eq!(code, Status::Ok, "{bulk}");
    let results = bulk["results"].as_array().unwrap();
    let echoed: Vec<(&Value, &Value, &Value)> = results
        .iter()
        .map(|r| (&r["asset_tag"], &r["at"], &r["reason"]))
        .collect();
    let before = status(&app, gauge, "2026-05-01")["reason"].clone();
    assert_ne!(before, json!("valid"));
    assert_eq!(
        echoed,
        vec![
            (&json!(" pg-1"), &json!("2026-06-01"), &json!("valid")),
            (&json!("PG-1"), &json!("2026-05-01"), &before),
            (
                &json!("PG-2"),
                &json!("2026-06-02"),
                &json!("never_calibrated")
            ),
            (
                &json!("NOPE"),
                &json!("2026-06-01"),
                &json!("unknown_instrument")
            ),
        ]
    );
    assert_eq!(results[0]["id"], json!(gauge));
    assert_eq!(results[0]["serial_number"], "SN-PG-1");
    assert_eq!(
        results[0]["certificate_number"],
        status(&app, gauge, "2026-06-01")["certificate_number"]
    );
    assert!(results[0]["certificate_number"].is_string());

    // At the boundaries: valid on the due date, expired the day after, each row its own date.
    let due: chrono::NaiveDate = results[0]["due_on"].as_str().unwrap().parse().unwrap();
    let (_, edges) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"items": [
            {"id": gauge, "at": due.to_string()},
            {"id": gauge, "at": (due + chrono::Duration::days(1)).to_string()},
            {"id": gauge, "at": "2026-05-10"},
            {"id": gauge, "at": "2026-05-09"},
        ]}),
    );
    let reasons: Vec<&Value> = edges["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["reason"])
        .collect();
    assert_eq!(
        reasons,
        vec![&json!("valid"), &json!("expired"), &json!("valid"), &before]
    );

    // The same rows as CSV in, CSV out.
    let csv = "asset_tag,at\n pg-1 ,2026-06-01\nPG-1,2026-05-01\nNOPE,\n";
    let (code, text, kind) = app.post_as(
        "/api/v1/instruments/status",
        Some("inspector"),
        rocket::http::ContentType::CSV,
        "text/csv",
        csv,
    );
    assert_eq!(code, Status::Ok, "{text}");
    assert!(kind.unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,asset_tag,at,valid,reason,manufacturer,model,serial_number,certificate_number,calibrated_on,due_on"
    );
    let certificate = results[0]["certificate_number"].as_str().unwrap();
    assert!(
        lines[1].starts_with(&format!(
            "{gauge},pg-1,2026-06-01,true,valid,WIKA,CPG1500,SN-PG-1,{certificate},2026-05-10,"
        )),
        "{text}"
    );
    assert!(lines[2].contains(&format!(",2026-05-01,false,{},", before.as_str().unwrap())));
    assert!(lines[3].starts_with(",NOPE,"), "{text}");
    assert!(lines[3].contains(",false,unknown_instrument,"), "{text}");
    assert_eq!(lines.len(), 4);
    // CSV in, JSON out (no Accept: text/csv); by id.
    let (code, text, _) = app.post_as(
        "/api/v1/instruments/status",
        Some("inspector"),
        rocket::http::ContentType::CSV,
        "application/json",
        &format!("id,at\n{never},2026-06-01\n"),
    );
    assert_eq!(code, Status::Ok, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["results"][0]["reason"], "never_calibrated");

    // A technician's mistakes, each named.
    for (body, field) in [
        ("asset_tag,at\nPG-1,2026-13-01\n", "items[0].at"),
        (
            "asset_tag,at\nPG-1,2026-06-01\nPG-2,01/06/2026\n",
            "items[1].at",
        ),
        ("tag;date\nPG-1;2026-06-01\n", "body"),
        ("id,at\nPG-1,2026-06-01\n", "items[0].id"),
        ("asset_tag,at\nPG-1,2026-06-01,extra\n", "items[0]"),
    ] {
        let (code, text, _) = app.post_as(
            "/api/v1/instruments/status",
            Some("inspector"),
            rocket::http::ContentType::CSV,
            "application/json",
            body,
        );
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (code, fields(&problem)),
            (Status::UnprocessableEntity, vec![field.to_string()]),
            "{body}: {problem}"
        );
    }
    for (body, field) in [
        (
            json!({"items": [{"asset_tag": "PG-1", "id": 1}]}),
            "items[0].asset_tag",
        ),
        (
            json!({"items": [{"at": "2026-06-01"}]}),
            "items[0].asset_tag",
        ),
        (
            json!({"items": [{"asset_tag": "PG-1", "at": "1.6.2026"}]}),
            "items[0].at",
        ),
        (json!({"ids": [1], "items": []}), "items"),
        (json!({"at": "2026-06-01"}), "ids"),
    ] {
        let (code, problem) = app.post("/api/v1/instruments/status", Some("inspector"), &body);
        assert_eq!(
            (code, fields(&problem)),
            (Status::UnprocessableEntity, vec![field.to_string()]),
            "{body}: {problem}"
        );
    }
}

#[test]
fn recalls_list_due_and_overdue_instruments_by_customer() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let today = chrono::Utc::now().date_naive();
    let overdue = register(&app, "PG-1", "working");
    let due_soon = register(&app, "PG-2", "working");
    let fine = register(&app, "PG-3", "working");
    let days_ago = |days: u64| (today - chrono::Days::new(days)).to_string();
    issue(
        &app,
        &calibration(overdue, &[nim], &days_ago(400), vec![point(0.5003, 0.0002)]),
    );
    issue(
        &app,
        &calibration(
            due_soon,
            &[nim],
            &days_ago(350),
            vec![point(0.5003, 0.0002)],
        ),
    );
    issue(
        &app,
        &calibration(fine, &[nim], &days_ago(10), vec![point(0.5003, 0.0002)]),
    );
    let (code, recalls) = app.get("/api/v1/recalls?within=30", Some("inspector"));
    assert_eq!(code, Status::Ok, "{recalls}");
    assert_eq!(recalls["as_of"], today.to_string());
    let customers = recalls["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["customer"], "ACME Valves");
    let items: Vec<(&str, &str)> = customers[0]["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["asset_tag"].as_str().unwrap(),
                i["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(items, vec![("PG-1", "overdue"), ("PG-2", "due")]);
    assert_eq!(
        app.get("/api/v1/recalls?within=-1", Some("inspector")).0,
        Status::UnprocessableEntity
    );
}

#[test]
fn suggested_interval_follows_the_as_found_history() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let gauge = register(&app, "PG-1", "working");
    let (_, empty) = app.get(
        &format!("/api/v1/instruments/{gauge}/interval"),
        Some("inspector"),
    );
    assert_eq!(
        (
            empty["configured_interval_days"].as_i64(),
            empty["suggested_interval_days"].as_i64()
        ),
        (Some(365), Some(365))
    );
    issue(
        &app,
        &calibration(gauge, &[nim], "2025-01-10", vec![point(0.5003, 0.0002)]),
    );
    issue(
        &app,
        &calibration(gauge, &[nim], "2025-06-10", vec![point(0.5003, 0.0002)]),
    );
    // Found out of tolerance, adjusted: the as-found result is what counts.
    let mut adjusted = point(0.5001, 0.0002);
    adjusted["stage"] = json!("as_left");
    issue(
        &app,
        &calibration(
            gauge,
            &[],
            "2026-01-10",
            vec![point(0.502, 0.0002), adjusted],
        ),
    );
    let (code, suggestion) = app.get(
        &format!("/api/v1/instruments/{gauge}/interval"),
        Some("inspector"),
    );
    assert_eq!(code, Status::Ok);
    let history: Vec<bool> = suggestion["as_found_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["in_tolerance"].as_bool().unwrap())
        .collect();
    assert_eq!(history, vec![true, true, false]);
    // 365 → 456 → 570 → 285 (OIML D10 staircase: +25 %, +25 %, −50 %).
    assert_eq!(suggestion["suggested_interval_days"], 285);
}

/// Issue 20: asked for `application/x-ndjson`, a list longer than a JSON answer may hold is
/// answered one JSON row per line, in the order asked, in parts of 5 000 — each row the
/// same as the JSON answer's for that id.
#[test]
fn a_long_bulk_list_is_streamed_as_ndjson_rows_in_the_order_asked() {
    use rocket::http::ContentType;
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let valid = register(&app, "PG-1", "working");
    let never = register(&app, "PG-2", "working");
    issue(
        &app,
        &calibration(valid, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
    );
    // 12 000 rows: three parts; the known ids stand at both ends and across a part's edge.
    let mut ids: Vec<i64> = (1_000_000..1_012_000).collect();
    ids[0] = valid;
    ids[4_999] = never;
    ids[5_000] = valid;
    ids[11_999] = nim;
    let body = json!({"at": "2026-06-01", "ids": ids}).to_string();
    let (code, text, kind) = app.post_as(
        "/api/v1/instruments/status",
        Some("inspector"),
        ContentType::JSON,
        "application/x-ndjson",
        &body,
    );
    assert_eq!(code, Status::Ok, "{text}");
    assert_eq!(kind.as_deref(), Some("application/x-ndjson"));
    let rows: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 12_000);
    let answered: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(answered, ids);
    let reason = |i: usize| rows[i]["reason"].as_str().unwrap();
    assert_eq!(
        [
            reason(0),
            reason(1),
            reason(4_999),
            reason(5_000),
            reason(11_999)
        ],
        [
            "valid",
            "unknown_instrument",
            "never_calibrated",
            "valid",
            "valid"
        ]
    );
    // The same row as the JSON answer of a short list.
    let (_, short) = app.post(
        "/api/v1/instruments/status",
        Some("inspector"),
        &json!({"at": "2026-06-01", "ids": [valid]}),
    );
    assert_eq!(rows[0], short["results"][0]);
    // Without asking for the stream, the same list is refused, saying how to get it.
    let (code, problem) = app.send(
        rocket::http::Method::Post,
        "/api/v1/instruments/status",
        Some("inspector"),
        &body,
    );
    assert_eq!(code, Status::UnprocessableEntity);
    assert_eq!(fields(&problem), ["ids"]);
    assert!(
        problem["detail"].as_str().unwrap().contains("x-ndjson"),
        "{problem}"
    );
}
