//! The linkage stage (issue #28): records quarantined because their subject's ID does not
//! read (a mistyped digit: `id_checksum`, `id_format`, `id_birth_date`), in a source a rule
//! reads, matched against the batch's declared members.
//!
//! - **Candidates** (blocking, as joins on DataFusion): a declared member of the same name
//!   whose ID is one typing slip from the delivered text (`hedui_schemas::id::one_edit_away`,
//!   15-digit forms included), or of the same name, birth date and birthplace (the delivered
//!   ID's digits). A source that delivers no name gives no candidates.
//! - **Comparison** of each pair on [`FIELDS`]: name, one slip, birth date, birthplace, sex
//!   (the delivered ID's digits against the member's) and region (the source's region field,
//!   where it has one, against the member's household's).
//! - **Weights** (Fellegi-Sunter, `linkage.rs`): `u` from pairs drawn at random (each record
//!   against the members of a household picked by a fixed hash of its number: nearly all
//!   non-matches), then `m` and `lambda` by EM over the candidate pairs, as Splink does; the
//!   fixed weights [`FIXED_M`], [`FIXED_U`] when the batch has fewer than [`MIN_PAIRS`]
//!   candidate pairs. One model for the batch: a source's own few records fit nothing.
//! - **Decision** per record: linked to the best candidate when its match weight reaches the
//!   policy's least weight and no other comes within the policy's margin (bits of weight);
//!   ambiguous when another does; unlinked when none reaches it or there is none. A field one
//!   side lacks (birth date, birthplace and sex from an ID too short or long to hold them; a
//!   region from a source without one) is missing, and weighs nothing.
//!
//! The result is `linkage.parquet` (one row per record: where it is, the delivered ID, the
//! status, the member, the score, the fields that agreed; restricted) and `linkage.json`
//! (counts per source, the weights, the score distribution), and the table `linked` the rules
//! read: a linked record is about its member, an ambiguous one about each of its candidates,
//! and a household with such a record about a counted member cannot PASS
//! (`unreadable_records`: a probable record is not read as if its ID were known).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Array, Int64Builder, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use hedui_schemas::{ResidentId, Role, policy::Policy};

use super::linkage::{self, Model};
use super::{Engine, df_err};
use crate::output::{ParquetOut, int_column, text_column};
use crate::{Error, Result};

/// The quarantine reasons of a subject's ID that does not read but may be one slip off.
pub const ID_REASONS: [&str; 3] = ["id_checksum", "id_format", "id_birth_date"];

/// The comparison fields, bit `i` of a pattern for field `i`.
pub const FIELDS: [&str; 6] = [
    "name",
    "one_slip",
    "birth_date",
    "birthplace",
    "sex",
    "region",
];

/// Fixed `m` (agreement among true matches) per field, for a batch too small to estimate
/// from: a name is kept nearly always, a slip lands in the birth date or the birthplace digits
/// about one time in three each.
pub const FIXED_M: [f64; 6] = [0.99, 0.95, 0.7, 0.7, 0.95, 0.8];
/// Fixed `u` (agreement among non-matches) per field: two people of one name are rare, one
/// slip apart rarer; birth dates spread over some 25,000 days, birthplaces over thousands of
/// counties; half share a sex; a province has a few dozen regions.
pub const FIXED_U: [f64; 6] = [0.001, 0.0001, 0.0001, 0.001, 0.5, 0.05];
/// Fixed prior share of candidate pairs that are matches.
pub const FIXED_LAMBDA: f64 = 0.5;
/// Candidate pairs under which the fixed weights are used.
pub const MIN_PAIRS: u64 = 200;

/// The candidate pairs of every record, with their agreement patterns (DataFusion: blocking
/// joins over `link_records`, `link_keys` (after the declared members' key test, which drops
/// nearly every key), `members` (on birthplace and birth date, from the packed key) and the
/// applications' names).
const CANDIDATES_SQL: &str = "
WITH blocked AS (
    SELECT rec, person_key FROM link_keys WHERE may_be_declared(person_key)
    UNION
    SELECT r.rec, m.person_key FROM link_records r
    JOIN members m ON m.person_key / 11 / 1000 = r.place * 100000000 + r.birth
    WHERE r.name IS NOT NULL
),
slips AS (
    SELECT rec, person_key FROM link_keys WHERE may_be_declared(person_key)
)
SELECT b.rec, b.person_key,
       MAX(CASE WHEN k.rec IS NULL THEN 0 ELSE 2 END)
       + MAX(CASE WHEN r.birth = (b.person_key / 11 / 1000) % 100000000 THEN 4 ELSE 0 END)
       + MAX(CASE WHEN r.place = b.person_key / 11 / 100000000000 THEN 8 ELSE 0 END)
       + MAX(CASE WHEN r.sex = (b.person_key / 11) % 2 THEN 16 ELSE 0 END)
       + MAX(CASE WHEN r.region = m.region THEN 32 ELSE 0 END)
       + 1 + MAX(r.missing) AS pattern
FROM blocked b
JOIN link_records r ON r.rec = b.rec
JOIN applications n ON n.person_key = b.person_key AND CAST(n.name AS VARCHAR) = r.name
JOIN members m ON m.person_key = b.person_key
LEFT JOIN slips k ON k.rec = b.rec AND k.person_key = b.person_key
GROUP BY b.rec, b.person_key
";

/// Pairs drawn at random for `u`: each record against every member of the household
/// `rand_hh` (a fixed hash of its number), compared as the candidates are.
const RANDOM_SQL: &str = "
WITH slips AS (
    SELECT rec, person_key FROM link_keys WHERE may_be_declared(person_key)
)
SELECT r.rec, m.person_key,
       MAX(CASE WHEN CAST(n.name AS VARCHAR) = r.name THEN 1 ELSE 0 END)
       + MAX(CASE WHEN k.rec IS NULL THEN 0 ELSE 2 END)
       + MAX(CASE WHEN r.birth = (m.person_key / 11 / 1000) % 100000000 THEN 4 ELSE 0 END)
       + MAX(CASE WHEN r.place = m.person_key / 11 / 100000000000 THEN 8 ELSE 0 END)
       + MAX(CASE WHEN r.sex = (m.person_key / 11) % 2 THEN 16 ELSE 0 END)
       + MAX(CASE WHEN r.region = m.region THEN 32 ELSE 0 END) + MAX(r.missing) AS pattern
FROM link_records r
JOIN members m ON m.hh = r.rand_hh
LEFT JOIN applications n ON n.person_key = m.person_key
LEFT JOIN slips k ON k.rec = r.rec AND k.person_key = m.person_key
WHERE r.name IS NOT NULL
GROUP BY r.rec, m.person_key
";

/// A record whose subject's ID does not read.
struct Unread {
    source: String,
    file: String,
    line: i64,
    reason: String,
    field: String,
    /// The delivered ID text (restricted).
    raw: String,
    /// The same, masked.
    shown: String,
    name: Option<String>,
    /// The source's region field, where it has one.
    region: Option<i64>,
}

/// One record's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `linked`, `ambiguous` or `unlinked`.
    pub status: &'static str,
    /// The member linked, or the candidates within the margin of the best when ambiguous.
    pub members: Vec<i64>,
    /// Candidates.
    pub candidates: usize,
    /// The best candidate's pattern and weight, and the next one's weight.
    pub best: Option<(u32, f64)>,
    /// The second-best candidate's weight.
    pub second: Option<f64>,
    /// The best candidate's match probability.
    pub probability: Option<f64>,
}

/// Decides one record from its candidates (member key, pattern), scored by `model`.
pub fn decide(
    candidates: &[(i64, u32)],
    model: &Model,
    min_weight_bits: f64,
    margin_bits: f64,
) -> Decision {
    let mut scored: Vec<(f64, i64, u32)> = candidates
        .iter()
        .map(|(k, p)| (model.weight(*p), *k, *p))
        .collect();
    // Best first; ties by member key, so the order never depends on the join's.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let Some(&(w, key, pattern)) = scored.first() else {
        return Decision {
            status: "unlinked",
            members: Vec::new(),
            candidates: 0,
            best: None,
            second: None,
            probability: None,
        };
    };
    let probability = model.probability(pattern);
    let second = scored.get(1).map(|s| s.0);
    let close: Vec<i64> = scored
        .iter()
        .filter(|s| w - s.0 < margin_bits)
        .map(|s| s.1)
        .collect();
    let (status, members) = if w < min_weight_bits {
        ("unlinked", Vec::new())
    } else if close.len() > 1 {
        let mut m = close;
        m.sort_unstable();
        ("ambiguous", m)
    } else {
        ("linked", vec![key])
    };
    Decision {
        status,
        members,
        candidates: scored.len(),
        best: Some((pattern, w)),
        second,
        probability: Some(probability),
    }
}

/// The fields of `pattern` that agree, comma-separated.
pub fn agreed(pattern: u32) -> String {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(i, _)| pattern & (1 << i) != 0)
        .map(|(_, f)| *f)
        .collect::<Vec<_>>()
        .join(",")
}

/// The parts of a delivered ID the comparison reads, where its digits give them: birthplace
/// (6 digits), birth date (yyyymmdd), sex (1 male, 0 female).
fn id_parts(raw: &str) -> (Option<i64>, Option<i64>, Option<i64>) {
    let f = hedui_schemas::id::folded(raw);
    let digits = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    match f.len() {
        18 => (
            digits(&f[..6]),
            digits(&f[6..14]),
            digits(&f[16..17]).map(|d: i64| d % 2),
        ),
        15 => (
            digits(&f[..6]),
            digits(&f[6..12]).map(|d: i64| 19_000_000 + d),
            digits(&f[14..15]).map(|d: i64| d % 2),
        ),
        _ => (None, None, None),
    }
}

/// The model a batch's linkage scores with: `u` from the random pairs, then EM for `m` and
/// `lambda`; the fixed weights when there are fewer than [`MIN_PAIRS`] candidate pairs, or
/// no random pair, or EM does not settle.
fn fit(candidates: &BTreeMap<u32, u64>, random: &BTreeMap<u32, u64>) -> (Model, bool) {
    let fixed = Model {
        lambda: FIXED_LAMBDA,
        m: FIXED_M.to_vec(),
        u: FIXED_U.to_vec(),
        iterations: 0,
        converged: true,
    };
    let pairs: u64 = candidates.values().sum();
    let drawn: u64 = random.values().sum();
    if pairs < MIN_PAIRS || drawn == 0 {
        return (fixed, false);
    }
    // u per field: the share of random pairs that agree on it, with one agreeing pair added
    // so that a field no random pair agrees on keeps a finite weight.
    let u: Vec<f64> = (0..FIELDS.len())
        .map(|i| {
            let agree: u64 = random
                .iter()
                .filter(|(p, _)| *p & (1 << i) != 0)
                .map(|(_, c)| *c)
                .sum();
            (agree as f64 + 1.0) / (drawn as f64 + 2.0)
        })
        .collect();
    let patterns: Vec<(u32, u64)> = candidates.iter().map(|(p, c)| (*p, *c)).collect();
    match linkage::estimate_m(&patterns, &u) {
        Some(m) if m.converged => (m, true),
        _ => (fixed, false),
    }
}

/// What the stage found, for the batch summary.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkageCounts {
    /// Records whose subject's ID does not read, in the sources the rules read.
    pub unreadable_id: u64,
    /// Linked to one member.
    pub linked: u64,
    /// More than one member within the margin.
    pub ambiguous: u64,
    /// No candidate reached the threshold (or none at all).
    pub unlinked: u64,
    /// Linked records that enter the sums and the rules as probable records (all their other
    /// fields read, and not a copy of a record read).
    #[serde(default)]
    pub probable: u64,
    /// Linked records that are copies of a record of the member that was read (or of
    /// another probable record): nothing new.
    #[serde(default)]
    pub copies: u64,
}

/// How the weights were fitted, and what they are (`linkage.json`'s `model`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelReport {
    /// How the weights were come by.
    pub weights: String,
    /// Candidate pairs compared.
    pub candidate_pairs: u64,
    /// Pairs drawn at random (for `u`).
    pub random_pairs: u64,
    /// The share of candidate pairs that are matches.
    pub lambda: f64,
    /// Per field: agreement among matches.
    pub m: BTreeMap<String, f64>,
    /// Per field: agreement among non-matches.
    pub u: BTreeMap<String, f64>,
    /// Per field: the weight, in bits, of agreeing.
    pub weight_if_agrees: BTreeMap<String, f64>,
    /// Per field: the weight of disagreeing.
    pub weight_if_disagrees: BTreeMap<String, f64>,
    /// EM iterations.
    pub iterations: usize,
    /// Whether EM settled.
    pub converged: bool,
}

/// `linkage.json`: the stage's settings, fit and counts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkageReport {
    /// Whether the policy asks for the linkage (`[linkage]`); when not, every record is
    /// unlinked. (A report without the field was written when the linkage always ran.)
    #[serde(default = "always")]
    pub enabled: bool,
    /// The policy's least weight of a link, in bits.
    pub min_weight_bits: f64,
    /// The policy's margin, in bits.
    pub margin_bits: f64,
    /// The comparison fields.
    pub fields: Vec<String>,
    /// The model.
    pub model: ModelReport,
    /// All sources together.
    pub total: LinkageCounts,
    /// Per source.
    pub sources: BTreeMap<String, LinkageCounts>,
    /// Per status, the best candidate's score in whole bits (rounded down) and how many
    /// records had it.
    pub best_score_bits: BTreeMap<String, BTreeMap<i64, u64>>,
}

fn always() -> bool {
    true
}

fn linked_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("person_key", DataType::Int64, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("field", DataType::Utf8, false),
        Field::new("shown", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("read", DataType::Boolean, false),
    ]))
}

fn linkage_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("delivered_id", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, true),
        Field::new("candidate_ids", DataType::Utf8, true),
        Field::new("candidates", DataType::Int64, false),
        Field::new("score", DataType::Float64, true),
        Field::new("second_score", DataType::Float64, true),
        Field::new("probability", DataType::Float64, true),
        Field::new("agreed", DataType::Utf8, true),
    ]))
}

/// An empty `linked` table: what the rules read before the stage has run (`hedui explain`).
pub(crate) fn empty_linked() -> Result<Arc<MemTable>> {
    let schema = linked_schema();
    Ok(Arc::new(
        MemTable::try_new(schema.clone(), vec![vec![RecordBatch::new_empty(schema)]])
            .map_err(df_err)?,
    ))
}

/// A histogram bin of scores: whole bits, rounded down (`"12"` for 12.0 to 12.99…).
fn bin(score: f64) -> i64 {
    score.floor() as i64
}

impl Engine {
    /// Runs the linkage stage over the registered `members` (hh order, `households` of them):
    /// writes `linkage.parquet` to `out`; gives the records attributed to members and the
    /// report (`linkage.json`, written once the probable records are known: probable.rs).
    pub(crate) async fn link(
        &self,
        policy: &Policy,
        households: usize,
        out: &Path,
    ) -> Result<Linked> {
        let read = hedui_schemas::rules::read_sources();
        let reasons = ID_REASONS
            .iter()
            .map(|r| format!("'{r}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT CAST(source AS VARCHAR) AS source, CAST(file AS VARCHAR) AS file, line, \
             CAST(reason AS VARCHAR) AS reason, field, raw, shown, record FROM quarantine \
             WHERE subject_key IS NULL AND CAST(reason AS VARCHAR) IN ({reasons}) \
             ORDER BY source, file, line"
        );
        let mut unread: Vec<Unread> = Vec::new();
        let started = crate::StageTimer::start();
        for b in self.query(&sql).await? {
            let cols: Vec<Vec<Option<String>>> = [
                "source", "file", "reason", "field", "raw", "shown", "record",
            ]
            .iter()
            .map(|c| text_column(&b, c))
            .collect::<Result<_>>()?;
            let line = int_column(&b, "line")?;
            for i in 0..b.num_rows() {
                let get = |c: usize| cols[c][i].clone().unwrap_or_default();
                let source = get(0);
                // A source no rule reads, the declarations themselves, or another person's ID
                // (a spouse's) is not linked.
                let Some(def) = hedui_schemas::source(&source) else {
                    continue;
                };
                if !read.contains(&def.id) || def.id == "applications" {
                    continue;
                }
                if cols[3][i].as_deref() != Some(def.subject().name) {
                    continue;
                }
                // (A source without a name field links nothing: its record is not parsed.)
                let record: Vec<Option<String>> = if def.fields.iter().any(|f| f.role == Role::Name)
                {
                    serde_json::from_str(cols[6][i].as_deref().unwrap_or_default())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                let value = |role: Role| {
                    def.fields
                        .iter()
                        .position(|f| f.role == role)
                        .and_then(|at| record.get(at).cloned().flatten())
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty())
                };
                let name = value(Role::Name);
                let region = value(Role::Region).and_then(|r| r.parse().ok());
                unread.push(Unread {
                    source,
                    file: get(1),
                    line: line[i].unwrap_or_default(),
                    reason: get(2),
                    field: get(3),
                    raw: get(4),
                    shown: get(5),
                    name,
                    region,
                });
            }
        }
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, records = unread.len(), "linkage records read");
        // The records and their blocking keys, as tables.
        let n = unread.len();
        let (mut rec, mut name, mut place, mut birth, mut sex, mut region, mut rand_hh) = (
            Int64Builder::with_capacity(n),
            StringBuilder::new(),
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
            Int64Builder::with_capacity(n),
        );
        // The blocking keys, on every core (one_edit_away is the stage's CPU), in record order.
        let started = crate::StageTimer::start();
        let slips: Vec<Vec<i64>> = {
            use rayon::prelude::*;
            unread
                .par_iter()
                .map(|u| {
                    if u.name.is_some() {
                        hedui_schemas::id::one_edit_away(&u.raw)
                            .iter()
                            .map(ResidentId::pack)
                            .collect()
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        };
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, "linkage blocking keys");
        let (mut k_rec, mut k_key) = (Int64Builder::new(), Int64Builder::new());
        let mut missing = Int64Builder::with_capacity(n);
        for (i, u) in unread.iter().enumerate() {
            let i = i as i64;
            let (p, b, s) = id_parts(&u.raw);
            rec.append_value(i);
            name.append_option(u.name.as_deref());
            place.append_option(p);
            birth.append_option(b);
            sex.append_option(s);
            region.append_option(u.region);
            // The fields this record has no value for, as a pattern's missing bits.
            let absent = [
                (2, b.is_none()),
                (3, p.is_none()),
                (4, s.is_none()),
                (5, u.region.is_none()),
            ]
            .iter()
            .filter(|(_, none)| *none)
            .fold(0i64, |m, (i, _)| {
                m | 1 << (linkage::MISSING_SHIFT as usize + i)
            });
            missing.append_value(absent);
            // A household by a fixed hash of the record's number, for the random pairs.
            let h = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(40_503)
                % households.max(1) as u64;
            rand_hh.append_value(h as i64);
            for key in &slips[i as usize] {
                k_rec.append_value(i);
                k_key.append_value(*key);
            }
        }
        let records_schema = Arc::new(Schema::new(vec![
            Field::new("rec", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("place", DataType::Int64, true),
            Field::new("birth", DataType::Int64, true),
            Field::new("sex", DataType::Int64, true),
            Field::new("region", DataType::Int64, true),
            Field::new("rand_hh", DataType::Int64, false),
            Field::new("missing", DataType::Int64, false),
        ]));
        let records = RecordBatch::try_new(
            records_schema.clone(),
            vec![
                Arc::new(rec.finish()) as ArrayRef,
                Arc::new(name.finish()),
                Arc::new(place.finish()),
                Arc::new(birth.finish()),
                Arc::new(sex.finish()),
                Arc::new(region.finish()),
                Arc::new(rand_hh.finish()),
                Arc::new(missing.finish()),
            ],
        )?;
        let keys_schema = Arc::new(Schema::new(vec![
            Field::new("rec", DataType::Int64, false),
            Field::new("person_key", DataType::Int64, false),
        ]));
        let keys = RecordBatch::try_new(
            keys_schema.clone(),
            vec![Arc::new(k_rec.finish()), Arc::new(k_key.finish())],
        )?;
        self.register_table(
            "link_records",
            Arc::new(MemTable::try_new(records_schema, vec![vec![records]]).map_err(df_err)?),
        )?;
        self.register_table(
            "link_keys",
            Arc::new(MemTable::try_new(keys_schema, vec![vec![keys]]).map_err(df_err)?),
        )?;
        // Candidates and random pairs, as (record, member, pattern), in a fixed order.
        let pairs = |batches: Vec<RecordBatch>| -> Result<Vec<(i64, i64, u32)>> {
            let mut v = Vec::new();
            for b in batches {
                let r = int_column(&b, "rec")?;
                let k = int_column(&b, "person_key")?;
                let p = int_column(&b, "pattern")?;
                for i in 0..b.num_rows() {
                    if let (Some(r), Some(k), Some(p)) = (r[i], k[i], p[i]) {
                        v.push((r, k, p as u32));
                    }
                }
            }
            v.sort_unstable();
            Ok(v)
        };
        // (A policy without `[linkage]` links nothing: no candidate is looked for.)
        let enabled = policy.linkage.is_some();
        let started = crate::StageTimer::start();
        let candidates = if enabled {
            pairs(self.query(CANDIDATES_SQL).await?)?
        } else {
            Vec::new()
        };
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, pairs = candidates.len(), "linkage candidates");
        let started = crate::StageTimer::start();
        let random = if enabled {
            pairs(self.query(RANDOM_SQL).await?)?
        } else {
            Vec::new()
        };
        let (ms, cpu_ms) = started.ms();
        tracing::debug!(ms, cpu_ms, pairs = random.len(), "linkage random pairs");
        let mut c_patterns: BTreeMap<u32, u64> = BTreeMap::new();
        for (_, _, p) in &candidates {
            *c_patterns.entry(*p).or_default() += 1;
        }
        let mut r_patterns: BTreeMap<u32, u64> = BTreeMap::new();
        for (_, _, p) in &random {
            *r_patterns.entry(*p).or_default() += 1;
        }
        let (model, estimated) = fit(&c_patterns, &r_patterns);
        // Decide each record.
        let mut by_rec: BTreeMap<i64, Vec<(i64, u32)>> = BTreeMap::new();
        for (r, k, p) in &candidates {
            by_rec.entry(*r).or_default().push((*k, *p));
        }
        let l = policy.linkage.unwrap_or_default();
        let schema = linkage_schema();
        let path = out.join("linkage.parquet");
        let mut w = ParquetOut::create(&path, schema.clone())?;
        let mut per_source: BTreeMap<String, LinkageCounts> = BTreeMap::new();
        let mut total = LinkageCounts::default();
        let mut histogram: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
        let mut linked_rows: Vec<(i64, usize, &'static str)> = Vec::new();
        let chunk = 8192;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let mut cols: Vec<StringBuilder> = (0..6).map(|_| StringBuilder::new()).collect();
            let (mut line, mut ncand) = (Int64Builder::new(), Int64Builder::new());
            let (mut cand_ids, mut agreed_b) = (StringBuilder::new(), StringBuilder::new());
            let (mut score, mut second, mut prob) = (
                Float64Builder::new(),
                Float64Builder::new(),
                Float64Builder::new(),
            );
            for (i, u) in unread.iter().enumerate().take(end).skip(start) {
                let cands = by_rec.get(&(i as i64)).map_or(&[][..], Vec::as_slice);
                let d = decide(cands, &model, l.min_weight_bits, l.margin_bits);
                let c = per_source.entry(u.source.clone()).or_default();
                for c in [c, &mut total] {
                    c.unreadable_id += 1;
                    match d.status {
                        "linked" => c.linked += 1,
                        "ambiguous" => c.ambiguous += 1,
                        _ => c.unlinked += 1,
                    }
                }
                if let Some((_, s)) = d.best {
                    *histogram
                        .entry(d.status.to_string())
                        .or_default()
                        .entry(bin(s))
                        .or_default() += 1;
                }
                for m in &d.members {
                    linked_rows.push((*m, i, d.status));
                }
                cols[0].append_value(&u.source);
                cols[1].append_value(&u.file);
                line.append_value(u.line);
                cols[2].append_value(&u.reason);
                cols[3].append_value(&u.raw);
                cols[4].append_value(d.status);
                let ids = |keys: &[i64]| {
                    keys.iter()
                        .filter_map(|k| ResidentId::unpack(*k))
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(";")
                };
                cols[5].append_option((d.status == "linked").then(|| ids(&d.members)));
                cand_ids.append_option((d.status == "ambiguous").then(|| ids(&d.members)));
                ncand.append_value(d.candidates as i64);
                score.append_option(d.best.map(|b| b.1));
                second.append_option(d.second);
                prob.append_option(d.probability);
                agreed_b.append_option(d.best.map(|b| agreed(b.0)));
            }
            let mut cols = cols.into_iter();
            let mut next = || -> ArrayRef { Arc::new(cols.next().expect("six").finish()) };
            let (source, file) = (next(), next());
            let (reason, delivered, status, person) = (next(), next(), next(), next());
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    source,
                    file,
                    Arc::new(line.finish()),
                    reason,
                    delivered,
                    status,
                    person,
                    Arc::new(cand_ids.finish()),
                    Arc::new(ncand.finish()),
                    Arc::new(score.finish()),
                    Arc::new(second.finish()),
                    Arc::new(prob.finish()),
                    Arc::new(agreed_b.finish()),
                ],
            )?;
            w.write(&batch)?;
        }
        w.finish()?;
        // The records about members, for the rules.
        linked_rows.sort_unstable();
        let rows = linked_rows
            .iter()
            .map(|(k, i, status)| {
                let u = &unread[*i];
                LinkedRow {
                    person_key: *k,
                    source: u.source.clone(),
                    file: u.file.clone(),
                    line: u.line,
                    reason: u.reason.clone(),
                    field: u.field.clone(),
                    shown: u.shown.clone(),
                    status,
                }
            })
            .collect();
        let per_field = |f: &dyn Fn(usize) -> f64| -> BTreeMap<String, f64> {
            FIELDS
                .iter()
                .enumerate()
                .map(|(i, name)| (name.to_string(), f(i)))
                .collect()
        };
        let report = LinkageReport {
            enabled,
            min_weight_bits: l.min_weight_bits,
            margin_bits: l.margin_bits,
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            model: ModelReport {
                weights: if !enabled {
                    "none: the policy has no [linkage] section, so nothing is linked"
                } else if estimated {
                    "estimated from this batch (u from random pairs, m and lambda by EM)"
                } else {
                    "fixed (too few candidate pairs to estimate from)"
                }
                .into(),
                candidate_pairs: candidates.len() as u64,
                random_pairs: random.len() as u64,
                lambda: model.lambda,
                m: per_field(&|i| model.m[i]),
                u: per_field(&|i| model.u[i]),
                weight_if_agrees: per_field(&|i| model.weight_of(i, true)),
                weight_if_disagrees: per_field(&|i| model.weight_of(i, false)),
                iterations: model.iterations,
                converged: model.converged,
            },
            total: total.clone(),
            sources: per_source,
            best_score_bits: histogram,
        };
        Ok(Linked { rows, report })
    }
}

/// A record the linkage attributed to a member: `linked` to them, or `ambiguous` between
/// them and others.
#[derive(Debug, Clone)]
pub(crate) struct LinkedRow {
    pub(crate) person_key: i64,
    pub(crate) source: String,
    pub(crate) file: String,
    pub(crate) line: i64,
    pub(crate) reason: String,
    pub(crate) field: String,
    pub(crate) shown: String,
    pub(crate) status: &'static str,
}

/// What the linkage stage gives the next: the records attributed, and its report.
pub(crate) struct Linked {
    pub(crate) rows: Vec<LinkedRow>,
    pub(crate) report: LinkageReport,
}

/// Registers `linked`: the records attributed to members, each with whether it was read
/// (`read`: a linked record whose other fields read, a probable record or a copy of one
/// read; probable.rs), which is what `unreadable_records` does not report.
pub(crate) fn linked_table(rows: &[LinkedRow], read: &[bool]) -> Result<Arc<MemTable>> {
    let schema = linked_schema();
    let text = |f: &dyn Fn(&LinkedRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.person_key),
            )),
            text(&|r| &r.source),
            text(&|r| &r.file),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.line))),
            text(&|r| &r.reason),
            text(&|r| &r.field),
            text(&|r| &r.shown),
            text(&|r| r.status),
            Arc::new(arrow::array::BooleanArray::from(read.to_vec())),
        ],
    )?;
    MemTable::try_new(schema, vec![vec![batch]])
        .map(Arc::new)
        .map_err(df_err)
}

/// Writes `linkage.json` into `out`.
pub(crate) fn write_report(report: &LinkageReport, out: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Inconsistent(format!("linkage.json: {e}")))?
        + "\n";
    let json_path = out.join("linkage.json");
    std::fs::write(&json_path, text).map_err(crate::error::io(&json_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed() -> Model {
        Model {
            lambda: FIXED_LAMBDA,
            m: FIXED_M.to_vec(),
            u: FIXED_U.to_vec(),
            iterations: 0,
            converged: true,
        }
    }

    const ALL: u32 = 0b11111;

    #[test]
    fn one_candidate_that_agrees_is_linked_and_none_is_unlinked() {
        let d = decide(&[(7, ALL)], &fixed(), 10.0, 3.0);
        assert_eq!((d.status, d.members.as_slice()), ("linked", &[7][..]));
        assert!(d.probability.unwrap() > 0.99);
        assert_eq!(
            agreed(d.best.unwrap().0),
            "name,one_slip,birth_date,birthplace,sex"
        );
        let d = decide(&[], &fixed(), 10.0, 3.0);
        assert_eq!((d.status, d.candidates), ("unlinked", 0));
    }

    #[test]
    fn two_candidates_alike_are_ambiguous_and_a_clear_lead_links() {
        // Namesakes born the same day in the same county: nothing tells them apart.
        let d = decide(&[(9, ALL), (3, ALL)], &fixed(), 10.0, 3.0);
        assert_eq!((d.status, d.members.as_slice()), ("ambiguous", &[3, 9][..]));
        // One agrees on the birth date, the other does not: the lead is many bits.
        let d = decide(&[(9, ALL), (3, ALL & !0b100)], &fixed(), 10.0, 3.0);
        assert_eq!((d.status, d.members.as_slice()), ("linked", &[9][..]));
        assert!(d.best.unwrap().1 - d.second.unwrap() >= 3.0);
    }

    #[test]
    fn a_weak_candidate_stays_unlinked() {
        // A name alone.
        let d = decide(&[(4, 0b1)], &fixed(), 10.0, 3.0);
        assert_eq!(d.status, "unlinked");
        assert!(d.best.unwrap().1 < 10.0);
        // A name and one slip, the ID too short to say more: the rest weighs nothing.
        let short = 0b11100 << linkage::MISSING_SHIFT;
        let d = decide(&[(4, 0b11 | short)], &fixed(), 10.0, 3.0);
        assert_eq!(d.status, "linked", "{d:?}");
    }

    #[test]
    fn the_delivered_id_gives_its_parts_where_its_digits_do() {
        assert_eq!(
            id_parts("440106197001010015"),
            (Some(440106), Some(19700101), Some(1))
        );
        assert_eq!(
            id_parts("440106700101002"),
            (Some(440106), Some(19700101), Some(0))
        );
        assert_eq!(id_parts("44010619700101001"), (None, None, None));
        assert_eq!(
            id_parts(" ４４０１０６１９７００１０１００１x"),
            (Some(440106), Some(19700101), Some(1))
        );
    }
}
