//! Raw records of a department delivery, streamed in batches.
//!
//! A reader maps the export's columns (CSV headers, JSON keys, Parquet or query column names)
//! to catalog fields by the configured raw headers, and hands out batches of records, each
//! with its line (CSV: the header is line 1; JSON lines: line of the object) or row number
//! (Parquet, PostgreSQL) and one optional string per catalog field. Typed Parquet values
//! become text (dates ISO, integers in decimal) so one validator serves every format. Text is
//! decoded while streaming; nothing reads a file whole, so memory follows the batch size.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Int32Type, Int64Type};
use hedui_schemas::{Encoding, Format, ReasonCode, SourceDef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::config::{Connector, SourcePlan};
use crate::{Error, Result};

/// One raw record.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// 1-based line (CSV, JSON lines) or row number (Parquet, PostgreSQL).
    pub line: u64,
    /// One value per catalog field (`None` where the export has none); empty when `problem`
    /// is set.
    pub fields: Vec<Option<String>>,
    /// A row-level problem found while splitting the record (wrong column count, malformed).
    pub problem: Option<ReasonCode>,
    /// The record as delivered, kept only for row-level problems (for the quarantine).
    pub original: Vec<String>,
}

impl RawRecord {
    fn bad(line: u64, reason: ReasonCode, original: Vec<String>) -> Self {
        RawRecord {
            line,
            fields: Vec::new(),
            problem: Some(reason),
            original,
        }
    }
}

/// Receives batches of records of one file: `(file label, records)`.
pub type Sink<'a> = dyn FnMut(&str, Vec<RawRecord>) -> Result<()> + 'a;

fn io_err(src: &SourceDef, path: &str, err: std::io::Error) -> Error {
    Error::Io {
        source_id: src.id.into(),
        path: path.into(),
        err,
    }
}

fn fmt_err(src: &SourceDef, path: &str, msg: impl Into<String>) -> Error {
    Error::Format {
        source_id: src.id.into(),
        path: path.into(),
        msg: msg.into(),
    }
}

fn clean_header(h: &str) -> &str {
    h.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{3000}')
}

/// For each catalog field, the position of its column among `headers`; a missing required
/// column is an error naming it.
pub fn column_positions(
    plan: &SourcePlan,
    label: &str,
    headers: &[String],
) -> Result<Vec<Option<usize>>> {
    let mut positions = Vec::with_capacity(plan.fields.len());
    for (f, fp) in plan.def.fields.iter().zip(&plan.fields) {
        let p = headers.iter().position(|h| clean_header(h) == fp.header);
        if p.is_none() && f.required {
            return Err(fmt_err(
                plan.def,
                label,
                format!(
                    "no column {:?} for required field {} (columns: {})",
                    fp.header,
                    f.name,
                    headers.join(", ")
                ),
            ));
        }
        positions.push(p);
    }
    Ok(positions)
}

/// Streams every file of a file connector to `sink`, in batches of up to `batch_rows`.
pub fn read_files(plan: &SourcePlan, batch_rows: usize, sink: &mut Sink) -> Result<()> {
    for path in plan.files()? {
        let label = path
            .strip_prefix(&plan.base)
            .unwrap_or(&path)
            .display()
            .to_string();
        read_file(plan, &path, &label, batch_rows, sink)?;
    }
    Ok(())
}

/// Streams one file.
pub fn read_file(
    plan: &SourcePlan,
    path: &Path,
    label: &str,
    batch_rows: usize,
    sink: &mut Sink,
) -> Result<()> {
    let src = plan.def;
    let file = File::open(path).map_err(|e| io_err(src, label, e))?;
    match &plan.connector {
        Connector::Csv {
            encoding,
            delimiter,
            quote,
            ..
        } => {
            let enc = match encoding {
                Encoding::Utf8 => encoding_rs::UTF_8,
                Encoding::Gbk => encoding_rs::GBK,
                Encoding::Gb18030 => encoding_rs::GB18030,
            };
            let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .bom_override(true)
                .build(BufReader::with_capacity(1 << 20, file));
            read_csv(
                plan,
                decoded,
                label,
                *delimiter as u8,
                *quote as u8,
                batch_rows,
                sink,
            )
        }
        Connector::Jsonl { .. } => read_jsonl(plan, file, label, batch_rows, sink),
        Connector::Parquet { .. } => read_parquet(plan, file, label, batch_rows, sink),
        Connector::Postgres { .. } => Err(fmt_err(src, label, "not a file connector")),
    }
}

/// Streams CSV text (already UTF-8) from any reader: files, or a PostgreSQL `COPY` stream.
pub fn read_csv(
    plan: &SourcePlan,
    reader: impl Read,
    label: &str,
    delimiter: u8,
    quote: u8,
    batch_rows: usize,
    sink: &mut Sink,
) -> Result<()> {
    let src = plan.def;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_err(src, label, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let pos = column_positions(plan, label, &headers)?;
    let mut batch = Vec::with_capacity(batch_rows);
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => match e.kind() {
                // Invalid UTF-8 in a record: quarantine it, keep going.
                csv::ErrorKind::Utf8 { pos: Some(p), .. } => {
                    batch.push(RawRecord::bad(p.line(), ReasonCode::Malformed, Vec::new()));
                    continue;
                }
                _ => return Err(csv_err(src, label, e)),
            },
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let r = if rec.len() != headers.len() {
            RawRecord::bad(
                line,
                ReasonCode::WrongColumnCount,
                rec.iter().map(str::to_string).collect(),
            )
        } else if rec.iter().any(|f| f.contains('\u{fffd}')) {
            // The decoder met bytes that are not valid in the declared encoding.
            RawRecord::bad(
                line,
                ReasonCode::Malformed,
                rec.iter().map(str::to_string).collect(),
            )
        } else {
            RawRecord {
                line,
                fields: pos
                    .iter()
                    .map(|p| p.and_then(|i| rec.get(i)).map(str::to_string))
                    .collect(),
                problem: None,
                original: Vec::new(),
            }
        };
        batch.push(r);
        if batch.len() >= batch_rows {
            sink(
                label,
                std::mem::replace(&mut batch, Vec::with_capacity(batch_rows)),
            )?;
        }
    }
    if !batch.is_empty() {
        sink(label, batch)?;
    }
    Ok(())
}

fn csv_err(src: &SourceDef, label: &str, e: csv::Error) -> Error {
    let line = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    match e.into_kind() {
        csv::ErrorKind::Io(err) => io_err(src, label, err),
        kind => fmt_err(src, label, format!("{line}{kind:?}")),
    }
}

fn read_jsonl(
    plan: &SourcePlan,
    file: File,
    label: &str,
    batch_rows: usize,
    sink: &mut Sink,
) -> Result<()> {
    let src = plan.def;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut batch = Vec::with_capacity(batch_rows);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_err(src, label, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let Ok(text) = std::str::from_utf8(&buf) else {
            batch.push(RawRecord::bad(
                line_no,
                ReasonCode::Malformed,
                vec![String::from_utf8_lossy(&buf).trim_end().to_string()],
            ));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        batch.push(match parse_json_line(plan, text) {
            Some(fields) => RawRecord {
                line: line_no,
                fields,
                problem: None,
                original: Vec::new(),
            },
            None => RawRecord::bad(line_no, ReasonCode::Malformed, vec![text.to_string()]),
        });
        if batch.len() >= batch_rows {
            sink(
                label,
                std::mem::replace(&mut batch, Vec::with_capacity(batch_rows)),
            )?;
        }
    }
    if !batch.is_empty() {
        sink(label, batch)?;
    }
    Ok(())
}

/// One JSON object to catalog fields; numbers keep their exact text (never via `f64`).
fn parse_json_line(plan: &SourcePlan, line: &str) -> Option<Vec<Option<String>>> {
    let map: std::collections::HashMap<&str, &serde_json::value::RawValue> =
        serde_json::from_str(line).ok()?;
    let mut out = Vec::with_capacity(plan.fields.len());
    for fp in &plan.fields {
        out.push(match map.get(fp.header.as_str()) {
            None => None,
            Some(raw) => {
                let t = raw.get();
                if t == "null" {
                    None
                } else if t.starts_with('"') {
                    Some(serde_json::from_str::<String>(t).ok()?)
                } else if t.starts_with(['{', '[']) {
                    return None;
                } else {
                    Some(t.to_string())
                }
            }
        });
    }
    Some(out)
}

fn read_parquet(
    plan: &SourcePlan,
    file: File,
    label: &str,
    batch_rows: usize,
    sink: &mut Sink,
) -> Result<()> {
    let src = plan.def;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| fmt_err(src, label, e.to_string()))?;
    let headers: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let pos = column_positions(plan, label, &headers)?;
    let reader = builder
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| fmt_err(src, label, e.to_string()))?;
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| fmt_err(src, label, e.to_string()))?;
        let mut out = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            row += 1;
            let fields = pos
                .iter()
                .map(|p| p.and_then(|i| cell_text(batch.column(i).as_ref(), r)))
                .collect();
            out.push(RawRecord {
                line: row,
                fields,
                problem: None,
                original: Vec::new(),
            });
        }
        sink(label, out)?;
    }
    Ok(())
}

/// The text of one Parquet cell, `None` for null.
fn cell_text(col: &dyn Array, row: usize) -> Option<String> {
    if col.is_null(row) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(row).to_string(),
        DataType::Utf8View => col.as_string_view().value(row).to_string(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Date32 => col
            .as_primitive::<Date32Type>()
            .value_as_date(row)?
            .format("%Y-%m-%d")
            .to_string(),
        _ => arrow::util::display::array_value_to_string(col, row).ok()?,
    })
}

/// The format a connector reads (PostgreSQL streams CSV).
pub fn format_of(c: &Connector) -> Format {
    match c {
        Connector::Csv { .. } | Connector::Postgres { .. } => Format::Csv,
        Connector::Parquet { .. } => Format::Parquet,
        Connector::Jsonl { .. } => Format::Jsonl,
    }
}
