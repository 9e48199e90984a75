//! Login, logout and the session guard. The cookie holds 256 random bits; only its SHA-256 is
//! stored, with the session's CSRF token (synchronizer token pattern, OWASP). The login form
//! itself, with no session yet, is protected by a signed double-submit cookie (OWASP): the
//! form's token is an HMAC of the cookie's nonce under a server secret, so a cookie planted
//! by someone else (a sibling subdomain, say) has no token that matches it.

use chrono::Duration;
use rocket::form::{Form, FromForm};
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::{get, post, routes, Route, State};
use rocket_dyn_templates::Template;
use serde_json::json;

use super::{layout, PageError};
use crate::auth::AuthUser;
use crate::config::AppConfig;
use crate::db::users::Reservation;
use crate::db::{self, Database};
use crate::domain::audit::hex;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SESSION_COOKIE: &str = "caltrace_session";
const LOGIN_COOKIE: &str = "caltrace_login";
/// A working day and a bit: long enough for a shift, short enough for a shared bench PC.
const SESSION_HOURS: i64 = 12;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: AuthUser,
    pub csrf_token: String,
}

impl Session {
    /// 403 unless the user holds one of the roles.
    pub fn require(&self, allowed: &[crate::auth::UserRole]) -> Result<&AuthUser, PageError> {
        Ok(self.user.require(allowed)?)
    }

    /// A form's CSRF token must be this session's (compared in constant time).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        if same(submitted, &self.csrf_token) {
            Ok(())
        } else {
            Err(PageError::Forbidden(
                "the form has expired or did not come from this site; reload the page and try again"
                    .to_string(),
            ))
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    crate::domain::secret::same_secret(a.as_bytes(), b.as_bytes())
}

/// Handlers take `Result<Session, PageError>` and apply `?` first: without a live session the
/// visitor goes to the login page and comes back.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = PageError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let Some(cookie) = request
            .cookies()
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_string())
            .filter(|value| value.len() == 64)
        else {
            return Outcome::Error((Status::Unauthorized, PageError::LoginRequired));
        };
        let Some(database) = request.rocket().state::<Database>() else {
            return Outcome::Error((
                Status::InternalServerError,
                PageError::Internal("database not configured".into()),
            ));
        };
        match database
            .run(move |conn| db::users::user_for_session(conn, &cookie))
            .await
        {
            Ok(Some((user, csrf_token))) => {
                let session = Session { user, csrf_token };
                request.local_cache(|| Some(session.clone()));
                Outcome::Success(session)
            }
            Ok(None) => Outcome::Error((Status::Unauthorized, PageError::LoginRequired)),
            Err(error) => Outcome::Error((Status::InternalServerError, error.into())),
        }
    }
}

/// Only a path on this site is followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The server secret the login form's token is an HMAC under (kept in the database: every
/// instance checks a form another one served).
pub struct LoginFormKey(Vec<u8>);

impl LoginFormKey {
    pub fn load(database: &Database) -> Result<LoginFormKey, String> {
        let mut conn = database.get().map_err(|e| e.to_string())?;
        db::secrets::server_secret(&mut conn, "login_form")
            .map(LoginFormKey)
            .map_err(|e| format!("the login form's secret: {e}"))
    }

    /// The form token that belongs to the cookie's nonce.
    fn token_for(&self, nonce: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"caltrace login form\0");
        mac.update(nonce.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

fn secure_cookies(config: &AppConfig) -> bool {
    config.public_base_url.starts_with("https://")
}

fn login_page(
    cookies: &CookieJar<'_>,
    (config, key): (&AppConfig, &LoginFormKey),
    next: &str,
    error: Option<&str>,
) -> Result<Template, PageError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| PageError::Internal(format!("no randomness: {e}")))?;
    let nonce = hex(&nonce);
    let token = key.token_for(&nonce);
    cookies.add(
        Cookie::build((LOGIN_COOKIE, nonce))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure_cookies(config))
            .path("/login"),
    );
    Ok(Template::render(
        "login",
        layout(
            None,
            "Log in",
            "login",
            json!({"login_token": token, "next": next, "error": error}),
        ),
    ))
}

#[get("/login?<next>")]
async fn login_form(
    session: Result<Session, PageError>,
    next: Option<&str>,
    cookies: &CookieJar<'_>,
    config: &State<AppConfig>,
    key: &State<LoginFormKey>,
) -> Result<Result<Template, Redirect>, PageError> {
    let next = safe_next(next);
    if session.is_ok() {
        return Ok(Err(Redirect::to(next)));
    }
    Ok(Ok(login_page(cookies, (config, key), &next, None)?))
}

#[derive(FromForm)]
struct LoginForm {
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    login_token: String,
    #[field(default = String::new())]
    next: String,
}

/// The signed double-submit check (OWASP): the form's token must be the HMAC of the nonce in
/// this browser's login cookie, so a token copied from another session or a planted cookie
/// is refused.
fn carries_its_cookies_token(cookies: &CookieJar<'_>, key: &LoginFormKey, token: &str) -> bool {
    cookies
        .get(LOGIN_COOKIE)
        .map(|nonce| key.token_for(nonce.value()))
        .is_some_and(|expected| same(&expected, token))
}

fn throttled_message(retry_after_seconds: i64) -> String {
    let minutes = (retry_after_seconds + 59) / 60;
    format!(
        "Too many failed logins for this account. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

#[post("/login", data = "<form>")]
async fn login(
    form: Form<LoginForm>,
    cookies: &CookieJar<'_>,
    database: &State<Database>,
    config: &State<AppConfig>,
    key: &State<LoginFormKey>,
) -> Result<Result<Redirect, (Status, Template)>, PageError> {
    let page_with = (config.inner(), key.inner());
    // A control character in `next` cannot become a Location header: refused
    // before the password is checked, so no session is made for a redirect
    // that could not be sent.
    if form.next.chars().any(char::is_control) {
        return Err(PageError::BadRequest(
            "next: must be a path on this site, without control characters".into(),
        ));
    }
    let next = safe_next(Some(&form.next));
    if !carries_its_cookies_token(cookies, key, &form.login_token) {
        let page = login_page(
            cookies,
            page_with,
            &next,
            Some("The login form expired. Please try again."),
        )?;
        return Ok(Err((Status::Forbidden, page)));
    }
    let username = form.username.trim().to_string();
    let password = form.password.clone();
    let name = username.clone();
    let reserved = match database
        .run(move |conn| db::users::reserve_login(conn, &name))
        .await?
    {
        Reservation::Reserved(reserved) => reserved,
        Reservation::Throttled {
            retry_after_seconds,
        } => {
            let message = throttled_message(retry_after_seconds);
            let page = login_page(cookies, page_with, &next, Some(&message))?;
            return Ok(Err((Status::TooManyRequests, page)));
        }
    };
    let accepted = check_password(password, reserved).await?;
    let name = username.clone();
    let session = database
        .run(move |conn| {
            db::users::settle_login(
                conn,
                &name,
                accepted.as_ref(),
                Duration::hours(SESSION_HOURS),
            )
        })
        .await?;
    let Some(session) = session else {
        let page = login_page(
            cookies,
            page_with,
            &next,
            Some("Unknown user name or wrong password."),
        )?;
        return Ok(Err((Status::Unauthorized, page)));
    };
    cookies.remove(Cookie::build(LOGIN_COOKIE).path("/login"));
    cookies.add(
        Cookie::build((SESSION_COOKIE, session.cookie))
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(secure_cookies(config))
            .path("/")
            .max_age(rocket::time::Duration::hours(SESSION_HOURS)),
    );
    Ok(Ok(Redirect::to(next)))
}

static HASHING: std::sync::LazyLock<rocket::tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        rocket::tokio::sync::Semaphore::new(cores)
    });

/// PBKDF2 with 600 000 iterations is deliberately slow: it runs on the blocking
/// pool without a database connection (a hundred logins at once must not stall
/// everyone's reads), at most one per core at a time, and for an unknown user
/// too (same cost: the timing does not tell which names exist).
async fn check_password(
    password: String,
    reserved: db::users::Reserved,
) -> Result<Option<AuthUser>, PageError> {
    let db::users::Reserved { user, stored_hash } = reserved;
    let matches = password_matches(password, stored_hash).await?;
    Ok(user.filter(|_| matches))
}

/// Checks a password against a stored hash on the blocking pool, at most one check per core
/// at a time (logins and approvers signing share the queue); no hash spends the same time.
pub async fn password_matches(
    password: String,
    stored_hash: Option<String>,
) -> Result<bool, PageError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|_| PageError::Internal("the hashing queue closed".into()))?;
    rocket::tokio::task::spawn_blocking(move || {
        crate::password::verify_or_spend(&password, stored_hash.as_deref())
    })
    .await
    .map_err(|error| PageError::Internal(format!("password check failed: {error}")))
}

#[derive(FromForm)]
pub struct CsrfForm {
    #[field(default = String::new())]
    pub csrf_token: String,
}

#[post("/logout", data = "<form>")]
async fn logout(
    session: Result<Session, PageError>,
    form: Form<CsrfForm>,
    cookies: &CookieJar<'_>,
    database: &State<Database>,
) -> Result<Redirect, PageError> {
    let session = session?;
    session.check_csrf(&form.csrf_token)?;
    if let Some(cookie) = cookies.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        database
            .run(move |conn| db::users::delete_session(conn, &cookie))
            .await?;
    }
    cookies.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok(Redirect::to("/login"))
}

pub fn routes() -> Vec<Route> {
    routes![login_form, login, logout]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/instruments/3")), "/instruments/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
