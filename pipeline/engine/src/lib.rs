//! The verification engine on DataFusion: staged Parquet in, per-household results out.
//!
//! Every staged source is registered as a listing table named by its source id, and the
//! queries are plain SQL over those tables (kept in `.sql` files beside this one) with
//! built-in functions only, so the same plans can run on a distributed engine, but for the
//! key tests of [`prefilter`] (`may_be_counted`, ...): Bloom filters of a set of members, asked
//! before a join to that set, which drop only rows the join drops anyway. Money stays integer
//! fen throughout.
//!
//! The queries: `members.sql` (household resolution: who is declared, who counts at the batch
//! date, who is excluded and why; `members.rs` merges a person declared twice in a
//! household), `income_figures.sql`, `income.sql` and `assets.sql` (sums per household),
//! `metrics.sql` (one row per household with the policy values in force and the sum tests),
//! `units.sql` (real estate owned by the counted members), and each rule's evidence plan in
//! [`rules`] (every record behind every finding, one file per rule). Every query is a plan
//! with named parameters (`$as_of`, ...) bound from [`Parameters`], never SQL text filled in.
//! [`Engine::verify`] runs them in that order and writes the batch's files ([`finding`]:
//! the stages; `keys.rs`: households and IDs as the engine keys them; `evidence.rs`: the
//! evidence rendered and gathered into findings; `decide.rs`: findings measured, outcomes
//! decided, both written); [`outcome`] decides each household from its findings; [`sentence`]
//! explains each finding in Chinese and English (each rule's words are in its file).
//! `params.rs` binds the plans' parameters; `memory.rs` holds the allocator's settings and
//! the memory pool under a limit. [`link`] is the linkage stage (records whose subject's ID does
//! not read, matched to the declared members; `linkage.parquet`, `linkage.json`, the table
//! `linked`), [`linkage`] the Fellegi-Sunter weights it scores with.

use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::lit;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};

mod assets;
#[cfg(feature = "cluster")]
pub mod cluster;
mod cpu;
mod decide;
mod error;
mod evidence;
pub mod finding;
mod income;
mod keys;
pub mod link;
pub mod linkage;
mod members;
mod memory;
pub mod outcome;
pub mod output;
mod params;
mod prefilter;
mod probable;
mod rules;
pub mod sentence;

pub use error::{Error, Result, io};
pub use hedui_schemas::rules::read_sources;
pub(crate) use memory::memory_pool;
pub use memory::{keep_freed_memory, no_huge_pages};
use params::days_since_epoch;
pub use params::{AREAS, Line, Parameters, RegionLine};

/// The `[engine]` section of `hedui.toml`: how the verification core runs. Outputs never
/// depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// Memory the engine's operators may hold, in MiB; beyond it sorts and aggregations
    /// spill (compressed) to `spill_dir`. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mib: Option<u64>,
    /// Where spills go (default: the system's temporary folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill_dir: Option<std::path::PathBuf>,
    /// DataFusion target partitions (default: three per core, or one per core under a
    /// memory limit). Outputs do not depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_partitions: Option<usize>,
    /// An Apache Ballista scheduler, `df://HOST:PORT` (`hedui cluster scheduler`): the
    /// verification stages run on its executors (a build with the `cluster` feature).
    /// Unset: on this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// On a cluster, where the engine writes the tables its queries read besides the
    /// snapshot (its scratch folder): a folder every executor reads at the same path
    /// (default: the spill folder, else the system's temporary folder, which only a
    /// cluster on this machine shares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_dir: Option<std::path::PathBuf>,
}

/// The household-resolution query.
const MEMBERS_SQL: &str = include_str!("members.sql");
/// The counted members' income records over the window, one row per record (`income.rs`
/// sums them per person).
const INCOME_FIGURES_SQL: &str = include_str!("income_figures.sql");
/// Net income per household over the window, over the `members` table and the income per
/// person (`income_per_person`; to `income_sums`).
const INCOME_SQL: &str = include_str!("income.sql");
/// Financial assets per household, over the `members` table (to `asset_sums`).
const ASSETS_SQL: &str = include_str!("assets.sql");
/// Household metrics and the sum tests, over `members`, `income_sums` and `asset_sums`.
const METRICS_SQL: &str = include_str!("metrics.sql");
/// Real estate owned by the counted members (to `units`, which the evidence query reads).
const UNITS_SQL: &str = include_str!("units.sql");

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Target partitions for an engine on `threads` worker threads without a memory limit:
/// three per thread. Finer partitions even out the work between the threads (a file's row
/// groups and a hash partition's rows are uneven) and keep each partition's hash tables
/// smaller: at 1M households on 2 cores the core took 15.4-15.9 s with 6, 8 or 12
/// partitions against 16.5-17.6 s with 2 (benches/README.md).
pub fn partitions_for(threads: usize) -> usize {
    3 * threads.max(1)
}

/// How many times the engine's partitions the income and asset sums run in, without a
/// memory limit. Their semi-joins probe every department record (28 M at 1M households)
/// against the 2.4 M counted members, then group per person: in 24 partitions rather than 6
/// each partition's hash tables are a quarter the size and stay in the caches (income sums
/// 5.7-6.4 -> 4.7-5.0 CPU-s, asset sums 3.9-4.3 -> 3.2-3.9; benches/README.md). Every other
/// query stays as it is: the household metrics, which stream in `hh` order, took longer in
/// 24 partitions.
pub const SUM_PARTITIONS_FACTOR: usize = 4;

/// Target partitions for the engine on every core ([`partitions_for`]).
pub fn default_partitions() -> usize {
    partitions_for(cores())
}

/// A DataFusion session over one staged snapshot.
pub struct Engine {
    ctx: SessionContext,
    /// The same session with [`SUM_PARTITIONS_FACTOR`] times the partitions, for the income
    /// and asset sums (the same tables: the catalog is shared).
    sums: SessionContext,
    /// Source ids registered (staged, or stood in for by an empty table when missing).
    pub tables: Vec<&'static str>,
    /// Sources with no staged snapshot (failed or absent): the rules that need them cannot
    /// clear a household, which becomes UNVERIFIED instead of PASS.
    pub missing: Vec<&'static str>,
    /// The engine's own scratch folder (empty stand-ins for missing sources, the income and
    /// asset sums), under the spill folder or the system's temp folder; removed on drop.
    scratch: std::path::PathBuf,
    /// The snapshot's folder (none for an engine over empty tables): where the rows whose
    /// subject's ID did not read are staged (probable.rs).
    ingest_dir: Option<std::path::PathBuf>,
    /// On a cluster (`[engine] cluster`): tables held in memory are written to the scratch
    /// folder and read from there, since no executor shares this process's memory.
    on_cluster: bool,
    /// Whether the staged applications carry the households' area types. A snapshot staged
    /// before hedui knew them does not: its `applications` and `members` read `area_type` as
    /// NULL (none declared), and `members.parquet` and `households.parquet` are written
    /// without the column, as they were, so that such a batch replays byte for byte.
    area_types: bool,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Wall and process CPU time since a stage began, for the engine's debug log (`ms`, `cpu_ms`):
/// on a saturated machine the CPU a stage burns says more than its wall time.
pub(crate) struct StageTimer {
    wall: std::time::Instant,
    cpu: std::time::Duration,
}

impl StageTimer {
    /// Starts timing.
    pub(crate) fn start() -> Self {
        StageTimer {
            wall: std::time::Instant::now(),
            cpu: crate::cpu::process(),
        }
    }

    /// Milliseconds of wall time and of CPU time (every thread of the process) since the start.
    pub(crate) fn ms(&self) -> (u64, u64) {
        (
            self.wall.elapsed().as_millis() as u64,
            crate::cpu::process().saturating_sub(self.cpu).as_millis() as u64,
        )
    }
}

/// An engine error where no one query is at work (tables registered, sessions built).
fn df_err(e: datafusion::error::DataFusionError) -> Error {
    Error::engine("", e)
}

/// A session whose plans run on the Ballista cluster at `url` (`df://HOST:PORT`), with the
/// engine's codecs (cluster.rs).
#[cfg(feature = "cluster")]
fn on_cluster(
    url: &str,
    config: SessionConfig,
    runtime: std::sync::Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> Result<SessionContext> {
    cluster::session(url, config, runtime)
}

/// Without the `cluster` feature a cluster is refused.
#[cfg(not(feature = "cluster"))]
fn on_cluster(
    url: &str,
    _: SessionConfig,
    _: std::sync::Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> Result<SessionContext> {
    Err(without_cluster(url))
}

#[cfg(not(feature = "cluster"))]
fn without_cluster(url: &str) -> Error {
    Error::Cluster {
        url: url.to_string(),
        reason: "this hedui was built without the `cluster` feature (cargo build --release \
                 --features cluster)"
            .into(),
    }
}

/// The executors registered with the cluster's scheduler at `url`, in id order: fails when
/// the scheduler does not answer, or (in a build without the `cluster` feature) always.
pub async fn cluster_executors(url: &str) -> Result<Vec<hedui_schemas::batch::ClusterExecutor>> {
    #[cfg(feature = "cluster")]
    return cluster::executors(url).await;
    #[cfg(not(feature = "cluster"))]
    Err(without_cluster(url))
}

/// Writes an empty Parquet file with a source's staged schema (stands in for a missing source
/// so the same plans run; the outcome logic knows the source is missing).
fn write_empty(path: &Path, def: &hedui_schemas::SourceDef) -> Result<()> {
    write_empty_schema(path, def.staged_schema())
}

/// Writes an empty Parquet file with `schema`.
fn write_empty_schema(path: &Path, schema: arrow::datatypes::SchemaRef) -> Result<()> {
    let file = std::fs::File::create(path).map_err(crate::error::io(path))?;
    let w = parquet::arrow::ArrowWriter::try_new(file, schema, None).map_err(|source| {
        Error::Parquet {
            path: path.display().to_string(),
            source,
        }
    })?;
    w.close().map_err(|source| Error::Parquet {
        path: path.display().to_string(),
        source,
    })?;
    Ok(())
}

impl Engine {
    /// Registers every staged source found under `ingest_dir/staged/`; a source without a
    /// staged snapshot is registered as an empty table and listed in [`Engine::missing`].
    /// The applications are required.
    pub async fn open(ingest_dir: &Path, target_partitions: usize) -> Result<Self> {
        let settings = crate::EngineSection {
            target_partitions: Some(target_partitions),
            ..Default::default()
        };
        Self::open_with(ingest_dir, &settings).await
    }

    /// [`Engine::open`] with the `[engine]` settings: target partitions, and a memory limit
    /// (a fair spill pool: sorts and aggregations spill, zstd-compressed, to the spill
    /// folder once the operators together hold the limit).
    pub async fn open_with(ingest_dir: &Path, settings: &crate::EngineSection) -> Result<Self> {
        Self::open_at(Some(ingest_dir), settings).await
    }

    /// An engine over empty tables: every source stands in with its staged schema and no
    /// rows, as does the quarantine. Its plans can be explained (`hedui explain` before any
    /// batch); a batch on it has no household.
    pub async fn open_empty(settings: &crate::EngineSection) -> Result<Self> {
        Self::open_at(None, settings).await
    }

    /// [`Engine::open_with`] over `ingest_dir`, or over empty tables.
    async fn open_at(ingest_dir: Option<&Path>, settings: &crate::EngineSection) -> Result<Self> {
        use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        // Under a memory limit, one partition per core: the fair pool splits the limit
        // between the partitions' operators, and finer slices spill sooner.
        let target_partitions = settings.target_partitions.unwrap_or_else(|| {
            if settings.memory_limit_mib.is_some() {
                cores()
            } else {
                default_partitions()
            }
        });
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(mib) = settings.memory_limit_mib {
            runtime = runtime.with_memory_pool(memory_pool((mib as usize).saturating_mul(1 << 20)));
        }
        let mode = match &settings.spill_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
                DiskManagerMode::Directories(vec![dir.clone()])
            }
            None => DiskManagerMode::OsTmpDirectory,
        };
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let shared = settings.cluster.as_ref().and(settings.shared_dir.clone());
        let scratch = shared
            .or_else(|| settings.spill_dir.clone())
            .unwrap_or_else(std::env::temp_dir)
            .join(format!("hedui-engine-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(crate::error::io(&scratch))?;
        let runtime = runtime
            .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
            .build_arc()
            .map_err(df_err)?;
        // DataFusion's own settings can be tuned from the environment (`DATAFUSION_*`, e.g.
        // `DATAFUSION_EXECUTION_BATCH_SIZE=16384`); the ones below are the engine's and win.
        let config = SessionConfig::from_env()
            .map_err(df_err)?
            .with_target_partitions(target_partitions.max(1))
            .with_information_schema(false)
            // The engine's filters are date and code filters that keep most of a department's
            // rows; DataFusion's default guess (20 %) made department tables look smaller
            // than the household members and become the build side of hash joins, holding
            // every resident's rows in memory. Estimating that filters keep everything makes
            // the members the build side (measured: benches/README.md).
            .set_u64("datafusion.optimizer.default_filter_selectivity", 100)
            .set_str("datafusion.execution.spill_compression", "zstd")
            // Every sort reserves this much for merging its spills, before it sorts; the
            // evidence query has a sort per rule and partition, so the default (10 MiB each)
            // alone outgrew a small limit.
            .set_usize("datafusion.execution.sort_spill_reservation_bytes", 1 << 20)
            // A join whose build side is small (the members of the households over a line,
            // the few owners of a kind of record) is built once and probed by every
            // partition as the department table is read, rather than both sides being
            // hash-partitioned first: repartitioning a department table copies every row
            // (income evidence at 1M households: 1.4 s became 1.1 s; benches/README.md).
            // The members themselves (2.4 M at 1M households) stay partitioned: built by one
            // thread, the sums took 0.6 s longer each.
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold",
                8 << 20,
            )
            .set_usize(
                "datafusion.optimizer.hash_join_single_partition_threshold_rows",
                512 << 10,
            );
        // Under a memory limit the sums keep the engine's partitions: the limit is split
        // between them, and finer slices would spill sooner.
        let sum_partitions = if settings.memory_limit_mib.is_some() {
            target_partitions
        } else {
            target_partitions * SUM_PARTITIONS_FACTOR
        };
        let ctx = match &settings.cluster {
            None => SessionContext::new_with_config_rt(config, runtime),
            Some(url) => on_cluster(url, config, runtime)?,
        };
        // (The session's own settings: on a cluster they carry Ballista's.)
        let sums_config = ctx
            .copied_config()
            .with_target_partitions(sum_partitions.max(1));
        // The sums' session shares the main one's catalog, so every table registered on
        // either is seen by both.
        let mut sums = ctx.state();
        *sums.config_mut() = sums_config;
        let sums = SessionContext::new_with_state(sums);
        let mut engine = Engine {
            ctx,
            sums,
            tables: Vec::new(),
            missing: Vec::new(),
            scratch,
            ingest_dir: ingest_dir.map(Path::to_path_buf),
            on_cluster: settings.cluster.is_some(),
            area_types: true,
        };
        // The key tests (prefilter.rs) of no member yet, so that every plan can be made (and
        // explained) before a batch; `verify` registers each over its members.
        for udf in prefilter::MemberKeys::default()
            .into_udfs()
            .into_iter()
            .chain(
                [prefilter::OVER_LINE, prefilter::OVER_LIMIT]
                    .map(|name| prefilter::Keys::default().into_udf(name)),
            )
        {
            engine.sums.register_udf(udf.clone());
            engine.ctx.register_udf(udf);
        }
        for def in hedui_schemas::all_sources() {
            let mut path = ingest_dir
                .map(|d| d.join("staged").join(format!("{}.parquet", def.id)))
                .unwrap_or_default();
            if !path.is_file() {
                if let (Some(dir), "applications") = (ingest_dir, def.id) {
                    return Err(Error::NoApplications {
                        dir: dir.display().to_string(),
                    });
                }
                path = engine.scratch.join(format!("{}.parquet", def.id));
                write_empty(&path, def)?;
                engine.missing.push(def.id);
            }
            let path = path.to_str().ok_or_else(|| Error::not_utf8(&path))?;
            engine
                .ctx
                .register_parquet(def.id, path, ParquetReadOptions::default())
                .await
                .map_err(df_err)?;
            engine.tables.push(def.id);
        }
        engine.area_types = engine.has_area_type("applications").await?;
        if !engine.area_types {
            engine.with_null_area_type("applications").await?;
        }
        // Every source's quarantine, one table: the records that could not be read, with the
        // subject they are about where its ID is valid. (A batch ingested before the
        // quarantine had `subject_key` reads it as null: no record is attached.)
        let schema = hedui_connectors::stage::quarantine_schema();
        let mut quarantine = ingest_dir.map(|d| d.join("quarantine")).unwrap_or_default();
        let has_files = std::fs::read_dir(&quarantine).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        });
        if !has_files {
            quarantine = engine.scratch.join("quarantine.parquet");
            write_empty_schema(&quarantine, schema.clone())?;
        }
        let path = quarantine
            .to_str()
            .ok_or_else(|| Error::not_utf8(&quarantine))?;
        engine
            .ctx
            .register_parquet(
                "quarantine",
                path,
                ParquetReadOptions::default().schema(&schema),
            )
            .await
            .map_err(df_err)?;
        // The records of the linkage stage (link.rs), none before it runs.
        engine.register_table("linked", link::empty_linked()?)?;
        // What probable records add to the sums (probable.rs), nothing before a batch.
        engine.register_table(
            "probable_shares",
            finding::shares_table(&std::collections::HashMap::new())?,
        )?;
        Ok(engine)
    }

    /// Runs SQL and collects the result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        self.query_on(&self.ctx, sql).await
    }

    /// [`Engine::query`] on the session `ctx` (the engine's, or the sums').
    async fn query_on(&self, ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
        ctx.sql(sql)
            .await
            .map_err(df_err)?
            .collect()
            .await
            .map_err(df_err)
    }

    /// Plans `sql` on the session `ctx` with its named parameters bound from `params`.
    pub(crate) async fn plan_on(
        &self,
        ctx: &SessionContext,
        query: &str,
        sql: &str,
        params: &Parameters,
    ) -> Result<DataFrame> {
        let err = |e| Error::engine(query, e);
        let plan = ctx.state().create_logical_plan(sql).await.map_err(err)?;
        ctx.execute_logical_plan(params.bind(query, plan)?)
            .await
            .map_err(err)
    }

    /// Registers what the plans of a batch read besides the tables: the lines the policy has
    /// in force at the batch date for the regions the applications name, per region, area
    /// type and programme (`policy_lines`, metrics.sql: each region resolved to its own
    /// standard, its city's or its province's, [`Parameters::region_lines`]), and the income
    /// records of every source the catalog says feeds income (income.rs), and the snapshots of
    /// every source it tags as holding an asset (assets.rs).
    /// Fails when the policy has no standard in force then.
    pub(crate) async fn prepare(&self, params: &Parameters, policy_name: &str) -> Result<()> {
        use arrow::array::{Date32Array, Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        if params.lines.is_empty() {
            return Err(Error::NoStandard {
                policy: policy_name.to_string(),
                as_of: params.as_of.clone(),
            });
        }
        // The regions the applications name (a few hundred codes at most).
        let mut regions = Vec::new();
        for b in self
            .query("SELECT DISTINCT CAST(region AS BIGINT) AS region FROM applications")
            .await?
        {
            let r = b
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| {
                    Error::Inconsistent("applications: region is not a number".into())
                })?;
            regions.extend(r.iter().flatten());
        }
        regions.sort_unstable();
        let l = params.region_lines(&regions);
        let from = l
            .iter()
            .map(|l| {
                l.standard_from
                    .parse::<NaiveDate>()
                    .map(days_since_epoch)
                    .map_err(|e| {
                        Error::Inconsistent(format!("standard from {}: {e}", l.standard_from))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("region", DataType::Int64, false),
            Field::new("area", DataType::Utf8, false),
            Field::new("programme", DataType::Utf8, false),
            Field::new("multiple_bp", DataType::Int64, false),
            Field::new("standard_fen", DataType::Int64, false),
            Field::new("standard_from", DataType::Date32, false),
            Field::new("reference", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(Int64Array::from_iter_values(l.iter().map(|l| l.region))),
                std::sync::Arc::new(StringArray::from_iter_values(l.iter().map(|l| l.area))),
                std::sync::Arc::new(StringArray::from_iter_values(
                    l.iter().map(|l| &l.programme),
                )),
                std::sync::Arc::new(Int64Array::from_iter_values(
                    l.iter().map(|l| l.multiple_bp),
                )),
                std::sync::Arc::new(Int64Array::from_iter_values(
                    l.iter().map(|l| l.standard_fen),
                )),
                std::sync::Arc::new(Date32Array::from(from)),
                std::sync::Arc::new(StringArray::from_iter_values(
                    l.iter().map(|l| &l.reference),
                )),
            ],
        )?;
        let table =
            datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).map_err(df_err)?;
        self.register_table("policy_lines", std::sync::Arc::new(table))?;
        self.register_income(params).await?;
        self.register_assets(params).await
    }

    /// Whether table `name` has an `area_type` column.
    async fn has_area_type(&self, name: &str) -> Result<bool> {
        Ok(self
            .ctx
            .table(name)
            .await
            .map_err(df_err)?
            .schema()
            .has_column_with_unqualified_name("area_type"))
    }

    /// Registers table `name` again as itself with an `area_type` column of NULLs (none
    /// declared), for a snapshot staged before hedui knew area types.
    async fn with_null_area_type(&self, name: &str) -> Result<()> {
        let table = self.ctx.table(name).await.map_err(df_err)?;
        let view = table
            .with_column(
                "area_type",
                datafusion::logical_expr::lit(ScalarValue::Utf8(None)),
            )
            .map_err(df_err)?
            .into_view();
        let _ = self.ctx.deregister_table(name).map_err(df_err)?;
        self.ctx.register_table(name, view).map_err(df_err)?;
        Ok(())
    }

    /// `df` as the engine writes it for this snapshot: without `area_type` for a snapshot
    /// staged before hedui knew area types ([`Engine::area_types`]).
    fn as_written(&self, df: DataFrame) -> Result<DataFrame> {
        if self.area_types {
            Ok(df)
        } else {
            df.drop_columns(&["area_type"]).map_err(df_err)
        }
    }

    /// The metrics plan (income and assets with their limits per household; reads `members`,
    /// `income_sums`, `asset_sums` and `policy_lines`).
    pub(crate) async fn metrics_plan(&self, params: &Parameters) -> Result<DataFrame> {
        self.as_written(
            self.plan_on(&self.ctx, "metrics", METRICS_SQL, params)
                .await?,
        )
    }

    /// The income sums per household, on the sums' session (reads `members`): the counted
    /// members' income records (income_figures.sql) summed per person, with the largest wage
    /// figure of each month of the window as an aggregate of its own, one per month (so
    /// built here, from the window), registered as `income_per_person`; then per household
    /// (income.sql).
    pub(crate) async fn income_plan(&self, params: &Parameters) -> Result<DataFrame> {
        use datafusion::functions::expr_fn::coalesce;
        use datafusion::functions_aggregate::expr_fn::{max, sum};
        use datafusion::prelude::{col, when};
        let figures = self
            .plan_on(&self.sums, "income", INCOME_FIGURES_SQL, params)
            .await?;
        let window = hedui_schemas::values::income_window(params.date()?, params.months);
        let mut aggregates = Vec::with_capacity(window.len() + 1);
        for m in &window {
            let wage = when(col("month").eq(lit(i64::from(*m))), col("wage_fen"))
                .end()
                .map_err(df_err)?;
            aggregates.push(max(wage).alias(format!("wage_{m}")));
        }
        aggregates.push(sum(col("amount_fen")).alias("amounts"));
        // COALESCE(MAX(wage of month 1), 0) + ... + COALESCE(SUM(amount_fen), 0), added up in
        // that order.
        let fen = window
            .iter()
            .map(|m| format!("wage_{m}"))
            .chain(["amounts".to_string()])
            .map(|c| coalesce(vec![col(c), lit(0i64)]))
            .reduce(|a, b| a + b)
            .expect("the amounts at least");
        let per_person = figures
            .aggregate(vec![col("person_key")], aggregates)
            .and_then(|df| df.select(vec![col("person_key"), fen.alias("fen")]))
            .map_err(df_err)?;
        self.register_table("income_per_person", self.view(per_person))?;
        self.plan_on(&self.sums, "income", INCOME_SQL, params).await
    }

    /// The asset sums per household, on the sums' session (reads `members`).
    pub(crate) async fn assets_plan(&self, params: &Parameters) -> Result<DataFrame> {
        self.plan_on(&self.sums, "assets", ASSETS_SQL, params).await
    }

    /// Registers `table` as `name`, replacing any table of that name (shared by both
    /// sessions: they have one catalog).
    /// On a cluster a table held in memory is written to the scratch folder first and
    /// registered as that file.
    pub(crate) fn register_table(
        &self,
        name: &str,
        table: std::sync::Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Result<()> {
        let table = match table.downcast_ref::<datafusion::datasource::MemTable>() {
            Some(held) if self.on_cluster => self.shared_table(name, held)?,
            _ => table,
        };
        if self.on_cluster
            && !table.is::<datafusion::datasource::listing::ListingTable>()
            && !table.is::<datafusion::catalog::view::ViewTable>()
        {
            tracing::warn!(name, ?table, "a table no executor can read");
        }
        let _ = self.ctx.deregister_table(name).map_err(df_err)?;
        self.ctx.register_table(name, table).map_err(df_err)?;
        Ok(())
    }

    /// A table held in memory of `batches` under `schema`. Rows a query gave on a cluster
    /// come back through Arrow Flight, whose schema may differ from the plan's in what it
    /// carries beside the columns (their metadata, a column declared nullable): those
    /// batches are given the plan's schema, with the same columns.
    pub(crate) fn held(
        schema: arrow::datatypes::SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<std::sync::Arc<datafusion::datasource::MemTable>> {
        let batches = batches
            .into_iter()
            .map(|b| {
                if schema.contains(&b.schema()) {
                    return Ok(b);
                }
                tracing::debug!(want = ?schema, got = ?b.schema(), "rows given the plan's schema");
                RecordBatch::try_new(schema.clone(), b.columns().to_vec()).map_err(Error::from)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(std::sync::Arc::new(
            datafusion::datasource::MemTable::try_new(schema, vec![batches]).map_err(df_err)?,
        ))
    }

    /// `df` as a table for later plans to read. On a cluster, as a view of its logical plan
    /// (the plan travels with every query that reads it; a DataFrame's own table does not).
    pub(crate) fn view(
        &self,
        df: DataFrame,
    ) -> std::sync::Arc<dyn datafusion::catalog::TableProvider> {
        if self.on_cluster {
            std::sync::Arc::new(datafusion::catalog::view::ViewTable::new(
                df.logical_plan().clone(),
                None,
            ))
        } else {
            df.into_view()
        }
    }

    /// The rows of `held` written to `<scratch>/<name>.parquet`, as a table over that file.
    fn shared_table(
        &self,
        name: &str,
        held: &datafusion::datasource::MemTable,
    ) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{
            ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
        };
        let path = self.scratch.join(format!("{name}.parquet"));
        let schema = datafusion::catalog::TableProvider::schema(held);
        let mut out = output::ParquetOut::scratch(&path, schema.clone())?;
        for part in &held.batches {
            let part = part.try_read().map_err(|_| {
                Error::Inconsistent(format!("table {name}: its rows are being written"))
            })?;
            for b in part.iter() {
                out.write(b)?;
            }
        }
        out.finish()?;
        let url = ListingTableUrl::parse(path.to_str().ok_or_else(|| Error::not_utf8(&path))?)
            .map_err(df_err)?;
        let config = ListingTableConfig::new(url)
            .with_listing_options(ListingOptions::new(std::sync::Arc::new(
                ParquetFormat::default(),
            )))
            .with_schema(schema);
        Ok(std::sync::Arc::new(
            ListingTable::try_new(config).map_err(df_err)?,
        ))
    }

    /// Where the engine keeps what it writes for itself.
    pub(crate) fn scratch(&self) -> &Path {
        &self.scratch
    }

    /// The owned units (reads `members`).
    pub(crate) async fn units_plan(&self, params: &Parameters) -> Result<DataFrame> {
        self.plan_on(&self.ctx, "units", UNITS_SQL, params).await
    }

    /// The household-resolution plan for `as_of` (reads the member sources).
    async fn members_plan(&self, as_of: NaiveDate) -> Result<DataFrame> {
        let plan = self
            .ctx
            .state()
            .create_logical_plan(MEMBERS_SQL)
            .await
            .map_err(df_err)?
            .with_param_values(vec![(
                "as_of",
                ScalarValue::Date32(Some(days_since_epoch(as_of))),
            )])
            .map_err(df_err)?;
        self.as_written(self.ctx.execute_logical_plan(plan).await.map_err(df_err)?)
    }

    /// Registers `members.parquet` (the engine's, at `path`) as table `members`, in household
    /// order; for a snapshot without area types, with its `area_type` read as NULL.
    pub(crate) async fn register_members(&self, path: &Path) -> Result<()> {
        self.register_in_hh_order("members", path).await?;
        if !self.area_types {
            self.with_null_area_type("members").await?;
        }
        Ok(())
    }

    /// Registers a Parquet file the engine wrote as table `name` (replacing any before).
    async fn register_output(&self, name: &str, path: &Path) -> Result<()> {
        self.register_file(name, path, ParquetReadOptions::default())
            .await
    }

    /// [`Engine::register_output`] for a file written in `hh` order (members.parquet,
    /// households.parquet), declared so: grouping on `hh` then streams without a hash table
    /// and a sort on it is skipped (household metrics at 1M: 1.17-1.19 -> 0.92-0.95 CPU-s;
    /// benches/README.md). Declaring an order the file does not have would give wrong
    /// results, so only the engine's own files in that order are registered this way.
    async fn register_in_hh_order(&self, name: &str, path: &Path) -> Result<()> {
        let order = vec![vec![datafusion::prelude::col("hh").sort(true, false)]];
        self.register_file(
            name,
            path,
            ParquetReadOptions::default().file_sort_order(order),
        )
        .await
    }

    async fn register_file(
        &self,
        name: &str,
        path: &Path,
        options: ParquetReadOptions<'_>,
    ) -> Result<()> {
        let _ = self.ctx.deregister_table(name).map_err(df_err)?;
        self.ctx
            .register_parquet(
                name,
                path.to_str().ok_or_else(|| Error::not_utf8(path))?,
                options,
            )
            .await
            .map_err(df_err)
    }

    /// Every declared member with `excluded` (`dead`, `incarcerated` or null) at `as_of`,
    /// sorted by household and person, a person declared twice in a household once.
    pub async fn members(&self, as_of: NaiveDate) -> Result<Vec<RecordBatch>> {
        let mut merged = members::Duplicates::default();
        let mut out = Vec::new();
        let batches = self
            .members_plan(as_of)
            .await?
            .collect()
            .await
            .map_err(df_err)?;
        for b in batches {
            out.extend(merged.push(&b)?.into_iter().filter(|b| b.num_rows() > 0));
        }
        out.extend(merged.finish()?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    // Every plan of a batch can be made and explained before any batch, over empty tables:
    // the key tests, the policy's lines and the tables the engine writes stand in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_plan_explains_over_empty_tables() {
        let engine = super::Engine::open_empty(&Default::default())
            .await
            .unwrap();
        assert_eq!(engine.missing.len(), hedui_schemas::all_sources().len());
        let policy = hedui_schemas::policy::Policy::default_policy();
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
        let plans = engine.explain(&policy, as_of, false, None).await.unwrap();
        let names: Vec<&str> = plans.iter().map(|(n, _)| n.as_str()).collect();
        let rules = super::rules::RULES
            .iter()
            .filter(|d| d.evidence.is_some())
            .map(|d| d.rule.id());
        let expected: Vec<&str> = ["members", "income", "assets", "metrics", "units"]
            .into_iter()
            .chain(rules)
            .collect();
        assert_eq!(names, expected);
        for (name, text) in &plans {
            assert!(text.contains("-- logical_plan\n"), "{name}: {text}");
            assert!(text.contains("-- physical_plan\n"), "{name}: {text}");
        }
        let plan = |n: &str| &plans.iter().find(|(name, _)| name == n).unwrap().1;
        // The policy's codes are in the plans as lists, its dates and months as values.
        assert!(
            plan("vehicle_owned").contains("motorcycle"),
            "{}",
            plan("vehicle_owned")
        );
        assert!(plan("income").contains("202605"), "{}", plan("income"));
        assert!(
            plan("metrics").contains("policy_lines"),
            "{}",
            plan("metrics")
        );
        // One plan by name; a name no plan has is an error naming the choices.
        let one = engine
            .explain(&policy, as_of, false, Some("undeclared_spouse"))
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        let err = engine
            .explain(&policy, as_of, false, Some("no_counted_member"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no plan named no_counted_member"), "{err}");
    }

    // A parameter a plan names but no value is given for is a planning error, not a plan that
    // runs with a hole in it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unbound_parameter_is_a_planning_error() {
        let engine = super::Engine::open_empty(&Default::default())
            .await
            .unwrap();
        let policy = hedui_schemas::policy::Policy::default_policy();
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
        let params = super::Parameters::new(&policy, as_of);
        let err = engine
            .plan_on(
                &engine.ctx,
                "test",
                "SELECT * FROM vehicle WHERE registered_on <= $as_off",
                &params,
            )
            .await
            .map(|_| ());
        let Err(err) = err else {
            panic!("planned with an unbound name")
        };
        let err = err.to_string();
        assert!(err.contains("$as_off"), "{err}");
        // A list is spelt out as an IN list; an empty one keeps the meaning the SQL text had:
        // IN matches nothing, NOT IN every code (a null is neither in nor out, as with any list).
        engine
            .ctx
            .sql("CREATE TABLE codes AS VALUES ('motorcycle'), ('car'), (NULL)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut empty = params.clone();
        empty.exempt_vehicles.clear();
        for (sql, p, n) in [
            (
                "SELECT * FROM codes WHERE column1 IN ($exempt_vehicles)",
                &params,
                1,
            ),
            (
                "SELECT * FROM codes WHERE column1 NOT IN ($exempt_vehicles)",
                &params,
                1,
            ),
            (
                "SELECT * FROM codes WHERE column1 IN ($exempt_vehicles)",
                &empty,
                0,
            ),
            (
                "SELECT * FROM codes WHERE column1 NOT IN ($exempt_vehicles)",
                &empty,
                2,
            ),
        ] {
            let rows: usize = engine
                .plan_on(&engine.ctx, "test", sql, p)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum();
            assert_eq!(rows, n, "{sql} with {:?}", p.exempt_vehicles);
        }
    }
}
