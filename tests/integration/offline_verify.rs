//! A signed certificate checked by whoever holds the file (DESIGN 8b): `caltrace verify FILE
//! [--trust ROOT.pem]` offline, and the verification page's upload, which adds the register's
//! word. A changed byte and another laboratory's root are refused, with the reason.

use rocket::http::{ContentType, Status};

use crate::common::fixtures::traced_certificate;
use crate::common::{run_cli, TestApp};

/// A lab with the demo signing identity and one certificate issued; (number, DCC bytes).
fn signed_certificate(app: &TestApp) -> (String, Vec<u8>) {
    let (ok, output) = run_cli(&app.database_url, &["keys", "init"]);
    assert!(ok, "{output}");
    let (_, issued) = traced_certificate(app);
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    let dcc = app.bytes(
        &format!("/api/v1/certificates/{number}/dcc"),
        Some("inspector"),
    );
    (number, dcc)
}

/// The first indicated value's last digit changed: still a valid number.
fn changed(dcc: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(dcc).unwrap();
    let point = text.find("Indicated value").unwrap();
    let end = point + text[point..].find("</si:value>").unwrap() - 1;
    let mut bytes = dcc.to_vec();
    bytes[end] = if bytes[end] == b'1' { b'2' } else { b'1' };
    bytes
}

#[test]
fn caltrace_verify_checks_a_dcc_offline_against_the_lab_root_or_a_given_one() {
    let app = TestApp::new();
    let (number, dcc) = signed_certificate(&app);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{number}.xml"));
    std::fs::write(&file, &dcc).unwrap();
    let path = file.to_str().unwrap();

    let (ok, output) = run_cli(&app.database_url, &["verify", path]);
    assert!(ok, "{output}");
    assert!(output.contains("valid DCC signature"), "{output}");
    assert!(
        output.contains(&format!("certificate number: {number}")),
        "{output}"
    );
    assert!(output.contains("signed by: CN="), "{output}");

    // With the root alone as trust (as a customer would keep it), from /api/v1/lab/trust.
    let trust = app
        .client
        .get("/api/v1/lab/trust")
        .dispatch()
        .into_string()
        .unwrap();
    let root = trust
        .split_inclusive("-----END CERTIFICATE-----\n")
        .last()
        .unwrap();
    let root_file = dir.path().join("root.pem");
    std::fs::write(&root_file, root).unwrap();
    let root_path = root_file.to_str().unwrap();
    let (ok, output) = run_cli(&app.database_url, &["verify", path, "--trust", root_path]);
    assert!(ok, "{output}");

    let bad = dir.path().join("changed.xml");
    std::fs::write(&bad, changed(&dcc)).unwrap();
    let (ok, output) = run_cli(
        &app.database_url,
        &["verify", bad.to_str().unwrap(), "--trust", root_path],
    );
    assert!(!ok, "a changed value must not verify: {output}");
    assert!(
        output.contains("NOT VALID") && output.contains("changed after signing"),
        "{output}"
    );

    let now = chrono::Utc::now();
    let other = caltrace::signing::pki::demo_pki("Another Lab", Some("DE"), now).unwrap();
    let other_root = dir.path().join("other-root.pem");
    let other_trust = other.identity.chain_pem();
    std::fs::write(&other_root, other_trust).unwrap();
    let (ok, output) = run_cli(
        &app.database_url,
        &["verify", path, "--trust", other_root.to_str().unwrap()],
    );
    assert!(!ok, "another lab's root must not vouch for ours: {output}");
    assert!(output.contains("no trusted root"), "{output}");
}

/// The PDF likewise (PAdES): valid as issued, refused with a byte changed inside the signed
/// revision or with bytes appended after it.
#[test]
fn caltrace_verify_checks_a_signed_pdf_offline() {
    let app = TestApp::new();
    let (number, _) = signed_certificate(&app);
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("inspector"),
    );
    let dir = tempfile::tempdir().unwrap();
    let verify = |name: &str, bytes: &[u8]| {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        run_cli(&app.database_url, &["verify", file.to_str().unwrap()])
    };
    let (ok, output) = verify("good.pdf", &pdf);
    assert!(ok, "{output}");
    assert!(output.contains("valid PDF signature"), "{output}");
    assert!(
        output.contains(&format!("certificate number: {number}")),
        "{output}"
    );

    let mut changed = pdf.clone();
    let at = pdf.windows(8).position(|w| w == b"caltrace").unwrap();
    changed[at] = b'C';
    let (ok, output) = verify("changed.pdf", &changed);
    assert!(!ok && output.contains("NOT VALID"), "{output}");

    let mut appended = pdf.clone();
    appended.extend_from_slice(b"\n% appended after signing\n");
    let (ok, output) = verify("appended.pdf", &appended);
    assert!(!ok && output.contains("modified after signing"), "{output}");

    let (status, page) = upload(&app, "certificate.pdf", &pdf);
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Genuine and current"), "{page}");
}

fn upload(app: &TestApp, name: &str, bytes: &[u8]) -> (Status, String) {
    let boundary = "caltrace-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/xml\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = app
        .client
        .post("/verify")
        .header(ContentType::new("multipart", "form-data").with_params(("boundary", boundary)))
        .body(body)
        .dispatch();
    (
        response.status(),
        response.into_string().unwrap_or_default(),
    )
}

#[test]
fn the_verification_page_checks_an_uploaded_file_and_the_register() {
    let app = TestApp::new();
    let (number, dcc) = signed_certificate(&app);
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("inspector"),
    );
    if let Some(text) = crate::common::pdf_text(&pdf) {
        let squashed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squashed.contains("check them offline with `caltrace verify`"),
            "{squashed}"
        );
    }
    let page = app.client.get(format!("/verify/{number}")).dispatch();
    assert!(page
        .into_string()
        .unwrap()
        .contains("signs its certificates digitally"));
    let (status, page) = upload(&app, "certificate.xml", &dcc);
    assert_eq!(status, Status::Ok, "{page}");
    assert!(page.contains("Genuine and current"), "{page}");
    assert!(page.contains("Valid: the file is unchanged"), "{page}");
    assert!(page.contains(&number), "{page}");

    let (status, page) = upload(&app, "certificate.xml", &changed(&dcc));
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Signature NOT valid"), "{page}");
    assert!(page.contains("changed after signing"), "{page}");
    assert!(!page.contains("Genuine"), "{page}");

    let (status, page) = upload(&app, "notes.txt", b"not a certificate");
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Signature NOT valid"), "{page}");
}

/// DESIGN 8b's bad uploads: a file that is neither PDF nor DCC is named as such, and one
/// over 16 MiB is refused before it is read, with the limit said; nothing is stored.
#[test]
fn an_upload_that_is_no_certificate_or_too_large_is_refused_with_the_reason() {
    let app = TestApp::new();
    signed_certificate(&app);
    let (status, page) = upload(&app, "notes.txt", b"not a certificate");
    assert_eq!(status, Status::Ok);
    assert!(page.contains("Signature NOT valid"), "{page}");
    assert!(
        page.contains("neither a PDF nor a DCC") || page.contains("not a PDF"),
        "{page}"
    );
    let large = vec![b'x'; 17 * 1024 * 1024];
    let (status, page) = upload(&app, "large.pdf", &large);
    assert_eq!(status, Status::PayloadTooLarge, "{page}");
    assert!(page.contains("16 MiB"), "{page}");
}
