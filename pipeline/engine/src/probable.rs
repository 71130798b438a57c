//! Probable records (issue #28): the rows the linkage attributed to a member, entered into the
//! sums and the rules.
//!
//! Ingestion stages a row rejected for its subject's ID alone with its other values
//! (`staged/<source>.unread.parquet`, no subject key). A row the linkage `linked` to a member
//! is taken from there with the member's key and is then one of three things:
//!
//! - a **copy** of a record of the member that was read (every value but the ID the same as
//!   an accepted row of theirs in the source), or of a probable record before it: nothing
//!   new, and it counts once;
//! - else a **probable record**: it joins its source's table (`<source>` becomes the staged
//!   rows and these, a union), so the sums and every rule read it; a finding that depends on
//!   it is REVIEW, never FLAG (decide.rs), and the sums are also taken without the probable
//!   records for the households that have some (`certain_sums`), to tell which;
//! - a linked row that ingestion could not stage (another field did not read either) is not
//!   read: `unreadable_records` reports it, as it reports an ambiguous one.
//!
//! Nothing here runs when nothing is linked (a policy without `[linkage]`): the tables, the
//! plans and every output are those of a batch before the linkage.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use datafusion::prelude::{ParquetReadOptions, col, lit};

use super::link::{Linked, linked_table, write_report};
use super::{Engine, df_err};
use crate::output::int_column;
use crate::{Error, Result};

/// The probable records of a batch, as the later stages need them.
#[derive(Debug, Default)]
pub(crate) struct Probable {
    /// Source -> file -> lines of the probable records (what the evidence marks).
    pub(crate) rows: HashMap<String, HashMap<String, HashSet<i64>>>,
    /// The members with a probable record in a source that feeds the income or asset sums.
    pub(crate) sum_persons: BTreeSet<i64>,
    /// Each source with probable records, and its table with them (its staged rows and
    /// those), for [`Engine::enter_probable`].
    unions: Vec<(&'static str, Arc<dyn datafusion::catalog::TableProvider>)>,
}

impl Probable {
    /// Whether the record at `source`, `file`, `line` is a probable one.
    pub(crate) fn contains(&self, source: &str, file: &str, line: i64) -> bool {
        self.rows
            .get(source)
            .and_then(|f| f.get(file))
            .is_some_and(|l| l.contains(&line))
    }

    /// Whether there is none.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A source feeds a sum: it counts income or holds an asset.
fn feeds_sums(def: &hedui_schemas::SourceDef) -> bool {
    def.counts.is_some()
        || def
            .fields
            .iter()
            .any(|f| f.role == hedui_schemas::Role::Asset)
}

/// The text of a column that may be dictionary-encoded or a view, as plain strings.
fn strings(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(a, &DataType::Utf8)?)
}

impl Engine {
    /// Takes the linked records' rows from the unread files with their members' keys, sorts
    /// out the copies, registers each source that has probable records as the union of its
    /// staged rows and those, registers `linked` (with what was read) and writes
    /// `linkage.json` with the counts.
    pub(crate) async fn attribute(&self, linked: Linked, out: &Path) -> Result<Probable> {
        let Linked { rows, mut report } = linked;
        let mut read = vec![false; rows.len()];
        let mut probable = Probable::default();
        // Source -> (file, line) -> the linked row.
        let mut by_source: BTreeMap<&str, HashMap<(&str, i64), usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            if r.status == "linked" {
                by_source
                    .entry(r.source.as_str())
                    .or_default()
                    .insert((r.file.as_str(), r.line), i);
            }
        }
        let dir = self.ingest_dir.as_ref().map(|d| d.join("staged"));
        for (source, wanted) in &by_source {
            let Some(def) = hedui_schemas::source(source) else {
                continue;
            };
            let Some(path) = dir
                .as_ref()
                .map(|d| d.join(format!("{}.unread.parquet", def.id)))
                .filter(|p| p.is_file())
            else {
                continue;
            };
            let path = path.to_str().ok_or_else(|| Error::not_utf8(&path))?;
            let key_col = format!("{}_key", def.subject().name);
            let raw_col = format!("{}_id_raw", def.subject().name);
            let file_col = hedui_schemas::catalog::FILE_COLUMN;
            let line_col = hedui_schemas::catalog::LINE_COLUMN;
            // The linked rows, with their members' keys, in file and line order.
            let unread = self
                .ctx
                .read_parquet(path, ParquetReadOptions::default())
                .await
                .and_then(|t| {
                    t.sort(vec![
                        col(file_col).sort(true, false),
                        col(line_col).sort(true, false),
                    ])
                })
                .map_err(df_err)?
                .collect()
                .await
                .map_err(df_err)?;
            let mut taken: Vec<(RecordBatch, Vec<usize>)> = Vec::new();
            for b in unread {
                let files = strings(
                    b.column_by_name(file_col)
                        .ok_or_else(|| no_column(file_col))?,
                )?;
                let files = files.as_string::<i32>();
                let lines = int_column(&b, line_col)?;
                let mut idx = Vec::new();
                let mut keys = Vec::new();
                let mut which = Vec::new();
                for (i, line) in lines.iter().enumerate() {
                    let (Some(line), true) = (*line, files.is_valid(i)) else {
                        continue;
                    };
                    if let Some(&r) = wanted.get(&(files.value(i), line)) {
                        idx.push(i as u32);
                        keys.push(rows[r].person_key);
                        which.push(r);
                    }
                }
                if idx.is_empty() {
                    continue;
                }
                let idx = UInt32Array::from(idx);
                let schema = b.schema();
                let columns = schema
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .map(|(f, c)| {
                        if f.name() == &key_col {
                            Ok(Arc::new(Int64Array::from(keys.clone())) as ArrayRef)
                        } else {
                            Ok(arrow::compute::take(c, &idx, None)?)
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                taken.push((RecordBatch::try_new(schema, columns)?, which));
            }
            if taken.is_empty() {
                continue;
            }
            // Every value but the ID as delivered and where the row was.
            let schema = taken[0].0.schema();
            let content: Vec<usize> = schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    ![raw_col.as_str(), file_col, line_col].contains(&f.name().as_str())
                })
                .map(|(i, _)| i)
                .collect();
            let converter = RowConverter::new(
                content
                    .iter()
                    .map(|i| SortField::new(schema.field(*i).data_type().clone()))
                    .collect(),
            )?;
            let persons: Vec<i64> = taken
                .iter()
                .flat_map(|(_, w)| w.iter().map(|r| rows[*r].person_key))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            // The rows of those members that were read, as rows to compare.
            let accepted = self
                .ctx
                .table(def.id)
                .await
                .and_then(|t| {
                    t.filter(
                        col(key_col.as_str())
                            .in_list(persons.iter().map(|k| lit(*k)).collect(), false),
                    )
                })
                .map_err(df_err)?
                .collect()
                .await
                .map_err(df_err)?;
            let mut seen: HashSet<arrow::row::OwnedRow> = HashSet::new();
            for b in &accepted {
                let cols: Vec<ArrayRef> = content.iter().map(|i| b.column(*i).clone()).collect();
                let converted = converter.convert_columns(&cols)?;
                seen.extend(converted.iter().map(|r| r.owned()));
            }
            let mut kept: Vec<RecordBatch> = Vec::new();
            for (b, which) in &taken {
                let cols: Vec<ArrayRef> = content.iter().map(|i| b.column(*i).clone()).collect();
                let converted = converter.convert_columns(&cols)?;
                let mut keep = Vec::new();
                for (i, r) in which.iter().enumerate() {
                    read[*r] = true;
                    let counts = report.sources.entry(source.to_string()).or_default();
                    if seen.insert(converted.row(i).owned()) {
                        keep.push(i as u32);
                        counts.probable += 1;
                        report.total.probable += 1;
                        let row = &rows[*r];
                        probable
                            .rows
                            .entry(row.source.clone())
                            .or_default()
                            .entry(row.file.clone())
                            .or_default()
                            .insert(row.line);
                        if feeds_sums(def) {
                            probable.sum_persons.insert(row.person_key);
                        }
                    } else {
                        counts.copies += 1;
                        report.total.copies += 1;
                    }
                }
                if !keep.is_empty() {
                    let idx = UInt32Array::from(keep);
                    let columns = b
                        .columns()
                        .iter()
                        .map(|c| Ok(arrow::compute::take(c, &idx, None)?))
                        .collect::<Result<Vec<_>>>()?;
                    kept.push(RecordBatch::try_new(b.schema(), columns)?);
                }
            }
            if kept.is_empty() {
                continue;
            }
            // The source's table becomes its staged rows and its probable records.
            let staged = self.ctx.table(def.id).await.map_err(df_err)?;
            let extra = self.ctx.read_batches(kept).map_err(df_err)?;
            let both = staged.union(extra).map_err(df_err)?;
            probable.unions.push((def.id, both.into_view()));
        }
        self.register_table("linked", linked_table(&rows, &read)?)?;
        write_report(&report, out)?;
        Ok(probable)
    }
}

impl Engine {
    /// The income and assets, without the probable records, of the households whose counted
    /// members have some in a source of the sums: (income, assets) by `hh`. Run before the
    /// probable records enter the tables, by the sums' own plans over just those households
    /// (`members` and the counted members' key test narrowed to them for the while).
    pub(crate) async fn certain_sums(
        &self,
        params: &super::Parameters,
        probable: &Probable,
    ) -> Result<HashMap<i64, (i64, i64)>> {
        let mut out = HashMap::new();
        if probable.sum_persons.is_empty() {
            return Ok(out);
        }
        let persons: Vec<_> = probable.sum_persons.iter().map(|k| lit(*k)).collect();
        let members = self.ctx.table("members").await.map_err(df_err)?;
        let mut hhs = BTreeSet::new();
        for b in members
            .clone()
            .filter(
                col("excluded")
                    .is_null()
                    .and(col("person_key").in_list(persons, false)),
            )
            .and_then(|t| t.select_columns(&["hh"]))
            .map_err(df_err)?
            .collect()
            .await
            .map_err(df_err)?
        {
            hhs.extend(int_column(&b, "hh")?.into_iter().flatten());
        }
        if hhs.is_empty() {
            return Ok(out);
        }
        let narrowed = members
            .clone()
            .filter(col("hh").in_list(hhs.iter().map(|h| lit(*h)).collect(), false))
            .map_err(df_err)?;
        let mut keys = super::prefilter::Keys::default();
        for b in narrowed
            .clone()
            .filter(col("excluded").is_null())
            .and_then(|t| t.select_columns(&["person_key"]))
            .map_err(df_err)?
            .collect()
            .await
            .map_err(df_err)?
        {
            keys.add_all(&b)?;
        }
        let full = self.ctx.table_provider("members").await.map_err(df_err)?;
        use datafusion::execution::FunctionRegistry;
        let counted = super::prefilter::COUNTED;
        let (udf, sums_udf) = (
            self.ctx.udf(counted).map_err(df_err)?,
            self.sums.udf(counted).map_err(df_err)?,
        );
        let narrowed_udf = keys.into_udf(counted);
        self.register_table("members", narrowed.into_view())?;
        self.ctx.register_udf(narrowed_udf.clone());
        self.sums.register_udf(narrowed_udf);
        let sums = async {
            let income = self
                .income_plan(params)
                .await?
                .collect()
                .await
                .map_err(df_err)?;
            let assets = self
                .assets_plan(params)
                .await?
                .collect()
                .await
                .map_err(df_err)?;
            Ok::<_, Error>((income, assets))
        }
        .await;
        // The batch's own members and key test again, whatever the sums gave.
        self.register_table("members", full)?;
        self.ctx.register_udf(udf.as_ref().clone());
        self.sums.register_udf(sums_udf.as_ref().clone());
        let (income, assets) = sums?;
        for b in &income {
            for (h, v) in int_column(b, "hh")?
                .into_iter()
                .zip(int_column(b, "income_fen")?)
            {
                if let Some(h) = h {
                    out.entry(h).or_insert((0, 0)).0 = v.unwrap_or_default();
                }
            }
        }
        for b in &assets {
            for (h, v) in int_column(b, "hh")?
                .into_iter()
                .zip(int_column(b, "assets_fen")?)
            {
                if let Some(h) = h {
                    out.entry(h).or_insert((0, 0)).1 = v.unwrap_or_default();
                }
            }
        }
        Ok(out)
    }

    /// The probable records enter their sources' tables, and the income and asset views
    /// are made again over them.
    pub(crate) async fn enter_probable(
        &self,
        params: &super::Parameters,
        probable: &Probable,
    ) -> Result<()> {
        if probable.unions.is_empty() {
            return Ok(());
        }
        for (id, table) in &probable.unions {
            self.register_table(id, table.clone())?;
        }
        self.register_income(params).await?;
        self.register_assets(params).await
    }
}

fn no_column(name: &str) -> Error {
    Error::Inconsistent(format!("an unread file without its {name} column"))
}
