//! The issuer's certificate file of an external calibration (DESIGN 9c): a PDF or a DCC, told
//! apart by its bytes, not only by what the client says it is, so the record never keeps an
//! HTML error page or a ZIP under the name of a certificate.

use crate::domain::FieldError;

/// The largest file accepted: a scanned multi-page certificate fits, a video does not.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// What an issuer's certificate file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerFileFormat {
    Pdf,
    /// A Digital Calibration Certificate (PTB DCC XML).
    Dcc,
}

impl IssuerFileFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            IssuerFileFormat::Pdf => "application/pdf",
            IssuerFileFormat::Dcc => "application/xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            IssuerFileFormat::Pdf => "pdf",
            IssuerFileFormat::Dcc => "xml",
        }
    }

    /// The format stored under a content type (as `content_type` writes it).
    pub fn from_content_type(content_type: &str) -> Option<IssuerFileFormat> {
        match content_type {
            "application/pdf" => Some(IssuerFileFormat::Pdf),
            "application/xml" | "text/xml" => Some(IssuerFileFormat::Dcc),
            _ => None,
        }
    }
}

const WHAT_TO_SEND: &str = "send the issuer's certificate itself: a PDF (its bytes start with \
     %PDF-) as Content-Type application/pdf, or a DCC XML (root element \
     digitalCalibrationCertificate) as Content-Type application/xml";

/// The file's format when its bytes are what `content_type` (the request's media type,
/// without parameters) says; else the field at fault and what to send.
pub fn check_issuer_file(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<IssuerFileFormat, FieldError> {
    let format = content_type
        .and_then(IssuerFileFormat::from_content_type)
        .ok_or_else(|| FieldError::new("Content-Type", WHAT_TO_SEND))?;
    let fits = match format {
        IssuerFileFormat::Pdf => bytes.starts_with(b"%PDF-"),
        IssuerFileFormat::Dcc => is_dcc(bytes),
    };
    if bytes.is_empty() {
        return Err(FieldError::new(
            "body",
            format!("the body is empty; {WHAT_TO_SEND}"),
        ));
    }
    match fits {
        true => Ok(format),
        false => Err(FieldError::new(
            "body",
            format!(
                "the body is not a {}; {WHAT_TO_SEND}",
                match format {
                    IssuerFileFormat::Pdf => "PDF",
                    IssuerFileFormat::Dcc =>
                        "DCC (well-formed XML whose root element is \
                                              digitalCalibrationCertificate)",
                }
            ),
        )),
    }
}

/// Well-formed XML whose root element is `digitalCalibrationCertificate` (any namespace
/// prefix; PTB's schema puts it in `https://ptb.de/dcc`).
fn is_dcc(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    roxmltree::Document::parse(text)
        .is_ok_and(|doc| doc.root_element().tag_name().name() == "digitalCalibrationCertificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DCC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" schemaVersion="3.3.0"/>"#;

    #[test]
    fn a_pdf_or_a_dcc_is_accepted_under_its_own_type_only() {
        assert_eq!(
            check_issuer_file(Some("application/pdf"), b"%PDF-1.7\n..."),
            Ok(IssuerFileFormat::Pdf)
        );
        assert_eq!(
            check_issuer_file(Some("application/xml"), DCC.as_bytes()),
            Ok(IssuerFileFormat::Dcc)
        );
        let field =
            |ct: Option<&str>, bytes: &[u8]| check_issuer_file(ct, bytes).unwrap_err().field;
        assert_eq!(field(Some("application/pdf"), DCC.as_bytes()), "body");
        assert_eq!(field(Some("application/xml"), b"%PDF-1.7"), "body");
        assert_eq!(
            field(Some("application/xml"), b"<html><body/></html>"),
            "body"
        );
        assert_eq!(
            field(Some("application/xml"), b"<digitalCalibrationCertificate>"),
            "body"
        );
        assert_eq!(field(Some("application/pdf"), b""), "body");
        assert_eq!(field(Some("image/png"), b"%PDF-1.7"), "Content-Type");
        assert_eq!(field(None, b"%PDF-1.7"), "Content-Type");
    }
}
