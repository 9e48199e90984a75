//! What the JSON API and the pages share about HTTP: query values read into
//! typed values with a 422 naming the parameter, and issued documents served
//! as downloads. `web/` and `api/` both use it; neither imports the other.

pub mod params;
pub mod query;

use rocket::http::{ContentType, Header};
use rocket::Responder;

use crate::db::certificates::Document;

#[derive(Responder)]
pub struct Download {
    body: Vec<u8>,
    content_type: ContentType,
    disposition: Header<'static>,
}

impl Download {
    /// The issued bytes with their content type and a file name made of the number.
    pub fn of(number: &str, which: Document, body: Vec<u8>) -> Download {
        let (content_type, extension) = match which {
            Document::Pdf => (ContentType::PDF, "pdf"),
            Document::Dcc => (ContentType::new("application", "xml"), "xml"),
        };
        let filename: String = number
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        Download {
            body,
            content_type,
            disposition: Header::new(
                "Content-Disposition",
                format!("inline; filename=\"{filename}.{extension}\""),
            ),
        }
    }
}
