//! The files a batch publishes: Parquet with fixed writer settings and fixed-size row chunks
//! (so the same rows give the same bytes whatever batch sizes the engine produced them in),
//! and CSV with a UTF-8 byte-order mark for spreadsheets. Readers for the same files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};

use crate::error::io;
use crate::{Error, Result};

/// Rows handed to the Parquet writer at a time, whatever sizes the batches came in.
const CHUNK: usize = 8192;

fn pq(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> Error + '_ {
    move |source| Error::Parquet {
        path: path.display().to_string(),
        source,
    }
}

/// A Parquet output written in fixed-size chunks.
///
/// The encoding (dictionaries, statistics, compression) runs on a thread of its own, fed a
/// few chunks ahead, so whoever produces the rows (a query's stream, the outcome loop) goes
/// on meanwhile: at 1M households, Parquet encoding was 40 % of the engine's serial work
/// (benches/README.md). The chunks reach the encoder in order, so the bytes are the same as
/// encoding them in place.
pub struct ParquetOut {
    path: PathBuf,
    schema: SchemaRef,
    encoder: Option<Encoder>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows: u64,
}

/// The encoding thread and the channel that feeds it.
struct Encoder {
    tx: std::sync::mpsc::SyncSender<Chunk>,
    thread: std::thread::JoinHandle<Result<()>>,
}

/// What the encoding thread is sent.
enum Chunk {
    /// Rows to append.
    Rows(RecordBatch),
    /// Write the footer and close the file. Without it (the output dropped unfinished, on
    /// an error elsewhere) the file is left without a footer: unreadable, never complete.
    Finish,
}

/// Columns whose values are (nearly) all different: a dictionary of them only grows until the
/// writer gives up on it, hashing and comparing every value meanwhile.
const NO_DICTIONARY: &[&str] = &[
    "person_id",
    "person_id_raw",
    "person_key",
    "household_id",
    "sentence_zh",
    "sentence_en",
    "members",
    "line",
    "record_key",
];

/// Text columns whose statistics could never skip a row group: values spread over every row
/// group (IDs in household order, record keys, sentences, member lists), so a reader's filter
/// on them reads everything anyway. Their min and max would cost a comparison of every value
/// (at 1M households, members.parquet's IDs alone took 0.4 CPU-s: benches/README.md).
/// `household_id`, in whose order the outputs are written, keeps its statistics.
const NO_STATISTICS: &[&str] = &[
    "person_id",
    "person_id_raw",
    "sentence_zh",
    "sentence_en",
    "members",
    "record_key",
];

/// Files of one row per person, whose ID columns ([`UNIQUE_ID_COLUMNS`]) are written
/// uncompressed: each ID once, 18 digits of which most are random, Snappy makes them only a
/// third smaller and took 0.2 CPU-s a column per million households on this machine
/// (members.parquet's encoder: 1.3-1.6 CPU-s became 0.95-1.0 at 1M households, the file 93
/// MB became 133; benches/README.md). Elsewhere (evidence.parquet) a person's ID repeats on
/// consecutive rows and compresses well.
const UNIQUE_ID_FILES: &[&str] = &["members.parquet"];

/// The ID columns of [`UNIQUE_ID_FILES`] (person keys do not compress at all).
const UNIQUE_ID_COLUMNS: &[&str] = &["person_id", "person_id_raw", "person_key"];

/// Chunks in flight between the producer and the encoding thread.
const AHEAD: usize = 4;

impl ParquetOut {
    /// Creates `path` with `schema`.
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let mut props = hedui_connectors::stage::writer_properties().into_builder();
        let unique_ids = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| UNIQUE_ID_FILES.contains(&n));
        for f in schema.fields() {
            let column = parquet::schema::types::ColumnPath::from(f.name().as_str());
            if NO_STATISTICS.contains(&f.name().as_str()) {
                props = props.set_column_statistics_enabled(
                    column.clone(),
                    parquet::file::properties::EnabledStatistics::None,
                );
            }
            if unique_ids && UNIQUE_ID_COLUMNS.contains(&f.name().as_str()) {
                props = props.set_column_compression(
                    column.clone(),
                    parquet::basic::Compression::UNCOMPRESSED,
                );
            }
            if NO_DICTIONARY.contains(&f.name().as_str()) {
                props = props.set_column_dictionary_enabled(column, false);
            } else if f.name() == "hh" {
                // Households numbered in order, each once or a few times: differences of 0
                // and 1, a bit or two each.
                props = props
                    .set_column_dictionary_enabled(column.clone(), false)
                    .set_column_encoding(column, parquet::basic::Encoding::DELTA_BINARY_PACKED);
            }
        }
        Self::create_with(path, schema, props.build())
    }

    /// Creates `path` with `schema`, uncompressed and without dictionaries: for a file
    /// written to be read back once or twice and deleted (the engine's scratch tables), where
    /// compressing it, or interning every value to make a dictionary, costs time and saves
    /// nothing that matters (the dictionaries of the unsorted evidence and the owned units
    /// took a third of their encoder's time at 1M households: benches/README.md).
    pub fn scratch(path: &Path, schema: SchemaRef) -> Result<Self> {
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::UNCOMPRESSED)
            .set_max_row_group_row_count(Some(512 * 1024))
            .set_dictionary_enabled(false)
            .build();
        Self::create_with(path, schema, props)
    }

    fn create_with(
        path: &Path,
        schema: SchemaRef,
        props: parquet::file::properties::WriterProperties,
    ) -> Result<Self> {
        let file = File::create(path).map_err(io(path))?;
        let mut writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq(path))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(AHEAD);
        let at = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("parquet-out".into())
            .spawn(move || {
                for chunk in rx {
                    match chunk {
                        Chunk::Rows(b) => writer.write(&b).map_err(pq(&at))?,
                        Chunk::Finish => {
                            writer.close().map_err(pq(&at))?;
                            tracing::debug!(
                                file = %at.display(),
                                cpu_ms = crate::cpu::thread().as_millis() as u64,
                                "parquet encoder done"
                            );
                            return Ok(());
                        }
                    }
                }
                Ok(())
            })
            .map_err(io(path))?;
        Ok(ParquetOut {
            path: path.to_path_buf(),
            schema,
            encoder: Some(Encoder { tx, thread }),
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
        })
    }

    /// Appends rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        self.pending_rows += batch.num_rows();
        self.pending.push(batch.clone());
        if self.pending_rows >= CHUNK {
            self.flush_chunks(false)?;
        }
        Ok(())
    }

    /// Hands a chunk to the encoding thread; when that thread has stopped on an error, that
    /// error.
    fn send(&mut self, chunk: Chunk) -> Result<()> {
        let Some(e) = &self.encoder else {
            return Err(Error::Output {
                path: self.path.display().to_string(),
                reason: "written after a failure",
            });
        };
        if e.tx.send(chunk).is_ok() {
            return Ok(());
        }
        // The thread stops early only on an error; never let a chunk go unreported.
        self.join()?;
        Err(Error::Output {
            path: self.path.display().to_string(),
            reason: "the Parquet encoder stopped early",
        })
    }

    /// Waits for the encoding thread and returns how it ended.
    fn join(&mut self) -> Result<()> {
        let Some(Encoder { tx, thread }) = self.encoder.take() else {
            return Ok(());
        };
        drop(tx);
        match thread.join() {
            Ok(r) => r,
            Err(_) => Err(Error::Output {
                path: self.path.display().to_string(),
                reason: "the Parquet encoder panicked",
            }),
        }
    }

    fn flush_chunks(&mut self, all: bool) -> Result<()> {
        let joined = arrow::compute::concat_batches(&self.schema, &self.pending)?;
        self.pending.clear();
        let mut at = 0;
        while joined.num_rows() - at >= CHUNK || (all && at < joined.num_rows()) {
            let n = CHUNK.min(joined.num_rows() - at);
            self.send(Chunk::Rows(joined.slice(at, n)))?;
            at += n;
        }
        self.pending_rows = joined.num_rows() - at;
        if self.pending_rows > 0 {
            self.pending.push(joined.slice(at, self.pending_rows));
        }
        Ok(())
    }

    /// Writes what is pending and closes the file; returns the rows written.
    pub fn finish(mut self) -> Result<u64> {
        if self.pending_rows > 0 {
            self.flush_chunks(true)?;
        }
        self.send(Chunk::Finish)?;
        self.join()?;
        Ok(self.rows)
    }
}

/// A CSV output with a UTF-8 byte-order mark (spreadsheets then read Chinese text right).
pub struct CsvOut {
    path: PathBuf,
    file: BufWriter<File>,
    /// Records not yet written to the file.
    rows: csv::Writer<Vec<u8>>,
}

/// Bytes of records gathered before they go to the file.
const CSV_BUFFER: usize = 1 << 16;

impl CsvOut {
    /// Creates `path` and writes the BOM and the header.
    pub fn create(path: &Path, header: &[&str]) -> Result<Self> {
        let mut file = BufWriter::new(File::create(path).map_err(io(path))?);
        file.write_all("\u{feff}".as_bytes()).map_err(io(path))?;
        let mut out = CsvOut {
            path: path.to_path_buf(),
            file,
            rows: Self::records(),
        };
        out.write(header)?;
        Ok(out)
    }

    /// A writer of records to memory with this output's CSV settings, to append later with
    /// [`CsvOut::write_records`] (records made on other threads).
    pub fn records() -> csv::Writer<Vec<u8>> {
        csv::Writer::from_writer(Vec::new())
    }

    /// Appends a record.
    pub fn write<I, T>(&mut self, record: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.rows
            .write_record(record)
            .map_err(|source| Error::Csv {
                path: self.path.display().to_string(),
                source,
            })?;
        if self.rows.get_ref().len() >= CSV_BUFFER {
            self.drain()?;
        }
        Ok(())
    }

    /// Appends records made by a [`CsvOut::records`] writer (its text, from `into_inner`).
    pub fn write_records(&mut self, text: &[u8]) -> Result<()> {
        self.drain()?;
        self.file.write_all(text).map_err(io(&self.path))
    }

    /// Moves the records gathered so far to the file.
    fn drain(&mut self) -> Result<()> {
        let text = std::mem::replace(&mut self.rows, Self::records())
            .into_inner()
            .map_err(|e| Error::Io {
                path: self.path.display().to_string(),
                source: e.into_error(),
            })?;
        self.file.write_all(&text).map_err(io(&self.path))
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> Result<()> {
        self.drain()?;
        self.file.flush().map_err(io(&self.path))
    }
}

/// A text cell as written to a CSV file people open in spreadsheets: one that begins with
/// `=`, `+`, `-`, `@`, a tab or a carriage return would be read there as a formula (text from
/// a department's export, a household id, could be one), so it is written with a leading `'`,
/// which spreadsheets show as text and do not display. Every other cell is written as it is.
/// Numbers hedui formats itself are not passed through this: `-5` is a number, not a formula.
pub fn csv_cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

/// Reads a whole Parquet file (outputs are read back by checks and tests; the large ones are
/// read in [`for_each_batch`] instead).
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for_each_batch(path, |b| {
        out.push(b);
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

/// Streams a Parquet file batch by batch (`f` may fail with its caller's error, into which
/// the reader's own converts).
pub fn for_each_batch<E: From<Error>>(
    path: &Path,
    f: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(), E> {
    for_each_batch_of(path, Read::default(), f)
}

/// Which part of a Parquet file to read: some columns (by name; all when empty) and a range of
/// rows (all when `None`).
#[derive(Debug, Clone, Default)]
pub struct Read<'a> {
    /// Top-level columns to decode; empty reads every column.
    pub columns: &'a [&'a str],
    /// `(first row, rows)`.
    pub rows: Option<(usize, usize)>,
}

/// Opens a reader over part of a Parquet file.
pub fn reader(path: &Path, read: Read<'_>) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(io(path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq(path))?
        .with_batch_size(CHUNK);
    if !read.columns.is_empty() {
        let fields = builder.parquet_schema();
        for c in read.columns {
            if !fields.columns().iter().any(|f| f.name() == *c) {
                return Err(Error::no_column(Some(path), c));
            }
        }
        let mask = ProjectionMask::columns(fields, read.columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    if let Some((first, rows)) = read.rows {
        builder = builder.with_row_selection(RowSelection::from(vec![
            RowSelector::skip(first),
            RowSelector::select(rows),
        ]));
    }
    builder.build().map_err(pq(path))
}

/// Streams part of a Parquet file batch by batch.
pub fn for_each_batch_of<E: From<Error>>(
    path: &Path,
    read: Read<'_>,
    mut f: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<(), E> {
    for b in reader(path, read)? {
        f(b.map_err(Error::from)?)?;
    }
    Ok(())
}

/// A column as text (any type arrow can cast to text), nulls as `None`.
pub fn text_column(b: &RecordBatch, col: &str) -> Result<Vec<Option<String>>> {
    let c = utf8_column(b, col)?;
    let c = c.as_string::<i32>();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
        .collect())
}

/// A text column (any string or dictionary type) as a plain UTF-8 array, to read as borrowed
/// strings (`as_string::<i32>()`) without an allocation per value.
pub fn utf8_column(b: &RecordBatch, col: &str) -> Result<ArrayRef> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| Error::no_column(None, col))?;
    Ok(arrow::compute::cast(c, &DataType::Utf8)?)
}

/// An integer column (any integer type), nulls as `None`.
pub fn int_column(b: &RecordBatch, col: &str) -> Result<Vec<Option<i64>>> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| Error::no_column(None, col))?;
    let c = arrow::compute::cast(c, &DataType::Int64)?;
    let c = c.as_primitive::<arrow::datatypes::Int64Type>();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect())
}

/// A boolean column, nulls as `None`.
pub fn bool_column(b: &RecordBatch, col: &str) -> Result<Vec<Option<bool>>> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| Error::no_column(None, col))?;
    let c = arrow::compute::cast(c, &DataType::Boolean)?;
    let c = c.as_boolean();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn rows(from: i64, n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(from..from + n))],
        )
        .unwrap()
    }

    #[test]
    fn a_cell_that_reads_as_a_formula_is_written_as_text() {
        for bad in ["=1+2", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(csv_cell(bad), format!("'{bad}"), "{bad:?}");
        }
        for ok in ["H440100000000001", "", "'x", "a=b", "低保", " =x"] {
            assert_eq!(csv_cell(ok), ok, "{ok:?}");
        }
    }

    #[test]
    fn csv_records_made_elsewhere_land_in_order_after_the_bom_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut out = CsvOut::create(&path, &["id", "note"]).unwrap();
        out.write(["1", "plain"]).unwrap();
        let mut elsewhere = CsvOut::records();
        elsewhere.write_record(["2", "a, quoted \"note\""]).unwrap();
        elsewhere.write_record(["3", "多行\n文字"]).unwrap();
        out.write_records(&elsewhere.into_inner().unwrap()).unwrap();
        out.write(["4", ""]).unwrap();
        out.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\u{feff}id,note\n1,plain\n2,\"a, quoted \"\"note\"\"\"\n3,\"多行\n文字\"\n4,\n"
        );
    }

    #[test]
    fn finished_files_hold_every_row_in_order_and_unfinished_ones_are_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done.parquet");
        let mut w = ParquetOut::create(&done, rows(0, 0).schema()).unwrap();
        // Uneven batches across several chunks, so the encoder gets many in flight.
        let mut next = 0;
        for n in [1, 8191, 3, 20_000, 7] {
            w.write(&rows(next, n)).unwrap();
            next += n;
        }
        assert_eq!(w.finish().unwrap(), next as u64);
        let got: Vec<i64> = read_parquet(&done)
            .unwrap()
            .iter()
            .flat_map(|b| int_column(b, "v").unwrap())
            .map(Option::unwrap)
            .collect();
        assert_eq!(got, (0..next).collect::<Vec<_>>());

        let dropped = dir.path().join("dropped.parquet");
        let mut w = ParquetOut::create(&dropped, rows(0, 0).schema()).unwrap();
        w.write(&rows(0, 30_000)).unwrap();
        drop(w);
        // The encoder ends on its own once its channel closes; give it the time to.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(read_parquet(&dropped).is_err(), "no footer, no file");
    }
}
