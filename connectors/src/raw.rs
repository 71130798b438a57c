//! Raw records of a department export, in any catalog format and encoding.
//!
//! A reader maps the export's columns (CSV headers, JSON keys, Parquet column names) to the
//! catalog's fields by the source's raw headers, and hands each record to a callback as one
//! optional string per catalog field, with the file and line it came from. Typed Parquet
//! values are written as text (dates ISO, integers in decimal) so that one validator serves
//! every format. Text is decoded while streaming; no file is read whole.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Int32Type, Int64Type};
use hedui_schemas::{Encoding, Format, ReasonCode, SourceDef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{Error, Result};

/// One raw record: its location and its fields in catalog order, or the row-level reason it
/// cannot be split into fields.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// 1-based line (CSV: the header is line 1; JSON lines) or row number (Parquet).
    pub line: u64,
    /// One value per catalog field, `None` where the export has no value.
    pub fields: Result<Vec<Option<String>>, ReasonCode>,
}

fn io_err(src: &SourceDef, path: &Path, err: std::io::Error) -> Error {
    Error::Io {
        source_id: src.id.into(),
        path: path.display().to_string(),
        err,
    }
}

fn fmt_err(src: &SourceDef, path: &Path, msg: impl Into<String>) -> Error {
    Error::Format {
        source_id: src.id.into(),
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// For each catalog field, the position of its column among `headers`.
fn column_positions(
    src: &SourceDef,
    path: &Path,
    headers: &[String],
) -> Result<Vec<Option<usize>>> {
    let positions: Vec<Option<usize>> = src
        .fields
        .iter()
        .map(|f| {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == f.raw.header)
        })
        .collect();
    for (f, p) in src.fields.iter().zip(&positions) {
        if p.is_none() && f.required {
            return Err(fmt_err(
                src,
                path,
                format!("no column {:?} for field {}", f.raw.header, f.name),
            ));
        }
    }
    Ok(positions)
}

/// Reads every record of one export file and hands it to `each`.
pub fn read_file(
    src: &SourceDef,
    path: &Path,
    format: Format,
    encoding: Encoding,
    mut each: impl FnMut(RawRecord),
) -> Result<()> {
    let file = File::open(path).map_err(|e| io_err(src, path, e))?;
    match format {
        Format::Csv => {
            let enc = match encoding {
                Encoding::Utf8 => encoding_rs::UTF_8,
                Encoding::Gbk => encoding_rs::GBK,
                Encoding::Gb18030 => encoding_rs::GB18030,
            };
            let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(enc))
                .bom_override(true)
                .build(file);
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(decoded);
            let headers: Vec<String> = rdr
                .headers()
                .map_err(|e| fmt_err(src, path, format!("header: {e}")))?
                .iter()
                .map(str::to_string)
                .collect();
            let pos = column_positions(src, path, &headers)?;
            for rec in rdr.records() {
                let rec = rec.map_err(|e| fmt_err(src, path, e.to_string()))?;
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                let fields = if rec.len() != headers.len() {
                    Err(ReasonCode::WrongColumnCount)
                } else {
                    Ok(pos
                        .iter()
                        .map(|p| p.and_then(|i| rec.get(i)).map(str::to_string))
                        .collect())
                };
                each(RawRecord { line, fields });
            }
        }
        Format::Jsonl => {
            let reader = BufReader::new(file);
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| io_err(src, path, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                let fields = parse_json_line(src, &line);
                each(RawRecord {
                    line: i as u64 + 1,
                    fields,
                });
            }
        }
        Format::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| fmt_err(src, path, e.to_string()))?;
            let headers: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let pos = column_positions(src, path, &headers)?;
            let reader = builder
                .build()
                .map_err(|e| fmt_err(src, path, e.to_string()))?;
            let mut row = 0u64;
            for batch in reader {
                let batch = batch.map_err(|e| fmt_err(src, path, e.to_string()))?;
                for r in 0..batch.num_rows() {
                    row += 1;
                    let fields = pos
                        .iter()
                        .map(|p| p.and_then(|i| cell_text(batch.column(i).as_ref(), r)))
                        .collect();
                    each(RawRecord {
                        line: row,
                        fields: Ok(fields),
                    });
                }
            }
        }
    }
    Ok(())
}

fn parse_json_line(src: &SourceDef, line: &str) -> Result<Vec<Option<String>>, ReasonCode> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|_| ReasonCode::Malformed)?;
    // Numbers keep their exact text: the raw token is re-read below, never via f64.
    let raw: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(line).map_err(|_| ReasonCode::Malformed)?;
    Ok(src
        .fields
        .iter()
        .map(|f| match map.get(f.raw.header) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => raw.get(f.raw.header).map(|r| r.get().to_string()),
        })
        .collect())
}

/// The text of one Parquet cell, `None` for null.
fn cell_text(col: &dyn Array, row: usize) -> Option<String> {
    if col.is_null(row) {
        return None;
    }
    Some(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(row).to_string(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Date32 => {
            let d = col.as_primitive::<Date32Type>().value_as_date(row)?;
            d.format("%Y-%m-%d").to_string()
        }
        _ => arrow::util::display::array_value_to_string(col, row).ok()?,
    })
}
