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

use crate::config::{Connector, FieldSource, SourcePlan};
use crate::split::{Piece, SplitError, Splitter};
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
    /// A physical line swallowed by a quote opened on `quote_line` and never closed.
    fn quote_open(line: u64, quote_line: u64, text: String) -> Self {
        RawRecord::bad(
            line,
            ReasonCode::UnterminatedQuote,
            vec![format!("quote opened on line {quote_line}"), text],
        )
    }

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

/// The delivered columns a plan reads, in the order of [`RawRecord::fields`] before
/// [`resolve`]: each catalog field's header (`None` for a field that is absent, constant or
/// derived), then every derivation's `from` columns.
fn wanted(plan: &SourcePlan) -> Vec<(Option<&str>, bool, String)> {
    let mut out: Vec<(Option<&str>, bool, String)> = plan
        .def
        .fields
        .iter()
        .zip(&plan.fields)
        .map(|(f, fp)| match fp.source {
            FieldSource::Column => (
                Some(fp.header.as_str()),
                f.required,
                format!("field {}", f.name),
            ),
            _ => (None, false, String::new()),
        })
        .collect();
    for d in &plan.derived {
        for c in &d.from {
            out.push((Some(c.as_str()), true, format!("derive.{}", d.field)));
        }
    }
    out
}

/// For each delivered column the plan reads ([`wanted`]), its position among `headers`; a
/// missing required column is an error naming it, and so is a column the plan reads whose
/// header appears twice (unless the config picks one occurrence as `"header#2"`).
pub fn column_positions(
    plan: &SourcePlan,
    label: &str,
    headers: &[String],
) -> Result<Vec<Option<usize>>> {
    let cleaned: Vec<&str> = headers.iter().map(|h| clean_header(h)).collect();
    let mut positions = Vec::new();
    for (header, required, what) in wanted(plan) {
        let Some(header) = header else {
            positions.push(None);
            continue;
        };
        let at: Vec<usize> = (0..cleaned.len())
            .filter(|&i| cleaned[i] == header)
            .collect();
        let p = match at.as_slice() {
            [] => pick_occurrence(&cleaned, header),
            [p] => Some(*p),
            _ => {
                return Err(fmt_err(
                    plan.def,
                    label,
                    format!(
                        "the column {header:?} for {what} appears {} times (columns {}); name one as \"{header}#N\" in the config",
                        at.len(),
                        at.iter()
                            .map(|i| (i + 1).to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ));
            }
        };
        if p.is_none() && required {
            // The first line is shown masked: were it a data row (a delivery without its
            // header) its cells would be a person's ID and name. Cells that are headers the
            // config names are shown as they are.
            let known: Vec<&str> = wanted(plan).into_iter().filter_map(|(h, _, _)| h).collect();
            let first: Vec<String> = cleaned
                .iter()
                .take(4)
                .map(|c| {
                    if known.contains(c) {
                        c.to_string()
                    } else {
                        hedui_schemas::id::mask_text(c)
                    }
                })
                .collect();
            return Err(fmt_err(
                plan.def,
                label,
                format!(
                    "no column {header:?} for required {what} ({} columns in the first line: {}{})",
                    headers.len(),
                    first.join(", "),
                    if headers.len() > 4 { ", …" } else { "" }
                ),
            ));
        }
        positions.push(p);
    }
    Ok(positions)
}

/// Completes a batch of raw records to one value per catalog field: constants filled in,
/// derived fields computed from their `from` columns (which are then dropped).
pub fn resolve(
    plan: &SourcePlan,
    label: &str,
    mut records: Vec<RawRecord>,
) -> Result<Vec<RawRecord>> {
    let n = plan.fields.len();
    let constants: Vec<(usize, &str)> = plan
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, fp)| match &fp.source {
            FieldSource::Constant(v) => Some((i, v.as_str())),
            _ => None,
        })
        .collect();
    if constants.is_empty() && plan.derived.is_empty() {
        return Ok(records);
    }
    let ok: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].problem.is_none())
        .collect();
    let mut offset = n;
    let mut values: Vec<(usize, Vec<Option<String>>)> = Vec::new();
    for d in &plan.derived {
        let inputs: Vec<Vec<Option<&str>>> = (0..d.from.len())
            .map(|j| {
                ok.iter()
                    .map(|&r| records[r].fields.get(offset + j).and_then(|v| v.as_deref()))
                    .collect()
            })
            .collect();
        let out = d
            .eval(&inputs, ok.len())
            .map_err(|e| fmt_err(plan.def, label, format!("derive.{}: {e}", d.field)))?;
        let at = plan
            .fields
            .iter()
            .position(|fp| {
                matches!(fp.source, FieldSource::Derived(k) if std::ptr::eq(&plan.derived[k], d))
            })
            .unwrap_or(0);
        values.push((at, out));
        offset += d.from.len();
    }
    for (k, &r) in ok.iter().enumerate() {
        let fields = &mut records[r].fields;
        fields.truncate(n);
        for &(i, v) in &constants {
            fields[i] = Some(v.to_string());
        }
        for (i, out) in &mut values {
            fields[*i] = out[k].take();
        }
    }
    Ok(records)
}

/// `"header#N"`: the N-th column named `header` (1-based).
fn pick_occurrence(headers: &[&str], spec: &str) -> Option<usize> {
    let (name, n) = spec.rsplit_once('#')?;
    let n: usize = n.parse().ok()?;
    (0..headers.len())
        .filter(|&i| headers[i] == name)
        .nth(n.checked_sub(1)?)
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
    let sink = &mut |label: &str, recs: Vec<RawRecord>| sink(label, resolve(plan, label, recs)?);
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
                Numbering::Lines,
                batch_rows,
                sink,
            )
        }
        Connector::Jsonl { .. } => read_jsonl(plan, file, label, batch_rows, sink),
        Connector::Parquet { .. } => read_parquet(plan, file, label, batch_rows, sink),
        Connector::Postgres { .. } => Err(fmt_err(src, label, "not a file connector")),
    }
}

/// How a CSV stream's records are numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// By the physical line of the record's first byte in the delivered text (files: the
    /// header is line 1, and a quoted field holding a line end moves every later record on).
    Lines,
    /// By the record's position after the header (1 for the first data row): a query result.
    Rows,
}

/// Records from the point a quote is left open are quarantined one a physical line; when
/// more lines than this share of the file's (and more than [`COLLAPSE_MIN_LINES`]) are lost
/// that way, the file fails instead: its rows collapsed.
pub const COLLAPSE_SHARE: f64 = 0.01;
/// See [`COLLAPSE_SHARE`].
pub const COLLAPSE_MIN_LINES: u64 = 10;

/// Streams CSV text (already UTF-8) from any reader: files, or a PostgreSQL `COPY` stream.
///
/// Every physical line is accounted for: a record is one row read; a record whose quote never
/// closes, or that spans several lines but does not fit the header (a quote closed lines
/// later by another stray quote), is handed on as one quarantined row per physical line it
/// swallowed (`unterminated_quote`, naming the line the quote opened on). A file that loses
/// more than [`COLLAPSE_SHARE`] of its lines that way fails, naming the line.
#[allow(clippy::too_many_arguments)]
pub fn read_csv(
    plan: &SourcePlan,
    reader: impl Read,
    label: &str,
    delimiter: u8,
    quote: u8,
    numbering: Numbering,
    batch_rows: usize,
    sink: &mut Sink,
) -> Result<()> {
    let src = plan.def;
    let mut split = Splitter::new(reader, delimiter, quote);
    let piece = |split: &mut Splitter<_>| {
        split.next_piece().map_err(|e| match e {
            SplitError::Io(err) => io_err(src, label, err),
            SplitError::Runaway(r) => fmt_err(
                src,
                label,
                format!(
                    "line {}: a quote opened here is not closed within {} MiB; the rows after it cannot be read",
                    r.quote_line,
                    crate::split::MAX_RECORD_BYTES >> 20
                ),
            ),
        })
    };
    let headers: Vec<String> = match piece(&mut split)? {
        Some(Piece::Record { .. }) => split
            .fields()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect(),
        Some(Piece::Unterminated { quote_line, .. }) => {
            return Err(fmt_err(
                src,
                label,
                format!("line {quote_line}: the header's quote is not closed"),
            ));
        }
        None => return Err(fmt_err(src, label, "no header line: the file is empty")),
    };
    let pos = column_positions(plan, label, &headers)?;
    let mut batch = Vec::with_capacity(batch_rows);
    let (mut rows, mut lines_seen, mut lost) = (0u64, 1u64, 0u64);
    let mut first_lost: Option<u64> = None;
    let number = |line: u64, rows: u64| match numbering {
        Numbering::Lines => line,
        Numbering::Rows => rows,
    };
    loop {
        let (quote_line, swallowed) = match piece(&mut split)? {
            None => break,
            Some(Piece::Unterminated { quote_line, lines }) => (quote_line, lines),
            Some(Piece::Record {
                line,
                lines,
                fields,
            }) if fields != headers.len() && lines > 1 => {
                // A quote took in the line ends after it and closed lines later: the lines
                // are given back one by one, none read as part of another.
                (line, crate::split::physical_lines(split.raw(), line))
            }
            Some(Piece::Record { line, lines, .. }) => {
                lines_seen = line + lines - 1;
                rows += 1;
                batch.push(csv_record(&split, number(line, rows), &headers, &pos));
                if batch.len() >= batch_rows {
                    sink(
                        label,
                        std::mem::replace(&mut batch, Vec::with_capacity(batch_rows)),
                    )?;
                }
                continue;
            }
        };
        first_lost.get_or_insert(quote_line);
        for (line, text) in swallowed {
            rows += 1;
            lost += 1;
            lines_seen = line;
            batch.push(RawRecord::quote_open(
                number(line, rows),
                quote_line,
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
    }
    if let Some(at) = first_lost
        && lost > COLLAPSE_MIN_LINES
        && lost as f64 > COLLAPSE_SHARE * lines_seen as f64
    {
        return Err(fmt_err(
            src,
            label,
            format!(
                "line {at}: a quote opened here is not closed where its record ends; {lost} of the file's {lines_seen} lines could not be read as rows"
            ),
        ));
    }
    if !batch.is_empty() {
        sink(label, batch)?;
    }
    Ok(())
}

/// The raw record of the splitter's last record.
fn csv_record<R>(
    split: &Splitter<R>,
    line: u64,
    headers: &[String],
    pos: &[Option<usize>],
) -> RawRecord {
    let all = |split: &Splitter<R>| {
        split
            .fields()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    };
    let texts: std::result::Result<Vec<&str>, _> =
        split.fields().map(std::str::from_utf8).collect();
    match texts {
        Err(_) => RawRecord::bad(line, ReasonCode::Malformed, all(split)),
        Ok(texts) if texts.len() != headers.len() => {
            RawRecord::bad(line, ReasonCode::WrongColumnCount, all(split))
        }
        // The decoder met bytes that are not valid in the declared encoding.
        Ok(texts) if texts.iter().any(|f| f.contains('\u{fffd}')) => {
            RawRecord::bad(line, ReasonCode::Malformed, all(split))
        }
        Ok(texts) => RawRecord {
            line,
            fields: pos
                .iter()
                .map(|p| p.map(|i| texts[i].to_string()))
                .collect(),
            problem: None,
            original: Vec::new(),
        },
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
    let keys = JsonKeys::new(plan);
    let mut batch = Vec::with_capacity(batch_rows);
    let mut buf = Vec::new();
    // The physical line the next segment starts on; a `\r\n` ends one line, a lone `\r` one.
    let mut line_no = 1u64;
    let mut first = true;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| io_err(src, label, e))?;
        if n == 0 {
            break;
        }
        let mut chunk: &[u8] = &buf;
        if first {
            // A UTF-8 BOM (Windows tools write one) is not part of the first object.
            chunk = chunk.strip_prefix(b"\xef\xbb\xbf").unwrap_or(chunk);
            first = false;
        }
        let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r").unwrap_or(chunk);
        // A lone `\r` ends a line too (old Mac tools): each piece is a line of its own.
        for piece in chunk.split(|b| *b == b'\r') {
            let line = line_no;
            line_no += 1;
            let Ok(text) = std::str::from_utf8(piece) else {
                batch.push(RawRecord::bad(
                    line,
                    ReasonCode::Malformed,
                    vec![String::from_utf8_lossy(piece).trim_end().to_string()],
                ));
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            batch.push(match keys.parse(text) {
                Ok(fields) => RawRecord {
                    line,
                    fields,
                    problem: None,
                    original: Vec::new(),
                },
                Err(JsonProblem::Malformed) => {
                    RawRecord::bad(line, ReasonCode::Malformed, vec![text.to_string()])
                }
                Err(JsonProblem::DuplicateKey(key)) => {
                    return Err(fmt_err(
                        src,
                        label,
                        format!(
                            "line {line}: the key {key:?} appears twice in one object; which value holds cannot be told"
                        ),
                    ));
                }
            });
        }
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

/// Why a JSON line was not read.
enum JsonProblem {
    /// Not one JSON object of scalar values.
    Malformed,
    /// A key the plan reads appears twice (after unescaping).
    DuplicateKey(String),
}

/// The keys a plan reads, for matching a JSON object's keys after unescaping.
struct JsonKeys<'p> {
    /// (key, catalog field index), sorted by key.
    keys: Vec<(&'p str, usize)>,
    fields: usize,
}

impl<'p> JsonKeys<'p> {
    fn new(plan: &'p SourcePlan) -> Self {
        let wanted = wanted(plan);
        let mut keys: Vec<(&str, usize)> = wanted
            .iter()
            .enumerate()
            .filter_map(|(i, (h, _, _))| h.map(|h| (h, i)))
            .collect();
        keys.sort();
        JsonKeys {
            keys,
            fields: wanted.len(),
        }
    }

    /// One JSON object to catalog fields; numbers keep their exact text (never via `f64`),
    /// keys are compared after unescaping (`\u59d3\u540d` is `姓名`, as Python's
    /// `json.dumps` writes it by default).
    fn parse(&self, line: &str) -> std::result::Result<Vec<Option<String>>, JsonProblem> {
        use serde::de::{Deserializer, MapAccess, Visitor};
        use std::borrow::Cow;

        struct Pairs<'a>(Vec<(Cow<'a, str>, &'a serde_json::value::RawValue)>);
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<CowKey<'de>>()? {
                    out.push((k.0, map.next_value()?));
                }
                Ok(Pairs(out))
            }
        }
        struct CowKey<'a>(Cow<'a, str>);
        impl<'de> serde::Deserialize<'de> for CowKey<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = CowKey<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_borrowed_str<E>(
                        self,
                        v: &'de str,
                    ) -> std::result::Result<Self::Value, E> {
                        Ok(CowKey(Cow::Borrowed(v)))
                    }
                    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
                        Ok(CowKey(Cow::Owned(v.to_string())))
                    }
                    fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
                        Ok(CowKey(Cow::Owned(v)))
                    }
                }
                d.deserialize_str(V)
            }
        }

        let mut de = serde_json::Deserializer::from_str(line);
        let pairs = de
            .deserialize_map(PairsVisitor)
            .map_err(|_| JsonProblem::Malformed)?;
        de.end().map_err(|_| JsonProblem::Malformed)?;
        let mut out: Vec<Option<String>> = vec![None; self.fields];
        let mut seen = vec![false; self.fields];
        for (k, raw) in pairs.0 {
            let Ok(at) = self.keys.binary_search_by(|(key, _)| (*key).cmp(&k)) else {
                continue;
            };
            // Several fields may read the same key: every one gets the value.
            let mut lo = at;
            while lo > 0 && self.keys[lo - 1].0 == k {
                lo -= 1;
            }
            let t = raw.get();
            let value = if t == "null" {
                None
            } else if t.starts_with('"') {
                Some(serde_json::from_str::<String>(t).map_err(|_| JsonProblem::Malformed)?)
            } else if t.starts_with(['{', '[']) {
                return Err(JsonProblem::Malformed);
            } else {
                Some(t.to_string())
            };
            for &(key, i) in self.keys[lo..].iter().take_while(|(key, _)| *key == k) {
                if seen[i] {
                    return Err(JsonProblem::DuplicateKey(key.to_string()));
                }
                seen[i] = true;
                out[i] = value.clone();
            }
        }
        Ok(out)
    }
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

#[cfg(test)]
mod tests {
    //! The readers on input hedui's generator never writes: CRLF, lone CR, mixed line ends,
    //! BOMs, quoted fields spanning lines, quotes left open, GBK and GB18030, escaped JSON keys,
    //! duplicate headers and keys. Every line number is checked by reading that physical line
    //! back from the delivered bytes.

    use super::*;
    use crate::config::SourceConfig;
    use hedui_schemas::{ResidentId, source};

    /// The `i`-th test resident ID (born 1970-01-01 in Guangzhou Tianhe; `i` < 1000).
    fn id(i: u64) -> String {
        ResidentId::from_body(44010619700101000 + i)
            .unwrap()
            .to_string()
    }

    fn plan(id: &str, connector: &str, extra: &str) -> SourcePlan {
        let def = source(id).unwrap();
        let c: SourceConfig = toml::from_str(&format!("connector = {connector}\n{extra}")).unwrap();
        c.build(def, Path::new("/"), &Default::default()).unwrap()
    }

    fn pension_csv(encoding: &str) -> SourcePlan {
        plan(
            "pension",
            &format!("{{ kind = \"csv\", path = \"x.csv\", encoding = \"{encoding}\" }}"),
            "",
        )
    }

    /// Every record of `bytes` read as a file of `plan`.
    fn read_bytes(plan: &SourcePlan, bytes: &[u8], ext: &str) -> Result<Vec<RawRecord>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("x.{ext}"));
        std::fs::write(&path, bytes).unwrap();
        let mut out = Vec::new();
        read_file(plan, &path, "x", 3, &mut |_, recs| {
            out.extend(recs);
            Ok(())
        })?;
        Ok(out)
    }

    /// The physical lines of decoded text: `\r\n`, `\r` and `\n` each end one.
    fn physical(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['\r', '\n']) {
                None => {
                    out.push(rest);
                    break;
                }
                Some(i) => {
                    out.push(&rest[..i]);
                    let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                    rest = &rest[i + skip..];
                }
            }
        }
        out
    }

    fn encode(text: &str, encoding: &str) -> Vec<u8> {
        match encoding {
            "gbk" => encoding_rs::GBK.encode(text).0.into_owned(),
            "gb18030" => encoding_rs::GB18030.encode(text).0.into_owned(),
            _ => text.as_bytes().to_vec(),
        }
    }

    fn decode(bytes: &[u8], encoding: &str) -> String {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let text = match encoding {
            "gbk" => encoding_rs::GBK.decode(bytes).0.into_owned(),
            "gb18030" => encoding_rs::GB18030.decode(bytes).0.into_owned(),
            _ => String::from_utf8(bytes.to_vec()).unwrap(),
        };
        text.trim_start_matches('\u{feff}').to_string()
    }

    /// A pension delivery of `n` rows with `ends` between lines; row 3's name spans two lines
    /// (a quoted field holding a line end, as Excel writes an Alt+Enter).
    fn pension_text(n: usize, ends: &[&str], spanning: bool) -> String {
        let mut t = String::from("身份证号,姓名,发放年月,险种,发放金额(元)");
        for i in 0..n {
            t.push_str(ends[i % ends.len()]);
            let name = if i == 2 && spanning {
                format!("\"张{i}{}二\"", ends[(i + 1) % ends.len()])
            } else {
                format!("张{i}")
            };
            t.push_str(&format!(
                "{},{name},2026-0{},城镇职工基本养老保险,{}.00",
                id(i as u64),
                1 + i % 9,
                1000 + i
            ));
        }
        t.push_str(ends[0]);
        t
    }

    #[test]
    fn line_numbers_are_physical_lines_for_every_line_end_encoding_and_bom() {
        let styles: [&[&str]; 4] = [&["\n"], &["\r\n"], &["\r"], &["\r\n", "\n", "\r", "\n"]];
        for encoding in ["utf8", "gbk", "gb18030"] {
            for ends in styles {
                for bom in [false, true] {
                    let text = pension_text(12, ends, true);
                    // A BOM says the text's encoding whatever the config says: a UTF-8 BOM
                    // before UTF-8 text (Excel re-saving a GBK export), GB18030's own.
                    let bytes = match (bom, encoding) {
                        (false, _) => encode(&text, encoding),
                        (true, "gb18030") => encode(&format!("\u{feff}{text}"), encoding),
                        (true, _) => [&b"\xef\xbb\xbf"[..], text.as_bytes()].concat(),
                    };
                    let plan = pension_csv(encoding);
                    let recs = read_bytes(&plan, &bytes, "csv").unwrap();
                    let what = format!("{encoding} {ends:?} bom {bom}");
                    assert_eq!(recs.len(), 12, "{what}");
                    let text = match (bom, encoding) {
                        (true, "gb18030") => decode(&bytes, encoding),
                        (true, _) => decode(&bytes, "utf8"),
                        _ => decode(&bytes, encoding),
                    };
                    let lines = physical(&text);
                    for (i, r) in recs.iter().enumerate() {
                        assert!(r.problem.is_none(), "{what}: {r:?}");
                        // The record's first line, read back from the delivery, holds it.
                        let line = lines[r.line as usize - 1];
                        let person = r.fields[0].as_deref().unwrap();
                        assert!(
                            line.starts_with(person),
                            "{what}: line {} is {line:?}",
                            r.line
                        );
                        assert_eq!(person, id(i as u64), "{what}");
                    }
                    // The header is line 1; the record after the two-line name is one on.
                    assert_eq!(recs[0].line, 2, "{what}");
                    assert_eq!(recs[3].line, 6, "{what}");
                    assert_eq!(
                        recs[2].fields[1].as_deref().map(|n| n.len() > 4),
                        Some(true)
                    );
                }
            }
        }
    }

    #[test]
    fn an_unclosed_quote_quarantines_every_line_after_it_never_swallows_them() {
        for encoding in ["utf8", "gbk"] {
            for at in [0usize, 5, 18] {
                let text = pension_text(20, &["\r\n"], false);
                // Open a quote in the name of record `at` that nothing closes.
                let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
                let line_no = at + 2;
                lines[line_no - 1] = lines[line_no - 1].replacen(",张", ",\"张", 1);
                let text = lines.join("\r\n");
                let bytes = encode(&text, encoding);
                let physical_lines = physical(&decode(&bytes, encoding)).len() as u64;
                let plan = pension_csv(encoding);
                let what = format!("{encoding} quote at line {line_no}");
                match read_bytes(&plan, &bytes, "csv") {
                    Ok(recs) => {
                        // Every physical line after the header is a row read.
                        let rows: u64 = recs.len() as u64;
                        assert_eq!(rows, physical_lines - 1, "{what}");
                        for r in &recs {
                            if r.line >= line_no as u64 {
                                assert_eq!(
                                    r.problem,
                                    Some(ReasonCode::UnterminatedQuote),
                                    "{what}"
                                );
                                assert_eq!(
                                    r.original[0],
                                    format!("quote opened on line {line_no}"),
                                    "{what}"
                                );
                                let back = physical(&decode(&bytes, encoding))[r.line as usize - 1]
                                    .to_string();
                                assert_eq!(r.original[1], back, "{what}");
                            } else {
                                assert_eq!(r.problem, None, "{what}");
                            }
                        }
                        assert!(
                            physical_lines - line_no as u64 <= COLLAPSE_MIN_LINES,
                            "{what}"
                        );
                    }
                    Err(e) => {
                        // Too many lines lost: the file fails, naming the quote's line.
                        assert!(
                            e.to_string()
                                .contains(&format!("line {line_no}: a quote opened here")),
                            "{what}: {e}"
                        );
                        assert!(
                            physical_lines - line_no as u64 > COLLAPSE_MIN_LINES,
                            "{what}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_delivery_cut_mid_record_or_mid_character_is_quarantined_at_its_line() {
        // Cut inside the last record (no line end after it): one short row, at its line.
        let text = pension_text(4, &["\r\n"], false);
        let cut = &text[..text.len() - 10]; // ",1003.00\r\n" cut off
        let recs = read_bytes(&pension_csv("utf8"), cut.as_bytes(), "csv").unwrap();
        assert_eq!(recs.len(), 4);
        let last = &recs[3];
        assert_eq!(last.line, 5);
        let back = physical(cut)[last.line as usize - 1];
        assert!(back.starts_with(&id(3)), "{back:?}");
        // The cut record is not accepted as it stands: too few columns, or a bad amount.
        let short = last.problem == Some(ReasonCode::WrongColumnCount)
            || last.fields.get(4).and_then(|f| f.as_deref()) != Some("1003.00");
        assert!(short, "{last:?}");
        // GBK cut in the middle of a two-byte character: the record is malformed, not read
        // with a character made up.
        let mut gbk = encode(&pension_text(3, &["\r\n"], false), "gbk");
        gbk.truncate(gbk.len() - 2);
        let gbk = [gbk, encoding_rs::GBK.encode("张").0[..1].to_vec()].concat();
        let recs = read_bytes(&pension_csv("gbk"), &gbk, "csv").unwrap();
        assert_eq!(recs.len(), 3);
        assert!(recs[..2].iter().all(|r| r.problem.is_none()));
        assert!(recs[2].problem.is_some(), "{:?}", recs[2]);
        assert_eq!(recs[2].line, 4);
    }

    #[test]
    fn a_quote_closed_lines_later_gives_back_the_lines_it_took() {
        // Line 3 opens a quote; line 5 has a stray quote that closes it: the record the two
        // make does not fit the header, and its three lines come back one by one.
        let text = "身份证号,姓名,发放年月,险种,发放金额(元)\n\
                    A,a,2026-01,城镇职工基本养老保险,1.00\n\
                    B,\"b,2026-01,城镇职工基本养老保险,1.00\n\
                    C,c,2026-01,城镇职工基本养老保险,1.00\n\
                    D,d\",2026-01,城镇职工基本养老保险,1.00,x\n\
                    E,e,2026-01,城镇职工基本养老保险,1.00\n";
        let recs = read_bytes(&pension_csv("utf8"), text.as_bytes(), "csv").unwrap();
        let got: Vec<(u64, Option<ReasonCode>)> =
            recs.iter().map(|r| (r.line, r.problem)).collect();
        assert_eq!(
            got,
            [
                (2, None),
                (3, Some(ReasonCode::UnterminatedQuote)),
                (4, Some(ReasonCode::UnterminatedQuote)),
                (5, Some(ReasonCode::UnterminatedQuote)),
                (6, None),
            ]
        );
        assert_eq!(recs[2].original[1], "C,c,2026-01,城镇职工基本养老保险,1.00");
    }

    #[test]
    fn a_duplicated_header_fails_naming_it_unless_one_is_chosen() {
        let text = "身份证号,姓名,发放年月,险种,发放金额(元),发放金额(元)\n\
                    11010519491231002X,a,2026-01,城镇职工基本养老保险,1.00,2.00\n";
        let e = read_bytes(&pension_csv("utf8"), text.as_bytes(), "csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("\"发放金额(元)\" for field amount_fen appears 2 times (columns 5, 6)"),
            "{e}"
        );
        let chosen = plan(
            "pension",
            "{ kind = \"csv\", path = \"x.csv\" }",
            "columns = { amount_fen = \"发放金额(元)#2\" }",
        );
        let recs = read_bytes(&chosen, text.as_bytes(), "csv").unwrap();
        assert_eq!(recs[0].fields[4].as_deref(), Some("2.00"));
        // A delivery without its header line, as written and as Excel saves it (a BOM, CRLF
        // line ends): the error shows the first line's cells masked (the ID as everywhere
        // else, the name all stars), never the data.
        let record = "11010519491231002X,王小明,2026-01,城镇职工基本养老保险,1.00";
        for headless in [format!("{record}\n"), format!("\u{feff}{record}\r\n")] {
            let e = read_bytes(&pension_csv("utf8"), headless.as_bytes(), "csv")
                .unwrap_err()
                .to_string();
            assert!(
                !e.contains("11010519491231002X") && !e.contains("王小明"),
                "{e}"
            );
            assert!(
                e.contains(
                    "5 columns in the first line: 110105********002X, ***, *******, **********, …"
                ),
                "{e}"
            );
        }
        // A header with one column misnamed: the headers the config names are shown.
        let misnamed = "证件号码,姓名,发放年月,险种,发放金额(元)\n";
        let e = read_bytes(&pension_csv("utf8"), misnamed.as_bytes(), "csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("first line: ****, 姓名, 发放年月, 险种, …"),
            "{e}"
        );
    }

    /// Cremation records with the keys a department writes in Chinese.
    fn cremation() -> SourcePlan {
        plan(
            "cremation",
            "{ kind = \"jsonl\", path = \"x.jsonl\" }",
            "columns = { person = \"身份证号\", name = \"姓名\", cremation_date = \"火化日期\" }",
        )
    }

    #[test]
    fn json_lines_as_python_writes_them() {
        let plan = cremation();
        let def = plan.def;
        let headers: Vec<&str> = plan.fields.iter().map(|f| f.header.as_str()).collect();
        // Python's json.dumps escapes every non-ASCII character by default.
        let escape = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("\\u{:04x}", c as u32)
                    }
                })
                .collect()
        };
        let values = |i: u64| -> Vec<String> {
            def.fields
                .iter()
                .map(|f| match f.ty {
                    FieldTypeForTest::PersonId => format!("\"{}\"", id(i)),
                    FieldTypeForTest::Date => "\"2026-01-05\"".to_string(),
                    _ => "\"x\"".to_string(),
                })
                .collect()
        };
        let object = |i: u64, keys: &dyn Fn(&str) -> String| -> String {
            let pairs: Vec<String> = headers
                .iter()
                .zip(values(i))
                .map(|(h, v)| format!("\"{}\": {v}", keys(h)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        };
        let mut text = b"\xef\xbb\xbf".to_vec();
        text.extend(object(0, &|h| escape(h)).as_bytes());
        text.extend(b"\r\n");
        text.extend(object(1, &|h| h.to_string()).as_bytes());
        text.extend(b"\r");
        text.extend(object(2, &|h| escape(h)).as_bytes());
        text.extend(b"\n\n");
        text.extend(object(3, &|h| h.to_string()).as_bytes());
        let recs = read_bytes(&cremation(), &text, "jsonl").unwrap();
        let got: Vec<(u64, Option<ReasonCode>, Option<String>)> = recs
            .iter()
            .map(|r| (r.line, r.problem, r.fields.first().cloned().flatten()))
            .collect();
        assert_eq!(
            got,
            [
                (1, None, Some(id(0))),
                (2, None, Some(id(1))),
                (3, None, Some(id(2))),
                (5, None, Some(id(3))),
            ]
        );
        // A key given twice (once escaped): which value holds cannot be told.
        let dup = format!(
            "{{\"{}\": \"{}\", \"{}\": \"{}\"}}\n",
            headers[0],
            id(0),
            escape(headers[0]),
            id(1)
        );
        let e = read_bytes(&cremation(), dup.as_bytes(), "jsonl").unwrap_err();
        assert!(e.to_string().contains("line 1: the key"), "{e}");
        // Not an object: quarantined as malformed, the next line read.
        let junk = format!("[1, 2]\n{}\n", object(4, &|h| h.to_string()));
        let recs = read_bytes(&cremation(), junk.as_bytes(), "jsonl").unwrap();
        assert_eq!(recs[0].problem, Some(ReasonCode::Malformed));
        assert_eq!((recs[1].line, recs[1].problem), (2, None));
    }

    use hedui_schemas::FieldType as FieldTypeForTest;
}
