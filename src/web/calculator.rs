//! The calculator page (DESIGN 5b, issue 17): a metrologist types a model and its inputs and
//! sees the GUM result (JCGM 100) and the Monte Carlo one (JCGM 101) side by side, with the
//! histogram and both coverage intervals drawn. The same engine as `POST
//! /api/v1/uncertainty/evaluate`; the form's rows become that request's `inputs`, so an error
//! names the same field (`inputs[2].half_width`, `model` with the character position).
//!
//! No JavaScript (the pages' CSP allows none inline): a form that posts to the page, a fixed
//! number of input rows, the answer rendered on the server.

use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::{get, post, routes, Route};
use rocket_dyn_templates::Template;
use serde::Serialize;
use serde_json::{json, Value};

use super::histogram::{histogram, Marked};
use super::{layout, PageError, Session};
use crate::domain::certificate::{fixed, percent, significant};
use crate::domain::model::{
    evaluate_model, CorrelationInput, EvaluateRequest, GumResult, ModelInput, ModelResult,
    MonteCarloOptions, MonteCarloResult,
};
use crate::domain::uncertainty::{Measurand, ValueUnit};
use crate::domain::FieldError;

/// Input rows on the form: enough for the models of GUM H.1 (eight inputs) and a pressure
/// balance with room to spare.
const ROWS: usize = 12;
/// Seeds drawn here are below 2⁵³, as the API's (a JavaScript client can send them back).
const SEED_MASK: u64 = (1 << 53) - 1;

/// How an input's uncertainty is stated, as the form's select offers it: (value, label).
const DISTRIBUTIONS: [(&str, &str); 8] = [
    ("exact", "exact constant"),
    ("normal_u", "normal: standard uncertainty u"),
    ("normal_k", "normal: expanded U with k"),
    ("rectangular", "rectangular: half-width a"),
    ("triangular", "triangular: half-width a"),
    ("u_shaped", "U-shaped (arcsine): half-width a"),
    ("type_a", "Type A: readings"),
    ("", "—"),
];

#[derive(Debug, Clone, Default, FromForm, Serialize)]
pub struct InputRow {
    #[field(default = String::new())]
    pub name: String,
    #[field(default = String::new())]
    pub estimate: String,
    #[field(default = String::new())]
    pub unit: String,
    #[field(default = String::new())]
    pub distribution: String,
    /// u, U or a, as `distribution` says.
    #[field(default = String::new())]
    pub value: String,
    #[field(default = String::new())]
    pub coverage_factor: String,
    #[field(default = String::new())]
    pub degrees_of_freedom: String,
    #[field(default = String::new())]
    pub readings: String,
}

#[derive(Debug, Clone, Default, FromForm, Serialize)]
pub struct CalculatorForm {
    #[field(default = String::new())]
    #[serde(skip)]
    pub csrf_token: String,
    #[field(default = String::new())]
    pub measurand: String,
    #[field(default = String::new())]
    pub unit: String,
    #[field(default = String::new())]
    pub model: String,
    pub inputs: Vec<InputRow>,
    /// One pair a line: `V t 0.3`.
    #[field(default = String::new())]
    pub correlations: String,
    #[field(default = String::new())]
    pub coverage_probability: String,
    #[field(default = String::new())]
    pub trials: String,
    #[field(default = String::new())]
    pub seed: String,
    #[field(default = String::new())]
    pub interval: String,
}

#[get("/calculator")]
async fn calculator(session: Result<Session, PageError>) -> Result<Template, PageError> {
    let session = session?;
    Ok(render(&session, &example(), Outcome::Blank))
}

/// The answer on the page; input the engine refuses is shown on the page with each field and
/// message, as a 422 (never a 500).
#[post("/calculator", data = "<form>")]
async fn calculate(
    session: Result<Session, PageError>,
    form: Form<CalculatorForm>,
) -> Result<(Status, Template), PageError> {
    let session = session?;
    session.check_csrf(&form.csrf_token)?;
    let form = form.into_inner();
    let outcome = match request_of(&form).and_then(with_seed) {
        Err(errors) => Outcome::Refused(errors),
        // Up to 10⁷ Monte Carlo trials: off the async workers, as the API does.
        Ok(request) => rocket::tokio::task::spawn_blocking(move || evaluate_model(&request, 0))
            .await
            .map_err(|e| PageError::Internal(format!("the model evaluation stopped: {e}")))?
            .map_or_else(Outcome::Refused, |m| Outcome::Answered(Box::new(m))),
    };
    let status = match outcome {
        Outcome::Refused(_) => Status::UnprocessableEntity,
        _ => Status::Ok,
    };
    Ok((status, render(&session, &form, outcome)))
}

pub fn routes() -> Vec<Route> {
    routes![calculator, calculate]
}

enum Outcome {
    Blank,
    Refused(Vec<FieldError>),
    Answered(Box<ModelResult>),
}

fn render(session: &Session, form: &CalculatorForm, outcome: Outcome) -> Template {
    let mut rows = form.inputs.clone();
    rows.resize(ROWS.max(rows.len()), <InputRow as Default>::default());
    let row_of = given_rows(form);
    let mut page = json!({
        "form": form,
        "rows": rows,
        "distributions": DISTRIBUTIONS.iter().map(|(v, l)| json!({"value": v, "label": l})).collect::<Vec<_>>(),
    });
    match outcome {
        Outcome::Blank => {}
        Outcome::Refused(errors) => page["errors"] = errors_shown(&errors, form, &row_of),
        Outcome::Answered(m) => page["result"] = result_shown(&m),
    }
    Template::render(
        "calculator",
        layout(Some(session), "Uncertainty calculator", "calculator", page),
    )
}

/// The form rows that hold an input (a name), in order: request input i is form row
/// `rows[i]`.
fn given_rows(form: &CalculatorForm) -> Vec<usize> {
    (0..form.inputs.len())
        .filter(|&r| !form.inputs[r].name.trim().is_empty())
        .collect()
}

/// Each error with its field as the API names it and, for an input's, the form row and the
/// input's name, so the metrologist finds it on the form.
fn errors_shown(errors: &[FieldError], form: &CalculatorForm, row_of: &[usize]) -> Value {
    let shown: Vec<Value> = errors
        .iter()
        .map(|e| {
            let row = input_index(&e.field).and_then(|i| row_of.get(i).copied());
            let place = row.map(|r| format!("row {}, {}", r + 1, form.inputs[r].name.trim()));
            json!({"field": e.field, "message": e.message, "place": place})
        })
        .collect();
    json!(shown)
}

/// `inputs[2].half_width` → 2.
fn input_index(field: &str) -> Option<usize> {
    let rest = field.strip_prefix("inputs[")?;
    rest[..rest.find(']')?].parse().ok()
}

// ---------------------------------------------------------------------------------------------
// The form as a request
// ---------------------------------------------------------------------------------------------

/// The request of DESIGN 5b that the form states, with method `both`; text that is not a
/// number is refused here, naming the field the API would name.
fn request_of(form: &CalculatorForm) -> Result<EvaluateRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let inputs: Vec<ModelInput> = given_rows(form)
        .iter()
        .enumerate()
        .map(|(i, &r)| input_of(&form.inputs[r], i, &mut errors))
        .collect();
    let correlations = correlations_of(&form.correlations, &mut errors);
    let coverage_probability = optional_number(
        &form.coverage_probability,
        "coverage_probability",
        &mut errors,
    );
    let trials = optional_number(&form.trials, "monte_carlo.trials", &mut errors);
    let seed = optional_number(&form.seed, "monte_carlo.seed", &mut errors);
    let whole = |x: Option<f64>, field: &str, errors: &mut Vec<FieldError>| match x {
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(64) => Some(v as u64),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a whole number"));
            None
        }
        None => None,
    };
    let trials = whole(trials, "monte_carlo.trials", &mut errors);
    let seed = whole(seed, "monte_carlo.seed", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(EvaluateRequest {
        measurand: Measurand {
            name: form.measurand.trim().into(),
            unit: form.unit.trim().into(),
        },
        coverage_probability,
        components: None,
        model: Some(form.model.trim().to_string()),
        inputs: Some(inputs),
        correlations: (!correlations.is_empty()).then_some(correlations),
        method: Some("both".into()),
        monte_carlo: Some(MonteCarloOptions {
            trials,
            adaptive: None,
            seed,
            interval: Some(form.interval.trim().to_string()).filter(|s| !s.is_empty()),
        }),
    })
}

/// A seed drawn for a request without one (the answer states it).
fn with_seed(mut request: EvaluateRequest) -> Result<EvaluateRequest, Vec<FieldError>> {
    let options = request
        .monte_carlo
        .as_mut()
        .expect("the form asks for Monte Carlo");
    if options.seed.is_none() {
        let drawn = getrandom::u64().map_err(|e| {
            vec![FieldError::new(
                "monte_carlo.seed",
                format!("no randomness for a seed: {e}; give one"),
            )]
        })?;
        options.seed = Some(drawn & SEED_MASK);
    }
    Ok(request)
}

/// One form row as model input `i`.
fn input_of(row: &InputRow, i: usize, errors: &mut Vec<FieldError>) -> ModelInput {
    let field = |name: &str| format!("inputs[{i}].{name}");
    let mut number = |text: &str, name: &str| optional_number(text, &field(name), errors);
    let estimate = number(&row.estimate, "estimate.value").map(|value| ValueUnit {
        value,
        unit: row.unit.trim().into(),
    });
    let value_field = match row.distribution.as_str() {
        "normal_u" => "standard_uncertainty",
        "normal_k" => "expanded_uncertainty",
        _ => "half_width",
    };
    let value = number(&row.value, value_field);
    let coverage_factor = number(&row.coverage_factor, "coverage_factor");
    let degrees_of_freedom = number(&row.degrees_of_freedom, "degrees_of_freedom");
    let mut input = ModelInput {
        name: row.name.trim().to_string(),
        estimate,
        degrees_of_freedom,
        ..ModelInput::default()
    };
    let b = |distribution: &str| (Some("B".to_string()), Some(distribution.to_string()));
    match row.distribution.as_str() {
        "normal_u" => {
            (input.kind, input.distribution) = b("normal");
            input.standard_uncertainty = value;
        }
        "normal_k" => {
            (input.kind, input.distribution) = b("normal");
            input.expanded_uncertainty = value;
            input.coverage_factor = coverage_factor;
        }
        shape @ ("rectangular" | "triangular" | "u_shaped") => {
            (input.kind, input.distribution) = b(shape);
            input.half_width = value;
        }
        "type_a" => {
            input.kind = Some("A".into());
            input.unit = Some(row.unit.trim().to_string());
            input.readings = Some(readings_of(&row.readings, &field("readings"), errors));
        }
        _ => {}
    }
    input
}

/// Readings separated by spaces, commas or semicolons.
fn readings_of(text: &str, field: &str, errors: &mut Vec<FieldError>) -> Vec<f64> {
    let mut readings = Vec::new();
    for (j, word) in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        match word.parse::<f64>() {
            Ok(x) => readings.push(x),
            Err(_) => errors.push(FieldError::new(
                format!("{field}[{j}]"),
                format!("'{word}' is not a number"),
            )),
        }
    }
    readings
}

/// Lines `V t 0.3`: two input names and the correlation coefficient.
fn correlations_of(text: &str, errors: &mut Vec<FieldError>) -> Vec<CorrelationInput> {
    let mut pairs = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let j = pairs.len();
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            [a, b, r] => match r.parse::<f64>() {
                Ok(coefficient) => pairs.push(CorrelationInput {
                    inputs: vec![a.to_string(), b.to_string()],
                    coefficient,
                }),
                Err(_) => errors.push(FieldError::new(
                    format!("correlations[{j}].coefficient"),
                    format!("'{r}' is not a number"),
                )),
            },
            _ => {
                errors.push(FieldError::new(
                    format!("correlations[{j}]"),
                    format!("'{line}': write two input names and a coefficient, e.g. V t 0.3"),
                ));
                pairs.push(CorrelationInput {
                    inputs: Vec::new(),
                    coefficient: 0.0,
                });
            }
        }
    }
    pairs
}

/// Empty is absent; anything else must be a number.
fn optional_number(text: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<f64>() {
        Ok(x) => Some(x),
        Err(_) => {
            errors.push(FieldError::new(field, format!("'{text}' is not a number")));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The answer as the page shows it
// ---------------------------------------------------------------------------------------------

fn result_shown(m: &ModelResult) -> Value {
    let unit = &m.measurand.unit;
    let mc = m.monte_carlo.as_ref().expect("method both");
    let gum = m.gum.as_ref();
    let gum_marked = gum.map(|g| Marked {
        low: g.estimate.value - g.expanded_uncertainty.value,
        high: g.estimate.value + g.expanded_uncertainty.value,
        estimate: g.estimate.value,
    });
    let mc_marked = Marked {
        low: mc.coverage_interval.low,
        high: mc.coverage_interval.high,
        estimate: mc.estimate.value,
    };
    let p = mc.coverage_interval.probability;
    json!({
        "model": m.model,
        "unit": unit,
        "percent": percent(p),
        "gum": gum.map(gum_shown),
        "monte_carlo": monte_carlo_shown(mc),
        "histogram": histogram(&mc.histogram, unit, p, mc_marked, gum_marked),
    })
}

/// To the decimal place where u has three significant digits (enough to compare the two
/// methods at JCGM 101 8.2's tolerance, which works to two).
fn to_u(x: f64, u: f64) -> String {
    let decimals = if u > 0.0 && u.is_finite() {
        (2 - u.log10().floor() as i32).max(0) as usize
    } else {
        6
    };
    fixed(x, decimals)
}

/// An estimate as typed: nine significant digits, no trailing zeros (1.0 V is "1 V").
fn as_recorded(x: f64) -> String {
    let text = significant(x, 9);
    if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn gum_shown(g: &GumResult) -> Value {
    let u = g.combined_standard_uncertainty.value;
    let (y, big_u) = (g.estimate.value, g.expanded_uncertainty.value);
    let components: Vec<Value> = g
        .components
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "estimate": format!("{} {}", as_recorded(c.estimate.value), c.estimate.unit),
                "standard_uncertainty": format!("{} {}", significant(c.standard_uncertainty.value, 3), c.standard_uncertainty.unit),
                "sensitivity": format!("{} {}", significant(c.sensitivity.value, 4), c.sensitivity.unit),
                "contribution": significant(c.contribution.value, 3),
                "degrees_of_freedom": c.degrees_of_freedom.map_or("∞".into(), |nu| format!("{nu:.1}")),
                "percent_of_variance": format!("{:.1}", c.percent_of_variance),
            })
        })
        .collect();
    json!({
        "estimate": to_u(y, u),
        "standard_uncertainty": significant(u, 3),
        "effective_degrees_of_freedom": g.effective_degrees_of_freedom.map_or("∞".into(), |nu| format!("{nu:.2}")),
        "coverage_factor": format!("{:.3}", g.coverage_factor),
        "expanded_uncertainty": significant(big_u, 3),
        "low": to_u(y - big_u, u),
        "high": to_u(y + big_u, u),
        "components": components,
    })
}

fn monte_carlo_shown(mc: &MonteCarloResult) -> Value {
    let u = mc.standard_uncertainty.value;
    let validation = mc.gum_validation.as_ref().map(|v| {
        json!({
            "tolerance": significant(v.tolerance, 2),
            "d_low": significant(v.d_low, 2),
            "d_high": significant(v.d_high, 2),
            "passed": v.passed,
        })
    });
    json!({
        "trials": mc.trials,
        "seed": mc.seed,
        "estimate": to_u(mc.estimate.value, u),
        "standard_uncertainty": significant(u, 3),
        "low": to_u(mc.coverage_interval.low, u),
        "high": to_u(mc.coverage_interval.high, u),
        "kind": mc.coverage_interval.kind,
        "validation": validation,
    })
}

/// The form as first shown: DESIGN 5b's example (a power V²/R with a temperature
/// correction, a Type A input, a correlation), so the page shows what it does.
fn example() -> CalculatorForm {
    let row = |name: &str, estimate: &str, unit: &str, distribution: &str, value: &str| InputRow {
        name: name.into(),
        estimate: estimate.into(),
        unit: unit.into(),
        distribution: distribution.into(),
        value: value.into(),
        ..<InputRow as Default>::default()
    };
    CalculatorForm {
        measurand: "Power dissipated".into(),
        unit: "mW".into(),
        model: "V^2 / R0 / (1 + alpha * (t - t0))".into(),
        inputs: vec![
            row("V", "1.0", "V", "normal_u", "0.002"),
            InputRow {
                readings: "100.02 99.98 100.01 100.00 99.99".into(),
                ..row("R0", "", "ohm", "type_a", "")
            },
            row("alpha", "0.0039", "1/K", "rectangular", "0.0001"),
            InputRow {
                coverage_factor: "2".into(),
                ..row("t", "23.0", "degC", "normal_k", "0.2")
            },
            row("t0", "20", "degC", "exact", ""),
        ],
        correlations: "V t 0.3".into(),
        coverage_probability: "0.9545".into(),
        trials: "1000000".into(),
        seed: String::new(),
        interval: "symmetric".into(),
        csrf_token: String::new(),
    }
}
