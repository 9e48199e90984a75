//! Storage of authorisations and of the procedures register (DESIGN 9b). Checks of meaning
//! (overlaps, which version applies) are the domain's; this stores and loads.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::{authorisations, procedures, users};
use super::{now_timestamp, DbConnection, DbError, DbResult};
use crate::domain::competence::{
    Activity, Authorisation, NewAuthorisation, Procedure, ProcedureInput, ProcedureStatus,
};

type AuthorisationRow = (
    i64,
    String,
    Activity,
    String,
    Option<String>,
    NaiveDate,
    Option<NaiveDate>,
    String,
);

fn authorisation(row: AuthorisationRow) -> Authorisation {
    let (id, user, activity, quantity_kind, procedure, from, until, created_at) = row;
    Authorisation {
        id,
        user,
        activity,
        quantity_kind,
        procedure,
        from,
        until,
        created_at,
    }
}

/// A user's authorisations, oldest first.
pub fn authorisations_of(conn: &mut DbConnection, user_id: i64) -> DbResult<Vec<Authorisation>> {
    let rows: Vec<AuthorisationRow> = authorisations::table
        .inner_join(users::table)
        .filter(authorisations::user_id.eq(user_id))
        .order(authorisations::id)
        .select((
            authorisations::id,
            users::name,
            authorisations::activity,
            authorisations::quantity_kind,
            authorisations::procedure_code,
            authorisations::valid_from,
            authorisations::valid_until,
            authorisations::created_at,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(authorisation).collect())
}

/// Stores authorisations of one user inside the caller's transaction; their ids.
pub fn insert_authorisations(
    conn: &mut DbConnection,
    user_id: i64,
    new: &[NewAuthorisation],
) -> DbResult<Vec<i64>> {
    let now = now_timestamp();
    let mut ids = Vec::with_capacity(new.len());
    for one in new {
        let id = diesel::insert_into(authorisations::table)
            .values((
                authorisations::user_id.eq(user_id),
                authorisations::activity.eq(one.activity),
                authorisations::quantity_kind.eq(one.quantity_kind.name()),
                authorisations::procedure_code.eq(one.procedure.as_deref()),
                authorisations::valid_from.eq(one.from),
                authorisations::valid_until.eq(one.until),
                authorisations::created_at.eq(&now),
            ))
            .returning(authorisations::id)
            .get_result(conn)?;
        ids.push(id);
    }
    Ok(ids)
}

type ProcedureRow = (
    i64,
    String,
    String,
    String,
    String,
    ProcedureStatus,
    Option<NaiveDate>,
    Option<String>,
    String,
);

fn procedure(row: ProcedureRow) -> Procedure {
    let (id, code, version, title, quantity_kind, status, validated_on, document_url, created_at) =
        row;
    Procedure {
        id,
        code,
        title,
        version,
        quantity_kind,
        status,
        validated_on,
        document_url,
        created_at,
    }
}

macro_rules! procedure_columns {
    () => {
        (
            procedures::id,
            procedures::code,
            procedures::version,
            procedures::title,
            procedures::quantity_kind,
            procedures::status,
            procedures::validated_on,
            procedures::document_url,
            procedures::created_at,
        )
    };
}

/// The whole register, by code then id (versions in the order they were recorded).
pub fn list_procedures(conn: &mut DbConnection) -> DbResult<Vec<Procedure>> {
    let rows: Vec<ProcedureRow> = procedures::table
        .order((procedures::code, procedures::id))
        .select(procedure_columns!())
        .load(conn)?;
    Ok(rows.into_iter().map(procedure).collect())
}

/// Every version of the given codes.
pub fn procedures_with_codes(
    conn: &mut DbConnection,
    codes: &[String],
) -> DbResult<Vec<Procedure>> {
    let rows: Vec<ProcedureRow> = procedures::table
        .filter(procedures::code.eq_any(codes))
        .order(procedures::id)
        .select(procedure_columns!())
        .load(conn)?;
    Ok(rows.into_iter().map(procedure).collect())
}

pub fn get_procedure(conn: &mut DbConnection, id: i64) -> DbResult<Procedure> {
    let row: ProcedureRow = procedures::table
        .find(id)
        .select(procedure_columns!())
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no procedure with id {id}")))?;
    Ok(procedure(row))
}

/// Stores one version; a code and version already registered is a duplicate.
pub fn insert_procedure(conn: &mut DbConnection, input: &ProcedureInput) -> DbResult<Procedure> {
    let taken: i64 = procedures::table
        .filter(procedures::code.eq(&input.code))
        .filter(procedures::version.eq(&input.version))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(DbError::Duplicate {
            field: "version",
            what: format!(
                "procedure {} version {} is already registered: a new version is a new record \
                 with a version of its own",
                input.code, input.version
            ),
        });
    }
    let id = diesel::insert_into(procedures::table)
        .values((
            procedures::code.eq(&input.code),
            procedures::version.eq(&input.version),
            procedures::title.eq(input.title.trim()),
            procedures::quantity_kind.eq(&input.quantity_kind),
            procedures::status.eq(input.status),
            procedures::validated_on.eq(input.validated_on),
            procedures::document_url.eq(input.document_url.as_deref()),
            procedures::created_at.eq(now_timestamp()),
        ))
        .returning(procedures::id)
        .get_result(conn)?;
    get_procedure(conn, id)
}
