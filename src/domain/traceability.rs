//! Metrological traceability chains (DESIGN section 7).
//!
//! VIM 2.41 makes traceability a property of a result that can be related to a reference
//! "through a documented unbroken chain of calibrations"; VIM 2.42 calls that sequence of
//! standards and calibrations the traceability chain. This module builds the chain behind one
//! instrument's calibration as a tree over an abstract graph (the database layer implements
//! [`TraceabilityGraph`] by loading a bounded subgraph) and says whether it is unbroken.
//!
//! A chain is unbroken when every branch ends at a root and every link was valid on the day it
//! was used. Roots are what ILAC P10 (ILAC-P10:07/2020, section 2) accepts as the end of a chain:
//! a national measurement standard realised by an NMI, or a calibration by a laboratory
//! accredited under the ILAC Arrangement (the accredited certificate itself is the evidence of
//! traceability; what lies behind it is that laboratory's responsibility, assessed by its
//! accreditation body).
//!
//! Each standard is judged with the section-6 validity rules on the date it was used, resting on
//! its latest calibration on record performed on or before that date. VIM 2.41 note 3 specifies
//! the reference together with the time at which it was used: a chain is made of calibrations
//! that existed when each result was obtained, so links go back in time or to the same day,
//! never forward.
//!
//! Choices where DESIGN is silent:
//! - Below a broken link the tree keeps descending, for the reader: an expired standard's own
//!   calibration and its standards are shown. The verdict is unaffected, since the broken link
//!   above is found first depth-first.
//! - The standards of an accredited calibration are shown and judged too, but they are not
//!   required: a broken link below an accredited root does not break the chain.
//! - `national_standards` and `accredited_roots` list the roots reached through valid links only
//!   (every link from the top down to the root valid), each once, in depth-first order.
//! - A national standard's node names no certificate, date or uncertainty: it is realised by its
//!   NMI, not calibrated, just as its section-6 validity names none.
//! - A cycle is an instrument met again among its own ancestors on the path, whatever the dates;
//!   an instrument whose traceability runs through itself is circular evidence. The cycle check
//!   comes before the standard's own validity.
//! - A standard id the graph does not know is a broken `no_path_to_national_standard` link
//!   naming that id (the chain cannot be followed past it); the database layer should load the
//!   whole closure, so this only happens if it did not.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::calibration::{PointResult, Stage};
use crate::domain::quantity::{parse_unit, QuantityJson};
use crate::domain::validity::{
    validity_on, CalibrationOnRecord, Role, StatusChange, Validity, ValidityReason,
};

/// The warning a node carries when its uncertainty is smaller than one of its standards'.
pub const UNCERTAINTY_BELOW_STANDARD: &str = "uncertainty_below_standard";

// ---------------------------------------------------------------------------------------------
// Input: the graph
// ---------------------------------------------------------------------------------------------

/// One calibration on record, as traceability needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationFacts {
    /// id, performed_on, sequence, due_on, certificate_number (ours, or the issuer's for
    /// external), withdrawn, out_of_tolerance; `chain_broken` is ignored (the chain is what this
    /// module judges).
    pub record: CalibrationOnRecord,
    /// Instrument ids, in the order given.
    pub standards_used: Vec<i64>,
    /// External calibration by an ILAC-MRA accredited lab: a root (ILAC P10), even with no
    /// standards.
    pub accredited_issuer: Option<AccreditedIssuer>,
    /// Smallest expanded U among the final points.
    pub smallest_uncertainty: Option<StatedUncertainty>,
    /// Each final point's U at its reference value, to compare a result obtained with this
    /// instrument with its U at that point ([`points_below_standard`]).
    pub point_uncertainties: Vec<PointUncertainty>,
}

/// An expanded uncertainty as stated, with its SI value and quantity dimension so that U can be
/// compared along a chain whatever the units written.
#[derive(Clone, Debug, PartialEq)]
pub struct StatedUncertainty {
    pub value: f64,
    /// The unit symbol as written on the point.
    pub unit: String,
    pub value_si: f64,
    /// Identifies the dimension (e.g. "pressure"); only equal keys are compared.
    pub dimension: String,
}

/// A final point's expanded U with the reference value it was obtained at: a result is
/// compared with its standard's U at that point (DESIGN 9c), not with the standard's best.
#[derive(Clone, Debug, PartialEq)]
pub struct PointUncertainty {
    /// The point's index in the calibration's `points` (from 0).
    pub index: usize,
    pub reference: QuantityJson,
    /// The reference value in SI and its dimension key: only equal keys are compared.
    pub reference_si: f64,
    pub reference_dimension: String,
    pub uncertainty: StatedUncertainty,
}

/// The final points' uncertainties (as left when there are as-left points, else as found),
/// those whose units are understood.
pub fn point_uncertainties(points: &[PointResult]) -> Vec<PointUncertainty> {
    let wanted = if points.iter().any(|p| p.stage == Stage::AsLeft) {
        Stage::AsLeft
    } else {
        Stage::AsFound
    };
    points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.stage == wanted)
        .filter_map(|(index, p)| {
            let at = parse_unit(&p.reference.unit).ok()?;
            let u = parse_unit(&p.expanded_uncertainty.unit).ok()?;
            Some(PointUncertainty {
                index,
                reference: p.reference.clone(),
                reference_si: at.point_to_si(p.reference.value),
                reference_dimension: at.dimension.si_form(),
                uncertainty: StatedUncertainty {
                    value: p.expanded_uncertainty.value,
                    unit: p.expanded_uncertainty.unit.clone(),
                    value_si: u.interval_to_si(p.expanded_uncertainty.value),
                    dimension: u.dimension.si_form(),
                },
            })
        })
        .collect()
}

/// A point whose U is smaller than the U of a standard it was obtained with, at that point
/// (DESIGN 9c): a component is missing from its budget, or the deviation must be stated.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PointBelowStandard {
    /// The point's index in `points` (from 0).
    pub point: usize,
    /// The point's reference value and expanded U.
    pub reference: QuantityJson,
    pub expanded_uncertainty: QuantityJson,
    pub standard_id: i64,
    pub standard_asset_tag: String,
    /// The standard's certificate that states its U (ours, or the issuer's).
    pub standard_certificate_number: Option<String>,
    /// The standard's calibration point nearest this point's reference value, and its U there.
    pub standard_reference: QuantityJson,
    pub standard_uncertainty: QuantityJson,
}

impl PointBelowStandard {
    /// The flag in words, naming the standard by asset tag.
    pub fn words(&self) -> String {
        format!(
            "the point at {} {}: U = {} {} is smaller than the U = {} {} of standard {} at {} {}",
            self.reference.value,
            self.reference.unit,
            self.expanded_uncertainty.value,
            self.expanded_uncertainty.unit,
            self.standard_uncertainty.value,
            self.standard_uncertainty.unit,
            self.standard_asset_tag,
            self.standard_reference.value,
            self.standard_reference.unit,
        )
    }
}

/// The points (of a calibration performed on `performed_on` with `standards_used`) whose U
/// is smaller than the U of a standard used, at that point: the standard's latest calibration
/// on or before the day, its point of the same quantity nearest the point's reference value.
/// GUM: the standard's uncertainty is an input to every result obtained with it. National
/// standards state no U of ours and are not compared. In point order, then standard order.
pub fn points_below_standard(
    graph: &impl TraceabilityGraph,
    points: &[PointUncertainty],
    standards_used: &[i64],
    performed_on: NaiveDate,
) -> Vec<PointBelowStandard> {
    let mut flags = Vec::new();
    for &standard_id in standards_used {
        let Some(s) = graph.instrument(standard_id) else {
            continue;
        };
        let Some(latest) = latest_index(&s.calibrations, performed_on).map(|i| &s.calibrations[i])
        else {
            continue;
        };
        if s.role == Role::National {
            continue;
        }
        for own in points {
            let Some(theirs) = nearest_point(&latest.point_uncertainties, own) else {
                continue;
            };
            if own.uncertainty.value_si < theirs.uncertainty.value_si {
                flags.push(PointBelowStandard {
                    point: own.index,
                    reference: own.reference.clone(),
                    expanded_uncertainty: stated_json(&own.uncertainty),
                    standard_id,
                    standard_asset_tag: s.asset_tag.clone(),
                    standard_certificate_number: latest.record.certificate_number.clone(),
                    standard_reference: theirs.reference.clone(),
                    standard_uncertainty: stated_json(&theirs.uncertainty),
                });
            }
        }
    }
    flags.sort_by_key(|flag| flag.point);
    flags
}

fn stated_json(u: &StatedUncertainty) -> QuantityJson {
    QuantityJson {
        value: u.value,
        unit: u.unit.clone(),
    }
}

/// The standard's point of the same quantity nearest `own`'s reference value.
fn nearest_point<'a>(
    theirs: &'a [PointUncertainty],
    own: &PointUncertainty,
) -> Option<&'a PointUncertainty> {
    let distance = |p: &PointUncertainty| (p.reference_si - own.reference_si).abs();
    theirs
        .iter()
        .filter(|p| {
            p.reference_dimension == own.reference_dimension
                && p.uncertainty.dimension == own.uncertainty.dimension
        })
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
}

/// The issuer of an external calibration accredited under the ILAC Arrangement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccreditedIssuer {
    pub name: String,
    pub accreditation_body: String,
    pub accreditation_number: String,
}

/// One instrument and everything on record about it that traceability needs.
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentFacts {
    pub id: i64,
    pub asset_tag: String,
    pub role: Role,
    /// National standards only.
    pub institute: Option<String>,
    /// National standards only.
    pub country: Option<String>,
    pub status_changes: Vec<StatusChange>,
    /// All its calibrations on record, in any order.
    pub calibrations: Vec<CalibrationFacts>,
}

/// Where the instruments come from: the database layer loads the subgraph reachable through
/// `standards_used`; tests use a `HashMap`.
pub trait TraceabilityGraph {
    fn instrument(&self, id: i64) -> Option<&InstrumentFacts>;
}

impl TraceabilityGraph for HashMap<i64, InstrumentFacts> {
    fn instrument(&self, id: i64) -> Option<&InstrumentFacts> {
        self.get(&id)
    }
}

// ---------------------------------------------------------------------------------------------
// Output: the report (DESIGN section 7 JSON)
// ---------------------------------------------------------------------------------------------

/// Why a link of the chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BrokenReason {
    /// The instrument has no calibration on record performed on or before the date asked.
    Uncalibrated,
    StandardExpiredAtUse,
    StandardUncalibrated,
    StandardOutOfTolerance,
    CertificateWithdrawn,
    StandardOutOfService,
    NoPathToNationalStandard,
    Cycle,
}

impl BrokenReason {
    /// The reason as written in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            BrokenReason::Uncalibrated => "uncalibrated",
            BrokenReason::StandardExpiredAtUse => "standard_expired_at_use",
            BrokenReason::StandardUncalibrated => "standard_uncalibrated",
            BrokenReason::StandardOutOfTolerance => "standard_out_of_tolerance",
            BrokenReason::CertificateWithdrawn => "certificate_withdrawn",
            BrokenReason::StandardOutOfService => "standard_out_of_service",
            BrokenReason::NoPathToNationalStandard => "no_path_to_national_standard",
            BrokenReason::Cycle => "cycle",
        }
    }

    /// What the reason means, in words: one wording for the pages, the
    /// diagram, the certificate and a refused approval.
    pub fn describe(&self) -> &'static str {
        match self {
            BrokenReason::Uncalibrated => "no calibration on record",
            BrokenReason::StandardExpiredAtUse => "standard expired at use",
            BrokenReason::StandardUncalibrated => "standard not calibrated at use",
            BrokenReason::StandardOutOfTolerance => "standard out of tolerance",
            BrokenReason::CertificateWithdrawn => "certificate withdrawn",
            BrokenReason::StandardOutOfService => "standard out of service at use",
            BrokenReason::NoPathToNationalStandard => "no path to a national standard",
            BrokenReason::Cycle => "cycle: instrument met again in its own chain",
        }
    }

    /// The section-7 mapping of a standard's section-6 reason on the day it was used; `None`
    /// when that reason does not break the link.
    fn of_standard(reason: ValidityReason) -> Option<BrokenReason> {
        match reason {
            ValidityReason::Valid => None,
            ValidityReason::Expired => Some(BrokenReason::StandardExpiredAtUse),
            ValidityReason::NeverCalibrated | ValidityReason::NotYetCalibrated => {
                Some(BrokenReason::StandardUncalibrated)
            }
            ValidityReason::OutOfTolerance => Some(BrokenReason::StandardOutOfTolerance),
            ValidityReason::CertificateWithdrawn => Some(BrokenReason::CertificateWithdrawn),
            ValidityReason::Suspended | ValidityReason::Retired => {
                Some(BrokenReason::StandardOutOfService)
            }
            // Never produced here: validity is asked with `chain_broken` false, because the
            // chain below the standard is judged by this module and passed on as the deeper
            // link. Nothing known about the instrument means nothing shows it calibrated.
            ValidityReason::NotTraceable => None,
            ValidityReason::UnknownInstrument => Some(BrokenReason::StandardUncalibrated),
        }
    }
}

/// The link that breaks the chain: the instrument whose state breaks it and the certificate the
/// link rests on (the issuer's number for an external calibration; null if none).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BrokenLink {
    pub instrument_id: i64,
    pub certificate_number: Option<String>,
    pub reason: BrokenReason,
}

/// A national standard the chain reaches through valid links.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NationalStandardReached {
    pub instrument_id: i64,
    pub institute: Option<String>,
    pub country: Option<String>,
}

/// An accredited external calibration the chain reaches through valid links (ILAC P10 root).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccreditedRootReached {
    /// The instrument that calibration was of.
    pub instrument_id: i64,
    /// The issuer's certificate number.
    pub certificate_number: Option<String>,
    pub issuer: AccreditedIssuer,
}

/// The instrument of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeInstrument {
    pub id: i64,
    pub asset_tag: String,
    pub role: Role,
}

/// An expanded uncertainty as written on the point (`{value, unit}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpandedUncertainty {
    pub value: f64,
    pub unit: String,
}

/// One instrument in the tree and the calibration its link rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainNode {
    pub instrument: NodeInstrument,
    pub certificate_number: Option<String>,
    pub performed_on: Option<NaiveDate>,
    pub link_valid: bool,
    pub reason: Option<BrokenReason>,
    /// The smallest expanded U among the final points of that calibration.
    pub expanded_uncertainty: Option<ExpandedUncertainty>,
    /// `"uncertainty_below_standard"` when U shrinks going down the chain.
    pub warnings: Vec<String>,
    /// One node per standard used, in the order given.
    #[schema(no_recursion)]
    pub standards: Vec<ChainNode>,
}

/// `GET /api/v1/instruments/{id}/traceability?at=` (DESIGN section 7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceabilityReport {
    pub instrument_id: i64,
    pub at: NaiveDate,
    pub traceable: bool,
    pub broken_link: Option<BrokenLink>,
    pub national_standards: Vec<NationalStandardReached>,
    pub accredited_roots: Vec<AccreditedRootReached>,
    pub chain: ChainNode,
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// The traceability of `instrument_id` as on `at`: the chain of its latest calibration on
/// record performed on or before `at`. `None` if the instrument is unknown.
///
/// Only the links are judged, not the instrument's own state on `at` (an expired instrument can
/// still have a traceable last calibration: that is section 6's question, not this one).
pub fn trace(
    graph: &impl TraceabilityGraph,
    instrument_id: i64,
    at: NaiveDate,
) -> Option<TraceabilityReport> {
    trace_with(graph, instrument_id, at, true)
}

fn trace_with(
    graph: &impl TraceabilityGraph,
    instrument_id: i64,
    at: NaiveDate,
    memoise: bool,
) -> Option<TraceabilityReport> {
    let x = graph.instrument(instrument_id)?;
    let head = node_instrument(x);

    // A national standard is itself the top of the hierarchy (VIM 5.3; ILAC P10): nothing to
    // follow.
    if x.role == Role::National {
        return Some(TraceabilityReport {
            instrument_id,
            at,
            traceable: true,
            broken_link: None,
            national_standards: vec![national_reached(x)],
            accredited_roots: Vec::new(),
            chain: bare_node(head, true, None),
        });
    }

    let Some(index) = latest_index(&x.calibrations, at) else {
        return Some(TraceabilityReport {
            instrument_id,
            at,
            traceable: false,
            broken_link: Some(BrokenLink {
                instrument_id,
                certificate_number: None,
                reason: BrokenReason::Uncalibrated,
            }),
            national_standards: Vec::new(),
            accredited_roots: Vec::new(),
            chain: bare_node(head, false, Some(BrokenReason::Uncalibrated)),
        });
    };
    let calibration = &x.calibrations[index];

    // Dropping the walker's memo first usually leaves the expansion unshared: moved, not cloned.
    let mut walker = Walker::new(graph);
    walker.memoise = memoise;
    let expansion = walker.expand(x, calibration);
    drop(walker);
    let expansion = Rc::try_unwrap(expansion).unwrap_or_else(|shared| (*shared).clone());
    let chain = ChainNode {
        instrument: head,
        certificate_number: calibration.record.certificate_number.clone(),
        performed_on: Some(calibration.record.performed_on),
        link_valid: expansion.own_reason.is_none(),
        reason: expansion.own_reason,
        expanded_uncertainty: stated(calibration),
        warnings: expansion.warnings,
        standards: expansion.standards,
    };
    Some(TraceabilityReport {
        instrument_id,
        at,
        traceable: expansion.broken.is_none(),
        broken_link: expansion.broken,
        national_standards: expansion.national,
        accredited_roots: expansion.accredited,
        chain,
    })
}

impl ChainNode {
    /// The asset tag of `id` wherever it appears in this tree.
    pub fn asset_tag_of(&self, id: i64) -> Option<&str> {
        if self.instrument.id == id {
            return Some(&self.instrument.asset_tag);
        }
        self.standards.iter().find_map(|s| s.asset_tag_of(id))
    }
}

impl TraceabilityReport {
    /// The first broken link in words, naming the instrument by its asset tag
    /// (never by an internal id): "REF-P-04, certificate CT-…: standard
    /// expired at use".
    pub fn broken_link_text(&self) -> Option<String> {
        let link = self.broken_link.as_ref()?;
        Some(link.words(self.chain.asset_tag_of(link.instrument_id)))
    }
}

impl BrokenLink {
    /// The link in words, naming the instrument by `asset_tag`.
    pub fn words(&self, asset_tag: Option<&str>) -> String {
        let tag = asset_tag.map_or_else(
            || format!("instrument {}", self.instrument_id),
            str::to_string,
        );
        let certificate = self
            .certificate_number
            .as_ref()
            .map(|number| format!(", certificate {number}"))
            .unwrap_or_default();
        format!("{tag}{certificate}: {}", self.reason.describe())
    }
}

/// Whether the chain of one calibration (of `instrument_id`, judged on its own date) is broken,
/// and where: what section 6's `not_traceable` needs. `None` when it is unbroken, and also when
/// the instrument or the calibration is unknown, or the instrument is a national standard (a
/// root needs no chain).
/// The first broken link of one calibration's chain on its own date, in words (the standard
/// named by asset tag); `None` when the chain is unbroken.
pub fn broken_link_words(
    graph: &impl TraceabilityGraph,
    instrument_id: i64,
    calibration_id: i64,
) -> Option<String> {
    broken_link_of_calibration(graph, instrument_id, calibration_id).map(|link| {
        let tag = graph
            .instrument(link.instrument_id)
            .map(|i| i.asset_tag.as_str());
        link.words(tag)
    })
}

/// The points of this calibration whose U is smaller than the U of a standard it used, at
/// that point ([`points_below_standard`]), in words naming each standard by asset tag; None
/// when every point is at or above its standards' U.
pub fn uncertainty_below_standard_words(
    graph: &impl TraceabilityGraph,
    instrument_id: i64,
    calibration_id: i64,
) -> Option<String> {
    let x = graph.instrument(instrument_id)?;
    let calibration = x
        .calibrations
        .iter()
        .find(|c| c.record.calibration_id == calibration_id)?;
    let words: Vec<String> = points_below_standard(
        graph,
        &calibration.point_uncertainties,
        &calibration.standards_used,
        calibration.record.performed_on,
    )
    .iter()
    .map(PointBelowStandard::words)
    .collect();
    (!words.is_empty()).then(|| words.join("; "))
}

pub fn broken_link_of_calibration(
    graph: &impl TraceabilityGraph,
    instrument_id: i64,
    calibration_id: i64,
) -> Option<BrokenLink> {
    let x = graph.instrument(instrument_id)?;
    if x.role == Role::National {
        return None;
    }
    let calibration = x
        .calibrations
        .iter()
        .find(|c| c.record.calibration_id == calibration_id)?;
    Walker::new(graph).expand(x, calibration).broken.clone()
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

/// The standard's section-6 verdict on a date, and the calibration it rests on.
#[derive(Clone)]
struct Judgement {
    validity: Validity,
    latest: Option<usize>,
}

/// What lies below one calibration: its standards' nodes and what they add up to.
#[derive(Clone)]
struct Expansion {
    standards: Vec<ChainNode>,
    warnings: Vec<String>,
    /// `no_path_to_national_standard` when the calibration neither is a root nor used any
    /// standard: the instrument's own node breaks.
    own_reason: Option<BrokenReason>,
    /// The first required broken link, depth-first (this calibration's own included).
    broken: Option<BrokenLink>,
    /// Roots reached through valid links, each once, in depth-first order.
    national: Vec<NationalStandardReached>,
    accredited: Vec<AccreditedRootReached>,
    /// Every instrument in this subtree, the calibrated one included: the subtree can be reused
    /// on another path only if none of them is an ancestor there.
    instruments: HashSet<i64>,
    /// The shallowest path depth a cycle in this subtree pointed back to (`usize::MAX` if
    /// none). Pointing above the subtree's own depth makes it depend on the path it was
    /// reached by, so it is not memoised.
    shallowest_cycle_target: usize,
}

/// One standard's node and what it contributes to its parent.
struct StandardOutcome<'g> {
    node: ChainNode,
    uncertainty: Option<&'g StatedUncertainty>,
    broken: Option<BrokenLink>,
    national: Vec<NationalStandardReached>,
    accredited: Vec<AccreditedRootReached>,
    instruments: HashSet<i64>,
    shallowest_cycle_target: usize,
}

/// One traversal. Two memos keep diamond-heavy graphs cheap: the section-6 judgement of an
/// instrument on a date (independent of the path, always safe), and the expansion of a
/// calibration (safe to reuse unless a cycle inside it pointed above it, or one of its
/// instruments is an ancestor on the new path). What remains is the cost of writing out the
/// tree itself, which the contract asks for in full.
struct Walker<'g, G: TraceabilityGraph> {
    graph: &'g G,
    records: HashMap<i64, Vec<CalibrationOnRecord>>,
    judged: HashMap<(i64, NaiveDate), Judgement>,
    expanded: HashMap<(i64, i64), Rc<Expansion>>,
    /// Instrument ids from the top down to the calibration being expanded.
    path: Vec<i64>,
    /// Off only in tests, to check that the memo never changes an answer.
    memoise: bool,
}

impl<'g, G: TraceabilityGraph> Walker<'g, G> {
    fn new(graph: &'g G) -> Self {
        Walker {
            graph,
            records: HashMap::new(),
            judged: HashMap::new(),
            expanded: HashMap::new(),
            path: Vec::new(),
            memoise: true,
        }
    }

    /// The section-6 verdict on `s` on `at`, with the chain left out (`chain_broken` false):
    /// the chain below `s` is judged here, link by link, and passed on as the deeper link.
    fn judge(&mut self, s: &'g InstrumentFacts, at: NaiveDate) -> Judgement {
        if let Some(judgement) = self.judged.get(&(s.id, at)) {
            return judgement.clone();
        }
        let records = self.records.entry(s.id).or_insert_with(|| {
            s.calibrations
                .iter()
                .map(|c| CalibrationOnRecord {
                    chain_broken: false,
                    ..c.record.clone()
                })
                .collect()
        });
        let judgement = Judgement {
            validity: validity_on(s.role, &s.status_changes, records, at),
            latest: latest_index(&s.calibrations, at),
        };
        self.judged.insert((s.id, at), judgement.clone());
        judgement
    }

    /// The standards of `calibration` (of `x`), each judged on the calibration's date.
    fn expand(
        &mut self,
        x: &'g InstrumentFacts,
        calibration: &'g CalibrationFacts,
    ) -> Rc<Expansion> {
        let key = (x.id, calibration.record.calibration_id);
        if let Some(memo) = self.expanded.get(&key) {
            if !self.path.iter().any(|p| memo.instruments.contains(p)) {
                return Rc::clone(memo);
            }
        }
        let depth = self.path.len();
        self.path.push(x.id);
        let used_on = calibration.record.performed_on;
        let behind_accredited = calibration.accredited_issuer.is_some();

        let mut expansion = Expansion::of_own(x, calibration);
        let mut below_standard = false;
        for &standard_id in &calibration.standards_used {
            let outcome = self.standard(standard_id, used_on);
            below_standard |= uncertainty_below_standard(calibration, &outcome);
            expansion.absorb(outcome, behind_accredited);
        }
        if below_standard {
            expansion
                .warnings
                .push(UNCERTAINTY_BELOW_STANDARD.to_string());
        }

        self.path.pop();
        let expansion = Rc::new(expansion);
        if self.memoise && expansion.shallowest_cycle_target >= depth {
            self.expanded.insert(key, Rc::clone(&expansion));
        }
        expansion
    }

    /// The node of standard `standard_id` used on `used_on`, and what it passes up.
    fn standard(&mut self, standard_id: i64, used_on: NaiveDate) -> StandardOutcome<'g> {
        let Some(s) = self.graph.instrument(standard_id) else {
            return missing_standard(standard_id);
        };
        if let Some(depth) = self.path.iter().position(|&p| p == standard_id) {
            return self.cycle(s, standard_id, used_on, depth);
        }

        let judgement = self.judge(s, used_on);
        let own_reason = BrokenReason::of_standard(judgement.validity.reason);
        let own_broken = own_reason.map(|reason| BrokenLink {
            instrument_id: standard_id,
            certificate_number: judgement.validity.certificate_number.clone(),
            reason,
        });
        if s.role == Role::National {
            return national_root(s, standard_id, &judgement, own_reason, own_broken);
        }

        let latest = judgement.latest.map(|i| &s.calibrations[i]);
        let mut outcome = StandardOutcome {
            node: ChainNode {
                instrument: node_instrument(s),
                certificate_number: latest.and_then(|c| c.record.certificate_number.clone()),
                performed_on: latest.map(|c| c.record.performed_on),
                link_valid: own_reason.is_none(),
                reason: own_reason,
                expanded_uncertainty: latest.and_then(stated),
                warnings: Vec::new(),
                standards: Vec::new(),
            },
            uncertainty: latest.and_then(|c| c.smallest_uncertainty.as_ref()),
            broken: own_broken,
            national: Vec::new(),
            accredited: Vec::new(),
            instruments: HashSet::from([standard_id]),
            shallowest_cycle_target: usize::MAX,
        };
        if let Some(latest) = latest {
            // Also below a broken link, for the reader; the link found first stays the verdict.
            let expansion = self.expand(s, latest);
            outcome.node.standards = expansion.standards.clone();
            outcome.node.warnings = expansion.warnings.clone();
            outcome
                .instruments
                .extend(expansion.instruments.iter().copied());
            outcome.shallowest_cycle_target = expansion.shallowest_cycle_target;
            if own_reason.is_none() {
                // Valid on the day except, perhaps, for its own chain: the deeper link is passed
                // on unchanged, and this node's own link stays valid.
                outcome.node.link_valid = expansion.own_reason.is_none();
                outcome.node.reason = expansion.own_reason;
                outcome.broken = expansion.broken.clone();
                outcome.national = expansion.national.clone();
                outcome.accredited = expansion.accredited.clone();
            }
        }
        outcome
    }

    /// A loop: `s`, already on the path at `depth`, would vouch for itself. Name it, and stop
    /// here; `depth` is passed up so that no expansion that depends on this path is memoised.
    fn cycle(
        &mut self,
        s: &'g InstrumentFacts,
        standard_id: i64,
        used_on: NaiveDate,
        depth: usize,
    ) -> StandardOutcome<'g> {
        let judgement = self.judge(s, used_on);
        let latest = judgement.latest.map(|i| &s.calibrations[i]);
        let certificate_number = latest.and_then(|c| c.record.certificate_number.clone());
        StandardOutcome {
            node: ChainNode {
                instrument: node_instrument(s),
                certificate_number: certificate_number.clone(),
                performed_on: latest.map(|c| c.record.performed_on),
                link_valid: false,
                reason: Some(BrokenReason::Cycle),
                expanded_uncertainty: latest.and_then(stated),
                warnings: Vec::new(),
                standards: Vec::new(),
            },
            uncertainty: latest.and_then(|c| c.smallest_uncertainty.as_ref()),
            broken: Some(BrokenLink {
                instrument_id: standard_id,
                certificate_number,
                reason: BrokenReason::Cycle,
            }),
            national: Vec::new(),
            accredited: Vec::new(),
            instruments: HashSet::from([standard_id]),
            shallowest_cycle_target: depth,
        }
    }
}

impl Expansion {
    /// What `calibration` of `x` says on its own, before its standards are looked at: an
    /// accredited calibration is a root; one that used no standard breaks the chain at `x`.
    fn of_own(x: &InstrumentFacts, calibration: &CalibrationFacts) -> Expansion {
        let mut expansion = Expansion {
            standards: Vec::with_capacity(calibration.standards_used.len()),
            warnings: Vec::new(),
            own_reason: None,
            broken: None,
            national: Vec::new(),
            accredited: Vec::new(),
            instruments: HashSet::from([x.id]),
            shallowest_cycle_target: usize::MAX,
        };
        if let Some(issuer) = &calibration.accredited_issuer {
            expansion.accredited.push(AccreditedRootReached {
                instrument_id: x.id,
                certificate_number: calibration.record.certificate_number.clone(),
                issuer: issuer.clone(),
            });
        } else if calibration.standards_used.is_empty() {
            // Not a root and compared against nothing: the chain stops at `x` (VIM 2.42 needs a
            // calibration against a standard for every link).
            expansion.own_reason = Some(BrokenReason::NoPathToNationalStandard);
            expansion.broken = Some(BrokenLink {
                instrument_id: x.id,
                certificate_number: calibration.record.certificate_number.clone(),
                reason: BrokenReason::NoPathToNationalStandard,
            });
        }
        expansion
    }

    /// Adds one standard's outcome, in the order the calibration lists its standards (the
    /// first broken link found, depth first, is the verdict).
    fn absorb(&mut self, outcome: StandardOutcome, behind_accredited: bool) {
        // ILAC P10: behind an accredited certificate the chain is the issuer's
        // responsibility, so what is found there is shown but does not break ours.
        if self.broken.is_none() && !behind_accredited {
            self.broken = outcome.broken;
        }
        if outcome.node.link_valid {
            merge_unique(&mut self.national, outcome.national, |a, b| {
                a.instrument_id == b.instrument_id
            });
            merge_unique(&mut self.accredited, outcome.accredited, |a, b| {
                a.instrument_id == b.instrument_id && a.certificate_number == b.certificate_number
            });
        }
        self.instruments.extend(outcome.instruments);
        self.shallowest_cycle_target = self
            .shallowest_cycle_target
            .min(outcome.shallowest_cycle_target);
        self.standards.push(outcome.node);
    }
}

/// GUM: the standard's own uncertainty is an input to every budget of a result obtained with
/// it, so a U smaller than the standard's, for the same quantity, means a component is missing
/// (and a claim below what the chain can support, ILAC P14).
fn uncertainty_below_standard(calibration: &CalibrationFacts, outcome: &StandardOutcome) -> bool {
    match (&calibration.smallest_uncertainty, outcome.uncertainty) {
        (Some(own), Some(theirs)) => {
            own.dimension == theirs.dimension && own.value_si < theirs.value_si
        }
        _ => false,
    }
}

/// A national standard used as a standard: a root, valid unless out of service on the day,
/// and nothing behind it to follow.
fn national_root<'g>(
    s: &InstrumentFacts,
    standard_id: i64,
    judgement: &Judgement,
    own_reason: Option<BrokenReason>,
    own_broken: Option<BrokenLink>,
) -> StandardOutcome<'g> {
    let national = if own_reason.is_none() {
        vec![national_reached(s)]
    } else {
        Vec::new()
    };
    let mut node = bare_node(node_instrument(s), own_reason.is_none(), own_reason);
    node.certificate_number = judgement.validity.certificate_number.clone();
    node.performed_on = judgement.validity.calibrated_on;
    StandardOutcome {
        node,
        uncertainty: None,
        broken: own_broken,
        national,
        accredited: Vec::new(),
        instruments: HashSet::from([standard_id]),
        shallowest_cycle_target: usize::MAX,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The latest calibration performed on or before `at`, by the same key as section 6 (date,
/// then creation sequence, then id) so that the node and the verdict rest on the same one.
fn latest_index(calibrations: &[CalibrationFacts], at: NaiveDate) -> Option<usize> {
    calibrations
        .iter()
        .enumerate()
        .filter(|(_, c)| c.record.performed_on <= at)
        .max_by_key(|(_, c)| {
            (
                c.record.performed_on,
                c.record.sequence,
                c.record.calibration_id,
            )
        })
        .map(|(i, _)| i)
}

fn node_instrument(x: &InstrumentFacts) -> NodeInstrument {
    NodeInstrument {
        id: x.id,
        asset_tag: x.asset_tag.clone(),
        role: x.role,
    }
}

fn national_reached(x: &InstrumentFacts) -> NationalStandardReached {
    NationalStandardReached {
        instrument_id: x.id,
        institute: x.institute.clone(),
        country: x.country.clone(),
    }
}

fn bare_node(
    instrument: NodeInstrument,
    link_valid: bool,
    reason: Option<BrokenReason>,
) -> ChainNode {
    ChainNode {
        instrument,
        certificate_number: None,
        performed_on: None,
        link_valid,
        reason,
        expanded_uncertainty: None,
        warnings: Vec::new(),
        standards: Vec::new(),
    }
}

fn stated(calibration: &CalibrationFacts) -> Option<ExpandedUncertainty> {
    calibration
        .smallest_uncertainty
        .as_ref()
        .map(|u| ExpandedUncertainty {
            value: u.value,
            unit: u.unit.clone(),
        })
}

fn missing_standard<'g>(standard_id: i64) -> StandardOutcome<'g> {
    let reason = BrokenReason::NoPathToNationalStandard;
    StandardOutcome {
        node: bare_node(
            NodeInstrument {
                id: standard_id,
                asset_tag: String::new(),
                role: Role::Reference,
            },
            false,
            Some(reason),
        ),
        uncertainty: None,
        broken: Some(BrokenLink {
            instrument_id: standard_id,
            certificate_number: None,
            reason,
        }),
        national: Vec::new(),
        accredited: Vec::new(),
        instruments: HashSet::from([standard_id]),
        shallowest_cycle_target: usize::MAX,
    }
}

/// Appends what is not there yet, keeping the order of discovery (the lists are short: the
/// roots of one chain).
fn merge_unique<T>(into: &mut Vec<T>, from: Vec<T>, same: impl Fn(&T, &T) -> bool) {
    for item in from {
        if !into.iter().any(|existing| same(existing, &item)) {
            into.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validity::InstrumentStatus;
    use proptest::prelude::*;
    use serde_json::json;
    use BrokenReason as B;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A small lab register to build graphs from.
    #[derive(Default)]
    struct Lab {
        g: HashMap<i64, InstrumentFacts>,
        next_calibration: i64,
    }

    impl Lab {
        fn add(&mut self, id: i64, role: Role) -> &mut Self {
            self.g.insert(
                id,
                InstrumentFacts {
                    id,
                    asset_tag: format!("TAG-{id}"),
                    role,
                    institute: None,
                    country: None,
                    status_changes: Vec::new(),
                    calibrations: Vec::new(),
                },
            );
            self
        }

        fn national(&mut self, id: i64, institute: &str, country: &str) -> &mut Self {
            self.add(id, Role::National);
            let n = self.g.get_mut(&id).unwrap();
            n.institute = Some(institute.into());
            n.country = Some(country.into());
            self
        }

        fn reference(&mut self, id: i64) -> &mut Self {
            self.add(id, Role::Reference)
        }

        fn working(&mut self, id: i64) -> &mut Self {
            self.add(id, Role::Working)
        }

        /// A calibration of `of` on `performed`, due a year later, certificate "CT-{cal id}".
        fn cal(&mut self, of: i64, performed: &str, standards: &[i64]) -> i64 {
            let performed_on = day(performed);
            self.cal_due(
                of,
                performed,
                &(performed_on + chrono::Days::new(365)).to_string(),
                standards,
            )
        }

        fn cal_due(&mut self, of: i64, performed: &str, due: &str, standards: &[i64]) -> i64 {
            self.next_calibration += 1;
            let id = self.next_calibration;
            self.g
                .get_mut(&of)
                .unwrap()
                .calibrations
                .push(CalibrationFacts {
                    record: CalibrationOnRecord {
                        calibration_id: id,
                        performed_on: day(performed),
                        sequence: id,
                        due_on: day(due),
                        certificate_number: Some(format!("CT-{id}")),
                        withdrawn: false,
                        out_of_tolerance: false,
                        chain_broken: false,
                    },
                    standards_used: standards.to_vec(),
                    accredited_issuer: None,
                    smallest_uncertainty: None,
                    point_uncertainties: Vec::new(),
                });
            id
        }

        fn calibration(&mut self, of: i64, id: i64) -> &mut CalibrationFacts {
            self.g
                .get_mut(&of)
                .unwrap()
                .calibrations
                .iter_mut()
                .find(|c| c.record.calibration_id == id)
                .unwrap()
        }

        fn status(&mut self, of: i64, on: &str, status: InstrumentStatus) {
            let changes = &mut self.g.get_mut(&of).unwrap().status_changes;
            let sequence = changes.len() as i64 + 1;
            changes.push(StatusChange {
                effective_on: day(on),
                sequence,
                status,
            });
        }

        fn uncertainty(&mut self, of: i64, cal: i64, value: f64, unit: &str, si: f64, dim: &str) {
            self.calibration(of, cal).smallest_uncertainty = Some(StatedUncertainty {
                value,
                unit: unit.into(),
                value_si: si,
                dimension: dim.into(),
            });
        }

        fn trace(&self, id: i64, at: &str) -> TraceabilityReport {
            trace(&self.g, id, day(at)).unwrap()
        }
    }

    fn broken(id: i64, cert: Option<i64>, reason: BrokenReason) -> Option<BrokenLink> {
        Some(BrokenLink {
            instrument_id: id,
            certificate_number: cert.map(|c| format!("CT-{c}")),
            reason,
        })
    }

    fn nim() -> Vec<NationalStandardReached> {
        vec![NationalStandardReached {
            instrument_id: 1,
            institute: Some("NIM".into()),
            country: Some("CN".into()),
        }]
    }

    fn depth(node: &ChainNode) -> usize {
        1 + node.standards.iter().map(depth).max().unwrap_or(0)
    }

    fn count(node: &ChainNode) -> usize {
        1 + node.standards.iter().map(count).sum::<usize>()
    }

    fn ids(nodes: &[ChainNode]) -> Vec<i64> {
        nodes.iter().map(|n| n.instrument.id).collect()
    }

    fn accredited_lab() -> AccreditedIssuer {
        AccreditedIssuer {
            name: "Calibration Lab Ltd".into(),
            accreditation_body: "CNAS".into(),
            accreditation_number: "L1234".into(),
        }
    }

    #[test]
    fn chains_of_depth_one_to_six_reach_the_national_standard() {
        for levels in 1..=6i64 {
            let mut lab = Lab::default();
            lab.national(1, "NIM", "CN");
            // instrument 100 + k is calibrated against 100 + k + 1; the last against NIM
            for k in 0..levels {
                lab.reference(100 + k);
            }
            for k in 0..levels {
                let standard = if k == levels - 1 { 1 } else { 100 + k + 1 };
                let performed = day("2025-06-01") - chrono::Days::new(10 * k as u64);
                lab.cal(100 + k, &performed.to_string(), &[standard]);
            }
            let r = lab.trace(100, "2025-07-01");
            assert!(r.traceable, "depth {levels}");
            assert_eq!(r.broken_link, None);
            assert_eq!(r.national_standards, nim());
            assert_eq!(depth(&r.chain), levels as usize + 1);
            let mut node = &r.chain;
            for k in 0..levels {
                assert_eq!(node.instrument.id, 100 + k);
                assert!(node.link_valid);
                assert_eq!(
                    node.certificate_number.as_deref(),
                    Some(&*format!("CT-{}", k + 1))
                );
                node = &node.standards[0];
            }
            assert_eq!(node.instrument.id, 1);
            assert_eq!(node.certificate_number, None);
            assert_eq!(node.performed_on, None);
            assert!(node.standards.is_empty());
        }
    }

    #[test]
    fn two_standards_form_a_tree_in_the_order_given_and_the_first_broken_link_wins() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN")
            .reference(10)
            .reference(11)
            .reference(12);
        lab.working(42);
        // 12 expired before 10 used it; 11 is expired when 42 used it.
        let c12 = lab.cal_due(12, "2023-01-01", "2024-01-01", &[1]);
        lab.cal(10, "2025-01-10", &[12]);
        let c11 = lab.cal_due(11, "2024-01-01", "2025-01-01", &[1]);
        lab.cal(42, "2025-05-10", &[10, 11]);

        let r = lab.trace(42, "2025-06-01");
        assert!(!r.traceable);
        // Depth-first, standards in order: 10's branch (12 expired) comes before 11.
        assert_eq!(
            r.broken_link,
            broken(12, Some(c12), B::StandardExpiredAtUse)
        );
        assert_eq!(ids(&r.chain.standards), vec![10, 11]);
        let n10 = &r.chain.standards[0];
        assert!(n10.link_valid);
        assert_eq!(n10.reason, None);
        assert!(!n10.standards[0].link_valid);
        assert_eq!(n10.standards[0].reason, Some(B::StandardExpiredAtUse));
        let n11 = &r.chain.standards[1];
        assert!(!n11.link_valid);
        assert_eq!(n11.reason, Some(B::StandardExpiredAtUse));
        assert_eq!(n11.certificate_number, Some(format!("CT-{c11}")));
        // Both broken branches are still shown down to the national standard.
        assert_eq!(ids(&n10.standards[0].standards), vec![1]);
        assert_eq!(ids(&n11.standards), vec![1]);
        // NIM is reached only through broken links: not listed.
        assert!(r.national_standards.is_empty());

        // Swap the order: 11 is now found first.
        lab.g.get_mut(&42).unwrap().calibrations[0].standards_used = vec![11, 10];
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(
            r.broken_link,
            broken(11, Some(c11), B::StandardExpiredAtUse)
        );
        assert_eq!(ids(&r.chain.standards), vec![11, 10]);
    }

    #[test]
    fn each_kind_of_broken_standard_is_named_with_its_certificate() {
        // (set-up on standard 10, expected reason, certificate named)
        type Setup = fn(&mut Lab, i64);
        let cases: Vec<(&str, Setup, BrokenReason, bool)> = vec![
            (
                "expired",
                |lab, c| {
                    lab.calibration(10, c).record.due_on = day("2025-05-09");
                },
                B::StandardExpiredAtUse,
                true,
            ),
            (
                "out of tolerance",
                |lab, c| {
                    lab.calibration(10, c).record.out_of_tolerance = true;
                },
                B::StandardOutOfTolerance,
                true,
            ),
            (
                "withdrawn",
                |lab, c| {
                    lab.calibration(10, c).record.withdrawn = true;
                },
                B::CertificateWithdrawn,
                true,
            ),
            (
                "suspended on T",
                |lab, _| {
                    lab.status(10, "2025-05-10", InstrumentStatus::Suspended);
                },
                B::StandardOutOfService,
                true,
            ),
            (
                "retired on T",
                |lab, _| {
                    lab.status(10, "2025-05-10", InstrumentStatus::Retired);
                },
                B::StandardOutOfService,
                true,
            ),
            (
                "calibrated only after T",
                |lab, c| {
                    lab.calibration(10, c).record.performed_on = day("2025-05-11");
                },
                B::StandardUncalibrated,
                false,
            ),
            (
                "never calibrated",
                |lab, _| {
                    lab.g.get_mut(&10).unwrap().calibrations.clear();
                },
                B::StandardUncalibrated,
                false,
            ),
        ];
        for (what, setup, reason, names_certificate) in cases {
            let mut lab = Lab::default();
            lab.national(1, "NIM", "CN").reference(10).working(42);
            let c10 = lab.cal(10, "2025-01-01", &[1]);
            lab.cal(42, "2025-05-10", &[10]);
            setup(&mut lab, c10);
            let r = lab.trace(42, "2025-06-01");
            assert!(!r.traceable, "{what}");
            let cert = names_certificate.then_some(c10);
            assert_eq!(r.broken_link, broken(10, cert, reason), "{what}");
            assert!(r.chain.link_valid, "{what}");
            let n10 = &r.chain.standards[0];
            assert!(!n10.link_valid, "{what}");
            assert_eq!(n10.reason, Some(reason), "{what}");
        }
        // Reactivated by T: valid again.
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").reference(10).working(42);
        lab.cal(10, "2025-01-01", &[1]);
        lab.cal(42, "2025-05-10", &[10]);
        lab.status(10, "2025-03-01", InstrumentStatus::Suspended);
        lab.status(10, "2025-05-10", InstrumentStatus::Active);
        assert!(lab.trace(42, "2025-06-01").traceable);
        // Suspended the day after use: the link was valid when used.
        lab.status(10, "2025-05-11", InstrumentStatus::Suspended);
        assert!(lab.trace(42, "2025-06-01").traceable);
    }

    #[test]
    fn a_national_standard_out_of_service_breaks_the_link() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").reference(10);
        let c10 = lab.cal(10, "2025-01-01", &[1]);
        lab.status(1, "2024-12-01", InstrumentStatus::Retired);
        let r = lab.trace(10, "2025-06-01");
        assert_eq!(r.broken_link, broken(1, None, B::StandardOutOfService));
        assert!(r.national_standards.is_empty());
        let n1 = &r.chain.standards[0];
        assert_eq!(
            (n1.link_valid, n1.reason),
            (false, Some(B::StandardOutOfService))
        );
        assert_eq!(broken_link_of_calibration(&lab.g, 10, c10), r.broken_link);
    }

    #[test]
    fn an_older_calibration_in_date_does_not_rescue_a_failed_latest() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").reference(10).working(42);
        lab.cal(10, "2025-01-01", &[1]); // in date until 2026
        let failed = lab.cal(10, "2025-04-01", &[1]);
        lab.calibration(10, failed).record.out_of_tolerance = true;
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(
            r.broken_link,
            broken(10, Some(failed), B::StandardOutOfTolerance)
        );
        assert_eq!(
            r.chain.standards[0].certificate_number,
            Some(format!("CT-{failed}"))
        );
        // Before the failed one, the older one is the latest and the link is valid.
        let mut lab2 = Lab::default();
        lab2.national(1, "NIM", "CN").reference(10).working(42);
        lab2.cal(10, "2025-01-01", &[1]);
        let failed = lab2.cal(10, "2025-04-01", &[1]);
        lab2.calibration(10, failed).record.out_of_tolerance = true;
        lab2.cal(42, "2025-03-31", &[10]);
        assert!(lab2.trace(42, "2025-06-01").traceable);
    }

    #[test]
    fn a_broken_link_deeper_down_is_passed_on_unchanged() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN")
            .reference(20)
            .reference(10)
            .working(42);
        let c20 = lab.cal_due(20, "2023-01-01", "2024-01-01", &[1]);
        let c10 = lab.cal(10, "2025-01-01", &[20]); // 20 expired on that day
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(
            r.broken_link,
            broken(20, Some(c20), B::StandardExpiredAtUse)
        );
        let n10 = &r.chain.standards[0];
        assert!(
            n10.link_valid,
            "10 was valid when used; its chain is what broke"
        );
        assert_eq!(n10.reason, None);
        assert_eq!(n10.certificate_number, Some(format!("CT-{c10}")));
        assert_eq!(n10.standards[0].reason, Some(B::StandardExpiredAtUse));
        // And 10's own calibration is broken at the same place.
        assert_eq!(broken_link_of_calibration(&lab.g, 10, c10), r.broken_link);
    }

    #[test]
    fn an_accredited_laboratory_is_a_root_even_without_standards() {
        let mut lab = Lab::default();
        lab.reference(10).working(42);
        let c10 = lab.cal(10, "2025-01-01", &[]);
        lab.calibration(10, c10).accredited_issuer = Some(accredited_lab());
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert!(r.traceable);
        assert_eq!(r.broken_link, None);
        assert!(r.national_standards.is_empty());
        assert_eq!(
            r.accredited_roots,
            vec![AccreditedRootReached {
                instrument_id: 10,
                certificate_number: Some(format!("CT-{c10}")),
                issuer: accredited_lab(),
            }]
        );
        assert!(r.chain.standards[0].link_valid);
        assert!(r.chain.standards[0].standards.is_empty());

        // Its standards are shown, but a broken link behind it does not break our chain.
        let mut lab = Lab::default();
        lab.reference(10).reference(11).working(42);
        let c10 = lab.cal(10, "2025-01-01", &[11]); // 11 never calibrated on record here
        lab.calibration(10, c10).accredited_issuer = Some(accredited_lab());
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert!(r.traceable);
        let n11 = &r.chain.standards[0].standards[0];
        assert_eq!(
            (n11.link_valid, n11.reason),
            (false, Some(B::StandardUncalibrated))
        );
        assert_eq!(broken_link_of_calibration(&lab.g, 10, c10), None);
    }

    #[test]
    fn no_standards_and_not_accredited_is_no_path_to_a_national_standard() {
        // At the top.
        let mut lab = Lab::default();
        lab.working(42);
        let c42 = lab.cal(42, "2025-05-10", &[]);
        let r = lab.trace(42, "2025-06-01");
        assert!(!r.traceable);
        assert_eq!(
            r.broken_link,
            broken(42, Some(c42), B::NoPathToNationalStandard)
        );
        assert_eq!(
            (r.chain.link_valid, r.chain.reason),
            (false, Some(B::NoPathToNationalStandard))
        );
        // Deeper down: named where the chain stops, not where it started.
        let mut lab = Lab::default();
        lab.reference(10).working(42);
        let c10 = lab.cal(10, "2025-01-01", &[]);
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(
            r.broken_link,
            broken(10, Some(c10), B::NoPathToNationalStandard)
        );
        assert!(r.chain.link_valid);
        let n10 = &r.chain.standards[0];
        assert_eq!(
            (n10.link_valid, n10.reason),
            (false, Some(B::NoPathToNationalStandard))
        );
        // An external calibration from a non-accredited lab is no root either.
        let mut lab = Lab::default();
        lab.reference(10);
        let c10 = lab.cal(10, "2025-01-01", &[]);
        lab.calibration(10, c10).record.certificate_number = Some("EXT-7".into());
        let r = lab.trace(10, "2025-06-01");
        assert_eq!(
            r.broken_link,
            Some(BrokenLink {
                instrument_id: 10,
                certificate_number: Some("EXT-7".into()),
                reason: B::NoPathToNationalStandard
            })
        );
    }

    #[test]
    fn an_uncalibrated_instrument_is_the_tree_alone() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").working(42);
        lab.cal(42, "2025-05-10", &[1]);
        for at in ["2025-05-09", "2020-01-01"] {
            let r = lab.trace(42, at);
            assert!(!r.traceable);
            assert_eq!(r.broken_link, broken(42, None, B::Uncalibrated));
            assert_eq!(
                r.chain,
                bare_node(node_instrument(&lab.g[&42]), false, Some(B::Uncalibrated))
            );
        }
        // The day of calibration is covered.
        assert!(lab.trace(42, "2025-05-10").traceable);
        lab.working(43);
        assert_eq!(
            lab.trace(43, "2025-05-10").broken_link,
            broken(43, None, B::Uncalibrated)
        );
        assert!(trace(&lab.g, 999, day("2025-05-10")).is_none());
    }

    #[test]
    fn a_national_standard_asked_directly_is_a_root() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN");
        let r = lab.trace(1, "2025-06-01");
        assert!(r.traceable);
        assert_eq!(r.national_standards, nim());
        assert_eq!(r.chain, bare_node(node_instrument(&lab.g[&1]), true, None));
    }

    #[test]
    fn a_same_day_cycle_terminates_and_names_the_instrument_met_twice() {
        let mut lab = Lab::default();
        lab.reference(10).reference(11).working(42);
        let c10 = lab.cal(10, "2025-05-01", &[11]);
        lab.cal(11, "2025-05-01", &[10]);
        lab.cal(42, "2025-05-10", &[10]);
        let r = lab.trace(42, "2025-06-01");
        assert!(!r.traceable);
        assert_eq!(r.broken_link, broken(10, Some(c10), B::Cycle));
        let n10 = &r.chain.standards[0];
        let n11 = &n10.standards[0];
        let again = &n11.standards[0];
        assert_eq!(again.instrument.id, 10);
        assert_eq!((again.link_valid, again.reason), (false, Some(B::Cycle)));
        assert!(again.standards.is_empty());
        assert_eq!(count(&r.chain), 4);

        // A calibration against itself.
        let mut lab = Lab::default();
        lab.reference(10);
        let c10 = lab.cal(10, "2025-05-01", &[10]);
        assert_eq!(
            lab.trace(10, "2025-06-01").broken_link,
            broken(10, Some(c10), B::Cycle)
        );

        // Three instruments the same day, with a national standard also in reach: the loop
        // still breaks the chain.
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN")
            .reference(10)
            .reference(11)
            .reference(12);
        lab.cal(10, "2025-05-01", &[11]);
        lab.cal(11, "2025-05-01", &[1, 12]);
        let c12 = lab.cal(12, "2025-05-01", &[10]);
        let r = lab.trace(12, "2025-06-01");
        assert_eq!(r.broken_link, broken(12, Some(c12), B::Cycle));
        assert_eq!(r.national_standards, nim());
    }

    #[test]
    fn a_diamond_is_not_a_cycle_and_lists_the_national_standard_once() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN")
            .reference(20)
            .reference(10)
            .reference(11)
            .working(42);
        lab.cal(20, "2025-01-01", &[1]);
        lab.cal(10, "2025-02-01", &[20]);
        lab.cal(11, "2025-02-01", &[20, 1]);
        lab.cal(42, "2025-05-10", &[10, 11]);
        let r = lab.trace(42, "2025-06-01");
        assert!(r.traceable);
        assert_eq!(r.national_standards, nim());
        assert_eq!(ids(&r.chain.standards), vec![10, 11]);
        assert_eq!(ids(&r.chain.standards[0].standards), vec![20]);
        assert_eq!(ids(&r.chain.standards[1].standards), vec![20, 1]);
        assert_eq!(
            r.chain.standards[0].standards[0],
            r.chain.standards[1].standards[0]
        );
    }

    #[test]
    fn a_diamond_heavy_graph_stays_small_and_fast() {
        // Six levels of two standards, each calibrated against both of the level below.
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").national(2, "PTB", "DE");
        let mut below = vec![1, 2];
        for level in 1..=6i64 {
            let here = vec![level * 10, level * 10 + 1];
            for &id in &here {
                lab.reference(id);
                let performed = day("2025-06-01") - chrono::Days::new(60 - 10 * level as u64);
                lab.cal(id, &performed.to_string(), &below);
            }
            below = here;
        }
        lab.working(42);
        lab.cal(42, "2025-06-10", &below);
        let started = std::time::Instant::now();
        let r = lab.trace(42, "2025-06-20");
        let took = started.elapsed();
        assert!(r.traceable);
        assert_eq!(r.national_standards.len(), 2);
        assert_eq!(count(&r.chain), (1 << 8) - 1);
        assert!(
            took < std::time::Duration::from_millis(200),
            "took {took:?}"
        );
    }

    #[test]
    fn uncertainty_below_a_standards_is_flagged_for_the_same_dimension_only() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN")
            .reference(10)
            .working(42)
            .working(43);
        let c10 = lab.cal(10, "2025-01-01", &[1]);
        lab.uncertainty(10, c10, 0.02, "kPa", 20.0, "pressure");
        let c42 = lab.cal(42, "2025-05-10", &[10]);
        lab.uncertainty(42, c42, 0.01, "kPa", 10.0, "pressure");
        let r = lab.trace(42, "2025-06-01");
        assert!(r.traceable, "a warning does not break the chain");
        assert_eq!(
            r.chain.warnings,
            vec![UNCERTAINTY_BELOW_STANDARD.to_string()]
        );
        assert_eq!(
            r.chain.expanded_uncertainty,
            Some(ExpandedUncertainty {
                value: 0.01,
                unit: "kPa".into()
            })
        );
        assert!(r.chain.standards[0].warnings.is_empty());
        // Compared in SI: 25 Pa written as 0.000025 MPa is larger than 20 Pa.
        lab.uncertainty(42, c42, 0.000025, "MPa", 25.0, "pressure");
        assert!(lab.trace(42, "2025-06-01").chain.warnings.is_empty());
        // Equal is not below.
        lab.uncertainty(42, c42, 20.0, "Pa", 20.0, "pressure");
        assert!(lab.trace(42, "2025-06-01").chain.warnings.is_empty());
        // Another dimension is not compared.
        let c43 = lab.cal(43, "2025-05-10", &[10]);
        lab.uncertainty(43, c43, 0.001, "degC", 0.001, "temperature");
        assert!(lab.trace(43, "2025-06-01").chain.warnings.is_empty());
    }

    #[test]
    fn the_instruments_own_expiry_does_not_matter() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").reference(10).working(42);
        lab.cal(10, "2025-01-01", &[1]);
        lab.cal_due(42, "2025-05-10", "2025-06-10", &[10]);
        lab.status(42, "2026-01-01", InstrumentStatus::Retired);
        let r = lab.trace(42, "2030-01-01");
        assert!(r.traceable);
        assert_eq!(r.chain.performed_on, Some(day("2025-05-10")));
    }

    #[test]
    fn the_latest_calibration_by_date_then_sequence_is_the_one_examined() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN").reference(10).working(42);
        lab.cal(10, "2025-01-01", &[1]);
        let good = lab.cal(42, "2025-05-10", &[10]);
        let orphan = lab.cal(42, "2025-05-10", &[]); // created later the same day
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(
            r.broken_link,
            broken(42, Some(orphan), B::NoPathToNationalStandard)
        );
        lab.calibration(42, good).record.sequence = 100;
        let r = lab.trace(42, "2025-06-01");
        assert!(r.traceable);
        assert_eq!(r.chain.certificate_number, Some(format!("CT-{good}")));
        let later = lab.cal(42, "2025-07-01", &[]);
        assert!(lab.trace(42, "2025-06-30").traceable);
        assert_eq!(
            lab.trace(42, "2025-07-01").broken_link,
            broken(42, Some(later), B::NoPathToNationalStandard)
        );
    }

    #[test]
    fn an_unknown_standard_breaks_the_chain_where_it_is_named() {
        let mut lab = Lab::default();
        lab.working(42);
        lab.cal(42, "2025-05-10", &[77]);
        let r = lab.trace(42, "2025-06-01");
        assert_eq!(r.broken_link, broken(77, None, B::NoPathToNationalStandard));
    }

    #[test]
    fn json_matches_section_7() {
        let mut lab = Lab::default();
        lab.national(1, "NIM", "CN");
        lab.reference(9);
        lab.g.get_mut(&9).unwrap().asset_tag = "PR-0009".into();
        let c9 = lab.cal(9, "2026-01-15", &[1]);
        lab.calibration(9, c9).record.certificate_number = Some("NIM-2026-L-0012".into());
        lab.uncertainty(9, c9, 0.01, "kPa", 10.0, "pressure");
        lab.working(42);
        lab.g.get_mut(&42).unwrap().asset_tag = "PG-0042".into();
        let c42 = lab.cal(42, "2026-05-10", &[9]);
        lab.calibration(42, c42).record.certificate_number = Some("CT-2026-000101".into());
        lab.uncertainty(42, c42, 0.05, "kPa", 50.0, "pressure");
        let r = lab.trace(42, "2026-11-28");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"instrument_id": 42, "at": "2026-11-28", "traceable": true, "broken_link": null,
             "national_standards": [{"instrument_id": 1, "institute": "NIM", "country": "CN"}],
             "accredited_roots": [],
             "chain": {"instrument": {"id": 42, "asset_tag": "PG-0042", "role": "working"},
                       "certificate_number": "CT-2026-000101", "performed_on": "2026-05-10",
                       "link_valid": true, "reason": null,
                       "expanded_uncertainty": {"value": 0.05, "unit": "kPa"},
                       "warnings": [],
                       "standards": [
                         {"instrument": {"id": 9, "asset_tag": "PR-0009", "role": "reference"},
                          "certificate_number": "NIM-2026-L-0012", "performed_on": "2026-01-15",
                          "link_valid": true, "reason": null,
                          "expanded_uncertainty": {"value": 0.01, "unit": "kPa"},
                          "warnings": [],
                          "standards": [
                            {"instrument": {"id": 1, "asset_tag": "TAG-1", "role": "national"},
                             "certificate_number": null, "performed_on": null,
                             "link_valid": true, "reason": null, "expanded_uncertainty": null,
                             "warnings": [], "standards": []}]}]}})
        );

        // A broken one, and an accredited root.
        lab.calibration(9, c9).accredited_issuer = Some(accredited_lab());
        lab.calibration(9, c9).record.withdrawn = true;
        let r = lab.trace(42, "2026-11-28");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["traceable"], json!(false));
        assert_eq!(
            v["broken_link"],
            json!({"instrument_id": 9, "certificate_number": "NIM-2026-L-0012",
                   "reason": "certificate_withdrawn"})
        );
        assert_eq!(v["accredited_roots"], json!([]));
        assert_eq!(v["chain"]["standards"][0]["link_valid"], json!(false));
        assert_eq!(
            v["chain"]["standards"][0]["reason"],
            json!("certificate_withdrawn")
        );
        lab.calibration(9, c9).record.withdrawn = false;
        let v = serde_json::to_value(lab.trace(42, "2026-11-28")).unwrap();
        assert_eq!(
            v["accredited_roots"],
            json!([{"instrument_id": 9, "certificate_number": "NIM-2026-L-0012",
                    "issuer": {"name": "Calibration Lab Ltd", "accreditation_body": "CNAS",
                               "accreditation_number": "L1234"}}])
        );

        for (r, s) in [
            (B::Uncalibrated, "uncalibrated"),
            (B::StandardExpiredAtUse, "standard_expired_at_use"),
            (B::StandardUncalibrated, "standard_uncalibrated"),
            (B::StandardOutOfTolerance, "standard_out_of_tolerance"),
            (B::CertificateWithdrawn, "certificate_withdrawn"),
            (B::StandardOutOfService, "standard_out_of_service"),
            (B::NoPathToNationalStandard, "no_path_to_national_standard"),
            (B::Cycle, "cycle"),
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), json!(s));
            assert_eq!(r.as_str(), s);
        }
    }

    #[test]
    fn the_openapi_schemas_of_the_recursive_tree_terminate() {
        use utoipa::{PartialSchema, ToSchema};
        let mut schemas = Vec::new();
        TraceabilityReport::schemas(&mut schemas);
        let names: Vec<_> = schemas.iter().map(|(n, _)| n.clone()).collect();
        assert!(names.iter().any(|n| n == "ChainNode"), "{names:?}");
        let _ = ChainNode::schema();
    }

    // -----------------------------------------------------------------------------------------
    // Properties
    // -----------------------------------------------------------------------------------------

    /// (role, status changes as (day offset, status), calibrations)
    type ArbCalibration = (u8, u8, Vec<usize>, bool, bool, bool, u8, u8);
    type ArbInstrument = (u8, Vec<(u8, u8)>, Vec<ArbCalibration>);

    fn arb_instrument(n: usize) -> impl Strategy<Value = ArbInstrument> {
        let calibration = (
            0u8..30,                           // performed offset
            0u8..120,                          // due after
            prop::collection::vec(0..n, 0..4), // standards (any: cycles allowed)
            prop::bool::weighted(0.1),         // withdrawn
            prop::bool::weighted(0.1),         // out of tolerance
            prop::bool::weighted(0.1),         // accredited
            0u8..20,                           // uncertainty
            0u8..2,                            // dimension
        );
        (
            0u8..4,
            prop::collection::vec((0u8..60, 0u8..3), 0..2),
            prop::collection::vec(calibration, 0..4),
        )
    }

    fn build(instruments: &[ArbInstrument]) -> HashMap<i64, InstrumentFacts> {
        let base = day("2025-01-01");
        let mut g = HashMap::new();
        for (i, (role, changes, cals)) in instruments.iter().enumerate() {
            let id = i as i64;
            let role = match role {
                0 => Role::National,
                1 => Role::Working,
                _ => Role::Reference,
            };
            let status_changes = changes
                .iter()
                .enumerate()
                .map(|(k, (on, s))| StatusChange {
                    effective_on: base + chrono::Days::new(*on as u64),
                    sequence: k as i64,
                    status: [
                        InstrumentStatus::Active,
                        InstrumentStatus::Suspended,
                        InstrumentStatus::Retired,
                    ][*s as usize],
                })
                .collect();
            let calibrations = cals
                .iter()
                .enumerate()
                .map(|(k, (on, due, standards, w, o, a, u, d))| {
                    let calibration_id = id * 10 + k as i64;
                    let performed_on = base + chrono::Days::new(*on as u64);
                    CalibrationFacts {
                        record: CalibrationOnRecord {
                            calibration_id,
                            performed_on,
                            sequence: calibration_id,
                            due_on: performed_on + chrono::Days::new(*due as u64),
                            certificate_number: Some(format!("CT-{calibration_id}")),
                            withdrawn: *w,
                            out_of_tolerance: *o,
                            chain_broken: false,
                        },
                        standards_used: standards.iter().map(|&s| s as i64).collect(),
                        accredited_issuer: a.then(accredited_lab),
                        smallest_uncertainty: Some(StatedUncertainty {
                            value: *u as f64,
                            unit: "Pa".into(),
                            value_si: *u as f64,
                            dimension: ["pressure", "temperature"][*d as usize].into(),
                        }),
                        point_uncertainties: Vec::new(),
                    }
                })
                .collect();
            g.insert(
                id,
                InstrumentFacts {
                    id,
                    asset_tag: format!("TAG-{id}"),
                    role,
                    institute: Some("NIM".into()),
                    country: Some("CN".into()),
                    status_changes,
                    calibrations,
                },
            );
        }
        g
    }

    fn arb_graph() -> impl Strategy<Value = HashMap<i64, InstrumentFacts>> {
        (2usize..8)
            .prop_flat_map(|n| prop::collection::vec(arb_instrument(n), n))
            .prop_map(|instruments| build(&instruments))
    }

    fn find<'a>(node: &'a ChainNode, link: &BrokenLink) -> Option<&'a ChainNode> {
        if node.instrument.id == link.instrument_id && node.reason == Some(link.reason) {
            return Some(node);
        }
        node.standards.iter().find_map(|s| find(s, link))
    }

    fn all_links_valid(node: &ChainNode) -> bool {
        node.link_valid && node.standards.iter().all(all_links_valid)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_graph_terminates_and_the_verdict_is_consistent(
            g in arb_graph(), at in 0u64..60,
        ) {
            let at = day("2025-01-01") + chrono::Days::new(at);
            for &id in g.keys() {
                let r = trace(&g, id, at).unwrap();
                prop_assert_eq!(r.traceable, r.broken_link.is_none());
                if let Some(link) = &r.broken_link {
                    // The named link is in the tree, broken for that reason.
                    let node = find(&r.chain, link);
                    prop_assert!(node.is_some(), "{:?} not in the tree", link);
                    prop_assert!(!node.unwrap().link_valid);
                }
                if g[&id].role != Role::National {
                    if let Some(i) = latest_index(&g[&id].calibrations, at) {
                        let c = g[&id].calibrations[i].record.calibration_id;
                        prop_assert_eq!(broken_link_of_calibration(&g, id, c), r.broken_link.clone());
                    }
                }
                let mut seen = HashSet::new();
                prop_assert!(r.national_standards.iter().all(|n| seen.insert(n.instrument_id)));
                if r.traceable {
                    prop_assert!(!r.national_standards.is_empty() || !r.accredited_roots.is_empty());
                }
            }
        }

        #[test]
        fn the_memo_never_changes_an_answer(g in arb_graph(), at in 0u64..60) {
            let at = day("2025-01-01") + chrono::Days::new(at);
            for &id in g.keys() {
                prop_assert_eq!(trace(&g, id, at), trace_with(&g, id, at, false));
            }
        }

        #[test]
        fn reordering_the_calibrations_changes_nothing(
            g in arb_graph(), at in 0u64..60, rotate in 0usize..3,
        ) {
            let at = day("2025-01-01") + chrono::Days::new(at);
            let mut shuffled = g.clone();
            for facts in shuffled.values_mut() {
                facts.calibrations.reverse();
                let len = facts.calibrations.len();
                if len > 0 {
                    facts.calibrations.rotate_left(rotate % len);
                }
                facts.status_changes.reverse();
            }
            for &id in g.keys() {
                prop_assert_eq!(trace(&g, id, at), trace(&shuffled, id, at));
            }
        }

        #[test]
        fn valid_links_down_to_national_leaves_are_traceable(
            layers in prop::collection::vec(
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 1..3), 1..3),
                1..6),
            national_count in 1usize..3,
        ) {
            // Layer 0 is national; each instrument of layer k is calibrated (later than the
            // layer below, in date) against one or two of any lower layer.
            let mut g = HashMap::new();
            let mut lower: Vec<i64> = Vec::new();
            let mut next_id = 0i64;
            for _ in 0..national_count {
                g.insert(next_id, InstrumentFacts {
                    id: next_id, asset_tag: format!("N{next_id}"), role: Role::National,
                    institute: Some("NIM".into()), country: Some("CN".into()),
                    status_changes: vec![], calibrations: vec![],
                });
                lower.push(next_id);
                next_id += 1;
            }
            let base = day("2025-01-01");
            let mut top = 0;
            for (k, layer) in layers.iter().enumerate() {
                let mut here = Vec::new();
                for picks in layer {
                    let id = next_id;
                    next_id += 1;
                    let performed_on = base + chrono::Days::new(10 * k as u64);
                    g.insert(id, InstrumentFacts {
                        id, asset_tag: format!("R{id}"), role: Role::Reference,
                        institute: None, country: None, status_changes: vec![],
                        calibrations: vec![CalibrationFacts {
                            record: CalibrationOnRecord {
                                calibration_id: id, performed_on, sequence: id,
                                due_on: performed_on + chrono::Days::new(365),
                                certificate_number: Some(format!("CT-{id}")),
                                withdrawn: false, out_of_tolerance: false, chain_broken: false,
                            },
                            standards_used: picks.iter().map(|p| lower[p.index(lower.len())]).collect(),
                            accredited_issuer: None,
                            smallest_uncertainty: None,
                            point_uncertainties: Vec::new(),
                        }],
                    });
                    here.push(id);
                    top = id;
                }
                lower.extend(here);
            }
            let r = trace(&g, top, base + chrono::Days::new(100)).unwrap();
            prop_assert!(r.traceable, "{:?}", r.broken_link);
            prop_assert!(all_links_valid(&r.chain));
            prop_assert!(!r.national_standards.is_empty());
        }
    }
}
