//! Signed certificates (DESIGN section 8b): a DCC issued through the approval path, with the
//! demo identity `caltrace keys init` installs, verified by two verifiers that share no code
//! with caltrace — `xmlsec1` (libxmlsec1 over OpenSSL) and Python's `signxml` XAdES verifier —
//! trusting only the demo root served at /api/v1/lab/trust; and the same file with one byte of
//! a measured value changed, which both must refuse. As with the other document checks, a
//! missing tool skips loudly, or fails under CALTRACE_REQUIRE_TOOLS (scripts/test.sh).

use std::path::{Path, PathBuf};

use rocket::http::Status;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::checkers;
use crate::common::fixtures::traced_certificate;
use crate::common::{run_cli, run_cli_with_input, TestApp};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a certificate through submit and approve (four eyes); returns its number.
fn issued_certificate(app: &TestApp) -> String {
    let (_, issued) = traced_certificate(app);
    issued["certificate_number"].as_str().unwrap().to_string()
}

/// The trust file split into its certificates (PEM each): signing, intermediate, root.
fn trust_certificates(app: &TestApp) -> Vec<String> {
    let response = app.client.get("/api/v1/lab/trust").dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.content_type().map(|t| t.to_string()).as_deref(),
        Some("application/x-pem-file")
    );
    let text = response.into_string().unwrap();
    text.split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_string)
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// One byte of a measured value changed: the last digit of the first indicated value (the
/// instrument's reading at point 1), still a valid decimal, so only the signature can tell.
fn tampered(dcc: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(dcc).unwrap();
    let point = text.find("Indicated value").expect("an indicated value");
    let end = point + text[point..].find("</si:value>").unwrap() - 1;
    let mut bytes = dcc.to_vec();
    assert!(bytes[end].is_ascii_digit(), "{}", &text[point..end + 12]);
    bytes[end] = if bytes[end] == b'1' { b'2' } else { b'1' };
    assert_ne!(bytes, dcc);
    bytes
}

#[test]
fn a_signed_dcc_verifies_with_xmlsec1_and_signxml_and_a_changed_value_does_not() {
    let app = TestApp::new();
    let (ok, output) = run_cli(&app.database_url, &["keys", "init"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("signing identity installed: CN="),
        "{output}"
    );
    let number = issued_certificate(&app);

    let certificates = trust_certificates(&app);
    assert_eq!(certificates.len(), 3, "signing, intermediate and root");
    let dir = tempfile::tempdir().unwrap();
    let intermediate = write(dir.path(), "intermediate.pem", certificates[1].as_bytes());
    let root = write(dir.path(), "root.pem", certificates[2].as_bytes());

    let dcc = app.bytes(
        &format!("/api/v1/certificates/{number}/dcc"),
        Some("inspector"),
    );
    // Stored bytes are the signed bytes: the listed hash is of the signed document.
    let (_, listed) = app.get("/api/v1/certificates", Some("auditor"));
    assert_eq!(listed["items"][0]["dcc_sha256"], sha256(&dcc));
    let text = String::from_utf8(dcc.clone()).unwrap();
    assert!(
        text.trim_end()
            .ends_with("</ds:Signature>\n</dcc:digitalCalibrationCertificate>"),
        "the signature is the last child of the document element"
    );
    assert_eq!(text.matches("<ds:Reference ").count(), 2);
    let signed = write(dir.path(), &format!("{number}.xml"), &dcc);
    let changed = write(dir.path(), "changed.xml", &tampered(&dcc));

    if let Some(result) = checkers::xmlsec1_verify(&signed, &root, &intermediate) {
        let report = result.unwrap_or_else(|r| panic!("xmlsec1 refuses the signed DCC:\n{r}"));
        assert!(
            report.contains("OK") && report.contains("SignedInfo References (ok/all): 2/2"),
            "{report}"
        );
        let report = checkers::xmlsec1_verify(&changed, &root, &intermediate)
            .unwrap()
            .expect_err("xmlsec1 accepts a DCC whose measured value was changed");
        assert!(report.contains("FAIL"), "{report}");
    }
    if let Some(result) = checkers::signxml_verify(&signed, &root) {
        let report = result.unwrap_or_else(|r| panic!("signxml refuses the signed DCC:\n{r}"));
        assert!(report.starts_with("OK 2 references verified"), "{report}");
        let report = checkers::signxml_verify(&changed, &root)
            .unwrap()
            .expect_err("signxml accepts a DCC whose measured value was changed");
        assert!(report.contains("InvalidDigest"), "{report}");
    }

    // Trusting another laboratory's root, both refuse the untouched file.
    let other = caltrace::signing::pki::demo_pki("Another lab", None, chrono::Utc::now()).unwrap();
    let other_root = write(
        dir.path(),
        "other-root.pem",
        der::EncodePem::to_pem(&other.root, der::pem::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    );
    if let Some(result) = checkers::xmlsec1_verify(&signed, &other_root, &intermediate) {
        assert!(result.is_err(), "xmlsec1 trusts a root that did not sign");
    }
    if let Some(result) = checkers::signxml_verify(&signed, &other_root) {
        assert!(result.is_err(), "signxml trusts a root that did not sign");
    }
}

#[test]
fn the_private_key_is_in_no_answer_and_the_installation_is_audited() {
    let app = TestApp::new();
    let pki = app
        .with_conn(|conn| {
            caltrace::workflow::signing::init_demo(
                conn,
                &caltrace::db::audit::Actor::command_line(),
                &app.issue_context(),
                false,
                chrono::Utc::now(),
            )
        })
        .expect("keys init");
    let key_pem = pki.identity.key_pem().unwrap();
    // The base64 body of the PEM key, line by line: any line of it anywhere is a leak.
    let key_lines: Vec<String> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    assert!(!key_lines.is_empty());
    let number = issued_certificate(&app);
    let summary = pki.identity.summary();

    let (status, health) = app.get("/healthz", None);
    assert_eq!(status, Status::Ok);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["signing"]["enabled"], true);
    assert_eq!(health["signing"]["subject"], summary.subject.as_str());
    assert!(summary
        .subject
        .contains(&app.issue_context().laboratory.name));
    assert_eq!(
        health["signing"]["not_after"],
        summary.not_after.to_rfc3339()
    );

    let (_, audit) = app.get("/api/v1/audit?per_page=1000", Some("admin"));
    let installed: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity"] == "signing_identity")
        .collect();
    assert_eq!(installed.len(), 1, "{audit}");
    assert_eq!(installed[0]["action"], "install");
    let after: Value = match &installed[0]["after"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(
        after["fingerprint_sha256"],
        summary.fingerprint_sha256.as_str()
    );
    assert_eq!(after["subject"], summary.subject.as_str());

    let answers = [
        health.to_string(),
        audit.to_string(),
        trust_certificates(&app).concat(),
        app.get("/api/v1/certificates", Some("auditor"))
            .1
            .to_string(),
        app.get(&format!("/api/v1/certificates/{number}"), Some("inspector"))
            .1
            .to_string(),
        String::from_utf8(app.bytes(
            &format!("/api/v1/certificates/{number}/dcc"),
            Some("inspector"),
        ))
        .unwrap(),
        app.get("/api/openapi.json", None).1.to_string(),
    ];
    for answer in &answers {
        assert!(!answer.contains("PRIVATE KEY"));
        for line in &key_lines {
            assert!(!answer.contains(line.as_str()), "the private key leaked");
        }
    }
}

#[test]
fn without_an_identity_certificates_are_issued_unsigned_and_healthz_says_so() {
    let app = TestApp::new();
    let (_, health) = app.get("/healthz", None);
    assert_eq!(health["signing"], serde_json::json!({"enabled": false}));
    let (status, problem) = app.get("/api/v1/lab/trust", None);
    assert_eq!(status, Status::NotFound);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("issued unsigned"));
    let number = issued_certificate(&app);
    let dcc = app.bytes(
        &format!("/api/v1/certificates/{number}/dcc"),
        Some("inspector"),
    );
    assert!(!String::from_utf8(dcc).unwrap().contains("ds:Signature"));
    // The certificate and the verification page say so.
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("inspector"),
    );
    if let Some(text) = crate::common::pdf_text(&pdf) {
        let squashed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squashed.contains("Not digitally signed"), "{squashed}");
    }
    let page = app.client.get(format!("/verify/{number}")).dispatch();
    let page = page.into_string().unwrap();
    assert!(
        page.contains("does not sign its certificates digitally"),
        "{page}"
    );
}

#[test]
fn keys_import_refuses_a_key_that_is_not_the_certificates_and_installs_nothing() {
    let app = TestApp::new();
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let lab = caltrace::signing::pki::demo_pki("Lab A", Some("DE"), now).unwrap();
    let other = caltrace::signing::pki::demo_pki("Lab B", Some("DE"), now).unwrap();
    let certificate = write(
        dir.path(),
        "cert.pem",
        lab.identity.certificate_pem().as_bytes(),
    );
    let chain = write(dir.path(), "chain.pem", lab.identity.chain_pem().as_bytes());
    let wrong_key = write(
        dir.path(),
        "other-key.pem",
        other.identity.key_pem().unwrap().as_bytes(),
    );
    let (ok, output) = import_pem(&app, &wrong_key, &certificate, &chain);
    assert!(!ok, "{output}");
    assert!(
        output.contains("the private key does not match the certificate"),
        "{output}"
    );
    let (_, health) = app.get("/healthz", None);
    assert_eq!(health["signing"]["enabled"], false);

    let key = write(
        dir.path(),
        "key.pem",
        lab.identity.key_pem().unwrap().as_bytes(),
    );
    let (ok, output) = import_pem(&app, &key, &certificate, &chain);
    assert!(ok, "{output}");
    assert!(!output.contains("PRIVATE KEY"), "{output}");
    let (_, health) = app.get("/healthz", None);
    assert_eq!(health["signing"]["enabled"], true);
    assert_eq!(health["signing"]["subject"], "CN=Lab A,O=Lab A,C=DE");
}

/// Writes a demo identity's key, certificate and chain as PEM files; (key, certificate, chain).
fn pem_files(dir: &Path, pki: &caltrace::signing::pki::DemoPki) -> (PathBuf, PathBuf, PathBuf) {
    let identity = &pki.identity;
    (
        write(dir, "key.pem", identity.key_pem().unwrap().as_bytes()),
        write(dir, "cert.pem", identity.certificate_pem().as_bytes()),
        write(dir, "chain.pem", identity.chain_pem().as_bytes()),
    )
}

/// `caltrace keys import --key … --certificate … --chain …`.
fn import_pem(app: &TestApp, key: &Path, certificate: &Path, chain: &Path) -> (bool, String) {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    run_cli(
        &app.database_url,
        &[
            "keys",
            "import",
            "--key",
            &path(key),
            "--certificate",
            &path(certificate),
            "--chain",
            &path(chain),
        ],
    )
}

fn import_pkcs12(app: &TestApp, file: &Path, password: &str) -> (bool, String) {
    let file = file.to_str().unwrap();
    run_cli_with_input(
        &app.database_url,
        &["keys", "import", "--pkcs12", file],
        &format!("{password}\n"),
    )
}

/// A PKCS#12 file as OpenSSL 3 exports it (PBES2 AES-256, HMAC-SHA256 MAC) installs with its
/// password from standard input; a wrong password, a legacy (3DES/RC2) file, a file that is
/// not PKCS#12 and an expired certificate are each refused with words that say what to do,
/// and none of them installs anything.
#[test]
fn keys_import_reads_a_pkcs12_file_and_refuses_a_wrong_password_or_an_expired_certificate() {
    let app = TestApp::new();
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let lab = caltrace::signing::pki::demo_pki("Lab P12", Some("DE"), now).unwrap();
    let (key, certificate, chain) = pem_files(dir.path(), &lab);
    let p12 = dir.path().join("lab.p12");
    let password = "correct horse";
    let Some(made) = checkers::openssl_pkcs12(&p12, &key, &certificate, &chain, password, false)
    else {
        return;
    };
    made.expect("openssl exports the identity");
    let signing_enabled = |app: &TestApp| app.get("/healthz", None).1["signing"]["enabled"].clone();

    let (ok, output) = import_pkcs12(&app, &p12, "Correct horse");
    assert!(!ok, "{output}");
    assert!(
        output.contains("wrong password for the PKCS#12 file"),
        "{output}"
    );
    let (ok, output) = import_pkcs12(&app, &certificate, password);
    assert!(!ok, "{output}");
    assert!(output.contains("not a PKCS#12 file"), "{output}");
    let legacy = dir.path().join("legacy.p12");
    if let Some(Ok(())) =
        checkers::openssl_pkcs12(&legacy, &key, &certificate, &chain, password, true)
    {
        let (ok, output) = import_pkcs12(&app, &legacy, password);
        assert!(!ok, "{output}");
        assert!(
            output.contains("legacy encryption") && output.contains("openssl pkcs12"),
            "{output}"
        );
    }
    assert_eq!(signing_enabled(&app), false);

    let (ok, output) = import_pkcs12(&app, &p12, password);
    assert!(ok, "{output}");
    assert!(!output.contains("PRIVATE KEY"), "{output}");
    let (_, health) = app.get("/healthz", None);
    assert_eq!(health["signing"]["enabled"], true);
    assert_eq!(health["signing"]["subject"], "CN=Lab P12,O=Lab P12,C=DE");
    let trust = trust_certificates(&app);
    assert_eq!(trust[0], lab.identity.certificate_pem());
    assert_eq!(
        trust.len(),
        3,
        "signing, intermediate and root from the file"
    );

    // Made five years ago with a three-year signing certificate: expired two years ago.
    let old = caltrace::signing::pki::demo_pki(
        "Lab Old",
        Some("DE"),
        now - chrono::Duration::days(5 * 365),
    )
    .unwrap();
    let old_dir = dir.path().join("old");
    std::fs::create_dir(&old_dir).unwrap();
    let (key, certificate, chain) = pem_files(&old_dir, &old);
    let expired = old_dir.join("old.p12");
    checkers::openssl_pkcs12(&expired, &key, &certificate, &chain, password, false)
        .unwrap()
        .unwrap();
    let (ok, output) = import_pkcs12(&app, &expired, password);
    assert!(!ok, "{output}");
    assert!(
        output.contains("the signing certificate expired on"),
        "{output}"
    );
    let (ok, output) = import_pem(&app, &key, &certificate, &chain);
    assert!(!ok, "{output}");
    assert!(
        output.contains("the signing certificate expired on"),
        "{output}"
    );
    let (_, health) = app.get("/healthz", None);
    assert_eq!(
        health["signing"]["subject"], "CN=Lab P12,O=Lab P12,C=DE",
        "the current identity stays"
    );
}
