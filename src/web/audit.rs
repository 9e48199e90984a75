//! The audit page (DESIGN 9c): an assessor follows a record's history from draft to issue or
//! withdrawal, or what one person did, with names rather than ids, and the chain's head to
//! recompute it (docs/audit.md).

use rocket::{get, routes, Route, State};
use rocket_dyn_templates::Template;
use serde_json::{json, Value};

use super::pages::{pager, PER_PAGE};
use super::{layout, PageError, Session};
use crate::auth::roles;
use crate::db::Database;
use crate::domain::audit::{AuditEntity, AuditEntry};
use crate::http::query::AuditQuery;
use crate::workflow;

#[get("/audit?<query..>")]
async fn audit(
    session: Result<Session, PageError>,
    query: AuditQuery<'_>,
    database: &State<Database>,
) -> Result<Template, PageError> {
    let session = session?;
    session.require(roles::AUDIT_READERS)?;
    let query = AuditQuery {
        per_page: None,
        ..query
    };
    let shown = json!({
        "entity": query.entity.map(str::trim), "entity_id": query.entity_id.map(str::trim),
        "actor": query.actor.map(str::trim), "from": query.from, "to": query.to,
    });
    let (mut filter, entity) = query.filter()?;
    filter.per_page = PER_PAGE;
    let page = filter.page;
    let found = database
        .run(move |conn| workflow::audit::list(conn, filter, entity))
        .await?;
    let rows: Vec<Value> = found.entries.iter().map(row).collect();
    let entities: Vec<&str> = AuditEntity::ALL.iter().map(|e| e.as_str()).collect();
    Ok(Template::render(
        "audit",
        layout(
            Some(&session),
            "Audit log",
            "audit",
            json!({
                "rows": rows, "filter": shown, "entities": entities, "head": found.head,
                "pager": pager(page, found.total),
            }),
        ),
    ))
}

/// One entry as the page shows it: who by name, the record linked, what changed in brief.
fn row(entry: &AuditEntry) -> Value {
    // The pages that show a record of that kind, by its id.
    let link = match entry.entity.as_str() {
        "instrument" => Some("instruments"),
        "calibration" => Some("calibrations"),
        _ => None,
    };
    json!({
        "entry": entry,
        "who": entry.user_full_name.clone().unwrap_or_else(|| entry.user_name.clone()),
        "link": link,
        "summary": summary(entry.after.as_deref()),
    })
}

/// The fields an assessor looks for first in the state after the change.
fn summary(after: Option<&str>) -> String {
    let Some(Value::Object(fields)) = after.and_then(|text| serde_json::from_str(text).ok()) else {
        return String::new();
    };
    [
        "status",
        "certificate_number",
        "reason",
        "meaning",
        "asset_tag",
        "cause",
    ]
    .iter()
    .filter_map(|key| {
        fields
            .get(*key)
            .filter(|value| !value.is_null())
            .map(|value| match value {
                Value::String(text) => format!("{key}: {text}"),
                other => format!("{key}: {other}"),
            })
    })
    .collect::<Vec<_>>()
    .join(" · ")
}

pub fn routes() -> Vec<Route> {
    routes![audit]
}
