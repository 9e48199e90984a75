//! CSV import and export (docs/csv-import.md): through the library functions
//! behind `caltrace import` and through the real binary.

use caltrace::auth::roles;
use caltrace::db::audit::Actor;
use caltrace::import::{actor_named, export_instruments, import_calibrations, ImportError};
use rocket::http::Status;
use serde_json::{json, Value};

use crate::common::import::{import_register, import_results_file, row_errors};
use crate::common::{pressure_gauge, TestApp};

const INSTRUMENTS: &[u8] = include_bytes!("../data/instruments.csv");
const CALIBRATIONS: &[u8] = include_bytes!("../data/calibrations.csv");

fn import_results(app: &TestApp, bytes: &[u8], submit: bool) -> Result<Vec<i64>, ImportError> {
    import_results_file(app, bytes, submit, false)
}

/// (line, column) of each reported error.
fn located(error: ImportError) -> Vec<(u64, String)> {
    row_errors(error)
        .into_iter()
        .map(|e| (e.line, e.column))
        .collect()
}

fn register(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get("/api/v1/instruments?per_page=100", Some("inspector"));
    assert_eq!(status, Status::Ok);
    page["items"].as_array().unwrap().clone()
}

fn by_tag<'a>(items: &'a [Value], tag: &str) -> &'a Value {
    items.iter().find(|i| i["asset_tag"] == tag).unwrap()
}

fn audit_count(app: &TestApp, entity: &str) -> i64 {
    let (_, page) = app.get(&format!("/api/v1/audit?entity={entity}"), Some("auditor"));
    page["total"].as_i64().unwrap()
}

#[test]
fn a_good_register_file_stores_exactly_its_rows() {
    let app = TestApp::new();
    let ids = import_register(&app, INSTRUMENTS).unwrap();
    assert_eq!(ids.len(), 5);
    let items = register(&app);
    assert_eq!(items.len(), 5);
    let tags: Vec<&str> = items
        .iter()
        .map(|i| i["asset_tag"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        ["NAT-P-01", "REF-P-01", "REF-T-01", "PG-0101", "TH-0101"]
    );

    let national = by_tag(&items, "NAT-P-01");
    assert_eq!(national["role"], "national");
    assert_eq!(national["institute"], "NIM");
    assert_eq!(national["country"], "CN");
    assert_eq!(national["interval_days"], Value::Null);
    assert_eq!(national["manufacturer"], Value::Null);
    assert_eq!(
        national["range"]["max"],
        json!({"value": 10.0, "unit": "MPa"})
    );

    let piston = by_tag(&items, "REF-P-01");
    assert_eq!(
        piston["resolution"],
        json!({"value": 0.000001, "unit": "MPa"})
    );
    assert_eq!(piston["interval_days"], 730);
    assert_eq!(piston["description"], "Piston gauge 0–6 MPa");

    let thermometer = by_tag(&items, "TH-0101");
    assert_eq!(thermometer["quantity_kind"], "temperature");
    assert_eq!(
        thermometer["range"],
        json!({"min": {"value": -40.0, "unit": "°C"}, "max": {"value": 150.0, "unit": "°C"}})
    );
    assert_eq!(thermometer["customer"], "Jiangnan Pharma, Ltd.");
    assert_eq!(thermometer["location"], "冷库 2");
    assert_eq!(thermometer["status"], "active");

    // The audit log holds what the API writes per instrument, plus the import itself.
    let (_, audit) = app.get("/api/v1/audit?entity=instrument", Some("auditor"));
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["create", "create", "create", "create", "create", "import"]
    );
    let import: Value = serde_json::from_str(audit["items"][5]["after"].as_str().unwrap()).unwrap();
    assert_eq!(import["rows"], 5);
    assert_eq!(import["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_results_file_records_calibrations_with_values_and_units() {
    let app = TestApp::new();
    import_register(&app, INSTRUMENTS).unwrap();
    let items = register(&app);
    let id_of = |tag: &str| by_tag(&items, tag)["id"].as_i64().unwrap();
    let ids = import_results(&app, CALIBRATIONS, false).unwrap();
    assert_eq!(ids.len(), 3);

    let (_, external) = app.get(
        &format!("/api/v1/calibrations/{}", ids[0]),
        Some("inspector"),
    );
    assert_eq!(external["kind"], "external");
    assert_eq!(external["instrument_id"], id_of("REF-P-01"));
    assert_eq!(external["issuer"]["name"], "NIM");
    assert_eq!(external["issuer"]["certificate_number"], "NIM-2026-L-0012");
    assert_eq!(external["standards_used"], json!([id_of("NAT-P-01")]));
    assert_eq!(external["decision_rule"], "none");
    assert_eq!(
        external["points"][0]["expanded_uncertainty"],
        json!({"value": 0.00005, "unit": "MPa"})
    );

    let (_, gauge) = app.get(
        &format!("/api/v1/calibrations/{}", ids[1]),
        Some("inspector"),
    );
    assert_eq!(gauge["status"], "draft");
    assert_eq!(gauge["kind"], "internal");
    assert_eq!(gauge["instrument_id"], id_of("PG-0101"));
    assert_eq!(gauge["performed_on"], "2026-04-15");
    assert_eq!(gauge["received_on"], "2026-04-10");
    assert_eq!(gauge["procedure"], "JJG 52-2013");
    assert_eq!(gauge["standards_used"], json!([id_of("REF-P-01")]));
    assert_eq!(
        gauge["environment"]["temperature"],
        json!({"value": 20.1, "unit": "°C"})
    );
    assert_eq!(
        gauge["environment"]["relative_humidity"],
        json!({"value": 45.0, "unit": "%RH"})
    );
    let points = gauge["points"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    let stages: Vec<&str> = points
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["as_found", "as_found", "as_found", "as_left"]);
    assert_eq!(points[1]["reference"], json!({"value": 0.5, "unit": "MPa"}));
    assert_eq!(
        points[1]["indicated"],
        json!({"value": 0.5004, "unit": "MPa"})
    );
    assert_eq!(
        points[1]["tolerance"],
        json!({"value": 0.0016, "unit": "MPa"})
    );
    assert_eq!(points[1]["coverage_factor"], 2.0);
    assert_eq!(points[2]["decision"], "fail");
    assert_eq!(points[3]["decision"], "pass");
    assert_eq!(gauge["out_of_tolerance"], false);
    assert_eq!(gauge["due_on"], "2027-04-15");

    // Temperatures: values are points, tolerance and U are differences in °C.
    let (_, thermo) = app.get(
        &format!("/api/v1/calibrations/{}", ids[2]),
        Some("inspector"),
    );
    let first = &thermo["points"][0];
    assert_eq!(first["reference"], json!({"value": -20.0, "unit": "°C"}));
    assert_eq!(
        first["expanded_uncertainty"],
        json!({"value": 0.03, "unit": "°C"})
    );
    assert_eq!(first["error"]["unit"], "°C");
    assert!((first["error"]["value"].as_f64().unwrap() - 0.04).abs() < 1e-9);
    assert_eq!(thermo["due_on"], "2026-10-13");

    // Recorded by the technician, as the batch API records them.
    let (_, audit) = app.get("/api/v1/audit?entity=calibration", Some("auditor"));
    let entries = audit["items"].as_array().unwrap();
    // One row per calibration (issue 21: a batch was one row with ids only).
    assert_eq!(entries.len(), 4);
    assert!(
        entries[..3].iter().all(|e| e["action"] == "create"),
        "{audit}"
    );
    let audited: Vec<String> = entries[..3]
        .iter()
        .map(|e| e["entity_id"].as_str().unwrap().to_string())
        .collect();
    let mut created: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    created.sort();
    let mut audited_sorted = audited.clone();
    audited_sorted.sort();
    assert_eq!(audited_sorted, created);
    assert_eq!(entries[3]["action"], "import");
    assert!(entries.iter().all(|e| e["user_name"] == "technician"));

    // The same file again is refused (it would record every calibration twice) and stores
    // nothing; the refusal names the earlier import's audit entry.
    match import_results(&app, CALIBRATIONS, true) {
        Err(ImportError::Failed(message)) => {
            assert!(message.contains("was already imported on"), "{message}");
            assert!(message.contains("by technician (audit entry"), "{message}");
            assert!(message.contains("Pass --again"), "{message}");
        }
        other => panic!("a second import of the same file must be refused: {other:?}"),
    }
    let (_, page) = app.get("/api/v1/calibrations", Some("inspector"));
    assert_eq!(page["total"], 3);
    // Asked for (--again), and with --submit: stored submitted, ready for an approver.
    let ids = import_results_file(&app, CALIBRATIONS, true, true).unwrap();
    let (_, page) = app.get("/api/v1/calibrations", Some("inspector"));
    assert_eq!(page["total"], 6);
    let (_, again) = app.get(
        &format!("/api/v1/calibrations/{}", ids[1]),
        Some("inspector"),
    );
    assert_eq!(again["status"], "submitted");
    // The standard's own certificate first: until it is accepted the gauge's
    // chain is broken, and approval would ask for stated deviations.
    for id in &ids[..2] {
        let (status, approved) = app.post(
            &format!("/api/v1/calibrations/{id}/approve"),
            Some("approver"),
            &json!({}),
        );
        assert_eq!(status, Status::Ok, "{approved}");
    }
}

#[test]
fn a_register_file_with_bad_rows_stores_nothing_and_names_every_line_and_column() {
    let app = TestApp::new();
    // Already registered through the API: line 8 collides with it.
    app.post(
        "/api/v1/instruments",
        Some("admin"),
        &pressure_gauge("PG-OLD", "S-OLD"),
    );
    let file = "\
asset_tag,role,quantity_kind,range_min,range_max,range_unit,resolution,resolution_unit,interval_days,country,institute
PG-1,working,pressure,0,1,MPa,0.001,MPa,365,,
PG-2,master,pressure,0,1,MPa,0.001,MPa,365,,
PG-3,working,pressure,abc,1,MPa,0.001,MPa,,,
pg-1,working,pressure,0,1,MPa,0.001,MPa,365,,
PG-5,working,pressure,0,1,MPa,0.001,mm,-3,,
PG-6,working,pressure,0,1,,,,,,
PG-OLD,working,pressure,,,,,,,,
NAT-1,national,pressure,,,,,,,CHN,
PG-8,working,pressure,0,1,MPa,0.001,MPa,1e3,,
PG-9,working,pressure
";
    let refused = row_errors(import_register(&app, file.as_bytes()).unwrap_err());
    // The register treats pg-1 and PG-1 as one tag, so the file does too.
    assert!(
        refused[2].message.contains("'pg-1' is also on line 2"),
        "{refused:?}"
    );
    let errors: Vec<(u64, String)> = refused.into_iter().map(|e| (e.line, e.column)).collect();
    let expected: Vec<(u64, String)> = [
        (3, "role"),
        (4, "range_min"),
        (5, "asset_tag"),
        (6, "resolution_unit"),
        (6, "interval_days"),
        (7, "range_unit"),
        (7, "range_unit"),
        (8, "asset_tag"),
        (9, "country"),
        (9, "institute"),
        (10, "interval_days"),
        (11, ""),
    ]
    .iter()
    .map(|(line, column)| (*line, column.to_string()))
    .collect();
    assert_eq!(errors, expected);
    // Nothing stored, nothing audited: the register still holds only PG-OLD.
    let items = register(&app);
    assert_eq!(items.len(), 1);
    assert_eq!(audit_count(&app, "instrument"), 1);

    // Conflicts found by the database (manufacturer/model/serial) are reported
    // row by row too: each insert is a savepoint, so the transaction goes on.
    let file = "asset_tag,role,quantity_kind,manufacturer,model,serial_number\n\
                PG-A,working,pressure,WIKA,CPG1500,S-OLD\n\
                PG-B,working,pressure,,,\n\
                PG-C,working,pressure,WIKA,CPG1500,S-OLD\n";
    let errors = located(import_register(&app, file.as_bytes()).unwrap_err());
    assert_eq!(
        errors,
        [
            (2, "serial_number".to_string()),
            (4, "serial_number".to_string())
        ]
    );
    assert_eq!(register(&app).len(), 1);
    assert_eq!(audit_count(&app, "instrument"), 1);

    // Header problems are reported against line 1.
    let errors =
        located(import_register(&app, b"asset_tag,role,colour\nPG-1,working,red\n").unwrap_err());
    assert_eq!(
        errors,
        [(1, "colour".to_string()), (1, "quantity_kind".to_string())]
    );
}

#[test]
fn a_results_file_with_bad_rows_stores_nothing_and_names_every_line_and_column() {
    let app = TestApp::new();
    import_register(&app, INSTRUMENTS).unwrap();
    let file = "\
calibration,asset_tag,performed_on,received_on,standards,stage,unit,reference,indicated,indicated_unit,tolerance,uncertainty,k
C1,PG-0101,2026-04-15,,REF-P-01,as_found,MPa,0.5,0.5004,,0.0016,0.0002,2
C1,,,,,as_found,MPa,1.0,1.0004,mm,0.0016,0.0002,2
C2,PG-9999,2026-04-15,,,as_found,MPa,0.5,0.5,,0.0016,0.0002,2
C3,TH-0101,2026-04-31,,REF-T-01;REF-X,as_found,°C,20,20.01,,0.1,0.03,
C1,,2026-04-16,,,as_left,MPa,1.0,1.0001,,0.0016,0.0002,2
C4,TH-0101,2026-04-16,2026-04-20,REF-T-01,before,°C,20,20.01,,0.1,0.03,2
C4,,,,,as_found,°C,30,30.01,,,0.03,0
";
    let errors = located(import_results(&app, file.as_bytes(), false).unwrap_err());
    let expected: Vec<(u64, String)> = [
        (3, "indicated_unit"),
        (4, "asset_tag"),
        (5, "performed_on"),
        (5, "standards"),
        (5, "k"),
        (6, "performed_on"),
        (7, "received_on"),
        (7, "stage"),
        (8, "tolerance"),
        (8, "k"),
    ]
    .iter()
    .map(|(line, column)| (*line, column.to_string()))
    .collect();
    let mut sorted = errors.clone();
    sorted.sort();
    let mut wanted = expected.clone();
    wanted.sort();
    assert_eq!(sorted, wanted, "{errors:?}");
    let (_, page) = app.get("/api/v1/calibrations", Some("inspector"));
    assert_eq!(page["total"], 0);
    assert_eq!(audit_count(&app, "calibration"), 0);

    // Calibrations need a technician of record.
    let refused = app.with_conn(|conn| {
        import_calibrations(
            conn,
            &Actor::command_line(),
            "x.csv",
            CALIBRATIONS,
            (false, caltrace::workflow::competence::Competence::Required),
            false,
            &mut |_| {},
        )
    });
    assert!(matches!(refused, Err(ImportError::Failed(_))));
    let refused = app.with_conn(|conn| actor_named(conn, "inspector", roles::TECHNICIANS));
    assert!(refused.unwrap_err().contains("cannot import"));
}

fn export(app: &TestApp) -> String {
    let mut out = Vec::new();
    app.with_conn(|conn| export_instruments(conn, &mut out))
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// The register without what the format leaves out (ids, timestamps).
fn comparable(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut item| {
            let object = item.as_object_mut().unwrap();
            for key in ["id", "created_at", "updated_at"] {
                object.remove(key);
            }
            item
        })
        .collect()
}

#[test]
fn an_export_imports_into_an_empty_register_unchanged() {
    let first = TestApp::new();
    import_register(&first, INSTRUMENTS).unwrap();
    // Registered through the API: a range whose ends are in different units,
    // and values that are not short decimals.
    let (status, _) = first.post(
        "/api/v1/instruments",
        Some("admin"),
        &json!({"asset_tag": "TH-MIX", "role": "working", "quantity_kind": "temperature",
                "range": {"min": {"value": -40, "unit": "degC"}, "max": {"value": 0.1, "unit": "°F"}},
                "resolution": {"value": 0.1 + 0.2, "unit": "mK"}, "description": "a \"quoted\", comma"}),
    );
    assert_eq!(status, Status::Created);
    let exported = export(&first);
    assert!(exported.starts_with("asset_tag,description,"));
    assert!(exported
        .lines()
        .next()
        .unwrap()
        .ends_with(",range_min_unit,range_max_unit"));

    let second = TestApp::new();
    let ids = import_register(&second, exported.as_bytes()).unwrap();
    assert_eq!(ids.len(), 6);
    assert_eq!(comparable(register(&first)), comparable(register(&second)));
    assert_eq!(export(&second), exported);
}

/// The probe's finding (issue 21): a description `=HYPERLINK(…)` went out as a
/// formula a spreadsheet would run. Text cells that start like a formula are
/// written as text; a negative range end stays a number.
#[test]
fn the_export_neutralises_cells_a_spreadsheet_would_run() {
    let app = TestApp::new();
    let (status, created) = app.post(
        "/api/v1/instruments",
        Some("admin"),
        &json!({"asset_tag": "TH-1", "role": "working", "quantity_kind": "temperature",
                "range": {"min": {"value": -40, "unit": "degC"}, "max": {"value": 150, "unit": "degC"}},
                "description": "=HYPERLINK(\"http://evil.example\",\"click\")",
                "customer": "@SUM(A1:A9)", "location": "+1 lab"}),
    );
    assert_eq!(status, Status::Created, "{created}");
    let exported = export(&app);
    let row = exported.lines().nth(1).unwrap();
    assert!(row.contains("\"'=HYPERLINK("), "{row}");
    assert!(row.contains(",'@SUM(A1:A9),"), "{row}");
    assert!(row.contains(",'+1 lab,"), "{row}");
    assert!(row.contains(",-40,150,degC,"), "{row}");
}

#[test]
fn the_binary_imports_reports_and_exports() {
    let app = TestApp::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "asset_tag,role,quantity_kind\nPG-1,working,pressure\nPG-2,master,pressure\nPG-3,working,weight\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_caltrace"))
            .args(args)
            .env("ROCKET_DATABASE_URL", &app.database_url)
            .output()
            .expect("run caltrace");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (ok, _, stderr) = run(&["import", "instruments", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("line 3, column role: unknown role 'master'"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4, column quantity_kind:"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert!(register(&app).is_empty());

    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let (ok, stdout, stderr) = run(&[
        "import",
        "instruments",
        &format!("{data}instruments.csv"),
        "--as",
        "admin",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 5 instruments"), "{stdout}");
    assert!(stderr.contains("storing: 5/5"), "{stderr}");
    let results = format!("{data}calibrations.csv");
    let import_results = |user: &str, flags: &[&str]| {
        let mut args = vec!["import", "calibrations", results.as_str(), "--as", user];
        args.extend_from_slice(flags);
        run(&args)
    };
    let (ok, stdout, stderr) = import_results("technician", &["--submit"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("imported 3 calibrations (submitted)"),
        "{stdout}"
    );
    let (ok, _, stderr) = import_results("technician", &[]);
    assert!(!ok);
    assert!(stderr.contains("was already imported on"), "{stderr}");
    let (ok, stdout, stderr) = import_results("technician", &["--again"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("imported 3 calibrations (drafts)"),
        "{stdout}"
    );
    let (ok, _, stderr) = import_results("auditor", &[]);
    assert!(!ok);
    assert!(stderr.contains("cannot import"), "{stderr}");

    let (ok, stdout, _) = run(&["export", "instruments"]);
    assert!(ok);
    assert_eq!(stdout, export(&app));
    let target = dir.path().join("register.csv");
    let (ok, _, stderr) = run(&["export", "instruments", target.to_str().unwrap()]);
    assert!(ok);
    assert!(stderr.contains("exported 5 instruments"), "{stderr}");
    assert_eq!(std::fs::read_to_string(target).unwrap(), stdout);
}
