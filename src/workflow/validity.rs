//! Validity of many instruments, each on its own date (DESIGN 9c): an agency checks
//! a factory's instruments at the dates each was used, and takes away rows that name
//! the instrument as its plate does (manufacturer, model, serial number) and the
//! certificate each verdict rests on. The bulk status route and validity statements
//! both answer through [`check`].

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::{self, DbConnection, DbResult};
use crate::domain::people::Scope;
use crate::domain::validity::Validity;

/// An instrument as the asker names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstrumentKey {
    Id(i64),
    /// Matched trimmed and regardless of case ([`db::validity::tag_key`]).
    Tag(String),
}

/// One row asked: this instrument on this date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusItem {
    pub instrument: InstrumentKey,
    pub at: NaiveDate,
}

/// One row answered, in the order asked. `asset_tag` echoes a tag as asked, else
/// the registered one; an instrument not in the register (or outside the asker's
/// scope) is `unknown_instrument` with no plate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemValidity {
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub at: NaiveDate,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    #[serde(flatten)]
    pub validity: Validity,
}

/// The rows' answers, in order: tags resolved in one pass, then one validity pass
/// per distinct date (chunked), then the plates of every instrument found.
pub fn check(
    conn: &mut DbConnection,
    items: &[StatusItem],
    scope: &Scope,
) -> DbResult<Vec<ItemValidity>> {
    let tags: Vec<String> = items
        .iter()
        .filter_map(|item| match &item.instrument {
            InstrumentKey::Tag(tag) => Some(tag.clone()),
            InstrumentKey::Id(_) => None,
        })
        .collect();
    let tag_ids = if tags.is_empty() {
        HashMap::new()
    } else {
        db::validity::ids_of_tags(conn, &tags, scope)?
    };
    let id_of = |key: &InstrumentKey| match key {
        InstrumentKey::Id(id) => Some(*id),
        InstrumentKey::Tag(tag) => tag_ids.get(&db::validity::tag_key(tag)).copied(),
    };
    let mut by_date: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
    for item in items {
        if let Some(id) = id_of(&item.instrument) {
            by_date.entry(item.at).or_default().push(id);
        }
    }
    let mut answers: HashMap<(i64, NaiveDate), Validity> = HashMap::new();
    for (at, ids) in &by_date {
        let found = db::validity::validity_of(conn, ids, *at, scope)?;
        answers.extend(found.into_iter().map(|(id, v)| ((id, *at), v)));
    }
    let mut found: Vec<i64> = answers.keys().map(|(id, _)| *id).collect();
    found.sort_unstable();
    found.dedup();
    let plates = db::validity::plates_of(conn, &found)?;
    let mut rows: Vec<ItemValidity> = items
        .iter()
        .map(|item| {
            let id = id_of(&item.instrument);
            let answer = id.and_then(|id| answers.get(&(id, item.at)).cloned());
            let plate = answer.as_ref().and(id).and_then(|id| plates.get(&id));
            let asset_tag = match &item.instrument {
                InstrumentKey::Tag(tag) => Some(tag.clone()),
                InstrumentKey::Id(_) => plate.map(|p| p.asset_tag.clone()),
            };
            ItemValidity {
                id,
                asset_tag,
                at: item.at,
                manufacturer: plate.and_then(|p| p.manufacturer.clone()),
                model: plate.and_then(|p| p.model.clone()),
                serial_number: plate.and_then(|p| p.serial_number.clone()),
                validity: answer.unwrap_or_else(Validity::unknown_instrument),
            }
        })
        .collect();
    explain_rows(conn, &mut rows)?;
    Ok(rows)
}

/// The withdrawal's or status change's date and reason on the rows whose verdict has one.
fn explain_rows(conn: &mut DbConnection, rows: &mut [ItemValidity]) -> DbResult<()> {
    let answers = rows
        .iter_mut()
        .filter_map(|row| Some((row.id?, row.at, &mut row.validity)))
        .collect();
    db::validity::explain_all(conn, answers)
}
