//! The certificate PDF as an archive (DESIGN 8b, issue 18): PDF/A-3b identification, an sRGB
//! output intent, every font embedded, a fixed document ID, and the DCC inside as an associated
//! file that extracts byte for byte as the DCC download. Checked with independent tools
//! (qpdf, poppler's pdfinfo, pdffonts and pdfdetach); a missing tool skips its check loudly,
//! or fails the test when CALTRACE_REQUIRE_TOOLS is set.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::fixtures::traced_certificate;
use crate::common::TestApp;

/// Runs a tool; None (after saying so) when it is not installed and not required.
pub(crate) fn tool(program: &str, args: &[&str]) -> Option<Output> {
    match Command::new(program).args(args).output() {
        Ok(output) => Some(output),
        Err(_) => {
            assert!(
                std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
                "{program} is required (apt-get install qpdf poppler-utils)"
            );
            eprintln!("NOTE: {program} not installed; its check skipped");
            None
        }
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn issued(app: &TestApp) -> (String, Vec<u8>, Vec<u8>) {
    let (_, issued) = traced_certificate(app);
    let number = issued["certificate_number"].as_str().unwrap().to_string();
    let get = |which: &str| {
        app.bytes(
            &format!("/api/v1/certificates/{number}/{which}"),
            Some("inspector"),
        )
    };
    let (pdf, dcc) = (get("pdf"), get("dcc"));
    (number, pdf, dcc)
}

#[test]
fn the_certificate_is_pdf_a_3b_with_its_dcc_inside() {
    let app = TestApp::new();
    let (number, pdf, dcc) = issued(&app);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, &pdf).unwrap();
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
        assert!(xmp.contains(&format!("校准证书 {number}")), "{xmp}");
    }
    if let Some(fonts) = tool("pdffonts", &[path]) {
        let listing = stdout(&fonts);
        let rows: Vec<&str> = listing.lines().skip(2).collect();
        assert!(!rows.is_empty(), "{listing}");
        for row in rows {
            // name type encoding emb sub uni object ID: every font embedded (PDF/A 6.2.11.4).
            let columns: Vec<&str> = row.split_whitespace().collect();
            let emb = columns[columns.len() - 5];
            assert_eq!(emb, "yes", "a font not embedded: {row}");
        }
    }
    assert_embedded_dcc(dir.path(), path, &number, &dcc);
    assert_catalog(dir.path(), path);
}

/// pdfdetach lists one file, `<number>.xml`, and extracts exactly the DCC download.
pub(crate) fn assert_embedded_dcc(dir: &Path, pdf: &str, number: &str, dcc: &[u8]) {
    let Some(list) = tool("pdfdetach", &["-list", pdf]) else {
        return;
    };
    let listing = stdout(&list);
    assert!(listing.starts_with("1 embedded files"), "{listing}");
    assert!(listing.contains(&format!("1: {number}.xml")), "{listing}");
    let out = dir.join("embedded.xml");
    let saved = tool(
        "pdfdetach",
        &["-save", "1", "-o", out.to_str().unwrap(), pdf],
    )
    .unwrap();
    assert!(saved.status.success());
    assert_eq!(
        std::fs::read(out).unwrap(),
        dcc,
        "the embedded DCC is the download"
    );
}

/// The catalog's output intent, associated file and file identifier, read from qpdf's
/// uncompressed rewrite of the file.
fn assert_catalog(dir: &Path, pdf: &str) {
    let plain = dir.join("plain.pdf");
    let Some(rewritten) = tool(
        "qpdf",
        &[
            "--qdf",
            "--object-streams=disable",
            pdf,
            plain.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    assert!(rewritten.status.success());
    let text = String::from_utf8_lossy(&std::fs::read(plain).unwrap()).into_owned();
    for expected in [
        "/S /GTS_PDFA1",
        "/OutputConditionIdentifier (sRGB IEC61966-2.1)",
        "/AFRelationship /Alternative",
        "/Subtype /application#2fxml",
        "/Type /Filespec",
    ] {
        assert!(text.contains(expected), "{expected} missing from the PDF");
    }
    assert!(!text.contains("/Encrypt") && !text.contains("/JavaScript"));
}
