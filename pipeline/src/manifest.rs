//! `manifest.json`: what a batch was made from and what it holds, hashed, and chained to the
//! batch published before it.
//!
//! It records the batch id and date, the hedui version and source commit, the SHA-256 of the
//! config and policy (both copied into the batch as `config.toml` and `policy.toml`), per
//! source the delivered files with their hashes and row counts (read, accepted,
//! quarantined), the SHA-256 and size of every file in the batch (staged snapshot,
//! quarantine, `ingest.json`, outputs, the copies), the time each stage took, and the hash of
//! the previous batch's manifest. The manifest is the one file of a batch with clock values
//! in it; the data files never have any.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::Result;
use crate::error::io;

pub use hedui_schemas::batch::{CONFIG_COPY, MANIFEST, POLICY_COPY};

/// The commit hedui was built from (`unknown` outside a git checkout).
pub const SOURCE_COMMIT: &str = env!("HEDUI_COMMIT");

pub use hedui_schemas::batch::{
    ClusterExecutor, ClusterRun, FileHash, InputFile, Manifest, Previous, SourceInputs,
};

/// SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> Result<FileHash> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        h.update(&buf[..n]);
    }
    Ok(FileHash {
        sha256: hex::encode(h.finalize()),
        bytes,
    })
}

/// SHA-256 of bytes, hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every file under `dir` (relative paths with `/`, sorted), except the manifest and its
/// signature.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(io(dir))? {
            let p = e.map_err(io(dir))?.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else {
                let rel = p
                    .strip_prefix(base)
                    .unwrap_or(&p)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if rel != MANIFEST && rel != crate::signing::MANIFEST_SIG {
                    out.push(rel);
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Hashes every file under `dir` but the manifest, in parallel.
pub fn hash_tree(dir: &Path) -> Result<BTreeMap<String, FileHash>> {
    list_files(dir)?
        .into_par_iter()
        .map(|rel| hash_file(&dir.join(&rel)).map(|h| (rel, h)))
        .collect()
}

/// Hashes delivered files in parallel (`base` is the config's folder).
pub fn hash_inputs(base: &Path, names: Vec<(String, u64)>) -> Vec<InputFile> {
    names
        .into_par_iter()
        .map(|(name, rows)| {
            let path: PathBuf = base.join(&name);
            let hash = if path.is_file() {
                hash_file(&path).ok()
            } else {
                None
            };
            InputFile { name, rows, hash }
        })
        .collect()
}

/// How many published batches back [`baseline`] looks for a source's last good delivery.
pub const BASELINE_LOOKBACK: usize = 31;

/// The relative gate's baseline for the next batch on `root`: per source, the accepted rows
/// of the newest published batch (of the last [`BASELINE_LOOKBACK`]) in which it was ok.
/// A manifest that cannot be read is an error: the gate must not silently lose its baseline.
pub fn baseline(root: &Path) -> Result<crate::ingest::Baseline> {
    let mut out = crate::ingest::Baseline::new();
    for id in crate::publish::published(root)?
        .iter()
        .rev()
        .take(BASELINE_LOOKBACK)
    {
        let m = Manifest::read(&root.join(id))?;
        for (source, s) in m.sources {
            if s.status == "ok" {
                out.entry(source).or_insert(s.accepted);
            }
        }
    }
    Ok(out)
}

/// The link to the newest published batch on `root`, if any.
pub fn previous_link(root: &Path) -> Result<Option<Previous>> {
    let Some(last) = crate::publish::published(root)?.pop() else {
        return Ok(None);
    };
    let path = root.join(&last).join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    Ok(Some(Previous {
        batch_id: last,
        manifest_sha256: hash_bytes(&bytes),
    }))
}
