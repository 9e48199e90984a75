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

/// The point's U, k and decision come from the model's GUM result; its budget carries the
/// model, y and the computed sensitivities; bad input is a 422 naming the field inside the
/// point.
#[test]
fn calibration_points_take_a_model_budget() {
    let app = TestApp::new();
    let gauge = crate::common::fixtures::register(&app, "PG-1", "working");
    let standard = crate::common::fixtures::register(&app, "PB-1", "reference");
    let mut point = crate::common::fixtures::point(0.5003, 0.0002);
    point.as_object_mut().unwrap().remove("stated_uncertainty");
    point["budget"] = crate::common::fixtures::pressure_balance_budget();
    let body = crate::common::fixtures::calibration(
        gauge,
        &[standard],
        "2026-05-10",
        vec![point.clone(), point.clone()],
    );
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
    let p = &created["points"][0];
    // GTC 1.5.1 (ureal with set_correlation 0.5) gives the same: y = 0.000 300 MPa,
    // u_c = 5.861 18×10⁻⁵ MPa, ν_eff = 2.124 (only p_ind's ν = 2 below), k = t(0.97725, 2)
    // = 4.526 551, U = 2.653 09×10⁻⁴ MPa.
    let budget = &p["budget"];
    assert_eq!(budget["model"], "p_ind - m * g_l / A0");
    close(&budget["estimate"]["value"], 0.0003, 1e-9);
    close(
        &budget["combined_standard_uncertainty"]["value"],
        5.86118062e-5,
        1e-8,
    );
    close(&budget["effective_degrees_of_freedom"], 2.1242857, 1e-7);
    close(&p["coverage_factor"], 4.52655076, 1e-8);
    close(&p["expanded_uncertainty"]["value"], 2.65309316e-4, 1e-8);
    assert_eq!(p["expanded_uncertainty"]["unit"], "MPa");
    assert_eq!(p["decision"], "pass");
    // Sensitivities ∂f/∂X_i at the estimates, with their units; g_l is exact and omitted.
    let components = budget["components"].as_array().unwrap();
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["p_ind", "m", "A0"]);
    close(&components[0]["sensitivity"]["value"], 1.0, 1e-12);
    close(&components[1]["sensitivity"]["value"], -0.1, 1e-12);
    assert_eq!(components[1]["sensitivity"]["unit"], "MPa/kg");
    close(&components[2]["sensitivity"]["value"], 0.00509858106, 1e-9);
    assert_eq!(components[2]["estimate"]["value"], 98.0665);
    // Read back as stored.
    let id = created["id"].as_i64().unwrap();
    let (_, read) = app.get(&format!("/api/v1/calibrations/{id}"), Some("auditor"));
    assert_eq!(read["points"][0]["budget"], *budget);

    // Bad input is named inside the point.
    // (point, how its budget is spoilt, the field named, what the message says)
    type Case<'a> = (usize, &'a dyn Fn(&mut Value), &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            1,
            &|b| {
                b["inputs"][1] = json!({"name": "m", "estimate": {"value": 5.0, "unit": "kg"},
                "type": "B", "distribution": "rectangular", "half_width": -0.1})
            },
            "points[1].budget.inputs[1].half_width",
            "negative",
        ),
        (
            0,
            &|b| b["model"] = json!("p_ind - m * g_l / A0)"),
            "points[0].budget.model",
            "at character 21",
        ),
        (
            0,
            &|b| b["model"] = json!("p_ind - m * g_l"),
            "points[0].budget.inputs[3].name",
            "'A0' is not used",
        ),
        (
            0,
            &|b| b["components"] = json!([{"name": "r", "type": "B", "distribution": "rectangular", "half_width": 1, "unit": "kPa"}]),
            "points[0].budget.model",
            "not both",
        ),
        (
            0,
            &|b| b["correlations"][0]["coefficient"] = json!(2),
            "points[0].budget.correlations[0].coefficient",
            "[-1, 1]",
        ),
    ];
    for (i, edit, field, text) in cases {
        let mut bad = body.clone();
        edit(&mut bad["points"][i]["budget"]);
        let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &bad);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["message"].as_str().unwrap().contains(text)),
            "expected {field} ({text}), got {problem}"
        );
    }
}

// --- Measurement models, correlations and Monte Carlo (DESIGN 5b) ----------------------------

fn design_model_request() -> Value {
    json!({
      "measurand": {"name": "Power dissipated", "unit": "mW"},
      "model": "V^2 / R0 / (1 + alpha * (t - t0))",
      "inputs": [
        {"name": "V", "estimate": {"value": 1.0, "unit": "V"}, "type": "B", "distribution": "normal",
         "standard_uncertainty": 0.002},
        {"name": "R0", "type": "A", "readings": [100.02, 99.98, 100.01, 100.00, 99.99], "unit": "ohm"},
        {"name": "alpha", "estimate": {"value": 0.0039, "unit": "1/K"}, "type": "B",
         "distribution": "rectangular", "half_width": 0.0001},
        {"name": "t", "estimate": {"value": 23.0, "unit": "degC"}, "type": "B", "distribution": "normal",
         "expanded_uncertainty": 0.2, "coverage_factor": 2},
        {"name": "t0", "estimate": {"value": 20, "unit": "degC"}}
      ],
      "correlations": [{"inputs": ["V", "t"], "coefficient": 0.3}],
      "method": "both",
      "monte_carlo": {"trials": 100000, "seed": 7, "interval": "symmetric"}
    })
}

/// The request of DESIGN 5b: GUM with exact sensitivities and the correlation, and Monte Carlo.
#[test]
fn the_design_model_example_evaluates_by_both_methods() {
    let app = TestApp::new();
    let (status, result) = app.post(
        "/api/v1/uncertainty/evaluate",
        Some("inspector"),
        &design_model_request(),
    );
    assert_eq!(status, Status::Ok, "{result}");
    let d = 1.0 + 0.0039 * 3.0;
    let y = 10.0 / d; // mW
    assert_eq!(result["method"], "both");
    assert_eq!(result["estimate"]["unit"], "mW");
    close(&result["estimate"]["value"], y, 1e-12);
    let components = result["components"].as_array().unwrap();
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["V", "R0", "alpha", "t"], "t0 is an exact constant");
    let by = |n: &str| components.iter().find(|c| c["name"] == n).unwrap();
    // ∂P/∂V = 2V/(R0·d), ∂P/∂R0 = −P/R0, ∂P/∂t = −P·α/d: exact, with their units.
    close(&by("V")["sensitivity"]["value"], 2.0 * y, 1e-12);
    assert_eq!(by("V")["sensitivity"]["unit"], "mW/V");
    close(&by("R0")["sensitivity"]["value"], -y / 100.0, 1e-10);
    assert_eq!(by("R0")["sensitivity"]["unit"], "mW/ohm");
    close(&by("R0")["estimate"]["value"], 100.0, 1e-12);
    assert_eq!(by("R0")["degrees_of_freedom"], 4.0);
    close(&by("t")["sensitivity"]["value"], -y * 0.0039 / d, 1e-12);
    assert_eq!(by("t")["sensitivity"]["unit"], "mW/degC");
    close(&by("t")["standard_uncertainty"]["value"], 0.1, 1e-12);
    // u_c² = Σ(c_i u_i)² + 2·0.3·c_V u_V c_t u_t
    let cu = |n: &str| {
        by(n)["sensitivity"]["value"].as_f64().unwrap()
            * by(n)["standard_uncertainty"]["value"].as_f64().unwrap()
    };
    let u_c = (["V", "R0", "alpha", "t"]
        .iter()
        .map(|n| cu(n).powi(2))
        .sum::<f64>()
        + 2.0 * 0.3 * cu("V") * cu("t"))
    .sqrt();
    close(
        &result["combined_standard_uncertainty"]["value"],
        u_c,
        1e-12,
    );
    let mc = &result["monte_carlo"];
    assert_eq!(mc["trials"], 100000);
    assert_eq!(mc["seed"], 7);
    assert_eq!(mc["converged"], true);
    close(&mc["estimate"]["value"], y, 1e-3);
    close(&mc["standard_uncertainty"]["value"], u_c, 0.02);
    assert_eq!(mc["coverage_interval"]["kind"], "symmetric");
    assert_eq!(mc["coverage_interval"]["unit"], "mW");
    assert_eq!(mc["coverage_interval"]["probability"], 0.9545);
    let counts: u64 = mc["histogram"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(counts, 100_000);
    assert_eq!(
        mc["histogram"]["edges"].as_array().unwrap().len(),
        mc["histogram"]["counts"].as_array().unwrap().len() + 1
    );
    let v = &mc["gum_validation"];
    assert!(v["tolerance"].as_f64().unwrap() > 0.0);
    assert!(v["passed"].is_boolean());
    // The same seed gives the same bytes.
    let (_, again) = app.post(
        "/api/v1/uncertainty/evaluate",
        Some("inspector"),
        &design_model_request(),
    );
    assert_eq!(result.to_string(), again.to_string());
}

#[test]
fn a_monte_carlo_request_without_a_seed_states_the_seed_it_drew() {
    let app = TestApp::new();
    let mut body = design_model_request();
    body["monte_carlo"] = json!({"trials": 10000});
    body["method"] = json!("monte_carlo");
    let (status, result) = app.post("/api/v1/uncertainty/evaluate", Some("inspector"), &body);
    assert_eq!(status, Status::Ok, "{result}");
    assert!(result.get("combined_standard_uncertainty").is_none());
    let seed = result["monte_carlo"]["seed"].as_u64().unwrap();
    assert!(seed < 1 << 53);
    body["monte_carlo"]["seed"] = json!(seed);
    let (_, replay) = app.post("/api/v1/uncertainty/evaluate", Some("inspector"), &body);
    assert_eq!(result["monte_carlo"], replay["monte_carlo"]);
}

/// JCGM 101:2008 9.3 through the route: GUM δm = 1.2340 mg, u = 0.0539 mg; Monte Carlo
/// u = 0.0754 mg, shortest 95 % interval [1.0834, 1.3825] mg; the GUM result is not validated.
#[test]
fn jcgm_101_mass_calibration_through_the_route() {
    let app = TestApp::new();
    let body = json!({
        "measurand": {"name": "deviation from 100 g", "unit": "mg"},
        "coverage_probability": 0.95,
        "model": "(m_Rc + dm_Rc) * (1 + (rho_a - rho_a0) * (1/rho_W - 1/rho_R)) - m_nom",
        "inputs": [
            {"name": "m_Rc", "estimate": {"value": 100000.000, "unit": "mg"}, "type": "B", "distribution": "normal", "standard_uncertainty": 0.050},
            {"name": "dm_Rc", "estimate": {"value": 1.234, "unit": "mg"}, "type": "B", "distribution": "normal", "standard_uncertainty": 0.020},
            {"name": "rho_a", "estimate": {"value": 1.20, "unit": "kg/m^3"}, "type": "B", "distribution": "rectangular", "half_width": 0.10},
            {"name": "rho_W", "estimate": {"value": 8000, "unit": "kg/m^3"}, "type": "B", "distribution": "rectangular", "half_width": 1000},
            {"name": "rho_R", "estimate": {"value": 8000, "unit": "kg/m^3"}, "type": "B", "distribution": "rectangular", "half_width": 50},
            {"name": "rho_a0", "estimate": {"value": 1.2, "unit": "kg/m^3"}},
            {"name": "m_nom", "estimate": {"value": 100, "unit": "g"}}
        ],
        "method": "both",
        "monte_carlo": {"trials": 200000, "seed": 2008, "interval": "shortest"}
    });
    let (status, r) = app.post("/api/v1/uncertainty/evaluate", Some("technician"), &body);
    assert_eq!(status, Status::Ok, "{r}");
    close(&r["estimate"]["value"], 1.2340, 5e-5);
    close(&r["combined_standard_uncertainty"]["value"], 0.0539, 1e-3);
    let mc = &r["monte_carlo"];
    close(&mc["standard_uncertainty"]["value"], 0.0754, 0.01);
    close(&mc["coverage_interval"]["low"], 1.0834, 0.002);
    close(&mc["coverage_interval"]["high"], 1.3825, 0.002);
    assert_eq!(mc["coverage_interval"]["kind"], "shortest");
    assert_eq!(mc["gum_validation"]["passed"], false);
}

#[test]
fn every_model_rule_is_422_naming_its_field() {
    let app = TestApp::new();
    let base = design_model_request();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut b = base.clone();
        edit(&mut b);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&|b| b["inputs"][2]["half_width"] = json!(-0.1)),
            "inputs[2].half_width",
            "negative",
        ),
        (
            with(&|b| b["model"] = json!("V^2 / R0 / (1 + alpha * (t - t0)")),
            "model",
            "character 33",
        ),
        (
            with(&|b| b["model"] = json!("V^2 / R0 + alpha")),
            "model",
            "character 10",
        ),
        (
            with(&|b| b["model"] = json!("V^2 / R0 / (1 + alpha * t)")),
            "model",
            "give t in K",
        ),
        // sqrt and abs take a dimensionless argument like every function (DESIGN 5b); the
        // message points at the argument and says how to take a root of a voltage.
        (
            with(&|b| b["model"] = json!("sqrt(V^4) / R0 / (1 + alpha * (t - t0))")),
            "model",
            "at character 6: the argument of sqrt must be dimensionless (angles in radians), found",
        ),
        (
            with(&|b| b["model"] = json!("abs(V)^2 / R0 / (1 + alpha * (t - t0))")),
            "model",
            "at character 5: the argument of abs must be dimensionless",
        ),
        (
            with(&|b| b["model"] = json!("abs(V)^2 / R0 / (1 + alpha * (t - t0))")),
            "model",
            "write (x^2)^(1/2)",
        ),
        (
            with(&|b| b["correlations"][0]["coefficient"] = json!(-1.5)),
            "correlations[0].coefficient",
            "[-1, 1]",
        ),
        (
            with(&|b| b["inputs"][0]["sensitivity"] = json!(1)),
            "inputs[0].sensitivity",
            "not allowed",
        ),
        (
            with(&|b| b["inputs"][4]["name"] = json!("t1")),
            "model",
            "'t0' is not an input",
        ),
        (
            with(&|b| b["monte_carlo"]["trials"] = json!(100)),
            "monte_carlo.trials",
            "10000",
        ),
        (with(&|b| b["components"] = json!([])), "model", "not both"),
        (
            with(&|b| b["measurand"]["unit"] = json!("mm")),
            "model",
            "power",
        ),
        (
            with(&|b| {
                b["model"] = json!("V^2 / R0 / (alpha * (t - t0))");
                b["inputs"][3]["estimate"]["value"] = json!(20.0);
            }),
            "model",
            "not finite",
        ),
    ];
    for (body, field, text) in cases {
        let (status, problem) = app.post("/api/v1/uncertainty/evaluate", Some("auditor"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{body}: {problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["message"].as_str().unwrap().contains(text)),
            "expected {field} ({text}), got {problem}"
        );
    }
    // Not finite in some trials: the share is stated, never a 500 or a NaN.
    let body = json!({
        "measurand": {"name": "y", "unit": "1"},
        "model": "1 / x",
        "inputs": [{"name": "x", "estimate": {"value": 0.001, "unit": "1"}, "type": "B",
                    "distribution": "rectangular", "half_width": 1}],
        "method": "monte_carlo",
        "monte_carlo": {"trials": 10000, "seed": 1}
    });
    let (status, problem) = app.post("/api/v1/uncertainty/evaluate", Some("auditor"), &body);
    // 1/x is finite for every x ≠ 0: the rectangle includes 0 with probability zero, so this
    // is a valid (if wild) answer, never a NaN.
    assert!(
        status == Status::Ok || status == Status::UnprocessableEntity,
        "{problem}"
    );
    let body = json!({
        "measurand": {"name": "y", "unit": "1"},
        "model": "sqrt(x)",
        "inputs": [{"name": "x", "estimate": {"value": 0.5, "unit": "1"}, "type": "B",
                    "distribution": "rectangular", "half_width": 1}],
        "method": "monte_carlo",
        "monte_carlo": {"trials": 10000, "seed": 1}
    });
    let (status, problem) = app.post("/api/v1/uncertainty/evaluate", Some("auditor"), &body);
    assert_eq!(status, Status::UnprocessableEntity, "{problem}");
    assert_eq!(fields(&problem), vec!["model".to_string()]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("% of the Monte Carlo trials"),
        "{problem}"
    );
}

/// The certificate prints how U was obtained for a point with a model budget (issue 17):
/// the model with y, and each input's estimate, u(xᵢ), computed sensitivity and contribution.
#[test]
fn the_certificate_prints_a_model_budget_with_its_sensitivities() {
    let app = TestApp::new();
    let gauge = crate::common::fixtures::register(&app, "PG-1", "working");
    let standard = crate::common::fixtures::register(&app, "PB-1", "reference");
    let mut point = crate::common::fixtures::point(0.5003, 0.0002);
    point.as_object_mut().unwrap().remove("stated_uncertainty");
    point["budget"] = crate::common::fixtures::pressure_balance_budget();
    let body = crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![point]);
    let issued = crate::common::fixtures::issue(&app, &body);
    let number = issued["certificate_number"].as_str().unwrap();
    let pdf = app.bytes(
        &format!("/api/v1/certificates/{number}/pdf"),
        Some("inspector"),
    );
    let Some(text) = crate::common::pdf_text(&pdf) else {
        return;
    };
    let squashed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Uncertainty budgets / 测量不确定度评定",
        "y = p_ind - m * g_l / A0",
        "-0.100 MPa/kg",
        "98.0665",
        "Combined / 合成",
        "k = 4.53",
    ] {
        assert!(
            squashed.contains(expected),
            "{expected} missing: {squashed}"
        );
    }
}

/// DESIGN 9c (ISO/IEC 17025 7.5.1): a point's repeat readings are recorded, `indicated` is
/// their mean, and their repeatability joins a component budget as a Type A component, s/√n
/// with n − 1 degrees of freedom (GUM 4.2.2–4.2.3).
#[test]
fn repeat_readings_are_recorded_and_their_repeatability_joins_the_budget() {
    let app = TestApp::new();
    let gauge = crate::common::fixtures::register(&app, "PG-1", "working");
    let standard = crate::common::fixtures::register(&app, "REF-1", "reference");
    let mut point = crate::common::fixtures::point(0.5002, 0.0002);
    point.as_object_mut().unwrap().remove("stated_uncertainty");
    point["readings"] = json!([0.5001, 0.5003, 0.5002, 0.5002]);
    point["budget"] = json!({"components": [
        {"name": "reference standard", "type": "B", "distribution": "normal", "expanded_uncertainty": 0.0001, "coverage_factor": 2, "unit": "MPa", "standard": standard}]});
    let body =
        crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![point.clone()]);
    let (status, created) = app.post("/api/v1/calibrations", Some("technician"), &body);
    assert_eq!(status, Status::Created, "{created}");
    let p = &created["points"][0];
    assert_eq!(p["readings"], json!([0.5001, 0.5003, 0.5002, 0.5002]));
    let components = p["budget"]["components"].as_array().unwrap();
    assert_eq!(components.len(), 2);
    assert_eq!(
        components[1]["name"],
        "repeatability of the indication (4 readings)"
    );
    // s² = (1e-8 + 1e-8) / 3 MPa², s/√4 = 4.0825e-5 MPa, ν = 3.
    close(
        &components[1]["standard_uncertainty"]["value"],
        4.082483e-5,
        1e-6,
    );
    close(&components[1]["degrees_of_freedom"], 3.0, 1e-12);
    // u_c² = (4.0825e-5)² + (5e-5)² = 4.1667e-9 MPa²; ν_eff = u_c⁴ / (u_A⁴ / 3) = 18.75.
    close(
        &p["budget"]["combined_standard_uncertainty"]["value"],
        6.454972e-5,
        1e-6,
    );
    close(&p["budget"]["effective_degrees_of_freedom"], 18.75, 1e-6);

    for (readings, indicated, field) in [
        (json!([0.5002]), 0.5002, "points[0].readings"),
        (json!([0.5001, "x"]), 0.5002, "points[0].readings"),
        (
            json!([0.5001, 0.5003, 0.5002, 0.5002]),
            0.5004,
            "points[0].indicated",
        ),
    ] {
        let mut wrong = point.clone();
        wrong["readings"] = readings;
        wrong["indicated"]["value"] = json!(indicated);
        let body =
            crate::common::fixtures::calibration(gauge, &[standard], "2026-05-10", vec![wrong]);
        let (status, problem) = app.post("/api/v1/calibrations", Some("technician"), &body);
        assert_eq!(status, Status::UnprocessableEntity, "{problem}");
        let named = fields(&problem);
        assert!(
            named.iter().any(|f| f.starts_with(field)),
            "{field}: {problem}"
        );
    }
}
