//! Publishing batches: one run at a time per batch root, every batch written aside and
//! published by one atomic rename once complete and on disk.
//!
//! - `ROOT/.lock` is held with an OS file lock (`flock`) for the whole run. A second run on
//!   the same root refuses at once, naming the process that holds it (pid, host, start time,
//!   batch). The OS drops the lock when its process dies, so a lock file left by a killed run
//!   is stale by construction and never blocks the next night.
//! - A batch is written under `ROOT/.partial/<batch-id>/`. Published batches are the
//!   `ROOT/<batch-id>/` folders: each appears by `rename(2)` after every file and folder in it
//!   has been fsynced, and the root is fsynced after the rename. A kill at any point leaves
//!   either no `ROOT/<batch-id>/` or a complete one; what a killed run left under `.partial/`
//!   is removed by the next run (which holds the lock, so nobody else is writing there).
//! - Batch ids are `<yyyymmdd>-<NNN>`: the next sequence number after every published batch
//!   of that date. A published batch is never overwritten.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::error::io;
use crate::{Error, Result};

/// The lock on a batch root, held while a run writes there.
pub struct RootLock {
    _file: File,
    /// The batch root.
    pub root: PathBuf,
}

impl RootLock {
    /// Takes the lock on `root` (created if needed), recording who holds it; refuses when
    /// another live process holds it, naming that process.
    pub fn acquire(root: &Path, what: &str) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        let path = root.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Locked {
                    root: root.display().to_string(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let holder = format!(
            "pid {} on {} since {} ({what})\n",
            std::process::id(),
            hostname(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0).map_err(io(&path))?;
        file.rewind().map_err(io(&path))?;
        file.write_all(holder.as_bytes()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        Ok(RootLock {
            _file: file,
            root: root.to_path_buf(),
        })
    }

    /// Removes what killed runs left under `.partial/`; returns the names removed.
    pub fn clear_partial(&self) -> Result<Vec<String>> {
        let dir = self.root.join(".partial");
        let mut removed = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries {
                let e = e.map_err(io(&dir))?;
                std::fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
                removed.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// The next batch id for `as_of` and its folder under `.partial/` (created, empty).
    pub fn begin(&self, as_of: NaiveDate) -> Result<(String, PathBuf)> {
        let prefix = as_of.format("%Y%m%d").to_string();
        let last = published(&self.root)?
            .iter()
            .filter_map(|id| id.strip_prefix(&format!("{prefix}-")))
            .filter_map(|n| n.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        let id = format!("{prefix}-{:03}", last + 1);
        let dir = self.root.join(".partial").join(&id);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok((id, dir))
    }

    /// Publishes a finished batch folder: fsyncs it all, renames it into place, fsyncs the
    /// root. Refuses to replace an existing batch.
    pub fn publish(&self, partial: &Path, id: &str) -> Result<PathBuf> {
        sync_tree(partial)?;
        let target = self.root.join(id);
        if target.exists() {
            return Err(Error::Integrity {
                path: target.display().to_string(),
                msg: "a published batch is never overwritten".into(),
            });
        }
        std::fs::rename(partial, &target).map_err(io(&target))?;
        sync_dir(&self.root)?;
        Ok(target)
    }
}

pub use hedui_schemas::batch::{is_batch_id, published};

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown host".into())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// Fsyncs every file and folder under `dir`, deepest first.
pub fn sync_tree(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let p = e.map_err(io(dir))?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            File::open(&p).and_then(|f| f.sync_all()).map_err(io(&p))?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_root_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = RootLock::acquire(dir.path(), "batch 20261115-001").unwrap();
        let err = RootLock::acquire(dir.path(), "another")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains("20261115-001"),
            "{err}"
        );
        drop(held);
        RootLock::acquire(dir.path(), "after").unwrap();
    }

    #[test]
    fn batch_ids_count_up_per_date_and_publication_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RootLock::acquire(dir.path(), "test").unwrap();
        let d: NaiveDate = "2026-11-15".parse().unwrap();
        let (id, partial) = lock.begin(d).unwrap();
        assert_eq!(id, "20261115-001");
        std::fs::write(partial.join("x"), "1").unwrap();
        lock.publish(&partial, &id).unwrap();
        let (id2, partial2) = lock.begin(d).unwrap();
        assert_eq!(id2, "20261115-002");
        assert!(lock.publish(&partial2, &id).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&id).join("x")).unwrap(),
            "1"
        );
        assert_eq!(lock.clear_partial().unwrap(), vec!["20261115-002"]);
        assert_eq!(published(dir.path()).unwrap(), vec!["20261115-001"]);
    }
}
