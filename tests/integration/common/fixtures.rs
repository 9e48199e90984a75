//! Records the tests of several modules build on: instruments registered,
//! calibrations recorded, submitted and issued through the API.

use rocket::http::Status;
use serde_json::{json, Value};

use super::{pressure_gauge, TestApp};

pub fn register(app: &TestApp, tag: &str, role: &str) -> i64 {
    let mut body = pressure_gauge(tag, &format!("SN-{tag}"));
    body["role"] = json!(role);
    if role == "national" {
        body["institute"] = json!("NIM");
        body["country"] = json!("CN");
    }
    let (status, created) = app.post("/api/v1/instruments", Some("admin"), &body);
    assert_eq!(status, Status::Created, "{created}");
    created["id"].as_i64().unwrap()
}

/// One as-found point at 0.5 MPa with a stated U.
pub fn point(indicated: f64, u: f64) -> Value {
    json!({"stage": "as_found", "reference": {"value": 0.5, "unit": "MPa"},
           "indicated": {"value": indicated, "unit": "MPa"}, "tolerance": {"value": 0.001, "unit": "MPa"},
           "stated_uncertainty": {"expanded_uncertainty": {"value": u, "unit": "MPa"}, "coverage_factor": 2}})
}

pub fn calibration(
    instrument_id: i64,
    standards: &[i64],
    performed_on: &str,
    points: Vec<Value>,
) -> Value {
    json!({"instrument_id": instrument_id, "kind": "internal", "performed_on": performed_on,
           "received_on": performed_on, "procedure": "JJG 52-2013", "location": "laboratory",
           "environment": {"temperature": {"value": 20.1, "unit": "degC"}, "relative_humidity": {"value": 45, "unit": "%RH"}},
           "standards_used": standards, "decision_rule": "simple", "points": points,
           // Most tests build only the part of a chain they look at; approving
           // on a broken chain needs stated deviations (DESIGN section 6).
           "deviations": "Chain built by the test as far as it needs"})
}

/// Creates as the technician and submits; returns its id.
pub fn submitted(app: &TestApp, body: &Value) -> i64 {
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), body);
    assert_eq!(status, Status::Created, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, submitted) = app.post(
        &format!("/api/v1/calibrations/{id}/submit"),
        Some("technician"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{submitted}");
    id
}

/// A working gauge PG-1 calibrated against the national standard NIM-P on 2026-05-10 and
/// issued; (the gauge's id, the approved calibration with its certificate number).
pub fn traced_certificate(app: &TestApp) -> (i64, Value) {
    let national = register(app, "NIM-P", "national");
    let gauge = register(app, "PG-1", "working");
    let body = calibration(
        gauge,
        &[national],
        "2026-05-10",
        vec![point(0.5003, 0.0002)],
    );
    (gauge, issue(app, &body))
}

/// Creates, submits and approves; returns the approved calibration.
pub fn issue(app: &TestApp, body: &Value) -> Value {
    let id = submitted(app, body);
    let (status, approved) = app.post(
        &format!("/api/v1/calibrations/{id}/approve"),
        Some("approver"),
        &json!({}),
    );
    assert_eq!(status, Status::Ok, "{approved}");
    approved
}

pub fn external(
    instrument_id: i64,
    standards: &[i64],
    performed_on: &str,
    issuer_number: &str,
) -> Value {
    let mut body = calibration(
        instrument_id,
        standards,
        performed_on,
        vec![point(0.5001, 0.00005)],
    );
    body["kind"] = json!("external");
    body["issuer"] = json!({"name": "NIM", "certificate_number": issuer_number});
    body
}

/// A pressure point whose budget is a model (DESIGN 5b: "A calibration point's `budget` may
/// use either form"): the error of the gauge against a pressure balance, p_ind − m·g/A0, with
/// the mass and the area correlated (one certificate for both).
pub fn pressure_balance_budget() -> Value {
    json!({
        "model": "p_ind - m * g_l / A0",
        "inputs": [
            {"name": "p_ind", "type": "A", "readings": [0.5002, 0.5003, 0.5004], "unit": "MPa"},
            {"name": "m", "estimate": {"value": 5.0, "unit": "kg"}, "type": "B",
             "distribution": "normal", "standard_uncertainty": 0.0001},
            {"name": "g_l", "estimate": {"value": 9.80665, "unit": "m/s^2"}},
            {"name": "A0", "estimate": {"value": 98.0665, "unit": "mm^2"}, "type": "B",
             "distribution": "normal", "standard_uncertainty": 0.002}
        ],
        "correlations": [{"inputs": ["m", "A0"], "coefficient": 0.5}]
    })
}
