//! Query-string values parsed by hand, so a bad one is a 422 naming the
//! parameter instead of Rocket's silent forward to 404.

use chrono::NaiveDate;

use crate::error::ApiError;

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 1000;

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

pub fn date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let text = text.trim();
    // The plain YYYY-MM-DD every client sends is read directly: chrono's format-string
    // parser cost more than the rest of the query string on the single status check.
    // Anything else takes chrono's parser, so what is accepted does not change.
    if let Some(date) = iso_date(text) {
        return Ok(date);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::field(field, "must be a date as YYYY-MM-DD"))
}

/// Exactly `YYYY-MM-DD` with digits in place, as a real calendar date.
fn iso_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

pub fn optional_date(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    text.map(|text| date(field, text)).transpose()
}

/// "Today" is the UTC date (DESIGN section 6).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A non-empty filter value, or None when absent or blank.
pub fn filter(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

pub fn optional_id(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|text| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| ApiError::field(field, "must be a whole number"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_directly_agree_with_chrono() {
        for text in [
            "2026-06-01",
            "2024-02-29",
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-06-31",
            "0000-01-01",
            "9999-12-31",
            "2026-6-1",
            "2026-06-1x",
            "+2026-06-01",
            " 2026-06-01 ",
            "2026/06/01",
            "",
            "2026-06-01T00:00",
        ] {
            let direct = date("at", text).ok();
            let chrono = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
            assert_eq!(direct, chrono, "{text:?}");
        }
        assert_eq!(iso_date("2026-06-01"), NaiveDate::from_ymd_opt(2026, 6, 1));
        assert_eq!(iso_date("2023-02-29"), None);
    }
}
