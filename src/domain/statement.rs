//! Validity statements (DESIGN 9c): what an inspection agency, an assessor or a customer takes
//! away from a bulk validity check — each row's verdict, the certificate it rests on and a
//! summary of the instrument's traceability on the date asked — numbered, rendered once and
//! kept, so that the paper can later be checked against what was answered then.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::certificate::LaboratoryView;
use super::traceability::TraceabilityReport;
use super::validity::{Validity, ValidityReason};

/// The number's prefix: statements are numbered apart from certificates, so that neither
/// sequence has gaps the other explains.
pub const NUMBER_PREFIX: &str = "VS";

/// `VS-2026-000001`: the year of the query and the statement's place in that year.
pub fn number(year: i32, sequence: i32) -> String {
    format!("{NUMBER_PREFIX}-{year}-{sequence:06}")
}

/// Whether a number is written as a statement's (the verification page tells statements
/// from certificates by it before looking anything up).
pub fn is_statement_number(number: &str) -> bool {
    number.starts_with(&format!("{NUMBER_PREFIX}-"))
}

/// The instrument's traceability on the date asked, in a line: whether its chain is unbroken,
/// what it reaches (national standards, accredited laboratories) and, if broken, the first
/// broken link as the traceability report words it (standards named by asset tag).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainSummary {
    pub traceable: bool,
    pub reaches: Vec<String>,
    pub broken_link: Option<String>,
}

impl ChainSummary {
    pub fn of(report: &TraceabilityReport) -> ChainSummary {
        let national = report.national_standards.iter().map(|n| {
            match (n.institute.as_deref(), n.country.as_deref()) {
                (Some(institute), Some(country)) => format!("{institute} ({country})"),
                (Some(institute), None) => institute.to_string(),
                (None, _) => report
                    .chain
                    .asset_tag_of(n.instrument_id)
                    .unwrap_or("a national standard")
                    .to_string(),
            }
        });
        let accredited = report.accredited_roots.iter().map(|root| {
            format!(
                "{} ({} {})",
                root.issuer.name, root.issuer.accreditation_body, root.issuer.accreditation_number
            )
        });
        let mut reaches: Vec<String> = national.chain(accredited).collect();
        reaches.dedup();
        ChainSummary {
            traceable: report.traceable,
            reaches,
            broken_link: report.broken_link_text(),
        }
    }

    /// "Traceable to NIM (CN)", or "Not traceable: REF-1, certificate …: standard expired at use".
    pub fn words(&self) -> String {
        match (&self.broken_link, self.traceable) {
            (Some(link), _) => format!("Not traceable: {link}"),
            (None, false) => "Not traceable".to_string(),
            (None, true) if self.reaches.is_empty() => "Traceable".to_string(),
            (None, true) => format!("Traceable to {}", self.reaches.join("; ")),
        }
    }
}

/// One row of a statement: the bulk answer's row (same fields, same names) and the chain
/// summary, null for an instrument the requester cannot see or that is not registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementRow {
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub at: NaiveDate,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    #[serde(flatten)]
    pub validity: Validity,
    pub chain: Option<ChainSummary>,
}

impl StatementRow {
    /// "valid" or "NOT valid": a reader scanning a long list looks for the second.
    pub fn verdict(&self) -> &'static str {
        if self.validity.valid {
            "valid"
        } else {
            "NOT valid"
        }
    }

    /// The instrument as its plate names it: "WIKA CPG1500 S/N 123".
    pub fn plate(&self) -> String {
        let serial = self.serial_number.as_ref().map(|s| format!("S/N {s}"));
        [self.manufacturer.clone(), self.model.clone(), serial]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The reason in a metrologist's words ("certificate withdrawn").
pub fn reason_words(reason: ValidityReason) -> String {
    reason.as_str().replace('_', " ")
}

/// The reason with when and why, where the register knows them (DESIGN 9c: a reader of
/// validity sees a withdrawal's or suspension's date and reason, not only the verdict).
pub fn reason_with_detail(validity: &crate::domain::validity::Validity) -> String {
    let words = reason_words(validity.reason);
    let Some(detail) = &validity.reason_detail else {
        return words;
    };
    let when = match validity.reason {
        ValidityReason::CertificateWithdrawn => "on",
        _ => "since",
    };
    match &detail.text {
        Some(text) => format!("{words} {when} {}: {text}", detail.on),
        None => format!("{words} {when} {}", detail.on),
    }
}

/// Everything the statement's PDF states.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementView {
    pub number: String,
    /// The time of the query, UTC.
    pub created_at: DateTime<Utc>,
    /// The requester's full name (their login name when the register has none).
    pub requested_by: String,
    pub laboratory: LaboratoryView,
    pub rows: Vec<StatementRow>,
    pub verification_url: String,
    /// Whether the PDF will carry the laboratory's digital signature.
    pub digitally_signed: bool,
}

impl StatementView {
    /// What the statement is, as the verification page says it.
    pub fn description(rows: usize, requested_by: &str) -> String {
        let noun = if rows == 1 {
            "instrument"
        } else {
            "instruments"
        };
        format!("validity statement of {rows} {noun} requested by {requested_by}")
    }
}

/// The PDF signature's reason: `signing::pades::verify` reads the number back from it, as it
/// does a certificate's.
pub fn signature_reason(number: &str, requested_by: &str) -> String {
    format!("Validity statement {number} requested by {requested_by}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withdrawal_or_suspension_says_when_and_why() {
        use crate::domain::validity::{ReasonDetail, Validity};
        let mut validity = Validity::unknown_instrument();
        validity.reason = ValidityReason::CertificateWithdrawn;
        assert_eq!(reason_with_detail(&validity), "certificate withdrawn");
        let on = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        validity.reason_detail = Some(ReasonDetail {
            on,
            text: Some("wrong reference pressure".into()),
        });
        assert_eq!(
            reason_with_detail(&validity),
            "certificate withdrawn on 2026-12-05: wrong reference pressure"
        );
        validity.reason = ValidityReason::Suspended;
        validity.reason_detail = Some(ReasonDetail { on, text: None });
        assert_eq!(reason_with_detail(&validity), "suspended since 2026-12-05");
    }

    #[test]
    fn numbers_are_prefixed_by_year_and_padded() {
        assert_eq!(number(2026, 1), "VS-2026-000001");
        assert!(is_statement_number("VS-2026-000001"));
        assert!(!is_statement_number("CT-2026-000001"));
    }

    #[test]
    fn chain_words_name_the_root_or_the_broken_link() {
        let mut summary = ChainSummary {
            traceable: true,
            reaches: vec!["NIM (CN)".into()],
            broken_link: None,
        };
        assert_eq!(summary.words(), "Traceable to NIM (CN)");
        summary.traceable = false;
        summary.broken_link = Some("REF-1: standard expired at use".into());
        assert_eq!(
            summary.words(),
            "Not traceable: REF-1: standard expired at use"
        );
    }

    #[test]
    fn the_plate_reads_as_written_on_the_instrument() {
        let row = StatementRow {
            id: Some(1),
            asset_tag: Some("PG-1".into()),
            at: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            manufacturer: Some("WIKA".into()),
            model: None,
            serial_number: Some("123".into()),
            validity: Validity::unknown_instrument(),
            chain: None,
        };
        assert_eq!(row.plate(), "WIKA S/N 123");
        assert_eq!(row.verdict(), "NOT valid");
    }

    #[test]
    fn one_instrument_is_singular() {
        assert_eq!(
            StatementView::description(1, "Dr Li"),
            "validity statement of 1 instrument requested by Dr Li"
        );
    }
}
