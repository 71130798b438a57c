//! `hedui-benches`: whole-pipeline benchmarks that print a table.
//!
//! `generate` times `hedui generate` at a given size and reports rows, rows per second and
//! bytes on disk; `ingest` times ingestion per format on one core and on two. Later issues
//! add the engine and the peer comparison.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use hedui::generate::{self, DirtyRates, GenerateConfig, PlantRates};
use hedui::policy::Policy;

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
    let manifest = hedui::manifest::Manifest::read(batch)?;
    let policy = Policy::load(&batch.join(hedui::manifest::POLICY_COPY))?;
    let out = std::env::temp_dir().join(format!("hedui-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&out)?;
    let rt = tokio::runtime::Runtime::new()?;
    let parts = partitions.unwrap_or_else(hedui::engine::default_partitions);
    rt.block_on(async {
        let settings = hedui::config::EngineSection {
            memory_limit_mib: memory_limit,
            spill_dir: None,
            target_partitions: Some(parts),
        };
        let engine = hedui::engine::Engine::open_with(&batch.join("ingest"), &settings).await?;
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
            for (name, plan) in engine.explain(&policy, manifest.as_of, analyze).await? {
                println!("\n## {name}\n\n{plan}");
            }
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
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
    match Cli::parse().command {
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
