//! The single status check on SQLite, as one prepared statement kept for good on a
//! few connections of its own: the inspection agencies' hot path.
//!
//! Through diesel the check cost ~70 µs of server CPU against ~24 µs for a bare
//! route (DESIGN.md section 10 asks for at least half the bare route's
//! throughput; it reached 0.43). Of that, diesel's part — walking the query AST
//! to find the statement in its cache and to collect binds, formatting dates
//! through format strings, the pool checkout — cost as much as SQLite's own
//! B-tree work. Here the statement is prepared once per connection
//! (`SQLITE_PREPARE_PERSISTENT`), three values are bound and fourteen columns
//! read, borrowed: with the readers' page cache holding the check's working set
//! (`READERS_CACHE_KIB`), server CPU per check is about twice the bare route's
//! (was 2.9× through diesel), a median of 0.50–0.61 of its throughput over
//! alternating rounds (README, Performance).
//!
//! The statement is `validity::validity_of_one_for_token` written as SQL: the
//! integration tests run every validity case through it on SQLite, and through
//! the diesel form on PostgreSQL.

use std::ffi::{c_int, CStr, CString};
use std::sync::Mutex;

use chrono::{Datelike, NaiveDate};
use libsqlite3_sys as ffi;

use super::calibrations::ON_RECORD;
use super::validity::{validity_of_row, RecordColumns, PERFORMED_LATER};
use super::{DbError, DbResult};
use crate::domain::people::AuthUser;
use crate::domain::validity::Validity;

/// ?1 the date, ?2 the instrument id, ?3 the token's hash. One row when the token
/// is valid; its instrument columns are null for an unknown instrument, its
/// calibration columns null when nothing is on record on or before ?1 (then the
/// last column tells whether anything is on record later).
fn status_sql() -> String {
    // The statuses on record (`calibrations::ON_RECORD`) are spelt as equalities:
    // an `IN (…)` list on a column outside the index key is built into an
    // ephemeral table on every execution.
    let on_record = |table: &str| {
        let each: Vec<String> = ON_RECORD
            .iter()
            .map(|status| format!("{table}.status = '{status}'"))
            .collect();
        format!("({})", each.join(" OR "))
    };
    format!(
        "SELECT users.id, users.name, users.roles, instruments.role, \
          (SELECT changes.status FROM instrument_status_changes AS changes \
           WHERE changes.instrument_id = instruments.id AND changes.effective_on <= ?1 \
           ORDER BY changes.effective_on DESC, changes.id DESC LIMIT 1), \
          latest.chain_broken, latest.id, latest.performed_on, latest.due_on, latest.status, \
          latest.out_of_tolerance, latest.kind, latest.certificate_number, \
          latest.issuer_certificate_number, \
          CASE WHEN latest.id IS NULL AND instruments.id IS NOT NULL THEN EXISTS (\
           SELECT 1 FROM calibrations AS later WHERE later.instrument_id = instruments.id \
           AND {later}) \
          END, \
          EXISTS (SELECT 1 FROM user_customers AS bound WHERE bound.user_id = users.id) \
         FROM api_tokens \
         INNER JOIN users ON api_tokens.user_id = users.id \
         LEFT JOIN instruments ON instruments.id = ?2 \
         LEFT JOIN calibrations AS latest ON latest.instrument_id = instruments.id \
          AND {latest} AND latest.performed_on <= ?1 \
         WHERE api_tokens.token_hash = ?3 AND api_tokens.revoked_at IS NULL \
         ORDER BY latest.performed_on DESC, latest.id DESC LIMIT 1",
        later = on_record("later"),
        latest = on_record("latest"),
    )
}

/// Connections holding the prepared status statement, taken by one check at a
/// time. The checks run on the async workers (see `Database::run_short_read` for
/// why a WAL read may), so there are never more than workers in use.
pub struct StatusReaders {
    path: CString,
    pragmas: CString,
    sql: CString,
    idle: Mutex<Vec<Reader>>,
}

/// The page cache of all readers together. On the benchmark's 100 000
/// instruments the check touches 56 MB at random (the leaves of `instruments`
/// and of `calibrations_validity`): with 16 MiB per reader most checks read two
/// pages from the file, and server CPU per check was 2.2–2.6× the bare route's;
/// with 64 MiB a warm reader reads none, 1.7–2.5× (medians 1.96–2.18×). The
/// caches fill only as pages are touched.
const READERS_CACHE_KIB: usize = 128 * 1024;

impl StatusReaders {
    /// `workers`: the async workers, the most readers ever open at once; they
    /// share [`READERS_CACHE_KIB`], so that a lab with more cores gets more
    /// readers but not more memory (at least 8 MiB each, at most 64 MiB).
    pub fn new(path: &str, workers: usize) -> Result<StatusReaders, String> {
        let cache_kib = (READERS_CACHE_KIB / workers.max(1)).clamp(8 * 1024, 64 * 1024);
        let pragmas = format!(
            "{} PRAGMA cache_size = -{cache_kib};",
            super::busy_timeout()
        );
        Ok(StatusReaders {
            path: CString::new(path).map_err(|_| format!("bad database path {path:?}"))?,
            pragmas: CString::new(pragmas).expect("the pragmas hold no NUL"),
            sql: CString::new(status_sql()).expect("the status statement holds no NUL"),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The user holding `token_hash` (None: unknown or revoked) and the validity
    /// of instrument `id` on `at` (None: no such instrument), as
    /// `validity::validity_of_one_for_token` answers.
    pub fn validity_for_token(
        &self,
        token_hash: &str,
        id: i64,
        at: NaiveDate,
    ) -> DbResult<Option<(AuthUser, Option<Validity>)>> {
        let reader = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut reader = match reader {
            Some(reader) => reader,
            None => Reader::open(self)?,
        };
        let answer = reader.validity_for_token(token_hash, id, at);
        // A reader whose statement failed is dropped rather than reused.
        if answer.is_ok() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(reader);
            }
        }
        answer
    }
}

struct Reader {
    connection: *mut ffi::sqlite3,
    statement: *mut ffi::sqlite3_stmt,
}

// SAFETY: a Reader is used by one thread at a time (taken out of the idle list
// for the whole check), and its connection is opened without SQLite's own
// mutex only for that reason.
unsafe impl Send for Reader {}

impl Reader {
    /// A connection to `readers.path`, set up with their pragmas and holding their
    /// statement prepared.
    fn open(readers: &StatusReaders) -> DbResult<Reader> {
        let StatusReaders {
            path, pragmas, sql, ..
        } = readers;
        let mut connection = std::ptr::null_mut();
        // SAFETY: `path` is NUL-terminated; the connection handle is closed by Drop
        // even when opening fails (SQLite hands one back in that case too).
        let opened = unsafe {
            ffi::sqlite3_open_v2(
                path.as_ptr(),
                &mut connection,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_URI | ffi::SQLITE_OPEN_NOMUTEX,
                std::ptr::null(),
            )
        };
        let mut reader = Reader {
            connection,
            statement: std::ptr::null_mut(),
        };
        if opened != ffi::SQLITE_OK {
            return Err(reader.error("cannot open the database for status checks"));
        }
        // SAFETY: an open connection and a NUL-terminated statement list.
        let set = unsafe {
            ffi::sqlite3_exec(
                connection,
                pragmas.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if set != ffi::SQLITE_OK {
            return Err(reader.error("cannot set up the status connection"));
        }
        // SAFETY: `sql` is NUL-terminated; the statement is finalized by Drop
        // before the connection is closed.
        let prepared = unsafe {
            ffi::sqlite3_prepare_v3(
                connection,
                sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut reader.statement,
                std::ptr::null_mut(),
            )
        };
        if prepared != ffi::SQLITE_OK {
            return Err(reader.error("cannot prepare the status statement"));
        }
        Ok(reader)
    }

    fn validity_for_token(
        &mut self,
        token_hash: &str,
        id: i64,
        at: NaiveDate,
    ) -> DbResult<Option<(AuthUser, Option<Validity>)>> {
        // Dates are stored as ISO 8601 text; chrono's format strings cost more
        // than the rest of the binding.
        let at_text = format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day());
        let statement = self.statement;
        // SAFETY: the statement belongs to this reader's open connection; the bound
        // texts are copied by SQLite (SQLITE_TRANSIENT) so they may go out of scope.
        let stepped = unsafe {
            let bound = [
                ffi::sqlite3_bind_text(
                    statement,
                    1,
                    at_text.as_ptr().cast(),
                    at_text.len() as c_int,
                    ffi::SQLITE_TRANSIENT(),
                ),
                ffi::sqlite3_bind_int64(statement, 2, id),
                ffi::sqlite3_bind_text(
                    statement,
                    3,
                    token_hash.as_ptr().cast(),
                    token_hash.len() as c_int,
                    ffi::SQLITE_TRANSIENT(),
                ),
            ];
            if bound.iter().any(|&code| code != ffi::SQLITE_OK) {
                return Err(self.error("cannot bind the status statement"));
            }
            ffi::sqlite3_step(statement)
        };
        let answer = match stepped {
            ffi::SQLITE_ROW => self.read_row(at).map(Some),
            ffi::SQLITE_DONE => Ok(None),
            _ => Err(self.error("status check failed")),
        };
        // SAFETY: resetting ends the read transaction; the statement stays prepared.
        unsafe {
            ffi::sqlite3_reset(statement);
        }
        answer
    }

    fn read_row(&self, at: NaiveDate) -> DbResult<(AuthUser, Option<Validity>)> {
        let mut user = super::users::auth_user((
            self.integer(0),
            self.text(1).unwrap_or_default().to_string(),
            self.text(2).unwrap_or_default().to_string(),
        ));
        // Column 15: whether the user is bound to customers. An inspector bound to none
        // sees everything and keeps this path; anyone narrowed keeps the unresolved
        // scope `auth_user` gives, and the caller resolves it (DESIGN 9b).
        user.scope = super::users::scope_if_unbound(user.id, &user.roles, self.integer(15) != 0);
        let Some(role) = self.text(3) else {
            return Ok((user, None));
        };
        let record = match self.text(7) {
            Some(performed_on) => Some(
                RecordColumns {
                    id: self.integer(6),
                    performed_on: date(performed_on)?,
                    due_on: self.text(8).map(date).transpose()?,
                    status: self.text(9).unwrap_or_default(),
                    out_of_tolerance: self.integer(10) != 0,
                    kind: self.text(11).unwrap_or_default(),
                    number: self.text(12).map(str::to_string),
                    issuer_number: self.text(13).map(str::to_string),
                    chain_broken: self.integer(5) != 0,
                }
                .record(),
            ),
            None if self.integer(14) != 0 => Some(PERFORMED_LATER),
            None => None,
        };
        let validity = validity_of_row(role, self.text(4), record, at)?;
        Ok((user, Some(validity)))
    }

    fn integer(&self, column: c_int) -> i64 {
        // SAFETY: the statement has a current row (read_row runs after SQLITE_ROW).
        unsafe { ffi::sqlite3_column_int64(self.statement, column) }
    }

    /// A text column, borrowed from SQLite: valid until the statement is stepped
    /// or reset, which needs `&mut self`, so the borrow checker holds it to that.
    fn text(&self, column: c_int) -> Option<&str> {
        // SAFETY: as in `integer`. Every text column is written by this service
        // as UTF-8; anything else is read as absent rather than trusted.
        unsafe {
            let text = ffi::sqlite3_column_text(self.statement, column);
            if text.is_null() {
                return None;
            }
            let length = ffi::sqlite3_column_bytes(self.statement, column) as usize;
            std::str::from_utf8(std::slice::from_raw_parts(text, length)).ok()
        }
    }

    fn error(&self, context: &str) -> DbError {
        // SAFETY: sqlite3_errmsg accepts any handle SQLite returned, null included.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.connection)) };
        DbError::Unavailable(format!("{context}: {}", message.to_string_lossy()))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // SAFETY: finalize then close, each on a handle this reader owns (null is
        // a no-op for both).
        unsafe {
            ffi::sqlite3_finalize(self.statement);
            ffi::sqlite3_close(self.connection);
        }
    }
}

/// A stored date (`YYYY-MM-DD`, as diesel writes it).
fn date(text: &str) -> DbResult<NaiveDate> {
    crate::domain::dates::iso_date(text)
        .ok_or_else(|| DbError::corrupt(format!("stored date '{text}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// More workers mean more readers, not more memory: the budget is split,
    /// within 8 to 64 MiB a reader.
    #[test]
    fn the_readers_share_one_cache_budget() {
        let cache_of = |workers| {
            let readers = StatusReaders::new("unused.sqlite3", workers).unwrap();
            readers.pragmas.to_str().unwrap().to_string()
        };
        assert!(cache_of(0).ends_with("cache_size = -65536;"));
        assert!(cache_of(2).ends_with("cache_size = -65536;"));
        assert!(cache_of(4).ends_with("cache_size = -32768;"));
        assert!(cache_of(16).ends_with("cache_size = -8192;"));
        assert!(cache_of(64).ends_with("cache_size = -8192;"));
    }

    #[test]
    fn stored_dates_are_read_as_chrono_reads_them() {
        for text in ["2026-06-01", "2024-02-29", "0001-01-01", "9999-12-31"] {
            assert_eq!(date(text).unwrap(), text.parse::<NaiveDate>().unwrap());
        }
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-6-01",
            "2026-06-1",
            "2026/06/01",
            "+2026-06-01",
            "2026-06-01T00",
            "",
        ] {
            assert!(date(bad).is_err(), "{bad}");
        }
    }

    /// The statement's speed rests on its plan in the bundled SQLite: index probes
    /// only, the calibrations walked in `calibrations_validity` without visiting the
    /// table, and no sort for the `ORDER BY … LIMIT 1`.
    #[test]
    fn the_status_statement_probes_indexes_and_never_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.sqlite3");
        let path = path.to_str().unwrap();
        crate::db::Database::open(path, 1, 1).unwrap();
        let readers = StatusReaders::new(path, 1).unwrap();
        let reader = Reader::open(&readers).unwrap();
        let explain = CString::new(format!("EXPLAIN QUERY PLAN {}", status_sql())).unwrap();
        let mut statement = std::ptr::null_mut();
        let mut plan = Vec::new();
        // SAFETY: an open connection, a NUL-terminated statement, finalized below.
        unsafe {
            let prepared = ffi::sqlite3_prepare_v2(
                reader.connection,
                explain.as_ptr(),
                -1,
                &mut statement,
                std::ptr::null_mut(),
            );
            assert_eq!(prepared, ffi::SQLITE_OK);
            while ffi::sqlite3_step(statement) == ffi::SQLITE_ROW {
                let detail = CStr::from_ptr(ffi::sqlite3_column_text(statement, 3).cast());
                plan.push(detail.to_string_lossy().into_owned());
            }
            ffi::sqlite3_finalize(statement);
        }
        let plan = plan.join("\n");
        assert!(
            plan.contains(
                "SEARCH latest USING COVERING INDEX calibrations_validity \
                 (instrument_id=? AND performed_on<?)"
            ),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(!plan.contains("SCAN"), "{plan}");
        assert!(
            !plan.contains("SEARCH latest USING INTEGER PRIMARY KEY"),
            "{plan}"
        );
    }
}
