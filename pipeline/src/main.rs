//! The `hedui` command line: catalog, generator, ingest, run, replay, verify, diff, check,
//! report, serve and user management.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use hedui::config::BatchConfig;

// mimalloc returns memory freed across threads (rayon workers allocate, the ingest thread
// frees) far more promptly than the system allocator: measured peak RSS of `hedui ingest`
// halves (benches/README.md). `main` turns transparent huge pages off first
// (`hedui::engine::no_huge_pages`) and, but for `serve` and a batch under a memory limit,
// keeps freed memory for reuse (`hedui::engine::keep_freed_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use hedui::generate::{self, DirtyRates, GenerateConfig, PlantRates};
use hedui::policy::Policy;

/// hedui: household economic-status verification (居民家庭经济状况核对).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the source catalog: the applications and the 24 department sources.
    Sources,
    /// Write a synthetic Guangdong province as departments export it, with planted truth.
    Generate {
        /// Number of applicant households.
        #[arg(long, default_value_t = 10_000)]
        households: u64,
        /// Random seed; the same seed gives byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (created; existing files are overwritten).
        #[arg(long)]
        out: PathBuf,
        /// The batch date the truth is planted against.
        #[arg(long, default_value = generate::DEFAULT_AS_OF)]
        as_of: NaiveDate,
        /// Multiplies every dirty-data rate (0 = clean exports).
        #[arg(long, default_value_t = 1.0)]
        dirty_scale: f64,
        /// Policy file (default: the shipped policy/guangdong.toml).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// How the exports are written: `catalog` (each department's default layout) or
        /// `county` (other headers, CRLF and BOMs, display fields missing, business status as
        /// dates, tax in 万元, 15-digit IDs, escaped JSON keys), with the hedui.toml that maps
        /// it. The planted truth is the same.
        #[arg(long, default_value = "catalog")]
        layout: generate::Layout,
    },
    /// Ingest every source of a batch config into a staged snapshot (validate, quarantine,
    /// stage, gate), without running the rules: checks a department's new export.
    Ingest {
        /// The batch config.
        #[arg(long, default_value = "hedui.toml")]
        config: PathBuf,
        /// The ingest folder (default: `ingest/` beside the config). A previous snapshot there
        /// is what the relative quality gates compare against.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a batch: ingest every configured source, apply the policy at the batch date, and
    /// write outcomes and a summary under the batch root.
    Run {
        /// The batch config.
        #[arg(long, default_value = "hedui.toml")]
        config: PathBuf,
        /// The batch date.
        #[arg(long)]
        as_of: NaiveDate,
        /// The batch root; the batch gets its own folder in it.
        #[arg(long, default_value = "batches")]
        out: PathBuf,
        /// Policy file (default: the config's, else the shipped policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Memory the engine may hold, in MiB (beyond it, it spills to disk); overrides
        /// `[engine] memory_limit_mib`.
        #[arg(long)]
        memory_limit: Option<u64>,
        /// Runs the verification stages on the Ballista cluster whose scheduler this is
        /// (`df://HOST:PORT`; `hedui cluster scheduler`); overrides `[engine] cluster`.
        /// Ingestion stays here; the batch root and `[engine] shared_dir` must be read by
        /// every executor at the same paths.
        #[arg(long, value_name = "URL")]
        cluster: Option<String>,
    },
    /// Prints the logical and physical plans of a batch's queries (household resolution, the
    /// income and asset sums, the household metrics, the owned units, and each rule's
    /// evidence) at a batch date, over the staged snapshot in the config's ingest folder, or
    /// over empty tables when there is none (or no config): no batch is run.
    Explain {
        /// The batch config (its policy and `[engine]` settings, and `ingest/` beside it);
        /// without one, the shipped policy over empty tables.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The batch date.
        #[arg(long)]
        as_of: NaiveDate,
        /// One plan: `members`, `income`, `assets`, `metrics`, `units` or a rule's id.
        plan: Option<String>,
        /// The ingest folder (default: `ingest/` beside the config).
        #[arg(long)]
        ingest: Option<PathBuf>,
        /// Policy file (default: the config's, else the shipped policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Run each plan and show every operator's metrics (rows, time, memory).
        #[arg(long)]
        analyze: bool,
    },
    /// Re-runs a published batch from its own staged snapshot and policy copy into a scratch
    /// folder and compares every output byte for byte; exits 1 naming the first file and row
    /// that differ.
    Replay {
        /// The batch folder (`ROOT/<batch-id>`).
        batch: PathBuf,
        /// Scratch folder (default: a fresh folder under the system's temporary folder).
        #[arg(long)]
        scratch: Option<PathBuf>,
    },
    /// Recomputes every hash a batch's manifest lists and checks its link to the previous
    /// batch; with --all, every batch under the root and the chain between them. Exits 1 on
    /// any difference, naming it.
    Verify {
        /// The batch folder (`ROOT/<batch-id>`).
        batch: Option<PathBuf>,
        /// Verify every batch under the batch root.
        #[arg(long)]
        all: bool,
        /// The batch root, for --all.
        #[arg(long, default_value = "batches")]
        root: PathBuf,
        /// The folder the deliveries were read from (the batch config's folder): also check
        /// every delivered file the manifest hashes against the file there now.
        #[arg(long)]
        inputs: Option<PathBuf>,
        /// The public key (`hedui key generate`) the batches were signed with: check every
        /// manifest's signature and the root's signed head. Repeat it for a chain signed
        /// with a key that was later replaced.
        #[arg(long = "key")]
        keys: Vec<PathBuf>,
        /// With --all or --access-log: a head hash recorded earlier (as `verify` prints it);
        /// check that the chain still holds it unchanged. Repeat it for several.
        #[arg(long = "expect-head", value_name = "HASH")]
        expect_heads: Vec<String>,
        /// Verify the review database's logs instead (the access log and the decisions):
        /// recompute their hash chains, name any line changed or removed, print their heads.
        #[arg(long, value_name = "DB", conflicts_with_all = ["batch", "all", "inputs", "keys"])]
        access_log: Option<PathBuf>,
    },
    /// What a published batch would say under a proposed policy: the households whose outcome
    /// or findings change, by city and programme, each with the reason, and the monthly
    /// assistance of the eligible dibao and tekun households before and after. The batch's own
    /// staged snapshot is verified again under the proposed policy (nothing is ingested); the
    /// result is not a batch and enters no chain.
    Simulate {
        /// The published batch folder.
        batch: PathBuf,
        /// The proposed policy file.
        #[arg(long)]
        policy: PathBuf,
        /// Where changes.csv, cost.csv, simulation.json and simulation.html go (default:
        /// `simulation-<batch id>` in the current folder).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The households newly flagged, cleared, or with changed findings between two batches,
    /// and why (records and policy values that changed).
    Diff {
        /// The earlier batch folder.
        a: PathBuf,
        /// The later batch folder.
        b: PathBuf,
    },
    /// Proposes how to read a department's new export: the catalog source and a
    /// `[sources.<id>]` block for hedui.toml (columns, encoding, delimiter, units, absent
    /// details), dry-run on its first rows, with what a human must still decide.
    Map {
        /// The export files (CSV, JSON lines or Parquet).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The catalog source, when the headers do not say it.
        #[arg(long)]
        source: Option<String>,
        /// Rows to dry-run the block on.
        #[arg(long, default_value_t = 1000)]
        sample: usize,
    },
    /// Compares a published batch with a generated province's planted truth (findings,
    /// evidence, outcomes); exits 1 on any difference.
    Check {
        /// The batch folder (`ROOT/<batch-id>`).
        #[arg(long)]
        batch: PathBuf,
        /// The province's `truth/` folder.
        #[arg(long)]
        truth: PathBuf,
    },
    /// Writes verification reports (核对报告) of a published batch as static HTML files that
    /// print cleanly: `index.html` (the batch summary with charts and a link to each report)
    /// and one `<household id>.html` per household named, or per household that did not
    /// PASS when none is named.
    Report {
        /// The batch folder (`ROOT/<batch-id>`).
        batch: PathBuf,
        /// Household ids to report on (default: every household that did not PASS).
        households: Vec<String>,
        /// Output folder (default: `reports/<batch-id>`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Language: zh (default) or en.
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// The review web app over the published batches of a batch root: caseworkers review
    /// flagged households of their regions and record decisions; auditors read everything.
    Serve {
        /// The batch root.
        #[arg(long, default_value = "batches")]
        root: PathBuf,
        /// The review database (users, sessions, decisions, access log); created if missing.
        #[arg(long, default_value = "review.sqlite")]
        db: PathBuf,
        /// Address to listen on. Put a TLS-terminating proxy in front for anything but
        /// localhost: session cookies are `Secure`.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Signing keys for the manifests.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Manage the review app's users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Assigns households of a published batch to a caseworker in the review database: every
    /// household to review (FLAG, REVIEW, UNVERIFIED) of a region (a city takes its
    /// counties'), and the household ids listed. An assignment holds in later batches.
    Assign {
        /// The published batch folder.
        batch: PathBuf,
        /// Household ids to assign.
        households: Vec<String>,
        /// The caseworker.
        #[arg(long)]
        to: String,
        /// A region code whose households to review are assigned.
        #[arg(long)]
        region: Option<i32>,
        /// The review database.
        #[arg(long, default_value = "review.sqlite")]
        db: PathBuf,
        /// Who assigns (recorded with the assignment).
        #[arg(long, default_value = "admin")]
        by: String,
    },
    /// hedui's own Apache Ballista processes, to run the verification stages on a cluster
    /// (built with `--features cluster`).
    #[cfg(feature = "cluster")]
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// The main job on an embedded default: generate a province, run a batch on it and
    /// check the batch against the planted truth.
    Demo {
        /// Number of applicant households.
        #[arg(long, default_value_t = 100_000)]
        households: u64,
        /// Where the province is written.
        #[arg(long, default_value = "province")]
        out: PathBuf,
        /// The exports' layout (`catalog` or `county`; see `generate --layout`).
        #[arg(long, default_value = "catalog")]
        layout: generate::Layout,
    },
}

#[cfg(feature = "cluster")]
#[derive(Subcommand)]
enum ClusterAction {
    /// A scheduler: executors register with it, `hedui run --cluster df://HOST:PORT` sends it
    /// the plans.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Seconds without a heartbeat after which an executor is taken for dead and its
        /// tasks are run again on the others (longer than the executors' `--heartbeat`).
        #[arg(long, default_value_t = 60)]
        executor_timeout: u64,
    },
    /// An executor: runs the tasks the scheduler gives it.
    Executor {
        /// The scheduler, `df://HOST:PORT`.
        #[arg(long)]
        scheduler: String,
        /// Tasks run at once (0: one per core).
        #[arg(long, default_value_t = 0)]
        slots: usize,
        /// Folder for the shuffle files (a temporary one when not given).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Address to bind and advertise to the scheduler and the other executors.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The Arrow Flight port; the executor's gRPC port is the next one.
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// Seconds between the executor's heartbeats to the scheduler.
        #[arg(long, default_value_t = 10)]
        heartbeat: u64,
    },
}

#[derive(Subcommand)]
enum KeyAction {
    /// Makes an Ed25519 key pair: `PREFIX.key` (the secret key, mode 0600: name it in
    /// hedui.toml's `[signing] key`, outside the batch root) and `PREFIX.pub` (the public key
    /// auditors verify with). Never overwrites a key.
    Generate {
        /// Path and name of the two files, without extension.
        #[arg(long, default_value = "hedui-signing")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Adds a user. The password is asked for twice on the terminal, or read from the first
    /// line of standard input with --password-stdin.
    Add {
        /// Login name (letters, digits, `_`, `.`, `-`).
        name: String,
        /// caseworker, auditor or admin.
        #[arg(long)]
        role: String,
        /// A region a caseworker reviews (6-digit code); repeat for several.
        #[arg(long = "region")]
        regions: Vec<String>,
        /// The review database.
        #[arg(long, default_value = "review.sqlite")]
        db: PathBuf,
        /// Read the password from standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Lists the users.
    List {
        /// The review database.
        #[arg(long, default_value = "review.sqlite")]
        db: PathBuf,
    },
    /// Disables a user and ends their sessions.
    Disable {
        /// Login name.
        name: String,
        /// The review database.
        #[arg(long, default_value = "review.sqlite")]
        db: PathBuf,
    },
}

/// Reads a new password: from standard input's first line, or asked twice on the terminal.
fn read_password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let a = rpassword::prompt_password("password: ").context("reading the password")?;
    let b = rpassword::prompt_password("again: ").context("reading the password")?;
    anyhow::ensure!(a == b, "the two passwords differ");
    Ok(a)
}

/// Generates with a progress bar and prints what was written.
fn generate_and_report(cfg: &GenerateConfig) -> Result<generate::Summary> {
    let started = Instant::now();
    let bar = indicatif::ProgressBar::new(cfg.households).with_style(
        indicatif::ProgressStyle::with_template(
            "generating {bar:40} {pos}/{len} households ({eta})",
        )
        .context("progress template")?,
    );
    let summary = generate::generate(cfg, &|done| bar.set_position(done))
        .with_context(|| format!("generating into {}", cfg.out.display()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let all: u64 = summary.outcomes.values().sum();
    let second = if all > summary.households {
        format!(
            ", and {} second households of a member declared in two",
            all - summary.households
        )
    } else {
        String::new()
    };
    println!(
        "generated {} households{second} ({} department rows) into {} in {:.1} s",
        summary.households,
        summary.total_rows(),
        cfg.out.display(),
        secs
    );
    println!(
        "\n{:<22} {:>10} {:>10} {:>12}",
        "source", "rows", "accepted", "quarantined"
    );
    for (id, c) in &summary.sources {
        println!(
            "{id:<22} {:>10} {:>10} {:>12}",
            c.read, c.accepted, c.quarantined
        );
    }
    println!(
        "\nplanted outcomes (what a batch at {} must find):",
        summary.as_of
    );
    for (o, n) in &summary.outcomes {
        println!("  {o:<10} {n:>8}");
    }
    println!("planted findings:");
    for (r, n) in &summary.findings {
        println!("  {r:<24} {n:>8}");
    }
    Ok(summary)
}

/// Runs a batch with a progress bar per source and a spinner per engine stage.
fn run_batch(
    plan: &hedui::config::BatchPlan,
    policy: &Policy,
    as_of: NaiveDate,
    root: &std::path::Path,
) -> Result<hedui::run::Batch> {
    let bars = indicatif::MultiProgress::new();
    let ingest = bars.add(
        indicatif::ProgressBar::new(plan.sources.len() as u64).with_style(
            indicatif::ProgressStyle::with_template("ingesting {bar:40} {pos}/{len} sources {msg}")
                .context("progress template")?,
        ),
    );
    let engine = bars.add(indicatif::ProgressBar::hidden());
    engine.set_style(
        indicatif::ProgressStyle::with_template("{spinner} engine: {msg} ({elapsed})")
            .context("progress template")?,
    );
    let (i, e) = (ingest.clone(), engine.clone());
    let progress = hedui::run::Progress {
        source: std::sync::Arc::new(move |r: &hedui_connectors::ingest::SourceReport| {
            i.set_message(r.source.clone());
            i.inc(1);
        }),
        stage: std::sync::Arc::new(move |s: hedui::engine::finding::Stage| {
            if e.is_hidden() {
                e.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                e.enable_steady_tick(std::time::Duration::from_millis(120));
            }
            e.set_message(s.label());
        }),
    };
    let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let batch = rt.block_on(hedui::run::run(plan, policy, as_of, root, &progress));
    ingest.finish_and_clear();
    engine.finish_and_clear();
    Ok(batch?)
}

fn main() -> Result<()> {
    hedui::engine::no_huge_pages();
    let cli = Cli::parse();
    // Before any thread starts. The review server, which runs for days, hands freed memory
    // back as usual; so does a batch under a memory limit (decided below, once its
    // configuration is read).
    if !matches!(cli.command, Command::Serve { .. } | Command::Run { .. }) {
        hedui::engine::keep_freed_memory();
    }
    hedui::init_logs();
    match cli.command {
        Command::Sources => print!("{}", hedui::sources_cmd::render()),
        Command::Generate {
            households,
            seed,
            out,
            as_of,
            dirty_scale,
            policy,
            layout,
        } => {
            if !(0.0..=50.0).contains(&dirty_scale) {
                anyhow::bail!("--dirty-scale must be between 0 and 50");
            }
            let policy = match policy {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_policy(),
            };
            let cfg = GenerateConfig {
                households,
                seed,
                as_of,
                out: out.clone(),
                dirty: DirtyRates::scaled(dirty_scale),
                plant: PlantRates::default(),
                policy,
                layout,
            };
            generate_and_report(&cfg)?;
        }
        Command::Ingest { config, out } => {
            let (cfg, base) = BatchConfig::load(&config)?;
            let plan = cfg.build(&base)?;
            let out = out.unwrap_or_else(|| hedui::ingest::default_out(&config));
            // One ingest at a time into a folder: the same OS lock `hedui run` takes on its
            // root, so a second one is refused naming the first, never interleaved with it.
            let _lock = hedui::publish::RootLock::acquire(&out, "hedui ingest")?;
            let started = Instant::now();
            let bar = indicatif::ProgressBar::new(plan.sources.len() as u64).with_style(
                indicatif::ProgressStyle::with_template(
                    "ingesting {bar:40} {pos}/{len} sources {msg}",
                )
                .context("progress template")?,
            );
            let b = bar.clone();
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let report = rt.block_on(hedui::ingest::ingest_folder(
                &plan,
                &out,
                std::sync::Arc::new(move |r: &hedui_connectors::ingest::SourceReport| {
                    b.set_message(r.source.clone());
                    b.inc(1);
                }),
            ))?;
            bar.finish_and_clear();
            print!("{}", report.table());
            println!(
                "\ningested {} sources into {} in {:.1} s (report: {})",
                report.sources.len(),
                out.display(),
                started.elapsed().as_secs_f64(),
                out.join("ingest.json").display()
            );
            if !report.failed.is_empty() {
                std::process::exit(2);
            }
        }
        Command::Run {
            config,
            as_of,
            out,
            policy,
            memory_limit,
            cluster,
        } => {
            let (mut cfg, base) = BatchConfig::load(&config)?;
            if memory_limit.is_some() {
                cfg.engine.memory_limit_mib = memory_limit;
            }
            if cluster.is_some() {
                cfg.engine.cluster = cluster;
            }
            if cfg.engine.memory_limit_mib.is_none() {
                hedui::engine::keep_freed_memory();
            }
            let plan = cfg.build(&base)?;
            let policy = match policy.or(plan.policy.clone()) {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_policy(),
            };
            let batch = run_batch(&plan, &policy, as_of, &out)?;
            print!("{}", hedui::run::render(&batch));
            if !batch.summary.failed_sources.is_empty() {
                std::process::exit(2);
            }
        }
        Command::Demo {
            households,
            out,
            layout,
        } => {
            let cfg = GenerateConfig {
                households,
                seed: 1,
                as_of: generate::DEFAULT_AS_OF.parse()?,
                out,
                dirty: DirtyRates::default(),
                plant: PlantRates::default(),
                policy: Policy::default_policy(),
                layout,
            };
            generate_and_report(&cfg)?;
            let (bc, base) = BatchConfig::load(&cfg.out.join("hedui.toml"))?;
            let plan = bc.build(&base)?;
            let batch = run_batch(&plan, &cfg.policy, cfg.as_of, &cfg.out.join("batches"))?;
            println!();
            print!("{}", hedui::run::render(&batch));
            let truth = cfg.out.join("truth");
            let check = hedui::check::check_against_truth(&batch.dir, &truth)?;
            println!("\n{}", check.render(&truth));
            if !check.ok() {
                std::process::exit(1);
            }
        }
        Command::Explain {
            config,
            as_of,
            plan,
            ingest,
            policy,
            analyze,
        } => {
            let (settings, config_policy, ingest) = match &config {
                Some(path) => {
                    let (cfg, base) = BatchConfig::load(path)?;
                    let ingest = ingest.unwrap_or_else(|| hedui::ingest::default_out(path));
                    (
                        cfg.engine.clone(),
                        cfg.policy.map(|p| base.join(p)),
                        Some(ingest),
                    )
                }
                None => (Default::default(), None, ingest),
            };
            let policy = match policy.or(config_policy) {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_policy(),
            };
            let staged = ingest.filter(|d| d.join("staged/applications.parquet").is_file());
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let plans = rt.block_on(async {
                let engine = match &staged {
                    Some(dir) => hedui::engine::Engine::open_with(dir, &settings).await?,
                    None => hedui::engine::Engine::open_empty(&settings).await?,
                };
                engine
                    .explain(&policy, as_of, analyze, plan.as_deref())
                    .await
            })?;
            match &staged {
                Some(dir) => println!("-- over the staged snapshot in {}", dir.display()),
                None => println!("-- over empty tables (no staged snapshot)"),
            }
            for (name, text) in plans {
                println!("\n== {name}\n{text}");
            }
        }
        Command::Replay { batch, scratch } => {
            let scratch = scratch.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("hedui-replay-{}", std::process::id()))
            });
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let r = rt.block_on(hedui::audit::replay(&batch, &scratch))?;
            for f in &r.identical {
                println!("identical  {f}");
            }
            for f in &r.newer {
                println!("not in the batch (made before hedui wrote it)  {f}");
            }
            if let Some((file, what)) = r.first_difference {
                println!(
                    "DIFFERS    {file}: {what}\nreplay of {} does not reproduce it (replayed files kept in {})",
                    batch.display(),
                    scratch.display()
                );
                std::process::exit(1);
            }
            println!(
                "replay of {}: every output is byte-identical",
                batch.display()
            );
        }
        Command::Verify {
            expect_heads,
            access_log: Some(db),
            ..
        } => {
            let chains = hedui::review::store::verify_logs(&db)?;
            let mut problems = Vec::new();
            for chain in &chains {
                println!(
                    "{} of {}: {} lines, head {}",
                    chain.name,
                    db.display(),
                    chain.lines,
                    chain.head.as_deref().unwrap_or("none (empty)")
                );
                problems.extend(chain.problems.iter().cloned());
            }
            for recorded in &expect_heads {
                let recorded = recorded.trim().to_ascii_lowercase();
                let found = chains
                    .iter()
                    .find_map(|c| c.hashes.iter().position(|h| *h == recorded).map(|i| (c, i)));
                match found {
                    Some((c, i)) => println!(
                        "the recorded head {recorded} is line {} of the {}; {} lines were written after it",
                        i + 1,
                        c.name,
                        c.hashes.len() - 1 - i
                    ),
                    None => problems.push(format!(
                        "the recorded head {recorded} is in no chain: lines up to it were changed or removed"
                    )),
                }
            }
            for p in &problems {
                println!("FAILED  {p}");
            }
            if !problems.is_empty() {
                std::process::exit(1);
            }
            println!(
                "verified: every line of the access log and of the decisions hashes to what is stored"
            );
        }
        Command::Verify {
            batch,
            all,
            root,
            inputs,
            keys,
            expect_heads,
            access_log: None,
        } => {
            let keys = keys
                .iter()
                .map(|k| hedui::signing::read_public(k))
                .collect::<hedui::Result<Vec<_>>>()?;
            if !expect_heads.is_empty() && !all {
                anyhow::bail!("--expect-head checks the whole chain: give --all");
            }
            let problems = if all {
                let (ids, mut problems) = hedui::audit::verify_all(&root)?;
                println!("{} batches under {}", ids.len(), root.display());
                if let Some(dir) = &inputs {
                    for id in &ids {
                        problems.extend(hedui::audit::verify_inputs(&root, id, dir)?);
                    }
                }
                if !keys.is_empty() {
                    let report = hedui::signing::verify_chain(&root, &ids, &keys)?;
                    problems.extend(report.problems);
                    if let (Some(a), Some(b)) = (
                        report.unsigned_before_signing.first(),
                        report.unsigned_before_signing.last(),
                    ) {
                        println!(
                            "note: {} batches published before signing began are unsigned ({a} to {b}); the signed batches' chain covers them",
                            report.unsigned_before_signing.len()
                        );
                    }
                }
                // The head to record elsewhere: the newest batch and its manifest's hash (the
                // link the next batch will carry).
                if let Some(head) = hedui::manifest::previous_link(&root)? {
                    println!("head: {} {}", head.batch_id, head.manifest_sha256);
                }
                for recorded in &expect_heads {
                    match hedui::signing::expect_head(&root, &ids, recorded)? {
                        Ok(note) => println!("{note}"),
                        Err(problem) => problems.push(problem),
                    }
                }
                problems
            } else {
                let batch = batch.context("give a batch folder, or --all")?;
                let root = batch.parent().map(PathBuf::from).unwrap_or_default();
                let id = batch
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut problems = hedui::audit::verify(&root, &id)?;
                if let Some(dir) = &inputs {
                    problems.extend(hedui::audit::verify_inputs(&root, &id, dir)?);
                }
                if !keys.is_empty() {
                    problems.extend(hedui::signing::verify_batch(&batch, &id, &keys));
                }
                problems
            };
            for p in &problems {
                println!("FAILED  {p}");
            }
            if !problems.is_empty() {
                std::process::exit(1);
            }
            if !keys.is_empty() {
                println!(
                    "verified: every hash matches, the chain is whole and every signature checks"
                );
            } else {
                println!("verified: every hash matches and the chain is whole");
            }
        }
        Command::Simulate { batch, policy, out } => {
            let proposed = hedui::policy::Policy::load(&policy)?;
            let manifest = hedui::manifest::Manifest::read(&batch)
                .with_context(|| format!("{} is not a published batch", batch.display()))?;
            let out =
                out.unwrap_or_else(|| PathBuf::from(format!("simulation-{}", manifest.batch_id)));
            let scratch =
                std::env::temp_dir().join(format!("hedui-simulate-{}", std::process::id()));
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            let sim = rt.block_on(hedui::simulate::simulate(&batch, &proposed, &scratch))?;
            hedui::simulate::write(&sim, &out)?;
            print!("{}", hedui::simulate::render(&sim, Some(&out)));
        }
        Command::Diff { a, b } => {
            let changes = hedui::audit::diff(&a, &b)?;
            print!(
                "{}",
                hedui::audit::render_diff(
                    &a.display().to_string(),
                    &b.display().to_string(),
                    &changes
                )
            );
        }
        Command::Report {
            batch,
            households,
            out,
            lang,
        } => {
            let lang =
                hedui::review::labels::Lang::parse(&lang).context("--lang must be zh or en")?;
            let view = hedui::review::batch::BatchView::open(&batch)
                .with_context(|| format!("opening batch {}", batch.display()))?;
            let previous = match &view.manifest.previous {
                Some(p) => {
                    let dir = batch.parent().map(|r| r.join(&p.batch_id));
                    match dir.filter(|d| d.join("manifest.json").is_file()) {
                        Some(d) => Some(hedui::review::batch::BatchView::open(&d)?),
                        None => None,
                    }
                }
                None => None,
            };
            let out = out.unwrap_or_else(|| PathBuf::from("reports").join(view.id()));
            let w = hedui::review::report::write_reports(
                &view,
                previous.as_ref(),
                &households,
                &out,
                lang,
            )?;
            println!(
                "wrote {} reports and the batch summary {} ",
                w.reports,
                w.index.display()
            );
        }
        #[cfg(feature = "cluster")]
        Command::Cluster { action } => {
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            match action {
                ClusterAction::Scheduler {
                    bind,
                    executor_timeout,
                } => rt.block_on(hedui::cluster::scheduler(bind, executor_timeout))?,
                ClusterAction::Executor {
                    scheduler,
                    slots,
                    work_dir,
                    host,
                    port,
                    heartbeat,
                } => rt.block_on(hedui::cluster::executor(hedui::cluster::ExecutorOptions {
                    scheduler,
                    slots,
                    work_dir,
                    port,
                    host,
                    heartbeat,
                }))?,
            }
        }
        Command::Serve { root, db, listen } => {
            let rt = tokio::runtime::Runtime::new().context("starting the runtime")?;
            rt.block_on(hedui::review::serve::serve(&root, &db, listen))?;
        }
        Command::Key {
            action: KeyAction::Generate { out },
        } => {
            let with = |ext: &str| {
                let mut s = out.clone().into_os_string();
                s.push(ext);
                PathBuf::from(s)
            };
            let (secret, public) = (with(".key"), with(".pub"));
            let fp = hedui::signing::generate(&secret, &public)?;
            println!(
                "secret key {} (keep it outside the batch root, readable only by the account that runs hedui; back it up offline)\npublic key {} (give it to the auditors)\nfingerprint {fp}",
                secret.display(),
                public.display()
            );
        }
        Command::Assign {
            batch,
            households,
            to,
            region,
            db,
            by,
        } => {
            anyhow::ensure!(
                region.is_some() || !households.is_empty(),
                "name a --region or household ids"
            );
            let view = hedui::review::batch::BatchView::open(&batch)
                .with_context(|| format!("opening batch {}", batch.display()))?;
            let store = hedui::review::store::Store::open(&db)?;
            let chosen = hedui::review::queue::select(&view, region, &households)?;
            let n = hedui::review::queue::assign(&store, &view, &chosen, &to, &by)?;
            let due = hedui::review::queue::carry_due_dates(&store, &view)?;
            let today = hedui::review::queue::today();
            let overdue = chosen
                .iter()
                .filter(|h| due.get(*h).is_some_and(|d| *d < today))
                .count();
            println!(
                "assigned {n} households of batch {} to {to} ({overdue} overdue)",
                view.id()
            );
        }
        Command::User { action } => {
            use hedui::review::store::{Role, Store};
            match action {
                UserAction::Add {
                    name,
                    role,
                    regions,
                    db,
                    password_stdin,
                } => {
                    let role = Role::parse(&role)?;
                    let store = Store::open(&db)?;
                    let password = read_password(password_stdin)?;
                    store.add_user(&name, &password, role, &regions.join(","))?;
                    println!("added {} {name} to {}", role.as_str(), db.display());
                }
                UserAction::List { db } => {
                    for u in Store::open(&db)?.users()? {
                        let regions: Vec<String> =
                            u.regions.iter().map(|r| r.to_string()).collect();
                        println!(
                            "{:<20} {:<11} {}{}",
                            u.name,
                            u.role.as_str(),
                            regions.join(","),
                            if u.disabled { " (disabled)" } else { "" }
                        );
                    }
                }
                UserAction::Disable { name, db } => {
                    Store::open(&db)?.disable_user(&name)?;
                    println!("disabled {name}");
                }
            }
        }
        Command::Map {
            files,
            source,
            sample,
        } => {
            let mut undecided = 0;
            for f in &files {
                let sniffed = hedui::map::sniff(f)?;
                let p = hedui::map::propose(&sniffed, source.as_deref(), &f.to_string_lossy())?;
                let d = hedui::map::dry_run(&p, Path::new("."), sample);
                println!("{}", hedui::map::render(&p, &d, &sniffed)?);
                if !p.decide.is_empty() || d.error.is_some() {
                    undecided += 1;
                }
            }
            println!(
                "# {} of {} files ready to paste; paths are as given here: make them relative to hedui.toml",
                files.len() - undecided,
                files.len()
            );
        }
        Command::Check { batch, truth } => {
            let check = hedui::check::check_against_truth(&batch, &truth)?;
            print!("{}", check.render(&truth));
            if !check.ok() {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
