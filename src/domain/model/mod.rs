//! Measurement models Y = f(X₁…X_N), correlated inputs and the Monte Carlo method
//! (GUM 5.1–5.2, JCGM 101:2008). Contract: DESIGN.md section 5b. Pure: no I/O (the seed drawn
//! for a request without one is handed in by the caller).
//!
//! - [`parser`]: the model language, with the character position in every error;
//! - [`compile`]: units checked through the expression (the dimension algebra of
//!   `quantity.rs`, the affine-temperature rule) and a flat program, evaluated with dual numbers
//!   for exact first derivatives and in blocks for Monte Carlo;
//! - [`monte_carlo`]: JCGM 101 sampling, fixed or adaptive trials, intervals, histogram.
//!
//! The GUM result (5.1.2, 5.2.2): u_c² = Σ c_i²u_i² + 2 Σ_{i<j} c_i c_j r_ij u_i u_j with c_i the
//! exact partial derivatives at the estimates; ν_eff by Welch–Satterthwaite with only the
//! finite-ν contributions below (correlated inputs must have infinite ν); k and U as section 5.

pub mod compile;
pub mod monte_carlo;
pub mod parser;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::Text;
use super::uncertainty::{
    self, coverage_factor, parse_scale, BudgetRequest, BudgetResult, ComponentInput, Measurand,
    PooledInput, Scale, UncertaintyFields, ValueUnit, DEFAULT_COVERAGE_PROBABILITY,
};
use super::FieldError;
use compile::{InputScale, Program};
use monte_carlo::{Draw, Group, IntervalKind, Setup, Trials};

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

/// `POST /api/v1/uncertainty/evaluate`: either section 5's `components`, or section 5b's
/// `model` with `inputs` (and optionally `correlations`, `method`, `monte_carlo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    pub measurand: Measurand,
    /// In (0, 1); default 0.9545.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 0.9545)]
    pub coverage_probability: Option<f64>,
    /// A component budget (section 5); not with `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentInput>>,
    /// A measurement model (section 5b), e.g. `V^2 / R0 / (1 + alpha * (t - t0))`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "V^2 / R0 / (1 + alpha * (t - t0))")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<ModelInput>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<Vec<CorrelationInput>>,
    /// `gum` (default), `monte_carlo` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "both")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monte_carlo: Option<MonteCarloOptions>,
}

/// One input quantity X_i of a model: its estimate and, unless it is an exact constant, its
/// uncertainty with the fields of a component (section 5), in the estimate's unit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelInput {
    /// The name used in the model (`[A-Za-z_][A-Za-z0-9_]*`).
    #[schema(example = "V")]
    pub name: String,
    /// Required except for Type A (the mean of the readings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<ValueUnit>,
    /// "A" or "B"; absent for an exact constant.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Unit of the readings (Type A without `estimate`); otherwise the estimate's unit applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled: Option<PooledInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expanded_uncertainty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_uncertainty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrees_of_freedom: Option<f64>,
    /// Not allowed: sensitivities are computed from the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub sensitivity: Option<serde_json::Value>,
}

/// r(X_a, X_b) of two distinct inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelationInput {
    #[schema(example = json!(["V", "t"]))]
    pub inputs: Vec<String>,
    /// In [−1, 1].
    #[schema(example = 0.3)]
    pub coefficient: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonteCarloOptions {
    /// 10 000 … 10 000 000; default 1 000 000. Not with `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 1000000)]
    pub trials: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveOptions>,
    /// The same request with the same seed gives identical numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 7)]
    pub seed: Option<u64>,
    /// `symmetric` (default) or `shortest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "symmetric")]
    pub interval: Option<String>,
}

/// JCGM 101 7.9.4: trials in batches until the results are stable to this many digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveOptions {
    /// 1 or 2.
    #[schema(example = 2)]
    pub significant_digits: u8,
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

/// The answer of the calculator: section 5's for components, section 5b's for a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EvaluateResult {
    Model(Box<ModelResult>),
    Budget(Box<BudgetResult>),
}

/// anyOf, not oneOf: a model's GUM answer carries every field of a component budget's too, and
/// its GUM fields are present or absent together (`method`).
impl utoipa::PartialSchema for EvaluateResult {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(
                AllOfBuilder::new()
                    .item(Ref::from_schema_name("ModelResult"))
                    .item(Ref::from_schema_name("GumResult"))
                    .description(Some("a model evaluated by method gum or both")),
            )
            .item(Ref::from_schema_name("ModelResult"))
            .item(Ref::from_schema_name("BudgetResult"))
            .description(Some(
                "section 5's result for components; for a model, ModelResult with GumResult's fields (methods gum and both) and/or monte_carlo",
            ))
            .into()
    }
}

impl utoipa::ToSchema for EvaluateResult {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("ModelResult".into(), ModelResult::schema()));
        <ModelResult as ToSchema>::schemas(schemas);
        schemas.push(("GumResult".into(), GumResult::schema()));
        <GumResult as ToSchema>::schemas(schemas);
        schemas.push(("BudgetResult".into(), BudgetResult::schema()));
        <BudgetResult as ToSchema>::schemas(schemas);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelResult {
    pub measurand: Measurand,
    pub model: String,
    /// `gum`, `monte_carlo` or `both`.
    #[schema(value_type = String)]
    pub method: Text,
    /// The GUM result (methods `gum` and `both`), its fields at this level; in the OpenAPI
    /// document as `EvaluateResult`'s ModelResult with GumResult.
    #[serde(flatten)]
    #[schema(ignore)]
    pub gum: Option<GumResult>,
    /// Methods `monte_carlo` and `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monte_carlo: Option<MonteCarloResult>,
}

/// Section 5's result plus the estimate y = f(x̂).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GumResult {
    pub estimate: ValueUnit,
    pub combined_standard_uncertainty: ValueUnit,
    /// null when infinite.
    pub effective_degrees_of_freedom: Option<f64>,
    pub coverage_factor: f64,
    pub coverage_probability: f64,
    pub expanded_uncertainty: ValueUnit,
    /// One per input that carries an uncertainty, in request order.
    pub components: Vec<ModelComponentResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelComponentResult {
    #[schema(value_type = String)]
    pub name: Text,
    pub estimate: ValueUnit,
    /// In the input's unit.
    pub standard_uncertainty: ValueUnit,
    /// ∂f/∂X_i at the estimates, in measurand unit per input unit.
    pub sensitivity: ValueUnit,
    /// |c_i|·u_i in the measurand's unit.
    pub contribution: ValueUnit,
    /// null when infinite.
    pub degrees_of_freedom: Option<f64>,
    /// c_i²u_i²/u_c² × 100 (need not sum to 100 with correlations).
    pub percent_of_variance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonteCarloResult {
    pub trials: u64,
    pub seed: u64,
    /// Fixed trials: true. Adaptive: whether JCGM 101 7.9.4's criterion held within 10⁷ trials.
    pub converged: bool,
    pub estimate: ValueUnit,
    pub standard_uncertainty: ValueUnit,
    pub coverage_interval: CoverageInterval,
    pub histogram: Histogram,
    /// JCGM 101 8.2 (method `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gum_validation: Option<GumValidation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CoverageInterval {
    pub low: f64,
    pub high: f64,
    pub unit: String,
    pub probability: f64,
    /// `symmetric` or `shortest`.
    pub kind: String,
}

/// `counts[i]` model values in [edges[i], edges[i+1]); every trial is counted. Equal bins,
/// except that with long tails the first and last bin reach out to the extreme values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GumValidation {
    /// δ of JCGM 101 7.9.2 from u_c.
    pub tolerance: f64,
    /// |y − U − y_low|
    pub d_low: f64,
    /// |y + U − y_high|
    pub d_high: f64,
    pub passed: bool,
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

/// Evaluates a request of either form. `drawn_seed` is used when a Monte Carlo request has no
/// seed of its own (the answer states it).
pub fn evaluate_request(
    request: &EvaluateRequest,
    drawn_seed: u64,
) -> Result<EvaluateResult, Vec<FieldError>> {
    match (&request.components, &request.model) {
        (Some(_), Some(_)) => Err(vec![FieldError::new(
            "model",
            "give either components or a model with inputs, not both",
        )]),
        (None, None) => Err(vec![FieldError::new(
            "components",
            "give components (a component budget) or a model with inputs",
        )]),
        (Some(components), None) => {
            let mut errors = Vec::new();
            for (field, present) in [
                ("inputs", request.inputs.is_some()),
                ("correlations", request.correlations.is_some()),
                ("method", request.method.is_some()),
                ("monte_carlo", request.monte_carlo.is_some()),
            ] {
                if present {
                    errors.push(FieldError::new(
                        field,
                        "only with a model: a component budget is evaluated by the GUM method with uncorrelated components",
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            let budget = BudgetRequest {
                measurand: request.measurand.clone(),
                coverage_probability: request.coverage_probability,
                components: components.clone(),
            };
            uncertainty::evaluate(&budget).map(|b| EvaluateResult::Budget(Box::new(b)))
        }
        (None, Some(_)) => {
            evaluate_model(request, drawn_seed).map(|m| EvaluateResult::Model(Box::new(m)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A calibration point's model budget
// ---------------------------------------------------------------------------------------------

/// A calibration point's budget given as a model (DESIGN 5b: "A calibration point's `budget`
/// may use either form"), evaluated by the GUM method: the point's U and k are the model's.
/// The answer has section 5's shape, so certificates, pages and impact analysis read it as any
/// budget, plus the model, y = f(x̂) and each input's estimate beside its computed sensitivity.
/// Errors name fields inside the budget (`model`, `inputs[1].half_width`).
pub fn evaluate_model_budget(
    measurand: Measurand,
    coverage_probability: Option<f64>,
    model: &str,
    inputs: &[ModelInput],
    correlations: Option<&[CorrelationInput]>,
) -> Result<BudgetResult, Vec<FieldError>> {
    let request = EvaluateRequest {
        measurand,
        coverage_probability,
        components: None,
        model: Some(model.to_string()),
        inputs: Some(inputs.to_vec()),
        correlations: correlations.map(<[CorrelationInput]>::to_vec),
        method: None,
        monte_carlo: None,
    };
    let result = evaluate_model(&request, 0)?;
    let gum = result.gum.expect("the GUM method gives a GUM result");
    Ok(gum.into_budget(result.measurand, result.model))
}

impl GumResult {
    /// Section 5's result of this GUM evaluation of `model`.
    pub fn into_budget(self, measurand: Measurand, model: String) -> BudgetResult {
        let components = self
            .components
            .into_iter()
            .map(|c| uncertainty::ComponentResult {
                name: c.name,
                standard_uncertainty: c.standard_uncertainty,
                sensitivity: c.sensitivity,
                contribution: c.contribution,
                degrees_of_freedom: c.degrees_of_freedom,
                percent_of_variance: c.percent_of_variance,
                standard: None,
                estimate: Some(c.estimate),
            })
            .collect();
        BudgetResult {
            measurand,
            combined_standard_uncertainty: self.combined_standard_uncertainty,
            effective_degrees_of_freedom: self.effective_degrees_of_freedom,
            coverage_factor: self.coverage_factor,
            coverage_probability: self.coverage_probability,
            expanded_uncertainty: self.expanded_uncertainty,
            components,
            model: Some(model),
            estimate: Some(self.estimate),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Model evaluation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Gum,
    MonteCarlo,
    Both,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Gum => "gum",
            Method::MonteCarlo => "monte_carlo",
            Method::Both => "both",
        }
    }
}

/// How an input's uncertainty was stated: what Monte Carlo draws from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Normal,
    Rectangular,
    Triangular,
    UShaped,
    TypeA,
}

/// A checked input, borrowing its name and unit from the request: every model evaluated
/// checks its inputs, and copies are made only for the answer.
#[derive(Debug, Clone)]
struct Input<'r> {
    name: &'r str,
    unit: &'r str,
    scale: InputScale,
    estimate: f64,
    /// None: an exact constant.
    uncertainty: Option<(f64, Option<f64>, Shape)>,
}

fn input_field(i: usize, field: &str) -> String {
    format!("inputs[{i}].{field}")
}

const RESERVED_HINT: &str = "pi and the function names are reserved";

fn check_input<'r>(
    i: usize,
    input: &'r ModelInput,
    errors: &mut Vec<FieldError>,
) -> Option<Input<'r>> {
    let before = errors.len();
    check_input_name(i, input, errors);
    if input.sensitivity.is_some() {
        errors.push(FieldError::new(
            input_field(i, "sensitivity"),
            "not allowed on a model input: sensitivities are the partial derivatives of the model, computed at the estimates",
        ));
    }
    let (unit, scale) = input_unit(i, input, errors);
    if let Some(e) = &input.estimate {
        if !e.value.is_finite() {
            errors.push(FieldError::new(
                input_field(i, "estimate.value"),
                "must be a finite number",
            ));
        }
    }
    let uncertainty = input_uncertainty(i, input, errors);
    let estimate = match (&input.estimate, input.kind.as_deref(), &input.readings) {
        (Some(e), _, _) => Some(e.value),
        (None, Some("A"), Some(readings)) if !readings.is_empty() => {
            let n = readings.len() as f64;
            Some(readings.iter().map(|r| r / n).sum::<f64>())
        }
        _ => None,
    };
    if errors.len() > before {
        return None;
    }
    let estimate = estimate?;
    if !estimate.is_finite() {
        errors.push(FieldError::new(
            input_field(i, "readings"),
            "the mean of the readings is not finite",
        ));
        return None;
    }
    Some(Input {
        name: &input.name,
        unit,
        scale: scale?,
        estimate,
        uncertainty,
    })
}

fn check_input_name(i: usize, input: &ModelInput, errors: &mut Vec<FieldError>) {
    let message = if !parser::is_valid_name(&input.name) {
        format!(
            "{:?} is not a model name: a letter or '_', then letters, digits or '_'",
            input.name
        )
    } else if parser::is_reserved(&input.name) {
        format!("'{}' is reserved ({RESERVED_HINT})", input.name)
    } else {
        return;
    };
    errors.push(FieldError::new(input_field(i, "name"), message));
}

/// The input's unit (the estimate's, or `unit` for readings without an
/// estimate) and its scale to SI; the scale is None when the unit is unknown.
fn input_unit<'r>(
    i: usize,
    input: &'r ModelInput,
    errors: &mut Vec<FieldError>,
) -> (&'r str, Option<InputScale>) {
    let mut push =
        |field: &str, message: String| errors.push(FieldError::new(input_field(i, field), message));
    let (unit, unit_field) = match (&input.estimate, &input.unit) {
        (Some(e), Some(u)) if e.unit != *u => {
            push(
                "unit",
                format!(
                    "differs from the estimate's unit '{}': uncertainties are stated in the estimate's unit; give it once",
                    e.unit
                ),
            );
            (e.unit.as_str(), "estimate.unit")
        }
        (Some(e), _) => (e.unit.as_str(), "estimate.unit"),
        (None, Some(u)) => (u.as_str(), "unit"),
        (None, None) => {
            let what = if input.kind.as_deref() == Some("A") {
                "unit"
            } else {
                "estimate"
            };
            push(
                what,
                "required: the estimate {value, unit} (a Type A input may give unit and readings instead)".to_string(),
            );
            return ("", None);
        }
    };
    match parse_scale(unit) {
        Ok(u) => {
            let scale = InputScale {
                dimension: u.dimension,
                factor: u.factor,
                offset: u.offset,
            };
            (unit, Some(scale))
        }
        Err(e) => {
            push(unit_field, e);
            (unit, None)
        }
    }
}

/// The input's standard uncertainty, degrees of freedom and distribution, by
/// the rules of a budget component (Type A readings or a Type B distribution).
fn input_uncertainty(
    i: usize,
    input: &ModelInput,
    errors: &mut Vec<FieldError>,
) -> Option<(f64, Option<f64>, Shape)> {
    let mut push =
        |field: &str, message: String| errors.push(FieldError::new(input_field(i, field), message));
    let has_uncertainty_fields = input.readings.is_some()
        || input.pooled.is_some()
        || input.distribution.is_some()
        || input.half_width.is_some()
        || input.expanded_uncertainty.is_some()
        || input.coverage_factor.is_some()
        || input.standard_uncertainty.is_some()
        || input.degrees_of_freedom.is_some();
    let kind = match input.kind.as_deref() {
        None if has_uncertainty_fields => {
            push(
                "type",
                "required with uncertainty fields: \"A\" (readings) or \"B\" (a distribution)"
                    .to_string(),
            );
            return None;
        }
        None => return None,
        Some(kind @ ("A" | "B")) => kind,
        Some(other) => {
            push("type", format!("must be \"A\" or \"B\", not {other:?}"));
            return None;
        }
    };
    let fields = UncertaintyFields {
        readings: input.readings.as_deref(),
        pooled: input.pooled.as_ref(),
        distribution: input.distribution.as_deref(),
        half_width: input.half_width,
        expanded_uncertainty: input.expanded_uncertainty,
        coverage_factor: input.coverage_factor,
        standard_uncertainty: input.standard_uncertainty,
        degrees_of_freedom: input.degrees_of_freedom,
    };
    match uncertainty::input_standard_uncertainty(kind, &fields) {
        Ok((u, nu)) => {
            let shape = match (kind, input.distribution.as_deref()) {
                ("A", _) => Shape::TypeA,
                (_, Some("rectangular")) => Shape::Rectangular,
                (_, Some("triangular")) => Shape::Triangular,
                (_, Some("u_shaped")) => Shape::UShaped,
                _ => Shape::Normal,
            };
            Some((u, nu, shape))
        }
        Err(found) => {
            for e in found {
                push(&e.field, e.message);
            }
            None
        }
    }
}

/// `measurand/input` as a unit symbol that `parse_unit` reads back.
fn quotient_symbol(numerator: &str, denominator: &str) -> Text {
    let den = denominator.trim();
    if den == "1" {
        return numerator.into();
    }
    let compound = |s: &str| {
        s.contains(['/', '*', '·', '⋅', ' ', '^']) || s.chars().any(|c| "⁻¹²³⁴⁵⁶⁷⁸⁹".contains(c))
    };
    let den = if compound(den) {
        format!("({den})")
    } else {
        den.to_string()
    };
    if numerator.trim() == "1" {
        format!("1/{den}").into()
    } else {
        format!("{numerator}/{den}").into()
    }
}

/// Eigenvalues and eigenvectors (columns of `vectors`, row-major n×n) of a symmetric matrix,
/// by cyclic Jacobi rotations: small, exact to rounding, and needs nothing but the matrix.
fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The correlated inputs, and the eigenvalues and eigenvectors of their correlation matrix.
type Structure = (Vec<usize>, Vec<f64>, Vec<f64>);

/// The checked correlations: (i, j, r) with i ≠ j input indices, r ≠ 0.
type Correlations = Vec<(usize, usize, f64)>;

fn check_correlations(
    request: &[CorrelationInput],
    inputs: &[Option<Input>],
    names: &[&str],
    method: Method,
    errors: &mut Vec<FieldError>,
) -> Correlations {
    let mut out: Correlations = Vec::new();
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for (k, c) in request.iter().enumerate() {
        let field = |f: &str| format!("correlations[{k}].{f}");
        if !(c.coefficient.is_finite() && (-1.0..=1.0).contains(&c.coefficient)) {
            errors.push(FieldError::new(
                field("coefficient"),
                "must be a number in [-1, 1]",
            ));
        }
        let Some(pair) = correlated_pair(&c.inputs, names, &field, errors) else {
            continue;
        };
        let key = (pair[0].min(pair[1]), pair[0].max(pair[1]));
        if seen.contains(&key) {
            errors.push(FieldError::new(
                field("inputs"),
                format!(
                    "the pair {} and {} is already correlated above",
                    names[key.0], names[key.1]
                ),
            ));
            continue;
        }
        seen.push(key);
        let mut ok = true;
        for (j, &i) in pair.iter().enumerate() {
            let Some(input) = &inputs[i] else {
                ok = false;
                continue;
            };
            if let Some(why) = why_not_correlatable(input, method) {
                errors.push(FieldError::new(
                    field(&format!("inputs[{j}]")),
                    format!("{} {why}", names[i]),
                ));
                ok = false;
            }
        }
        if ok && c.coefficient.is_finite() && c.coefficient != 0.0 && c.coefficient.abs() <= 1.0 {
            out.push((key.0, key.1, c.coefficient));
        }
    }
    out
}

/// The two distinct inputs a correlation names, as indices; None (with the errors) otherwise.
fn correlated_pair(
    pair_names: &[String],
    names: &[&str],
    field: &impl Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
) -> Option<[usize; 2]> {
    if pair_names.len() != 2 {
        errors.push(FieldError::new(
            field("inputs"),
            format!("must name two inputs (got {})", pair_names.len()),
        ));
        return None;
    }
    let mut pair = [usize::MAX; 2];
    let mut ok = true;
    for (j, name) in pair_names.iter().enumerate() {
        match names.iter().position(|n| parser::same_name(n, name)) {
            None => {
                errors.push(FieldError::new(
                    field(&format!("inputs[{j}]")),
                    format!("'{name}' is not an input"),
                ));
                ok = false;
            }
            Some(i) => pair[j] = i,
        }
    }
    if !ok {
        return None;
    }
    if pair[0] == pair[1] {
        errors.push(FieldError::new(
            field("inputs"),
            "a correlation is between two distinct inputs",
        ));
        return None;
    }
    Some(pair)
}

/// Why `input` may not be correlated, after its name: GUM's ν_eff (Welch–Satterthwaite, G.4)
/// holds only for independent inputs, so a correlated one must have infinite ν; and
/// JCGM 101 6.4.8 samples correlated inputs from a multivariate Gaussian only.
fn why_not_correlatable(input: &Input, method: Method) -> Option<String> {
    match input.uncertainty {
        None => Some(
            "is an exact constant: only inputs with an uncertainty can be correlated".to_string(),
        ),
        Some((_, Some(nu), _)) => Some(format!(
            "has {nu} degrees of freedom: correlated inputs must have infinite degrees of freedom (GUM gives no ν_eff for them)"
        )),
        Some((_, None, shape)) if shape != Shape::Normal && method != Method::Gum => Some(
            "is not normal: for Monte Carlo correlated inputs must be Gaussian (JCGM 101 6.4.8)"
                .to_string(),
        ),
        _ => None,
    }
}

/// The correlated inputs (sorted) and the eigen-decomposition of their correlation matrix;
/// Err(smallest eigenvalue) when it is not positive semi-definite.
fn correlation_structure(
    correlations: &Correlations,
    names: &[&str],
) -> Result<Option<Structure>, f64> {
    if correlations.is_empty() {
        return Ok(None);
    }
    let mut members: Vec<usize> = correlations.iter().flat_map(|&(i, j, _)| [i, j]).collect();
    // By name, so that the order the inputs are listed in changes nothing.
    members.sort_unstable_by_key(|&i| names[i]);
    members.dedup();
    let m = members.len();
    let mut r = vec![0.0; m * m];
    for k in 0..m {
        r[k * m + k] = 1.0;
    }
    for &(i, j, c) in correlations {
        let a = members.iter().position(|&k| k == i).expect("member");
        let b = members.iter().position(|&k| k == j).expect("member");
        r[a * m + b] = c;
        r[b * m + a] = c;
    }
    let (values, vectors) = symmetric_eigen(r, m);
    let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
    if smallest < -eigenvalue_tolerance(m) {
        return Err(smallest);
    }
    Ok(Some((members, values, vectors)))
}

/// The tolerance below zero that an eigenvalue of an m×m correlation matrix may have: rounding.
fn eigenvalue_tolerance(m: usize) -> f64 {
    1e-10 * m as f64
}

thread_local! {
    /// This thread's last Cholesky buffers (member slot of each input, the matrix), kept for the
    /// next model: most models with correlations are checked here, on every evaluation.
    static CHOLESKY: std::cell::Cell<(Vec<usize>, Vec<f64>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// Whether R + εI has a Cholesky factor (every pivot positive), R the correlation matrix of the
/// correlated inputs and ε [`eigenvalue_tolerance`]: then every eigenvalue of R is above −ε, as
/// the eigen-decomposition's check asks, at a fraction of its cost (one elimination instead of
/// sweeps of rotations) and without its vectors. False does not say R fails: the caller then
/// decides by the eigenvalues, so a refused matrix is refused, and named, as before.
fn passes_cholesky(correlations: &Correlations, inputs: usize) -> bool {
    let (mut slot, mut a) = CHOLESKY.take();
    slot.clear();
    slot.resize(inputs, usize::MAX);
    let mut m = 0;
    for &(i, j, _) in correlations {
        for k in [i, j] {
            if slot[k] == usize::MAX {
                slot[k] = m;
                m += 1;
            }
        }
    }
    a.clear();
    a.resize(m * m, 0.0);
    for k in 0..m {
        a[k * m + k] = 1.0 + eigenvalue_tolerance(m);
    }
    for &(i, j, r) in correlations {
        a[slot[i] * m + slot[j]] = r;
        a[slot[j] * m + slot[i]] = r;
    }
    let passed = cholesky_in_place(&mut a, m);
    CHOLESKY.set((slot, a));
    passed
}

/// Overwrites the lower triangle of the symmetric m×m `a` (row-major) with L, A = LLᵀ; false at
/// the first pivot that is not positive.
fn cholesky_in_place(a: &mut [f64], m: usize) -> bool {
    for j in 0..m {
        let d = a[j * m + j] - (0..j).map(|k| a[j * m + k] * a[j * m + k]).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let s = a[i * m + j] - (0..j).map(|k| a[i * m + k] * a[j * m + k]).sum::<f64>();
            a[i * m + j] = s / d;
        }
    }
    true
}

/// How a Monte Carlo run is asked for: trials (fixed or adaptive), the
/// interval, the seed and the coverage probability.
#[derive(Debug, Clone, Copy)]
struct MonteCarloPlan {
    trials: Trials,
    interval: IntervalKind,
    seed: u64,
    p: f64,
}

/// Evaluates a model request (DESIGN 5b); every problem found is reported with its JSON path.
pub fn evaluate_model(
    request: &EvaluateRequest,
    drawn_seed: u64,
) -> Result<ModelResult, Vec<FieldError>> {
    let checked = checked_request(request, drawn_seed)?;
    let unit = request.measurand.unit.as_str();
    let method = checked.method;
    let gum = match method {
        Method::MonteCarlo => None,
        _ => {
            let numbers = gum_numbers(&checked)?;
            Some(gum_result(&numbers, &checked.inputs, unit))
        }
    };
    let monte_carlo = match method {
        Method::Gum => None,
        _ => {
            let setup = monte_carlo_setup(checked.program, &checked.inputs, checked.structure);
            let validated = gum.as_ref().filter(|_| method == Method::Both);
            Some(monte_carlo_result(&setup, checked.plan, validated, unit)?)
        }
    };
    Ok(ModelResult {
        measurand: request.measurand.clone(),
        model: request.model.clone().unwrap_or_default(),
        method: method.name().into(),
        gum,
        monte_carlo,
    })
}

/// The GUM numbers of a model request, without the answer's echoed names and unit strings:
/// what `evaluate_model` states for methods `gum` and `both`, after the same checks (a Monte
/// Carlo request is checked, not run). As `uncertainty::evaluate_numbers` is to `evaluate`.
pub fn evaluate_model_numbers(request: &EvaluateRequest) -> Result<GumNumbers, Vec<FieldError>> {
    gum_numbers(&checked_request(request, 0)?)
}

/// The GUM numbers of a model (GUM 5.1.2, 5.2.2, G.4.1, G.6.4).
#[derive(Debug, Clone, PartialEq)]
pub struct GumNumbers {
    /// y = f(x̂), in the measurand's unit.
    pub estimate: f64,
    pub combined_standard_uncertainty: f64,
    /// None when infinite.
    pub effective_degrees_of_freedom: Option<f64>,
    pub coverage_factor: f64,
    pub coverage_probability: f64,
    pub expanded_uncertainty: f64,
    /// One per input that carries an uncertainty, in request order.
    pub components: Vec<Term>,
}

/// A model request that passed every check: what evaluation needs.
struct Checked<'r> {
    inputs: Vec<Input<'r>>,
    program: Program,
    correlations: Correlations,
    structure: Option<Structure>,
    method: Method,
    plan: MonteCarloPlan,
    p: f64,
}

/// Every check of DESIGN 5b on a model request; all problems found, with their JSON paths.
fn checked_request(
    request: &EvaluateRequest,
    drawn_seed: u64,
) -> Result<Checked<'_>, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let p = coverage_probability(request, &mut errors);
    let measurand = match parse_scale(&request.measurand.unit) {
        Ok(u) => Some(u),
        Err(e) => {
            errors.push(FieldError::new("measurand.unit", e));
            None
        }
    };
    let method = method_of(request, &mut errors);
    let plan = monte_carlo_plan(request, method, drawn_seed, p, &mut errors);
    let requested: &[ModelInput] = request.inputs.as_deref().unwrap_or_default();
    let inputs = checked_inputs(request, &mut errors);
    let names: Vec<&str> = requested.iter().map(|i| i.name.as_str()).collect();
    let program = compiled_model(request, &names, &inputs, measurand.as_ref(), &mut errors);
    let (correlations, structure) =
        ordered_correlations(request, &inputs, &names, method, &mut errors);
    if !requested.is_empty()
        && inputs.iter().all(Option::is_some)
        && inputs.iter().flatten().all(|i| i.uncertainty.is_none())
    {
        errors.push(FieldError::new(
            "inputs",
            "no input carries an uncertainty: give at least one a type and uncertainty",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Checked {
        inputs: inputs.into_iter().flatten().collect(),
        program: program.expect("a checked model compiles"),
        correlations,
        structure,
        method,
        plan,
        p,
    })
}

fn coverage_probability(request: &EvaluateRequest, errors: &mut Vec<FieldError>) -> f64 {
    match request.coverage_probability {
        None => DEFAULT_COVERAGE_PROBABILITY,
        Some(p) if p.is_finite() && p > 0.0 && p < 1.0 => p,
        Some(_) => {
            errors.push(FieldError::new(
                "coverage_probability",
                "must be greater than 0 and less than 1",
            ));
            DEFAULT_COVERAGE_PROBABILITY
        }
    }
}

fn method_of(request: &EvaluateRequest, errors: &mut Vec<FieldError>) -> Method {
    match request.method.as_deref() {
        None | Some("gum") => Method::Gum,
        Some("monte_carlo") => Method::MonteCarlo,
        Some("both") => Method::Both,
        Some(other) => {
            errors.push(FieldError::new(
                "method",
                format!("{other:?} is not a method: gum, monte_carlo or both"),
            ));
            Method::Gum
        }
    }
}

/// The Monte Carlo options checked (JCGM 101 7.2: a fixed number of trials or
/// the adaptive procedure of 7.9, not both); defaults where absent or wrong.
fn monte_carlo_plan(
    request: &EvaluateRequest,
    method: Method,
    drawn_seed: u64,
    p: f64,
    errors: &mut Vec<FieldError>,
) -> MonteCarloPlan {
    let options = request.monte_carlo.clone().unwrap_or(MonteCarloOptions {
        trials: None,
        adaptive: None,
        seed: None,
        interval: None,
    });
    if method == Method::Gum && request.monte_carlo.is_some() {
        errors.push(FieldError::new(
            "monte_carlo",
            "only with method monte_carlo or both",
        ));
    }
    let trials = match (&options.trials, &options.adaptive) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "monte_carlo.adaptive",
                "give either trials or adaptive, not both",
            ));
            Trials::Fixed(1_000_000)
        }
        (Some(t), None) => {
            if (monte_carlo::MIN_TRIALS as u64..=monte_carlo::MAX_TRIALS as u64).contains(t) {
                Trials::Fixed(*t as usize)
            } else {
                errors.push(FieldError::new(
                    "monte_carlo.trials",
                    "must be from 10000 to 10000000",
                ));
                Trials::Fixed(1_000_000)
            }
        }
        (None, Some(a)) => {
            if matches!(a.significant_digits, 1 | 2) {
                Trials::Adaptive {
                    significant_digits: a.significant_digits,
                }
            } else {
                errors.push(FieldError::new(
                    "monte_carlo.adaptive.significant_digits",
                    "must be 1 or 2",
                ));
                Trials::Fixed(1_000_000)
            }
        }
        (None, None) => Trials::Fixed(1_000_000),
    };
    let interval = match options.interval.as_deref() {
        None | Some("symmetric") => IntervalKind::Symmetric,
        Some("shortest") => IntervalKind::Shortest,
        Some(other) => {
            errors.push(FieldError::new(
                "monte_carlo.interval",
                format!("{other:?} is not an interval: symmetric or shortest"),
            ));
            IntervalKind::Symmetric
        }
    };
    MonteCarloPlan {
        trials,
        interval,
        seed: options.seed.unwrap_or(drawn_seed),
        p,
    }
}

/// Each input checked (None where it is wrong), and each name given once.
fn checked_inputs<'r>(
    request: &'r EvaluateRequest,
    errors: &mut Vec<FieldError>,
) -> Vec<Option<Input<'r>>> {
    let requested: &[ModelInput] = request.inputs.as_deref().unwrap_or_default();
    if request.inputs.is_none() {
        errors.push(FieldError::new("inputs", "required with a model"));
    } else if requested.is_empty() {
        errors.push(FieldError::new("inputs", "at least one input is required"));
    }
    let inputs: Vec<Option<Input>> = requested
        .iter()
        .enumerate()
        .map(|(i, input)| check_input(i, input, errors))
        .collect();
    for (i, input) in requested.iter().enumerate() {
        if requested[..i]
            .iter()
            .any(|o| parser::same_name(&o.name, &input.name))
        {
            errors.push(FieldError::new(
                input_field(i, "name"),
                format!("'{}' is already an input", input.name),
            ));
        }
    }
    inputs
}

/// The model parsed, its names matched with the inputs both ways, and compiled
/// with the inputs' units into the measurand's (None when anything fails).
fn compiled_model(
    request: &EvaluateRequest,
    names: &[&str],
    inputs: &[Option<Input>],
    measurand: Option<&Scale>,
    errors: &mut Vec<FieldError>,
) -> Option<Program> {
    let tree = match parser::parse(request.model.as_deref().unwrap_or_default()) {
        Ok(tree) => tree,
        Err(e) => {
            errors.push(FieldError::new("model", e.to_string()));
            return None;
        }
    };
    let mut used = Vec::new();
    parser::names(&tree, &mut used);
    let mut names_ok = true;
    for (name, span) in &used {
        if !names.iter().any(|n| parser::same_name(n, name)) {
            errors.push(FieldError::new(
                "model",
                format!("at character {}: '{name}' is not an input", span.start),
            ));
            names_ok = false;
        }
    }
    for (i, name) in names.iter().enumerate() {
        if !used.iter().any(|(n, _)| parser::same_name(n, name)) && parser::is_valid_name(name) {
            errors.push(FieldError::new(
                input_field(i, "name"),
                format!("input '{name}' is not used in the model"),
            ));
        }
    }
    let m = measurand.filter(|_| names_ok && inputs.iter().all(Option::is_some))?;
    let scales: Vec<InputScale> = inputs.iter().flatten().map(|i| i.scale).collect();
    match compile::compile(&tree, names, &scales, m.dimension, m.factor) {
        Ok(program) => Some(program),
        Err(e) => {
            errors.push(FieldError::new(
                "model",
                match e.position {
                    Some(at) => format!("at character {at}: {}", e.message),
                    None => format!("measurand.unit '{}': {}", request.measurand.unit, e.message),
                },
            ));
            None
        }
    }
}

/// The correlations checked and put in name order (sums independent of the
/// request's order), with the eigen-decomposition Monte Carlo draws from.
fn ordered_correlations(
    request: &EvaluateRequest,
    inputs: &[Option<Input>],
    names: &[&str],
    method: Method,
    errors: &mut Vec<FieldError>,
) -> (Correlations, Option<Structure>) {
    let mut correlations = check_correlations(
        request.correlations.as_deref().unwrap_or_default(),
        inputs,
        names,
        method,
        errors,
    );
    for pair in &mut correlations {
        if names[pair.0] > names[pair.1] {
            *pair = (pair.1, pair.0, pair.2);
        }
    }
    correlations.sort_by(|a, b| (names[a.0], names[a.1]).cmp(&(names[b.0], names[b.1])));
    // The GUM method needs only to know that the matrix is positive semi-definite; Monte Carlo
    // draws from its eigen-decomposition, which also gives the smallest eigenvalue an error names.
    let decomposed = if method == Method::Gum && passes_cholesky(&correlations, names.len()) {
        Ok(None)
    } else {
        correlation_structure(&correlations, names)
    };
    let structure = match decomposed {
        Ok(s) => s,
        Err(smallest) => {
            errors.push(FieldError::new(
                "correlations",
                format!(
                    "the correlation matrix is not positive semi-definite (smallest eigenvalue {smallest:.3e}): these coefficients cannot hold together"
                ),
            ));
            None
        }
    };
    (correlations, structure)
}

/// The Monte Carlo run (JCGM 101) and, with `validated`, the comparison of the
/// GUM interval with it (JCGM 101 section 8).
fn monte_carlo_result(
    setup: &Setup,
    plan: MonteCarloPlan,
    validated: Option<&GumResult>,
    unit: &str,
) -> Result<MonteCarloResult, Vec<FieldError>> {
    let outcome = monte_carlo::run(setup, plan.trials, plan.seed, plan.p, plan.interval).map_err(
        |nf| {
            vec![FieldError::new(
                "model",
                format!(
                    "the model is not finite in {:.4} % of the Monte Carlo trials ({} of {}): e.g. a division by zero or the logarithm of a negative number where the inputs' distributions reach",
                    100.0 * nf.bad as f64 / nf.trials as f64,
                    nf.bad,
                    nf.trials
                ),
            )]
        },
    )?;
    if !(outcome.estimate.is_finite() && outcome.standard_uncertainty.is_finite()) {
        return Err(vec![FieldError::new(
            "model",
            "the Monte Carlo mean or standard deviation of the model values is not finite",
        )]);
    }
    let gum_validation = validated.map(|g| gum_validation(g, &outcome, plan.trials));
    let value = |value: f64| ValueUnit {
        value,
        unit: unit.into(),
    };
    Ok(MonteCarloResult {
        trials: outcome.trials as u64,
        seed: plan.seed,
        converged: outcome.converged,
        estimate: value(outcome.estimate),
        standard_uncertainty: value(outcome.standard_uncertainty),
        coverage_interval: CoverageInterval {
            low: outcome.low,
            high: outcome.high,
            unit: unit.to_string(),
            probability: plan.p,
            kind: match plan.interval {
                IntervalKind::Symmetric => "symmetric",
                IntervalKind::Shortest => "shortest",
            }
            .to_string(),
        },
        histogram: Histogram {
            edges: outcome.edges,
            counts: outcome.counts,
        },
        gum_validation,
    })
}

/// JCGM 101 8.2: the GUM interval y ± U is validated when both its ends lie
/// within the numerical tolerance of the Monte Carlo interval's.
fn gum_validation(g: &GumResult, outcome: &monte_carlo::Outcome, trials: Trials) -> GumValidation {
    let digits = match trials {
        Trials::Adaptive { significant_digits } => significant_digits,
        Trials::Fixed(_) => 2,
    };
    let tolerance = monte_carlo::numerical_tolerance(g.combined_standard_uncertainty.value, digits);
    let y = g.estimate.value;
    let big_u = g.expanded_uncertainty.value;
    let d_low = (y - big_u - outcome.low).abs();
    let d_high = (y + big_u - outcome.high).abs();
    GumValidation {
        tolerance,
        d_low,
        d_high,
        passed: d_low <= tolerance && d_high <= tolerance,
    }
}

fn model_error(message: impl Into<String>) -> Vec<FieldError> {
    vec![FieldError::new("model", message)]
}

/// The GUM law of propagation (5.1.2, 5.2.2) with exact first derivatives.
fn gum_numbers(checked: &Checked) -> Result<GumNumbers, Vec<FieldError>> {
    let (y, mut terms) = sensitivity_terms(&checked.program, &checked.inputs)?;
    let u_c = combined_uncertainty(&terms, &checked.correlations)?;
    let nu_eff = welch_satterthwaite(&terms, u_c);
    let k = coverage_factor(checked.p, nu_eff);
    let big_u = k * u_c;
    if !(u_c.is_finite() && big_u.is_finite() && big_u > 0.0) {
        return Err(model_error(
            "the combined or expanded uncertainty cannot be represented",
        ));
    }
    // The sums above went by name; the budget's rows go in the order the request lists them.
    terms.sort_unstable_by_key(|t| t.0);
    Ok(GumNumbers {
        estimate: y,
        combined_standard_uncertainty: u_c,
        effective_degrees_of_freedom: nu_eff,
        coverage_factor: k,
        coverage_probability: checked.p,
        expanded_uncertainty: big_u,
        components: terms,
    })
}

/// The answer's GUM part: the numbers with the measurand's and inputs' names and units.
fn gum_result(numbers: &GumNumbers, inputs: &[Input], unit: &str) -> GumResult {
    let value = |value: f64| ValueUnit {
        value,
        unit: unit.into(),
    };
    GumResult {
        estimate: value(numbers.estimate),
        combined_standard_uncertainty: value(numbers.combined_standard_uncertainty),
        effective_degrees_of_freedom: numbers.effective_degrees_of_freedom,
        coverage_factor: numbers.coverage_factor,
        coverage_probability: numbers.coverage_probability,
        expanded_uncertainty: value(numbers.expanded_uncertainty),
        components: component_results(numbers, inputs, unit),
    }
}

/// The buffers of a gradient at the estimates.
#[derive(Default)]
struct Scratch {
    registers: compile::GradientRegisters,
    x: Vec<f64>,
    wrt: Vec<usize>,
    gradient: Vec<f64>,
}

thread_local! {
    /// This thread's last gradient buffers, kept for the next model: a lab's service
    /// evaluates many.
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch {
            registers: compile::GradientRegisters::new(),
            x: Vec::new(),
            wrt: Vec::new(),
            gradient: Vec::new(),
        })
    };
}

/// One input's share in the GUM law: (index in the request's inputs, c_i, u_i, ν_i).
pub type Term = (usize, f64, f64, Option<f64>);

/// y = f(x̂) and c_i = ∂f/∂x_i at the estimates (GUM 5.1.3), by forward-mode differentiation,
/// for each input with an uncertainty, by name: sums are then formed in an order that does not
/// depend on how the request lists the inputs.
fn sensitivity_terms(
    program: &Program,
    inputs: &[Input],
) -> Result<(f64, Vec<Term>), Vec<FieldError>> {
    let mut scratch = SCRATCH.take();
    let y = gradient_at_estimates(program, inputs, &mut scratch);
    let terms = terms_by_name(inputs, &scratch.wrt, &scratch.gradient);
    SCRATCH.set(scratch);
    if !y.is_finite() {
        return Err(model_error(
            "the model is not finite at the estimates (e.g. a division by zero or the logarithm of a negative number)",
        ));
    }
    terms.map(|terms| (y, terms))
}

/// y and ∂y/∂x_i, i in `scratch.wrt` (the inputs with an uncertainty, by name), at the
/// estimates.
fn gradient_at_estimates(program: &Program, inputs: &[Input], scratch: &mut Scratch) -> f64 {
    let Scratch {
        registers,
        x,
        wrt,
        gradient,
    } = scratch;
    x.clear();
    x.extend(inputs.iter().map(|i| i.estimate));
    wrt.clear();
    wrt.extend((0..inputs.len()).filter(|&i| inputs[i].uncertainty.is_some()));
    wrt.sort_by(|&a, &b| inputs[a].name.cmp(inputs[b].name));
    gradient.clear();
    gradient.resize(wrt.len(), 0.0);
    program.eval_gradient(x, wrt, registers, gradient)
}

/// The terms in the order of `wrt`; an error names the first input whose c_i is not finite.
fn terms_by_name(
    inputs: &[Input],
    wrt: &[usize],
    gradient: &[f64],
) -> Result<Vec<Term>, Vec<FieldError>> {
    let mut terms = Vec::with_capacity(wrt.len());
    for (&i, &c) in wrt.iter().zip(gradient) {
        let input = &inputs[i];
        if !c.is_finite() {
            return Err(model_error(format!(
                "the partial derivative with respect to {} is not finite at the estimates",
                input.name
            )));
        }
        if let Some((u, nu, _)) = input.uncertainty {
            terms.push((i, c, u, nu));
        }
    }
    Ok(terms)
}

/// u_c² = Σ c_i² u_i² + 2 Σ r_ij c_i u_i c_j u_j (GUM 5.2.2), scaled by the
/// largest |c_i u_i| so that squares neither overflow nor underflow.
fn combined_uncertainty(
    terms: &[Term],
    correlations: &Correlations,
) -> Result<f64, Vec<FieldError>> {
    let largest = terms
        .iter()
        .map(|&(_, c, u, _)| (c * u).abs())
        .fold(0.0f64, f64::max);
    if !largest.is_finite() {
        return Err(model_error(
            "a contribution c_i·u_i is too large to represent",
        ));
    }
    if largest == 0.0 {
        return Err(model_error(
            "the combined standard uncertainty is zero: no input with an uncertainty has a non-zero sensitivity at the estimates (use method monte_carlo for such a model)",
        ));
    }
    let scaled = |i: usize| {
        terms
            .iter()
            .find(|t| t.0 == i)
            .map_or(0.0, |&(_, c, u, _)| c * u / largest)
    };
    let mut sum: f64 = terms
        .iter()
        .map(|&(_, c, u, _)| (c * u / largest).powi(2))
        .sum();
    for &(i, j, r) in correlations {
        sum += 2.0 * r * scaled(i) * scaled(j);
    }
    if sum.is_nan() || sum <= 0.0 {
        return Err(model_error(
            "the combined standard uncertainty is zero: the correlated contributions cancel",
        ));
    }
    Ok(largest * sum.sqrt())
}

/// ν_eff by the Welch–Satterthwaite formula (GUM G.4.1); None when infinite.
fn welch_satterthwaite(terms: &[Term], u_c: f64) -> Option<f64> {
    let mut ws = 0.0;
    for &(_, c, u, nu) in terms {
        if let Some(nu) = nu {
            let r2 = ((c * u).abs() / u_c).powi(2);
            ws += r2 * r2 / nu;
        }
    }
    Some(1.0 / ws).filter(|nu| ws > 0.0 && nu.is_finite())
}

/// The budget's rows, in the order the request lists the inputs.
fn component_results(
    numbers: &GumNumbers,
    inputs: &[Input],
    unit: &str,
) -> Vec<ModelComponentResult> {
    let u_c = numbers.combined_standard_uncertainty;
    numbers
        .components
        .iter()
        .map(|&(i, c, u, nu)| {
            let input = &inputs[i];
            let r = (c * u).abs() / u_c;
            let input_unit = Text::new(input.unit);
            ModelComponentResult {
                name: input.name.into(),
                estimate: ValueUnit {
                    value: input.estimate,
                    unit: input_unit.clone(),
                },
                standard_uncertainty: ValueUnit {
                    value: u,
                    unit: input_unit,
                },
                sensitivity: ValueUnit {
                    value: c,
                    unit: quotient_symbol(unit, input.unit),
                },
                contribution: ValueUnit {
                    value: (c * u).abs(),
                    unit: unit.into(),
                },
                degrees_of_freedom: nu,
                percent_of_variance: 100.0 * r * r,
            }
        })
        .collect()
}

/// JCGM 101 6.4 as DESIGN 5b assigns distributions to inputs.
fn monte_carlo_setup(program: Program, inputs: &[Input], structure: Option<Structure>) -> Setup {
    let mut draws: Vec<Draw> = inputs
        .iter()
        .map(|input| {
            let mean = input.estimate;
            match input.uncertainty {
                None => Draw::Fixed(mean),
                Some((u, Some(nu), _)) => match rand_distr::StudentT::new(nu) {
                    Ok(t) => Draw::T { mean, scale: u, t },
                    Err(_) => Draw::Gaussian { mean, sd: u },
                },
                Some((u, None, shape)) => match shape {
                    Shape::Normal | Shape::TypeA => Draw::Gaussian { mean, sd: u },
                    Shape::Rectangular => Draw::Rectangular {
                        mean,
                        half_width: u * 3f64.sqrt(),
                    },
                    Shape::Triangular => Draw::Triangular {
                        mean,
                        half_width: u * 6f64.sqrt(),
                    },
                    Shape::UShaped => Draw::Arcsine {
                        mean,
                        half_width: u * 2f64.sqrt(),
                    },
                },
            }
        })
        .collect();
    let group = structure.map(|(members, values, vectors)| {
        let m = members.len();
        // F = diag(u) · Q · √Λ, so that F·Fᵀ = diag(u) R diag(u), the covariance matrix.
        let mut factor = vec![0.0; m * m];
        for row in 0..m {
            let u = inputs[members[row]].uncertainty.map_or(0.0, |(u, _, _)| u);
            for col in 0..m {
                factor[row * m + col] = u * vectors[row * m + col] * values[col].max(0.0).sqrt();
            }
        }
        for &i in &members {
            draws[i] = Draw::Grouped;
        }
        Group {
            means: members.iter().map(|&i| inputs[i].estimate).collect(),
            members,
            factor,
        }
    });
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by(|&a, &b| inputs[a].name.cmp(inputs[b].name));
    Setup {
        program,
        draws,
        order,
        group,
    }
}

#[cfg(test)]
mod tests;
