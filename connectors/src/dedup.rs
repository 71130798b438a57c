//! Exact-duplicate detection in bounded memory.
//!
//! Remembering every row seen would make memory grow with the file. Instead, each accepted
//! row's 128-bit hash goes to one of [`PARTS`] spill files (chosen by the hash), with the row's
//! ordinal among accepted rows and its file and line. When the source is read, each part is
//! sorted on its own (one part in memory at a time) and every row whose hash an earlier row
//! already had is a duplicate of that earlier row. Memory: one part, about 40 bytes per row
//! divided by [`PARTS`], plus the list of duplicates found.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Spill files per source.
pub const PARTS: usize = 64;
const ENTRY: usize = 16 + 8 + 4 + 8;

/// A duplicate: the ordinal (among accepted rows) of the later row, and where the first
/// occurrence is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duplicate {
    /// Ordinal of the duplicate among rows accepted before deduplication.
    pub ordinal: u64,
    /// File index (into the files seen) of the first occurrence.
    pub first_file: u32,
    /// Line of the first occurrence.
    pub first_line: u64,
}

/// Spills hashes of accepted rows and finds the duplicates among them.
pub struct Dedup {
    dir: PathBuf,
    parts: Vec<BufWriter<File>>,
    next: u64,
}

impl Dedup {
    /// Creates the spill folder `dir` (removed by [`finish`](Self::finish) or on drop).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let parts = (0..PARTS)
            .map(|i| {
                File::create(dir.join(format!("{i:02}.bin")))
                    .map(|f| BufWriter::with_capacity(64 * 1024, f))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Dedup {
            dir: dir.to_path_buf(),
            parts,
            next: 0,
        })
    }

    /// Records the next accepted row.
    pub fn push(&mut self, hash: u128, file: u32, line: u64) -> std::io::Result<()> {
        let mut e = [0u8; ENTRY];
        e[..16].copy_from_slice(&hash.to_le_bytes());
        e[16..24].copy_from_slice(&self.next.to_le_bytes());
        e[24..28].copy_from_slice(&file.to_le_bytes());
        e[28..].copy_from_slice(&line.to_le_bytes());
        self.parts[(hash >> 120) as usize % PARTS].write_all(&e)?;
        self.next += 1;
        Ok(())
    }

    /// Every duplicate, in ordinal order.
    pub fn finish(mut self) -> std::io::Result<Vec<Duplicate>> {
        let mut dups = Vec::new();
        let parts = std::mem::take(&mut self.parts);
        for (i, w) in parts.into_iter().enumerate() {
            w.into_inner().map_err(|e| e.into_error())?.sync_all().ok();
            let path = self.dir.join(format!("{i:02}.bin"));
            let mut bytes = Vec::new();
            BufReader::new(File::open(&path)?).read_to_end(&mut bytes)?;
            let mut entries: Vec<(u128, u64, u32, u64)> = bytes
                .chunks_exact(ENTRY)
                .map(|c| {
                    // Invariant: chunks_exact yields ENTRY-byte slices, so the conversions hold.
                    let h = u128::from_le_bytes(c[..16].try_into().expect("16 bytes"));
                    let o = u64::from_le_bytes(c[16..24].try_into().expect("8 bytes"));
                    let f = u32::from_le_bytes(c[24..28].try_into().expect("4 bytes"));
                    let l = u64::from_le_bytes(c[28..].try_into().expect("8 bytes"));
                    (h, o, f, l)
                })
                .collect();
            drop(bytes);
            entries.sort_unstable();
            let mut k = 0;
            while k < entries.len() {
                let (h, _, f, l) = entries[k];
                let mut j = k + 1;
                while j < entries.len() && entries[j].0 == h {
                    dups.push(Duplicate {
                        ordinal: entries[j].1,
                        first_file: f,
                        first_line: l,
                    });
                    j += 1;
                }
                k = j;
            }
            std::fs::remove_file(&path)?;
        }
        dups.sort_unstable();
        Ok(dups)
    }
}

impl Drop for Dedup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_later_occurrences_and_points_at_the_first() {
        let dir = std::env::temp_dir().join(format!("hedui-dedup-test-{}", std::process::id()));
        let mut d = Dedup::new(&dir).unwrap();
        let hashes = [7u128 << 120, 3, 7u128 << 120, 9, 3, 7u128 << 120];
        for (i, h) in hashes.iter().enumerate() {
            d.push(*h, 0, i as u64 + 2).unwrap();
        }
        let dups = d.finish().unwrap();
        assert_eq!(
            dups,
            vec![
                Duplicate {
                    ordinal: 2,
                    first_file: 0,
                    first_line: 2
                },
                Duplicate {
                    ordinal: 4,
                    first_file: 0,
                    first_line: 3
                },
                Duplicate {
                    ordinal: 5,
                    first_file: 0,
                    first_line: 2
                },
            ]
        );
        assert!(!dir.exists(), "the spill folder is removed");
    }
}
