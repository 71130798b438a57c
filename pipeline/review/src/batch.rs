//! A published batch as the review side reads it: an index of every household (from
//! `outcomes.parquet`) with where its rows sit in the other outputs, and the rows of one
//! household read on demand.
//!
//! Every output of a batch is written sorted by household id, so a household's rows are one
//! contiguous range in each file. Opening a batch reads only the household-id columns to find
//! those ranges (a second or two at a million households); a report then reads just its
//! household's rows. Writing the reports of a whole batch streams each file once instead
//! ([`BatchView::for_each_household`]).
//!
//! The index also carries each finding's *evidence fingerprint*: a hash of the finding's rule,
//! its measured value and the content of its evidence records (source, person, record key,
//! amount, date; not the delivery's file and line, which change every night). A caseworker's
//! decision is stored against it, so it is carried to the next batch while the evidence is the
//! same and lapses when the evidence changes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use hedui_connectors::ingest::SourceReport;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use sha2::{Digest, Sha256};

use crate::{Error, Result};
use hedui_engine::output::{Read, int_column, reader, text_column};
use hedui_schemas::batch::Manifest;
use hedui_schemas::batch::Summary;
use hedui_schemas::policy::Policy;

/// One household of the batch, from `outcomes.parquet`, with its findings' fingerprints.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The household (application) id.
    pub household_id: String,
    /// 6-digit region code.
    pub region: i32,
    /// Programme code.
    pub programme: String,
    /// PASS, FLAG, REVIEW or UNVERIFIED.
    pub outcome: String,
    /// Sources whose absence left it unverified.
    pub unverified_sources: Vec<String>,
    /// Declared members.
    pub declared: i64,
    /// Counted members.
    pub counted: i64,
    /// `(rule, evidence fingerprint)` of each finding, in rule order.
    pub findings: Vec<(String, String)>,
    /// How far over its line the household is, in basis points of the threshold: the
    /// largest `measured / threshold` of its income and asset findings (12_500: a quarter
    /// over); none without one.
    pub excess_bp: Option<i64>,
    /// That finding's `measured - threshold`, in fen.
    pub excess_fen: Option<i64>,
    /// The application date (the earliest its rows give), from the staged applications.
    pub applied: Option<chrono::NaiveDate>,
}

impl Entry {
    /// Where the household stands in the review queue: FLAG before REVIEW (then the rest),
    /// then the furthest over its line first, then by id.
    pub fn queue_key(&self) -> (u8, i64, &str) {
        let rank = match self.outcome.as_str() {
            "FLAG" => 0,
            "REVIEW" => 1,
            "UNVERIFIED" => 2,
            _ => 3,
        };
        (rank, -self.excess_bp.unwrap_or(0), &self.household_id)
    }

    /// The excess as people read it: `+23.5% (+1,234.00 元)` over the line (`+<0.1%` for
    /// less than a thousandth).
    pub fn excess(&self) -> Option<String> {
        let (bp, fen) = (self.excess_bp?, self.excess_fen?);
        let over = bp - 10_000;
        let ratio = if over < 10 {
            "<0.1".to_string()
        } else {
            format!("{}.{}", over / 100, over % 100 / 10)
        };
        Some(format!(
            "+{ratio}% (+{} 元)",
            hedui_engine::sentence::yuan(fen)
        ))
    }
}

/// The rows of one output file that belong to each household, aligned with the index.
#[derive(Debug, Clone, Default)]
struct Ranges(Vec<(u32, u32)>);

/// A household's metrics row from `households.parquet`.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Counted members.
    pub counted: i64,
    /// Members excluded as dead.
    pub dead: i64,
    /// Members excluded as incarcerated.
    pub incarcerated: i64,
    /// Monthly dibao standard in fen.
    pub standard_fen: Option<i64>,
    /// First day of that standard.
    pub standard_from: Option<String>,
    /// The standard's legal reference.
    pub reference: Option<String>,
    /// Programme multiple in basis points.
    pub multiple_bp: Option<i64>,
    /// Months in the income window.
    pub months: i64,
    /// Counted income over the window, fen.
    pub income_fen: i64,
    /// Income limit over the window, fen.
    pub income_limit_fen: Option<i64>,
    /// Financial assets, fen.
    pub assets_fen: i64,
    /// Asset limit, fen.
    pub asset_limit_fen: Option<i64>,
}

/// A declared member from `members.parquet`.
#[derive(Debug, Clone)]
pub struct Member {
    /// The resident ID (full; masked before it is shown).
    pub person_id: Option<String>,
    /// The ID as the application wrote it.
    pub person_id_raw: Option<String>,
    /// Relation code.
    pub relation: Option<String>,
    /// Why the member does not count (`dead`, `incarcerated`), if so.
    pub excluded: Option<String>,
    /// Date of death.
    pub died_on: Option<String>,
    /// Held since.
    pub held_from: Option<String>,
}

/// A finding from `findings.parquet`.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Rule id.
    pub rule: String,
    /// FLAG or REVIEW.
    pub severity: String,
    /// The members concerned (full IDs, `;`-separated).
    pub members: String,
    /// Measured value.
    pub measured: i64,
    /// The threshold it was compared with.
    pub threshold: i64,
    /// `fen`, `records`, ...
    pub unit: String,
    /// First day of the standard used.
    pub standard_from: Option<String>,
    /// Policy reference.
    pub reference: Option<String>,
    /// Chinese sentence.
    pub sentence_zh: String,
    /// English sentence.
    pub sentence_en: String,
}

/// An evidence record from `evidence.parquet`.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The rule it supports.
    pub rule: String,
    /// The person it is about (full ID).
    pub person_id: Option<String>,
    /// Packed person key.
    pub person_key: Option<i64>,
    /// Source id.
    pub source: String,
    /// The record's key in its source.
    pub record_key: Option<String>,
    /// Amount in fen.
    pub amount_fen: Option<i64>,
    /// Date or month.
    pub date: Option<String>,
    /// Delivered file.
    pub file: Option<String>,
    /// Line (or row) in that file.
    pub line: Option<i64>,
}

/// Everything a report shows about one household.
#[derive(Debug, Clone)]
pub struct Household {
    /// Its position in the index (the opaque number the web app uses in URLs).
    pub n: usize,
    /// Its index entry.
    pub entry: Entry,
    /// Its metrics, if the engine wrote a row for it.
    pub metrics: Option<Metrics>,
    /// Declared members.
    pub members: Vec<Member>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// Evidence records.
    pub evidence: Vec<Evidence>,
}

/// A published batch opened for review.
#[derive(Debug)]
pub struct BatchView {
    /// The batch folder.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Summary,
    /// `manifest.json`.
    pub manifest: Manifest,
    /// Per source: the ingest report (status, counts, quarantine reasons).
    pub sources: BTreeMap<String, SourceReport>,
    /// The policy the batch ran with (its own copy).
    pub policy: Policy,
    /// `linkage.json`: the records whose subject's ID does not read, matched to the members
    /// (`None` for a batch made before the linkage).
    pub linkage: Option<hedui_engine::link::LinkageReport>,
    /// The records the linkage attributed (linked, or ambiguous), by the full ID of each
    /// member they may be about (`linkage.parquet`).
    pub linked: std::collections::HashMap<String, Vec<LinkedRecord>>,
    /// Every household, in household-id order.
    pub entries: Vec<Entry>,
    households: Ranges,
    members: Ranges,
    findings: Ranges,
    evidence: Ranges,
}

/// A record whose subject's ID does not read, attributed by the linkage to a member.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedRecord {
    /// Its source.
    pub source: String,
    /// Where it is in the delivery.
    pub file: String,
    /// Its line.
    pub line: i64,
    /// Why its ID does not read.
    pub reason: String,
    /// The ID as delivered (restricted: mask it to show it).
    pub delivered_id: String,
    /// `linked` or `ambiguous`.
    pub status: String,
    /// The best candidate's score, bits, and the next one's.
    pub score: Option<f64>,
    /// The runner-up's score.
    pub second_score: Option<f64>,
    /// The fields that agreed.
    pub agreed: String,
}

/// The linked and ambiguous records of `linkage.parquet`, by member (none when the batch has
/// no such file).
fn linked_records(path: &Path) -> Result<std::collections::HashMap<String, Vec<LinkedRecord>>> {
    let mut by: std::collections::HashMap<String, Vec<LinkedRecord>> =
        std::collections::HashMap::new();
    if !path.is_file() {
        return Ok(by);
    }
    hedui_engine::output::for_each_batch(path, |b| {
        let t = |c: &str| text_column(&b, c);
        let (source, file, reason, delivered, status, person, candidates, agreed) = (
            t("source")?,
            t("file")?,
            t("reason")?,
            t("delivered_id")?,
            t("status")?,
            t("person_id")?,
            t("candidate_ids")?,
            t("agreed")?,
        );
        let line = int_column(&b, "line")?;
        let float = |c: &str| -> Result<Vec<Option<f64>>> {
            let col = b
                .column_by_name(c)
                .ok_or_else(|| Error::Batch(format!("{}: no column {c}", path.display())))?;
            let col = arrow::compute::cast(col, &arrow::datatypes::DataType::Float64)
                .map_err(|e| Error::Batch(e.to_string()))?;
            let col = col
                .as_any()
                .downcast_ref::<arrow::array::Float64Array>()
                .ok_or_else(|| Error::Batch(format!("{}: {c} is not a number", path.display())))?;
            Ok(col.iter().collect())
        };
        let (score, second) = (float("score")?, float("second_score")?);
        for i in 0..b.num_rows() {
            let st = text(&status, i);
            if st != "linked" && st != "ambiguous" {
                continue;
            }
            let who = if st == "linked" {
                text(&person, i)
            } else {
                text(&candidates, i)
            };
            let r = LinkedRecord {
                source: text(&source, i),
                file: text(&file, i),
                line: line[i].unwrap_or_default(),
                reason: text(&reason, i),
                delivered_id: text(&delivered, i),
                status: st,
                score: score[i],
                second_score: second[i],
                agreed: text(&agreed, i),
            };
            for id in split_list(&who) {
                by.entry(id).or_default().push(r.clone());
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(by)
}

const OUTCOMES: &str = "outcomes.parquet";
/// The staged applications (their dates: a household's review is due from its application).
const APPLICATIONS: &str = "ingest/staged/applications.parquet";
const HOUSEHOLDS: &str = "households.parquet";
const MEMBERS: &str = "members.parquet";
const FINDINGS: &str = "findings.parquet";
const EVIDENCE: &str = "evidence.parquet";

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn text(v: &[Option<String>], i: usize) -> String {
    v[i].clone().unwrap_or_default()
}

impl BatchView {
    /// Opens the batch in `dir`: reads its summary, manifest, ingest report and policy, indexes
    /// its households and fingerprints every finding's evidence.
    pub fn open(dir: &Path) -> Result<Self> {
        let summary: Summary = hedui_schemas::batch::read_json(&dir.join("summary.json"))?;
        let manifest = Manifest::read(dir)?;
        let ingest: hedui_connectors::ingest::IngestReport =
            hedui_schemas::batch::read_json(&dir.join("ingest/ingest.json"))?;
        let policy = Policy::load(&dir.join(hedui_schemas::batch::POLICY_COPY))?;
        let linked = linked_records(&dir.join("linkage.parquet"))?;
        let linkage_path = dir.join("linkage.json");
        let linkage = if linkage_path.is_file() {
            Some(hedui_schemas::batch::read_json(&linkage_path)?)
        } else {
            None
        };

        let mut entries = Vec::new();
        hedui_engine::output::for_each_batch(&dir.join(OUTCOMES), |b| {
            let ids = text_column(&b, "household_id")?;
            let region = int_column(&b, "region")?;
            let programme = text_column(&b, "programme")?;
            let outcome = text_column(&b, "outcome")?;
            let unverified = text_column(&b, "unverified_sources")?;
            let declared = int_column(&b, "declared")?;
            let counted = int_column(&b, "counted")?;
            for i in 0..b.num_rows() {
                entries.push(Entry {
                    household_id: text(&ids, i),
                    region: region[i].unwrap_or_default() as i32,
                    programme: text(&programme, i),
                    outcome: text(&outcome, i),
                    unverified_sources: split_list(&text(&unverified, i)),
                    declared: declared[i].unwrap_or_default(),
                    counted: counted[i].unwrap_or_default(),
                    findings: Vec::new(),
                    excess_bp: None,
                    excess_fen: None,
                    applied: None,
                });
            }
            Ok::<_, Error>(())
        })?;
        for w in entries.windows(2) {
            if w[0].household_id >= w[1].household_id {
                return Err(Error::Batch(format!(
                    "{}: households not in id order at {}",
                    dir.join(OUTCOMES).display(),
                    w[1].household_id
                )));
            }
        }
        let applied = application_dates(&dir.join(APPLICATIONS))?;
        for e in &mut entries {
            e.applied = applied.get(&e.household_id).copied();
        }
        let households = ranges(&dir.join(HOUSEHOLDS), &entries)?;
        let members = ranges(&dir.join(MEMBERS), &entries)?;
        let findings = ranges(&dir.join(FINDINGS), &entries)?;
        let evidence = ranges(&dir.join(EVIDENCE), &entries)?;
        let mut view = BatchView {
            dir: dir.to_path_buf(),
            summary,
            manifest,
            sources: ingest.sources,
            policy,
            linkage,
            linked,
            entries,
            households,
            members,
            findings,
            evidence,
        };
        view.fingerprint()?;
        Ok(view)
    }

    /// The batch id.
    pub fn id(&self) -> &str {
        &self.summary.batch_id
    }

    /// The index position of a household id.
    pub fn find(&self, household_id: &str) -> Option<usize> {
        self.entries
            .binary_search_by(|e| e.household_id.as_str().cmp(household_id))
            .ok()
    }

    /// Reads everything about the household at index position `n`.
    pub fn household(&self, n: usize) -> Result<Household> {
        let entry = self
            .entries
            .get(n)
            .ok_or_else(|| Error::Batch(format!("batch {}: no household {n}", self.id())))?;
        let part = |file: &str, r: &Ranges| -> Result<ParquetRecordBatchReader> {
            let (first, len) = r.0[n];
            reader(
                &self.dir.join(file),
                Read {
                    columns: &[],
                    rows: Some((first as usize, len as usize)),
                },
            )
            .map_err(Error::from)
        };
        let mut household = Household {
            n,
            entry: entry.clone(),
            metrics: None,
            members: Vec::new(),
            findings: Vec::new(),
            evidence: Vec::new(),
        };
        for b in part(HOUSEHOLDS, &self.households)? {
            household.metrics = metrics_rows(&b?)?.into_iter().next();
        }
        for b in part(MEMBERS, &self.members)? {
            household.members.extend(member_rows(&b?)?);
        }
        for b in part(FINDINGS, &self.findings)? {
            household.findings.extend(finding_rows(&b?)?);
        }
        for b in part(EVIDENCE, &self.evidence)? {
            household.evidence.extend(evidence_rows(&b?)?);
        }
        Ok(household)
    }

    /// Calls `f` with every household `wanted` selects, in household-id order, streaming each
    /// output file once.
    pub fn for_each_household(
        &self,
        wanted: impl Fn(usize, &Entry) -> bool,
        mut f: impl FnMut(Household) -> Result<()>,
    ) -> Result<()> {
        let mut h = Cursor::open(&self.dir.join(HOUSEHOLDS), metrics_rows)?;
        let mut m = Cursor::open(&self.dir.join(MEMBERS), member_rows)?;
        let mut fi = Cursor::open(&self.dir.join(FINDINGS), finding_rows)?;
        let mut ev = Cursor::open(&self.dir.join(EVIDENCE), evidence_rows)?;
        for (n, entry) in self.entries.iter().enumerate() {
            if !wanted(n, entry) {
                continue;
            }
            f(Household {
                n,
                entry: entry.clone(),
                metrics: h.take(self.households.0[n])?.into_iter().next(),
                members: m.take(self.members.0[n])?,
                findings: fi.take(self.findings.0[n])?,
                evidence: ev.take(self.evidence.0[n])?,
            })?;
        }
        Ok(())
    }

    /// Computes every finding's evidence fingerprint (see the module docs).
    fn fingerprint(&mut self) -> Result<()> {
        let mut measured: Vec<Vec<(String, i64, i64)>> = vec![Vec::new(); self.entries.len()];
        let mut cur = Cursor::open(&self.dir.join(FINDINGS), |b| {
            let rule = text_column(b, "rule")?;
            let m = int_column(b, "measured")?;
            let t = int_column(b, "threshold")?;
            Ok((0..b.num_rows())
                .map(|i| {
                    (
                        text(&rule, i),
                        m[i].unwrap_or_default(),
                        t[i].unwrap_or_default(),
                    )
                })
                .collect())
        })?;
        for (n, slot) in measured.iter_mut().enumerate() {
            *slot = cur.take(self.findings.0[n])?;
        }
        let mut ev = Cursor::open(&self.dir.join(EVIDENCE), evidence_rows)?;
        for (n, entry) in self.entries.iter_mut().enumerate() {
            let rows = ev.take(self.evidence.0[n])?;
            let mut per_rule: BTreeMap<&str, Vec<[u8; 32]>> = BTreeMap::new();
            for e in &rows {
                per_rule
                    .entry(&e.rule)
                    .or_default()
                    .push(evidence_digest(e));
            }
            // The excess of the sum tests (money over a money line), in basis points,
            // truncated; a line of nothing (no counted member) gives none.
            let most = measured[n]
                .iter()
                .filter(|(rule, _, t)| {
                    *t > 0 && matches!(rule.as_str(), "income_over_line" | "assets_over_limit")
                })
                .map(|(_, m, t)| ((i128::from(*m) * 10_000 / i128::from(*t)) as i64, m - t))
                .max();
            entry.excess_bp = most.map(|(bp, _)| bp);
            entry.excess_fen = most.map(|(_, fen)| fen);
            entry.findings = measured[n]
                .iter()
                .map(|(rule, value, _)| {
                    let mut digests = per_rule.remove(rule.as_str()).unwrap_or_default();
                    digests.sort_unstable();
                    let mut h = Sha256::new();
                    h.update(rule.as_bytes());
                    h.update([0x1f]);
                    h.update(value.to_le_bytes());
                    for d in &digests {
                        h.update(d);
                    }
                    (rule.clone(), hex::encode(&h.finalize()[..16]))
                })
                .collect();
        }
        Ok(())
    }
}

/// Each household's application date (the earliest of its rows) in the staged applications;
/// none when the snapshot has none.
fn application_dates(path: &Path) -> Result<HashMap<String, chrono::NaiveDate>> {
    let mut out: HashMap<String, chrono::NaiveDate> = HashMap::new();
    if !path.is_file() {
        return Ok(out);
    }
    hedui_engine::output::for_each_batch_of(
        path,
        Read {
            columns: &["household_id", "application_date"],
            rows: None,
        },
        |b| {
            let ids = text_column(&b, "household_id")?;
            let dates = text_column(&b, "application_date")?;
            for (id, d) in ids.into_iter().zip(dates) {
                let (Some(id), Some(d)) = (id, d.and_then(|d| d.parse().ok())) else {
                    continue;
                };
                out.entry(id)
                    .and_modify(|e: &mut chrono::NaiveDate| *e = (*e).min(d))
                    .or_insert(d);
            }
            Ok::<_, Error>(())
        },
    )?;
    Ok(out)
}

/// The content of an evidence record, without where it was delivered.
fn evidence_digest(e: &Evidence) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        Some(e.source.clone()),
        e.person_key.map(|k| k.to_string()),
        e.record_key.clone(),
        e.amount_fen.map(|a| a.to_string()),
        e.date.clone(),
    ] {
        match part {
            Some(s) => {
                h.update([1]);
                h.update(s.as_bytes());
            }
            None => h.update([0]),
        }
        h.update([0x1f]);
    }
    h.finalize().into()
}

/// Where each household's rows sit in `path` (which must be sorted by household id).
fn ranges(path: &Path, entries: &[Entry]) -> Result<Ranges> {
    let mut out = vec![(0u32, 0u32); entries.len()];
    let mut at = 0usize; // index position of the household being matched
    let mut row = 0u32;
    let mut last: Option<String> = None;
    hedui_engine::output::for_each_batch_of(
        path,
        Read {
            columns: &["household_id"],
            rows: None,
        },
        |b| {
            for id in text_column(&b, "household_id")? {
                let id = id.unwrap_or_default();
                if last.as_deref() != Some(id.as_str()) {
                    if last.as_deref().is_some_and(|l| l > id.as_str()) {
                        return Err(Error::Batch(format!(
                            "{}: rows not in household order at row {row} ({id})",
                            path.display()
                        )));
                    }
                    while at < entries.len() && entries[at].household_id.as_str() < id.as_str() {
                        at += 1;
                    }
                    if at == entries.len() || entries[at].household_id != id {
                        return Err(Error::Batch(format!(
                            "{}: row {row} is about household {id}, which has no outcome",
                            path.display()
                        )));
                    }
                    out[at].0 = row;
                    last = Some(id);
                }
                out[at].1 += 1;
                row += 1;
            }
            Ok(())
        },
    )?;
    Ok(Ranges(out))
}

/// Reads rows of one file in order, converted to `T`, taking each household's range in turn.
struct Cursor<T> {
    reader: ParquetRecordBatchReader,
    convert: fn(&RecordBatch) -> Result<Vec<T>>,
    buf: VecDeque<T>,
    /// The file row the front of `buf` is.
    pos: u32,
}

impl<T> Cursor<T> {
    fn open(path: &Path, convert: fn(&RecordBatch) -> Result<Vec<T>>) -> Result<Self> {
        Ok(Cursor {
            reader: reader(path, Read::default())?,
            convert,
            buf: VecDeque::new(),
            pos: 0,
        })
    }

    /// The rows `(first, len)`; ranges must be asked for in increasing order.
    fn take(&mut self, (first, len): (u32, u32)) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(len as usize);
        if len == 0 {
            return Ok(out);
        }
        while self.pos < first + len {
            if self.buf.is_empty() {
                match self.reader.next() {
                    Some(b) => self.buf.extend((self.convert)(&b?)?),
                    None => {
                        return Err(Error::Batch(format!(
                            "output ends before row {}",
                            first + len
                        )));
                    }
                }
                continue;
            }
            let row = self.buf.pop_front().expect("not empty: checked above");
            if self.pos >= first {
                out.push(row);
            }
            self.pos += 1;
        }
        Ok(out)
    }
}

fn opt_int(b: &RecordBatch, col: &str) -> Result<Vec<Option<i64>>> {
    match b.column_by_name(col) {
        Some(_) => Ok(int_column(b, col)?),
        None => Ok(vec![None; b.num_rows()]),
    }
}

fn metrics_rows(b: &RecordBatch) -> Result<Vec<Metrics>> {
    let counted = int_column(b, "counted")?;
    let dead = int_column(b, "dead")?;
    let held = int_column(b, "incarcerated")?;
    let standard = int_column(b, "standard_fen")?;
    let from = text_column(b, "standard_from")?;
    let reference = text_column(b, "reference")?;
    let multiple = int_column(b, "multiple_bp")?;
    let months = int_column(b, "months")?;
    let income = int_column(b, "income_fen")?;
    let income_limit = int_column(b, "income_limit_fen")?;
    let assets = int_column(b, "assets_fen")?;
    let asset_limit = opt_int(b, "asset_limit_fen")?;
    Ok((0..b.num_rows())
        .map(|i| Metrics {
            counted: counted[i].unwrap_or_default(),
            dead: dead[i].unwrap_or_default(),
            incarcerated: held[i].unwrap_or_default(),
            standard_fen: standard[i],
            standard_from: from[i].clone(),
            reference: reference[i].clone(),
            multiple_bp: multiple[i],
            months: months[i].unwrap_or_default(),
            income_fen: income[i].unwrap_or_default(),
            income_limit_fen: income_limit[i],
            assets_fen: assets[i].unwrap_or_default(),
            asset_limit_fen: asset_limit[i],
        })
        .collect())
}

fn member_rows(b: &RecordBatch) -> Result<Vec<Member>> {
    let id = text_column(b, "person_id")?;
    let raw = text_column(b, "person_id_raw")?;
    let relation = text_column(b, "relation")?;
    let excluded = text_column(b, "excluded")?;
    let died = text_column(b, "died_on")?;
    let held = text_column(b, "held_from")?;
    Ok((0..b.num_rows())
        .map(|i| Member {
            person_id: id[i].clone(),
            person_id_raw: raw[i].clone(),
            relation: relation[i].clone(),
            excluded: excluded[i].clone(),
            died_on: died[i].clone(),
            held_from: held[i].clone(),
        })
        .collect())
}

fn finding_rows(b: &RecordBatch) -> Result<Vec<Finding>> {
    let rule = text_column(b, "rule")?;
    let severity = text_column(b, "severity")?;
    let members = text_column(b, "members")?;
    let measured = int_column(b, "measured")?;
    let threshold = int_column(b, "threshold")?;
    let unit = text_column(b, "unit")?;
    let from = text_column(b, "standard_from")?;
    let reference = text_column(b, "reference")?;
    let zh = text_column(b, "sentence_zh")?;
    let en = text_column(b, "sentence_en")?;
    Ok((0..b.num_rows())
        .map(|i| Finding {
            rule: text(&rule, i),
            severity: text(&severity, i),
            members: text(&members, i),
            measured: measured[i].unwrap_or_default(),
            threshold: threshold[i].unwrap_or_default(),
            unit: text(&unit, i),
            standard_from: from[i].clone(),
            reference: reference[i].clone(),
            sentence_zh: text(&zh, i),
            sentence_en: text(&en, i),
        })
        .collect())
}

fn evidence_rows(b: &RecordBatch) -> Result<Vec<Evidence>> {
    let rule = text_column(b, "rule")?;
    let person = text_column(b, "person_id")?;
    let key = int_column(b, "person_key")?;
    let source = text_column(b, "source")?;
    let record = text_column(b, "record_key")?;
    let amount = int_column(b, "amount_fen")?;
    let date = text_column(b, "date")?;
    let file = text_column(b, "file")?;
    let line = int_column(b, "line")?;
    Ok((0..b.num_rows())
        .map(|i| Evidence {
            rule: text(&rule, i),
            person_id: person[i].clone(),
            person_key: key[i],
            source: text(&source, i),
            record_key: record[i].clone(),
            amount_fen: amount[i],
            date: date[i].clone(),
            file: file[i].clone(),
            line: line[i],
        })
        .collect())
}

/// The published batches under `root`, newest first.
pub fn list(root: &Path) -> Result<Vec<String>> {
    let mut ids = hedui_schemas::batch::published(root)?;
    ids.reverse();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(amount: i64, line: i64) -> Evidence {
        Evidence {
            rule: "income_over_line".into(),
            person_id: Some("11010519491231002X".into()),
            person_key: Some(42),
            source: "pension".into(),
            record_key: Some("202605".into()),
            amount_fen: Some(amount),
            date: Some("202605".into()),
            file: Some("exports/pension.csv".into()),
            line: Some(line),
        }
    }

    #[test]
    fn an_evidence_digest_ignores_where_the_record_was_delivered_but_not_its_content() {
        assert_eq!(evidence_digest(&ev(100, 7)), evidence_digest(&ev(100, 900)));
        assert_ne!(evidence_digest(&ev(100, 7)), evidence_digest(&ev(101, 7)));
        let mut none = ev(100, 7);
        none.record_key = None;
        let mut empty = ev(100, 7);
        empty.record_key = Some(String::new());
        assert_ne!(evidence_digest(&none), evidence_digest(&empty));
    }
}
