//! The auditor's commands: `hedui replay`, `hedui verify` and `hedui diff`.
//!
//! - [`replay`] re-runs a published batch from its own staged snapshot with its own copy of
//!   the policy, into a scratch folder, and compares every engine output and the summary byte
//!   for byte, naming the first file and row that differ.
//! - [`verify`] recomputes the hash of every file a batch's manifest lists (and notices files
//!   added or removed) and checks the link to the previous batch; [`verify_all`] walks the
//!   whole chain of a batch root, so a changed, added or removed batch shows.
//! - [`diff`] compares two batches household by household: newly flagged, cleared, other
//!   outcome changes and changed findings, each with the records and policy values that
//!   changed between them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::engine::finding::ENGINE_OUTPUTS;
use crate::manifest::{MANIFEST, Manifest, POLICY_COPY, hash_bytes, hash_file, list_files};
use crate::output::{for_each_batch, text_column};
use crate::run::{Progress, summary_of, verify_stages, write_summary};
use crate::{Error, Result};

/// Files a replay compares: the engine's outputs and the summary.
pub fn replayed_files() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = ENGINE_OUTPUTS.to_vec();
    v.push("summary.json");
    v
}

/// The outcome of a replay.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Files compared and found identical.
    pub identical: Vec<String>,
    /// Outputs this hedui writes that the batch does not list: it was made by a hedui
    /// before them (not compared; every file it has is).
    pub newer: Vec<String>,
    /// The first difference: file and what differs there.
    pub first_difference: Option<(String, String)>,
}

/// Every row of a Parquet file as text cells (column name, value).
fn parquet_rows(path: &Path) -> Result<Vec<Vec<(String, String)>>> {
    let mut rows = Vec::new();
    for_each_batch(path, |b| {
        let schema = b.schema();
        let cols: Vec<(String, Vec<Option<String>>)> = schema
            .fields()
            .iter()
            .map(|f| Ok((f.name().clone(), text_column(&b, f.name())?)))
            .collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|(n, c)| (n.clone(), c[i].clone().unwrap_or_default()))
                    .collect(),
            );
        }
        Ok::<_, Error>(())
    })?;
    Ok(rows)
}

/// Where two versions of a file first differ, for a person.
fn first_difference(name: &str, published: &Path, replayed: &Path) -> String {
    if name.ends_with(".parquet") {
        match (parquet_rows(published), parquet_rows(replayed)) {
            (Ok(a), Ok(b)) => {
                for (i, (ra, rb)) in a.iter().zip(&b).enumerate() {
                    if ra != rb {
                        let col = ra
                            .iter()
                            .zip(rb)
                            .find(|(x, y)| x != y)
                            .map(|((n, x), (_, y))| {
                                format!("column {n}: published {x:?}, replayed {y:?}")
                            })
                            .unwrap_or_else(|| "columns differ".into());
                        let key = ra
                            .first()
                            .map(|(n, v)| format!("{n} {v}"))
                            .unwrap_or_default();
                        return format!("row {} ({key}): {col}", i + 1);
                    }
                }
                if a.len() != b.len() {
                    return format!("published {} rows, replayed {}", a.len(), b.len());
                }
                "same rows, different bytes (file metadata or encoding)".into()
            }
            (Err(e), _) => format!("the published file cannot be read: {e}"),
            (_, Err(e)) => format!("the replayed file cannot be read: {e}"),
        }
    } else {
        let a = std::fs::read_to_string(published).unwrap_or_default();
        let b = std::fs::read_to_string(replayed).unwrap_or_default();
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            if x != y {
                return format!("line {}: published {x:?}, replayed {y:?}", i + 1);
            }
        }
        format!(
            "published {} lines, replayed {}",
            a.lines().count(),
            b.lines().count()
        )
    }
}

/// Replays `batch` into `scratch` (created; left for inspection when something differs,
/// removed otherwise).
pub async fn replay(batch: &Path, scratch: &Path) -> Result<Replay> {
    let manifest = Manifest::read(batch)?;
    let policy = crate::simulate::batch_policy(batch, &manifest)?;
    let ingest_path = batch.join("ingest").join("ingest.json");
    let ingest =
        crate::ingest::IngestReport::read(&ingest_path).ok_or_else(|| Error::Integrity {
            path: ingest_path.display().to_string(),
            msg: "missing or unreadable".into(),
        })?;
    // The engine reads the batch's own staged snapshot: linked into the scratch folder.
    crate::simulate::link_ingest(batch, scratch)?;
    let mut timings = Vec::new();
    let verified = verify_stages(
        scratch,
        &policy,
        manifest.as_of,
        &manifest.batch_id,
        &crate::config::EngineSection::default(),
        &Progress::none(),
        &mut timings,
    )
    .await?;
    let summary = summary_of(
        &manifest.batch_id,
        manifest.as_of,
        &policy,
        verified,
        &ingest,
    );
    write_summary(scratch, &summary)?;
    let mut out = Replay {
        identical: Vec::new(),
        newer: Vec::new(),
        first_difference: None,
    };
    for name in replayed_files() {
        if !manifest.files.contains_key(name) && !batch.join(name).exists() {
            out.newer.push(name.to_string());
            continue;
        }
        let (a, b) = (batch.join(name), scratch.join(name));
        let same = match (std::fs::read(&a), std::fs::read(&b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        };
        if same {
            out.identical.push(name.to_string());
        } else if out.first_difference.is_none() {
            let what = if !a.is_file() {
                "missing from the published batch".to_string()
            } else {
                first_difference(name, &a, &b)
            };
            out.first_difference = Some((name.to_string(), what));
        }
    }
    if out.first_difference.is_none() {
        let _ = std::fs::remove_dir_all(scratch);
    }
    Ok(out)
}

/// What `verify` found wrong with one batch (empty when nothing).
pub fn verify(root: &Path, batch_id: &str) -> Result<Vec<String>> {
    let dir = root.join(batch_id);
    let mut problems = Vec::new();
    let manifest = match Manifest::read(&dir) {
        Ok(m) => m,
        Err(e) => return Ok(vec![format!("{batch_id}: manifest unreadable: {e}")]),
    };
    if manifest.batch_id != batch_id {
        problems.push(format!(
            "{batch_id}: the manifest names batch {}",
            manifest.batch_id
        ));
    }
    let present: BTreeSet<String> = list_files(&dir)?.into_iter().collect();
    for (rel, want) in &manifest.files {
        if !present.contains(rel) {
            problems.push(format!("{batch_id}: {rel} was removed"));
            continue;
        }
        let got = hash_file(&dir.join(rel))?;
        if &got != want {
            let what = match rel.as_str() {
                POLICY_COPY => "the policy copy",
                crate::manifest::CONFIG_COPY => "the config copy",
                r if r.starts_with("ingest/staged/") => "a staged snapshot",
                r if r.starts_with("ingest/quarantine/") => "a quarantine file",
                _ => "an output",
            };
            problems.push(format!("{batch_id}: {rel} changed ({what})"));
        }
    }
    for rel in present.iter().filter(|r| !manifest.files.contains_key(*r)) {
        problems.push(format!("{batch_id}: {rel} was added after publication"));
    }
    // The policy and config the batch ran with are named twice in the manifest (in `files`
    // and by their own hash): an edited copy whose `files` entry was updated as well still
    // differs from the hash recorded when the batch ran.
    for (copy, want, field) in [
        (POLICY_COPY, &manifest.policy_sha256, "policy_sha256"),
        (
            crate::manifest::CONFIG_COPY,
            &manifest.config_sha256,
            "config_sha256",
        ),
    ] {
        match std::fs::read(dir.join(copy)) {
            Ok(text) if &hash_bytes(&text) != want => problems.push(format!(
                "{batch_id}: {copy} does not hash to the manifest's {field}"
            )),
            Ok(_) => {}
            Err(_) if !manifest.files.contains_key(copy) => {
                problems.push(format!("{batch_id}: {copy} is missing"))
            }
            Err(_) => {}
        }
    }
    if let Some(prev) = &manifest.previous {
        let path = root.join(&prev.batch_id).join(MANIFEST);
        match std::fs::read(&path) {
            Err(_) => problems.push(format!(
                "{batch_id}: chain broken: the previous batch {} is missing",
                prev.batch_id
            )),
            Ok(bytes) if hash_bytes(&bytes) != prev.manifest_sha256 => problems.push(format!(
                "{batch_id}: chain broken: the manifest of {} changed after {batch_id} was published",
                prev.batch_id
            )),
            Ok(_) => {}
        }
    }
    Ok(problems)
}

/// Checks the deliveries batch `batch_id` read against the hashes its manifest recorded, as
/// they are now under `inputs` (the folder of the config the batch ran with: the manifest
/// names each file relative to it). A file changed since, or gone, is named; PostgreSQL
/// sources (no file, no hash) are not checked.
pub fn verify_inputs(root: &Path, batch_id: &str, inputs: &Path) -> Result<Vec<String>> {
    let manifest = match Manifest::read(&root.join(batch_id)) {
        Ok(m) => m,
        Err(e) => return Ok(vec![format!("{batch_id}: manifest unreadable: {e}")]),
    };
    let mut problems = Vec::new();
    for (source, s) in &manifest.sources {
        for f in &s.files {
            let Some(want) = &f.hash else { continue };
            let path = inputs.join(&f.name);
            if !path.is_file() {
                problems.push(format!(
                    "{batch_id}: input {} of {source} is no longer under {}",
                    f.name,
                    inputs.display()
                ));
                continue;
            }
            if &hash_file(&path)? != want {
                problems.push(format!(
                    "{batch_id}: input {} of {source} changed since the batch read it",
                    f.name
                ));
            }
        }
    }
    Ok(problems)
}

/// Verifies every published batch under `root` and the chain between them: each batch's
/// previous link must name the batch published just before it.
pub fn verify_all(root: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let ids = crate::publish::published(root)?;
    let mut problems = Vec::new();
    let mut prior: Option<&String> = None;
    for id in &ids {
        problems.extend(verify(root, id)?);
        if let Ok(m) = Manifest::read(&root.join(id)) {
            let linked = m.previous.as_ref().map(|p| &p.batch_id);
            if linked != prior {
                problems.push(match (linked, prior) {
                    (Some(l), Some(p)) if l > p => format!(
                        "{id}: chain broken: it follows {l}, which is not here (last present: {p})"
                    ),
                    (Some(l), None) => {
                        format!("{id}: chain broken: it follows {l}, which is not here")
                    }
                    (l, p) => format!(
                        "{id}: chain broken: it follows {}, but the batch before it is {}",
                        l.map(String::as_str).unwrap_or("nothing"),
                        p.map(String::as_str).unwrap_or("nothing")
                    ),
                });
            }
        }
        prior = Some(id);
    }
    problems.dedup();
    Ok((ids, problems))
}

/// One household's side of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Side {
    outcome: String,
    /// The sources whose absence left the household unverified (`;`-separated).
    unverified: String,
    findings: BTreeMap<String, String>,
}

fn read_sides(batch: &Path) -> Result<BTreeMap<String, Side>> {
    let mut out: BTreeMap<String, Side> = BTreeMap::new();
    for_each_batch(&batch.join("outcomes.parquet"), |b| {
        let h = text_column(&b, "household_id")?;
        let o = text_column(&b, "outcome")?;
        let u = text_column(&b, "unverified_sources")?;
        for i in 0..b.num_rows() {
            let side = out.entry(h[i].clone().unwrap_or_default()).or_default();
            side.outcome = o[i].clone().unwrap_or_default();
            side.unverified = u[i].clone().unwrap_or_default();
        }
        Ok::<_, Error>(())
    })?;
    for_each_batch(&batch.join("findings.parquet"), |b| {
        let h = text_column(&b, "household_id")?;
        let r = text_column(&b, "rule")?;
        let m = text_column(&b, "measured")?;
        let t = text_column(&b, "threshold")?;
        for i in 0..b.num_rows() {
            out.entry(h[i].clone().unwrap_or_default())
                .or_default()
                .findings
                .insert(
                    r[i].clone().unwrap_or_default(),
                    format!(
                        "{} against {}",
                        m[i].as_deref().unwrap_or(""),
                        t[i].as_deref().unwrap_or("")
                    ),
                );
        }
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

/// Evidence rows of some households: household → set of "rule source key amount date".
fn evidence_of(
    batch: &Path,
    households: &BTreeSet<String>,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for_each_batch(&batch.join("evidence.parquet"), |b| {
        let h = text_column(&b, "household_id")?;
        let cols: Vec<Vec<Option<String>>> = ["rule", "source", "record_key", "amount_fen", "date"]
            .iter()
            .map(|c| text_column(&b, c))
            .collect::<Result<_, crate::engine::Error>>()?;
        for i in 0..b.num_rows() {
            let Some(hh) = &h[i] else { continue };
            if !households.contains(hh) {
                continue;
            }
            let source = cols[1][i].as_deref().unwrap_or("");
            let key = cols[2][i].as_deref().unwrap_or("");
            // Keys made of resident IDs are masked: a diff is read by people.
            let key = if matches!(source, "death" | "cremation" | "marriage") {
                key.split('+')
                    .map(hedui_schemas::id::mask_text)
                    .collect::<Vec<_>>()
                    .join("+")
            } else {
                key.to_string()
            };
            out.entry(hh.clone()).or_default().insert(format!(
                "{} {} {} amount {} date {}",
                cols[0][i].as_deref().unwrap_or(""),
                source,
                key,
                cols[3][i].as_deref().unwrap_or("-"),
                cols[4][i].as_deref().unwrap_or("-")
            ));
        }
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

/// Policy values and sums per household (from `households.parquet`).
fn metrics_of(
    batch: &Path,
    households: &BTreeSet<String>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    for_each_batch(&batch.join("households.parquet"), |b| {
        let h = text_column(&b, "household_id")?;
        let names = [
            "counted",
            "standard_fen",
            "multiple_bp",
            "reference",
            "income_fen",
            "income_limit_fen",
            "assets_fen",
            "asset_limit_fen",
        ];
        let cols: Vec<Vec<Option<String>>> = names
            .iter()
            .map(|c| text_column(&b, c))
            .collect::<Result<_, crate::engine::Error>>()?;
        for i in 0..b.num_rows() {
            let Some(hh) = &h[i] else { continue };
            if households.contains(hh) {
                out.insert(
                    hh.clone(),
                    names
                        .iter()
                        .zip(&cols)
                        .map(|(n, c)| (n.to_string(), c[i].clone().unwrap_or_default()))
                        .collect(),
                );
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

/// One household that changed between two batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Household id.
    pub household_id: String,
    /// `newly flagged`, `cleared`, `outcome changed`, `findings changed` or `sources
    /// changed` (the same outcome and findings, other sources missing).
    pub kind: &'static str,
    /// Outcome in the first batch.
    pub before: String,
    /// Outcome in the second batch.
    pub after: String,
    /// Why: findings, records and policy values that differ.
    pub why: Vec<String>,
}

/// The changes between batch `a` and batch `b`, in household order.
pub fn diff(a: &Path, b: &Path) -> Result<Vec<Change>> {
    let sa = read_sides(a)?;
    let sb = read_sides(b)?;
    let ids: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    let mut changed: Vec<(String, &'static str, Side, Side)> = Vec::new();
    for id in ids {
        let x = sa.get(id).cloned().unwrap_or_default();
        let y = sb.get(id).cloned().unwrap_or_default();
        if x == y {
            continue;
        }
        let kind = if y.outcome == "FLAG" && x.outcome != "FLAG" {
            "newly flagged"
        } else if x.outcome == "FLAG" && y.outcome != "FLAG" {
            "cleared"
        } else if x.outcome != y.outcome {
            "outcome changed"
        } else if x.findings != y.findings {
            "findings changed"
        } else {
            "sources changed"
        };
        changed.push((id.clone(), kind, x, y));
    }
    let set: BTreeSet<String> = changed.iter().map(|c| c.0.clone()).collect();
    let (ea, eb) = (evidence_of(a, &set)?, evidence_of(b, &set)?);
    let (ma, mb) = (metrics_of(a, &set)?, metrics_of(b, &set)?);
    let empty = BTreeSet::new();
    let none = BTreeMap::new();
    Ok(changed
        .into_iter()
        .map(|(id, kind, x, y)| {
            let mut why = Vec::new();
            // A household left unverified by a missing source says which.
            if x.unverified != y.unverified {
                let none = |s: &str| {
                    if s.is_empty() {
                        "none".to_string()
                    } else {
                        s.replace(';', ", ")
                    }
                };
                why.push(format!(
                    "sources missing: {} -> {}",
                    none(&x.unverified),
                    none(&y.unverified)
                ));
            }
            for (rule, v) in &y.findings {
                match x.findings.get(rule) {
                    None => why.push(format!("new finding {rule} ({v})")),
                    Some(w) if w != v => why.push(format!("{rule}: {w} -> {v}")),
                    Some(_) => {}
                }
            }
            for (rule, w) in &x.findings {
                if !y.findings.contains_key(rule) {
                    why.push(format!("finding {rule} gone (was {w})"));
                }
            }
            let (xa, xb) = (ea.get(&id).unwrap_or(&empty), eb.get(&id).unwrap_or(&empty));
            for r in xb.difference(xa) {
                why.push(format!("record added: {r}"));
            }
            for r in xa.difference(xb) {
                why.push(format!("record gone: {r}"));
            }
            let (pa, pb) = (ma.get(&id).unwrap_or(&none), mb.get(&id).unwrap_or(&none));
            for (k, v) in pb {
                let w = pa.get(k).map(String::as_str).unwrap_or("");
                if w != v {
                    why.push(format!("{k}: {w} -> {v}"));
                }
            }
            Change {
                household_id: id,
                kind,
                before: if x.outcome.is_empty() {
                    "absent".into()
                } else {
                    x.outcome
                },
                after: if y.outcome.is_empty() {
                    "absent".into()
                } else {
                    y.outcome
                },
                why,
            }
        })
        .collect())
}

/// The diff as text.
pub fn render_diff(a: &str, b: &str, changes: &[Change]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in changes {
        *counts.entry(c.kind).or_default() += 1;
    }
    let mut s = format!("diff {a} -> {b}: {} households changed\n", changes.len());
    for (k, n) in &counts {
        s.push_str(&format!("  {k:<18} {n:>8}\n"));
    }
    for c in changes {
        s.push_str(&format!(
            "\n{} {}: {} -> {}\n",
            c.household_id, c.kind, c.before, c.after
        ));
        for w in &c.why {
            s.push_str(&format!("    {w}\n"));
        }
    }
    s
}

/// The batch folder for an argument: a path to a batch, or a batch id under `root`.
pub fn batch_path(root: &Path, arg: &str) -> PathBuf {
    let p = PathBuf::from(arg);
    if p.join(MANIFEST).is_file() {
        p
    } else {
        root.join(arg)
    }
}
