//! A calibration's content: validation of what the technician submits, and the
//! results the lab states per point — error, expanded uncertainty (GUM), the
//! conformity decision (ILAC-G8) and TUR — plus the CMC floor (ILAC P14) and the
//! due date.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::conformity::{
    decide, test_uncertainty_ratio, tur_flagged, Decision, DecisionRule, ErrorBounds,
};
use super::model::{self, CorrelationInput, ModelInput};
use super::quantity::{
    check_quantity, parse_unit, Dimension, Quantity, QuantityJson, QuantityKind, Unit,
};
use super::uncertainty::{self, BudgetRequest, BudgetResult, ComponentInput, Measurand};
use super::validity::Role;
use super::FieldError;

/// Coverage probability assumed when a stated uncertainty does not give one:
/// k = 2 for a normal distribution (EA-4/02).
pub use super::uncertainty::DEFAULT_COVERAGE_PROBABILITY;
/// Interval used for the due date when neither the calibration nor the
/// instrument gives one (a national standard's own recalibration).
pub const FALLBACK_INTERVAL_DAYS: i64 = 365;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    pub name: String,
    pub certificate_number: String,
    /// Present when the issuer is accredited under the ILAC MRA: such a
    /// calibration is a traceability root (ILAC P10).
    pub accreditation: Option<Accreditation>,
    /// The date the issuer put on its certificate (not the day this
    /// laboratory accepted it).
    #[schema(value_type = Option<String>, format = Date)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accreditation {
    pub body: String,
    pub number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub temperature: Option<QuantityJson>,
    pub relative_humidity: Option<QuantityJson>,
    pub pressure: Option<QuantityJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub lower: QuantityJson,
    pub upper: QuantityJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointBudget {
    pub coverage_probability: Option<f64>,
    /// A component budget (DESIGN 5); not with `model`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentInput>,
    /// A measurement model (DESIGN 5b) with its `inputs` and optional `correlations`,
    /// evaluated by the GUM method; not with `components`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "m * g_l / A0")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<ModelInput>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlations: Option<Vec<CorrelationInput>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatedUncertainty {
    pub expanded_uncertainty: QuantityJson,
    pub coverage_factor: f64,
    pub coverage_probability: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointInput {
    /// `as_found` (before adjustment) or `as_left` (after).
    pub stage: String,
    pub reference: QuantityJson,
    pub indicated: QuantityJson,
    /// Symmetric tolerance ±T on the error (maximum permissible error).
    pub tolerance: Option<QuantityJson>,
    /// Asymmetric limits on the error.
    pub limits: Option<Limits>,
    pub budget: Option<PointBudget>,
    pub stated_uncertainty: Option<StatedUncertainty>,
    /// Repeat readings of the indication (n ≥ 2, in `indicated`'s unit), so that an assessor
    /// can repeat the work (ISO/IEC 17025 7.5.1): `indicated` is their mean, and a component
    /// budget gains their repeatability as a Type A component (GUM 4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replaces {
    pub number: String,
    /// `amended` or `substituted` (DCC `reportAmendedSubstituted`).
    #[serde(rename = "type")]
    pub replacement_type: String,
    pub reason: String,
}

/// Body of `POST /api/v1/calibrations` and `PUT /api/v1/calibrations/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationInput {
    pub instrument_id: i64,
    /// `internal` (default) or `external`.
    pub kind: Option<String>,
    pub issuer: Option<Issuer>,
    #[schema(value_type = String, format = Date)]
    pub performed_on: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub received_on: Option<NaiveDate>,
    /// The registered procedure followed (ISO/IEC 17025 7.2): its code, for the latest
    /// version validated on `performed_on`, or `code@version`.
    pub procedure: Option<String>,
    /// The method an external laboratory states on its certificate, as free text (external
    /// calibrations only: internal work cites a registered `procedure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub location: Option<String>,
    pub environment: Option<Environment>,
    #[serde(default)]
    pub standards_used: Vec<i64>,
    /// `simple` (default), `guard_band`, `non_binary` or `none`.
    pub decision_rule: Option<String>,
    /// Guard band w; the point's expanded uncertainty when absent.
    pub guard_band: Option<QuantityJson>,
    /// Overrides the instrument's calibration interval for the due date.
    pub interval_days: Option<i64>,
    pub replaces: Option<Replaces>,
    /// The item's condition when received (ISO/IEC 17025 7.8.2.1 e), as the
    /// technician wrote it; the certificate prints nothing in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_on_receipt: Option<String>,
    /// Deviations from, additions to or exclusions from the method (7.8.2.1 g);
    /// required to approve a calibration whose chain was broken on its date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deviations: Option<String>,
    pub points: Vec<PointInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    AsFound,
    AsLeft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationKind {
    Internal,
    External,
}

impl CalibrationKind {
    /// The kind as written in the API and stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            CalibrationKind::Internal => "internal",
            CalibrationKind::External => "external",
        }
    }
}

impl std::str::FromStr for CalibrationKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        super::states::parse_state(
            text,
            &[CalibrationKind::Internal, CalibrationKind::External],
            |kind| kind.as_str(),
        )
    }
}

/// The computed result of one point, stored with the calibration and echoed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PointResult {
    pub stage: Stage,
    pub reference: QuantityJson,
    pub indicated: QuantityJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<QuantityJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// indicated − reference, in the reference value's unit (an interval: °C stays °C).
    pub error: QuantityJson,
    pub expanded_uncertainty: QuantityJson,
    pub coverage_factor: f64,
    pub coverage_probability: f64,
    /// `pass`, `conditional_pass`, `conditional_fail`, `fail`, or null under rule `none`.
    pub decision: Option<Decision>,
    /// Tolerance span / (2U).
    pub tur: Option<f64>,
    /// TUR below 4:1.
    pub tur_flagged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetResult>,
    /// Standards named by budget components (for impact analysis).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standards_in_budget: Vec<i64>,
    /// The repeat readings `indicated` is the mean of, as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<f64>>,
}

impl PointResult {
    /// Whether every result can be stored: a reading near f64's limit (1e308)
    /// makes the error, its uncertainty or the TUR overflow to infinity, which
    /// JSON cannot hold.
    pub fn is_finite(&self) -> bool {
        let limits = self.limits.iter().flat_map(|l| [&l.lower, &l.upper]);
        [
            &self.reference,
            &self.indicated,
            &self.error,
            &self.expanded_uncertainty,
        ]
        .into_iter()
        .chain(&self.tolerance)
        .chain(limits)
        .all(|q| q.value.is_finite())
            && self.coverage_factor.is_finite()
            && self.coverage_probability.is_finite()
            && self.tur.is_none_or(f64::is_finite)
            && self.budget.as_ref().is_none_or(BudgetResult::is_finite)
    }
}

/// A validated calibration with its computed results.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluatedCalibration {
    pub kind: CalibrationKind,
    pub decision_rule: DecisionRule,
    pub points: Vec<PointResult>,
    pub out_of_tolerance: bool,
    pub due_on: NaiveDate,
    pub accredited: bool,
    /// The procedure version the calibration cites, once the workflow has looked it up in
    /// the register (the certificate prints its code, version and title).
    pub procedure: Option<crate::domain::competence::CitedProcedure>,
}

/// What validation needs to know about the instrument being calibrated.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentFacts {
    pub asset_tag: String,
    pub role: Role,
    /// What it measures: every point is taken in a unit of this kind.
    pub quantity_kind: QuantityKind,
    pub interval_days: Option<i32>,
}

/// What a calibration is checked against besides itself: the register's facts
/// of the instruments it names (the calibrated one and its standards; those
/// not in the register are absent) and today's date (UTC).
pub struct RecordContext<'a> {
    pub register: &'a std::collections::HashMap<i64, InstrumentFacts>,
    pub today: NaiveDate,
}

/// One CMC row: U(x) = a + b·|x| at k = 2 over [min, max] (ILAC P14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CmcInput {
    pub quantity_kind: String,
    pub range: CmcRange,
    pub a: QuantityJson,
    #[serde(default)]
    pub b: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CmcRange {
    pub min: QuantityJson,
    pub max: QuantityJson,
}

/// A stored CMC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cmc {
    pub id: i64,
    pub quantity_kind: String,
    pub range: CmcRange,
    pub a: QuantityJson,
    pub b: f64,
}

pub fn validate_cmc(input: &CmcInput) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(kind) = QuantityKind::from_name(&input.quantity_kind) else {
        return Err(vec![FieldError::new(
            "quantity_kind",
            format!("unknown quantity kind '{}'", input.quantity_kind),
        )]);
    };
    let dimension = Some(kind.dimension());
    let min = check_quantity(&input.range.min, "range.min", dimension)
        .map_err(|e| errors.push(e))
        .ok();
    let max = check_quantity(&input.range.max, "range.max", dimension)
        .map_err(|e| errors.push(e))
        .ok();
    if let (Some(min), Some(max)) = (min, max) {
        if min.point_si() > max.point_si() {
            errors.push(FieldError::new(
                "range",
                "range.min must not exceed range.max",
            ));
        }
    }
    match check_quantity(&input.a, "a", dimension) {
        Ok(a) if a.value < 0.0 => errors.push(FieldError::new("a.value", "must not be negative")),
        Ok(_) => {}
        Err(e) => errors.push(e),
    }
    if !input.b.is_finite() || input.b < 0.0 {
        errors.push(FieldError::new(
            "b",
            "must be a finite, non-negative number (relative part of the CMC)",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

impl Cmc {
    /// Whether the CMC covers a value (a point, compared in SI).
    fn covers(&self, value: &Quantity) -> bool {
        let (Ok(min), Ok(max)) = (
            check_quantity(&self.range.min, "", Some(value.unit.dimension)),
            check_quantity(&self.range.max, "", Some(value.unit.dimension)),
        ) else {
            return false;
        };
        let x = value.point_si();
        let slack = 1e-12 * x.abs().max(min.point_si().abs()).max(max.point_si().abs());
        min.point_si() - slack <= x && x <= max.point_si() + slack
    }

    /// The CMC (expanded, k = 2) at `value`, in SI. The relative part b·|x| takes
    /// x in the unit the range is stated in, so a CMC for °C reads x in °C.
    fn at_si(&self, value: &Quantity) -> Option<f64> {
        let a = check_quantity(&self.a, "", Some(value.unit.dimension)).ok()?;
        let range_unit = parse_unit(&self.range.min.unit).ok()?;
        let x = range_unit.point_from_si(value.point_si());
        Some(a.interval_si() + range_unit.interval_to_si(self.b * x.abs()))
    }
}

fn non_blank(errors: &mut Vec<FieldError>, field: &str, value: &str, max_chars: usize) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
}

fn prefixed(prefix: &str, errors: Vec<FieldError>) -> impl Iterator<Item = FieldError> + '_ {
    errors
        .into_iter()
        .map(move |e| FieldError::new(format!("{prefix}.{}", e.field), e.message))
}

/// Checks a calibration and computes its results. `cmcs` are the laboratory's
/// CMCs (only applied to internal calibrations).
///
/// Every check runs, whatever failed before it, so that the technician gets all
/// the errors of a submission at once; results are only returned when there are
/// none.
pub fn evaluate_calibration(
    input: &CalibrationInput,
    context: &RecordContext,
    cmcs: &[Cmc],
) -> Result<EvaluatedCalibration, Vec<FieldError>> {
    let Some(instrument) = context.register.get(&input.instrument_id) else {
        return Err(vec![FieldError::new(
            "instrument_id",
            format!("no instrument with id {}", input.instrument_id),
        )]);
    };
    let mut errors = Vec::new();
    let kind = calibration_kind(input, &mut errors);
    let decision_rule = decision_rule(input, &mut errors);
    check_issuer(input, kind, &mut errors);
    check_dates(input, context.today, &mut errors);
    check_circumstances(input, &mut errors);
    check_standards_used(input, context.register, &mut errors);
    let interval_days = interval_days(input, instrument, &mut errors);
    check_replaces(input, kind, &mut errors);
    if input.points.is_empty() {
        errors.push(FieldError::new(
            "points",
            "a calibration needs at least one measurement point",
        ));
    }
    let points = evaluate_points(input, instrument, kind, decision_rule, cmcs, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let out_of_tolerance =
        final_points(&points).any(|p| p.decision.is_some_and(|d| d.is_out_of_tolerance()));
    let due_on = input
        .performed_on
        .checked_add_days(chrono::Days::new(interval_days as u64))
        .ok_or_else(|| {
            vec![FieldError::new(
                "performed_on",
                "the due date would be out of range",
            )]
        })?;
    Ok(EvaluatedCalibration {
        kind,
        decision_rule,
        points,
        out_of_tolerance,
        due_on,
        accredited: input
            .issuer
            .as_ref()
            .is_some_and(|i| i.accreditation.is_some()),
        procedure: None,
    })
}

/// The calibration's kind, internal when not given. An unknown kind is an error,
/// and the rest is checked as internal so that the other errors still show.
fn calibration_kind(input: &CalibrationInput, errors: &mut Vec<FieldError>) -> CalibrationKind {
    match input.kind.as_deref().unwrap_or("internal") {
        "internal" => CalibrationKind::Internal,
        "external" => CalibrationKind::External,
        other => {
            errors.push(FieldError::new(
                "kind",
                format!("unknown kind '{other}': must be internal or external"),
            ));
            CalibrationKind::Internal
        }
    }
}

/// The decision rule, simple when not given; an unknown one is an error and the
/// points are checked under the simple rule, so that their own errors still show.
fn decision_rule(input: &CalibrationInput, errors: &mut Vec<FieldError>) -> DecisionRule {
    match input
        .decision_rule
        .as_deref()
        .unwrap_or("simple")
        .parse::<DecisionRule>()
    {
        Ok(rule) => rule,
        Err(_) => {
            errors.push(FieldError::new(
                "decision_rule",
                "must be simple, guard_band, non_binary or none",
            ));
            DecisionRule::Simple
        }
    }
}

/// An external calibration's certificate is another laboratory's: it must say
/// whose, and under which number, or the chain cannot be followed back to it.
fn check_issuer(input: &CalibrationInput, kind: CalibrationKind, errors: &mut Vec<FieldError>) {
    match (&input.issuer, kind) {
        (None, CalibrationKind::External) => errors.push(FieldError::new(
            "issuer",
            "an external calibration must name its issuer and the issuer's certificate number",
        )),
        (Some(issuer), _) => {
            non_blank(errors, "issuer.name", &issuer.name, 200);
            non_blank(
                errors,
                "issuer.certificate_number",
                &issuer.certificate_number,
                100,
            );
            if let Some(issued_on) = issuer.issued_on {
                check_issue_date(issued_on, input.performed_on, errors);
            }
            if let Some(accreditation) = &issuer.accreditation {
                non_blank(
                    errors,
                    "issuer.accreditation.body",
                    &accreditation.body,
                    100,
                );
                non_blank(
                    errors,
                    "issuer.accreditation.number",
                    &accreditation.number,
                    100,
                );
            }
        }
        (None, CalibrationKind::Internal) => {}
    }
}

/// The circumstances the certificate reports: dates in order, procedure and
/// location not blank, environment quantities of the right kind.
/// A certificate states what was done: a calibration is recorded after it was
/// performed, never before (ISO/IEC 17025 7.5.1), and the item was received
/// before it was calibrated.
fn check_dates(input: &CalibrationInput, today: NaiveDate, errors: &mut Vec<FieldError>) {
    let future = |field: &str, date: NaiveDate| {
        FieldError::new(
            field,
            format!(
                "{date} is after today ({today}, UTC): record a calibration once it has been \
                 performed; check the year and the month"
            ),
        )
    };
    if input.performed_on > today {
        errors.push(future("performed_on", input.performed_on));
    }
    let issued_on = input.issuer.as_ref().and_then(|issuer| issuer.issued_on);
    if let Some(issued_on) = issued_on.filter(|date| *date > today) {
        errors.push(future("issuer.issued_on", issued_on));
    }
    if let Some(received_on) = input.received_on {
        if received_on > today {
            errors.push(future("received_on", received_on));
        } else if received_on > input.performed_on {
            errors.push(FieldError::new(
                "received_on",
                format!(
                    "{received_on} is after performed_on ({}): the item is received before \
                     it is calibrated",
                    input.performed_on
                ),
            ));
        }
    }
}

/// An issuer's certificate is dated on or after the work it reports.
fn check_issue_date(issued_on: NaiveDate, performed_on: NaiveDate, errors: &mut Vec<FieldError>) {
    if issued_on < performed_on {
        errors.push(FieldError::new(
            "issuer.issued_on",
            format!(
                "{issued_on} is before performed_on ({performed_on}): a certificate is issued \
                 after the calibration it reports"
            ),
        ));
    }
}

fn check_circumstances(input: &CalibrationInput, errors: &mut Vec<FieldError>) {
    for (field, value) in [
        ("condition_on_receipt", &input.condition_on_receipt),
        ("deviations", &input.deviations),
    ] {
        if let Some(value) = value {
            non_blank(errors, field, value, 2000);
        }
    }
    for (field, value) in [
        ("procedure", &input.procedure),
        ("method", &input.method),
        ("location", &input.location),
    ] {
        if let Some(value) = value {
            non_blank(errors, field, value, 500);
        }
    }
    if let Some(environment) = &input.environment {
        let checks = [
            (
                "environment.temperature",
                &environment.temperature,
                QuantityKind::Temperature,
            ),
            (
                "environment.relative_humidity",
                &environment.relative_humidity,
                QuantityKind::RelativeHumidity,
            ),
            (
                "environment.pressure",
                &environment.pressure,
                QuantityKind::Pressure,
            ),
        ];
        for (field, value, kind) in checks {
            let Some(value) = value else { continue };
            match check_quantity(value, field, Some(kind.dimension())) {
                Err(e) => errors.push(e),
                Ok(quantity) => {
                    if let Some(problem) = impossible_environment(kind, quantity.point_si()) {
                        errors.push(FieldError::new(field, problem));
                    }
                }
            }
        }
    }
}

/// Conditions no laboratory can have recorded: a relative humidity outside
/// 0–100 %, a temperature at or below absolute zero, a negative pressure.
fn impossible_environment(kind: QuantityKind, si: f64) -> Option<&'static str> {
    match kind {
        QuantityKind::RelativeHumidity if !(0.0..=1.0).contains(&si) => {
            Some("a relative humidity is between 0 and 100 %RH; check the value and its unit")
        }
        QuantityKind::Temperature if si <= 0.0 => {
            Some("is at or below absolute zero; check the value and its unit (°C or K)")
        }
        QuantityKind::Pressure if si <= 0.0 => {
            Some("an ambient pressure is above zero; check the value and its unit")
        }
        _ => None,
    }
}

/// Each standard in the register, a reference or national standard, listed
/// once, and never the instrument itself (its chain would then be a cycle).
fn check_standards_used(
    input: &CalibrationInput,
    register: &std::collections::HashMap<i64, InstrumentFacts>,
    errors: &mut Vec<FieldError>,
) {
    let mut seen = std::collections::HashSet::new();
    for (i, id) in input.standards_used.iter().enumerate() {
        let field = format!("standards_used[{i}]");
        match register.get(id) {
            None => errors.push(FieldError::new(
                field.clone(),
                format!("no instrument with id {id}"),
            )),
            // A working instrument has no place in a chain of calibrations
            // (ILAC P10): a customer's gauge is not a reference.
            Some(standard) if standard.role == Role::Working && *id != input.instrument_id => {
                errors.push(FieldError::new(
                    field.clone(),
                    format!(
                        "{} (id {id}) is a working instrument; a standard must be one of the \
                         laboratory's reference standards or a national standard",
                        standard.asset_tag
                    ),
                ))
            }
            Some(_) => {}
        }
        if !seen.insert(*id) {
            errors.push(FieldError::new(field.clone(), "is listed twice"));
        }
        if *id == input.instrument_id {
            errors.push(FieldError::new(
                field,
                "an instrument cannot be its own standard",
            ));
        }
    }
}

/// The interval to the due date: the calibration's own, else the instrument's,
/// else [`FALLBACK_INTERVAL_DAYS`].
fn interval_days(
    input: &CalibrationInput,
    instrument: &InstrumentFacts,
    errors: &mut Vec<FieldError>,
) -> i64 {
    match input.interval_days {
        Some(days) if !(1..=36_500).contains(&days) => {
            errors.push(FieldError::new(
                "interval_days",
                "must be a whole number of days from 1 to 36500",
            ));
            FALLBACK_INTERVAL_DAYS
        }
        Some(days) => days,
        None => instrument
            .interval_days
            .map(i64::from)
            .unwrap_or(FALLBACK_INTERVAL_DAYS),
    }
}

/// A replacement names the certificate it replaces and why. Only this
/// laboratory's own certificates can be replaced: an external one is the
/// issuer's to amend.
fn check_replaces(input: &CalibrationInput, kind: CalibrationKind, errors: &mut Vec<FieldError>) {
    let Some(replaces) = &input.replaces else {
        return;
    };
    non_blank(errors, "replaces.number", &replaces.number, 100);
    non_blank(errors, "replaces.reason", &replaces.reason, 1000);
    if !matches!(
        replaces.replacement_type.as_str(),
        "amended" | "substituted"
    ) {
        errors.push(FieldError::new(
            "replaces.type",
            "must be amended or substituted",
        ));
    }
    if kind == CalibrationKind::External {
        errors.push(FieldError::new(
            "replaces",
            "only this laboratory's certificates can be replaced",
        ));
    }
}

/// Each point's results, its errors added to `errors`. The CMC floor applies to
/// internal calibrations only: an external laboratory answers for its own CMCs.
fn evaluate_points(
    input: &CalibrationInput,
    instrument: &InstrumentFacts,
    kind: CalibrationKind,
    decision_rule: DecisionRule,
    cmcs: &[Cmc],
    errors: &mut Vec<FieldError>,
) -> Vec<PointResult> {
    let mut points = Vec::with_capacity(input.points.len());
    for (i, point) in input.points.iter().enumerate() {
        match evaluate_point(
            &format!("points[{i}]"),
            point,
            instrument.quantity_kind,
            decision_rule,
            input.guard_band.as_ref(),
            input.standards_used.as_slice(),
        ) {
            Ok(result) => {
                if kind == CalibrationKind::Internal {
                    if let Err(e) = check_cmc_floor(&format!("points[{i}]"), &result, cmcs) {
                        errors.push(e);
                    }
                }
                points.push(result);
            }
            Err(point_errors) => errors.extend(point_errors),
        }
    }
    points
}

/// The final result of a calibration: its as-left points, or its as-found points
/// when nothing was adjusted (DESIGN section 6).
pub fn final_points(points: &[PointResult]) -> impl Iterator<Item = &PointResult> {
    let has_as_left = points.iter().any(|p| p.stage == Stage::AsLeft);
    let wanted = if has_as_left {
        Stage::AsLeft
    } else {
        Stage::AsFound
    };
    points.iter().filter(move |p| p.stage == wanted)
}

/// A point's expanded uncertainty: U in SI, its coverage factor and
/// probability, and the budget it came from (none when stated).
struct PointUncertainty {
    u_si: f64,
    k: f64,
    p: f64,
    budget: Option<BudgetResult>,
}

/// Checks one point and computes its results. All of the point's errors are
/// collected before returning, except when the reference itself is unusable:
/// every other quantity is checked against its dimension.
fn evaluate_point(
    path: &str,
    point: &PointInput,
    quantity_kind: QuantityKind,
    rule: DecisionRule,
    guard_band: Option<&QuantityJson>,
    standards_used: &[i64],
) -> Result<PointResult, Vec<FieldError>> {
    let point = &with_repeatability(path, point)?;
    let checked = check_point(path, point, quantity_kind, rule, standards_used)?;
    point_result(point, checked, rule, guard_band)
}

/// A point with repeat readings: checked (n ≥ 2, finite, `indicated` their mean to within a
/// tenth of the mean's standard deviation), and, when its budget is a list of components, the
/// budget with the readings' repeatability added as a Type A component (GUM 4.2.3: s/√n).
fn with_repeatability<'p>(
    path: &str,
    point: &'p PointInput,
) -> Result<std::borrow::Cow<'p, PointInput>, Vec<FieldError>> {
    let Some(readings) = &point.readings else {
        return Ok(std::borrow::Cow::Borrowed(point));
    };
    let field = format!("{path}.readings");
    if readings.len() < 2 || readings.iter().any(|r| !r.is_finite()) {
        return Err(vec![FieldError::new(
            field,
            "give two or more repeat readings, as numbers in the indicated value's unit",
        )]);
    }
    let n = readings.len() as f64;
    let mean = readings.iter().sum::<f64>() / n;
    let variance = readings.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let tolerance = (variance / n).sqrt() / 10.0 + 1e-9 * mean.abs();
    if (point.indicated.value - mean).abs() > tolerance {
        return Err(vec![FieldError::new(
            format!("{path}.indicated"),
            format!(
                "must be the mean of the readings, {mean} {}",
                point.indicated.unit
            ),
        )]);
    }
    let mut with = point.clone();
    if let Some(budget) = with.budget.as_mut().filter(|b| b.model.is_none()) {
        budget
            .components
            .push(repeatability_component(readings, &point.indicated.unit));
    }
    Ok(std::borrow::Cow::Owned(with))
}

fn repeatability_component(readings: &[f64], unit: &str) -> ComponentInput {
    ComponentInput {
        name: format!(
            "repeatability of the indication ({} readings)",
            readings.len()
        ),
        kind: "A".into(),
        unit: unit.to_string(),
        readings: Some(readings.to_vec()),
        pooled: None,
        distribution: None,
        half_width: None,
        expanded_uncertainty: None,
        coverage_factor: None,
        standard_uncertainty: None,
        degrees_of_freedom: None,
        sensitivity: None,
        standard: None,
    }
}

/// A point whose fields all checked out: what its results are computed from.
struct CheckedPoint {
    stage: Stage,
    reference: Quantity,
    indicated: Quantity,
    bounds: Option<ErrorBounds>,
    uncertainty: PointUncertainty,
    standards_in_budget: Vec<i64>,
}

fn check_point(
    path: &str,
    point: &PointInput,
    quantity_kind: QuantityKind,
    rule: DecisionRule,
    standards_used: &[i64],
) -> Result<CheckedPoint, Vec<FieldError>> {
    let mut errors = Vec::new();
    let stage = point_stage(path, point, &mut errors);
    // Every quantity of a point in a unit of what the instrument measures: a
    // pressure gauge is never calibrated in mm.
    let reference = check_quantity(
        &point.reference,
        &format!("{path}.reference"),
        Some(quantity_kind.dimension()),
    );
    let reference = match reference {
        Ok(q) => q,
        Err(e) => {
            errors.push(e);
            return Err(errors);
        }
    };
    let dimension: Dimension = reference.unit.dimension;
    let indicated = check_quantity(
        &point.indicated,
        &format!("{path}.indicated"),
        Some(dimension),
    )
    .map_err(|e| errors.push(e))
    .ok();
    let bounds = error_bounds(path, point, rule, dimension, &mut errors);
    let mut standards_in_budget = Vec::new();
    let uncertainty = point_uncertainty(
        path,
        point,
        &reference.unit,
        standards_used,
        &mut standards_in_budget,
        &mut errors,
    );
    let (Some(stage), Some(indicated), Some(uncertainty), true) =
        (stage, indicated, uncertainty, errors.is_empty())
    else {
        return Err(errors);
    };
    Ok(CheckedPoint {
        stage,
        reference,
        indicated,
        bounds,
        uncertainty,
        standards_in_budget,
    })
}

/// The error, its expanded uncertainty, the decision and the TUR of a checked point.
fn point_result(
    point: &PointInput,
    checked: CheckedPoint,
    rule: DecisionRule,
    guard_band: Option<&QuantityJson>,
) -> Result<PointResult, Vec<FieldError>> {
    let CheckedPoint {
        stage,
        reference,
        indicated,
        bounds,
        uncertainty,
        standards_in_budget,
    } = checked;
    // e = indicated − reference, from the two points in SI, stated as an
    // interval in the reference's unit (a °C error is in kelvin-sized degrees).
    let error_si = indicated.point_si() - reference.point_si();
    let PointUncertainty { u_si, k, p, budget } = uncertainty;
    let guard_band_si = guard_band_si(guard_band, reference.unit.dimension, u_si)?;
    let scale = reference.point_si().abs().max(indicated.point_si().abs());
    let decision = bounds.and_then(|b| decide(rule, error_si, b, guard_band_si, scale));
    let tur = bounds.and_then(|b| test_uncertainty_ratio(b, u_si));
    let unit: &Unit = &reference.unit;
    Ok(PointResult {
        stage,
        reference: point.reference.clone(),
        indicated: point.indicated.clone(),
        tolerance: point.tolerance.clone(),
        limits: point.limits.clone(),
        error: QuantityJson {
            value: unit.interval_from_si(error_si),
            unit: unit.symbol.clone(),
        },
        expanded_uncertainty: QuantityJson {
            value: unit.interval_from_si(u_si),
            unit: unit.symbol.clone(),
        },
        coverage_factor: k,
        coverage_probability: p,
        decision,
        tur,
        tur_flagged: bounds.is_some() && tur_flagged(tur),
        budget,
        standards_in_budget,
        readings: point.readings.clone(),
    })
}

/// The guard band in SI: the calibration's own, else the expanded uncertainty U
/// (a guard-banded decision without a guard band of its own guards by U).
fn guard_band_si(
    guard_band: Option<&QuantityJson>,
    dimension: Dimension,
    u_si: f64,
) -> Result<f64, Vec<FieldError>> {
    match guard_band {
        Some(w) => match check_quantity(w, "guard_band", Some(dimension)) {
            Ok(w) => Ok(w.interval_si().abs()),
            Err(e) => Err(vec![e]),
        },
        None => Ok(u_si),
    }
}

fn point_stage(path: &str, point: &PointInput, errors: &mut Vec<FieldError>) -> Option<Stage> {
    match point.stage.as_str() {
        "as_found" => Some(Stage::AsFound),
        "as_left" => Some(Stage::AsLeft),
        _ => {
            errors.push(FieldError::new(
                format!("{path}.stage"),
                "must be as_found or as_left",
            ));
            None
        }
    }
}

/// A quantity that bounds the error, in SI. Tolerances, limits and
/// uncertainties bound the error: they are intervals, never points (a 0.1 °C
/// tolerance is 0.1 K, not 273.25 K).
fn interval_si(
    q: &QuantityJson,
    field: String,
    dimension: Dimension,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    check_quantity(q, &field, Some(dimension))
        .map_err(|e| errors.push(e))
        .ok()
        .map(|q| q.interval_si())
}

/// The bounds on the error, from a ± tolerance or from asymmetric limits (one
/// or the other). A point may have neither only under decision rule `none`:
/// any other rule needs something to decide against.
fn error_bounds(
    path: &str,
    point: &PointInput,
    rule: DecisionRule,
    dimension: Dimension,
    errors: &mut Vec<FieldError>,
) -> Option<ErrorBounds> {
    match (&point.tolerance, &point.limits) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                format!("{path}.limits"),
                "give either tolerance or limits, not both",
            ));
            None
        }
        (Some(tolerance), None) => {
            interval_si(tolerance, format!("{path}.tolerance"), dimension, errors).and_then(|t| {
                if t < 0.0 {
                    errors.push(FieldError::new(
                        format!("{path}.tolerance.value"),
                        "must not be negative",
                    ));
                    None
                } else {
                    Some(ErrorBounds::symmetric(t))
                }
            })
        }
        (None, Some(limits)) => {
            let lower = interval_si(
                &limits.lower,
                format!("{path}.limits.lower"),
                dimension,
                errors,
            );
            let upper = interval_si(
                &limits.upper,
                format!("{path}.limits.upper"),
                dimension,
                errors,
            );
            match (lower, upper) {
                (Some(lower), Some(upper)) if lower > upper => {
                    errors.push(FieldError::new(
                        format!("{path}.limits"),
                        "lower must not exceed upper",
                    ));
                    None
                }
                (Some(lower), Some(upper)) => Some(ErrorBounds { lower, upper }),
                _ => None,
            }
        }
        (None, None) if rule == DecisionRule::None => None,
        (None, None) => {
            errors.push(FieldError::new(
                format!("{path}.tolerance"),
                "a point needs a tolerance (±) or limits for a conformity decision (or decision_rule none)",
            ));
            None
        }
    }
}

/// The point's U, from a budget or as stated: exactly one of the two, or the
/// certificate could not say which U it states.
fn point_uncertainty(
    path: &str,
    point: &PointInput,
    unit: &Unit,
    standards_used: &[i64],
    standards_in_budget: &mut Vec<i64>,
    errors: &mut Vec<FieldError>,
) -> Option<PointUncertainty> {
    match (&point.budget, &point.stated_uncertainty) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                format!("{path}.stated_uncertainty"),
                "give either a budget or a stated uncertainty, not both",
            ));
            None
        }
        (None, None) => {
            errors.push(FieldError::new(
                format!("{path}.budget"),
                "a point needs a budget or a stated_uncertainty",
            ));
            None
        }
        (Some(budget), None) => budget_uncertainty(
            path,
            point,
            budget,
            unit,
            standards_used,
            standards_in_budget,
            errors,
        ),
        (None, Some(stated)) => stated_uncertainty(path, stated, unit.dimension, errors),
    }
}

/// U from an uncertainty budget (GUM). A component may name a standard only
/// if the calibration lists it among its standards: the budget must not draw
/// on a standard the traceability chain does not know. The standards named are
/// collected in `standards_in_budget`, each once, in order.
fn budget_uncertainty(
    path: &str,
    point: &PointInput,
    budget: &PointBudget,
    unit: &Unit,
    standards_used: &[i64],
    standards_in_budget: &mut Vec<i64>,
    errors: &mut Vec<FieldError>,
) -> Option<PointUncertainty> {
    for (j, component) in budget.components.iter().enumerate() {
        if let Some(standard) = component.standard {
            if !standards_used.contains(&standard) {
                errors.push(FieldError::new(
                    format!("{path}.budget.components[{j}].standard"),
                    format!("instrument {standard} is not among standards_used"),
                ));
            } else if !standards_in_budget.contains(&standard) {
                standards_in_budget.push(standard);
            }
        }
    }
    let measurand = Measurand {
        name: format!(
            "error of indication at {} {}",
            point.reference.value, point.reference.unit
        )
        .into(),
        unit: point.reference.unit.as_str().into(),
    };
    match evaluate_budget(measurand, budget) {
        Ok(result) => Some(PointUncertainty {
            u_si: unit.interval_to_si(result.expanded_uncertainty.value),
            k: result.coverage_factor,
            p: result.coverage_probability,
            budget: Some(result),
        }),
        Err(budget_errors) => {
            errors.extend(prefixed(&format!("{path}.budget"), budget_errors));
            None
        }
    }
}

/// A point's budget in either form (DESIGN 5b): components, or a model with inputs by the GUM
/// method. Errors are named inside the budget (`components[0].unit`, `model`, `inputs[1].…`).
fn evaluate_budget(
    measurand: Measurand,
    budget: &PointBudget,
) -> Result<BudgetResult, Vec<FieldError>> {
    let Some(model_text) = &budget.model else {
        let stray = [
            ("inputs", budget.inputs.is_some()),
            ("correlations", budget.correlations.is_some()),
        ];
        let errors: Vec<FieldError> = stray
            .iter()
            .filter(|(_, present)| *present)
            .map(|(field, _)| FieldError::new(*field, "only with a model"))
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        return uncertainty::evaluate(&BudgetRequest {
            measurand,
            coverage_probability: budget.coverage_probability,
            components: budget.components.clone(),
        });
    };
    if !budget.components.is_empty() {
        return Err(vec![FieldError::new(
            "model",
            "give either components or a model with inputs, not both",
        )]);
    }
    model::evaluate_model_budget(
        measurand,
        budget.coverage_probability,
        model_text,
        budget.inputs.as_deref().unwrap_or_default(),
        budget.correlations.as_deref(),
    )
}

/// U as stated (from an external certificate, say), with its k and the
/// coverage probability it claims ([`DEFAULT_COVERAGE_PROBABILITY`] when
/// none is given).
fn stated_uncertainty(
    path: &str,
    stated: &StatedUncertainty,
    dimension: Dimension,
    errors: &mut Vec<FieldError>,
) -> Option<PointUncertainty> {
    let field = format!("{path}.stated_uncertainty");
    let u = interval_si(
        &stated.expanded_uncertainty,
        format!("{field}.expanded_uncertainty"),
        dimension,
        errors,
    );
    let k = stated.coverage_factor;
    let p = stated
        .coverage_probability
        .unwrap_or(DEFAULT_COVERAGE_PROBABILITY);
    if !(k.is_finite() && k > 0.0) {
        errors.push(FieldError::new(
            format!("{field}.coverage_factor"),
            "must be a finite number greater than zero",
        ));
    }
    if !(p > 0.0 && p < 1.0) {
        errors.push(FieldError::new(
            format!("{field}.coverage_probability"),
            "must be between 0 and 1 (exclusive)",
        ));
    }
    match u {
        Some(u) if u < 0.0 => {
            errors.push(FieldError::new(
                format!("{field}.expanded_uncertainty.value"),
                "must not be negative",
            ));
            None
        }
        Some(u) => Some(PointUncertainty {
            u_si: u,
            k,
            p,
            budget: None,
        }),
        None => None,
    }
}

/// ILAC P14: no stated uncertainty may be smaller than the CMC. Compared as
/// standard uncertainties (U/k against CMC/2: CMCs are stated at k = 2), and
/// also as printed: the rounded U must not fall below the CMC either.
fn quantity_text(q: &QuantityJson) -> String {
    format!("{} {}", q.value, q.unit)
}

fn check_cmc_floor(path: &str, point: &PointResult, cmcs: &[Cmc]) -> Result<(), FieldError> {
    let Ok(reference) = Quantity::new(point.reference.value, &point.reference.unit) else {
        return Ok(());
    };
    let Some(kind) = reference.unit.quantity_kind() else {
        return Ok(());
    };
    let unit = &reference.unit;
    let u_si = unit.interval_to_si(point.expanded_uncertainty.value);
    let printed_si = unit.interval_to_si(uncertainty::rounded_expanded_uncertainty(
        point.expanded_uncertainty.value,
    ));
    for cmc in cmcs
        .iter()
        .filter(|c| c.quantity_kind == kind.name() && c.covers(&reference))
    {
        let Some(cmc_si) = cmc.at_si(&reference) else {
            continue;
        };
        let slack = 1e-12 * cmc_si.abs();
        let standard_below = u_si / point.coverage_factor < cmc_si / 2.0 - slack;
        let printed_below = printed_si < cmc_si - slack;
        if standard_below || printed_below {
            return Err(FieldError::new(
                format!("{path}.expanded_uncertainty"),
                format!(
                    "U = {} {} (k = {}) is below the laboratory's CMC for {} from {} to {} \
                     ({:.3e} {} at {} {}): a laboratory cannot report less than its CMC \
                     (ILAC P14); check U and its unit, or the CMC table",
                    point.expanded_uncertainty.value,
                    unit.symbol,
                    point.coverage_factor,
                    cmc.quantity_kind.replace('_', " "),
                    quantity_text(&cmc.range.min),
                    quantity_text(&cmc.range.max),
                    unit.interval_from_si(cmc_si),
                    unit.symbol,
                    point.reference.value,
                    unit.symbol
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the instrument was found in tolerance when it came in: no as-found
/// point out of tolerance. None when no as-found point carries a decision.
pub fn as_found_in_tolerance(points: &[PointResult]) -> Option<bool> {
    let decisions: Vec<Decision> = points
        .iter()
        .filter(|p| p.stage == Stage::AsFound)
        .filter_map(|p| p.decision)
        .collect();
    (!decisions.is_empty()).then(|| !decisions.iter().any(|d| d.is_out_of_tolerance()))
}

/// What a standard was really off by, found after it was used (impact
/// analysis): its reference values were off by `reference_offset`, and its
/// standard uncertainty is really `standard_uncertainty`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StandardCorrection {
    pub reference_offset: QuantityJson,
    pub standard_uncertainty: QuantityJson,
}

/// Re-decides one point of a calibration that used the corrected standard.
/// The reference the technician read was off by the offset, so the true error
/// is e − offset; budget components marked with that standard take its
/// corrected standard uncertainty (their contribution scales with it, GUM
/// 5.1.3), and U is recombined (Welch–Satterthwaite, k from the new ν_eff).
/// A stated U without a budget keeps its value: its share of the standard is
/// not known. Returns the decision after correction.
pub fn corrected_decision(
    point: &PointResult,
    rule: DecisionRule,
    guard_band: Option<&QuantityJson>,
    standard_id: i64,
    correction: &StandardCorrection,
) -> Result<Option<Decision>, String> {
    let reference = Quantity::new(point.reference.value, &point.reference.unit)?;
    let unit = &reference.unit;
    let offset = Quantity::new(
        correction.reference_offset.value,
        &correction.reference_offset.unit,
    )?;
    if offset.unit.dimension != unit.dimension {
        return Err(format!(
            "reference_offset is not of the dimension of the point's reference ({})",
            unit.dimension.describe()
        ));
    }
    let corrected_u = Quantity::new(
        correction.standard_uncertainty.value,
        &correction.standard_uncertainty.unit,
    )?;
    let error_si = unit.interval_to_si(point.error.value) - offset.interval_si();
    let mut u_si = unit.interval_to_si(point.expanded_uncertainty.value);
    // Recombined only when the standard is in the budget: a model budget's u_c may hold
    // correlation terms (GUM 5.2.2) that a sum of squared contributions would drop.
    let marked = |b: &&BudgetResult| b.components.iter().any(|c| c.standard == Some(standard_id));
    if let Some(budget) = point.budget.as_ref().filter(marked) {
        let mut contributions = Vec::with_capacity(budget.components.len());
        for component in &budget.components {
            let mut contribution = component.contribution.value;
            if component.standard == Some(standard_id) && component.standard_uncertainty.value > 0.0
            {
                let component_unit =
                    parse_unit(&component.standard_uncertainty.unit).map_err(|e| e.to_string())?;
                if component_unit.dimension != corrected_u.unit.dimension {
                    return Err(format!(
                        "standard_uncertainty is not of the dimension of budget component '{}' ({})",
                        component.name,
                        component_unit.dimension.describe()
                    ));
                }
                contribution *= corrected_u.interval_si()
                    / component_unit.interval_to_si(component.standard_uncertainty.value);
            }
            contributions.push(super::uncertainty::Contribution {
                standard_uncertainty: contribution,
                sensitivity: 1.0,
                degrees_of_freedom: component.degrees_of_freedom,
            });
        }
        let combined = super::uncertainty::combine(&contributions, budget.coverage_probability)
            .map_err(|e| format!("{e:?}"))?;
        u_si = unit.interval_to_si(combined.expanded_uncertainty);
    }
    let bounds = match (&point.tolerance, &point.limits) {
        (Some(t), _) => ErrorBounds::symmetric(Quantity::new(t.value, &t.unit)?.interval_si()),
        (None, Some(l)) => ErrorBounds {
            lower: Quantity::new(l.lower.value, &l.lower.unit)?.interval_si(),
            upper: Quantity::new(l.upper.value, &l.upper.unit)?.interval_si(),
        },
        (None, None) => return Ok(None),
    };
    let guard_band_si = match guard_band {
        Some(w) => Quantity::new(w.value, &w.unit)?.interval_si().abs(),
        None => u_si,
    };
    let scale = reference.point_si().abs();
    Ok(decide(rule, error_si, bounds, guard_band_si, scale))
}
