//! The PAdES-signed certificate PDF (DESIGN 8b, issue 18): issued through the approval path
//! with the demo identity `caltrace keys init` installs, downloaded as a customer gets it, and
//! validated by pyHanko (tests/tools/pades_verify.py), which shares no code with caltrace,
//! trusting only the demo root served at /api/v1/lab/trust. The same file with one byte
//! changed inside the signed range, and with bytes appended after it, is refused by pyHanko
//! and by `signing::pades::verify` alike. qpdf and pdfdetach check that the signed file is
//! still sound and still carries the DCC. A missing tool skips loudly, or fails under
//! CALTRACE_REQUIRE_TOOLS (scripts/test.sh).

use std::path::{Path, PathBuf};

use rocket::http::Status;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::archive::{assert_embedded_dcc, stdout, tool};
use crate::checkers;
use crate::common::fixtures::{calibration, point, register, submitted};
use crate::common::{run_cli, TestApp};
use caltrace::signing::pades;

const MEANING: &str = "reviewed and released for use";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A certificate issued with the demo identity in force and approved with a meaning; its
/// number, PDF and DCC as downloaded.
fn signed_certificate(app: &TestApp) -> (String, Vec<u8>, Vec<u8>) {
    let (ok, output) = run_cli(&app.database_url, &["keys", "init"]);
    assert!(ok, "{output}");
    let national = register(app, "NIM-P", "national");
    let gauge = register(app, "PG-1", "working");
    let id = submitted(
        app,
        &calibration(
            gauge,
            &[national],
            "2026-05-10",
            vec![point(0.5003, 0.0002)],
        ),
    );
    let (status, approved) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({"meaning": MEANING}),
    );
    assert_eq!(status, Status::Ok, "{approved}");
    let number = approved["certificate_number"].as_str().unwrap().to_string();
    let get = |which: &str| {
        app.bytes(
            &format!("/api/v1/certificates/{number}/{which}"),
            Some("inspector"),
        )
    };
    let (pdf, dcc) = (get("pdf"), get("dcc"));
    (number, pdf, dcc)
}

/// The demo root, the last certificate of /api/v1/lab/trust.
fn root_pem(app: &TestApp) -> String {
    let response = app.client.get("/api/v1/lab/trust").dispatch();
    assert_eq!(response.status(), Status::Ok);
    let text = response.into_string().unwrap();
    let certificates: Vec<&str> = text
        .split_inclusive("-----END CERTIFICATE-----\n")
        .collect();
    assert_eq!(certificates.len(), 3, "signing, intermediate, root");
    certificates[2].to_string()
}

/// One byte inside the first signed range changed: a letter of the producer's name in the
/// information dictionary, which leaves the file readable, so only the signature can tell.
fn tampered(pdf: &[u8]) -> Vec<u8> {
    let at = pdf
        .windows(15)
        .position(|w| w == b"printpdf, lopdf")
        .expect("the producer is named");
    let mut bytes = pdf.to_vec();
    bytes[at] = b'P';
    bytes
}

#[test]
fn a_signed_certificate_validates_with_pyhanko_and_a_changed_or_extended_file_does_not() {
    let app = TestApp::new();
    let (number, pdf, dcc) = signed_certificate(&app);
    let reason = format!("Certificate {number} approved by approver (meaning: {MEANING})");
    // Stored bytes are the signed bytes: the listed hash is of the signed file.
    let (_, listed) = app.get("/api/v1/certificates", Some("auditor"));
    let sha256: String = Sha256::digest(&pdf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(listed["items"][0]["sha256"], sha256);
    eprintln!("signed certificate PDF: {} bytes", pdf.len());
    assert!(pdf.len() <= 200 * 1024, "{} bytes: over 200 KB", pdf.len());

    let verified = pades::verify(&pdf).unwrap();
    assert_eq!(verified.reason, reason);
    assert_eq!(
        verified.certificate_number.as_deref(),
        Some(number.as_str())
    );
    assert_eq!(verified.signature.certificates.len(), 3);
    let chain = &verified.signature.certificates;
    assert!(caltrace::signing::issued_by(&chain[0], &chain[1]).unwrap());
    let signed_at = chrono::DateTime::parse_from_rfc3339(&verified.signature.signing_time).unwrap();
    assert!(
        (chrono::Utc::now() - signed_at.to_utc())
            .num_minutes()
            .abs()
            < 5
    );

    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "root.pem", root_pem(&app).as_bytes());
    let signed = write(dir.path(), &format!("{number}.pdf"), &pdf);
    let path = signed.to_str().unwrap();
    if let Some(check) = tool("qpdf", &["--check", path]) {
        assert!(check.status.success(), "qpdf --check: {}", stdout(&check));
        assert!(stdout(&check).contains("No syntax or stream encoding errors"));
    }
    assert_embedded_dcc(dir.path(), path, &number, &dcc);

    let changed = tampered(&pdf);
    let error = pades::verify(&changed).unwrap_err().to_string();
    assert!(error.contains("changed after signing"), "{error}");
    let mut appended = pdf.clone();
    appended.extend_from_slice(b"% appended after signing\n");
    let error = pades::verify(&appended).unwrap_err().to_string();
    assert!(
        error.contains("modified after signing: 25 bytes"),
        "{error}"
    );

    let changed = write(dir.path(), "changed.pdf", &changed);
    let appended = write(dir.path(), "appended.pdf", &appended);
    if let Some(result) = checkers::pyhanko_verify(&signed, &root) {
        let report = result.unwrap_or_else(|r| panic!("pyHanko refuses the signed PDF:\n{r}"));
        eprintln!("pyHanko, signed:\n{report}");
        assert!(
            report.starts_with(
                "OK intact=True valid=True trusted=True coverage=ENTIRE_FILE \
                 modification=NONE subfilter=/ETSI.CAdES.detached"
            ),
            "{report}"
        );
        assert!(report.contains(&format!("reason={reason}")), "{report}");
        let report = checkers::pyhanko_verify(&changed, &root)
            .unwrap()
            .expect_err("pyHanko accepts a PDF with a changed byte");
        eprintln!("pyHanko, one byte changed:\n{report}");
        assert!(report.starts_with("INVALID intact=False"), "{report}");
        let report = checkers::pyhanko_verify(&appended, &root)
            .unwrap()
            .expect_err("pyHanko accepts a PDF with bytes appended after signing");
        eprintln!("pyHanko, bytes appended:\n{report}");
        // Intact as far as it goes, but no longer the whole file (ours: "modified after signing").
        assert!(
            report.starts_with(
                "INVALID intact=True valid=True trusted=True coverage=ENTIRE_REVISION"
            ),
            "{report}"
        );
    }
}
