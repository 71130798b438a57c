//! Signed manifests: an external anchor for the chain of batches.
//!
//! The hash chain (each manifest names the SHA-256 of the one before it) shows any change to a
//! batch that has a later batch, but not a change to the newest batch made together with its
//! manifest, nor the newest batch deleted, nor every later link re-hashed after a middle edit.
//! A key held outside the batch root closes that:
//!
//! - `hedui key generate` writes an Ed25519 key pair as PEM files (PKCS#8 for the secret key,
//!   SubjectPublicKeyInfo for the public one: the formats `openssl genpkey -algorithm ed25519`
//!   writes and reads).
//! - `hedui run` with `[signing] key = "…"` in `hedui.toml` signs each manifest's bytes into
//!   `manifest.json.sig` (64 raw bytes: `openssl pkeyutl -verify -rawin` checks it), inside
//!   the batch before it is published, and after publishing rewrites the root's `head.json`: the
//!   newest batch's id, its manifest's hash and the number of batches, signed. A run refuses
//!   to extend a chain whose head does not check (a batch removed, the head altered), so a
//!   deletion cannot be covered by the next night's batch. A replaced key's public half in
//!   `[signing] previous_keys` lets the chain go on under a new key.
//! - `hedui verify --key PUB` checks every signature and the head; `--all` prints the head's id
//!   and hash to be recorded elsewhere, and `--expect-head HASH` checks a recorded one is still
//!   in the chain.
//!
//! What a key cannot see: the root rolled back to an earlier state, head included (every file
//! of that state was signed). A head hash recorded outside the machine (`--expect-head`) sees
//! that.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::manifest::{MANIFEST, hash_bytes};
use crate::{Error, Result};

/// A batch's manifest signature: the Ed25519 signature of `manifest.json`'s bytes.
pub const MANIFEST_SIG: &str = "manifest.json.sig";
/// The signed head of a batch root.
pub const HEAD: &str = "head.json";

fn key_error(path: &Path, msg: impl Into<String>) -> Error {
    Error::Key {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

/// A short name for a public key: the first 16 hex digits of the SHA-256 of its 32 bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    hash_bytes(key.as_bytes())[..16].to_string()
}

/// Makes a key pair: the secret key at `secret` (mode 0600) and the public key at `public`.
/// Refuses to overwrite either. Returns the public key's fingerprint.
pub fn generate(secret: &Path, public: &Path) -> Result<String> {
    for p in [secret, public] {
        if p.exists() {
            return Err(key_error(p, "exists; a key is never overwritten"));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| key_error(secret, format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| key_error(secret, e.to_string()))?;
    write_new(secret, pem.as_bytes(), 0o600)?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| key_error(public, e.to_string()))?;
    write_new(public, public_pem.as_bytes(), 0o644)?;
    Ok(fingerprint(&key.verifying_key()))
}

/// Creates `path` (never replacing a file) with `mode` and writes `bytes`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Reads a secret key (PKCS#8 PEM).
pub fn read_secret(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| {
        key_error(
            path,
            format!("not an Ed25519 secret key in PKCS#8 PEM ({e})"),
        )
    })
}

/// Reads a public key (SubjectPublicKeyInfo PEM).
pub fn read_public(path: &Path) -> Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| key_error(path, format!("not an Ed25519 public key in PEM ({e})")))
}

/// The fingerprints of `keys`, for messages.
fn fingerprints(keys: &[VerifyingKey]) -> String {
    keys.iter().map(fingerprint).collect::<Vec<_>>().join(", ")
}

/// The key `hedui run` signs with, checked to be outside the batch root, and the public keys
/// whose signatures it accepts on the chain it extends (its own, and the keys it replaced).
pub struct BatchSigner {
    key: SigningKey,
    accepted: Vec<VerifyingKey>,
}

impl BatchSigner {
    /// Loads the secret key at `path` for batches under `root`, accepting also the chain's
    /// signatures by the public keys at `previous` (a key replaced: lost, leaked or retired);
    /// refuses a key kept inside the root (whoever can change the batches could then re-sign
    /// them).
    pub fn load(path: &Path, root: &Path, previous: &[PathBuf]) -> Result<Self> {
        let key_dir = path
            .canonicalize()
            .map_err(|e| key_error(path, format!("cannot be read: {e}")))?;
        std::fs::create_dir_all(root).map_err(io(root))?;
        let root_dir = root.canonicalize().map_err(io(root))?;
        if key_dir.starts_with(&root_dir) {
            return Err(key_error(
                path,
                format!(
                    "the signing key is inside the batch root {}: keep it where whoever can change the batches cannot read it",
                    root.display()
                ),
            ));
        }
        let key = read_secret(path)?;
        let mut accepted = vec![key.verifying_key()];
        for p in previous {
            accepted.push(read_public(p)?);
        }
        Ok(BatchSigner { key, accepted })
    }

    /// The public half.
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs the manifest in batch folder `dir` into [`MANIFEST_SIG`].
    pub fn sign_manifest(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let sig = self.key.sign(&bytes);
        let out = dir.join(MANIFEST_SIG);
        std::fs::write(&out, sig.to_bytes()).map_err(io(&out))
    }

    /// Writes the root's signed head for its newest batch `batch_id` (`batches` published in
    /// all), atomically (a new file renamed over the old, synced).
    pub fn write_head(&self, root: &Path, batch_id: &str, batches: usize) -> Result<()> {
        let manifest = root.join(batch_id).join(MANIFEST);
        let bytes = std::fs::read(&manifest).map_err(io(&manifest))?;
        let mut head = Head {
            format: 1,
            batch_id: batch_id.to_string(),
            manifest_sha256: hash_bytes(&bytes),
            batches,
            key: fingerprint(&self.public()),
            signature: String::new(),
        };
        head.signature = hex::encode(self.key.sign(head.message().as_bytes()).to_bytes());
        let tmp = root.join(format!(".{HEAD}.new"));
        let _ = std::fs::remove_file(&tmp);
        let text =
            serde_json::to_string_pretty(&head).map_err(|e| key_error(&tmp, e.to_string()))?;
        write_new(&tmp, format!("{text}\n").as_bytes(), 0o644)?;
        let path = root.join(HEAD);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(root)
            .and_then(|f| f.sync_all())
            .map_err(io(root))
    }

    /// Checks, before a run extends the chain on `root`, that its head is the one this key
    /// signed for the newest batch. Refuses when a batch was removed, the head altered or
    /// signed by another key, or signed batches have lost their head. The one gap allowed is
    /// a run stopped between publishing its batch and rewriting the head (the newest batch
    /// then carries this key's signature and links to the head's batch).
    pub fn check_before_run(&self, root: &Path) -> Result<()> {
        let ids = crate::publish::published(root)?;
        let refuse = |msg: String| {
            Err(Error::Integrity {
                path: root.join(HEAD).display().to_string(),
                msg: format!(
                    "{msg}; run `hedui verify --all --key` on the root and resolve it before the next run"
                ),
            })
        };
        let Some(head) = Head::read(root)? else {
            if let Some(id) = ids
                .iter()
                .find(|id| root.join(id).join(MANIFEST_SIG).exists())
            {
                return refuse(format!(
                    "there is no signed head, yet batch {id} is signed: the head was removed"
                ));
            }
            return Ok(());
        };
        if !head.verifies(&self.accepted) {
            return refuse(format!(
                "the head's signature does not verify with this run's key ({}): it was altered, or signed by a key this one replaced (name that key's public half in [signing] previous_keys)",
                fingerprints(&self.accepted)
            ));
        }
        let msg = head.mismatch(root, &ids);
        if msg.is_empty() {
            return Ok(());
        }
        // A run stopped after publishing its batch and before signing the head.
        if let [.., before, newest] = ids.as_slice()
            && *before == head.batch_id
            && head.matches(root)
        {
            let dir = root.join(newest);
            let linked = crate::manifest::Manifest::read(&dir)
                .ok()
                .and_then(|m| m.previous)
                .is_some_and(|p| p.batch_id == head.batch_id);
            if linked && manifest_signature(&dir, &self.accepted) == SignatureState::Valid {
                tracing::warn!(batch = %newest, "the head was not signed for the newest batch (a run stopped after publishing it); this run signs it");
                return Ok(());
            }
        }
        refuse(msg)
    }
}

/// `head.json`: the newest batch of a root, signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Format version.
    pub format: u32,
    /// The newest batch when it was written.
    pub batch_id: String,
    /// SHA-256 of that batch's `manifest.json`.
    pub manifest_sha256: String,
    /// How many batches were published then.
    pub batches: usize,
    /// The signing key's fingerprint.
    pub key: String,
    /// Ed25519 signature (hex) of [`Head::message`].
    pub signature: String,
}

impl Head {
    /// The root's head, if it has one.
    pub fn read(root: &Path) -> Result<Option<Head>> {
        let path = root.join(HEAD);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Integrity {
                    path: path.display().to_string(),
                    msg: format!("unreadable head: {e}"),
                }),
        }
    }

    /// The text signed: every field but the signature, one per line.
    pub fn message(&self) -> String {
        format!(
            "hedui head v{}\n{}\n{}\n{}\n{}\n",
            self.format, self.batch_id, self.manifest_sha256, self.batches, self.key
        )
    }

    /// Whether the signature verifies with one of `keys`.
    pub fn verifies(&self, keys: &[VerifyingKey]) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        keys.iter()
            .any(|k| k.verify_strict(self.message().as_bytes(), &sig).is_ok())
    }

    /// Whether the batch it names is on `root` with the manifest it names.
    fn matches(&self, root: &Path) -> bool {
        std::fs::read(root.join(&self.batch_id).join(MANIFEST))
            .is_ok_and(|b| hash_bytes(&b) == self.manifest_sha256)
    }

    /// What is wrong between the head and the batches `ids` on `root` (the head verified).
    fn mismatch(&self, root: &Path, ids: &[String]) -> String {
        let id = &self.batch_id;
        if !root.join(id).is_dir() {
            return format!(
                "the signed head names batch {id}, which is not here: the newest batch was removed"
            );
        }
        if !self.matches(root) {
            return format!(
                "the signed head names batch {id} with another manifest: its manifest changed after the head was signed"
            );
        }
        if ids.last() != Some(id) {
            return format!(
                "the signed head names batch {id}, but {} was published after it without the key",
                ids.last().map(String::as_str).unwrap_or("nothing")
            );
        }
        if self.batches != ids.len() {
            return format!(
                "the signed head counted {} batches, and {} are here",
                self.batches,
                ids.len()
            );
        }
        String::new()
    }
}

/// What a batch's manifest signature says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureState {
    /// No `manifest.json.sig`.
    Unsigned,
    /// It verifies.
    Valid,
    /// It does not verify (the manifest changed after signing, or another key signed it).
    Invalid,
}

/// The state of batch folder `dir`'s manifest signature under one of `keys`.
pub fn manifest_signature(dir: &Path, keys: &[VerifyingKey]) -> SignatureState {
    let Ok(sig) = std::fs::read(dir.join(MANIFEST_SIG)) else {
        return SignatureState::Unsigned;
    };
    let Ok(manifest) = std::fs::read(dir.join(MANIFEST)) else {
        return SignatureState::Invalid;
    };
    match Signature::from_slice(&sig) {
        Ok(sig)
            if keys
                .iter()
                .any(|k| k.verify_strict(&manifest, &sig).is_ok()) =>
        {
            SignatureState::Valid
        }
        _ => SignatureState::Invalid,
    }
}

/// The problem of batch `id` whose manifest signature does not verify with the keys `fp`.
fn invalid_manifest(id: &str, fp: &str) -> String {
    format!(
        "{id}: the manifest's signature does not verify with key {fp}: manifest.json changed after it was signed, or another key signed it"
    )
}

/// What is wrong with the signature of batch `id` in folder `dir` under one of `keys`, if
/// anything (`hedui verify BATCH --key`).
pub fn verify_batch(dir: &Path, id: &str, keys: &[VerifyingKey]) -> Option<String> {
    match manifest_signature(dir, keys) {
        SignatureState::Valid => None,
        SignatureState::Unsigned => Some(format!("{id}: the manifest is not signed")),
        SignatureState::Invalid => Some(invalid_manifest(id, &fingerprints(keys))),
    }
}

/// What `verify --key` found: problems, and notes that are not problems (batches published
/// before signing began).
#[derive(Debug, Default)]
pub struct SignatureReport {
    /// Each problem, naming the batch.
    pub problems: Vec<String>,
    /// Batches published before the first signed one (allowed: the signed batches' hash chain
    /// covers them).
    pub unsigned_before_signing: Vec<String>,
}

/// Checks the signatures of batches `ids` on `root` (all of them, in order) and the root's
/// head, each by one of `keys` (several when a key was replaced).
pub fn verify_chain(root: &Path, ids: &[String], keys: &[VerifyingKey]) -> Result<SignatureReport> {
    let mut report = SignatureReport::default();
    let fp = fingerprints(keys);
    let mut signing_began = false;
    for id in ids {
        match manifest_signature(&root.join(id), keys) {
            SignatureState::Valid => signing_began = true,
            SignatureState::Invalid => {
                signing_began = true;
                report.problems.push(invalid_manifest(id, &fp));
            }
            SignatureState::Unsigned if signing_began => report.problems.push(format!(
                "{id}: not signed, though a batch before it is: it was published without the key, or its signature removed"
            )),
            SignatureState::Unsigned => report.unsigned_before_signing.push(id.clone()),
        }
    }
    match Head::read(root) {
        Err(e) => report.problems.push(e.to_string()),
        Ok(None) => report.problems.push(format!(
            "no signed head ({HEAD}) under {}: it was removed, or no batch here was run with a key",
            root.display()
        )),
        Ok(Some(head)) if !head.verifies(keys) => report.problems.push(format!(
            "{HEAD}: its signature does not verify with key {fp}: it was altered or signed by another key"
        )),
        Ok(Some(head)) => {
            let msg = head.mismatch(root, ids);
            if !msg.is_empty() {
                report.problems.push(msg);
            }
        }
    }
    Ok(report)
}

/// Checks a head hash recorded earlier: some batch's manifest on `root` must still hash to
/// it (the chain, once verified, then runs unchanged from it to the newest batch). Ok with a
/// note naming the batch and how many followed it; Err with the problem.
pub fn expect_head(root: &Path, ids: &[String], recorded: &str) -> Result<Result<String, String>> {
    let recorded = recorded.trim().to_ascii_lowercase();
    for (i, id) in ids.iter().enumerate().rev() {
        let path = root.join(id).join(MANIFEST);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if hash_bytes(&bytes) == recorded {
            let after = ids.len() - 1 - i;
            return Ok(Ok(if after == 0 {
                format!("the recorded head {recorded} is the newest batch, {id}")
            } else {
                format!(
                    "the recorded head {recorded} is batch {id}; {after} batches were published after it"
                )
            }));
        }
    }
    Ok(Err(format!(
        "the recorded head {recorded} is not in the chain: the batch it named was changed or removed, or the root was replaced"
    )))
}

/// Resolves `[signing] key` against the config's folder.
pub fn resolve(base: &Path, key: &Path) -> PathBuf {
    if key.is_absolute() {
        key.to_path_buf()
    } else {
        base.join(key)
    }
}
