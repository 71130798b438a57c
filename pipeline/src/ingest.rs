//! `hedui ingest`: every configured source, concurrently, into a staged snapshot.
//!
//! Each source runs as a blocking task on tokio (the CPU work inside is rayon's), at most
//! `max_concurrent_sources` at a time. A source that is missing, unreadable, unreachable or
//! over a gate is reported failed with its error while the others complete; sources the
//! config does not mention are reported failed as not configured. The report (`ingest.json`)
//! holds counts only, no wall-clock values, so two ingests of the same inputs write the same
//! bytes.
//!
//! A full disk is not a source's failure: the whole ingest stops with [`Error::DiskFull`].
//! `hedui ingest` stages into `DIR/.incoming/` and moves the new snapshot into place only when
//! it is complete ([`ingest_folder`]), so a failed ingest leaves the previous snapshot, and
//! one stopped while moving it in leaves no `ingest.json` (no snapshot claimed) with the
//! previous report set aside for the next ingest's relative gates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hedui_connectors::ingest::{IngestOptions, SourceReport, Status, ingest_source};

use crate::config::BatchPlan;
use crate::error::io;
use crate::{Error, Result};

pub use hedui_connectors::ingest::IngestReport;

/// Accepted rows per source of the last good snapshot: what the relative gate
/// (`min_accepted_vs_previous`) compares a delivery with.
pub type Baseline = BTreeMap<String, u64>;

/// The report an ingest that stopped while swapping its snapshot in leaves behind: the
/// previous `ingest.json`, set aside until the new one is in place.
const SET_ASIDE_REPORT: &str = ".old-ingest.json";

/// The baseline from the previous `ingest.json` in `out`, if there is one (`hedui ingest`
/// into the same folder night after night); when an ingest stopped while swapping its
/// snapshot in, the report it set aside (the last complete snapshot's).
pub fn baseline_in(out: &Path) -> Baseline {
    let current = out.join("ingest.json");
    let path = if current.exists() {
        current
    } else {
        out.join(SET_ASIDE_REPORT)
    };
    IngestReport::read(&path)
        .map(|r| {
            r.sources
                .into_iter()
                .filter(|(_, s)| s.status == Status::Ok)
                .map(|(id, s)| (id, s.accepted))
                .collect()
        })
        .unwrap_or_default()
}

/// Where the relative gate's baseline comes from, and where it is recorded.
#[derive(Debug, Clone)]
pub enum BaselineFrom {
    /// The previous `ingest.json` in this folder (`hedui ingest` night after night into one
    /// folder); each source's `previous_accepted` is recorded in the new `ingest.json`.
    Folder(PathBuf),
    /// The published batches before this one (`hedui run`, which ingests into a fresh
    /// folder): recorded in the batch's manifest, not in `ingest.json`, so that the same
    /// deliveries give the same `ingest.json` bytes whatever came before.
    Batches(Baseline),
}

/// Ingests every source of `plan` into `out`, each source's relative gate comparing with
/// the baseline `from`; `progress` is told each source as it finishes.
pub async fn ingest_all(
    plan: &BatchPlan,
    out: &Path,
    from: &BaselineFrom,
    progress: Arc<dyn Fn(&SourceReport) + Send + Sync>,
) -> Result<IngestReport> {
    let (previous, record) = match from {
        BaselineFrom::Folder(folder) => (baseline_in(folder), true),
        BaselineFrom::Batches(b) => (b.clone(), false),
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let report_path = out.join("ingest.json");
    let opts = IngestOptions {
        out: out.to_path_buf(),
        batch_rows: plan.ingest.batch_rows,
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(
        plan.ingest.max_concurrent_sources,
    ));
    let mut tasks = Vec::new();
    for sp in plan.sources.clone() {
        let opts = opts.clone();
        let prev = previous.get(sp.def.id).copied();
        let limit = limit.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let id = sp.def.id;
            let r = tokio::task::spawn_blocking(move || ingest_source(&sp, &opts, prev))
                .await
                .unwrap_or_else(|e| {
                    SourceReport::failed(id, format!("{id}: ingestion stopped: {e}"))
                });
            progress(&r);
            r
        }));
    }
    let mut sources = BTreeMap::new();
    for t in tasks {
        let r = t.await.map_err(|e| Error::Runtime {
            what: "ingest task",
            detail: e.to_string(),
        })?;
        sources.insert(r.source.clone(), r);
    }
    for id in &plan.absent {
        let _ = std::fs::remove_file(out.join(format!("staged/{id}.parquet")));
        let _ = std::fs::remove_file(out.join(format!("staged/{id}.unread.parquet")));
        sources.insert(
            id.to_string(),
            SourceReport::failed(id, format!("{id}: not configured in hedui.toml")),
        );
    }
    if !record {
        for r in sources.values_mut() {
            r.previous_accepted = None;
        }
    }
    if let Some(e) = sources
        .values()
        .filter_map(|r| r.error.as_deref())
        .find(|e| crate::error::is_disk_full_text(e))
    {
        return Err(Error::DiskFull {
            dir: out.display().to_string(),
            detail: e.to_string(),
        });
    }
    let failed = sources
        .values()
        .filter(|r| r.status == Status::Failed)
        .map(|r| r.source.clone())
        .collect();
    let report = IngestReport { sources, failed };
    report.write(&report_path)?;
    Ok(report)
}

/// What [`ingest_folder`] stages into, inside the folder.
pub const INCOMING: &str = ".incoming";
/// The parts of a snapshot, moved into place together.
const SNAPSHOT_PARTS: [&str; 3] = ["staged", "quarantine", "warnings"];

/// `hedui ingest`: ingests into `out` night after night (the caller holds `out`'s lock). The
/// new snapshot is staged under `out/.incoming/` with the relative gates comparing against
/// `out/ingest.json`, and moved into place when complete: `ingest.json` is set aside first
/// (`.old-ingest.json`, the next ingest's baseline should the swap stop) and the new one put
/// in last, so a folder with an `ingest.json` holds the snapshot it describes. On any
/// error (a full disk included) what this ingest wrote is removed and the previous snapshot
/// stays.
pub async fn ingest_folder(
    plan: &BatchPlan,
    out: &Path,
    progress: Arc<dyn Fn(&SourceReport) + Send + Sync>,
) -> Result<IngestReport> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let incoming = out.join(INCOMING);
    // What an ingest stopped mid-way left (the lock says nobody else is writing here).
    let _ = std::fs::remove_dir_all(&incoming);
    for part in SNAPSHOT_PARTS {
        let _ = std::fs::remove_dir_all(out.join(format!(".old-{part}")));
    }
    let result = match ingest_all(
        plan,
        &incoming,
        &BaselineFrom::Folder(out.to_path_buf()),
        progress,
    )
    .await
    {
        Ok(report) => swap_in(&incoming, out).map(|_| report),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&incoming);
    }
    result.map_err(|e| e.or_disk_full(out))
}

/// Moves the snapshot in `incoming` over the one in `out`.
fn swap_in(incoming: &Path, out: &Path) -> Result<()> {
    let report = out.join("ingest.json");
    // Set aside, not deleted: a stop from here on leaves no `ingest.json` (the folder claims no
    // snapshot) while the next ingest's relative gates still find the last complete one's counts.
    let aside = out.join(SET_ASIDE_REPORT);
    match std::fs::rename(&report, &aside) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&report)(e)),
        _ => {}
    }
    for part in SNAPSHOT_PARTS {
        let (new, old, trash) = (
            incoming.join(part),
            out.join(part),
            out.join(format!(".old-{part}")),
        );
        if old.exists() {
            std::fs::rename(&old, &trash).map_err(io(&old))?;
        }
        if new.exists() {
            std::fs::rename(&new, &old).map_err(io(&new))?;
        }
        if trash.exists() {
            std::fs::remove_dir_all(&trash).map_err(io(&trash))?;
        }
    }
    crate::publish::sync_tree(out)?;
    std::fs::rename(incoming.join("ingest.json"), &report).map_err(io(&report))?;
    match std::fs::remove_file(&aside) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&aside)(e)),
        _ => {}
    }
    std::fs::remove_dir_all(incoming).map_err(io(incoming))?;
    std::fs::File::open(out)
        .and_then(|f| f.sync_all())
        .map_err(io(out))
}

/// Runs [`ingest_folder`] on a fresh tokio runtime (for the command line and tests), holding
/// the folder's lock (as `hedui ingest` and `hedui run` do: one writer at a time).
pub fn ingest_blocking(plan: &BatchPlan, out: &Path) -> Result<IngestReport> {
    let _lock = crate::publish::RootLock::acquire(out, "ingest")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime {
            what: "starting the runtime",
            detail: e.to_string(),
        })?;
    rt.block_on(ingest_folder(plan, out, Arc::new(|_| {})))
}

/// The default ingest folder for a config.
pub fn default_out(config: &Path) -> PathBuf {
    config
        .parent()
        .map(|p| p.join("ingest"))
        .unwrap_or_else(|| PathBuf::from("ingest"))
}
