//! Installing the laboratory's signing identity (DESIGN section 8b): `caltrace keys init`
//! (a demo PKI for the configured lab) and `caltrace keys import` (the lab's own key and
//! certificate), each checked in full before anything is stored.

use chrono::{DateTime, Utc};

use crate::db::certificates::Verification;
use crate::db::{self, DbConnection, DbError, DbResult};
use crate::domain::audit::sha256_hex;
use crate::domain::people::Actor;
use crate::signing::check::{check_document, trusted_roots, DocumentCheck};
use crate::signing::pki::{demo_pki, DemoPki};
use crate::signing::{IdentitySummary, SigningError, SigningIdentity};
use crate::workflow::certificates::IssueContext;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The key, certificate or chain was refused; nothing was stored.
    #[error("{0}")]
    Refused(#[from] SigningError),
    #[error("{0}")]
    Db(#[from] DbError),
    /// `keys init` would replace an identity the lab installed.
    #[error(
        "a signing identity is installed already ({0}); `caltrace keys init --replace` \
         replaces it with a new demo PKI"
    )]
    Installed(String),
}

/// Makes a demo PKI naming the laboratory and installs its signing certificate. Refuses to
/// replace an identity in force unless `replace`.
pub fn init_demo(
    conn: &mut DbConnection,
    actor: &Actor,
    context: &IssueContext,
    replace: bool,
    now: DateTime<Utc>,
) -> Result<DemoPki, KeysError> {
    if let Some(existing) = db::signing::public(conn)? {
        if !replace {
            return Err(KeysError::Installed(existing.subject));
        }
    }
    let country = crate::dcc::laboratory_country(&context.laboratory);
    let pki = demo_pki(&context.laboratory.name, Some(&country), now)?;
    db::signing::install(conn, actor, &pki.identity, "keys init")?;
    Ok(pki)
}

/// Checks a lab's own key, certificate and chain (PEM) and installs them.
pub fn import(
    conn: &mut DbConnection,
    actor: &Actor,
    key_pem: &str,
    certificate_pem: &str,
    chain_pem: Option<&str>,
    now: DateTime<Utc>,
) -> Result<IdentitySummary, KeysError> {
    let identity = SigningIdentity::from_pem(key_pem, certificate_pem, chain_pem, now)?;
    db::signing::install(conn, actor, &identity, "keys import")?;
    Ok(identity.summary())
}

/// `import` for a PKCS#12 file and its password.
pub fn import_pkcs12(
    conn: &mut DbConnection,
    actor: &Actor,
    bytes: &[u8],
    password: &str,
    now: DateTime<Utc>,
) -> Result<IdentitySummary, KeysError> {
    let identity = SigningIdentity::from_pkcs12(bytes, password, now)?;
    db::signing::install(conn, actor, &identity, "keys import")?;
    Ok(identity.summary())
}

/// What the verification page says of an uploaded file (DESIGN 8b): its signature checked
/// offline against every root this laboratory has signed under, and, when the file names a
/// certificate, what the register says of it with the file's SHA-256.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadVerdict {
    /// The valid signature's facts, or None with `problem` saying why not.
    pub signature: Option<DocumentCheck>,
    pub problem: Option<String>,
    pub register: Option<Verification>,
    /// Withdrawal, recalibration date and chain state, as the page words them.
    pub notes: Option<db::certificates::RegisterNotes>,
}

pub fn check_upload(conn: &mut DbConnection, bytes: &[u8]) -> DbResult<UploadVerdict> {
    let chains = db::signing::all_chains(conn)?;
    let signature = if chains.is_empty() {
        Err("this laboratory does not sign its certificates: check the SHA-256 instead".to_string())
    } else {
        trusted_roots(&chains.concat())
            .and_then(|roots| check_document(bytes, &roots))
            .map_err(|e| e.to_string())
    };
    let number = signature
        .as_ref()
        .ok()
        .and_then(|check| check.number.clone());
    let (register, notes) = match number {
        Some(number) => (
            Some(db::certificates::verify(
                conn,
                &number,
                Some(&sha256_hex(bytes)),
            )?),
            db::certificates::register_notes(conn, &number)?,
        ),
        None => (None, None),
    };
    let (signature, problem) = match signature {
        Ok(check) => (Some(check), None),
        Err(problem) => (None, Some(problem)),
    };
    Ok(UploadVerdict {
        signature,
        problem,
        register,
        notes,
    })
}
