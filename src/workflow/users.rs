//! Accounts as the command line and the demo create them: the rules a user
//! name and a password must meet are checked here, before anything is stored.

use crate::db::audit::Actor;
use crate::db::{customers, users, write_transaction, DbConnection};
use crate::domain::people::{check_binding, AuthUser, Profile, Scope, UserRole};
use crate::error::ApiError;

pub fn create_user(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    roles: &[UserRole],
    profile: &Profile,
    customer_codes: &[String],
) -> Result<AuthUser, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "name",
            "must be 1 to 100 printable characters",
        ));
    }
    if roles.is_empty() {
        return Err(ApiError::field("roles", "at least one role is required"));
    }
    for (field, value) in [("full_name", &profile.full_name), ("title", &profile.title)] {
        if value.as_deref().is_some_and(|v| {
            v.trim().is_empty() || v.chars().count() > 200 || v.chars().any(char::is_control)
        }) {
            return Err(ApiError::field(
                field,
                "must be 1 to 200 printable characters",
            ));
        }
    }
    check_binding(roles, customer_codes.len())
        .map_err(|message| ApiError::field("customer", message))?;
    write_transaction(conn, |conn| {
        // An unknown code stops the whole creation: no user is left half-bound.
        let customer_ids = customers::ids_of_codes(conn, customer_codes)
            .map_err(|error| ApiError::field("customer", error.to_string()))?;
        let mut user = users::create_user(conn, actor, name, roles)?;
        if *profile != Profile::default() {
            users::set_profile(conn, actor, user.id, profile)?;
        }
        if !customer_ids.is_empty() {
            customers::bind_user(conn, actor, user.id, &customer_ids)?;
        }
        user.scope = Scope::of(user.id, roles, customer_ids);
        Ok(user)
    })
}

/// Sets (or replaces) a user's web login password (NIST SP 800-63B length rules).
pub fn set_password(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    password: &str,
) -> Result<(), ApiError> {
    crate::password::acceptable(password)
        .map_err(|message| ApiError::field("password", &message))?;
    Ok(users::set_password(conn, actor, name, password)?)
}
