//! The PAdES B-B signature of an issued certificate PDF (ETSI EN 319 142-1; DESIGN section 8b).
//!
//! The PDF/A-3b file [`crate::pdf::render_with_dcc`] writes is signed in an incremental update
//! (ISO 32000-2 7.5.6): the original bytes stay a prefix of the signed file, and what is
//! appended is
//! - a signature dictionary (ISO 32000-2 12.8.1): `/Type /Sig`, `/Filter /Adobe.PPKLite`,
//!   `/SubFilter /ETSI.CAdES.detached`, `/M` (the signing time: PAdES puts it here, not in the
//!   CMS), `/Reason`, `/ByteRange` and `/Contents`, a hexadecimal string reserved with zeros and
//!   patched once the ranges around it are digested;
//! - a signature field that is its own widget annotation, invisible by size (`/Rect [0 0 0 0]`)
//!   yet printable and locked (`/F 132`), which PDF/A allows without an appearance stream
//!   (ISO 19005-3 6.3.3), on the first page;
//! - that page with the widget in its `/Annots`, and the catalog with an `/AcroForm` naming the
//!   field (`/SigFlags 3`: signatures exist, append only);
//! - a cross-reference section for those objects and a trailer with `/Prev`, the same `/ID`
//!   and `/Info` as the revision it extends.
//!
//! `/Contents` holds a DER CMS SignedData (RFC 5652 5) without encapsulated content: SHA-256
//! over the byte ranges, one SignerInfo identified by issuer and serial, ECDSA with SHA-256 over
//! the DER of the signed attributes — contentType, messageDigest and signing-certificate-v2
//! (RFC 5035, ESSCertIDv2 with issuerSerial), and no signing-time attribute, which ETSI EN
//! 319 142-1 forbids at the B-B level beside `/M` — and the signing certificate with its chain. The
//! ASN.1 types come from the `cms` and `x509-cert` crates, the signature from `p256`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier, OctetString, SetOfVec};
use der::{Decode, Encode, SliceReader};
use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, StringFormat};
use p256::ecdsa::signature::{Signer, Verifier};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use super::{
    order_chain, verifying_key_of, IssuerSerial, SigningError, SigningIdentity, VerifiedSignature,
    ECDSA_WITH_SHA256,
};
use crate::pdf::text_string as text;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

#[cfg(test)]
#[path = "pades_tests.rs"]
mod tests;

const SUB_FILTER: &[u8] = b"ETSI.CAdES.detached";
/// Room for `[0 a b c]` with offsets of up to ten digits, padded with spaces.
const BYTE_RANGE_WIDTH: usize = 36;
/// Bytes reserved in `/Contents` beyond the certificates: the signed attributes (with the
/// issuer's name again), the SignerInfo, the ECDSA signature and the DER headers.
const CONTENTS_HEADROOM: usize = 2048;

/// RFC 5035 `ESSCertIDv2`: `hashAlgorithm` defaults to SHA-256 and DER leaves a default out,
/// so it is absent here.
#[derive(Clone, Debug, PartialEq, Eq, der::Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

/// RFC 5035 `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, policies … OPTIONAL }`.
#[derive(Clone, Debug, PartialEq, Eq, der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Vec<Any>>,
}

fn asn1(e: impl std::fmt::Display) -> SigningError {
    SigningError::Signature(format!("CMS encoding: {e}"))
}

fn pdf_error(e: impl std::fmt::Display) -> SigningError {
    SigningError::Pdf(e.to_string())
}

fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    // RFC 5754 3 and RFC 5758 3.2: SHA-256 and ECDSA-with-SHA256 take no parameters.
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn attribute<T: der::EncodeValue + der::Tagged>(
    oid: ObjectIdentifier,
    value: &T,
) -> Result<Attribute, SigningError> {
    let mut values = SetOfVec::new();
    values
        .insert(Any::encode_from(value).map_err(asn1)?)
        .map_err(asn1)?;
    Ok(Attribute { oid, values })
}

/// The signed attributes of ETSI EN 319 142-1 (B-B level): what is signed is their DER
/// as a SET OF (RFC 5652 5.4), not the `[0]` they are tagged with inside the SignerInfo.
fn signed_attributes(
    digest: &[u8],
    certificate: &Certificate,
) -> Result<SetOfVec<Attribute>, SigningError> {
    let certificate_der = certificate.to_der().map_err(asn1)?;
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            hash_algorithm: None,
            cert_hash: OctetString::new(Sha256::digest(&certificate_der).to_vec()).map_err(asn1)?,
            issuer_serial: Some(IssuerSerial::of(certificate)),
        }],
        policies: None,
    };
    let mut attributes = SetOfVec::new();
    attributes
        .insert(attribute(ID_CONTENT_TYPE, &ID_DATA)?)
        .map_err(asn1)?;
    attributes
        .insert(attribute(
            ID_MESSAGE_DIGEST,
            &OctetString::new(digest.to_vec()).map_err(asn1)?,
        )?)
        .map_err(asn1)?;
    attributes
        .insert(attribute(
            ID_AA_SIGNING_CERTIFICATE_V2,
            &signing_certificate,
        )?)
        .map_err(asn1)?;
    Ok(attributes)
}

/// The detached CMS SignedData (RFC 5652 5.1) over `digest`, as DER.
fn signed_data(digest: &[u8], identity: &SigningIdentity) -> Result<Vec<u8>, SigningError> {
    let certificate = identity.certificate();
    let attributes = signed_attributes(digest, certificate)?;
    let signature: p256::ecdsa::DerSignature = identity
        .signing_key()
        .try_sign(&attributes.to_der().map_err(asn1)?)
        .map_err(|e| SigningError::Signature(e.to_string()))?;
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: certificate.tbs_certificate().issuer().clone(),
            serial_number: certificate.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: algorithm(ID_SHA256),
        signed_attrs: Some(attributes),
        signature_algorithm: algorithm(ECDSA_WITH_SHA256),
        signature: OctetString::new(signature.as_bytes()).map_err(asn1)?,
        unsigned_attrs: None,
    };
    let mut certificates = SetOfVec::new();
    for c in std::iter::once(certificate).chain(identity.chain()) {
        certificates
            .insert(CertificateChoices::Certificate(c.clone()))
            .map_err(asn1)?;
    }
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms
        .insert(algorithm(ID_SHA256))
        .map_err(asn1)?;
    let mut signer_infos = SetOfVec::new();
    signer_infos.insert(signer).map_err(asn1)?;
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certificates)),
        crls: None,
        signer_infos: SignerInfos(signer_infos),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(asn1)?,
    }
    .to_der()
    .map_err(asn1)
}

/// What the update needs from the revision it extends.
struct Revision {
    catalog: (ObjectId, Dictionary),
    page: (ObjectId, Dictionary),
    /// The first object number free for the update's new objects.
    size: u32,
    previous_xref: usize,
    trailer: Dictionary,
}

/// The offset the last `startxref` names (ISO 32000-2 7.5.5).
fn last_startxref(pdf: &[u8]) -> Result<usize, SigningError> {
    let tail_from = pdf.len().saturating_sub(1024);
    let tail = &pdf[tail_from..];
    let at = tail
        .windows(9)
        .rposition(|w| w == b"startxref")
        .ok_or_else(|| pdf_error("no startxref at the end of the file"))?;
    let number: String = tail[at + 9..]
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    number
        .parse()
        .map_err(|_| pdf_error("startxref is not followed by an offset"))
}

impl Revision {
    fn read(pdf: &[u8]) -> Result<Revision, SigningError> {
        let doc = Document::load_mem(pdf).map_err(|e| pdf_error(format!("unreadable: {e}")))?;
        let previous_xref = last_startxref(pdf)?;
        // The update is written as a cross-reference table; ISO 32000-2 7.5.8.4 lets a table
        // follow only a table (hybrid files aside), and the archive copy is written with one.
        if !pdf[previous_xref.min(pdf.len())..].starts_with(b"xref") {
            return Err(pdf_error(
                "the PDF has a cross-reference stream; only cross-reference tables are signed",
            ));
        }
        let root = doc
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .map_err(pdf_error)?;
        let catalog = doc.get_dictionary(root).map_err(pdf_error)?.clone();
        let page_id = *doc
            .get_pages()
            .get(&1)
            .ok_or_else(|| pdf_error("the PDF has no page"))?;
        let mut page = doc.get_dictionary(page_id).map_err(pdf_error)?.clone();
        // A referenced /Annots array is copied into the page: it is rewritten anyway.
        if let Ok(Object::Reference(id)) = page.get(b"Annots") {
            let annots = doc.get_object(*id).map_err(pdf_error)?.clone();
            page.set("Annots", annots);
        }
        let size = doc
            .trailer
            .get(b"Size")
            .and_then(Object::as_i64)
            .map_or(0, |s| u32::try_from(s).unwrap_or(0))
            .max(doc.max_id + 1);
        Ok(Revision {
            catalog: (root, catalog),
            page: (page_id, page),
            size,
            previous_xref,
            trailer: doc.trailer.clone(),
        })
    }
}

/// PDF syntax for the objects the update rewrites (ISO 32000-2 7.3); lopdf keeps its writer
/// private. Streams are never rewritten here (the catalog and a page are dictionaries).
fn write_object(out: &mut Vec<u8>, object: &Object) {
    match object {
        Object::Null | Object::Stream(_) => out.extend_from_slice(b"null"),
        Object::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Object::Real(r) => out.extend_from_slice(format!("{r}").as_bytes()),
        Object::Name(name) => write_name(out, name),
        Object::String(bytes, format) => write_string(out, bytes, format),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item);
            }
            out.push(b']');
        }
        Object::Dictionary(dictionary) => {
            out.extend_from_slice(b"<<");
            for (key, value) in dictionary {
                write_name(out, key);
                out.push(b' ');
                write_object(out, value);
            }
            out.extend_from_slice(b">>");
        }
        Object::Reference((number, generation)) => {
            out.extend_from_slice(format!("{number} {generation} R").as_bytes());
        }
    }
}

/// A name, with `#xx` for delimiters, blanks and bytes outside `!`..`~` (ISO 32000-2 7.3.5).
fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    out.push(b'/');
    for &byte in name {
        if b"()<>[]{}/%#".contains(&byte) || !(33..=126).contains(&byte) {
            out.extend_from_slice(format!("#{byte:02X}").as_bytes());
        } else {
            out.push(byte);
        }
    }
}

/// A string: literal when it is printable ASCII (with `\`, `(` and `)` escaped), else
/// hexadecimal (ISO 32000-2 7.3.4).
fn write_string(out: &mut Vec<u8>, bytes: &[u8], format: &StringFormat) {
    let printable = bytes.iter().all(|b| (32..=126).contains(b));
    if printable && *format == StringFormat::Literal {
        out.push(b'(');
        for &byte in bytes {
            if matches!(byte, b'(' | b')' | b'\\') {
                out.push(b'\\');
            }
            out.push(byte);
        }
        out.push(b')');
    } else {
        out.push(b'<');
        out.extend_from_slice(crate::domain::audit::hex(bytes).as_bytes());
        out.push(b'>');
    }
}

/// PDF date (ISO 32000-2 7.9.4), UTC.
fn pdf_date(at: DateTime<Utc>) -> String {
    at.format("D:%Y%m%d%H%M%SZ").to_string()
}

/// Where the placeholders sit in the appended update, to be patched once the file is whole.
struct Placeholders {
    byte_range: usize,
    contents: usize,
    contents_len: usize,
}

/// The signature dictionary with its placeholders; `/Contents` is last so that the ranges
/// around it are the file's head and its short tail.
fn signature_object(
    out: &mut Vec<u8>,
    reason: &str,
    now: DateTime<Utc>,
    reserved: usize,
) -> Placeholders {
    out.extend_from_slice(b"<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/");
    out.extend_from_slice(SUB_FILTER);
    out.extend_from_slice(b"/M");
    write_object(out, &text(&pdf_date(now)));
    out.extend_from_slice(b"/Reason");
    write_object(out, &text(reason));
    out.extend_from_slice(b"/ByteRange ");
    let byte_range = out.len();
    out.extend_from_slice(format!("{:<BYTE_RANGE_WIDTH$}", "[0 0 0 0]").as_bytes());
    out.extend_from_slice(b"/Contents ");
    let contents = out.len();
    out.push(b'<');
    out.resize(out.len() + 2 * reserved, b'0');
    out.push(b'>');
    out.extend_from_slice(b">>");
    Placeholders {
        byte_range,
        contents,
        contents_len: 2 * reserved + 2,
    }
}

/// The updated catalog, page and the new field, with the offsets of every object written.
fn write_update(
    pdf: &[u8],
    revision: &Revision,
    reason: &str,
    now: DateTime<Utc>,
    reserved: usize,
) -> (Vec<u8>, Placeholders) {
    let mut out = Vec::with_capacity(pdf.len() + 2 * reserved + 4096);
    out.extend_from_slice(pdf);
    // ISO 32000-2 7.5.6: the update follows the previous %%EOF on a line of its own.
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let signature_id = (revision.size, 0);
    let field_id = (revision.size + 1, 0);
    let (page_id, mut page) = revision.page.clone();
    let mut annots = page
        .get(b"Annots")
        .and_then(Object::as_array)
        .cloned()
        .unwrap_or_default();
    annots.push(Object::Reference(field_id));
    page.set("Annots", annots);
    let (catalog_id, mut catalog) = revision.catalog.clone();
    catalog.set(
        "AcroForm",
        dictionary! {
            "Fields" => vec![Object::Reference(field_id)],
            "SigFlags" => 3,
        },
    );
    let field = dictionary! {
        "Type" => "Annot", "Subtype" => "Widget", "FT" => "Sig",
        "T" => text("Signature1"), "V" => signature_id,
        "Rect" => vec![0.into(), 0.into(), 0.into(), 0.into()],
        "F" => 132, "P" => page_id,
    };
    let mut offsets: Vec<(ObjectId, usize)> = Vec::new();
    let mut placeholders = None;
    for (id, object) in [
        (catalog_id, Some(Object::Dictionary(catalog))),
        (page_id, Some(Object::Dictionary(page))),
        (signature_id, None),
        (field_id, Some(Object::Dictionary(field))),
    ] {
        offsets.push((id, out.len()));
        out.extend_from_slice(format!("{} {} obj\n", id.0, id.1).as_bytes());
        match object {
            Some(object) => write_object(&mut out, &object),
            None => placeholders = Some(signature_object(&mut out, reason, now, reserved)),
        }
        out.extend_from_slice(b"\nendobj\n");
    }
    write_xref(&mut out, revision, offsets, revision.size + 2);
    (
        out,
        placeholders.expect("the signature object is among those written"),
    )
}

/// The cross-reference section of the update (ISO 32000-2 7.5.4, 20-byte entries, one
/// subsection per run of consecutive numbers) and its trailer (7.5.6: `/Prev`, and `/ID` and
/// `/Info` as before).
fn write_xref(
    out: &mut Vec<u8>,
    revision: &Revision,
    mut offsets: Vec<(ObjectId, usize)>,
    size: u32,
) {
    offsets.sort();
    let xref_at = out.len();
    out.extend_from_slice(b"xref\n");
    let mut index = 0;
    while index < offsets.len() {
        let mut end = index + 1;
        while end < offsets.len() && offsets[end].0 .0 == offsets[end - 1].0 .0 + 1 {
            end += 1;
        }
        out.extend_from_slice(format!("{} {}\n", offsets[index].0 .0, end - index).as_bytes());
        for ((_, generation), offset) in &offsets[index..end] {
            out.extend_from_slice(format!("{offset:010} {generation:05} n\r\n").as_bytes());
        }
        index = end;
    }
    let mut trailer = Dictionary::new();
    trailer.set("Size", size as i64);
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(value) = revision.trailer.get(key) {
            trailer.set(key, value.clone());
        }
    }
    trailer.set("Prev", revision.previous_xref as i64);
    out.extend_from_slice(b"trailer\n");
    write_object(out, &Object::Dictionary(trailer));
    out.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
}

/// Bytes to reserve for the CMS: the certificates it carries and room for the rest.
fn reserved_len(identity: &SigningIdentity) -> Result<usize, SigningError> {
    let mut total = CONTENTS_HEADROOM;
    for c in std::iter::once(identity.certificate()).chain(identity.chain()) {
        total += c.to_der().map_err(asn1)?.len();
    }
    Ok(total)
}

/// SHA-256 of the file except the `/Contents` string (ISO 32000-2 12.8.1).
fn digest_ranges(pdf: &[u8], ranges: [usize; 4]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(&pdf[ranges[0]..ranges[0] + ranges[1]]);
    hasher.update(&pdf[ranges[2]..ranges[2] + ranges[3]]);
    hasher.finalize().to_vec()
}

/// Signs a PDF as the laboratory at `now`: the PDF with an incremental update appended that
/// carries the PAdES B-B signature, checked with [`verify`] before it is returned.
pub fn sign(
    pdf: &[u8],
    identity: &SigningIdentity,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, SigningError> {
    let revision = Revision::read(pdf)?;
    let reserved = reserved_len(identity)?;
    let (mut out, at) = write_update(pdf, &revision, reason, now, reserved);
    let after = at.contents + at.contents_len;
    let ranges = [0, at.contents, after, out.len() - after];
    let byte_range = format!(
        "{:<BYTE_RANGE_WIDTH$}",
        format!("[0 {} {} {}]", ranges[1], ranges[2], ranges[3])
    );
    out[at.byte_range..at.byte_range + BYTE_RANGE_WIDTH].copy_from_slice(byte_range.as_bytes());
    let cms = signed_data(&digest_ranges(&out, ranges), identity)?;
    if cms.len() > reserved {
        return Err(SigningError::Signature(format!(
            "the CMS signature ({} bytes) exceeds the {reserved} bytes reserved for it",
            cms.len()
        )));
    }
    let hex = crate::domain::audit::hex(&cms);
    out[at.contents + 1..at.contents + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    // A signature that does not verify must never be stored as the certificate.
    verify(&out).map_err(|e| {
        SigningError::Signature(format!("the PDF signature just made does not verify: {e}"))
    })?;
    Ok(out)
}

/// What a valid PDF signature says: who signed and when ([`VerifiedSignature`], `/M` as the
/// signing time), why, and for which certificate.
#[derive(Debug, Clone)]
pub struct VerifiedPdf {
    pub signature: VerifiedSignature,
    pub reason: String,
    /// From the reason ("Certificate CT-… approved by …"), else from the embedded DCC's name.
    pub certificate_number: Option<String>,
}

fn invalid(message: impl Into<String>) -> SigningError {
    SigningError::Signature(message.into())
}

fn dictionary_of<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    match object {
        Object::Reference(id) => doc.get_dictionary(*id).ok(),
        Object::Dictionary(dictionary) => Some(dictionary),
        _ => None,
    }
}

fn byte_range(signature: &Dictionary) -> Result<[usize; 4], SigningError> {
    let numbers: Option<Vec<usize>> = signature
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map_err(|_| invalid("the signature has no /ByteRange"))?
        .iter()
        .map(|n| n.as_i64().ok().and_then(|n| usize::try_from(n).ok()))
        .collect();
    numbers
        .and_then(|n| <[usize; 4]>::try_from(n).ok())
        .ok_or_else(|| invalid("the /ByteRange is not four offsets"))
}

/// The signature dictionary of the form's signature field whose ranges reach furthest into
/// the file: the last signature made (ISO 32000-2 12.7.5.5, 12.8.1).
fn last_signature(doc: &Document) -> Result<&Dictionary, SigningError> {
    let not_signed = || invalid("the PDF is not signed (no signature field)");
    let catalog = doc.catalog().map_err(pdf_error)?;
    let form = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|form| dictionary_of(doc, form))
        .ok_or_else(not_signed)?;
    let fields = form
        .get(b"Fields")
        .and_then(Object::as_array)
        .map_err(|_| not_signed())?;
    fields
        .iter()
        .filter_map(|field| dictionary_of(doc, field))
        .filter(|field| field.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig"))
        .filter_map(|field| dictionary_of(doc, field.get(b"V").ok()?))
        .max_by_key(|signature| byte_range(signature).map_or(0, |r| r[2].saturating_add(r[3])))
        .ok_or_else(not_signed)
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let digits: Vec<u8> = hex
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|&c| digit(c))
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// The CMS bytes, once the ranges are seen to cover the whole file but the `/Contents`
/// string (ISO 32000-2 12.8.1; ETSI EN 319 142-1 5.1): anything after them, and anything
/// left out besides the signature, was not signed.
fn covered_contents(pdf: &[u8], ranges: [usize; 4]) -> Result<Vec<u8>, SigningError> {
    let [start, first, gap_end, last] = ranges;
    let end = gap_end.saturating_add(last);
    if start != 0 || first >= gap_end || end > pdf.len() {
        return Err(invalid(format!(
            "the /ByteRange {ranges:?} does not fit the file"
        )));
    }
    if end < pdf.len() {
        return Err(invalid(format!(
            "the document was modified after signing: {} bytes follow the signed revision",
            pdf.len() - end
        )));
    }
    let gap = &pdf[first..gap_end];
    match (gap.first(), gap.last()) {
        (Some(b'<'), Some(b'>')) if gap.len() >= 2 => decode_hex(&gap[1..gap.len() - 1])
            .ok_or_else(|| invalid("the /ByteRange leaves out more than the signature")),
        _ => Err(invalid(
            "the /ByteRange leaves out more than the signature's /Contents",
        )),
    }
}

/// The one value of the one signed attribute of this type (RFC 5652 5.3, 11).
fn attribute_value(
    attributes: &SetOfVec<Attribute>,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<Any, SigningError> {
    let mut found = attributes.iter().filter(|a| a.oid == oid);
    match (found.next(), found.next()) {
        (Some(attribute), None) if attribute.values.len() == 1 => {
            Ok(attribute.values.get(0).expect("one value").clone())
        }
        (None, _) => Err(invalid(format!("the signed attributes lack {name}"))),
        _ => Err(invalid(format!(
            "{name} must be one attribute with one value"
        ))),
    }
}

/// The SignedData inside `/Contents` (zero padding after its DER is ignored), its one
/// SignerInfo, and the signing certificate it names.
fn signed_data_of(cms: &[u8]) -> Result<(SignedData, SignerInfo, Certificate), SigningError> {
    let unreadable = |e: der::Error| invalid(format!("the CMS signature is unreadable: {e}"));
    let info =
        ContentInfo::decode(&mut SliceReader::new(cms).map_err(unreadable)?).map_err(unreadable)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(invalid("/Contents is not a CMS SignedData"));
    }
    let signed: SignedData = info.content.decode_as().map_err(unreadable)?;
    if signed.encap_content_info.econtent.is_some()
        || signed.encap_content_info.econtent_type != ID_DATA
    {
        return Err(invalid(
            "the CMS signature is not detached (ETSI.CAdES.detached)",
        ));
    }
    let signer = match signed.signer_infos.0.as_slice() {
        [signer] => signer.clone(),
        _ => return Err(invalid("the CMS signature must have exactly one signer")),
    };
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer.sid else {
        return Err(invalid(
            "the signer is not named by issuer and serial number",
        ));
    };
    let certificate = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .find_map(|choice| match choice {
            CertificateChoices::Certificate(c)
                if c.tbs_certificate().issuer() == &sid.issuer
                    && c.tbs_certificate().serial_number() == &sid.serial_number =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .ok_or_else(|| invalid("the signing certificate is not in the CMS signature"))?;
    Ok((signed, signer, certificate))
}

/// RFC 5035 5.4: the signing-certificate-v2 attribute's first ESSCertIDv2 is the signer's.
fn check_signing_certificate(value: &Any, certificate: &Certificate) -> Result<(), SigningError> {
    let attribute: SigningCertificateV2 = value
        .decode_as()
        .map_err(|e| invalid(format!("signing-certificate-v2 is unreadable: {e}")))?;
    let first = attribute
        .certs
        .first()
        .ok_or_else(|| invalid("signing-certificate-v2 names no certificate"))?;
    let sha256 = first
        .hash_algorithm
        .as_ref()
        .is_none_or(|a| a.oid == ID_SHA256);
    let hash = Sha256::digest(certificate.to_der().map_err(asn1)?);
    let serial_matches = first
        .issuer_serial
        .as_ref()
        .is_none_or(|s| *s == IssuerSerial::of(certificate));
    if !sha256 || first.cert_hash.as_bytes() != hash.as_slice() || !serial_matches {
        return Err(invalid(
            "signing-certificate-v2 does not name the certificate that signed",
        ));
    }
    Ok(())
}

/// The CMS checks of ETSI EN 319 142-1 over the signed ranges' digest: algorithms, content
/// type, message digest, signing certificate, and the ECDSA signature over the DER of the
/// signed attributes. Returns the certificates, the signer's first.
fn check_cms(cms: &[u8], digest: &[u8]) -> Result<Vec<Certificate>, SigningError> {
    let (signed, signer, certificate) = signed_data_of(cms)?;
    if signer.digest_alg.oid != ID_SHA256 || signer.signature_algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(invalid("the CMS signature is not ECDSA with SHA-256"));
    }
    let attributes = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| invalid("the CMS signature has no signed attributes"))?;
    let content_type = attribute_value(attributes, ID_CONTENT_TYPE, "contentType")?;
    if content_type.decode_as::<ObjectIdentifier>().ok() != Some(ID_DATA) {
        return Err(invalid("the signed content type is not id-data"));
    }
    let message_digest = attribute_value(attributes, ID_MESSAGE_DIGEST, "messageDigest")?;
    if message_digest
        .decode_as::<OctetString>()
        .ok()
        .as_ref()
        .map(OctetString::as_bytes)
        != Some(digest)
    {
        return Err(invalid(
            "the document was changed after signing (the digest of the signed ranges differs)",
        ));
    }
    let signing_certificate = attribute_value(
        attributes,
        ID_AA_SIGNING_CERTIFICATE_V2,
        "signing-certificate-v2",
    )?;
    check_signing_certificate(&signing_certificate, &certificate)?;
    let value = p256::ecdsa::DerSignature::from_bytes(signer.signature.as_bytes())
        .map_err(|_| invalid("the signature value is not a DER ECDSA signature"))?;
    verifying_key_of(&certificate)?
        .verify(&attributes.to_der().map_err(asn1)?, &value)
        .map_err(|_| invalid("the signature value does not verify"))?;
    let others = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) if *c != certificate => Some(c.clone()),
            _ => None,
        })
        .collect::<Vec<_>>();
    // A SET OF comes sorted by its DER, not by the path: put the chain in order, issuer
    // first, when it is one (a stray certificate leaves the set as it was).
    let others = order_chain(&certificate, others.clone()).unwrap_or(others);
    Ok(std::iter::once(certificate).chain(others).collect())
}

/// `/M` as RFC 3339 (ISO 32000-2 7.9.4 dates: `D:YYYYMMDDHHmmSS` then `Z` or `±HH'mm'`).
fn signing_time(signature: &Dictionary) -> Result<String, SigningError> {
    let raw = signature
        .get(b"M")
        .and_then(Object::as_str)
        .map_err(|_| invalid("the signature has no signing time (/M)"))?;
    let raw = String::from_utf8_lossy(raw);
    let body = raw.strip_prefix("D:").unwrap_or(&raw);
    let unreadable = || invalid(format!("the signing time {raw} is not a PDF date"));
    let local =
        NaiveDateTime::parse_from_str(body.get(..14).ok_or_else(unreadable)?, "%Y%m%d%H%M%S")
            .map_err(|_| unreadable())?;
    let zone: String = body[14..].chars().filter(|c| *c != '\'').collect();
    let offset_minutes = match zone.as_str() {
        "" | "Z" => 0,
        zone => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let hours: i64 = zone
                .get(1..3)
                .and_then(|h| h.parse().ok())
                .ok_or_else(unreadable)?;
            let minutes: i64 = zone.get(3..5).and_then(|m| m.parse().ok()).unwrap_or(0);
            sign * (hours * 60 + minutes)
        }
    };
    let utc = local - chrono::Duration::minutes(offset_minutes);
    Ok(utc.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The certificate number: named by the reason, else by the embedded DCC (`<number>.xml`).
fn certificate_number(doc: &Document, reason: &str) -> Option<String> {
    // A validity statement (DESIGN 9c) is named in its reason the same way.
    let named = ["Certificate ", "Validity statement "]
        .iter()
        .find_map(|prefix| reason.strip_prefix(prefix));
    if let Some(rest) = named {
        return rest.split_whitespace().next().map(str::to_string);
    }
    let names = doc.catalog().ok()?.get(b"Names").ok()?;
    let files = dictionary_of(doc, names)?.get(b"EmbeddedFiles").ok()?;
    let list = dictionary_of(doc, files)?
        .get(b"Names")
        .and_then(Object::as_array)
        .ok()?;
    list.iter().find_map(|name| {
        let name = lopdf::decode_text_string(name).ok()?;
        name.strip_suffix(".xml").map(str::to_string)
    })
}

/// Checks the last signature of a signed PDF: its ranges cover the whole file but the
/// signature itself (nothing appended or changed since), the message digest over them, the
/// ECDSA signature over the signed attributes, and that signing-certificate-v2 names the
/// certificate that signed. Whether that certificate chains to a trusted root is the
/// caller's question (the certificates are returned), as with [`super::xades::verify`].
pub fn verify(pdf: &[u8]) -> Result<VerifiedPdf, SigningError> {
    let doc = Document::load_mem(pdf).map_err(|e| pdf_error(format!("unreadable: {e}")))?;
    let signature = last_signature(&doc)?;
    if signature.get(b"SubFilter").and_then(Object::as_name).ok() != Some(SUB_FILTER) {
        return Err(invalid("the signature is not ETSI.CAdES.detached (PAdES)"));
    }
    let ranges = byte_range(signature)?;
    let cms = covered_contents(pdf, ranges)?;
    let certificates = check_cms(&cms, &digest_ranges(pdf, ranges))?;
    let reason = signature
        .get(b"Reason")
        .ok()
        .and_then(|r| lopdf::decode_text_string(r).ok())
        .unwrap_or_default();
    Ok(VerifiedPdf {
        certificate_number: certificate_number(&doc, &reason),
        signature: VerifiedSignature {
            signer: certificates[0].tbs_certificate().subject().to_string(),
            signing_time: signing_time(signature)?,
            certificates,
        },
        reason,
    })
}
