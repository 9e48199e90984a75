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
