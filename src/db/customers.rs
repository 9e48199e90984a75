//! Customers as records, and which customers a user is bound to (DESIGN 9b).

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::json;

use super::audit::{append, Actor};
use super::schema::{customers, instruments, user_customers};
use super::{now_timestamp, per_backend, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::customer::{Customer, CustomerRecord};
use crate::domain::people::Scope;

use super::lower;

type Row = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

super::columns!(
    COLUMNS: Columns =
    customers::id,
    customers::name,
    customers::code,
    customers::address,
    customers::contact_email,
    customers::created_at,
    customers::updated_at,
);

fn customer(row: Row, instruments: i64) -> Customer {
    let (id, name, code, address, contact_email, created_at, updated_at) = row;
    Customer {
        id,
        name,
        code,
        address,
        contact_email,
        instruments,
        created_at,
        updated_at,
    }
}

fn instrument_count(conn: &mut DbConnection, id: i64) -> DbResult<i64> {
    Ok(instruments::table
        .filter(instruments::customer_id.eq(id))
        .count()
        .get_result(conn)?)
}

/// Every customer `scope` sees, by code, with its number of instruments (two queries).
pub fn list(conn: &mut DbConnection, scope: &Scope) -> DbResult<Vec<Customer>> {
    let mut query = customers::table.select(COLUMNS).into_boxed();
    if let Some(ids) = scope.customer_ids() {
        query = query.filter(customers::id.eq_any(ids.to_vec()));
    }
    let rows: Vec<Row> = query.order(customers::code.asc()).load(conn)?;
    let counts: HashMap<Option<i64>, i64> = instruments::table
        .group_by(instruments::customer_id)
        .select((instruments::customer_id, diesel::dsl::count_star()))
        .filter(instruments::customer_id.is_not_null())
        .load::<(Option<i64>, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let count = counts.get(&Some(row.0)).copied().unwrap_or(0);
            customer(row, count)
        })
        .collect())
}

/// A customer by code, regardless of case.
pub fn get_by_code(conn: &mut DbConnection, code: &str) -> DbResult<Customer> {
    let row: Row = customers::table
        .select(COLUMNS)
        .filter(lower(customers::code).eq(code.trim().to_lowercase()))
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no customer with code '{code}'")))?;
    let count = instrument_count(conn, row.0)?;
    Ok(customer(row, count))
}

pub fn get(conn: &mut DbConnection, id: i64) -> DbResult<Customer> {
    let row: Row = customers::table
        .select(COLUMNS)
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no customer with id {id}")))?;
    let count = instrument_count(conn, id)?;
    Ok(customer(row, count))
}

/// A 409 naming the field when another customer has this name or code (codes
/// regardless of case), found by asking rather than by reading the constraint.
fn refuse_duplicates(
    conn: &mut DbConnection,
    record: &CustomerRecord,
    except: Option<i64>,
) -> DbResult<()> {
    let others = || {
        customers::table
            .select(customers::id)
            .filter(customers::id.ne(except.unwrap_or(0)))
            .into_boxed()
    };
    let name_taken: Option<i64> = others()
        .filter(customers::name.eq(&record.name))
        .first(conn)
        .optional()?;
    if name_taken.is_some() {
        return Err(DbError::Duplicate {
            field: "name",
            what: format!("a customer named '{}' already exists", record.name),
        });
    }
    let code_taken: Option<i64> = others()
        .filter(lower(customers::code).eq(record.code.to_lowercase()))
        .first(conn)
        .optional()?;
    match code_taken {
        Some(_) => Err(DbError::Duplicate {
            field: "code",
            what: format!("a customer with code '{}' already exists", record.code),
        }),
        None => Ok(()),
    }
}

fn audit_json(customer: &Customer) -> serde_json::Value {
    json!({"id": customer.id, "name": customer.name, "code": customer.code,
           "address": customer.address, "contact_email": customer.contact_email})
}

pub fn insert(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &CustomerRecord,
) -> DbResult<Customer> {
    write_transaction(conn, |conn| {
        refuse_duplicates(conn, record, None)?;
        let now = now_timestamp();
        let id: i64 = diesel::insert_into(customers::table)
            .values((
                customers::name.eq(&record.name),
                customers::code.eq(&record.code),
                customers::address.eq(&record.address),
                customers::contact_email.eq(&record.contact_email),
                customers::created_at.eq(&now),
                customers::updated_at.eq(&now),
            ))
            .returning(customers::id)
            .get_result(conn)?;
        let created = get(conn, id)?;
        let after = audit_json(&created);
        append(
            conn,
            actor,
            "create",
            "customer",
            &id.to_string(),
            None,
            Some(&after),
        )?;
        Ok(created)
    })
}

/// Changes a customer's record. A new name reaches its instruments'
/// `customer` (the name lists and recalls show) in the same transaction; the
/// certificates already issued keep the name they were issued with.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    record: &CustomerRecord,
) -> DbResult<Customer> {
    write_transaction(conn, |conn| {
        let before = get(conn, id)?;
        refuse_duplicates(conn, record, Some(id))?;
        let now = now_timestamp();
        diesel::update(customers::table.find(id))
            .set((
                customers::name.eq(&record.name),
                customers::code.eq(&record.code),
                customers::address.eq(&record.address),
                customers::contact_email.eq(&record.contact_email),
                customers::updated_at.eq(&now),
            ))
            .execute(conn)?;
        if before.name != record.name {
            diesel::update(instruments::table.filter(instruments::customer_id.eq(id)))
                .set(instruments::customer.eq(&record.name))
                .execute(conn)?;
        }
        let after = get(conn, id)?;
        append(
            conn,
            actor,
            "update",
            "customer",
            &id.to_string(),
            Some(&audit_json(&before)),
            Some(&audit_json(&after)),
        )?;
        Ok(after)
    })
}

/// The customer named `name`, created (and audited) with a generated code when
/// not yet registered: an instrument's free-text `customer` keeps working.
/// Instruments registered at once for one new customer (two instances, or two
/// requests) meet at `ON CONFLICT DO NOTHING`: one creates the record, the
/// other waits for it and then reads it, rather than failing on the constraint.
pub fn ensure_named(conn: &mut DbConnection, actor: &Actor, name: &str) -> DbResult<i64> {
    let find = |conn: &mut DbConnection| -> DbResult<Option<i64>> {
        Ok(customers::table
            .select(customers::id)
            .filter(customers::name.eq(name))
            .first(conn)
            .optional()?)
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    write_transaction(conn, |conn| {
        let now = now_timestamp();
        // A placeholder no chosen code can clash with ('~' is not allowed in codes).
        let placeholder = format!("~{}", crate::domain::audit::sha256_hex(name.as_bytes()));
        // ON CONFLICT is per backend: diesel's MultiBackend does not spell it.
        let inserted: Option<i64> = per_backend!(conn, c => diesel::insert_into(customers::table)
            .values((
                customers::name.eq(name),
                customers::code.eq(&placeholder),
                customers::created_at.eq(&now),
                customers::updated_at.eq(&now),
            ))
            .on_conflict_do_nothing()
            .returning(customers::id)
            .get_result(c)
            .optional())?;
        let Some(id) = inserted else {
            return find(conn)?.ok_or_else(|| {
                DbError::conflict(format!("customer '{name}' could not be registered"))
            });
        };
        let code = free_code(conn, id)?;
        diesel::update(customers::table.find(id))
            .set(customers::code.eq(&code))
            .execute(conn)?;
        let created = get(conn, id)?;
        let after = audit_json(&created);
        append(
            conn,
            actor,
            "create",
            "customer",
            &id.to_string(),
            None,
            Some(&after),
        )?;
        Ok(id)
    })
}

/// C00042 from the id, or C00042-2… if someone chose that code by hand.
fn free_code(conn: &mut DbConnection, id: i64) -> DbResult<String> {
    let mut code = format!("C{id:05}");
    let mut n = 1;
    while customers::table
        .select(customers::id)
        .filter(lower(customers::code).eq(code.to_lowercase()))
        .first::<i64>(conn)
        .optional()?
        .is_some()
    {
        n += 1;
        code = format!("C{id:05}-{n}");
    }
    Ok(code)
}

/// The ids of customer codes (regardless of case), in order; an unknown code
/// is a `NotFound` naming it.
pub fn ids_of_codes(conn: &mut DbConnection, codes: &[String]) -> DbResult<Vec<i64>> {
    codes
        .iter()
        .map(|code| get_by_code(conn, code).map(|customer| customer.id))
        .collect()
}

/// Binds a user to customers (a customer user to its one, a scoped inspector
/// to several); audited on the user.
pub fn bind_user(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    customer_ids: &[i64],
) -> DbResult<()> {
    write_transaction(conn, |conn| {
        for id in customer_ids {
            diesel::insert_into(user_customers::table)
                .values((
                    user_customers::user_id.eq(user_id),
                    user_customers::customer_id.eq(id),
                ))
                .execute(conn)?;
        }
        append(
            conn,
            actor,
            "bind_customers",
            "user",
            &user_id.to_string(),
            None,
            Some(&json!({"customer_ids": customer_ids})),
        )?;
        Ok(())
    })
}

/// The customers a user is bound to (empty: none).
pub fn bound_to(conn: &mut DbConnection, user_id: i64) -> DbResult<Vec<i64>> {
    Ok(user_customers::table
        .select(user_customers::customer_id)
        .filter(user_customers::user_id.eq(user_id))
        .order(user_customers::customer_id.asc())
        .load(conn)?)
}
