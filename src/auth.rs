//! Request guards: a bearer token becomes the user holding it. Who may do
//! what (users, roles, actors) is domain knowledge, in `domain::people`.

use rocket::request::{FromRequest, Outcome, Request};

use crate::db::Database;
pub use crate::domain::people::{roles, AuthUser, UserRole};
use crate::error::ApiError;

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
            Err(error) => {
                let error = ApiError::from(error);
                Outcome::Error((error.status(), error))
            }
        }
    }
}

pub use crate::password;
