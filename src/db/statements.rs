//! Stored validity statements (DESIGN 9c): numbered per year, kept with the rows asked and
//! answered and the PDF as issued, byte for byte.

use diesel::prelude::*;
use serde::Serialize;

use super::schema::{validity_statement_counters, validity_statements};
use super::{DbConnection, DbError, DbResult};
use crate::domain::audit::sha256_hex;
use crate::domain::statement::{self, StatementRow};

/// The next statement number of a year, consecutive: the counter row is bumped inside the
/// transaction that stores the statement, so a statement that fails gives its number back,
/// and concurrent requests queue (PostgreSQL: table lock; SQLite: the write lock BEGIN
/// IMMEDIATE already holds).
pub fn next_number(conn: &mut DbConnection, year: i32) -> DbResult<String> {
    if let DbConnection::Postgresql(pg) = conn {
        // Also covers a year's first statement, when there is no counter row to lock yet.
        diesel::sql_query("LOCK TABLE validity_statement_counters IN SHARE ROW EXCLUSIVE MODE")
            .execute(pg)?;
    }
    let current: Option<i32> = validity_statement_counters::table
        .select(validity_statement_counters::last_number)
        .filter(validity_statement_counters::year.eq(year))
        .first(conn)
        .optional()?;
    let next = current.unwrap_or(0) + 1;
    if current.is_some() {
        diesel::update(validity_statement_counters::table.find(year))
            .set(validity_statement_counters::last_number.eq(next))
            .execute(conn)?;
    } else {
        diesel::insert_into(validity_statement_counters::table)
            .values((
                validity_statement_counters::year.eq(year),
                validity_statement_counters::last_number.eq(next),
            ))
            .execute(conn)?;
    }
    Ok(statement::number(year, next))
}

/// A statement as stored, without its PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStatement {
    pub number: String,
    pub requested_by: i64,
    pub requester_name: String,
    pub created_at: String,
    pub lab_name: String,
    pub rows: Vec<StatementRow>,
    pub pdf_sha256: String,
    pub signed: bool,
}

/// What is stored of a statement being issued.
pub struct NewStatement<'a> {
    pub number: &'a str,
    pub requested_by: i64,
    pub requester_name: &'a str,
    pub created_at: &'a str,
    pub lab_name: &'a str,
    /// The rows asked, JSON (instrument key and date each).
    pub request: serde_json::Value,
    pub rows: &'a [StatementRow],
    pub pdf: &'a [u8],
    pub signed: bool,
}

/// Stores a statement with its PDF; returns the PDF's SHA-256.
pub fn insert(conn: &mut DbConnection, new: &NewStatement) -> DbResult<String> {
    let results = serde_json::to_string(new.rows).map_err(|e| DbError::Internal(e.to_string()))?;
    let row_count = i32::try_from(new.rows.len())
        .map_err(|_| DbError::Internal("too many rows in one statement".to_string()))?;
    let sha256 = sha256_hex(new.pdf);
    diesel::insert_into(validity_statements::table)
        .values((
            validity_statements::number.eq(new.number),
            validity_statements::requested_by.eq(new.requested_by),
            validity_statements::requester_name.eq(new.requester_name),
            validity_statements::created_at.eq(new.created_at),
            validity_statements::lab_name.eq(new.lab_name),
            validity_statements::request.eq(new.request.to_string()),
            validity_statements::results.eq(results),
            validity_statements::row_count.eq(row_count),
            validity_statements::pdf.eq(new.pdf),
            validity_statements::pdf_sha256.eq(&sha256),
            validity_statements::signed.eq(new.signed),
        ))
        .execute(conn)?;
    Ok(sha256)
}

type StatementColumns = (String, i64, String, String, String, String, String, bool);

/// A statement by number, with its rows; not found as [`DbError::NotFound`].
pub fn get(conn: &mut DbConnection, number: &str) -> DbResult<StoredStatement> {
    let row: Option<StatementColumns> = validity_statements::table
        .select((
            validity_statements::number,
            validity_statements::requested_by,
            validity_statements::requester_name,
            validity_statements::created_at,
            validity_statements::lab_name,
            validity_statements::results,
            validity_statements::pdf_sha256,
            validity_statements::signed,
        ))
        .filter(validity_statements::number.eq(number))
        .first(conn)
        .optional()?;
    let (number, requested_by, requester_name, created_at, lab_name, results, pdf_sha256, signed) =
        row.ok_or_else(|| not_found(number))?;
    let rows: Vec<StatementRow> = serde_json::from_str(&results)
        .map_err(|_| DbError::corrupt(format!("statement {number}: stored results")))?;
    Ok(StoredStatement {
        number,
        requested_by,
        requester_name,
        created_at,
        lab_name,
        rows,
        pdf_sha256,
        signed,
    })
}

/// Who requested a statement (for the read check), without loading its rows.
pub fn requester(conn: &mut DbConnection, number: &str) -> DbResult<i64> {
    validity_statements::table
        .select(validity_statements::requested_by)
        .filter(validity_statements::number.eq(number))
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(number))
}

/// The PDF as issued.
pub fn pdf(conn: &mut DbConnection, number: &str) -> DbResult<Vec<u8>> {
    validity_statements::table
        .select(validity_statements::pdf)
        .filter(validity_statements::number.eq(number))
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found(number))
}

fn not_found(number: &str) -> DbError {
    DbError::not_found(format!("no validity statement numbered {number}"))
}

/// What the public verification says of a statement: its identity, not its rows.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementNote {
    /// "validity statement of 3 instruments requested by Dr Li Wei".
    pub description: String,
    pub instruments: i64,
    pub requested_by: String,
    /// The time of the query, UTC.
    pub created_at: String,
}

/// A statement's register facts for verification: (created on, PDF SHA-256, note); None for
/// an unknown number.
pub fn verification_facts(
    conn: &mut DbConnection,
    number: &str,
) -> DbResult<Option<(chrono::NaiveDate, String, StatementNote)>> {
    let row: Option<(String, String, i32, String)> = validity_statements::table
        .select((
            validity_statements::requester_name,
            validity_statements::created_at,
            validity_statements::row_count,
            validity_statements::pdf_sha256,
        ))
        .filter(validity_statements::number.eq(number))
        .first(conn)
        .optional()?;
    let Some((requested_by, created_at, rows, sha256)) = row else {
        return Ok(None);
    };
    let created_on = chrono::DateTime::parse_from_rfc3339(&created_at)
        .map_err(|_| DbError::corrupt(format!("statement {number}: created_at")))?
        .date_naive();
    let note = StatementNote {
        description: statement::StatementView::description(rows as usize, &requested_by),
        instruments: i64::from(rows),
        requested_by,
        created_at,
    };
    Ok(Some((created_on, sha256, note)))
}
