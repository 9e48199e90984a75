//! The instrument register in the database.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::audit::{append, Actor};
use super::schema::{instrument_status_changes, instruments};
use super::{now_timestamp, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::instrument::{status_transition, Instrument, InstrumentRecord, MeasuringRange};
use crate::domain::people::Scope;
use crate::domain::quantity::{QuantityJson, QuantityKind};
use crate::domain::validity::InstrumentStatus;

use super::lower;

#[derive(Queryable, Selectable)]
#[diesel(table_name = instruments)]
struct InstrumentRow {
    id: i64,
    asset_tag: String,
    description: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    serial_number: Option<String>,
    role: String,
    quantity_kind: String,
    range_min_value: Option<f64>,
    range_min_unit: Option<String>,
    range_max_value: Option<f64>,
    range_max_unit: Option<String>,
    resolution_value: Option<f64>,
    resolution_unit: Option<String>,
    customer: Option<String>,
    location: Option<String>,
    interval_days: Option<i32>,
    institute: Option<String>,
    country: Option<String>,
    standard_identifier: Option<String>,
    status: String,
    created_at: String,
    updated_at: String,
}

/// Narrows a boxed query over `instruments` to what `$scope` sees: a WHERE on
/// the indexed `customer_id`, so other customers' rows are never loaded, counted
/// or told apart from rows that do not exist (ISO/IEC 17025 4.2).
///
/// One bind whatever the scope, so diesel keeps the statement prepared: one
/// customer (every customer user) is `customer_id = ?`; several (an inspector
/// scoped to some) read the user's bindings in the statement,
/// `customer_id IN (SELECT customer_id FROM user_customers WHERE user_id = ?)`.
/// A bound `IN (?, ?, …)` list is prepared again on every request: measured
/// 1.5–1.9x the unscoped list page for that alone.
macro_rules! scoped {
    ($query:expr, $scope:expr) => {
        match $scope {
            $crate::domain::people::Scope::Everything => $query,
            $crate::domain::people::Scope::Customers { customer_ids, .. }
                if customer_ids.len() == 1 =>
            {
                $query.filter($crate::db::schema::instruments::customer_id.eq(customer_ids[0]))
            }
            $crate::domain::people::Scope::Customers { user_id, .. } => $query.filter(
                $crate::db::schema::instruments::customer_id
                    .eq_any($crate::db::instruments::bound_customers(*user_id)),
            ),
        }
    };
}
pub(crate) use scoped;

/// The ids of the customers a user is bound to, as a subquery.
pub(crate) fn bound_customers(
    user_id: i64,
) -> diesel::dsl::Select<
    diesel::dsl::Filter<
        crate::db::schema::user_customers::table,
        diesel::dsl::Eq<crate::db::schema::user_customers::user_id, i64>,
    >,
    diesel::dsl::Nullable<crate::db::schema::user_customers::customer_id>,
> {
    use crate::db::schema::user_customers;
    user_customers::table
        .filter(user_customers::user_id.eq(user_id))
        .select(user_customers::customer_id.nullable())
}

/// The same for a boxed query over a table with an instrument id column
/// (calibrations, certificates): `instrument_id IN (SELECT id FROM instruments
/// WHERE …)` with the filter above, one indexed subquery in the statement itself.
macro_rules! scoped_via {
    ($query:expr, $instrument_id:expr, $scope:expr) => {
        match $scope {
            $crate::domain::people::Scope::Everything => $query,
            $crate::domain::people::Scope::Customers { customer_ids, .. }
                if customer_ids.len() == 1 =>
            {
                $query.filter(
                    $instrument_id.eq_any(
                        $crate::db::schema::instruments::table
                            .select($crate::db::schema::instruments::id)
                            .filter(
                                $crate::db::schema::instruments::customer_id.eq(customer_ids[0]),
                            ),
                    ),
                )
            }
            $crate::domain::people::Scope::Customers { user_id, .. } => $query.filter(
                $instrument_id.eq_any(
                    $crate::db::schema::instruments::table
                        .select($crate::db::schema::instruments::id)
                        .filter(
                            $crate::db::schema::instruments::customer_id
                                .eq_any($crate::db::instruments::bound_customers(*user_id)),
                        ),
                ),
            ),
        }
    };
}
pub(crate) use scoped_via;

fn quantity(value: Option<f64>, unit: Option<String>) -> Option<QuantityJson> {
    Some(QuantityJson {
        value: value?,
        unit: unit?,
    })
}

impl TryFrom<InstrumentRow> for Instrument {
    type Error = DbError;

    fn try_from(row: InstrumentRow) -> DbResult<Instrument> {
        let corrupt =
            |what: &str| DbError::corrupt(format!("instrument {}: stored {what}", row.id));
        let role = row.role.parse().map_err(|_| corrupt("role"))?;
        let quantity_kind =
            QuantityKind::from_name(&row.quantity_kind).ok_or_else(|| corrupt("quantity kind"))?;
        let status = row.status.parse().map_err(|_| corrupt("status"))?;
        let range = match (
            quantity(row.range_min_value, row.range_min_unit),
            quantity(row.range_max_value, row.range_max_unit),
        ) {
            (Some(min), Some(max)) => Some(MeasuringRange { min, max }),
            _ => None,
        };
        Ok(Instrument {
            id: row.id,
            asset_tag: row.asset_tag,
            description: row.description,
            manufacturer: row.manufacturer,
            model: row.model,
            serial_number: row.serial_number,
            role,
            quantity_kind,
            range,
            resolution: quantity(row.resolution_value, row.resolution_unit),
            customer: row.customer,
            location: row.location,
            interval_days: row.interval_days,
            institute: row.institute,
            country: row.country,
            standard_identifier: row.standard_identifier,
            status,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = instruments, treat_none_as_null = true)]
struct InstrumentChanges<'a> {
    asset_tag: &'a str,
    description: Option<&'a str>,
    manufacturer: Option<&'a str>,
    model: Option<&'a str>,
    serial_number: Option<&'a str>,
    role: &'a str,
    quantity_kind: &'a str,
    range_min_value: Option<f64>,
    range_min_unit: Option<&'a str>,
    range_max_value: Option<f64>,
    range_max_unit: Option<&'a str>,
    resolution_value: Option<f64>,
    resolution_unit: Option<&'a str>,
    customer: Option<&'a str>,
    location: Option<&'a str>,
    interval_days: Option<i32>,
    institute: Option<&'a str>,
    country: Option<&'a str>,
    standard_identifier: Option<&'a str>,
    updated_at: String,
}

impl<'a> From<&'a InstrumentRecord> for InstrumentChanges<'a> {
    fn from(record: &'a InstrumentRecord) -> InstrumentChanges<'a> {
        InstrumentChanges {
            asset_tag: &record.asset_tag,
            description: record.description.as_deref(),
            manufacturer: record.manufacturer.as_deref(),
            model: record.model.as_deref(),
            serial_number: record.serial_number.as_deref(),
            role: record.role.as_str(),
            quantity_kind: record.quantity_kind.name(),
            range_min_value: record.range.as_ref().map(|r| r.min.value),
            range_min_unit: record.range.as_ref().map(|r| r.min.unit.as_str()),
            range_max_value: record.range.as_ref().map(|r| r.max.value),
            range_max_unit: record.range.as_ref().map(|r| r.max.unit.as_str()),
            resolution_value: record.resolution.as_ref().map(|q| q.value),
            resolution_unit: record.resolution.as_ref().map(|q| q.unit.as_str()),
            customer: record.customer.as_deref(),
            location: record.location.as_deref(),
            interval_days: record.interval_days,
            institute: record.institute.as_deref(),
            country: record.country.as_deref(),
            standard_identifier: record.standard_identifier.as_deref(),
            updated_at: now_timestamp(),
        }
    }
}

fn to_json(instrument: &Instrument) -> serde_json::Value {
    serde_json::to_value(instrument).unwrap_or(serde_json::Value::Null)
}

/// Refuses a record whose asset tag, or manufacturer, model and serial number,
/// another instrument already has: a 409 that names the field, found by asking
/// rather than by reading the constraint's message.
fn refuse_duplicates(
    conn: &mut DbConnection,
    record: &InstrumentRecord,
    except: Option<i64>,
) -> DbResult<()> {
    let others = || {
        instruments::table
            .select(instruments::id)
            .filter(instruments::id.ne(except.unwrap_or(0)))
            .into_boxed()
    };
    // One label regardless of case: PG-0001 and pg-0001 are the same tag.
    let tag_taken: Option<i64> = others()
        .filter(lower(instruments::asset_tag).eq(record.asset_tag.to_lowercase()))
        .first(conn)
        .optional()?;
    if tag_taken.is_some() {
        return Err(DbError::Duplicate {
            field: "asset_tag",
            what: format!(
                "an instrument with asset tag '{}' already exists",
                record.asset_tag
            ),
        });
    }
    let (Some(manufacturer), Some(model), Some(serial)) =
        (&record.manufacturer, &record.model, &record.serial_number)
    else {
        return Ok(());
    };
    let serial_taken: Option<i64> = others()
        .filter(instruments::manufacturer.eq(manufacturer))
        .filter(instruments::model.eq(model))
        .filter(instruments::serial_number.eq(serial))
        .first(conn)
        .optional()?;
    match serial_taken {
        Some(_) => Err(DbError::Duplicate {
            field: "serial_number",
            what: "an instrument with this manufacturer, model and serial number already exists"
                .to_string(),
        }),
        None => Ok(()),
    }
}

pub fn get(conn: &mut DbConnection, id: i64) -> DbResult<Instrument> {
    get_scoped(conn, id, &Scope::Everything)
}

/// One instrument as `scope` sees it: another customer's is "no instrument",
/// worded exactly as for an id that does not exist.
pub fn get_scoped(conn: &mut DbConnection, id: i64, scope: &Scope) -> DbResult<Instrument> {
    scoped!(
        instruments::table
            .filter(instruments::id.eq(id))
            .into_boxed(),
        scope
    )
    .select(InstrumentRow::as_select())
    .first(conn)
    .optional()?
    .ok_or_else(|| DbError::not_found(format!("no instrument with id {id}")))?
    .try_into()
}

/// 404 unless `scope` sees instrument `id` (one primary-key probe): for the
/// routes that read an instrument's calibrations, chain or status.
pub fn require_visible(conn: &mut DbConnection, id: i64, scope: &Scope) -> DbResult<()> {
    if scope.customer_ids().is_none() {
        return Ok(());
    }
    let found: Option<i64> = scoped!(
        instruments::table
            .filter(instruments::id.eq(id))
            .into_boxed(),
        scope
    )
    .select(instruments::id)
    .first(conn)
    .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| DbError::not_found(format!("no instrument with id {id}")))
}

pub fn get_by_tag(conn: &mut DbConnection, asset_tag: &str, scope: &Scope) -> DbResult<Instrument> {
    scoped!(
        // Agencies type tags as they read them off labels (DESIGN 9c): trimmed, any case,
        // through the unique index on lower(asset_tag).
        instruments::table
            .filter(lower(instruments::asset_tag).eq(asset_tag.trim().to_lowercase()))
            .into_boxed(),
        scope
    )
    .select(InstrumentRow::as_select())
    .first(conn)
    .optional()?
    .ok_or_else(|| DbError::not_found(format!("no instrument with asset tag '{asset_tag}'")))?
    .try_into()
}

/// Registers an instrument; `customer_id` is the record its `customer` names
/// (workflow::instruments resolves it).
pub fn insert(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &InstrumentRecord,
    customer_id: Option<i64>,
) -> DbResult<Instrument> {
    write_transaction(conn, |conn| {
        refuse_duplicates(conn, record, None)?;
        let now = now_timestamp();
        let id: i64 = diesel::insert_into(instruments::table)
            .values((
                InstrumentChanges::from(record),
                instruments::customer_id.eq(customer_id),
                instruments::status.eq(InstrumentStatus::Active.as_str()),
                instruments::created_at.eq(&now),
            ))
            .returning(instruments::id)
            .get_result(conn)?;
        let created = get(conn, id)?;
        append(
            conn,
            actor,
            "create",
            "instrument",
            &id.to_string(),
            None,
            Some(&to_json(&created)),
        )?;
        Ok(created)
    })
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    record: &InstrumentRecord,
    customer_id: Option<i64>,
) -> DbResult<Instrument> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        refuse_duplicates(conn, record, Some(id))?;
        diesel::update(instruments::table.find(id))
            .set((
                InstrumentChanges::from(record),
                instruments::customer_id.eq(customer_id),
            ))
            .execute(conn)?;
        let after = get(conn, id)?;
        append(
            conn,
            actor,
            "update",
            "instrument",
            &id.to_string(),
            Some(&to_json(&before)),
            Some(&to_json(&after)),
        )?;
        Ok(after)
    })
}

/// Records a suspension, reactivation or retirement from `today` on; the
/// history row keeps earlier dates answering with the status then in force.
/// The chains that rest on the instrument are workflow::instruments' to redo.
pub fn record_status_change(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    wanted: InstrumentStatus,
    reason: Option<&str>,
    today: NaiveDate,
) -> DbResult<Instrument> {
    let action = match wanted {
        InstrumentStatus::Active => "reactivate",
        InstrumentStatus::Suspended => "suspend",
        InstrumentStatus::Retired => "retire",
    };
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        status_transition(before.status, wanted).map_err(DbError::conflict)?;
        let now = now_timestamp();
        diesel::update(instruments::table.find(id))
            .set((
                instruments::status.eq(wanted.as_str()),
                instruments::updated_at.eq(&now),
            ))
            .execute(conn)?;
        diesel::insert_into(instrument_status_changes::table)
            .values((
                instrument_status_changes::instrument_id.eq(id),
                instrument_status_changes::status.eq(wanted.as_str()),
                instrument_status_changes::effective_on.eq(today),
                instrument_status_changes::reason.eq(reason),
                instrument_status_changes::changed_by.eq(actor.user_id),
                instrument_status_changes::created_at.eq(&now),
            ))
            .execute(conn)?;
        let after = get(conn, id)?;
        let mut after_json = to_json(&after);
        after_json["status_reason"] = reason.into();
        append(
            conn,
            actor,
            action,
            "instrument",
            &id.to_string(),
            Some(&to_json(&before)),
            Some(&after_json),
        )?;
        Ok(after)
    })
}

#[derive(Debug, Clone, Default)]
pub struct InstrumentFilter {
    pub role: Option<String>,
    pub serial_number: Option<String>,
    pub status: Option<String>,
    pub customer: Option<String>,
    pub text: Option<String>,
    pub page: i64,
    pub per_page: i64,
    /// Keyset pagination: the page starts after this id, read from the primary key's
    /// index, where an offset would read every row before the page.
    pub after: Option<i64>,
}

impl InstrumentFilter {
    /// Whether any filter beyond the reader's scope is asked for.
    fn narrows(&self) -> bool {
        self.role.is_some()
            || self.serial_number.is_some()
            || self.status.is_some()
            || self.customer.is_some()
            || self.text.is_some()
    }
}

/// How many instruments `scope` sees, from the per-customer counts the triggers keep
/// (migration 000051): one row per customer, where counting the list would read every
/// index entry in scope (issue 20: `count(*)` of a million instruments was 100 of the
/// list's 120 ms on PostgreSQL). The whole register adds the instruments of no customer
/// (the lab's own standards), a range of the customer index.
fn instruments_in_scope(conn: &mut DbConnection, scope: &Scope) -> DbResult<i64> {
    use crate::db::schema::customer_instrument_counts as counts;
    let per_customer: Vec<i64> = match scope {
        Scope::Everything => {
            let of_customers: i64 = counts::table
                .select(crate::db::sum_of_counts("instruments"))
                .get_result(conn)?;
            let of_none: i64 = instruments::table
                .filter(instruments::customer_id.is_null())
                .count()
                .get_result(conn)?;
            return Ok(of_customers + of_none);
        }
        Scope::Customers { customer_ids, .. } if customer_ids.len() == 1 => counts::table
            .select(counts::instruments)
            .filter(counts::customer_id.eq(customer_ids[0]))
            .load(conn)?,
        Scope::Customers { user_id, .. } => counts::table
            .select(counts::instruments)
            .filter(
                counts::customer_id
                    .nullable()
                    .eq_any(bound_customers(*user_id)),
            )
            .load(conn)?,
    };
    Ok(per_customer.into_iter().sum())
}

/// Escapes LIKE wildcards so a search for "50%" finds "50%", not everything.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of the register as `scope` sees it, and how many match (the count
/// under the same WHERE: another customer's rows are not counted).
pub fn list(
    conn: &mut DbConnection,
    filter: &InstrumentFilter,
    scope: &Scope,
) -> DbResult<(Vec<Instrument>, i64)> {
    let total: i64 = match scope {
        _ if !filter.narrows() => instruments_in_scope(conn, scope)?,
        _ => matching(filter, scope).count().get_result(conn)?,
    };
    Ok((page_of(conn, filter, scope)?, total))
}

/// The instruments `scope` sees that match `filter`, unordered and uncut.
fn matching<'a>(
    filter: &'a InstrumentFilter,
    scope: &'a Scope,
) -> instruments::BoxedQuery<'a, super::DbBackend> {
    let mut query = scoped!(instruments::table.into_boxed(), scope);
    if let Some(role) = &filter.role {
        query = query.filter(instruments::role.eq(role.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(instruments::status.eq(status.clone()));
    }
    if let Some(customer) = &filter.customer {
        query = query.filter(instruments::customer.eq(customer.clone()));
    }
    if let Some(serial_number) = &filter.serial_number {
        query = query.filter(instruments::serial_number.eq(serial_number.clone()));
    }
    if let Some(text) = &filter.text {
        let pattern = like_pattern(text);
        query = query.filter(
            lower(instruments::asset_tag)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(instruments::serial_number.assume_not_null())
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(instruments::model.assume_not_null())
                    .like(pattern.clone())
                    .escape('\\'))
                .or(lower(instruments::manufacturer.assume_not_null())
                    .like(pattern)
                    .escape('\\')),
        );
    }
    query
}

/// The page of `filter` (by offset, or after a keyset id), without counting.
pub fn page_of(
    conn: &mut DbConnection,
    filter: &InstrumentFilter,
    scope: &Scope,
) -> DbResult<Vec<Instrument>> {
    let page = || {
        let query = matching(filter, scope)
            .order(instruments::id.asc())
            .limit(filter.per_page);
        match filter.after {
            Some(after) => query.filter(instruments::id.gt(after)),
            None => query.offset((filter.page - 1) * filter.per_page),
        }
    };
    let rows: Vec<InstrumentRow> = match scope {
        Scope::Everything => page().select(InstrumentRow::as_select()).load(conn)?,
        // Several customers' rows come out of the customer_id index unordered, and
        // sorting them all reads every row in scope: cut the page on ids alone (the
        // index covers them), then read only the page's rows, by id range.
        Scope::Customers { .. } => {
            let ids: Vec<i64> = page().select(instruments::id).load(conn)?;
            let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
                return Ok(Vec::new());
            };
            // Unordered: the rows come a customer at a time; 50 sort faster here
            // than in SQLite's sorter, which copies whole records.
            let mut rows: Vec<InstrumentRow> = matching(filter, scope)
                .filter(instruments::id.between(*first, *last))
                .select(InstrumentRow::as_select())
                .load(conn)?;
            rows.sort_unstable_by_key(|row| row.id);
            rows
        }
    };
    rows.into_iter()
        .map(Instrument::try_from)
        .collect::<Result<Vec<_>, _>>()
}
