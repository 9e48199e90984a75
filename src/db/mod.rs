//! Database access: one connection enum over SQLite and PostgreSQL, the pool,
//! per-backend embedded migrations, and repository functions returning domain types.

pub mod audit;
pub mod calibrations;
pub mod certificates;
pub mod competence;
pub mod customers;
pub mod error;
pub mod export;
pub mod instruments;
pub mod issuer_certificates;
pub mod pages;
pub mod schema;
pub mod secrets;
pub mod signing;
pub mod statements;
pub mod states;
pub mod status_reader;
pub mod traceability;
pub mod users;
pub mod validity;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use error::{DbError, DbResult};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Runs `$body` with `$c` bound to the concrete backend connection, written
/// once and type-checked per backend. For hot paths only: a query run through
/// the [`DbConnection`] enum has its SQL rendered again on every execution (by
/// diesel's generated MultiConnection wrapper, twice: for the cacheability
/// check and for the bind pass), which cost more than SQLite's own work for
/// the statements of a status check.
macro_rules! per_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// A list of columns to select, as a constant and its type, each column written once
/// (`columns!(NAME: Type = table::a, other::b)`): diesel needs the tuple's type spelt out
/// for a `const`, and two copies of a list drift apart.
macro_rules! columns {
    ($vis:vis $name:ident: $ty:ident = $($table:ident::$column:ident),+ $(,)?) => {
        $vis type $ty = ($($table::$column,)+);
        $vis const $name: $ty = ($($table::$column,)+);
    };
}
pub(crate) use columns;

/// One connection type for both backends; queries written once against it
/// run on either.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgresql(PgConnection),
}

/// The backend type diesel generates for the connection enum.
pub type DbBackend = <DbConnection as diesel::Connection>::Backend;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgresql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgresql => "postgresql",
        }
    }
}

/// Where the database lives, decided from the URL scheme. Diesel's own
/// `MultiConnection::establish` tries each backend in turn and hides the real
/// PostgreSQL error, so the scheme picks the backend here instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseLocation {
    Sqlite(String),
    Postgresql(String),
}

impl DatabaseLocation {
    pub fn parse(url: &str) -> DatabaseLocation {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return DatabaseLocation::Postgresql(url.to_string());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        DatabaseLocation::Sqlite(path.to_string())
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseLocation::Sqlite(_) => Backend::Sqlite,
            DatabaseLocation::Postgresql(_) => Backend::Postgresql,
        }
    }

    pub fn connect(&self) -> Result<DbConnection, diesel::ConnectionError> {
        match self {
            DatabaseLocation::Sqlite(path) => {
                if let Some(parent) = std::path::Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() && !path.starts_with("file:") {
                        std::fs::create_dir_all(parent).map_err(|error| {
                            diesel::ConnectionError::BadConnection(format!(
                                "cannot create {}: {error}",
                                parent.display()
                            ))
                        })?;
                    }
                }
                stable_query_plans();
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers proceed while one writer commits; the busy timeout
                // makes writers queue instead of failing with "database is locked".
                // Each connection keeps its own page cache (see .cargo/config.toml):
                // 16 MiB holds the upper levels and much of the leaves of what a
                // status check probes (instruments, calibrations_validity), where
                // SQLite's default 2 MiB read three pages per check from the OS
                // (measured: 3.1 → 1.4 preads). A full pool of 8 (128 MiB) plus the
                // status readers' 128 MiB (status_reader) bound the caches.
                let pragmas = format!(
                    "{} PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA cache_size = -16384;",
                    busy_timeout()
                );
                retry_while_locked(|| conn.batch_execute(&pragmas))
                    .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseLocation::Postgresql(url) => {
                Ok(DbConnection::Postgresql(PgConnection::establish(url)?))
            }
        }
    }
}

/// Turns on SQLite's query planner stability guarantee (QPSG) for every
/// connection this process opens, before the first one is opened.
///
/// Without it SQLite (3.53, as bundled) treats a bound `LIMIT ?` as a value the
/// plan may depend on: binding it marks the prepared statement expired, and the
/// next `sqlite3_step` parses and plans the SQL again. Diesel binds the limit of
/// every `.first()`/`.limit()`, so every such statement was re-prepared on every
/// execution despite the statement cache (SQLITE_STMTSTATUS_REPREPARE equal to
/// SQLITE_STMTSTATUS_RUN; about three quarters of the time of a status check).
/// With QPSG the plan depends on the SQL alone, as our queries assume anyway
/// (no ANALYZE statistics, no bound LIKE patterns). Diesel does not expose the
/// raw handle, so the setting is applied by an auto-extension, which SQLite runs
/// for each new connection.
fn stable_query_plans() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    unsafe extern "C" fn enable_qpsg(
        db: *mut libsqlite3_sys::sqlite3,
        _error: *mut *mut std::ffi::c_char,
        _api: *const libsqlite3_sys::sqlite3_api_routines,
    ) -> std::ffi::c_int {
        // SAFETY: SQLite passes a valid, open connection; the variadic
        // arguments are the (int, int*) pair SQLITE_DBCONFIG_ENABLE_QPSG takes.
        unsafe {
            libsqlite3_sys::sqlite3_db_config(
                db,
                libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as std::ffi::c_int,
                std::ptr::null_mut::<std::ffi::c_int>(),
            )
        }
    }
    REGISTER.call_once(|| {
        // SAFETY: registers a function with the signature SQLite expects of an
        // auto-extension entry point; it lives for the whole process.
        unsafe {
            libsqlite3_sys::sqlite3_auto_extension(Some(enable_qpsg));
        }
    });
}

pub struct ConnectionManager {
    location: DatabaseLocation,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.location
            .connect()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    /// A connection whose transaction was left open (a panic unwound through
    /// `write_transaction`, e.g. in PDF rendering during approval) still holds
    /// SQLite's write lock, and its next write would become a savepoint inside
    /// the orphaned transaction: the pool must drop it, never hand it out again.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// Runs `step` again while SQLite answers "database is locked", for as long as the
/// busy timeout would have waited. SQLite skips the busy handler when waiting could
/// deadlock: a connection that has read and must now write (switching a new file to
/// WAL) while another holds the write lock gets the error at once. Instances started
/// together on one new database meet exactly that.
fn retry_while_locked<T>(
    mut step: impl FnMut() -> diesel::QueryResult<T>,
) -> diesel::QueryResult<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT_DURATION;
    loop {
        match step() {
            Err(error) if is_locked(&error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
}

fn is_locked(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info) if info.message().contains("database is locked"))
}

/// How long a SQLite connection waits for another's write lock before giving up:
/// every connection, pooled or status reader, queues for the same time.
const BUSY_TIMEOUT_DURATION: Duration = Duration::from_secs(10);

pub(super) fn busy_timeout() -> String {
    format!(
        "PRAGMA busy_timeout = {};",
        BUSY_TIMEOUT_DURATION.as_millis()
    )
}

diesel::define_sql_function! {
    /// `lower(text)` on both backends: asset tags and customer codes are unique regardless of
    /// case, through indexes on lower(…).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The shared database handle kept in Rocket's managed state.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
    /// SQLite only: the single status check's own connections (`status_reader`).
    status_readers: Option<std::sync::Arc<status_reader::StatusReaders>>,
}

impl Database {
    /// Applies pending migrations, then opens the pool. `workers`: the async
    /// workers that will run status checks (`status_reader`).
    pub fn open(url: &str, pool_size: u32, workers: usize) -> Result<Database, String> {
        let location = DatabaseLocation::parse(url);
        let mut conn = location
            .connect()
            .map_err(|error| format!("cannot connect to {url}: {error}"))?;
        run_migrations(&mut conn)?;
        drop(conn);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            // r2d2 would otherwise run `SELECT 1` on every checkout: a query per
            // request on the hot validity path. A broken connection still
            // surfaces as a query error and is replaced.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(30))
            .build(ConnectionManager {
                location: location.clone(),
            })
            .map_err(|error| format!("cannot open the connection pool: {error}"))?;
        let status_readers = match &location {
            DatabaseLocation::Sqlite(path) => Some(std::sync::Arc::new(
                status_reader::StatusReaders::new(path, workers)?,
            )),
            DatabaseLocation::Postgresql(_) => None,
        };
        Ok(Database {
            pool,
            backend: location.backend(),
            status_readers,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The status readers when the database is SQLite (see `status_reader`).
    pub fn status_readers(&self) -> Option<&status_reader::StatusReaders> {
        self.status_readers.as_deref()
    }

    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    pub fn get(&self) -> DbResult<r2d2::PooledConnection<ConnectionManager>> {
        self.pool
            .get()
            .map_err(|error| DbError::Unavailable(error.to_string()))
    }

    /// Runs blocking database work on Rocket's blocking thread pool so the async
    /// executor never waits on SQLite or libpq. A panic in the work is passed on
    /// to the caller's task (Rocket answers it with a 500), after the pool has
    /// dropped the connection it left in a transaction.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let database = self.clone();
        let task = rocket::tokio::task::spawn_blocking(move || {
            let mut conn = database.get()?;
            work(&mut conn)
        });
        match task.await {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(DbError::Unavailable("the database task was cancelled".into()).into()),
        }
    }
}

impl Database {
    /// Runs a short read (one indexed statement or two, no write) right on the
    /// calling async worker when the backend is SQLite and a pooled connection
    /// is idle; otherwise as [`Database::run`].
    ///
    /// For the single status check the hand-off to the blocking pool and back
    /// cost more than the statement itself (two thread wake-ups, ~20 µs against
    /// ~15 µs of SQLite work). A WAL reader never waits for the
    /// writer, so the worker is held only for the statement. PostgreSQL always
    /// goes to the blocking pool: there the statement is a network round trip.
    pub async fn run_short_read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        if self.backend == Backend::Sqlite {
            if let Some(mut conn) = self.pool.try_get() {
                return work(&mut conn);
            }
        }
        // Boxed so the fast path's future stays small (it is moved on every poll).
        Box::pin(self.run(work)).await
    }
}

/// A failed migration run, as text (diesel's migration errors are not `diesel::result::Error`).
#[derive(Debug)]
struct MigrationError(String);

impl From<diesel::result::Error> for MigrationError {
    fn from(error: diesel::result::Error) -> MigrationError {
        MigrationError(error.to_string())
    }
}

/// Asset tags that differ only in case, as `PG-0001 / pg-0001`: the unique index
/// on `lower(asset_tag)` cannot be built while any exist, so they are named
/// first (a register that has none, or no instruments table yet, gives none).
fn asset_tag_case_clashes(conn: &mut DbConnection) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Clash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tags: String,
    }
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT group_concat(asset_tag, ' / ') AS tags FROM instruments \
             GROUP BY lower(asset_tag) HAVING count(*) > 1"
        }
        DbConnection::Postgresql(_) => {
            "SELECT string_agg(asset_tag, ' / ') AS tags FROM instruments \
             GROUP BY lower(asset_tag) HAVING count(*) > 1"
        }
    };
    per_backend!(conn, c => diesel::RunQueryDsl::load::<Clash>(diesel::sql_query(sql), c))
        .map(|clashes| clashes.into_iter().map(|clash| clash.tags).collect())
        .unwrap_or_default()
}

/// Whether the case-insensitive asset-tag index is still to be built: only then
/// can clashes exist, so only then are they looked for (a scan of the register).
fn asset_tag_index_pending(conn: &mut DbConnection) -> bool {
    const VERSION: &str = "20261204000012";
    let applied = per_backend!(conn, c => c.applied_migrations());
    applied.map_or(true, |versions| {
        !versions
            .iter()
            .any(|version| version.to_string() == VERSION)
    })
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<(), String> {
    let clashes = if asset_tag_index_pending(conn) {
        asset_tag_case_clashes(conn)
    } else {
        Vec::new()
    };
    if !clashes.is_empty() {
        return Err(format!(
            "asset tags must be unique regardless of case, and these differ only in case: {}; \
             rename all but one of each (caltrace then applies its pending migrations)",
            clashes.join("; ")
        ));
    }
    let result = match conn {
        // The same race on SQLite (two processes both finding a migration pending): the whole
        // run holds the write lock from its first read (BEGIN IMMEDIATE; diesel's own
        // per-migration transactions become savepoints), so the others queue on the busy
        // timeout and then find nothing pending.
        DbConnection::Sqlite(c) => c
            .immediate_transaction(|c| {
                c.run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(|_| ())
                    .map_err(|error| MigrationError(error.to_string()))
            })
            .map_err(|MigrationError(message)| message.into()),
        DbConnection::Postgresql(c) => {
            // Instances started together over one PostgreSQL would otherwise race to apply the
            // same migration; a session-level advisory lock makes the others wait and then
            // find nothing pending.
            const MIGRATION_LOCK: i64 = 727_275;
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")),
                c,
            )
            .map_err(|error| format!("migration lock: {error}"))?;
            let applied = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")),
                c,
            )
            .map_err(|error| format!("migration unlock: {error}"))?;
            applied
        }
    };
    result.map_err(|error| format!("migration failed: {error}"))
}

/// A write transaction. On SQLite it starts with BEGIN IMMEDIATE so the write
/// lock is taken up front: a deferred transaction that reads first and writes
/// later cannot wait for the lock (SQLite returns SQLITE_BUSY at once to avoid a
/// deadlock), whereas an immediate one queues on the busy timeout.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // Already inside a write transaction (an all-or-nothing CSV import calling
    // the same repository functions as the API): nest as a savepoint, which the
    // outer transaction commits or rolls back with everything else.
    let nested = match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::transaction_manager_status_mut(sqlite)
                .transaction_depth()?
                .is_some()
        }
        DbConnection::Postgresql(_) => false,
    };
    if nested {
        return conn.transaction(work);
    }
    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
            match work(conn) {
                Ok(value) => {
                    <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(error) => {
                    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
                    Err(error)
                }
            }
        }
        DbConnection::Postgresql(_) => conn.transaction(work),
    }
}

pub fn now_timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `SUM(column)` of a maintained count table as a BIGINT, 0 over no rows: SQLite and
/// PostgreSQL both give NULL for an empty sum and PostgreSQL a NUMERIC for a BIGINT column.
pub fn sum_of_counts(
    column: &'static str,
) -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "CAST(COALESCE(SUM({column}), 0) AS BIGINT)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::prelude::*;
    use libsqlite3_sys as ffi;

    std::thread_local! {
        /// SQLite connections opened on this thread (the auto-extension runs on
        /// the opening thread, so parallel tests do not see each other's).
        static OPENED: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    unsafe extern "C" fn record_connection(
        db: *mut ffi::sqlite3,
        _error: *mut *mut std::ffi::c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> std::ffi::c_int {
        OPENED.with(|opened| opened.borrow_mut().push(db as usize));
        ffi::SQLITE_OK
    }

    /// Diesel binds the limit of `.first()`; SQLite 3.53 would otherwise
    /// re-prepare such a statement on every execution (`stable_query_plans`).
    #[test]
    fn cached_statements_with_a_bound_limit_are_not_re_prepared() {
        // SAFETY: registers a function with the entry-point signature SQLite expects.
        unsafe {
            ffi::sqlite3_auto_extension(Some(record_connection));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reprepare.sqlite3");
        let mut conn = DatabaseLocation::parse(path.to_str().unwrap())
            .connect()
            .unwrap();
        run_migrations(&mut conn).unwrap();
        for id in 1..=5i64 {
            let found = schema::instruments::table
                .select(schema::instruments::id)
                .filter(schema::instruments::id.eq(id))
                .first::<i64>(&mut conn)
                .optional()
                .unwrap();
            assert_eq!(found, None);
        }
        let db = OPENED.with(|opened| *opened.borrow().last().unwrap()) as *mut ffi::sqlite3;
        let mut checked = 0;
        // SAFETY: `conn` keeps the connection and its statements alive; only
        // this thread uses it.
        unsafe {
            let mut stmt = ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
            while !stmt.is_null() {
                let sql = std::ffi::CStr::from_ptr(ffi::sqlite3_sql(stmt)).to_string_lossy();
                if sql.contains("FROM `instruments`") && sql.contains("LIMIT ?") {
                    let runs = ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_RUN, 0);
                    let reprepared =
                        ffi::sqlite3_stmt_status(stmt, ffi::SQLITE_STMTSTATUS_REPREPARE, 0);
                    assert_eq!((runs, reprepared), (5, 0), "{sql}");
                    checked += 1;
                }
                stmt = ffi::sqlite3_next_stmt(db, stmt);
            }
        }
        assert_eq!(checked, 1);
        drop(conn);
    }

    /// SQLite returns "database is locked" at once, without waiting out the busy
    /// timeout, to a connection that has read and now needs to write while another
    /// holds the write lock (it would deadlock otherwise): switching a new database to
    /// WAL is such a step, so instances started together on one new file must retry.
    #[test]
    fn a_connection_opened_while_another_writes_a_new_database_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite3");
        let mut writer = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        writer
            .batch_execute("BEGIN IMMEDIATE; CREATE TABLE first_writer (x INTEGER);")
            .unwrap();
        let location = DatabaseLocation::parse(path.to_str().unwrap());
        let opening = std::thread::spawn(move || location.connect().map(|_| ()));
        std::thread::sleep(Duration::from_millis(300));
        writer.batch_execute("COMMIT;").unwrap();
        let opened = opening.join().unwrap();
        assert!(opened.is_ok(), "{:?}", opened.err());
    }
}
