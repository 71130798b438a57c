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

use arrow::array::{Array, ArrayRef, AsArray, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use futures::StreamExt;
use hedui_schemas::ResidentId;

use super::outcome::{Rule, decide};
use super::{Engine, df_err};
use crate::output::{CsvOut, ParquetOut, bool_column, int_column, text_column, utf8_column};
use crate::policy::Policy;
use crate::{Error, Result};
use datafusion::prelude::col;

/// The files [`Engine::verify`] writes, in the order it writes them.
pub const ENGINE_OUTPUTS: &[&str] = &[
    "members.parquet",
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
    /// Household resolution, income and asset sums.
    Metrics,
    /// The evidence behind every finding.
    Evidence,
    /// Findings and outcomes per household.
    Outcomes,
}

impl Stage {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Metrics => "households, income and assets",
            Stage::Evidence => "rules and evidence",
            Stage::Outcomes => "findings and outcomes",
        }
    }
}

use super::rules::{self, Figures, Gathered as Acc, Measured};

fn evidence_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, true),
        Field::new("person_key", DataType::Int64, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, true),
        Field::new("amount_fen", DataType::Int64, true),
        Field::new("date", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::Int64, true),
    ]))
}

fn findings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("region", DataType::Int64, false),
        Field::new("programme", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("members", DataType::Utf8, false),
        Field::new("measured", DataType::Int64, false),
        Field::new("threshold", DataType::Int64, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("standard_from", DataType::Utf8, true),
        Field::new("reference", DataType::Utf8, true),
        Field::new("evidence_rows", DataType::Int64, false),
        Field::new("sentence_zh", DataType::Utf8, false),
        Field::new("sentence_en", DataType::Utf8, false),
    ]))
}

fn outcomes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("region", DataType::Int64, false),
        Field::new("programme", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("rules", DataType::Utf8, false),
        Field::new("unverified_sources", DataType::Utf8, false),
        Field::new("declared", DataType::Int64, false),
        Field::new("counted", DataType::Int64, false),
    ]))
}

const FINDINGS_CSV: &[&str] = &[
    "household_id",
    "region",
    "programme",
    "rule",
    "severity",
    "members",
    "measured",
    "threshold",
    "unit",
    "standard_from",
    "reference",
    "evidence_rows",
    "sentence_zh",
    "sentence_en",
];

const OUTCOMES_CSV: &[&str] = &[
    "household_id",
    "region",
    "programme",
    "outcome",
    "rules",
    "unverified_sources",
    "declared",
    "counted",
];

fn id_text(key: i64) -> String {
    let mut s = String::with_capacity(18);
    push_id(&mut s, key);
    s
}

fn id_masked(key: i64) -> String {
    ResidentId::unpack(key)
        .map(|id| id.masked())
        .unwrap_or_else(|| "#invalid".into())
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
        self.register_in_hh_order("members", &members_path).await?;
        // The quick tests of the counted and the declared members (prefilter.rs), on both
        // sessions: the sums', and the main one's (the owned units, spouses, minor children).
        for udf in member_keys.into_inner().into_udfs() {
            self.sums.register_udf(udf.clone());
            self.ctx.register_udf(udf);
        }
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
                evidence_batch(b, &schema, &keys, &rule_index, &mut acc)
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
            Ok(())
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
                return Err(Error::Invalid(format!(
                    "explain: no plan named {only} (members, income, assets, metrics, units, or a rule with evidence)"
                )));
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
        self.ctx
            .register_table(name, Arc::new(table))
            .map_err(df_err)?;
        Ok(())
    }

    /// Sources that a rule needs and that have no staged snapshot.
    pub fn unverified_sources(&self, policy: &Policy) -> Vec<&'static str> {
        let mut needed: BTreeSet<&'static str> =
            super::outcome::MEMBER_SOURCES.iter().copied().collect();
        needed.extend(Rule::ALL.iter().flat_map(|r| r.sources().iter().copied()));
        if policy.deduct_medical_expense {
            needed.insert("medical_expense");
        }
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
            .ok_or_else(|| Error::Invalid(format!("query for {file}: no schema")))?;
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

/// Numbers households 0, 1, 2, ... in the order they come (members are sorted by household
/// id, so the numbers follow it): `hh`, the key the later queries group, join and sort on.
#[derive(Default)]
struct HouseholdKeys {
    /// Household ids by `hh`.
    ids: Vec<String>,
}

impl HouseholdKeys {
    /// Adds `hh` after `household_id`.
    fn add_to(&mut self, b: &RecordBatch) -> Result<RecordBatch> {
        let col = utf8_column(b, "household_id")?;
        let col = col.as_string::<i32>();
        let mut hh = Int64Builder::with_capacity(b.num_rows());
        for id in col.iter() {
            let id = id.unwrap_or_default();
            if self.ids.last().map(String::as_str) != Some(id) {
                self.ids.push(id.to_string());
            }
            hh.append_value(self.ids.len() as i64 - 1);
        }
        insert_after(
            b,
            "household_id",
            Field::new("hh", DataType::Int64, false),
            Arc::new(hh.finish()),
        )
    }

    /// The household id of `hh`, if there is such a household.
    fn id(&self, hh: i64) -> Option<&str> {
        usize::try_from(hh)
            .ok()
            .and_then(|h| self.ids.get(h))
            .map(String::as_str)
    }

    /// Fails on findings left with no household in the metrics to decide them.
    fn no_leftover(&self, left: &Findings) -> Result<()> {
        match left.first_key_value() {
            Some(((hh, r), _)) => Err(Error::Invalid(format!(
                "engine: evidence for {} ({}) but no such household in the metrics",
                self.id(*hh).unwrap_or("?"),
                Rule::ALL[*r].id()
            ))),
            None => Ok(()),
        }
    }

    /// Puts `household_id` (spelled out from `hh`) first.
    fn spell_out(&self, b: &RecordBatch) -> Result<RecordBatch> {
        let hh = int_column(b, "hh")?;
        // A view array, as the MIN over the members' ids gave before (the same bytes).
        let mut ids = arrow::array::StringViewBuilder::with_capacity(hh.len());
        for h in hh {
            let id = h
                .and_then(|h| self.id(h))
                .ok_or_else(|| Error::Invalid(format!("engine: no household #{h:?}")))?;
            ids.append_value(id);
        }
        let mut fields = vec![Field::new("household_id", DataType::Utf8View, true)];
        fields.extend(b.schema().fields().iter().map(|f| f.as_ref().clone()));
        let mut cols: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
        cols.extend(b.columns().iter().cloned());
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
    }
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
         JOIN metrics x ON x.hh = m.hh WHERE m.excluded IS NULL AND x.over_line",
        super::prefilter::OVER_LINE,
    ),
    (
        "asset_members",
        "SELECT m.hh, m.person_key FROM members m \
         JOIN metrics x ON x.hh = m.hh WHERE m.excluded IS NULL AND x.over_limit",
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
            let c = b.column_by_name(f.name()).ok_or_else(|| {
                Error::Invalid(format!(
                    "engine: the evidence plan of {rule} gives no column {}",
                    f.name()
                ))
            })?;
            Ok(arrow::compute::cast(c, f.data_type())?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// Adds `person_id` (the full resident ID, from the packed key) after `person_key`.
fn with_person_id(b: &RecordBatch) -> Result<RecordBatch> {
    let keys = int_column(b, "person_key")?;
    let mut ids = StringBuilder::with_capacity(keys.len(), keys.len() * 18);
    for k in keys {
        append_id(&mut ids, k)?;
    }
    let ids = ids.finish();
    insert_after(
        b,
        "person_key",
        Field::new("person_id", DataType::Utf8, true),
        Arc::new(ids),
    )
}

/// Writes the full resident ID a packed key stands for (`#key` when it is none) to `out`.
fn write_id(out: &mut impl std::fmt::Write, key: i64) -> std::fmt::Result {
    match ResidentId::ascii_of_key(key) {
        Some(a) => out.write_str(std::str::from_utf8(&a).map_err(|_| std::fmt::Error)?),
        None => write!(out, "#{key}"),
    }
}

/// [`write_id`] to a `String` (which cannot fail).
fn push_id(out: &mut String, key: i64) {
    let _ = write_id(out, key);
}

/// Appends the full resident ID a packed key stands for (`#key` when it is none; null for
/// null) to `out`, without a `String` per value.
fn append_id(out: &mut StringBuilder, key: Option<i64>) -> Result<()> {
    let Some(k) = key else {
        out.append_null();
        return Ok(());
    };
    write_id(out, k).map_err(|e| Error::Invalid(format!("engine: person {k}: {e}")))?;
    out.append_value("");
    Ok(())
}

/// `b` with `column` added right after the column named `after`.
fn insert_after(
    b: &RecordBatch,
    after: &str,
    field: Field,
    column: ArrayRef,
) -> Result<RecordBatch> {
    let schema = b.schema();
    let at = schema.index_of(after)? + 1;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.insert(at, field);
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols.insert(at, column);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Households counted by outcome, and by region, programme and outcome, without a key
/// allocated per household (a region has a few programmes: they are looked up in a list).
#[derive(Default)]
struct Tally {
    by_region: std::collections::HashMap<i64, Vec<(String, OutcomeCounts)>>,
}

/// Households by outcome.
type OutcomeCounts = BTreeMap<&'static str, u64>;

impl Tally {
    /// The counts of one region and programme.
    fn counts(&mut self, region: i64, programme: &str) -> &mut OutcomeCounts {
        let programmes = self.by_region.entry(region).or_default();
        let at = match programmes.iter().position(|(p, _)| p == programme) {
            Some(at) => at,
            None => {
                programmes.push((programme.to_string(), BTreeMap::new()));
                programmes.len() - 1
            }
        };
        &mut programmes[at].1
    }

    fn add(&mut self, region: i64, programme: &str, outcome: &'static str) {
        *self.counts(region, programme).entry(outcome).or_default() += 1;
    }

    /// Adds another tally's counts.
    fn merge(&mut self, other: Tally) {
        for (region, programmes) in other.by_region {
            for (programme, outcomes) in programmes {
                let mine = self.counts(region, &programme);
                for (outcome, n) in outcomes {
                    *mine.entry(outcome).or_default() += n;
                }
            }
        }
    }

    /// Adds the counts to `v` (its maps are ordered, so the order of adding does not show).
    fn into(self, v: &mut Verified) {
        for (region, programmes) in self.by_region {
            for (programme, outcomes) in programmes {
                let by = v
                    .by_region_programme
                    .entry(format!("{region} {programme}"))
                    .or_default();
                for (outcome, n) in outcomes {
                    *by.entry(outcome.into()).or_default() += n;
                    *v.outcomes.entry(outcome.into()).or_default() += n;
                }
            }
        }
    }
}

/// What [`decide_batch`] reads: the same for every batch.
struct Decide<'a> {
    policy: &'a Policy,
    counted_of: &'a BTreeMap<i64, Vec<i64>>,
    no_counted_member: usize,
    unverified: &'a [&'a str],
    unverified_policy: &'a [&'a str],
    unverified_text: String,
    unverified_policy_text: String,
}

/// One batch of households decided: its rows, counts, and any findings left over (for no
/// household of the batch).
#[derive(Default)]
struct Decided {
    rows: OutcomeRows,
    tally: Tally,
    findings: BTreeMap<&'static str, u64>,
    households: u64,
    left: BTreeMap<(i64, usize), Acc>,
}

/// Findings gathered from the evidence, by household (`hh`) and rule.
type Findings = BTreeMap<(i64, usize), Acc>;

/// Batches of households decided at once, one per task.
const DECIDE_WINDOW: usize = 8;

/// Decides the households of one batch of the metrics file, with `acc` holding their
/// findings (taken as they are used), into `d`.
fn decide_batch(
    b: &RecordBatch,
    acc: &mut BTreeMap<(i64, usize), Acc>,
    c: &Decide<'_>,
    d: &mut Decided,
) -> Result<()> {
    let ids = utf8_column(b, "household_id")?;
    let ids = ids.as_string::<i32>();
    let hhs = int_column(b, "hh")?;
    let regions = int_column(b, "region")?;
    let programmes = utf8_column(b, "programme")?;
    let programmes = programmes.as_string::<i32>();
    let declared = int_column(b, "declared")?;
    let counted = int_column(b, "counted")?;
    let standard = int_column(b, "standard_fen")?;
    let from = utf8_column(b, "standard_from")?;
    let from = from.as_string::<i32>();
    let reference = utf8_column(b, "reference")?;
    let reference = reference.as_string::<i32>();
    let multiple = int_column(b, "multiple_bp")?;
    let months = int_column(b, "months")?;
    let income = int_column(b, "income_fen")?;
    let income_limit = int_column(b, "income_limit_fen")?;
    let over_line = bool_column(b, "over_line")?;
    let assets = int_column(b, "assets_fen")?;
    let asset_limit = int_column(b, "asset_limit_fen")?;
    for i in 0..b.num_rows() {
        let (Some(h), Some(hh)) = (ids.is_valid(i).then(|| ids.value(i)), hhs[i]) else {
            continue;
        };
        let region = regions[i].unwrap_or_default();
        let programme = if programmes.is_valid(i) {
            programmes.value(i)
        } else {
            ""
        };
        let counted = counted[i].unwrap_or_default();
        let mut found: Vec<(usize, Acc)> = Vec::new();
        while let Some(entry) = acc.first_entry() {
            if entry.key().0 != hh {
                break;
            }
            let ((_, r), a) = entry.remove_entry();
            found.push((r, a));
        }
        if counted == 0 {
            found.push((c.no_counted_member, Acc::default()));
            found.sort_by_key(|f| f.0);
        }
        let mut findings = Vec::with_capacity(found.len());
        for (r, a) in found {
            let rule = Rule::ALL[r];
            let figures = Figures {
                income_fen: income[i].unwrap_or_default(),
                income_limit_fen: income_limit[i].unwrap_or_default(),
                assets_fen: assets[i].unwrap_or_default(),
                asset_limit_fen: asset_limit[i].unwrap_or_default(),
                counted_members: c.counted_of.get(&hh).map_or(&[], Vec::as_slice),
                policy: c.policy,
            };
            let Measured {
                measured,
                threshold,
                members,
            } = (rules::def(rule).measure)(&a, &figures);
            findings.push(Finding {
                household_id: h.to_string(),
                rule,
                region,
                programme: programme.to_string(),
                members,
                records: a.records.into_iter().collect(),
                evidence_rows: a.rows,
                measured,
                threshold,
                counted,
                months: months[i].unwrap_or_default(),
                standard_fen: standard[i],
                multiple_bp: multiple[i],
                standard_from: from
                    .is_valid(i)
                    .then(|| from.value(i).parse().ok())
                    .flatten(),
                reference: reference
                    .is_valid(i)
                    .then(|| reference.value(i).to_string()),
            });
        }
        let no_policy = standard[i].is_none() || multiple[i].is_none() || over_line[i].is_none();
        let unv: &[&str] = if no_policy {
            c.unverified_policy
        } else {
            c.unverified
        };
        let outcome = decide(findings.iter().map(|f| f.rule), unv).as_str();
        d.tally.add(region, programme, outcome);
        for f in &findings {
            *d.findings.entry(f.rule.id()).or_default() += 1;
            d.rows.finding(f, c.policy)?;
        }
        d.households += 1;
        d.rows.outcome(
            h,
            region,
            programme,
            outcome,
            &findings,
            if no_policy {
                &c.unverified_policy_text
            } else {
                &c.unverified_text
            },
            declared[i].unwrap_or_default(),
            counted,
        )?;
    }
    Ok(())
}

/// One batch of the evidence query: mapped to the output schema ([`render_evidence`]) and its
/// findings gathered ([`gather_evidence`]) side by side, on two threads: the batches come
/// from one sorted stream, and done one after the other on the thread that reads it, the two
/// were the evidence stage's bottleneck (the sort's workers and the writer's thread waited).
fn evidence_batch(
    b: &RecordBatch,
    schema: &SchemaRef,
    keys: &HouseholdKeys,
    rule_index: &BTreeMap<&str, usize>,
    acc: &mut BTreeMap<(i64, usize), Acc>,
) -> Result<RecordBatch> {
    let (gathered, rendered) = rayon::join(
        || gather_evidence(b, rule_index, acc),
        || render_evidence(b, schema, keys),
    );
    gathered?;
    rendered
}

/// A text column of the evidence query, read as borrowed strings: no allocation per row, and
/// no copy of a column the query gives as string views.
fn evidence_text(b: &RecordBatch, col: &str) -> Result<ArrayRef> {
    match b.column_by_name(col) {
        Some(c) if c.data_type() == &DataType::Utf8View => Ok(c.clone()),
        _ => utf8_column(b, col),
    }
}

/// Row `i` of a column from [`evidence_text`].
fn text_value(a: &ArrayRef, i: usize) -> Option<&str> {
    if a.data_type() == &DataType::Utf8View {
        let a = a.as_string_view();
        a.is_valid(i).then(|| a.value(i))
    } else {
        let a = a.as_string::<i32>();
        a.is_valid(i).then(|| a.value(i))
    }
}

/// The record key of row `i`: the record's own (`record_key`), else the IDs it is made of
/// (`key_a`, `key_b`) spelled out.
fn record_key_of<'a>(
    key: &'a ArrayRef,
    key_a: &[Option<i64>],
    key_b: &[Option<i64>],
    i: usize,
) -> Option<std::borrow::Cow<'a, str>> {
    match (text_value(key, i), key_a[i], key_b[i]) {
        (Some(k), _, _) => Some(k.into()),
        (None, Some(a), Some(b)) => Some(format!("{}+{}", id_text(a), id_text(b)).into()),
        (None, Some(a), None) => Some(id_text(a).into()),
        (None, None, _) => None,
    }
}

/// Adds the rows of one batch of the evidence query to the findings they make (`acc`: per
/// household and rule, the persons and records concerned, the measure, the rows).
fn gather_evidence(
    b: &RecordBatch,
    rule_index: &BTreeMap<&str, usize>,
    acc: &mut BTreeMap<(i64, usize), Acc>,
) -> Result<()> {
    let hh = int_column(b, "hh")?;
    let rule = evidence_text(b, "rule")?;
    let person = int_column(b, "person_key")?;
    let source = evidence_text(b, "source")?;
    let key = evidence_text(b, "record_key")?;
    let key_a = int_column(b, "key_a")?;
    let key_b = int_column(b, "key_b")?;
    let measure = int_column(b, "measure")?;
    let mut last_rule: Option<(&str, usize)> = None;
    let mut current: Option<((i64, usize), Acc)> = None;
    for i in 0..b.num_rows() {
        let (Some(h), Some(r), Some(_)) = (hh[i], text_value(&rule, i), text_value(&source, i))
        else {
            return Err(Error::Invalid(
                "engine: evidence row without household, rule or source".into(),
            ));
        };
        // The rows come sorted by household and rule: a finding's rows follow each other,
        // so the rule and the finding are looked up once per finding, not per row.
        let ri = match last_rule {
            Some((name, ri)) if name == r => ri,
            _ => {
                let ri = *rule_index
                    .get(r)
                    .ok_or_else(|| Error::Invalid(format!("engine: unknown rule {r}")))?;
                last_rule = Some((r, ri));
                ri
            }
        };
        if current.as_ref().is_none_or(|(k, _)| *k != (h, ri)) {
            // (Taken out while its rows are read; already there when an earlier batch
            // ended inside it.)
            if let Some((k, a)) = current.take() {
                acc.insert(k, a);
            }
            current = Some(((h, ri), acc.remove(&(h, ri)).unwrap_or_default()));
        }
        let a = &mut current.as_mut().expect("set above").1;
        if let Some(p) = person[i] {
            a.persons.insert(p);
        }
        if let Some(m) = measure[i] {
            a.measure = Some(a.measure.map_or(m, |x: i64| x.max(m)));
        }
        a.rows += 1;
        // (A record key repeats within a finding, a month's for every member: it is copied
        // only the first time.)
        if let Some(k) = record_key_of(&key, &key_a, &key_b, i)
            && !a.records.contains(k.as_ref())
        {
            a.records.insert(k.into_owned());
        }
    }
    if let Some((k, a)) = current {
        acc.insert(k, a);
    }
    Ok(())
}

/// One batch of the evidence query in the output schema: the household's id for its key, the
/// member's full resident ID beside the key, record keys made of IDs spelled out; the other
/// columns as they are.
fn render_evidence(
    b: &RecordBatch,
    schema: &SchemaRef,
    keys: &HouseholdKeys,
) -> Result<RecordBatch> {
    let n = b.num_rows();
    let mut households = StringBuilder::with_capacity(n, n * 16);
    for h in int_column(b, "hh")? {
        let h = h.ok_or_else(|| {
            Error::Invalid("engine: evidence row without household, rule or source".into())
        })?;
        let id = keys
            .id(h)
            .ok_or_else(|| Error::Invalid(format!("engine: evidence for household #{h}")))?;
        households.append_value(id);
    }
    let mut ids = StringBuilder::with_capacity(n, n * 18);
    for p in int_column(b, "person_key")? {
        append_id(&mut ids, p)?;
    }
    let key = evidence_text(b, "record_key")?;
    let (key_a, key_b) = (int_column(b, "key_a")?, int_column(b, "key_b")?);
    let mut record_keys = StringBuilder::new();
    for i in 0..n {
        record_keys.append_option(record_key_of(&key, &key_a, &key_b, i));
    }
    // The columns passed through, in the output's types.
    let column = |name: &str, t: &DataType| -> Result<ArrayRef> {
        let c = b
            .column_by_name(name)
            .ok_or_else(|| Error::Invalid(format!("engine: evidence without {name}")))?;
        Ok(arrow::compute::cast(c, t)?)
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(households.finish()),
        column("rule", &DataType::Utf8)?,
        Arc::new(ids.finish()),
        column("person_key", &DataType::Int64)?,
        column("source", &DataType::Utf8)?,
        Arc::new(record_keys.finish()),
        column("amount_fen", &DataType::Int64)?,
        column("date", &DataType::Utf8)?,
        column("file", &DataType::Utf8)?,
        column("line", &DataType::Int64)?,
    ];
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// Writes findings and outcomes in household order, Parquet and CSV side by side, from the
/// rows each batch of households rendered ([`OutcomeRows`]).
struct OutcomeWriter {
    findings: ParquetOut,
    findings_csv: CsvOut,
    outcomes: ParquetOut,
    outcomes_csv: CsvOut,
}

/// One batch of households' findings and outcomes, rendered: Parquet rows gathered in
/// columns, CSV records as text.
struct OutcomeRows {
    f_text: Vec<StringBuilder>,
    f_num: Vec<Vec<i64>>,
    o_text: Vec<StringBuilder>,
    o_num: Vec<Vec<i64>>,
    findings_csv: csv::Writer<Vec<u8>>,
    outcomes_csv: csv::Writer<Vec<u8>>,
}

impl Default for OutcomeRows {
    fn default() -> Self {
        OutcomeRows {
            f_text: (0..10).map(|_| StringBuilder::new()).collect(),
            f_num: vec![Vec::new(); 4],
            o_text: (0..5).map(|_| StringBuilder::new()).collect(),
            o_num: vec![Vec::new(); 3],
            findings_csv: CsvOut::records(),
            outcomes_csv: CsvOut::records(),
        }
    }
}

/// One batch of households' rows as they are written: Parquet columns and CSV text, made
/// where the batch was decided (copying the text into arrays is work of its own).
struct Rendered {
    findings: Option<RecordBatch>,
    outcomes: Option<RecordBatch>,
    findings_csv: Vec<u8>,
    outcomes_csv: Vec<u8>,
}

impl OutcomeRows {
    fn render(mut self) -> Result<Rendered> {
        Ok(Rendered {
            findings: self.findings_batch()?,
            outcomes: self.outcomes_batch()?,
            findings_csv: csv_text(self.findings_csv)?,
            outcomes_csv: csv_text(self.outcomes_csv)?,
        })
    }
}

fn text_array(v: &mut StringBuilder) -> ArrayRef {
    Arc::new(v.finish())
}

fn int_array(v: &mut Vec<i64>) -> ArrayRef {
    Arc::new(arrow::array::Int64Array::from(std::mem::take(v)))
}

impl OutcomeWriter {
    fn create(out: &Path) -> Result<Self> {
        Ok(OutcomeWriter {
            findings: ParquetOut::create(&out.join("findings.parquet"), findings_schema())?,
            findings_csv: CsvOut::create(&out.join("findings.csv"), FINDINGS_CSV)?,
            outcomes: ParquetOut::create(&out.join("outcomes.parquet"), outcomes_schema())?,
            outcomes_csv: CsvOut::create(&out.join("outcomes.csv"), OUTCOMES_CSV)?,
        })
    }

    /// Appends one batch of households' rows.
    fn write(&mut self, rows: Rendered) -> Result<()> {
        if let Some(b) = &rows.findings {
            self.findings.write(b)?;
        }
        if let Some(b) = &rows.outcomes {
            self.outcomes.write(b)?;
        }
        self.findings_csv.write_records(&rows.findings_csv)?;
        self.outcomes_csv.write_records(&rows.outcomes_csv)
    }

    fn finish(self) -> Result<()> {
        self.findings.finish()?;
        self.findings_csv.finish()?;
        self.outcomes.finish()?;
        self.outcomes_csv.finish()
    }
}

/// The records a CSV writer over memory holds.
fn csv_text(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner()
        .map_err(|e| Error::Invalid(format!("engine: CSV rows: {e}")))
}

impl OutcomeRows {
    fn finding(&mut self, f: &Finding, policy: &Policy) -> Result<()> {
        let (zh, en) = super::sentence::sentences(f, policy);
        // The members' IDs, masked for the CSV and in full for the Parquet, `;`-separated.
        let (mut masked, mut full) = (String::new(), String::new());
        for (i, k) in f.members.iter().enumerate() {
            if i > 0 {
                masked.push(';');
                full.push(';');
            }
            masked.push_str(&id_masked(*k));
            push_id(&mut full, *k);
        }
        let from = f.standard_from.map(|d| d.to_string());
        let mut n: [itoa::Buffer; 4] = Default::default();
        let [n1, n2, n3, n4] = &mut n;
        self.findings_csv
            .write_record([
                f.household_id.as_str(),
                n1.format(f.region),
                &f.programme,
                f.rule.id(),
                f.rule.severity().as_str(),
                &masked,
                n2.format(f.measured),
                n3.format(f.threshold),
                f.unit(),
                from.as_deref().unwrap_or(""),
                f.reference.as_deref().unwrap_or(""),
                n4.format(f.evidence_rows),
                &zh,
                &en,
            ])
            .map_err(|e| Error::Invalid(format!("engine: CSV rows: {e}")))?;
        // Text columns in schema order: household_id, programme, rule, severity, members,
        // unit, standard_from, reference, sentence_zh, sentence_en.
        for (col, v) in [
            Some(f.household_id.as_str()),
            Some(&f.programme),
            Some(f.rule.id()),
            Some(f.rule.severity().as_str()),
            Some(&full),
            Some(f.unit()),
            from.as_deref(),
            f.reference.as_deref(),
            Some(&zh),
            Some(&en),
        ]
        .into_iter()
        .enumerate()
        {
            self.f_text[col].append_option(v);
        }
        for (col, v) in [f.region, f.measured, f.threshold, f.evidence_rows as i64]
            .into_iter()
            .enumerate()
        {
            self.f_num[col].push(v);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn outcome(
        &mut self,
        h: &str,
        region: i64,
        programme: &str,
        outcome: &'static str,
        findings: &[Finding],
        unv: &str,
        declared: i64,
        counted: i64,
    ) -> Result<()> {
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.id()).collect();
        let rules = rules.join(";");
        let (mut n1, mut n2, mut n3) = (
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        );
        self.outcomes_csv
            .write_record([
                h,
                n1.format(region),
                programme,
                outcome,
                &rules,
                unv,
                n2.format(declared),
                n3.format(counted),
            ])
            .map_err(|e| Error::Invalid(format!("engine: CSV rows: {e}")))?;
        for (col, v) in [h, programme, outcome, &rules, unv].into_iter().enumerate() {
            self.o_text[col].append_value(v);
        }
        for (col, v) in [region, declared, counted].into_iter().enumerate() {
            self.o_num[col].push(v);
        }
        Ok(())
    }

    fn findings_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.f_num[0].is_empty() {
            return Ok(None);
        }
        let t = &mut self.f_text;
        let n = &mut self.f_num;
        let cols: Vec<ArrayRef> = vec![
            text_array(&mut t[0]),
            int_array(&mut n[0]),
            text_array(&mut t[1]),
            text_array(&mut t[2]),
            text_array(&mut t[3]),
            text_array(&mut t[4]),
            int_array(&mut n[1]),
            int_array(&mut n[2]),
            text_array(&mut t[5]),
            text_array(&mut t[6]),
            text_array(&mut t[7]),
            int_array(&mut n[3]),
            text_array(&mut t[8]),
            text_array(&mut t[9]),
        ];
        Ok(Some(RecordBatch::try_new(findings_schema(), cols)?))
    }

    fn outcomes_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.o_num[0].is_empty() {
            return Ok(None);
        }
        let t = &mut self.o_text;
        let n = &mut self.o_num;
        let cols: Vec<ArrayRef> = vec![
            text_array(&mut t[0]),
            int_array(&mut n[0]),
            text_array(&mut t[1]),
            text_array(&mut t[2]),
            text_array(&mut t[3]),
            text_array(&mut t[4]),
            int_array(&mut n[1]),
            int_array(&mut n[2]),
        ];
        Ok(Some(RecordBatch::try_new(outcomes_schema(), cols)?))
    }
}
