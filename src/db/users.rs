//! Users, their roles, and bearer tokens (only SHA-256 hashes are stored: a
//! token is 256 random bits, so a fast hash is enough, unlike for passwords).

use diesel::prelude::*;
use serde_json::json;

use super::audit::{append, Actor};
use super::schema::{api_tokens, login_failures, users, web_sessions};
use super::{now_timestamp, per_backend, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::audit::{hex, sha256_hex};
use crate::domain::people::{AuthUser, Profile, Scope, UserRole};

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
            scope: Scope::of(id, roles, Vec::new()),
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

/// Sets how a user is printed as signatory: full name and title (none: the
/// login name is printed).
pub fn set_profile(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    profile: &Profile,
) -> DbResult<()> {
    write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set((
                users::full_name.eq(&profile.full_name),
                users::title.eq(&profile.title),
            ))
            .execute(conn)?;
        append(
            conn,
            actor,
            "update",
            "user",
            &user_id.to_string(),
            None,
            Some(&json!({"full_name": profile.full_name, "title": profile.title})),
        )?;
        Ok(())
    })
}

/// The user's full name and title, as printed on what they sign.
pub fn profile(conn: &mut DbConnection, user_id: i64) -> DbResult<Profile> {
    let (full_name, title) = users::table
        .find(user_id)
        .select((users::full_name, users::title))
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no user with id {user_id}")))?;
    Ok(Profile { full_name, title })
}

/// The stored password hash of a user (None: no password set), for an approver signing again.
pub fn password_hash(conn: &mut DbConnection, user_id: i64) -> DbResult<Option<String>> {
    users::table
        .find(user_id)
        .select(users::password_hash)
        .first(conn)
        .optional()?
        .ok_or_else(|| DbError::not_found(format!("no user with id {user_id}")))
}

pub fn find_user(conn: &mut DbConnection, name: &str) -> DbResult<Option<AuthUser>> {
    let row: Option<(i64, String, String)> = users::table
        .select((users::id, users::name, users::roles))
        .filter(users::name.eq(name))
        .first(conn)
        .optional()?;
    row.map(|row| with_scope(conn, auth_user(row))).transpose()
}

/// The user with its scope looked up: only a customer or an inspector can be
/// bound to customers, so only they cost the (indexed) second query.
pub fn with_scope(conn: &mut DbConnection, mut user: AuthUser) -> DbResult<AuthUser> {
    if Scope::may_narrow(&user.roles) {
        let bound = super::customers::bound_to(conn, user.id)?;
        user.scope = Scope::of(user.id, &user.roles, bound);
    }
    Ok(user)
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
        refuse_if_disabled(conn, &user)?;
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
    rows.into_iter()
        .next()
        .map(|row| with_scope(conn, auth_user(row)))
        .transpose()
}

/// The user of a `(users.id, users.name, users.roles)` row, its scope not yet
/// looked up: narrowed to nothing when it may be narrowed at all, so a caller
/// that forgets [`with_scope`] shows too little, never too much.
pub(super) fn auth_user((id, name, roles): (i64, String, String)) -> AuthUser {
    let roles = parse_roles(&roles);
    let scope = if Scope::may_narrow(&roles) {
        Scope::Customers {
            user_id: id,
            customer_ids: Vec::new(),
        }
    } else {
        Scope::Everything
    };
    AuthUser {
        id,
        name,
        roles,
        scope,
    }
}

/// The scope of a user known to be bound to customers or not, without their ids:
/// `Everything` for an unbound non-customer, otherwise the unresolved (empty)
/// narrowed scope that [`with_scope`] fills in.
pub(super) fn scope_if_unbound(user_id: i64, roles: &[UserRole], bound: bool) -> Scope {
    if bound || roles.contains(&UserRole::Customer) {
        Scope::Customers {
            user_id,
            customer_ids: Vec::new(),
        }
    } else {
        Scope::Everything
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
        refuse_if_disabled(conn, &user)?;
        let previous: Option<String> = users::table
            .select(users::password_hash)
            .find(user.id)
            .first(conn)?;
        diesel::update(users::table.filter(users::id.eq(user.id)))
            .set(users::password_hash.eq(&stored))
            .execute(conn)?;
        // A changed password: whoever held the old one (or a token given with it)
        // is out. A first password changes nobody's access.
        let (sessions, tokens) = match previous {
            Some(_) => end_sessions_and_tokens(conn, user.id)?,
            None => (0, 0),
        };
        append(
            conn,
            actor,
            "set_password",
            "user",
            &user.id.to_string(),
            None,
            Some(&json!({"id": user.id, "password": "changed",
                         "sessions_ended": sessions, "tokens_revoked": tokens})),
        )?;
        Ok(())
    })
}

fn refuse_if_disabled(conn: &mut DbConnection, user: &AuthUser) -> DbResult<()> {
    let disabled: Option<String> = users::table
        .select(users::disabled_at)
        .find(user.id)
        .first(conn)?;
    match disabled {
        Some(when) => Err(DbError::conflict(format!(
            "user '{}' was disabled at {when}",
            user.name
        ))),
        None => Ok(()),
    }
}

/// Ends every web session of a user and revokes every token: (sessions, tokens).
fn end_sessions_and_tokens(conn: &mut DbConnection, user_id: i64) -> DbResult<(usize, usize)> {
    let sessions = diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user_id)))
        .execute(conn)?;
    let tokens = diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now_timestamp()))
    .execute(conn)?;
    Ok((sessions, tokens))
}

/// `caltrace user disable NAME`: the user cannot log in, every session ends and
/// every token is revoked, at once; the account stays, so what it did stays
/// attributed (audited).
pub fn disable_user(conn: &mut DbConnection, actor: &Actor, name: &str) -> DbResult<AuthUser> {
    write_transaction(conn, |conn| {
        let user = find_user(conn, name)?
            .ok_or_else(|| DbError::not_found(format!("no user named '{name}'")))?;
        refuse_if_disabled(conn, &user)?;
        let now = now_timestamp();
        diesel::update(users::table.find(user.id))
            .set(users::disabled_at.eq(&now))
            .execute(conn)?;
        let (sessions, tokens) = end_sessions_and_tokens(conn, user.id)?;
        append(
            conn,
            actor,
            "disable",
            "user",
            &user.id.to_string(),
            Some(&json!({"id": user.id, "disabled_at": null})),
            Some(&json!({"id": user.id, "disabled_at": now,
                         "sessions_ended": sessions, "tokens_revoked": tokens})),
        )?;
        Ok(user)
    })
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

/// A login attempt allowed to go on to the password check: the attempt is
/// already counted as a failure (so concurrent guesses cannot exceed the limit),
/// and carries what the check needs without holding a connection.
pub struct Reserved {
    /// The account of that name, if there is one that may log in.
    pub user: Option<AuthUser>,
    /// Its stored password hash, if it has a password.
    pub stored_hash: Option<String>,
}

pub enum Reservation {
    Throttled { retry_after_seconds: i64 },
    Reserved(Reserved),
}

/// The first step of a web login, in one short write transaction: forget
/// failures older than the window, refuse if the name has used up its
/// attempts, else record this attempt as a failure up front. The check and the
/// record are one transaction (SQLite: the write lock; PostgreSQL: a table
/// lock), so sixty simultaneous guesses get five password checks, not twenty.
pub fn reserve_login(conn: &mut DbConnection, name: &str) -> DbResult<Reservation> {
    write_transaction(conn, |conn| {
        if let DbConnection::Postgresql(pg) = conn {
            diesel::sql_query("LOCK TABLE login_failures IN SHARE ROW EXCLUSIVE MODE")
                .execute(pg)?;
        }
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
            audit_login(conn, None, name, "login_locked_out")?;
            return Ok(Reservation::Throttled {
                retry_after_seconds,
            });
        }
        diesel::insert_into(login_failures::table)
            .values((
                login_failures::user_name.eq(name),
                login_failures::failed_at.eq(now_timestamp()),
            ))
            .execute(conn)?;
        let row: Option<(i64, String, String, Option<String>)> = users::table
            .select((users::id, users::name, users::roles, users::password_hash))
            .filter(users::name.eq(name))
            .filter(users::disabled_at.is_null())
            .first(conn)
            .optional()?;
        Ok(Reservation::Reserved(match row {
            Some((id, name, roles, stored_hash)) => Reserved {
                user: Some(auth_user((id, name, roles))),
                stored_hash,
            },
            None => Reserved {
                user: None,
                stored_hash: None,
            },
        }))
    })
}

/// Audits a login event under the name that was typed (the user's id when known).
fn audit_login(
    conn: &mut DbConnection,
    user: Option<&AuthUser>,
    name: &str,
    action: &str,
) -> DbResult<()> {
    let typed: String = name.chars().take(100).collect();
    let actor = Actor {
        user_id: user.map(|user| user.id),
        name: typed.clone(),
        is_admin: false,
    };
    let entity_id = user.map(|user| user.id.to_string()).unwrap_or_default();
    append(
        conn,
        &actor,
        action,
        "user",
        &entity_id,
        None,
        Some(&json!({"user_name": typed})),
    )?;
    Ok(())
}

/// The last step of a web login, after the password was checked off the
/// database: a success forgets the name's failures (the reserved one too) and
/// opens a session; a failure keeps the reserved failure. Both are audited.
pub fn settle_login(
    conn: &mut DbConnection,
    name: &str,
    accepted: Option<&AuthUser>,
    lifetime: chrono::Duration,
) -> DbResult<Option<NewSession>> {
    write_transaction(conn, |conn| match accepted {
        Some(user) => {
            diesel::delete(login_failures::table.filter(login_failures::user_name.eq(name)))
                .execute(conn)?;
            audit_login(conn, Some(user), name, "login")?;
            Ok(Some(create_session(conn, user.id, lifetime)?))
        }
        None => {
            audit_login(conn, None, name, "login_failed")?;
            Ok(None)
        }
    })
}

/// One web login attempt on one connection (the command line and the tests):
/// reserve, check the password, settle. The web handler runs the same steps
/// with the hashing off the database connection.
pub fn attempt_login(
    conn: &mut DbConnection,
    name: &str,
    password: &str,
) -> DbResult<LoginOutcome> {
    let reserved = match reserve_login(conn, name)? {
        Reservation::Throttled {
            retry_after_seconds,
        } => {
            return Ok(LoginOutcome::Throttled {
                retry_after_seconds,
            })
        }
        Reservation::Reserved(reserved) => reserved,
    };
    let matches = crate::password::verify_or_spend(password, reserved.stored_hash.as_deref());
    let accepted = reserved.user.filter(|_| matches);
    settle_login(conn, name, accepted.as_ref(), chrono::Duration::hours(1))?;
    Ok(match accepted {
        Some(user) => LoginOutcome::Accepted(user),
        None => LoginOutcome::Refused,
    })
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
    row.map(|(id, name, roles, csrf)| {
        with_scope(conn, auth_user((id, name, roles))).map(|user| (user, csrf))
    })
    .transpose()
}

pub fn delete_session(conn: &mut DbConnection, cookie: &str) -> DbResult<()> {
    write_transaction(conn, |conn| {
        let user = user_for_session(conn, cookie)?;
        diesel::delete(
            web_sessions::table.filter(web_sessions::session_hash.eq(hash_token(cookie))),
        )
        .execute(conn)?;
        match user {
            Some((user, _)) => audit_login(conn, Some(&user), &user.name.clone(), "logout"),
            None => Ok(()),
        }
    })
}
