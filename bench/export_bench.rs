//! The period export (DESIGN 9c) of 10 000 certificates: how long it takes and how much memory
//! it holds, on the generated register with documents of realistic size.
//!
//!     ROCKET_DATABASE_URL=sqlite://…/export.sqlite3 cargo run --release --example generate -- 18870 94350
//!     ROCKET_DATABASE_URL=… cargo run --release --example export_bench -- prepare
//!     ROCKET_DATABASE_URL=… /usr/bin/time -v target/release/examples/export_bench run
//!
//! 18 870 instruments make 10 000 working instruments, all calibrated (and certified) on one
//! day of each year: the export covers the earliest such day with the most certificates.
//! `prepare` gives those certificates an 85 KB PDF (incompressible, as a PDF's streams are)
//! and a 40 KB DCC (XML text), and every external calibration a 120 KB issuer's certificate
//! PDF, which the export finds through the chains (each level's standards are calibrated
//! externally at the top). `run` writes the ZIP to a counting sink and prints the time, the
//! certificates, the ZIP's size and the process's peak resident memory (VmHWM).

use std::io::Write;
use std::time::Instant;

use caltrace::db::schema::{calibrations, certificates, issuer_certificates};
use caltrace::db::{write_transaction, Database, DbConnection, DbError};
use caltrace::domain::audit::sha256_hex;
use caltrace::workflow::export::{write, ExportRequest};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};

#[derive(QueryableByName)]
struct Day {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    certificates: i64,
}

/// The earliest issue day with the most certificates.
fn busiest_day(conn: &mut DbConnection) -> Result<Day, DbError> {
    let sql = "SELECT issued_on AS day, COUNT(*) AS certificates FROM certificates \
               GROUP BY issued_on ORDER BY COUNT(*) DESC, issued_on LIMIT 1";
    let mut days: Vec<Day> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(sql).load(c)?,
    };
    days.pop()
        .ok_or_else(|| DbError::corrupt("no certificates: run the generate example first"))
}

/// Bytes that do not compress, as a PDF's (already compressed) streams do not.
fn pseudo_pdf(size: usize, seed: u64) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state = seed | 1;
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// A DCC-like XML text of about `size` bytes: measurement results, as a real one carries.
fn pseudo_dcc(size: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<dcc:digitalCalibrationCertificate \
         xmlns:dcc=\"https://ptb.de/dcc\" xmlns:si=\"https://ptb.de/si\" schemaVersion=\"3.3.0\">\n",
    );
    let mut i = 0u64;
    while xml.len() < size - 64 {
        i += 1;
        xml.push_str(&format!(
            "<dcc:quantity refType=\"basic_measuredValue\"><si:real><si:value>{:.6}</si:value>\
             <si:unit>\\mega\\pascal</si:unit><si:expandedUnc><si:uncertainty>{:.6}</si:uncertainty>\
             <si:coverageFactor>2</si:coverageFactor></si:expandedUnc></si:real></dcc:quantity>\n",
            0.2 + (i % 97) as f64 * 0.001,
            0.0001 + (i % 13) as f64 * 0.00001
        ));
    }
    xml.push_str("</dcc:digitalCalibrationCertificate>\n");
    xml.into_bytes()
}

fn prepare(conn: &mut DbConnection, day: NaiveDate) -> Result<(), DbError> {
    let (pdf, dcc) = (pseudo_pdf(85_000, 7), pseudo_dcc(40_000));
    let issuer = pseudo_pdf(120_000, 11);
    let now = caltrace::db::now_timestamp();
    write_transaction(conn, |conn| -> Result<(), DbError> {
        let documents = diesel::update(certificates::table.filter(certificates::issued_on.eq(day)))
            .set((
                certificates::pdf.eq(&pdf),
                certificates::pdf_sha256.eq(sha256_hex(&pdf)),
                certificates::dcc.eq(&dcc),
                certificates::dcc_sha256.eq(sha256_hex(&dcc)),
            ))
            .execute(conn)?;
        diesel::delete(issuer_certificates::table).execute(conn)?;
        let externals: Vec<i64> = calibrations::table
            .select(calibrations::id)
            .filter(calibrations::kind.eq("external"))
            .load(conn)?;
        for id in &externals {
            diesel::insert_into(issuer_certificates::table)
                .values((
                    issuer_certificates::calibration_id.eq(id),
                    issuer_certificates::content_type.eq("application/pdf"),
                    issuer_certificates::file.eq(&issuer),
                    issuer_certificates::sha256.eq(sha256_hex(&issuer)),
                    issuer_certificates::bytes.eq(issuer.len() as i64),
                    issuer_certificates::uploaded_at.eq(&now),
                ))
                .execute(conn)?;
        }
        println!(
            "{documents} certificates of {day} given an {} B PDF and a {} B DCC; {} external \
             calibrations given a {} B issuer's certificate",
            pdf.len(),
            dcc.len(),
            externals.len(),
            issuer.len()
        );
        Ok(())
    })
}

/// Counts what the export writes, and drops it.
struct Counting(usize);

impl Write for Counting {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn run(conn: &mut DbConnection, day: NaiveDate) -> Result<(), Box<dyn std::error::Error>> {
    let request = ExportRequest {
        from: day,
        to: day,
        laboratory: "bench".into(),
        exported_by: "bench".into(),
        exported_at: caltrace::db::now_timestamp(),
    };
    // EXPORT_BENCH_ZIP=path keeps the ZIP (to look inside it) instead of counting it only.
    if let Ok(path) = std::env::var("EXPORT_BENCH_ZIP") {
        let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        write(conn, &request, file)?;
        println!("written to {path}");
        return Ok(());
    }
    let before = status_kb("VmRSS:");
    let mut sink = Counting(0);
    let started = Instant::now();
    let certificates = write(conn, &request, &mut sink)?;
    let elapsed = started.elapsed();
    println!(
        "exported {certificates} certificates of {day}: ZIP {:.1} MB in {:.2} s ({:.0} certificates/s); \
         resident {:.1} MB before, peak {:.1} MB",
        sink.0 as f64 / 1e6,
        elapsed.as_secs_f64(),
        certificates as f64 / elapsed.as_secs_f64(),
        before as f64 / 1024.0,
        status_kb("VmHWM:") as f64 / 1024.0
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let config = caltrace::config::AppConfig::from_figment(&caltrace::figment())?;
    let database = Database::open(&config.database_url, 2, 1)?;
    let mut conn = database.get()?;
    let day = busiest_day(&mut conn)?;
    println!("{} certificates issued on {}", day.certificates, day.day);
    match mode.as_str() {
        "prepare" => prepare(&mut conn, day.day)?,
        "run" => run(&mut conn, day.day)?,
        _ => return Err("usage: export_bench prepare|run".into()),
    }
    Ok(())
}
