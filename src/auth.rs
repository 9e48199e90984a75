//! Request guards: bearer token -> user -> role checks.

use rocket::request::{FromRequest, Outcome, Request};

use crate::db::audit::Actor;
use crate::db::Database;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Admin,
    Technician,
    Approver,
    Inspector,
    Auditor,
}

impl UserRole {
    pub const ALL: [UserRole; 5] = [
        UserRole::Admin,
        UserRole::Technician,
        UserRole::Approver,
        UserRole::Inspector,
        UserRole::Auditor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Technician => "technician",
            UserRole::Approver => "approver",
            UserRole::Inspector => "inspector",
            UserRole::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<UserRole> {
        UserRole::ALL.into_iter().find(|role| role.name() == text)
    }
}

/// Roles allowed by a route.
pub mod roles {
    use super::UserRole::{self, *};
    /// Every authenticated role reads the register, statuses, calibrations…
    pub const ANY: &[UserRole] = &[Admin, Technician, Approver, Inspector, Auditor];
    pub const REGISTER_WRITERS: &[UserRole] = &[Admin, Technician];
    pub const AUDIT_READERS: &[UserRole] = &[Auditor, Admin];
    pub const TECHNICIANS: &[UserRole] = &[Technician];
    pub const APPROVERS: &[UserRole] = &[Approver];
    pub const WITHDRAWERS: &[UserRole] = &[Approver, Admin];
    pub const CMC_MANAGERS: &[UserRole] = &[Admin];
    pub const CERTIFICATE_LISTERS: &[UserRole] = &[Auditor, Approver, Admin];
    /// Impact analysis: technician, approver, auditor, admin.
    pub const IMPACT_READERS: &[UserRole] = &[Technician, Approver, Auditor, Admin];
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthUser {
    pub id: i64,
    pub name: String,
    pub roles: Vec<UserRole>,
}

impl AuthUser {
    /// 403 unless the user holds one of the allowed roles.
    pub fn require(&self, allowed: &[UserRole]) -> Result<&AuthUser, ApiError> {
        if self.roles.iter().any(|role| allowed.contains(role)) {
            Ok(self)
        } else {
            let names: Vec<&str> = allowed.iter().map(|role| role.name()).collect();
            Err(ApiError::Forbidden(format!(
                "this action needs one of the roles: {}",
                names.join(", ")
            )))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            name: self.name.clone(),
        }
    }
}

/// The bearer token of a request, not yet checked against the database: for
/// hot routes that authenticate inside their own database call.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerToken {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let token = request
            .headers()
            .get_one("Authorization")
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_string())
            })
            .filter(|token| !token.is_empty() && token.len() <= 200);
        match token {
            Some(token) => Outcome::Success(BearerToken(token)),
            None => Outcome::Error((rocket::http::Status::Unauthorized, ApiError::Unauthorized)),
        }
    }
}

impl BearerToken {
    /// The user holding this token, on a connection the caller already has.
    pub fn authenticate(&self, conn: &mut crate::db::DbConnection) -> Result<AuthUser, ApiError> {
        crate::db::users::user_for_token(conn, &self.0)?.ok_or(ApiError::Unauthorized)
    }
}

/// Handlers take `Result<AuthUser, ApiError>` and apply `?` first, so a missing
/// token is a 401 problem+json before anything else about the request is judged.
#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let token = match BearerToken::from_request(request).await {
            Outcome::Success(BearerToken(token)) => token,
            Outcome::Error(error) => return Outcome::Error(error),
            Outcome::Forward(status) => return Outcome::Forward(status),
        };
        let Some(database) = request.rocket().state::<Database>() else {
            let error = ApiError::Internal("database not configured".to_string());
            return Outcome::Error((error.status(), error));
        };
        match database
            .run(move |conn| crate::db::users::user_for_token(conn, &token))
            .await
        {
            Ok(Some(user)) => {
                request.local_cache(|| crate::metrics::RequestUser(Some(user.name.clone())));
                Outcome::Success(user)
            }
            Ok(None) => {
                Outcome::Error((rocket::http::Status::Unauthorized, ApiError::Unauthorized))
            }
            Err(error) => Outcome::Error((error.status(), error)),
        }
    }
}

/// Password storage for the web login: PBKDF2-HMAC-SHA256 with a random 128-bit salt and
/// 600 000 iterations (OWASP's 2023 figure for this PRF). The parameters travel with the hash
/// (`pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`) so they can be raised later without
/// invalidating stored passwords.
pub mod password {
    use crate::domain::audit::hex;

    pub const ITERATIONS: u32 = 600_000;
    const SCHEME: &str = "pbkdf2-sha256";

    fn derive(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
        out
    }

    fn unhex(text: &str) -> Option<Vec<u8>> {
        if !text.len().is_multiple_of(2) {
            return None;
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect()
    }

    /// A new stored hash of `password`.
    pub fn hash(password: &str) -> Result<String, String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| format!("no randomness: {error}"))?;
        Ok(format!(
            "{SCHEME}${ITERATIONS}${}${}",
            hex(&salt),
            hex(&derive(password, &salt, ITERATIONS))
        ))
    }

    /// Does `password` match the stored hash? Compared in constant time.
    pub fn verify(password: &str, stored: &str) -> bool {
        let mut parts = stored.split('$');
        let (Some(SCHEME), Some(iterations), Some(salt), Some(expected), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return false;
        };
        let (Ok(iterations), Some(salt), Some(expected)) =
            (iterations.parse::<u32>(), unhex(salt), unhex(expected))
        else {
            return false;
        };
        if iterations == 0 || expected.len() != 32 {
            return false;
        }
        let actual = derive(password, &salt, iterations);
        actual
            .iter()
            .zip(expected.iter())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }

    /// Length and content rules for a new password (NIST SP 800-63B: length, not composition).
    pub fn acceptable(password: &str) -> Result<(), String> {
        let length = password.chars().count();
        if length < 10 {
            return Err("must be at least 10 characters".to_string());
        }
        if length > 200 {
            return Err("must be at most 200 characters".to_string());
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// RFC 7914 section 11 test vector for PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1).
        #[test]
        fn matches_the_rfc_7914_vector() {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"passwd", b"salt", 1, &mut out);
            assert_eq!(
                hex(&out),
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                 49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
            );
        }

        #[test]
        fn verifies_only_the_right_password() {
            let stored = format!(
                "{SCHEME}$1000${}${}",
                hex(b"0123456789abcdef"),
                hex(&derive("correct horse", b"0123456789abcdef", 1000))
            );
            assert!(verify("correct horse", &stored));
            assert!(!verify("correct horsE", &stored));
            assert!(!verify("correct horse", "plain"));
            assert!(!verify("correct horse", "pbkdf2-sha256$0$00$00"));
            assert!(!verify("correct horse", &format!("{stored}$extra")));
        }

        #[test]
        fn new_hashes_carry_their_parameters_and_differ_by_salt() {
            let first = hash("a long enough password").unwrap();
            let second = hash("a long enough password").unwrap();
            assert!(first.starts_with("pbkdf2-sha256$600000$"));
            assert_ne!(first, second);
            assert!(verify("a long enough password", &first));
        }

        #[test]
        fn short_passwords_are_refused() {
            assert!(acceptable("short").is_err());
            assert!(acceptable("ten chars!").is_ok());
        }
    }
}
