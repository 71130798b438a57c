//! `hedui-benches`: whole-pipeline benchmarks that print a table.
//!
//! `generate` times `hedui generate` at a given size and reports rows, rows per second and
//! bytes on disk; `ingest` times ingestion per format on one core and on two; `engine` times
//! the verification core stage by stage; `compare` runs it against the same computation in
//! DuckDB and Polars ([`compare`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hedui::generate::{self, DirtyRates, GenerateConfig, PlantRates};
use hedui::policy::Policy;

mod compare;

// The same allocator as the hedui binary, so figures match what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "hedui benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time province generation.
    Generate {
        /// Households.
        #[arg(long, default_value_t = 1_000_000)]
        households: u64,
        /// Output folder (default: a folder under the system temp dir, removed afterwards).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Repetitions.
        #[arg(long, default_value_t = 1)]
        runs: u32,
    },
    /// Time ingestion per source format: rows per second on one core and on all cores.
    Ingest {
        /// A generated province to ingest (made with `hedui generate`).
        #[arg(long)]
        province: PathBuf,
        /// Sources to time (default: one per format and encoding).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "pension,hukou,provident_fund,tax,commercial_insurance"
        )]
        sources: Vec<String>,
        /// Rows per batch.
        #[arg(long, default_value_t = 65_536)]
        batch_rows: usize,
    },
    /// Time the verification core (staged snapshot to outcomes and findings) of a published
    /// batch, stage by stage, and print the physical plans with --explain.
    Engine {
        /// A published batch folder (its `ingest/staged` snapshot and `policy.toml` are used).
        #[arg(long)]
        batch: PathBuf,
        /// Target partitions (default: one per core).
        #[arg(long)]
        partitions: Option<usize>,
        /// Print the physical plans of the engine's queries.
        #[arg(long)]
        explain: bool,
        /// Print the plans with each operator's measured rows, time and memory.
        #[arg(long)]
        analyze: bool,
        /// Engine memory limit in MiB (spilling beyond it).
        #[arg(long)]
        memory_limit: Option<u64>,
    },
    /// hedui's verification core against the same computation by hand in DuckDB and Polars
    /// (benches/peers/), on the same staged data: agreement, time, CPU, memory, scaling.
    Compare {
        /// Sizes in households.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        households: Vec<u64>,
        /// Timed rounds per size (after one warm-up round whose outputs are compared): one
        /// count for every size, or one per size (`--runs 5,5,1` with three sizes).
        #[arg(long, value_delimiter = ',', default_value = "5")]
        runs: Vec<usize>,
        /// Folder for the provinces, batches and outputs (reused between invocations).
        #[arg(long, default_value = "/tmp/hedui-compare")]
        work: PathBuf,
        /// Threads (DataFusion partitions, DuckDB threads, Polars threads).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Run the full pipeline again even when a published batch exists.
        #[arg(long)]
        pipeline: bool,
        /// Engines to run (`hedui-unlinked`: hedui with the batch's policy without its
        /// `[linkage]`, to measure what the linkage adds).
        #[arg(long, value_delimiter = ',', default_value = "hedui,duckdb,polars")]
        engines: Vec<String>,
    },
    /// The verification core alone over a published batch, writing its outputs (what
    /// `compare` runs and measures as hedui).
    Core {
        /// A published batch folder.
        #[arg(long)]
        batch: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (the engine's partitions follow: `engine::partitions_for`).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Target partitions (default: the engine's for the threads).
        #[arg(long)]
        partitions: Option<usize>,
        /// Engine memory limit in MiB.
        #[arg(long)]
        memory_limit: Option<u64>,
        /// The batch's policy without its `[linkage]`: the core as it runs when nothing is
        /// linked (what the linkage adds is the difference).
        #[arg(long)]
        without_linkage: bool,
    },
    /// Runs a command and writes its wall time, CPU time and peak RSS as JSON (used by
    /// `compare` to measure each engine the same way).
    Measured {
        /// Where to write the figures.
        #[arg(long)]
        report: PathBuf,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// `hedui simulate` against the batch it simulates: runs the full pipeline on a generated
    /// province (timed), then simulates the published batch under its own policy with one
    /// city's standard in force raised (timed), and prints both and their ratio.
    Simulate {
        /// A generated province (with its hedui.toml).
        #[arg(long)]
        province: PathBuf,
        /// The city whose standard rises.
        #[arg(long, default_value_t = 440100)]
        city: i64,
        /// By how many yuan.
        #[arg(long, default_value_t = 50)]
        raise_yuan: i64,
    },
    /// The full pipeline: a generated province's exports to a published batch (`hedui run`).
    Pipeline {
        /// A generated province (with its hedui.toml).
        #[arg(long)]
        province: PathBuf,
    },
}

/// This process's peak resident set so far (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

fn engine_bench(
    batch: &Path,
    partitions: Option<usize>,
    explain: bool,
    analyze: bool,
    memory_limit: Option<u64>,
) -> Result<()> {
    let out = std::env::temp_dir().join(format!("hedui-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&out)?;
    let rt = tokio::runtime::Runtime::new()?;
    let parts = partitions.unwrap_or_else(hedui::engine::default_partitions);
    // The folder goes whether the run succeeds or fails (a failed run under a memory limit
    // would otherwise leave a million households' outputs behind).
    let ran = rt.block_on(async {
        let (manifest, policy, engine) = open_batch(batch, parts, memory_limit).await?;
        let t = Instant::now();
        let marks = std::sync::Mutex::new(Vec::new());
        let v = engine
            .verify(&policy, manifest.as_of, &out, &|s| {
                if let Ok(mut m) = marks.lock() {
                    m.push((s, Instant::now(), peak_rss_mib()));
                }
            })
            .await?;
        let end = Instant::now();
        let marks = marks.into_inner().unwrap_or_default();
        println!("| stage | seconds | peak RSS at its end (MiB) |\n|---|---|---|");
        for (i, (s, at, _)) in marks.iter().enumerate() {
            let next = marks.get(i + 1).map(|m| m.1).unwrap_or(end);
            let rss = marks.get(i + 1).map(|m| m.2).unwrap_or_else(peak_rss_mib);
            println!(
                "| {} | {:.2} | {rss} |",
                s.label(),
                (next - *at).as_secs_f64()
            );
        }
        println!(
            "| total ({} households, {} findings, {} partitions) | {:.2} |",
            v.households,
            v.findings.values().sum::<u64>(),
            parts,
            t.elapsed().as_secs_f64()
        );
        if explain || analyze {
            for (name, plan) in engine
                .explain(&policy, manifest.as_of, analyze, None)
                .await?
            {
                println!("\n## {name}\n\n{plan}");
            }
        }
        anyhow::Ok(())
    });
    let _ = std::fs::remove_dir_all(&out);
    ran
}

/// A published batch's manifest and policy copy, and an engine over its staged snapshot.
async fn open_batch(
    batch: &Path,
    partitions: usize,
    memory_limit: Option<u64>,
) -> Result<(hedui::manifest::Manifest, Policy, hedui::engine::Engine)> {
    let manifest = hedui::manifest::Manifest::read(batch)?;
    let policy = Policy::load(&batch.join(hedui::manifest::POLICY_COPY))?;
    let settings = hedui::config::EngineSection {
        memory_limit_mib: memory_limit,
        spill_dir: None,
        target_partitions: Some(partitions),
        ..Default::default()
    };
    let engine = hedui::engine::Engine::open_with(&batch.join("ingest"), &settings).await?;
    Ok((manifest, policy, engine))
}

fn core(
    batch: &Path,
    out: &Path,
    threads: usize,
    partitions: Option<usize>,
    memory_limit: Option<u64>,
    without_linkage: bool,
) -> Result<()> {
    std::fs::create_dir_all(out)?;
    // As many worker threads as the peers get; the partitions are work units on them.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let partitions = partitions.unwrap_or_else(|| {
        if memory_limit.is_some() {
            threads.max(1)
        } else {
            hedui::engine::partitions_for(threads)
        }
    });
    rt.block_on(async {
        let (manifest, mut policy, engine) = open_batch(batch, partitions, memory_limit).await?;
        if without_linkage {
            policy.linkage = None;
        }
        let v = engine.verify(&policy, manifest.as_of, out, &|_| {}).await?;
        println!(
            "{} households, {} findings, {} evidence rows",
            v.households,
            v.findings.values().sum::<u64>(),
            v.evidence_rows
        );
        anyhow::Ok(())
    })
}

fn pipeline(province: &Path) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    println!("{}", run_province(province, &rt)?.dir.display());
    Ok(())
}

/// `hedui run` of a generated province (its hedui.toml, the shipped policy, the generator's
/// date) into `province/batches`.
fn run_province(province: &Path, rt: &tokio::runtime::Runtime) -> Result<hedui::run::Batch> {
    use hedui::config::BatchConfig;
    let (cfg, base) = BatchConfig::load(&province.join("hedui.toml"))?;
    let plan = cfg.build(&base)?;
    let as_of: chrono::NaiveDate = generate::DEFAULT_AS_OF.parse()?;
    Ok(rt.block_on(hedui::run::run(
        &plan,
        &Policy::default_policy(),
        as_of,
        &province.join("batches"),
        &hedui::run::Progress::none(),
    ))?)
}

/// `policy` (TOML text) with `city`'s standard in force at `as_of` raised by `yuan` (each of
/// its figures: one, or urban and rural).
fn raised(policy: &str, city: i64, as_of: chrono::NaiveDate, yuan: i64) -> Result<String> {
    let mut v: toml::Value = toml::from_str(policy)?;
    let regions = v
        .get_mut("regions")
        .and_then(|r| r.as_array_mut())
        .context("no [[regions]]")?;
    let region = regions
        .iter_mut()
        .find(|r| r.get("code").and_then(|c| c.as_integer()) == Some(city))
        .with_context(|| format!("the policy has no region {city}"))?;
    let standards = region
        .get_mut("standards")
        .and_then(|s| s.as_array_mut())
        .context("no standards")?;
    let from = |s: &toml::Value| {
        s.get("from")
            .and_then(|f| {
                f.as_str()
                    .map(str::to_string)
                    .or_else(|| f.as_datetime().map(|d| d.to_string()))
            })
            .and_then(|f| f.parse::<chrono::NaiveDate>().ok())
    };
    let at = standards
        .iter()
        .enumerate()
        .filter(|(_, s)| from(s).is_some_and(|f| f <= as_of))
        .max_by_key(|(_, s)| from(s))
        .map(|(i, _)| i)
        .context("no standard in force")?;
    for key in ["dibao_yuan", "urban_yuan", "rural_yuan"] {
        if let Some(fig) = standards[at].get_mut(key) {
            let text = fig.as_str().context("a figure is not a string")?;
            let (whole, frac) = text.split_once('.').unwrap_or((text, "00"));
            *fig = toml::Value::String(format!("{}.{frac}", whole.parse::<i64>()? + yuan));
        }
    }
    if let Some(name) = v.get_mut("name") {
        *name = toml::Value::String(format!("proposed-{city}-plus-{yuan}"));
    }
    Ok(toml::to_string(&v)?)
}

fn simulate_bench(province: &Path, city: i64, raise_yuan: i64) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let t = Instant::now();
    let batch = run_province(province, &rt)?;
    let as_of = batch.summary.as_of;
    let batch_secs = t.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(batch.dir.join(hedui::manifest::POLICY_COPY))?;
    let proposed = Policy::from_toml(&raised(&text, city, as_of, raise_yuan)?, "proposed.toml")?;
    let scratch = std::env::temp_dir().join(format!("hedui-bench-simulate-{}", std::process::id()));
    let t = Instant::now();
    let sim = rt.block_on(hedui::simulate::simulate(&batch.dir, &proposed, &scratch))?;
    let out = province.join("simulation");
    hedui::simulate::write(&sim, &out)?;
    let sim_secs = t.elapsed().as_secs_f64();
    let (before, after) = sim.totals();
    println!(
        "| run | seconds |\n|---|---|\n| `hedui run` (ingest and verify, {} households) | {batch_secs:.1} |\n| `hedui simulate` ({city} +{raise_yuan} yuan: {} households change, monthly assistance {} -> {} yuan) | {sim_secs:.1} |\n| ratio simulate / run | {:.2} |",
        sim.households,
        sim.changed.len(),
        hedui::engine::sentence::yuan(before),
        hedui::engine::sentence::yuan(after),
        sim_secs / batch_secs
    );
    println!(
        "batch {}; simulation in {}",
        batch.dir.display(),
        out.display()
    );
    Ok(())
}

struct Size {
    households: u64,
    batch: PathBuf,
    dept_rows: u64,
    /// Seconds per engine per timed round.
    rounds: Vec<BTreeMap<String, compare::Measured>>,
    /// Engines that failed at this size (out of memory, say), with the reason: reported in
    /// the table instead of figures, and left out of that size's rounds.
    failed: BTreeMap<String, String>,
}

fn compare_bench(
    sizes: &[u64],
    runs: &[usize],
    work: &Path,
    threads: usize,
    fresh_pipeline: bool,
    engines: &[String],
) -> Result<()> {
    use compare::{Measured, Results, measure, median, scaling_exponent};
    for e in engines {
        anyhow::ensure!(compare::ENGINES.contains(&e.as_str()), "unknown engine {e}");
    }
    anyhow::ensure!(
        runs.len() == 1 || runs.len() == sizes.len(),
        "--runs takes one count, or one per size ({} sizes)",
        sizes.len()
    );
    anyhow::ensure!(runs.iter().all(|&r| r >= 1), "--runs must be at least 1");
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers");
    let python = if engines.iter().any(|e| !e.starts_with("hedui")) {
        Some(compare::ensure_venv(&peers)?)
    } else {
        None
    };
    let me = std::env::current_exe()?;
    let mut done = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let runs = runs[i.min(runs.len() - 1)];
        let dir = work.join(format!("hh-{n}"));
        // The province: generated once, reused while its generation.json says the same size.
        let reuse = std::fs::read_to_string(dir.join("generation.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("households").and_then(|h| h.as_u64()))
            == Some(n);
        if !reuse {
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!("generating {n} households into {} ...", dir.display());
            let t = Instant::now();
            generate::generate(
                &GenerateConfig {
                    households: n,
                    seed: 1,
                    as_of: generate::DEFAULT_AS_OF.parse()?,
                    out: dir.clone(),
                    dirty: DirtyRates::default(),
                    plant: PlantRates::default(),
                    policy: Policy::default_policy(),
                    layout: Default::default(),
                },
                &|_| {},
            )?;
            eprintln!("  {:.1} s", t.elapsed().as_secs_f64());
        }
        // The full pipeline: exports to a published batch, once (or again with --pipeline).
        let root = dir.join("batches");
        // A batch made by a hedui before an output the engine now writes (the peers read
        // `linkage.parquet`) is made again.
        let stale = hedui::publish::published(&root)?.pop().is_some_and(|id| {
            hedui::engine::finding::ENGINE_OUTPUTS
                .iter()
                .any(|f| !root.join(&id).join(f).is_file())
        });
        let pipeline_run =
            if fresh_pipeline || stale || hedui::publish::published(&root)?.is_empty() {
                eprintln!("full pipeline at {n} households ...");
                Some(measure(
                    Process::new(&me).args(["pipeline", "--province"]).arg(&dir),
                    &dir.join("pipeline.log"),
                )?)
            } else {
                None
            };
        let id = hedui::publish::published(&root)?
            .pop()
            .context("no published batch")?;
        let batch = root.join(&id);
        let manifest = hedui::manifest::Manifest::read(&batch)?;
        if let Some(m) = pipeline_run {
            println!("\n### Full pipeline, {n} households (exports to published batch {id})\n");
            println!("| stage | seconds | share |\n|---|---|---|");
            for (stage, secs) in &manifest.timings {
                println!("| {stage} | {secs:.1} | {:.0}% |", 100.0 * secs / m.wall);
            }
            println!(
                "| total (wall; CPU {:.1} s, peak RSS {:.0} MiB) | {:.1} | 100% |",
                m.cpu, m.rss_mib, m.wall
            );
        }
        let policy = Policy::load(&batch.join(hedui::manifest::POLICY_COPY))?;
        let staged = batch.join("ingest/staged");
        // Parameters for the peers: the ones hedui fills its queries with, plus the rules'
        // severities and the sources that make households UNVERIFIED.
        let engine_dir = batch.join("ingest");
        let rt = tokio::runtime::Runtime::new()?;
        let unverified: Vec<String> = rt.block_on(async {
            let e = hedui::engine::Engine::open(&engine_dir, threads).await?;
            anyhow::Ok(
                e.unverified_sources(&policy)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        })?;
        let mut params =
            serde_json::to_value(hedui::engine::Parameters::new(&policy, manifest.as_of))?;
        params["flag_rules"] = serde_json::json!(
            hedui_schemas::Rule::ALL
                .iter()
                .filter(|r| policy.severity(**r) == hedui_schemas::Severity::Flag)
                .map(|r| r.id())
                .collect::<Vec<_>>()
        );
        params["unverified_sources"] = serde_json::json!(unverified);
        // The sources whose unreadable records about a counted member give
        // `unreadable_records`.
        params["read_sources"] = serde_json::json!(hedui::engine::read_sources());
        let params_path = dir.join("params.json");
        std::fs::write(&params_path, serde_json::to_string_pretty(&params)?)?;
        let dept_rows: u64 = manifest.sources.values().map(|s| s.accepted).sum();

        let run_engine = |engine: &str, out: &Path| -> Result<Measured> {
            let _ = std::fs::remove_dir_all(out);
            std::fs::create_dir_all(out)?;
            let log = out.with_extension("log");
            let cmd = match engine {
                "hedui" | "hedui-unlinked" => {
                    let mut c = Process::new(&me);
                    c.args(["core", "--batch"])
                        .arg(&batch)
                        .arg("--out")
                        .arg(out)
                        .args(["--threads", &threads.to_string()]);
                    if engine == "hedui-unlinked" {
                        c.arg("--without-linkage");
                    }
                    c
                }
                peer => {
                    let mut c = Process::new(python.as_ref().context("no python")?);
                    c.arg(peers.join(format!("{peer}_peer.py")))
                        .arg(&staged)
                        .arg(&params_path)
                        .arg(out)
                        .args(["--threads", &threads.to_string()])
                        .env("POLARS_MAX_THREADS", threads.to_string());
                    c
                }
            };
            measure(&cmd, &log)
        };
        // Warm-up round: every engine once, outputs compared with hedui's, one at a time (at
        // 10M households each engine's results take gigabytes). An engine that fails (killed
        // for memory, say) is reported as failed at this size and left out of its rounds.
        eprintln!("{n} households: warm-up and agreement ...");
        let outs = dir.join("out");
        let mut failed = BTreeMap::new();
        let mut active = Vec::new();
        for e in engines {
            match run_engine(e, &outs.join(e)) {
                Ok(_) => active.push(e.clone()),
                Err(err) => {
                    eprintln!("{e} failed at {n} households: {err:#}");
                    failed.insert(e.clone(), failure_reason(&err));
                }
            }
        }
        println!("\n### Agreement, {n} households\n");
        for (e, why) in &failed {
            println!("{e}: {why}");
        }
        if active.iter().any(|e| e == "hedui") {
            let base = Results::read(&outs.join("hedui"))?;
            println!("households flagged per rule (hedui): {:?}", base.per_rule());
            let mut bad = false;
            // (`hedui-unlinked` links nothing: its findings differ by design.)
            for e in active
                .iter()
                .filter(|e| !["hedui", "hedui-unlinked"].contains(&e.as_str()))
            {
                let d = Results::read(&outs.join(e))?.differences(&base);
                if d.is_empty() {
                    println!(
                        "{e}: agrees exactly ({} households' figures, {} findings, {} outcomes)",
                        base.figures_len(),
                        base.findings_len(),
                        base.outcomes_len()
                    );
                } else {
                    bad = true;
                    println!("{e}: DISAGREES");
                    for line in d {
                        println!("  {line}");
                    }
                }
            }
            anyhow::ensure!(!bad, "the engines disagree at {n} households");
        }
        let mut rounds: Vec<BTreeMap<String, Measured>> = Vec::new();
        for round in 1..=runs {
            eprintln!("{n} households: round {round}/{runs} ...");
            let mut m = BTreeMap::new();
            for e in active.clone() {
                match run_engine(&e, &outs.join(&e)) {
                    Ok(x) => {
                        m.insert(e, x);
                    }
                    Err(err) => {
                        // Failed in a timed round after passing the warm-up: its earlier
                        // rounds are dropped too, so every figure at a size has all rounds.
                        eprintln!("{e} failed at {n} households, round {round}: {err:#}");
                        failed.insert(e.clone(), failure_reason(&err));
                        active.retain(|a| *a != e);
                        for r in &mut rounds {
                            r.remove(&e);
                        }
                    }
                }
            }
            rounds.push(m);
        }
        done.push(Size {
            households: n,
            batch,
            dept_rows,
            rounds,
            failed,
        });
    }

    let runs_text = match runs {
        [r] => format!("median of {r} runs"),
        _ => format!(
            "median of {} runs per size",
            runs.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join("/")
        ),
    };
    println!(
        "\n### Verification core: hedui vs DuckDB vs Polars ({threads} threads, {runs_text})\n"
    );
    println!(
        "| households | department rows | engine | wall s | CPU s | peak RSS MiB | rows/s | hedui/engine (median of per-run ratios) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut points: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in &done {
        for e in engines {
            if let Some(why) = s.failed.get(e) {
                println!(
                    "| {} | {} | {e} | {why} | | | | |",
                    s.households, s.dept_rows
                );
                continue;
            }
            let col = |f: fn(&Measured) -> f64| -> Vec<f64> {
                s.rounds.iter().map(|r| f(&r[e])).collect()
            };
            let wall = median(&col(|m| m.wall));
            let ratio = per_run_ratio(s, e).map_or("-".into(), |r| format!("{r:.2}"));
            points
                .entry(e.clone())
                .or_default()
                .push((s.households as f64, wall));
            println!(
                "| {} | {} | {e} | {wall:.2} | {:.2} | {:.0} | {:.0} | {ratio} |",
                s.households,
                s.dept_rows,
                median(&col(|m| m.cpu)),
                median(&col(|m| m.rss_mib)),
                s.dept_rows as f64 / wall
            );
        }
        eprintln!("(batch {})", s.batch.display());
    }
    if done.len() > 1 {
        println!(
            "\n| engine | scaling exponent of wall time over households (1.0 = linear) |\n|---|---|"
        );
        for (e, p) in &points {
            if let Some(x) = scaling_exponent(p) {
                let sizes: Vec<String> = p.iter().map(|(n, _)| format!("{n}")).collect();
                println!("| {e} | {x:.2} (over {}) |", sizes.join(", "));
            }
        }
    }
    println!();
    match done.last().and_then(|s| per_run_ratio(s, "duckdb")) {
        Some(r) => println!("ratio hedui/duckdb: {r:.2}"),
        None => println!("ratio hedui/duckdb: not measured"),
    }
    // What the linkage of unreadable IDs adds to the core (issue #28 allows a fifth).
    if let Some(r) = done.last().and_then(|s| per_run_ratio(s, "hedui-unlinked")) {
        println!(
            "the linkage adds {:.0}% to the core (hedui/hedui-unlinked {r:.2})",
            100.0 * (r - 1.0)
        );
    }
    Ok(())
}

/// The median over a size's rounds of hedui's wall time over `engine`'s, when both ran.
fn per_run_ratio(s: &Size, engine: &str) -> Option<f64> {
    let r: Vec<f64> = s
        .rounds
        .iter()
        .filter_map(|r| Some(r.get("hedui")?.wall / r.get(engine)?.wall))
        .collect();
    (!r.is_empty() && r.len() == s.rounds.len()).then(|| compare::median(&r))
}

/// A failure as the table shows it: a measured command's exit status, or else the error's
/// first line (the full message goes to the terminal).
fn failure_reason(err: &anyhow::Error) -> String {
    match err.downcast_ref::<compare::Failed>() {
        Some(f) => format!("failed ({})", f.status),
        None => format!("{err:#}")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn ingest_bench(province: &Path, sources: &[String], batch_rows: usize) -> Result<()> {
    use hedui::config::BatchConfig;
    use hedui_connectors::ingest::{IngestOptions, ingest_source};
    let (cfg, base) = BatchConfig::load(&province.join("hedui.toml"))?;
    let plan = cfg.build(&base)?;
    let out = std::env::temp_dir().join("hedui-bench-ingest");
    println!(
        "| source | format | file size | rows | threads | seconds | rows/s | rows/s per core |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for id in sources {
        let sp = plan
            .sources
            .iter()
            .find(|s| s.def.id == id)
            .ok_or_else(|| anyhow::anyhow!("no source {id} in the config"))?;
        let size: u64 = sp
            .files()?
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum();
        let format = match (sp.def.export.format, sp.def.export.encoding) {
            (hedui_schemas::Format::Csv, e) => format!("CSV {e:?}"),
            (f, _) => format!("{f:?}"),
        };
        for threads in [1usize, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            let opts = IngestOptions {
                out: out.clone(),
                batch_rows,
            };
            let t = Instant::now();
            let r = pool.install(|| ingest_source(sp, &opts, None));
            let secs = t.elapsed().as_secs_f64();
            anyhow::ensure!(r.error.is_none(), "{id}: {:?}", r.error);
            println!(
                "| {id} | {format} | {:.0} MiB | {} | {threads} | {secs:.2} | {:.0} | {:.0} |",
                size as f64 / 1048576.0,
                r.read,
                r.read as f64 / secs,
                r.read as f64 / secs / threads as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                total += dir_size(&path);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn main() -> Result<()> {
    hedui::engine::no_huge_pages();
    let command = Cli::parse().command;
    // As `hedui` does for its batch commands: freed memory kept for reuse, but under a
    // memory limit.
    if !matches!(
        command,
        Command::Core {
            memory_limit: Some(_),
            ..
        } | Command::Engine {
            memory_limit: Some(_),
            ..
        }
    ) {
        hedui::engine::keep_freed_memory();
    }
    // The same logs as `hedui` (`HEDUI_LOG=hedui=debug` shows each engine query's time).
    hedui::init_logs();
    match command {
        Command::Compare {
            households,
            runs,
            work,
            threads,
            pipeline: fresh,
            engines,
        } => compare_bench(&households, &runs, &work, threads, fresh, &engines)?,
        Command::Core {
            batch,
            out,
            threads,
            partitions,
            memory_limit,
            without_linkage,
        } => core(
            &batch,
            &out,
            threads,
            partitions,
            memory_limit,
            without_linkage,
        )?,
        Command::Pipeline { province } => pipeline(&province)?,
        Command::Simulate {
            province,
            city,
            raise_yuan,
        } => simulate_bench(&province, city, raise_yuan)?,
        Command::Measured { report, cmd } => std::process::exit(compare::measured(&report, &cmd)?),
        Command::Engine {
            batch,
            partitions,
            explain,
            analyze,
            memory_limit,
        } => engine_bench(&batch, partitions, explain, analyze, memory_limit)?,
        Command::Ingest {
            province,
            sources,
            batch_rows,
        } => ingest_bench(&province, &sources, batch_rows)?,
        Command::Generate {
            households,
            out,
            runs,
        } => {
            let keep = out.is_some();
            let out = out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("hedui-bench-gen-{households}"))
            });
            println!(
                "| run | households | rows | seconds | rows/s | exports on disk | truth on disk |"
            );
            println!("|---|---|---|---|---|---|---|");
            for run in 1..=runs {
                let _ = std::fs::remove_dir_all(&out);
                let cfg = GenerateConfig {
                    households,
                    seed: 1,
                    as_of: generate::DEFAULT_AS_OF.parse()?,
                    out: out.clone(),
                    dirty: DirtyRates::default(),
                    plant: PlantRates::default(),
                    policy: Policy::default_policy(),
                    layout: Default::default(),
                };
                let t = Instant::now();
                let s = generate::generate(&cfg, &|_| {})?;
                let secs = t.elapsed().as_secs_f64();
                let rows = s.total_rows();
                println!(
                    "| {run} | {households} | {rows} | {secs:.1} | {:.0} | {:.1} MiB | {:.1} MiB |",
                    rows as f64 / secs,
                    dir_size(&out.join("exports")) as f64 / 1048576.0,
                    dir_size(&out.join("truth")) as f64 / 1048576.0
                );
            }
            if !keep {
                let _ = std::fs::remove_dir_all(&out);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(rounds: &[&[(&str, f64)]]) -> Size {
        Size {
            households: 1,
            batch: PathBuf::new(),
            dept_rows: 1,
            rounds: rounds
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|(e, wall)| {
                            let m = compare::Measured {
                                wall: *wall,
                                cpu: *wall,
                                rss_mib: 1.0,
                            };
                            (e.to_string(), m)
                        })
                        .collect()
                })
                .collect(),
            failed: BTreeMap::new(),
        }
    }

    #[test]
    fn ratios_need_both_engines_in_every_round() {
        let s = size(&[
            &[("hedui", 2.0), ("duckdb", 1.0)],
            &[("hedui", 3.0), ("duckdb", 1.0)],
            &[("hedui", 1.0), ("duckdb", 1.0)],
        ]);
        assert_eq!(per_run_ratio(&s, "duckdb"), Some(2.0));
        assert_eq!(per_run_ratio(&s, "polars"), None);
        let s = size(&[&[("hedui", 2.0), ("duckdb", 1.0)], &[("hedui", 3.0)]]);
        assert_eq!(per_run_ratio(&s, "duckdb"), None);
    }

    #[test]
    fn a_failure_is_named_by_its_exit_status() {
        use std::os::unix::process::ExitStatusExt;
        let err = anyhow::Error::from(compare::Failed {
            status: std::process::ExitStatus::from_raw(9),
            what: "\"python\" \"polars_peer.py\" failed (signal: 9 (SIGKILL)); last lines of /x/polars.log:\nkilled".into(),
        });
        assert_eq!(failure_reason(&err), "failed (signal: 9 (SIGKILL))");
        let err = anyhow::anyhow!("reading /x: no such file");
        assert_eq!(failure_reason(&err), "reading /x: no such file");
    }
}
