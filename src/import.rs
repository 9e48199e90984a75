//! CSV import of the instrument register and of calibration results, and CSV
//! export of the register (`caltrace import …`, `caltrace export …`; the file
//! formats are in docs/csv-import.md).
//!
//! An import is all or nothing: every row is turned into the same request
//! struct the JSON API takes (`InstrumentInput`, `CalibrationInput`) and stored
//! through the same repository functions inside one write transaction, so the
//! domain checks, the audit entries and the uniqueness rules are the API's. A
//! file with bad rows stores nothing, and every bad row is reported with its
//! line and the header name of the offending column.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;

use chrono::NaiveDate;
use serde_json::json;

use crate::auth::UserRole;
use crate::db::audit::{append, Actor};
use crate::db::{self, write_transaction, DbConnection, DbError};
use crate::domain::audit::sha256_hex;
use crate::domain::calibration::{
    Accreditation, CalibrationInput, Environment, Issuer, Limits, PointInput, StatedUncertainty,
};
use crate::domain::instrument::{
    validate_instrument, Instrument, InstrumentInput, InstrumentRecord, MeasuringRange,
};
use crate::domain::quantity::QuantityJson;
use crate::domain::FieldError;
use crate::error::ApiError;
use crate::workflow;
use crate::workflow::competence::Competence;

/// One bad cell (or row): the 1-based line of the file where the row starts and
/// the header name of the column; `column` is empty when the row as a whole is bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub message: String,
}

impl RowError {
    fn new(line: u64, column: impl Into<String>, message: impl Into<String>) -> RowError {
        RowError {
            line,
            column: column.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.message
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImportError {
    /// The file has bad rows; nothing was stored.
    Rows(Vec<RowError>),
    /// Something other than the file's content failed (database, user); nothing was stored.
    Failed(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Rows(errors) => {
                for error in errors {
                    writeln!(f, "{error}")?;
                }
                write!(f, "{} error(s); nothing was imported", errors.len())
            }
            ImportError::Failed(message) => write!(f, "{message}; nothing was imported"),
        }
    }
}

impl From<ApiError> for ImportError {
    fn from(error: ApiError) -> ImportError {
        ImportError::Failed(error.to_string())
    }
}

/// Where an import is: `phase` is "reading", "checking" or "storing".
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub phase: &'a str,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows: usize,
    /// Ids of the instruments or calibrations created, in file order.
    pub ids: Vec<i64>,
}

/// The user an import is recorded under (`--as NAME`), who must hold one of
/// the roles the equivalent API route requires.
pub fn actor_named(
    conn: &mut DbConnection,
    name: &str,
    allowed: &[UserRole],
) -> Result<Actor, String> {
    let user = db::users::find_user(conn, name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user named '{name}'"))?;
    user.require(allowed)
        .map_err(|missing| format!("user '{name}' cannot import: {missing}"))?;
    Ok(user.actor())
}

// ---------------------------------------------------------------------------
// Reading a CSV table

struct Row {
    line: u64,
    cells: Vec<String>,
}

struct Table {
    /// Header names, trimmed and lower-cased.
    columns: Vec<String>,
    rows: Vec<Row>,
    /// False when the header has errors: the rows are then not judged.
    header_ok: bool,
}

/// Line numbers from byte offsets: the csv crate's own line count skips blank
/// lines. A line ends at \n, \r\n or a lone \r.
struct LineIndex<'a> {
    bytes: &'a [u8],
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(bytes: &'a [u8]) -> LineIndex<'a> {
        let mut starts = vec![0usize];
        for (i, byte) in bytes.iter().enumerate() {
            if *byte == b'\n' || (*byte == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        LineIndex { bytes, starts }
    }

    /// The line a record starts on (0 when unknown).
    fn of(&self, position: Option<&csv::Position>) -> u64 {
        position.map_or(0, |p| {
            // A record's position is where the reader started, before any
            // blank lines it skipped on the way.
            let mut at = usize::try_from(p.byte()).unwrap_or(usize::MAX);
            while matches!(self.bytes.get(at), Some(b'\r' | b'\n')) {
                at += 1;
            }
            self.starts.partition_point(|start| *start <= at) as u64
        })
    }
}

impl Table {
    /// Reads the whole file. Rows that cannot be read at all (not UTF-8, wrong
    /// number of fields) are reported and left out; header problems (unknown,
    /// duplicate or missing columns) are reported against line 1.
    fn read(
        bytes: &[u8],
        known: &[&str],
        required: &[&str],
        errors: &mut Vec<RowError>,
        progress: &mut dyn FnMut(Progress),
    ) -> Table {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let lines = LineIndex::new(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut records = reader.byte_records();
        let mut table = Table {
            columns: Vec::new(),
            rows: Vec::new(),
            header_ok: false,
        };
        let header = match records.next() {
            None => {
                errors.push(RowError::new(
                    1,
                    "",
                    "the file is empty; a header row is expected",
                ));
                return table;
            }
            Some(Err(error)) => {
                errors.push(RowError::new(1, "", format!("unreadable header: {error}")));
                return table;
            }
            Some(Ok(header)) => header,
        };
        let header_line = lines.of(header.position()).max(1);
        table.read_header(&header, header_line, known, required, errors);
        if !errors.is_empty() {
            return table;
        }
        table.header_ok = true;
        for record in records {
            match record {
                Ok(record) => table.read_row(&record, lines.of(record.position()), errors),
                Err(error) => {
                    let line = lines.of(error.position());
                    errors.push(RowError::new(line, "", format!("unreadable row: {error}")));
                }
            }
            if table.rows.len().is_multiple_of(1000) {
                progress(Progress {
                    phase: "reading",
                    done: table.rows.len(),
                    total: 0,
                });
            }
        }
        if table.rows.is_empty() && errors.is_empty() {
            errors.push(RowError::new(
                header_line,
                "",
                "the file has a header but no data rows",
            ));
        }
        table
    }

    /// The columns, each known and given once, and every required one there.
    fn read_header(
        &mut self,
        header: &csv::ByteRecord,
        header_line: u64,
        known: &[&str],
        required: &[&str],
        errors: &mut Vec<RowError>,
    ) {
        // Spreadsheets in many locales save "CSV" with semicolons: one column
        // named `asset_tag;description;…` says so better than "unknown column".
        if header.len() == 1 && header.iter().next().is_some_and(|h| h.contains(&b';')) {
            errors.push(RowError::new(
                header_line,
                "",
                "the columns are separated by ';', not ','; save the file as \
                 \"CSV (comma delimited)\" or \"CSV UTF-8\", or replace the ';' separators by ','",
            ));
            return;
        }
        for (i, name) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            if name.is_empty() {
                errors.push(RowError::new(
                    header_line,
                    format!("#{}", i + 1),
                    "the header of this column is empty",
                ));
            } else if !known.contains(&name.as_str()) {
                errors.push(RowError::new(
                    header_line,
                    name.clone(),
                    format!("unknown column; the columns are: {}", known.join(", ")),
                ));
            } else if self.columns.contains(&name) {
                errors.push(RowError::new(
                    header_line,
                    name.clone(),
                    "this column appears twice",
                ));
            }
            self.columns.push(name);
        }
        for name in required {
            if !self.columns.iter().any(|c| c == name) {
                errors.push(RowError::new(
                    header_line,
                    *name,
                    "this column is required but missing from the header",
                ));
            }
        }
    }

    /// One data row, kept when it has as many fields as the header and every
    /// cell is UTF-8; an empty row is skipped.
    fn read_row(&mut self, record: &csv::ByteRecord, line: u64, errors: &mut Vec<RowError>) {
        // A completely empty line (or a row of empty cells, as spreadsheets
        // write below the data) carries nothing: skip it.
        if record
            .iter()
            .all(|cell| cell.iter().all(u8::is_ascii_whitespace))
        {
            return;
        }
        let width = self.columns.len();
        if record.len() != width {
            errors.push(RowError::new(
                line,
                "",
                format!(
                    "the row has {} fields but the header has {width}",
                    record.len()
                ),
            ));
            return;
        }
        let mut cells = Vec::with_capacity(width);
        let mut readable = true;
        for (i, cell) in record.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(text) => cells.push(text.trim().to_string()),
                Err(_) => {
                    errors.push(RowError::new(
                        line,
                        self.columns[i].clone(),
                        "is not UTF-8 text (save the file as CSV UTF-8)",
                    ));
                    readable = false;
                }
            }
        }
        if readable {
            self.rows.push(Row { line, cells });
        }
    }

    fn index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    fn has(&self, column: &str) -> bool {
        self.index(column).is_some()
    }

    /// The trimmed cell, or None when the column is absent or the cell is empty.
    fn cell<'a>(&self, row: &'a Row, column: &str) -> Option<&'a str> {
        let i = self.index(column)?;
        row.cells
            .get(i)
            .map(String::as_str)
            .filter(|text| !text.is_empty())
    }
}

/// Parses a number cell; spreadsheets' "NaN" and "inf" are refused.
fn number(table: &Table, row: &Row, column: &str, errors: &mut Vec<RowError>) -> Option<f64> {
    let text = table.cell(row, column)?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Some(value),
        _ => {
            errors.push(RowError::new(
                row.line,
                column,
                format!("'{text}' is not a finite number (use '.' as the decimal point)"),
            ));
            None
        }
    }
}

fn whole_number(table: &Table, row: &Row, column: &str, errors: &mut Vec<RowError>) -> Option<i64> {
    let text = table.cell(row, column)?;
    match text.parse::<i64>() {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push(RowError::new(
                row.line,
                column,
                format!("'{text}' is not a whole number"),
            ));
            None
        }
    }
}

fn date(table: &Table, row: &Row, column: &str, errors: &mut Vec<RowError>) -> Option<NaiveDate> {
    let text = table.cell(row, column)?;
    match crate::domain::dates::parse_date(text) {
        Some(date) => Some(date),
        None => {
            errors.push(RowError::new(
                row.line,
                column,
                format!("'{text}' is not a date YYYY-MM-DD"),
            ));
            None
        }
    }
}

/// The unit column that applies to a quantity column: its own `X_unit` cell
/// when filled, else the shared `fallback` column (if any).
fn unit_column<'c>(table: &Table, row: &Row, own: &'c str, fallback: Option<&'c str>) -> &'c str {
    match fallback {
        Some(fallback) if table.cell(row, own).is_none() && table.has(fallback) => fallback,
        Some(fallback) if !table.has(own) => fallback,
        _ => own,
    }
}

/// A quantity from a value column and its unit column(s). A value without a
/// unit, or a unit without a value, is an error (never guessed).
fn quantity(
    table: &Table,
    row: &Row,
    value_column: &str,
    own_unit: &str,
    fallback_unit: Option<&str>,
    errors: &mut Vec<RowError>,
) -> Option<QuantityJson> {
    let unit_col = unit_column(table, row, own_unit, fallback_unit);
    let unit = table.cell(row, unit_col);
    let raw = table.cell(row, value_column);
    match (raw, unit) {
        (None, Some(_)) if unit_col == own_unit => {
            errors.push(RowError::new(
                row.line,
                value_column,
                format!("{own_unit} is given but {value_column} is empty"),
            ));
            None
        }
        (None, _) => None,
        (Some(_), None) => {
            let named = match fallback_unit {
                Some(fallback) => format!("{fallback} or {own_unit}"),
                None => own_unit.to_string(),
            };
            errors.push(RowError::new(
                row.line,
                unit_col,
                format!("{value_column} needs a unit: fill {named}"),
            ));
            number(table, row, value_column, errors);
            None
        }
        (Some(_), Some(unit)) => {
            number(table, row, value_column, errors).map(|value| QuantityJson {
                value,
                unit: unit.to_string(),
            })
        }
    }
}

fn text(table: &Table, row: &Row, column: &str) -> Option<String> {
    table.cell(row, column).map(str::to_string)
}

/// Every error, by line and then in the order of the file's columns.
fn finish(table: &Table, mut errors: Vec<RowError>) -> ImportError {
    errors.sort_by_key(|e| {
        let column = table.index(&e.column).unwrap_or(usize::MAX);
        (e.line, column)
    });
    errors.dedup();
    ImportError::Rows(errors)
}

/// Marker error: roll the import's transaction back.
fn rollback() -> ApiError {
    ApiError::Validation(Vec::new())
}

// ---------------------------------------------------------------------------
// Instruments

/// Columns of the instrument file, in the order `export` writes them.
pub const INSTRUMENT_COLUMNS: &[&str] = &[
    "asset_tag",
    "description",
    "manufacturer",
    "model",
    "serial_number",
    "role",
    "quantity_kind",
    "range_min",
    "range_max",
    "range_unit",
    "resolution",
    "resolution_unit",
    "customer",
    "location",
    "interval_days",
    "institute",
    "country",
    "standard_identifier",
    "range_min_unit",
    "range_max_unit",
];
const INSTRUMENT_REQUIRED: &[&str] = &["asset_tag", "role", "quantity_kind"];

fn instrument_input(table: &Table, row: &Row, errors: &mut Vec<RowError>) -> InstrumentInput {
    let min = quantity(
        table,
        row,
        "range_min",
        "range_min_unit",
        Some("range_unit"),
        errors,
    );
    let max = quantity(
        table,
        row,
        "range_max",
        "range_max_unit",
        Some("range_unit"),
        errors,
    );
    let range = match (min, max) {
        (Some(min), Some(max)) => Some(MeasuringRange { min, max }),
        (Some(_), None) if table.cell(row, "range_max").is_none() => {
            errors.push(RowError::new(
                row.line,
                "range_max",
                "give both range_min and range_max, or neither",
            ));
            None
        }
        (None, Some(_)) if table.cell(row, "range_min").is_none() => {
            errors.push(RowError::new(
                row.line,
                "range_min",
                "give both range_min and range_max, or neither",
            ));
            None
        }
        _ => None,
    };
    InstrumentInput {
        asset_tag: text(table, row, "asset_tag").unwrap_or_default(),
        description: text(table, row, "description"),
        manufacturer: text(table, row, "manufacturer"),
        model: text(table, row, "model"),
        serial_number: text(table, row, "serial_number"),
        role: text(table, row, "role").unwrap_or_default(),
        quantity_kind: text(table, row, "quantity_kind").unwrap_or_default(),
        range,
        resolution: quantity(table, row, "resolution", "resolution_unit", None, errors),
        customer: text(table, row, "customer"),
        location: text(table, row, "location"),
        interval_days: whole_number(table, row, "interval_days", errors),
        institute: text(table, row, "institute"),
        country: text(table, row, "country"),
        standard_identifier: text(table, row, "standard_identifier"),
    }
}

/// The column an instrument field error (`range.min.unit`, `country`…) names.
fn instrument_column(table: &Table, row: &Row, field: &str) -> String {
    let column = match field {
        "range" | "range.min" | "range.min.value" => "range_min",
        "range.max" | "range.max.value" => "range_max",
        "range.min.unit" => unit_column(table, row, "range_min_unit", Some("range_unit")),
        "range.max.unit" => unit_column(table, row, "range_max_unit", Some("range_unit")),
        "resolution" | "resolution.value" => "resolution",
        "resolution.unit" => "resolution_unit",
        other => other,
    };
    column.to_string()
}

/// Imports an instrument register file (`bytes`, named `source` in the audit
/// log) in one transaction: all rows or none.
pub fn import_instruments(
    conn: &mut DbConnection,
    actor: &Actor,
    source: &str,
    bytes: &[u8],
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportSummary, ImportError> {
    let mut errors = Vec::new();
    let table = Table::read(
        bytes,
        INSTRUMENT_COLUMNS,
        INSTRUMENT_REQUIRED,
        &mut errors,
        progress,
    );
    if !table.header_ok {
        return Err(finish(&table, errors));
    }
    let total = table.rows.len();
    let records = check_instruments(&table, &mut errors, progress);
    let sha256 = sha256_hex(bytes);
    let mut ids = Vec::with_capacity(records.len());
    let stored = write_transaction(conn, |conn| {
        // Valid rows are stored even when others are bad, inside the one
        // transaction, so that conflicts with the register are found and
        // reported too; the transaction is then rolled back.
        ids = store_instruments(conn, actor, &records, &mut errors, progress)?;
        if !errors.is_empty() {
            return Err(rollback());
        }
        audit_import(
            conn,
            actor,
            "instrument",
            &ids,
            json!({"source": source, "sha256": sha256, "rows": total, "created": ids.len()}),
        )?;
        Ok(())
    });
    match stored {
        Ok(()) => Ok(ImportSummary { rows: total, ids }),
        Err(_) if !errors.is_empty() => Err(finish(&table, errors)),
        Err(other) => Err(other.into()),
    }
}

/// Each row checked on its own and against the rows above it; the rows that pass.
fn check_instruments<'t>(
    table: &'t Table,
    errors: &mut Vec<RowError>,
    progress: &mut dyn FnMut(Progress),
) -> Vec<(&'t Row, InstrumentRecord)> {
    let total = table.rows.len();
    let mut records = Vec::with_capacity(total);
    // Keyed case-insensitively: the register treats PG-0001 and pg-0001 as one tag.
    let mut tags: HashMap<String, u64> = HashMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        let mut row_errors = Vec::new();
        let input = instrument_input(table, row, &mut row_errors);
        match validate_instrument(&input) {
            Ok(record) => {
                let key = record.asset_tag.to_lowercase();
                if let Some(first) = tags.get(&key) {
                    row_errors.push(RowError::new(
                        row.line,
                        "asset_tag",
                        format!("asset tag '{}' is also on line {first}", record.asset_tag),
                    ));
                } else {
                    tags.insert(key, row.line);
                }
                if row_errors.is_empty() {
                    records.push((row, record));
                }
            }
            Err(fields) => row_errors.extend(fields.into_iter().map(|e| {
                RowError::new(row.line, instrument_column(table, row, &e.field), e.message)
            })),
        }
        errors.extend(row_errors);
        progress(Progress {
            phase: "checking",
            done: i + 1,
            total,
        });
    }
    records
}

/// Inserts the checked rows; a tag already in the register is a row error, not a failure.
fn store_instruments(
    conn: &mut DbConnection,
    actor: &Actor,
    records: &[(&Row, InstrumentRecord)],
    errors: &mut Vec<RowError>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<i64>, ApiError> {
    let tags: Vec<String> = records.iter().map(|(_, r)| r.asset_tag.clone()).collect();
    let registered =
        db::validity::ids_of_tags(conn, &tags, &crate::domain::people::Scope::Everything)?;
    let mut ids = Vec::with_capacity(records.len());
    for (i, (row, record)) in records.iter().enumerate() {
        if let Some(id) = registered.get(&db::validity::tag_key(&record.asset_tag)) {
            errors.push(RowError::new(
                row.line,
                "asset_tag",
                format!(
                    "asset tag '{}' is already in the register (instrument {id})",
                    record.asset_tag
                ),
            ));
            continue;
        }
        match crate::workflow::instruments::register(conn, actor, record) {
            Ok(instrument) => ids.push(instrument.id),
            Err(DbError::Duplicate { field, what }) => {
                errors.push(RowError::new(row.line, field, what));
            }
            Err(other) => return Err(other.into()),
        }
        progress(Progress {
            phase: "storing",
            done: i + 1,
            total: records.len(),
        });
    }
    Ok(ids)
}

/// A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first: OWASP's CSV injection list) is written with a leading
/// apostrophe, which spreadsheets show as text. Numeric columns are written as
/// numbers and never pass through here, so a negative range stays a number.
pub fn spreadsheet_safe(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// Writes the whole register as CSV (the import format), ordered by id.
/// Returns the number of instruments written.
pub fn export_instruments(conn: &mut DbConnection, out: &mut dyn Write) -> Result<usize, String> {
    let all = whole_register(conn)?;
    // A range whose ends are in different units (−40 °C to 0 °F) needs the
    // per-end unit columns; they are written only when some instrument needs them.
    let mixed = all
        .iter()
        .any(|i| i.range.as_ref().is_some_and(|r| r.min.unit != r.max.unit));
    let columns = if mixed {
        INSTRUMENT_COLUMNS
    } else {
        &INSTRUMENT_COLUMNS[..INSTRUMENT_COLUMNS.len() - 2]
    };
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns).map_err(|e| e.to_string())?;
    for instrument in &all {
        let record = instrument_record(instrument, mixed);
        writer.write_record(&record).map_err(|e| e.to_string())?;
    }
    writer.flush().map_err(|e| e.to_string())?;
    Ok(all.len())
}

/// The register a thousand at a time, each page from where the last ended (keyset: no
/// offset re-reading the rows before it).
fn whole_register(conn: &mut DbConnection) -> Result<Vec<Instrument>, String> {
    let mut all: Vec<Instrument> = Vec::new();
    let mut filter = db::instruments::InstrumentFilter {
        page: 1,
        per_page: 1000,
        ..Default::default()
    };
    loop {
        let items =
            db::instruments::page_of(conn, &filter, &crate::domain::people::Scope::Everything)
                .map_err(|e| e.to_string())?;
        let Some(last) = items.last() else {
            return Ok(all);
        };
        filter.after = Some(last.id);
        all.extend(items);
    }
}

/// One register row in INSTRUMENT_COLUMNS order; the per-end units last, when `mixed`.
fn instrument_record(instrument: &Instrument, mixed: bool) -> Vec<String> {
    let opt = |value: &Option<String>| spreadsheet_safe(value.as_deref().unwrap_or_default());
    let (min, max, unit, min_unit, max_unit) = match &instrument.range {
        Some(range) if range.min.unit == range.max.unit => (
            range.min.value.to_string(),
            range.max.value.to_string(),
            range.min.unit.clone(),
            String::new(),
            String::new(),
        ),
        Some(range) => (
            range.min.value.to_string(),
            range.max.value.to_string(),
            String::new(),
            range.min.unit.clone(),
            range.max.unit.clone(),
        ),
        None => Default::default(),
    };
    let mut record = vec![
        spreadsheet_safe(&instrument.asset_tag),
        opt(&instrument.description),
        opt(&instrument.manufacturer),
        opt(&instrument.model),
        opt(&instrument.serial_number),
        instrument.role.as_str().to_string(),
        instrument.quantity_kind.name().to_string(),
        min,
        max,
        unit,
        instrument
            .resolution
            .as_ref()
            .map(|r| r.value.to_string())
            .unwrap_or_default(),
        instrument
            .resolution
            .as_ref()
            .map(|r| r.unit.clone())
            .unwrap_or_default(),
        opt(&instrument.customer),
        opt(&instrument.location),
        instrument
            .interval_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
        opt(&instrument.institute),
        opt(&instrument.country),
        opt(&instrument.standard_identifier),
    ];
    if mixed {
        record.push(min_unit);
        record.push(max_unit);
    }
    record
}

// ---------------------------------------------------------------------------
// Calibrations

/// The same results file imported twice would record every calibration twice (a calibration
/// has no natural key to refuse it by). The audit entry of each import names the file's
/// SHA-256, so a second import of the same bytes is refused unless asked for.
fn refuse_repeat_import(conn: &mut DbConnection, sha256: &str) -> Result<(), ImportError> {
    let earlier = earlier_import(conn, "calibration", sha256)
        .map_err(|error| ImportError::Failed(error.to_string()))?;
    match earlier {
        Some((seq, occurred_at, user_name)) => Err(ImportError::Failed(format!(
            "this file (SHA-256 {sha256}) was already imported on {occurred_at} by \
             {user_name} (audit entry {seq}); nothing was stored. Pass --again to record \
             its calibrations once more."
        ))),
        None => Ok(()),
    }
}

/// The calibrations read from a file, with the rows each came from.
struct Batch<'a, 't> {
    table: &'a Table,
    inputs: &'a [CalibrationInput],
    built: &'a [(&'t Group<'t>, Vec<&'t Row>)],
    submit: bool,
    competence: Competence,
}

/// The batch API's own function, a chunk at a time (each chunk a savepoint inside the
/// import's transaction), so that every calibration is checked and every error reported
/// even when an earlier chunk had bad ones.
fn store_calibrations(
    conn: &mut DbConnection,
    actor: &Actor,
    batch: &Batch,
    errors: &mut Vec<RowError>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<i64>, ApiError> {
    let mut created = Vec::new();
    for (c, chunk) in batch.inputs.chunks(CHUNK).enumerate() {
        let offset = c * CHUNK;
        match workflow::calibrations::create_batch(
            conn,
            actor,
            chunk,
            (batch.submit, batch.competence),
        ) {
            Ok(ids) => created.extend(ids),
            Err(ApiError::Validation(fields)) => {
                let chunk_groups = &batch.built[offset..offset + chunk.len()];
                errors.extend(fields.iter().map(|e| locate(batch.table, chunk_groups, e)));
            }
            Err(other) => return Err(other),
        }
        progress(Progress {
            phase: "storing",
            done: offset + chunk.len(),
            total: batch.inputs.len(),
        });
    }
    Ok(created)
}

/// Columns that describe the calibration as a whole: given on the first row of
/// a calibration and either left empty or repeated unchanged on its other rows.
pub const CALIBRATION_LEVEL_COLUMNS: &[&str] = &[
    "asset_tag",
    "kind",
    "performed_on",
    "received_on",
    "procedure",
    "method",
    "location",
    "standards",
    "decision_rule",
    "guard_band",
    "guard_band_unit",
    "interval_days",
    "issuer",
    "issuer_certificate_number",
    "issuer_issued_on",
    "accreditation_body",
    "accreditation_number",
    "env_temperature",
    "env_temperature_unit",
    "env_humidity",
    "env_humidity_unit",
    "env_pressure",
    "env_pressure_unit",
    "condition_on_receipt",
    "deviations",
];
/// Columns of one measurement point (one row).
pub const POINT_COLUMNS: &[&str] = &[
    "stage",
    "unit",
    "reference",
    "reference_unit",
    "indicated",
    "indicated_unit",
    "tolerance",
    "tolerance_unit",
    "lower_limit",
    "upper_limit",
    "limits_unit",
    "uncertainty",
    "uncertainty_unit",
    "k",
    "coverage_probability",
];
const CALIBRATION_REQUIRED: &[&str] = &[
    "calibration",
    "asset_tag",
    "performed_on",
    "stage",
    "reference",
    "indicated",
    "uncertainty",
    "k",
];
/// Calibrations per `create_batch` call: the unit of progress.
const CHUNK: usize = 100;

struct Group<'t> {
    key: String,
    /// Calibration-level column -> (row that gave it, value).
    given: HashMap<&'static str, &'t Row>,
    points: Vec<&'t Row>,
}

impl<'t> Group<'t> {
    /// The row a calibration-level column's value comes from (the first row
    /// of the calibration when no row gives it).
    fn row_for(&self, column: &str) -> &'t Row {
        self.given.get(column).copied().unwrap_or(self.points[0])
    }
}

fn calibration_columns() -> Vec<&'static str> {
    std::iter::once("calibration")
        .chain(CALIBRATION_LEVEL_COLUMNS.iter().copied())
        .chain(POINT_COLUMNS.iter().copied())
        .collect()
}

/// The column a point field error (`reference.unit`, `stated_uncertainty.coverage_factor`…) names.
fn point_column(table: &Table, row: &Row, field: &str) -> String {
    let unit_of = |own: &'static str| unit_column(table, row, own, Some("unit"));
    let column = match field {
        "stage" => "stage",
        "reference" | "reference.value" => "reference",
        "reference.unit" => unit_of("reference_unit"),
        "indicated" | "indicated.value" => "indicated",
        "indicated.unit" => unit_of("indicated_unit"),
        "tolerance" | "tolerance.value" => "tolerance",
        "tolerance.unit" => unit_of("tolerance_unit"),
        "limits" | "limits.lower" | "limits.lower.value" => "lower_limit",
        "limits.upper" | "limits.upper.value" => "upper_limit",
        "limits.lower.unit" | "limits.upper.unit" => unit_of("limits_unit"),
        "stated_uncertainty.coverage_factor" => "k",
        "stated_uncertainty.coverage_probability" => "coverage_probability",
        "stated_uncertainty.expanded_uncertainty.unit" => unit_of("uncertainty_unit"),
        _ if field.starts_with("guard_band") => "uncertainty",
        _ => "uncertainty",
    };
    column.to_string()
}

/// The column a calibration-level field error names.
fn calibration_column(field: &str) -> &'static str {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    match field {
        "instrument_id" => "asset_tag",
        "issuer" | "issuer.name" => "issuer",
        "issuer.certificate_number" => "issuer_certificate_number",
        "issuer.issued_on" => "issuer_issued_on",
        "issuer.accreditation.body" => "accreditation_body",
        "issuer.accreditation.number" => "accreditation_number",
        "guard_band.unit" => "guard_band_unit",
        "environment.temperature.unit" => "env_temperature_unit",
        "environment.relative_humidity.unit" => "env_humidity_unit",
        "environment.pressure.unit" => "env_pressure_unit",
        _ if field.starts_with("environment.temperature") => "env_temperature",
        _ if field.starts_with("environment.relative_humidity") => "env_humidity",
        _ if field.starts_with("environment.pressure") => "env_pressure",
        _ => match head {
            "standards_used" => "standards",
            "guard_band" => "guard_band",
            "kind" => "kind",
            "performed_on" => "performed_on",
            "received_on" => "received_on",
            "procedure" => "procedure",
            "method" => "method",
            "location" => "location",
            "decision_rule" => "decision_rule",
            "interval_days" => "interval_days",
            "condition_on_receipt" => "condition_on_receipt",
            "deviations" => "deviations",
            _ => "calibration",
        },
    }
}

/// Maps an error of `create_batch` (`calibrations[3].points[1].indicated.unit`)
/// back to the file's line and column.
/// `groups` are the calibrations sent, each with the rows of its points.
fn locate(table: &Table, groups: &[(&Group, Vec<&Row>)], error: &FieldError) -> RowError {
    let unlocated = || RowError::new(0, "", format!("{}: {}", error.field, error.message));
    let Some(rest) = error.field.strip_prefix("calibrations[") else {
        return unlocated();
    };
    let Some((index, rest)) = rest.split_once(']') else {
        return unlocated();
    };
    let Some((group, rows)) = index.parse::<usize>().ok().and_then(|i| groups.get(i)) else {
        return unlocated();
    };
    let field = rest.strip_prefix('.').unwrap_or(rest);
    if let Some(point) = field.strip_prefix("points[") {
        if let Some((j, sub)) = point.split_once(']') {
            if let Some(row) = j.parse::<usize>().ok().and_then(|j| rows.get(j)) {
                let sub = sub.strip_prefix('.').unwrap_or(sub);
                return RowError::new(row.line, point_column(table, row, sub), &error.message);
            }
        }
    }
    let column = calibration_column(field);
    RowError::new(group.row_for(column).line, column, &error.message)
}

fn point_input(table: &Table, row: &Row, errors: &mut Vec<RowError>) -> Option<PointInput> {
    let before = errors.len();
    let unit = Some("unit");
    let reference = quantity(table, row, "reference", "reference_unit", unit, errors);
    let indicated = quantity(table, row, "indicated", "indicated_unit", unit, errors);
    let tolerance = quantity(table, row, "tolerance", "tolerance_unit", unit, errors);
    let lower = quantity(table, row, "lower_limit", "limits_unit", unit, errors);
    let upper = quantity(table, row, "upper_limit", "limits_unit", unit, errors);
    let uncertainty = quantity(table, row, "uncertainty", "uncertainty_unit", unit, errors);
    let k = number(table, row, "k", errors);
    let coverage_probability = number(table, row, "coverage_probability", errors);
    for (column, value) in [("reference", &reference), ("indicated", &indicated)] {
        if value.is_none() && table.cell(row, column).is_none() {
            errors.push(RowError::new(row.line, column, "is required"));
        }
    }
    if table.cell(row, "stage").is_none() {
        errors.push(RowError::new(
            row.line,
            "stage",
            "is required: as_found or as_left",
        ));
    }
    if table.cell(row, "uncertainty").is_none() {
        errors.push(RowError::new(
            row.line,
            "uncertainty",
            "is required: the expanded uncertainty U of the point (uncertainty budgets are given through the API)",
        ));
    }
    if table.cell(row, "k").is_none() {
        errors.push(RowError::new(
            row.line,
            "k",
            "is required: the coverage factor of U",
        ));
    }
    let limits = match (lower, upper) {
        (Some(lower), Some(upper)) => Some(Limits { lower, upper }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            let missing = if table.cell(row, "lower_limit").is_none() {
                "lower_limit"
            } else {
                "upper_limit"
            };
            if table.cell(row, missing).is_none() {
                errors.push(RowError::new(
                    row.line,
                    missing,
                    "give both lower_limit and upper_limit, or neither",
                ));
            }
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    Some(PointInput {
        stage: text(table, row, "stage").unwrap_or_default(),
        reference: reference?,
        indicated: indicated?,
        tolerance,
        limits,
        budget: None,
        stated_uncertainty: Some(StatedUncertainty {
            expanded_uncertainty: uncertainty?,
            coverage_factor: k?,
            coverage_probability,
        }),
        readings: None,
    })
}

/// Builds the API's create body for one calibration and the rows its points
/// come from. Bad cells are pushed as errors; a point with a bad cell is left
/// out (so the others are still judged by the API's checks), and the
/// calibration is None when a calibration-level cell is bad.
fn calibration_input<'t>(
    table: &Table,
    group: &Group<'t>,
    ids: &HashMap<String, i64>,
    errors: &mut Vec<RowError>,
) -> Option<(CalibrationInput, Vec<&'t Row>)> {
    let before = errors.len();
    let at = |column: &str| group.row_for(column);
    require_cell(group, "asset_tag", errors);
    require_cell(group, "performed_on", errors);
    let instrument_id = table
        .cell(at("asset_tag"), "asset_tag")
        .and_then(|tag| registered_id(tag, ids, at("asset_tag").line, "asset_tag", errors));
    let standards_used = standards_named(table, group, ids, errors);
    let performed_on = date(table, at("performed_on"), "performed_on", errors);
    let received_on = date(table, at("received_on"), "received_on", errors);
    let issuer = issuer_of(table, group, errors);
    let guard_band = quantity(
        table,
        at("guard_band"),
        "guard_band",
        "guard_band_unit",
        None,
        errors,
    );
    let interval_days = whole_number(table, at("interval_days"), "interval_days", errors);
    let environment = environment_of(table, group, errors);
    let calibration_bad = errors.len() > before;
    let (points, rows) = points_of(table, group, errors);
    if calibration_bad || points.is_empty() {
        return None;
    }
    let cell = |column: &str| text(table, at(column), column);
    let input = CalibrationInput {
        instrument_id: instrument_id?,
        kind: cell("kind"),
        issuer,
        performed_on: performed_on?,
        received_on,
        procedure: cell("procedure"),
        method: cell("method"),
        location: cell("location"),
        environment,
        standards_used,
        decision_rule: cell("decision_rule"),
        guard_band,
        interval_days,
        replaces: None,
        condition_on_receipt: cell("condition_on_receipt"),
        deviations: cell("deviations"),
        points,
    };
    Some((input, rows))
}

fn require_cell(group: &Group, column: &str, errors: &mut Vec<RowError>) {
    if !group.given.contains_key(column) {
        errors.push(RowError::new(
            group.points[0].line,
            column,
            format!(
                "the cell is blank, but every calibration needs its {column} (calibration '{}')",
                group.key
            ),
        ));
    }
}

fn registered_id(
    tag: &str,
    ids: &HashMap<String, i64>,
    line: u64,
    column: &str,
    errors: &mut Vec<RowError>,
) -> Option<i64> {
    let id = ids.get(&db::validity::tag_key(tag)).copied();
    if id.is_none() {
        errors.push(RowError::new(
            line,
            column,
            format!("no instrument with asset tag '{tag}' in the register"),
        ));
    }
    id
}

/// The `standards` cell: asset tags separated by `;`, each one in the register.
fn standards_named(
    table: &Table,
    group: &Group,
    ids: &HashMap<String, i64>,
    errors: &mut Vec<RowError>,
) -> Vec<i64> {
    let row = group.row_for("standards");
    let Some(list) = table.cell(row, "standards") else {
        return Vec::new();
    };
    list.split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter_map(|tag| registered_id(tag, ids, row.line, "standards", errors))
        .collect()
}

fn environment_of(table: &Table, group: &Group, errors: &mut Vec<RowError>) -> Option<Environment> {
    let env = |column: &str, unit: &str, errors: &mut Vec<RowError>| {
        quantity(table, group.row_for(column), column, unit, None, errors)
    };
    let temperature = env("env_temperature", "env_temperature_unit", errors);
    let relative_humidity = env("env_humidity", "env_humidity_unit", errors);
    let pressure = env("env_pressure", "env_pressure_unit", errors);
    (temperature.is_some() || relative_humidity.is_some() || pressure.is_some()).then_some(
        Environment {
            temperature,
            relative_humidity,
            pressure,
        },
    )
}

/// Who issued an external calibration's certificate, when, and under which accreditation.
fn issuer_of(table: &Table, group: &Group, errors: &mut Vec<RowError>) -> Option<Issuer> {
    let at = |column: &str| group.row_for(column);
    let issued_on = date(table, at("issuer_issued_on"), "issuer_issued_on", errors);
    let cell = |column: &str| text(table, at(column), column);
    let accreditation = match (cell("accreditation_body"), cell("accreditation_number")) {
        (None, None) => None,
        (body, number) => Some(Accreditation {
            body: body.unwrap_or_default(),
            number: number.unwrap_or_default(),
        }),
    };
    match (cell("issuer"), cell("issuer_certificate_number")) {
        (None, None) if accreditation.is_none() && issued_on.is_none() => None,
        (name, certificate_number) => Some(Issuer {
            name: name.unwrap_or_default(),
            certificate_number: certificate_number.unwrap_or_default(),
            accreditation,
            issued_on,
        }),
    }
}

/// The group's readable points and the rows they came from (to locate later errors).
fn points_of<'t>(
    table: &Table,
    group: &Group<'t>,
    errors: &mut Vec<RowError>,
) -> (Vec<PointInput>, Vec<&'t Row>) {
    let mut points = Vec::with_capacity(group.points.len());
    let mut rows = Vec::with_capacity(group.points.len());
    for row in &group.points {
        if let Some(point) = point_input(table, row, errors) {
            points.push(point);
            rows.push(*row);
        }
    }
    (points, rows)
}

/// The rows grouped by the calibration column, in order of first appearance;
/// a calibration-level value that differs between rows of one calibration is
/// an error at the later row.
fn group_rows<'t>(table: &'t Table, errors: &mut Vec<RowError>) -> Vec<Group<'t>> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for row in &table.rows {
        let Some(key) = table.cell(row, "calibration") else {
            errors.push(RowError::new(
                row.line,
                "calibration",
                "is required: the key that groups rows into one calibration",
            ));
            continue;
        };
        let index = *by_key.entry(key).or_insert_with(|| {
            groups.push(Group {
                key: key.to_string(),
                given: HashMap::new(),
                points: Vec::new(),
            });
            groups.len() - 1
        });
        let group = &mut groups[index];
        group.points.push(row);
        for column in CALIBRATION_LEVEL_COLUMNS {
            let Some(value) = table.cell(row, column) else {
                continue;
            };
            match group.given.get(column) {
                None => {
                    group.given.insert(*column, row);
                }
                Some(first) => {
                    let earlier = table.cell(first, column).unwrap_or_default();
                    if earlier != value {
                        errors.push(RowError::new(
                            row.line,
                            *column,
                            format!(
                                "'{value}' differs from '{earlier}' on line {} of calibration '{key}'; \
                                 leave it empty or repeat it unchanged",
                                first.line
                            ),
                        ));
                    }
                }
            }
        }
    }
    groups
}

/// Every asset tag the calibrations name (instruments and standards), once.
fn tags_named(table: &Table, groups: &[Group]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for group in groups {
        for column in ["asset_tag", "standards"] {
            if let Some(cell) = table.cell(group.row_for(column), column) {
                tags.extend(
                    cell.split(';')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    tags.sort();
    tags.dedup();
    tags
}

/// Imports a calibration results file in one transaction: all calibrations or
/// none. They are recorded as the API's batch ingestion records them, by
/// `actor` (who must be a user: the technician of record), as drafts or, with
/// `submit`, submitted for approval.
pub fn import_calibrations(
    conn: &mut DbConnection,
    actor: &Actor,
    source: &str,
    bytes: &[u8],
    (submit, competence): (bool, Competence),
    again: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportSummary, ImportError> {
    if actor.user_id.is_none() {
        return Err(ImportError::Failed(
            "calibrations are recorded in a technician's name: name the user (--as USER)"
                .to_string(),
        ));
    }
    let mut errors = Vec::new();
    let columns = calibration_columns();
    let table = Table::read(bytes, &columns, CALIBRATION_REQUIRED, &mut errors, progress);
    if !table.header_ok {
        return Err(finish(&table, errors));
    }
    let total = table.rows.len();

    let groups = group_rows(&table, &mut errors);

    let sha256 = sha256_hex(bytes);
    if !again {
        refuse_repeat_import(conn, &sha256)?;
    }
    let mut created = Vec::new();
    let stored = write_transaction(conn, |conn| {
        let ids = db::validity::ids_of_tags(
            conn,
            &tags_named(&table, &groups),
            &crate::domain::people::Scope::Everything,
        )?;
        let mut inputs = Vec::with_capacity(groups.len());
        let mut built: Vec<(&Group, Vec<&Row>)> = Vec::with_capacity(groups.len());
        for (i, group) in groups.iter().enumerate() {
            if let Some((input, rows)) = calibration_input(&table, group, &ids, &mut errors) {
                inputs.push(input);
                built.push((group, rows));
            }
            progress(Progress {
                phase: "checking",
                done: i + 1,
                total: groups.len(),
            });
        }
        let batch = Batch {
            table: &table,
            inputs: &inputs,
            built: &built,
            submit,
            competence,
        };
        created = store_calibrations(conn, actor, &batch, &mut errors, progress)?;
        if !errors.is_empty() {
            return Err(rollback());
        }
        audit_import(
            conn,
            actor,
            "calibration",
            &created,
            json!({"source": source, "sha256": sha256, "rows": total,
                   "created": created.len(), "submitted": submit}),
        )?;
        Ok(())
    });
    match stored {
        Ok(()) => Ok(ImportSummary {
            rows: total,
            ids: created,
        }),
        Err(_) if !errors.is_empty() => Err(finish(&table, errors)),
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------
// Command line

/// A progress line on stderr: rewritten in place on a terminal, one line per
/// finished phase otherwise (logs, CI).
pub struct ProgressLine {
    tty: bool,
    phase: String,
    last: Option<std::time::Instant>,
}

impl Default for ProgressLine {
    fn default() -> ProgressLine {
        use std::io::IsTerminal;
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            phase: String::new(),
            last: None,
        }
    }
}

impl ProgressLine {
    pub fn update(&mut self, progress: Progress) {
        let new_phase = self.phase != progress.phase;
        if new_phase {
            if self.tty && !self.phase.is_empty() {
                eprintln!();
            }
            self.phase = progress.phase.to_string();
        }
        let finished = progress.total > 0 && progress.done >= progress.total;
        let due = self
            .last
            .is_none_or(|at| at.elapsed() >= std::time::Duration::from_millis(100));
        if !(new_phase || finished || due) {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let text = if progress.total > 0 {
            format!(
                "{}: {}/{} ({}%)",
                progress.phase,
                progress.done,
                progress.total,
                progress.done * 100 / progress.total
            )
        } else {
            format!("{}: {}", progress.phase, progress.done)
        };
        if self.tty {
            eprint!("\r{text}    ");
        } else if finished {
            eprintln!("{text}");
        }
    }

    pub fn finish(&mut self) {
        if self.tty && !self.phase.is_empty() {
            eprintln!();
        }
        self.phase.clear();
    }
}

/// What `caltrace import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Instruments,
    /// `again`: import a file whose SHA-256 an earlier import already recorded.
    Calibrations {
        submit: bool,
        again: bool,
        /// Whether the technician of record needs a calibrate authorisation (DESIGN 9b).
        competence: Competence,
    },
}

fn read_source(file: &str) -> Result<(String, Vec<u8>), String> {
    use std::io::Read;
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(("stdin".to_string(), bytes))
    } else {
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        Ok((file.to_string(), bytes))
    }
}

/// `caltrace import instruments|calibrations FILE [--as USER]`: returns the
/// summary to print, or the report of every bad row.
pub fn run_import(
    database: &db::Database,
    kind: ImportKind,
    file: &str,
    as_user: Option<&str>,
) -> Result<String, String> {
    let (source, bytes) = read_source(file)?;
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let actor = match (kind, as_user) {
        (ImportKind::Instruments, None) => Actor::command_line(),
        (ImportKind::Instruments, Some(name)) => {
            actor_named(&mut conn, name, crate::auth::roles::REGISTER_WRITERS)?
        }
        (ImportKind::Calibrations { .. }, None) => {
            return Err("calibrations are recorded in a technician's name: pass --as USER".into())
        }
        (ImportKind::Calibrations { .. }, Some(name)) => {
            actor_named(&mut conn, name, crate::auth::roles::TECHNICIANS)?
        }
    };
    let mut line = ProgressLine::default();
    let mut progress = |p: Progress| line.update(p);
    let result = match kind {
        ImportKind::Instruments => {
            import_instruments(&mut conn, &actor, &source, &bytes, &mut progress)
        }
        ImportKind::Calibrations {
            submit,
            again,
            competence,
        } => import_calibrations(
            &mut conn,
            &actor,
            &source,
            &bytes,
            (submit, competence),
            again,
            &mut progress,
        ),
    };
    line.finish();
    let summary = result.map_err(|e| format!("{source}: import refused\n{e}"))?;
    let what = match kind {
        ImportKind::Instruments => "instruments".to_string(),
        ImportKind::Calibrations { submit: true, .. } => "calibrations (submitted)".to_string(),
        ImportKind::Calibrations { submit: false, .. } => "calibrations (drafts)".to_string(),
    };
    Ok(format!(
        "imported {} {what} from {} rows of {source} (ids {}..{}) as {}",
        summary.ids.len(),
        summary.rows,
        summary.ids.first().unwrap_or(&0),
        summary.ids.last().unwrap_or(&0),
        actor.name
    ))
}

/// `caltrace export instruments [FILE|-]`.
pub fn run_export(database: &db::Database, file: &str) -> Result<String, String> {
    let mut conn = database.get().map_err(|e| e.to_string())?;
    let count = if file == "-" {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        export_instruments(&mut conn, &mut out)?
    } else {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(file).map_err(|e| format!("cannot create {file}: {e}"))?,
        );
        let count = export_instruments(&mut conn, &mut out)?;
        out.flush()
            .map_err(|e| format!("cannot write {file}: {e}"))?;
        count
    };
    Ok(format!("exported {count} instruments"))
}

/// The audit entry (sequence number, time, user) of an earlier import of a file with this
/// SHA-256, if any.
fn earlier_import(
    conn: &mut DbConnection,
    entity: &str,
    sha256: &str,
) -> Result<Option<(i64, String, String)>, ApiError> {
    use crate::db::schema::audit_log;
    use diesel::prelude::*;
    // A 64-digit hex string holds no LIKE wildcard; the details are serde_json's compact form.
    Ok(audit_log::table
        .select((audit_log::seq, audit_log::occurred_at, audit_log::user_name))
        .filter(audit_log::action.eq("import"))
        .filter(audit_log::entity.eq(entity))
        .filter(audit_log::after.like(format!("%\"sha256\":\"{sha256}\"%")))
        .order(audit_log::seq.asc())
        .first(conn)
        .optional()?)
}

/// One audit entry for the whole import (the rows' own entries are written as the API writes
/// them): the file's name and SHA-256, so the source of every record can be traced.
fn audit_import(
    conn: &mut DbConnection,
    actor: &Actor,
    entity: &str,
    ids: &[i64],
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let range = format!(
        "{}..{}",
        ids.first().unwrap_or(&0),
        ids.last().unwrap_or(&0)
    );
    append(conn, actor, "import", entity, &range, None, Some(&details))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Table, Vec<RowError>) {
        let mut errors = Vec::new();
        let table = Table::read(
            text.as_bytes(),
            INSTRUMENT_COLUMNS,
            INSTRUMENT_REQUIRED,
            &mut errors,
            &mut |_| {},
        );
        (table, errors)
    }

    #[test]
    fn headers_are_matched_loosely_and_rows_keep_their_lines() {
        let (table, errors) = read(
            "\u{feff}Asset_Tag ,role,quantity_kind\nPG-1,working,pressure\n\n\"PG\n2\",working,pressure\n,,\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(table.columns[0], "asset_tag");
        let lines: Vec<u64> = table.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4]);
        assert_eq!(table.cell(&table.rows[1], "asset_tag"), Some("PG\n2"));
    }

    #[test]
    fn a_bad_header_is_reported_alone() {
        let (table, errors) = read("asset_tag,role,colour,role,\nPG-1,working,red,x,y\n");
        assert!(!table.header_ok);
        let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(
            found,
            vec![(1, "colour"), (1, "role"), (1, "#5"), (1, "quantity_kind")]
        );
        let (_, errors) = read("");
        assert_eq!(errors[0].line, 1);
    }

    #[test]
    fn short_rows_and_bad_bytes_are_reported_with_their_lines() {
        let mut errors = Vec::new();
        let table = Table::read(
            b"asset_tag,role,quantity_kind\nPG-1\nPG-\xff,working,pressure\nPG-3,working,pressure\n",
            INSTRUMENT_COLUMNS,
            INSTRUMENT_REQUIRED,
            &mut errors,
            &mut |_| {},
        );
        assert_eq!(table.rows.len(), 1);
        let found: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.column.as_str())).collect();
        assert_eq!(found, vec![(2, ""), (3, "asset_tag")]);
    }

    #[test]
    fn units_fall_back_to_the_shared_column_and_are_never_guessed() {
        let (table, _) = read("asset_tag,role,quantity_kind,range_min,range_max,range_unit,range_max_unit,resolution\nA,working,pressure,0,1,MPa,bar,NaN\nB,working,pressure,0,,kPa,,\n");
        let mut errors = Vec::new();
        let a = instrument_input(&table, &table.rows[0], &mut errors);
        let range = a.range.unwrap();
        assert_eq!(
            (range.min.unit.as_str(), range.max.unit.as_str()),
            ("MPa", "bar")
        );
        let columns: Vec<&str> = errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, ["resolution_unit", "resolution"]);
        errors.clear();
        let b = instrument_input(&table, &table.rows[1], &mut errors);
        assert!(b.range.is_none());
        assert_eq!(errors[0].column, "range_max");
        assert_eq!(
            instrument_column(&table, &table.rows[0], "range.max.unit"),
            "range_max_unit"
        );
        assert_eq!(
            instrument_column(&table, &table.rows[1], "range.max.unit"),
            "range_unit"
        );
    }

    #[test]
    fn batch_errors_map_back_to_line_and_column() {
        let columns = calibration_columns();
        let mut errors = Vec::new();
        let table = Table::read(
            b"calibration,asset_tag,performed_on,stage,reference,indicated,unit,indicated_unit,uncertainty,k\nC1,PG-1,2026-01-02,as_found,1,1,MPa,,0.1,2\nC1,,,as_found,2,2,MPa,bar,0.1,2\n",
            &columns,
            CALIBRATION_REQUIRED,
            &mut errors,
            &mut |_| {},
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut given = HashMap::new();
        given.insert("asset_tag", &table.rows[0]);
        let group = Group {
            key: "C1".into(),
            given,
            points: vec![&table.rows[0], &table.rows[1]],
        };
        let sent = [(&group, group.points.clone())];
        let at = |field: &str| {
            let e = locate(&table, &sent, &FieldError::new(field, "x"));
            (e.line, e.column)
        };
        assert_eq!(
            at("calibrations[0].points[1].indicated.unit"),
            (3, "indicated_unit".into())
        );
        assert_eq!(
            at("calibrations[0].points[0].indicated.unit"),
            (2, "unit".into())
        );
        assert_eq!(
            at("calibrations[0].points[1].stated_uncertainty.coverage_factor"),
            (3, "k".into())
        );
        assert_eq!(
            at("calibrations[0].standards_used[0]"),
            (2, "standards".into())
        );
        assert_eq!(at("calibrations[0].instrument_id"), (2, "asset_tag".into()));
        assert_eq!(at("calibrations[7].kind").0, 0);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b','), proptest::strategy::Just(b'"'),
                proptest::strategy::Just(b'\n'), proptest::strategy::Just(b'\r'),
                proptest::num::u8::ANY,
            ],
            0..400,
        )) {
            for header in [
                "asset_tag,role,quantity_kind,range_min,range_max,range_unit,resolution,interval_days\n",
                "calibration,asset_tag,performed_on,stage,unit,reference,indicated,uncertainty,k,lower_limit\n",
            ] {
                let mut bytes = header.as_bytes().to_vec();
                bytes.extend_from_slice(&body);
                let mut errors = Vec::new();
                let columns = calibration_columns();
                let instruments = header.starts_with("asset_tag");
                let known: &[&str] = if instruments { INSTRUMENT_COLUMNS } else { &columns };
                let table = Table::read(&bytes, known, &[], &mut errors, &mut |_| {});
                for row in &table.rows {
                    if instruments {
                        let _ = validate_instrument(&instrument_input(&table, row, &mut errors));
                    } else {
                        let _ = point_input(&table, row, &mut errors);
                    }
                }
                let _ = finish(&table, errors);
            }
        }
    }
}
