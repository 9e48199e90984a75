use rocket::http::{Method, Status};
use serde_json::{json, Value};

use crate::common::{fields, TestApp};

fn close(actual: &Value, expected: f64, relative: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!(
        ((actual - expected) / expected).abs() <= relative,
        "{actual} vs {expected}"
    );
}

/// The request of DESIGN.md section 5, whose true results the design states.
#[test]
fn the_design_example_evaluates_to_its_stated_results() {
    let app = TestApp::new();
    let request = json!({
      "measurand": {"name": "Gauge block length deviation", "unit": "nm"},
      "coverage_probability": 0.9545,
      "components": [
        {"name": "repeatability", "type": "A", "readings": [12, 15, 11, 14, 13], "unit": "nm"},
        {"name": "reference certificate", "type": "B", "distribution": "normal", "expanded_uncertainty": 25, "coverage_factor": 2, "unit": "nm"},
        {"name": "resolution", "type": "B", "distribution": "rectangular", "half_width": 5, "unit": "nm"},
        {"name": "thermal", "type": "B", "distribution": "rectangular", "half_width": 0.5, "unit": "K",
         "sensitivity": {"value": 575, "unit": "nm/K"}, "degrees_of_freedom": 50}
      ]
    });
    let (status, result) = app.post("/api/v1/uncertainty/evaluate", Some("inspector"), &request);
    assert_eq!(status, Status::Ok, "{result}");
    assert_eq!(
        result["measurand"],
        json!({"name": "Gauge block length deviation", "unit": "nm"})
    );
    assert_eq!(result["combined_standard_uncertainty"]["unit"], "nm");
    close(
        &result["combined_standard_uncertainty"]["value"],
        166.4847,
        1e-6,
    );
    close(&result["effective_degrees_of_freedom"], 50.601, 1e-4);
    close(&result["coverage_factor"], 2.0513, 1e-4);
    assert_eq!(result["coverage_probability"], 0.9545);
    // DESIGN prints 341.51; k·u_c from the unrounded k is 341.502.
    close(&result["expanded_uncertainty"]["value"], 341.502, 1e-5);
    let components = result["components"].as_array().unwrap();
    assert_eq!(components.len(), 4);
    assert_eq!(components[0]["name"], "repeatability");
    assert_eq!(components[0]["standard_uncertainty"]["unit"], "nm");
    close(
        &components[0]["standard_uncertainty"]["value"],
        0.5_f64.sqrt(),
        1e-9,
    );
    assert_eq!(
        components[0]["sensitivity"],
        json!({"value": 1.0, "unit": "1"})
    );
    assert_eq!(components[0]["degrees_of_freedom"], 4.0);
    close(&components[0]["percent_of_variance"], 0.0018, 1e-2);
    assert_eq!(components[1]["degrees_of_freedom"], Value::Null);
    let thermal = &components[3];
    assert_eq!(thermal["standard_uncertainty"]["unit"], "K");
    close(&thermal["standard_uncertainty"]["value"], 0.28868, 1e-4);
    assert_eq!(
        thermal["sensitivity"],
        json!({"value": 575.0, "unit": "nm/K"})
    );
    assert_eq!(thermal["contribution"]["unit"], "nm");
    close(&thermal["contribution"]["value"], 165.988, 1e-5);
    close(&thermal["percent_of_variance"], 99.404, 1e-5);
}

/// GUM (JCGM 100:2008) H.1, the end gauge, at p = 0.99.
#[test]
fn gum_annex_h1_end_gauge() {
    let app = TestApp::new();
    let request = json!({
      "measurand": {"name": "end gauge length deviation", "unit": "nm"},
      "coverage_probability": 0.99,
      "components": [
        {"name": "reference gauge", "type": "B", "distribution": "normal", "standard_uncertainty": 25, "unit": "nm", "degrees_of_freedom": 18},
        {"name": "repeatability", "type": "A", "readings": [0, 0, 0, 0, 0], "pooled": {"standard_deviation": 12.969194269, "degrees_of_freedom": 24}, "unit": "nm"},
        {"name": "comparator random", "type": "B", "distribution": "normal", "standard_uncertainty": 3.9, "unit": "nm", "degrees_of_freedom": 5},
        {"name": "comparator systematic", "type": "B", "distribution": "normal", "standard_uncertainty": 6.7, "unit": "nm", "degrees_of_freedom": 8},
        {"name": "expansion coefficients", "type": "B", "distribution": "rectangular", "half_width": 1e-6, "unit": "1/K",
         "sensitivity": {"value": 5.0e6, "unit": "nm*K"}, "degrees_of_freedom": 50},
        {"name": "temperature difference", "type": "B", "distribution": "rectangular", "half_width": 0.05, "unit": "°C",
         "sensitivity": {"value": -575, "unit": "nm/K"}, "degrees_of_freedom": 2}
      ]
    });
    let (status, result) = app.post("/api/v1/uncertainty/evaluate", Some("technician"), &request);
    assert_eq!(status, Status::Ok, "{result}");
    close(
        &result["combined_standard_uncertainty"]["value"],
        31.66,
        1e-3,
    );
    close(&result["effective_degrees_of_freedom"], 16.75, 1e-3);
    close(&result["coverage_factor"], 2.9208, 1e-4);
    close(&result["expanded_uncertainty"]["value"], 92.48, 1e-3);
}

#[test]
fn every_error_case_is_422_naming_its_field() {
    let app = TestApp::new();
    let base = json!({"measurand": {"name": "m", "unit": "mm"},
        "components": [{"name": "a", "type": "B", "distribution": "rectangular", "half_width": 0.01, "unit": "mm"}]});
    let component = |extra: Value| {
        let mut body = base.clone();
        let mut c = json!({"name": "x", "unit": "mm"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        body["components"].as_array_mut().unwrap().push(c);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"measurand": {"name": "m", "unit": "mm"}, "components": []}),
            "components",
        ),
        (
            component(
                json!({"name": "a", "type": "B", "distribution": "rectangular", "half_width": 1}),
            ),
            "components[1].name",
        ),
        (
            component(json!({"type": "B", "distribution": "lognormal", "half_width": 1})),
            "components[1].distribution",
        ),
        (
            component(
                json!({"type": "B", "distribution": "rectangular", "half_width": 1, "unit": "furlong"}),
            ),
            "components[1].unit",
        ),
        (
            component(
                json!({"type": "B", "distribution": "rectangular", "half_width": 1, "unit": "kg"}),
            ),
            "components[1].unit",
        ),
        (
            component(json!({"type": "B", "distribution": "rectangular", "half_width": -1})),
            "components[1].half_width",
        ),
        (
            component(json!({"type": "B", "distribution": "normal", "standard_uncertainty": -1})),
            "components[1].standard_uncertainty",
        ),
        (
            component(
                json!({"type": "B", "distribution": "normal", "expanded_uncertainty": 1, "coverage_factor": 0}),
            ),
            "components[1].coverage_factor",
        ),
        (
            component(
                json!({"type": "B", "distribution": "rectangular", "half_width": 1, "degrees_of_freedom": 0.5}),
            ),
            "components[1].degrees_of_freedom",
        ),
        (
            component(json!({"type": "A", "readings": [1.0]})),
            "components[1].readings",
        ),
        (
            component(json!({"type": "A", "readings": [1.0, 2.0], "degrees_of_freedom": 3})),
            "components[1].degrees_of_freedom",
        ),
        (
            component(json!({"type": "C", "half_width": 1})),
            "components[1].type",
        ),
        (
            json!({"measurand": {"name": "m", "unit": "mm"}, "coverage_probability": 1.0, "components": base["components"]}),
            "coverage_probability",
        ),
        (
            json!({"measurand": {"name": "m", "unit": "mm"}, "components": [{"name": "z", "type": "B", "distribution": "rectangular", "half_width": 0, "unit": "mm"}]}),
            "components",
        ),
        (
            json!({"measurand": {"name": "m", "unit": "parsec"}, "components": base["components"]}),
            "measurand.unit",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post("/api/v1/uncertainty/evaluate", Some("auditor"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{body}: {problem}");
        assert!(
            fields(&problem).contains(&field.to_string()),
            "{body}: expected {field}, got {problem}"
        );
    }
    let text = base.to_string().replace("0.01", "1e999");
    let (status, problem) = app.send(
        Method::Post,
        "/api/v1/uncertainty/evaluate",
        Some("auditor"),
        &text,
    );
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["components[0].half_width".to_string()]
        )
    );
    let (status, _) = app.send(
        Method::Post,
        "/api/v1/uncertainty/evaluate",
        Some("auditor"),
        "{\"measurand\":",
    );
    assert_eq!(status, Status::BadRequest);
}

/// A calibration point's budget is evaluated by the same engine, in the
/// reference value's unit, and its errors are named inside the point.
#[test]
fn calibration_points_use_the_engine() {
    let app = TestApp::new();
    let gauge = crate::common::fixtures::register(&app, "PG-1", "working");
    let standard = crate::common::fixtures::register(&app, "REF-1", "reference");
    let mut point = crate::common::fixtures::point(0.5003, 0.0002);
    point.as_object_mut().unwrap().remove("stated_uncertainty");
    point["budget"] = json!({"components": [
        {"name": "reference standard", "type": "B", "distribution": "normal", "expanded_uncertainty": 0.1, "coverage_factor": 2, "unit": "kPa", "standard": standard},
        {"name": "resolution", "type": "B", "distribution": "rectangular", "half_width": 0.05, "unit": "kPa"},
        {"name": "repeatability", "type": "A", "readings": [0.5002, 0.5003, 0.5004], "unit": "MPa"}]});
    let body =
        crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![point.clone()]);
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
    let p = &created["points"][0];
    // u² = 0.05² + (0.05/√3)² + (0.1/√3)² kPa² = 0.006667 kPa², u = 0.08165 kPa;
    // ν_eff = u⁴ / ((0.1/√3)⁴ / 2) = 8, so k = t(0.97725, 8) = 2.36642 (scipy.stats.t.ppf).
    assert_eq!(p["expanded_uncertainty"]["unit"], "MPa");
    close(
        &p["budget"]["combined_standard_uncertainty"]["value"],
        0.0000816497,
        1e-5,
    );
    assert_eq!(p["budget"]["combined_standard_uncertainty"]["unit"], "MPa");
    close(&p["budget"]["effective_degrees_of_freedom"], 8.0, 1e-9);
    close(&p["coverage_factor"], 2.366419, 1e-6);
    close(
        &p["expanded_uncertainty"]["value"],
        p["budget"]["expanded_uncertainty"]["value"]
            .as_f64()
            .unwrap(),
        1e-12,
    );
    assert_eq!(p["standards_in_budget"], json!([standard]));
    // A component naming a standard not used is refused, inside the point.
    point["budget"]["components"][0]["standard"] = json!(gauge);
    let body =
        crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![point.clone()]);
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["points[0].budget.components[0].standard".to_string()]
        )
    );
    point["budget"]["components"][0]["standard"] = json!(standard);
    point["budget"]["components"][1]["unit"] = json!("K");
    let body = crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![point]);
    let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(
        (status, fields(&problem)),
        (
            Status::UnprocessableEntity,
            vec!["points[0].budget.components[1].unit".to_string()]
        )
    );
}
