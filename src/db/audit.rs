//! Appending to and reading the hash-chained audit log.

use diesel::prelude::*;

use super::schema::{audit_log, users};
use super::{now_timestamp, per_backend, DbConnection, DbError, DbResult};
use crate::domain::audit::{
    entry_hash, AuditEntry, ChainBreak, ChainVerifier, VerifiedChain, GENESIS_HASH,
};

pub use crate::domain::people::Actor;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    seq: i64,
    occurred_at: String,
    user_id: Option<i64>,
    user_name: String,
    action: String,
    entity: String,
    entity_id: String,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> AuditEntry {
        AuditEntry {
            seq: row.seq,
            occurred_at: row.occurred_at,
            user_id: row.user_id,
            user_name: row.user_name,
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            before: row.before,
            after: row.after,
            prev_hash: row.prev_hash,
            hash: row.hash,
            user_full_name: None,
        }
    }
}

/// Appends one entry; must run inside the write transaction of the change it
/// records, so the change and its audit row commit or vanish together.
pub fn append(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
) -> DbResult<AuditEntry> {
    let change = Change {
        entity_id: entity_id.to_string(),
        before: before.map(|value| value.to_string()),
        after: after.map(|value| value.to_string()),
    };
    let mut entries = append_many(conn, actor, action, entity, vec![change])?;
    entries
        .pop()
        .ok_or_else(|| DbError::Internal("no audit entry written".to_string()))
}

/// One record's change for [`append_many`]: the states as JSON text.
pub struct Change {
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Appends one entry per change, chained in order, reading the head once and
/// inserting in multi-row statements: a batch of a thousand calibrations
/// writes a thousand entries without a thousand round trips.
pub fn append_many(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    entity: &str,
    changes: Vec<Change>,
) -> DbResult<Vec<AuditEntry>> {
    if let DbConnection::Postgresql(pg) = conn {
        // Serialise appenders: two transactions must not both extend the same head.
        // (SQLite needs nothing: its write transactions already hold the lock.)
        diesel::sql_query("SELECT pg_advisory_xact_lock(727274)").execute(pg)?;
    }
    let last: Option<(i64, String)> = audit_log::table
        .select((audit_log::seq, audit_log::hash))
        .order(audit_log::seq.desc())
        .first(conn)
        .optional()?;
    let (mut seq, mut prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_string()));
    let occurred_at = now_timestamp();
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes {
        seq += 1;
        let mut entry = AuditEntry {
            seq,
            occurred_at: occurred_at.clone(),
            user_id: actor.user_id,
            user_name: actor.name.clone(),
            action: action.to_string(),
            entity: entity.to_string(),
            entity_id: change.entity_id,
            before: change.before,
            after: change.after,
            prev_hash,
            hash: String::new(),
            user_full_name: None,
        };
        entry.hash = entry_hash(&entry);
        prev_hash = entry.hash.clone();
        entries.push(entry);
    }
    // 11 columns a row: 500 rows stay far below SQLite's 32 766 bound parameters.
    for chunk in entries.chunks(500) {
        let rows: Vec<AuditRow> = chunk.iter().map(AuditRow::from).collect();
        per_backend!(conn, c => diesel::insert_into(audit_log::table).values(&rows).execute(c))?;
    }
    Ok(entries)
}

impl From<&AuditEntry> for AuditRow {
    fn from(entry: &AuditEntry) -> AuditRow {
        AuditRow {
            seq: entry.seq,
            occurred_at: entry.occurred_at.clone(),
            user_id: entry.user_id,
            user_name: entry.user_name.clone(),
            action: entry.action.clone(),
            entity: entry.entity.clone(),
            entity_id: entry.entity_id.clone(),
            before: entry.before.clone(),
            after: entry.after.clone(),
            prev_hash: entry.prev_hash.clone(),
            hash: entry.hash.clone(),
        }
    }
}

/// The current head of the chain (the genesis hash for an empty log).
pub fn head(conn: &mut DbConnection) -> DbResult<String> {
    let head: Option<String> = audit_log::table
        .select(audit_log::hash)
        .order(audit_log::seq.desc())
        .first(conn)
        .optional()?;
    Ok(head.unwrap_or_else(|| GENESIS_HASH.to_string()))
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub entity: Option<String>,
    /// One record's history (with `entity`): a calibration from draft to issue.
    pub entity_id: Option<String>,
    /// Entries made under this user name.
    pub actor: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

pub fn list(conn: &mut DbConnection, filter: &AuditFilter) -> DbResult<(Vec<AuditEntry>, i64)> {
    let build = || {
        let mut query = audit_log::table.into_boxed();
        if let Some(from) = &filter.from {
            query = query.filter(audit_log::occurred_at.ge(from.clone()));
        }
        if let Some(to) = &filter.to {
            query = query.filter(audit_log::occurred_at.lt(to.clone()));
        }
        if let Some(entity) = &filter.entity {
            query = query.filter(audit_log::entity.eq(entity.clone()));
        }
        if let Some(entity_id) = &filter.entity_id {
            query = query.filter(audit_log::entity_id.eq(entity_id.clone()));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_log::user_name.eq(actor.clone()));
        }
        query
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<(AuditRow, Option<String>)> = build()
        .left_join(users::table.on(audit_log::user_id.eq(users::id.nullable())))
        .select((AuditRow::as_select(), users::full_name.nullable()))
        .order(audit_log::seq.asc())
        .limit(filter.per_page)
        .offset((filter.page - 1) * filter.per_page)
        .load(conn)?;
    let entries = rows
        .into_iter()
        .map(|(row, full_name)| AuditEntry {
            user_full_name: full_name,
            ..AuditEntry::from(row)
        })
        .collect();
    Ok((entries, total))
}

/// The entries about these records of one entity, in log order (indexed by entity and id).
pub fn entries_about(
    conn: &mut DbConnection,
    entity: &str,
    entity_ids: &[String],
) -> DbResult<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = audit_log::table
        .select(AuditRow::as_select())
        .filter(audit_log::entity.eq(entity))
        .filter(audit_log::entity_id.eq_any(entity_ids))
        .order(audit_log::seq.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

/// Whether the log has entries about this record: every record caltrace keeps was audited
/// when it was made, so a record without any is one the log does not know.
pub fn has_entries_for(conn: &mut DbConnection, entity: &str, entity_id: &str) -> DbResult<bool> {
    let found: Option<i64> = audit_log::table
        .select(audit_log::seq)
        .filter(audit_log::entity.eq(entity))
        .filter(audit_log::entity_id.eq(entity_id))
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Whether `name` is a user, or acted under that name (the command line, a failed login).
pub fn knows_actor(conn: &mut DbConnection, name: &str) -> DbResult<bool> {
    let user: Option<i64> = users::table
        .select(users::id)
        .filter(users::name.eq(name))
        .first(conn)
        .optional()?;
    if user.is_some() {
        return Ok(true);
    }
    let acted: Option<i64> = audit_log::table
        .select(audit_log::seq)
        .filter(audit_log::user_name.eq(name))
        .first(conn)
        .optional()?;
    Ok(acted.is_some())
}

/// Walks the whole log in `seq` order, in pages so memory stays flat.
pub fn verify(
    conn: &mut DbConnection,
    head: Option<String>,
) -> DbResult<Result<VerifiedChain, ChainBreak>> {
    const PAGE: i64 = 5_000;
    let mut verifier = ChainVerifier::new(head);
    let mut after = 0i64;
    loop {
        let rows: Vec<AuditRow> = audit_log::table
            .select(AuditRow::as_select())
            .filter(audit_log::seq.gt(after))
            .order(audit_log::seq.asc())
            .limit(PAGE)
            .load(conn)?;
        let count = rows.len();
        for row in rows {
            after = row.seq;
            if let Err(broken) = verifier.check(&row.into()) {
                return Ok(Err(broken));
            }
        }
        if (count as i64) < PAGE {
            return Ok(verifier.finish());
        }
    }
}
