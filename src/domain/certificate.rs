//! What a calibration certificate says (ISO/IEC 17025 7.8.2.1, 7.8.4.1, 7.8.6):
//! everything the PDF and DCC renderers need, gathered once at issue so both
//! documents state the same facts.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calibration::PointResult;
use super::quantity::QuantityJson;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaboratoryView {
    pub name: String,
    pub address: String,
    pub accreditation_body: String,
    pub accreditation_number: String,
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
    /// Condition on receipt, as recorded.
    pub condition: String,
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
    /// `simple`, `guard_band`, `non_binary` or `none` (7.8.6).
    pub decision_rule: String,
    /// The results, as-found and as-left, with U, k, p, decision and TUR.
    pub points: Vec<PointResult>,
    pub standards: Vec<StandardView>,
    pub traceability_roots: Vec<TraceabilityRootView>,
    /// Whether the chain was unbroken when the work was done.
    pub traceable: bool,
    /// Deviations from the method, additions or exclusions (7.8.2.1 ...); None when there were none.
    pub deviations: Option<String>,
    pub replaces: Option<ReplacesView>,
    /// Name of the authorised signatory who approved it (7.8.2.1 o).
    pub signatory: String,
    /// Public verification URL (the QR code carries it).
    pub verification_url: String,
    /// Head of the audit hash chain at issue.
    pub audit_head: String,
    /// When the instrument is next due (not part of 17025's list; printed only as a recommendation).
    pub due_on: Option<NaiveDate>,
}
