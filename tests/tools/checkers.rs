//! Document checkers from PyPI, run by the tests: `openapi-spec-validator` on the served
//! OpenAPI document, PTB's DCC schematron (`dcclib`, through dcc_schematron.py beside
//! this file) on exported DCCs, signxml on signed DCCs and pyHanko on signed PDFs. Included with `#[path]` by the library's unit tests
//! (src/dcc/tests.rs) and by the integration tests, so both run them the same way.
//!
//! The checkers run with the Python named by CALTRACE_PYTHON, else `python3`.
//! scripts/test.sh installs them into a virtual environment (scripts/python-tools.sh),
//! names its python in CALTRACE_PYTHON and sets CALTRACE_REQUIRE_TOOLS=1, under which a
//! missing checker fails the test: a check that silently skips proves nothing. A bare
//! `cargo test` without them skips the check and says so, like the xmllint and poppler
//! checks.

#![allow(dead_code)] // each includer uses some of it

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const DCC_SCHEMATRON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/dcc_schematron.py");
const XADES_VERIFY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/xades_verify.py");
const PADES_VERIFY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/pades_verify.py");

fn python() -> String {
    std::env::var("CALTRACE_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// What a checker said: `Ok` with its report when it found no error (the report lists
/// warnings), `Err` with its report when it did, `None` when it is not installed and
/// CALTRACE_REQUIRE_TOOLS is unset (the skip is printed).
fn run(module: &str, package: &str, args: Vec<OsString>) -> Option<Result<String, String>> {
    let python = python();
    let installed = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        let message = format!(
            "{package} (PyPI) is not installed for `{python}`; scripts/test.sh installs it, \
             or `pip install {package}` and set CALTRACE_PYTHON to that python"
        );
        if std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_some() {
            panic!("{message} (required: CALTRACE_REQUIRE_TOOLS is set)");
        }
        eprintln!("NOTE: {message}: check skipped");
        return None;
    }
    let output = Command::new(&python)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{python} runs: {e}"));
    Some(verdict(&output))
}

/// `openapi-spec-validator` (OpenAPI 3.1, every error listed) on the document in `file`.
pub fn openapi_spec_validator(file: &Path) -> Option<Result<String, String>> {
    run(
        "openapi_spec_validator",
        "openapi-spec-validator",
        vec![
            "-m".into(),
            "openapi_spec_validator".into(),
            "--schema".into(),
            "3.1".into(),
            "--validation-errors".into(),
            "all".into(),
            file.into(),
        ],
    )
}

/// PTB's DCC schematron on these files: errors fail, warnings are listed in the report.
pub fn dcc_schematron(files: &[PathBuf]) -> Option<Result<String, String>> {
    let mut args: Vec<OsString> = vec![DCC_SCHEMATRON.into()];
    args.extend(files.iter().map(|file| file.into()));
    run("dcclib.validation.schematron", "dcclib", args)
}

/// signxml's XAdESVerifier (tests/tools/xades_verify.py) on a signed document, trusting only
/// `root`: `Ok` with its report when the signature verifies, `Err` with the reason when not.
pub fn signxml_verify(signed: &Path, root: &Path) -> Option<Result<String, String>> {
    run(
        "signxml",
        "signxml",
        vec![XADES_VERIFY.into(), signed.into(), root.into()],
    )
}

/// pyHanko's validation (tests/tools/pades_verify.py) of a signed PDF's last signature,
/// trusting only `root`: `Ok` with its report when the signature is intact, valid, trusted and
/// covers the entire file unmodified, `Err` with its report when not.
pub fn pyhanko_verify(signed: &Path, root: &Path) -> Option<Result<String, String>> {
    run(
        "pyhanko.sign.validation",
        "pyhanko",
        vec![PADES_VERIFY.into(), signed.into(), root.into()],
    )
}

/// `xmlsec1 --verify` (Debian's xmlsec1, libxmlsec1 over OpenSSL) on a signed document,
/// trusting only `root`, with `untrusted` certificates offered for the path: `Ok` with its
/// report when the signature and the path verify, `Err` when not, `None` when xmlsec1 is not
/// installed and CALTRACE_REQUIRE_TOOLS is unset (the skip is printed).
pub fn xmlsec1_verify(
    signed: &Path,
    root: &Path,
    untrusted: &Path,
) -> Option<Result<String, String>> {
    let Ok(output) = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(root)
        .arg("--untrusted-pem")
        .arg(untrusted)
        .arg(signed)
        .output()
    else {
        let message =
            "xmlsec1 is not installed; scripts/test.sh installs it (apt-get install xmlsec1)";
        if std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_some() {
            panic!("{message} (required: CALTRACE_REQUIRE_TOOLS is set)");
        }
        eprintln!("NOTE: {message}: check skipped");
        return None;
    };
    Some(verdict(&output))
}

/// A PKCS#12 file made by `openssl pkcs12 -export` (OpenSSL 3's defaults: PBES2 AES-256-CBC,
/// HMAC-SHA256 MAC; `-legacy`: 3DES and RC2 as older tools export) from a PEM key, its
/// certificate and chain: `Some(Ok(()))` when written, `Some(Err)` with OpenSSL's words when
/// it could not (the legacy provider may be absent), `None` when openssl is not installed
/// and CALTRACE_REQUIRE_TOOLS is unset.
pub fn openssl_pkcs12(
    out: &Path,
    key: &Path,
    certificate: &Path,
    chain: &Path,
    password: &str,
    legacy: bool,
) -> Option<Result<(), String>> {
    let mut command = Command::new("openssl");
    command.args(["pkcs12", "-export"]);
    if legacy {
        command.arg("-legacy");
    }
    command
        .arg("-inkey")
        .arg(key)
        .arg("-in")
        .arg(certificate)
        .arg("-certfile")
        .arg(chain)
        .arg("-out")
        .arg(out)
        .arg("-passout")
        .arg(format!("pass:{password}"));
    let Ok(output) = command.output() else {
        let message =
            "openssl is not installed; scripts/test.sh installs it (apt-get install openssl)";
        if std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_some() {
            panic!("{message} (required: CALTRACE_REQUIRE_TOOLS is set)");
        }
        eprintln!("NOTE: {message}: check skipped");
        return None;
    };
    Some(verdict(&output).map(|_| ()))
}

/// A tool's stdout and stderr together, as Ok when it exited 0 and Err otherwise.
fn verdict(output: &std::process::Output) -> Result<String, String> {
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}
