//! Operations that span several repositories (DESIGN section 3): a handler or a
//! page parses its input, calls one function here (or one repository
//! function), and answers. Rendering and signing are called from here, never
//! from `db/`.

pub mod audit;
pub mod calibrations;
pub mod certificates;
pub mod competence;
pub mod export;
pub mod impact;
pub mod instruments;
pub mod signing;
pub mod statements;
pub mod users;
pub mod validity;

use serde_json::json;

use crate::db::audit::{append_many, Actor, Change};
use crate::db::traceability::ChainChange;
use crate::db::{DbConnection, DbResult};

/// Audits the chain states an operation changed downstream (issue 21: derived changes left no
/// trace): one `chain_broken` or `chain_mended` entry per calibration, in the name of whoever
/// caused it, saying what caused it and, when broken, at which link.
pub fn audit_chain_changes(
    conn: &mut DbConnection,
    actor: &Actor,
    cause: &str,
    changes: &[ChainChange],
) -> DbResult<()> {
    for (action, broken) in [("chain_broken", true), ("chain_mended", false)] {
        let entries: Vec<Change> = changes
            .iter()
            .filter(|c| c.broken_link.is_some() == broken)
            .map(|c| Change {
                entity_id: c.calibration_id.to_string(),
                before: Some(json!({"chain_broken": !broken}).to_string()),
                after: Some(
                    json!({"chain_broken": broken, "broken_link": c.broken_link, "cause": cause})
                        .to_string(),
                ),
            })
            .collect();
        if !entries.is_empty() {
            append_many(conn, actor, action, "calibration", entries)?;
        }
    }
    Ok(())
}
