//! What a calibration certificate says (ISO/IEC 17025 7.8.2.1, 7.8.4.1, 7.8.6):
//! everything the PDF and DCC renderers need, gathered once at issue so both
//! documents state the same facts.

use super::signature::ElectronicSignature;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calibration::PointResult;
use super::conformity::DecisionRule;
use super::quantity::{parse_unit, Quantity, QuantityJson};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaboratoryView {
    pub name: String,
    pub address: String,
    pub accreditation_body: String,
    pub accreditation_number: String,
    /// ISO 3166-1 alpha-2, from the configuration (`lab.country`), if set.
    #[serde(default)]
    pub country: Option<String>,
}

/// The calibrated item: description, identification and condition (7.8.2.1 e).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    pub asset_tag: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    /// e.g. "pressure".
    pub quantity_kind: String,
    pub range: Option<(QuantityJson, QuantityJson)>,
    pub resolution: Option<QuantityJson>,
    /// Condition on receipt, as the technician recorded it (none: not recorded).
    pub condition: Option<String>,
}

/// A standard used, with the certificate its link rests on (7.8.4.1 traceability).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardView {
    pub instrument_id: i64,
    pub asset_tag: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    /// The standard's certificate on the calibration date (ours or the issuer's number).
    pub certificate_number: Option<String>,
    /// Who issued that certificate (this laboratory, an NMI, an accredited laboratory).
    pub issuer: Option<String>,
    pub calibrated_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    /// SHA-256 of that certificate's PDF when this laboratory issued it (DCC measuringEquipment).
    pub certificate_sha256: Option<String>,
    /// The date on that certificate (the issuer's own for an external one).
    #[serde(default)]
    pub certificate_dated: Option<NaiveDate>,
}

/// A root the chain reaches: a national standard (with its institute) or an
/// ILAC-MRA accredited laboratory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceabilityRootView {
    /// "national_standard" or "accredited_laboratory".
    pub kind: String,
    /// e.g. "NIM (CN)" or "Shanghai Pressure Calibration Centre, CNAS L1234".
    pub name: String,
    /// The national standard's identifier or the laboratory's certificate number.
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplacesView {
    pub number: String,
    /// "amended" or "substituted".
    pub replacement_type: String,
    pub reason: String,
}

/// Everything one certificate states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateView {
    pub number: String,
    pub issued_on: NaiveDate,
    pub laboratory: LaboratoryView,
    pub customer: Option<String>,
    pub item: ItemView,
    pub received_on: Option<NaiveDate>,
    pub performed_on: NaiveDate,
    /// Where the work was done (7.8.2.1 c).
    pub location: Option<String>,
    /// The method / procedure (7.8.2.1 g).
    pub procedure: Option<String>,
    /// Environmental conditions: (label, quantity), e.g. ("temperature", 20.3 °C).
    pub environment: Vec<(String, QuantityJson)>,
    /// The decision rule the statement of conformity follows (7.8.6).
    pub decision_rule: DecisionRule,
    /// The results, as-found and as-left, with U, k, p, decision and TUR.
    pub points: Vec<PointResult>,
    pub standards: Vec<StandardView>,
    pub traceability_roots: Vec<TraceabilityRootView>,
    /// Whether the chain was unbroken when the work was done.
    pub traceable: bool,
    /// The first link that was not traceable then, in words (a broken chain
    /// is certified only with stated deviations).
    #[serde(default)]
    pub broken_link: Option<String>,
    /// Deviations from the method, additions or exclusions (7.8.2.1 ...); None when there were none.
    pub deviations: Option<String>,
    pub replaces: Option<ReplacesView>,
    /// Name of the authorised signatory who approved it (7.8.2.1 o).
    pub signatory: String,
    /// Their electronic signature: when, and what it means (21 CFR 11.50); None only for
    /// certificates rendered outside an approval (samples, tests).
    #[serde(default)]
    pub electronic_signature: Option<ElectronicSignature>,
    /// Whether the laboratory signs the files digitally (PAdES / XAdES, DESIGN 8b); without a
    /// signing identity the certificate says it is not signed.
    #[serde(default)]
    pub digitally_signed: bool,
    /// Public verification URL (the QR code carries it).
    pub verification_url: String,
    /// Head of the audit hash chain at issue.
    pub audit_head: String,
    /// When the instrument is next due (not part of 17025's list; printed only as a recommendation).
    pub due_on: Option<NaiveDate>,
}

/// One result row as printed, on the certificate and on the pages alike: U to two significant
/// digits and the error to the same decimal place (GUM 7.2.6, EA-4/02 M), reference and
/// indicated values to at least that place and never fewer decimals than were recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintedPoint {
    pub reference: String,
    pub indicated: String,
    pub error: String,
    pub expanded_uncertainty: String,
    pub coverage_factor: String,
    /// In percent, e.g. "95.45".
    pub coverage_probability: String,
    /// `pass`, `conditional_pass`, `conditional_fail`, `fail`, or `None` under rule `none`.
    pub decision: Option<&'static str>,
    /// e.g. "4.2:1", or `None` without a tolerance.
    pub tur: Option<String>,
    pub tur_flagged: bool,
}

/// Digits after the decimal point in the value as recorded, ignoring binary floating-point
/// noise below the sixth decimal (20.100000000000001 was recorded as 20.1).
pub fn recorded_decimals(value: f64) -> usize {
    let text = format!("{:.6}", value.abs());
    let trimmed = text.trim_end_matches('0');
    trimmed
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

/// `value` with `decimals` places, without a minus sign on a rounded zero.
pub fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// A point as a certificate prints it: like [`printed_point`], with the
/// indication to the instrument's resolution and never past it (a reading of a
/// gauge that resolves 0.0001 MPa is not printed as 0.50030 MPa).
pub fn printed_point_at(point: &PointResult, resolution: Option<&QuantityJson>) -> PrintedPoint {
    let mut printed = printed_point(point);
    if let Some(decimals) = resolution.and_then(|r| resolution_decimals(r, &point.indicated.unit)) {
        printed.indicated = format!(
            "{} {}",
            fixed(point.indicated.value, decimals),
            point.indicated.unit
        );
    }
    printed
}

/// Decimal places of `resolution` expressed in `unit` (0.0005 MPa in kPa: 0.5 → 1).
fn resolution_decimals(resolution: &QuantityJson, unit: &str) -> Option<usize> {
    let step = Quantity::new(resolution.value, &resolution.unit).ok()?;
    let unit = parse_unit(unit).ok()?;
    if unit.dimension != step.unit.dimension {
        return None;
    }
    let in_unit = unit.interval_from_si(step.interval_si()).abs();
    if !(in_unit.is_finite() && in_unit > 0.0) {
        return None;
    }
    Some((-in_unit.log10() - 1e-9).ceil().clamp(0.0, 12.0) as usize)
}

/// `value` to `digits` significant digits, in fixed notation between 1e-6 and
/// 1e6 and in scientific notation outside: a budget's u(x_i) as read.
pub fn significant(value: f64, digits: usize) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-6..6).contains(&magnitude) {
        return format!("{:.*e}", digits.saturating_sub(1), value);
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    fixed(value, decimals)
}

/// An uncertainty budget as the calibration page prints it (GUM 7.2.2: the
/// components, their sensitivities and contributions, ν_eff and k).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintedBudget {
    pub combined_standard_uncertainty: String,
    pub effective_degrees_of_freedom: String,
    pub coverage_factor: String,
    pub components: Vec<PrintedComponent>,
    /// A model budget's model (DESIGN 5b) and y = f(x̂); its sensitivities are computed.
    pub model: Option<String>,
    pub estimate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintedComponent {
    pub name: String,
    /// A model input's estimate x̂_i, where its sensitivity ∂f/∂X_i was taken.
    pub estimate: Option<String>,
    pub standard_uncertainty: String,
    pub sensitivity: String,
    pub contribution: String,
    pub degrees_of_freedom: String,
    pub percent_of_variance: String,
}

pub fn printed_budget(budget: &super::uncertainty::BudgetResult) -> PrintedBudget {
    let with_unit = |value: f64, unit: &str| format!("{} {unit}", significant(value, 3));
    let degrees = |nu: Option<f64>| nu.map_or_else(|| "∞".to_string(), |nu| format!("{nu:.1}"));
    PrintedBudget {
        combined_standard_uncertainty: with_unit(
            budget.combined_standard_uncertainty.value,
            &budget.combined_standard_uncertainty.unit,
        ),
        effective_degrees_of_freedom: degrees(budget.effective_degrees_of_freedom),
        coverage_factor: format!("{:.2}", budget.coverage_factor),
        model: budget.model.clone(),
        estimate: budget.estimate.as_ref().map(estimate_text),
        components: budget
            .components
            .iter()
            .map(|c| PrintedComponent {
                name: c.name.to_string(),
                estimate: c.estimate.as_ref().map(estimate_text),
                standard_uncertainty: with_unit(
                    c.standard_uncertainty.value,
                    &c.standard_uncertainty.unit,
                ),
                sensitivity: with_unit(c.sensitivity.value, &c.sensitivity.unit),
                contribution: with_unit(c.contribution.value, &c.contribution.unit),
                degrees_of_freedom: degrees(c.degrees_of_freedom),
                percent_of_variance: format!("{:.1}", c.percent_of_variance),
            })
            .collect(),
    }
}

/// An estimate as recorded, to nine significant digits without trailing zeros: a model
/// input's 50.000623 mm must not print as 50.0 mm.
fn estimate_text(x: &super::uncertainty::ValueUnit) -> String {
    let mut text = significant(x.value, 9);
    if text.contains('.') && !text.contains('e') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text} {}", x.unit)
}

/// A probability as a percentage without trailing zeros: 0.9545 → "95.45".
pub fn percent(probability: f64) -> String {
    let text = format!("{:.2}", probability * 100.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub fn printed_point(point: &PointResult) -> PrintedPoint {
    let rounded =
        super::uncertainty::round_for_display(point.error.value, point.expanded_uncertainty.value);
    let decimals = rounded.decimals.max(0) as usize;
    let with_unit = |value: f64, unit: &str| {
        format!(
            "{} {unit}",
            fixed(value, decimals.max(recorded_decimals(value)))
        )
    };
    PrintedPoint {
        reference: with_unit(point.reference.value, &point.reference.unit),
        indicated: with_unit(point.indicated.value, &point.indicated.unit),
        error: format!("{} {}", rounded.value, point.error.unit),
        expanded_uncertainty: format!(
            "{} {}",
            rounded.expanded_uncertainty, point.expanded_uncertainty.unit
        ),
        coverage_factor: format!("{:.2}", point.coverage_factor),
        coverage_probability: percent(point.coverage_probability),
        decision: point.decision.map(|decision| decision.as_str()),
        tur: point
            .tur
            .filter(|tur| tur.is_finite())
            .map(|tur| format!("{tur:.1}:1")),
        tur_flagged: point.tur_flagged,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn indications_print_to_the_resolution_in_their_own_unit() {
        use super::resolution_decimals;
        use crate::domain::quantity::QuantityJson;
        let q = |value: f64, unit: &str| QuantityJson {
            value,
            unit: unit.to_string(),
        };
        assert_eq!(resolution_decimals(&q(0.0001, "MPa"), "MPa"), Some(4));
        assert_eq!(resolution_decimals(&q(0.0005, "MPa"), "MPa"), Some(4));
        assert_eq!(resolution_decimals(&q(0.0005, "MPa"), "kPa"), Some(1));
        assert_eq!(resolution_decimals(&q(1.0, "kPa"), "MPa"), Some(3));
        assert_eq!(resolution_decimals(&q(0.01, "°C"), "K"), Some(2));
        assert_eq!(resolution_decimals(&q(0.01, "°C"), "MPa"), None);
    }

    #[test]
    fn budgets_print_three_significant_digits() {
        use super::significant;
        assert_eq!(significant(0.000123456, 3), "0.000123");
        assert_eq!(significant(12.3456, 3), "12.3");
        assert_eq!(significant(-0.0201, 3), "-0.0201");
        assert_eq!(significant(1.5e-9, 3), "1.50e-9");
        assert_eq!(significant(0.0, 3), "0");
    }

    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(fixed(-0.0001, 3), "0.000");
        assert_eq!(fixed(-0.012, 3), "-0.012");
        assert_eq!(recorded_decimals(10.0), 0);
        assert_eq!(recorded_decimals(20.083), 3);
        assert_eq!(recorded_decimals(0.3 * 67.0), 1);
        assert_eq!(percent(0.9545), "95.45");
        assert_eq!(percent(0.95), "95");
    }
}
