//! Every DCC the demo laboratory issues (pressure, temperature and electrical certificates,
//! a replacement, a withdrawn one), downloaded through the API as a client gets it: valid
//! against the bundled DCC 3.3.0 schema (xmllint) and breaking none of PTB's DCC schematron
//! rules (dcclib, through tests/tools/checkers.rs). As in src/dcc/tests.rs, a missing tool
//! skips its check loudly, or fails the test when CALTRACE_REQUIRE_TOOLS is set.

use std::path::PathBuf;

use rocket::http::{Header, Status};

use crate::checkers;
use crate::common::TestApp;

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dcc-3.3.0/dcc.xsd");

fn assert_schema_valid(files: &[PathBuf]) {
    let Ok(check) = std::process::Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", SCHEMA])
        .args(files)
        .output()
    else {
        assert!(
            std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
            "xmllint is required (apt-get install libxml2-utils)"
        );
        eprintln!("NOTE: libxml2-utils not installed; DCC schema validation skipped");
        return;
    };
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn every_dcc_the_demo_issues_is_schema_valid_and_follows_ptb_rules() {
    let app = TestApp::new();
    let today = chrono::Utc::now().date_naive();
    let summary = app
        .with_conn(|conn| caltrace::demo::seed(conn, &app.issue_context(), today))
        .expect("demo seeds");
    assert!(!summary.certificates.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let token = &app.tokens["inspector"];
    let files: Vec<PathBuf> = summary
        .certificates
        .iter()
        .map(|number| {
            let response = app
                .client
                .get(format!("/api/v1/certificates/{number}/dcc"))
                .header(Header::new("Authorization", format!("Bearer {token}")))
                .dispatch();
            assert_eq!(response.status(), Status::Ok, "DCC of {number}");
            let file = dir.path().join(format!("{number}.xml"));
            std::fs::write(&file, response.into_bytes().unwrap()).unwrap();
            file
        })
        .collect();
    assert_schema_valid(&files);
    match checkers::dcc_schematron(&files) {
        None => {}
        Some(Ok(report)) => eprint!("{report}"),
        Some(Err(report)) => panic!("the demo's DCCs break PTB's DCC schematron:\n{report}"),
    }
}
