//! The laboratory's signing identity in the database (DESIGN section 8b). Reads that answer
//! questions about the identity (`/healthz`, `/api/v1/lab/trust`) never select the key
//! column; only [`in_force`] does, for the issuing workflow that signs with it.

use diesel::prelude::*;
use serde_json::json;

use super::schema::signing_identities;
use super::{audit, now_timestamp, write_transaction, DbConnection, DbError, DbResult};
use crate::domain::people::Actor;
use crate::signing::{IdentitySummary, SigningIdentity};

/// What may be said about the identity in force: no key.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = signing_identities)]
pub struct PublicIdentity {
    pub id: i64,
    pub subject: String,
    pub fingerprint_sha256: String,
    /// RFC 3339.
    pub not_after: String,
    pub certificate_pem: String,
    pub chain_pem: String,
}

impl PublicIdentity {
    /// The signing certificate, then its chain up to the root (PEM).
    pub fn trust_pem(&self) -> String {
        format!("{}{}", self.certificate_pem, self.chain_pem)
    }
}

/// The identity in force without its key, or None when certificates are issued unsigned.
pub fn public(conn: &mut DbConnection) -> DbResult<Option<PublicIdentity>> {
    Ok(signing_identities::table
        .filter(signing_identities::retired_at.is_null())
        .select(PublicIdentity::as_select())
        .first(conn)
        .optional()?)
}

/// The identity in force with its key, to sign with; None when there is none. A stored
/// identity that no longer reads back (edited behind our back) is corrupt, not absent: the
/// lab asked for signed certificates, so issuing stops rather than going on unsigned.
pub fn in_force(conn: &mut DbConnection) -> DbResult<Option<SigningIdentity>> {
    let row: Option<(i64, Option<String>, String, String)> = signing_identities::table
        .filter(signing_identities::retired_at.is_null())
        .select((
            signing_identities::id,
            signing_identities::key_pem,
            signing_identities::certificate_pem,
            signing_identities::chain_pem,
        ))
        .first(conn)
        .optional()?;
    let Some((id, key_pem, certificate_pem, chain_pem)) = row else {
        return Ok(None);
    };
    let what = || format!("signing identity {id}");
    let key_pem = key_pem.ok_or_else(|| DbError::corrupt(what()))?;
    SigningIdentity::from_stored(&key_pem, &certificate_pem, &chain_pem)
        .map(Some)
        .map_err(|_| DbError::corrupt(what()))
}

/// The audit record of an identity: what identifies it, never the key.
fn audited(summary: &IdentitySummary, source: &str) -> serde_json::Value {
    json!({
        "subject": summary.subject,
        "issuer": summary.issuer,
        "serial": summary.serial,
        "not_before": summary.not_before.to_rfc3339(),
        "not_after": summary.not_after.to_rfc3339(),
        "fingerprint_sha256": summary.fingerprint_sha256,
        "chain": summary.chain_subjects,
        "source": source,
    })
}

/// Installs `identity` as the one in force, retiring (and erasing the key of) the previous
/// one, with an audit entry naming both by subject and fingerprint. `source` says how it
/// came (`keys init`, `keys import`).
pub fn install(
    conn: &mut DbConnection,
    actor: &Actor,
    identity: &SigningIdentity,
    source: &str,
) -> DbResult<i64> {
    let summary = identity.summary();
    let key_pem = identity
        .key_pem()
        .map_err(|e| DbError::Internal(e.to_string()))?;
    write_transaction(conn, |conn| {
        let previous = public(conn)?;
        let now = now_timestamp();
        if let Some(previous) = &previous {
            diesel::update(signing_identities::table.find(previous.id))
                .set((
                    signing_identities::retired_at.eq(Some(&now)),
                    signing_identities::key_pem.eq(None::<String>),
                ))
                .execute(conn)?;
        }
        let id: i64 = diesel::insert_into(signing_identities::table)
            .values((
                signing_identities::subject.eq(&summary.subject),
                signing_identities::fingerprint_sha256.eq(&summary.fingerprint_sha256),
                signing_identities::not_after.eq(summary.not_after.to_rfc3339()),
                signing_identities::certificate_pem.eq(identity.certificate_pem()),
                signing_identities::chain_pem.eq(identity.chain_pem()),
                signing_identities::key_pem.eq(Some(key_pem.as_str())),
                signing_identities::installed_at.eq(&now),
                signing_identities::installed_by.eq(&actor.name),
            ))
            .returning(signing_identities::id)
            .get_result(conn)?;
        let before = previous.map(|p| {
            json!({"subject": p.subject, "fingerprint_sha256": p.fingerprint_sha256,
                   "not_after": p.not_after})
        });
        audit::append(
            conn,
            actor,
            "install",
            "signing_identity",
            &id.to_string(),
            before.as_ref(),
            Some(&audited(&summary, source)),
        )?;
        Ok(id)
    })
}

/// The certificate chains of every identity the lab has had, the retired ones too: a
/// certificate signed before a key change still verifies against the root it was signed under.
pub fn all_chains(conn: &mut DbConnection) -> DbResult<Vec<String>> {
    Ok(signing_identities::table
        .select(signing_identities::chain_pem)
        .order(signing_identities::id)
        .load(conn)?)
}
