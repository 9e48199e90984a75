//! Statements of conformity to a specification (ISO/IEC 17025:2017 7.8.6) under the decision
//! rules of ILAC-G8:2019, and the test uncertainty ratio reported beside them.
//!
//! Everything here works on the **error** of indication e = indicated − reference (VIM 4.11),
//! in SI units: the caller converts units (section 4 of DESIGN) before asking for a decision.
//! A tolerance ±T and explicit limits {L, H} both become [`ErrorBounds`].
//!
//! # Limits as the metrologist wrote them
//!
//! A decision is about decimal numbers as written on the procedure and the data sheet, but e is
//! computed in binary floating point: 0.501 − 0.5 = 0.001 000 000 000 000 000 9, which is
//! *above* a limit written 0.001. A reading exactly on a limit must count as on the limit (every
//! zone boundary in ILAC-G8 is inclusive here), so every comparison allows a slack of
//! [`LIMIT_COMPARISON_RELATIVE_TOLERANCE`] × the magnitude of the values involved.
//!
//! Why 1e-12 and not something looser such as 1e-9: the rounding noise of one subtraction or
//! one unit conversion is a few units in the last place, about 1e-16 of the magnitude, so 1e-12
//! still leaves a margin of several thousand over the noise; a looser slack would start to
//! swallow real digits on the instruments that resolve the most (an 8½-digit DMM resolves
//! 1e-8 of its range, a frequency counter checked against a 1e-11 specification at 10 MHz
//! needs e resolved to 1e-5 Hz, i.e. 1e-12 of the reading). A slack that large could turn an
//! out-of-tolerance reading into a pass, which is the one error an inspection agency must
//! never see.

use serde::{Deserialize, Serialize};

/// Relative slack on every limit comparison, as a fraction of the magnitude of the values
/// involved (see the module documentation for why this value).
pub const LIMIT_COMPARISON_RELATIVE_TOLERANCE: f64 = 1e-12;

/// Below this test uncertainty ratio the measurement is flagged: 4:1 is the long-standing
/// minimum of ANSI/NCSL Z540.3 and of most calibration procedures, and the point under which
/// ILAC-G8 guard banding starts to cost a substantial part of the tolerance.
pub const TUR_MINIMUM: f64 = 4.0;

/// The decision rule chosen for a calibration and reported with the statement of conformity
/// (ISO/IEC 17025 7.8.6.2 requires the rule to be stated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// Binary statement with simple acceptance (ILAC-G8:2019 4.2.1): the acceptance limit is
    /// the tolerance limit, the measurement uncertainty is reported but not used.
    Simple,
    /// Binary statement with guarded acceptance (ILAC-G8:2019 4.2.2): the acceptance zone is
    /// the tolerance shrunk by the guard band w on each side.
    GuardBand,
    /// Non-binary statement (ILAC-G8:2019 4.2.3): pass / conditional pass / conditional fail
    /// / fail, with zone edges at the tolerance limits ± w.
    NonBinary,
    /// No statement of conformity is made (the customer asked for values only).
    None,
}

impl DecisionRule {
    /// The rule as it is written in the API and stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionRule::Simple => "simple",
            DecisionRule::GuardBand => "guard_band",
            DecisionRule::NonBinary => "non_binary",
            DecisionRule::None => "none",
        }
    }
}

/// A decision rule as a certificate states it (ISO/IEC 17025 7.8.6.2): the one
/// wording that the PDF, the DCC and the pages all print.
pub struct RuleStatement {
    /// The rule's reference, as the DCC's `convention`.
    pub convention: &'static str,
    pub english: &'static str,
    pub chinese: &'static str,
}

impl DecisionRule {
    pub fn statement(&self) -> RuleStatement {
        match self {
            DecisionRule::Simple => RuleStatement {
                convention: "ILAC-G8:09/2019 4.2.1 simple acceptance",
                english: "Simple acceptance (ILAC-G8:09/2019, 4.2.1): a point passes when the \
                          measured error lies within the tolerance limits; the uncertainty is \
                          reported but not subtracted, so the risk of a wrong decision is shared.",
                chinese: "简单接受（ILAC-G8:09/2019 4.2.1）：测得误差在允差限内即判合格，\
                          不扣除测量不确定度，误判风险由双方共担。",
            },
            DecisionRule::GuardBand => RuleStatement {
                convention: "ILAC-G8:09/2019 4.2.2 guarded acceptance",
                english: "Guarded acceptance (ILAC-G8:09/2019, 4.2.2): a point passes only when \
                          the measured error lies within the tolerance limits narrowed on each \
                          side by a guard band w (w = U unless agreed otherwise), which limits \
                          the risk of false acceptance.",
                chinese: "保护带接受（ILAC-G8:09/2019 4.2.2）：测得误差须落在两侧各收窄保护带 w\
                          （未另行约定时 w = U）的允差限内方判合格，以限制误判合格的风险。",
            },
            DecisionRule::NonBinary => RuleStatement {
                convention: "ILAC-G8:09/2019 4.2.3 non-binary statement",
                english: "Non-binary statement (ILAC-G8:09/2019, 4.2.3): pass when the error is \
                          inside the limits by more than the guard band w (w = U unless agreed \
                          otherwise), conditional pass when inside but within w of a limit, \
                          conditional fail when outside by less than w, fail otherwise.",
                chinese: "非二元判定（ILAC-G8:09/2019 4.2.3）：误差在允差限内且距限值超过保护带 w\
                          （未另行约定时 w = U）为合格；在限内但距限值不足 w 为有条件合格；\
                          超出限值不足 w 为有条件不合格；否则为不合格。",
            },
            DecisionRule::None => RuleStatement {
                convention: "no statement of conformity",
                english: "No statement of conformity is made; the results are reported as \
                          measured.",
                chinese: "本证书不作符合性声明，仅报告测量结果。",
            },
        }
    }
}

impl std::str::FromStr for DecisionRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simple" => Ok(DecisionRule::Simple),
            "guard_band" => Ok(DecisionRule::GuardBand),
            "non_binary" => Ok(DecisionRule::NonBinary),
            "none" => Ok(DecisionRule::None),
            other => Err(format!(
                "unknown decision rule `{other}` (expected simple, guard_band, non_binary or none)"
            )),
        }
    }
}

/// A statement of conformity for one measurement point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Pass,
    /// Inside the tolerance, but closer to a limit than the guard band (ILAC-G8 4.2.3).
    ConditionalPass,
    /// Outside the tolerance, but by less than the guard band (ILAC-G8 4.2.3).
    ConditionalFail,
    Fail,
}

impl Decision {
    /// Whether the measured error lies outside the tolerance, which is what makes an
    /// instrument out of tolerance (and its earlier results suspect, ISO/IEC 17025 7.10).
    /// A conditional fail counts: the best estimate of the error is beyond the limit.
    /// A conditional pass does not: the best estimate is within it.
    pub fn is_out_of_tolerance(&self) -> bool {
        matches!(self, Decision::Fail | Decision::ConditionalFail)
    }

    /// The decision as it is written in the API and stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::ConditionalPass => "conditional_pass",
            Decision::ConditionalFail => "conditional_fail",
            Decision::Fail => "fail",
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pass" => Ok(Decision::Pass),
            "conditional_pass" => Ok(Decision::ConditionalPass),
            "conditional_fail" => Ok(Decision::ConditionalFail),
            "fail" => Ok(Decision::Fail),
            other => Err(format!(
                "unknown decision `{other}` (expected pass, conditional_pass, conditional_fail or fail)"
            )),
        }
    }
}

/// Whether any of a calibration's final-result decisions puts the instrument out of tolerance
/// (DESIGN section 6: `fail` or `conditional_fail`; points under the `none` rule say nothing).
pub fn any_out_of_tolerance<I>(decisions: I) -> bool
where
    I: IntoIterator<Item = Option<Decision>>,
{
    decisions
        .into_iter()
        .any(|d| d.is_some_and(|d| d.is_out_of_tolerance()))
}

/// The tolerance limits on the error of indication, lower L and upper H, in SI units.
/// A symmetric tolerance ±T (a maximum permissible error, VIM 4.26) is {−T, +T}.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErrorBounds {
    pub lower: f64,
    pub upper: f64,
}

impl ErrorBounds {
    /// Limits of a symmetric tolerance ±T (maximum permissible error).
    pub fn symmetric(maximum_permissible_error: f64) -> Self {
        let t = maximum_permissible_error.abs();
        ErrorBounds {
            lower: -t,
            upper: t,
        }
    }

    /// The tolerance span H − L (the numerator of the TUR).
    pub fn span(&self) -> f64 {
        self.upper - self.lower
    }
}

/// The magnitude the comparison slack is taken from: what the caller says (the reference and
/// indicated values it subtracted), but never less than the limits and guard band themselves,
/// so a caller passing 0 still gets the slack the limits' own rounding needs.
fn comparison_slack(bounds: ErrorBounds, guard_band: f64, scale: f64) -> f64 {
    let magnitude = [scale, bounds.lower, bounds.upper, guard_band]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    LIMIT_COMPARISON_RELATIVE_TOLERANCE * magnitude
}

/// The statement of conformity for one point under `rule`.
///
/// - `error`: e = indicated − reference, SI.
/// - `bounds`: tolerance limits {L, H} on e, SI.
/// - `guard_band`: w, SI; the expanded uncertainty U unless the calibration states its own.
///   It is a width: a negative value is taken by its magnitude so that the ILAC-G8 zones keep
///   their order (L − w ≤ L ≤ L + w).
/// - `scale`: magnitude of the values e was computed from, e.g. max(|reference|, |indicated|);
///   it sets the slack that keeps a reading exactly on a limit on the limit (module docs).
///
/// Every zone boundary is inclusive. Returns `None` for [`DecisionRule::None`] (no statement).
/// A non-finite error or limit gives `Fail`: no statement of compliance can rest on it.
///
/// When the guard band is wider than half the tolerance (L + w > H − w), the acceptance zone
/// is empty: `guard_band` can only fail and `non_binary` can at best give a conditional pass
/// (ILAC-G8 4.2.2: the measurement is not good enough for a guarded statement).
pub fn decide(
    rule: DecisionRule,
    error: f64,
    bounds: ErrorBounds,
    guard_band: f64,
    scale: f64,
) -> Option<Decision> {
    if rule == DecisionRule::None {
        return None;
    }
    let w = guard_band.abs();
    let slack = comparison_slack(bounds, w, scale);
    let within = |low: f64, high: f64| low - slack <= error && error <= high + slack;

    let in_tolerance = within(bounds.lower, bounds.upper);
    let in_acceptance_zone = within(bounds.lower + w, bounds.upper - w);
    let within_guard_band_beyond = within(bounds.lower - w, bounds.upper + w);

    let decision = match rule {
        DecisionRule::Simple if in_tolerance => Decision::Pass,
        DecisionRule::Simple => Decision::Fail,
        DecisionRule::GuardBand if in_acceptance_zone => Decision::Pass,
        DecisionRule::GuardBand => Decision::Fail,
        DecisionRule::NonBinary if in_acceptance_zone => Decision::Pass,
        DecisionRule::NonBinary if in_tolerance => Decision::ConditionalPass,
        DecisionRule::NonBinary if within_guard_band_beyond => Decision::ConditionalFail,
        DecisionRule::NonBinary => Decision::Fail,
        DecisionRule::None => unreachable!("handled above"),
    };
    Some(decision)
}

/// Test uncertainty ratio TUR = (H − L) / (2U): the tolerance span over the span of the
/// expanded-uncertainty interval (ANSI/NCSL Z540.3 definition, used with ILAC-G8 to judge
/// whether a binary statement is meaningful).
///
/// `None` when no ratio can be formed: U is zero, negative or not finite, the limits are not
/// finite, or they are inverted (H < L).
pub fn test_uncertainty_ratio(bounds: ErrorBounds, expanded_uncertainty: f64) -> Option<f64> {
    let span = bounds.span();
    let formable = expanded_uncertainty.is_finite()
        && expanded_uncertainty > 0.0
        && span.is_finite()
        && span >= 0.0;
    formable.then(|| span / (2.0 * expanded_uncertainty))
}

/// Whether a TUR is below [`TUR_MINIMUM`] (4:1). A ratio that is 4:1 as written (e.g. a span of
/// 0.002 against U = 0.000 25, which binary arithmetic may give as 3.999…) is not flagged.
/// No ratio (`None`, e.g. U = 0) is not flagged: there is nothing to compare.
pub fn tur_flagged(tur: Option<f64>) -> bool {
    match tur {
        Some(t) if t.is_nan() => true,
        Some(t) => t < TUR_MINIMUM * (1.0 - 1e-9),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Decision::*;
    use DecisionRule as R;

    const PM1: ErrorBounds = ErrorBounds {
        lower: -1.0,
        upper: 1.0,
    };
    const ASYM: ErrorBounds = ErrorBounds {
        lower: -0.2,
        upper: 0.6,
    };

    fn d(rule: DecisionRule, e: f64, b: ErrorBounds, w: f64) -> Option<Decision> {
        decide(rule, e, b, w, 1.0)
    }

    #[test]
    fn none_rule_makes_no_statement() {
        for e in [-5.0, -1.0, 0.0, 0.99, 1.0, 5.0, f64::NAN] {
            assert_eq!(d(R::None, e, PM1, 0.1), None);
        }
    }

    #[test]
    fn simple_every_outcome_and_boundary() {
        assert_eq!(d(R::Simple, 0.0, PM1, 0.1), Some(Pass));
        assert_eq!(d(R::Simple, 0.95, PM1, 0.1), Some(Pass));
        assert_eq!(d(R::Simple, 1.0, PM1, 0.1), Some(Pass));
        assert_eq!(d(R::Simple, -1.0, PM1, 0.1), Some(Pass));
        assert_eq!(d(R::Simple, 1.0001, PM1, 0.1), Some(Fail));
        assert_eq!(d(R::Simple, -1.0001, PM1, 0.1), Some(Fail));
        assert_eq!(d(R::Simple, 1.05, PM1, 0.1), Some(Fail));
        // Simple acceptance ignores the guard band entirely.
        assert_eq!(d(R::Simple, 0.99, PM1, 100.0), Some(Pass));
    }

    #[test]
    fn guard_band_every_outcome_and_boundary() {
        let w = 0.25;
        assert_eq!(d(R::GuardBand, 0.0, PM1, w), Some(Pass));
        assert_eq!(d(R::GuardBand, 0.75, PM1, w), Some(Pass)); // e = H − w
        assert_eq!(d(R::GuardBand, -0.75, PM1, w), Some(Pass)); // e = L + w
        assert_eq!(d(R::GuardBand, 0.7501, PM1, w), Some(Fail));
        assert_eq!(d(R::GuardBand, -0.7501, PM1, w), Some(Fail));
        assert_eq!(d(R::GuardBand, 1.0, PM1, w), Some(Fail)); // e = H: in tolerance, not accepted
        assert_eq!(d(R::GuardBand, -1.0, PM1, w), Some(Fail));
        assert_eq!(d(R::GuardBand, 1.25, PM1, w), Some(Fail));
        assert_eq!(d(R::GuardBand, 3.0, PM1, w), Some(Fail));
    }

    #[test]
    fn non_binary_every_outcome_and_boundary() {
        let w = 0.25;
        // pass zone [L + w, H − w], edges inclusive
        assert_eq!(d(R::NonBinary, 0.0, PM1, w), Some(Pass));
        assert_eq!(d(R::NonBinary, 0.75, PM1, w), Some(Pass));
        assert_eq!(d(R::NonBinary, -0.75, PM1, w), Some(Pass));
        // conditional pass: in [L, H] but not in the pass zone; e = H and e = L belong here
        assert_eq!(d(R::NonBinary, 0.76, PM1, w), Some(ConditionalPass));
        assert_eq!(d(R::NonBinary, -0.76, PM1, w), Some(ConditionalPass));
        assert_eq!(d(R::NonBinary, 1.0, PM1, w), Some(ConditionalPass));
        assert_eq!(d(R::NonBinary, -1.0, PM1, w), Some(ConditionalPass));
        // conditional fail: outside [L, H], inside [L − w, H + w]; e = H + w belongs here
        assert_eq!(d(R::NonBinary, 1.01, PM1, w), Some(ConditionalFail));
        assert_eq!(d(R::NonBinary, -1.01, PM1, w), Some(ConditionalFail));
        assert_eq!(d(R::NonBinary, 1.25, PM1, w), Some(ConditionalFail));
        assert_eq!(d(R::NonBinary, -1.25, PM1, w), Some(ConditionalFail));
        // fail beyond
        assert_eq!(d(R::NonBinary, 1.2501, PM1, w), Some(Fail));
        assert_eq!(d(R::NonBinary, -1.2501, PM1, w), Some(Fail));
        assert_eq!(d(R::NonBinary, 10.0, PM1, w), Some(Fail));
    }

    #[test]
    fn asymmetric_limits_every_edge() {
        // L = −0.2, H = 0.6, w = 0.1: pass [−0.1, 0.5], tolerance [−0.2, 0.6], guard [−0.3, 0.7]
        let w = 0.1;
        let cases = [
            (-0.1, Pass, Pass, Pass),
            (0.5, Pass, Pass, Pass),
            (0.2, Pass, Pass, Pass),
            (0.55, Pass, Fail, ConditionalPass),
            (-0.15, Pass, Fail, ConditionalPass),
            (0.6, Pass, Fail, ConditionalPass),
            (-0.2, Pass, Fail, ConditionalPass),
            (0.65, Fail, Fail, ConditionalFail),
            (-0.25, Fail, Fail, ConditionalFail),
            (0.7, Fail, Fail, ConditionalFail),
            (-0.3, Fail, Fail, ConditionalFail),
            (0.71, Fail, Fail, Fail),
            (-0.31, Fail, Fail, Fail),
        ];
        for (e, simple, guarded, non_binary) in cases {
            assert_eq!(d(R::Simple, e, ASYM, w), Some(simple), "simple e = {e}");
            assert_eq!(
                d(R::GuardBand, e, ASYM, w),
                Some(guarded),
                "guard_band e = {e}"
            );
            assert_eq!(
                d(R::NonBinary, e, ASYM, w),
                Some(non_binary),
                "non_binary e = {e}"
            );
        }
    }

    #[test]
    fn one_sided_limits_that_exclude_zero() {
        // A specification may require a positive error, e.g. L = 0.1, H = 0.3.
        let b = ErrorBounds {
            lower: 0.1,
            upper: 0.3,
        };
        assert_eq!(d(R::Simple, 0.0, b, 0.05), Some(Fail));
        assert_eq!(d(R::NonBinary, 0.0, b, 0.05), Some(Fail));
        assert_eq!(d(R::NonBinary, 0.06, b, 0.05), Some(ConditionalFail));
        assert_eq!(d(R::NonBinary, 0.15, b, 0.05), Some(Pass));
    }

    #[test]
    fn reading_exactly_on_a_limit_as_written_is_on_the_limit() {
        // 0.501 − 0.5 = 0.0010000000000000009 in binary, above 0.001.
        let e = 0.501 - 0.5;
        assert!(
            e > 0.001,
            "the premise of this test: float noise puts e above H"
        );
        let b = ErrorBounds::symmetric(0.001);
        let scale = 0.501;
        assert_eq!(decide(R::Simple, e, b, 0.0002, scale), Some(Pass));
        assert_eq!(
            decide(R::NonBinary, e, b, 0.0002, scale),
            Some(ConditionalPass)
        );
        // The other side: 0.499 − 0.5 is on L.
        let e = 0.499 - 0.5;
        assert_eq!(decide(R::Simple, e, b, 0.0002, scale), Some(Pass));
        // e = H − w written as 0.5008 − 0.5 with w = 0.0002: on the pass-zone edge.
        let e = 0.5008 - 0.5;
        assert_eq!(decide(R::GuardBand, e, b, 0.0002, scale), Some(Pass));
        assert_eq!(decide(R::NonBinary, e, b, 0.0002, scale), Some(Pass));
        // e = H + w written as 0.5012 − 0.5: still conditional fail, not fail.
        let e = 0.5012 - 0.5;
        assert_eq!(
            decide(R::NonBinary, e, b, 0.0002, scale),
            Some(ConditionalFail)
        );
        // One digit of the reading beyond the limit is beyond it.
        let e = 0.5011 - 0.5;
        assert_eq!(decide(R::Simple, e, b, 0.0002, scale), Some(Fail));
        let e = 0.50121 - 0.5;
        assert_eq!(decide(R::NonBinary, e, b, 0.0002, scale), Some(Fail));
    }

    #[test]
    fn on_the_limit_after_a_unit_conversion() {
        // 20.0 °C reference, 20.5 °C indicated, tolerance ±0.5 K, all converted to kelvin.
        let reference = 20.0 + 273.15;
        let indicated = 20.5 + 273.15;
        let e = indicated - reference;
        let b = ErrorBounds::symmetric(0.5);
        assert_eq!(decide(R::Simple, e, b, 0.1, indicated), Some(Pass));
        // Even when the caller forgets the scale, the limits' own magnitude gives some slack.
        let e = 0.501 - 0.5;
        assert_eq!(
            decide(R::Simple, e, ErrorBounds::symmetric(0.001), 0.0, 0.0),
            Some(Pass)
        );
    }

    #[test]
    fn slack_does_not_swallow_real_digits_at_high_resolution() {
        // 10 MHz against a ±1e-11 specification (±1e-4 Hz); the slack there is 1e-5 Hz.
        let reference = 10_000_000.0;
        let b = ErrorBounds::symmetric(1e-4);
        let on_limit = 10_000_000.000_1 - reference;
        assert_eq!(decide(R::Simple, on_limit, b, 0.0, reference), Some(Pass));
        let beyond = 10_000_000.000_12 - reference;
        assert_eq!(decide(R::Simple, beyond, b, 0.0, reference), Some(Fail));
    }

    #[test]
    fn guard_band_wider_than_half_the_tolerance_leaves_no_acceptance_zone() {
        // L + w = 0.5 > H − w = −0.5
        let w = 1.5;
        for e in [-1.0, -0.5, 0.0, 0.5, 1.0] {
            assert_eq!(d(R::GuardBand, e, PM1, w), Some(Fail), "guard_band e = {e}");
            assert_eq!(
                d(R::NonBinary, e, PM1, w),
                Some(ConditionalPass),
                "non_binary e = {e}"
            );
        }
        assert_eq!(d(R::NonBinary, 2.5, PM1, w), Some(ConditionalFail));
        assert_eq!(d(R::NonBinary, 2.6, PM1, w), Some(Fail));
        // Exactly half the tolerance: the acceptance zone is the single point e = 0.
        assert_eq!(d(R::GuardBand, 0.0, PM1, 1.0), Some(Pass));
        assert_eq!(d(R::GuardBand, 0.01, PM1, 1.0), Some(Fail));
        assert_eq!(d(R::NonBinary, 0.0, PM1, 1.0), Some(Pass));
    }

    #[test]
    fn zero_guard_band_reduces_every_rule_to_simple_acceptance() {
        for e in [-1.5, -1.0, -0.3, 0.0, 1.0, 1.0001] {
            let simple = d(R::Simple, e, PM1, 0.0);
            assert_eq!(d(R::GuardBand, e, PM1, 0.0), simple, "e = {e}");
            assert_eq!(d(R::NonBinary, e, PM1, 0.0), simple, "e = {e}");
        }
    }

    #[test]
    fn negative_guard_band_is_taken_as_a_width() {
        assert_eq!(d(R::NonBinary, 0.9, PM1, -0.25), Some(ConditionalPass));
        assert_eq!(d(R::GuardBand, 0.9, PM1, -0.25), Some(Fail));
    }

    #[test]
    fn non_finite_inputs_never_pass() {
        for rule in [R::Simple, R::GuardBand, R::NonBinary] {
            assert_eq!(d(rule, f64::NAN, PM1, 0.1), Some(Fail));
            assert_eq!(d(rule, f64::INFINITY, PM1, 0.1), Some(Fail));
        }
        // An unknown guard band never gives a pass that depends on it.
        assert_eq!(d(R::Simple, 0.0, PM1, f64::NAN), Some(Pass));
        assert_eq!(d(R::GuardBand, 0.0, PM1, f64::NAN), Some(Fail));
        assert_eq!(d(R::NonBinary, 0.0, PM1, f64::NAN), Some(ConditionalPass));
        assert_eq!(d(R::NonBinary, 1.1, PM1, f64::NAN), Some(Fail));
    }

    #[test]
    fn out_of_tolerance_means_fail_or_conditional_fail() {
        assert!(!Pass.is_out_of_tolerance());
        assert!(!ConditionalPass.is_out_of_tolerance());
        assert!(ConditionalFail.is_out_of_tolerance());
        assert!(Fail.is_out_of_tolerance());
        assert!(any_out_of_tolerance([
            Some(Pass),
            None,
            Some(ConditionalFail)
        ]));
        assert!(!any_out_of_tolerance([
            Some(Pass),
            None,
            Some(ConditionalPass)
        ]));
        assert!(!any_out_of_tolerance(Vec::new()));
    }

    #[test]
    fn tur_values() {
        assert_eq!(test_uncertainty_ratio(PM1, 0.25), Some(4.0));
        assert_eq!(test_uncertainty_ratio(PM1, 0.1), Some(10.0));
        assert_eq!(test_uncertainty_ratio(ASYM, 0.2), Some(2.0));
        assert_eq!(test_uncertainty_ratio(PM1, 0.0), None);
        assert_eq!(test_uncertainty_ratio(PM1, -0.1), None);
        assert_eq!(test_uncertainty_ratio(PM1, f64::NAN), None);
        let inverted = ErrorBounds {
            lower: 1.0,
            upper: -1.0,
        };
        assert_eq!(test_uncertainty_ratio(inverted, 0.1), None);
        let t = test_uncertainty_ratio(ErrorBounds::symmetric(0.001), 0.0002).unwrap();
        assert!((t - 5.0).abs() < 1e-12);
    }

    #[test]
    fn tur_flag_below_four_to_one() {
        assert!(tur_flagged(Some(3.9)));
        assert!(tur_flagged(Some(1.0)));
        assert!(tur_flagged(Some(0.0)));
        assert!(!tur_flagged(Some(4.0)));
        assert!(!tur_flagged(Some(10.0)));
        assert!(!tur_flagged(None));
        // 4:1 as written stays unflagged whatever the binary rounding does:
        // (0.3 − 0.1) / (2 × 0.025) is 3.9999999999999996 in binary.
        let b = ErrorBounds {
            lower: 0.1,
            upper: 0.3,
        };
        let tur = test_uncertainty_ratio(b, 0.025);
        assert!(tur.unwrap() < 4.0, "premise: binary rounding falls below 4");
        assert!(!tur_flagged(tur));
        assert!(tur_flagged(test_uncertainty_ratio(b, 0.0251)));
        assert!(tur_flagged(test_uncertainty_ratio(
            ErrorBounds::symmetric(0.003),
            0.00076
        )));
        assert!(!tur_flagged(test_uncertainty_ratio(
            ErrorBounds::symmetric(0.003),
            0.00075
        )));
    }

    #[test]
    fn serde_names_are_the_api_names() {
        let rules = [R::Simple, R::GuardBand, R::NonBinary, R::None];
        for rule in rules {
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(json, format!("\"{}\"", rule.as_str()));
            assert_eq!(rule.as_str().parse::<DecisionRule>(), Ok(rule));
        }
        for decision in [Pass, ConditionalPass, ConditionalFail, Fail] {
            let json = serde_json::to_string(&decision).unwrap();
            assert_eq!(json, format!("\"{}\"", decision.as_str()));
            assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
            assert_eq!(decision.as_str().parse::<Decision>(), Ok(decision));
        }
        assert!("guard-band".parse::<DecisionRule>().is_err());
    }

    fn bounds_and_error() -> impl Strategy<Value = (ErrorBounds, f64, f64, f64)> {
        (
            -10.0..10.0f64,
            0.0..10.0f64,
            0.0..5.0f64,
            -30.0..30.0f64,
            0.0..100.0f64,
        )
            .prop_map(|(lower, span, w, e, scale)| {
                (
                    ErrorBounds {
                        lower,
                        upper: lower + span,
                    },
                    w,
                    e,
                    scale,
                )
            })
    }

    proptest! {
        #[test]
        fn non_binary_and_simple_agree_on_in_or_out_of_tolerance(
            (b, w, e, scale) in bounds_and_error()
        ) {
            let simple = decide(R::Simple, e, b, w, scale).unwrap();
            let non_binary = decide(R::NonBinary, e, b, w, scale).unwrap();
            prop_assert_eq!(simple.is_out_of_tolerance(), non_binary.is_out_of_tolerance());
        }

        #[test]
        fn guarded_pass_implies_simple_pass_and_non_binary_pass(
            (b, w, e, scale) in bounds_and_error()
        ) {
            if decide(R::GuardBand, e, b, w, scale) == Some(Pass) {
                prop_assert_eq!(decide(R::Simple, e, b, w, scale), Some(Pass));
                prop_assert_eq!(decide(R::NonBinary, e, b, w, scale), Some(Pass));
            }
        }

        #[test]
        fn guard_band_pass_is_exactly_non_binary_pass(
            (b, w, e, scale) in bounds_and_error()
        ) {
            let guarded = decide(R::GuardBand, e, b, w, scale) == Some(Pass);
            let non_binary = decide(R::NonBinary, e, b, w, scale) == Some(Pass);
            prop_assert_eq!(guarded, non_binary);
        }

        #[test]
        fn decisions_do_not_improve_as_the_error_moves_away_from_the_tolerance(
            (b, w, e, scale) in bounds_and_error(), step in 0.0..5.0f64
        ) {
            fn rank(d: Decision) -> u8 {
                match d { Pass => 0, ConditionalPass => 1, ConditionalFail => 2, Fail => 3 }
            }
            let centre = (b.lower + b.upper) / 2.0;
            let further = if e >= centre { e + step } else { e - step };
            for rule in [R::Simple, R::GuardBand, R::NonBinary] {
                let near = rank(decide(rule, e, b, w, scale).unwrap());
                let far = rank(decide(rule, further, b, w, scale).unwrap());
                prop_assert!(far >= near, "{:?}: e = {} -> {}, further {} -> {}", rule, e, near, further, far);
            }
        }

        #[test]
        fn wider_guard_band_never_turns_fail_into_pass_under_guarded_acceptance(
            (b, w, e, scale) in bounds_and_error(), extra in 0.0..2.0f64
        ) {
            if decide(R::GuardBand, e, b, w, scale) == Some(Fail) {
                prop_assert_eq!(decide(R::GuardBand, e, b, w + extra, scale), Some(Fail));
            }
        }

        #[test]
        fn tur_flag_matches_the_ratio((b, _w, _e, _s) in bounds_and_error(), u in 0.0001..5.0f64) {
            let tur = test_uncertainty_ratio(b, u).unwrap();
            prop_assert!((tur - b.span() / (2.0 * u)).abs() <= 1e-12 * tur.max(1.0));
            if tur < 3.99 { prop_assert!(tur_flagged(Some(tur))); }
            if tur >= 4.0 { prop_assert!(!tur_flagged(Some(tur))); }
        }
    }
}
