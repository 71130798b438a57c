//! One source, end to end: read, validate in parallel, deduplicate, stage, count, gate.
//!
//! [`ingest_source`] never panics on input and never returns half a result: it returns a
//! [`SourceReport`] that is either `ok` (the staged snapshot and quarantine are complete, the
//! counts reconcile, every gate passed) or `failed` with the reason (the export is missing or
//! unreadable, the database is down, or a gate tripped). A failed source leaves no staged
//! snapshot behind, so nothing downstream can mistake it for a complete one.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::config::{Connector, FieldSource, SourcePlan};
use crate::raw::RawRecord;
use crate::stage::{About, QuarantineBuilder, StagedBuilder, quarantine_schema};
use crate::validate::{Rejection, validate_row};
use crate::{Error, Result};
use arrow::array::RecordBatch;
use hedui_schemas::batch::BatchFileError;
use hedui_schemas::{FieldType, ResidentId, Role};
use std::sync::Arc;

/// Status of a source in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Staged completely and every gate passed.
    Ok,
    /// Missing, unreadable, unreachable, or over a gate.
    Failed,
}

/// What ingesting one source did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceReport {
    /// Catalog source id.
    pub source: String,
    /// Ok or failed.
    pub status: Status,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rows read per file (or per query), in reading order.
    pub files: Vec<(String, u64)>,
    /// Rows read.
    pub read: u64,
    /// Rows accepted and staged.
    pub accepted: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// Quarantined rows by reason code.
    pub by_reason: BTreeMap<String, u64>,
    /// The staged snapshot, relative to the ingest folder (absent when failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
    /// The quarantine file, relative to the ingest folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// Accepted rows of the previous snapshot the relative gate compared against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_accepted: Option<u64>,
    /// Details (names, attributes, amounts only shown) that failed validation in accepted
    /// rows and were staged empty, one per field.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warnings: u64,
    /// Those warnings by reason code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warnings_by_reason: BTreeMap<String, u64>,
    /// The warnings file (`warnings/<source>.parquet`, the quarantine's schema), relative to
    /// the ingest folder; written only when there are warnings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings_file: Option<String>,
    /// Quarantined rows whose subject's ID alone did not read (`validate::validate_unread`),
    /// also staged with their values for the engine's linkage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
    /// Those rows (`staged/<source>.unread.parquet`, the staged schema with no subject key),
    /// relative to the ingest folder; written only when there are some and the source is ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_staged: Option<String>,
}

/// `ingest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestReport {
    /// Per source id (every catalog source appears).
    pub sources: BTreeMap<String, SourceReport>,
    /// The ids of failed sources.
    pub failed: Vec<String>,
}

impl IngestReport {
    /// Reads a previous report, if there is one.
    pub fn read(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the report as pretty JSON.
    pub fn write(&self, path: &Path) -> std::result::Result<(), BatchFileError> {
        let tmp = path.with_extension("json.partial");
        hedui_schemas::batch::write_json(&tmp, self)?;
        std::fs::rename(&tmp, path).map_err(|source| BatchFileError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// A terminal table of the report.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<22} {:<7} {:>10} {:>10} {:>11}  {}\n",
            "source", "status", "read", "accepted", "quarantined", "quarantine reasons / error"
        );
        for (id, r) in &self.sources {
            let status = match r.status {
                Status::Ok => "ok",
                Status::Failed => "FAILED",
            };
            let detail = match &r.error {
                Some(e) => e.clone(),
                None => r
                    .by_reason
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            out.push_str(&format!(
                "{id:<22} {status:<7} {:>10} {:>10} {:>11}  {detail}\n",
                r.read, r.accepted, r.quarantined
            ));
        }
        let (read, acc, q) = self.sources.values().fold((0, 0, 0), |a, r| {
            (a.0 + r.read, a.1 + r.accepted, a.2 + r.quarantined)
        });
        out.push_str(&format!(
            "{:<22} {:<7} {read:>10} {acc:>10} {q:>11}\n",
            "total", ""
        ));
        if !self.failed.is_empty() {
            out.push_str(&format!("failed sources: {}\n", self.failed.join(", ")));
        }
        out
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SourceReport {
    /// A failed source with nothing read.
    pub fn failed(source: &str, error: String) -> Self {
        SourceReport {
            source: source.into(),
            status: Status::Failed,
            error: Some(error),
            files: Vec::new(),
            read: 0,
            accepted: 0,
            quarantined: 0,
            by_reason: BTreeMap::new(),
            staged: None,
            quarantine: None,
            previous_accepted: None,
            warnings: 0,
            warnings_by_reason: BTreeMap::new(),
            warnings_file: None,
            unread: 0,
            unread_staged: None,
        }
    }
}

/// Where and how to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The ingest folder: `staged/<source>.parquet` and `quarantine/<source>.parquet` go here.
    pub out: PathBuf,
    /// Rows per batch read, validated and written (bounds memory).
    pub batch_rows: usize,
}

fn parquet_writer(
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    source: &str,
) -> Result<ArrowWriter<File>> {
    let stage_err = |msg: String| Error::Stage {
        source_id: source.into(),
        path: path.display().to_string(),
        msg,
    };
    let file = File::create(path).map_err(|e| stage_err(e.to_string()))?;
    // `_line` rises through a delivery's rows: delta-encoded it takes a bit or two a row, and
    // reading it back for the evidence costs next to nothing.
    let line = parquet::schema::types::ColumnPath::from("_line");
    let props = crate::stage::writer_properties()
        .into_builder()
        .set_column_dictionary_enabled(line.clone(), false)
        .set_column_encoding(line, parquet::basic::Encoding::DELTA_BINARY_PACKED)
        .build();
    ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| stage_err(e.to_string()))
}

/// Hash of a raw record's fields (exact duplicates share it). 128 bits: a collision between
/// two different rows is not a practical possibility.
fn row_hash(fields: &[Option<String>]) -> u128 {
    let mut h = Xxh3::new();
    for f in fields {
        match f {
            None => h.update(&[0xff]),
            Some(s) => {
                h.update(&(s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.digest128()
}

/// The record as delivered, as a JSON array, for the quarantine.
fn record_json(r: &RawRecord) -> String {
    if r.problem.is_some() {
        serde_json::to_string(&r.original).unwrap_or_default()
    } else {
        serde_json::to_string(&r.fields).unwrap_or_default()
    }
}

/// Whom a rejected record is about: its subject, where the record's fields could be split
/// and the subject's resident ID is valid (a row-level problem, or a bad subject ID, leaves
/// no one to attach it to), and the offending text with any resident ID masked.
fn about(plan: &SourcePlan, r: &RawRecord, rejection: &Rejection) -> About {
    let def = plan.def;
    let subject_key = if r.problem.is_some() {
        None
    } else {
        def.fields
            .iter()
            .position(|f| f.role == Role::Subject)
            .and_then(|i| r.fields.get(i)?.as_deref())
            .and_then(|raw| ResidentId::parse(raw).ok())
            .map(|id| id.pack())
    };
    let is_id = rejection
        .field
        .and_then(|name| def.field(name))
        .is_some_and(|f| matches!(f.ty, FieldType::PersonId));
    let shown = (!rejection.raw.is_empty()).then(|| {
        if is_id {
            hedui_schemas::id::mask_text(&rejection.raw)
        } else {
            rejection.raw.clone()
        }
    });
    About { subject_key, shown }
}

/// Ingests one source; `previous_accepted` is the accepted count of the last good snapshot.
pub fn ingest_source(
    plan: &SourcePlan,
    opts: &IngestOptions,
    previous_accepted: Option<u64>,
) -> SourceReport {
    let id = plan.def.id;
    let staged_rel = format!("staged/{id}.parquet");
    let quarantine_rel = format!("quarantine/{id}.parquet");
    let warnings_rel = format!("warnings/{id}.parquet");
    let unread_rel = format!("staged/{id}.unread.parquet");
    let staged_path = opts.out.join(&staged_rel);
    let unread_path = opts.out.join(&unread_rel);
    let quarantine_path = opts.out.join(&quarantine_rel);
    let warnings_path = opts.out.join(&warnings_rel);
    let partial = |p: &Path| p.with_extension("parquet.partial");
    // A warnings or unread file of an earlier ingest into this folder is not this one's.
    let _ = std::fs::remove_file(&warnings_path);
    let _ = std::fs::remove_file(&unread_path);
    let result = run(
        plan,
        opts,
        &partial(&staged_path),
        &partial(&quarantine_path),
        &partial(&warnings_path),
        &partial(&unread_path),
    );
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(partial(&staged_path));
            // The duplicate-free copy `remove_duplicates` was writing.
            let _ = std::fs::remove_file(partial(&staged_path).with_extension("rewrite"));
            let _ = std::fs::remove_file(partial(&quarantine_path));
            let _ = std::fs::remove_file(partial(&warnings_path));
            let _ = std::fs::remove_file(partial(&unread_path));
            // The copy `add_copy_of` was writing.
            let _ = std::fs::remove_file(partial(&unread_path).with_extension("copies.partial"));
            let _ = std::fs::remove_file(&staged_path);
            return SourceReport::failed(id, e.to_string());
        }
    };
    if report.warnings > 0 {
        if let Err(e) = std::fs::rename(partial(&warnings_path), &warnings_path) {
            return SourceReport::failed(id, format!("{id}: publishing the warnings: {e}"));
        }
        report.warnings_file = Some(warnings_rel);
    }
    report.previous_accepted = previous_accepted;
    if let Some(reason) = gate_failure(plan, &report, previous_accepted) {
        report.status = Status::Failed;
        report.error = Some(format!("{id}: quality gate: {reason}"));
    }
    // Quarantine is kept either way (it explains a failure); the staged snapshot only when ok.
    let moved = std::fs::rename(partial(&quarantine_path), &quarantine_path);
    if report.status == Status::Ok {
        // The rows of unreadable IDs first: a staged snapshot is never there without them.
        let unread = if report.unread > 0 {
            std::fs::rename(partial(&unread_path), &unread_path)
        } else {
            Ok(())
        };
        if let Err(e) = moved
            .and(unread)
            .and_then(|_| std::fs::rename(partial(&staged_path), &staged_path))
        {
            let _ = std::fs::remove_file(&unread_path);
            return SourceReport::failed(id, format!("{id}: publishing the staged snapshot: {e}"));
        }
        report.staged = Some(staged_rel);
        if report.unread > 0 {
            report.unread_staged = Some(unread_rel);
        }
    } else {
        let _ = std::fs::remove_file(partial(&staged_path));
        let _ = std::fs::remove_file(partial(&unread_path));
        let _ = std::fs::remove_file(&staged_path);
    }
    report.quarantine = Some(quarantine_rel);
    report
}

fn gate_failure(plan: &SourcePlan, r: &SourceReport, previous: Option<u64>) -> Option<String> {
    let g = &plan.gates;
    if let Some(max) = g.max_quarantine_share
        && r.read > 0
        && r.read >= g.share_min_rows.unwrap_or(0)
        && (r.quarantined as f64) > max * r.read as f64
    {
        return Some(format!(
            "{} of {} rows quarantined ({:.1}%), more than the limit of {:.1}%",
            r.quarantined,
            r.read,
            100.0 * r.quarantined as f64 / r.read as f64,
            100.0 * max
        ));
    }
    if let Some(min) = g.min_accepted
        && r.accepted < min
    {
        return Some(format!(
            "{} rows accepted, fewer than the minimum of {min}",
            r.accepted
        ));
    }
    if let (Some(ratio), Some(prev)) = (g.min_accepted_vs_previous, previous)
        && (r.accepted as f64) < ratio * prev as f64
    {
        return Some(format!(
            "{} rows accepted, {:.1}% of the previous snapshot's {prev}, below the limit of {:.0}%",
            r.accepted,
            100.0 * r.accepted as f64 / prev.max(1) as f64,
            100.0 * ratio
        ));
    }
    None
}

fn run(
    plan: &SourcePlan,
    opts: &IngestOptions,
    staged_path: &Path,
    quarantine_path: &Path,
    warnings_path: &Path,
    unread_path: &Path,
) -> Result<SourceReport> {
    let def = plan.def;
    for p in [staged_path, quarantine_path, warnings_path] {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Stage {
                source_id: def.id.into(),
                path: dir.display().to_string(),
                msg: e.to_string(),
            })?;
        }
    }
    let mut staged = StagedBuilder::new(def);
    let mut staged_w = parquet_writer(staged_path, staged.schema(), def.id)?;
    let mut quarantine = QuarantineBuilder::default();
    let mut quarantine_w = parquet_writer(quarantine_path, quarantine_schema(), def.id)?;
    let mut warnings = QuarantineBuilder::default();
    // Opened at the first warning: most deliveries have none.
    let mut warnings_w: Option<ArrowWriter<File>> = None;
    // The rows rejected for their subject's ID alone, with their values; opened at the first.
    let mut unread = StagedBuilder::unread(def);
    let mut unread_w: Option<ArrowWriter<File>> = None;
    let spill = staged_path.with_extension("dedup");
    let mut dedup = crate::dedup::Dedup::new(&spill).map_err(|e| Error::Stage {
        source_id: def.id.into(),
        path: spill.display().to_string(),
        msg: e.to_string(),
    })?;
    // Whether the linkage can attribute this source's unread rows (it delivers a name): then
    // which of them repeat an accepted row is found as the rows go by (`copies`).
    let subject = def.fields.iter().position(|f| f.role == Role::Subject);
    let names = def
        .fields
        .iter()
        .zip(&plan.fields)
        .any(|(f, fp)| f.role == Role::Name && fp.source != FieldSource::Absent);
    let copies_spill = staged_path.with_extension("copies");
    let copies_err = |e: std::io::Error| stage_error(def.id, &copies_spill, e.to_string());
    let mut copies = match subject.filter(|_| names) {
        Some(_) => Some(crate::copies::Copies::new(&copies_spill).map_err(copies_err)?),
        None => None,
    };
    let content_of =
        |values: &[crate::validate::Value]| subject.map(|s| crate::copies::content_hash(values, s));
    let mut labels: Vec<String> = Vec::new();
    let mut report = SourceReport::failed(def.id, String::new());
    report.status = Status::Ok;
    report.error = None;
    let write_err = |path: &Path, e: parquet::errors::ParquetError| Error::Stage {
        source_id: def.id.into(),
        path: path.display().to_string(),
        msg: e.to_string(),
    };
    let write_warnings =
        |b: &mut QuarantineBuilder, w: &mut Option<ArrowWriter<File>>| -> Result<()> {
            let w = match w {
                Some(w) => w,
                None => w.insert(parquet_writer(warnings_path, quarantine_schema(), def.id)?),
            };
            w.write(&b.finish()?)
                .map_err(|e| write_err(warnings_path, e))
        };
    let write_unread = |b: &mut StagedBuilder, w: &mut Option<ArrowWriter<File>>| -> Result<()> {
        let w = match w {
            Some(w) => w,
            None => w.insert(parquet_writer(unread_path, b.schema(), def.id)?),
        };
        w.write(&b.finish()?).map_err(|e| write_err(unread_path, e))
    };
    let mut sink = |label: &str, records: Vec<RawRecord>| -> Result<()> {
        // Validate and hash in parallel; decide duplicates and append in order.
        // (With each accepted row's hash, the hash of its content for `copies`.)
        type Judged = (
            std::result::Result<crate::validate::Row, Rejection>,
            u128,
            Option<u64>,
        );
        let judged: Vec<Judged> = records
            .par_iter()
            .map(|r| match r.problem {
                Some(reason) => (
                    Err(Rejection {
                        reason,
                        field: None,
                        raw: String::new(),
                    }),
                    0,
                    None,
                ),
                None => {
                    let refs: Vec<Option<&str>> = r.fields.iter().map(|f| f.as_deref()).collect();
                    let v = validate_row(plan, &refs);
                    let (h, c) = match &v {
                        Ok(row) => (
                            row_hash(&r.fields),
                            copies.as_ref().and_then(|_| content_of(&row.values)),
                        ),
                        Err(_) => (0, None),
                    };
                    (v, h, c)
                }
            })
            .collect();
        match report.files.last_mut() {
            Some((l, n)) if l == label => *n += records.len() as u64,
            _ => report.files.push((label.to_string(), records.len() as u64)),
        }
        if labels.last().map(String::as_str) != Some(label) {
            labels.push(label.to_string());
        }
        let file_idx = labels.len() as u32 - 1;
        for (r, (verdict, hash, content)) in records.iter().zip(judged) {
            report.read += 1;
            let rejection = match verdict {
                Ok(row) => {
                    // Accepted for now; exact duplicates are found and moved to the
                    // quarantine once the whole source is read (see `dedup`).
                    staged.append(&row.values, label, r.line);
                    if !row.warnings.is_empty() {
                        let json = record_json(r);
                        for w in &row.warnings {
                            report.warnings += 1;
                            *report
                                .warnings_by_reason
                                .entry(w.reason.as_str().to_string())
                                .or_default() += 1;
                            warnings.append(
                                def.id,
                                label,
                                r.line,
                                w.reason,
                                w.field,
                                Some(w.raw.as_str()),
                                &json,
                            );
                        }
                    }
                    dedup
                        .push(hash, file_idx, r.line)
                        .map_err(|e| Error::Stage {
                            source_id: def.id.into(),
                            path: spill.display().to_string(),
                            msg: e.to_string(),
                        })?;
                    if let (Some(c), Some(content)) = (copies.as_mut(), content) {
                        let key = subject.and_then(|s| match &row.values[s] {
                            crate::validate::Value::Person { key, .. } => Some(*key),
                            _ => None,
                        });
                        if let Some(key) = key {
                            c.push_accepted(content, key).map_err(copies_err)?;
                        }
                    }
                    report.accepted += 1;
                    continue;
                }
                Err(rej) => rej,
            };
            if r.problem.is_none() && crate::validate::is_unread_subject(plan, &rejection) {
                let refs: Vec<Option<&str>> = r.fields.iter().map(|f| f.as_deref()).collect();
                if let Some(values) = crate::validate::validate_unread(plan, &refs) {
                    if let (Some(c), Some(content)) = (copies.as_mut(), content_of(&values)) {
                        c.push_unread(content).map_err(copies_err)?;
                    }
                    unread.append(&values, label, r.line);
                    report.unread += 1;
                }
            }
            report.quarantined += 1;
            *report
                .by_reason
                .entry(rejection.reason.as_str().to_string())
                .or_default() += 1;
            quarantine.append_about(
                def.id,
                label,
                r.line,
                rejection.reason,
                rejection.field,
                (!rejection.raw.is_empty()).then_some(rejection.raw.as_str()),
                &record_json(r),
                &about(plan, r, &rejection),
            );
        }
        if staged.len() >= opts.batch_rows {
            staged_w
                .write(&staged.finish()?)
                .map_err(|e| write_err(staged_path, e))?;
        }
        if quarantine.len() >= opts.batch_rows {
            quarantine_w
                .write(&quarantine.finish()?)
                .map_err(|e| write_err(quarantine_path, e))?;
        }
        if warnings.len() >= opts.batch_rows {
            write_warnings(&mut warnings, &mut warnings_w)?;
        }
        if unread.len() >= opts.batch_rows {
            write_unread(&mut unread, &mut unread_w)?;
        }
        Ok(())
    };
    match &plan.connector {
        Connector::Postgres { .. } => crate::pg::read_postgres(plan, opts.batch_rows, &mut sink)?,
        _ => crate::raw::read_files(plan, opts.batch_rows, &mut sink)?,
    }
    if !staged.is_empty() {
        staged_w
            .write(&staged.finish()?)
            .map_err(|e| write_err(staged_path, e))?;
    }
    staged_w.close().map_err(|e| write_err(staged_path, e))?;
    let dups = dedup.finish().map_err(|e| Error::Stage {
        source_id: def.id.into(),
        path: spill.display().to_string(),
        msg: e.to_string(),
    })?;
    if !dups.is_empty() {
        remove_duplicates(
            def.id,
            staged_path,
            &dups,
            &labels,
            opts.batch_rows,
            &mut quarantine,
            &mut quarantine_w,
        )?;
        let n = dups.len() as u64;
        report.accepted -= n;
        report.quarantined += n;
        *report
            .by_reason
            .entry(hedui_schemas::ReasonCode::DuplicateRow.as_str().to_string())
            .or_default() += n;
    }
    if !quarantine.is_empty() {
        quarantine_w
            .write(&quarantine.finish()?)
            .map_err(|e| write_err(quarantine_path, e))?;
    }
    quarantine_w
        .close()
        .map_err(|e| write_err(quarantine_path, e))?;
    if !warnings.is_empty() {
        write_warnings(&mut warnings, &mut warnings_w)?;
    }
    if let Some(w) = warnings_w {
        w.close().map_err(|e| write_err(warnings_path, e))?;
    }
    if !unread.is_empty() {
        write_unread(&mut unread, &mut unread_w)?;
    }
    if let Some(w) = unread_w {
        w.close().map_err(|e| write_err(unread_path, e))?;
    }
    if let Some(c) = copies {
        let found = c.finish().map_err(copies_err)?;
        if report.unread > 0 {
            add_copy_of(def.id, unread_path, &found, opts.batch_rows)?;
        }
    }
    debug_assert_eq!(report.read, report.accepted + report.quarantined);
    Ok(report)
}

/// A staging error of `source` about `path`.
fn stage_error(source: &str, path: &Path, msg: String) -> Error {
    Error::Stage {
        source_id: source.into(),
        path: path.display().to_string(),
        msg,
    }
}

/// A Parquet file this ingest wrote, read back in batches of `batch_rows` (to rewrite it).
fn read_back(
    source: &str,
    path: &Path,
    batch_rows: usize,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader> {
    let err = |e: String| stage_error(source, path, e);
    let file = File::open(path).map_err(|e| err(e.to_string()))?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| err(e.to_string()))?
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(|e| err(e.to_string()))
}

/// Rewrites the unread rows' file with [`COPY_OF_COLUMN`](hedui_schemas::catalog::COPY_OF_COLUMN):
/// for the row of each ordinal, the keys `found` gives it (sorted by ordinal).
fn add_copy_of(
    source: &str,
    unread_path: &Path,
    found: &[(u64, i64)],
    batch_rows: usize,
) -> Result<()> {
    use arrow::array::{Int64Builder, ListBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    let err = |path: &Path, msg: String| stage_error(source, path, msg);
    let rewritten = unread_path.with_extension("copies.partial");
    let reader = read_back(source, unread_path, batch_rows)?;
    let item = Field::new("item", DataType::Int64, false);
    let mut fields: Vec<Field> = arrow::array::RecordBatchReader::schema(&reader)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(
        hedui_schemas::catalog::COPY_OF_COLUMN,
        DataType::List(Arc::new(item.clone())),
        false,
    ));
    let schema = Arc::new(Schema::new(fields));
    let mut w = parquet_writer(&rewritten, schema.clone(), source)?;
    let (mut ordinal, mut next) = (0u64, 0usize);
    for batch in reader {
        let batch = batch.map_err(|e| err(unread_path, e.to_string()))?;
        let mut keys = ListBuilder::new(Int64Builder::new()).with_field(item.clone());
        for _ in 0..batch.num_rows() {
            while next < found.len() && found[next].0 == ordinal {
                keys.values().append_value(found[next].1);
                next += 1;
            }
            keys.append(true);
            ordinal += 1;
        }
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(keys.finish()));
        let b = RecordBatch::try_new(schema.clone(), columns)?;
        w.write(&b).map_err(|e| err(&rewritten, e.to_string()))?;
    }
    w.close().map_err(|e| err(&rewritten, e.to_string()))?;
    std::fs::rename(&rewritten, unread_path).map_err(|e| err(unread_path, e.to_string()))
}

/// Rewrites the staged file without the duplicate rows and quarantines them, each pointing at
/// its first occurrence. Streams batch by batch.
fn remove_duplicates(
    source: &str,
    staged_path: &Path,
    dups: &[crate::dedup::Duplicate],
    labels: &[String],
    batch_rows: usize,
    quarantine: &mut QuarantineBuilder,
    quarantine_w: &mut ArrowWriter<File>,
) -> Result<()> {
    use arrow::array::{AsArray, BooleanArray};
    use arrow::datatypes::{DataType, Int64Type};
    let err = |path: &Path, msg: String| stage_error(source, path, msg);
    let rewritten = staged_path.with_extension("rewrite");
    let reader = read_back(source, staged_path, batch_rows)?;
    let mut out: Option<ArrowWriter<File>> = None;
    let mut ordinal = 0u64;
    let mut next = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| err(staged_path, e.to_string()))?;
        let files = arrow::compute::cast(
            batch
                .column_by_name(hedui_schemas::catalog::FILE_COLUMN)
                .ok_or_else(|| err(staged_path, "no _file".into()))?,
            &DataType::Utf8,
        )?;
        let files = files.as_string::<i32>();
        let lines = batch
            .column_by_name(hedui_schemas::catalog::LINE_COLUMN)
            .ok_or_else(|| err(staged_path, "no _line".into()))?
            .as_primitive::<Int64Type>()
            .clone();
        let mut keep = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let is_dup = next < dups.len() && dups[next].ordinal == ordinal;
            if is_dup {
                let d = &dups[next];
                let first = labels
                    .get(d.first_file as usize)
                    .map(String::as_str)
                    .unwrap_or("?");
                quarantine.append(
                    source,
                    files.value(i),
                    lines.value(i) as u64,
                    hedui_schemas::ReasonCode::DuplicateRow,
                    None,
                    None,
                    &format!("duplicate of {first}:{}", d.first_line),
                );
                next += 1;
            }
            keep.push(!is_dup);
            ordinal += 1;
        }
        let kept = arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep))?;
        let w = match &mut out {
            Some(w) => w,
            None => out.insert(parquet_writer(&rewritten, batch.schema(), source)?),
        };
        w.write(&kept).map_err(|e| err(&rewritten, e.to_string()))?;
        if quarantine.len() >= batch_rows {
            quarantine_w
                .write(&quarantine.finish()?)
                .map_err(|e| err(staged_path, e.to_string()))?;
        }
    }
    if let Some(w) = out {
        w.close().map_err(|e| err(&rewritten, e.to_string()))?;
        std::fs::rename(&rewritten, staged_path).map_err(|e| err(staged_path, e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Gates, SourceConfig};
    use arrow::array::{Array, AsArray, RecordBatch};
    use arrow::datatypes::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Ingests `file` (written with `text`) as `source` under the connector `connector`;
    /// gives the report and the staged rows of unreadable IDs (none when there are none).
    fn ingest_unread(
        source: &str,
        file: &str,
        text: &[u8],
        connector: &str,
    ) -> (SourceReport, Option<RecordBatch>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let def = hedui_schemas::source(source).unwrap();
        let c: SourceConfig = toml::from_str(&format!("connector = {connector}")).unwrap();
        let plan = c.build(def, dir.path(), &Gates::default()).unwrap();
        let opts = IngestOptions {
            out: dir.path().join("ingest"),
            batch_rows: 2,
        };
        let r = ingest_source(&plan, &opts, None);
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.read, r.accepted + r.quarantined, "{r:?}");
        let rows = r.unread_staged.as_ref().map(|rel| {
            let f = File::open(opts.out.join(rel)).unwrap();
            let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect();
            arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
        });
        (r, rows)
    }

    /// A column of `rows` as text (null as `None`).
    fn text_of(rows: &RecordBatch, c: &str) -> Vec<Option<String>> {
        let a = arrow::compute::cast(rows.column_by_name(c).unwrap(), &DataType::Utf8).unwrap();
        let a = a.as_string::<i32>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
            .collect()
    }

    /// The `_line` column of `rows`.
    fn lines_of(rows: &RecordBatch) -> Vec<i64> {
        let lines = rows.column_by_name("_line").unwrap();
        lines
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    }

    /// Rows rejected for their subject's ID alone are staged with their values for the
    /// linkage (`staged/<source>.unread.parquet`, no key), from a file as Excel writes it
    /// (BOM, CRLF, quoted names with commas, doubled quotes and a line break): each staged
    /// row's line holds its delivered ID in the file; a row with another bad field, an ID in
    /// scientific notation or a valid ID is not there; the counts still reconcile.
    #[test]
    fn rows_whose_subject_id_alone_fails_are_staged_for_the_linkage() {
        let good = "11010519491231002X";
        let checksum = "110105194912310021";
        let short = "11010519491231002";
        let text = format!(
            "\u{feff}证件号码,客户姓名,开户行,账号,余额(元),余额日期\r\n\
             {good},\"张,三\",工商银行,6212****0001,100.50,2026-10-01\r\n\
             {checksum},\"李 \"\"四\"\"\",工商银行,6212****0002,200.00,2026-10-01\r\n\
             {checksum},王五,工商银行,6212****0003,300.00,2026-02-30\r\n\
             {short},\"赵\r\n六\",建设银行,6217****0004,400.00,2026-10-01\r\n\
             1.10105E+17,钱七,建设银行,6217****0005,500.00,2026-10-01\r\n\
             {checksum},孙八,建设银行,6217****0006,600.00,2026-10-01"
        );
        let (r, rows) = ingest_unread(
            "bank_deposit",
            "d.csv",
            text.as_bytes(),
            r#"{ kind = "csv", path = "d.csv" }"#,
        );
        assert_eq!((r.read, r.accepted, r.quarantined), (6, 1, 5), "{r:?}");
        assert_eq!(r.unread, 3, "{r:?}");
        assert_eq!(
            r.unread_staged.as_deref(),
            Some("staged/bank_deposit.unread.parquet")
        );
        let rows = rows.unwrap();
        assert_eq!(rows.column_by_name("person_key").unwrap().null_count(), 3);
        let ids: Vec<String> = text_of(&rows, "person_id_raw")
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(ids, [checksum, short, checksum]);
        let names: Vec<String> = text_of(&rows, "name").into_iter().flatten().collect();
        assert_eq!(names, ["李 \"四\"", "赵\r\n六", "孙八"]);
        let fen = rows.column_by_name("balance_fen").unwrap();
        let fen: Vec<i64> = fen
            .as_primitive::<arrow::datatypes::Int64Type>()
            .values()
            .to_vec();
        assert_eq!(fen, [20_000, 40_000, 60_000]);
        // Each line, read back from the delivered file, holds the ID delivered there.
        let physical: Vec<&str> = text.split("\r\n").collect();
        let lines = lines_of(&rows);
        assert_eq!(lines, [3, 5, 8]);
        for (line, id) in lines.iter().zip(&ids) {
            assert!(
                physical[*line as usize - 1].starts_with(id.as_str()),
                "line {line}: {}",
                physical[*line as usize - 1]
            );
        }
    }

    /// The same from a file with lone CR line ends (an old Mac tool) that is cut off inside
    /// a quoted name: the rows before the cut are staged with their lines, the cut one is
    /// quarantined for its quote and staged nowhere.
    #[test]
    fn unread_rows_of_a_lone_cr_file_cut_in_a_quote() {
        let checksum = "110105194912310021";
        let text = format!(
            "证件号码,客户姓名,开户行,账号,余额(元),余额日期\r\
             {checksum},李四,工商银行,6212****0002,200.00,2026-10-01\r\
             11010519491231002X,张三,工商银行,6212****0001,100.50,2026-10-01\r\
             {checksum},\"孙"
        );
        let (r, rows) = ingest_unread(
            "bank_deposit",
            "d.csv",
            text.as_bytes(),
            r#"{ kind = "csv", path = "d.csv" }"#,
        );
        assert_eq!(
            (r.read, r.accepted, r.quarantined, r.unread),
            (3, 1, 2, 1),
            "{r:?}"
        );
        assert_eq!(r.by_reason.get("unterminated_quote"), Some(&1), "{r:?}");
        let rows = rows.unwrap();
        let physical: Vec<&str> = text.split('\r').collect();
        let lines = lines_of(&rows);
        assert_eq!(lines, [2]);
        assert!(physical[1].starts_with(checksum), "{}", physical[1]);
    }

    /// JSON lines as Python's `json` module writes them (keys escaped to ASCII, CRLF line
    /// ends), with a record whose ID does not read given twice: both are staged, each from
    /// the line that holds it (the engine counts the second as a copy of the first), and a
    /// row whose month does not read either is not.
    #[test]
    fn unread_rows_of_json_lines_with_escaped_keys() {
        let key = |k: &str| serde_json::to_string(k).unwrap();
        let (id, name, month, base, drawn) = (
            key("证件号码"),
            key("姓名"),
            key("缴存年月"),
            key("缴存基数(元)"),
            key("提取金额(元)"),
        );
        let escaped = |k: &str| {
            k.chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("\\u{:04x}", c as u32)
                    }
                })
                .collect::<String>()
        };
        let (id, name, month, base, drawn) = (
            escaped(&id),
            escaped(&name),
            escaped(&month),
            escaped(&base),
            escaped(&drawn),
        );
        let row = |who: &str, n: &str, m: &str| {
            format!(
                "{{{id}: \"{who}\", {name}: \"{n}\", {month}: \"{m}\", {base}: \"2000.00\", {drawn}: \"\"}}"
            )
        };
        let checksum = "110105194912310021";
        let text = [
            row("11010519491231002X", "张三", "202606"),
            row(checksum, "李四", "202606"),
            row(checksum, "李四", "202606"),
            row(checksum, "王五", "202613"),
        ]
        .join("\r\n");
        assert!(text.contains("\\u8bc1"), "keys escaped");
        let (r, rows) = ingest_unread(
            "provident_fund",
            "p.jsonl",
            text.as_bytes(),
            r#"{ kind = "jsonl", path = "p.jsonl" }"#,
        );
        assert_eq!((r.read, r.accepted, r.quarantined), (4, 1, 3), "{r:?}");
        let rows = rows.unwrap();
        let lines = lines_of(&rows);
        assert_eq!(lines, [2, 3], "{r:?}");
        let physical: Vec<&str> = text.split("\r\n").collect();
        for line in &lines {
            assert!(physical[*line as usize - 1].contains(checksum));
        }
        assert_eq!(
            text_of(&rows, "name")
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
            ["李四", "李四"]
        );
        // No row that was read is like them.
        assert_eq!(copy_of(&rows), [vec![], vec![]] as [Vec<i64>; 2]);
    }

    /// The `_copy_of` column of `rows`.
    fn copy_of(rows: &RecordBatch) -> Vec<Vec<i64>> {
        let c = rows
            .column_by_name(hedui_schemas::catalog::COPY_OF_COLUMN)
            .expect("a _copy_of column");
        let c = c.as_list::<i32>();
        (0..c.len())
            .map(|i| {
                c.value(i)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    /// A department that delivers a record twice, once with the ID right and once with a
    /// digit slipped, as Excel saves it (BOM, CRLF, a name quoted, a balance with its trailing
    /// zero dropped, the right row repeated exactly): each unread row carries the keys of the
    /// people with a row read whose every other value is the same (compared as read, so
    /// `100.5` is `100.50`), and none when one value differs. A delivery without a name column
    /// cannot be attributed, so its unread rows carry no such column.
    #[test]
    fn unread_rows_that_repeat_a_row_read_carry_its_key() {
        let (a, b) = ("11010519491231002X", "110105195001010012");
        let slip = "110105194912310021";
        let text = format!(
            "\u{feff}证件号码,客户姓名,开户行,账号,余额(元),余额日期\r\n\
             {a},张三,工商银行,6212****0001,100.50,2026-10-01\r\n\
             {b},李四,建设银行,6217****0009,9.00,2026-10-01\r\n\
             {slip},\"张三\",工商银行,6212****0001,100.5,2026-10-01\r\n\
             {a},张三,工商银行,6212****0001,100.50,2026-10-01\r\n\
             {slip},张三,工商银行,6212****0001,100.51,2026-10-01\r\n\
             {slip},李四,建设银行,6217****0009,9,2026-10-01\r\n"
        );
        let key = |id: &str| hedui_schemas::ResidentId::parse(id).unwrap().pack();
        let (r, rows) = ingest_unread(
            "bank_deposit",
            "d.csv",
            text.as_bytes(),
            r#"{ kind = "csv", path = "d.csv" }"#,
        );
        assert_eq!(
            (r.read, r.accepted, r.quarantined, r.unread),
            (6, 2, 4, 3),
            "{r:?}"
        );
        assert_eq!(r.by_reason.get("duplicate_row"), Some(&1), "{r:?}");
        let rows = rows.unwrap();
        let lines = lines_of(&rows);
        assert_eq!(lines, [4, 6, 7]);
        let physical: Vec<&str> = text.split("\r\n").collect();
        for line in &lines {
            assert!(physical[*line as usize - 1].starts_with(slip));
        }
        assert_eq!(copy_of(&rows), [vec![key(a)], vec![], vec![key(b)]]);

        // The same delivery without its name column.
        let no_names: String = text
            .split("\r\n")
            .map(|l| {
                let mut f: Vec<&str> = l.split(',').collect();
                if f.len() > 1 {
                    f.remove(1);
                }
                f.join(",")
            })
            .collect::<Vec<_>>()
            .join("\r\n");
        let (r, rows) = ingest_unread(
            "bank_deposit",
            "d.csv",
            no_names.as_bytes(),
            r#"{ kind = "csv", path = "d.csv" }
absent = ["name"]"#,
        );
        assert_eq!(r.unread, 3, "{r:?}");
        let rows = rows.unwrap();
        assert!(
            rows.column_by_name(hedui_schemas::catalog::COPY_OF_COLUMN)
                .is_none()
        );
    }

    /// A business register that says a business's status by its cancellation date, has no
    /// business names, and writes every capital in one unit column: mapped with `absent`,
    /// `derive` and `constants`, no preprocessing.
    #[test]
    fn absent_constant_and_derived_fields_are_mapped_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let text = "cerNo,uniscid,entType,personRole,regCapWanYuan,empNum,estDate,注销日期\r\n\
            11010519491231002X,91350100M000100Y43,个体工商户,经营者,1.5,0,2020-01-02,\r\n\
            11010519491231002X,91350100M000100Y43,个体工商户,经营者,1.5,0,2020-01-02,2024-03-05\r\n\
            11010519491231002X,91350100M000100Y43,个体工商户,经营者,1.5,0,2020-01-02,2024-02-30\r\n";
        std::fs::write(dir.path().join("b.csv"), text).unwrap();
        let config = r#"
            connector = { kind = "csv", path = "b.csv" }
            absent = ["entity_name"]
            constants = { staff = "0" }
            [derive.status]
            from = ["注销日期"]
            sql = "CASE WHEN trim(\"注销日期\") = '' THEN '存续' ELSE '注销' END"
            [derive.status_date]
            from = ["注销日期", "estDate"]
            sql = "CASE WHEN trim(\"注销日期\") = '' THEN \"estDate\" ELSE \"注销日期\" END"
        "#;
        let def = hedui_schemas::source("business").unwrap();
        let c: SourceConfig = toml::from_str(config).unwrap();
        let plan = c.build(def, dir.path(), &Gates::default()).unwrap();
        let opts = IngestOptions {
            out: dir.path().join("ingest"),
            batch_rows: 2,
        };
        let r = ingest_source(&plan, &opts, None);
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!((r.read, r.accepted, r.quarantined), (3, 2, 1), "{r:?}");
        assert_eq!(r.warnings, 0, "an absent field is not a warning");
        let read = |p: &str| -> Vec<RecordBatch> {
            ParquetRecordBatchReaderBuilder::try_new(File::open(opts.out.join(p)).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect()
        };
        let staged = arrow::compute::concat_batches(
            &plan.def.staged_schema(),
            &read("staged/business.parquet"),
        )
        .unwrap();
        let text = |c: &str| -> Vec<String> {
            let a = arrow::compute::cast(
                staged.column_by_name(c).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let a = a.as_string::<i32>();
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        "∅".to_string()
                    } else {
                        a.value(i).to_string()
                    }
                })
                .collect()
        };
        assert_eq!(text("status"), ["active", "deregistered"]);
        assert_eq!(text("status_date"), ["2020-01-02", "2024-03-05"]);
        assert_eq!(text("staff"), ["0", "0"]);
        assert_eq!(text("entity_name"), ["∅", "∅"]);
        assert_eq!(text("_line"), ["2", "3"]);
        // The derived date that does not exist is quarantined, the derivation named.
        let q = &read("quarantine/business.parquet")[0];
        let raw = arrow::compute::cast(q.column_by_name("raw").unwrap(), &DataType::Utf8).unwrap();
        let raw = raw.as_string::<i32>().value(0);
        assert!(raw.starts_with("2024-02-30 (derived: CASE WHEN"), "{raw}");
        let line = q
            .column_by_name("line")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(0);
        assert_eq!(line, 4);
    }

    #[test]
    fn a_field_the_rules_read_cannot_be_absent() {
        let def = hedui_schemas::source("business").unwrap();
        let c: SourceConfig = toml::from_str(
            "connector = { kind = \"csv\", path = \"b.csv\" }\nabsent = [\"status\"]",
        )
        .unwrap();
        let e = c
            .build(def, Path::new("."), &Gates::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("status cannot be absent: the rules read it"),
            "{e}"
        );
        let c: SourceConfig = toml::from_str(
            "connector = { kind = \"csv\", path = \"b.csv\" }\n[derive.status]\nfrom = [\"x\"]\nsql = \"y\"",
        )
        .unwrap();
        let e = c
            .build(def, Path::new("."), &Gates::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("derive.status") && e.contains("y"), "{e}");
    }
}
