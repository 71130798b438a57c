//! Probable records (issue #28): the rows the linkage attributed to a member, entered into the
//! sums and the rules.
//!
//! Ingestion stages a row rejected for its subject's ID alone with its other values
//! (`staged/<source>.unread.parquet`, no subject key). A row the linkage `linked` to a member
//! is taken from there with the member's key and is then one of three things:
//!
//! - a **copy** of a record of the member that was read (every value but the ID the same as
//!   an accepted row of theirs in the source), or of a probable record before it: nothing
//!   new, and it counts once. Ingestion found, for each unread row, the people with a row
//!   read like it (the file's `_copy_of` column, `hedui_connectors::copies`), so the member's
//!   rows are not read again; for a snapshot staged before that column, they are read and
//!   compared here;
//! - else a **probable record**: it joins its source's table (`<source>` becomes the staged
//!   rows and these, a union), so the sums and every rule read it; a finding that depends on
//!   it is REVIEW, never FLAG (decide.rs), and what the probable records add to the sums of
//!   the households that have some is worked out (`probable_shares`), to tell which;
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
    /// Each source with probable records, and those records (the staged schema, the
    /// members' keys), for [`Engine::probable_shares`] and [`Engine::enter_probable`].
    extra: Vec<(&'static hedui_schemas::SourceDef, Vec<RecordBatch>)>,
    /// The rows read of the members linked in a source of the sums, and those members, by
    /// source: what the sums' share of the probable records is worked out over, where those
    /// members include every one with a probable record.
    read: Vec<(
        &'static hedui_schemas::SourceDef,
        BTreeSet<i64>,
        Vec<RecordBatch>,
    )>,
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
            // Whether ingestion found, for each row, the people with a row read like it
            // (`_copy_of`; a snapshot staged before it did not).
            let copy_of = hedui_schemas::catalog::COPY_OF_COLUMN;
            let told = unread
                .first()
                .is_some_and(|b| b.column_by_name(copy_of).is_some());
            // The linked rows taken (the staged schema), which rows of `rows` they are, and
            // (where ingestion told) whether each repeats a row of its member that was read.
            let mut taken: Vec<(RecordBatch, Vec<usize>)> = Vec::new();
            let mut copies: Vec<bool> = Vec::new();
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
                if let Some(c) = b.column_by_name(copy_of) {
                    let c = c.as_list::<i32>();
                    for (i, k) in idx.iter().zip(&keys) {
                        let of = c.value(*i as usize);
                        let of = of.as_primitive::<arrow::datatypes::Int64Type>();
                        copies.push(of.values().contains(k));
                    }
                }
                let idx = UInt32Array::from(idx);
                let schema = b.schema();
                let (fields, columns): (Vec<_>, Vec<_>) = schema
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .filter(|(f, _)| f.name() != copy_of)
                    .map(|(f, c)| {
                        let c = if f.name() == &key_col {
                            Arc::new(Int64Array::from(keys.clone())) as ArrayRef
                        } else {
                            arrow::compute::take(c, &idx, None)?
                        };
                        Ok((f.clone(), c))
                    })
                    .collect::<Result<Vec<_>>>()?
                    .into_iter()
                    .unzip();
                let schema = Arc::new(arrow::datatypes::Schema::new(fields));
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
            // The rows seen: a linked row like one of them is a copy.
            let mut seen: HashSet<arrow::row::OwnedRow> = HashSet::new();
            if !told {
                // The rows of those members that were read, as rows to compare.
                let started = crate::StageTimer::start();
                let accepted = self
                    .rows_of(def, &persons)
                    .await?
                    .collect()
                    .await
                    .map_err(df_err)?;
                let (ms, cpu_ms) = started.ms();
                tracing::debug!(
                    source = def.id,
                    persons = persons.len(),
                    ms,
                    cpu_ms,
                    "linkage rows read of the linked members"
                );
                if feeds_sums(def) {
                    let who = persons.iter().copied().collect();
                    probable.read.push((def, who, accepted.clone()));
                }
                for b in &accepted {
                    let cols: Vec<ArrayRef> =
                        content.iter().map(|i| b.column(*i).clone()).collect();
                    let converted = converter.convert_columns(&cols)?;
                    seen.extend(converted.iter().map(|r| r.owned()));
                }
            }
            let mut kept: Vec<RecordBatch> = Vec::new();
            let mut copy = copies.into_iter();
            for (b, which) in &taken {
                let cols: Vec<ArrayRef> = content.iter().map(|i| b.column(*i).clone()).collect();
                let converted = converter.convert_columns(&cols)?;
                let mut keep = Vec::new();
                for (i, r) in which.iter().enumerate() {
                    read[*r] = true;
                    let counts = report.sources.entry(source.to_string()).or_default();
                    // (Both asked: the row is remembered either way.)
                    let repeats_one_read = copy.next().unwrap_or(false);
                    if seen.insert(converted.row(i).owned()) && !repeats_one_read {
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
            probable.extra.push((def, kept));
        }
        self.register_table("linked", linked_table(&rows, &read)?)?;
        write_report(&report, out)?;
        Ok(probable)
    }
}

impl Engine {
    /// The rows of `persons` in `def`'s staged table.
    async fn rows_of(
        &self,
        def: &'static hedui_schemas::SourceDef,
        persons: &[i64],
    ) -> Result<datafusion::prelude::DataFrame> {
        let key = col(format!("{}_key", def.subject().name));
        self.ctx
            .table(def.id)
            .await
            .and_then(|t| t.filter(key.in_list(persons.iter().map(|k| lit(*k)).collect(), false)))
            .map_err(df_err)
    }

    /// The rows of `persons` in `def`'s staged table with just the `wanted` columns read: the
    /// others are left empty (the table's columns, each nullable).
    async fn columns_of(
        &self,
        def: &'static hedui_schemas::SourceDef,
        persons: &[i64],
        wanted: &BTreeSet<String>,
    ) -> Result<Vec<RecordBatch>> {
        let table = self.rows_of(def, persons).await?;
        let schema: arrow::datatypes::Schema = table.schema().as_arrow().clone();
        let read: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .filter(|n| wanted.contains(*n))
            .collect();
        let batches = table
            .select_columns(&read)
            .map_err(df_err)?
            .collect()
            .await
            .map_err(df_err)?;
        let all = Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        batches
            .into_iter()
            .map(|b| {
                let columns = all
                    .fields()
                    .iter()
                    .map(|f| match b.column_by_name(f.name()) {
                        Some(c) => c.clone(),
                        None => arrow::array::new_null_array(f.data_type(), b.num_rows()),
                    })
                    .collect();
                Ok(RecordBatch::try_new(all.clone(), columns)?)
            })
            .collect()
    }

    /// The columns of each table the sums' plans read (their scans' projections and
    /// filters, the views inlined), by table.
    async fn sums_columns(
        &self,
        params: &super::Parameters,
    ) -> Result<HashMap<String, BTreeSet<String>>> {
        use datafusion::common::tree_node::TreeNodeRecursion;
        use datafusion::logical_expr::LogicalPlan;
        let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
        for plan in [
            self.income_plan(params).await?,
            self.assets_plan(params).await?,
        ] {
            let plan = plan.into_optimized_plan().map_err(df_err)?;
            plan.apply_with_subqueries(|n| {
                if let LogicalPlan::TableScan(t) = n {
                    let cols = out.entry(t.table_name.table().to_string()).or_default();
                    cols.extend(t.projected_schema.fields().iter().map(|f| f.name().clone()));
                    for f in &t.filters {
                        cols.extend(f.column_refs().into_iter().map(|c| c.name.clone()));
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .map_err(df_err)?;
        }
        Ok(out)
    }

    /// What the probable records add to the income and the assets of each household whose
    /// counted members have some in a source of the sums: (income, assets) by `hh`, the
    /// sums with them less the sums without them. A member's income and assets are their own
    /// records' (a month's largest wage figure, the latest value of each account), so the
    /// difference is the same over those members' records alone: the sums' own plans run
    /// twice over just their rows (the columns the sums read, with the filter pushed into the
    /// reader, held in memory), with and without the probable ones, and `members` and
    /// `may_be_counted` narrowed to their households, all put back after.
    pub(crate) async fn probable_shares(
        &self,
        params: &super::Parameters,
        probable: &Probable,
    ) -> Result<HashMap<i64, (i64, i64)>> {
        use datafusion::execution::FunctionRegistry;
        let mut out = HashMap::new();
        if probable.sum_persons.is_empty() {
            return Ok(out);
        }
        let persons: Vec<i64> = probable.sum_persons.iter().copied().collect();
        let members = self.ctx.table("members").await.map_err(df_err)?;
        let mut hhs = BTreeSet::new();
        for b in
            members
                .clone()
                .filter(col("excluded").is_null().and(
                    col("person_key").in_list(persons.iter().map(|k| lit(*k)).collect(), false),
                ))
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
        // Those households' counted members that have probable records: the others'
        // rows are not read, and add the same (nothing) with and without.
        let mut keys = super::prefilter::Keys::default();
        keys.add_all(&RecordBatch::try_new(
            Arc::new(arrow::datatypes::Schema::new(vec![
                arrow::datatypes::Field::new("person_key", DataType::Int64, false),
            ])),
            vec![Arc::new(Int64Array::from(persons.clone()))],
        )?)?;
        // A member's income and assets add up over the sources but for the month's largest
        // wage figure: the sources with probable records are read, and every wage source
        // when one of them has some; the others add the same with and without.
        let wage = |d: &hedui_schemas::SourceDef| d.counts.is_some_and(|c| c.wage.is_some());
        let any_wage = probable.extra.iter().any(|(d, _)| wage(d));
        let needed: Vec<&'static hedui_schemas::SourceDef> = hedui_schemas::all_sources()
            .iter()
            .copied()
            .filter(|d| feeds_sums(d))
            .filter(|d| (any_wage && wage(d)) || probable.extra.iter().any(|(e, _)| e.id == d.id))
            .collect();
        // (Where the linked members' rows were read already and those members include every
        // member with a probable record, those rows are used: the other members' rows add the
        // same with and without. Else only the columns the sums read are read.)
        let read_columns = self.sums_columns(params).await?;
        let mut rows: Vec<(&'static hedui_schemas::SourceDef, Vec<RecordBatch>)> = Vec::new();
        for def in &needed {
            let read = probable
                .read
                .iter()
                .find(|(d, who, _)| d.id == def.id && who.is_superset(&probable.sum_persons));
            let b = match read {
                Some((_, _, b)) => b.clone(),
                None => {
                    let wanted = read_columns.get(def.id).cloned().unwrap_or_default();
                    self.columns_of(def, &persons, &wanted).await?
                }
            };
            rows.push((def, b));
        }
        // The tables and the key test put aside, to be put back whatever happens.
        let mut saved = Vec::new();
        for def in hedui_schemas::all_sources()
            .iter()
            .filter(|d| feeds_sums(d))
        {
            saved.push((def, self.ctx.table_provider(def.id).await.map_err(df_err)?));
        }
        let full = self.ctx.table_provider("members").await.map_err(df_err)?;
        let counted = super::prefilter::COUNTED;
        let (udf, sums_udf) = (
            self.ctx.udf(counted).map_err(df_err)?,
            self.sums.udf(counted).map_err(df_err)?,
        );
        let narrowed_udf = keys.into_udf(counted);
        // (Held in memory: the sums' plans run twice over them.)
        let narrowed = Self::held(full.schema(), narrowed.collect().await.map_err(df_err)?)?;
        self.register_table("members", narrowed)?;
        self.ctx.register_udf(narrowed_udf.clone());
        self.sums.register_udf(narrowed_udf);
        let sums = async {
            let mut runs = Vec::new();
            for with_probable in [false, true] {
                for (def, table) in &saved {
                    // The table's columns, each nullable (the columns not read are empty):
                    // the rows read, and the probable records. (A source not read: none.)
                    let schema = Arc::new(arrow::datatypes::Schema::new(
                        table
                            .schema()
                            .fields()
                            .iter()
                            .map(|f| f.as_ref().clone().with_nullable(true))
                            .collect::<Vec<_>>(),
                    ));
                    let read = rows.iter().find(|(d, _)| d.id == def.id);
                    let extra = probable.extra.iter().find(|(d, _)| d.id == def.id);
                    let batches: Vec<RecordBatch> = [
                        read.map(|r| &r.1),
                        extra.filter(|_| with_probable).map(|e| &e.1),
                    ]
                    .into_iter()
                    .flatten()
                    .flatten()
                    .cloned()
                    .collect();
                    self.register_table(def.id, Self::held(schema, batches)?)?;
                }
                self.register_income(params).await?;
                self.register_assets(params).await?;
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
                runs.push((income, assets));
            }
            Ok::<_, Error>(runs)
        }
        .await;
        // The batch's own tables, members and key test again, whatever the sums gave.
        for (def, table) in saved {
            self.register_table(def.id, table)?;
        }
        self.register_table("members", full)?;
        self.ctx.register_udf(udf.as_ref().clone());
        self.sums.register_udf(sums_udf.as_ref().clone());
        self.register_income(params).await?;
        self.register_assets(params).await?;
        // The sums with the probable records less the sums without, per household.
        let mut add = |batches: &[RecordBatch], column: &str, sign: i64, income: bool| {
            for b in batches {
                for (h, v) in int_column(b, "hh")?.into_iter().zip(int_column(b, column)?) {
                    if let Some(h) = h {
                        let e = out.entry(h).or_insert((0, 0));
                        let share = if income { &mut e.0 } else { &mut e.1 };
                        *share += sign * v.unwrap_or_default();
                    }
                }
            }
            Ok::<_, Error>(())
        };
        for (sign, (income, assets)) in [-1i64, 1].into_iter().zip(sums?) {
            add(&income, "income_fen", sign, true)?;
            add(&assets, "assets_fen", sign, false)?;
        }
        Ok(out)
    }

    /// The probable records enter their sources' tables (each the union of its staged rows
    /// and its probable records), and the income and asset views are made again over them.
    pub(crate) async fn enter_probable(
        &self,
        params: &super::Parameters,
        probable: &Probable,
    ) -> Result<()> {
        if probable.extra.is_empty() {
            return Ok(());
        }
        for (def, extra) in &probable.extra {
            let staged = self.ctx.table(def.id).await.map_err(df_err)?;
            let extra = match extra.first() {
                // On a cluster the rows go to the scratch folder, for the executors to read.
                Some(first) if self.on_cluster => {
                    let name = format!("{}_probable", def.id);
                    self.register_table(&name, Self::held(first.schema(), extra.clone())?)?;
                    self.ctx.table(name.as_str()).await.map_err(df_err)?
                }
                _ => self.ctx.read_batches(extra.clone()).map_err(df_err)?,
            };
            let both = staged.union(extra).map_err(df_err)?;
            self.register_table(def.id, self.view(both))?;
        }
        self.register_income(params).await?;
        self.register_assets(params).await
    }
}

fn no_column(name: &str) -> Error {
    Error::Inconsistent(format!("an unread file without its {name} column"))
}
