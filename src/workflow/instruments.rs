//! Status changes of the register that reach beyond the instrument itself.

use chrono::NaiveDate;

use crate::db::{customers, instruments, traceability, write_transaction, DbConnection, DbResult};
use crate::domain::instrument::{Instrument, InstrumentRecord};
use crate::domain::people::Actor;
use crate::domain::validity::InstrumentStatus;

/// The customer record an instrument's `customer` names, created when the
/// name is not yet registered (DESIGN 9b: existing clients keep working).
fn customer_of(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &InstrumentRecord,
) -> DbResult<Option<i64>> {
    record
        .customer
        .as_deref()
        .map(|name| customers::ensure_named(conn, actor, name))
        .transpose()
}

/// Registers an instrument, with its customer's record: both or neither.
pub fn register(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &InstrumentRecord,
) -> DbResult<Instrument> {
    write_transaction(conn, |conn| {
        let customer_id = customer_of(conn, actor, record)?;
        instruments::insert(conn, actor, record, customer_id)
    })
}

/// Replaces an instrument's register data, with its customer's record.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    record: &InstrumentRecord,
) -> DbResult<Instrument> {
    write_transaction(conn, |conn| {
        let customer_id = customer_of(conn, actor, record)?;
        instruments::update(conn, actor, id, record, customer_id)
    })
}

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
