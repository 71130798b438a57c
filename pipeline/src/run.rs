//! `hedui run`: one batch, from department deliveries to published outcomes.
//!
//! Ingests every configured source into the batch's own staged snapshot, runs the engine at
//! the batch date and writes, under `ROOT/<batch-id>/`: `ingest/` (staged snapshot,
//! quarantine, `ingest.json`), the engine's files (`households.parquet` metrics,
//! `evidence.parquet`, `findings.parquet`/`.csv`, `outcomes.parquet`/`.csv`; see
//! [`crate::engine::finding`]), `summary.json`, copies of the policy and config it ran with,
//! and `manifest.json` ([`crate::manifest`]). Parquet files carry full resident IDs and are
//! restricted; the CSV files and the terminal show masked IDs only. The batch is written
//! aside and published atomically ([`crate::publish`]); a second batch for the same date gets
//! the next sequence number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use hedui_connectors::ingest::SourceReport;

use crate::Result;
use crate::config::BatchPlan;
use crate::engine::Engine;
use crate::engine::finding::{Stage, Verified};
use crate::error::io;
use crate::ingest::{IngestReport, ingest_all};
use crate::manifest::{
    CONFIG_COPY, Manifest, POLICY_COPY, SOURCE_COMMIT, SourceInputs, hash_bytes, hash_inputs,
    hash_tree, previous_link,
};
use crate::policy::Policy;
use crate::publish::RootLock;

pub use hedui_schemas::batch::Summary;

/// A finished batch.
pub struct Batch {
    /// Its folder.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
    /// The ingest report.
    pub ingest: IngestReport,
    /// Seconds per stage, in order (for the terminal and the logs, never in data files).
    pub timings: Vec<(&'static str, f64)>,
}

/// Progress callbacks of a run: one per source ingested, one per engine stage begun.
#[derive(Clone)]
pub struct Progress {
    /// Called as each source finishes ingesting.
    pub source: Arc<dyn Fn(&SourceReport) + Send + Sync>,
    /// Called as each engine stage begins.
    pub stage: Arc<dyn Fn(Stage) + Send + Sync>,
}

impl Progress {
    /// No progress display.
    pub fn none() -> Self {
        Progress {
            source: Arc::new(|_| {}),
            stage: Arc::new(|_| {}),
        }
    }
}

/// Runs a batch and publishes it under `root` (see [`crate::publish`]): the lock on the
/// root is held throughout, the batch is written aside with its manifest and appears as
/// `root/<batch-id>/` only when complete.
pub async fn run(
    plan: &BatchPlan,
    policy: &Policy,
    as_of: NaiveDate,
    root: &Path,
    progress: &Progress,
) -> Result<Batch> {
    let lock = RootLock::acquire(root, &format!("hedui run --as-of {as_of}"))?;
    for name in lock.clear_partial()? {
        tracing::warn!(batch = %name, "removed the unfinished batch a stopped run left");
    }
    // With a key, the chain must end where the key last signed it before this run extends it.
    let signer = match &plan.signing_key {
        Some(key) => {
            let signer = crate::signing::BatchSigner::load(key, root, &plan.previous_keys)?;
            signer.check_before_run(root)?;
            Some(signer)
        }
        None => None,
    };
    // A cluster that cannot take the batch fails the run before anything starts.
    let cluster = match &plan.engine.cluster {
        Some(url) => Some(cluster_before(url).await?),
        None => None,
    };
    let (batch_id, dir) = lock.begin(as_of)?;
    let result = write_batch(
        plan,
        policy,
        as_of,
        root,
        progress,
        &lock,
        signer.as_ref(),
        cluster,
        &batch_id,
        &dir,
    )
    .await;
    if result.is_err() {
        // Nothing of a failed batch stays behind (a killed run's is removed by the next).
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir(root.join(".partial"));
    }
    result.map_err(|e| e.or_disk_full(root))
}

/// Writes batch `batch_id` into `dir` (under `.partial/`) and publishes it.
#[allow(clippy::too_many_arguments)]
async fn write_batch(
    plan: &BatchPlan,
    policy: &Policy,
    as_of: NaiveDate,
    root: &Path,
    progress: &Progress,
    lock: &RootLock,
    signer: Option<&crate::signing::BatchSigner>,
    mut cluster: Option<crate::manifest::ClusterRun>,
    batch_id: &str,
    dir: &Path,
) -> Result<Batch> {
    let (batch_id, dir) = (batch_id.to_string(), dir.to_path_buf());
    tracing::info!(batch = %batch_id, %as_of, policy = %policy.name, root = %root.display(), "batch started");
    for (name, text) in [
        (POLICY_COPY, policy.text.as_str()),
        (CONFIG_COPY, plan.config_text.as_str()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let mut timings = Vec::new();
    let started = Instant::now();
    let ingest_dir = dir.join("ingest");
    // Each batch ingests into a fresh folder: the relative gate's baseline is the accepted
    // rows of the published batches before it (per source, the newest in which it was ok).
    let baseline = crate::manifest::baseline(root)?;
    let ingest = ingest_all(
        plan,
        &ingest_dir,
        &crate::ingest::BaselineFrom::Batches(baseline.clone()),
        progress.source.clone(),
    )
    .await?;
    for (id, r) in &ingest.sources {
        tracing::info!(batch = %batch_id, source = %id, read = r.read, accepted = r.accepted, quarantined = r.quarantined, status = ?r.status, "source ingested");
    }
    for id in &ingest.failed {
        tracing::warn!(batch = %batch_id, source = %id, "source failed: its households cannot PASS");
    }
    timings.push(("ingest", started.elapsed().as_secs_f64()));
    let verified = verify_stages(
        &dir,
        policy,
        as_of,
        &batch_id,
        &plan.engine,
        progress,
        &mut timings,
    )
    .await?;
    if let Some(run) = &mut cluster {
        cluster_after(run).await;
    }
    let summary = summary_of(&batch_id, as_of, policy, verified, &ingest);
    write_summary(&dir, &summary)?;

    let hashing = Instant::now();
    let mut sources = BTreeMap::new();
    for (id, r) in &ingest.sources {
        sources.insert(
            id.clone(),
            SourceInputs {
                status: if ingest.failed.contains(id) {
                    "failed"
                } else {
                    "ok"
                }
                .into(),
                read: r.read,
                accepted: r.accepted,
                quarantined: r.quarantined,
                baseline_accepted: baseline.get(id).copied(),
                files: hash_inputs(&plan.base, r.files.clone()),
            },
        );
    }
    let files = hash_tree(&dir)?;
    timings.push(("hashing", hashing.elapsed().as_secs_f64()));
    let manifest = Manifest {
        format: 1,
        batch_id: batch_id.clone(),
        as_of,
        hedui_version: env!("CARGO_PKG_VERSION").into(),
        source_commit: SOURCE_COMMIT.into(),
        policy_name: policy.name.clone(),
        policy_sha256: hash_bytes(policy.text.as_bytes()),
        config_sha256: hash_bytes(plan.config_text.as_bytes()),
        sources,
        files,
        timings: timings.iter().map(|(s, t)| (s.to_string(), *t)).collect(),
        previous: previous_link(root)?,
        signing_key: signer.map(|s| crate::signing::fingerprint(&s.public())),
        cluster,
    };
    manifest.write(&dir)?;
    if let Some(signer) = signer {
        signer.sign_manifest(&dir)?;
    }
    let published = lock.publish(&dir, &batch_id)?;
    if let Some(signer) = signer {
        let count = crate::publish::published(root)?.len();
        signer.write_head(root, &batch_id, count)?;
    }
    tracing::info!(batch = %batch_id, households = summary.households, evidence = summary.evidence_rows, seconds = started.elapsed().as_secs_f64(), dir = %published.display(), "batch published");
    Ok(Batch {
        dir: published,
        summary,
        ingest,
        timings,
    })
}

/// The cluster at `url` before a batch: its scheduler must answer and have an executor.
async fn cluster_before(url: &str) -> Result<crate::manifest::ClusterRun> {
    let executors = crate::engine::cluster_executors(url).await?;
    if executors.is_empty() {
        return Err(crate::engine::Error::Cluster {
            url: url.to_string(),
            reason: "the scheduler has no executor (start one: hedui cluster executor \
                     --scheduler URL)"
                .into(),
        }
        .into());
    }
    tracing::info!(scheduler = url, executors = executors.len(), "cluster");
    Ok(crate::manifest::ClusterRun {
        scheduler: url.to_string(),
        executors,
    })
}

/// Adds to `run` the executors registered once the stages are done (one that joined while
/// they ran may have run tasks). A scheduler that no longer answers leaves `run` as it was:
/// the stages are done.
async fn cluster_after(run: &mut crate::manifest::ClusterRun) {
    match crate::engine::cluster_executors(&run.scheduler).await {
        Ok(after) => {
            run.executors.extend(after);
            run.executors.sort();
            run.executors.dedup_by(|a, b| a.id == b.id);
        }
        Err(e) => tracing::warn!(error = %e, "the executors after the stages are unknown"),
    }
}

/// Runs the engine over `dir/ingest` into `dir`, recording each stage's time.
pub(crate) async fn verify_stages(
    dir: &Path,
    policy: &Policy,
    as_of: NaiveDate,
    batch_id: &str,
    settings: &crate::config::EngineSection,
    progress: &Progress,
    timings: &mut Vec<(&'static str, f64)>,
) -> Result<Verified> {
    let engine = Engine::open_with(&dir.join("ingest"), settings).await?;
    let stage_cb = progress.stage.clone();
    let stage_times = std::sync::Mutex::new(Vec::new());
    let on_stage = |s: Stage| {
        if let Ok(mut t) = stage_times.lock() {
            t.push((s, Instant::now()));
        }
        tracing::info!(batch = %batch_id, stage = s.label(), "engine stage");
        stage_cb(s);
    };
    let verified = engine.verify(policy, as_of, dir, &on_stage).await?;
    let ended = Instant::now();
    let marks = stage_times.into_inner().unwrap_or_default();
    for (i, (s, t)) in marks.iter().enumerate() {
        let next = marks.get(i + 1).map(|m| m.1).unwrap_or(ended);
        timings.push((s.label(), (next - *t).as_secs_f64()));
    }
    Ok(verified)
}

/// The summary of a verified batch.
pub(crate) fn summary_of(
    batch_id: &str,
    as_of: NaiveDate,
    policy: &Policy,
    verified: Verified,
    ingest: &IngestReport,
) -> Summary {
    Summary {
        batch_id: batch_id.to_string(),
        as_of,
        policy: policy.name.clone(),
        households: verified.households,
        outcomes: verified.outcomes,
        by_region_programme: verified.by_region_programme,
        findings: verified.findings,
        evidence_rows: verified.evidence_rows,
        quarantined: ingest
            .sources
            .iter()
            .map(|(k, v)| (k.clone(), v.quarantined))
            .collect(),
        failed_sources: ingest.failed.clone(),
        unverified_sources: verified.unverified_sources,
        provenance: policy
            .regions
            .values()
            .filter_map(|r| {
                let s = r.in_force_at(as_of)?;
                Some((format!("{} {}", r.code, s.from), s.provenance.clone()?))
            })
            .collect(),
    }
}

/// Writes `summary.json`.
pub(crate) fn write_summary(dir: &Path, summary: &Summary) -> Result<()> {
    Ok(hedui_schemas::batch::write_json(
        &dir.join("summary.json"),
        summary,
    )?)
}

/// The summary's households by city (its counties' summed: a city has a dozen) and
/// programme, each city by name, for the terminal; then which standards in force are project
/// defaults rather than published figures.
fn by_city(b: &Batch) -> String {
    let s = &b.summary;
    let policy = Policy::load(&b.dir.join(crate::manifest::POLICY_COPY)).ok();
    let mut rows: BTreeMap<(i32, String), BTreeMap<String, u64>> = BTreeMap::new();
    for (k, m) in &s.by_region_programme {
        let (region, programme) = k.split_once(' ').unwrap_or((k.as_str(), ""));
        let region: i32 = region.parse().unwrap_or(0);
        // The city a county is in, as the policy knows it (else the code as delivered).
        let city = policy
            .as_ref()
            .and_then(|p| {
                Policy::ancestry(region)
                    .into_iter()
                    .find(|c| p.regions.contains_key(c) && c % 100 == 0)
            })
            .unwrap_or(region);
        let row = rows.entry((city, programme.to_string())).or_default();
        for (o, n) in m {
            *row.entry(o.clone()).or_default() += n;
        }
    }
    let mut out = String::from("\nby city and programme:\n");
    for ((city, programme), m) in &rows {
        let name = policy
            .as_ref()
            .map(|p| {
                let n = p.region_name(*city);
                format!("{} {}", n.zh, n.en)
            })
            .unwrap_or_default();
        let cells: Vec<String> = m.iter().map(|(o, n)| format!("{o} {n}")).collect();
        out.push_str(&format!(
            "  {city} {} {programme:<11} {}\n",
            pad(&name, 22),
            cells.join(", ")
        ));
    }
    if let Some(p) = &policy {
        let defaults: Vec<String> = p
            .regions
            .values()
            .filter(|r| {
                r.in_force_at(s.as_of)
                    .and_then(|st| st.provenance.as_deref())
                    .is_some_and(|v| v.starts_with("project default"))
            })
            .map(|r| r.name_zh.clone())
            .collect();
        if !defaults.is_empty() {
            out.push_str(&format!(
                "\nstandards that are project defaults, not published figures ({} of {} regions; \
                 provenance in summary.json): {}\n",
                defaults.len(),
                p.regions.len(),
                defaults.join("、")
            ));
        }
    }
    out
}

/// `s` padded with spaces to `width` terminal columns (a Chinese character takes two).
pub(crate) fn pad(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The terminal summary of a batch.
pub fn render(b: &Batch) -> String {
    let s = &b.summary;
    let mut out = format!(
        "batch {} at {} (policy {}): {}\n\n{} households, {} findings, {} evidence records\n\noutcomes:\n",
        s.batch_id,
        s.as_of,
        s.policy,
        b.dir.display(),
        s.households,
        s.findings.values().sum::<u64>(),
        s.evidence_rows
    );
    for (k, v) in &s.outcomes {
        out.push_str(&format!("  {k:<11} {v:>8}\n"));
    }
    out.push_str(&by_city(b));
    out.push_str("\nfindings by rule:\n");
    for (k, v) in &s.findings {
        out.push_str(&format!("  {k:<24} {v:>8}\n"));
    }
    out.push_str("\nquarantine by source:\n");
    for (k, v) in s.quarantined.iter().filter(|(_, v)| **v > 0) {
        out.push_str(&format!("  {k:<22} {v:>8}\n"));
    }
    if !s.failed_sources.is_empty() {
        out.push_str(&format!(
            "\nFAILED SOURCES (their households cannot PASS): {}\n",
            s.failed_sources.join(", ")
        ));
    }
    if !s.unverified_sources.is_empty() {
        out.push_str(&format!(
            "UNVERIFIED for lack of: {}\n",
            s.unverified_sources.join(", ")
        ));
    }
    out.push_str("\ntime by stage:\n");
    for (stage, secs) in &b.timings {
        out.push_str(&format!("  {stage:<30} {secs:>8.1} s\n"));
    }
    out
}
