//! The demo PKI's certificates checked field by field, the refusals of `keys import`, the
//! canonical form against libxml2's (`xmllint --exc-c14n`), and a sign/verify round trip.
//! The independent verifiers (xmlsec1, signxml) run in tests/integration/signing.rs and on an
//! awkward DCC in src/dcc/tests.rs.

use chrono::{Duration, Utc};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};

use super::pki::{demo_pki, issue, new_key, Role};
use super::*;

const LAB: &str = "Shanghai Institute of Pressure, \"Test\" Lab";

/// A 1024-bit RSA key (openssl genpkey): refused as too weak.
const RSA_1024: &str = "-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALPhHC/d51ydG9Dh
dBkIIeIdumegd95+dGnhAaMoNQRlB4sA68is6DPG436cGpYGlWrT13mDsIdmmwWp
2ku0dxx4ABwQsmn4Ll/Zmc+23nckG/ACSJe/eIWCYIZVljJ/aNuoJly1meZgwWbs
QGvTIldGmG1dChBDWJ7LR76TQtJ9AgMBAAECgYAMEjlABRY3ottxAxA1ddRARlpy
BdTFe5r4V/8yIcqdBuKgs2kfSGs0vk4Z+wPVuY9hYeH955Z7H6mbkbBykCPGCoJQ
6ZiocOBcZGbmQm3HrsyqudXiyj7DzoQAAcjouoiII0yYtTJxl6umQL2p78YtDPtO
pjfF7tc4OtIcbrItSQJBANcGbMicwfFE0dMr3U4Zm4B09R7vC6UpN6hSv2he3/uB
UPHari2X5av1psCKrlmebVGerKyqoRvLLJJIzPDRBgMCQQDWKCsnZYQU1exHMsTQ
JQL0Tv8qj6UCHvz78Tl+N8ITI8558vjRKrPdWl2LD1do+kLyvis83OwmcAwBrZy4
S51/AkBK0OZ66ugkXbCwTDvlV82eZZOAXuZrYisGezw0QYaniPg0HsWqAYcdTQzn
Q5mkfxZEZvRn47rI4+mvQHtmcyQnAkAVnAYGuqqiQ5fM82WCr0lmB5ad39LBrQjQ
D15CyzONJN7P1WGgEZQGsPihcJHcaOxafC/2u0Ak/MdpX/BhdFfXAkEAp7n86xeA
MaQZxqME66j4STgEkqvNirEE7BfuUtXYS7nKnMZwOWv9NRRLhL5gCv8ESrm3j27G
yEl02UmgehnqSQ==
-----END PRIVATE KEY-----
";

/// A P-384 key (openssl genpkey): not P-256.
const P384: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDAUDHaKdm6jifQGRcaE
9alNqdgJHQrfKdALx+05OXdMt6xeTqEN3C5kAx7frFvL/zuhZANiAARmzKfBbXqb
NLQvlfbh13N2pP3fjffcUT1OyPUbBmc0/+3wokfGGs3pPAJp7QlAsR84ddsgZqW5
Cni8LZpW/eNWLHtcUBa4t/SBPvasDmhW8uXIr1UcihOoTeezzBcZjbs=
-----END PRIVATE KEY-----
";

fn constraints(certificate: &Certificate) -> BasicConstraints {
    let (critical, constraints) = certificate
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
        .unwrap()
        .expect("basicConstraints");
    assert!(critical, "basicConstraints is critical");
    constraints
}

fn usage(certificate: &Certificate) -> KeyUsage {
    let (critical, usage) = certificate
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .unwrap()
        .expect("keyUsage");
    assert!(critical, "keyUsage is critical");
    usage
}

#[test]
fn the_demo_pki_chains_root_to_intermediate_to_a_signing_certificate_naming_the_lab() {
    let now = Utc::now();
    let pki = demo_pki(LAB, Some("CN"), now).unwrap();
    let leaf = pki.identity.certificate();
    let (root, intermediate) = (&pki.root, &pki.intermediate);
    assert_eq!(pki.identity.chain(), [intermediate.clone(), root.clone()]);

    // Signatures: the root by itself, the intermediate by the root, the leaf by the
    // intermediate, and by nothing else.
    let subject = |c: &Certificate| c.tbs_certificate().subject().clone();
    let issuer = |c: &Certificate| c.tbs_certificate().issuer().clone();
    assert_eq!(issuer(root), subject(root));
    assert!(issued_by(root, root).unwrap());
    assert_eq!(issuer(intermediate), subject(root));
    assert!(issued_by(intermediate, root).unwrap());
    assert!(!issued_by(intermediate, intermediate).unwrap());
    assert_eq!(issuer(leaf), subject(intermediate));
    assert!(issued_by(leaf, intermediate).unwrap());
    assert!(!issued_by(leaf, root).unwrap());

    // Basic constraints and key usage fit each role.
    assert!(constraints(root).ca);
    assert_eq!(constraints(root).path_len_constraint, None);
    assert!(constraints(intermediate).ca);
    assert_eq!(constraints(intermediate).path_len_constraint, Some(0));
    assert!(!constraints(leaf).ca);
    for ca in [root, intermediate] {
        assert_eq!(
            usage(ca).0,
            KeyUsages::KeyCertSign | KeyUsages::CRLSign,
            "{}",
            subject(ca)
        );
    }
    assert_eq!(
        usage(leaf).0,
        KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
    );

    // The signing certificate names the laboratory; all three are valid now.
    let summary = pki.identity.summary();
    let common_name = leaf.tbs_certificate().subject().common_name().unwrap();
    assert!(
        matches!(&common_name, Some(x509_cert::ext::pkix::name::DirectoryString::Utf8String(cn)) if cn == LAB),
        "{common_name:?}"
    );
    assert_eq!(
        summary.subject,
        "CN=Shanghai Institute of Pressure\\, \\\"Test\\\" Lab,O=Shanghai Institute of Pressure\\, \\\"Test\\\" Lab,C=CN"
    );
    for certificate in [root, intermediate, leaf] {
        let validity = certificate.tbs_certificate().validity();
        assert!(time_of(&validity.not_before) <= now);
        assert!(time_of(&validity.not_after) > now + Duration::days(365));
    }
    assert!(
        time_of(&leaf.tbs_certificate().validity().not_after)
            < time_of(&intermediate.tbs_certificate().validity().not_after)
    );
    assert_eq!(summary.chain_subjects.len(), 2);
    assert_eq!(summary.fingerprint_sha256.len(), 64);
    // The key is not in what may be shown.
    assert!(!format!("{:?} {:?}", pki.identity, summary).contains("PRIVATE"));
}

#[test]
fn an_identity_reads_back_from_its_pem_with_the_chain_in_any_order() {
    let now = Utc::now();
    let pki = demo_pki(LAB, None, now).unwrap();
    let key = pki.identity.key_pem().unwrap();
    let root_first = format!(
        "{}{}",
        der::EncodePem::to_pem(&pki.root, LineEnding::LF).unwrap(),
        der::EncodePem::to_pem(&pki.intermediate, LineEnding::LF).unwrap()
    );
    let identity = SigningIdentity::from_pem(
        &key,
        &pki.identity.certificate_pem(),
        Some(&root_first),
        now,
    )
    .unwrap();
    assert_eq!(identity.chain(), pki.identity.chain());
    assert_eq!(identity.summary(), pki.identity.summary());
    // The chain may follow the certificate in one file, as CAs often deliver it.
    let identity = SigningIdentity::from_pem(&key, &pki.identity.trust_pem(), None, now).unwrap();
    assert_eq!(identity.chain(), pki.identity.chain());
    // A SEC1 key (openssl ecparam -genkey) reads too.
    let sec1 = p256::SecretKey::from(pki.identity.signing_key())
        .to_sec1_pem(LineEnding::LF)
        .unwrap();
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    SigningIdentity::from_pem(&sec1, &pki.identity.trust_pem(), None, now).unwrap();
}

#[test]
fn import_refuses_a_key_that_is_not_the_certificates() {
    let now = Utc::now();
    let lab = demo_pki(LAB, None, now).unwrap();
    let other = demo_pki("Other lab", None, now).unwrap();
    let refused = SigningIdentity::from_pem(
        &other.identity.key_pem().unwrap(),
        &lab.identity.certificate_pem(),
        Some(&lab.identity.chain_pem()),
        now,
    )
    .unwrap_err();
    assert_eq!(refused, SigningError::KeyMismatch);
    assert_eq!(
        refused.to_string(),
        "the private key does not match the certificate's public key"
    );
}

#[test]
fn import_refuses_an_expired_or_not_yet_valid_certificate() {
    let now = Utc::now();
    let ca_key = new_key().unwrap();
    let ca_name = name("Old CA", "Old lab", None).unwrap();
    let key = new_key().unwrap();
    let expired = issue(
        Role::Signing,
        name("Old lab", "Old lab", None).unwrap(),
        &key,
        Some((&ca_name, &ca_key)),
        now - Duration::days(800),
        now - Duration::days(35),
    )
    .unwrap();
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let certificate_pem = pem_of(&expired);
    let refused = SigningIdentity::from_pem(&key_pem, &certificate_pem, None, now).unwrap_err();
    let SigningError::Expired(on) = &refused else {
        panic!("{refused:?}");
    };
    let not_after = time_of(&expired.tbs_certificate().validity().not_after);
    assert_eq!(on, &not_after.to_rfc3339());
    assert!(refused.to_string().starts_with(&format!(
        "the signing certificate expired on {}",
        &not_after.to_rfc3339()[..10]
    )));
    // The same certificate a day before it ran out was acceptable.
    SigningIdentity::from_pem(
        &key_pem,
        &certificate_pem,
        None,
        not_after - Duration::days(1),
    )
    .unwrap();
    let refused =
        SigningIdentity::from_pem(&key_pem, &certificate_pem, None, now - Duration::days(900))
            .unwrap_err();
    assert!(
        matches!(refused, SigningError::NotYetValid(_)),
        "{refused:?}"
    );
}

#[test]
fn import_refuses_keys_it_cannot_or_must_not_sign_with() {
    let certificate = demo_pki(LAB, None, Utc::now())
        .unwrap()
        .identity
        .certificate_pem();
    let refusal = |key: &str| {
        SigningIdentity::from_pem(key, &certificate, None, Utc::now())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refusal(RSA_1024),
        "private key: an RSA key of 1024 bits is too weak: RSA keys must have at least 2048 bits"
    );
    assert_eq!(
        refusal(P384),
        "private key: curve P-384 is not supported yet: ECDSA keys must be P-256 (prime256v1)"
    );
    assert!(
        refusal(&RSA_1024.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
            .contains("the key is encrypted")
    );
    assert!(refusal("not a key").contains("not a PEM file"));
    assert!(refusal(&certificate).contains("is not a private key"));
}

#[test]
fn import_refuses_a_ca_certificate_and_a_chain_that_does_not_lead_up() {
    let now = Utc::now();
    let pki = demo_pki(LAB, None, now).unwrap();
    // The root's own key and certificate: a CA, not a signing certificate.
    let root_key = new_key().unwrap();
    let root_name = name("A root", "A lab", None).unwrap();
    let root = issue(
        Role::Root,
        root_name,
        &root_key,
        None,
        now - Duration::hours(1),
        now + Duration::days(10),
    )
    .unwrap();
    let refused = SigningIdentity::from_pem(
        &root_key.to_pkcs8_pem(LineEnding::LF).unwrap(),
        &pem_of(&root),
        None,
        now,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("it is a CA certificate"),
        "{refused}"
    );
    // Another lab's root in the chain is not on the path.
    let stray = demo_pki("Other lab", None, now).unwrap().root;
    let chain = pki.identity.chain_pem() + &pem_of(&stray);
    let refused = SigningIdentity::from_pem(
        &pki.identity.key_pem().unwrap(),
        &pki.identity.certificate_pem(),
        Some(&chain),
        now,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("Other lab demo root CA")
            && refused.to_string().contains("is not on the path"),
        "{refused}"
    );
}

const AWKWARD: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<!-- a comment is not signed -->\n",
    "<a:root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" xmlns:unused=\"urn:unused\" z=\"1\" b:y=\"2\" ",
    "a=\"&quot;&lt;&amp;&gt;&#9;&#10;&#13;'\">\n",
    "  <b:child>O'Brien &amp; \"Söhne\" &lt;GmbH&gt; &#13; 上海</b:child>\n",
    "  <empty/>\n",
    "  <c xmlns=\"urn:default\"><d xmlns=\"\">x</d><!-- gone --><e/></c>\n",
    "  <b:again xmlns:b=\"urn:b\"><b:inner b:attr=\"v\"/></b:again>\n",
    "</a:root>\n"
);

#[test]
fn the_canonical_form_is_what_libxml2_makes_of_the_same_document() {
    let ours = c14n::document(&c14n::parse(AWKWARD).unwrap(), None).unwrap();
    let expected = concat!(
        "<a:root xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" a=\"&quot;&lt;&amp;>&#x9;&#xA;&#xD;'\" z=\"1\" b:y=\"2\">\n",
        "  <b:child>O'Brien &amp; \"Söhne\" &lt;GmbH&gt; &#xD; 上海</b:child>\n",
        "  <empty></empty>\n",
        "  <c xmlns=\"urn:default\"><d xmlns=\"\">x</d><e></e></c>\n",
        "  <b:again><b:inner b:attr=\"v\"></b:inner></b:again>\n",
        "</a:root>"
    );
    assert_eq!(String::from_utf8(ours.clone()).unwrap(), expected);

    // libxml2's exclusive canonicaliser (with comments, so they are removed from the input).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("awkward.xml");
    let without_comments = AWKWARD
        .replace("<!-- a comment is not signed -->\n", "")
        .replace("<!-- gone -->", "");
    std::fs::write(&file, without_comments).unwrap();
    match std::process::Command::new("xmllint")
        .arg("--exc-c14n")
        .arg(&file)
        .output()
    {
        Ok(output) => {
            assert!(output.status.success());
            assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
        }
        Err(_) => {
            assert!(
                std::env::var_os("CALTRACE_REQUIRE_TOOLS").is_none(),
                "xmllint is required (apt-get install libxml2-utils)"
            );
            eprintln!("NOTE: xmllint not installed: comparison with libxml2's c14n skipped");
        }
    }
    // A subtree declares what it uses, nothing inherited that it does not.
    let doc = c14n::parse(AWKWARD).unwrap();
    let inner = doc
        .descendants()
        .find(|n| n.tag_name().name() == "inner")
        .unwrap();
    assert_eq!(
        String::from_utf8(c14n::subtree(inner).unwrap()).unwrap(),
        "<b:inner xmlns:b=\"urn:b\" b:attr=\"v\"></b:inner>"
    );
}

const DCC: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<dcc:digitalCalibrationCertificate xmlns:dcc=\"https://ptb.de/dcc\" ",
    "xmlns:si=\"https://ptb.de/si\" schemaVersion=\"3.3.0\">\n",
    "  <dcc:administrativeData><dcc:x>O'Brien &amp; &#13;</dcc:x></dcc:administrativeData>\n",
    "  <dcc:measurementResults><si:real><si:value>0.5003</si:value></si:real></dcc:measurementResults>\n",
    "</dcc:digitalCalibrationCertificate>\n"
);

#[test]
fn a_signed_document_verifies_and_any_change_is_caught() {
    let now = Utc::now();
    let pki = demo_pki(LAB, None, now).unwrap();
    let signed = xades::sign(DCC, &pki.identity, now).unwrap();
    assert!(signed.ends_with("</ds:Signature>\n</dcc:digitalCalibrationCertificate>\n"));
    // Everything before the signature is the document as rendered.
    assert!(signed.starts_with(&DCC[..DCC.rfind("</dcc:digital").unwrap()]));
    let verified = xades::verify(&signed).unwrap();
    assert_eq!(verified.signer, pki.identity.summary().subject);
    assert_eq!(
        verified.signing_time,
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert_eq!(verified.certificates.len(), 3);
    // XMLDSig's ECDSA signature value is r‖s (64 bytes for P-256), not DER.
    let value = &signed[signed.find("<ds:SignatureValue>").unwrap() + 19
        ..signed.find("</ds:SignatureValue>").unwrap()];
    assert_eq!(
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(value)
            .unwrap()
            .len(),
        64
    );

    for (from, to, why) in [
        ("0.5003", "0.5004", "digest mismatch"),
        ("O'Brien", "O'Brian", "digest mismatch"),
        (
            "Z</xades:SigningTime>",
            "Z </xades:SigningTime>",
            "signed properties",
        ),
        (
            "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\">ECDSA",
            "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\">ecdsa",
            "does not verify",
        ),
    ] {
        let changed = signed.replacen(from, to, 1);
        assert_ne!(changed, signed, "{from}");
        let error = xades::verify(&changed).unwrap_err().to_string();
        assert!(error.contains(why), "{from}: {error}");
    }
    // Whitespace inside a tag is not part of the canonical form: that change verifies.
    let respaced = signed.replacen(
        "<ds:SignatureMethod Algorithm",
        "<ds:SignatureMethod\n  Algorithm",
        1,
    );
    xades::verify(&respaced).unwrap();
    // A document signed already is not signed twice.
    assert!(xades::sign(&signed, &pki.identity, now).is_err());
}
