//! GUM (JCGM 100:2008) uncertainty budgets: Type A and Type B standard uncertainties,
//! sensitivity coefficients with units, combined standard uncertainty (uncorrelated inputs,
//! GUM 5.1.2), Welch–Satterthwaite effective degrees of freedom (GUM G.4.1), Student-t coverage
//! factor and expanded uncertainty (GUM 6.2, G.4), and rounding for display (GUM 7.2.6,
//! EA-4/02 M). Pure: no I/O.
//!
//! Contract: DESIGN.md section 5. Every request error names its JSON path
//! (`components[2].half_width`), and all errors found are reported together.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::gamma::ln_gamma;
use utoipa::ToSchema;

use super::quantity::{parse_unit, Dimension};
use super::text::Text;
use super::FieldError;

/// Coverage probability used when a request gives none: the probability of a normal
/// distribution within ±2σ rounded as in common practice (k ≈ 2).
pub const DEFAULT_COVERAGE_PROBABILITY: f64 = 0.9545;

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

/// `POST /api/v1/uncertainty/evaluate` body, and the budget of a calibration point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetRequest {
    pub measurand: Measurand,
    /// In (0, 1); default 0.9545.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 0.9545)]
    pub coverage_probability: Option<f64>,
    pub components: Vec<ComponentInput>,
}

/// What is measured, and the unit every contribution and U is reported in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurand {
    #[schema(value_type = String, example = "Gauge block length deviation")]
    pub name: Text,
    #[schema(value_type = String, example = "nm")]
    pub unit: Text,
}

/// One input quantity of the budget. Type A uses `readings` (and optionally `pooled`);
/// Type B uses `distribution` with `half_width`, or (normal) `expanded_uncertainty` +
/// `coverage_factor` or `standard_uncertainty`, and optionally `degrees_of_freedom`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentInput {
    pub name: String,
    /// "A" or "B".
    #[serde(rename = "type")]
    #[schema(example = "B")]
    pub kind: String,
    /// Unit of the readings, half-width or uncertainties of this component.
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled: Option<PooledInput>,
    /// `rectangular`, `triangular`, `u_shaped` or `normal` (Type B only).
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
    /// Type B only; infinite when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrees_of_freedom: Option<f64>,
    /// Default 1 (dimensionless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity: Option<SensitivityInput>,
    /// Instrument id of the standard whose calibration this component comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<i64>,
}

impl ComponentInput {
    pub fn uncertainty_fields(&self) -> UncertaintyFields<'_> {
        UncertaintyFields {
            readings: self.readings.as_deref(),
            pooled: self.pooled.as_ref(),
            distribution: self.distribution.as_deref(),
            half_width: self.half_width,
            expanded_uncertainty: self.expanded_uncertainty,
            coverage_factor: self.coverage_factor,
            standard_uncertainty: self.standard_uncertainty,
            degrees_of_freedom: self.degrees_of_freedom,
        }
    }
}

/// The fields of section 5 that state an input's uncertainty, borrowed from a component or
/// from a model's input (DESIGN 5b), so that both are checked by the same rules without a copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct UncertaintyFields<'a> {
    pub readings: Option<&'a [f64]>,
    pub pooled: Option<&'a PooledInput>,
    pub distribution: Option<&'a str>,
    pub half_width: Option<f64>,
    pub expanded_uncertainty: Option<f64>,
    pub coverage_factor: Option<f64>,
    pub standard_uncertainty: Option<f64>,
    pub degrees_of_freedom: Option<f64>,
}

/// GUM 4.2.4: a standard deviation pooled from earlier series of the same process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PooledInput {
    pub standard_deviation: f64,
    pub degrees_of_freedom: f64,
}

/// A sensitivity coefficient: a bare (dimensionless) number or `{value, unit}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SensitivityInput {
    Number(f64),
    Quantity(ValueUnit),
}

/// `{"value": <number>, "unit": "<symbol>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValueUnit {
    pub value: f64,
    #[schema(value_type = String, example = "nm")]
    pub unit: Text,
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

/// Full-precision result; rounding is for display only (`round_for_display`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BudgetResult {
    pub measurand: Measurand,
    pub combined_standard_uncertainty: ValueUnit,
    /// null when infinite.
    pub effective_degrees_of_freedom: Option<f64>,
    pub coverage_factor: f64,
    pub coverage_probability: f64,
    pub expanded_uncertainty: ValueUnit,
    pub components: Vec<ComponentResult>,
    /// A calibration point's model budget (DESIGN 5b): the model Y = f(X₁…X_N) whose GUM
    /// result this is; absent for a component budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// y = f(x̂) of a model budget; absent for a component budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<ValueUnit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComponentResult {
    #[schema(value_type = String)]
    pub name: Text,
    /// In the component's own unit.
    pub standard_uncertainty: ValueUnit,
    /// As given; unit "1" when defaulted or given as a bare number.
    pub sensitivity: ValueUnit,
    /// |c_i|·u_i in the measurand's unit.
    pub contribution: ValueUnit,
    /// null when infinite.
    pub degrees_of_freedom: Option<f64>,
    pub percent_of_variance: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<i64>,
    /// The input's estimate x̂_i, in a model budget (whose sensitivity is ∂f/∂X_i there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<ValueUnit>,
}

impl BudgetResult {
    /// Whether every number can be written to JSON and read back: an overflow
    /// to infinity would be stored as null and read back as corrupt.
    pub fn is_finite(&self) -> bool {
        let degrees = |nu: Option<f64>| nu.is_none_or(f64::is_finite);
        let finite = |x: &Option<ValueUnit>| x.as_ref().is_none_or(|x| x.value.is_finite());
        [
            self.combined_standard_uncertainty.value,
            self.coverage_factor,
            self.coverage_probability,
            self.expanded_uncertainty.value,
        ]
        .iter()
        .all(|x| x.is_finite())
            && degrees(self.effective_degrees_of_freedom)
            && finite(&self.estimate)
            && self.components.iter().all(|c| {
                [
                    c.standard_uncertainty.value,
                    c.sensitivity.value,
                    c.contribution.value,
                    c.percent_of_variance,
                ]
                .iter()
                .all(|x| x.is_finite())
                    && degrees(c.degrees_of_freedom)
                    && finite(&c.estimate)
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Numeric core
// ---------------------------------------------------------------------------------------------

/// One input's share for `combine`: u(x_i), c_i and ν_i (None = infinite). Units are the
/// caller's: u_c comes out in the unit of `sensitivity × standard_uncertainty` (e.g. SI values
/// give an SI u_c).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub standard_uncertainty: f64,
    pub sensitivity: f64,
    pub degrees_of_freedom: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    pub combined_standard_uncertainty: f64,
    /// None when infinite.
    pub effective_degrees_of_freedom: Option<f64>,
    pub coverage_factor: f64,
    pub expanded_uncertainty: f64,
    /// (c_i u_i)² / u_c² × 100, in input order.
    pub percent_of_variance: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CombineError {
    NoContributions,
    InvalidCoverageProbability,
    /// Index of an input with a non-finite or negative u, non-finite c, or ν < 1.
    InvalidContribution(usize),
    /// Every |c_i u_i| is zero: no interval can be stated.
    ZeroCombinedUncertainty,
    /// u_c or U is not representable.
    Overflow,
    /// k·u_c comes out as zero: a coverage probability so small that (1 + p)/2 rounds
    /// to 1/2 gives k = 0 (found by fuzzing: p = 8e-168 gave k = −0 and U = 0).
    ZeroExpandedUncertainty,
}

impl fmt::Display for CombineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CombineError::NoContributions => f.write_str("at least one component is required"),
            CombineError::InvalidCoverageProbability => {
                f.write_str("coverage probability must be in (0, 1)")
            }
            CombineError::InvalidContribution(i) => write!(
                f,
                "component {i}: standard uncertainty must be finite and ≥ 0, sensitivity finite, degrees of freedom ≥ 1"
            ),
            CombineError::ZeroCombinedUncertainty => f.write_str(
                "the combined standard uncertainty is zero: at least one component must contribute",
            ),
            CombineError::Overflow => {
                f.write_str("the combined or expanded uncertainty is too large to represent")
            }
            CombineError::ZeroExpandedUncertainty => f.write_str(
                "is too small: the coverage factor k and the expanded uncertainty k·u_c would be zero",
            ),
        }
    }
}

impl std::error::Error for CombineError {}

/// u_c = √Σ(c_i u_i)² (GUM 5.1.2, uncorrelated inputs), ν_eff by Welch–Satterthwaite
/// (GUM G.4.1, eq. G.2b), k from the t-distribution (GUM G.4.1, G.6.4) and U = k·u_c
/// (GUM 6.2.1). Used by `evaluate` for requests and directly for stored or SI budgets.
pub fn combine(contributions: &[Contribution], p: f64) -> Result<Combined, CombineError> {
    for (i, c) in contributions.iter().enumerate() {
        let ok_nu = c.degrees_of_freedom.is_none_or(|nu| nu >= 1.0);
        if !(c.standard_uncertainty.is_finite()
            && c.standard_uncertainty >= 0.0
            && c.sensitivity.is_finite()
            && ok_nu)
        {
            return Err(CombineError::InvalidContribution(i));
        }
    }
    let term = |i: usize| {
        let c = &contributions[i];
        (
            (c.sensitivity * c.standard_uncertainty).abs(),
            c.degrees_of_freedom,
        )
    };
    let core = combine_core(contributions.len(), term, p)?;
    Ok(Combined {
        combined_standard_uncertainty: core.u_c,
        effective_degrees_of_freedom: core.nu_eff,
        coverage_factor: core.k,
        expanded_uncertainty: core.big_u,
        percent_of_variance: (0..contributions.len())
            .map(|i| core.percent(term(i).0))
            .collect(),
    })
}

struct Core {
    u_c: f64,
    nu_eff: Option<f64>,
    k: f64,
    big_u: f64,
}

impl Core {
    fn percent(&self, x: f64) -> f64 {
        let r = x / self.u_c;
        100.0 * r * r
    }
}

/// The combination over n validated terms (|c_i u_i|, ν_i), without allocating: `evaluate`
/// runs it once per stored budget.
fn combine_core(
    n: usize,
    term: impl Fn(usize) -> (f64, Option<f64>),
    p: f64,
) -> Result<Core, CombineError> {
    if n == 0 {
        return Err(CombineError::NoContributions);
    }
    if !(p > 0.0 && p < 1.0) {
        return Err(CombineError::InvalidCoverageProbability);
    }
    let mut largest: f64 = 0.0;
    for i in 0..n {
        let x = term(i).0;
        if !x.is_finite() {
            return Err(CombineError::Overflow);
        }
        largest = largest.max(x);
    }
    if largest == 0.0 {
        return Err(CombineError::ZeroCombinedUncertainty);
    }
    // Scaled by the largest term so that squaring neither overflows nor underflows (the same
    // device as hypot); the ratios r_i = |c_i u_i|/u_c then give both the variance shares and
    // Welch–Satterthwaite without forming u_c⁴.
    let sum: f64 = (0..n)
        .map(|i| {
            let s = term(i).0 / largest;
            s * s
        })
        .sum();
    let u_c = largest * sum.sqrt();
    if !u_c.is_finite() {
        return Err(CombineError::Overflow);
    }
    let mut ws = 0.0;
    for i in 0..n {
        if let (x, Some(nu)) = term(i) {
            if nu.is_finite() {
                let r = x / u_c;
                let r2 = r * r;
                ws += r2 * r2 / nu;
            }
        }
    }
    // GUM G.4.1: ν_eff = u_c⁴ / Σ (c_i u_i)⁴/ν_i = 1 / Σ r_i⁴/ν_i; infinite when every
    // contributing ν_i is (or the finite ones' shares vanish).
    // A huge finite ν_i can make Σ r_i⁴/ν_i subnormal and its reciprocal overflow: that ν_eff
    // is infinite too, and infinite is None (found by fuzzing: ν = 1e308 gave Some(inf)).
    let nu_eff = Some(1.0 / ws).filter(|nu| ws > 0.0 && nu.is_finite());
    let k = coverage_factor(p, nu_eff);
    let big_u = k * u_c;
    if !big_u.is_finite() {
        return Err(CombineError::Overflow);
    }
    // DESIGN 5: k ≤ 0 is an error; an interval of zero width states nothing.
    if !(k > 0.0 && big_u > 0.0) {
        return Err(CombineError::ZeroExpandedUncertainty);
    }
    Ok(Core {
        u_c,
        nu_eff,
        k,
        big_u,
    })
}

/// Above this many degrees of freedom statrs' inverse incomplete beta loses accuracy (and
/// stops terminating near 1e8); the Cornish–Fisher expansion below is exact to double
/// precision there.
const T_ASYMPTOTIC_NU: f64 = 1000.0;

/// GUM G.4.1 / G.6.4: k = t_p(ν) with ν = ⌊ν_eff⌋, the two-sided Student-t quantile at
/// (1 + p)/2; the normal quantile when ν_eff is infinite (None or +∞). ν_eff is floored with a
/// 1e-9 tolerance so that an integer ν_eff computed with rounding noise (16.9999999999) is not
/// lowered a whole degree; values below 1 are taken as 1 (Welch–Satterthwaite never gives
/// less than the smallest ν_i ≥ 1). `p` must be in (0, 1); NaN otherwise.
pub fn coverage_factor(p: f64, nu_eff: Option<f64>) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return f64::NAN;
    }
    let nu = match nu_eff {
        Some(nu) if nu.is_nan() => return f64::NAN,
        Some(nu) if nu.is_finite() => (nu + 1e-9).floor().max(1.0),
        _ => f64::INFINITY,
    };
    K_CACHE.with(|cache| {
        // k depends on (p, ⌊ν⌋) only, and budgets re-use a handful of pairs (p = 0.9545 and
        // the same ν for every point of a procedure): remember recent ones per thread.
        let key = (p.to_bits(), nu.to_bits());
        let slot = (key.0 ^ key.1.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (64 - K_CACHE_BITS);
        let slot = slot as usize;
        let mut cache = cache.borrow_mut();
        if cache.is_empty() {
            cache.resize(1 << K_CACHE_BITS, None);
        }
        if let Some((k, value)) = cache[slot] {
            if k == key {
                return value;
            }
        }
        let value = if nu.is_infinite() {
            normal_two_sided(p)
        } else {
            student_t_two_sided(p, nu)
        };
        cache[slot] = Some((key, value));
        value
    })
}

/// 4096 slots (128 KiB, made on a thread's first k): a service's ν_eff spread over hundreds of
/// values below 1000 for each usual p (10 000 generated models: 703 at p = 0.9545), where k
/// takes a root-finding of statrs' t distribution (~1 µs); 256 slots were overwritten before
/// they were asked again, and k was a twentieth of a model's evaluation.
const K_CACHE_BITS: u32 = 12;

type KCache = Vec<Option<((u64, u64), f64)>>;

thread_local! {
    static K_CACHE: std::cell::RefCell<KCache> = const { std::cell::RefCell::new(Vec::new()) };
}

fn normal_two_sided(p: f64) -> f64 {
    // From the upper tail (1 − p)/2: forming (1 + p)/2 first would round the tail away as p → 1.
    -Normal::standard().inverse_cdf(0.5 * (1.0 - p))
}

/// t with P(|T_ν| ≤ t) = p, for integer ν ≥ 1.
///
/// statrs' `StudentsT::inverse_cdf` (inverse incomplete beta, AS 109) is only good to about
/// 1e-4 relative, loses accuracy above ν ≈ 1e5 and does not terminate near ν = 1e8, and it costs
/// about a microsecond. So the quantile is taken as the root of statrs' t distribution function
/// (`sf`, `pdf`, accurate to ~1e-13 for ν ≤ 1000), started from Hill's approximation (CACM
/// Algorithm 396, 1970, itself built on statrs' normal quantile) and refined by Hill's
/// two-term Taylor step (1981); one or two steps reach double precision. Above ν = 1000 the
/// Cornish–Fisher expansion is already exact to double precision for any usable p.
fn student_t_two_sided(p: f64, nu: f64) -> f64 {
    // Two-tailed probability beyond ±t; 1 − p is exact for p ≥ 0.5 (Sterbenz), so the tail
    // keeps its precision as p → 1.
    let tail = 1.0 - p;
    if nu == 1.0 {
        // Cauchy: t = cot(π(1 − p)/2).
        return if p > 0.5 {
            1.0 / (std::f64::consts::FRAC_PI_2 * tail).tan()
        } else {
            (std::f64::consts::FRAC_PI_2 * p).tan()
        };
    }
    if nu == 2.0 {
        // F(t) = 1/2 + t / (2√(2 + t²)) inverted in closed form.
        return p * (2.0 / (tail * (1.0 + p))).sqrt();
    }
    if nu > T_ASYMPTOTIC_NU {
        return t_cornish_fisher(normal_two_sided(p), nu);
    }
    let mut t = t_hill(tail, nu);
    let dist = StudentsT::new(0.0, 1.0, nu).expect("ν ≥ 3 is a valid Student-t");
    let density_of = t_density(nu);
    let mut prev_step = f64::INFINITY;
    for _ in 0..20 {
        let density = density_of(t);
        // Residual in the tail that keeps precision: upper tail for p ≥ 0.5, the central
        // probability I_x(1/2, ν/2) = p (x = t²/(ν + t²)) below.
        let newton = if p >= 0.5 {
            (dist.sf(t) - 0.5 * tail) / density
        } else {
            let x = t * t / (nu + t * t);
            -(statrs::function::beta::beta_reg(0.5, 0.5 * nu, x) - p) / (2.0 * density)
        };
        // Hill (1981): second Taylor term, from d(ln f)/dt = −(ν + 1)t/(ν + t²).
        let step = newton * (1.0 + newton * t * (nu + 1.0) / (2.0 * (t * t + nu)));
        if !step.is_finite() || step.abs() >= prev_step {
            // The iteration converges at least quadratically; a step that does not shrink is
            // rounding noise of the distribution function.
            break;
        }
        let next = t + step;
        if next.is_nan() || next <= 0.0 {
            break;
        }
        t = next;
        // The two-term step converges cubically: after a step of relative size 1e-6 the error
        // is ~1e-18, below the distribution function's own noise.
        if step.abs() <= 1e-6 * t {
            break;
        }
        prev_step = 0.5 * step.abs();
    }
    t
}

/// The Student-t density for ν degrees of freedom: statrs' `pdf`, term for term (the same bits),
/// with its ν-only factors taken once, where `pdf` takes two log-gammas at every call and the
/// quantile's root-finding calls it at every step.
fn t_density(nu: f64) -> impl Fn(f64) -> f64 {
    let gamma_ratio = (ln_gamma(0.5 * (nu + 1.0)) - ln_gamma(0.5 * nu)).exp();
    let root_nu_pi = (nu * std::f64::consts::PI).sqrt();
    move |t| gamma_ratio * (1.0 + t * t / nu).powf(-0.5 * (nu + 1.0)) / root_nu_pi
}

/// Hill's approximation to the t quantile with two-tailed probability `tail` (G. W. Hill,
/// "Algorithm 396: Student's t-quantiles", CACM 13 (1970) 619), for ν ≥ 3; a few digits, enough
/// to start the refinement.
fn t_hill(tail: f64, nu: f64) -> f64 {
    let a = 1.0 / (nu - 0.5);
    let b = 48.0 / (a * a);
    let mut c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36;
    let d = ((94.5 / (b + c) - 3.0) / b + 1.0) * (a * std::f64::consts::FRAC_PI_2).sqrt() * nu;
    let y = (d * tail).powf(2.0 / nu);
    let y = if y > 0.05 + a {
        // asymptotic inverse expansion about the normal quantile (x < 0: lower tail)
        let x = Normal::standard().inverse_cdf(0.5 * tail);
        let x2 = x * x;
        if nu < 5.0 {
            c += 0.3 * (nu - 4.5) * (x + 0.6);
        }
        c += (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b;
        let y = (((((0.4 * x2 + 6.3) * x2 + 36.0) * x2 + 94.5) / c - x2 - 3.0) / b + 1.0) * x;
        (a * y * y).exp_m1()
    } else {
        ((1.0 / (((nu + 6.0) / (nu * y) - 0.089 * d - 0.822) * (nu + 2.0) * 3.0)
            + 0.5 / (nu + 4.0))
            * y
            - 1.0)
            * (nu + 1.0)
            / (nu + 2.0)
            + 1.0 / y
    };
    (nu * y).sqrt()
}

/// Cornish–Fisher expansion of the t quantile in powers of 1/ν around the normal quantile z
/// (Abramowitz & Stegun 26.7.5); the first omitted term is O(z¹¹/ν⁵).
fn t_cornish_fisher(z: f64, nu: f64) -> f64 {
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / nu) / nu) / nu) / nu
}

/// GUM 4.2.2/4.2.3: standard uncertainty of the mean of `readings`, s/√n with the
/// sample standard deviation (n − 1). Two-pass around the mean, on values scaled by the
/// largest magnitude so squares of large readings cannot overflow. NaN for n < 2.
pub fn type_a_standard_uncertainty(readings: &[f64]) -> f64 {
    let n = readings.len();
    if n < 2 {
        return f64::NAN;
    }
    let scale = readings.iter().fold(0.0f64, |m, r| m.max(r.abs()));
    if scale == 0.0 {
        return 0.0;
    }
    let nf = n as f64;
    let mean = readings.iter().map(|r| r / scale).sum::<f64>() / nf;
    let ss: f64 = readings
        .iter()
        .map(|r| {
            let d = r / scale - mean;
            d * d
        })
        .sum();
    (ss / ((nf - 1.0) * nf)).sqrt() * scale
}

// ---------------------------------------------------------------------------------------------
// Request evaluation
// ---------------------------------------------------------------------------------------------

/// Field errors with JSON paths; paths are only formatted when an error is recorded.
struct Errors(Vec<FieldError>);

impl Errors {
    fn at(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn component(&mut self, i: usize, field: &str, message: impl Into<String>) {
        self.at(format!("components[{i}].{field}"), message);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn finite_nonneg(&mut self, i: usize, field: &str, v: f64, what: &str) -> Option<f64> {
        if !v.is_finite() {
            self.component(i, field, format!("{what} must be a finite number"));
            None
        } else if v < 0.0 {
            self.component(i, field, format!("{what} must not be negative"));
            None
        } else {
            Some(v)
        }
    }

    /// GUM G.3.3: ν ≥ 1 (fractional values are allowed, e.g. from G.4.2).
    fn degrees_of_freedom(&mut self, i: usize, field: &str, v: f64) -> Option<f64> {
        if !v.is_finite() {
            self.component(i, field, "degrees of freedom must be a finite number");
            None
        } else if v < 1.0 {
            self.component(i, field, "degrees of freedom must be at least 1");
            None
        } else {
            Some(v)
        }
    }
}

/// What a budget needs of a unit: uncertainties are intervals, so a budget never uses the
/// affine offset (a model's °C input does, DESIGN 5b).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scale {
    pub(crate) dimension: Dimension,
    pub(crate) factor: f64,
    /// Kelvin of the scale's zero for °C/°F written alone; 0 otherwise.
    pub(crate) offset: f64,
}

const UNIT_CACHE_SLOTS: usize = 16;

type UnitCache = Vec<(String, Result<Scale, String>)>;

thread_local! {
    /// Recently parsed symbols: a lab's budgets repeat a few units, and parsing allocates.
    static UNIT_CACHE: std::cell::RefCell<(UnitCache, usize)> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// The unit `symbol` parsed (its error message otherwise), from a per-thread cache.
pub(crate) fn parse_scale(symbol: &str) -> Result<Scale, String> {
    UNIT_CACHE.with(|cache| {
        let (entries, next) = &mut *cache.borrow_mut();
        if let Some((_, parsed)) = entries.iter().find(|(s, _)| s == symbol) {
            return parsed.clone();
        }
        let parsed = parse_unit(symbol)
            .map(|u| Scale {
                dimension: u.dimension,
                factor: u.factor,
                offset: u.offset,
            })
            .map_err(|e| e.to_string());
        if entries.len() < UNIT_CACHE_SLOTS {
            entries.push((symbol.to_owned(), parsed.clone()));
        } else {
            entries[*next] = (symbol.to_owned(), parsed.clone());
            *next = (*next + 1) % UNIT_CACHE_SLOTS;
        }
        parsed
    })
}

/// The units of one request, each distinct symbol looked up once; index 0 is the measurand's.
struct Units<'a> {
    measurand: (&'a str, Result<Scale, String>),
    others: Vec<(&'a str, Result<Scale, String>)>,
}

impl<'a> Units<'a> {
    fn new(measurand: &'a str) -> Self {
        Units {
            measurand: (measurand, parse_scale(measurand)),
            others: Vec::new(),
        }
    }

    fn index(&mut self, symbol: &'a str) -> usize {
        if symbol == self.measurand.0 {
            return 0;
        }
        if let Some(i) = self.others.iter().position(|(s, _)| *s == symbol) {
            return i + 1;
        }
        self.others.push((symbol, parse_scale(symbol)));
        self.others.len()
    }

    fn get(&self, index: usize) -> Result<Scale, &str> {
        let entry = match index {
            0 => &self.measurand,
            i => &self.others[i - 1],
        };
        match &entry.1 {
            Ok(s) => Ok(*s),
            Err(e) => Err(e.as_str()),
        }
    }
}

/// The numbers of an evaluated budget, without the echoed names and units: what stored budgets,
/// CMC checks and impact analysis need. Values in the measurand's unit except
/// `ComponentNumbers::standard_uncertainty` (the component's own unit).
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetNumbers {
    pub coverage_probability: f64,
    pub combined_standard_uncertainty: f64,
    /// None when infinite.
    pub effective_degrees_of_freedom: Option<f64>,
    pub coverage_factor: f64,
    pub expanded_uncertainty: f64,
    pub components: Vec<ComponentNumbers>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComponentNumbers {
    /// In the component's own unit.
    pub standard_uncertainty: f64,
    /// In the sensitivity's own unit ("1" when defaulted).
    pub sensitivity: f64,
    /// |c_i|·u_i in the measurand's unit.
    pub contribution: f64,
    /// None when infinite.
    pub degrees_of_freedom: Option<f64>,
    pub percent_of_variance: f64,
}

const DISTRIBUTIONS: &str = "rectangular, triangular, u_shaped or normal";

/// Evaluates a budget per DESIGN.md section 5. All field errors found are returned together;
/// each names its JSON path relative to the budget (prefix it for nested bodies).
pub fn evaluate(request: &BudgetRequest) -> Result<BudgetResult, Vec<FieldError>> {
    let numbers = evaluate_numbers(request)?;
    let unit = &request.measurand.unit;
    let components = request
        .components
        .iter()
        .zip(&numbers.components)
        .map(|(c, n)| ComponentResult {
            name: c.name.as_str().into(),
            standard_uncertainty: ValueUnit {
                value: n.standard_uncertainty,
                unit: c.unit.as_str().into(),
            },
            sensitivity: ValueUnit {
                value: n.sensitivity,
                unit: match &c.sensitivity {
                    Some(SensitivityInput::Quantity(q)) => q.unit.clone(),
                    _ => "1".into(),
                },
            },
            contribution: ValueUnit {
                value: n.contribution,
                unit: unit.clone(),
            },
            degrees_of_freedom: n.degrees_of_freedom,
            percent_of_variance: n.percent_of_variance,
            standard: c.standard,
            estimate: None,
        })
        .collect();
    Ok(BudgetResult {
        measurand: request.measurand.clone(),
        combined_standard_uncertainty: ValueUnit {
            value: numbers.combined_standard_uncertainty,
            unit: unit.clone(),
        },
        effective_degrees_of_freedom: numbers.effective_degrees_of_freedom,
        coverage_factor: numbers.coverage_factor,
        coverage_probability: numbers.coverage_probability,
        expanded_uncertainty: ValueUnit {
            value: numbers.expanded_uncertainty,
            unit: unit.clone(),
        },
        components,
        model: None,
        estimate: None,
    })
}

/// `evaluate` without building the response's strings: the same validation (same errors) and
/// the same numbers.
pub fn evaluate_numbers(request: &BudgetRequest) -> Result<BudgetNumbers, Vec<FieldError>> {
    let mut errors = Errors(Vec::new());
    let p = coverage_probability(request.coverage_probability, &mut errors);

    let mut units = Units::new(&request.measurand.unit);
    if let Err(e) = units.get(0) {
        errors.at("measurand.unit", e);
    }

    let components = &request.components;
    if components.is_empty() {
        errors.at("components", "at least one component is required");
    }
    check_component_names(components, &mut errors);

    let mut results = Vec::with_capacity(components.len());
    for (i, c) in components.iter().enumerate() {
        if let Some(r) = evaluate_component(i, c, &request.measurand.unit, &mut units, &mut errors)
        {
            results.push(r);
        }
    }

    if errors.len() > 0 {
        return Err(errors.0);
    }
    let combined = combine_components(&results, p)?;
    for r in &mut results {
        r.percent_of_variance = combined.percent(r.contribution);
    }
    Ok(BudgetNumbers {
        coverage_probability: p,
        combined_standard_uncertainty: combined.u_c,
        effective_degrees_of_freedom: combined.nu_eff,
        coverage_factor: combined.k,
        expanded_uncertainty: combined.big_u,
        components: results,
    })
}

/// The requested coverage probability, the default when none; NaN (with the error) when it is
/// not in (0, 1).
fn coverage_probability(requested: Option<f64>, errors: &mut Errors) -> f64 {
    match requested {
        None => DEFAULT_COVERAGE_PROBABILITY,
        Some(p) if p.is_finite() && p > 0.0 && p < 1.0 => p,
        Some(p) => {
            let why = if p.is_finite() {
                "must be greater than 0 and less than 1"
            } else {
                "must be a finite number in (0, 1)"
            };
            errors.at("coverage_probability", why);
            f64::NAN
        }
    }
}

/// Names identify components on certificates and in stored budgets: each must be given, and
/// once. Large budgets look names up in a map rather than rescanning.
fn check_component_names(components: &[ComponentInput], errors: &mut Errors) {
    let mut by_name: Option<HashMap<&str, usize>> = (components.len() > 32).then(HashMap::new);
    for (i, c) in components.iter().enumerate() {
        if c.name.chars().all(char::is_whitespace) {
            errors.component(i, "name", "must not be empty");
            continue;
        }
        let first = match &mut by_name {
            Some(map) => *map.entry(c.name.as_str()).or_insert(i),
            None => components[..i]
                .iter()
                .position(|o| o.name == c.name)
                .unwrap_or(i),
        };
        if first != i {
            errors.component(
                i,
                "name",
                format!(
                    "duplicate component name {:?} (also components[{first}])",
                    c.name
                ),
            );
        }
    }
}

/// u_c, ν_eff, k and U of the validated components; a failure names the field to change.
fn combine_components(results: &[ComponentNumbers], p: f64) -> Result<Core, Vec<FieldError>> {
    combine_core(
        results.len(),
        |i| (results[i].contribution, results[i].degrees_of_freedom),
        p,
    )
    .map_err(|e| {
        let field = match e {
            CombineError::ZeroExpandedUncertainty => "coverage_probability",
            _ => "components",
        };
        vec![FieldError {
            field: field.into(),
            message: e.to_string(),
        }]
    })
}

/// The symbols a dimension error names.
struct UnitNames<'s> {
    unit: &'s str,
    sensitivity: &'s str,
    measurand: &'s str,
}

/// GUM 5.1.3: the sensitivity coefficient carries the input's unit into the
/// measurand's, so unit × sensitivity unit must have the measurand's dimension.
fn check_sensitivity_dimension(
    i: usize,
    unit: Scale,
    sens_unit: Option<Result<Scale, &str>>,
    m: Scale,
    names: UnitNames,
    errors: &mut Errors,
) {
    let sens_dimension = match sens_unit {
        None => Dimension::DIMENSIONLESS,
        Some(Ok(s)) => s.dimension,
        Some(Err(_)) => return,
    };
    let product = unit.dimension.checked_mul(sens_dimension);
    if product == Some(m.dimension) {
        return;
    }
    let got = product.map_or_else(|| "out of range".to_string(), |d| d.describe());
    if sens_unit.is_some() {
        errors.component(
            i,
            "sensitivity.unit",
            format!(
                "unit × sensitivity unit ({} × {}) is {got}; the measurand ({}) needs {}",
                names.unit,
                names.sensitivity,
                names.measurand,
                m.dimension.describe()
            ),
        );
    } else {
        errors.component(
            i,
            "unit",
            format!(
                "{} is {got}; the measurand ({}) needs {} (or give a sensitivity with a unit)",
                names.unit,
                names.measurand,
                m.dimension.describe()
            ),
        );
    }
}

/// One component's result (standard uncertainty in its own unit, ν, contribution in the
/// measurand's unit; the variance share is filled in once u_c is known). Records every error it
/// finds; None if there was any.
fn evaluate_component<'a>(
    i: usize,
    c: &'a ComponentInput,
    measurand_symbol: &str,
    units: &mut Units<'a>,
    errors: &mut Errors,
) -> Option<ComponentNumbers> {
    let before = errors.len();

    let unit_index = units.index(&c.unit);
    let (c_value, c_symbol, c_index) = sensitivity_coefficient(i, c, units, errors);
    let unit = units.get(unit_index);
    if let Err(e) = unit {
        errors.component(i, "unit", e);
    }
    let sens_unit = c_index.map(|k| units.get(k));
    if let Some(Err(e)) = sens_unit {
        errors.component(i, "sensitivity.unit", e);
    }
    let measurand = units.get(0).ok();

    if let (Ok(unit), Some(m)) = (unit, measurand) {
        let names = UnitNames {
            unit: &c.unit,
            sensitivity: c_symbol,
            measurand: measurand_symbol,
        };
        check_sensitivity_dimension(i, unit, sens_unit, m, names, errors);
    }

    let (u, nu, value_field) = standard_uncertainty(i, c, errors);
    if errors.len() > before {
        return None;
    }
    let (unit, m, u) = (unit.ok()?, measurand?, u?);
    let contribution = (c_value * u).abs() * unit_ratio(unit, m, sens_unit);
    if !contribution.is_finite() {
        let field = if c.sensitivity.is_some() {
            "sensitivity"
        } else {
            value_field
        };
        errors.component(
            i,
            field,
            format!(
                "the contribution |c·u| in {} is too large to represent",
                measurand_symbol
            ),
        );
        return None;
    }
    Some(ComponentNumbers {
        standard_uncertainty: u,
        sensitivity: c_value,
        contribution,
        degrees_of_freedom: nu,
        percent_of_variance: 0.0,
    })
}

/// GUM 4.2 (Type A) or 4.3 (Type B), as the component's `type` says.
fn standard_uncertainty(i: usize, c: &ComponentInput, errors: &mut Errors) -> Standard {
    match c.kind.as_str() {
        "A" => type_a(i, &c.uncertainty_fields(), errors),
        "B" => type_b(i, &c.uncertainty_fields(), errors),
        _ => {
            errors.component(i, "type", "must be \"A\" or \"B\"");
            (None, None, "type")
        }
    }
}

/// A component's sensitivity coefficient: its value, its unit symbol ("1" for a bare number
/// or none) and the index of that unit in `units` (None when dimensionless by default).
fn sensitivity_coefficient<'a>(
    i: usize,
    c: &'a ComponentInput,
    units: &mut Units<'a>,
    errors: &mut Errors,
) -> (f64, &'a str, Option<usize>) {
    match &c.sensitivity {
        None => (1.0, "1", None),
        Some(SensitivityInput::Number(v)) => {
            if !v.is_finite() {
                errors.component(i, "sensitivity", "must be a finite number");
            }
            (*v, "1", None)
        }
        Some(SensitivityInput::Quantity(q)) => {
            if !q.value.is_finite() {
                errors.component(i, "sensitivity.value", "must be a finite number");
            }
            (q.value, q.unit.as_str(), Some(units.index(&q.unit)))
        }
    }
}

/// What carries |c·u| from the component's and sensitivity's units into the measurand's.
/// Uncertainties and sensitivities are intervals (DESIGN 4): only factors apply, never the
/// affine offset of °C/°F. Dividing the component's factor by the measurand's first keeps
/// same-unit budgets exact.
fn unit_ratio(unit: Scale, m: Scale, sens_unit: Option<Result<Scale, &str>>) -> f64 {
    let sens_factor = match sens_unit {
        Some(Ok(s)) => s.factor,
        _ => 1.0,
    };
    (unit.factor / m.factor) * sens_factor
}

/// Standard uncertainty and ν (None = infinite) of one input described with section 5's
/// fields (Type A readings, pooled, or a Type B distribution), for budget forms other than
/// components (the measurement models of DESIGN 5b). `kind` is "A" or "B"; errors name fields
/// relative to the input (`half_width`, `readings[2]`, `pooled.degrees_of_freedom`).
pub fn input_standard_uncertainty(
    kind: &str,
    c: &UncertaintyFields,
) -> Result<(f64, Option<f64>), Vec<FieldError>> {
    let mut errors = Errors(Vec::new());
    let (u, nu, _) = match kind {
        "A" => type_a(0, c, &mut errors),
        _ => type_b(0, c, &mut errors),
    };
    match u {
        Some(u) if errors.len() == 0 => Ok((u, nu)),
        _ => {
            let mut found = errors.0;
            for e in &mut found {
                if let Some(rest) = e.field.strip_prefix("components[0].") {
                    e.field = rest.to_string();
                }
            }
            if found.is_empty() {
                found.push(FieldError::new(
                    "type",
                    "no standard uncertainty could be formed",
                ));
            }
            Err(found)
        }
    }
}

/// (u in the component's unit, ν (None = infinite), the field u came from).
type Standard = (Option<f64>, Option<f64>, &'static str);

fn type_a(i: usize, c: &UncertaintyFields, errors: &mut Errors) -> Standard {
    reject_type_b_fields(i, c, errors);
    let Some(readings) = c.readings else {
        errors.component(i, "readings", "required for a Type A component");
        return (None, None, "readings");
    };
    let mut finite = true;
    for (j, r) in readings.iter().enumerate() {
        if !r.is_finite() {
            errors.component(i, &format!("readings[{j}]"), "must be a finite number");
            finite = false;
        }
    }
    match c.pooled {
        Some(pooled) => type_a_pooled(i, pooled, readings.len(), errors),
        None => type_a_from_readings(i, readings, finite, errors),
    }
}

/// A Type A component is its readings (and perhaps a pooled standard deviation): the fields
/// of a Type B one, and a ν of its own, are errors.
fn reject_type_b_fields(i: usize, c: &UncertaintyFields, errors: &mut Errors) {
    for (field, present) in [
        ("distribution", c.distribution.is_some()),
        ("half_width", c.half_width.is_some()),
        ("expanded_uncertainty", c.expanded_uncertainty.is_some()),
        ("coverage_factor", c.coverage_factor.is_some()),
        ("standard_uncertainty", c.standard_uncertainty.is_some()),
    ] {
        if present {
            errors.component(
                i,
                field,
                "is a Type B field; a Type A component is evaluated from its readings",
            );
        }
    }
    if c.degrees_of_freedom.is_some() {
        errors.component(
            i,
            "degrees_of_freedom",
            "not allowed on Type A: ν is n − 1 of the readings, or that of pooled",
        );
    }
}

/// GUM 4.2.4: s_p from earlier series of the same process; u of the mean of these n readings
/// is s_p/√n, with the degrees of freedom of s_p.
fn type_a_pooled(i: usize, pooled: &PooledInput, n: usize, errors: &mut Errors) -> Standard {
    let field = "pooled.standard_deviation";
    let s = errors.finite_nonneg(i, field, pooled.standard_deviation, "standard deviation");
    let nu = errors.degrees_of_freedom(i, "pooled.degrees_of_freedom", pooled.degrees_of_freedom);
    if n < 1 {
        errors.component(
            i,
            "readings",
            "at least 1 reading is required with a pooled standard deviation",
        );
        return (None, None, field);
    }
    (s.map(|s| s / (n as f64).sqrt()), nu, field)
}

/// GUM 4.2.2, 4.2.3, G.3.3: u = s/√n, ν = n − 1; nothing when a reading is not `finite`
/// (already reported).
fn type_a_from_readings(i: usize, readings: &[f64], finite: bool, errors: &mut Errors) -> Standard {
    let n = readings.len();
    if n < 2 {
        errors.component(
            i,
            "readings",
            format!("at least 2 readings are required (got {n}); give pooled for fewer"),
        );
        return (None, None, "readings");
    }
    if !finite {
        return (None, None, "readings");
    }
    let u = type_a_standard_uncertainty(readings);
    if !u.is_finite() {
        errors.component(
            i,
            "readings",
            "the spread of the readings is too large to represent",
        );
        return (None, None, "readings");
    }
    (Some(u), Some((n - 1) as f64), "readings")
}

fn type_b(i: usize, c: &UncertaintyFields, errors: &mut Errors) -> Standard {
    for (field, present) in [
        ("readings", c.readings.is_some()),
        ("pooled", c.pooled.is_some()),
    ] {
        if present {
            errors.component(
                i,
                field,
                "is a Type A field; a Type B component has a distribution",
            );
        }
    }
    // GUM G.4.2: a Type B ν reflects how reliable u is judged to be; infinite when not stated.
    let nu = c
        .degrees_of_freedom
        .and_then(|v| errors.degrees_of_freedom(i, "degrees_of_freedom", v));
    let Some(distribution) = c.distribution else {
        errors.component(
            i,
            "distribution",
            format!("required for a Type B component: {DISTRIBUTIONS}"),
        );
        return (None, nu, "distribution");
    };
    // GUM 4.3.7 (rectangular a/√3), 4.3.9 (triangular a/√6); U-shaped (arcsine) a/√2.
    let divisor = match distribution {
        "rectangular" => Some(3f64.sqrt()),
        "triangular" => Some(6f64.sqrt()),
        "u_shaped" => Some(2f64.sqrt()),
        "normal" => None,
        other => {
            errors.component(
                i,
                "distribution",
                format!("unknown distribution {other:?}: use {DISTRIBUTIONS}"),
            );
            return (None, nu, "distribution");
        }
    };
    match divisor {
        Some(divisor) => type_b_from_half_width(i, c, distribution, divisor, nu, errors),
        None => type_b_normal(i, c, nu, errors),
    }
}

/// GUM 4.3.7 and 4.3.9: u = a/divisor from the half-width a of a bounded distribution.
fn type_b_from_half_width(
    i: usize,
    c: &UncertaintyFields,
    distribution: &str,
    divisor: f64,
    nu: Option<f64>,
    errors: &mut Errors,
) -> Standard {
    for (field, present) in [
        ("expanded_uncertainty", c.expanded_uncertainty.is_some()),
        ("coverage_factor", c.coverage_factor.is_some()),
        ("standard_uncertainty", c.standard_uncertainty.is_some()),
    ] {
        if present {
            errors.component(
                i,
                field,
                format!("not used by the {distribution} distribution (give half_width)"),
            );
        }
    }
    let Some(a) = c.half_width else {
        errors.component(
            i,
            "half_width",
            format!("required for the {distribution} distribution"),
        );
        return (None, nu, "half_width");
    };
    let a = errors.finite_nonneg(i, "half_width", a, "half-width");
    (a.map(|a| a / divisor), nu, "half_width")
}

/// A normal distribution: u given, or U with its k (GUM 4.3.3: u = U/k).
fn type_b_normal(
    i: usize,
    c: &UncertaintyFields,
    nu: Option<f64>,
    errors: &mut Errors,
) -> Standard {
    if c.half_width.is_some() {
        errors.component(
            i,
            "half_width",
            "not used by the normal distribution (give expanded_uncertainty with coverage_factor, or standard_uncertainty)",
        );
    }
    match (c.expanded_uncertainty, c.standard_uncertainty) {
        (Some(_), Some(_)) => {
            errors.component(
                i,
                "standard_uncertainty",
                "give either expanded_uncertainty with coverage_factor or standard_uncertainty, not both",
            );
            (None, nu, "standard_uncertainty")
        }
        (None, None) => {
            errors.component(
                i,
                "standard_uncertainty",
                "the normal distribution needs expanded_uncertainty with coverage_factor, or standard_uncertainty",
            );
            (None, nu, "standard_uncertainty")
        }
        (None, Some(u)) => {
            if c.coverage_factor.is_some() {
                errors.component(i, "coverage_factor", "only used with expanded_uncertainty");
            }
            let u = errors.finite_nonneg(i, "standard_uncertainty", u, "standard uncertainty");
            (u, nu, "standard_uncertainty")
        }
        (Some(big_u), None) => {
            let field = "expanded_uncertainty";
            let big_u = errors.finite_nonneg(i, field, big_u, "expanded uncertainty");
            let k = match c.coverage_factor {
                None => {
                    errors.component(i, "coverage_factor", "required with expanded_uncertainty");
                    None
                }
                Some(k) if !k.is_finite() => {
                    errors.component(i, "coverage_factor", "must be a finite number");
                    None
                }
                Some(k) if k <= 0.0 => {
                    errors.component(i, "coverage_factor", "must be greater than 0");
                    None
                }
                Some(k) => Some(k),
            };
            let (Some(big_u), Some(k)) = (big_u, k) else {
                return (None, nu, field);
            };
            let u = big_u / k;
            if !u.is_finite() {
                errors.component(i, field, "U/k is too large to represent");
                return (None, nu, field);
            }
            (Some(u), nu, field)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Display rounding
// ---------------------------------------------------------------------------------------------

/// A result as printed on a certificate: `value ± expanded_uncertainty`, both with `decimals`
/// digits after the decimal point (negative: rounded to tens, hundreds, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RoundedResult {
    pub value: String,
    pub expanded_uncertainty: String,
    pub decimals: i32,
}

#[derive(Clone, Copy, PartialEq)]
enum Rounding {
    HalfUp,
    Up,
}

/// U to two significant digits, rounded half up, but rounded up instead where that would lower
/// U by more than 5 % (EA-4/02 M; with two significant digits ordinary rounding never lowers U
/// by more than 4.76 % (1.049… → 1.0), so the rule is kept for its wording and never bites);
/// the value to the same decimal place (GUM 7.2.6). Works on the shortest decimal representation of the doubles, so
/// 0.0125 is a tie that rounds to 0.013 and not 0.012. If U is not positive and finite there is
/// nothing to round to: both are given in their shortest form and `decimals` is 0.
pub fn round_for_display(value: f64, expanded_uncertainty: f64) -> RoundedResult {
    let big_u = expanded_uncertainty;
    if !(big_u.is_finite() && big_u > 0.0 && value.is_finite()) {
        return RoundedResult {
            value: format!("{value}"),
            expanded_uncertainty: format!("{big_u}"),
            decimals: 0,
        };
    }
    let (_, exp) = decimal_digits(big_u);
    let mut place = exp - 1;
    let (mut rounded, leading) = round_at(big_u, place, Rounding::HalfUp);
    if leading > exp {
        // 99.5 → 100: two significant digits are now "10" one place further left.
        place += 1;
        rounded = round_at(big_u, place, Rounding::HalfUp).0;
    }
    let as_number: f64 = rounded.parse().unwrap_or(big_u);
    if (big_u - as_number) / big_u > 0.05 {
        rounded = round_at(big_u, place, Rounding::Up).0;
    }
    let mut value_text = round_at(value.abs(), place, Rounding::HalfUp).0;
    if value < 0.0 && value_text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        value_text.insert(0, '-');
    }
    RoundedResult {
        value: value_text,
        expanded_uncertainty: rounded,
        decimals: -place,
    }
}

/// The expanded uncertainty as it will be printed (`round_for_display`), as a number: what the
/// CMC check must compare.
/// Near f64::MAX the printed figure can exceed every double (1.79…e308 prints as 1.8e308):
/// then U itself is the closest number, never infinity (found by fuzzing).
pub fn rounded_expanded_uncertainty(u: f64) -> f64 {
    round_for_display(0.0, u)
        .expanded_uncertainty
        .parse()
        .ok()
        .filter(|rounded: &f64| rounded.is_finite())
        .unwrap_or(u)
}

/// Shortest round-trip decimal digits of x > 0 and the power of ten of the first digit.
fn decimal_digits(x: f64) -> (Vec<u8>, i32) {
    let s = format!("{x:e}");
    let (mantissa, exp) = s.split_once('e').expect("{:e} has an exponent");
    let digits = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    (digits, exp.parse().expect("{:e} exponent is an integer"))
}

/// x ≥ 0 rounded at the decimal place 10^place, as plain decimal text with max(0, −place)
/// decimals; also returns the power of ten of the result's leading digit.
fn round_at(x: f64, place: i32, mode: Rounding) -> (String, i32) {
    let (digits, exp) = if x == 0.0 {
        (vec![0], place)
    } else {
        decimal_digits(x)
    };
    let kept_len = exp - place + 1;
    let (mut kept, rest): (Vec<u8>, &[u8]) = if kept_len <= 0 {
        (Vec::new(), if kept_len == 0 { &digits[..] } else { &[] })
    } else {
        let k = kept_len as usize;
        let mut kept: Vec<u8> = digits.iter().take(k).copied().collect();
        kept.resize(k, 0);
        (kept, if digits.len() > k { &digits[k..] } else { &[] })
    };
    let round_up = match mode {
        Rounding::HalfUp => rest.first().is_some_and(|&d| d >= 5),
        Rounding::Up => rest.iter().any(|&d| d != 0) || (kept_len < 0 && x > 0.0),
    };
    let mut top = exp.max(place);
    if kept.is_empty() {
        kept.push(0);
        top = place;
    }
    if round_up {
        let mut carry = true;
        for d in kept.iter_mut().rev() {
            if *d == 9 {
                *d = 0;
            } else {
                *d += 1;
                carry = false;
                break;
            }
        }
        if carry {
            kept.insert(0, 1);
            top += 1;
        }
    }
    // kept holds the digits for places top..=place.
    let text: String = kept.iter().map(|d| char::from(b'0' + d)).collect();
    let rendered = if place >= 0 {
        let mut s = text.trim_start_matches('0').to_string();
        if s.is_empty() {
            "0".to_string()
        } else {
            s.extend(std::iter::repeat_n('0', place as usize));
            s
        }
    } else {
        let decimals = (-place) as usize;
        let padded = if text.len() <= decimals {
            format!("{}{}", "0".repeat(decimals + 1 - text.len()), text)
        } else {
            text
        };
        let (int, frac) = padded.split_at(padded.len() - decimals);
        let int = int.trim_start_matches('0');
        format!("{}.{}", if int.is_empty() { "0" } else { int }, frac)
    };
    let leading = if kept.iter().all(|&d| d == 0) {
        place
    } else {
        top - kept.iter().take_while(|&&d| d == 0).count() as i32
    };
    (rendered, leading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(actual: f64, expected: f64, rel: f64) -> bool {
        (actual - expected).abs() <= rel * expected.abs().max(f64::MIN_POSITIVE)
    }

    macro_rules! assert_close {
        ($a:expr, $e:expr, $rel:expr) => {{
            let (a, e): (f64, f64) = ($a, $e);
            assert!(
                close(a, e, $rel),
                "{} = {a:e}, expected {e:e} (rel {})",
                stringify!($a),
                $rel
            );
        }};
    }

    fn comp(name: &str, kind: &str, unit: &str) -> ComponentInput {
        ComponentInput {
            name: name.into(),
            kind: kind.into(),
            unit: unit.into(),
            ..Default::default()
        }
    }

    fn rect(name: &str, a: f64, unit: &str) -> ComponentInput {
        ComponentInput {
            distribution: Some("rectangular".into()),
            half_width: Some(a),
            ..comp(name, "B", unit)
        }
    }

    fn normal_u(name: &str, u: f64, unit: &str) -> ComponentInput {
        ComponentInput {
            distribution: Some("normal".into()),
            standard_uncertainty: Some(u),
            ..comp(name, "B", unit)
        }
    }

    fn readings(name: &str, r: &[f64], unit: &str) -> ComponentInput {
        ComponentInput {
            readings: Some(r.to_vec()),
            ..comp(name, "A", unit)
        }
    }

    fn with_sens(c: ComponentInput, value: f64, unit: &str) -> ComponentInput {
        ComponentInput {
            sensitivity: Some(SensitivityInput::Quantity(ValueUnit {
                value,
                unit: unit.into(),
            })),
            ..c
        }
    }

    fn budget(unit: &str, p: Option<f64>, components: Vec<ComponentInput>) -> BudgetRequest {
        BudgetRequest {
            measurand: Measurand {
                name: "y".into(),
                unit: unit.into(),
            },
            coverage_probability: p,
            components,
        }
    }

    fn ok(b: &BudgetRequest) -> BudgetResult {
        evaluate(b).unwrap_or_else(|e| panic!("unexpected errors: {e:?}"))
    }

    fn fields(b: &BudgetRequest) -> Vec<String> {
        match evaluate(b) {
            Ok(r) => panic!("expected errors, got {r:?}"),
            Err(e) => e.into_iter().map(|e| e.field).collect(),
        }
    }

    fn has_error(b: &BudgetRequest, field: &str) {
        let f = fields(b);
        assert!(
            f.iter().any(|x| x == field),
            "expected error on {field}, got {f:?}"
        );
    }

    /// The example request of DESIGN.md section 5, parsed from its JSON.
    const DESIGN_EXAMPLE: &str = r#"{
      "measurand": {"name": "Gauge block length deviation", "unit": "nm"},
      "coverage_probability": 0.9545,
      "components": [
        {"name": "repeatability", "type": "A", "readings": [12, 15, 11, 14, 13], "unit": "nm"},
        {"name": "reference certificate", "type": "B", "distribution": "normal",
         "expanded_uncertainty": 25, "coverage_factor": 2, "unit": "nm"},
        {"name": "resolution", "type": "B", "distribution": "rectangular", "half_width": 5, "unit": "nm"},
        {"name": "thermal", "type": "B", "distribution": "rectangular", "half_width": 0.5, "unit": "K",
         "sensitivity": {"value": 575, "unit": "nm/K"}, "degrees_of_freedom": 50}
      ]
    }"#;

    #[test]
    fn design_example_gives_the_contract_figures() {
        let req: BudgetRequest = serde_json::from_str(DESIGN_EXAMPLE).unwrap();
        let r = ok(&req);
        assert_close!(
            r.combined_standard_uncertainty.value,
            166.48473403488583,
            1e-12
        );
        assert_eq!(r.combined_standard_uncertainty.unit, "nm");
        assert_close!(
            r.effective_degrees_of_freedom.unwrap(),
            50.60096304657177,
            1e-12
        );
        assert_close!(r.coverage_factor, 2.0512507818518815, 1e-10);
        assert_close!(r.expanded_uncertainty.value, 341.5019408554621, 1e-10);
        assert_eq!(r.coverage_probability, 0.9545);
        let rep = &r.components[0];
        assert_close!(
            rep.standard_uncertainty.value,
            std::f64::consts::FRAC_1_SQRT_2,
            1e-14
        );
        assert_eq!(
            rep.sensitivity,
            ValueUnit {
                value: 1.0,
                unit: "1".into()
            }
        );
        assert_eq!(rep.degrees_of_freedom, Some(4.0));
        assert_close!(rep.percent_of_variance, 0.0018039361887638825, 1e-9);
        let th = &r.components[3];
        assert_close!(th.standard_uncertainty.value, 0.28867513459481287, 1e-14);
        assert_eq!(th.standard_uncertainty.unit, "K");
        assert_eq!(
            th.sensitivity,
            ValueUnit {
                value: 575.0,
                unit: "nm/K".into()
            }
        );
        assert_close!(th.contribution.value, 165.98820239201743, 1e-12);
        assert_eq!(th.contribution.unit, "nm");
        assert_close!(th.percent_of_variance, 99.40440040167645, 1e-12);
        assert_eq!(r.components[1].degrees_of_freedom, None);
        let total: f64 = r.components.iter().map(|c| c.percent_of_variance).sum();
        assert_close!(total, 100.0, 1e-12);
    }

    #[test]
    fn response_json_has_the_contract_shape() {
        let mut req: BudgetRequest = serde_json::from_str(DESIGN_EXAMPLE).unwrap();
        req.components[1].standard = Some(9);
        let v = serde_json::to_value(ok(&req)).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for k in [
            "measurand",
            "combined_standard_uncertainty",
            "effective_degrees_of_freedom",
            "coverage_factor",
            "coverage_probability",
            "expanded_uncertainty",
            "components",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        assert_eq!(keys.len(), 7);
        assert_eq!(v["measurand"]["name"], "Gauge block length deviation");
        assert_eq!(v["expanded_uncertainty"]["unit"], "nm");
        let c0 = v["components"][0].as_object().unwrap();
        assert!(
            !c0.contains_key("standard"),
            "standard is skipped when absent"
        );
        assert_eq!(c0.len(), 6);
        assert_eq!(v["components"][1]["standard"], 9);
        assert!(v["components"][1]["degrees_of_freedom"].is_null());
        assert_eq!(v["components"][0]["sensitivity"]["unit"], "1");
        // all ν infinite → effective_degrees_of_freedom null
        let req = budget("nm", None, vec![rect("r", 1.0, "nm")]);
        let v = serde_json::to_value(ok(&req)).unwrap();
        assert!(v["effective_degrees_of_freedom"].is_null());
        assert_eq!(v["coverage_probability"], 0.9545);
    }

    #[test]
    fn request_json_is_strict_and_accepts_both_sensitivity_forms() {
        let base = |extra: &str| {
            format!(
                r#"{{"measurand": {{"name": "m", "unit": "nm"}}, "components": [
                {{"name": "a", "type": "B", "distribution": "rectangular", "half_width": 1, "unit": "nm"{extra}}}]}}"#
            )
        };
        let r: BudgetRequest = serde_json::from_str(&base(r#", "sensitivity": -2.5"#)).unwrap();
        assert_eq!(
            r.components[0].sensitivity,
            Some(SensitivityInput::Number(-2.5))
        );
        let r: BudgetRequest = serde_json::from_str(&base(
            r#", "sensitivity": {"value": 2, "unit": "1"}, "standard": 4"#,
        ))
        .unwrap();
        assert!(matches!(
            r.components[0].sensitivity,
            Some(SensitivityInput::Quantity(_))
        ));
        assert_eq!(r.components[0].standard, Some(4));
        assert!(serde_json::from_str::<BudgetRequest>(&base(r#", "halfwidth": 1"#)).is_err());
        assert!(serde_json::from_str::<BudgetRequest>(
            r#"{"measurand": {"name": "m", "unit": "nm", "x": 1}, "components": []}"#
        )
        .is_err());
        // round trip of a stored budget
        let req: BudgetRequest = serde_json::from_str(DESIGN_EXAMPLE).unwrap();
        let again: BudgetRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(req, again);
    }

    /// GUM H.1: end gauge calibration, inputs of the worked-examples table.
    fn gum_h1() -> BudgetRequest {
        budget(
            "nm",
            Some(0.99),
            vec![
                ComponentInput {
                    distribution: Some("normal".into()),
                    standard_uncertainty: Some(25.0),
                    degrees_of_freedom: Some(18.0),
                    ..comp("l_s calibration", "B", "nm")
                },
                // s_p chosen so that u = s_p/√5 = 5.8 nm; ν = 24 from the 25 earlier readings.
                ComponentInput {
                    readings: Some(vec![215.0, 214.0, 216.0, 215.0, 215.0]),
                    pooled: Some(PooledInput {
                        standard_deviation: 5.8 * 5f64.sqrt(),
                        degrees_of_freedom: 24.0,
                    }),
                    ..comp("d repeatability", "A", "nm")
                },
                ComponentInput {
                    degrees_of_freedom: Some(5.0),
                    ..normal_u("d random comparator", 3.9, "nm")
                },
                ComponentInput {
                    degrees_of_freedom: Some(8.0),
                    ..normal_u("d systematic comparator", 6.7, "nm")
                },
                // δα: ±1e-6 /K rectangular; c = −l_s·θ = −(5e7 nm)(−0.1 K) = +5.0e6 nm·K.
                with_sens(
                    ComponentInput {
                        degrees_of_freedom: Some(50.0),
                        ..rect("delta alpha", 1e-6, "1/K")
                    },
                    5.0e6,
                    "nm*K",
                ),
                // δθ: ±0.05 °C rectangular (an interval: 0.05 K); c = −l_s·α_s = −575 nm/K.
                with_sens(
                    ComponentInput {
                        degrees_of_freedom: Some(2.0),
                        ..rect("delta theta", 0.05, "degC")
                    },
                    -575.0,
                    "nm/K",
                ),
            ],
        )
    }

    #[test]
    fn gum_h1_end_gauge() {
        let r = ok(&gum_h1());
        assert_close!(
            r.combined_standard_uncertainty.value,
            31.663767411138345,
            1e-12
        );
        assert_close!(
            r.effective_degrees_of_freedom.unwrap(),
            16.752147509190177,
            1e-10
        );
        assert_close!(r.coverage_factor, 2.9207816224251, 1e-10);
        assert_close!(r.expanded_uncertainty.value, 92.48294995119566, 1e-10);
        assert_close!(r.components[1].standard_uncertainty.value, 5.8, 1e-14);
        assert_eq!(r.components[1].degrees_of_freedom, Some(24.0));
        assert_close!(r.components[4].contribution.value, 5.0 / 3f64.sqrt(), 1e-12); // 2.9 nm
        assert_close!(
            r.components[5].contribution.value,
            575.0 * 0.05 / 3f64.sqrt(),
            1e-12
        ); // 16.6 nm
        assert_eq!(r.components[5].sensitivity.value, -575.0);
        // published: 32 nm, k 2.92, U99 = 93 nm (rounded intermediates); k95 at ν = 16 = 2.12
        assert_close!(
            coverage_factor(0.95, r.effective_degrees_of_freedom),
            2.1199052992212546,
            1e-10
        );
        let shown = round_for_display(0.0, r.expanded_uncertainty.value);
        assert_eq!(shown.expanded_uncertainty, "92");
    }

    /// EA-4/02 S2 with the GUM Workbench inputs. δm: three comparisons (+10, +30, +20 mg) with a
    /// standard deviation pooled from a previous evaluation of the comparator (25 mg, ν = 50)
    /// and this series (10 mg, ν = 2): s_p² = (50·25² + 2·10²)/52, ν_p = 52. That reproduces
    /// Workbench's u_c = 0.029 146 513 g to 10 digits; GUM 4.2.4 then gives ν_eff = 923 (Workbench
    /// prints 122 from a ν it does not show); either way k ≈ 2.
    fn ea4_02_s2(pooled_nu: Option<f64>, p: Option<f64>) -> BudgetRequest {
        let mg = 1e-3;
        let s_p = ((50.0 * 625.0 + 2.0 * 100.0) / 52.0f64).sqrt() * mg;
        let delta_m = match pooled_nu {
            Some(nu) => ComponentInput {
                readings: Some(vec![0.010, 0.030, 0.020]),
                pooled: Some(PooledInput {
                    standard_deviation: s_p,
                    degrees_of_freedom: nu,
                }),
                ..comp("delta m", "A", "g")
            },
            None => normal_u("delta m", s_p / 3f64.sqrt(), "g"),
        };
        budget(
            "g",
            p,
            vec![
                ComponentInput {
                    distribution: Some("normal".into()),
                    expanded_uncertainty: Some(45.0),
                    coverage_factor: Some(2.0),
                    ..comp("m_S", "B", "mg")
                },
                rect("delta m_D", 15.0, "mg"),
                delta_m,
                rect("delta m_C", 10.0, "mg"),
                rect("delta B", 0.010, "g"),
            ],
        )
    }

    #[test]
    fn ea4_02_s2_weight() {
        let r = ok(&ea4_02_s2(Some(52.0), None));
        assert_close!(
            r.combined_standard_uncertainty.value,
            0.0291465131827805,
            1e-9
        );
        assert_close!(
            r.combined_standard_uncertainty.value,
            0.02914651318372801,
            1e-12
        );
        assert_close!(
            r.effective_degrees_of_freedom.unwrap(),
            923.3315379346427,
            1e-9
        );
        assert_close!(r.coverage_factor, 2.002714609991313, 1e-10);
        assert_close!(r.expanded_uncertainty.value, 0.05837214778335651, 1e-10);
        let pct: Vec<f64> = r.components.iter().map(|c| c.percent_of_variance).collect();
        for (got, want) in pct.iter().zip([59.6, 8.8, 23.7, 3.9, 3.9]) {
            assert!((got - want).abs() < 0.05, "{pct:?}");
        }
        assert_close!(pct[0], 59.59252971137521, 1e-10);
        assert_close!(pct[2], 23.73137143935107, 1e-10);
        // the m_S certificate in mg, reported in its own unit, contributing in g
        assert_close!(r.components[0].standard_uncertainty.value, 22.5, 1e-15);
        assert_eq!(r.components[0].standard_uncertainty.unit, "mg");
        assert_close!(r.components[0].contribution.value, 0.0225, 1e-14);
        // m_X = 10 000.025 g, printed with U at k = 2
        let shown = round_for_display(10_000.025, r.expanded_uncertainty.value);
        assert_eq!(
            (shown.value.as_str(), shown.expanded_uncertainty.as_str()),
            ("10000.025", "0.058")
        );

        // All ν infinite (δm as a stated normal u) and p = erf(√2): k = 2, U = 0.058 293 g.
        let r = ok(&ea4_02_s2(None, Some(0.9544997361036416)));
        assert_eq!(r.effective_degrees_of_freedom, None);
        assert_close!(r.coverage_factor, 2.0, 1e-12);
        assert_close!(
            r.expanded_uncertainty.value,
            2.0 * 0.02914651318372801,
            1e-12
        );
    }

    #[test]
    fn each_distribution_by_hand() {
        let u_of = |c: ComponentInput| {
            ok(&budget("nm", None, vec![c])).components[0]
                .standard_uncertainty
                .value
        };
        assert_close!(u_of(rect("r", 3f64.sqrt(), "nm")), 1.0, 1e-15);
        assert_close!(u_of(rect("r", 6.0, "nm")), 6.0 / 3f64.sqrt(), 1e-15);
        let tri = |a| ComponentInput {
            distribution: Some("triangular".into()),
            ..rect("t", a, "nm")
        };
        assert_close!(u_of(tri(6f64.sqrt())), 1.0, 1e-15);
        assert_close!(u_of(tri(3.0)), 3.0 / 6f64.sqrt(), 1e-15);
        let ush = |a| ComponentInput {
            distribution: Some("u_shaped".into()),
            ..rect("u", a, "nm")
        };
        assert_close!(u_of(ush(2f64.sqrt())), 1.0, 1e-15);
        assert_close!(u_of(ush(4.0)), 4.0 / 2f64.sqrt(), 1e-15);
        let norm_k = |big_u, k| ComponentInput {
            distribution: Some("normal".into()),
            expanded_uncertainty: Some(big_u),
            coverage_factor: Some(k),
            ..comp("n", "B", "nm")
        };
        assert_close!(u_of(norm_k(4.0, 2.0)), 2.0, 1e-15);
        assert_close!(u_of(norm_k(2.58, 2.58)), 1.0, 1e-15);
        assert_close!(u_of(normal_u("s", 0.3, "nm")), 0.3, 1e-15);
        // a zero half-width is allowed beside a contributing component
        let r = ok(&budget(
            "nm",
            None,
            vec![rect("zero", 0.0, "nm"), normal_u("s", 1.0, "nm")],
        ));
        assert_eq!(r.components[0].percent_of_variance, 0.0);
        // single infinite-ν component: k is the normal quantile
        let r = ok(&budget("nm", None, vec![normal_u("s", 1.0, "nm")]));
        assert_close!(r.coverage_factor, 2.0000024438996027, 1e-12);
        // Type B stated ν
        let r = ok(&budget(
            "nm",
            Some(0.95),
            vec![ComponentInput {
                degrees_of_freedom: Some(16.0),
                ..normal_u("s", 1.0, "nm")
            }],
        ));
        assert_eq!(r.effective_degrees_of_freedom, Some(16.0));
        assert_close!(r.coverage_factor, 2.1199052992212546, 1e-10);
    }

    #[test]
    fn type_a_two_to_ten_readings() {
        // readings 1..n: s² = n(n + 1)/12, so u = √((n + 1)/12), ν = n − 1
        for n in 2..=10usize {
            let r: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            let res = ok(&budget("mV", None, vec![readings("a", &r, "mV")]));
            let c = &res.components[0];
            assert_close!(
                c.standard_uncertainty.value,
                ((n as f64 + 1.0) / 12.0).sqrt(),
                1e-14
            );
            assert_eq!(c.degrees_of_freedom, Some((n - 1) as f64));
            assert_eq!(res.effective_degrees_of_freedom, Some((n - 1) as f64));
            assert_close!(
                res.coverage_factor,
                coverage_factor(0.9545, Some((n - 1) as f64)),
                1e-15
            );
        }
        // hand-computed: 10.01, 10.03, 9.98, 10.02 → mean 10.01, s = 0.021602469, u = 0.010801234
        let res = ok(&budget(
            "V",
            None,
            vec![readings("a", &[10.01, 10.03, 9.98, 10.02], "V")],
        ));
        assert_close!(
            res.components[0].standard_uncertainty.value,
            0.010801234497346,
            1e-10
        );
        // negative readings and a large offset do not disturb s
        let res = ok(&budget(
            "V",
            None,
            vec![readings("a", &[-1e9 - 1.0, -1e9 + 1.0], "V")],
        ));
        assert_close!(res.components[0].standard_uncertainty.value, 1.0, 1e-6);
        // pooled: u = s_p/√n, ν = ν_p, n = 1 is fine
        let pooled = ComponentInput {
            readings: Some(vec![3.0]),
            pooled: Some(PooledInput {
                standard_deviation: 0.4,
                degrees_of_freedom: 30.0,
            }),
            ..comp("p", "A", "V")
        };
        let res = ok(&budget("V", None, vec![pooled]));
        assert_close!(res.components[0].standard_uncertainty.value, 0.4, 1e-15);
        assert_eq!(res.effective_degrees_of_freedom, Some(30.0));
        // huge readings do not overflow the squares
        let res = ok(&budget(
            "V",
            None,
            vec![readings("a", &[1e300, -1e300], "V")],
        ));
        assert_close!(res.components[0].standard_uncertainty.value, 1e300, 1e-12);
    }

    #[test]
    fn components_in_other_prefixes_are_converted() {
        // 0.5 µm standard uncertainty into an nm budget: contribution 500 nm, u shown in µm
        for micro in ["um", "µm", "μm"] {
            let r = ok(&budget("nm", None, vec![normal_u("x", 0.5, micro)]));
            assert_close!(r.components[0].standard_uncertainty.value, 0.5, 1e-15);
            assert_eq!(r.components[0].standard_uncertainty.unit, micro);
            assert_close!(r.components[0].contribution.value, 500.0, 1e-12);
            assert_close!(r.combined_standard_uncertainty.value, 500.0, 1e-12);
        }
        // mixed prefixes: 3 nm and 0.004 µm → u_c = 5 nm; in a mm budget 5e-6 mm
        let parts = || vec![normal_u("a", 3.0, "nm"), normal_u("b", 0.004, "um")];
        assert_close!(
            ok(&budget("nm", None, parts()))
                .combined_standard_uncertainty
                .value,
            5.0,
            1e-12
        );
        assert_close!(
            ok(&budget("mm", None, parts()))
                .combined_standard_uncertainty
                .value,
            5e-6,
            1e-12
        );
        assert_close!(
            ok(&budget("m", None, parts()))
                .combined_standard_uncertainty
                .value,
            5e-9,
            1e-12
        );
        // mass: kg measurand, g and mg components
        let r = ok(&budget(
            "kg",
            None,
            vec![normal_u("a", 300.0, "mg"), normal_u("b", 0.4, "g")],
        ));
        assert_close!(r.combined_standard_uncertainty.value, 5e-4, 1e-12);
        // pressure: psi component into a kPa budget
        let r = ok(&budget("kPa", None, vec![normal_u("a", 1.0, "psi")]));
        assert_close!(
            r.combined_standard_uncertainty.value,
            6.894757293168361,
            1e-12
        );
    }

    #[test]
    fn temperature_uncertainties_are_intervals() {
        let in_k = |c: ComponentInput| {
            ok(&budget("K", None, vec![c]))
                .combined_standard_uncertainty
                .value
        };
        // 0.5 °C of uncertainty is 0.5 K, never 273.65 K
        assert_close!(in_k(normal_u("t", 0.5, "degC")), 0.5, 1e-15);
        assert_close!(in_k(normal_u("t", 0.5, "°C")), 0.5, 1e-15);
        assert_close!(in_k(normal_u("t", 0.5, "K")), 0.5, 1e-15);
        assert_close!(in_k(normal_u("t", 500.0, "mK")), 0.5, 1e-12);
        // 0.5 °F of uncertainty is 0.2778 K
        assert_close!(in_k(normal_u("t", 0.5, "degF")), 0.5 * 5.0 / 9.0, 1e-12);
        assert_close!(
            in_k(normal_u("t", 0.5, "°F")),
            0.277_777_777_777_777_8,
            1e-12
        );
        // a °C measurand reports in kelvin-sized degrees; a °F half-width converts to it
        let r = ok(&budget(
            "degC",
            None,
            vec![rect("t", 0.9, "degF"), normal_u("m", 300.0, "mK")],
        ));
        assert_close!(r.components[0].contribution.value, 0.5 / 3f64.sqrt(), 1e-12);
        assert_close!(r.components[1].contribution.value, 0.3, 1e-12);
        assert_eq!(r.components[0].standard_uncertainty.unit, "degF");
        // through a sensitivity in nm/K: a °F interval times nm/K
        let r = ok(&budget(
            "nm",
            None,
            vec![with_sens(normal_u("t", 0.9, "degF"), 575.0, "nm/K")],
        ));
        assert_close!(r.combined_standard_uncertainty.value, 575.0 * 0.5, 1e-12);
        let r = ok(&budget(
            "nm",
            None,
            vec![with_sens(normal_u("t", 0.5, "degC"), 575.0, "nm/degC")],
        ));
        assert_close!(r.combined_standard_uncertainty.value, 287.5, 1e-12);
    }

    #[test]
    fn sensitivities_with_units() {
        // 2 kPa through 0.5 mV/kPa → 1 mV; reported in V: 0.001 V
        let c = with_sens(normal_u("p", 2.0, "kPa"), 0.5, "mV/kPa");
        let r = ok(&budget("mV", None, vec![c.clone()]));
        assert_close!(r.combined_standard_uncertainty.value, 1.0, 1e-12);
        assert_eq!(
            r.components[0].sensitivity,
            ValueUnit {
                value: 0.5,
                unit: "mV/kPa".into()
            }
        );
        assert_close!(
            ok(&budget("V", None, vec![c]))
                .combined_standard_uncertainty
                .value,
            1e-3,
            1e-12
        );
        // the same pressure in MPa with V/MPa
        let c = with_sens(normal_u("p", 0.002, "MPa"), 0.0005 * 1e3, "V/MPa");
        assert_close!(
            ok(&budget("mV", None, vec![c]))
                .combined_standard_uncertainty
                .value,
            1.0,
            1e-12
        );
        // negative bare-number sensitivity: contribution |c|·u, unit "1"
        let c = ComponentInput {
            sensitivity: Some(SensitivityInput::Number(-3.0)),
            ..normal_u("x", 2.0, "nm")
        };
        let r = ok(&budget("nm", None, vec![c]));
        assert_close!(r.components[0].contribution.value, 6.0, 1e-15);
        assert_eq!(
            r.components[0].sensitivity,
            ValueUnit {
                value: -3.0,
                unit: "1".into()
            }
        );
        // dimensionless sensitivity with a unit and prefixes: nm component, µm/nm-free c in "1"
        let c = with_sens(normal_u("x", 2.0, "um"), 1.5, "1");
        assert_close!(
            ok(&budget("nm", None, vec![c]))
                .combined_standard_uncertainty
                .value,
            3000.0,
            1e-12
        );
        // 1/K component times nm*K
        let c = with_sens(rect("a", 3f64.sqrt() * 1e-6, "1/K"), 5e6, "nm*K");
        assert_close!(
            ok(&budget("um", None, vec![c]))
                .combined_standard_uncertainty
                .value,
            5e-3,
            1e-12
        );
    }

    #[test]
    fn the_t_density_is_statrs_own_to_the_bit() {
        use statrs::distribution::Continuous;
        for nu in (3..=1000).step_by(7).map(f64::from) {
            let density = t_density(nu);
            let statrs = StudentsT::new(0.0, 1.0, nu).unwrap();
            for t in [0.0, 0.3, 1.0, 1.96, 2.0, 2.87, 4.5, 12.0, 60.0] {
                assert_eq!(
                    density(t).to_bits(),
                    statrs.pdf(t).to_bits(),
                    "ν {nu}, t {t}"
                );
            }
        }
    }

    #[test]
    fn coverage_factors() {
        let cases = [
            (0.95, 16.0, 2.1199052992212546),
            (0.9545, 4.0, 2.8693151696963826),
            (0.6827, 1.0, 1.837409429490547),
            (0.99, 2.0, 9.924843200918287),
            (0.9973, 3.0, 9.218701822037435),
            (0.95, 1000.0, 1.9623390808264083),
            (0.95, 1001.0, 1.9623367052808798),
            (0.95, 100000.0, 1.9599877075346095),
        ];
        for (p, nu, k) in cases {
            assert_close!(coverage_factor(p, Some(nu)), k, 1e-10);
        }
        assert_close!(coverage_factor(0.95, None), 1.959963984540054, 1e-12);
        assert_eq!(
            coverage_factor(0.95, None),
            coverage_factor(0.95, Some(f64::INFINITY))
        );
        // ⌊ν_eff⌋ with a 1e-9 tolerance
        assert_eq!(
            coverage_factor(0.95, Some(16.75)),
            coverage_factor(0.95, Some(16.0))
        );
        assert_eq!(
            coverage_factor(0.95, Some(16.9999999999)),
            coverage_factor(0.95, Some(17.0))
        );
        assert_eq!(
            coverage_factor(0.95, Some(16.99)),
            coverage_factor(0.95, Some(16.0))
        );
        assert!(coverage_factor(0.0, None).is_nan() && coverage_factor(1.0, Some(3.0)).is_nan());
        // monotone in ν and p, and finite for enormous ν (statrs alone never returns there)
        let mut prev = f64::INFINITY;
        for nu in [
            1.0, 2.0, 3.0, 10.0, 999.0, 1000.0, 1001.0, 1e4, 1e6, 1e9, 1e15,
        ] {
            let k = coverage_factor(0.9545, Some(nu));
            assert!(
                k < prev && k > coverage_factor(0.9545, None),
                "ν = {nu}: {k}"
            );
            prev = k;
        }
    }

    #[test]
    fn display_rounding() {
        let r = |big_u: f64| round_for_display(0.0, big_u);
        // 0.0123 → 0.012: ordinary rounding lowers it 2.4 %, within 5 %
        assert_eq!(r(0.0123).expanded_uncertainty, "0.012");
        assert_eq!(r(0.0123).decimals, 3);
        // 1.049 → 1.0 is 4.7 % low, still within 5 %
        assert_eq!(r(1.049).expanded_uncertainty, "1.0");
        // 0.1051 rounds up to 0.11 in any case
        assert_eq!(r(0.1051).expanded_uncertainty, "0.11");
        assert_eq!(
            r(0.0125).expanded_uncertainty,
            "0.013",
            "decimal tie rounds half up"
        );
        assert_eq!(r(0.0995).expanded_uncertainty, "0.10");
        assert_eq!(r(0.0995).decimals, 2);
        assert_eq!(r(99.4).expanded_uncertainty, "99");
        assert_eq!(
            (r(99.5).expanded_uncertainty.as_str(), r(99.5).decimals),
            ("100", -1)
        );
        assert_eq!(
            (r(1234.0).expanded_uncertainty.as_str(), r(1234.0).decimals),
            ("1200", -2)
        );
        assert_eq!(round_for_display(10034.6, 1234.0).value, "10000");
        assert_eq!(round_for_display(10051.0, 1234.0).value, "10100");
        assert_eq!(r(2.0).expanded_uncertainty, "2.0");
        assert_eq!(r(5e-7).expanded_uncertainty, "0.00000050");
        // the value to U's decimal place (GUM 7.2.6)
        assert_eq!(round_for_display(2.345, 0.12).value, "2.35");
        assert_eq!(round_for_display(10.0, 0.12).value, "10.00");
        assert_eq!(round_for_display(-0.0125, 0.0123).value, "-0.013");
        assert_eq!(round_for_display(-0.0004, 0.0123).value, "0.000");
        assert_eq!(round_for_display(0.0, 0.0123).value, "0.000");
        assert_eq!(round_for_display(0.5003, 0.00023).value, "0.50030");
        assert_eq!(round_for_display(1e-9, 0.5).value, "0.00");
        assert_eq!(rounded_expanded_uncertainty(0.0123), 0.012);
        assert_eq!(rounded_expanded_uncertainty(1234.0), 1200.0);
        assert_eq!(rounded_expanded_uncertainty(0.0995), 0.1);
        // nothing to round to
        assert_eq!(r(0.0).decimals, 0);
    }

    #[test]
    fn every_error_names_its_field() {
        let one = |c: ComponentInput| budget("nm", None, vec![c]);
        has_error(&budget("nm", None, vec![]), "components");
        has_error(
            &budget("nm", None, vec![rect("a", 1.0, "nm"), rect("a", 2.0, "nm")]),
            "components[1].name",
        );
        has_error(&one(rect(" ", 1.0, "nm")), "components[0].name");
        has_error(
            &one(ComponentInput {
                kind: "C".into(),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].type",
        );
        has_error(
            &one(ComponentInput {
                distribution: Some("gaussian".into()),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].distribution",
        );
        has_error(
            &one(ComponentInput {
                distribution: None,
                ..rect("a", 1.0, "nm")
            }),
            "components[0].distribution",
        );
        has_error(&one(rect("a", 1.0, "furlong")), "components[0].unit");
        has_error(
            &budget("parsec", None, vec![rect("a", 1.0, "nm")]),
            "measurand.unit",
        );
        has_error(
            &one(with_sens(rect("a", 1.0, "K"), 1.0, "nm/fortnight")),
            "components[0].sensitivity.unit",
        );
        // dimension mismatch: K into nm without / with a wrong sensitivity
        has_error(&one(rect("a", 1.0, "K")), "components[0].unit");
        has_error(
            &one(with_sens(rect("a", 1.0, "K"), 575.0, "nm/s")),
            "components[0].sensitivity.unit",
        );
        has_error(
            &one(with_sens(rect("a", 1.0, "nm"), 5.0, "nm/K")),
            "components[0].sensitivity.unit",
        );
        // non-finite numbers
        has_error(&one(rect("a", f64::NAN, "nm")), "components[0].half_width");
        has_error(
            &one(readings("a", &[1.0, f64::INFINITY, 2.0], "nm")),
            "components[0].readings[1]",
        );
        has_error(
            &one(ComponentInput {
                sensitivity: Some(SensitivityInput::Number(f64::NAN)),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].sensitivity",
        );
        has_error(
            &one(with_sens(rect("a", 1.0, "nm"), f64::INFINITY, "1")),
            "components[0].sensitivity.value",
        );
        has_error(
            &one(normal_u("a", f64::INFINITY, "nm")),
            "components[0].standard_uncertainty",
        );
        has_error(
            &one(ComponentInput {
                degrees_of_freedom: Some(f64::NAN),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].degrees_of_freedom",
        );
        has_error(
            &budget("nm", Some(f64::NAN), vec![rect("a", 1.0, "nm")]),
            "coverage_probability",
        );
        let norm_k = |big_u: f64, k: f64| ComponentInput {
            distribution: Some("normal".into()),
            expanded_uncertainty: Some(big_u),
            coverage_factor: Some(k),
            ..comp("a", "B", "nm")
        };
        has_error(
            &one(norm_k(f64::INFINITY, 2.0)),
            "components[0].expanded_uncertainty",
        );
        has_error(&one(norm_k(1.0, f64::NAN)), "components[0].coverage_factor");
        // results that overflow
        has_error(
            &one(ComponentInput {
                sensitivity: Some(SensitivityInput::Number(1e300)),
                ..rect("a", 1e300, "nm")
            }),
            "components[0].sensitivity",
        );
        has_error(
            &one(norm_k(1e300, 1e-300)),
            "components[0].expanded_uncertainty",
        );
        has_error(
            &budget(
                "nm",
                None,
                vec![normal_u("a", 1.5e308, "nm"), normal_u("b", 1.5e308, "nm")],
            ),
            "components",
        );
        has_error(&one(normal_u("a", 1.5e308, "nm")), "components"); // U = k·u_c
        has_error(
            &one(normal_u("a", 1e300, "m")),
            "components[0].standard_uncertainty",
        ); // 1e309 nm
           // negative half-width, uncertainties, degrees of freedom
        has_error(&one(rect("a", -1.0, "nm")), "components[0].half_width");
        has_error(
            &one(norm_k(-1.0, 2.0)),
            "components[0].expanded_uncertainty",
        );
        has_error(
            &one(normal_u("a", -0.1, "nm")),
            "components[0].standard_uncertainty",
        );
        has_error(
            &one(ComponentInput {
                degrees_of_freedom: Some(-3.0),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].degrees_of_freedom",
        );
        let pooled = |sd: f64, nu: f64, r: Vec<f64>| ComponentInput {
            readings: Some(r),
            pooled: Some(PooledInput {
                standard_deviation: sd,
                degrees_of_freedom: nu,
            }),
            ..comp("a", "A", "nm")
        };
        has_error(
            &one(pooled(-1.0, 5.0, vec![1.0])),
            "components[0].pooled.standard_deviation",
        );
        has_error(
            &one(pooled(1.0, -5.0, vec![1.0])),
            "components[0].pooled.degrees_of_freedom",
        );
        // n < 2 without pooled, n < 1 with it
        has_error(&one(readings("a", &[1.0], "nm")), "components[0].readings");
        has_error(&one(readings("a", &[], "nm")), "components[0].readings");
        has_error(&one(pooled(1.0, 5.0, vec![])), "components[0].readings");
        has_error(&one(comp("a", "A", "nm")), "components[0].readings");
        // ν < 1
        has_error(
            &one(ComponentInput {
                degrees_of_freedom: Some(0.5),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].degrees_of_freedom",
        );
        has_error(
            &one(pooled(1.0, 0.0, vec![1.0])),
            "components[0].pooled.degrees_of_freedom",
        );
        // p outside (0, 1)
        for p in [0.0, 1.0, 1.5, -0.1] {
            has_error(
                &budget("nm", Some(p), vec![rect("a", 1.0, "nm")]),
                "coverage_probability",
            );
        }
        // k ≤ 0, and k without U / U without k
        has_error(&one(norm_k(1.0, 0.0)), "components[0].coverage_factor");
        has_error(&one(norm_k(1.0, -2.0)), "components[0].coverage_factor");
        has_error(
            &one(ComponentInput {
                coverage_factor: None,
                ..norm_k(1.0, 2.0)
            }),
            "components[0].coverage_factor",
        );
        has_error(
            &one(ComponentInput {
                coverage_factor: Some(2.0),
                ..normal_u("a", 1.0, "nm")
            }),
            "components[0].coverage_factor",
        );
        // u_c = 0
        has_error(&one(rect("a", 0.0, "nm")), "components");
        has_error(&one(readings("a", &[5.0, 5.0, 5.0], "nm")), "components");
        // stated ν on Type A
        has_error(
            &one(ComponentInput {
                degrees_of_freedom: Some(4.0),
                ..readings("a", &[1.0, 2.0], "nm")
            }),
            "components[0].degrees_of_freedom",
        );
        // normal with both, and with neither
        has_error(
            &one(ComponentInput {
                standard_uncertainty: Some(1.0),
                ..norm_k(1.0, 2.0)
            }),
            "components[0].standard_uncertainty",
        );
        has_error(
            &one(ComponentInput {
                distribution: Some("normal".into()),
                ..comp("a", "B", "nm")
            }),
            "components[0].standard_uncertainty",
        );
        // a Type B field on Type A and vice versa; a field of another distribution
        has_error(
            &one(ComponentInput {
                half_width: Some(1.0),
                ..readings("a", &[1.0, 2.0], "nm")
            }),
            "components[0].half_width",
        );
        has_error(
            &one(ComponentInput {
                distribution: Some("normal".into()),
                ..readings("a", &[1.0, 2.0], "nm")
            }),
            "components[0].distribution",
        );
        has_error(
            &one(ComponentInput {
                standard_uncertainty: Some(1.0),
                ..readings("a", &[1.0, 2.0], "nm")
            }),
            "components[0].standard_uncertainty",
        );
        has_error(
            &one(ComponentInput {
                readings: Some(vec![1.0, 2.0]),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].readings",
        );
        has_error(
            &one(ComponentInput {
                pooled: Some(PooledInput {
                    standard_deviation: 1.0,
                    degrees_of_freedom: 3.0,
                }),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].pooled",
        );
        has_error(
            &one(ComponentInput {
                standard_uncertainty: Some(1.0),
                ..rect("a", 1.0, "nm")
            }),
            "components[0].standard_uncertainty",
        );
        has_error(
            &one(ComponentInput {
                half_width: Some(1.0),
                ..normal_u("a", 1.0, "nm")
            }),
            "components[0].half_width",
        );
        has_error(
            &one(ComponentInput {
                half_width: None,
                ..rect("a", 1.0, "nm")
            }),
            "components[0].half_width",
        );
    }

    #[test]
    fn all_errors_are_collected() {
        let b = budget(
            "nm",
            Some(2.0),
            vec![
                rect("a", -1.0, "nm"),
                rect("b", 1.0, "K"),
                ComponentInput {
                    distribution: Some("cosine".into()),
                    ..rect("a", 1.0, "nm")
                },
                readings("d", &[1.0], "nm"),
            ],
        );
        let f = fields(&b);
        for want in [
            "coverage_probability",
            "components[0].half_width",
            "components[1].unit",
            "components[2].name",
            "components[2].distribution",
            "components[3].readings",
        ] {
            assert!(f.iter().any(|x| x == want), "missing {want} in {f:?}");
        }
        assert!(evaluate(&b)
            .unwrap_err()
            .iter()
            .all(|e| !e.message.is_empty()));
    }

    /// Found by fuzzing (fuzz/, budget_structured): ν = 1e308 on one component made
    /// Σ r⁴/ν subnormal and ν_eff = 1/Σ overflow to Some(inf) instead of None (infinite).
    #[test]
    fn an_overflowing_effective_degrees_of_freedom_is_infinite() {
        let component = |name: &str, half_width: f64, nu: Option<f64>| ComponentInput {
            name: name.into(),
            kind: "B".into(),
            unit: "g".into(),
            distribution: Some("rectangular".into()),
            half_width: Some(half_width),
            degrees_of_freedom: nu,
            ..Default::default()
        };
        let req = budget(
            "g",
            None,
            vec![
                component("thermal", 8.471246490094346e165, None),
                component("repeatability", 8.469446924576528e165, Some(1e308)),
            ],
        );
        let r = ok(&req);
        assert_eq!(r.effective_degrees_of_freedom, None);
        assert_close!(r.coverage_factor, 2.0, 1e-3);
        assert_eq!(
            evaluate_numbers(&req).unwrap().effective_degrees_of_freedom,
            None
        );
    }

    /// Found by fuzzing (fuzz/, budget_structured): U = 1.79e308 printed to two significant
    /// digits is 1.8e308, which parsed back as infinity.
    #[test]
    fn the_printed_u_of_a_huge_u_stays_finite() {
        for u in [1.7945389244500587e308, f64::MAX, 1.75e308] {
            let rounded = rounded_expanded_uncertainty(u);
            assert!(rounded.is_finite() && rounded >= u, "{u} -> {rounded}");
        }
        assert_eq!(rounded_expanded_uncertainty(0.0125), 0.013);
    }

    /// Found by fuzzing (fuzz/, budget_structured): p in (0, 1) but so small that
    /// (1 + p)/2 rounds to 1/2 gave k = −0 and U = 0 with a 200 response.
    #[test]
    fn a_vanishing_coverage_probability_is_refused_not_a_zero_interval() {
        let rectangular = ComponentInput {
            name: "drift".into(),
            kind: "B".into(),
            unit: "m".into(),
            distribution: Some("u_shaped".into()),
            half_width: Some(0.03),
            ..Default::default()
        };
        for p in [8.479159778813467e-168, 1e-17, f64::MIN_POSITIVE] {
            let req = budget("mm", Some(p), vec![rectangular.clone()]);
            has_error(&req, "coverage_probability");
            assert_eq!(
                evaluate_numbers(&req).unwrap_err(),
                evaluate(&req).unwrap_err()
            );
        }
        // Small but representable: k > 0 and U > 0.
        let r = ok(&budget("mm", Some(1e-6), vec![rectangular]));
        assert!(r.coverage_factor > 0.0 && r.expanded_uncertainty.value > 0.0);
        let c = Contribution {
            standard_uncertainty: 1.0,
            sensitivity: 1.0,
            degrees_of_freedom: None,
        };
        assert_eq!(
            combine(&[c], 1e-300),
            Err(CombineError::ZeroExpandedUncertainty)
        );
    }

    #[test]
    fn combine_directly() {
        let c = |u, s, nu| Contribution {
            standard_uncertainty: u,
            sensitivity: s,
            degrees_of_freedom: nu,
        };
        let r = combine(&[c(3.0, 1.0, Some(4.0)), c(2.0, -2.0, None)], 0.95).unwrap();
        assert_close!(r.combined_standard_uncertainty, 5.0, 1e-15);
        assert_close!(
            r.effective_degrees_of_freedom.unwrap(),
            625.0 / (81.0 / 4.0),
            1e-12
        );
        assert_close!(r.percent_of_variance[0], 36.0, 1e-12);
        assert_close!(r.expanded_uncertainty, r.coverage_factor * 5.0, 1e-15);
        assert_eq!(combine(&[], 0.95), Err(CombineError::NoContributions));
        assert_eq!(
            combine(&[c(0.0, 1.0, None)], 0.95),
            Err(CombineError::ZeroCombinedUncertainty)
        );
        assert_eq!(
            combine(&[c(1.0, 1.0, Some(0.5))], 0.95),
            Err(CombineError::InvalidContribution(0))
        );
        assert_eq!(
            combine(&[c(1.0, 1.0, None)], 1.0),
            Err(CombineError::InvalidCoverageProbability)
        );
        // ν_eff ≥ min ν_i, and a tiny finite-ν share makes ν_eff huge but finite
        let r = combine(&[c(1.0, 1.0, None), c(1e-6, 1.0, Some(1.0))], 0.95).unwrap();
        assert!(r.effective_degrees_of_freedom.unwrap() > 1e20);
        assert!(r.coverage_factor.is_finite());
    }

    // --- properties ------------------------------------------------------------------------

    fn component_strategy() -> impl Strategy<Value = ComponentInput> {
        let dof = prop::option::of(1.0f64..100.0);
        let sens = prop::option::of(prop_oneof![
            (-10.0f64..10.0).prop_map(SensitivityInput::Number),
            (-10.0f64..10.0).prop_map(|v| SensitivityInput::Quantity(ValueUnit {
                value: v,
                unit: "1".into()
            })),
        ]);
        let body = prop_oneof![
            prop::collection::vec(-100.0f64..100.0, 2..10).prop_map(|r| ComponentInput {
                readings: Some(r),
                ..comp("", "A", "nm")
            }),
            (
                prop::collection::vec(-100.0f64..100.0, 1..5),
                0.001f64..10.0,
                1.0f64..50.0
            )
                .prop_map(|(r, s, nu)| ComponentInput {
                    readings: Some(r),
                    pooled: Some(PooledInput {
                        standard_deviation: s,
                        degrees_of_freedom: nu
                    }),
                    ..comp("", "A", "nm")
                }),
            (
                prop_oneof![Just("rectangular"), Just("triangular"), Just("u_shaped")],
                0.001f64..100.0,
                dof.clone()
            )
                .prop_map(|(d, a, nu)| ComponentInput {
                    distribution: Some(d.into()),
                    half_width: Some(a),
                    degrees_of_freedom: nu,
                    ..comp("", "B", "nm")
                }),
            (0.001f64..100.0, 0.5f64..3.0, dof.clone()).prop_map(|(u, k, nu)| ComponentInput {
                distribution: Some("normal".into()),
                expanded_uncertainty: Some(u),
                coverage_factor: Some(k),
                degrees_of_freedom: nu,
                ..comp("", "B", "nm")
            }),
            (0.001f64..100.0, dof).prop_map(|(u, nu)| ComponentInput {
                degrees_of_freedom: nu,
                ..normal_u("", u, "nm")
            }),
        ];
        (body, sens).prop_map(|(c, s)| ComponentInput {
            sensitivity: s,
            ..c
        })
    }

    fn budget_strategy() -> impl Strategy<Value = BudgetRequest> {
        (
            prop::collection::vec(component_strategy(), 1..8),
            prop_oneof![Just(None), (0.5f64..0.999).prop_map(Some)],
        )
            .prop_map(|(cs, p)| {
                let cs = cs
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| ComponentInput {
                        name: format!("c{i}"),
                        // keep every budget non-degenerate: the first contributes for sure
                        sensitivity: if i == 0 { None } else { c.sensitivity },
                        ..c
                    })
                    .collect();
                budget("nm", p, cs)
            })
    }

    fn scaled(b: &BudgetRequest, l: f64) -> BudgetRequest {
        let mut b = b.clone();
        for c in &mut b.components {
            c.readings = c
                .readings
                .as_ref()
                .map(|r| r.iter().map(|x| x * l).collect());
            if let Some(p) = &mut c.pooled {
                p.standard_deviation *= l;
            }
            c.half_width = c.half_width.map(|x| x * l);
            c.expanded_uncertainty = c.expanded_uncertainty.map(|x| x * l);
            c.standard_uncertainty = c.standard_uncertainty.map(|x| x * l);
        }
        b
    }

    fn nu_close(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => close(a, b, 1e-9),
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn scaling_inputs_scales_uc_and_u(b in budget_strategy(), l in 1e-3f64..1e3) {
            let (Ok(r), Ok(s)) = (evaluate(&b), evaluate(&scaled(&b, l))) else { return Ok(()) };
            prop_assert!(close(s.combined_standard_uncertainty.value, l * r.combined_standard_uncertainty.value, 1e-9));
            prop_assert!(close(s.expanded_uncertainty.value, l * r.expanded_uncertainty.value, 1e-9));
            prop_assert!(nu_close(s.effective_degrees_of_freedom, r.effective_degrees_of_freedom));
        }

        #[test]
        fn a_zero_component_changes_nothing(b in budget_strategy(), nu in prop::option::of(1.0f64..30.0), at in 0usize..8) {
            let Ok(r) = evaluate(&b) else { return Ok(()) };
            let mut with = b.clone();
            let zero = ComponentInput { degrees_of_freedom: nu, ..rect("zero", 0.0, "um") };
            with.components.insert(at.min(b.components.len()), zero);
            let z = evaluate(&with).unwrap();
            prop_assert_eq!(z.combined_standard_uncertainty.value, r.combined_standard_uncertainty.value);
            prop_assert_eq!(z.effective_degrees_of_freedom, r.effective_degrees_of_freedom);
            prop_assert_eq!(z.coverage_factor, r.coverage_factor);
            prop_assert_eq!(z.expanded_uncertainty.value, r.expanded_uncertainty.value);
            prop_assert_eq!(z.components.iter().find(|c| c.name == "zero").unwrap().percent_of_variance, 0.0);
        }

        #[test]
        fn order_does_not_matter(b in budget_strategy(), seed in any::<u64>()) {
            let Ok(r) = evaluate(&b) else { return Ok(()) };
            let mut shuffled = b.clone();
            let n = shuffled.components.len();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.components.swap(i, (s >> 33) as usize % (i + 1));
            }
            let t = evaluate(&shuffled).unwrap();
            prop_assert!(close(t.combined_standard_uncertainty.value, r.combined_standard_uncertainty.value, 1e-12));
            prop_assert!(nu_close(t.effective_degrees_of_freedom, r.effective_degrees_of_freedom));
            prop_assert!(close(t.expanded_uncertainty.value, r.expanded_uncertainty.value, 1e-9));
            for c in &t.components {
                let o = r.components.iter().find(|o| o.name == c.name).unwrap();
                prop_assert_eq!(c.contribution.value, o.contribution.value);
                prop_assert!((c.percent_of_variance - o.percent_of_variance).abs() < 1e-9);
            }
        }

        #[test]
        fn uc_bounds_every_contribution(b in budget_strategy()) {
            let Ok(r) = evaluate(&b) else { return Ok(()) };
            let u_c = r.combined_standard_uncertainty.value;
            let largest = r.components.iter().map(|c| c.contribution.value).fold(0.0, f64::max);
            let sum: f64 = r.components.iter().map(|c| c.contribution.value).sum();
            prop_assert!(u_c >= largest * (1.0 - 1e-15) && u_c <= sum * (1.0 + 1e-12));
            let pct: f64 = r.components.iter().map(|c| c.percent_of_variance).sum();
            prop_assert!((pct - 100.0).abs() < 1e-9);
            if let Some(nu) = r.effective_degrees_of_freedom {
                let min_nu = r.components.iter().filter(|c| c.contribution.value > 0.0).filter_map(|c| c.degrees_of_freedom).fold(f64::INFINITY, f64::min);
                prop_assert!(nu >= min_nu * (1.0 - 1e-12));
            }
            prop_assert!(r.coverage_factor > 0.0 && r.expanded_uncertainty.value == r.coverage_factor * u_c);
        }

        #[test]
        fn rounded_u_has_two_digits_and_stays_within_5_percent(u in 1e-12f64..1e12) {
            let shown = rounded_expanded_uncertainty(u);
            prop_assert!(shown >= 0.95 * u && shown <= 1.05 * u, "{} -> {}", u, shown);
            let text = round_for_display(0.0, u).expanded_uncertainty;
            let significant = text.trim_start_matches(['0', '.']).replace('.', "");
            prop_assert!(significant.trim_end_matches('0').len() <= 2, "{}", text);
        }
    }
}
