//! The period export an assessor takes away (DESIGN 9c): one ZIP with each certificate issued
//! in the period (its PDF and DCC exactly as issued, and its JSON record), the issuer's
//! certificate files of the external calibrations they rest on, the audit entries of those
//! records, the CMC table, a manifest and a `SHA256SUMS` that `sha256sum -c` checks.
//!
//! The ZIP is written as a stream (data descriptors after each file, no seeking back), a page
//! of certificates at a time: memory stays one page and one certificate's documents however
//! long the period.

use std::collections::HashSet;
use std::io::Write;

use chrono::NaiveDate;
use serde_json::json;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::db::{self, DbConnection, DbError};
use crate::domain::audit::sha256_hex;
use crate::domain::issuer_file::IssuerFileFormat;

/// Certificates read and written per page (and per audit part).
const PAGE: i64 = 200;

/// What the export covers and who asked, as the manifest states it.
pub struct ExportRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub laboratory: String,
    pub exported_by: String,
    pub exported_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("writing the ZIP: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the ZIP: {0}")]
    Io(#[from] std::io::Error),
}

/// One file written: its path in the ZIP, size and SHA-256.
struct Written {
    path: String,
    bytes: usize,
    sha256: String,
}

struct Export<W: Write> {
    zip: ZipWriter<zip::write::StreamWriter<W>>,
    written: Vec<Written>,
    /// Calibrations the certificates written so far rest on: each chain walked once.
    reached: HashSet<i64>,
    /// The issuer's certificate files written, for the manifest.
    external: Vec<serde_json::Value>,
}

impl<W: Write> Export<W> {
    /// PDFs are compressed already; text is deflated.
    fn add(&mut self, path: String, bytes: &[u8], compress: bool) -> Result<(), ExportError> {
        let method = if compress {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(bytes.len() > u32::MAX as usize / 2);
        self.zip.start_file(path.as_str(), options)?;
        self.zip.write_all(bytes)?;
        self.written.push(Written {
            path,
            bytes: bytes.len(),
            sha256: sha256_hex(bytes),
        });
        Ok(())
    }
}

/// Writes the whole export to `out`; the number of certificates it holds.
pub fn write<W: Write>(
    conn: &mut DbConnection,
    request: &ExportRequest,
    out: W,
) -> Result<usize, ExportError> {
    let mut export = Export {
        zip: ZipWriter::new_stream(out),
        written: Vec::new(),
        reached: HashSet::new(),
        external: Vec::new(),
    };
    let (certificates, audit_entries) = write_certificates(conn, request, &mut export)?;
    let cmcs = db::calibrations::list_cmcs(conn)?;
    export.add("cmc.json".into(), &to_json(&cmcs)?, true)?;
    let manifest = json!({
        "laboratory": request.laboratory,
        "period": {"from": request.from, "to": request.to, "by": "issue date, inclusive"},
        "exported_at": request.exported_at,
        "exported_by": request.exported_by,
        "certificates": certificates,
        "external_certificates": export.external,
        "audit_entries": audit_entries,
        "audit_head": db::audit::head(conn)?,
        "layout": {
            "certificates/NUMBER.pdf": "the certificate PDF exactly as issued",
            "certificates/NUMBER.xml": "its DCC exactly as issued",
            "certificates/NUMBER.json": "its record, as GET /api/v1/certificates/NUMBER answers",
            "external/calibration-ID.pdf|xml": "the issuer's certificate file (PDF or DCC) of an external calibration the exported certificates rest on, through their standards at any depth, exactly as uploaded; listed under external_certificates with the SHA-256 stored at upload",
            "audit/part-NNNN.jsonl": "the audit entries of those certificates' calibrations, one JSON entry per line, in log order within each part (docs/audit.md: how to recompute their hashes)",
            "cmc.json": "the laboratory's CMC table at export",
            "SHA256SUMS": "every other file's SHA-256, for sha256sum -c",
        },
        "files": export.written.iter().map(|w| json!({"path": w.path, "bytes": w.bytes, "sha256": w.sha256})).collect::<Vec<_>>(),
    });
    export.add("manifest.json".into(), &to_json(&manifest)?, true)?;
    let sums: String = export
        .written
        .iter()
        .map(|w| format!("{}  {}\n", w.sha256, w.path))
        .collect();
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    export.zip.start_file("SHA256SUMS", options)?;
    export.zip.write_all(sums.as_bytes())?;
    export.zip.finish()?.into_inner().flush()?;
    Ok(certificates)
}

/// Every certificate of the period, a page at a time, with the audit entries of each page's
/// calibrations as one part; (certificates, audit entries) written.
fn write_certificates<W: Write>(
    conn: &mut DbConnection,
    request: &ExportRequest,
    export: &mut Export<W>,
) -> Result<(usize, usize), ExportError> {
    let (mut after, mut certificates, mut entries, mut part) = (String::new(), 0, 0, 0);
    loop {
        let page = db::export::issued_between(conn, request.from, request.to, &after, PAGE)?;
        let Some((last, _)) = page.last() else {
            return Ok((certificates, entries));
        };
        after = last.clone();
        for (number, calibration_id) in &page {
            write_certificate(conn, export, number, *calibration_id)?;
        }
        certificates += page.len();
        let calibration_ids: Vec<i64> = page.iter().map(|(_, id)| *id).collect();
        write_external_files(conn, export, &calibration_ids)?;
        let ids: Vec<String> = page.iter().map(|(_, id)| id.to_string()).collect();
        let audit = db::audit::entries_about(conn, "calibration", &ids)?;
        let mut lines = Vec::new();
        for entry in &audit {
            serde_json::to_writer(&mut lines, entry).map_err(std::io::Error::other)?;
            lines.push(b'\n');
        }
        part += 1;
        entries += audit.len();
        export.add(format!("audit/part-{part:04}.jsonl"), &lines, true)?;
    }
}

fn write_certificate<W: Write>(
    conn: &mut DbConnection,
    export: &mut Export<W>,
    number: &str,
    calibration_id: i64,
) -> Result<(), ExportError> {
    let (pdf, dcc) = db::export::documents(conn, number)?;
    // Only auditors and admins export: the whole register.
    let certificate =
        db::certificates::get(conn, number, &crate::domain::people::Scope::Everything)?
            .ok_or_else(|| DbError::not_found(format!("no certificate numbered {number}")))?;
    let calibration = db::calibrations::get(conn, calibration_id)?;
    // The same record GET /api/v1/certificates/{number} answers: the list item's fields
    // beside the calibration it certifies.
    let mut record = serde_json::to_value(&certificate).map_err(std::io::Error::other)?;
    record["calibration"] = serde_json::to_value(&calibration).map_err(std::io::Error::other)?;
    export.add(format!("certificates/{number}.pdf"), &pdf, false)?;
    export.add(format!("certificates/{number}.xml"), &dcc, true)?;
    export.add(
        format!("certificates/{number}.json"),
        &to_json(&record)?,
        true,
    )?;
    Ok(())
}

/// The issuer's certificate files a page of certificates rests on and no earlier page did
/// (DESIGN 9c): the external calibrations reached through their standards, one file at a
/// time, each checked against its stored SHA-256 as it is read.
fn write_external_files<W: Write>(
    conn: &mut DbConnection,
    export: &mut Export<W>,
    calibration_ids: &[i64],
) -> Result<(), ExportError> {
    let reached = db::issuer_certificates::resting_on(conn, calibration_ids, &mut export.reached)?;
    for file in db::issuer_certificates::find_many(conn, &reached)? {
        let format = file.format()?;
        let bytes = db::issuer_certificates::bytes_of(conn, &file)?;
        let path = format!(
            "external/calibration-{}.{}",
            file.calibration_id,
            format.extension()
        );
        // A PDF is compressed already; XML is deflated.
        export.add(path.clone(), &bytes, format == IssuerFileFormat::Dcc)?;
        export.external.push(json!({
            "path": path, "calibration_id": file.calibration_id,
            "content_type": file.content_type, "bytes": file.bytes, "sha256": file.sha256,
        }));
    }
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<Vec<u8>, ExportError> {
    Ok(serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?)
}

/// A `Write` that hands the ZIP to the HTTP response in parts of 64 KiB through a bounded
/// channel: the writer waits while the client is slow, and stops (a broken pipe) when the
/// client has gone.
pub struct ChunkSender {
    parts: rocket::tokio::sync::mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChunkSender {
    pub fn new(parts: rocket::tokio::sync::mpsc::Sender<Vec<u8>>) -> ChunkSender {
        ChunkSender {
            parts,
            buffer: Vec::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.parts
            .blocking_send(part)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
