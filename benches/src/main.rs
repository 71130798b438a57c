//! `hedui-benches`: whole-pipeline benchmarks that print a table.
//!
//! `generate` times `hedui generate` at a given size and reports rows, rows per second and
//! bytes on disk; later issues add ingest, the engine and the peer comparison.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};
use hedui::generate::{self, DirtyRates, GenerateConfig, PlantRates};
use hedui::policy::Policy;

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
