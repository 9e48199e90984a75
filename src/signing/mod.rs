//! The laboratory's signing identity (DESIGN section 8b): an ECDSA P-256 key and its X.509
//! certificate with the chain up to a root the lab's customers trust, checked when it is
//! installed; and the enveloped XAdES-BES signature of an issued DCC ([`xades`]).
//!
//! Everything below the XML canonicalisation comes from RustCrypto crates (`p256`, `x509-cert`,
//! `der`, `spki`, `pkcs8`, `sha2`): nothing here computes a curve point or parses DER by hand.
//! The private key never leaves this module as text except through
//! [`SigningIdentity::key_pem`], which only the storage layer calls; `Debug` does not show it.

pub mod c14n;
pub mod check;
pub mod pades;
pub mod pkcs12;
pub mod pki;
pub mod xades;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::pem::LineEnding;
use der::{Decode, DecodePem, Encode, EncodePem};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use sha2::{Digest, Sha256};
use spki::DecodePublicKey;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Curves smaller than P-256 (P-192, P-224): refused as too weak.
const WEAK_CURVES: [(ObjectIdentifier, &str); 2] = [
    (ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1"), "P-192"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.33"), "P-224"),
];
/// Larger curves, named in the refusal.
const OTHER_CURVES: [(ObjectIdentifier, &str); 2] = [
    (ObjectIdentifier::new_unwrap("1.3.132.0.34"), "P-384"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.35"), "P-521"),
];
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// Why a key, a certificate or a signature was refused, in words a lab manager can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The private key cannot be read or is not one we sign with.
    #[error("private key: {0}")]
    Key(String),
    /// The certificate (or a chain certificate) cannot be read or is unfit.
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("the private key does not match the certificate's public key")]
    KeyMismatch,
    #[error("the signing certificate expired on {0}; install a current one")]
    Expired(String),
    #[error("the signing certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The document to sign or verify is not what we expect.
    #[error("XML: {0}")]
    Xml(String),
    /// The PDF to sign or verify is not what we expect.
    #[error("PDF: {0}")]
    Pdf(String),
    /// A signature does not verify, or computing one failed.
    #[error("signature: {0}")]
    Signature(String),
}

/// What a valid signature says, the DCC's ([`xades::verify`]) or the PDF's
/// ([`pades::verify`]): who signed, when, with which certificates. Whether they chain to a
/// trusted root is the caller's question.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The signing certificate, then the others the signature carries.
    pub certificates: Vec<Certificate>,
    pub signer: String,
    /// RFC 3339, UTC.
    pub signing_time: String,
}

/// RFC 5035 `IssuerSerial ::= SEQUENCE { issuer GeneralNames, serialNumber
/// CertificateSerialNumber }` (without the optional issuerUID): how XAdES' IssuerSerialV2 and
/// CAdES' ESSCertIDv2 name the signing certificate besides its hash.
#[derive(Clone, Debug, PartialEq, Eq, der::Sequence)]
pub(crate) struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

impl IssuerSerial {
    pub fn of(certificate: &Certificate) -> IssuerSerial {
        IssuerSerial {
            issuer: vec![GeneralName::DirectoryName(
                certificate.tbs_certificate().issuer().clone(),
            )],
            serial_number: certificate.tbs_certificate().serial_number().clone(),
        }
    }
}

/// An installed signing identity: the key, its certificate, and the chain above it (the
/// issuing CA first, the root last when the lab supplied it).
#[derive(Clone)]
pub struct SigningIdentity {
    key: SigningKey,
    certificate: Certificate,
    chain: Vec<Certificate>,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .field("key", &"(private)")
            .finish()
    }
}

/// What may be shown of an identity: never the key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentitySummary {
    pub subject: String,
    pub issuer: String,
    /// Hexadecimal, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the signing certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
    pub chain_subjects: Vec<String>,
}

pub(crate) fn time_of(time: &x509_cert::time::Time) -> DateTime<Utc> {
    let seconds = time.to_unix_duration().as_secs();
    DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(i64::MAX), 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn der_of(certificate: &Certificate) -> Vec<u8> {
    certificate
        .to_der()
        .expect("a decoded certificate encodes again")
}

fn pem_of(certificate: &Certificate) -> String {
    certificate
        .to_pem(LineEnding::LF)
        .expect("a decoded certificate encodes again")
}

/// Reads a private key: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), P-256 only, with a
/// message naming what else it was.
pub fn read_private_key(pem: &str) -> Result<SigningKey, SigningError> {
    let label = der::pem::decode_label(pem.trim_start().as_bytes())
        .map_err(|_| SigningError::Key("not a PEM file (-----BEGIN … PRIVATE KEY-----)".into()))?;
    match label {
        "PRIVATE KEY" => {
            let (_, der) = der::pem::decode_vec(pem.trim_start().as_bytes())
                .map_err(|e| SigningError::Key(format!("unreadable PEM: {e}")))?;
            read_pkcs8_key(&der)
        }
        "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(pem.trim_start())
            .map(SigningKey::from)
            .map_err(|_| {
                SigningError::Key(
                    "unreadable SEC1 key, or not on the P-256 curve (prime256v1); \
                     ECDSA keys must be P-256"
                        .into(),
                )
            }),
        "ENCRYPTED PRIVATE KEY" => Err(SigningError::Key(
            "the key is encrypted; decrypt it first (openssl pkey -in KEY.pem -out plain.pem)"
                .into(),
        )),
        "RSA PRIVATE KEY" => Err(SigningError::Key(
            "RSA keys are not supported yet: caltrace signs with ECDSA P-256 keys".into(),
        )),
        other => Err(SigningError::Key(format!(
            "a PEM '{other}' is not a private key"
        ))),
    }
}

/// A PKCS#8 `PrivateKeyInfo` (DER) as a P-256 key, or why it is not one.
fn read_pkcs8_key(der: &[u8]) -> Result<SigningKey, SigningError> {
    check_pkcs8_algorithm(der)?;
    SigningKey::from_pkcs8_der(der)
        .map_err(|e| SigningError::Key(format!("unreadable PKCS#8 P-256 key: {e}")))
}

/// Names what a PKCS#8 key is when it is not P-256: RSA (with its size) or another curve.
fn check_pkcs8_algorithm(der: &[u8]) -> Result<(), SigningError> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|e| SigningError::Key(format!("unreadable PKCS#8 key: {e}")))?;
    let algorithm = info.algorithm;
    if algorithm.oid == RSA_ENCRYPTION {
        let bits = rsa_modulus_bits(info.private_key.as_bytes()).unwrap_or(0);
        return Err(SigningError::Key(if bits < 2048 {
            format!("an RSA key of {bits} bits is too weak: RSA keys must have at least 2048 bits")
        } else {
            format!("RSA keys ({bits} bits) are not supported yet: caltrace signs with ECDSA P-256 keys")
        }));
    }
    if algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(SigningError::Key(format!(
            "algorithm {} is not supported: caltrace signs with ECDSA P-256 keys",
            algorithm.oid
        )));
    }
    let curve = algorithm
        .parameters_oid()
        .map_err(|_| SigningError::Key("an EC key without a named curve".into()))?;
    if let Some((_, name)) = WEAK_CURVES.iter().find(|(oid, _)| *oid == curve) {
        return Err(SigningError::Key(format!(
            "an ECDSA key on {name} is too weak: keys must be P-256"
        )));
    }
    if curve != PRIME256V1 {
        let name = OTHER_CURVES
            .iter()
            .find(|(oid, _)| *oid == curve)
            .map_or_else(|| curve.to_string(), |(_, name)| name.to_string());
        return Err(SigningError::Key(format!(
            "curve {name} is not supported yet: ECDSA keys must be P-256 (prime256v1)"
        )));
    }
    Ok(())
}

/// The modulus size of a PKCS#1 RSAPrivateKey, to say how weak a refused key is.
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let any = der::asn1::AnyRef::from_der(pkcs1).ok()?;
    let mut inner = der::SliceReader::new(any.value()).ok()?;
    let _version = der::asn1::UintRef::decode(&mut inner).ok()?;
    let modulus = der::asn1::UintRef::decode(&mut inner).ok()?;
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    Some((bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

fn read_certificates(pem: &str, what: &str) -> Result<Vec<Certificate>, SigningError> {
    let certificates = Certificate::load_pem_chain(pem.as_bytes())
        .map_err(|e| SigningError::Certificate(format!("{what} is not PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(SigningError::Certificate(format!(
            "{what} holds no certificate"
        )));
    }
    Ok(certificates)
}

/// The certificate's public key as a P-256 verifying key.
pub(crate) fn verifying_key_of(certificate: &Certificate) -> Result<VerifyingKey, SigningError> {
    let spki = certificate
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| SigningError::Certificate(e.to_string()))?;
    VerifyingKey::from_public_key_der(&spki).map_err(|_| {
        SigningError::Certificate(format!(
            "{}: its public key is not an ECDSA P-256 key",
            certificate.tbs_certificate().subject()
        ))
    })
}

/// Whether `issuer` signed `certificate`: Ok(true/false) for an ECDSA P-256 issuer with
/// SHA-256; Err for any other algorithm (the caller decides whether that is acceptable).
pub fn issued_by(certificate: &Certificate, issuer: &Certificate) -> Result<bool, SigningError> {
    if certificate.signature_algorithm().oid != ECDSA_WITH_SHA256 {
        return Err(SigningError::Chain(format!(
            "signature algorithm {} cannot be checked here",
            certificate.signature_algorithm().oid
        )));
    }
    let key = verifying_key_of(issuer)?;
    let tbs = certificate
        .tbs_certificate()
        .to_der()
        .map_err(|e| SigningError::Certificate(e.to_string()))?;
    let Some(signature) = certificate.signature().as_bytes() else {
        return Ok(false);
    };
    let Ok(signature) = p256::ecdsa::DerSignature::from_bytes(signature) else {
        return Ok(false);
    };
    use p256::ecdsa::signature::Verifier;
    Ok(key.verify(&tbs, &signature).is_ok())
}

/// Puts the chain in order from the issuer of `leaf` upwards, by names; a certificate that
/// is not on the path is refused rather than served to customers as if it were.
fn order_chain(
    leaf: &Certificate,
    mut rest: Vec<Certificate>,
) -> Result<Vec<Certificate>, SigningError> {
    let mut ordered: Vec<Certificate> = Vec::new();
    let mut current = leaf.clone();
    while !rest.is_empty() {
        let issuer = current.tbs_certificate().issuer().clone();
        if issuer == *current.tbs_certificate().subject() && !ordered.is_empty() {
            break; // reached a self-signed root
        }
        let Some(index) = rest
            .iter()
            .position(|c| *c.tbs_certificate().subject() == issuer)
        else {
            break;
        };
        let next = rest.remove(index);
        // A chain signed with an algorithm checked elsewhere (RSA) is linked by names only.
        if let Ok(false) = issued_by(&current, &next) {
            return Err(SigningError::Chain(format!(
                "'{}' is named as the issuer of '{}' but did not sign it",
                next.tbs_certificate().subject(),
                current.tbs_certificate().subject()
            )));
        }
        ordered.push(next.clone());
        current = next;
    }
    if let Some(stray) = rest.first() {
        return Err(SigningError::Chain(format!(
            "'{}' is not on the path from the signing certificate to its root",
            stray.tbs_certificate().subject()
        )));
    }
    Ok(ordered)
}

impl SigningIdentity {
    /// Checks and assembles an identity: the key must be P-256 and match the certificate,
    /// the certificate must be valid at `now` and allowed to sign documents, and the chain
    /// must lead from it upwards.
    pub fn from_pem(
        key_pem: &str,
        certificate_pem: &str,
        chain_pem: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SigningIdentity, SigningError> {
        let key = read_private_key(key_pem)?;
        let mut certificates = read_certificates(certificate_pem, "the certificate file")?;
        let certificate = certificates.remove(0);
        // A certificate file may carry its chain after the certificate, as many CAs deliver it.
        if let Some(chain_pem) = chain_pem {
            certificates.extend(read_certificates(chain_pem, "the chain file")?);
        }
        let public = verifying_key_of(&certificate).map_err(|_| SigningError::KeyMismatch)?;
        if public != *key.verifying_key() {
            return Err(SigningError::KeyMismatch);
        }
        SigningIdentity::checked(key, certificate, certificates, now)
    }

    /// The same checks for a PKCS#12 file: its signing certificate is the one whose public
    /// key is the file's key, the others are its chain.
    pub fn from_pkcs12(
        bytes: &[u8],
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<SigningIdentity, SigningError> {
        let pkcs12::Contents {
            key,
            mut certificates,
        } = pkcs12::read(bytes, password)?;
        let position = certificates
            .iter()
            .position(|c| verifying_key_of(c).is_ok_and(|public| public == *key.verifying_key()))
            .ok_or(SigningError::KeyMismatch)?;
        let certificate = certificates.remove(position);
        SigningIdentity::checked(key, certificate, certificates, now)
    }

    fn checked(
        key: SigningKey,
        certificate: Certificate,
        certificates: Vec<Certificate>,
        now: DateTime<Utc>,
    ) -> Result<SigningIdentity, SigningError> {
        let chain = order_chain(&certificate, certificates)?;
        let identity = SigningIdentity {
            key,
            certificate,
            chain,
        };
        identity.check_usable(now)?;
        Ok(identity)
    }

    /// Rebuilds a stored identity without the installation-time checks of time (a stored
    /// identity that has since expired must still load, to be reported as expired).
    pub fn from_stored(
        key_pem: &str,
        certificate_pem: &str,
        chain_pem: &str,
    ) -> Result<SigningIdentity, SigningError> {
        let key = read_private_key(key_pem)?;
        let certificate = Certificate::from_pem(certificate_pem.as_bytes())
            .map_err(|e| SigningError::Certificate(e.to_string()))?;
        let chain = if chain_pem.trim().is_empty() {
            Vec::new()
        } else {
            read_certificates(chain_pem, "the stored chain")?
        };
        if verifying_key_of(&certificate)? != *key.verifying_key() {
            return Err(SigningError::KeyMismatch);
        }
        Ok(SigningIdentity {
            key,
            certificate,
            chain,
        })
    }

    /// An identity from parts already known to belong together (the demo PKI).
    pub(crate) fn assemble(
        key: SigningKey,
        certificate: Certificate,
        chain: Vec<Certificate>,
    ) -> SigningIdentity {
        SigningIdentity {
            key,
            certificate,
            chain,
        }
    }

    /// Whether the identity may sign at `now`: in its validity period, and its key usage (if
    /// stated) allows signatures.
    pub fn check_usable(&self, now: DateTime<Utc>) -> Result<(), SigningError> {
        let validity = self.certificate.tbs_certificate().validity();
        let not_before = time_of(&validity.not_before);
        let not_after = time_of(&validity.not_after);
        if now > not_after {
            return Err(SigningError::Expired(not_after.to_rfc3339()));
        }
        if now < not_before {
            return Err(SigningError::NotYetValid(not_before.to_rfc3339()));
        }
        let tbs = self.certificate.tbs_certificate();
        if let Ok(Some((_, constraints))) = tbs.get_extension::<BasicConstraints>() {
            if constraints.ca {
                return Err(SigningError::Certificate(
                    "it is a CA certificate; install the lab's own signing certificate".into(),
                ));
            }
        }
        if let Ok(Some((_, usage))) = tbs.get_extension::<KeyUsage>() {
            if !usage.digital_signature() && !usage.non_repudiation() {
                return Err(SigningError::Certificate(
                    "its key usage allows neither digitalSignature nor nonRepudiation".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certificates above the signing certificate, issuer first.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    pub fn certificate_der(&self) -> Vec<u8> {
        der_of(&self.certificate)
    }

    pub fn certificate_pem(&self) -> String {
        pem_of(&self.certificate)
    }

    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(pem_of).collect()
    }

    /// What `/api/v1/lab/trust` serves: the signing certificate, then its chain up to the root.
    pub fn trust_pem(&self) -> String {
        self.certificate_pem() + &self.chain_pem()
    }

    /// The private key as PKCS#8 PEM, for the storage layer only.
    pub fn key_pem(&self) -> Result<zeroize::Zeroizing<String>, SigningError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SigningError::Key(e.to_string()))
    }

    pub fn summary(&self) -> IdentitySummary {
        let tbs = self.certificate.tbs_certificate();
        IdentitySummary {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            serial: crate::domain::audit::hex(tbs.serial_number().as_bytes()),
            not_before: time_of(&tbs.validity().not_before),
            not_after: time_of(&tbs.validity().not_after),
            fingerprint_sha256: crate::domain::audit::hex(&Sha256::digest(der_of(
                &self.certificate,
            ))),
            chain_subjects: self
                .chain
                .iter()
                .map(|c| c.tbs_certificate().subject().to_string())
                .collect(),
        }
    }
}

/// Builds the X.509 name `CN=…,O=…[,C=…]` from free text (a lab name may hold commas).
pub fn name(
    common_name: &str,
    organisation: &str,
    country: Option<&str>,
) -> Result<x509_cert::name::Name, SigningError> {
    let mut text = format!(
        "CN={},O={}",
        escape_rdn(common_name),
        escape_rdn(organisation)
    );
    if let Some(country) = country {
        text.push_str(&format!(",C={}", escape_rdn(country)));
    }
    text.parse()
        .map_err(|e| SigningError::Certificate(format!("cannot name '{common_name}': {e}")))
}

/// RFC 4514 escaping of an attribute value.
fn escape_rdn(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(
            c,
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | '#' | ' '
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
