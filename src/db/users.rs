//! Users, their roles, and bearer tokens (only SHA-256 hashes are stored: a
//! token is 256 random bits, so a fast hash is enough, unlike for passwords).

use diesel::prelude::*;
use serde_json::json;

use super::audit::{append, Actor};
use super::schema::{api_tokens, login_failures, users, web_sessions};
use super::{now_timestamp, per_backend, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::audit::{hex, sha256_hex};
use crate::domain::people::{AuthUser, UserRole};

pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

fn roles_text(roles: &[UserRole]) -> String {
    roles
        .iter()
        .map(|role| role.name())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_roles(text: &str) -> Vec<UserRole> {
    text.split(',').filter_map(UserRole::parse).collect()
}

pub fn create_user(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    roles: &[UserRole],
) -> DbResult<AuthUser> {
    let name = name.trim();
    write_transaction(conn, |conn| {
        let id: i64 = diesel::insert_into(users::table)
            .values((
                users::name.eq(name),
                users::roles.eq(roles_text(roles)),
                users::created_at.eq(now_timestamp()),
            ))
            .returning(users::id)
            .get_result(conn)?;
        let user = AuthUser {
            id,
            name: name.to_string(),
            roles: roles.to_vec(),
        };
        append(
            conn,
            actor,
            "create",
            "user",
            &id.to_string(),
            None,
            Some(&json!({"id": id, "name": name, "roles": roles_text(roles)})),
        )?;
        Ok(user)
    })
}

pub fn find_user(conn: &mut DbConnection, name: &str) -> DbResult<Option<AuthUser>> {
    let row: Option<(i64, String, String)> = users::table
        .select((users::id, users::name, users::roles))
        .filter(users::name.eq(name))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, name, roles)| AuthUser {
        id,
        name,
        roles: parse_roles(&roles),
    }))
}

/// Creates a token for a user; returns (token id, the token). The token itself
/// is shown once and never stored.
pub fn create_token(
    conn: &mut DbConnection,
    actor: &Actor,
    user_name: &str,
) -> DbResult<(i64, String)> {
    let user = find_user(conn, user_name)?
        .ok_or_else(|| DbError::not_found(format!("no user named '{user_name}'")))?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|error| DbError::Internal(format!("no randomness: {error}")))?;
    let token = format!("ct_{}", hex(&secret));
    let token_hash = hash_token(&token);
    write_transaction(conn, |conn| {
        let id: i64 = diesel::insert_into(api_tokens::table)
            .values((
                api_tokens::user_id.eq(user.id),
                api_tokens::token_hash.eq(&token_hash),
                api_tokens::created_at.eq(now_timestamp()),
            ))
            .returning(api_tokens::id)
            .get_result(conn)?;
        append(
            conn,
            actor,
            "create",
            "api_token",
            &id.to_string(),
            None,
            Some(&json!({"id": id, "user_id": user.id})),
        )?;
        Ok((id, token.clone()))
    })
}

pub fn revoke_token(conn: &mut DbConnection, actor: &Actor, token_id: i64) -> DbResult<()> {
    write_transaction(conn, |conn| {
        let revoked: Option<Option<String>> = api_tokens::table
            .select(api_tokens::revoked_at)
            .filter(api_tokens::id.eq(token_id))
            .first(conn)
            .optional()?;
        match revoked {
            None => return Err(DbError::not_found(format!("no token with id {token_id}"))),
            Some(Some(_)) => {
                return Err(DbError::conflict(format!(
                    "token {token_id} is already revoked"
                )))
            }
            Some(None) => {}
        }
        let now = now_timestamp();
        diesel::update(api_tokens::table.filter(api_tokens::id.eq(token_id)))
            .set(api_tokens::revoked_at.eq(&now))
            .execute(conn)?;
        append(
            conn,
            actor,
            "revoke",
            "api_token",
            &token_id.to_string(),
            Some(&json!({"id": token_id, "revoked_at": null})),
            Some(&json!({"id": token_id, "revoked_at": now})),
        )?;
        Ok(())
    })
}

/// The user a bearer token belongs to, if the token is known and not revoked:
/// one indexed lookup on the token hash (unique), run on the concrete backend
/// connection as it is on the path of every authenticated request. Nothing is
/// written and nothing is cached: a token revoked by another process or
/// instance is refused on its next use.
pub fn user_for_token(conn: &mut DbConnection, token: &str) -> DbResult<Option<AuthUser>> {
    let token_hash = hash_token(token);
    let rows: Vec<(i64, String, String)> = per_backend!(conn, c => api_tokens::table
        .inner_join(users::table)
        .select((users::id, users::name, users::roles))
        .filter(api_tokens::token_hash.eq(&token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .load(c))?;
    Ok(rows.into_iter().next().map(auth_user))
}

/// The user of a `(users.id, users.name, users.roles)` row.
pub(super) fn auth_user((id, name, roles): (i64, String, String)) -> AuthUser {
    AuthUser {
        id,
        name,
        roles: parse_roles(&roles),
    }
}

/// Sets (or replaces) a user's web login password; audited without the hash.
pub fn set_password(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &str,
    password: &str,
) -> DbResult<()> {
    let user = find_user(conn, name)?
        .ok_or_else(|| DbError::not_found(format!("no user named '{name}'")))?;
    let stored = crate::password::hash(password).map_err(DbError::Internal)?;
    write_transaction(conn, |conn| {
        diesel::update(users::table.filter(users::id.eq(user.id)))
            .set(users::password_hash.eq(&stored))
            .execute(conn)?;
        append(
            conn,
            actor,
            "set_password",
            "user",
            &user.id.to_string(),
            None,
            Some(&json!({"id": user.id, "password": "changed"})),
        )?;
        Ok(())
    })
}

/// The user with this name and password, if both match.
pub fn user_for_password(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
) -> DbResult<Option<AuthUser>> {
    let row: Option<(i64, String, String, Option<String>)> = users::table
        .select((users::id, users::name, users::roles, users::password_hash))
        .filter(users::name.eq(name))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(id, name, roles, stored)| {
        let stored = stored?;
        crate::password::verify(password, &stored).then(|| AuthUser {
            id,
            name,
            roles: parse_roles(&roles),
        })
    }))
}

/// Failed web logins allowed per account name within [`LOGIN_WINDOW_MINUTES`]; the next
/// attempt is refused without checking the password until the oldest of them leaves the window.
/// PBKDF2 makes each guess slow; this bounds how many an attacker gets per account (OWASP's
/// account-lockout guidance: a temporary lock, not a permanent one, so it cannot be used to shut
/// a user out for good; API tokens are not affected).
pub const LOGIN_ATTEMPTS: usize = 5;
pub const LOGIN_WINDOW_MINUTES: i64 = 15;

pub enum LoginOutcome {
    Accepted(AuthUser),
    Refused,
    Throttled { retry_after_seconds: i64 },
}

/// One web login attempt: throttled, refused (recorded against the name, known or not, so the
/// answer does not tell which names exist) or accepted (the name's failures forgotten).
pub fn attempt_login(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
) -> DbResult<LoginOutcome> {
    let now = chrono::Utc::now();
    let window = chrono::Duration::minutes(LOGIN_WINDOW_MINUTES);
    let since = (now - window).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // Failures that left the window are dropped here, so the table cannot grow without bound.
    diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(&since)))
        .execute(conn)?;
    let recent: Vec<String> = login_failures::table
        .select(login_failures::failed_at)
        .filter(login_failures::user_name.eq(name))
        .order(login_failures::failed_at.asc())
        .load(conn)?;
    if recent.len() >= LOGIN_ATTEMPTS {
        let oldest = chrono::DateTime::parse_from_rfc3339(&recent[0])
            .map_err(|error| DbError::corrupt(format!("login failure time: {error}")))?;
        let retry_after_seconds = (oldest.to_utc() + window - now).num_seconds().max(1);
        return Ok(LoginOutcome::Throttled {
            retry_after_seconds,
        });
    }
    match user_for_password(conn, name, password)? {
        Some(user) => {
            diesel::delete(login_failures::table.filter(login_failures::user_name.eq(name)))
                .execute(conn)?;
            Ok(LoginOutcome::Accepted(user))
        }
        None => {
            diesel::insert_into(login_failures::table)
                .values((
                    login_failures::user_name.eq(name),
                    login_failures::failed_at.eq(now_timestamp()),
                ))
                .execute(conn)?;
            Ok(LoginOutcome::Refused)
        }
    }
}

/// A web session: the cookie value (shown once, stored hashed) and its CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
}

fn random_hex() -> DbResult<String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|error| DbError::Internal(format!("no randomness: {error}")))?;
    Ok(hex(&secret))
}

pub fn create_session(
    conn: &mut DbConnection,
    user_id: i64,
    lifetime: chrono::Duration,
) -> DbResult<NewSession> {
    let cookie = random_hex()?;
    let csrf_token = random_hex()?;
    let now = chrono::Utc::now();
    let expires = (now + lifetime).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // Expired sessions of anyone are dropped here, so the table cannot grow without bound.
    diesel::delete(web_sessions::table.filter(web_sessions::expires_at.lt(now_timestamp())))
        .execute(conn)?;
    diesel::insert_into(web_sessions::table)
        .values((
            web_sessions::user_id.eq(user_id),
            web_sessions::session_hash.eq(hash_token(&cookie)),
            web_sessions::csrf_token.eq(&csrf_token),
            web_sessions::created_at.eq(now_timestamp()),
            web_sessions::expires_at.eq(expires),
        ))
        .execute(conn)?;
    Ok(NewSession { cookie, csrf_token })
}

/// The user of a live session and the session's CSRF token.
pub fn user_for_session(
    conn: &mut DbConnection,
    cookie: &str,
) -> DbResult<Option<(AuthUser, String)>> {
    let row: Option<(i64, String, String, String)> = web_sessions::table
        .inner_join(users::table)
        .select((
            users::id,
            users::name,
            users::roles,
            web_sessions::csrf_token,
        ))
        .filter(web_sessions::session_hash.eq(hash_token(cookie)))
        .filter(web_sessions::expires_at.gt(now_timestamp()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(id, name, roles, csrf)| {
        (
            AuthUser {
                id,
                name,
                roles: parse_roles(&roles),
            },
            csrf,
        )
    }))
}

pub fn delete_session(conn: &mut DbConnection, cookie: &str) -> DbResult<()> {
    diesel::delete(web_sessions::table.filter(web_sessions::session_hash.eq(hash_token(cookie))))
        .execute(conn)?;
    Ok(())
}
