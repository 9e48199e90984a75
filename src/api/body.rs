//! JSON request bodies: a body that is not JSON is 400; JSON of the wrong shape
//! is 422 naming the JSON path of the offending field.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::outcome::Outcome;
use rocket::request::Request;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::domain::dates::{is_date_parse_failure, DATE_FORMAT_HINT};
use crate::error::ApiError;

/// A JSON body; handlers take `Result<JsonBody<T>, ApiError>` so authentication
/// is judged before the body.
pub struct JsonBody<T>(pub T);

/// A body that may be empty (e.g. an optional `{"reason": …}`).
pub struct OptionalJsonBody<T>(pub Option<T>);

/// Appends the field a serde message names ("missing field `x`") to the path
/// where it was found, so the client learns `range.max`, not `range`.
fn field_path(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let base = if path == "." { "" } else { path };
    match named {
        Some(name) if !base.ends_with(name) => {
            if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}.{name}")
            }
        }
        _ => base.to_string(),
    }
}

pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let out_of_range = message.starts_with("number out of range");
        // Serde stops at the first problem: `[1,2` fails as "a sequence, expected a
        // map" before the missing bracket is reached, so check the syntax first.
        let syntax_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        match inner.classify() {
            _ if !syntax_ok && !out_of_range => {
                ApiError::MalformedJson(format!("the request body is not valid JSON: {message}"))
            }
            Category::Data => {
                let reason = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_string();
                let field = field_path(&path, &reason);
                match is_date_parse_failure(&reason) {
                    true => ApiError::field(field, DATE_FORMAT_HINT),
                    false => ApiError::field(field, reason),
                }
            }
            // A number too large for a double is valid JSON syntax but not a finite value.
            Category::Syntax if out_of_range => {
                ApiError::field(field_path(&path, ""), "must be a finite number")
            }
            _ => ApiError::MalformedJson(format!("the request body is not valid JSON: {message}")),
        }
    })?;
    deserializer.end().map_err(|error| {
        ApiError::MalformedJson(format!("the request body is not valid JSON: {error}"))
    })?;
    Ok(value)
}

async fn read_body(request: &Request<'_>, data: Data<'_>) -> Result<String, ApiError> {
    let limit = request
        .limits()
        .get("json")
        .unwrap_or_else(|| 1.mebibytes());
    let body = data.open(limit).into_string().await.map_err(|error| {
        ApiError::MalformedJson(format!("the request body is not UTF-8 text: {error}"))
    })?;
    if !body.is_complete() {
        return Err(ApiError::PayloadTooLarge(format!(
            "the request body exceeds the limit of {limit}"
        )));
    }
    Ok(body.into_inner())
}

fn outcome<'r, T>(result: Result<T, ApiError>) -> data::Outcome<'r, T, ApiError> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(error) => Outcome::Error((error.status(), error)),
    }
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let result = match read_body(request, data).await {
            Ok(text) if text.trim().is_empty() => Err(ApiError::MalformedJson(
                "the request body is empty; a JSON object is expected".to_string(),
            )),
            Ok(text) => parse_json(&text).map(JsonBody),
            Err(error) => Err(error),
        };
        outcome(result)
    }
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for OptionalJsonBody<T> {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let result = match read_body(request, data).await {
            Ok(text) if text.trim().is_empty() => Ok(OptionalJsonBody(None)),
            Ok(text) => parse_json(&text).map(|value| OptionalJsonBody(Some(value))),
            Err(error) => Err(error),
        };
        outcome(result)
    }
}

/// A body that is JSON, or CSV when sent as `text/csv` (bulk checks that an agency
/// keeps in a spreadsheet); the CSV text is handed over unparsed.
pub enum JsonOrCsv<T> {
    Json(T),
    Csv(String),
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonOrCsv<T> {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let csv = request
            .content_type()
            .is_some_and(|kind| kind.media_type() == &rocket::http::MediaType::CSV);
        if !csv {
            return match JsonBody::<T>::from_data(request, data).await {
                Outcome::Success(JsonBody(value)) => Outcome::Success(JsonOrCsv::Json(value)),
                Outcome::Error(error) => Outcome::Error(error),
                Outcome::Forward(forward) => Outcome::Forward(forward),
            };
        }
        outcome(read_body(request, data).await.map(JsonOrCsv::Csv))
    }
}

/// A file sent as the body (the issuer's certificate of an external calibration): its media
/// type (without parameters, lower case) and its bytes, at most
/// [`crate::domain::issuer_file::MAX_BYTES`]; over that, 413 and nothing is kept.
pub struct FileBody {
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for FileBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        use crate::domain::issuer_file::MAX_BYTES;
        let content_type = request
            .content_type()
            .map(|ct| format!("{}/{}", ct.top(), ct.sub()).to_ascii_lowercase());
        let result = match data.open(MAX_BYTES.bytes()).into_bytes().await {
            Ok(body) if body.is_complete() => Ok(FileBody {
                content_type,
                bytes: body.into_inner(),
            }),
            Ok(_) => Err(ApiError::PayloadTooLarge(format!(
                "the file is larger than {} MiB: send the issuer's certificate alone (a PDF or \
                 a DCC), at most {} MiB",
                MAX_BYTES >> 20,
                MAX_BYTES >> 20
            ))),
            Err(error) => Err(ApiError::MalformedJson(format!(
                "the request body could not be read: {error}"
            ))),
        };
        outcome(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        value: f64,
        unit: String,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        points: Vec<Inner>,
    }

    fn field_of(text: &str) -> (u16, String) {
        match parse_json::<Outer>(text).unwrap_err() {
            ApiError::Validation(errors) => (422, errors[0].field.clone()),
            other => (other.status().code, String::new()),
        }
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_name_the_path() {
        assert_eq!(field_of("{\"name\": "), (400, String::new()));
        assert_eq!(field_of("not json"), (400, String::new()));
        assert_eq!(
            field_of("{\"name\":\"a\",\"points\":[]} trailing"),
            (400, String::new())
        );
        assert_eq!(field_of("{\"points\": []}"), (422, "name".into()));
        assert_eq!(field_of("[1,2"), (400, String::new()));
        assert_eq!(field_of("{\"name\": 5, "), (400, String::new()));
        assert_eq!(
            field_of("{\"name\":\"a\",\"points\":[{\"value\":1,\"unit\":\"m\"},{\"value\":\"x\",\"unit\":\"m\"}]}"),
            (422, "points[1].value".into())
        );
        assert_eq!(
            field_of("{\"name\":\"a\",\"points\":[{\"value\":1}]}"),
            (422, "points[0].unit".into())
        );
        assert_eq!(
            field_of("{\"name\":\"a\",\"points\":[{\"value\":1e999,\"unit\":\"m\"}]}"),
            (422, "points[0].value".into())
        );
        assert_eq!(
            field_of("{\"name\":\"a\",\"points\":[],\"extra\":1}"),
            (422, "extra".into())
        );
    }
}
