//! Sign/verify round trips on a minimal PDF: the structure of the incremental update and of
//! the CMS, and the refusals of a changed byte and of bytes appended. pyHanko checks issued
//! certificates independently in tests/integration/pades.rs.

use chrono::{SecondsFormat, TimeZone, Utc};
use der::asn1::ObjectIdentifier;
use lopdf::{dictionary, Document, Object, Stream};

use super::*;
use crate::signing::pki::demo_pki;

const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// One page, a classic cross-reference table, an information dictionary and an ID, as
/// archive.rs writes them.
fn minimal_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    doc.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
    let pages = doc.new_object_id();
    let content = doc.add_object(Stream::new(dictionary! {}, b"0 0 m 10 10 l S".to_vec()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
        ),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages});
    let info =
        doc.add_object(dictionary! {"Producer" => Object::string_literal("caltrace (test)")});
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let id = Object::String(vec![7; 16], StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn a_signed_pdf_keeps_its_bytes_as_a_prefix_and_verifies() {
    let now = Utc.with_ymd_and_hms(2026, 5, 10, 9, 30, 0).unwrap();
    let pki = demo_pki("Test Lab", None, now).unwrap();
    let pdf = minimal_pdf();
    let reason = "Certificate CT-2026-000123 approved by 李伟 (meaning: approved)";
    let signed = sign(&pdf, &pki.identity, reason, now).unwrap();
    assert!(
        signed.starts_with(&pdf),
        "an incremental update appends only"
    );
    let update = String::from_utf8_lossy(&signed[pdf.len()..]).into_owned();
    for expected in [
        "/Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached",
        "/M(D:20260510093000Z)",
        "/Rect [0 0 0 0]",
        "/F 132",
        "/SigFlags 3",
        "/FT /Sig",
        "/Prev ",
        "/ID [<07070707070707070707070707070707> <07070707070707070707070707070707>]",
    ] {
        assert!(
            update.contains(expected),
            "{expected} missing from {update}"
        );
    }
    assert!(update.ends_with("%%EOF\n"));

    let verified = verify(&signed).unwrap();
    assert_eq!(verified.reason, reason);
    assert_eq!(
        verified.certificate_number.as_deref(),
        Some("CT-2026-000123")
    );
    assert_eq!(
        verified.signature.signing_time,
        now.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    assert_eq!(verified.signature.signer, pki.identity.summary().subject);
    assert_eq!(verified.signature.certificates.len(), 3);
    assert_eq!(
        verified.signature.certificates[0],
        *pki.identity.certificate()
    );
    // lopdf reads the update: the last revision has the field on page 1.
    let doc = Document::load_mem(&signed).unwrap();
    let page = doc.get_pages()[&1];
    assert_eq!(doc.get_page_annotations(page).unwrap().len(), 1);
}

/// The CMS of a signed PDF and its SignerInfo.
fn cms_of(signed: &[u8]) -> (SignedData, SignerInfo) {
    let doc = Document::load_mem(signed).unwrap();
    let signature = last_signature(&doc).unwrap();
    let cms = covered_contents(signed, byte_range(signature).unwrap()).unwrap();
    let (data, signer, _) = signed_data_of(&cms).unwrap();
    (data, signer)
}

#[test]
fn the_cms_is_detached_with_the_three_signed_attributes_and_no_signing_time() {
    let now = Utc::now();
    let pki = demo_pki("Test Lab", None, now).unwrap();
    let signed = sign(&minimal_pdf(), &pki.identity, "Certificate X approved", now).unwrap();
    let (data, signer) = cms_of(&signed);
    assert!(data.encap_content_info.econtent.is_none());
    assert_eq!(
        data.certificates.unwrap().0.len(),
        3,
        "signing cert + chain"
    );
    let oids: Vec<ObjectIdentifier> = signer.signed_attrs.unwrap().iter().map(|a| a.oid).collect();
    assert_eq!(oids.len(), 3);
    for oid in [
        ID_CONTENT_TYPE,
        ID_MESSAGE_DIGEST,
        ID_AA_SIGNING_CERTIFICATE_V2,
    ] {
        assert!(oids.contains(&oid), "{oid} missing");
    }
    assert!(!oids.contains(&SIGNING_TIME), "PAdES puts the time in /M");
    assert_eq!(signer.signature_algorithm.oid, ECDSA_WITH_SHA256);
}

#[test]
fn a_changed_byte_or_bytes_appended_are_caught() {
    let now = Utc::now();
    let pki = demo_pki("Test Lab", None, now).unwrap();
    let pdf = minimal_pdf();
    let signed = sign(&pdf, &pki.identity, "Certificate X approved", now).unwrap();

    let mut changed = signed.clone();
    let at = pdf.windows(8).position(|w| w == b"caltrace").unwrap();
    changed[at] = b'C';
    let error = verify(&changed).unwrap_err().to_string();
    assert!(error.contains("changed after signing"), "{error}");

    let mut appended = signed.clone();
    appended.extend_from_slice(b"% appended after signing\n");
    let error = verify(&appended).unwrap_err().to_string();
    assert!(
        error.contains("modified after signing: 25 bytes"),
        "{error}"
    );

    // The unsigned PDF is not taken for a signed one.
    let error = verify(&pdf).unwrap_err().to_string();
    assert!(error.contains("not signed"), "{error}");
}
