//! Staged Arrow batches of accepted rows, and quarantine batches of rejected ones.
//!
//! The staged schema is the catalog's ([`SourceDef::staged_schema`]); the quarantine schema is
//! the same for every source: where the row was (source, file, line), why (reason code and
//! field), the offending text and the whole record as delivered (a JSON array of strings).
//! Both are restricted outputs: they hold full resident IDs.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Date32Type, Field, Int32Type, Schema, SchemaRef};
use hedui_schemas::{FieldType, ReasonCode, SourceDef};

use crate::validate::Value;

enum Col {
    I64(Int64Builder),
    I32(Int32Builder),
    Utf8(StringBuilder),
    Date(Date32Builder),
    Dict(StringDictionaryBuilder<Int32Type>),
}

impl Col {
    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::I64(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::Utf8(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Dict(b) => Arc::new(b.finish()),
        }
    }
}

/// Builds staged batches for one source.
pub struct StagedBuilder {
    def: &'static SourceDef,
    schema: SchemaRef,
    /// Per catalog field: its column builders (two for a person ID).
    cols: Vec<Col>,
    file: StringDictionaryBuilder<Int32Type>,
    line: Int64Builder,
    rows: usize,
}

impl StagedBuilder {
    /// A builder for `def`'s staged schema.
    pub fn new(def: &'static SourceDef) -> Self {
        let mut cols = Vec::new();
        for f in def.fields {
            match f.ty {
                FieldType::PersonId => {
                    cols.push(Col::I64(Int64Builder::new()));
                    cols.push(Col::Utf8(StringBuilder::new()));
                }
                FieldType::Text | FieldType::CreditCode => {
                    cols.push(Col::Utf8(StringBuilder::new()))
                }
                FieldType::Money | FieldType::Count | FieldType::Area => {
                    cols.push(Col::I64(Int64Builder::new()))
                }
                FieldType::Date => cols.push(Col::Date(Date32Builder::new())),
                FieldType::Month | FieldType::RegionCode => {
                    cols.push(Col::I32(Int32Builder::new()))
                }
                FieldType::Code(_) => cols.push(Col::Dict(StringDictionaryBuilder::new())),
            }
        }
        StagedBuilder {
            def,
            schema: def.staged_schema(),
            cols,
            file: StringDictionaryBuilder::new(),
            line: Int64Builder::new(),
            rows: 0,
        }
    }

    /// A builder for the rows whose subject's ID did not read (`staged/<source>.unread.parquet`):
    /// the staged schema with the subject's key nullable (it is always null there).
    pub fn unread(def: &'static SourceDef) -> Self {
        let mut b = Self::new(def);
        let key = format!("{}_key", def.subject().name);
        let fields: Vec<Field> = b
            .schema
            .fields()
            .iter()
            .map(|f| {
                let f = f.as_ref().clone();
                if f.name() == &key {
                    f.with_nullable(true)
                } else {
                    f
                }
            })
            .collect();
        b.schema = Arc::new(Schema::new(fields));
        b
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one validated row.
    pub fn append(&mut self, values: &[Value], file: &str, line: u64) {
        let mut c = 0;
        for (f, v) in self.def.fields.iter().zip(values) {
            match (f.ty, v, &mut self.cols[c]) {
                (FieldType::PersonId, Value::Person { key, raw }, Col::I64(k)) => {
                    k.append_value(*key);
                    if let Col::Utf8(r) = &mut self.cols[c + 1] {
                        r.append_value(raw);
                    }
                }
                // A subject whose ID does not read, as delivered (validate::validate_unread).
                (FieldType::PersonId, Value::Text(raw), Col::I64(k)) => {
                    k.append_null();
                    if let Col::Utf8(r) = &mut self.cols[c + 1] {
                        r.append_value(raw);
                    }
                }
                (FieldType::PersonId, _, Col::I64(k)) => {
                    k.append_null();
                    if let Col::Utf8(r) = &mut self.cols[c + 1] {
                        r.append_null();
                    }
                }
                (_, Value::Text(t), Col::Utf8(b)) => b.append_value(t),
                (_, Value::Int(i), Col::I64(b)) => b.append_value(*i),
                (_, Value::Date(d), Col::Date(b)) => {
                    b.append_value(Date32Type::from_naive_date(*d))
                }
                (_, Value::Month(m) | Value::Region(m), Col::I32(b)) => b.append_value(*m),
                (_, Value::Code(code), Col::Dict(b)) => {
                    b.append_value(code);
                }
                (_, _, col) => match col {
                    Col::I64(b) => b.append_null(),
                    Col::I32(b) => b.append_null(),
                    Col::Utf8(b) => b.append_null(),
                    Col::Date(b) => b.append_null(),
                    Col::Dict(b) => b.append_null(),
                },
            }
            c += if matches!(f.ty, FieldType::PersonId) {
                2
            } else {
                1
            };
        }
        self.file.append_value(file);
        self.line.append_value(line as i64);
        self.rows += 1;
    }

    /// The buffered rows as a batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> arrow::error::Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        arrays.push(Arc::new(self.file.finish()));
        arrays.push(Arc::new(self.line.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }

    /// The staged schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// The quarantine schema, the same for every source.
pub fn quarantine_schema() -> SchemaRef {
    let dict = || DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("source", dict(), false),
        Field::new("file", dict(), false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", dict(), false),
        Field::new("field", DataType::Utf8, true),
        Field::new("raw", DataType::Utf8, true),
        Field::new("record", DataType::Utf8, false),
        Field::new("subject_key", DataType::Int64, true),
        Field::new("shown", DataType::Utf8, true),
    ]))
}

/// What a quarantined row says about whom: the packed key of its subject where the subject's
/// resident ID is valid (the row then belongs to that person, and a household with it can
/// no longer PASS), and the offending text as people may see it (resident IDs masked).
#[derive(Debug, Clone, Default)]
pub struct About {
    /// The subject's packed key, if its ID is valid.
    pub subject_key: Option<i64>,
    /// The offending text, IDs masked.
    pub shown: Option<String>,
}

/// Builds quarantine batches.
pub struct QuarantineBuilder {
    source: StringDictionaryBuilder<Int32Type>,
    file: StringDictionaryBuilder<Int32Type>,
    line: Int64Builder,
    reason: StringDictionaryBuilder<Int32Type>,
    field: StringBuilder,
    raw: StringBuilder,
    record: StringBuilder,
    subject_key: Int64Builder,
    shown: StringBuilder,
    rows: usize,
}

impl Default for QuarantineBuilder {
    fn default() -> Self {
        QuarantineBuilder {
            source: StringDictionaryBuilder::new(),
            file: StringDictionaryBuilder::new(),
            line: Int64Builder::new(),
            reason: StringDictionaryBuilder::new(),
            field: StringBuilder::new(),
            raw: StringBuilder::new(),
            record: StringBuilder::new(),
            subject_key: Int64Builder::new(),
            shown: StringBuilder::new(),
            rows: 0,
        }
    }
}

impl QuarantineBuilder {
    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one rejected row, about no one known.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &mut self,
        source: &str,
        file: &str,
        line: u64,
        reason: ReasonCode,
        field: Option<&str>,
        raw: Option<&str>,
        record: &str,
    ) {
        self.append_about(
            source,
            file,
            line,
            reason,
            field,
            raw,
            record,
            &About::default(),
        );
    }

    /// Appends one rejected row and whom it is about.
    #[allow(clippy::too_many_arguments)]
    pub fn append_about(
        &mut self,
        source: &str,
        file: &str,
        line: u64,
        reason: ReasonCode,
        field: Option<&str>,
        raw: Option<&str>,
        record: &str,
        about: &About,
    ) {
        self.subject_key.append_option(about.subject_key);
        self.shown.append_option(about.shown.as_deref());
        self.source.append_value(source);
        self.file.append_value(file);
        self.line.append_value(line as i64);
        self.reason.append_value(reason.as_str());
        self.field.append_option(field);
        self.raw.append_option(raw);
        self.record.append_value(record);
        self.rows += 1;
    }

    /// The buffered rows as a batch.
    pub fn finish(&mut self) -> arrow::error::Result<RecordBatch> {
        self.rows = 0;
        RecordBatch::try_new(
            quarantine_schema(),
            vec![
                Arc::new(self.source.finish()),
                Arc::new(self.file.finish()),
                Arc::new(self.line.finish()),
                Arc::new(self.reason.finish()),
                Arc::new(self.field.finish()),
                Arc::new(self.raw.finish()),
                Arc::new(self.record.finish()),
                Arc::new(self.subject_key.finish()),
                Arc::new(self.shown.finish()),
            ],
        )
    }
}

/// The Parquet writer settings of every file hedui writes (staged snapshots, quarantine and
/// batch outputs): fixed, so the same rows give the same bytes.
pub fn writer_properties() -> parquet::file::properties::WriterProperties {
    parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .set_max_row_group_row_count(Some(512 * 1024))
        .set_created_by(concat!("hedui ", env!("CARGO_PKG_VERSION")).to_string())
        .build()
}
