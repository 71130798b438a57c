//! One batch's verification, written as files: household metrics, evidence, findings and
//! outcomes.
//!
//! 1. `households.parquet`: the metrics query (`metrics.sql`) streamed to disk, one
//!    row per household (counted members, income and assets with their limits and the policy
//!    values in force).
//! 2. `evidence.parquet`: every record behind a finding (each rule's plan in `rules/`, which read
//!    the metrics file back as a listing table), with the member's full resident ID, the
//!    record's key in its source and its file and line in the delivery.
//! 3. `findings.parquet` / `findings.csv` and `outcomes.parquet` / `outcomes.csv`: one pass
//!    over the sorted metrics file merges in the findings gathered from the evidence, decides
//!    each household's outcome and writes both, with a sentence for every finding.
//!
//! Every file is sorted, so the same snapshot, policy and code give the same bytes. Memory
//! holds the findings (one entry per household and rule), never the department data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use futures::StreamExt;

use super::decide::{
    DECIDE_WINDOW, Decide, Decided, Findings, OutcomeWriter, Rendered, Tally, decide_batch,
};
use super::evidence::{evidence_batch, evidence_schema};
use super::keys::{HouseholdKeys, with_person_id};
use super::outcome::Rule;
use super::{Engine, df_err};
use crate::output::{ParquetOut, int_column, text_column};
use crate::{Error, Result};
use datafusion::prelude::col;
use hedui_schemas::policy::Policy;

use super::rules::{self, Gathered as Acc};

/// The files [`Engine::verify`] writes, in the order it writes them.
pub const ENGINE_OUTPUTS: &[&str] = &[
    "members.parquet",
    "linkage.parquet",
    "linkage.json",
    "households.parquet",
    "evidence.parquet",
    "findings.parquet",
    "findings.csv",
    "outcomes.parquet",
    "outcomes.csv",
];

/// A finding: a rule that a household fails (FLAG) or that needs a caseworker (REVIEW).
#[derive(Debug, Clone)]
pub struct Finding {
    /// Household id.
    pub household_id: String,
    /// The rule.
    pub rule: Rule,
    /// Its severity under the batch's policy (`Policy::severity`).
    pub severity: hedui_schemas::Severity,
    /// Region code.
    pub region: i64,
    /// Programme code.
    pub programme: String,
    /// Members concerned (packed keys, sorted): every counted member for the sum tests,
    /// else the members the evidence is about.
    pub members: Vec<i64>,
    /// Distinct record keys of the evidence, sorted.
    pub records: Vec<String>,
    /// Evidence rows.
    pub evidence_rows: u64,
    /// The measured value (fen for income and assets, else a count or staff).
    pub measured: i64,
    /// The threshold it is compared with.
    pub threshold: i64,
    /// Counted members.
    pub counted: i64,
    /// Months of the income window.
    pub months: i64,
    /// Dibao standard in force (fen per person per month).
    pub standard_fen: Option<i64>,
    /// Programme multiple in basis points.
    pub multiple_bp: Option<i64>,
    /// Date the standard took effect.
    pub standard_from: Option<NaiveDate>,
    /// Legal reference of the standard.
    pub reference: Option<String>,
    /// What of it rests on probable records (linked by the linkage; probable.rs), if any.
    pub probable: Option<ProbableNote>,
}

/// The part probable records play in a finding (its sentence says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbableNote {
    /// Evidence rows that are probable records.
    pub rows: u64,
    /// For a sum, the measured value without the probable records.
    pub certain: Option<i64>,
}

impl Finding {
    /// The unit of `measured` and `threshold`.
    pub fn unit(&self) -> &'static str {
        self.rule.unit().as_str()
    }
}

/// What a verification wrote, counted.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Households under check.
    pub households: u64,
    /// Households by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Households by region, programme and outcome.
    pub by_region_programme: BTreeMap<String, BTreeMap<String, u64>>,
    /// Findings by rule.
    pub findings: BTreeMap<String, u64>,
    /// Evidence rows written.
    pub evidence_rows: u64,
    /// Sources whose absence leaves every household unverifiable (unless FLAGged).
    pub unverified_sources: Vec<String>,
}

/// A stage of [`Engine::verify`], for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Household resolution.
    Metrics,
    /// The linkage of records whose subject's ID does not read.
    Linkage,
    /// The income and asset sums and the household metrics.
    Sums,
    /// The evidence behind every finding.
    Evidence,
    /// Findings and outcomes per household.
    Outcomes,
}

impl Stage {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Metrics => "households",
            Stage::Linkage => "linkage of unreadable IDs",
            Stage::Sums => "income and assets",
            Stage::Evidence => "rules and evidence",
            Stage::Outcomes => "findings and outcomes",
        }
    }
}

impl Engine {
    /// Verifies every household at `as_of` and writes `households.parquet`,
    /// `evidence.parquet`, `findings.parquet`, `findings.csv`, `outcomes.parquet` and
    /// `outcomes.csv` into `out`.
    pub async fn verify(
        &self,
        policy: &Policy,
        as_of: NaiveDate,
        out: &Path,
        progress: &(dyn Fn(Stage) + Sync),
    ) -> Result<Verified> {
        let params = super::Parameters::new(policy, as_of);
        self.prepare(&params, &policy.name).await?;
        progress(Stage::Metrics);
        // Household resolution once, to a file every later query reads as a table.
        // A person declared twice in a household is merged into one member first.
        let members_path = out.join("members.parquet");
        let keys = std::cell::RefCell::new(HouseholdKeys::default());
        let duplicates = std::cell::RefCell::new(super::members::Duplicates::default());
        let member_keys = std::cell::RefCell::new(super::prefilter::MemberKeys::default());
        let member_rows = |b: &RecordBatch| {
            member_keys.borrow_mut().add(b)?;
            keys.borrow_mut().add_to(&with_person_id(b)?)
        };
        self.stream_to_ending(
            self.members_plan(as_of).await?,
            &members_path,
            |b| {
                let parts = duplicates.borrow_mut().push(b)?;
                parts.iter().map(member_rows).collect()
            },
            || {
                duplicates
                    .take()
                    .finish()?
                    .map(|b| member_rows(&b))
                    .transpose()
            },
        )
        .await?;
        let keys = keys.into_inner();
        self.register_members(&members_path).await?;
        // The quick tests of the counted and the declared members (prefilter.rs), on both
        // sessions: the sums', and the main one's (the owned units, spouses, minor children).
        for udf in member_keys.into_inner().into_udfs() {
            self.sums.register_udf(udf.clone());
            self.ctx.register_udf(udf);
        }
        // Records whose subject's ID does not read, matched to the members (link.rs).
        progress(Stage::Linkage);
        let started = super::StageTimer::start();
        let linkage = self.link(policy, keys.ids.len(), out).await?;
        let records = linkage.report.total.unreadable_id;
        // The linked records whose other fields read: copies of records read, or probable
        // records, which enter their sources' tables (probable.rs).
        let part = super::StageTimer::start();
        let probable = self.attribute(linkage, out).await?;
        let (ms, cpu_ms) = part.ms();
        tracing::debug!(ms, cpu_ms, "linkage probable records");
        let part = super::StageTimer::start();
        let shares = self.probable_shares(&params, &probable).await?;
        let (ms, cpu_ms) = part.ms();
        tracing::debug!(ms, cpu_ms, "linkage probable shares of the sums");
        self.enter_probable(&params, &probable).await?;
        self.register_table("probable_shares", shares_table(&shares)?)?;
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, records, "engine linkage");
        progress(Stage::Sums);
        // The sums, one query after the other, to the engine's scratch folder, in more
        // partitions than the other queries (`SUM_PARTITIONS_FACTOR`).
        self.scratch_table("income_sums", self.income_plan(&params).await?)
            .await?;
        self.scratch_table("asset_sums", self.assets_plan(&params).await?)
            .await?;
        let metrics_path = out.join("households.parquet");
        self.stream_to(self.metrics_plan(&params).await?, &metrics_path, |b| {
            keys.spell_out(b)
        })
        .await?;
        self.register_in_hh_order("metrics", &metrics_path).await?;

        progress(Stage::Evidence);
        // The counted members of the households that fail a sum test, and the units the
        // counted members own, as tables of their own (the rules' plans read them); each of the two
        // sets of members also as a key test (`may_be_over_line`, `may_be_over_limit`:
        // prefilter.rs) that drops most other records as the department tables are read.
        for (name, sql, filter) in OVER_THE_LINES {
            self.scratch_table(name, self.plan_on(&self.ctx, name, sql, &params).await?)
                .await?;
            let mut keys = super::prefilter::Keys::default();
            let members = self.ctx.table(name).await.map_err(df_err)?;
            for b in members.collect().await.map_err(df_err)? {
                keys.add_all(&b)?;
            }
            self.ctx.register_udf(keys.into_udf(filter));
        }
        self.scratch_table("units", self.units_plan(&params).await?)
            .await?;
        let rule_index: BTreeMap<&str, usize> =
            Rule::ALL.iter().map(|r| (r.id(), r.index())).collect();
        let mut acc: BTreeMap<(i64, usize), Acc> = BTreeMap::new();
        // The rules' records first, unsorted, to a scratch file, one rule's query after the
        // other; then one sort over all of them. (Run as one union, every rule's joins build
        // their hash tables at once, and a memory limit cannot spill those; sorting the union
        // directly runs a sort per rule and partition at once, each starved under a limit.)
        let params = super::Parameters::new(policy, as_of);
        let unsorted = self.scratch().join("evidence.unsorted.parquet");
        let schema = unsorted_schema();
        let mut w = ParquetOut::scratch(&unsorted, schema.clone())?;
        for (rule, sql) in rules::RULES
            .iter()
            .filter_map(|d| Some((d.rule, d.evidence?)))
        {
            // Errors name the rule whose query failed (a memory limit names its operator only).
            let query = format!("evidence for {rule}");
            let err = |e| Error::engine(&query, e);
            let started = super::StageTimer::start();
            let df = self.plan_on(&self.ctx, &query, sql, &params).await?;
            let mut stream = df.execute_stream().await.map_err(err)?;
            while let Some(b) = stream.next().await {
                w.write(&conform(&b.map_err(err)?, rule, &schema)?)?;
            }
            let (ms, cpu_ms) = started.ms();
            tracing::debug!(rule = rule.id(), ms, cpu_ms, "engine evidence query");
        }
        w.finish()?;
        self.register_output("evidence_unsorted", &unsorted).await?;
        let schema = evidence_schema();
        let sorted = self
            .ctx
            .table("evidence_unsorted")
            .await
            .and_then(|t| t.sort_by(EVIDENCE_ORDER.iter().map(|c| col(*c)).collect()))
            .map_err(df_err)?;
        let evidence_rows = self
            .stream_to(sorted, &out.join("evidence.parquet"), |b| {
                evidence_batch(b, &schema, &keys, &rule_index, &mut acc, &probable)
            })
            .await?;
        let _ = self
            .ctx
            .deregister_table("evidence_unsorted")
            .map_err(df_err)?;
        std::fs::remove_file(&unsorted).map_err(crate::error::io(&unsorted))?;

        progress(Stage::Outcomes);
        let started = super::StageTimer::start();
        // Counted members of the households that fail a sum test: the members of those
        // findings.
        let mut counted_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for b in self
            .query(
                "SELECT hh, person_key FROM income_members \
                 UNION SELECT hh, person_key FROM asset_members \
                 ORDER BY hh, person_key",
            )
            .await?
        {
            for (h, k) in int_column(&b, "hh")?
                .into_iter()
                .zip(int_column(&b, "person_key")?)
            {
                if let (Some(h), Some(k)) = (h, k) {
                    counted_of.entry(h).or_default().push(k);
                }
            }
        }
        let unverified = self.unverified_sources(policy);
        let mut v = Verified {
            evidence_rows,
            unverified_sources: unverified.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let mut w = OutcomeWriter::create(out)?;
        let unverified_policy: Vec<&str> = unverified.iter().copied().chain(["policy"]).collect();
        // As the outcome files spell them, once rather than per household.
        let (unverified_text, unverified_policy_text) =
            (unverified.join(";"), unverified_policy.join(";"));
        let mut tally = Tally::default();
        // Each batch of households is decided and its rows rendered (sentences, IDs, CSV
        // text) on every core, a window of batches at a time; the rows are written in
        // household order, so the bytes are those of deciding them one by one.
        let c = Decide {
            policy,
            counted_of: &counted_of,
            shares: &shares,
            no_counted_member: Rule::NoCountedMember.index(),
            unverified: &unverified,
            unverified_policy: &unverified_policy,
            unverified_text,
            unverified_policy_text,
        };
        let mut window: Vec<(RecordBatch, Findings)> = Vec::new();
        let mut flush = |window: &mut Vec<(RecordBatch, Findings)>| -> Result<()> {
            use rayon::prelude::*;
            let decided: Vec<Result<(Decided, Rendered)>> = std::mem::take(window)
                .into_par_iter()
                .map(|(b, mut acc)| {
                    let mut d = Decided::default();
                    decide_batch(&b, &mut acc, &c, &mut d)?;
                    d.left = acc;
                    let rows = std::mem::take(&mut d.rows).render()?;
                    Ok((d, rows))
                })
                .collect();
            for d in decided {
                let (d, rows) = d?;
                keys.no_leftover(&d.left)?;
                w.write(rows)?;
                tally.merge(d.tally);
                for (rule, n) in d.findings {
                    *v.findings.entry(rule.into()).or_default() += n;
                }
                v.households += d.households;
            }
            Ok(())
        };
        crate::output::for_each_batch(&metrics_path, |b| {
            // This batch's findings: those of its households (hh ascending), and any before
            // them, which have no household and are reported.
            let last = int_column(&b, "hh")?.into_iter().flatten().max();
            let mine = match last {
                Some(last) => {
                    let rest = acc.split_off(&(last + 1, 0));
                    std::mem::replace(&mut acc, rest)
                }
                None => BTreeMap::new(),
            };
            window.push((b, mine));
            if window.len() >= DECIDE_WINDOW {
                flush(&mut window)?;
            }
            Ok::<_, Error>(())
        })?;
        flush(&mut window)?;
        w.finish()?;
        tally.into(&mut v);
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, "engine outcomes written");
        keys.no_leftover(&acc)?;
        Ok(v)
    }

    /// The logical and physical plans of the batch's queries at `as_of` under `policy`, by
    /// name (`members`, `income`, `assets`, `metrics`, `units`, then each rule's evidence by
    /// its id), or of the one named `only`. After a [`Engine::verify`] they read what it wrote;
    /// before one, empty stand-ins with the same columns. With `analyze` each is run, with
    /// each operator's metrics (rows, time, memory).
    pub async fn explain(
        &self,
        policy: &Policy,
        as_of: NaiveDate,
        analyze: bool,
        only: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let params = super::Parameters::new(policy, as_of);
        self.prepare(&params, &policy.name).await?;
        let mut plans: Vec<(String, datafusion::prelude::DataFrame)> = Vec::new();
        // Each plan, then a stand-in for the table it writes if there is none yet: the
        // columns the engine writes, no rows.
        let members = self.members_plan(as_of).await?;
        let schema = Arc::new(members.schema().as_arrow().clone());
        let empty =
            HouseholdKeys::default().add_to(&with_person_id(&RecordBatch::new_empty(schema))?)?;
        self.stand_in("members", empty.schema()).await?;
        if !self.area_types {
            self.with_null_area_type("members").await?;
        }
        plans.push(("members".into(), members));
        for (name, table, plan) in [
            ("income", "income_sums", self.income_plan(&params).await?),
            ("assets", "asset_sums", self.assets_plan(&params).await?),
        ] {
            self.stand_in(table, Arc::new(plan.schema().as_arrow().clone()))
                .await?;
            plans.push((name.into(), plan));
        }
        let metrics = self.metrics_plan(&params).await?;
        let schema = Arc::new(metrics.schema().as_arrow().clone());
        let empty = HouseholdKeys::default().spell_out(&RecordBatch::new_empty(schema))?;
        self.stand_in("metrics", empty.schema()).await?;
        plans.push(("metrics".into(), metrics));
        for (name, sql, _) in OVER_THE_LINES {
            let plan = self.plan_on(&self.ctx, name, sql, &params).await?;
            self.stand_in(name, Arc::new(plan.schema().as_arrow().clone()))
                .await?;
        }
        let units = self.units_plan(&params).await?;
        self.stand_in("units", Arc::new(units.schema().as_arrow().clone()))
            .await?;
        plans.push(("units".into(), units));
        for d in rules::RULES {
            if let Some(sql) = d.evidence {
                plans.push((
                    d.rule.id().into(),
                    self.plan_on(&self.ctx, d.rule.id(), sql, &params).await?,
                ));
            }
        }
        if let Some(only) = only {
            plans.retain(|(name, _)| name == only);
            if plans.is_empty() {
                return Err(Error::NoSuchPlan {
                    name: only.to_string(),
                });
            }
        }
        let mut out = Vec::new();
        for (name, plan) in plans {
            let mut text = String::new();
            let explained = plan.explain(false, analyze).map_err(df_err)?;
            for b in explained.collect().await.map_err(df_err)? {
                let kinds = text_column(&b, "plan_type")?;
                let texts = text_column(&b, "plan")?;
                for (k, p) in kinds.into_iter().zip(texts) {
                    text.push_str(&format!("-- {}\n", k.as_deref().unwrap_or("")));
                    text.push_str(p.as_deref().unwrap_or(""));
                    text.push('\n');
                }
            }
            out.push((name, text));
        }
        Ok(out)
    }

    /// Registers an empty table `name` with `schema`, unless a table of that name is there.
    async fn stand_in(&self, name: &str, schema: SchemaRef) -> Result<()> {
        if self.ctx.table_exist(name).map_err(df_err)? {
            return Ok(());
        }
        let table =
            datafusion::datasource::MemTable::try_new(schema, vec![vec![]]).map_err(df_err)?;
        self.register_table(name, Arc::new(table))
    }

    /// Sources that a rule needs and that have no staged snapshot.
    pub fn unverified_sources(&self, policy: &Policy) -> Vec<&'static str> {
        let mut needed: BTreeSet<&'static str> =
            super::outcome::MEMBER_SOURCES.iter().copied().collect();
        needed.extend(Rule::ALL.iter().flat_map(|r| r.sources().iter().copied()));
        needed.extend(hedui_schemas::rules::deduction_sources(policy));
        self.missing
            .iter()
            .copied()
            .filter(|s| needed.contains(s))
            .collect()
    }

    /// Writes the result of `plan` to `name.parquet` in the engine's scratch folder and
    /// registers it as table `name`.
    async fn scratch_table(&self, name: &str, plan: datafusion::prelude::DataFrame) -> Result<()> {
        let path = self.scratch().join(format!("{name}.parquet"));
        self.stream_to_ending(plan, &path, |b| Ok(vec![b.clone()]), || Ok(None))
            .await?;
        self.register_output(name, &path).await
    }

    /// Runs `plan` and writes every batch, mapped by `f`, to a Parquet file; returns the rows.
    async fn stream_to(
        &self,
        plan: datafusion::prelude::DataFrame,
        path: &Path,
        mut f: impl FnMut(&RecordBatch) -> Result<RecordBatch>,
    ) -> Result<u64> {
        self.stream_to_ending(plan, path, |b| Ok(vec![f(b)?]), || Ok(None))
            .await
    }

    /// [`Engine::stream_to`] with `f` giving any number of batches for each (holding rows
    /// back, or letting them go), then the rows `end` gives last.
    async fn stream_to_ending(
        &self,
        df: datafusion::prelude::DataFrame,
        path: &Path,
        mut f: impl FnMut(&RecordBatch) -> Result<Vec<RecordBatch>>,
        end: impl FnOnce() -> Result<Option<RecordBatch>>,
    ) -> Result<u64> {
        let started = super::StageTimer::start();
        let file = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        // Errors name the file the query writes (a memory limit names its operator only).
        let query = format!("query for {file}");
        let err = |e| Error::engine(&query, e);
        let schema = df.schema().inner().clone();
        let mut stream = on_a_task(df.execute_stream().await.map_err(err)?);
        let schema = f(&RecordBatch::new_empty(schema))?
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| Error::Inconsistent(format!("query for {file}: no schema")))?;
        let mut out = if path.starts_with(&self.scratch) {
            ParquetOut::scratch(path, schema)?
        } else {
            ParquetOut::create(path, schema)?
        };
        while let Some(b) = stream.next().await {
            for part in f(&b.map_err(err)?)? {
                out.write(&part)?;
            }
        }
        if let Some(b) = end()? {
            out.write(&b)?;
        }
        let rows = out.finish()?;
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(file, rows, ms, cpu_ms, "engine query");
        Ok(rows)
    }
}

/// `stream`, driven by a task of its own on the runtime's workers, in the same order: the
/// plan's last operator (the merge of a sort's partitions, most often) runs there while this
/// thread does what the engine does with each batch (the members' duplicates, the IDs spelt
/// out, the findings gathered), and the writer's thread encodes. Polled here, the merge and
/// that work took turns on one thread, the members' and the evidence's bottleneck.
fn on_a_task(
    mut stream: datafusion::execution::SendableRecordBatchStream,
) -> datafusion::execution::SendableRecordBatchStream {
    let mut task = datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder::new(
        stream.schema(),
        2,
    );
    let tx = task.tx();
    task.spawn(async move {
        while let Some(b) = stream.next().await {
            let failed = b.is_err();
            // A closed channel: the engine stopped reading (an error of its own).
            if tx.send(b).await.is_err() || failed {
                break;
            }
        }
        Ok(())
    });
    task.build()
}

/// The order of `evidence.parquet`: a household's rows by rule, then by record. Every
/// column takes part, so the order (and the file's bytes) does not depend on the order the
/// rules' queries gave their rows in.
const EVIDENCE_ORDER: &[&str] = &[
    "hh",
    "rule",
    "source",
    "record_key",
    "key_a",
    "key_b",
    "person_key",
    "file",
    "line",
];

/// The counted members of the households that fail a sum test, as tables of their own
/// (`income_members`, `asset_members`: the income and asset evidence's), with the key test of
/// each set (prefilter.rs). (Table, plan, test.)
const OVER_THE_LINES: [(&str, &str, &str); 2] = [
    (
        "income_members",
        "SELECT m.hh, m.person_key FROM members m \
         JOIN metrics x ON x.hh = m.hh LEFT JOIN probable_shares p ON p.hh = m.hh \
         WHERE m.excluded IS NULL \
           AND (x.over_line OR x.income_fen - p.income_fen > x.income_limit_fen)",
        super::prefilter::OVER_LINE,
    ),
    (
        "asset_members",
        "SELECT m.hh, m.person_key FROM members m \
         JOIN metrics x ON x.hh = m.hh LEFT JOIN probable_shares p ON p.hh = m.hh \
         WHERE m.excluded IS NULL \
           AND (x.over_limit OR x.assets_fen - p.assets_fen > x.asset_limit_fen)",
        super::prefilter::OVER_LIMIT,
    ),
];

/// The columns of the unsorted evidence: the rules' ([`rules::EVIDENCE_COLUMNS`]) with the
/// rule's id second, before IDs are spelled out.
fn unsorted_schema() -> SchemaRef {
    let mut fields: Vec<Field> = rules::EVIDENCE_COLUMNS
        .iter()
        .map(|(name, t)| Field::new(*name, t.clone(), true))
        .collect();
    fields.insert(1, Field::new("rule", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// One batch of a rule's evidence in the columns of the unsorted evidence file, found by
/// name (`rules::EVIDENCE_COLUMNS`), with the rule's id added.
fn conform(b: &RecordBatch, rule: Rule, schema: &SchemaRef) -> Result<RecordBatch> {
    let cols = schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == "rule" {
                let ids = arrow::array::StringArray::from_iter_values(std::iter::repeat_n(
                    rule.id(),
                    b.num_rows(),
                ));
                return Ok(Arc::new(ids) as ArrayRef);
            }
            let c = b.column_by_name(f.name()).ok_or_else(|| Error::NoColumn {
                file: Some(format!("the evidence plan of {rule}")),
                column: f.name().to_string(),
            })?;
            Ok(arrow::compute::cast(c, f.data_type())?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// What the probable records add to the households' sums (`probable_shares`: hh,
/// income_fen, assets_fen; empty when there are none): a household over a line only without
/// them has a finding too (REVIEW).
pub(crate) fn shares_table(
    shares: &std::collections::HashMap<i64, (i64, i64)>,
) -> Result<Arc<datafusion::datasource::MemTable>> {
    use arrow::array::Int64Array;
    let schema = Arc::new(Schema::new(vec![
        Field::new("hh", DataType::Int64, false),
        Field::new("income_fen", DataType::Int64, false),
        Field::new("assets_fen", DataType::Int64, false),
    ]));
    let mut rows: Vec<(i64, (i64, i64))> = shares.iter().map(|(h, v)| (*h, *v)).collect();
    rows.sort_unstable();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1.1))),
        ],
    )?;
    Ok(Arc::new(
        datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])
            .map_err(super::df_err)?,
    ))
}
