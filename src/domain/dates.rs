//! Calendar dates as the service reads them: `YYYY-MM-DD` from users, files
//! and the database alike, parsed in one place.

use chrono::NaiveDate;

/// "Today" is the UTC date (DESIGN section 6).
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The dates a record may carry (DESIGN section 9): a year typed wrong
/// (`0226`, `20266`, `9999`) is refused rather than stored.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => panic!("valid date"),
};
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2999, 12, 31) {
    Some(date) => date,
    None => panic!("valid date"),
};

/// Why a date is out of the range records may carry, if it is.
pub fn out_of_range(date: NaiveDate) -> Option<String> {
    (!(EARLIEST..=LATEST).contains(&date))
        .then(|| format!("must be between {EARLIEST} and {LATEST}; check the year"))
}

/// A date written `YYYY-MM-DD` (surrounding blanks ignored), as chrono's
/// `%Y-%m-%d` reads it. The plain ten-character form every client and the
/// database send is read directly: chrono's format-string parser cost more than
/// the rest of a query string on the single status check, and more than the
/// rest of reading a row in the status reader.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    iso_date(text).or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
}

/// What to do about a date that could not be read, wherever one is asked for.
pub const DATE_FORMAT_HINT: &str =
    "is not a calendar date: write it as YYYY-MM-DD (ISO 8601), e.g. 2026-03-01";

/// Whether a deserialisation message is chrono's refusal of a date string
/// (`2026-13-01`, `01/12/2026`, `20261-12-01`) or of a non-string date.
pub fn is_date_parse_failure(message: &str) -> bool {
    const CHRONO: [&str; 7] = [
        "input is out of range",
        "input is not enough for unique date and time",
        "no possible date and time matching input",
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "expected a formatted date string",
    ];
    CHRONO.iter().any(|known| message.contains(known))
}

/// Exactly `YYYY-MM-DD` with digits in place, as a real calendar date.
pub fn iso_date(text: &str) -> Option<NaiveDate> {
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
            let chrono = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
            assert_eq!(parse_date(text), chrono, "{text:?}");
        }
        assert_eq!(iso_date("2026-06-01"), NaiveDate::from_ymd_opt(2026, 6, 1));
        assert_eq!(iso_date("2023-02-29"), None);
    }
}
