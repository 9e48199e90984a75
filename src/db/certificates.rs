//! Certificate documents: gathered, rendered once at issue (PDF and DCC) and
//! stored with their SHA-256; listing, download and public verification.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use super::calibrations::{self, Calibration};
use super::schema::{calibrations as calibrations_table, certificates, instruments};
use super::{now_timestamp, DbConnection, DbError, DbResult};
use crate::domain::audit::sha256_hex;
use crate::domain::certificate::CertificateView;
use crate::domain::people::Scope;
use crate::domain::states::CertificateStatus;

/// (calibration id, performed on, due on, kind, our number, issuer's number, issuer).
type RestsOnRow = (
    i64,
    NaiveDate,
    Option<NaiveDate>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    String,
);

/// The certificate a standard's link rests on: its latest calibration on
/// record on a date (DESIGN section 7).
pub struct RestsOn {
    pub performed_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub external: bool,
    pub our_number: Option<String>,
    pub issuer_number: Option<String>,
    pub issuer_name: Option<String>,
    /// SHA-256 of our certificate's PDF, for an internal one.
    pub pdf_sha256: Option<String>,
    /// The date on that certificate: ours, or the one the issuer wrote on its
    /// own (`issuer.issued_on`), never the day this laboratory accepted it.
    pub certificate_dated: Option<NaiveDate>,
}

/// The certificate `standard_id` rested on when it was used on `on`, if any.
pub fn rests_on(
    conn: &mut DbConnection,
    standard_id: i64,
    on: NaiveDate,
) -> DbResult<Option<RestsOn>> {
    let row: Option<RestsOnRow> = calibrations_table::table
        .select((
            calibrations_table::id,
            calibrations_table::performed_on,
            calibrations_table::due_on,
            calibrations_table::kind,
            calibrations_table::certificate_number,
            calibrations_table::issuer_certificate_number,
            calibrations_table::issuer_name,
            calibrations_table::issued_on,
            calibrations_table::body,
        ))
        .filter(calibrations_table::instrument_id.eq(standard_id))
        .filter(calibrations_table::status.eq_any(calibrations::ON_RECORD))
        .filter(calibrations_table::performed_on.le(on))
        .order((
            calibrations_table::performed_on.desc(),
            calibrations_table::id.desc(),
        ))
        .first(conn)
        .optional()?;
    let Some((
        _,
        performed_on,
        due_on,
        kind,
        our_number,
        issuer_number,
        issuer_name,
        issued_on,
        body,
    )) = row
    else {
        return Ok(None);
    };
    let external = kind == "external";
    let certificate_dated = match external {
        false => issued_on,
        true => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|body| body.pointer("/issuer/issued_on")?.as_str()?.parse().ok()),
    };
    let pdf_sha256 = match (&our_number, external) {
        (Some(number), false) => certificates::table
            .select(certificates::pdf_sha256)
            .find(number)
            .first(conn)
            .optional()?,
        _ => None,
    };
    Ok(Some(RestsOn {
        performed_on,
        due_on,
        external,
        our_number,
        issuer_number,
        issuer_name,
        pdf_sha256,
        certificate_dated,
    }))
}

/// Stores the documents of a certificate being issued, as rendered (inside the
/// approval's transaction: a certificate exists with its documents or not at all).
pub fn insert_documents(
    conn: &mut DbConnection,
    view: &CertificateView,
    calibration: &Calibration,
    pdf: Vec<u8>,
    dcc: String,
) -> DbResult<()> {
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
            certificates::item_manufacturer.eq(&view.item.manufacturer),
            certificates::item_model.eq(&view.item.model),
            certificates::item_serial_number.eq(&view.item.serial_number),
            // As printed on the PDF: a later rename of the customer does not reach it.
            certificates::customer_name.eq(&view.customer),
        ))
        .execute(conn)?;
    Ok(())
}

/// A certificate as listed (DESIGN section 8).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CertificateItem {
    pub number: String,
    pub status: CertificateStatus,
    #[schema(value_type = String, format = Date)]
    pub issued_on: NaiveDate,
    pub instrument_id: i64,
    /// SHA-256 of the PDF.
    pub sha256: String,
    pub dcc_sha256: String,
    pub superseded_by: Option<String>,
    pub audit_head: String,
    /// The customer's name as issued (printed on the certificate; a later rename
    /// of the customer record does not change it).
    pub customer: Option<String>,
}

type ItemRow = (
    String,
    CertificateStatus,
    NaiveDate,
    i64,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn item(
    (
        number,
        status,
        issued_on,
        instrument_id,
        sha256,
        dcc_sha256,
        superseded_by,
        audit_head,
        customer,
    ): ItemRow,
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
        customer,
    }
}

super::columns!(
    ITEM_COLUMNS: ItemColumns =
    certificates::number,
    calibrations_table::status,
    certificates::issued_on,
    certificates::instrument_id,
    certificates::pdf_sha256,
    certificates::dcc_sha256,
    calibrations_table::superseded_by,
    certificates::audit_head,
    certificates::customer_name,
);

#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    pub status: Option<CertificateStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub instrument_id: Option<i64>,
    pub customer: Option<String>,
    pub page: i64,
    pub per_page: i64,
    /// Keyset pagination: the page starts after this number, read from the number's
    /// index, where an offset would read every certificate before the page.
    pub after: Option<String>,
}

/// A page of certificates as `scope` sees them, and how many match (the
/// scope is a WHERE on the joined instrument's customer).
pub fn list(
    conn: &mut DbConnection,
    filter: &CertificateFilter,
    scope: &Scope,
) -> DbResult<(Vec<CertificateItem>, i64)> {
    // The instrument is asked about only through its id (scope, customer), never joined: a
    // join PostgreSQL plans for every certificate (issue 20: at 5 000 000 its Memoize node's
    // hash table, sized for them all, took 50 ms to set up for a page of 50 rows).
    let build = || {
        let query = certificates::table
            .inner_join(calibrations_table::table)
            .into_boxed();
        let mut query = super::instruments::scoped_via!(query, certificates::instrument_id, scope);
        if let Some(status) = &filter.status {
            query = query.filter(calibrations_table::status.eq(*status));
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
            query = query.filter(
                certificates::instrument_id.eq_any(
                    instruments::table
                        .select(instruments::id)
                        .filter(instruments::customer.eq(customer.clone())),
                ),
            );
        }
        query
    };
    let total: i64 = match (scope, &filter.status, &filter.customer) {
        // Every certificate has its calibration and instrument (NOT NULL foreign keys), so
        // with nothing asked of them the joins cannot change the count: count certificates
        // alone, one index, instead of joining every certificate (issue 20: 8.5 s at 1 000 000).
        (Scope::Everything, None, None) => certificates_count(conn, filter)?,
        _ => build().count().get_result(conn)?,
    };
    let page = build()
        .select(ITEM_COLUMNS)
        .order(certificates::number.asc())
        .limit(filter.per_page);
    let page = match &filter.after {
        Some(after) => page.filter(certificates::number.gt(after.clone())),
        None => page.offset((filter.page - 1) * filter.per_page),
    };
    let rows: Vec<ItemRow> = page.load(conn)?;
    Ok((rows.into_iter().map(item).collect(), total))
}

/// How many certificates match the filter's dates and instrument: of one instrument, its
/// few by index; otherwise the per-day counts the trigger keeps (migration 000053), a sum
/// over the days asked for instead of a count of every certificate.
fn certificates_count(conn: &mut DbConnection, filter: &CertificateFilter) -> DbResult<i64> {
    use crate::db::schema::certificate_counts as counts;
    if let Some(id) = filter.instrument_id {
        let mut query = certificates::table
            .count()
            .filter(certificates::instrument_id.eq(id))
            .into_boxed();
        if let Some(from) = filter.from {
            query = query.filter(certificates::issued_on.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(certificates::issued_on.le(to));
        }
        return Ok(query.get_result(conn)?);
    }
    let mut query = counts::table
        .select(crate::db::sum_of_counts("certificates"))
        .into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(counts::issued_on.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(counts::issued_on.le(to));
    }
    Ok(query.get_result(conn)?)
}

/// One certificate as `scope` sees it (None: no such number, or another customer's).
pub fn get(
    conn: &mut DbConnection,
    number: &str,
    scope: &Scope,
) -> DbResult<Option<CertificateItem>> {
    let query = certificates::table
        .inner_join(calibrations_table::table)
        .select(ITEM_COLUMNS)
        .filter(certificates::number.eq(number))
        .into_boxed();
    let row: Option<ItemRow> =
        super::instruments::scoped_via!(query, certificates::instrument_id, scope)
            .first(conn)
            .optional()?;
    Ok(row.map(item))
}

/// 404 unless `scope` sees certificate `number`, worded as for a number never issued.
pub fn require_visible(conn: &mut DbConnection, number: &str, scope: &Scope) -> DbResult<()> {
    if scope.customer_ids().is_none() {
        return Ok(());
    }
    let query = certificates::table
        .select(certificates::number)
        .filter(certificates::number.eq(number))
        .into_boxed();
    let found: Option<String> =
        super::instruments::scoped_via!(query, certificates::instrument_id, scope)
            .first(conn)
            .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| DbError::not_found(format!("no certificate numbered {number}")))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Pdf,
    Dcc,
}

diesel::define_sql_function! {
    /// Bytes in a BLOB (SQLite) or bytea (PostgreSQL): both spell it `length`.
    #[sql_name = "length"]
    fn byte_length(bytes: diesel::sql_types::Binary) -> diesel::sql_types::Integer;
}

diesel::define_sql_function! {
    /// `count` bytes from the 1-based `start`: `substr` on a BLOB and on a bytea alike.
    #[sql_name = "substr"]
    fn byte_slice(
        bytes: diesel::sql_types::Binary,
        start: diesel::sql_types::Integer,
        count: diesel::sql_types::Integer,
    ) -> diesel::sql_types::Binary;
}

/// Up to `count` bytes of a stored document from byte `offset`, with the document's whole
/// length: a download reads an issued document a part at a time, so that serving it never
/// holds more than one part in memory however large it is.
pub fn document_part(
    conn: &mut DbConnection,
    number: &str,
    which: Document,
    offset: usize,
    count: usize,
) -> DbResult<(usize, Vec<u8>)> {
    let too_large = || DbError::corrupt(format!("certificate {number}'s document"));
    let start = i32::try_from(offset + 1).map_err(|_| too_large())?;
    let count = i32::try_from(count).map_err(|_| too_large())?;
    let query = certificates::table.filter(certificates::number.eq(number));
    let part: Option<(i32, Vec<u8>)> = match which {
        Document::Pdf => query
            .select((
                byte_length(certificates::pdf),
                byte_slice(certificates::pdf, start, count),
            ))
            .first(conn)
            .optional()?,
        Document::Dcc => query
            .select((
                byte_length(certificates::dcc),
                byte_slice(certificates::dcc, start, count),
            ))
            .first(conn)
            .optional()?,
    };
    let (length, bytes) =
        part.ok_or_else(|| DbError::not_found(format!("no certificate numbered {number}")))?;
    Ok((usize::try_from(length).map_err(|_| too_large())?, bytes))
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
    /// true: the hash given is the issued document's; false: it is not, or no
    /// such certificate; null: no hash given, so only the register is known.
    pub genuine: Option<bool>,
    pub status: Option<CertificateStatus>,
    pub superseded_by: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub issued_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub calibrated_on: Option<NaiveDate>,
    pub item: Option<VerifiedItem>,
    /// Only for a validity statement's number (DESIGN 9c): what it is. A certificate's answer
    /// keeps exactly the fields above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<super::statements::StatementNote>,
}

type VerifyRow = (
    String,
    String,
    CertificateStatus,
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
) -> DbResult<Verification> {
    // The item as certified, frozen at issue, not the register's current data.
    let row: Option<VerifyRow> = certificates::table
        .inner_join(calibrations_table::table)
        .select((
            certificates::pdf_sha256,
            certificates::dcc_sha256,
            calibrations_table::status,
            calibrations_table::superseded_by,
            certificates::issued_on,
            calibrations_table::performed_on,
            certificates::item_manufacturer,
            certificates::item_model,
            certificates::item_serial_number,
        ))
        .filter(certificates::number.eq(number))
        .first(conn)
        .optional()?;
    Ok(match row {
        None => match super::statements::verification_facts(conn, number)? {
            Some((created_on, pdf_sha256, note)) => Verification {
                number: number.to_string(),
                genuine: matches_hash(sha256, &[&pdf_sha256]),
                // A statement is issued once and never withdrawn: it says what the register
                // answered at the time of the query.
                status: Some(CertificateStatus::Issued),
                superseded_by: None,
                issued_on: Some(created_on),
                calibrated_on: None,
                item: None,
                statement: Some(note),
            },
            None => Verification {
                number: number.to_string(),
                genuine: Some(false),
                status: None,
                superseded_by: None,
                issued_on: None,
                calibrated_on: None,
                item: None,
                statement: None,
            },
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
            let genuine = matches_hash(sha256, &[&pdf_sha256, &dcc_sha256]);
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
                statement: None,
            }
        }
    })
}

/// Without a hash the register can say the number was issued, not that the paper in hand is
/// genuine (None); with one, whether it is one of the issued documents'.
fn matches_hash(sha256: Option<&str>, issued: &[&str]) -> Option<bool> {
    sha256
        .map(|h| h.trim().to_ascii_lowercase())
        .map(|hash| issued.iter().any(|issued| hash == *issued))
}

/// What the public verification page says beside the answer (DESIGN section 8: "withdrawn on
/// … because …", the recommended recalibration date) and whether the traceability of the
/// calibration has since been found broken. Not part of the JSON answer, whose fields the
/// contract fixes.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterNotes {
    /// When the status last changed (a withdrawal: issued certificates change no other way).
    pub withdrawn_at: Option<String>,
    pub withdrawal_reason: Option<String>,
    pub recalibration_due: Option<NaiveDate>,
    pub chain_broken: bool,
}

type NotesRow = (
    CertificateStatus,
    Option<String>,
    String,
    Option<NaiveDate>,
    bool,
);

pub fn register_notes(conn: &mut DbConnection, number: &str) -> DbResult<Option<RegisterNotes>> {
    let row: Option<NotesRow> = calibrations_table::table
        .select((
            calibrations_table::status,
            calibrations_table::status_reason,
            calibrations_table::updated_at,
            calibrations_table::due_on,
            calibrations_table::chain_broken,
        ))
        .filter(calibrations_table::certificate_number.eq(number))
        .first(conn)
        .optional()?;
    Ok(
        row.map(|(status, reason, updated_at, due_on, chain_broken)| {
            let withdrawn = status == CertificateStatus::Withdrawn;
            RegisterNotes {
                // Minutes are enough for a reader; the audit log keeps the exact time.
                withdrawn_at: withdrawn.then(|| {
                    format!(
                        "{} UTC",
                        updated_at
                            .replace('T', " ")
                            .get(..16)
                            .unwrap_or(&updated_at)
                    )
                }),
                withdrawal_reason: reason.filter(|_| withdrawn),
                recalibration_due: due_on,
                chain_broken,
            }
        }),
    )
}
