use rocket::http::Status;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::audit::cli;
use crate::common::fixtures::{calibration, issue, point, register, traced_certificate};
use crate::common::{fields, TestApp};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn download(app: &TestApp, number: &str, which: &str) -> Vec<u8> {
    app.bytes(
        &format!("/api/v1/certificates/{number}/{which}"),
        Some("inspector"),
    )
}

/// The largest calibration allowed (1 000 points) gives a DCC larger than one download part:
/// it is streamed a part at a time (issue 21: four concurrent downloads of a large DCC once
/// held 4 GB), and the bytes received are still exactly the ones issued.
#[test]
fn a_large_document_is_streamed_in_parts_and_arrives_whole() {
    let app = TestApp::new();
    let (_, small) = traced_certificate(&app);
    let national = register(&app, "NIM-L", "national");
    let gauge = register(&app, "PG-L", "working");
    let points = vec![point(0.5003, 0.0002); caltrace::workflow::calibrations::MAX_POINTS];
    let issued = issue(&app, &calibration(gauge, &[national], "2026-05-10", points));
    let number = issued["certificate_number"].as_str().unwrap();
    let (_, listed) = app.get(&format!("/api/v1/certificates/{number}"), Some("auditor"));
    for (which, hash) in [("dcc", "dcc_sha256"), ("pdf", "sha256")] {
        let path = format!("/api/v1/certificates/{number}/{which}");
        let response = app
            .client
            .get(path.clone())
            .header(app.auth(Some("inspector")).unwrap())
            .dispatch();
        assert_eq!(response.status(), Status::Ok, "{path}");
        let preset = response.body().preset_size();
        let bytes = response.into_bytes().unwrap();
        assert_eq!(listed[hash], sha256(&bytes), "{which} arrives as issued");
        if bytes.len() > caltrace::http::DOWNLOAD_PART {
            assert_eq!(preset, None, "{which} of {} bytes is streamed", bytes.len());
        } else {
            assert_eq!(preset, Some(bytes.len()), "{which} fits in one part");
        }
        if which == "dcc" {
            assert!(
                bytes.len() > 2 * caltrace::http::DOWNLOAD_PART,
                "the DCC of 1 000 points spans several parts ({} bytes)",
                bytes.len()
            );
        }
    }
    // A small document is one part, served with its length.
    let number = small["certificate_number"].as_str().unwrap();
    let response = app
        .client
        .get(format!("/api/v1/certificates/{number}/dcc"))
        .header(app.auth(Some("inspector")).unwrap())
        .dispatch();
    let preset = response.body().preset_size();
    assert_eq!(preset, Some(response.into_bytes().unwrap().len()));
}

#[test]
fn downloads_are_the_bytes_issued_and_verify_by_either_hash() {
    let app = TestApp::new();
    let (gauge, issued) = traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    let (status, listed) = app.get("/api/v1/certificates", Some("auditor"));
    assert_eq!(status, Status::Ok, "{listed}");
    assert_eq!(listed["total"], 1);
    let item = &listed["items"][0];
    assert_eq!(item["number"], number.as_str());
    assert_eq!(item["status"], "issued");
    assert_eq!(item["instrument_id"], gauge);
    assert_eq!(item["superseded_by"], Value::Null);
    assert_eq!(
        item["issued_on"],
        chrono::Utc::now().date_naive().to_string()
    );
    let pdf = download(&app, &number, "pdf");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    assert_eq!(item["sha256"], sha256(&pdf));
    let dcc = download(&app, &number, "dcc");
    assert_eq!(item["dcc_sha256"], sha256(&dcc));
    // Downloading again gives the same bytes.
    assert_eq!(download(&app, &number, "pdf"), pdf);

    let (status, detail) = app.get(&format!("/api/v1/certificates/{number}"), Some("inspector"));
    assert_eq!(status, Status::Ok);
    assert_eq!(detail["calibration"]["id"], issued["id"]);
    assert_eq!(detail["sha256"], item["sha256"]);

    for hash in [sha256(&pdf), sha256(&dcc).to_uppercase()] {
        let (status, answer) = app.get(&format!("/api/v1/verify/{number}?sha256={hash}"), None);
        assert_eq!(status, Status::Ok);
        assert_eq!(
            answer,
            json!({"number": number, "genuine": true, "status": "issued", "superseded_by": null,
                   "issued_on": item["issued_on"], "calibrated_on": "2026-05-10",
                   "item": {"manufacturer": "WIKA", "model": "CPG1500", "serial_number": "SN-PG-1"}})
        );
    }
    let (_, wrong) = app.get(
        &format!("/api/v1/verify/{number}?sha256={}", "0".repeat(64)),
        None,
    );
    assert_eq!(
        (wrong["genuine"].as_bool(), wrong["status"].as_str()),
        (Some(false), Some("issued"))
    );
    // Without a hash the register vouches for the number, not for the paper.
    let (_, no_hash) = app.get(&format!("/api/v1/verify/{number}"), None);
    assert_eq!(
        (&no_hash["genuine"], no_hash["status"].as_str()),
        (&Value::Null, Some("issued")),
        "{no_hash}"
    );
    for malformed in ["abc", &"g".repeat(64), &"0".repeat(63)] {
        let (status, problem) =
            app.get(&format!("/api/v1/verify/{number}?sha256={malformed}"), None);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "sha256", "{problem}");
        let (status, _) = app.get(&format!("/verify/{number}?sha256={malformed}"), None);
        assert_eq!(status, Status::UnprocessableEntity);
    }
    let (status, unknown) = app.get("/api/v1/verify/CT-1999-000001", None);
    assert_eq!(status, Status::Ok);
    assert_eq!(
        unknown,
        json!({"number": "CT-1999-000001", "genuine": false, "status": null, "superseded_by": null,
               "issued_on": null, "calibrated_on": null, "item": null})
    );
    let (status, page) = app.get(&format!("/verify/{number}"), None);
    assert_eq!(status, Status::Ok);
    let page = page.as_str().unwrap().to_string();
    assert!(
        page.contains(&number)
            && page.contains("Issued by this laboratory, in force")
            && page.contains("CPG1500")
            && page.contains("name=\"sha256\""),
        "{page}"
    );
    assert!(!page.to_lowercase().contains("genuine"), "{page}");
    let (_, page) = app.get(&format!("/verify/{number}?sha256={}", sha256(&pdf)), None);
    assert!(page.as_str().unwrap().contains("Genuine and current"));
    let (_, page) = app.get("/verify/%3Cscript%3E", None);
    assert!(!page.as_str().unwrap().contains("<script>"), "escaped");
}

#[test]
fn withdrawn_and_superseded_certificates_verify_as_such() {
    let app = TestApp::new();
    let (gauge, issued) = traced_certificate(&app);
    let national = 1;
    let old = issued["certificate_number"].as_str().unwrap().to_string();
    let mut body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5002, 0.0002)],
    );
    body["replaces"] = json!({"number": old, "type": "amended", "reason": "wrong indicated value"});
    let replacement = issue(&app, &body);
    let new = replacement["certificate_number"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, answer) = app.get(&format!("/api/v1/verify/{old}"), None);
    assert_eq!(
        (answer["status"].as_str(), answer["superseded_by"].as_str()),
        (Some("superseded"), Some(new.as_str()))
    );
    app.post(
        &format!("/api/v1/certificates/{new}/withdraw"),
        Some("approver"),
        &json!({"reason": "standard out of tolerance"}),
    );
    let (_, answer) = app.get(&format!("/api/v1/verify/{new}"), None);
    assert_eq!(answer["status"], "withdrawn");
    let (_, page) = app.get(&format!("/verify/{new}"), None);
    let page = page.as_str().unwrap();
    // DESIGN 8: "withdrawn on … because …", and the recommended recalibration date.
    let today = chrono::Utc::now().date_naive().to_string();
    assert!(
        page.contains("Issued by this laboratory, WITHDRAWN"),
        "{page}"
    );
    assert!(
        page.contains(&format!("on {today} "))
            && page.contains("because: standard out of tolerance"),
        "{page}"
    );
    let due = replacement["due_on"].as_str().unwrap();
    assert!(
        page.contains(&format!("<td id=\"recalibration-due\">{due}</td>")),
        "{page}"
    );
    let (_, page) = app.get(&format!("/verify/{old}"), None);
    let page = page.as_str().unwrap();
    assert!(
        page.contains("SUPERSEDED") && page.contains(&format!("href=\"/verify/{new}\"")),
        "{page}"
    );
    assert!(!page.contains("id=\"withdrawal\""), "{page}");
    let (_, listed) = app.get("/api/v1/certificates?status=superseded", Some("approver"));
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["superseded_by"], new.as_str());
    let (_, listed) = app.get(
        &format!(
            "/api/v1/certificates?instrument_id={gauge}&customer=ACME%20Valves&from=2000-01-01"
        ),
        Some("admin"),
    );
    assert_eq!(listed["total"], 2);
    // Without a filter on status or customer the total is counted on certificates alone:
    // the same numbers as the joined count.
    let (_, listed) = app.get(
        &format!("/api/v1/certificates?instrument_id={gauge}&from=2000-01-01"),
        Some("admin"),
    );
    assert_eq!(listed["total"], 2);
    let (_, all) = app.get("/api/v1/certificates?per_page=100", Some("admin"));
    assert_eq!(all["total"], all["items"].as_array().unwrap().len());
    assert!(all["total"].as_u64().unwrap() >= 2, "{all}");
    // Keyset pagination by number: one at a time from next_after walks the whole list.
    let mut walked = Vec::new();
    let mut next = String::new();
    loop {
        let (_, one) = app.get(
            &format!("/api/v1/certificates?per_page=1{next}"),
            Some("admin"),
        );
        let Some(item) = one["items"].as_array().unwrap().first() else {
            break;
        };
        assert_eq!(one["next_after"], item["number"]);
        assert_eq!(one["total"], all["total"]);
        next = format!("&after={}", item["number"].as_str().unwrap());
        walked.push(item.clone());
    }
    assert_eq!(Value::from(walked), all["items"]);
    let (status, problem) = app.get("/api/v1/certificates?page=1&after=CT-1", Some("admin"));
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["after".to_string()])
    );
    let (_, listed) = app.get("/api/v1/certificates?to=2000-01-01", Some("admin"));
    assert_eq!(listed["total"], 0);
    let (status, problem) = app.get("/api/v1/certificates?status=lost", Some("admin"));
    assert_eq!(
        (status, fields(&problem)),
        (Status::UnprocessableEntity, vec!["status".to_string()])
    );
    assert_eq!(
        app.get("/api/v1/certificates", Some("technician")).0,
        Status::Forbidden
    );
    assert_eq!(
        app.get(
            "/api/v1/certificates/CT-1999-000001/pdf",
            Some("technician")
        )
        .0,
        Status::NotFound
    );
}

#[test]
fn the_audit_head_on_a_certificate_proves_the_log_was_not_truncated() {
    let app = TestApp::new();
    let (_, issued) = traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap();
    let (_, detail) = app.get(&format!("/api/v1/certificates/{number}"), Some("auditor"));
    let head = detail["audit_head"].as_str().unwrap().to_string();
    assert_eq!(head.len(), 64);
    let (ok, output) = cli(&app, &["audit", "verify", "--head", &head]);
    assert!(ok, "{output}");
    // Delete the log's tail back to (and including) the printed head.
    app.with_conn(|conn| {
        use caltrace::db::schema::audit_log;
        use diesel::prelude::*;
        let seq: i64 = audit_log::table
            .filter(audit_log::hash.eq(&head))
            .select(audit_log::seq)
            .first(conn)
            .unwrap();
        diesel::delete(audit_log::table.filter(audit_log::seq.ge(seq)))
            .execute(conn)
            .unwrap();
    });
    let (ok, output) = cli(&app, &["audit", "verify", "--head", &head]);
    assert!(!ok && output.contains("not in the audit log"), "{output}");
}

/// The documents an approval stores read back as what was certified: the PDF's
/// text names the certificate and its traceability in both languages, and the
/// DCC validates against the bundled DCC 3.3.0 schema.
#[test]
fn issued_documents_read_back() {
    let tools = ["pdftotext", "xmllint"]
        .iter()
        .all(|t| std::process::Command::new(t).arg("-v").output().is_ok());
    if !tools {
        assert!(
            std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
            "pdftotext and xmllint are required"
        );
        eprintln!("NOTE: poppler-utils / libxml2-utils not installed; document read-back skipped");
        return;
    }
    let app = TestApp::new();
    let (_, issued) = traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let pdf_path = dir.path().join("c.pdf");
    std::fs::write(&pdf_path, download(&app, &number, "pdf")).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&pdf_path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for expected in [
        number.as_str(),
        "Calibration Certificate",
        "校准证书",
        "CPG1500",
        "SN-PG-1",
        "ACME Valves",
        "NIM",
        "JJG 52-2013",
        "approver",
        "Page 1 of",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the PDF text:\n{text}"
        );
    }
    let dcc_path = dir.path().join("c.xml");
    std::fs::write(&dcc_path, download(&app, &number, "dcc")).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dcc-3.3.0/dcc.xsd");
    let check = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", schema])
        .arg(&dcc_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The probe's finding (issue 21): after a PUT changed the instrument's serial
/// number, verification answered the new one. It answers the item as certified.
#[test]
fn verification_answers_the_item_as_certified() {
    let app = TestApp::new();
    let (gauge, issued) = traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    let mut changed = crate::common::pressure_gauge("PG-1", "SN-CHANGED");
    changed["role"] = json!("working");
    let (status, body) = app.put(
        &format!("/api/v1/instruments/{gauge}"),
        Some("admin"),
        &changed,
    );
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["serial_number"], "SN-CHANGED");
    let (status, answer) = app.get(&format!("/api/v1/verify/{number}"), None);
    assert_eq!(status, Status::Ok);
    assert_eq!(answer["item"]["serial_number"], "SN-PG-1", "{answer}");
}

/// The approver's electronic signature through the API (21 CFR 11.50; the bearer token is its
/// second component): the meaning given, or "approved", stored with the signing time, and
/// printed with the signer's name on the PDF and in the DCC; a meaning that is blank, too long
/// or not one line is 422 naming `meaning`, and nothing is approved.
#[test]
fn an_approval_is_signed_with_its_meaning_on_the_certificate() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let gauge = register(&app, "PG-1", "working");
    let id = crate::common::fixtures::submitted(
        &app,
        &calibration(
            gauge,
            &[national],
            "2026-05-10",
            vec![point(0.5003, 0.0002)],
        ),
    );
    let approve = |body: Value| {
        app.post(
            &format!("/api/v1/calibrations/{id}/approve"),
            Some("approver"),
            &body,
        )
    };
    for bad in [
        json!({"meaning": " "}),
        json!({"meaning": "a\nb"}),
        json!({"meaning": "x".repeat(201)}),
    ] {
        let (status, problem) = approve(bad);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        assert_eq!(fields(&problem), ["meaning"]);
    }
    let (_, still) = app.get(&format!("/api/v1/calibrations/{id}"), Some("approver"));
    assert_eq!(still["status"], "submitted");

    let (status, approved) = approve(json!({"meaning": "reviewed and released for use"}));
    assert_eq!(status, Status::Ok, "{approved}");
    assert_eq!(
        approved["approval_meaning"],
        "reviewed and released for use"
    );
    let signed_at = approved["approved_at"].as_str().unwrap().to_string();
    assert!(signed_at.starts_with(&chrono::Utc::now().date_naive().to_string()));
    let number = approved["certificate_number"].as_str().unwrap();
    let dcc = String::from_utf8(download(&app, number, "dcc")).unwrap();
    let minute = signed_at[..16].replace('T', " ");
    let words = format!(
        "Signed electronically by approver on {minute} UTC; meaning of the signature: \
         reviewed and released for use"
    );
    assert!(
        dcc.contains(&words),
        "the DCC's respPerson carries the signature"
    );
    if let Some(text) = crate::common::pdf_text(&download(&app, number, "pdf")) {
        let squashed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squashed.contains(&words), "{squashed}");
    }
    // The audit entry of the approval records the meaning and the time too.
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={id}"),
        Some("auditor"),
    );
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "approve")
        .unwrap();
    let after: Value = serde_json::from_str(entry["after"].as_str().unwrap()).unwrap();
    assert_eq!(after["approval_meaning"], "reviewed and released for use");
    assert_eq!(after["approved_at"], signed_at.as_str());
}

/// A certificate in force whose calibration's traceability was found broken afterwards (a
/// standard's certificate withdrawn, DESIGN 7) is not shown as plainly in force: the page
/// says the chain is broken and to ask the laboratory.
#[test]
fn the_verification_page_says_when_the_chain_has_since_broken() {
    use caltrace::db::schema::calibrations;
    use diesel::prelude::*;
    let app = TestApp::new();
    let (_, issued) = traced_certificate(&app);
    let number = issued["certificate_number"].as_str().unwrap();
    let (_, page) = app.get(&format!("/verify/{number}"), None);
    assert!(!page.as_str().unwrap().contains("id=\"chain-broken\""));
    app.with_conn(|conn| {
        diesel::update(calibrations::table)
            .filter(calibrations::certificate_number.eq(number))
            .set(calibrations::chain_broken.eq(true))
            .execute(conn)
    })
    .unwrap();
    let (_, page) = app.get(&format!("/verify/{number}"), None);
    let page = page.as_str().unwrap();
    assert!(
        page.contains("id=\"chain-broken\"") && page.contains("Ask the laboratory"),
        "{page}"
    );
    // The JSON keeps exactly the contract's fields.
    let (_, answer) = app.get(&format!("/api/v1/verify/{number}"), None);
    assert_eq!(answer.as_object().unwrap().len(), 7, "{answer}");
}
