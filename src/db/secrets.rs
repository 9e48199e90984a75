//! Secrets the service keeps for itself, made on first use and shared by every instance on
//! the same database.

use diesel::prelude::*;

use super::schema::server_secrets;
use super::{per_backend, DbConnection, DbError, DbResult};

/// The 256-bit secret called `name`, made (from the operating system's randomness) the first
/// time it is asked for. Two instances starting at once both try to insert; the first wins
/// and both read its value.
pub fn server_secret(conn: &mut DbConnection, name: &str) -> DbResult<Vec<u8>> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| DbError::Unavailable(format!("no randomness: {e}")))?;
    let row = (
        server_secrets::name.eq(name),
        server_secrets::secret.eq(fresh.to_vec()),
    );
    per_backend!(conn, c => diesel::insert_into(server_secrets::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(server_secrets::table
        .select(server_secrets::secret)
        .filter(server_secrets::name.eq(name))
        .first(conn)?)
}
