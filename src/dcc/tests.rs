//! DCC exports of several certificate shapes, each validated against the bundled DCC 3.3.0
//! schema with xmllint (Debian package libxml2-utils) and against PTB's DCC schematron, the
//! good-practice rules shipped with PTB's `dcclib` (PyPI; tests/tools/dcc_schematron.py).
//! scripts/test.sh (and so CI) installs both and sets CALTRACE_REQUIRE_TOOLS=1, under which
//! a missing tool fails the tests: a check that silently skips proves nothing. A bare
//! `cargo test` on a machine without them skips those checks and says so, so the suite still
//! runs with nothing else installed.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use proptest::prelude::*;

use super::render;
use crate::domain::calibration::{Limits, PointResult, Stage};
use crate::domain::certificate::{
    CertificateView, ItemView, LaboratoryView, ReplacesView, StandardView, TraceabilityRootView,
};
use crate::domain::conformity::Decision;
use crate::domain::quantity::QuantityJson;

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dcc-3.3.0/dcc.xsd");

/// Ok, or xmllint's complaint.
fn validate(xml: &str) -> Result<(), String> {
    let required = std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_some();
    if !required && Command::new("xmllint").arg("--version").output().is_err() {
        eprintln!("xmllint not installed: DCC schema validation skipped (scripts/test.sh installs libxml2-utils)");
        return Ok(());
    }
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema", SCHEMA, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "xmllint is required to validate DCC exports against the schema; \
                 install it with `apt-get install -y libxml2-utils` ({e})"
            )
        });
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = xml.to_string();
    // Written from another thread so that a chatty xmllint cannot deadlock on a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("xmllint runs");
    writer.join().expect("writer thread").expect("xml written");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The document without indentation, for assertions spanning elements.
fn compact(xml: &str) -> String {
    xml.lines().map(str::trim).collect()
}

/// Valid against the schema, and breaks none of PTB's good-practice rules.
fn assert_valid(xml: &str) {
    if let Err(e) = validate(xml) {
        panic!("DCC fails schema validation:\n{e}\n--- document ---\n{xml}");
    }
    assert_good_practice(&[xml.to_string()]);
}

#[path = "../../tests/tools/checkers.rs"]
mod checkers;

/// PTB's DCC schematron over the documents, in one run: a rule of role error that fires
/// fails the test (printing the documents it fired on), warnings are printed.
fn assert_good_practice(documents: &[String]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let files: Vec<PathBuf> = documents
        .iter()
        .enumerate()
        .map(|(i, xml)| {
            let file = dir.path().join(format!("dcc-{i}.xml"));
            std::fs::write(&file, xml).expect("DCC written");
            file
        })
        .collect();
    match checkers::dcc_schematron(&files) {
        None => {}
        Some(Ok(report)) => eprint!("{report}"),
        Some(Err(report)) => {
            let failing: String = files
                .iter()
                .zip(documents)
                .filter(|(file, _)| report.contains(&format!("{}: ERROR", file.display())))
                .map(|(file, xml)| format!("--- {} ---\n{xml}\n", file.display()))
                .collect();
            panic!("DCC breaks PTB's DCC schematron:\n{report}{failing}");
        }
    }
}

fn q(value: f64, unit: &str) -> QuantityJson {
    QuantityJson {
        value,
        unit: unit.to_string(),
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn point(
    stage: Stage,
    reference: QuantityJson,
    indicated: QuantityJson,
    error: QuantityJson,
    u: QuantityJson,
    tolerance: Option<QuantityJson>,
    decision: Option<Decision>,
    tur: Option<f64>,
) -> PointResult {
    PointResult {
        stage,
        reference,
        indicated,
        tolerance,
        limits: None,
        error,
        expanded_uncertainty: u,
        coverage_factor: 2.0,
        coverage_probability: 0.9545,
        decision,
        tur,
        tur_flagged: tur.is_some_and(|t| t < 4.0),
        budget: None,
        standards_in_budget: vec![1],
        readings: None,
    }
}

fn standard_with_hash() -> StandardView {
    StandardView {
        instrument_id: 1,
        asset_tag: "STD-PG-01".to_string(),
        description: Some("Piston gauge".to_string()),
        manufacturer: Some("Fluke".to_string()),
        model: Some("PG7601".to_string()),
        serial_number: Some("1234".to_string()),
        certificate_number: Some("CT-2025-000042".to_string()),
        issuer: Some("caltrace demo laboratory".to_string()),
        calibrated_on: Some(date(2025, 6, 1)),
        due_on: Some(date(2026, 6, 1)),
        certificate_sha256: Some(
            "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08".to_string(),
        ),
        certificate_dated: Some(date(2025, 6, 3)),
    }
}

fn external_standard() -> StandardView {
    StandardView {
        instrument_id: 2,
        asset_tag: "STD-DMM-02".to_string(),
        description: None,
        manufacturer: None,
        model: None,
        serial_number: None,
        certificate_number: Some("NIM-2025-0815".to_string()),
        issuer: Some("NIM (CN)".to_string()),
        calibrated_on: Some(date(2025, 3, 1)),
        due_on: Some(date(2026, 3, 1)),
        certificate_sha256: None,
        certificate_dated: None,
    }
}

/// An internal pressure calibration in MPa with as-found and as-left results.
fn internal_mpa() -> CertificateView {
    let mpa = |v| q(v, "MPa");
    CertificateView {
        number: "CT-2026-000123".to_string(),
        issued_on: date(2026, 1, 12),
        laboratory: LaboratoryView {
            name: "caltrace demo laboratory".to_string(),
            address: "1 Metrology Road, Haidian District, Beijing, China".to_string(),
            accreditation_body: "CNAS".to_string(),
            accreditation_number: "L0001".to_string(),
            country: None,
        },
        customer: None,
        item: ItemView {
            asset_tag: "PG-0042".to_string(),
            description: Some("Bourdon tube pressure gauge".to_string()),
            manufacturer: Some("WIKA".to_string()),
            model: Some("232.50".to_string()),
            serial_number: Some("SN 998877".to_string()),
            quantity_kind: "pressure".to_string(),
            range: Some((mpa(0.0), mpa(1.6))),
            resolution: Some(mpa(0.01)),
            condition: Some("Received in working order".to_string()),
        },
        received_on: Some(date(2026, 1, 5)),
        performed_on: date(2026, 1, 8),
        location: Some("caltrace demo laboratory, pressure room".to_string()),
        procedure: Some("JJG 52-2013 Elastic element pressure gauges".to_string()),
        environment: vec![
            ("temperature".to_string(), q(20.3, "°C")),
            ("relative_humidity".to_string(), q(45.0, "%RH")),
            ("pressure".to_string(), q(101.2, "kPa")),
        ],
        decision_rule: crate::domain::conformity::DecisionRule::Simple,
        points: vec![
            point(
                Stage::AsFound,
                mpa(0.8),
                mpa(0.83),
                mpa(0.03),
                mpa(0.002),
                Some(mpa(0.016)),
                Some(Decision::Fail),
                Some(4.0),
            ),
            point(
                Stage::AsFound,
                mpa(1.6),
                mpa(1.62),
                mpa(0.02),
                mpa(0.002),
                Some(mpa(0.016)),
                Some(Decision::Fail),
                Some(4.0),
            ),
            point(
                Stage::AsLeft,
                mpa(0.8),
                mpa(0.805),
                mpa(0.005),
                mpa(0.002),
                Some(mpa(0.016)),
                Some(Decision::Pass),
                Some(4.0),
            ),
            point(
                Stage::AsLeft,
                mpa(1.6),
                mpa(1.595),
                mpa(-0.005),
                q(2.0, "kPa"),
                Some(mpa(0.016)),
                Some(Decision::Pass),
                Some(4.0),
            ),
        ],
        standards: vec![standard_with_hash()],
        traceability_roots: vec![TraceabilityRootView {
            kind: "national_standard".to_string(),
            name: "NIM (CN)".to_string(),
            reference: Some("GBZ 01-2020".to_string()),
        }],
        traceable: true,
        broken_link: None,
        deviations: None,
        replaces: None,
        signatory: "Li Wei".to_string(),
        electronic_signature: Some(crate::domain::signature::ElectronicSignature {
            signer: "Li Wei".to_string(),
            signed_at: "2026-03-14T09:12:45.123456Z".to_string(),
            meaning: "approved".to_string(),
        }),
        digitally_signed: true,
        verification_url: "https://cal.example.cn/verify/CT-2026-000123".to_string(),
        audit_head: "3b4f7c2e9d1a".to_string(),
        due_on: Some(date(2027, 1, 8)),
    }
}

fn celsius_view() -> CertificateView {
    let c = |v| q(v, "°C");
    let mut view = internal_mpa();
    view.item.quantity_kind = "temperature".to_string();
    view.item.description = Some("Digital thermometer".to_string());
    view.item.range = Some((c(-50.0), c(150.0)));
    view.item.resolution = Some(q(0.01, "K"));
    view.decision_rule = crate::domain::conformity::DecisionRule::NonBinary;
    view.points = vec![
        point(
            Stage::AsFound,
            c(0.0),
            c(0.04),
            c(0.04),
            q(30.0, "mK"),
            Some(c(0.1)),
            Some(Decision::Pass),
            Some(3.3),
        ),
        point(
            Stage::AsFound,
            c(100.0),
            c(100.09),
            c(0.09),
            c(0.03),
            Some(c(0.1)),
            Some(Decision::ConditionalPass),
            Some(3.3),
        ),
    ];
    view
}

fn psi_view() -> CertificateView {
    let psi = |v| q(v, "psi");
    let mut view = internal_mpa();
    view.customer = Some("Acme Hydraulics Co., Ltd.".to_string());
    view.item.range = Some((psi(0.0), psi(300.0)));
    view.item.resolution = Some(psi(0.5));
    view.points = vec![point(
        Stage::AsFound,
        psi(100.0),
        psi(100.5),
        psi(0.5),
        psi(0.1),
        Some(psi(1.5)),
        Some(Decision::Pass),
        Some(7.5),
    )];
    view
}

#[test]
fn internal_certificate_in_mpa_with_as_found_and_as_left() {
    let xml = render(&internal_mpa()).unwrap();
    assert_valid(&xml);
    assert!(xml.contains("<dcc:uniqueIdentifier>CT-2026-000123</dcc:uniqueIdentifier>"));
    assert!(xml.contains("<si:unit>\\mega\\pascal</si:unit>"));
    assert!(xml.contains("<si:value>0.83</si:value>"));
    assert!(xml.contains("<dcc:result refType=\"caltrace_asFound\">"));
    assert!(xml.contains("<dcc:result refType=\"caltrace_asLeft\">"));
    // 2 kPa of uncertainty written in the error's unit
    assert!(xml.contains("<si:valueExpandedMU>0.002</si:valueExpandedMU>"));
    assert!(xml.contains("<si:coverageFactor>2</si:coverageFactor>"));
    assert!(xml.contains("<si:coverageProbability>0.9545</si:coverageProbability>"));
    assert!(xml.contains("<dcc:conformity>fail</dcc:conformity>"));
    assert!(xml.contains("<dcc:conformity>pass</dcc:conformity>"));
    assert!(xml.contains("<si:value>-0.016</si:value>"));
    assert!(xml.contains("<dcc:usedLangCodeISO639_1>zh</dcc:usedLangCodeISO639_1>"));
    assert!(xml.contains("<dcc:countryCodeISO3166_1>CN</dcc:countryCodeISO3166_1>"));
    assert!(xml.contains("<dcc:content lang=\"zh\">示值误差</dcc:content>"));
    // internal: the laboratory is its own customer
    assert!(compact(&xml)
        .contains("<dcc:customer><dcc:name><dcc:content>caltrace demo laboratory</dcc:content>"));
    // environment
    assert!(xml.contains("<si:unit>\\degreeCelsius</si:unit>"));
    assert!(xml.contains("<si:unit>\\percent</si:unit>"));
    assert!(xml.contains("<si:unit>\\kilo\\pascal</si:unit>"));
    // the standard's certificate by number and hash
    assert!(xml.contains("<dcc:referralID>CT-2025-000042</dcc:referralID>"));
    // The standard's certificate with the date on it (DESIGN section 6: the issuer's own date).
    assert!(
        xml.contains("Calibration certificate number, dated 2025-06-03"),
        "{xml}"
    );
    assert!(xml.contains("<dcc:procedure>SHA-256</dcc:procedure>"));
    assert!(xml.contains(
        "<dcc:value>9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08</dcc:value>"
    ));
    assert!(xml.contains("<dcc:inValidityRange>true</dcc:inValidityRange>"));
    assert!(!xml.contains("reportAmendedSubstituted"));
}

#[test]
fn replacement_names_the_replaced_certificate() {
    for kind in ["substituted", "amended"] {
        let mut view = internal_mpa();
        view.number = "CT-2026-000130".to_string();
        view.replaces = Some(ReplacesView {
            number: "CT-2026-000123".to_string(),
            replacement_type: kind.to_string(),
            reason: "Serial number misprinted".to_string(),
        });
        let xml = render(&view).unwrap();
        assert_valid(&xml);
        assert!(compact(&xml).contains(&format!(
            "<dcc:reportAmendedSubstituted><dcc:typeOfChange>{kind}</dcc:typeOfChange>\
             <dcc:replacedUniqueIdentifier>CT-2026-000123</dcc:replacedUniqueIdentifier>"
        )));
        assert!(xml.contains("Serial number misprinted"));
    }
}

#[test]
fn an_unknown_replacement_type_is_refused() {
    let mut view = internal_mpa();
    view.replaces = Some(ReplacesView {
        number: "CT-2026-000123".to_string(),
        replacement_type: "withdrawn".to_string(),
        reason: String::new(),
    });
    assert!(render(&view).unwrap_err().contains("withdrawn"));
}

#[test]
fn celsius_quantities() {
    let xml = render(&celsius_view()).unwrap();
    assert_valid(&xml);
    assert!(xml.contains("<si:value>100.09</si:value>"));
    assert!(xml.contains("<si:unit>\\degreeCelsius</si:unit>"));
    // 30 mK of uncertainty on a °C error is 0.03 °C
    assert!(xml.contains("<si:valueExpandedMU>0.03</si:valueExpandedMU>"));
    assert!(xml.contains("<dcc:conformity>conditionalPass</dcc:conformity>"));
    let statement = crate::domain::conformity::DecisionRule::NonBinary.statement();
    assert!(xml.contains(statement.convention));
    assert!(xml.contains(statement.english), "the PDF's wording");
    // TUR below 4:1 is flagged
    assert!(xml.contains("<dcc:content lang=\"en\">Below 4:1</dcc:content>"));
}

#[test]
fn psi_quantities_are_written_in_pascal() {
    let xml = render(&psi_view()).unwrap();
    assert_valid(&xml);
    assert!(!xml.contains("psi"));
    assert!(xml.contains("<si:unit>\\pascal</si:unit>"));
    // 100 psi = 689 475.729 316 8 Pa (exact definition, twelve significant digits kept)
    assert!(xml.contains("<si:value>689475.729317</si:value>"), "{xml}");
    assert!(xml.contains("<si:valueExpandedMU>689.475729317</si:valueExpandedMU>"));
    assert!(xml.contains("<si:value>-10342.1359398</si:value>"));
    assert!(xml.contains("Acme Hydraulics Co., Ltd."));
}

#[test]
fn fahrenheit_points_and_intervals() {
    let f = |v| q(v, "°F");
    let mut view = celsius_view();
    view.points = vec![point(
        Stage::AsLeft,
        f(212.0),
        f(212.9),
        f(0.9),
        f(0.18),
        Some(f(1.8)),
        Some(Decision::Pass),
        Some(5.0),
    )];
    view.item.range = Some((f(32.0), f(212.0)));
    let xml = render(&view).unwrap();
    assert_valid(&xml);
    let flat = compact(&xml);
    assert!(flat.contains("<si:value>100</si:value><si:unit>\\degreeCelsius</si:unit>"));
    assert!(flat.contains("<si:value>0</si:value><si:unit>\\degreeCelsius</si:unit>"));
    assert!(flat.contains("<si:value>0.5</si:value><si:unit>\\kelvin</si:unit>"));
    assert!(xml.contains("<si:valueExpandedMU>0.1</si:valueExpandedMU>"));
    assert!(xml.contains("<si:value>-1</si:value>"));
}

#[test]
fn a_point_with_limits_instead_of_a_tolerance() {
    let mut view = internal_mpa();
    for p in &mut view.points {
        p.tolerance = None;
        p.limits = Some(Limits {
            lower: q(-10.0, "kPa"),
            upper: q(0.02, "MPa"),
        });
    }
    let xml = render(&view).unwrap();
    assert_valid(&xml);
    assert!(xml.contains("<si:value>-0.01</si:value>"));
    assert!(xml.contains("<si:value>0.02</si:value>"));
    assert!(xml.contains("basic_toleranceLimitLower"));
}

#[test]
fn a_calibration_using_two_standards() {
    let mut view = internal_mpa();
    view.standards.push(external_standard());
    let xml = render(&view).unwrap();
    assert_valid(&xml);
    assert_eq!(xml.matches("<dcc:measuringEquipment ").count(), 2);
    // the external certificate has no hash we know: its number is an identification only
    assert_eq!(xml.matches("<dcc:certificate>").count(), 1);
    assert!(xml.contains("<dcc:value>NIM-2025-0815</dcc:value>"));
    assert!(xml.contains("<dcc:issuer>other</dcc:issuer>"));
}

#[test]
fn a_bare_certificate_with_awkward_text() {
    let mut view = internal_mpa();
    view.customer = Some("  O'Brien & Söhne <GmbH> \"Test\" 上海计量 \u{1} ".to_string());
    view.laboratory.address = String::new();
    view.laboratory.accreditation_body = String::new();
    view.laboratory.accreditation_number = String::new();
    view.item.description = None;
    view.item.manufacturer = None;
    view.item.model = Some("   ".to_string());
    view.item.serial_number = None;
    view.item.range = None;
    view.item.resolution = None;
    view.received_on = None;
    view.location = None;
    view.procedure = None;
    view.environment = Vec::new();
    view.decision_rule = crate::domain::conformity::DecisionRule::None;
    view.standards = Vec::new();
    view.traceability_roots = Vec::new();
    view.traceable = false;
    view.deviations = Some("Only two points, at the customer's request".to_string());
    view.due_on = None;
    view.verification_url = String::new();
    for p in &mut view.points {
        p.tolerance = None;
        p.decision = None;
        p.tur = None;
        p.tur_flagged = false;
    }
    let xml = render(&view).unwrap();
    assert_valid(&xml);
    assert!(xml.contains(
        "<dcc:content>O&apos;Brien &amp; Söhne &lt;GmbH&gt; &quot;Test&quot; 上海计量 \u{FFFD}</dcc:content>"
    ));
    assert!(!xml.contains("<dcc:conformity>"));
    assert!(xml.contains("<dcc:content lang=\"zh\">压力测量仪器</dcc:content>"));
}

#[test]
fn impossible_numbers_are_refused() {
    let mut view = internal_mpa();
    view.points[0].coverage_factor = 0.5;
    assert!(render(&view).unwrap_err().contains("coverage factor"));

    let mut view = internal_mpa();
    view.points[0].error.value = f64::NAN;
    assert!(render(&view).is_err());

    let mut view = internal_mpa();
    view.points[0].expanded_uncertainty = q(1.0, "°C");
    assert!(render(&view).is_err());

    let mut view = internal_mpa();
    view.points.clear();
    assert!(render(&view).unwrap_err().contains("no results"));
}

#[test]
fn the_validator_rejects_an_invalid_dcc() {
    let invalid = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/dcc-3.3.0/examples/invalid-missing-coreData.xml"
    ))
    .unwrap();
    assert!(validate(&invalid).is_err());
    let valid = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/dcc-3.3.0/examples/minimal-valid.xml"
    ))
    .unwrap();
    validate(&valid).unwrap();
}

/// The schematron check is not vacuous: a malformed release is an error, reported where
/// it fired.
#[test]
fn the_schematron_rejects_a_malformed_release() {
    let xml = render(&internal_mpa()).unwrap();
    let release = release_of(&xml);
    let malformed = xml.replacen(
        &format!("<dcc:release>{release}</dcc:release>"),
        "<dcc:release>1.0-beta</dcc:release>",
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("malformed-release.xml");
    std::fs::write(&file, malformed).unwrap();
    match checkers::dcc_schematron(&[file]) {
        None => {} // dcclib not installed, and not required: skipped, as it said
        Some(Ok(report)) => panic!("a malformed release passes:\n{report}"),
        Some(Err(report)) => assert!(report.contains("dcc:release[1]: "), "{report}"),
    }
}

fn release_of(xml: &str) -> &str {
    xml.split("<dcc:release>")
        .nth(1)
        .and_then(|rest| rest.split("</dcc:release>").next())
        .expect("a release")
}

/// PTB's rule on dcc:software/dcc:release (a letter, then up to four dot-separated numbers
/// such as v0.1.0), checked here too so that it holds on machines without dcclib.
#[test]
fn the_software_release_is_written_as_ptb_asks() {
    let xml = render(&internal_mpa()).unwrap();
    let release = release_of(&xml);
    let (letter, numbers) = release.split_at(1);
    assert_eq!(letter, "v", "{release}");
    let parts: Vec<&str> = numbers.split('.').collect();
    assert!(
        (1..=4).contains(&parts.len())
            && parts
                .iter()
                .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())),
        "{release}"
    );
    assert_eq!(numbers, env!("CARGO_PKG_VERSION"));
}

#[test]
fn escaping_covers_the_five_entities() {
    assert_eq!(
        super::xml::escape("a & b < c > d \" e ' f"),
        "a &amp; b &lt; c &gt; d &quot; e &apos; f"
    );
}

#[test]
fn a_configured_country_wins_over_the_address() {
    let mut laboratory = internal_mpa().laboratory;
    assert_eq!(super::laboratory_country(&laboratory), "CN");
    laboratory.country = Some("de".to_string());
    assert_eq!(super::laboratory_country(&laboratory), "DE");
    laboratory.country = Some("Germany".to_string());
    assert_eq!(
        super::laboratory_country(&laboratory),
        "CN",
        "not a code: the address decides"
    );
}

#[test]
fn country_is_read_from_the_address() {
    assert_eq!(
        super::country_code("Bundesallee 100, Braunschweig, Germany"),
        "DE"
    );
    assert_eq!(super::country_code("北京市海淀区，中国"), "CN");
    assert_eq!(super::country_code("Gaithersburg, MD, USA"), "US");
    assert_eq!(super::country_code(""), "CN");
}

/// Whatever people type into the free-text fields, the document stays schema-valid, and
/// (checked on all of them at once at the end) breaks none of PTB's rules.
#[test]
fn any_text_yields_a_valid_dcc() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(16));
    let documents = std::cell::RefCell::new(Vec::new());
    let texts = (
        any::<String>(),
        any::<String>(),
        "[^\\s]\\PC{0,20}",
        any::<String>(),
    );
    let outcome = runner.run(&texts, |(customer, description, signatory, reason)| {
        let mut view = internal_mpa();
        view.customer = Some(customer);
        view.item.description = Some(description);
        view.signatory = signatory;
        view.replaces = Some(ReplacesView {
            number: "CT-2026-000001".to_string(),
            replacement_type: "amended".to_string(),
            reason,
        });
        let xml = render(&view).unwrap();
        prop_assert!(validate(&xml).is_ok(), "{}", validate(&xml).unwrap_err());
        documents.borrow_mut().push(xml);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert_good_practice(&documents.into_inner());
}

/// A DCC full of what canonicalisation must get exactly right (quotes, apostrophes, `& < >`,
/// a carriage return, CJK text, a character XML cannot carry), signed: still valid against the
/// schema and PTB's rules with the signature as the root's last child, and accepted by
/// xmlsec1 and signxml (tests/tools/checkers.rs), which share no code with caltrace, trusting
/// only the demo root.
#[test]
fn a_signed_dcc_with_awkward_text_is_valid_and_verifies_independently() {
    let mut view = internal_mpa();
    view.customer = Some("O'Brien & Söhne <GmbH> \"Test\"\r\n上海计量 \u{1}".to_string());
    view.deviations = Some("Tab\there, 10 > 9 & 1 < 2".to_string());
    let now = chrono::Utc::now();
    let pki = crate::signing::pki::demo_pki("Lab \"A\" & <B>, 上海", Some("CN"), now).unwrap();
    let signed = crate::signing::xades::sign(&render(&view).unwrap(), &pki.identity, now).unwrap();
    assert_valid(&signed);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let pem =
        |c: &x509_cert::Certificate| der::EncodePem::to_pem(c, der::pem::LineEnding::LF).unwrap();
    let file = write("signed.xml", &signed);
    let root = write("root.pem", &pem(&pki.root));
    let intermediate = write("intermediate.pem", &pem(&pki.intermediate));
    if let Some(result) = checkers::xmlsec1_verify(&file, &root, &intermediate) {
        result.unwrap_or_else(|report| panic!("xmlsec1 refuses:\n{report}"));
    }
    if let Some(result) = checkers::signxml_verify(&file, &root) {
        result.unwrap_or_else(|report| panic!("signxml refuses:\n{report}"));
    }
    // The customer's name changed by one letter: refused by both.
    let changed = write(
        "changed.xml",
        &signed.replacen("O&apos;Brien", "O&apos;Brian", 1),
    );
    assert_ne!(std::fs::read(&changed).unwrap(), signed.as_bytes());
    if let Some(result) = checkers::xmlsec1_verify(&changed, &root, &intermediate) {
        assert!(result.is_err(), "xmlsec1 accepts a changed DCC");
    }
    if let Some(result) = checkers::signxml_verify(&changed, &root) {
        assert!(result.is_err(), "signxml accepts a changed DCC");
    }
}
