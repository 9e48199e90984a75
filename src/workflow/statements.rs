//! Issuing a validity statement (DESIGN 9c): the bulk answer for the requester's scope, each
//! row with its chain summary, then — in one write transaction — the number, the PDF, the
//! laboratory's signature when one is installed (DESIGN 8b), the stored record and its audit
//! entry: a statement exists with its PDF or not at all, and no number is lost.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use serde_json::json;

use crate::db::statements::{NewStatement, StoredStatement};
use crate::db::{self, DbConnection};
use crate::domain::audit::AuditEntity;
use crate::domain::people::{AuthUser, UserRole};
use crate::domain::statement::{self, ChainSummary, StatementRow, StatementView};
use crate::domain::traceability::{trace, InstrumentFacts};
use crate::domain::validity::ValidityReason;
use crate::error::ApiError;
use crate::workflow::certificates::{identity_in_force, IssueContext};
use crate::workflow::validity::{InstrumentKey, ItemValidity, StatusItem};

/// Answers the rows for the requester, renders, signs and stores the statement.
pub fn issue(
    conn: &mut DbConnection,
    requester: &AuthUser,
    items: &[StatusItem],
    context: &IssueContext,
) -> Result<StoredStatement, ApiError> {
    let created_at = Utc::now();
    let rows = answer(conn, items, requester)?;
    let requested_by = requester_name(conn, requester)?;
    db::write_transaction(conn, |conn| {
        store(
            conn,
            requester,
            items,
            rows,
            &requested_by,
            created_at,
            context,
        )
    })
}

/// The bulk answer's rows (scoped exactly as `POST /api/v1/instruments/status`), each with the
/// instrument's chain on the date asked; the chains of all rows come from one graph.
pub fn answer(
    conn: &mut DbConnection,
    items: &[StatusItem],
    requester: &AuthUser,
) -> Result<Vec<StatementRow>, ApiError> {
    let answered = crate::workflow::validity::check(conn, items, &requester.scope)?;
    // Only rows the requester may see: an unknown (or out-of-scope) instrument has no chain.
    let mut pairs: Vec<(i64, chrono::NaiveDate)> = answered
        .iter()
        .filter(|row| row.validity.reason != ValidityReason::UnknownInstrument)
        .filter_map(|row| Some((row.id?, row.at)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let graph = db::traceability::graph_for_many(conn, &pairs)?;
    Ok(answered
        .into_iter()
        .map(|row| with_chain(row, &graph))
        .collect())
}

fn with_chain(row: ItemValidity, graph: &HashMap<i64, InstrumentFacts>) -> StatementRow {
    let known = row.validity.reason != ValidityReason::UnknownInstrument;
    let chain = row
        .id
        .filter(|_| known)
        .and_then(|id| trace(graph, id, row.at))
        .map(|report| ChainSummary::of(&report));
    StatementRow {
        id: row.id,
        asset_tag: row.asset_tag,
        at: row.at,
        manufacturer: row.manufacturer,
        model: row.model,
        serial_number: row.serial_number,
        validity: row.validity,
        chain,
    }
}

/// The requester as printed: the full name the register has, else the login name.
fn requester_name(conn: &mut DbConnection, requester: &AuthUser) -> Result<String, ApiError> {
    let profile = db::users::profile(conn, requester.id)?;
    Ok(profile
        .full_name
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| requester.name.clone()))
}

/// Numbers, renders, signs and stores, inside the caller's write transaction.
fn store(
    conn: &mut DbConnection,
    requester: &AuthUser,
    items: &[StatusItem],
    rows: Vec<StatementRow>,
    requested_by: &str,
    created_at: DateTime<Utc>,
    context: &IssueContext,
) -> Result<StoredStatement, ApiError> {
    let number = db::statements::next_number(conn, created_at.year())?;
    let signer = identity_in_force(conn)?;
    let view = StatementView {
        verification_url: context.verification_url(&number),
        number,
        created_at,
        requested_by: requested_by.to_string(),
        laboratory: context.laboratory.clone(),
        rows,
        digitally_signed: signer.is_some(),
    };
    let pdf = crate::pdf::render_statement(&view)
        .map_err(|e| ApiError::Internal(format!("PDF rendering failed: {e}")))?;
    let pdf = match &signer {
        Some((identity, now)) => {
            let reason = statement::signature_reason(&view.number, requested_by);
            crate::signing::pades::sign(&pdf, identity, &reason, *now)
                .map_err(|e| ApiError::Internal(format!("PDF signing failed: {e}")))?
        }
        None => pdf,
    };
    let created_at = created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sha256 = db::statements::insert(
        conn,
        &NewStatement {
            number: &view.number,
            requested_by: requester.id,
            requester_name: requested_by,
            created_at: &created_at,
            lab_name: &view.laboratory.name,
            request: request_json(items),
            rows: &view.rows,
            pdf: &pdf,
            signed: view.digitally_signed,
        },
    )?;
    db::audit::append(
        conn,
        &requester.actor(),
        "issue",
        AuditEntity::ValidityStatement.as_str(),
        &view.number,
        None,
        Some(&json!({
            "number": view.number, "requested_by": requested_by, "created_at": created_at,
            "instruments": view.rows.len(), "pdf_sha256": sha256, "signed": view.digitally_signed,
        })),
    )?;
    Ok(StoredStatement {
        number: view.number,
        requested_by: requester.id,
        requester_name: requested_by.to_string(),
        created_at,
        lab_name: view.laboratory.name,
        rows: view.rows,
        pdf_sha256: sha256,
        signed: view.digitally_signed,
    })
}

/// The rows asked, as asked: the record of the question beside the answer.
fn request_json(items: &[StatusItem]) -> serde_json::Value {
    items
        .iter()
        .map(|item| match &item.instrument {
            InstrumentKey::Id(id) => json!({"id": id, "at": item.at}),
            InstrumentKey::Tag(tag) => json!({"asset_tag": tag, "at": item.at}),
        })
        .collect()
}

/// Who may read a statement back (docs/validity-statements.md): the user who requested it,
/// and the laboratory's admins and auditors, who answer for every record it issues. Anyone
/// else is told nothing of it (404), as of another customer's record.
pub fn may_read(user: &AuthUser, requested_by: i64) -> bool {
    user.id == requested_by
        || user
            .roles
            .iter()
            .any(|role| matches!(role, UserRole::Admin | UserRole::Auditor))
}

/// A statement as its reader may see it; 404 for one they may not.
pub fn read(
    conn: &mut DbConnection,
    user: &AuthUser,
    number: &str,
) -> Result<StoredStatement, ApiError> {
    let stored = db::statements::get(conn, number)?;
    if !may_read(user, stored.requested_by) {
        return Err(not_found(number));
    }
    Ok(stored)
}

/// A statement's PDF as issued; 404 for one the reader may not see.
pub fn pdf(conn: &mut DbConnection, user: &AuthUser, number: &str) -> Result<Vec<u8>, ApiError> {
    if !may_read(user, db::statements::requester(conn, number)?) {
        return Err(not_found(number));
    }
    Ok(db::statements::pdf(conn, number)?)
}

fn not_found(number: &str) -> ApiError {
    ApiError::NotFound(format!("no validity statement numbered {number}"))
}
