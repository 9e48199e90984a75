//! What the JSON API and the pages share about HTTP: query values read into
//! typed values with a 422 naming the parameter, and issued documents served
//! as downloads. `web/` and `api/` both use it; neither imports the other.

pub mod params;
pub mod query;

use std::io::Cursor;
use std::pin::Pin;
use std::task::{Context, Poll};

use rocket::futures::stream::{self, BoxStream, StreamExt};
use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::tokio::io::{AsyncRead, ReadBuf};

use crate::db::certificates::{document_part, Document};
use crate::db::{Database, DbError};

/// How much of an issued document a download reads from the database at a time. A typical
/// certificate fits in one part (one query); the largest allowed one (1 000 points) takes a
/// few, and memory per download stays one part, not the document.
pub const DOWNLOAD_PART: usize = 256 * 1024;

/// An issued document served byte for byte, with its content type and a file name made of
/// the number: whole when it fits in one part, otherwise streamed a part at a time.
pub struct Download {
    first: Vec<u8>,
    rest: Option<BoxStream<'static, Vec<u8>>>,
    length: usize,
    content_type: ContentType,
    filename: String,
}

impl Download {
    /// Reads the first part (and the length) now, so that an unknown number is a 404 before
    /// anything is sent; the other parts are read as the client takes them.
    pub async fn fetch(
        database: &Database,
        number: &str,
        which: Document,
        scope: &crate::domain::people::Scope,
    ) -> Result<Download, DbError> {
        let owned = number.to_string();
        let scope = scope.clone();
        let (length, first) = database
            .run(move |conn| {
                crate::db::certificates::require_visible(conn, &owned, &scope)?;
                document_part(conn, &owned, which, 0, DOWNLOAD_PART)
            })
            .await?;
        let rest = (first.len() < length)
            .then(|| rest_of(database.clone(), number, which, first.len(), length));
        let (content_type, extension) = match which {
            Document::Pdf => (ContentType::PDF, "pdf"),
            Document::Dcc => (ContentType::new("application", "xml"), "xml"),
        };
        let name: String = number
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        Ok(Download {
            first,
            rest,
            length,
            content_type,
            filename: format!("{name}.{extension}"),
        })
    }
}

/// The parts after the first, each read when the client is ready for it. A failed read ends
/// the body early (the client sees fewer bytes than the SHA-256 it checks promises) and is
/// logged; issued bytes never change, so parts read apart still make the document.
fn rest_of(
    database: Database,
    number: &str,
    which: Document,
    from: usize,
    length: usize,
) -> BoxStream<'static, Vec<u8>> {
    let number = number.to_string();
    stream::unfold(from, move |offset| {
        let (database, number) = (database.clone(), number.clone());
        async move {
            if offset >= length {
                return None;
            }
            let read = database
                .run(move |conn| document_part(conn, &number, which, offset, DOWNLOAD_PART))
                .await;
            match read {
                Ok((_, part)) if !part.is_empty() => {
                    let next = offset + part.len();
                    Some((part, next))
                }
                Ok(_) => None,
                Err(error) => {
                    log::error!("download stopped at byte {offset}: {error}");
                    None
                }
            }
        }
    })
    .boxed()
}

impl<'r> Responder<'r, 'static> for Download {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        response.header(self.content_type).header(Header::new(
            "Content-Disposition",
            format!("inline; filename=\"{}\"", self.filename),
        ));
        match self.rest {
            None => response.sized_body(self.length, Cursor::new(self.first)),
            Some(rest) => response.streamed_body(Parts {
                current: Cursor::new(self.first),
                rest,
            }),
        };
        response.ok()
    }
}

/// The parts of a streamed document read as one body: each part copied out, then the next
/// one awaited.
pub struct Parts {
    current: Cursor<Vec<u8>>,
    rest: BoxStream<'static, Vec<u8>>,
}

impl Parts {
    pub fn new(current: Cursor<Vec<u8>>, rest: BoxStream<'static, Vec<u8>>) -> Parts {
        Parts { current, rest }
    }
}

impl AsyncRead for Parts {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let position = self.current.position() as usize;
            let part = self.current.get_ref();
            if position < part.len() {
                let n = buf.remaining().min(part.len() - position);
                buf.put_slice(&part[position..position + n]);
                self.current.set_position((position + n) as u64);
                return Poll::Ready(Ok(()));
            }
            match self.rest.poll_next_unpin(cx) {
                Poll::Ready(Some(next)) => self.current = Cursor::new(next),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A stored file served whole, byte for byte, as a download (the issuer's certificate of an
/// external calibration): at most [`crate::domain::issuer_file::MAX_BYTES`], so held at once.
pub struct Attachment {
    pub bytes: Vec<u8>,
    pub content_type: ContentType,
    pub filename: String,
    /// Its SHA-256 as stored, hex: a client can check what it received against it.
    pub sha256: String,
}

impl<'r> Responder<'r, 'static> for Attachment {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(self.content_type)
            .header(Header::new(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.filename),
            ))
            .header(Header::new("X-Content-SHA256", self.sha256))
            .sized_body(self.bytes.len(), Cursor::new(self.bytes))
            .ok()
    }
}

impl Attachment {
    /// The issuer's certificate of calibration `id`, as stored.
    pub fn issuer_certificate(
        id: i64,
        file: &crate::db::issuer_certificates::IssuerFile,
        bytes: Vec<u8>,
    ) -> Result<Attachment, DbError> {
        let format = file.format()?;
        let content_type = match format {
            crate::domain::issuer_file::IssuerFileFormat::Pdf => ContentType::PDF,
            crate::domain::issuer_file::IssuerFileFormat::Dcc => {
                ContentType::new("application", "xml")
            }
        };
        Ok(Attachment {
            bytes,
            content_type,
            filename: format!("issuer-certificate-{id}.{}", format.extension()),
            sha256: file.sha256.clone(),
        })
    }
}
