//! Issuing a certificate (DESIGN section 8): gathering what it states from the
//! register, the calibration, the standards and the traceability chain;
//! rendering the PDF and the DCC once; signing the DCC (XAdES) and the PDF (PAdES) with the
//! laboratory's identity when one is installed (DESIGN section 8b); storing them byte for
//! byte.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::AppConfig;
use crate::db::calibrations::Calibration;
use crate::db::{self, DbConnection};
use crate::domain::certificate::{
    CertificateView, ItemView, LaboratoryView, ReplacesView, StandardView, TraceabilityRootView,
};
use crate::domain::quantity::QuantityJson;
use crate::domain::signature::ElectronicSignature;
use crate::domain::traceability::{trace, InstrumentFacts, TraceabilityReport};
use crate::error::ApiError;
use crate::signing::SigningIdentity;

/// What issuing needs besides the calibration: the laboratory's identity and
/// where certificates are verified.
#[derive(Debug, Clone)]
pub struct IssueContext {
    pub prefix: String,
    pub laboratory: LaboratoryView,
    pub public_base_url: String,
    /// Approving needs an `approve` authorisation (DESIGN 9b) unless the lab switched it off.
    pub require_authorisations: bool,
}

impl IssueContext {
    pub fn from_config(config: &AppConfig) -> IssueContext {
        IssueContext {
            prefix: config.lab.certificate_prefix.clone(),
            laboratory: LaboratoryView {
                name: config.lab.name.clone(),
                address: config.lab.address.clone(),
                accreditation_body: config.lab.accreditation_body.clone(),
                accreditation_number: config.lab.accreditation_number.clone(),
                country: config.lab.country.clone(),
            },
            public_base_url: config.public_base_url.trim_end_matches('/').to_string(),
            require_authorisations: config.lab.require_authorisations,
        }
    }

    pub fn verification_url(&self, number: &str) -> String {
        format!("{}/verify/{number}", self.public_base_url)
    }
}

/// What the approval gives a certificate: its number, its date and who signs it.
#[derive(Debug, Clone, Copy)]
pub struct Issue<'a> {
    pub number: &'a str,
    pub issued_on: NaiveDate,
    pub signatory: &'a str,
    pub signature: Option<&'a ElectronicSignature>,
}

/// Renders and stores the certificate of an approved internal calibration,
/// inside the approval's transaction.
pub fn issue_certificate(
    conn: &mut DbConnection,
    calibration: &Calibration,
    graph: &HashMap<i64, InstrumentFacts>,
    issue: &Issue,
    context: &IssueContext,
) -> Result<CertificateView, ApiError> {
    let mut view = build_view(conn, calibration, graph, issue, context)?;
    let signer = identity_in_force(conn)?;
    view.digitally_signed = signer.is_some();
    // The DCC first: the PDF carries it inside, byte for byte as it is stored.
    let dcc = crate::dcc::render(&view)
        .map_err(|e| ApiError::Internal(format!("DCC export failed: {e}")))?;
    let dcc = match &signer {
        Some((identity, now)) => crate::signing::xades::sign(&dcc, identity, *now)
            .map_err(|e| ApiError::Internal(format!("DCC signing failed: {e}")))?,
        None => dcc,
    };
    let pdf = crate::pdf::render_with_dcc(&view, dcc.as_bytes())
        .map_err(|e| ApiError::Internal(format!("PDF rendering failed: {e}")))?;
    let pdf = match &signer {
        Some((identity, now)) => {
            crate::signing::pades::sign(&pdf, identity, &signature_reason(&view), *now)
                .map_err(|e| ApiError::Internal(format!("PDF signing failed: {e}")))?
        }
        None => pdf,
    };
    db::certificates::insert_documents(conn, &view, calibration, pdf, dcc)?;
    Ok(view)
}

/// The laboratory's signing identity, checked usable now, and that moment: the DCC and the
/// PDF are signed with it at the same time (DESIGN section 8b). None without an identity:
/// the certificate is issued unsigned. A signature that cannot be made fails the approval as
/// a whole, inside its transaction, so no certificate number is used up by a half-signed
/// certificate.
pub(crate) fn identity_in_force(
    conn: &mut DbConnection,
) -> Result<Option<(SigningIdentity, DateTime<Utc>)>, ApiError> {
    let Some(identity) = db::signing::in_force(conn)? else {
        return Ok(None);
    };
    let now = Utc::now();
    identity.check_usable(now).map_err(|e| {
        ApiError::Unavailable(format!(
            "certificates cannot be signed: {e} (caltrace keys import installs a new one)"
        ))
    })?;
    Ok(Some((identity, now)))
}

/// The PDF signature's reason (DESIGN 8b): the certificate number and the approver's meaning
/// of signature (21 CFR 11.50), e.g. "Certificate CT-2026-000123 approved by Dr Li Wei
/// (meaning: approved)". `signing::pades::verify` reads the number back from it.
pub fn signature_reason(view: &CertificateView) -> String {
    match &view.electronic_signature {
        Some(signature) => format!(
            "Certificate {} approved by {} (meaning: {})",
            view.number, signature.signer, signature.meaning
        ),
        None => format!("Certificate {} approved by {}", view.number, view.signatory),
    }
}

/// A standard used, with the certificate its link rested on that day.
fn standard_view(
    conn: &mut DbConnection,
    standard_id: i64,
    on: NaiveDate,
    context: &IssueContext,
) -> Result<StandardView, ApiError> {
    let standard = db::instruments::get(conn, standard_id)?;
    let rests_on = db::certificates::rests_on(conn, standard_id, on)?;
    let certificate_dated = rests_on.as_ref().and_then(|r| r.certificate_dated);
    let (certificate_number, issuer, calibrated_on, due_on, sha256) = match rests_on {
        None => (None, None, None, None, None),
        Some(r) if r.external => (
            r.issuer_number,
            r.issuer_name.or(r.our_number),
            Some(r.performed_on),
            r.due_on,
            None,
        ),
        Some(r) => (
            r.our_number,
            Some(context.laboratory.name.clone()),
            Some(r.performed_on),
            r.due_on,
            r.pdf_sha256,
        ),
    };
    Ok(StandardView {
        instrument_id: standard.id,
        asset_tag: standard.asset_tag,
        description: standard.description,
        manufacturer: standard.manufacturer,
        model: standard.model,
        serial_number: standard.serial_number,
        certificate_number,
        issuer,
        calibrated_on,
        due_on,
        certificate_sha256: sha256,
        certificate_dated,
    })
}

/// Where the chain ends: national standards (with their identifiers) and
/// accredited laboratories.
fn traceability_roots(
    conn: &mut DbConnection,
    report: &TraceabilityReport,
) -> Result<Vec<TraceabilityRootView>, ApiError> {
    let mut roots = Vec::new();
    for national in &report.national_standards {
        roots.push(TraceabilityRootView {
            kind: "national_standard".to_string(),
            name: format!(
                "{} ({})",
                national.institute.clone().unwrap_or_default(),
                national.country.clone().unwrap_or_default()
            ),
            reference: db::instruments::get(conn, national.instrument_id)?.standard_identifier,
        });
    }
    for root in &report.accredited_roots {
        roots.push(TraceabilityRootView {
            kind: "accredited_laboratory".to_string(),
            name: format!(
                "{}, {} {}",
                root.issuer.name, root.issuer.accreditation_body, root.issuer.accreditation_number
            ),
            reference: root.certificate_number.clone(),
        });
    }
    Ok(roots)
}

fn environment_of(calibration: &Calibration) -> Vec<(String, QuantityJson)> {
    ["temperature", "relative_humidity", "pressure"]
        .iter()
        .filter_map(|key| {
            let value = calibration.environment.as_ref()?.get(*key)?;
            let quantity: QuantityJson = serde_json::from_value(value.clone()).ok()?;
            Some((key.to_string(), quantity))
        })
        .collect()
}

fn item_view(
    instrument: &crate::domain::instrument::Instrument,
    calibration: &Calibration,
) -> ItemView {
    ItemView {
        asset_tag: instrument.asset_tag.clone(),
        description: instrument.description.clone(),
        manufacturer: instrument.manufacturer.clone(),
        model: instrument.model.clone(),
        serial_number: instrument.serial_number.clone(),
        quantity_kind: instrument.quantity_kind.name().to_string(),
        range: instrument
            .range
            .as_ref()
            .map(|r| (r.min.clone(), r.max.clone())),
        resolution: instrument.resolution.clone(),
        condition: calibration.condition_on_receipt.clone(),
    }
}

/// Gathers everything the certificate of an approved internal calibration states.
pub fn build_view(
    conn: &mut DbConnection,
    calibration: &Calibration,
    graph: &HashMap<i64, InstrumentFacts>,
    issue: &Issue,
    context: &IssueContext,
) -> Result<CertificateView, ApiError> {
    let Issue {
        number,
        issued_on,
        signatory,
        signature,
    } = *issue;
    let instrument = db::instruments::get(conn, calibration.instrument_id)?;
    let standards = calibration
        .standards_used
        .iter()
        .map(|&id| standard_view(conn, id, calibration.performed_on, context))
        .collect::<Result<Vec<_>, _>>()?;
    let report = trace(graph, calibration.instrument_id, calibration.performed_on)
        .ok_or_else(|| ApiError::Internal("the calibrated instrument vanished".to_string()))?;
    let replaces = calibration.replaces.as_ref().map(|r| ReplacesView {
        number: r["number"].as_str().unwrap_or_default().to_string(),
        replacement_type: r["type"].as_str().unwrap_or_default().to_string(),
        reason: r["reason"].as_str().unwrap_or_default().to_string(),
    });
    Ok(CertificateView {
        number: number.to_string(),
        issued_on,
        laboratory: context.laboratory.clone(),
        customer: instrument.customer.clone(),
        item: item_view(&instrument, calibration),
        received_on: calibration.received_on,
        performed_on: calibration.performed_on,
        location: calibration.location.clone(),
        // The register's code, version and title (7.8.2.1 g); the text as cited when the
        // calibration was recorded before the register existed.
        procedure: match &calibration.procedure_version {
            Some(cited) => Some(cited.printed()),
            None => calibration.procedure.clone(),
        },
        environment: environment_of(calibration),
        decision_rule: calibration.decision_rule,
        points: calibration.points.clone(),
        standards,
        traceability_roots: traceability_roots(conn, &report)?,
        traceable: report.traceable,
        broken_link: report.broken_link_text(),
        deviations: calibration.deviations.clone(),
        replaces,
        signatory: signatory.to_string(),
        electronic_signature: signature.cloned(),
        digitally_signed: false,
        verification_url: context.verification_url(number),
        audit_head: db::audit::head(conn)?,
        due_on: calibration.due_on,
    })
}
