//! Certificate documents: gathered, rendered once at issue (PDF and DCC) and
//! stored with their SHA-256; listing, download and public verification.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::calibrations::{self, Calibration};
use super::schema::{calibrations as calibrations_table, certificates, instruments};
use super::{now_timestamp, DbConnection};
use crate::config::AppConfig;
use crate::domain::audit::sha256_hex;
use crate::domain::calibration::Stage;
use crate::domain::certificate::{
    CertificateView, ItemView, LaboratoryView, ReplacesView, StandardView, TraceabilityRootView,
};
use crate::domain::quantity::QuantityJson;
use crate::domain::traceability::trace;
use crate::error::ApiError;

/// What issuing needs besides the calibration: the laboratory's identity and
/// where certificates are verified.
#[derive(Debug, Clone)]
pub struct IssueContext {
    pub prefix: String,
    pub laboratory: LaboratoryView,
    pub public_base_url: String,
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
        }
    }

    pub fn verification_url(&self, number: &str) -> String {
        format!("{}/verify/{number}", self.public_base_url)
    }
}

/// (calibration id, performed on, due on, kind, our number, issuer's number, issuer).
type RestsOnRow = (
    i64,
    NaiveDate,
    Option<NaiveDate>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Gathers everything the certificate of an approved internal calibration states.
pub fn build_view(
    conn: &mut DbConnection,
    calibration: &Calibration,
    number: &str,
    issued_on: NaiveDate,
    signatory: &str,
    context: &IssueContext,
) -> Result<CertificateView, ApiError> {
    let instrument = super::instruments::get(conn, calibration.instrument_id)?;
    let mut standards = Vec::with_capacity(calibration.standards_used.len());
    for &standard_id in &calibration.standards_used {
        let standard = super::instruments::get(conn, standard_id)?;
        // The certificate the link rests on: the standard's latest on record on the calibration date.
        let rests_on: Option<RestsOnRow> = calibrations_table::table
            .select((
                calibrations_table::id,
                calibrations_table::performed_on,
                calibrations_table::due_on,
                calibrations_table::kind,
                calibrations_table::certificate_number,
                calibrations_table::issuer_certificate_number,
                calibrations_table::issuer_name,
            ))
            .filter(calibrations_table::instrument_id.eq(standard_id))
            .filter(calibrations_table::status.eq_any(calibrations::ON_RECORD))
            .filter(calibrations_table::performed_on.le(calibration.performed_on))
            .order((
                calibrations_table::performed_on.desc(),
                calibrations_table::id.desc(),
            ))
            .first(conn)
            .optional()?;
        let (certificate_number, issuer, calibrated_on, due_on, sha256) = match rests_on {
            Some((_, performed_on, due_on, kind, ours, theirs, issuer_name))
                if kind == "external" =>
            {
                (
                    theirs,
                    issuer_name.or(ours),
                    Some(performed_on),
                    due_on,
                    None,
                )
            }
            Some((_, performed_on, due_on, _, ours, _, _)) => {
                let sha256: Option<String> = match &ours {
                    Some(number) => certificates::table
                        .select(certificates::pdf_sha256)
                        .find(number)
                        .first(conn)
                        .optional()?,
                    None => None,
                };
                (
                    ours,
                    Some(context.laboratory.name.clone()),
                    Some(performed_on),
                    due_on,
                    sha256,
                )
            }
            None => (None, None, None, None, None),
        };
        standards.push(StandardView {
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
        });
    }
    let graph =
        super::traceability::graph_for(conn, calibration.instrument_id, calibration.performed_on)?;
    let report = trace(&graph, calibration.instrument_id, calibration.performed_on)
        .ok_or_else(|| ApiError::Internal("the calibrated instrument vanished".to_string()))?;
    let mut traceability_roots = Vec::new();
    for national in &report.national_standards {
        let identifier: Option<String> = instruments::table
            .select(instruments::standard_identifier)
            .find(national.instrument_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten();
        traceability_roots.push(TraceabilityRootView {
            kind: "national_standard".to_string(),
            name: format!(
                "{} ({})",
                national.institute.clone().unwrap_or_default(),
                national.country.clone().unwrap_or_default()
            ),
            reference: identifier,
        });
    }
    for root in &report.accredited_roots {
        traceability_roots.push(TraceabilityRootView {
            kind: "accredited_laboratory".to_string(),
            name: format!(
                "{}, {} {}",
                root.issuer.name, root.issuer.accreditation_body, root.issuer.accreditation_number
            ),
            reference: root.certificate_number.clone(),
        });
    }
    let environment = ["temperature", "relative_humidity", "pressure"]
        .iter()
        .filter_map(|key| {
            let value = calibration.environment.as_ref()?.get(*key)?;
            let quantity: QuantityJson = serde_json::from_value(value.clone()).ok()?;
            Some((key.to_string(), quantity))
        })
        .collect();
    let found_out = calibration
        .points
        .iter()
        .any(|p| p.stage == Stage::AsFound && p.decision.is_some_and(|d| d.is_out_of_tolerance()));
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
        item: ItemView {
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
            condition: if found_out {
                "Received in working order; found out of tolerance before adjustment (see as-found results)".to_string()
            } else {
                "Received in working order".to_string()
            },
        },
        received_on: calibration.received_on,
        performed_on: calibration.performed_on,
        location: calibration.location.clone(),
        procedure: calibration.procedure.clone(),
        environment,
        decision_rule: calibration.decision_rule.clone(),
        points: calibration.points.clone(),
        standards,
        traceability_roots,
        traceable: report.traceable,
        deviations: None,
        replaces,
        signatory: signatory.to_string(),
        verification_url: context.verification_url(number),
        audit_head: super::audit::head(conn)?,
        due_on: calibration.due_on,
    })
}

/// Renders and stores the documents of a certificate being issued (inside the
/// approval's transaction: a certificate exists with its documents or not at all).
pub fn store_documents(
    conn: &mut DbConnection,
    view: &CertificateView,
    calibration: &Calibration,
) -> Result<(), ApiError> {
    let pdf = crate::pdf::render(view)
        .map_err(|e| ApiError::Internal(format!("PDF rendering failed: {e}")))?;
    let dcc = crate::dcc::render(view)
        .map_err(|e| ApiError::Internal(format!("DCC export failed: {e}")))?;
    diesel::insert_into(certificates::table)
        .values((
            certificates::number.eq(&view.number),
            certificates::calibration_id.eq(calibration.id),
            certificates::instrument_id.eq(calibration.instrument_id),
            certificates::issued_on.eq(view.issued_on),
            certificates::pdf_sha256.eq(sha256_hex(&pdf)),
            certificates::pdf.eq(pdf),
            certificates::dcc_sha256.eq(sha256_hex(dcc.as_bytes())),
            certificates::dcc.eq(dcc.into_bytes()),
            certificates::audit_head.eq(&view.audit_head),
            certificates::created_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    Ok(())
}

/// A certificate as listed (DESIGN section 8).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CertificateItem {
    pub number: String,
    /// `issued`, `withdrawn` or `superseded`.
    pub status: String,
    #[schema(value_type = String, format = Date)]
    pub issued_on: NaiveDate,
    pub instrument_id: i64,
    /// SHA-256 of the PDF.
    pub sha256: String,
    pub dcc_sha256: String,
    pub superseded_by: Option<String>,
    pub audit_head: String,
}

type ItemRow = (
    String,
    String,
    NaiveDate,
    i64,
    String,
    String,
    Option<String>,
    String,
);

fn item(
    (number, status, issued_on, instrument_id, sha256, dcc_sha256, superseded_by, audit_head): ItemRow,
) -> CertificateItem {
    CertificateItem {
        number,
        status,
        issued_on,
        instrument_id,
        sha256,
        dcc_sha256,
        superseded_by,
        audit_head,
    }
}

#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub instrument_id: Option<i64>,
    pub customer: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &CertificateFilter,
) -> Result<(Vec<CertificateItem>, i64), ApiError> {
    let build = || {
        let mut query = certificates::table
            .inner_join(calibrations_table::table)
            .inner_join(instruments::table.on(instruments::id.eq(certificates::instrument_id)))
            .into_boxed();
        if let Some(status) = &filter.status {
            query = query.filter(calibrations_table::status.eq(status.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(certificates::issued_on.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(certificates::issued_on.le(to));
        }
        if let Some(id) = filter.instrument_id {
            query = query.filter(certificates::instrument_id.eq(id));
        }
        if let Some(customer) = &filter.customer {
            query = query.filter(instruments::customer.eq(customer.clone()));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<ItemRow> = build()
        .select((
            certificates::number,
            calibrations_table::status,
            certificates::issued_on,
            certificates::instrument_id,
            certificates::pdf_sha256,
            certificates::dcc_sha256,
            calibrations_table::superseded_by,
            certificates::audit_head,
        ))
        .order(certificates::number.asc())
        .limit(filter.per_page)
        .offset((filter.page - 1) * filter.per_page)
        .load(conn)?;
    Ok((rows.into_iter().map(item).collect(), total))
}

pub fn get(conn: &mut DbConnection, number: &str) -> Result<Option<CertificateItem>, ApiError> {
    let row: Option<ItemRow> = certificates::table
        .inner_join(calibrations_table::table)
        .select((
            certificates::number,
            calibrations_table::status,
            certificates::issued_on,
            certificates::instrument_id,
            certificates::pdf_sha256,
            certificates::dcc_sha256,
            calibrations_table::superseded_by,
            certificates::audit_head,
        ))
        .filter(certificates::number.eq(number))
        .first(conn)
        .optional()?;
    Ok(row.map(item))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Pdf,
    Dcc,
}

pub fn document(
    conn: &mut DbConnection,
    number: &str,
    which: Document,
) -> Result<Vec<u8>, ApiError> {
    let query = certificates::table.filter(certificates::number.eq(number));
    let bytes: Option<Vec<u8>> = match which {
        Document::Pdf => query.select(certificates::pdf).first(conn).optional()?,
        Document::Dcc => query.select(certificates::dcc).first(conn).optional()?,
    };
    bytes.ok_or_else(|| ApiError::NotFound(format!("no certificate numbered {number}")))
}

/// The item a certificate describes, for public verification: its identity only.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VerifiedItem {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
}

/// The public verification answer (DESIGN section 8), exactly these fields.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub number: String,
    pub genuine: bool,
    pub status: Option<String>,
    pub superseded_by: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub issued_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub calibrated_on: Option<NaiveDate>,
    pub item: Option<VerifiedItem>,
}

type VerifyRow = (
    String,
    String,
    String,
    Option<String>,
    NaiveDate,
    NaiveDate,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub fn verify(
    conn: &mut DbConnection,
    number: &str,
    sha256: Option<&str>,
) -> Result<Verification, ApiError> {
    let row: Option<VerifyRow> = certificates::table
        .inner_join(calibrations_table::table)
        .inner_join(instruments::table.on(instruments::id.eq(certificates::instrument_id)))
        .select((
            certificates::pdf_sha256,
            certificates::dcc_sha256,
            calibrations_table::status,
            calibrations_table::superseded_by,
            certificates::issued_on,
            calibrations_table::performed_on,
            instruments::manufacturer,
            instruments::model,
            instruments::serial_number,
        ))
        .filter(certificates::number.eq(number))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => Verification {
            number: number.to_string(),
            genuine: false,
            status: None,
            superseded_by: None,
            issued_on: None,
            calibrated_on: None,
            item: None,
        },
        Some((
            pdf_sha256,
            dcc_sha256,
            status,
            superseded_by,
            issued_on,
            calibrated_on,
            manufacturer,
            model,
            serial_number,
        )) => {
            let genuine = match sha256.map(|h| h.trim().to_ascii_lowercase()) {
                None => true,
                Some(hash) => hash == pdf_sha256 || hash == dcc_sha256,
            };
            Verification {
                number: number.to_string(),
                genuine,
                status: Some(status),
                superseded_by,
                issued_on: Some(issued_on),
                calibrated_on: Some(calibrated_on),
                item: Some(VerifiedItem {
                    manufacturer,
                    model,
                    serial_number,
                }),
            }
        }
    })
}
