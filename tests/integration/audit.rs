use diesel::prelude::*;
use rocket::http::Status;
use serde_json::json;

use crate::common::{pressure_gauge, TestApp};
use caltrace::db::schema::audit_log;

#[test]
fn every_mutation_is_audited_with_before_and_after() {
    let app = TestApp::new();
    let (_, created) = app.post(
        "/api/v1/instruments",
        Some("technician"),
        &pressure_gauge("PG-1", "S1"),
    );
    let id = created["id"].as_i64().unwrap();
    let mut changed = pressure_gauge("PG-1", "S1");
    changed["location"] = json!("Line 9");
    app.put(
        &format!("/api/v1/instruments/{id}"),
        Some("admin"),
        &changed,
    );
    app.post(
        &format!("/api/v1/instruments/{id}/suspend"),
        Some("technician"),
        &json!({"reason": "leaking"}),
    );
    // A refused change leaves no trace.
    app.post(
        &format!("/api/v1/instruments/{id}/suspend"),
        Some("technician"),
        &json!({}),
    );

    let (status, page) = app.get("/api/v1/audit?entity=instrument", Some("auditor"));
    assert_eq!(status, Status::Ok);
    let items = page["items"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["user_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("create", "technician"),
            ("update", "admin"),
            ("suspend", "technician")
        ]
    );
    let update = &items[1];
    let before: serde_json::Value =
        serde_json::from_str(update["before"].as_str().unwrap()).unwrap();
    let after: serde_json::Value = serde_json::from_str(update["after"].as_str().unwrap()).unwrap();
    assert_eq!(before["location"], "Line 3");
    assert_eq!(after["location"], "Line 9");
    let suspended: serde_json::Value =
        serde_json::from_str(items[2]["after"].as_str().unwrap()).unwrap();
    assert_eq!(suspended["status_reason"], "leaking");
    // Entries chain: each prev_hash is the hash before it (users and tokens came first).
    let (_, all) = app.get("/api/v1/audit?per_page=1000", Some("admin"));
    let all = all["items"].as_array().unwrap();
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1
        );
    }
    assert_eq!(page["head"], all.last().unwrap()["hash"]);
    let today = chrono::Utc::now().date_naive();
    let (_, none) = app.get(
        &format!("/api/v1/audit?to={}", today.pred_opt().unwrap()),
        Some("admin"),
    );
    assert_eq!(none["total"], 0);
    let (_, todays) = app.get(
        &format!("/api/v1/audit?from={today}&to={today}"),
        Some("admin"),
    );
    assert_eq!(todays["total"].as_i64().unwrap(), all.len() as i64);
    let (status, _) = app.get("/api/v1/audit?from=yesterday", Some("admin"));
    assert_eq!(status, Status::UnprocessableEntity);
}

pub fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    crate::common::run_cli(&app.database_url, args)
}

#[test]
fn audit_verify_catches_an_edited_row_and_a_deleted_tail() {
    let app = TestApp::new();
    for i in 0..3 {
        app.post(
            "/api/v1/instruments",
            Some("admin"),
            &pressure_gauge(&format!("PG-{i}"), &format!("S{i}")),
        );
    }
    let (ok, output) = cli(&app, &["audit", "verify"]);
    assert!(ok, "{output}");
    assert!(output.contains("audit log intact"), "{output}");
    let head = app.with_conn(caltrace::db::audit::head).unwrap();
    let (ok, output) = cli(&app, &["audit", "verify", "--head", &head]);
    assert!(ok, "{output}");

    // Someone edits a row directly in the database.
    let tampered_seq: i64 = app.with_conn(|conn| {
        let seq: i64 = audit_log::table
            .filter(audit_log::entity.eq("instrument"))
            .select(audit_log::seq)
            .order(audit_log::seq.asc())
            .first(conn)
            .unwrap();
        diesel::update(audit_log::table.find(seq))
            .set(audit_log::user_name.eq("mallory"))
            .execute(conn)
            .unwrap();
        seq
    });
    let (ok, output) = cli(&app, &["audit", "verify"]);
    assert!(!ok, "verify must fail: {output}");
    assert!(
        output.contains(&format!("audit row {tampered_seq} was altered")),
        "{output}"
    );
    let broken = app
        .with_conn(|conn| caltrace::db::audit::verify(conn, None))
        .unwrap();
    assert_eq!(
        broken,
        Err(caltrace::domain::audit::ChainBreak::Tampered { seq: tampered_seq })
    );

    // Restore it, then delete the tail: the chain is intact but the known head is gone.
    app.with_conn(|conn| {
        diesel::update(audit_log::table.find(tampered_seq))
            .set(audit_log::user_name.eq("admin"))
            .execute(conn)
            .unwrap();
        let last: i64 = audit_log::table
            .select(diesel::dsl::max(audit_log::seq))
            .first::<Option<i64>>(conn)
            .unwrap()
            .unwrap();
        diesel::delete(audit_log::table.find(last))
            .execute(conn)
            .unwrap();
    });
    assert!(cli(&app, &["audit", "verify"]).0);
    let (ok, output) = cli(&app, &["audit", "verify", "--head", &head]);
    assert!(!ok && output.contains("not in the audit log"), "{output}");

    // A row deleted from the middle is named.
    app.with_conn(|conn| {
        diesel::delete(audit_log::table.find(2))
            .execute(conn)
            .unwrap()
    });
    let (ok, output) = cli(&app, &["audit", "verify"]);
    assert!(!ok && output.contains("audit row 2 is missing"), "{output}");
}

#[test]
fn cli_creates_users_and_tokens_that_work_over_http() {
    let app = TestApp::new();
    let (ok, output) = cli(
        &app,
        &[
            "user", "add", "carol", "--role", "approver", "--role", "auditor",
        ],
    );
    assert!(ok, "{output}");
    let (ok, output) = cli(&app, &["token", "create", "carol"]);
    assert!(ok, "{output}");
    let token = output.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("ct_"), "{output}");
    assert_eq!(app.get("/api/v1/audit", Some(&token)).0, Status::Ok);
    let token_id: String = output.split_whitespace().nth(2).unwrap().to_string();
    let (ok, output) = cli(&app, &["token", "revoke", &token_id]);
    assert!(ok, "{output}");
    assert_eq!(
        app.get("/api/v1/audit", Some(&token)).0,
        Status::Unauthorized
    );
    let (ok, output) = cli(&app, &["user", "add", "dave", "--role", "wizard"]);
    assert!(!ok && output.contains("unknown role"), "{output}");
}

/// The entries an audit query returns: (action, entity, entity_id, user_name) each.
fn entries(app: &TestApp, query: &str) -> Vec<(String, String, String, String)> {
    let (status, page) = app.get(&format!("/api/v1/audit?{query}"), Some("auditor"));
    assert_eq!(status, Status::Ok, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |key: &str| e[key].as_str().unwrap().to_string();
            (
                text("action"),
                text("entity"),
                text("entity_id"),
                text("user_name"),
            )
        })
        .collect()
}

/// DESIGN 9c: a certificate's history is its calibration's, from draft to issue; an actor
/// filter returns that user's entries only; a filter naming what the log does not know is a
/// 422 naming the field, never an empty page that reads as "nothing happened".
#[test]
fn audit_filters_find_a_certificates_history_and_refuse_what_the_log_does_not_know() {
    let app = TestApp::new();
    let (_, issued) = crate::common::fixtures::traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap();
    let id = issued["id"].as_i64().unwrap().to_string();

    let history = entries(&app, &format!("entity=certificate&entity_id={number}"));
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|(action, _, _, user)| (action.as_str(), user.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("create", "technician"),
            ("submit", "technician"),
            ("approve", "approver")
        ]
    );
    assert!(history
        .iter()
        .all(|(_, entity, entity_id, _)| entity == "calibration" && *entity_id == id));
    assert_eq!(
        history,
        entries(&app, &format!("entity=calibration&entity_id={id}"))
    );

    let by_approver = entries(&app, "actor=approver");
    assert_eq!(by_approver.len(), 1, "{by_approver:?}");
    assert_eq!(by_approver[0].0, "approve");
    assert!(entries(&app, "actor=technician")
        .iter()
        .all(|(_, _, _, user)| user == "technician"));

    for (query, field) in [
        ("entity=certificates", "entity"),
        ("entity_id=1", "entity_id"),
        ("entity=instrument&entity_id=PG-1", "entity_id"),
        ("entity=instrument&entity_id=99999", "entity_id"),
        ("entity=certificate&entity_id=CT-1999-000001", "entity_id"),
        ("actor=nobody", "actor"),
    ] {
        let (status, problem) = app.get(&format!("/api/v1/audit?{query}"), Some("auditor"));
        assert_eq!(status, Status::UnprocessableEntity, "{query}: {problem}");
        assert_eq!(
            crate::common::fields(&problem),
            [field],
            "{query}: {problem}"
        );
    }
    let (_, problem) = app.get("/api/v1/audit?entity=certificates", Some("auditor"));
    assert!(
        problem.to_string().contains("certificate, user"),
        "{problem}"
    );
}

/// The chain recomputation docs/audit.md gives assessors, run as written against a live
/// service: it must agree with `caltrace audit verify` on the number of entries and the head.
#[test]
fn the_script_in_docs_audit_md_recomputes_the_chain() {
    use crate::common::live::{LiveDatabase, Server};
    let database = LiveDatabase::new();
    let auditor = database.user_with_token("assessor", &["auditor"]);
    let technician = database.user_with_token("tech", &["technician"]);
    let server = Server::start(&database, "audit.log", &[]);
    // An instrument whose description is not ASCII: lengths are UTF-8 bytes, not characters.
    let mut gauge = pressure_gauge("PG-AUDIT", "SN-AUDIT");
    gauge["description"] = json!("压力表 0–1 MPa");
    let created = server.post("/api/v1/instruments", Some(&technician), &gauge);
    assert_eq!(created.status, 201, "{}", created.body);

    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md")).unwrap();
    let start = docs.find("```python\n").expect("a python block") + "```python\n".len();
    let script = &docs[start..start + docs[start..].find("```").unwrap()];
    let python = std::env::var("CALTRACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = std::process::Command::new(python)
        .args(["-c", script])
        .env("TOKEN", &auditor)
        .env("API", format!("http://127.0.0.1:{}/api/v1", server.port))
        .output()
        .expect("python runs");
    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let verified = database.assert_audit_intact();
    // "audit log intact: N entries, head H" from caltrace; the script says the same N and H.
    let count = |text: &str, after: &str| -> String {
        let at = text
            .find(after)
            .unwrap_or_else(|| panic!("{after} in {text}"))
            + after.len();
        text[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches(',')
            .to_string()
    };
    assert_eq!(
        count(&said, "intact: "),
        count(&verified, "intact: "),
        "{said} / {verified}"
    );
    assert_eq!(
        count(&said, "head "),
        count(&verified, "head "),
        "{said} / {verified}"
    );
}
