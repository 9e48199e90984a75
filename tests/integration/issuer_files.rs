//! The issuer's certificate file of an external calibration (DESIGN 9c): uploaded as a PDF
//! or a DCC checked by its bytes, kept with its SHA-256, downloaded byte for byte within the
//! reader's scope, audited, shown on the page, and carried by the period export beside the
//! certificates that rest on it.

use std::collections::BTreeMap;
use std::io::Read;

use caltrace::auth::UserRole;
use rocket::http::{ContentType, Status};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::fixtures::{calibration, external, issue, point, register};
use crate::common::{fields, TestApp};

/// A small but real-looking PDF (what matters is the %PDF- header).
const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const DCC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" schemaVersion="3.3.0">
  <dcc:administrativeData/>
</dcc:digitalCalibrationCertificate>
"#;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn path(id: i64) -> String {
    format!("/api/v1/calibrations/{id}/issuer-certificate")
}

fn upload(
    app: &TestApp,
    id: i64,
    who: &str,
    content_type: ContentType,
    bytes: &[u8],
) -> (Status, Value) {
    let response = app
        .client
        .put(path(id))
        .header(content_type)
        .header(app.auth(Some(who)).unwrap())
        .body(bytes)
        .dispatch();
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An accepted external calibration of a new reference standard `tag` against NIM-P.
fn external_standard(app: &TestApp, national: i64, tag: &str) -> (i64, i64) {
    let standard = register(app, tag, "reference");
    let accepted = issue(
        app,
        &external(standard, &[national], "2026-04-01", "NIM-2026-042"),
    );
    (standard, accepted["id"].as_i64().unwrap())
}

#[test]
fn an_external_calibrations_issuer_certificate_is_kept_checked_and_read_back_byte_for_byte() {
    let mut app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let (_, id) = external_standard(&app, national, "TS-1");

    // Wrong files are refused with the field at fault and what to send; nothing is kept.
    for (content_type, bytes, field) in [
        (ContentType::new("application", "xml"), PDF, "body"),
        (ContentType::PDF, DCC.as_bytes(), "body"),
        (
            ContentType::PDF,
            b"<html>Error 500</html>".as_slice(),
            "body",
        ),
        (
            ContentType::new("application", "xml"),
            b"<report/>".as_slice(),
            "body",
        ),
        (ContentType::PDF, b"".as_slice(), "body"),
        (ContentType::Plain, PDF, "Content-Type"),
    ] {
        let (status, problem) = upload(&app, id, "technician", content_type.clone(), bytes);
        assert_eq!(
            status,
            Status::UnprocessableEntity,
            "{content_type}: {problem}"
        );
        assert_eq!(fields(&problem), [field], "{problem}");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("a PDF (its bytes start with %PDF-) as Content-Type application/pdf"),
            "{problem}"
        );
    }
    let (status, _) = app.get(&path(id), Some("inspector"));
    assert_eq!(status, Status::NotFound, "nothing was kept");
    // More than 16 MiB: 413, as problem+json.
    let mut big = PDF.to_vec();
    big.resize(16 * 1024 * 1024 + 1, b' ');
    let (status, problem) = upload(&app, id, "technician", ContentType::PDF, &big);
    assert_eq!(status, Status::PayloadTooLarge, "{problem}");
    assert_eq!(problem["status"], json!(413), "{problem}");
    // Only technicians and admins upload.
    let (status, _) = upload(&app, id, "inspector", ContentType::PDF, PDF);
    assert_eq!(status, Status::Forbidden);

    let (status, kept) = upload(&app, id, "technician", ContentType::PDF, PDF);
    assert_eq!(status, Status::Ok, "{kept}");
    assert_eq!(kept["calibration_id"], json!(id));
    assert_eq!(kept["content_type"], json!("application/pdf"));
    assert_eq!(kept["sha256"], json!(sha256(PDF)));
    assert_eq!(kept["bytes"], json!(PDF.len()));
    let response = app
        .client
        .get(path(id))
        .header(app.auth(Some("inspector")).unwrap())
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::PDF));
    assert_eq!(
        response.headers().get_one("X-Content-SHA256"),
        Some(sha256(PDF).as_str())
    );
    assert_eq!(
        response.headers().get_one("Content-Disposition"),
        Some(format!("attachment; filename=\"issuer-certificate-{id}.pdf\"").as_str())
    );
    assert_eq!(response.into_bytes().unwrap(), PDF);
    let (_, record) = app.get(&format!("/api/v1/calibrations/{id}"), Some("inspector"));
    assert_eq!(record["issuer_certificate"]["sha256"], json!(sha256(PDF)));

    // A DCC replaces it; the audit log keeps both hashes on the calibration's history.
    let (status, kept) = upload(
        &app,
        id,
        "admin",
        ContentType::new("application", "xml"),
        DCC.as_bytes(),
    );
    assert_eq!(status, Status::Ok, "{kept}");
    assert_eq!(app.bytes(&path(id), Some("auditor")), DCC.as_bytes());
    let (_, audit) = app.get(
        &format!("/api/v1/audit?entity=calibration&entity_id={id}"),
        Some("auditor"),
    );
    let attached: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "attach_issuer_certificate")
        .collect();
    assert_eq!(attached.len(), 2, "{audit}");
    let after: Value = serde_json::from_str(attached[1]["after"].as_str().unwrap()).unwrap();
    let before: Value = serde_json::from_str(attached[1]["before"].as_str().unwrap()).unwrap();
    assert_eq!(
        after["issuer_certificate"]["sha256"],
        json!(sha256(DCC.as_bytes()))
    );
    assert_eq!(before["issuer_certificate"]["sha256"], json!(sha256(PDF)));
    assert_eq!(attached[1]["user_name"], json!("admin"));

    // Our own work has no issuer's certificate.
    let gauge = register(&app, "PG-1", "working");
    let internal = issue(
        &app,
        &calibration(
            gauge,
            &[national],
            "2026-05-01",
            vec![point(0.5001, 0.0002)],
        ),
    );
    let internal = internal["id"].as_i64().unwrap();
    let (status, problem) = upload(&app, internal, "technician", ContentType::PDF, PDF);
    assert_eq!(status, Status::Conflict, "{problem}");
    assert_eq!(
        upload(&app, 9_999, "technician", ContentType::PDF, PDF).0,
        Status::NotFound
    );

    // Another customer's record is not found, like one that does not exist.
    let (status, created) = app.post(
        "/api/v1/customers",
        Some("technician"),
        &json!({"name": "Other Works", "code": "OW"}),
    );
    assert_eq!(status, Status::Created, "{created}");
    app.add_bound_user("ow", &[UserRole::Customer], &["OW"]);
    assert_eq!(app.get(&path(id), Some("ow")).0, Status::NotFound);
}

/// The period export carries the issuer's files the exported certificates rest on, at any
/// depth of their chains and once however many rest on it, in SHA256SUMS and the manifest.
#[test]
fn the_period_export_carries_the_issuer_certificates_its_certificates_rest_on() {
    let app = TestApp::new();
    let national = register(&app, "NIM-P", "national");
    let (transfer, accepted) = external_standard(&app, national, "TS-1");
    let (_, unused) = external_standard(&app, national, "TS-2");
    let (status, _) = upload(
        &app,
        accepted,
        "technician",
        ContentType::new("application", "xml"),
        DCC.as_bytes(),
    );
    assert_eq!(status, Status::Ok);
    // Not rested on by anything exported: not in the ZIP.
    let (status, _) = upload(&app, unused, "technician", ContentType::PDF, PDF);
    assert_eq!(status, Status::Ok);
    let reference = register(&app, "REF-1", "reference");
    issue(
        &app,
        &calibration(
            reference,
            &[transfer],
            "2026-05-01",
            vec![point(0.5001, 0.0001)],
        ),
    );
    let gauge = register(&app, "PG-1", "working");
    issue(
        &app,
        &calibration(
            gauge,
            &[reference],
            "2026-05-02",
            vec![point(0.5001, 0.0002)],
        ),
    );

    let today = chrono::Utc::now().date_naive();
    let zip = app.bytes(
        &format!("/api/v1/certificates/export?from={today}&to={today}"),
        Some("auditor"),
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let files: BTreeMap<String, Vec<u8>> = (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (file.name().unwrap().to_string(), content)
        })
        .collect();
    let name = format!("external/calibration-{accepted}.xml");
    let external: Vec<&String> = files
        .keys()
        .filter(|k| k.starts_with("external/"))
        .collect();
    assert_eq!(external, [&name]);
    assert_eq!(files[&name], DCC.as_bytes());
    let sums = String::from_utf8(files["SHA256SUMS"].clone()).unwrap();
    assert!(
        sums.lines()
            .any(|line| line == format!("{}  {name}", sha256(DCC.as_bytes()))),
        "{sums}"
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest["external_certificates"],
        json!([{"path": name, "calibration_id": accepted, "content_type": "application/xml",
                "bytes": DCC.len(), "sha256": sha256(DCC.as_bytes())}])
    );
    assert_eq!(manifest["certificates"], json!(2));
}
