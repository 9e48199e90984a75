//! Query-string values parsed by hand, so a bad one is a 422 naming the
//! parameter instead of Rocket's silent forward to 404.

use chrono::NaiveDate;

use crate::domain::dates::{out_of_range, parse_date};
use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 1000;

/// A document's SHA-256 as `sha256sum` prints it (64 hex digits, either case);
/// anything else is refused rather than answered "not genuine".
pub fn sha256(text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text.map(str::trim) {
        None => Ok(None),
        Some(hash) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        Some(other) => Err(ApiError::field(
            "sha256",
            format!(
                "'{}' is not a SHA-256: give the 64 hexadecimal digits `sha256sum FILE` prints",
                other.chars().take(80).collect::<String>()
            ),
        )),
    }
}

pub fn page(page: Option<&str>, per_page: Option<&str>) -> Result<(i64, i64), ApiError> {
    let number =
        |field: &str, text: Option<&str>, default: i64, max: i64| -> Result<i64, ApiError> {
            match text {
                None => Ok(default),
                Some(text) => match text.trim().parse::<i64>() {
                    Ok(value) if (1..=max).contains(&value) => Ok(value),
                    _ => Err(ApiError::field(
                        field,
                        format!("must be a whole number from 1 to {max}"),
                    )),
                },
            }
        };
    Ok((
        number("page", page, 1, 1_000_000)?,
        number("per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE)?,
    ))
}

/// A keyset cursor (`after`), read by `parse` when given; asking for a `page` as well is a
/// 422, since the two would place the page in two ways.
pub fn keyset<T>(
    page: Option<&str>,
    field: &str,
    after: Option<&str>,
    parse: impl FnOnce(&str) -> Result<Option<T>, ApiError>,
) -> Result<Option<T>, ApiError> {
    match (page, after) {
        (_, None) => Ok(None),
        (Some(_), Some(_)) => Err(ApiError::field(
            field,
            "give either page or after, not both: after continues from the previous page's next_after",
        )),
        (None, Some(after)) => parse(after),
    }
}

/// The last item of a page that is full: where the next page (keyset) starts. A page
/// shorter than asked for is the last.
pub fn full_page<T>(items: &[T], per_page: i64) -> Option<&T> {
    items.last().filter(|_| items.len() as i64 == per_page)
}

pub fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let date = parse_date(text)
        .ok_or_else(|| ApiError::field(field, crate::domain::dates::DATE_FORMAT_HINT))?;
    match out_of_range(date) {
        Some(message) => Err(ApiError::field(field, message)),
        None => Ok(date),
    }
}

pub fn optional_date(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    text.map(|text| date(field, text)).transpose()
}

pub use crate::domain::dates::today;

/// A non-empty filter value, or None when absent or blank.
pub fn filter(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// A state named in a filter (`status=issued`), or None when absent or blank;
/// an unknown name is a 422 listing the names it may take.
pub fn state<T: std::str::FromStr<Err = String>>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, ApiError> {
    filter(text)
        .map(|name| name.parse::<T>())
        .transpose()
        .map_err(|message| ApiError::field(field, message))
}

pub fn optional_id(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|text| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| ApiError::field(field, "must be a whole number"))
    })
    .transpose()
}

/// A reason given for a rejection or a withdrawal: 1 to 1000 characters once trimmed.
pub fn reason(text: &str) -> Result<String, ApiError> {
    let reason = text.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(ApiError::field("reason", "must be 1 to 1000 characters"));
    }
    Ok(reason)
}
