//! The issuer's certificate files of external calibrations (DESIGN 9c), byte for byte with
//! their SHA-256; and which of them a set of calibrations rests on, for the period export.

use std::collections::HashSet;

use diesel::prelude::*;
use serde::Serialize;

use super::audit::append;
use super::schema::{calibration_standards, calibrations, issuer_certificates};
use super::validity::{latest_id_of, newest, on_record_status};
use super::{now_timestamp, DbConnection, DbError, DbResult};
use crate::domain::audit::sha256_hex;
use crate::domain::issuer_file::IssuerFileFormat;
use crate::domain::people::Actor;

/// What is kept of a file, without its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IssuerFile {
    pub calibration_id: i64,
    /// `application/pdf` or `application/xml` (a DCC).
    pub content_type: String,
    /// SHA-256 of the bytes as received, hex.
    pub sha256: String,
    pub bytes: i64,
    pub uploaded_at: String,
}

impl IssuerFile {
    pub fn format(&self) -> DbResult<IssuerFileFormat> {
        IssuerFileFormat::from_content_type(&self.content_type).ok_or_else(|| {
            DbError::corrupt(format!(
                "issuer certificate of calibration {}: content type '{}'",
                self.calibration_id, self.content_type
            ))
        })
    }
}

type InfoColumns = (
    issuer_certificates::calibration_id,
    issuer_certificates::content_type,
    issuer_certificates::sha256,
    issuer_certificates::bytes,
    issuer_certificates::uploaded_at,
);
const INFO: InfoColumns = (
    issuer_certificates::calibration_id,
    issuer_certificates::content_type,
    issuer_certificates::sha256,
    issuer_certificates::bytes,
    issuer_certificates::uploaded_at,
);

fn info(
    (calibration_id, content_type, sha256, bytes, uploaded_at): (i64, String, String, i64, String),
) -> IssuerFile {
    IssuerFile {
        calibration_id,
        content_type,
        sha256,
        bytes,
        uploaded_at,
    }
}

/// The file of a calibration, without its bytes.
pub fn find(conn: &mut DbConnection, calibration_id: i64) -> DbResult<Option<IssuerFile>> {
    Ok(issuer_certificates::table
        .select(INFO)
        .filter(issuer_certificates::calibration_id.eq(calibration_id))
        .first(conn)
        .optional()?
        .map(info))
}

/// The files of these calibrations, without their bytes.
pub fn find_many(conn: &mut DbConnection, calibration_ids: &[i64]) -> DbResult<Vec<IssuerFile>> {
    let mut found = Vec::new();
    for chunk in calibration_ids.chunks(10_000) {
        let rows: Vec<(i64, String, String, i64, String)> = issuer_certificates::table
            .select(INFO)
            .filter(issuer_certificates::calibration_id.eq_any(chunk))
            .order(issuer_certificates::calibration_id.asc())
            .load(conn)?;
        found.extend(rows.into_iter().map(info));
    }
    Ok(found)
}

/// A file's bytes, checked against the SHA-256 stored with them: a mismatch is corrupt data,
/// never handed out as the issuer's certificate.
pub fn bytes_of(conn: &mut DbConnection, file: &IssuerFile) -> DbResult<Vec<u8>> {
    let bytes: Vec<u8> = issuer_certificates::table
        .select(issuer_certificates::file)
        .filter(issuer_certificates::calibration_id.eq(file.calibration_id))
        .first(conn)?;
    if sha256_hex(&bytes) != file.sha256 {
        return Err(DbError::corrupt(format!(
            "issuer certificate of calibration {}: its bytes no longer match their SHA-256",
            file.calibration_id
        )));
    }
    Ok(bytes)
}

/// Keeps `bytes` as the issuer's certificate of a calibration, replacing an earlier file, in
/// the caller's transaction; audited on the calibration (its history shows both hashes).
pub fn store(
    conn: &mut DbConnection,
    actor: &Actor,
    calibration_id: i64,
    format: IssuerFileFormat,
    bytes: &[u8],
) -> DbResult<IssuerFile> {
    let before = find(conn, calibration_id)?;
    diesel::delete(
        issuer_certificates::table.filter(issuer_certificates::calibration_id.eq(calibration_id)),
    )
    .execute(conn)?;
    diesel::insert_into(issuer_certificates::table)
        .values((
            issuer_certificates::calibration_id.eq(calibration_id),
            issuer_certificates::content_type.eq(format.content_type()),
            issuer_certificates::file.eq(bytes),
            issuer_certificates::sha256.eq(sha256_hex(bytes)),
            issuer_certificates::bytes.eq(bytes.len() as i64),
            issuer_certificates::uploaded_by.eq(actor.user_id),
            issuer_certificates::uploaded_at.eq(now_timestamp()),
        ))
        .execute(conn)?;
    let after = find(conn, calibration_id)?
        .ok_or_else(|| DbError::corrupt("issuer certificate just stored is missing"))?;
    let as_json = |file: &IssuerFile| serde_json::json!({"issuer_certificate": file});
    append(
        conn,
        actor,
        "attach_issuer_certificate",
        "calibration",
        &calibration_id.to_string(),
        before.as_ref().map(as_json).as_ref(),
        Some(&as_json(&after)),
    )?;
    Ok(after)
}

/// The calibrations the given ones rest on, all the way down: for each, the latest calibration
/// on record (on or before its date) of each standard it used, then theirs, level by level —
/// one query per level, whatever the number of calibrations. `seen` is what an earlier call
/// already reached (it grows): a chain shared by many certificates is walked once.
pub fn resting_on(
    conn: &mut DbConnection,
    calibration_ids: &[i64],
    seen: &mut HashSet<i64>,
) -> DbResult<Vec<i64>> {
    let mut reached = Vec::new();
    let mut level: Vec<i64> = calibration_ids.to_vec();
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(10_000) {
            let found: Vec<Option<i64>> = calibration_standards::table
                .inner_join(calibrations::table)
                .select(latest_id_of!(
                    calibration_standards::standard_id,
                    calibrations::performed_on
                ))
                .filter(calibration_standards::calibration_id.eq_any(chunk))
                .load(conn)?;
            next.extend(found.into_iter().flatten().filter(|id| seen.insert(*id)));
        }
        reached.extend(&next);
        level = next;
    }
    Ok(reached)
}
