//! Reverse traceability (DESIGN section 7): what a standard has touched in a
//! period, and, with a correction of the standard, which decisions change.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::{self, DbConnection};
use crate::domain::calibration::{corrected_decision, StandardCorrection};
use crate::domain::conformity::Decision;
use crate::error::ApiError;

#[derive(Serialize, utoipa::ToSchema)]
pub struct AffectedCalibration {
    pub id: i64,
    pub instrument_id: i64,
    /// Ours, or the issuer's for an external calibration.
    pub certificate_number: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub performed_on: NaiveDate,
    pub depth: i32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionChange {
    pub calibration_id: i64,
    /// Index of the point in the calibration's `points`.
    pub point: usize,
    pub before: Option<Decision>,
    pub after: Option<Decision>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Impact {
    pub standard_id: i64,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub calibrations: Vec<AffectedCalibration>,
    pub instruments: Vec<i64>,
    /// This laboratory's certificates only.
    pub certificates: Vec<String>,
    pub customers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_changes: Option<Vec<DecisionChange>>,
}

/// Every calibration that rested on `standard_id` in [from, to], directly
/// (depth 1) or through others, with the certificates and customers concerned.
pub fn impact_of(
    conn: &mut DbConnection,
    standard_id: i64,
    from: NaiveDate,
    to: NaiveDate,
    correction: Option<&StandardCorrection>,
) -> Result<Impact, ApiError> {
    db::instruments::get(conn, standard_id)?;
    let affected = db::traceability::impact(conn, standard_id, from, to)?;
    let ids: Vec<i64> = affected.iter().map(|a| a.calibration_id).collect();
    let details = db::calibrations::certificates_and_customers(conn, &ids)?;
    let mut instruments = Vec::new();
    let mut seen = HashSet::new();
    let mut certificates = Vec::new();
    let mut customers = BTreeSet::new();
    let mut calibrations = Vec::with_capacity(affected.len());
    for a in &affected {
        let detail = details.get(&a.calibration_id);
        if seen.insert(a.instrument_id) {
            instruments.push(a.instrument_id);
        }
        if let Some(detail) = detail {
            certificates.extend(detail.our_number.clone());
            customers.extend(detail.customer.clone());
        }
        calibrations.push(AffectedCalibration {
            id: a.calibration_id,
            instrument_id: a.instrument_id,
            certificate_number: detail
                .and_then(|d| d.our_number.clone().or_else(|| d.issuer_number.clone())),
            performed_on: a.performed_on,
            depth: a.depth,
        });
    }
    let decision_changes = match correction {
        None => None,
        Some(correction) => {
            let direct: Vec<i64> = affected
                .iter()
                .filter(|a| a.depth == 1)
                .map(|a| a.calibration_id)
                .collect();
            Some(decision_changes(conn, standard_id, &direct, correction)?)
        }
    };
    Ok(Impact {
        standard_id,
        from,
        to,
        calibrations,
        instruments,
        certificates,
        customers: customers.into_iter().collect(),
        decision_changes,
    })
}

/// The points of the calibrations that used the standard directly, decided
/// again with the corrected standard (one query for all of them). A stored rule
/// or guard band that cannot be read is an error, never read as a default.
fn decision_changes(
    conn: &mut DbConnection,
    standard_id: i64,
    direct: &[i64],
    correction: &StandardCorrection,
) -> Result<Vec<DecisionChange>, ApiError> {
    let mut changes = Vec::new();
    for calibration in db::calibrations::get_many(conn, direct)? {
        let (rule, guard_band) = calibration.conformity_rule()?;
        for (index, point) in calibration.points.iter().enumerate() {
            let after =
                corrected_decision(point, rule, guard_band.as_ref(), standard_id, correction)
                    .map_err(|message| ApiError::field("correction", message))?;
            if after != point.decision {
                changes.push(DecisionChange {
                    calibration_id: calibration.id,
                    point: index,
                    before: point.decision,
                    after,
                });
            }
        }
    }
    Ok(changes)
}
