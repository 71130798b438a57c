//! The files of a published batch, as every crate reads them: the manifest (what went in,
//! the hash of every file, the link to the batch before), the summary, and the batch ids of
//! a batch root. The writing (hashing, publishing) is the `hedui` binary's; the review app
//! and the audit read the same types.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The copy of the policy a batch ran with.
pub const POLICY_COPY: &str = "policy.toml";
/// The copy of the batch config a batch ran with.
pub const CONFIG_COPY: &str = "config.toml";

/// A batch file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BatchFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON its kind must be.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchFileError + '_ {
    move |source| BatchFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn json(path: &Path) -> impl FnOnce(serde_json::Error) -> BatchFileError + '_ {
    move |source| BatchFileError::Json {
        path: path.display().to_string(),
        source,
    }
}

/// Reads a JSON batch file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, BatchFileError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(json(path))
}

/// Writes `value` as pretty JSON with a final newline, as every batch file is written.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), BatchFileError> {
    let mut text = serde_json::to_string_pretty(value).map_err(json(path))?;
    text.push('\n');
    std::fs::write(path, text).map_err(io(path))
}

/// A hashed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// One delivered file of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// As named in the staged data's `_file` (relative to the config's folder), or the
    /// connector's label (a PostgreSQL query).
    pub name: String,
    /// Rows read from it.
    pub rows: u64,
    /// Its hash, when it is a file.
    pub hash: Option<FileHash>,
}

/// What one source delivered and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInputs {
    /// `ok` or `failed`.
    pub status: String,
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows quarantined.
    pub quarantined: u64,
    /// The accepted rows the relative gate compared this delivery with (the newest earlier
    /// batch in which the source was ok), if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_accepted: Option<u64>,
    /// The delivered files.
    pub files: Vec<InputFile>,
}

/// The link to the batch published before this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// Its id.
    pub batch_id: String,
    /// SHA-256 of its `manifest.json`.
    pub manifest_sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// The batch id.
    pub batch_id: String,
    /// The batch date.
    pub as_of: NaiveDate,
    /// hedui's version.
    pub hedui_version: String,
    /// The commit hedui was built from.
    pub source_commit: String,
    /// The policy's name.
    pub policy_name: String,
    /// SHA-256 of the policy the batch ran with (`policy.toml` in the batch).
    pub policy_sha256: String,
    /// SHA-256 of the batch config (`config.toml` in the batch).
    pub config_sha256: String,
    /// Per source: delivered files and counts.
    pub sources: BTreeMap<String, SourceInputs>,
    /// Every file of the batch but the manifest, by path relative to the batch folder.
    pub files: BTreeMap<String, FileHash>,
    /// Seconds per stage.
    pub timings: Vec<(String, f64)>,
    /// The batch published before this one on the same root.
    pub previous: Option<Previous>,
    /// The fingerprint of the key that signed this manifest (`manifest.json.sig`), when the
    /// run had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// The Ballista cluster the verification stages ran on (`[engine] cluster`); none when
    /// they ran in `hedui run`'s own process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRun>,
}

/// The cluster a batch's verification stages ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRun {
    /// The scheduler, as configured (`df://HOST:PORT`).
    pub scheduler: String,
    /// The executors registered with it while the batch ran (before the stages and after
    /// them), in id order.
    pub executors: Vec<ClusterExecutor>,
}

/// An executor of a cluster, as its scheduler knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterExecutor {
    /// The executor's id (a UUID the executor picks when it starts).
    pub id: String,
    /// The host it advertises.
    pub host: String,
    /// Its Arrow Flight port.
    pub port: u16,
    /// The tasks it runs at once.
    pub slots: u32,
}

impl Manifest {
    /// Reads a batch's manifest.
    pub fn read(batch: &Path) -> Result<Self, BatchFileError> {
        read_json(&batch.join(MANIFEST))
    }

    /// Writes it as pretty JSON into `batch`.
    pub fn write(&self, batch: &Path) -> Result<(), BatchFileError> {
        write_json(&batch.join(MANIFEST), self)
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The batch id.
    pub batch_id: String,
    /// The batch date.
    pub as_of: NaiveDate,
    /// The policy's name.
    pub policy: String,
    /// Households under check.
    pub households: u64,
    /// Households by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Households by region, programme and outcome.
    pub by_region_programme: BTreeMap<String, BTreeMap<String, u64>>,
    /// Findings by rule.
    pub findings: BTreeMap<String, u64>,
    /// Evidence records behind the findings.
    pub evidence_rows: u64,
    /// Rows quarantined per source.
    pub quarantined: BTreeMap<String, u64>,
    /// Sources that failed or were absent.
    pub failed_sources: Vec<String>,
    /// Sources whose absence leaves households UNVERIFIED.
    pub unverified_sources: Vec<String>,
    /// Where each standard in force at the batch date comes from, for the auditor, by region
    /// and start date (`440100 2024-06-01`): the policy's `provenance` ("published: ...", or
    /// "project default, not a published figure: ..."). Empty, and left out, for a policy
    /// that gives none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, String>,
}

/// The published batch ids under `root`, sorted (none when `root` does not exist).
pub fn published(root: &Path) -> Result<Vec<String>, BatchFileError> {
    let mut ids = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(io(root)(e)),
    };
    for e in entries {
        let e = e.map_err(io(root))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_batch_id(&name) && e.path().is_dir() {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

/// `yyyymmdd-NNN`.
pub fn is_batch_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 12
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..].iter().all(u8::is_ascii_digit)
}
