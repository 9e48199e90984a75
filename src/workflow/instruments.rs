//! Status changes of the register that reach beyond the instrument itself.

use chrono::NaiveDate;

use crate::db::{instruments, traceability, write_transaction, DbConnection, DbResult};
use crate::domain::instrument::Instrument;
use crate::domain::people::Actor;
use crate::domain::validity::InstrumentStatus;

/// Suspends, reactivates or retires an instrument from `today` on, and
/// recomputes the chains that rest on it: a standard going out of service
/// breaks the traceability of every calibration that uses it from today on
/// (ISO/IEC 17025 6.4.7), and coming back into service mends them.
pub fn change_status(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    wanted: InstrumentStatus,
    reason: Option<&str>,
    today: NaiveDate,
) -> DbResult<Instrument> {
    write_transaction(conn, |conn| {
        let changed = instruments::record_status_change(conn, actor, id, wanted, reason, today)?;
        let chains = traceability::refresh_downstream(conn, id, today)?;
        let cause = format!(
            "instrument {} ({id}) {} on {today}",
            changed.asset_tag,
            wanted.as_str()
        );
        super::audit_chain_changes(conn, actor, &cause, &chains)?;
        Ok(changed)
    })
}
