//! caltrace's domain layer (`src/domain/`, pure: no Rocket, no Diesel, no I/O),
//! compiled on its own for the fuzz targets, plus the invariants they check.
//!
//! Invariants: the unit parser never panics and a unit it accepts has a
//! positive, normal SI factor and reads back the same; a budget evaluation never
//! panics, fails with at least one named field or succeeds with every number
//! finite (no NaN or infinity may reach a JSON response, where serde_json would
//! silently write `null`), U = k·u_c, and `evaluate` and `evaluate_numbers` agree.

#[allow(dead_code)]
#[path = "../../src/domain/mod.rs"]
pub mod domain;

use arbitrary::Arbitrary;

use domain::quantity::{parse_unit, Quantity};
use domain::uncertainty::{
    evaluate, evaluate_numbers, round_for_display, rounded_expanded_uncertainty, BudgetRequest,
    ComponentInput, Measurand, PooledInput, SensitivityInput, ValueUnit,
};

pub fn check_unit(symbol: &str) {
    let Ok(unit) = parse_unit(symbol) else {
        return;
    };
    assert!(
        unit.factor.is_normal() && unit.factor > 0.0,
        "{symbol:?}: factor {}",
        unit.factor
    );
    assert!(unit.offset.is_finite(), "{symbol:?}: offset {}", unit.offset);
    let again = parse_unit(&unit.symbol).expect("an accepted symbol parses again");
    assert_eq!(again, unit);
    let _ = unit.quantity_kind();
    let _ = unit.dimension.describe();
    let _ = unit.to_string();
    let quantity = Quantity::new(1.0, symbol).expect("1 in an accepted unit");
    assert!(quantity.point_si().is_finite() && quantity.interval_si().is_finite());
    // Converting a value to a commensurable unit and back stays finite for sane magnitudes.
    let si = parse_unit(&unit.dimension.si_form()).ok();
    if let Some(si) = si {
        if let Some(converted) = quantity.interval_in(&si) {
            assert!(converted.value.is_finite(), "{symbol:?} -> {}", si.symbol);
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

pub fn check_budget(request: &BudgetRequest) {
    let full = evaluate(request);
    let numbers = evaluate_numbers(request);
    match (&full, &numbers) {
        (Err(errors), Err(same)) => {
            assert!(!errors.is_empty(), "an error names at least one field");
            assert_eq!(errors, same, "evaluate and evaluate_numbers report the same errors");
        }
        (Ok(result), Ok(numbers)) => {
            let u_c = result.combined_standard_uncertainty.value;
            let k = result.coverage_factor;
            let big_u = result.expanded_uncertainty.value;
            assert!(u_c.is_finite() && u_c > 0.0, "u_c = {u_c}: {request:?}");
            assert!(k.is_finite() && k > 0.0, "k = {k}: {request:?}");
            assert!(big_u.is_finite() && big_u > 0.0, "U = {big_u}: {request:?}");
            assert!(close(big_u, k * u_c), "U {big_u} != k {k} * u_c {u_c}");
            let p = result.coverage_probability;
            assert!(p > 0.0 && p < 1.0, "p = {p}");
            if let Some(nu) = result.effective_degrees_of_freedom {
                assert!(nu.is_finite() && nu >= 1.0 - 1e-9, "nu_eff = {nu}: {request:?}");
            }
            let mut percent = 0.0;
            for c in &result.components {
                for (what, value) in [
                    ("standard_uncertainty", c.standard_uncertainty.value),
                    ("sensitivity", c.sensitivity.value),
                    ("contribution", c.contribution.value),
                    ("percent_of_variance", c.percent_of_variance),
                ] {
                    assert!(value.is_finite(), "{}.{what} = {value}: {request:?}", c.name);
                }
                assert!(c.contribution.value >= 0.0 && c.standard_uncertainty.value >= 0.0);
                if let Some(nu) = c.degrees_of_freedom {
                    assert!(nu.is_finite() && nu > 0.0, "{}: nu = {nu}", c.name);
                }
                percent += c.percent_of_variance;
            }
            assert!((percent - 100.0).abs() < 1e-6, "percentages sum to {percent}");
            assert_eq!(numbers.combined_standard_uncertainty, u_c);
            assert_eq!(numbers.expanded_uncertainty, big_u);
            // The response serialises without a silent null.
            let json = serde_json::to_value(result).unwrap();
            assert!(json["expanded_uncertainty"]["value"].is_number());
            let rounded = rounded_expanded_uncertainty(big_u);
            assert!(rounded.is_finite() && rounded >= big_u * 0.95, "{big_u} -> {rounded}");
            let _ = round_for_display(0.0, big_u);
        }
        _ => panic!("evaluate and evaluate_numbers disagree: {full:?} vs {numbers:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Structured input: budgets that get past JSON decoding and mostly past unit checks, so the
// fuzzer spends its time in the numeric core.
// ---------------------------------------------------------------------------------------------

const UNITS: &[&str] = &[
    "nm", "mm", "m", "km", "K", "mK", "degC", "°C", "degF", "MPa", "kPa", "Pa", "bar", "psi",
    "nm/K", "mm/K", "MPa/K", "Pa/K", "1", "%", "ppm", "V", "uV", "mV", "uV/K", "kPa/V", "Pa/V",
    "1/K", "m/s^2", "s", "min", "h", "Hz", "ohm", "kΩ", "Ym", "ym", "Ym/yK", "%RH", "g", "kg",
];
const NAMES: &[&str] = &["repeatability", "reference", "resolution", "thermal", "drift"];
const DISTRIBUTIONS: &[&str] = &["rectangular", "triangular", "u_shaped", "normal", "gaussian"];

/// A double that favours the values that break arithmetic.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Number {
    Raw(f64),
    Small(i16),
    Scaled(i8, i16),
    Special(u8),
}

impl Number {
    pub fn value(self) -> f64 {
        match self {
            Number::Raw(x) => x,
            Number::Small(n) => f64::from(n) / 100.0,
            Number::Scaled(e, m) => f64::from(m) * 10f64.powi(i32::from(e) % 330),
            Number::Special(i) => [
                0.0,
                -0.0,
                1.0,
                2.0,
                0.5,
                1e-308,
                5e-324,
                f64::MIN_POSITIVE,
                1e308,
                f64::MAX,
                -f64::MAX,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e154,
                1e-162,
                0.9545,
                1.0 - f64::EPSILON,
                f64::EPSILON,
            ][usize::from(i) % 19],
        }
    }
}

#[derive(Arbitrary, Debug)]
pub enum Sensitivity {
    Number(Number),
    Quantity(Number, u8),
}

#[derive(Arbitrary, Debug)]
pub struct Component {
    pub name: u8,
    pub type_b: bool,
    pub unit: u8,
    pub readings: Option<Vec<Number>>,
    pub pooled: Option<(Number, Number)>,
    pub distribution: Option<u8>,
    pub half_width: Option<Number>,
    pub expanded_uncertainty: Option<Number>,
    pub coverage_factor: Option<Number>,
    pub standard_uncertainty: Option<Number>,
    pub degrees_of_freedom: Option<Number>,
    pub sensitivity: Option<Sensitivity>,
}

#[derive(Arbitrary, Debug)]
pub struct Budget {
    pub unit: u8,
    pub coverage_probability: Option<Number>,
    pub components: Vec<Component>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

impl Budget {
    pub fn request(&self) -> BudgetRequest {
        BudgetRequest {
            measurand: Measurand {
                name: "fuzzed".to_string(),
                unit: pick(UNITS, self.unit).to_string(),
            },
            coverage_probability: self.coverage_probability.map(Number::value),
            components: self
                .components
                .iter()
                .map(|c| ComponentInput {
                    name: pick(NAMES, c.name).to_string(),
                    kind: if c.type_b { "B" } else { "A" }.to_string(),
                    unit: pick(UNITS, c.unit).to_string(),
                    readings: c
                        .readings
                        .as_ref()
                        .map(|r| r.iter().map(|n| n.value()).collect()),
                    pooled: c.pooled.map(|(s, nu)| PooledInput {
                        standard_deviation: s.value(),
                        degrees_of_freedom: nu.value(),
                    }),
                    distribution: c.distribution.map(|d| pick(DISTRIBUTIONS, d).to_string()),
                    half_width: c.half_width.map(Number::value),
                    expanded_uncertainty: c.expanded_uncertainty.map(Number::value),
                    coverage_factor: c.coverage_factor.map(Number::value),
                    standard_uncertainty: c.standard_uncertainty.map(Number::value),
                    degrees_of_freedom: c.degrees_of_freedom.map(Number::value),
                    sensitivity: c.sensitivity.as_ref().map(|s| match s {
                        Sensitivity::Number(n) => SensitivityInput::Number(n.value()),
                        Sensitivity::Quantity(n, u) => SensitivityInput::Quantity(ValueUnit {
                            value: n.value(),
                            unit: pick(UNITS, *u).to_string(),
                        }),
                    }),
                    standard: None,
                })
                .collect(),
        }
    }
}
