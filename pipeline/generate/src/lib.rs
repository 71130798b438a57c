//! `hedui generate`: a synthetic Guangdong province with planted truth.
//!
//! Households are generated in fixed-size chunks; each household draws from its own RNG
//! seeded by (seed, household index), and each chunk's dirt from an RNG seeded by (seed,
//! chunk index), so the output is byte-identical for a seed whatever the thread count.
//! Chunks are built in parallel with rayon, a bounded window at a time, and written in
//! order; memory depends on the chunk size and thread count, not on the province.
//!
//! Layout of the output folder:
//! - `exports/`: the 24 department exports plus `applications.csv`, in the formats and
//!   encodings of the catalog's default layouts (`bank_deposit/` holds one file per bank);
//! - `truth/`: what a batch must find (see [`truth`]);
//! - `generation.json`: the parameters and row counts;
//! - `hedui.toml`: a batch config that ingests the exports (written by `hedui::generate`,
//!   which knows the config; this crate knows only the catalog, so the truth it plants can
//!   never borrow the engine's logic).
#![warn(missing_docs)]

pub mod background;
pub mod dirty;
pub mod error;
pub mod household;
pub mod model;
pub mod people;
pub mod recs;
pub mod style;
pub mod truth;
pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

pub use dirty::DirtyRates;
use error::io;
pub use error::{Error, Result};
use hedui_schemas::policy::Policy;
pub use household::PlantRates;
use household::{Ctx, Out};
pub use style::Layout;
use write::SourceCounts;

/// The default batch date the truth is planted against.
pub const DEFAULT_AS_OF: &str = "2026-11-15";

/// Households per chunk. Part of the output format: changing it changes which rows get dirt.
pub const CHUNK: u64 = 1024;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Number of applicant households.
    pub households: u64,
    /// Seed.
    pub seed: u64,
    /// The batch date the truth is planted against.
    pub as_of: NaiveDate,
    /// Output folder.
    pub out: PathBuf,
    /// Dirty-data rates.
    pub dirty: DirtyRates,
    /// Plant rates.
    pub plant: PlantRates,
    /// The policy the truth follows.
    pub policy: Policy,
    /// How the exports are written (the truth is the same in every layout).
    pub layout: Layout,
}

/// What was generated.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Households.
    pub households: u64,
    /// Seed.
    pub seed: u64,
    /// Batch date.
    pub as_of: NaiveDate,
    /// Policy name.
    pub policy: String,
    /// Households per planted outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Planted findings per rule.
    pub findings: BTreeMap<String, u64>,
    /// Rows per source.
    pub sources: BTreeMap<String, SourceCounts>,
}

impl Summary {
    /// Total rows written across sources.
    pub fn total_rows(&self) -> u64 {
        self.sources.values().map(|c| c.read).sum()
    }
}

fn mix(seed: u64, a: u64, b: u64) -> u64 {
    // SplitMix64 finaliser over the three inputs: independent streams per (seed, a, b).
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub use hedui_schemas::values::income_window;

fn chunk(ctx: &Ctx, cfg: &GenerateConfig, c: u64, styles: &[style::Style]) -> Result<Out> {
    let mut out = Out::default();
    let start = c * CHUNK;
    let end = ((c + 1) * CHUNK).min(cfg.households);
    for idx in start..end {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, idx, 0));
        let mut rng2 = ChaCha8Rng::seed_from_u64(mix(cfg.seed, idx, 3));
        household::household(ctx, idx, &mut rng, &mut rng2, &mut out)?;
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, idx, 1));
        background::residents(ctx, idx, &mut rng, &mut out)?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, c, 2));
    for (i, def) in hedui_schemas::all_sources().iter().enumerate() {
        let recs = std::mem::take(&mut out.recs[i]);
        out.recs[i] = dirty::inject(def, recs, &cfg.dirty, &mut rng);
    }
    unreadable_records(&mut out, styles);
    Ok(out)
}

/// The truth of the dirty rows about counted members: each household with a record that
/// cannot be read about a counted member, in a source a rule reads, gets an
/// `unreadable_records` finding listing them (the records of a chunk are about its own
/// households' members and residents, so the chunk is enough).
///
/// A record whose subject's ID does not read (the linkage's reasons) is linked to the declared
/// members of its name whose ID is one slip from the delivered text or who share its birth date
/// and birthplace: one is `linked`, more are `ambiguous`, none (or no name delivered in this
/// layout) `unlinked`; what the linkage must make of it is kept on the record (`Rec::link`,
/// written to `truth/linkage.csv`), and a linked or ambiguous one about a counted member is an
/// unreadable record of the member's household. (A namesake one slip away in another chunk is
/// not looked for: people's IDs are spread so thinly over the ID space that its chance is
/// about one in a million per record.)
fn unreadable_records(out: &mut Out, styles: &[style::Style]) {
    use hedui_schemas::ResidentId;
    use model::{Cell, Evidence, Finding, Rule};
    // (A member of two households counts in both, and both get the finding.)
    let mut counted: std::collections::HashMap<ResidentId, Vec<usize>> =
        std::collections::HashMap::new();
    for (h, t) in out.truth.iter().enumerate() {
        for id in &t.counted_ids {
            counted.entry(*id).or_default().push(h);
        }
    }
    // The declared members by name, from the applications as delivered (their own dirty
    // copies aside).
    let apps = hedui_schemas::all_sources()
        .iter()
        .position(|d| d.id == "applications")
        .expect("the catalog has the applications");
    let app_def = &hedui_schemas::all_sources()[apps];
    let role_at = |def: &hedui_schemas::SourceDef, role: hedui_schemas::Role| {
        def.fields.iter().position(|f| f.role == role)
    };
    let (app_id, app_name, app_region) = (
        role_at(app_def, hedui_schemas::Role::Subject),
        role_at(app_def, hedui_schemas::Role::Name),
        role_at(app_def, hedui_schemas::Role::Region),
    );
    // Name -> member -> the regions of the households declaring them.
    type Declared = BTreeMap<ResidentId, Vec<i32>>;
    let mut by_name: std::collections::HashMap<String, Declared> = std::collections::HashMap::new();
    for rec in &out.recs[apps] {
        if rec.dirty.is_some_and(|(k, _, _)| k.adds_row()) {
            continue;
        }
        let id = match app_id.and_then(|i| rec.cells.get(i)) {
            Some(Cell::Id(id)) => *id,
            _ => match rec.dirty {
                Some((_, _, id)) => id,
                None => continue,
            },
        };
        if let Some(Cell::Str(name)) = app_name.and_then(|i| rec.cells.get(i)) {
            let regions = by_name
                .entry(name.trim().to_string())
                .or_default()
                .entry(id)
                .or_default();
            if let Some(Cell::Region(r)) = app_region.and_then(|i| rec.cells.get(i)) {
                regions.push(*r);
            }
        }
    }
    let read = hedui_schemas::rules::read_sources();
    let mut found: BTreeMap<usize, Vec<Evidence>> = BTreeMap::new();
    for (i, def) in hedui_schemas::all_sources().iter().enumerate() {
        if !read.contains(&def.id) {
            continue;
        }
        let st = &styles[i];
        let name_at = role_at(def, hedui_schemas::Role::Name);
        let region_at = role_at(def, hedui_schemas::Role::Region);
        let name_delivered = name_at.is_some_and(|at| {
            st.columns
                .iter()
                .any(|c| matches!(c.what, style::What::Field { index, .. } if index == at))
        });
        for rec in out.recs[i].iter_mut() {
            let Some((kind, field, id)) = rec.dirty else {
                continue;
            };
            let Some(at) = def.fields.iter().position(|f| f.name == field) else {
                continue;
            };
            let reason = kind.expected_reason().map_or("", |r| r.as_str());
            // The text as delivered in this layout (a tax amount in 万元 in the county's).
            let shown = st
                .columns
                .iter()
                .find(|c| matches!(c.what, style::What::Field { index, .. } if index == at))
                .and_then(|c| write::styled_text(def, st, c, rec))
                .or_else(|| write::cell_text(&def.fields[at], &rec.cells[at]))
                .unwrap_or_default();
            let linkable = def.id != "applications"
                && field == def.subject().name
                && ["id_checksum", "id_format", "id_birth_date"].contains(&reason);
            let (status, shown) = if linkable {
                let name =
                    name_at
                        .filter(|_| name_delivered)
                        .and_then(|at| match rec.cells.get(at) {
                            Some(Cell::Str(n)) => Some(n.trim().to_string()),
                            _ => None,
                        });
                let slips = hedui_schemas::id::one_edit_away(&shown);
                // The delivered ID's birthplace, birth date and sex digits, as an 18-digit ID
                // spells them (`None` when its length holds none).
                let digits = hedui_schemas::id::folded(&shown);
                let parts: Option<(String, String, String)> = match digits.len() {
                    18 => Some((
                        digits[..6].into(),
                        digits[6..14].into(),
                        digits[16..17].into(),
                    )),
                    15 => Some((
                        digits[..6].into(),
                        format!("19{}", &digits[6..12]),
                        digits[14..15].into(),
                    )),
                    _ => None,
                };
                let region = match region_at.and_then(|at| rec.cells.get(at)) {
                    Some(Cell::Region(r)) => Some(*r),
                    _ => None,
                };
                // Per candidate, the fields that agree (name, one slip, birth date,
                // birthplace, sex, region); a candidate shares the name, and is one slip away
                // or shares the birth date and birthplace.
                let agreement = |m: &ResidentId, regions: &[i32]| -> u32 {
                    let t = m.to_string();
                    let odd = |d: &str| d.parse::<u32>().map(|d| d % 2).ok();
                    let mut bits = 1 | (u32::from(slips.contains(m)) << 1);
                    if let Some((place, birth, sex)) = &parts {
                        bits |= u32::from(*birth == t[6..14]) << 2;
                        bits |= u32::from(*place == t[..6]) << 3;
                        bits |= u32::from(odd(sex) == odd(&t[16..17])) << 4;
                    }
                    bits |= u32::from(region.is_some_and(|r| regions.contains(&r))) << 5;
                    bits
                };
                let candidates: Vec<(ResidentId, u32)> = name
                    .and_then(|n| by_name.get(&n))
                    .map(|v| {
                        v.iter()
                            .map(|(m, regions)| (*m, agreement(m, regions)))
                            .filter(|(_, bits)| bits & 0b10 != 0 || bits & 0b1100 == 0b1100)
                            .collect()
                    })
                    .unwrap_or_default();
                // The candidates no other agrees with on more: one is the person; several
                // that nothing tells apart leave the record ambiguous.
                let mut members: Vec<ResidentId> = candidates
                    .iter()
                    .filter(|(_, a)| !candidates.iter().any(|(_, b)| b != a && b & a == *a))
                    .map(|(m, _)| *m)
                    .collect();
                members.sort_by_key(|m| m.pack());
                let status = match members.len() {
                    0 => "unlinked",
                    1 => "linked",
                    _ => "ambiguous",
                };
                rec.link = Some((status, members));
                (Some(status), hedui_schemas::id::mask_text(&shown))
            } else {
                (None, shown)
            };
            // A linked record is read: every other field of these reads, so it is either a
            // copy of a record of the member that was read (a dirty copy: nothing new), or
            // the only one (a probable record, whose truth the household planted).
            let about: Vec<ResidentId> = match (status, &rec.link) {
                (Some("unlinked" | "linked"), _) => continue,
                (Some(_), Some((_, members))) => members.clone(),
                _ if kind.is_unreadable_about_subject() => vec![id],
                _ => continue,
            };
            for person in about {
                let Some(hs) = counted.get(&person) else {
                    continue;
                };
                let key = match status {
                    Some(s) => format!("{} {reason} {field} \"{shown}\" {s}", def.id),
                    None => format!("{} {reason} {field} \"{shown}\"", def.id),
                };
                let e = Evidence {
                    person,
                    source: def.id,
                    key,
                    amount_fen: None,
                    date: String::new(),
                };
                for &h in hs {
                    found.entry(h).or_default().push(e.clone());
                }
            }
        }
    }
    for (h, evidence) in found {
        let t = &mut out.truth[h];
        let mut members: Vec<_> = evidence.iter().map(|e| e.person).collect();
        members.sort_by_key(|id| id.pack());
        members.dedup();
        t.planted.push("unreadable_records");
        t.findings.push(Finding {
            rule: Rule::UnreadableRecords,
            severity: Rule::UnreadableRecords.severity(),
            members,
            measured: evidence.len() as i64,
            threshold: 0,
            evidence,
        });
        t.findings.sort_by_key(|f| f.rule);
    }
}

/// Generates a province into `cfg.out`; `progress` is called with households done.
pub fn generate(cfg: &GenerateConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<Summary> {
    if cfg.households == 0 {
        return Err(Error::OutOfRange("--households must be at least 1".into()));
    }
    if cfg.households * 12 >= people::MAX_SERIAL {
        return Err(Error::OutOfRange(format!(
            "at most {} households",
            people::MAX_SERIAL / 12
        )));
    }
    let window = income_window(cfg.as_of, cfg.policy.income_window_months);
    for c in household::CITIES {
        for r in c.counties {
            cfg.policy.standard_at(*r, cfg.as_of)?;
        }
    }
    let ctx = Ctx {
        policy: &cfg.policy,
        as_of: cfg.as_of,
        window,
        plant: &cfg.plant,
        households: cfg.households,
    };
    let exports = cfg.out.join("exports");
    let truth_dir = cfg.out.join("truth");
    for d in [&exports, &truth_dir] {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    let styles = style::styles(cfg.layout);
    let mut writers = write::Writers::create(&exports, &truth_dir.join("dirty_rows.csv"), &styles)?;
    let mut truth = truth::TruthWriter::create(&truth_dir)?;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut findings: BTreeMap<String, u64> = BTreeMap::new();
    let chunks = cfg.households.div_ceil(CHUNK);
    let window_size = (rayon::current_num_threads() as u64 * 2).max(2);
    let mut c = 0;
    while c < chunks {
        let upto = (c + window_size).min(chunks);
        // Generation and formatting run in parallel; only appending to the files is serial.
        let outs: Vec<(write::EncodedChunk, Vec<model::TruthHousehold>)> = (c..upto)
            .into_par_iter()
            .map(|k| {
                let out = chunk(&ctx, cfg, k, &styles)?;
                Ok((write::encode_chunk(&out.recs, &styles)?, out.truth))
            })
            .collect::<Result<_>>()?;
        for (encoded, households) in outs {
            writers.write(encoded)?;
            truth.write(&households)?;
            for h in &households {
                *outcomes.entry(h.outcome().to_string()).or_default() += 1;
                for f in &h.findings {
                    *findings.entry(f.rule.id().to_string()).or_default() += 1;
                }
            }
        }
        c = upto;
        progress((c * CHUNK).min(cfg.households));
    }
    let sources = writers.finish()?;
    truth.finish()?;
    let quarantine: BTreeMap<&String, &SourceCounts> = sources.iter().collect();
    truth::write_json(&truth_dir.join("quarantine.json"), &quarantine)?;
    let summary = Summary {
        households: cfg.households,
        seed: cfg.seed,
        as_of: cfg.as_of,
        policy: cfg.policy.name.clone(),
        outcomes,
        findings,
        sources,
    };
    truth::write_json(
        &cfg.out.join("generation.json"),
        &GenerationFile::from(&summary),
    )?;
    Ok(summary)
}

/// `generation.json`: parameters and totals (per-source counts are in the truth folder).
#[derive(Serialize)]
struct GenerationFile<'a> {
    generator: &'static str,
    households: u64,
    seed: u64,
    as_of: NaiveDate,
    policy: &'a str,
    chunk: u64,
    outcomes: &'a BTreeMap<String, u64>,
    findings: &'a BTreeMap<String, u64>,
    rows: u64,
}

impl<'a> From<&'a Summary> for GenerationFile<'a> {
    fn from(s: &'a Summary) -> Self {
        GenerationFile {
            generator: concat!("hedui ", env!("CARGO_PKG_VERSION")),
            households: s.households,
            seed: s.seed,
            as_of: s.as_of,
            policy: &s.policy,
            chunk: CHUNK,
            outcomes: &s.outcomes,
            findings: &s.findings,
            rows: s.total_rows(),
        }
    }
}

/// Checks that `dir` looks like a generated province.
pub fn is_generated(dir: &Path) -> bool {
    dir.join("generation.json").is_file() && dir.join("exports").is_dir()
}
