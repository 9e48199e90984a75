//! Is instrument X validly calibrated on date D, and if not, why not (DESIGN section 6).
//!
//! The answer rests on the instrument's status in force on D and on its latest calibration
//! *on record* performed on or before D (ISO/IEC 17025 6.4.7, 6.4.13 and 7.8.4.1: equipment is
//! fit for use only while its calibration status is known and in date). Only the latest counts:
//! an older calibration that is still in date does not rescue an instrument whose latest one
//! was withdrawn or found it out of tolerance, which is also how traceability (section 7)
//! judges each standard on the date it was used.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The place of an instrument in the traceability hierarchy (VIM 5.1–5.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A customer's or field instrument.
    Working,
    /// The lab's own standard, used to calibrate others.
    Reference,
    /// A national measurement standard held by an NMI: a root of traceability (ILAC P10).
    National,
}

impl Role {
    /// The role as written in the API and stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Working => "working",
            Role::Reference => "reference",
            Role::National => "national",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "working" => Ok(Role::Working),
            "reference" => Ok(Role::Reference),
            "national" => Ok(Role::National),
            other => Err(format!(
                "unknown role `{other}` (expected working, reference or national)"
            )),
        }
    }
}

/// Whether an instrument may be used at all (ISO/IEC 17025 6.4.9: equipment found defective
/// or out of specified requirements is taken out of service until shown to work correctly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentStatus {
    Active,
    Suspended,
    Retired,
}

impl InstrumentStatus {
    /// The status as written in the API and stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            InstrumentStatus::Active => "active",
            InstrumentStatus::Suspended => "suspended",
            InstrumentStatus::Retired => "retired",
        }
    }
}

impl std::str::FromStr for InstrumentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(InstrumentStatus::Active),
            "suspended" => Ok(InstrumentStatus::Suspended),
            "retired" => Ok(InstrumentStatus::Retired),
            other => Err(format!(
                "unknown status `{other}` (expected active, suspended or retired)"
            )),
        }
    }
}

/// One suspend / reactivate / retire, in force from `effective_on` (the day it was made; dates
/// before it are unaffected). Of two changes on one day the one with the higher `sequence`
/// (made later) counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub effective_on: NaiveDate,
    pub sequence: i64,
    pub status: InstrumentStatus,
}

/// A calibration on record (DESIGN section 6 "On record"), as the validity rules need it. The
/// caller has already filtered: approved internal ones (withdrawn included, with `withdrawn`
/// set), accepted external ones, superseded ones replaced by their replacement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalibrationOnRecord {
    pub calibration_id: i64,
    pub performed_on: NaiveDate,
    /// Creation order: of two performed on one day, the one created later is the latest.
    pub sequence: i64,
    pub due_on: NaiveDate,
    /// Ours for an internal calibration, the issuer's for an external one.
    pub certificate_number: Option<String>,
    pub withdrawn: bool,
    /// Some final-result decision is `fail` or `conditional_fail`.
    pub out_of_tolerance: bool,
    /// Its traceability chain was broken on its own date (section 7).
    pub chain_broken: bool,
}

/// Why an instrument is or is not valid on a date. The variants are listed in the order they
/// are tried: the first that applies is the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValidityReason {
    Valid,
    Retired,
    Suspended,
    NeverCalibrated,
    NotYetCalibrated,
    CertificateWithdrawn,
    OutOfTolerance,
    Expired,
    NotTraceable,
    /// Only for bulk requests naming an id or tag that is not in the register.
    UnknownInstrument,
}

impl ValidityReason {
    /// The reason as written in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            ValidityReason::Valid => "valid",
            ValidityReason::Retired => "retired",
            ValidityReason::Suspended => "suspended",
            ValidityReason::NeverCalibrated => "never_calibrated",
            ValidityReason::NotYetCalibrated => "not_yet_calibrated",
            ValidityReason::CertificateWithdrawn => "certificate_withdrawn",
            ValidityReason::OutOfTolerance => "out_of_tolerance",
            ValidityReason::Expired => "expired",
            ValidityReason::NotTraceable => "not_traceable",
            ValidityReason::UnknownInstrument => "unknown_instrument",
        }
    }
}

/// The answer for one instrument on one date: the verdict, its reason, and the calibration it
/// rests on (null fields where there is none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Validity {
    pub valid: bool,
    pub reason: ValidityReason,
    pub certificate_number: Option<String>,
    pub calibrated_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    /// For `certificate_withdrawn`, `suspended` and `retired`: when and why (DESIGN 9c:
    /// an inspector must see why an instrument is out, not only that it is). Absent
    /// for the other reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_detail: Option<ReasonDetail>,
}

/// When a withdrawal or a status change took effect, and the reason given for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReasonDetail {
    #[schema(value_type = String, format = Date)]
    pub on: NaiveDate,
    pub text: Option<String>,
}

impl ValidityReason {
    /// Whether the verdict has a [`ReasonDetail`] to look up.
    pub fn has_detail(&self) -> bool {
        matches!(
            self,
            ValidityReason::CertificateWithdrawn
                | ValidityReason::Suspended
                | ValidityReason::Retired
        )
    }
}

impl Validity {
    /// The answer for an id or tag that is not in the register (bulk status requests).
    pub fn unknown_instrument() -> Self {
        Validity {
            valid: false,
            reason: ValidityReason::UnknownInstrument,
            certificate_number: None,
            calibrated_on: None,
            due_on: None,
            reason_detail: None,
        }
    }

    fn resting_on(reason: ValidityReason, calibration: Option<&CalibrationOnRecord>) -> Self {
        Validity {
            valid: reason == ValidityReason::Valid,
            reason,
            certificate_number: calibration.and_then(|c| c.certificate_number.clone()),
            calibrated_on: calibration.map(|c| c.performed_on),
            due_on: calibration.map(|c| c.due_on),
            reason_detail: None,
        }
    }
}

/// The status in force on `at`: the last change made on or before that day (by date, then by
/// sequence); `Active` when no change applies yet, since a registered instrument starts in
/// service.
pub fn status_in_force(changes: &[StatusChange], at: NaiveDate) -> InstrumentStatus {
    changes
        .iter()
        .filter(|c| c.effective_on <= at)
        .max_by_key(|c| (c.effective_on, c.sequence))
        .map_or(InstrumentStatus::Active, |c| c.status)
}

/// The latest calibration performed on or before `at`: by date, then by creation sequence
/// (then by id, so that the answer never depends on the order the caller passes them in).
pub fn latest_on_or_before(
    calibrations: &[CalibrationOnRecord],
    at: NaiveDate,
) -> Option<&CalibrationOnRecord> {
    calibrations
        .iter()
        .filter(|c| c.performed_on <= at)
        .max_by_key(|c| (c.performed_on, c.sequence, c.calibration_id))
}

/// Validity of an instrument on `at` (DESIGN section 6). `calibrations` are the instrument's
/// calibrations on record, in any order, including those performed after `at` (they only
/// decide between `never_calibrated` and `not_yet_calibrated`).
///
/// The first reason that applies, in this order:
/// 1. `retired`, `suspended`: the status in force on `at`. Out of service comes first because it
///    is a decision of the lab that overrides whatever the certificate says (17025 6.4.9).
/// 2. a `national` instrument is otherwise `valid`, with no certificate fields: it is a root of
///    traceability, realised by its NMI, not calibrated by us (ILAC P10).
/// 3. `never_calibrated` (nothing on record), `not_yet_calibrated` (nothing performed on or
///    before `at`).
/// 4. for the latest L performed on or before `at`: `certificate_withdrawn`, `out_of_tolerance`,
///    `expired` (`at` after L's due date; the due date itself is still valid),
///    `not_traceable` (L's chain was broken on L's date); else `valid`.
///
/// The certificate number and dates come from L whenever L exists, including for `retired` and
/// `suspended`, so the reader sees what the verdict rests on.
pub fn validity_on(
    role: Role,
    changes: &[StatusChange],
    calibrations: &[CalibrationOnRecord],
    at: NaiveDate,
) -> Validity {
    let latest = latest_on_or_before(calibrations, at);
    match status_in_force(changes, at) {
        InstrumentStatus::Retired => return Validity::resting_on(ValidityReason::Retired, latest),
        InstrumentStatus::Suspended => {
            return Validity::resting_on(ValidityReason::Suspended, latest)
        }
        InstrumentStatus::Active => {}
    }
    if role == Role::National {
        return Validity::resting_on(ValidityReason::Valid, None);
    }
    let Some(latest) = latest else {
        let reason = if calibrations.is_empty() {
            ValidityReason::NeverCalibrated
        } else {
            ValidityReason::NotYetCalibrated
        };
        return Validity::resting_on(reason, None);
    };
    let reason = if latest.withdrawn {
        ValidityReason::CertificateWithdrawn
    } else if latest.out_of_tolerance {
        ValidityReason::OutOfTolerance
    } else if at > latest.due_on {
        ValidityReason::Expired
    } else if latest.chain_broken {
        ValidityReason::NotTraceable
    } else {
        ValidityReason::Valid
    };
    Validity::resting_on(reason, Some(latest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use InstrumentStatus::*;
    use ValidityReason as V;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal(id: i64, performed: &str, due: &str) -> CalibrationOnRecord {
        CalibrationOnRecord {
            calibration_id: id,
            performed_on: day(performed),
            sequence: id,
            due_on: day(due),
            certificate_number: Some(format!("CT-{id}")),
            withdrawn: false,
            out_of_tolerance: false,
            chain_broken: false,
        }
    }

    fn change(on: &str, sequence: i64, status: InstrumentStatus) -> StatusChange {
        StatusChange {
            effective_on: day(on),
            sequence,
            status,
        }
    }

    fn reason(role: Role, ch: &[StatusChange], cals: &[CalibrationOnRecord], at: &str) -> V {
        validity_on(role, ch, cals, day(at)).reason
    }

    #[test]
    fn valid_names_what_it_rests_on() {
        let cals = [cal(1, "2025-03-02", "2026-03-02")];
        let v = validity_on(Role::Working, &[], &cals, day("2025-06-01"));
        assert_eq!(
            v,
            Validity {
                valid: true,
                reason: V::Valid,
                certificate_number: Some("CT-1".into()),
                calibrated_on: Some(day("2025-03-02")),
                due_on: Some(day("2026-03-02")),
                reason_detail: None,
            }
        );
    }

    #[test]
    fn the_due_date_itself_is_valid_the_day_after_is_expired() {
        let cals = [cal(1, "2025-03-02", "2026-03-02")];
        assert_eq!(reason(Role::Working, &[], &cals, "2026-03-02"), V::Valid);
        let v = validity_on(Role::Working, &[], &cals, day("2026-03-03"));
        assert_eq!(v.reason, V::Expired);
        assert!(!v.valid);
        assert_eq!(v.certificate_number.as_deref(), Some("CT-1"));
        assert_eq!(v.due_on, Some(day("2026-03-02")));
        // The DESIGN example: expired on 2026-11-28.
        assert_eq!(reason(Role::Working, &[], &cals, "2026-11-28"), V::Expired);
    }

    #[test]
    fn the_day_of_calibration_is_covered() {
        let cals = [cal(1, "2025-03-02", "2026-03-02")];
        assert_eq!(reason(Role::Working, &[], &cals, "2025-03-02"), V::Valid);
    }

    #[test]
    fn never_calibrated_and_not_yet_calibrated() {
        let v = validity_on(Role::Working, &[], &[], day("2025-01-01"));
        assert_eq!(v, Validity::resting_on(V::NeverCalibrated, None));
        assert!(!v.valid);
        let cals = [cal(1, "2025-03-02", "2026-03-02")];
        let v = validity_on(Role::Reference, &[], &cals, day("2025-03-01"));
        assert_eq!(v.reason, V::NotYetCalibrated);
        assert_eq!(
            (v.certificate_number, v.calibrated_on, v.due_on),
            (None, None, None)
        );
    }

    #[test]
    fn withdrawn_out_of_tolerance_not_traceable() {
        let mut c = cal(1, "2025-03-02", "2026-03-02");
        c.withdrawn = true;
        let v = validity_on(Role::Working, &[], &[c.clone()], day("2025-06-01"));
        assert_eq!(v.reason, V::CertificateWithdrawn);
        assert_eq!(v.certificate_number.as_deref(), Some("CT-1"));

        let mut c = cal(1, "2025-03-02", "2026-03-02");
        c.out_of_tolerance = true;
        assert_eq!(
            reason(Role::Working, &[], &[c], "2025-06-01"),
            V::OutOfTolerance
        );

        let mut c = cal(1, "2025-03-02", "2026-03-02");
        c.chain_broken = true;
        assert_eq!(
            reason(Role::Working, &[], &[c], "2025-06-01"),
            V::NotTraceable
        );
    }

    #[test]
    fn precedence_follows_the_contract_order() {
        let mut all = cal(1, "2025-03-02", "2026-03-02");
        all.withdrawn = true;
        all.out_of_tolerance = true;
        all.chain_broken = true;
        let expired_day = "2026-06-01";
        let retired = [change("2025-01-01", 1, Retired)];
        let suspended = [change("2025-01-01", 1, Suspended)];
        let cals = [all.clone()];
        // retired beats everything, and still names the certificate
        let v = validity_on(Role::Working, &retired, &cals, day(expired_day));
        assert_eq!(v.reason, V::Retired);
        assert_eq!(v.certificate_number.as_deref(), Some("CT-1"));
        assert_eq!(v.calibrated_on, Some(day("2025-03-02")));
        // suspended beats withdrawn and the rest
        assert_eq!(
            reason(Role::Working, &suspended, &cals, expired_day),
            V::Suspended
        );
        // withdrawn beats out of tolerance, expired and not traceable
        assert_eq!(
            reason(Role::Working, &[], &cals, expired_day),
            V::CertificateWithdrawn
        );
        // out of tolerance beats expired and not traceable
        all.withdrawn = false;
        assert_eq!(
            reason(Role::Working, &[], &[all.clone()], expired_day),
            V::OutOfTolerance
        );
        // expired beats not traceable
        all.out_of_tolerance = false;
        assert_eq!(
            reason(Role::Working, &[], &[all.clone()], expired_day),
            V::Expired
        );
        assert_eq!(
            reason(Role::Working, &[], &[all], "2026-03-02"),
            V::NotTraceable
        );
        // retired and suspended beat never calibrated, with null fields
        let v = validity_on(Role::Working, &retired, &[], day(expired_day));
        assert_eq!(v, Validity::resting_on(V::Retired, None));
        assert_eq!(
            reason(Role::Working, &suspended, &[], expired_day),
            V::Suspended
        );
    }

    #[test]
    fn only_the_latest_calibration_counts() {
        // An older, still-in-date certificate does not rescue a later out-of-tolerance one.
        let old = cal(1, "2025-01-10", "2026-01-10");
        let mut new = cal(2, "2025-06-10", "2026-06-10");
        new.out_of_tolerance = true;
        let cals = [old.clone(), new.clone()];
        assert_eq!(reason(Role::Working, &[], &cals, "2025-06-09"), V::Valid);
        let v = validity_on(Role::Working, &[], &cals, day("2025-06-10"));
        assert_eq!(v.reason, V::OutOfTolerance);
        assert_eq!(v.certificate_number.as_deref(), Some("CT-2"));
        // A withdrawal does not fall back to the older certificate either.
        let mut withdrawn = cal(2, "2025-06-10", "2026-06-10");
        withdrawn.withdrawn = true;
        assert_eq!(
            reason(Role::Working, &[], &[old, withdrawn], "2025-07-01"),
            V::CertificateWithdrawn
        );
    }

    #[test]
    fn same_day_calibrations_the_later_created_is_the_latest() {
        let mut first = cal(10, "2025-05-05", "2026-05-05");
        first.out_of_tolerance = true; // as found, before adjustment, recorded first
        let mut second = cal(11, "2025-05-05", "2026-05-05");
        second.certificate_number = Some("CT-after-repair".into());
        // by sequence, whatever the ids or the input order
        second.calibration_id = 3;
        for cals in [
            vec![first.clone(), second.clone()],
            vec![second.clone(), first.clone()],
        ] {
            let v = validity_on(Role::Working, &[], &cals, day("2025-05-05"));
            assert_eq!(v.reason, V::Valid);
            assert_eq!(v.certificate_number.as_deref(), Some("CT-after-repair"));
        }
        // and the other way round
        first.sequence = 20;
        assert_eq!(
            reason(Role::Working, &[], &[second, first], "2025-05-05"),
            V::OutOfTolerance
        );
    }

    #[test]
    fn unsorted_calibrations() {
        let cals = [
            cal(3, "2025-09-01", "2025-12-01"),
            cal(1, "2024-01-01", "2025-01-01"),
            cal(2, "2025-01-01", "2026-01-01"),
        ];
        let v = validity_on(Role::Working, &[], &cals, day("2025-08-31"));
        assert_eq!(v.certificate_number.as_deref(), Some("CT-2"));
        assert_eq!(v.reason, V::Valid);
        let v = validity_on(Role::Working, &[], &cals, day("2025-12-02"));
        assert_eq!(v.certificate_number.as_deref(), Some("CT-3"));
        assert_eq!(v.reason, V::Expired);
        assert_eq!(
            latest_on_or_before(&cals, day("2024-06-01")).map(|c| c.calibration_id),
            Some(1)
        );
        assert_eq!(latest_on_or_before(&cals, day("2023-12-31")), None);
    }

    #[test]
    fn status_changes_take_effect_from_their_day() {
        let changes = [
            change("2025-04-01", 1, Suspended),
            change("2025-05-01", 2, Active),
            change("2025-09-01", 3, Retired),
        ];
        assert_eq!(status_in_force(&changes, day("2025-03-31")), Active);
        assert_eq!(status_in_force(&changes, day("2025-04-01")), Suspended);
        assert_eq!(status_in_force(&changes, day("2025-04-30")), Suspended);
        assert_eq!(status_in_force(&changes, day("2025-05-01")), Active);
        assert_eq!(status_in_force(&changes, day("2025-08-31")), Active);
        assert_eq!(status_in_force(&changes, day("2025-09-01")), Retired);
        assert_eq!(status_in_force(&[], day("2025-09-01")), Active);

        let cals = [cal(1, "2025-01-01", "2026-01-01")];
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-03-31"),
            V::Valid
        );
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-04-15"),
            V::Suspended
        );
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-05-01"),
            V::Valid
        );
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-10-01"),
            V::Retired
        );
    }

    #[test]
    fn of_two_status_changes_on_one_day_the_later_counts() {
        let mut changes = vec![
            change("2025-04-01", 7, Suspended),
            change("2025-04-01", 8, Active),
        ];
        let cals = [cal(1, "2025-01-01", "2026-01-01")];
        assert_eq!(status_in_force(&changes, day("2025-04-01")), Active);
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-04-01"),
            V::Valid
        );
        changes.reverse();
        assert_eq!(status_in_force(&changes, day("2025-04-01")), Active);
        // suspended later the same day
        let changes = [
            change("2025-04-01", 9, Suspended),
            change("2025-04-01", 8, Active),
        ];
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-04-01"),
            V::Suspended
        );
        assert_eq!(
            reason(Role::Working, &changes, &cals, "2025-03-31"),
            V::Valid
        );
    }

    #[test]
    fn national_standards_are_valid_unless_out_of_service() {
        let v = validity_on(Role::National, &[], &[], day("2025-01-01"));
        assert_eq!(v, Validity::resting_on(V::Valid, None));
        assert!(v.valid);
        // even with an (odd) expired calibration on record, and no certificate fields
        let mut c = cal(1, "2020-01-01", "2021-01-01");
        c.out_of_tolerance = true;
        let v = validity_on(Role::National, &[], &[c.clone()], day("2025-01-01"));
        assert_eq!(v, Validity::resting_on(V::Valid, None));
        // retired or suspended national standards are not valid
        let retired = [change("2024-01-01", 1, Retired)];
        assert_eq!(
            reason(Role::National, &retired, &[], "2025-01-01"),
            V::Retired
        );
        let suspended = [change("2024-01-01", 1, Suspended)];
        assert_eq!(
            reason(Role::National, &suspended, &[], "2025-01-01"),
            V::Suspended
        );
        assert_eq!(
            reason(Role::National, &suspended, &[], "2023-12-31"),
            V::Valid
        );
    }

    #[test]
    fn a_date_before_the_first_calibration() {
        let cals = [
            cal(1, "2025-03-02", "2026-03-02"),
            cal(2, "2026-03-01", "2027-03-01"),
        ];
        assert_eq!(
            reason(Role::Working, &[], &cals, "2020-01-01"),
            V::NotYetCalibrated
        );
        assert_eq!(reason(Role::Working, &[], &cals, "2030-01-01"), V::Expired);
    }

    #[test]
    fn unknown_instrument_answer() {
        let v = Validity::unknown_instrument();
        assert!(!v.valid);
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"valid": false, "reason": "unknown_instrument",
                "certificate_number": null, "calibrated_on": null, "due_on": null})
        );
    }

    #[test]
    fn json_shape_matches_the_contract() {
        let cals = [cal(17, "2025-03-02", "2026-03-02")];
        let v = validity_on(Role::Working, &[], &cals, day("2026-11-28"));
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"valid": false, "reason": "expired",
                "certificate_number": "CT-17", "calibrated_on": "2025-03-02",
                "due_on": "2026-03-02"})
        );
        for (r, s) in [
            (V::Valid, "valid"),
            (V::Retired, "retired"),
            (V::Suspended, "suspended"),
            (V::NeverCalibrated, "never_calibrated"),
            (V::NotYetCalibrated, "not_yet_calibrated"),
            (V::CertificateWithdrawn, "certificate_withdrawn"),
            (V::OutOfTolerance, "out_of_tolerance"),
            (V::Expired, "expired"),
            (V::NotTraceable, "not_traceable"),
            (V::UnknownInstrument, "unknown_instrument"),
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), serde_json::json!(s));
            assert_eq!(r.as_str(), s);
        }
        for role in [Role::Working, Role::Reference, Role::National] {
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for status in [Active, Suspended, Retired] {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
            assert_eq!(status.as_str().parse::<InstrumentStatus>(), Ok(status));
        }
    }

    fn base_day() -> NaiveDate {
        day("2024-01-01")
    }

    fn arb_calibration() -> impl Strategy<Value = CalibrationOnRecord> {
        (
            0i64..1000,
            0i64..720,
            0i64..400,
            0i64..5,
            any::<[bool; 3]>(),
        )
            .prop_map(|(id, offset, length, sequence, [w, o, b])| {
                let performed_on = base_day() + chrono::Days::new(offset as u64);
                CalibrationOnRecord {
                    calibration_id: id,
                    performed_on,
                    sequence,
                    due_on: performed_on + chrono::Days::new(length as u64),
                    certificate_number: Some(format!("CT-{id}")),
                    withdrawn: w,
                    out_of_tolerance: o,
                    chain_broken: b,
                }
            })
    }

    fn arb_change() -> impl Strategy<Value = StatusChange> {
        (0i64..720, 0i64..100, 0u8..3).prop_map(|(offset, sequence, s)| StatusChange {
            effective_on: base_day() + chrono::Days::new(offset as u64),
            sequence,
            status: [Active, Suspended, Retired][s as usize],
        })
    }

    fn arb_role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Working),
            Just(Role::Reference),
            Just(Role::National)
        ]
    }

    proptest! {
        #[test]
        fn validity_on_d_depends_only_on_calibrations_performed_by_d(
            role in arb_role(),
            changes in prop::collection::vec(arb_change(), 0..4),
            cals in prop::collection::vec(arb_calibration(), 0..6),
            at_offset in 0u64..800,
        ) {
            let at = base_day() + chrono::Days::new(at_offset);
            let full = validity_on(role, &changes, &cals, at);
            let by_d: Vec<_> = cals.iter().filter(|c| c.performed_on <= at).cloned().collect();
            let mut trimmed = validity_on(role, &changes, &by_d, at);
            // The only thing later calibrations decide: "never" versus "not yet" calibrated.
            if trimmed.reason == V::NeverCalibrated && by_d.len() < cals.len() {
                trimmed.reason = V::NotYetCalibrated;
            }
            prop_assert_eq!(full, trimmed);
        }

        #[test]
        fn input_order_does_not_matter(
            role in arb_role(),
            changes in prop::collection::vec(arb_change(), 0..4),
            cals in prop::collection::vec(arb_calibration(), 0..6),
            at_offset in 0u64..800,
        ) {
            let at = base_day() + chrono::Days::new(at_offset);
            let mut reversed_changes = changes.clone();
            reversed_changes.reverse();
            let mut reversed_cals = cals.clone();
            reversed_cals.reverse();
            // Distinct (date, sequence) keys, as the database guarantees.
            let mut keys: Vec<_> = cals.iter().map(|c| (c.performed_on, c.sequence, c.calibration_id)).collect();
            keys.sort();
            keys.dedup();
            let mut change_keys: Vec<_> = changes.iter().map(|c| (c.effective_on, c.sequence)).collect();
            change_keys.sort();
            change_keys.dedup();
            prop_assume!(keys.len() == cals.len() && change_keys.len() == changes.len());
            prop_assert_eq!(
                validity_on(role, &changes, &cals, at),
                validity_on(role, &reversed_changes, &reversed_cals, at)
            );
        }

        #[test]
        fn valid_exactly_when_the_reason_is_valid_and_fields_follow_the_latest(
            role in arb_role(),
            changes in prop::collection::vec(arb_change(), 0..4),
            cals in prop::collection::vec(arb_calibration(), 0..6),
            at_offset in 0u64..800,
        ) {
            let at = base_day() + chrono::Days::new(at_offset);
            let v = validity_on(role, &changes, &cals, at);
            prop_assert_eq!(v.valid, v.reason == V::Valid);
            let latest = latest_on_or_before(&cals, at);
            let out_of_service = matches!(v.reason, V::Retired | V::Suspended);
            if role == Role::National && !out_of_service {
                prop_assert!(v.valid);
                prop_assert_eq!(v.calibrated_on, None);
            } else {
                prop_assert_eq!(v.calibrated_on, latest.map(|c| c.performed_on));
                prop_assert_eq!(v.due_on, latest.map(|c| c.due_on));
            }
            if v.valid && role != Role::National {
                let l = latest.unwrap();
                prop_assert!(!l.withdrawn && !l.out_of_tolerance && !l.chain_broken && at <= l.due_on);
                prop_assert_eq!(status_in_force(&changes, at), Active);
            }
        }
    }
}
