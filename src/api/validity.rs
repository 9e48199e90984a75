//! Validity for inspection agencies: one instrument, one tag, or up to 10 000
//! at once; and the recall list.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::params;
use crate::auth::{roles, AuthUser, BearerToken};
use crate::db::{self, Database};
use crate::domain::people::Scope;
use crate::domain::validity::Validity;
use crate::error::{ApiError, Problem};

pub const MAX_BULK: usize = 10_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct InstrumentValidity {
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_tag: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub at: NaiveDate,
    #[serde(flatten)]
    pub validity: Validity,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStatusInput {
    /// Defaults to today (UTC).
    #[schema(value_type = Option<String>, format = Date)]
    pub at: Option<NaiveDate>,
    pub ids: Option<Vec<i64>>,
    pub asset_tags: Option<Vec<String>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkStatus {
    #[schema(value_type = String, format = Date)]
    pub at: NaiveDate,
    pub results: Vec<InstrumentValidity>,
}

fn at_or_today(at: Option<&str>) -> Result<NaiveDate, ApiError> {
    Ok(params::optional_date("at", at)?.unwrap_or_else(params::today))
}

/// Authenticates and answers: the single status check is the agencies' hot
/// path. By id, the token lookup and the status are one statement — on SQLite
/// the one `db::status_reader` keeps prepared, on PostgreSQL
/// `validity_of_one_for_token`. The order of refusals stays that of every route:
/// 401, 403, then 422 for `at`, then 404.
async fn one(
    database: &Database,
    token: Result<BearerToken, ApiError>,
    instrument: InstrumentRef,
    at: Option<&str>,
) -> Result<InstrumentValidity, ApiError> {
    let token = token?;
    let parsed_at = at_or_today(at);
    if let (Some(readers), InstrumentRef::Id(id), Ok(at)) =
        (database.status_readers(), &instrument, &parsed_at)
    {
        // SQLite, by id: the prepared statement on the worker itself (db::status_reader).
        let answer = readers.validity_for_token(&db::users::hash_token(&token.0), *id, *at)?;
        if !may_be_scoped(&answer) {
            return by_id(answer, *id, *at);
        }
    }
    database
        .run_short_read(move |conn| -> Result<_, ApiError> {
            if let (InstrumentRef::Id(id), Ok(at)) = (&instrument, &parsed_at) {
                let answer = db::validity::validity_of_one_for_token(conn, &token.0, *id, *at)?;
                if !may_be_scoped(&answer) {
                    return by_id(answer, *id, *at);
                }
            }
            // A customer or an inspector: its scope is looked up and the instrument
            // must be in it, else 404 as for one that does not exist.
            let user = token.authenticate(conn)?;
            let scope = &user.require(roles::ANY)?.scope;
            let at = parsed_at?;
            let (id, asset_tag) = match instrument {
                InstrumentRef::Id(id) => {
                    db::instruments::require_visible(conn, id, scope)?;
                    (id, None)
                }
                InstrumentRef::Tag(tag) => (
                    db::instruments::get_by_tag(conn, &tag, scope)?.id,
                    Some(tag),
                ),
            };
            let validity = db::validity::validity_of_one(conn, id, at)?
                .ok_or_else(|| ApiError::NotFound(format!("no instrument with id {id}")))?;
            Ok(InstrumentValidity {
                id: Some(id),
                asset_tag,
                at,
                validity,
            })
        })
        .await
}

/// Whether the fast path's user is narrowed to some customers (a customer, or an
/// inspector bound to some; the fast statement says so without their ids): those
/// take the path that looks their scope up. An unbound inspector stays on it.
fn may_be_scoped(answer: &Option<(AuthUser, Option<Validity>)>) -> bool {
    answer
        .as_ref()
        .is_some_and(|(user, _)| user.scope != Scope::Everything)
}

/// The answer of a status check by id, token included: 401 for an unknown or
/// revoked token, 403 for a user without a role, 404 for an unknown instrument.
fn by_id(
    answer: Option<(AuthUser, Option<Validity>)>,
    id: i64,
    at: NaiveDate,
) -> Result<InstrumentValidity, ApiError> {
    let (user, validity) = answer.ok_or(ApiError::Unauthorized)?;
    user.require(roles::ANY)?;
    let validity =
        validity.ok_or_else(|| ApiError::NotFound(format!("no instrument with id {id}")))?;
    Ok(InstrumentValidity {
        id: Some(id),
        asset_tag: None,
        at,
        validity,
    })
}

enum InstrumentRef {
    Id(i64),
    Tag(String),
}

/// Is the instrument validly calibrated on `at` (default today), and why not.
#[utoipa::path(
    tag = "validity",
    params(("at" = Option<chrono::NaiveDate>, Query, description = "YYYY-MM-DD, default today (UTC)")),
    responses(
        (status = 200, body = InstrumentValidity, description = "Whether the instrument is validly calibrated on the date and, if not, why"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No instrument with this id"),
        (status = 422, body = Problem, description = "at is not a date written YYYY-MM-DD")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/<id>/status?<at>")]
pub async fn status(
    token: Result<BearerToken, ApiError>,
    id: i64,
    at: Option<&str>,
    database: &State<Database>,
) -> Result<Json<InstrumentValidity>, ApiError> {
    Ok(Json(one(database, token, InstrumentRef::Id(id), at).await?))
}

/// The same, by asset tag.
#[utoipa::path(
    tag = "validity",
    params(("at" = Option<chrono::NaiveDate>, Query, description = "YYYY-MM-DD, default today (UTC)")),
    responses(
        (status = 200, body = InstrumentValidity, description = "Whether the instrument is validly calibrated on the date and, if not, why"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 404, body = Problem, description = "No instrument with this asset tag"),
        (status = 422, body = Problem, description = "at is not a date written YYYY-MM-DD")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/instruments/by-tag/<asset_tag>/status?<at>")]
pub async fn status_by_tag(
    token: Result<BearerToken, ApiError>,
    asset_tag: &str,
    at: Option<&str>,
    database: &State<Database>,
) -> Result<Json<InstrumentValidity>, ApiError> {
    Ok(Json(
        one(
            database,
            token,
            InstrumentRef::Tag(asset_tag.to_string()),
            at,
        )
        .await?,
    ))
}

/// Validity of up to 10 000 instruments (by id or asset tag) on one date, in the order asked.
#[utoipa::path(
    tag = "validity", request_body = BulkStatusInput,
    responses(
        (status = 200, body = BulkStatus, description = "The validity of each instrument asked for, in the order asked; one that is not registered is reported as unknown"),
        (status = 400, body = Problem, description = "The body is not JSON"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 422, body = Problem, description = "Give either ids or asset_tags, not both, and at most 10 000")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/status", data = "<body>")]
pub async fn bulk_status(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonBody<BulkStatusInput>, ApiError>,
    database: &State<Database>,
) -> Result<Json<BulkStatus>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let input = body?.0;
    let at = input.at.unwrap_or_else(params::today);
    let results = match (input.ids, input.asset_tags) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "asset_tags",
                "give either ids or asset_tags, not both",
            ))
        }
        (None, None) => return Err(ApiError::field("ids", "give ids or asset_tags")),
        (Some(ids), None) => {
            if ids.len() > MAX_BULK {
                return Err(ApiError::field(
                    "ids",
                    format!("at most {MAX_BULK} per request"),
                ));
            }
            let asked = ids.clone();
            let mut answers = database
                .run(move |conn| db::validity::validity_of(conn, &asked, at, &scope))
                .await?;
            ids.into_iter()
                .map(|id| InstrumentValidity {
                    id: Some(id),
                    asset_tag: None,
                    at,
                    validity: answers
                        .remove(&id)
                        .unwrap_or_else(Validity::unknown_instrument),
                })
                .collect()
        }
        (None, Some(tags)) => {
            if tags.len() > MAX_BULK {
                return Err(ApiError::field(
                    "asset_tags",
                    format!("at most {MAX_BULK} per request"),
                ));
            }
            let asked = tags.clone();
            let (ids, answers) = database
                .run(move |conn| -> Result<_, ApiError> {
                    let ids = db::validity::ids_of_tags(conn, &asked, &scope)?;
                    let id_list: Vec<i64> = ids.values().copied().collect();
                    Ok((ids, db::validity::validity_of(conn, &id_list, at, &scope)?))
                })
                .await?;
            tags.into_iter()
                .map(|tag| {
                    let id = ids.get(&db::validity::tag_key(&tag)).copied();
                    let validity = id
                        .and_then(|id| answers.get(&id).cloned())
                        .unwrap_or_else(Validity::unknown_instrument);
                    InstrumentValidity {
                        id,
                        asset_tag: Some(tag),
                        at,
                        validity,
                    }
                })
                .collect()
        }
    };
    Ok(Json(BulkStatus { at, results }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecallItem {
    pub id: i64,
    pub asset_tag: String,
    #[schema(value_type = String, format = Date)]
    pub due_on: NaiveDate,
    /// `overdue` (due date passed) or `due` (within the window).
    pub reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerRecall {
    pub customer: Option<String>,
    pub instruments: Vec<RecallItem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Recalls {
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub within: i64,
    pub customers: Vec<CustomerRecall>,
}

/// Instruments due for calibration within `within` days (default 30) or overdue, by customer.
#[utoipa::path(
    tag = "validity",
    params(("within" = Option<i64>, Query, minimum = 0, maximum = 3650, description = "days ahead, default 30")),
    responses(
        (status = 200, body = Recalls, description = "The instruments overdue or due for calibration within the window, by customer"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 422, body = Problem, description = "within is not a whole number of days from 0 to 3650")
    ),
    security(("bearer" = []))
)]
#[get("/api/v1/recalls?<within>")]
pub async fn recalls(
    user: Result<AuthUser, ApiError>,
    within: Option<&str>,
    database: &State<Database>,
) -> Result<Json<Recalls>, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    let within = match within {
        None => 30,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(days) if (0..=3650).contains(&days) => days,
            _ => {
                return Err(ApiError::field(
                    "within",
                    "must be a whole number of days from 0 to 3650",
                ))
            }
        },
    };
    let as_of = params::today();
    let horizon = as_of + chrono::Days::new(within as u64);
    let due = database
        .run(move |conn| db::validity::due_by(conn, as_of, horizon, &scope))
        .await?;
    let mut by_customer: BTreeMap<Option<String>, Vec<RecallItem>> = BTreeMap::new();
    for (id, asset_tag, customer, due_on, _validity) in due {
        let reason = if due_on < as_of { "overdue" } else { "due" }.to_string();
        by_customer.entry(customer).or_default().push(RecallItem {
            id,
            asset_tag,
            due_on,
            reason,
        });
    }
    let customers = by_customer
        .into_iter()
        .map(|(customer, instruments)| CustomerRecall {
            customer,
            instruments,
        })
        .collect();
    Ok(Json(Recalls {
        as_of,
        within,
        customers,
    }))
}

pub fn routes() -> Vec<Route> {
    routes![status, status_by_tag, bulk_status, recalls]
}
