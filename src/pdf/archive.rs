//! The certificate as an archive document (DESIGN section 8b): PDF/A-3b (ISO 19005-3) with the
//! DCC embedded as an associated file, so that one file carries both the human-readable and the
//! machine-readable certificate for as long as the record is kept.
//!
//! printpdf draws the pages; this turns its output into PDF/A-3b: XMP identification
//! (`pdfaid:part` 3, `conformance` B) agreeing with the document information dictionary, an
//! sRGB output intent (the pages use DeviceRGB, which PDF/A allows only with an RGB output
//! intent), a document ID fixed by the certificate (an archive copy made twice is the same
//! file), and the DCC as `/AF` with `/AFRelationship /Alternative` (ISO 19005-3 6.8).

use chrono::NaiveDate;
use lopdf::{dictionary, Dictionary, Document, Object, Stream, StringFormat};
use sha2::{Digest, Sha256};

const SRGB_PROFILE: &[u8] = include_bytes!("../../static/icc/sRGB.icc");

/// What the archive says about itself, in the XMP packet and the information dictionary alike.
pub struct ArchiveInfo<'a> {
    pub number: &'a str,
    pub title: &'a str,
    pub author: &'a str,
    pub subject: &'a str,
    pub issued_on: NaiveDate,
}

/// A file carried inside the PDF.
pub struct Attachment<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub mime_type: &'a str,
    pub bytes: &'a [u8],
}

/// printpdf's output made PDF/A-3b, with the given files attached as alternative
/// representations of the document.
pub fn archival(
    pdf: &[u8],
    info: &ArchiveInfo,
    attachments: &[Attachment],
) -> Result<Vec<u8>, String> {
    let mut doc = Document::load_mem(pdf).map_err(|e| format!("reading the PDF: {e}"))?;
    doc.version = "1.7".to_string();
    let metadata = doc.add_object(Stream::new(
        dictionary! {"Type" => "Metadata", "Subtype" => "XML"},
        xmp_packet(info).into_bytes(),
    ));
    let intent = output_intent(&mut doc);
    let files: Vec<Object> = attachments
        .iter()
        .map(|a| Object::Reference(embed(&mut doc, a, info.issued_on)))
        .collect();
    let names: Vec<Object> = attachments
        .iter()
        .zip(&files)
        .flat_map(|(a, file)| [text(a.name), file.clone()])
        .collect();
    let catalog = doc
        .catalog_mut()
        .map_err(|e| format!("the PDF's catalog: {e}"))?;
    catalog.set("Metadata", metadata);
    catalog.set("OutputIntents", vec![Object::Reference(intent)]);
    if !files.is_empty() {
        catalog.set("AF", files);
        catalog.set(
            "Names",
            dictionary! {"EmbeddedFiles" => dictionary! {"Names" => names}},
        );
    }
    // printpdf's own information dictionary is replaced in place, so no stale copy is left.
    match doc.trailer.get(b"Info").and_then(Object::as_reference) {
        Ok(id) => {
            doc.objects
                .insert(id, Object::Dictionary(information(info)));
        }
        Err(_) => {
            let id = doc.add_object(information(info));
            doc.trailer.set("Info", id);
        }
    }
    let id = Object::String(document_id(info), StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
    // A cross-reference table, as printpdf writes: the PAdES signature is appended as an
    // incremental update with a table of its own (signing::pades, ISO 32000-2 7.5.6).
    doc.reference_table.cross_reference_type = lopdf::xref::XrefType::CrossReferenceTable;
    let mut out = Vec::with_capacity(pdf.len() + SRGB_PROFILE.len() + 4096);
    doc.save_to(&mut out)
        .map_err(|e| format!("writing the PDF/A: {e}"))?;
    Ok(out)
}

/// The sRGB profile as the PDF/A output intent (ISO 19005-3 6.2.3).
fn output_intent(doc: &mut Document) -> lopdf::ObjectId {
    let mut profile = Stream::new(dictionary! {"N" => 3}, SRGB_PROFILE.to_vec());
    // Compression cannot fail on bytes in memory; an uncompressed profile is valid too.
    let _ = profile.compress();
    let profile = doc.add_object(profile);
    doc.add_object(dictionary! {
        "Type" => "OutputIntent",
        "S" => "GTS_PDFA1",
        "OutputConditionIdentifier" => text("sRGB IEC61966-2.1"),
        "Info" => text("sRGB IEC61966-2.1"),
        "DestOutputProfile" => profile,
    })
}

/// An embedded file and its file specification, as PDF/A-3 wants them: a MIME subtype, a
/// modification date, and the relationship to the document (ISO 19005-3 6.8).
fn embed(doc: &mut Document, attachment: &Attachment, on: NaiveDate) -> lopdf::ObjectId {
    let mut stream = Stream::new(
        dictionary! {
            "Type" => "EmbeddedFile",
            "Subtype" => Object::Name(attachment.mime_type.as_bytes().to_vec()),
            "Params" => dictionary! {
                "Size" => attachment.bytes.len() as i64,
                "ModDate" => text(&pdf_date(on)),
            },
        },
        attachment.bytes.to_vec(),
    );
    let _ = stream.compress();
    let file = doc.add_object(stream);
    doc.add_object(dictionary! {
        "Type" => "Filespec",
        "F" => text(attachment.name),
        "UF" => text(attachment.name),
        "Desc" => text(attachment.description),
        "AFRelationship" => "Alternative",
        "EF" => dictionary! {"F" => file, "UF" => file},
    })
}

fn information(info: &ArchiveInfo) -> Dictionary {
    let date = pdf_date(info.issued_on);
    dictionary! {
        "Title" => text(info.title),
        "Author" => text(info.author),
        "Subject" => text(info.subject),
        "Creator" => text("caltrace"),
        "Producer" => text(PRODUCER),
        "CreationDate" => text(&date),
        "ModDate" => text(&date),
    }
}

const PRODUCER: &str = "caltrace (printpdf, lopdf)";

/// The XMP packet: the PDF/A identification and the same title, author, subject, tool and
/// dates as the information dictionary (ISO 19005-3 6.6.2.3 requires them to agree).
fn xmp_packet(info: &ArchiveInfo) -> String {
    let date = format!("{}T00:00:00Z", info.issued_on.format("%Y-%m-%d"));
    let (title, author, subject) = (
        xml_escape(info.title),
        xml_escape(info.author),
        xml_escape(info.subject),
    );
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n\
<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
<rdf:Description rdf:about=\"\" xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\" \
xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" \
xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">\n\
<pdfaid:part>3</pdfaid:part>\n\
<pdfaid:conformance>B</pdfaid:conformance>\n\
<dc:format>application/pdf</dc:format>\n\
<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{title}</rdf:li></rdf:Alt></dc:title>\n\
<dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>\n\
<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{subject}</rdf:li></rdf:Alt></dc:description>\n\
<xmp:CreatorTool>caltrace</xmp:CreatorTool>\n\
<xmp:CreateDate>{date}</xmp:CreateDate>\n\
<xmp:ModifyDate>{date}</xmp:ModifyDate>\n\
<pdf:Producer>{PRODUCER}</pdf:Producer>\n\
</rdf:Description>\n\
</rdf:RDF>\n\
</x:xmpmeta>\n\
<?xpacket end=\"w\"?>"
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Midnight UTC of the date of issue, as PDF writes dates (ISO 32000 7.9.4).
fn pdf_date(on: NaiveDate) -> String {
    format!("D:{}000000Z", on.format("%Y%m%d"))
}

/// A PDF text string: PDFDocEncoding (here ASCII) when it can be, UTF-16BE with a byte-order
/// mark otherwise (ISO 32000 7.9.2.2), so that Chinese titles survive.
pub fn text(value: &str) -> Object {
    if value.is_ascii() {
        return Object::String(value.as_bytes().to_vec(), StringFormat::Literal);
    }
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend(value.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// The file identifier (ISO 32000 14.4): from the certificate number and date of issue, not
/// random, so that the archive copy of a certificate is always the same bytes.
fn document_id(info: &ArchiveInfo) -> Vec<u8> {
    let digest = Sha256::digest(format!("{} {}", info.number, info.issued_on));
    digest[..16].to_vec()
}
