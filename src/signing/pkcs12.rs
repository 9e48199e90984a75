//! Reading a lab's key and certificates from a PKCS#12 file (RFC 7292), as CAs and
//! `openssl pkcs12 -export` deliver them.
//!
//! RustCrypto's `pkcs12` crate is still a pre-release pinned to another `cms` than the one we
//! sign with, so the few PFX structures are declared here with `der`'s derive; the ciphers,
//! PBKDF2 and HMAC come from `pkcs5`, `hmac` and `sha2`. The one algorithm written out here is
//! the PKCS#12 key derivation of the integrity MAC (RFC 7292 appendix B.2), which no released
//! crate offers: its correctness is checked by every file OpenSSL makes, since a wrong key
//! fails the MAC. The MAC is checked before anything is decrypted, so a wrong password is
//! named as such rather than as a damaged file.

use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use sha2::digest::block_api::BlockSizeUser;
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::SigningError;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The PKCS#12 password-based encryption schemes (pbeWithSHAAnd…), 1.2.840.113549.1.12.1.*.
const LEGACY_PBE_ARC: &str = "1.2.840.113549.1.12.1.";

/// What the file holds: the key and every certificate, in file order.
pub struct Contents {
    pub key: SigningKey,
    pub certificates: Vec<Certificate>,
}

#[derive(Sequence)]
struct Pfx {
    version: u8,
    auth_safe: cms::content_info::ContentInfo,
    #[asn1(optional = "true")]
    mac_data: Option<MacData>,
}

#[derive(Sequence)]
struct MacData {
    mac: DigestInfo,
    mac_salt: OctetString,
    #[asn1(default = "one")]
    iterations: u32,
}

fn one() -> u32 {
    1
}

#[derive(Sequence)]
struct DigestInfo {
    algorithm: AlgorithmIdentifierOwned,
    digest: OctetString,
}

#[derive(Sequence)]
struct SafeBag {
    bag_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    bag_value: Any,
    #[asn1(optional = "true")]
    bag_attributes: Option<Any>,
}

#[derive(Sequence)]
struct CertBag {
    cert_id: ObjectIdentifier,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    cert_value: OctetString,
}

/// `EncryptedPrivateKeyInfo` (RFC 5958), the value of a shrouded key bag.
#[derive(Sequence)]
struct ShroudedKey {
    encryption_algorithm: AlgorithmIdentifierOwned,
    encrypted_data: OctetString,
}

fn unreadable(what: &str, error: impl std::fmt::Display) -> SigningError {
    SigningError::Key(format!(
        "the PKCS#12 file's {what} cannot be read ({error}); export it again as DER \
         (openssl pkcs12 -export)"
    ))
}

/// Opens a PKCS#12 file with its password: integrity MAC first, then every bag.
pub fn read(bytes: &[u8], password: &str) -> Result<Contents, SigningError> {
    let pfx = Pfx::from_der(bytes).map_err(|_| {
        SigningError::Key(
            "not a PKCS#12 file (.p12/.pfx in DER): give a PEM key with --key and --certificate, \
             or the .p12 file with --pkcs12"
                .into(),
        )
    })?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(SigningError::Key(
            "a PKCS#12 file protected by a public key, not a password, is not supported".into(),
        ));
    }
    let auth_safe = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|e| unreadable("contents", e))?;
    match &pfx.mac_data {
        Some(mac) => check_mac(mac, auth_safe.as_bytes(), password)?,
        None => {
            return Err(SigningError::Key(
                "the PKCS#12 file has no integrity MAC; export it with a password".into(),
            ))
        }
    }
    let mut key = None;
    let mut certificates = Vec::new();
    let safes = Vec::<cms::content_info::ContentInfo>::from_der(auth_safe.as_bytes())
        .map_err(|e| unreadable("contents", e))?;
    for safe in safes {
        for bag in safe_contents(&safe, password)? {
            read_bag(&bag, password, &mut key, &mut certificates)?;
        }
    }
    let key =
        key.ok_or_else(|| SigningError::Key("the PKCS#12 file holds no private key".into()))?;
    Ok(Contents { key, certificates })
}

/// The bags of one part of the file: plain (`data`) or encrypted with the password.
fn safe_contents(
    safe: &cms::content_info::ContentInfo,
    password: &str,
) -> Result<Vec<SafeBag>, SigningError> {
    let plain = if safe.content_type == ID_DATA {
        Zeroizing::new(
            safe.content
                .decode_as::<OctetString>()
                .map_err(|e| unreadable("contents", e))?
                .as_bytes()
                .to_vec(),
        )
    } else if safe.content_type == ID_ENCRYPTED_DATA {
        let encrypted = safe
            .content
            .decode_as::<cms::encrypted_data::EncryptedData>()
            .map_err(|e| unreadable("encrypted part", e))?;
        let info = encrypted.enc_content_info;
        let ciphertext = info
            .encrypted_content
            .ok_or_else(|| unreadable("encrypted part", "no content"))?;
        decrypt(&info.content_enc_alg, ciphertext.as_bytes(), password)?
    } else {
        return Err(unreadable(
            "contents",
            format!("content type {}", safe.content_type),
        ));
    };
    Vec::<SafeBag>::from_der(&plain).map_err(|e| unreadable("bags", e))
}

fn read_bag(
    bag: &SafeBag,
    password: &str,
    key: &mut Option<SigningKey>,
    certificates: &mut Vec<Certificate>,
) -> Result<(), SigningError> {
    let value = bag.bag_value.to_der().map_err(|e| unreadable("bags", e))?;
    if bag.bag_id == CERT_BAG {
        let cert_bag = CertBag::from_der(&value).map_err(|e| unreadable("certificate", e))?;
        if cert_bag.cert_id == X509_CERTIFICATE {
            certificates.push(
                Certificate::from_der(cert_bag.cert_value.as_bytes())
                    .map_err(|e| unreadable("certificate", e))?,
            );
        }
        return Ok(());
    }
    let pkcs8 = if bag.bag_id == SHROUDED_KEY_BAG {
        let shrouded = ShroudedKey::from_der(&value).map_err(|e| unreadable("key", e))?;
        decrypt(
            &shrouded.encryption_algorithm,
            shrouded.encrypted_data.as_bytes(),
            password,
        )?
    } else if bag.bag_id == KEY_BAG {
        Zeroizing::new(value)
    } else {
        return Ok(());
    };
    if key.is_some() {
        return Err(SigningError::Key(
            "the PKCS#12 file holds more than one private key; export only the signing key".into(),
        ));
    }
    *key = Some(super::read_pkcs8_key(&pkcs8)?);
    Ok(())
}

/// PBES2 (PBKDF2 with AES-CBC), OpenSSL 3's default. The PKCS#12 schemes of older exports
/// (3DES, RC2) are refused with how to convert the file.
fn decrypt(
    algorithm: &AlgorithmIdentifierOwned,
    ciphertext: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, SigningError> {
    if algorithm.oid.to_string().starts_with(LEGACY_PBE_ARC) {
        return Err(SigningError::Key(
            "the PKCS#12 file uses legacy encryption (3DES or RC2, as older Windows and \
             `openssl -legacy` export it); convert it: openssl pkcs12 -legacy -in old.p12 \
             -nodes | openssl pkcs12 -export -out new.p12"
                .into(),
        ));
    }
    let encoded = algorithm.to_der().map_err(|e| unreadable("cipher", e))?;
    let scheme = pkcs5::EncryptionScheme::try_from(encoded.as_slice())
        .map_err(|e| unreadable("cipher", e))?;
    scheme
        .decrypt(password.as_bytes(), ciphertext)
        .map(Zeroizing::new)
        .map_err(|_| {
            SigningError::Key("the PKCS#12 file cannot be decrypted with this password".into())
        })
}

/// The integrity MAC: HMAC over the contents with a key derived from the password.
fn check_mac(mac: &MacData, contents: &[u8], password: &str) -> Result<(), SigningError> {
    let algorithm = mac.mac.algorithm.oid;
    let salt = mac.mac_salt.as_bytes();
    let expected = mac.mac.digest.as_bytes();
    let valid = if algorithm == SHA256 {
        let key = derive_mac_key::<sha2::Sha256>(password, salt, mac.iterations);
        hmac_verifies::<Hmac<sha2::Sha256>>(&key, contents, expected)
    } else if algorithm == SHA1 {
        let key = derive_mac_key::<sha1::Sha1>(password, salt, mac.iterations);
        hmac_verifies::<Hmac<sha1::Sha1>>(&key, contents, expected)
    } else {
        return Err(SigningError::Key(format!(
            "the PKCS#12 file's MAC uses {algorithm}; export it with -macalg sha256"
        )));
    };
    if valid {
        Ok(())
    } else {
        Err(SigningError::Key(
            "wrong password for the PKCS#12 file (its integrity check fails)".into(),
        ))
    }
}

fn hmac_verifies<M: Mac + KeyInit>(key: &[u8], contents: &[u8], expected: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(contents);
    mac.verify_slice(expected).is_ok()
}

/// RFC 7292 B.2 with ID 3 (MAC key), for a key as long as one hash output: the password as
/// a NUL-terminated big-endian UTF-16 string, salt and password each repeated to whole
/// blocks of the hash, then the hash iterated over the diversifier and those blocks.
fn derive_mac_key<H: Digest + BlockSizeUser>(
    password: &str,
    salt: &[u8],
    iterations: u32,
) -> Zeroizing<Vec<u8>> {
    let block = <H as BlockSizeUser>::block_size();
    let mut bmp = Zeroizing::new(Vec::new());
    for unit in password.encode_utf16().chain([0]) {
        bmp.extend_from_slice(&unit.to_be_bytes());
    }
    let repeat = |source: &[u8]| -> Zeroizing<Vec<u8>> {
        let length = source.len().div_ceil(block) * block;
        Zeroizing::new(source.iter().copied().cycle().take(length).collect())
    };
    let mut hash = H::new();
    hash.update(vec![3u8; block]);
    hash.update(repeat(salt).as_slice());
    hash.update(repeat(&bmp).as_slice());
    let mut output = hash.finalize();
    for _ in 1..iterations {
        output = H::digest(&output);
    }
    Zeroizing::new(output.to_vec())
}
