//! `caltrace keys init`: a demo public-key infrastructure — a root CA, an intermediate CA and a
//! signing certificate naming the laboratory — built with `x509-cert`'s certificate builder and
//! `p256` keys. Only the signing key is kept; the two CA keys are dropped once they have signed,
//! so nobody can issue more certificates under the demo root (a new `keys init` makes a new one).

use chrono::{DateTime, Duration, Utc};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::elliptic_curve::Generate;
use spki::{SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use super::{name, SigningError, SigningIdentity};

/// What a certificate of the demo PKI is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Root,
    Intermediate,
    /// The laboratory's document-signing certificate (an end entity).
    Signing,
}

/// The extensions each role gets (RFC 5280 4.2.1): key identifiers, basic constraints
/// (critical; a CA only for the two CAs, the intermediate may sign end entities only) and
/// key usage (critical; certificate and CRL signing for CAs, digitalSignature and
/// nonRepudiation for the signing certificate).
struct Profile {
    role: Role,
    subject: Name,
    issuer: Name,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions: Vec<Extension> = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let aki = match self.role {
            Role::Root => AuthorityKeyIdentifier {
                key_identifier: Some(ski.0.clone()),
                ..Default::default()
            },
            _ => AuthorityKeyIdentifier::try_from(issuer_spk)?,
        };
        extensions.push(aki.to_extension(tbs.subject(), &extensions)?);
        let constraints = BasicConstraints {
            ca: self.role != Role::Signing,
            path_len_constraint: match self.role {
                Role::Intermediate => Some(0),
                _ => None,
            },
        };
        extensions.push(constraints.to_extension(tbs.subject(), &extensions)?);
        let usage = match self.role {
            Role::Root | Role::Intermediate => KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            Role::Signing => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        };
        extensions.push(KeyUsage(usage).to_extension(tbs.subject(), &extensions)?);
        extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}

fn crypto(error: impl std::fmt::Display) -> SigningError {
    SigningError::Certificate(format!("cannot build the demo PKI: {error}"))
}

pub fn new_key() -> Result<SigningKey, SigningError> {
    SigningKey::try_generate().map_err(crypto)
}

/// A random positive serial number of 16 bytes (RFC 5280 4.1.2.2: unique, at most 20 bytes).
fn serial_number() -> Result<SerialNumber, SigningError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(crypto)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(crypto)
}

fn time(at: DateTime<Utc>) -> Result<Time, SigningError> {
    let seconds = u64::try_from(at.timestamp()).map_err(crypto)?;
    Time::try_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)).map_err(crypto)
}

/// One certificate: `subject_key`'s public key, named `subject`, signed by `issuer_key`
/// under `issuer`'s name, valid from `not_before` to `not_after`.
pub fn issue(
    role: Role,
    subject: Name,
    subject_key: &SigningKey,
    issuer: Option<(&Name, &SigningKey)>,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<Certificate, SigningError> {
    let (issuer_name, issuer_key) = issuer.unwrap_or((&subject, subject_key));
    let profile = Profile {
        role,
        subject: subject.clone(),
        issuer: issuer_name.clone(),
    };
    let validity = Validity::new(time(not_before)?, time(not_after)?);
    let spki = SubjectPublicKeyInfo::from_key(subject_key.verifying_key()).map_err(crypto)?;
    let builder =
        CertificateBuilder::new(profile, serial_number()?, validity, spki).map_err(crypto)?;
    builder.build::<_, DerSignature>(issuer_key).map_err(crypto)
}

/// The demo PKI of `keys init`: the root and the intermediate (for the trust file) and the
/// signing identity.
pub struct DemoPki {
    pub root: Certificate,
    pub intermediate: Certificate,
    pub identity: SigningIdentity,
}

/// Validity periods: the root 20 years, the intermediate 10, the signing certificate 3;
/// each starts an hour back so that a clock a little behind still accepts it.
pub fn demo_pki(
    lab_name: &str,
    country: Option<&str>,
    now: DateTime<Utc>,
) -> Result<DemoPki, SigningError> {
    let lab = lab_name.trim();
    if lab.is_empty() {
        return Err(SigningError::Certificate(
            "lab.name is empty: the signing certificate must name the laboratory".into(),
        ));
    }
    let start = now - Duration::hours(1);
    let years = |n: i64| now + Duration::days(365 * n);
    let root_key = new_key()?;
    let root_name = name(&format!("{lab} demo root CA"), lab, country)?;
    let root = issue(
        Role::Root,
        root_name.clone(),
        &root_key,
        None,
        start,
        years(20),
    )?;
    let intermediate_key = new_key()?;
    let intermediate_name = name(&format!("{lab} demo intermediate CA"), lab, country)?;
    let intermediate = issue(
        Role::Intermediate,
        intermediate_name.clone(),
        &intermediate_key,
        Some((&root_name, &root_key)),
        start,
        years(10),
    )?;
    let signing_key = new_key()?;
    let signing = issue(
        Role::Signing,
        name(lab, lab, country)?,
        &signing_key,
        Some((&intermediate_name, &intermediate_key)),
        start,
        years(3),
    )?;
    let identity = SigningIdentity::assemble(
        signing_key,
        signing,
        vec![intermediate.clone(), root.clone()],
    );
    identity.check_usable(now)?;
    Ok(DemoPki {
        root,
        intermediate,
        identity,
    })
}
