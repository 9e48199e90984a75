//! Reading the audit log as an assessor asks for it (DESIGN 9c): a filter naming something
//! the log does not know is a 422 saying so, never an empty page that looks like "nothing
//! happened".

use crate::db::audit::AuditFilter;
use crate::db::{self, DbConnection, DbError};
use crate::domain::audit::{AuditEntity, AuditEntry};
use crate::error::ApiError;

/// A page of entries, the number that match, and the log's head hash.
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: i64,
    pub head: String,
}

pub fn list(
    conn: &mut DbConnection,
    mut filter: AuditFilter,
    entity: Option<AuditEntity>,
) -> Result<AuditPage, ApiError> {
    if let (Some(entity), Some(id)) = (entity, filter.entity_id.clone()) {
        filter.entity_id = Some(stored_record(conn, entity, &id)?);
    }
    if let Some(actor) = &filter.actor {
        if !db::audit::knows_actor(conn, actor)? {
            return Err(ApiError::field(
                "actor",
                format!("no user or actor named '{actor}' (names are user names, e.g. alice)"),
            ));
        }
    }
    let (entries, total) = db::audit::list(conn, &filter)?;
    let head = db::audit::head(conn)?;
    Ok(AuditPage {
        entries,
        total,
        head,
    })
}

/// The stored entity id of the record asked for: a certificate's number becomes the id of
/// the calibration it certifies; a record the log has no entry for is unknown.
fn stored_record(
    conn: &mut DbConnection,
    entity: AuditEntity,
    id: &str,
) -> Result<String, ApiError> {
    let stored = if entity == AuditEntity::Certificate {
        match db::calibrations::get_by_certificate(conn, id) {
            Ok(calibration) => calibration.id.to_string(),
            Err(DbError::NotFound { .. }) => {
                return Err(ApiError::field(
                    "entity_id",
                    format!("no certificate numbered '{id}'"),
                ))
            }
            Err(other) => return Err(other.into()),
        }
    } else {
        id.to_string()
    };
    if !db::audit::has_entries_for(conn, entity.stored().as_str(), &stored)? {
        return Err(ApiError::field(
            "entity_id",
            format!("the audit log has no {} {id}", entity.as_str()),
        ));
    }
    Ok(stored)
}
