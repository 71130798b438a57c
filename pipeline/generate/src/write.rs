//! Writes generated records the way each department exports them, and counts what a batch
//! must read, accept and quarantine.
//!
//! Cells are formatted per the catalog's raw layout (headers, units, date and month styles,
//! raw code values), then written as CSV (UTF-8, GBK or GB18030), JSON lines or Parquet.
//! Chunks arrive in order, so line numbers (recorded for every dirty row) are exact.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use hedui_schemas::{Encoding, FieldDef, FieldType, Format, SourceDef, values};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use super::household::{BANK_FILES, banks};
use super::model::{Cell, Rec};
use super::style::{Column, Style, What};
use crate::error::io;
use crate::{Error, Result};

/// Text of a cell as the department writes it; `None` for an empty value.
pub fn cell_text(f: &FieldDef, c: &Cell) -> Option<String> {
    Some(match c {
        Cell::Null => return None,
        Cell::Id(id) => id.to_string(),
        Cell::Str(s) | Cell::Raw(s) => s.clone(),
        Cell::Money(v) => values::format_money(*v, f.raw.unit),
        Cell::Date(d) => values::format_date(*d, f.raw.date_style),
        Cell::Month(m) => values::format_month(*m, f.raw.month_style),
        Cell::Code(code) => match f.ty {
            FieldType::Code(t) => t.default_raw(code).unwrap_or(code).to_string(),
            _ => code.to_string(),
        },
        Cell::Count(v) => v.to_string(),
        Cell::Area(v) => values::format_money(*v, hedui_schemas::MoneyUnit::Yuan),
        Cell::Region(r) => format!("{r:06}"),
    })
}

/// How a department's Windows tools write its CSV export: line ends `\r\n` (every GBK and
/// GB18030 export: Windows in a Chinese locale; and the UTF-8 exports of the banks, the
/// payment platforms and the pension office, from Excel's "CSV UTF-8", which also writes a
/// BOM). The rest end lines in `\n`. Either way the readers must report the physical line.
pub fn windows_style(def: &SourceDef) -> (bool, bool) {
    match (def.export.format, def.export.encoding) {
        (Format::Csv, Encoding::Gbk | Encoding::Gb18030) => (true, false),
        (Format::Csv, Encoding::Utf8) => {
            let excel = matches!(def.id, "bank_deposit" | "internet_finance" | "pension");
            (excel, excel)
        }
        _ => (false, false),
    }
}

/// The text of column `col` of `r` in `style`: a field's cell (money in the column's unit, an
/// ID in the 15-digit form where the style writes it so), or a cancellation date made from a
/// status and its date.
pub fn styled_text(def: &SourceDef, style: &Style, col: &Column, r: &Rec) -> Option<String> {
    match col.what {
        What::Field { index, unit } => {
            let f = def.fields.get(index)?;
            match r.cells.get(index)? {
                Cell::Money(v) => Some(values::format_money(*v, unit)),
                Cell::Id(id) if style.id15 => Some(id.to_15().unwrap_or_else(|| id.to_string())),
                c => cell_text(f, c),
            }
        }
        What::CancelledOn { status, date } => match r.cells.get(status)? {
            Cell::Code("active") => None,
            _ => cell_text(def.fields.get(date)?, r.cells.get(date)?),
        },
    }
}

fn csv_writer(style: &Style, capacity: usize) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .terminator(if style.crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::with_capacity(capacity))
}

enum Sink {
    Csv { out: BufWriter<File> },
    Jsonl { out: BufWriter<File> },
    Parquet { writer: Box<ArrowWriter<File>> },
}

struct OutFile {
    rel: String,
    path: PathBuf,
    sink: Sink,
    /// Lines (or rows) written so far, the CSV header included.
    lines: u64,
}

/// What a batch must count for one source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SourceCounts {
    /// Rows a reader sees (header excluded).
    pub read: u64,
    /// Rows a batch must accept.
    pub accepted: u64,
    /// Rows a batch must quarantine.
    pub quarantined: u64,
    /// Quarantined rows by reason code.
    pub by_reason: BTreeMap<String, u64>,
    /// Rows by file (relative to the export folder).
    pub files: BTreeMap<String, u64>,
}

struct SourceOut {
    def: &'static SourceDef,
    files: Vec<OutFile>,
    counts: SourceCounts,
}

/// The open export files of every source plus the dirty-row log.
pub struct Writers {
    sources: Vec<SourceOut>,
    dirty_log: csv::Writer<BufWriter<File>>,
    /// `truth/linkage.csv`: what the linkage must make of each record whose subject's ID does
    /// not read.
    link_log: csv::Writer<BufWriter<File>>,
}

fn parquet_schema(def: &SourceDef) -> SchemaRef {
    Arc::new(Schema::new(
        def.fields
            .iter()
            .map(|f| Field::new(f.raw.header, f.raw_parquet_type(), true))
            .collect::<Vec<_>>(),
    ))
}

fn open(def: &'static SourceDef, style: &Style, dir: &Path, rel: String) -> Result<OutFile> {
    let path = dir.join(&rel);
    let file = File::create(&path).map_err(io(&path))?;
    let (sink, lines) = match style.format {
        Format::Csv => {
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let header: Vec<&str> = style.columns.iter().map(|c| c.header.as_str()).collect();
            let mut w = csv_writer(style, 256);
            w.write_record(&header)?;
            let bytes = w.into_inner().map_err(|e| Error::Io {
                path: "rows in memory".into(),
                err: e.into_error(),
            })?;
            if style.bom {
                out.write_all(b"\xef\xbb\xbf").map_err(io(&path))?;
            }
            out.write_all(&encode(style.encoding, &bytes, &path)?)
                .map_err(io(&path))?;
            (Sink::Csv { out }, 1)
        }
        Format::Jsonl => (
            Sink::Jsonl {
                out: BufWriter::with_capacity(1 << 20, file),
            },
            0,
        ),
        Format::Parquet => {
            let schema = parquet_schema(def);
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_max_row_group_row_count(Some(256 * 1024))
                .build();
            let writer =
                ArrowWriter::try_new(file, schema, Some(props)).map_err(|err| Error::Parquet {
                    path: path.display().to_string(),
                    err,
                })?;
            (
                Sink::Parquet {
                    writer: Box::new(writer),
                },
                0,
            )
        }
    };
    Ok(OutFile {
        rel,
        path,
        sink,
        lines,
    })
}

fn encode(encoding: Encoding, utf8: &[u8], path: &Path) -> Result<Vec<u8>> {
    let text =
        std::str::from_utf8(utf8).map_err(|e| Error::Encode(format!("{}: {e}", path.display())))?;
    let enc = match encoding {
        Encoding::Utf8 => return Ok(utf8.to_vec()),
        Encoding::Gbk => encoding_rs::GBK,
        Encoding::Gb18030 => encoding_rs::GB18030,
    };
    let (bytes, _, unmappable) = enc.encode(text);
    if unmappable {
        return Err(Error::Encode(format!(
            "{}: text not representable in {}",
            path.display(),
            enc.name()
        )));
    }
    Ok(bytes.into_owned())
}

impl Writers {
    /// Creates every export file under `exports` and the dirty-row log.
    pub fn create(exports: &Path, dirty_log: &Path, styles: &[Style]) -> Result<Self> {
        let mut sources = Vec::new();
        for (def, style) in hedui_schemas::all_sources().iter().zip(styles) {
            let files = if style.path.ends_with('/') {
                let dir = exports.join(&style.path);
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                BANK_FILES
                    .iter()
                    .map(|f| open(def, style, exports, format!("{}{f}", style.path)))
                    .collect::<Result<Vec<_>>>()?
            } else {
                vec![open(def, style, exports, style.path.clone())?]
            };
            sources.push(SourceOut {
                def,
                files,
                counts: SourceCounts::default(),
            });
        }
        let f = File::create(dirty_log).map_err(io(dirty_log))?;
        let mut log = csv::Writer::from_writer(BufWriter::new(f));
        log.write_record([
            "source",
            "file",
            "line",
            "kind",
            "field",
            "expected",
            "person_id",
        ])?;
        let path = dirty_log.with_file_name("linkage.csv");
        let f = File::create(&path).map_err(io(&path))?;
        let mut link_log = csv::Writer::from_writer(BufWriter::new(f));
        link_log.write_record(["source", "file", "line", "status", "person_ids"])?;
        Ok(Writers {
            sources,
            dirty_log: log,
            link_log,
        })
    }

    /// Writes one encoded chunk: every source's files, in order; offsets the chunk's dirty
    /// rows to file line numbers and counts what a batch must read, accept and quarantine.
    pub fn write(&mut self, chunk: EncodedChunk) -> Result<()> {
        for (so, enc) in self.sources.iter_mut().zip(chunk.sources) {
            for (file, part) in so.files.iter_mut().zip(enc.files) {
                if part.rows == 0 {
                    continue;
                }
                let first = file.lines;
                file.lines += part.rows;
                so.counts.read += part.rows;
                *so.counts.files.entry(file.rel.clone()).or_default() += part.rows;
                for (offset, kind, field, id) in part.dirty {
                    let expected = match kind.expected_reason() {
                        Some(reason) => {
                            so.counts.quarantined += 1;
                            *so.counts
                                .by_reason
                                .entry(reason.as_str().to_string())
                                .or_default() += 1;
                            reason.as_str()
                        }
                        None => "accepted",
                    };
                    let line = (first + offset).to_string();
                    if let Some((status, ids)) = part.links.get(&offset) {
                        self.link_log.write_record([
                            so.def.id,
                            file.rel.as_str(),
                            line.as_str(),
                            status,
                            ids.as_str(),
                        ])?;
                    }
                    self.dirty_log.write_record([
                        so.def.id,
                        file.rel.as_str(),
                        line.as_str(),
                        kind.as_str(),
                        field,
                        expected,
                        id.to_string().as_str(),
                    ])?;
                }
                match (&mut file.sink, part.body) {
                    (Sink::Csv { out, .. } | Sink::Jsonl { out }, Body::Bytes(bytes)) => {
                        out.write_all(&bytes).map_err(io(&file.path))?;
                    }
                    (Sink::Parquet { writer, .. }, Body::Batch(batch)) => {
                        writer.write(&batch).map_err(|err| Error::Parquet {
                            path: file.path.display().to_string(),
                            err,
                        })?;
                    }
                    _ => {
                        return Err(Error::Encode(format!(
                            "{}: encoded body does not match the file",
                            so.def.id
                        )));
                    }
                }
            }
            so.counts.accepted = so.counts.read - so.counts.quarantined;
        }
        Ok(())
    }

    /// Flushes and closes everything; returns the counts per source id.
    pub fn finish(self) -> Result<BTreeMap<String, SourceCounts>> {
        let mut counts = BTreeMap::new();
        for so in self.sources {
            for f in so.files {
                match f.sink {
                    Sink::Csv { mut out, .. } | Sink::Jsonl { mut out } => {
                        out.flush().map_err(io(&f.path))?
                    }
                    Sink::Parquet { writer, .. } => {
                        writer.close().map_err(|err| Error::Parquet {
                            path: f.path.display().to_string(),
                            err,
                        })?;
                    }
                }
            }
            counts.insert(so.def.id.to_string(), so.counts);
        }
        let mut log = self.dirty_log.into_inner().map_err(|e| Error::Io {
            path: "dirty_rows.csv".into(),
            err: e.into_error(),
        })?;
        log.flush().map_err(|err| Error::Io {
            path: "dirty_rows.csv".into(),
            err,
        })?;
        let mut log = self.link_log.into_inner().map_err(|e| Error::Io {
            path: "linkage.csv".into(),
            err: e.into_error(),
        })?;
        log.flush().map_err(|err| Error::Io {
            path: "linkage.csv".into(),
            err,
        })?;
        Ok(counts)
    }
}

/// One file's share of an encoded chunk.
pub struct EncodedPart {
    rows: u64,
    /// What the linkage must make of the dirty rows whose subject's ID does not read, by
    /// offset: status and the members' IDs (`;`-separated).
    links: std::collections::BTreeMap<u64, (&'static str, String)>,
    /// Dirty rows: 1-based offset within this part, kind, field.
    dirty: Vec<(
        u64,
        super::model::DirtyKind,
        &'static str,
        hedui_schemas::ResidentId,
    )>,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    Batch(RecordBatch),
}

/// One source's share of an encoded chunk, per file.
pub struct EncodedSource {
    files: Vec<EncodedPart>,
}

/// A chunk of records formatted and encoded as the departments export them, ready to be
/// appended to the files in order. Made in parallel; written serially.
pub struct EncodedChunk {
    sources: Vec<EncodedSource>,
}

/// The export file (index within the source) a record goes to: one file per bank.
fn route(def: &SourceDef, r: &Rec) -> usize {
    if !def.export.path.ends_with('/') {
        return 0;
    }
    match r.cells.get(2) {
        Some(Cell::Str(b)) => banks().iter().position(|x| x == b).unwrap_or(0),
        _ => 0,
    }
}

/// Encodes every source's records of one chunk.
pub fn encode_chunk(recs: &[Vec<Rec>], styles: &[Style]) -> Result<EncodedChunk> {
    let mut sources = Vec::with_capacity(recs.len());
    for ((def, rs), style) in hedui_schemas::all_sources().iter().zip(recs).zip(styles) {
        let nfiles = if def.export.path.ends_with('/') {
            BANK_FILES.len()
        } else {
            1
        };
        let mut per_file: Vec<Vec<&Rec>> = vec![Vec::new(); nfiles];
        for r in rs {
            per_file[route(def, r)].push(r);
        }
        let files = per_file
            .into_iter()
            .map(|rs| {
                let dirty = rs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| r.dirty.map(|(k, f, id)| (i as u64 + 1, k, f, id)))
                    .collect();
                let links = rs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        let (status, ids) = r.link.as_ref()?;
                        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                        Some((i as u64 + 1, (*status, ids.join(";"))))
                    })
                    .collect();
                Ok(EncodedPart {
                    rows: rs.len() as u64,
                    links,
                    dirty,
                    body: encode_records(def, style, &rs)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sources.push(EncodedSource { files });
    }
    Ok(EncodedChunk { sources })
}

fn encode_records(def: &SourceDef, style: &Style, rs: &[&Rec]) -> Result<Body> {
    let path = Path::new(&style.path);
    Ok(match style.format {
        Format::Csv => {
            let mut w = csv_writer(style, rs.len() * 120);
            for r in rs {
                let mut fields: Vec<String> = style
                    .columns
                    .iter()
                    .map(|c| styled_text(def, style, c, r).unwrap_or_default())
                    .collect();
                // A record with a cell too many (planted dirt) keeps it.
                for _ in def.fields.len()..r.cells.len() {
                    fields.push(String::new());
                }
                w.write_record(&fields)?;
            }
            let bytes = w.into_inner().map_err(|e| Error::Io {
                path: "rows in memory".into(),
                err: e.into_error(),
            })?;
            Body::Bytes(encode(style.encoding, &bytes, path)?)
        }
        Format::Jsonl => {
            let mut buf = String::with_capacity(rs.len() * 160);
            let keys: Vec<String> = style
                .columns
                .iter()
                .map(|c| {
                    if style.escape_keys {
                        super::style::json_ascii(&c.header)
                    } else {
                        serde_json::to_string(&c.header).unwrap_or_default()
                    }
                })
                .collect();
            for r in rs {
                buf.push('{');
                for (i, (c, key)) in style.columns.iter().zip(&keys).enumerate() {
                    if i > 0 {
                        buf.push(',');
                    }
                    buf.push_str(key);
                    buf.push(':');
                    let number = matches!(
                        c.what,
                        What::Field { index, .. }
                            if matches!(r.cells.get(index), Some(Cell::Money(_) | Cell::Count(_)))
                    );
                    match styled_text(def, style, c, r) {
                        None => buf.push_str("null"),
                        // Amounts and counts are JSON numbers, written from exact text.
                        Some(t) if number => buf.push_str(&t),
                        Some(t) => buf.push_str(&serde_json::to_string(&t).unwrap_or_default()),
                    }
                }
                buf.push_str("}\n");
            }
            Body::Bytes(buf.into_bytes())
        }
        Format::Parquet => {
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(def.fields.len());
            for (i, f) in def.fields.iter().enumerate() {
                let bad = |c: &Cell| {
                    Error::Encode(format!(
                        "{}.{}: cannot write {c:?} to Parquet",
                        def.id, f.name
                    ))
                };
                match f.raw_parquet_type() {
                    DataType::Int64 => {
                        let mut b = Int64Builder::with_capacity(rs.len());
                        for r in rs {
                            match &r.cells[i] {
                                Cell::Null => b.append_null(),
                                Cell::Money(v) | Cell::Count(v) => b.append_value(*v),
                                c => return Err(bad(c)),
                            }
                        }
                        cols.push(Arc::new(b.finish()));
                    }
                    DataType::Date32 => {
                        let mut b = Date32Builder::with_capacity(rs.len());
                        for r in rs {
                            match &r.cells[i] {
                                Cell::Null => b.append_null(),
                                Cell::Date(d) => b.append_value(
                                    arrow::datatypes::Date32Type::from_naive_date(*d),
                                ),
                                c => return Err(bad(c)),
                            }
                        }
                        cols.push(Arc::new(b.finish()));
                    }
                    _ => {
                        let mut b = StringBuilder::with_capacity(rs.len(), rs.len() * 16);
                        for r in rs {
                            b.append_option(cell_text(f, &r.cells[i]));
                        }
                        cols.push(Arc::new(b.finish()));
                    }
                }
            }
            Body::Batch(RecordBatch::try_new(parquet_schema(def), cols)?)
        }
    })
}
