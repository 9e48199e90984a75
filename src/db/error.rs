//! The storage layer's own error (DESIGN section 3): what went wrong in terms a
//! caller can act on, with diesel's error kept as the `source()`. `ApiError`
//! and the pages' error convert from it explicitly; nothing is told apart by
//! matching message text.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No such record: `entity` says which, in words a user understands
    /// ("no calibration with id 7").
    #[error("{entity}")]
    NotFound { entity: String },
    /// A uniqueness or state conflict ("asset tag PG-1 is already registered").
    #[error("{what}")]
    Conflict { what: String },
    /// A value that must be unique is taken: `field` names it
    /// (`asset_tag`, `serial_number`), `what` says it in words.
    #[error("{what}")]
    Duplicate { field: &'static str, what: String },
    /// A write that names a record that does not exist (a foreign key).
    #[error("{what}")]
    MissingReference { what: String },
    /// A stored value that cannot be read back: the database was changed
    /// behind our back, or by a bug. Never read as a default.
    #[error("{what} is unreadable")]
    Corrupt { what: String },
    /// The database cannot be reached (pool timeout, lost server).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Diesel(#[source] DieselError),
    /// Something the storage layer needs besides the database failed (the
    /// system's random number source for a token).
    #[error("{0}")]
    Internal(String),
}

impl DbError {
    pub fn not_found(entity: impl Into<String>) -> DbError {
        DbError::NotFound {
            entity: entity.into(),
        }
    }

    pub fn conflict(what: impl Into<String>) -> DbError {
        DbError::Conflict { what: what.into() }
    }

    pub fn corrupt(what: impl Into<String>) -> DbError {
        DbError::Corrupt { what: what.into() }
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> DbError {
        match error {
            DieselError::NotFound => DbError::not_found("no such record"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::conflict(format!("already exists: {}", info.message()))
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                DbError::MissingReference {
                    what: format!("refers to a record that does not exist: {}", info.message()),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                DbError::Unavailable(info.message().to_string())
            }
            other => DbError::Diesel(other),
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;
