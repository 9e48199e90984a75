//! Validity for inspection agencies: one instrument, one tag, or up to 10 000
//! at once; and the recall list.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rocket::futures::stream::{self, BoxStream, StreamExt};
use rocket::response::stream::TextStream;
use rocket::serde::json::Json;
use rocket::{get, post, routes, Route, State};
use serde::{Deserialize, Serialize};

use super::body::JsonOrCsv;
use super::params;
use crate::auth::{roles, AuthUser, BearerToken};
use crate::db::{self, Database};
use crate::domain::people::Scope;
use crate::domain::validity::Validity;
use crate::error::{ApiError, Problem};
use crate::workflow::validity::{InstrumentKey, ItemValidity, StatusItem};

pub const MAX_BULK: usize = 10_000;

/// The most rows of one streamed (NDJSON) bulk request: a whole national register's check
/// in one call, answered a part at a time so memory does not grow with the list (issue 20).
pub const MAX_STREAMED: usize = 1_000_000;

/// How many rows of a streamed answer are checked at once: one validity pass (a few
/// statements) per part, each part written out before the next is read.
const STREAM_PART: usize = 5_000;

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
    /// The date of rows that give none; defaults to today (UTC).
    #[schema(value_type = Option<String>, format = Date)]
    pub at: Option<NaiveDate>,
    pub ids: Option<Vec<i64>>,
    pub asset_tags: Option<Vec<String>>,
    /// Rows with a date each (DESIGN 9c): `{"asset_tag", "at"}` or `{"id", "at"}`.
    pub items: Option<Vec<StatusItemInput>>,
}

/// One instrument (by id or asset tag) on one date.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusItemInput {
    pub id: Option<i64>,
    pub asset_tag: Option<String>,
    /// Defaults to the request's `at`, else today (UTC).
    #[schema(value_type = Option<String>, format = Date)]
    pub at: Option<NaiveDate>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkStatus {
    /// The request's date: that of rows that give none.
    #[schema(value_type = String, format = Date)]
    pub at: NaiveDate,
    pub results: Vec<ItemValidity>,
}

/// The body of a bulk request, JSON or CSV, as its rows (at most `max`): what the bulk check
/// and the validity statement both take.
pub fn bulk_rows(
    body: JsonOrCsv<BulkStatusInput>,
    max: usize,
) -> Result<(NaiveDate, Vec<StatusItem>), ApiError> {
    let input = match body {
        JsonOrCsv::Json(input) => input,
        JsonOrCsv::Csv(text) => csv_status_input(&text)?,
    };
    status_items(input, max)
}

/// The rows a bulk request asks for, in order: exactly one of `ids`, `asset_tags`
/// and `items`, at most `max` rows. Used by validity statements too.
fn status_items(
    input: BulkStatusInput,
    max: usize,
) -> Result<(NaiveDate, Vec<StatusItem>), ApiError> {
    let at = input.at.unwrap_or_else(params::today);
    let given = [
        input.ids.is_some(),
        input.asset_tags.is_some(),
        input.items.is_some(),
    ];
    let named: Vec<&str> = ["ids", "asset_tags", "items"]
        .into_iter()
        .zip(given)
        .filter_map(|(name, given)| given.then_some(name))
        .collect();
    if named.len() != 1 {
        // The second list given, or `ids` when none is.
        let field = named.get(1).copied().unwrap_or("ids");
        return Err(ApiError::field(
            field,
            "give exactly one of ids, asset_tags or items",
        ));
    }
    let (field, rows) = if let Some(ids) = input.ids {
        let rows = ids.into_iter().map(|id| (InstrumentKey::Id(id), at));
        ("ids", rows.collect::<Vec<_>>())
    } else if let Some(tags) = input.asset_tags {
        let rows = tags.into_iter().map(|tag| (InstrumentKey::Tag(tag), at));
        ("asset_tags", rows.collect())
    } else {
        let items = input.items.unwrap_or_default();
        let rows = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Ok((item_key(i, item.id, item.asset_tag)?, item.at.unwrap_or(at))))
            .collect::<Result<Vec<_>, ApiError>>()?;
        ("items", rows)
    };
    if rows.len() > max {
        let how = match max {
            MAX_BULK => "split the list, or ask for application/x-ndjson to have it streamed",
            _ => "split the list",
        };
        return Err(ApiError::field(
            field,
            format!("at most {max} per request; {how}"),
        ));
    }
    let items = rows
        .into_iter()
        .map(|(instrument, at)| StatusItem { instrument, at })
        .collect();
    Ok((at, items))
}

/// A row names its instrument by id or by asset tag, not both.
fn item_key(row: usize, id: Option<i64>, tag: Option<String>) -> Result<InstrumentKey, ApiError> {
    match (id, tag) {
        (Some(id), None) => Ok(InstrumentKey::Id(id)),
        (None, Some(tag)) => Ok(InstrumentKey::Tag(tag)),
        (Some(_), Some(_)) => Err(ApiError::field(
            format!("items[{row}].asset_tag"),
            "give either id or asset_tag, not both",
        )),
        (None, None) => Err(ApiError::field(
            format!("items[{row}].asset_tag"),
            "give the instrument's asset_tag (or its id)",
        )),
    }
}

/// A CSV body (DESIGN 9c): a header `asset_tag,at` or `id,at`, then one row per
/// instrument; an empty `at` is the request's date. Errors name the row as
/// `items[i]` (data rows from 0) and the line.
fn csv_status_input(text: &str) -> Result<BulkStatusInput, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ApiError::field("body", format!("not CSV: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let by_tag = match header.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["asset_tag", "at"] => true,
        ["id", "at"] => false,
        _ => {
            return Err(ApiError::field(
                "body",
                "the first line must be the header asset_tag,at or id,at",
            ))
        }
    };
    let mut items = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| {
            ApiError::field(
                format!("items[{i}]"),
                format!("line {line} is not a CSV row of two columns: {e}"),
            )
        })?;
        let (key, at) = (record.get(0).unwrap_or(""), record.get(1).unwrap_or(""));
        let at = match at {
            "" => None,
            text => Some(crate::domain::dates::parse_date(text).ok_or_else(|| {
                ApiError::field(
                    format!("items[{i}].at"),
                    format!("line {line}: '{text}' is not a date written YYYY-MM-DD"),
                )
            })?),
        };
        let (id, asset_tag) = match (by_tag, key) {
            (_, "") => (None, None),
            (true, tag) => (None, Some(tag.to_string())),
            (false, id) => (
                Some(id.parse::<i64>().map_err(|_| {
                    ApiError::field(
                        format!("items[{i}].id"),
                        format!("line {line}: '{id}' is not an instrument id (a whole number)"),
                    )
                })?),
                None,
            ),
        };
        items.push(StatusItemInput { id, asset_tag, at });
    }
    Ok(BulkStatusInput {
        at: None,
        ids: None,
        asset_tags: None,
        items: Some(items),
    })
}

/// The answer as CSV, one line per row asked, text cells spreadsheet-safe.
fn csv_answer(answer: &BulkStatus) -> Result<String, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "asset_tag",
        "at",
        "valid",
        "reason",
        "manufacturer",
        "model",
        "serial_number",
        "certificate_number",
        "calibrated_on",
        "due_on",
    ];
    let failed = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    writer.write_record(header).map_err(failed)?;
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(crate::import::spreadsheet_safe)
            .unwrap_or_default()
    };
    let date = |v: Option<NaiveDate>| v.map(|d| d.to_string()).unwrap_or_default();
    for row in &answer.results {
        let v = &row.validity;
        writer
            .write_record([
                row.id.map(|id| id.to_string()).unwrap_or_default(),
                text(&row.asset_tag),
                row.at.to_string(),
                v.valid.to_string(),
                v.reason.as_str().to_string(),
                text(&row.manufacturer),
                text(&row.model),
                text(&row.serial_number),
                text(&v.certificate_number),
                date(v.calibrated_on),
                date(v.due_on),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A bulk answer as JSON, as CSV when the client asks for `text/csv`, or one JSON row per
/// line, streamed, when it asks for `application/x-ndjson`.
pub enum BulkAnswer {
    Json(Json<BulkStatus>),
    Csv(String),
    Ndjson(TextStream<BoxStream<'static, String>>),
}

// By hand: the derive asks for a response that outlives the request, which a stream's is not.
impl<'r> rocket::response::Responder<'r, 'r> for BulkAnswer {
    fn respond_to(self, request: &'r rocket::Request<'_>) -> rocket::response::Result<'r> {
        use rocket::http::ContentType;
        match self {
            BulkAnswer::Json(json) => json.respond_to(request),
            BulkAnswer::Csv(text) => (ContentType::CSV, text).respond_to(request),
            BulkAnswer::Ndjson(lines) => {
                (ContentType::new("application", "x-ndjson"), lines).respond_to(request)
            }
        }
    }
}

/// The answer format a client prefers (its Accept header): JSON unless it names CSV or NDJSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    Json,
    Csv,
    Ndjson,
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for AnswerFormat {
    type Error = std::convert::Infallible;

    async fn from_request(
        request: &'r rocket::Request<'_>,
    ) -> rocket::request::Outcome<Self, Self::Error> {
        let preferred = request
            .accept()
            .map(|accept| accept.preferred().media_type());
        let format = match preferred {
            Some(media) if media == &rocket::http::MediaType::CSV => AnswerFormat::Csv,
            Some(media) if media.top() == "application" && media.sub() == "x-ndjson" => {
                AnswerFormat::Ndjson
            }
            _ => AnswerFormat::Json,
        };
        rocket::request::Outcome::Success(format)
    }
}

/// Each part of the rows checked and written out before the next is read, so the answer
/// of 100 000 rows never sits in memory whole. A failure after the first line cannot change
/// the status any more: it ends the stream with an `{"error": …}` line.
fn streamed(
    database: Database,
    items: Vec<StatusItem>,
    scope: Scope,
) -> TextStream<BoxStream<'static, String>> {
    let lines = stream::unfold(
        Some((database, items.into_iter(), scope)),
        |state| async move {
            let (database, mut items, scope) = state?;
            let part: Vec<StatusItem> = items.by_ref().take(STREAM_PART).collect();
            if part.is_empty() {
                return None;
            }
            let scope_now = scope.clone();
            let answer = database
                .run(move |conn| crate::workflow::validity::check(conn, &part, &scope_now))
                .await;
            Some(match answer {
                Ok(rows) => (ndjson_lines(&rows), Some((database, items, scope))),
                Err(error) => {
                    let line = serde_json::json!({"error": ApiError::from(error).to_string()});
                    (format!("{line}\n"), None)
                }
            })
        },
    );
    TextStream(lines.boxed())
}

fn ndjson_lines(rows: &[ItemValidity]) -> String {
    let mut text = String::with_capacity(rows.len() * 256);
    for row in rows {
        // An ItemValidity always serialises (plain fields, no maps with non-string keys).
        if let Ok(line) = serde_json::to_string(row) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
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
    let answer = one(database, token, InstrumentRef::Id(id), at).await?;
    Ok(Json(explained(database, answer).await?))
}

/// The answer with its withdrawal's or status change's date and reason, when it has one:
/// a second short read, only for those (rare) verdicts, so the hot path keeps one statement.
async fn explained(
    database: &Database,
    mut answer: InstrumentValidity,
) -> Result<InstrumentValidity, ApiError> {
    let Some(id) = answer.id.filter(|_| answer.validity.reason.has_detail()) else {
        return Ok(answer);
    };
    database
        .run_short_read(move |conn| -> Result<_, ApiError> {
            db::validity::explain(conn, id, answer.at, &mut answer.validity)?;
            Ok(answer)
        })
        .await
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
    let answer = one(
        database,
        token,
        InstrumentRef::Tag(asset_tag.to_string()),
        at,
    )
    .await?;
    Ok(Json(explained(database, answer).await?))
}

/// Validity of up to 10 000 instruments (by id or asset tag), on one date or each on its
/// own, in the order asked; JSON or CSV in and out; up to 1 000 000 streamed as NDJSON.
#[utoipa::path(
    tag = "validity",
    request_body(content(
        (BulkStatusInput = "application/json"),
        (String = "text/csv", example = "asset_tag,at\nPG-0001,2026-06-01\n")
    )),
    responses(
        (status = 200, description = "The validity of each instrument asked for, in the order asked, each row with its date, the instrument's manufacturer, model and serial number and the certificate the verdict rests on; one that is not registered is reported as unknown. CSV when the request accepts text/csv; with Accept: application/x-ndjson, one row per line (each as in results), streamed, up to 1 000 000 rows",
            content((BulkStatus = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, body = Problem, description = "The body is not JSON (or not UTF-8 text)"),
        (status = 401, body = Problem, description = "No valid bearer token: missing, unknown or revoked"),
        (status = 413, body = Problem, description = "The body is larger than the request limit"),
        (status = 422, body = Problem, description = "Give exactly one of ids, asset_tags or items, at most 10 000 (1 000 000 streamed as application/x-ndjson); each item an id or an asset_tag and a date YYYY-MM-DD; a CSV body starts with the header asset_tag,at or id,at")
    ),
    security(("bearer" = []))
)]
#[post("/api/v1/instruments/status", data = "<body>")]
pub async fn bulk_status(
    user: Result<AuthUser, ApiError>,
    body: Result<JsonOrCsv<BulkStatusInput>, ApiError>,
    format: AnswerFormat,
    database: &State<Database>,
) -> Result<BulkAnswer, ApiError> {
    let scope = user?.require(roles::ANY)?.scope.clone();
    if format == AnswerFormat::Ndjson {
        let (_, items) = bulk_rows(body?, MAX_STREAMED)?;
        let database = database.inner().clone();
        return Ok(BulkAnswer::Ndjson(streamed(database, items, scope)));
    }
    let (at, items) = bulk_rows(body?, MAX_BULK)?;
    let results = database
        .run(move |conn| crate::workflow::validity::check(conn, &items, &scope))
        .await?;
    let answer = BulkStatus { at, results };
    Ok(match format {
        AnswerFormat::Csv => BulkAnswer::Csv(csv_answer(&answer)?),
        _ => BulkAnswer::Json(Json(answer)),
    })
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
        .run(move |conn| db::validity::recalled(conn, horizon, &scope))
        .await?;
    let mut by_customer: BTreeMap<Option<String>, Vec<RecallItem>> = BTreeMap::new();
    for (id, asset_tag, customer, due_on) in due {
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
