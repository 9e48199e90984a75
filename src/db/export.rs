//! What a period export reads (DESIGN 9c): the certificates issued in a period a page at a
//! time by number, and one certificate's stored documents (a page's audit entries come from
//! `audit::entries_about`) — each an indexed read, so an export of ten thousand
//! certificates never holds more than one page of them.

use chrono::NaiveDate;
use diesel::prelude::*;

use super::schema::certificates;
use super::{DbConnection, DbResult};

/// Up to `limit` certificates issued from `from` to `to` (inclusive) with numbers after
/// `after`: (number, the calibration it certifies).
pub fn issued_between(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    after: &str,
    limit: i64,
) -> DbResult<Vec<(String, i64)>> {
    Ok(certificates::table
        .select((certificates::number, certificates::calibration_id))
        .filter(certificates::issued_on.ge(from))
        .filter(certificates::issued_on.le(to))
        .filter(certificates::number.gt(after))
        .order(certificates::number.asc())
        .limit(limit)
        .load(conn)?)
}

/// A certificate's stored PDF and DCC, byte for byte.
pub fn documents(conn: &mut DbConnection, number: &str) -> DbResult<(Vec<u8>, Vec<u8>)> {
    Ok(certificates::table
        .select((certificates::pdf, certificates::dcc))
        .filter(certificates::number.eq(number))
        .first(conn)?)
}
