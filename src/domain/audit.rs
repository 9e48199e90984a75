//! The hash chain of the audit log. Each entry's hash covers its own fields and
//! the previous entry's hash, so editing or deleting any row breaks every later
//! link, and a head hash printed elsewhere (on a certificate) pins the whole log.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit entry is about, as the `entity` filter names it. A certificate is the issued
/// state of a calibration: its history (draft, submission, approval, withdrawal) is the
/// calibration's entries, so `certificate` is read as the calibration it certifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEntity {
    Instrument,
    Calibration,
    Certificate,
    User,
    ApiToken,
    Cmc,
    SigningIdentity,
    Authorisation,
    Procedure,
    Customer,
    ValidityStatement,
}

impl AuditEntity {
    pub const ALL: [AuditEntity; 11] = [
        AuditEntity::Instrument,
        AuditEntity::Calibration,
        AuditEntity::Certificate,
        AuditEntity::User,
        AuditEntity::ApiToken,
        AuditEntity::Cmc,
        AuditEntity::SigningIdentity,
        AuditEntity::Authorisation,
        AuditEntity::Procedure,
        AuditEntity::Customer,
        AuditEntity::ValidityStatement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditEntity::Instrument => "instrument",
            AuditEntity::Calibration => "calibration",
            AuditEntity::Certificate => "certificate",
            AuditEntity::User => "user",
            AuditEntity::ApiToken => "api_token",
            AuditEntity::Cmc => "cmc",
            AuditEntity::SigningIdentity => "signing_identity",
            AuditEntity::Authorisation => "authorisation",
            AuditEntity::Procedure => "procedure",
            AuditEntity::Customer => "customer",
            AuditEntity::ValidityStatement => "validity_statement",
        }
    }

    /// The entity name the entries are stored under.
    pub fn stored(self) -> AuditEntity {
        match self {
            AuditEntity::Certificate => AuditEntity::Calibration,
            other => other,
        }
    }

    /// Whether its records are named by a whole-number id (a certificate and a validity
    /// statement by their numbers).
    pub fn numbered(self) -> bool {
        !matches!(
            self,
            AuditEntity::Certificate | AuditEntity::ValidityStatement
        )
    }
}

crate::domain::states::named_states!(AuditEntity);

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub occurred_at: String,
    pub user_id: Option<i64>,
    pub user_name: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// JSON of the entity before the change (null for a creation).
    pub before: Option<String>,
    /// JSON of the entity after the change.
    pub after: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// The actor's full name as the user register has it now (null for the command line or a
    /// user without one); not part of the hash, which covers the entry as written.
    pub user_full_name: Option<String>,
}

pub fn hex(bytes: &[u8]) -> String {
    // By table rather than `write!("{:02x}")`: every API request hashes its
    // bearer token, and the formatting machinery cost more than SHA-256 itself.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The hash of an entry: SHA-256 over its fields, each length-prefixed so no
/// two different entries can serialise to the same bytes.
pub fn entry_hash(entry: &AuditEntry) -> String {
    let mut hasher = Sha256::new();
    let user_id = entry.user_id.map(|id| id.to_string());
    let fields: [Option<&str>; 10] = [
        Some(&entry.prev_hash),
        Some(&entry.seq.to_string()),
        Some(&entry.occurred_at),
        user_id.as_deref(),
        Some(&entry.user_name),
        Some(&entry.action),
        Some(&entry.entity),
        Some(&entry.entity_id),
        entry.before.as_deref(),
        entry.after.as_deref(),
    ];
    for field in fields {
        match field {
            Some(text) => {
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update(u64::MAX.to_be_bytes()),
        }
    }
    hex(&hasher.finalize())
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChainBreak {
    /// The row's stored hash is not the hash of its contents: it was edited.
    Tampered { seq: i64 },
    /// The row does not link to the previous row: rows between were deleted or reordered.
    Unlinked { seq: i64 },
    /// A sequence number is missing.
    Missing { expected_seq: i64, found_seq: i64 },
    /// The head hash given (e.g. from a certificate) is not in the log: the log was
    /// truncated or rewritten after it.
    HeadNotFound { head: String },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Tampered { seq } => {
                write!(
                    f,
                    "audit row {seq} was altered: its hash does not match its contents"
                )
            }
            ChainBreak::Unlinked { seq } => write!(
                f,
                "audit row {seq} does not link to the row before it: rows were removed or rewritten"
            ),
            ChainBreak::Missing {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "audit row {expected_seq} is missing (next row found is {found_seq})"
            ),
            ChainBreak::HeadNotFound { head } => write!(
                f,
                "head {head} is not in the audit log: the log was truncated or rewritten after it"
            ),
        }
    }
}

/// Incremental verifier, fed rows in `seq` order (so a long log can be streamed).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
    head_wanted: Option<String>,
    head_seen: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedChain {
    pub entries: u64,
    pub head: String,
}

impl ChainVerifier {
    pub fn new(head_wanted: Option<String>) -> ChainVerifier {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            checked: 0,
            head_wanted: head_wanted.map(|h| h.trim().to_ascii_lowercase()),
            head_seen: false,
        }
    }

    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        if entry.seq != self.expected_seq {
            return Err(ChainBreak::Missing {
                expected_seq: self.expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry_hash(entry) != entry.hash {
            return Err(ChainBreak::Tampered { seq: entry.seq });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: entry.seq });
        }
        if self.head_wanted.as_deref() == Some(entry.hash.as_str()) {
            self.head_seen = true;
        }
        self.prev_hash = entry.hash.clone();
        self.expected_seq += 1;
        self.checked += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<VerifiedChain, ChainBreak> {
        if let Some(head) = self.head_wanted {
            if !self.head_seen && head != GENESIS_HASH {
                return Err(ChainBreak::HeadNotFound { head });
            }
        }
        Ok(VerifiedChain {
            entries: self.checked,
            head: self.prev_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_the_fips_180_vectors() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let mut entry = AuditEntry {
                    seq,
                    occurred_at: format!("2026-11-28T08:00:{seq:02}Z"),
                    user_id: Some(1),
                    user_name: "alice".into(),
                    action: "create".into(),
                    entity: "instrument".into(),
                    entity_id: seq.to_string(),
                    before: None,
                    after: Some(format!("{{\"id\":{seq}}}")),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    user_full_name: None,
                };
                entry.hash = entry_hash(&entry);
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry], head: Option<&str>) -> Result<VerifiedChain, ChainBreak> {
        let mut verifier = ChainVerifier::new(head.map(str::to_string));
        for entry in entries {
            verifier.check(entry)?;
        }
        verifier.finish()
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let entries = chain(5);
        let verified = verify(&entries, Some(&entries[2].hash)).unwrap();
        assert_eq!(verified.entries, 5);
        assert_eq!(verified.head, entries[4].hash);
    }

    #[test]
    fn an_edited_row_is_named() {
        let mut entries = chain(5);
        entries[2].after = Some("{\"id\":99}".into());
        assert_eq!(verify(&entries, None), Err(ChainBreak::Tampered { seq: 3 }));
    }

    #[test]
    fn a_deleted_row_is_named() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(
            verify(&entries, None),
            Err(ChainBreak::Missing {
                expected_seq: 2,
                found_seq: 3
            })
        );
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_link() {
        let mut entries = chain(4);
        entries[1].after = Some("{\"id\":42}".into());
        entries[1].hash = entry_hash(&entries[1]);
        assert_eq!(verify(&entries, None), Err(ChainBreak::Unlinked { seq: 3 }));
    }

    #[test]
    fn a_truncated_tail_loses_the_printed_head() {
        let entries = chain(5);
        let head = entries[4].hash.clone();
        assert!(matches!(
            verify(&entries[..3], Some(&head)),
            Err(ChainBreak::HeadNotFound { .. })
        ));
    }

    #[test]
    fn null_and_empty_fields_hash_differently() {
        let mut a = chain(1).remove(0);
        a.before = None;
        let mut b = a.clone();
        b.before = Some(String::new());
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }
}
