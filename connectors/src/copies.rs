//! Which rows whose subject's ID does not read repeat a row that was read (issue #28), found
//! at ingest in bounded memory.
//!
//! A department often delivers a record twice, once with the ID right and once with a digit
//! slipped. When the engine's linkage attributes the second to a member, it must know whether
//! that member already has a row with every other value the same (then it is a copy and adds
//! nothing). Reading the member's rows back from the staged snapshot to compare costs the
//! engine a pass over every column of the source; ingestion already holds each row's values.
//!
//! So, for a source whose records the linkage can attribute (it delivers a name), each
//! accepted row's [`content_hash`] (a 64-bit hash of every value but the subject's ID) goes
//! with the subject's key to one of [`PARTS`] spill files chosen by the hash, and each staged
//! unread row's hash, with its ordinal, to the matching part of a second set. At the end each
//! part's unread hashes are held in memory and its accepted entries streamed past them: every
//! unread row gets the keys of the accepted rows with its hash, written as the unread file's
//! [`COPY_OF_COLUMN`]. A copy found wrongly would need two rows of the same person whose
//! different values hash alike in 64 bits. Memory: one part's unread rows, and the matches.
//!
//! [`COPY_OF_COLUMN`]: hedui_schemas::catalog::COPY_OF_COLUMN

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::validate::Value;

/// Spill files per set.
pub const PARTS: usize = 16;
const ENTRY: usize = 16;

/// A 64-bit hash of a row's values, the subject's (index `subject`) left out: two rows with
/// every other value the same, whatever their subjects' IDs, have the same hash.
pub fn content_hash(values: &[Value], subject: usize) -> u64 {
    // The values written out once and hashed in one call (cheaper than a streaming hasher
    // fed value by value, on every accepted row of the source).
    let mut b: Vec<u8> = Vec::with_capacity(160);
    let text = |b: &mut Vec<u8>, tag: u8, s: &str| {
        b.push(tag);
        b.extend_from_slice(&(s.len() as u64).to_le_bytes());
        b.extend_from_slice(s.as_bytes());
    };
    for (i, v) in values.iter().enumerate() {
        if i == subject {
            continue;
        }
        match v {
            Value::Null => b.push(0),
            Value::Person { key, raw } => {
                b.push(1);
                b.extend_from_slice(&key.to_le_bytes());
                text(&mut b, 1, raw);
            }
            Value::Text(s) => text(&mut b, 2, s),
            Value::Int(n) => {
                b.push(3);
                b.extend_from_slice(&n.to_le_bytes());
            }
            Value::Date(d) => {
                b.push(4);
                b.extend_from_slice(&chrono::Datelike::num_days_from_ce(d).to_le_bytes());
            }
            Value::Month(m) => {
                b.push(5);
                b.extend_from_slice(&m.to_le_bytes());
            }
            Value::Code(c) => text(&mut b, 6, c),
            Value::Region(r) => {
                b.push(7);
                b.extend_from_slice(&r.to_le_bytes());
            }
        }
    }
    xxhash_rust::xxh3::xxh3_64(&b)
}

/// Spills the accepted rows' and the unread rows' hashes, and matches them.
pub struct Copies {
    dir: PathBuf,
    accepted: Vec<BufWriter<File>>,
    unread: Vec<BufWriter<File>>,
    next_unread: u64,
}

fn part(hash: u64) -> usize {
    (hash >> 60) as usize % PARTS
}

impl Copies {
    /// Creates the spill folder `dir` (removed by [`finish`](Self::finish) or on drop).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let open = |set: &str| {
            (0..PARTS)
                .map(|i| {
                    File::create(dir.join(format!("{set}{i:02}.bin")))
                        .map(|f| BufWriter::with_capacity(32 * 1024, f))
                })
                .collect::<std::io::Result<Vec<_>>>()
        };
        Ok(Copies {
            dir: dir.to_path_buf(),
            accepted: open("a")?,
            unread: open("u")?,
            next_unread: 0,
        })
    }

    /// Records an accepted row: its [`content_hash`] and its subject's key.
    pub fn push_accepted(&mut self, hash: u64, key: i64) -> std::io::Result<()> {
        let mut e = [0u8; ENTRY];
        e[..8].copy_from_slice(&hash.to_le_bytes());
        e[8..].copy_from_slice(&key.to_le_bytes());
        self.accepted[part(hash)].write_all(&e)
    }

    /// Records the next staged unread row (ordinals count from 0 in staging order).
    pub fn push_unread(&mut self, hash: u64) -> std::io::Result<()> {
        let mut e = [0u8; ENTRY];
        e[..8].copy_from_slice(&hash.to_le_bytes());
        e[8..].copy_from_slice(&self.next_unread.to_le_bytes());
        self.next_unread += 1;
        self.unread[part(hash)].write_all(&e)
    }

    /// Each unread row's ordinal with the key of an accepted row of the same content, sorted,
    /// each pair once.
    pub fn finish(mut self) -> std::io::Result<Vec<(u64, i64)>> {
        let mut found = Vec::new();
        let accepted = std::mem::take(&mut self.accepted);
        let unread = std::mem::take(&mut self.unread);
        let entries = |path: &Path| -> std::io::Result<Vec<(u64, u64)>> {
            let mut bytes = Vec::new();
            BufReader::new(File::open(path)?).read_to_end(&mut bytes)?;
            Ok(bytes
                .chunks_exact(ENTRY)
                .map(|c| {
                    // Invariant: chunks_exact yields ENTRY-byte slices, so the conversions hold.
                    let a = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
                    let b = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
                    (a, b)
                })
                .collect())
        };
        for (i, (a, u)) in accepted.into_iter().zip(unread).enumerate() {
            let a_path = self.dir.join(format!("a{i:02}.bin"));
            let u_path = self.dir.join(format!("u{i:02}.bin"));
            a.into_inner().map_err(|e| e.into_error())?;
            u.into_inner().map_err(|e| e.into_error())?;
            let mut wanted: HashMap<u64, Vec<u64>> = HashMap::new();
            for (hash, ordinal) in entries(&u_path)? {
                wanted.entry(hash).or_default().push(ordinal);
            }
            if !wanted.is_empty() {
                let mut r = BufReader::with_capacity(256 * 1024, File::open(&a_path)?);
                let mut e = [0u8; ENTRY];
                loop {
                    match r.read_exact(&mut e) {
                        Ok(()) => {}
                        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(err) => return Err(err),
                    }
                    let hash = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                    if let Some(ordinals) = wanted.get(&hash) {
                        let key = i64::from_le_bytes([
                            e[8], e[9], e[10], e[11], e[12], e[13], e[14], e[15],
                        ]);
                        found.extend(ordinals.iter().map(|o| (*o, key)));
                    }
                }
            }
            std::fs::remove_file(&a_path)?;
            std::fs::remove_file(&u_path)?;
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_left_out_of_the_hash_and_nothing_else() {
        let row = |subject: &str, amount: i64, other: Value| {
            vec![
                Value::Text(subject.into()),
                Value::Int(amount),
                other,
                Value::Code("01"),
            ]
        };
        let a = content_hash(&row("440106199001011234", 100, Value::Null), 0);
        assert_eq!(
            a,
            content_hash(&row("440106199001011243", 100, Value::Null), 0)
        );
        assert_ne!(
            a,
            content_hash(&row("440106199001011234", 101, Value::Null), 0)
        );
        assert_ne!(
            a,
            content_hash(&row("440106199001011234", 100, Value::Int(0)), 0)
        );
        // The same text in another kind of value is another value.
        assert_ne!(
            content_hash(&[Value::Text("01".into())], 9),
            content_hash(&[Value::Code("01")], 9)
        );
        // Text boundaries count: "ab"+"c" is not "a"+"bc".
        assert_ne!(
            content_hash(&[Value::Text("ab".into()), Value::Text("c".into())], 9),
            content_hash(&[Value::Text("a".into()), Value::Text("bc".into())], 9)
        );
    }

    #[test]
    fn every_unread_row_gets_the_keys_of_the_accepted_rows_with_its_content() {
        let dir = std::env::temp_dir().join(format!("hedui-copies-test-{}", std::process::id()));
        let mut c = Copies::new(&dir).unwrap();
        // Hashes spread over parts by their top bits.
        let (h1, h2, h3) = (1u64 << 62 | 5, 3u64 << 60 | 7, 9);
        c.push_accepted(h1, 100).unwrap();
        c.push_accepted(h2, 200).unwrap();
        c.push_accepted(h1, 300).unwrap();
        c.push_accepted(h1, 100).unwrap(); // an exact duplicate: the key once
        c.push_unread(h3).unwrap(); // 0: no accepted row like it
        c.push_unread(h1).unwrap(); // 1: two people's rows like it
        c.push_unread(h2).unwrap(); // 2
        c.push_unread(h1).unwrap(); // 3: repeated among the unread rows too
        let found = c.finish().unwrap();
        assert_eq!(
            found,
            vec![(1, 100), (1, 300), (2, 200), (3, 100), (3, 300)]
        );
        assert!(!dir.exists(), "the spill folder is removed");
    }
}
