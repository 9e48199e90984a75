//! The period export (DESIGN 9c): a ZIP an assessor takes away, checked as they would check
//! it — every file's SHA-256 recomputed against SHA256SUMS, the documents byte-identical to
//! the downloads, the audit extract holding each record's history, Python's zipfile finding
//! the archive sound.

use std::collections::BTreeMap;
use std::io::Read;

use rocket::http::Status;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::fixtures::{calibration, issue, point, traced_certificate};
use crate::common::{fields, TestApp};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file of the ZIP by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().unwrap().to_string(), content)
        })
        .collect()
}

#[test]
fn the_period_export_holds_each_certificate_its_history_and_checksums_that_hold() {
    let app = TestApp::new();
    let (gauge, first) = traced_certificate(&app);
    let second = issue(
        &app,
        &calibration(gauge, &[1], "2026-05-11", vec![point(0.5001, 0.0002)]),
    );
    let numbers: Vec<&str> = [&first, &second]
        .iter()
        .map(|c| c["certificate_number"].as_str().unwrap())
        .collect();
    let today = chrono::Utc::now().date_naive();
    let path = format!("/api/v1/certificates/export?from={today}&to={today}");
    let response = app
        .client
        .get(path.clone())
        .header(app.auth(Some("auditor")).unwrap())
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.content_type().unwrap().to_string(),
        "application/zip"
    );
    let disposition = response
        .headers()
        .get_one("Content-Disposition")
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"certificates-{today}-{today}.zip\"")
    );
    let bytes = response.into_bytes().unwrap();
    let files = unzip(&bytes);

    // SHA256SUMS names every other file, and each hash is the file's.
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    let listed: BTreeMap<&str, &str> = sums
        .lines()
        .map(|line| {
            let (hash, name) = line.split_once("  ").unwrap();
            (name, hash)
        })
        .collect();
    let others: Vec<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|n| *n != "SHA256SUMS")
        .collect();
    assert_eq!(listed.keys().copied().collect::<Vec<_>>(), others);
    for (name, hash) in &listed {
        assert_eq!(sha256(&files[*name]), *hash, "{name}");
    }
    for number in &numbers {
        for (extension, which) in [("pdf", "pdf"), ("xml", "dcc")] {
            let download = app.bytes(
                &format!("/api/v1/certificates/{number}/{which}"),
                Some("auditor"),
            );
            assert_eq!(
                files[&format!("certificates/{number}.{extension}")],
                download
            );
        }
        let record: Value =
            serde_json::from_slice(&files[&format!("certificates/{number}.json")]).unwrap();
        let (_, read) = app.get(&format!("/api/v1/certificates/{number}"), Some("auditor"));
        assert_eq!(record, read);
    }
    let audit: Vec<Value> = String::from_utf8(files["audit/part-0001.jsonl"].clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["entity_id"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    let (a, b) = (first["id"].to_string(), second["id"].to_string());
    assert_eq!(
        actions,
        [
            (a.as_str(), "create"),
            (a.as_str(), "submit"),
            (a.as_str(), "approve"),
            (b.as_str(), "create"),
            (b.as_str(), "submit"),
            (b.as_str(), "approve")
        ]
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["certificates"], 2);
    assert_eq!(manifest["audit_entries"], 6);
    assert_eq!(manifest["exported_by"], "auditor");
    assert_eq!(manifest["period"]["from"], today.to_string());
    assert!(files.contains_key("cmc.json"));

    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("export.zip");
    std::fs::write(&zip_path, &bytes).unwrap();
    let python = std::env::var("CALTRACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let checked = std::process::Command::new(python)
        .args(["-m", "zipfile", "-t"])
        .arg(&zip_path)
        .output()
        .expect("python runs");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    // A period with nothing issued is an export with nothing in it, not an error.
    let response = app
        .client
        .get("/api/v1/certificates/export?from=2000-01-01&to=2000-12-31")
        .header(app.auth(Some("admin")).unwrap())
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    let empty = unzip(&response.into_bytes().unwrap());
    assert_eq!(
        empty.keys().collect::<Vec<_>>(),
        ["SHA256SUMS", "cmc.json", "manifest.json"]
    );
}

#[test]
fn the_export_is_for_auditors_and_admins_over_a_period_given_right() {
    let app = TestApp::new();
    let (status, _) = app.get(
        "/api/v1/certificates/export?from=2026-01-01&to=2026-12-31",
        Some("technician"),
    );
    assert_eq!(status, Status::Forbidden);
    for (query, field) in [
        ("to=2026-12-31", "from"),
        ("from=2026-01-01", "to"),
        ("from=2026-13-01&to=2026-12-31", "from"),
        ("from=2026-06-01&to=2026-05-31", "to"),
    ] {
        let (status, problem) = app.get(
            &format!("/api/v1/certificates/export?{query}"),
            Some("auditor"),
        );
        assert_eq!(status, Status::UnprocessableEntity, "{query}: {problem}");
        assert_eq!(fields(&problem), [field], "{query}: {problem}");
    }
}
