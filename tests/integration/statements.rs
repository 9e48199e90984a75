//! Validity statements (DESIGN 9c): the bulk answer numbered, stored with its PDF, read back by
//! its requester, verified publicly like a certificate, scoped like the bulk answer, and
//! signed with the laboratory's identity when one is installed.

use rocket::http::{ContentType, Status};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::archive::{stdout, tool};
use crate::checkers;
use crate::common::fixtures::{calibration, issue, point, register};
use crate::common::{fields, pdf_text, run_cli, TestApp};
use caltrace::auth::UserRole;
use caltrace::db::audit::Actor;
use caltrace::domain::people::Profile;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The inspector printed by full name, as the register has it.
fn name_inspector(app: &TestApp, full_name: &str) {
    app.with_conn(|conn| {
        let user = caltrace::db::users::find_user(conn, "inspector")
            .unwrap()
            .unwrap();
        let profile = Profile {
            full_name: Some(full_name.to_string()),
            title: None,
        };
        caltrace::db::users::set_profile(conn, &Actor::command_line(), user.id, &profile).unwrap();
    });
}

/// A national standard, a gauge calibrated against it (issued) and one never calibrated.
fn world(app: &TestApp) -> (i64, i64, String) {
    let nim = register(app, "NIM-0", "national");
    let gauge = register(app, "PG-1", "working");
    let never = register(app, "PG-2", "working");
    let issued = issue(
        app,
        &calibration(gauge, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
    );
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    (gauge, never, number)
}

fn rows(never: i64) -> Value {
    json!({"at": "2026-06-02", "items": [
        {"asset_tag": " pg-1", "at": "2026-06-01"},
        {"asset_tag": "PG-1", "at": "2026-05-01"},
        {"id": never},
        {"asset_tag": "NOPE", "at": "2026-06-01"}
    ]})
}

/// A row without its chain summary: what the bulk check answers for it.
fn without_chain(row: &Value) -> Value {
    let mut row = row.clone();
    row.as_object_mut().unwrap().remove("chain");
    row
}

#[test]
fn a_statement_lists_the_bulk_answer_numbered_stored_and_verifiable() {
    let app = TestApp::new();
    let (gauge, never, certificate) = world(&app);
    name_inspector(&app, "Zhang Min");
    let body = rows(never);
    let (code, bulk) = app.post("/api/v1/instruments/status", Some("inspector"), &body);
    assert_eq!(code, Status::Ok, "{bulk}");
    let (code, statement) = app.post("/api/v1/validity-statements", Some("inspector"), &body);
    assert_eq!(code, Status::Created, "{statement}");

    let number = statement["number"].as_str().unwrap().to_string();
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(number, format!("VS-{year}-000001"));
    assert_eq!(statement["requested_by"], "Zhang Min");
    assert_eq!(statement["lab"], app.issue_context().laboratory.name);
    assert_eq!(statement["signed"], false);
    assert_eq!(
        statement["pdf_url"],
        format!("/api/v1/validity-statements/{number}/pdf")
    );
    let created =
        chrono::DateTime::parse_from_rfc3339(statement["created_at"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - created.to_utc()).num_minutes().abs() < 5);

    // The rows are the bulk answer's, each with the instrument's chain on the date asked.
    let results = statement["results"].as_array().unwrap();
    let bulk_rows = bulk["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for (row, answered) in results.iter().zip(bulk_rows) {
        assert_eq!(&without_chain(row), answered);
    }
    assert_eq!(results[0]["id"], json!(gauge));
    assert_eq!(results[0]["certificate_number"], json!(certificate));
    assert_eq!(
        results[0]["chain"],
        json!({"traceable": true, "reaches": ["NIM (CN)"], "broken_link": null})
    );
    // Before its first calibration the gauge has no chain to speak of.
    assert_eq!(results[1]["chain"]["traceable"], false);
    assert_eq!(results[2]["reason"], "never_calibrated");
    assert_eq!(results[3]["reason"], "unknown_instrument");
    assert_eq!(results[3]["chain"], Value::Null);

    // Read back: the same JSON; the PDF's bytes hash to the stated SHA-256.
    let (code, read) = app.get(
        &format!("/api/v1/validity-statements/{number}"),
        Some("inspector"),
    );
    assert_eq!(code, Status::Ok, "{read}");
    assert_eq!(read, statement);
    let pdf = app.bytes(
        &format!("/api/v1/validity-statements/{number}/pdf"),
        Some("inspector"),
    );
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(statement["sha256"], sha256(&pdf));
    if let Some(text) = pdf_text(&pdf) {
        for expected in [
            "Validity statement",
            number.as_str(),
            "Zhang Min",
            "PG-1",
            "PG-2",
            "NOPE",
            "valid",
            "NOT valid",
            "never calibrated",
            "unknown instrument",
            certificate.as_str(),
            "Traceable to NIM (CN)",
            "Page 1 of 1",
            "UTC",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        assert!(text.contains(&format!("/verify/{number}")), "{text}");
    }
    assert_pdf_a(&pdf, &number);

    // Numbers are consecutive; the next is the requester's too.
    let (code, second) = app.post(
        "/api/v1/validity-statements",
        Some("inspector"),
        &json!({"ids": [gauge]}),
    );
    assert_eq!(code, Status::Created, "{second}");
    assert_eq!(second["number"], format!("VS-{year}-000002"));
    assert_eq!(
        second["results"][0]["at"],
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    );

    // Public verification, as for a certificate: genuine only with the PDF's hash.
    let (code, answer) = app.get(&format!("/api/v1/verify/{number}"), None);
    assert_eq!(code, Status::Ok, "{answer}");
    assert_eq!(answer["genuine"], Value::Null);
    assert_eq!(answer["status"], "issued");
    assert_eq!(answer["issued_on"], created.format("%Y-%m-%d").to_string());
    assert_eq!(
        answer["statement"]["description"],
        "validity statement of 4 instruments requested by Zhang Min"
    );
    let (_, answer) = app.get(
        &format!("/api/v1/verify/{number}?sha256={}", sha256(&pdf)),
        None,
    );
    assert_eq!(answer["genuine"], true, "{answer}");
    let (_, answer) = app.get(
        &format!("/api/v1/verify/{number}?sha256={}", "0".repeat(64)),
        None,
    );
    assert_eq!(answer["genuine"], false, "{answer}");
    let (_, unknown) = app.get("/api/v1/verify/VS-1999-000001", None);
    assert_eq!(unknown["genuine"], false);
    assert_eq!(unknown["status"], Value::Null);
    // A certificate's answer keeps exactly its fields.
    let (_, answer) = app.get(&format!("/api/v1/verify/{certificate}"), None);
    assert!(answer.get("statement").is_none(), "{answer}");

    let page = app
        .client
        .get(format!("/verify/{number}?sha256={}", sha256(&pdf)))
        .dispatch();
    assert_eq!(page.status(), Status::Ok);
    let html = page.into_string().unwrap();
    assert!(html.contains("Genuine and current"), "{html}");
    assert!(html.contains("validity statement of 4 instruments requested by Zhang Min"));
    let page = app
        .client
        .get(format!("/verify/{number}?sha256={}", "a".repeat(64)))
        .dispatch();
    assert!(page.into_string().unwrap().contains("NOT GENUINE"));

    // The audit log names the statement by its number.
    let (code, audit) = app.get(
        &format!("/api/v1/audit?entity=validity_statement&entity_id={number}"),
        Some("auditor"),
    );
    assert_eq!(code, Status::Ok, "{audit}");
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "issue");
    assert_eq!(entries[0]["user_name"], "inspector");
}

#[test]
fn only_the_requester_and_the_labs_admins_and_auditors_read_a_statement() {
    let app = TestApp::new();
    let (gauge, _, _) = world(&app);
    let (code, statement) = app.post(
        "/api/v1/validity-statements",
        Some("inspector"),
        &json!({"ids": [gauge], "at": "2026-06-01"}),
    );
    assert_eq!(code, Status::Created, "{statement}");
    // No full name in the register: the login name is printed.
    assert_eq!(statement["requested_by"], "inspector");
    let number = statement["number"].as_str().unwrap();
    for (who, expected) in [
        ("inspector", Status::Ok),
        ("auditor", Status::Ok),
        ("admin", Status::Ok),
        ("approver", Status::NotFound),
        ("technician", Status::NotFound),
    ] {
        let (code, _) = app.get(&format!("/api/v1/validity-statements/{number}"), Some(who));
        assert_eq!(code, expected, "{who}");
        let response = app
            .client
            .get(format!("/api/v1/validity-statements/{number}/pdf"))
            .header(app.auth(Some(who)).unwrap())
            .dispatch();
        assert_eq!(response.status(), expected, "{who} /pdf");
    }
    let (code, problem) = app.get("/api/v1/validity-statements/VS-2026-999999", Some("admin"));
    assert_eq!(code, Status::NotFound);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("VS-2026-999999"));
    let (code, _) = app.get(&format!("/api/v1/validity-statements/{number}"), None);
    assert_eq!(code, Status::Unauthorized);
    let (code, _) = app.post(
        "/api/v1/validity-statements",
        None,
        &json!({"ids": [gauge]}),
    );
    assert_eq!(code, Status::Unauthorized);
}

#[test]
fn a_customers_statement_never_lists_another_customers_instrument() {
    let mut app = TestApp::new();
    for (name, code) in [("ACME Valves", "A"), ("Beta Instruments", "B")] {
        let (status, body) = app.post(
            "/api/v1/customers",
            Some("technician"),
            &json!({"name": name, "code": code}),
        );
        assert_eq!(status, Status::Created, "{body}");
    }
    let nim = register(&app, "NIM-0", "national");
    let gauge = |tag: &str, customer: &str| {
        let mut body = crate::common::pressure_gauge(tag, &format!("SN-{tag}"));
        body["customer"] = json!(customer);
        let (status, created) = app.post("/api/v1/instruments", Some("admin"), &body);
        assert_eq!(status, Status::Created, "{created}");
        created["id"].as_i64().unwrap()
    };
    let a1 = gauge("A-1", "ACME Valves");
    let b1 = gauge("B-1", "Beta Instruments");
    for id in [a1, b1] {
        issue(
            &app,
            &calibration(id, &[nim], "2026-05-10", vec![point(0.5003, 0.0002)]),
        );
    }
    app.add_bound_user("cust-a", &[UserRole::Customer], &["A"]);
    let body = json!({"items": [
        {"asset_tag": "A-1", "at": "2026-06-01"},
        {"asset_tag": "B-1", "at": "2026-06-01"},
        {"id": b1, "at": "2026-06-01"}
    ]});
    let (code, statement) = app.post("/api/v1/validity-statements", Some("cust-a"), &body);
    assert_eq!(code, Status::Created, "{statement}");
    let reasons: Vec<&str> = statement["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["valid", "unknown_instrument", "unknown_instrument"]
    );
    for row in &statement["results"].as_array().unwrap()[1..] {
        assert_eq!(row["manufacturer"], Value::Null, "{row}");
        assert_eq!(row["serial_number"], Value::Null, "{row}");
        assert_eq!(row["certificate_number"], Value::Null, "{row}");
        assert_eq!(row["chain"], Value::Null, "{row}");
    }
    let number = statement["number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/validity-statements/{number}/pdf"),
        Some("cust-a"),
    );
    if let Some(text) = pdf_text(&pdf) {
        assert!(!text.contains("SN-B-1"), "{text}");
    }
    // Another customer's user is told nothing of it.
    app.add_bound_user("cust-b", &[UserRole::Customer], &["B"]);
    let (code, _) = app.get(
        &format!("/api/v1/validity-statements/{number}"),
        Some("cust-b"),
    );
    assert_eq!(code, Status::NotFound);
}

#[test]
fn bad_input_is_422_naming_the_field_and_issues_nothing() {
    let app = TestApp::new();
    let (gauge, _, _) = world(&app);
    for (body, field) in [
        (
            json!({"ids": [gauge], "asset_tags": ["PG-1"]}),
            "asset_tags",
        ),
        (json!({}), "ids"),
        (
            json!({"items": [{"at": "2026-06-01"}]}),
            "items[0].asset_tag",
        ),
        (
            json!({"items": [{"id": gauge, "at": "2026-13-01"}]}),
            "items[0].at",
        ),
        (json!({"ids": vec![gauge; 10_001]}), "ids"),
    ] {
        let (code, problem) = app.post("/api/v1/validity-statements", Some("inspector"), &body);
        assert_eq!(code, Status::UnprocessableEntity, "{body}: {problem}");
        assert!(
            fields(&problem).iter().any(|f| f.starts_with(field)),
            "{field}: {problem}"
        );
    }
    let (code, text, kind) = app.post_as(
        "/api/v1/validity-statements",
        Some("inspector"),
        ContentType::JSON,
        "application/json",
        "{not json",
    );
    assert_eq!(code, Status::BadRequest, "{text}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    // A CSV body is taken as the bulk check takes it.
    let (code, text, _) = app.post_as(
        "/api/v1/validity-statements",
        Some("inspector"),
        ContentType::CSV,
        "application/json",
        "asset_tag,at\nPG-1,2026-06-01\n",
    );
    assert_eq!(code, Status::Created, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["results"][0]["reason"], "valid");
    // Nothing refused used up a number.
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(created["number"], format!("VS-{year}-000001"));
}

#[test]
fn a_statement_is_signed_with_the_labs_identity_and_validates_with_pyhanko() {
    let app = TestApp::new();
    let (ok, output) = run_cli(&app.database_url, &["keys", "init"]);
    assert!(ok, "{output}");
    let (gauge, _, _) = world(&app);
    let (code, statement) = app.post(
        "/api/v1/validity-statements",
        Some("inspector"),
        &json!({"ids": [gauge], "at": "2026-06-01"}),
    );
    assert_eq!(code, Status::Created, "{statement}");
    assert_eq!(statement["signed"], true);
    let number = statement["number"].as_str().unwrap().to_string();
    let pdf = app.bytes(
        &format!("/api/v1/validity-statements/{number}/pdf"),
        Some("inspector"),
    );
    assert_eq!(statement["sha256"], sha256(&pdf));
    let verified = caltrace::signing::pades::verify(&pdf).unwrap();
    let reason = format!("Validity statement {number} requested by inspector");
    assert_eq!(verified.reason, reason);
    assert_eq!(
        verified.certificate_number.as_deref(),
        Some(number.as_str())
    );

    let trust = app
        .client
        .get("/api/v1/lab/trust")
        .dispatch()
        .into_string()
        .unwrap();
    let root = trust
        .split_inclusive("-----END CERTIFICATE-----\n")
        .last()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("root.pem");
    std::fs::write(&root_path, root).unwrap();
    let signed = dir.path().join(format!("{number}.pdf"));
    std::fs::write(&signed, &pdf).unwrap();
    if let Some(result) = checkers::pyhanko_verify(&signed, &root_path) {
        let report = result.unwrap_or_else(|r| panic!("pyHanko refuses the statement:\n{r}"));
        assert!(
            report.starts_with(
                "OK intact=True valid=True trusted=True coverage=ENTIRE_FILE \
                 modification=NONE subfilter=/ETSI.CAdES.detached"
            ),
            "{report}"
        );
        assert!(report.contains(&format!("reason={reason}")), "{report}");
    }

    // Offline, as a certificate: `caltrace verify FILE --trust ROOT`.
    let (ok, output) = run_cli(
        &app.database_url,
        &[
            "verify",
            signed.to_str().unwrap(),
            "--trust",
            root_path.to_str().unwrap(),
        ],
    );
    assert!(ok, "{output}");
    assert!(output.contains("valid PDF signature"), "{output}");
    assert!(
        output.contains(&format!("certificate number: {number}")),
        "{output}"
    );

    // The file dropped on the verification page: signed by this lab, and genuine.
    let boundary = "XSTATEMENTBOUNDARY";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&pdf);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post("/verify")
        .header(ContentType::new("multipart", "form-data").with_params(("boundary", boundary)))
        .body(form)
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    let html = response.into_string().unwrap();
    assert!(html.contains("Genuine and current"), "{html}");
    assert!(html.contains(&number), "{html}");
}

/// The cap of a bulk request, each row on its own date: answered, traced, printed and stored
/// in seconds, not minutes (the time is printed for the README).
#[test]
fn ten_thousand_dated_rows_make_one_statement_in_seconds() {
    let app = TestApp::new();
    let (_, never, _) = world(&app);
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let items: Vec<Value> = (0..10_000u64)
        .map(|i| {
            let at = (start + chrono::Days::new(i % 330)).to_string();
            match i % 4 {
                0 => json!({"id": never, "at": at}),
                3 => json!({"asset_tag": format!("NOPE-{i}"), "at": at}),
                _ => json!({"asset_tag": "PG-1", "at": at}),
            }
        })
        .collect();
    let started = std::time::Instant::now();
    let (code, statement) = app.post(
        "/api/v1/validity-statements",
        Some("inspector"),
        &json!({"items": items}),
    );
    let elapsed = started.elapsed();
    assert_eq!(code, Status::Created, "{statement}");
    eprintln!("10 000-row validity statement through the API: {elapsed:.2?}");
    let results = statement["results"].as_array().unwrap();
    assert_eq!(results.len(), 10_000);
    // Before its calibration on 2026-05-10 the gauge was not yet calibrated; after, valid.
    assert_eq!(results[1]["at"], "2026-01-02");
    assert_eq!(results[1]["reason"], "not_yet_calibrated");
    assert_eq!(results[201]["at"], "2026-07-21");
    assert_eq!(results[201]["reason"], "valid");
    assert_eq!(results[201]["chain"]["traceable"], true);
    assert_eq!(results[3]["reason"], "unknown_instrument");
    let number = statement["number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/validity-statements/{number}/pdf"),
        Some("inspector"),
    );
    assert_eq!(statement["sha256"], sha256(&pdf));
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

/// Each row's chain summary says what the traceability route says of that instrument on that
/// date: a gauge calibrated with a reference standard whose calibration had expired is not
/// traceable, the standard named by asset tag, while the standard itself, asked on a date it
/// was in calibration, is traceable to the national standard.
#[test]
fn chain_summaries_agree_with_the_traceability_route() {
    let app = TestApp::new();
    let nim = register(&app, "NIM-0", "national");
    let reference = register(&app, "REF-1", "reference");
    let gauge = register(&app, "PG-1", "working");
    issue(
        &app,
        &calibration(reference, &[nim], "2025-01-10", vec![point(0.5001, 0.0001)]),
    );
    // 365 days later the standard's calibration has expired: this link breaks.
    issue(
        &app,
        &calibration(
            gauge,
            &[reference],
            "2026-05-10",
            vec![point(0.5003, 0.0004)],
        ),
    );
    let asked = [
        (gauge, "2026-06-01"),
        (reference, "2025-06-01"),
        (gauge, "2026-04-01"),
        (nim, "2026-06-01"),
    ];
    let items: Vec<Value> = asked
        .iter()
        .map(|(id, at)| json!({"id": id, "at": at}))
        .collect();
    let (code, statement) = app.post(
        "/api/v1/validity-statements",
        Some("inspector"),
        &json!({"items": items}),
    );
    assert_eq!(code, Status::Created, "{statement}");
    let results = statement["results"].as_array().unwrap();
    for ((id, at), row) in asked.iter().zip(results) {
        let (code, report) = app.get(
            &format!("/api/v1/instruments/{id}/traceability?at={at}"),
            Some("inspector"),
        );
        assert_eq!(code, Status::Ok, "{report}");
        assert_eq!(
            row["chain"]["traceable"], report["traceable"],
            "{id} on {at}"
        );
        assert_eq!(
            row["chain"]["broken_link"].is_null(),
            report["broken_link"].is_null()
        );
    }
    assert_eq!(results[0]["reason"], "not_traceable");
    let broken = results[0]["chain"]["broken_link"].as_str().unwrap();
    assert!(broken.starts_with("REF-1"), "{broken}");
    assert!(broken.ends_with("standard expired at use"), "{broken}");
    assert_eq!(results[1]["chain"]["reaches"], json!(["NIM (CN)"]));
    assert_eq!(results[3]["chain"]["traceable"], true);
    let number = statement["number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/validity-statements/{number}/pdf"),
        Some("inspector"),
    );
    if let Some(text) = pdf_text(&pdf) {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("Not traceable: REF-1"), "{text}");
    }
}

/// Sound (qpdf), PDF/A-3b by its metadata, every font embedded: archived as a certificate is.
fn assert_pdf_a(pdf: &[u8], number: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("statement.pdf");
    std::fs::write(&file, pdf).unwrap();
    let path = file.to_str().unwrap();
    if let Some(check) = tool("qpdf", &["--check", path]) {
        assert!(check.status.success(), "qpdf --check: {}", stdout(&check));
        assert!(stdout(&check).contains("No syntax or stream encoding errors"));
    }
    if let Some(meta) = tool("pdfinfo", &["-meta", path]) {
        let xmp = stdout(&meta);
        assert!(xmp.contains("<pdfaid:part>3</pdfaid:part>"), "{xmp}");
        assert!(
            xmp.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
            "{xmp}"
        );
        assert!(
            xmp.contains(&format!("Validity statement / 有效性声明 {number}")),
            "{xmp}"
        );
    }
    if let Some(fonts) = tool("pdffonts", &[path]) {
        let listing = stdout(&fonts);
        for row in listing.lines().skip(2) {
            let columns: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(
                columns[columns.len() - 5],
                "yes",
                "a font not embedded: {row}"
            );
        }
    }
}

/// Requests at the same time queue on the counter: every number once, none skipped. (The
/// local client is single-threaded, so the threads call the workflow as the route does.)
#[test]
fn concurrent_statements_get_consecutive_numbers() {
    use caltrace::workflow::validity::{InstrumentKey, StatusItem};
    let app = TestApp::new();
    let (gauge, _, _) = world(&app);
    let user = app.with_conn(|conn| {
        caltrace::db::users::find_user(conn, "inspector")
            .unwrap()
            .unwrap()
    });
    let context = app.issue_context();
    let items = [StatusItem {
        instrument: InstrumentKey::Id(gauge),
        at: chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
    }];
    let mut numbers: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (database, user, context, items) = (&app.database, &user, &context, &items);
                scope.spawn(move || {
                    let mut conn = database.get().unwrap();
                    caltrace::workflow::statements::issue(&mut conn, user, items, context)
                        .unwrap()
                        .number
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    numbers.sort();
    let year = chrono::Utc::now().format("%Y").to_string();
    let expected: Vec<String> = (1..=6).map(|n| format!("VS-{year}-{n:06}")).collect();
    assert_eq!(numbers, expected);
}
