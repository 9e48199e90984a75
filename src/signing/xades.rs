//! The enveloped XAdES-BES signature of a DCC (ETSI EN 319 132-1; DESIGN section 8b), the last
//! child of `dcc:digitalCalibrationCertificate`:
//!
//! - `ds:SignedInfo`: exclusive c14n, ECDSA-SHA256 (`xmldsig-more#ecdsa-sha256`: the signature
//!   value is r‖s, 64 bytes, as RFC 4050 wants, not DER), and two references with SHA-256
//!   digests — the document (`URI=""`, enveloped-signature transform, then exclusive c14n) and
//!   the `xades:SignedProperties` (`Type="http://uri.etsi.org/01903#SignedProperties"`);
//! - `ds:KeyInfo/ds:X509Data`: the signing certificate, then its chain;
//! - `ds:Object/xades:QualifyingProperties`: SigningTime, SigningCertificateV2 (SHA-256 of the
//!   signing certificate and its IssuerSerialV2, RFC 5035's DER IssuerSerial in base64) and a
//!   DataObjectFormat saying the signed document is `application/xml`.
//!
//! The signature is written without whitespace inside it. Each element that only names an
//! algorithm (DigestMethod, Transform, …) also says it in words ("SHA-256"): PTB's DCC
//! schematron refuses any element, in any namespace, that is empty or holds only blanks, and
//! the XMLDSig schema gives these elements mixed content, text that verifiers pass over and
//! that the canonical form (so the signature) covers. Digests are taken over the canonical
//! form [`super::c14n`] computes from the parsed text, never over the text as written; and
//! [`sign`] checks its own result with [`verify`] (which takes the enveloped document apart
//! the way a verifier does) before it is stored. Independent verifiers — `xmlsec1` and
//! Python's `signxml` — check the same files in the test suite (tests/integration/signing.rs).

use base64ct::{Base64, Encoding};
use chrono::{DateTime, SecondsFormat, Utc};
use der::Encode;
use p256::ecdsa::signature::{Signer, Verifier};
use roxmltree::Node;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

/// Shared with the PDF's signature ([`super::pades`]); re-exported where it was first defined.
pub use super::VerifiedSignature;
use super::{c14n, verifying_key_of, IssuerSerial, SigningError, SigningIdentity};

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";
const DCC: &str = "https://ptb.de/dcc";

const SIGNATURE_ID: &str = "caltrace-signature";
const SIGNED_PROPERTIES_ID: &str = "caltrace-signed-properties";
const DOCUMENT_REFERENCE_ID: &str = "caltrace-reference-document";

fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

fn sha256_b64(bytes: &[u8]) -> String {
    b64(&Sha256::digest(bytes))
}

fn der(certificate: &Certificate) -> Result<Vec<u8>, SigningError> {
    certificate
        .to_der()
        .map_err(|e| SigningError::Certificate(e.to_string()))
}

/// The parts of a `ds:Signature` that vary.
struct Parts<'a> {
    document_digest: &'a str,
    properties_digest: &'a str,
    signature_value: &'a str,
    signing_time: &'a str,
    certificate_digest: &'a str,
    issuer_serial: &'a str,
    certificates: &'a [String],
}

fn signature_xml(p: &Parts) -> String {
    let mut certificates = String::new();
    for certificate in p.certificates {
        certificates.push_str("<ds:X509Certificate>");
        certificates.push_str(certificate);
        certificates.push_str("</ds:X509Certificate>");
    }
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="{DS}" Id="{SIGNATURE_ID}">"#,
            r#"<ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{EXC_C14N}">exclusive XML canonicalisation</ds:CanonicalizationMethod>"#,
            r#"<ds:SignatureMethod Algorithm="{ECDSA_SHA256}">ECDSA P-256 with SHA-256</ds:SignatureMethod>"#,
            r#"<ds:Reference Id="{DOCUMENT_REFERENCE_ID}" URI="">"#,
            r#"<ds:Transforms>"#,
            r#"<ds:Transform Algorithm="{ENVELOPED}">enveloped signature</ds:Transform>"#,
            r#"<ds:Transform Algorithm="{EXC_C14N}">exclusive XML canonicalisation</ds:Transform>"#,
            r#"</ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="{SHA256}">SHA-256</ds:DigestMethod>"#,
            r#"<ds:DigestValue>{document_digest}</ds:DigestValue>"#,
            r#"</ds:Reference>"#,
            r##"<ds:Reference Type="{SIGNED_PROPERTIES_TYPE}" URI="#{SIGNED_PROPERTIES_ID}">"##,
            r#"<ds:Transforms><ds:Transform Algorithm="{EXC_C14N}">exclusive XML canonicalisation</ds:Transform></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="{SHA256}">SHA-256</ds:DigestMethod>"#,
            r#"<ds:DigestValue>{properties_digest}</ds:DigestValue>"#,
            r#"</ds:Reference>"#,
            r#"</ds:SignedInfo>"#,
            r#"<ds:SignatureValue>{signature_value}</ds:SignatureValue>"#,
            r#"<ds:KeyInfo><ds:X509Data>{certificates}</ds:X509Data></ds:KeyInfo>"#,
            r#"<ds:Object>"#,
            r##"<xades:QualifyingProperties xmlns:xades="{XADES}" Target="#{SIGNATURE_ID}">"##,
            r#"<xades:SignedProperties Id="{SIGNED_PROPERTIES_ID}">"#,
            r#"<xades:SignedSignatureProperties>"#,
            r#"<xades:SigningTime>{signing_time}</xades:SigningTime>"#,
            r#"<xades:SigningCertificateV2><xades:Cert><xades:CertDigest>"#,
            r#"<ds:DigestMethod Algorithm="{SHA256}">SHA-256</ds:DigestMethod>"#,
            r#"<ds:DigestValue>{certificate_digest}</ds:DigestValue>"#,
            r#"</xades:CertDigest>"#,
            r#"<xades:IssuerSerialV2>{issuer_serial}</xades:IssuerSerialV2>"#,
            r#"</xades:Cert></xades:SigningCertificateV2>"#,
            r#"</xades:SignedSignatureProperties>"#,
            r#"<xades:SignedDataObjectProperties>"#,
            r##"<xades:DataObjectFormat ObjectReference="#{DOCUMENT_REFERENCE_ID}">"##,
            r#"<xades:MimeType>application/xml</xades:MimeType>"#,
            r#"</xades:DataObjectFormat>"#,
            r#"</xades:SignedDataObjectProperties>"#,
            r#"</xades:SignedProperties>"#,
            r#"</xades:QualifyingProperties>"#,
            r#"</ds:Object>"#,
            r#"</ds:Signature>"#,
        ),
        DS = DS,
        SIGNATURE_ID = SIGNATURE_ID,
        EXC_C14N = EXC_C14N,
        ECDSA_SHA256 = ECDSA_SHA256,
        DOCUMENT_REFERENCE_ID = DOCUMENT_REFERENCE_ID,
        ENVELOPED = ENVELOPED,
        SHA256 = SHA256,
        SIGNED_PROPERTIES_TYPE = SIGNED_PROPERTIES_TYPE,
        SIGNED_PROPERTIES_ID = SIGNED_PROPERTIES_ID,
        XADES = XADES,
        document_digest = p.document_digest,
        properties_digest = p.properties_digest,
        signature_value = p.signature_value,
        signing_time = p.signing_time,
        certificate_digest = p.certificate_digest,
        issuer_serial = p.issuer_serial,
        certificates = certificates,
    )
}

fn is(node: &Node, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().namespace() == Some(namespace)
        && node.tag_name().name() == name
}

fn child<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Result<Node<'a, 'input>, SigningError> {
    node.children()
        .find(|c| is(c, namespace, name))
        .ok_or_else(|| SigningError::Xml(format!("{} has no {name}", node.tag_name().name())))
}

fn find<'a, 'input>(
    node: Node<'a, 'input>,
    namespace: &str,
    name: &str,
) -> Result<Node<'a, 'input>, SigningError> {
    node.descendants()
        .find(|c| is(c, namespace, name))
        .ok_or_else(|| SigningError::Xml(format!("no {name} in the signature")))
}

/// Where the signature goes: just before the closing tag of the document element.
fn closing_tag_at(xml: &str) -> Result<usize, SigningError> {
    let doc = c14n::parse(xml)?;
    let root = doc.root_element();
    if !is(&root, DCC, "digitalCalibrationCertificate") {
        return Err(SigningError::Xml(
            "the document element is not dcc:digitalCalibrationCertificate".into(),
        ));
    }
    if root.children().any(|c| is(&c, DS, "Signature")) {
        return Err(SigningError::Xml("the DCC is signed already".into()));
    }
    xml[..root.range().end]
        .rfind("</")
        .ok_or_else(|| SigningError::Xml("the document element is empty".into()))
}

/// Signs a DCC as the laboratory at `signing_time`: the document with its signature as the
/// last child of the document element, on a line of its own.
pub fn sign(
    unsigned: &str,
    identity: &SigningIdentity,
    signing_time: DateTime<Utc>,
) -> Result<String, SigningError> {
    let at = closing_tag_at(unsigned)?;
    let (head, tail) = unsigned.split_at(at);
    // What remains once a verifier removes the signature element (the enveloped-signature
    // transform): the text around it, here the indentation before and the line end after.
    let (before, after) = ("  ", "\n");
    let enveloped = format!("{head}{before}{after}{tail}");
    let document_digest = sha256_b64(&c14n::document(&c14n::parse(&enveloped)?, None)?);

    let certificate = identity.certificate();
    let mut certificates = vec![b64(&der(certificate)?)];
    for above in identity.chain() {
        certificates.push(b64(&der(above)?));
    }
    let issuer_serial = IssuerSerial::of(certificate)
        .to_der()
        .map_err(|e| SigningError::Certificate(e.to_string()))?;
    let signing_time = signing_time.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut parts = Parts {
        document_digest: &document_digest,
        properties_digest: "",
        signature_value: "",
        signing_time: &signing_time,
        certificate_digest: &sha256_b64(&der(certificate)?),
        issuer_serial: &b64(&issuer_serial),
        certificates: &certificates,
    };

    // The signed properties do not depend on SignedInfo: digest them first...
    let draft = signature_xml(&parts);
    let draft_doc = c14n::parse(&draft)?;
    let properties = find(draft_doc.root_element(), XADES, "SignedProperties")?;
    let properties_digest = sha256_b64(&c14n::subtree(properties)?);
    parts.properties_digest = &properties_digest;

    // ...then sign the canonical SignedInfo that names both digests.
    let draft = signature_xml(&parts);
    let draft_doc = c14n::parse(&draft)?;
    let signed_info = child(draft_doc.root_element(), DS, "SignedInfo")?;
    let signature: p256::ecdsa::Signature = identity
        .signing_key()
        .try_sign(&c14n::subtree(signed_info)?)
        .map_err(|e| SigningError::Signature(e.to_string()))?;
    let signature_value = b64(&signature.to_bytes());
    parts.signature_value = &signature_value;

    let signed = format!("{head}{before}{}{after}{tail}", signature_xml(&parts));
    // A signature that does not verify must never be stored as the certificate.
    verify(&signed).map_err(|e| {
        SigningError::Signature(format!("the signature just made does not verify: {e}"))
    })?;
    Ok(signed)
}

fn algorithm<'a>(node: Node<'a, '_>) -> &'a str {
    node.attribute("Algorithm").unwrap_or("")
}

fn transforms(reference: Node) -> Vec<String> {
    reference
        .children()
        .find(|c| is(c, DS, "Transforms"))
        .map(|t| {
            t.children()
                .filter(|c| is(c, DS, "Transform"))
                .map(|c| algorithm(c).to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn text_of(node: Node) -> String {
    node.text()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn decode_b64(text: &str, what: &str) -> Result<Vec<u8>, SigningError> {
    Base64::decode_vec(text).map_err(|_| SigningError::Xml(format!("{what} is not base64")))
}

/// Checks a signed DCC cryptographically: both references' digests over the canonical forms,
/// the signature over SignedInfo with the key of the first KeyInfo certificate, and that
/// SigningCertificateV2 names that certificate. Whether the certificate chains to a trusted
/// root is the caller's question (the certificates are returned).
pub fn verify(xml: &str) -> Result<VerifiedSignature, SigningError> {
    let doc = c14n::parse(xml)?;
    let signature = doc
        .root_element()
        .children()
        .rev()
        .find(|c| c.is_element())
        .filter(|c| is(c, DS, "Signature"))
        .ok_or_else(|| SigningError::Xml("the DCC is not signed".into()))?;
    let signed_info = child(signature, DS, "SignedInfo")?;
    check_methods(signed_info)?;
    let properties = check_references(&doc, signature, signed_info)?;
    let certificates = key_info_certificates(signature)?;
    let signer = certificates
        .first()
        .ok_or_else(|| SigningError::Xml("no X509Certificate in KeyInfo".into()))?;
    check_signing_certificate(properties, signer)?;
    let value = decode_b64(
        &text_of(child(signature, DS, "SignatureValue")?),
        "SignatureValue",
    )?;
    let value = p256::ecdsa::Signature::from_slice(&value).map_err(|_| {
        SigningError::Signature("the signature value is not ECDSA P-256 r‖s".into())
    })?;
    verifying_key_of(signer)?
        .verify(&c14n::subtree(signed_info)?, &value)
        .map_err(|_| SigningError::Signature("the signature value does not verify".into()))?;
    Ok(VerifiedSignature {
        signer: signer.tbs_certificate().subject().to_string(),
        signing_time: text_of(find(properties, XADES, "SigningTime")?),
        certificates,
    })
}

/// Only the algorithms we sign with are accepted: a verifier that follows whatever the
/// document names can be talked into a weaker one.
fn check_methods(signed_info: Node) -> Result<(), SigningError> {
    if algorithm(child(signed_info, DS, "CanonicalizationMethod")?) != EXC_C14N {
        return Err(SigningError::Signature(
            "unexpected canonicalisation".into(),
        ));
    }
    if algorithm(child(signed_info, DS, "SignatureMethod")?) != ECDSA_SHA256 {
        return Err(SigningError::Signature(
            "unexpected signature method".into(),
        ));
    }
    Ok(())
}

/// Checks each reference's digest; both the whole document and the SignedProperties must be
/// covered (XAdES B-B), and the SignedProperties element is returned.
fn check_references<'a, 'input>(
    doc: &'a roxmltree::Document<'input>,
    signature: Node<'a, 'input>,
    signed_info: Node<'a, 'input>,
) -> Result<Node<'a, 'input>, SigningError> {
    let mut document_checked = false;
    let mut properties = None;
    for reference in signed_info.children().filter(|c| is(c, DS, "Reference")) {
        if algorithm(child(reference, DS, "DigestMethod")?) != SHA256 {
            return Err(SigningError::Signature("unexpected digest method".into()));
        }
        let expected = text_of(child(reference, DS, "DigestValue")?);
        let uri = reference.attribute("URI").unwrap_or("");
        let canonical = if uri.is_empty() {
            if transforms(reference) != [ENVELOPED, EXC_C14N] {
                return Err(SigningError::Signature(
                    "unexpected document transforms".into(),
                ));
            }
            document_checked = true;
            c14n::document(doc, Some(signature.id()))?
        } else {
            let target = signed_properties(doc, reference, uri)?;
            properties = Some(target);
            c14n::subtree(target)?
        };
        if sha256_b64(&canonical) != expected {
            return Err(SigningError::Signature(if uri.is_empty() {
                "the document was changed after signing (digest mismatch)".to_string()
            } else {
                "the signed properties were changed (digest mismatch)".to_string()
            }));
        }
    }
    if !document_checked {
        return Err(SigningError::Signature(
            "no reference to the document".into(),
        ));
    }
    properties.ok_or_else(|| SigningError::Signature("no SignedProperties reference".into()))
}

fn signed_properties<'a, 'input>(
    doc: &'a roxmltree::Document<'input>,
    reference: Node,
    uri: &str,
) -> Result<Node<'a, 'input>, SigningError> {
    let id = uri.strip_prefix('#').unwrap_or(uri);
    let target = doc
        .descendants()
        .find(|n| n.attribute("Id") == Some(id))
        .ok_or_else(|| SigningError::Signature(format!("no element with Id {id}")))?;
    if transforms(reference) != [EXC_C14N]
        || reference.attribute("Type") != Some(SIGNED_PROPERTIES_TYPE)
        || !is(&target, XADES, "SignedProperties")
    {
        return Err(SigningError::Signature(format!(
            "unexpected reference {uri}"
        )));
    }
    Ok(target)
}

fn key_info_certificates(signature: Node) -> Result<Vec<Certificate>, SigningError> {
    find(signature, DS, "X509Data")?
        .children()
        .filter(|c| is(c, DS, "X509Certificate"))
        .map(|c| {
            let bytes = decode_b64(&text_of(c), "X509Certificate")?;
            <Certificate as der::Decode>::from_der(&bytes)
                .map_err(|e| SigningError::Certificate(e.to_string()))
        })
        .collect()
}

/// XAdES binds the signer's certificate into what is signed, so a second certificate with
/// the same key cannot be swapped in under the same signature.
fn check_signing_certificate(properties: Node, signer: &Certificate) -> Result<(), SigningError> {
    let cert_digest = text_of(find(
        find(properties, XADES, "CertDigest")?,
        DS,
        "DigestValue",
    )?);
    if cert_digest != sha256_b64(&der(signer)?) {
        return Err(SigningError::Signature(
            "SigningCertificateV2 does not name the certificate in KeyInfo".into(),
        ));
    }
    Ok(())
}
