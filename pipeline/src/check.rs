//! Compares a published batch with a generated province's planted truth: what `hedui demo`
//! prints and what its exit code says, and what `hedui check` runs at any size.
//!
//! Findings are matched by (household, rule) and then compared on severity, members,
//! measured value and threshold; evidence records are compared as whole rows (household,
//! rule, member, source, record key, amount, date); outcomes per household. Rows are
//! compared as 128-bit hashes in sorted vectors, so a million-household check stays small.

use std::collections::BTreeMap;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_128;

use crate::output::{for_each_batch, int_column, text_column};
use crate::review::report::mask_ids;
use crate::{Error, Result};

/// The result of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Planted findings.
    pub findings_expected: u64,
    /// Planted findings the batch found.
    pub findings_found: u64,
    /// Planted findings the batch missed.
    pub findings_missing: u64,
    /// Findings the batch made that were not planted.
    pub findings_unexpected: u64,
    /// Findings found whose severity, members, measured value or threshold differ.
    pub findings_differ: u64,
    /// Planted evidence records.
    pub evidence_expected: u64,
    /// Planted evidence records the batch lists.
    pub evidence_found: u64,
    /// Planted evidence records the batch does not list.
    pub evidence_missing: u64,
    /// Evidence records the batch lists that were not planted.
    pub evidence_unexpected: u64,
    /// Households in the truth.
    pub households: u64,
    /// Households in the batch.
    pub households_in_batch: u64,
    /// Households whose outcome differs.
    pub outcome_differs: u64,
    /// Households that PASS although a record about a counted member could not be read
    /// (read from the batch's own quarantine and members, independently of the engine's
    /// rule): must be none.
    pub pass_with_unreadable: u64,
    /// Records whose subject's ID does not read, in the truth (`truth/linkage.csv`; none
    /// when a province predates it).
    pub linkage_records: u64,
    /// Of them, the ones the truth says must be linked to one member.
    pub linkage_expected: u64,
    /// Records the batch linked (`linkage.parquet`).
    pub linkage_made: u64,
    /// Records the batch linked to the member the truth names.
    pub linkage_right: u64,
    /// Records whose status (linked, ambiguous, unlinked) differs from the truth's.
    pub linkage_status_differs: u64,
    /// Up to ten examples of what differs.
    pub examples: Vec<String>,
}

impl Check {
    /// True when the batch found exactly what was planted.
    pub fn ok(&self) -> bool {
        self.findings_missing == 0
            && self.findings_unexpected == 0
            && self.findings_differ == 0
            && self.evidence_missing == 0
            && self.evidence_unexpected == 0
            && self.outcome_differs == 0
            && self.households == self.households_in_batch
            && self.pass_with_unreadable == 0
            && self.precision() >= MIN_PRECISION
            && self.recall() >= MIN_RECALL
    }

    /// The linkage's precision: of the records it linked, the share linked to the right member
    /// (1 when it linked none).
    pub fn precision(&self) -> f64 {
        if self.linkage_made == 0 {
            1.0
        } else {
            self.linkage_right as f64 / self.linkage_made as f64
        }
    }

    /// The linkage's recall: of the records the truth says must be linked, the share linked to
    /// the right member (1 when none must be).
    pub fn recall(&self) -> f64 {
        if self.linkage_expected == 0 {
            1.0
        } else {
            self.linkage_right as f64 / self.linkage_expected as f64
        }
    }

    /// The check as text for the terminal.
    pub fn render(&self, truth_dir: &Path) -> String {
        let mut s = format!(
            "check against the planted truth ({}):\n  findings  expected {}, found {}, missing {}, unexpected {}, figures differ {}\n  evidence  expected {}, found {}, missing {}, unexpected {}\n  households {} (batch {}), outcome differs for {}\n  PASS with an unreadable record about a counted member: {}\n",
            truth_dir.display(),
            self.findings_expected,
            self.findings_found,
            self.findings_missing,
            self.findings_unexpected,
            self.findings_differ,
            self.evidence_expected,
            self.evidence_found,
            self.evidence_missing,
            self.evidence_unexpected,
            self.households,
            self.households_in_batch,
            self.outcome_differs,
            self.pass_with_unreadable
        );
        s.push_str(&format!(
            "  linkage   records with an unreadable ID {}: must link {}, linked {}, to the right member {}; precision {:.4}, recall {:.4} (at least {MIN_PRECISION} and {MIN_RECALL}); status differs for {}\n",
            self.linkage_records,
            self.linkage_expected,
            self.linkage_made,
            self.linkage_right,
            self.precision(),
            self.recall(),
            self.linkage_status_differs
        ));
        for e in &self.examples {
            s.push_str(&format!("  e.g. {}\n", mask_ids(e)));
        }
        s.push_str(if self.ok() {
            "  OK: the batch found exactly what was planted, with the right evidence\n"
        } else {
            "  MISMATCH\n"
        });
        s
    }
}

pub use hedui_generate::truth::EVIDENCE_KEY;

/// The least precision of the linkage a check accepts (issue #28).
pub const MIN_PRECISION: f64 = 0.99;
/// The least recall.
pub const MIN_RECALL: f64 = 0.95;

fn hash(fields: &[&str]) -> u128 {
    xxh3_128(fields.join("\u{1f}").as_bytes())
}

/// Rows of a truth CSV file, as header-keyed fields, one at a time.
fn each_csv(path: &Path, mut f: impl FnMut(&csv::StringRecord, &csv::StringRecord)) -> Result<()> {
    let mut r = csv::Reader::from_path(path).map_err(|e| Error::Input {
        path: path.display().to_string(),
        msg: e.to_string(),
    })?;
    let headers = r
        .headers()
        .map_err(|e| Error::Input {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?
        .clone();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::Input {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        f(&headers, &rec);
    }
    Ok(())
}

fn field<'a>(headers: &csv::StringRecord, rec: &'a csv::StringRecord, name: &str) -> &'a str {
    headers
        .iter()
        .position(|h| h == name)
        .and_then(|i| rec.get(i))
        .unwrap_or("")
}

fn sorted_members(s: &str) -> String {
    let mut v: Vec<&str> = s.split(';').filter(|m| !m.is_empty()).collect();
    v.sort_unstable();
    v.join(";")
}

/// Counts the values of `want` missing from `got` and the other way round (both sorted).
fn differences(want: &[u128], got: &[u128]) -> (u64, u64) {
    let (mut i, mut j, mut missing, mut unexpected) = (0, 0, 0, 0);
    while i < want.len() || j < got.len() {
        match (want.get(i), got.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing += 1;
                i += 1;
            }
            (Some(_), Some(_)) | (None, Some(_)) => {
                unexpected += 1;
                j += 1;
            }
            (Some(_), None) => {
                missing += 1;
                i += 1;
            }
            (None, None) => break,
        }
    }
    (missing, unexpected)
}

/// Checks the batch in `batch_dir` against the truth in `truth_dir`.
pub fn check_against_truth(batch_dir: &Path, truth_dir: &Path) -> Result<Check> {
    let mut c = Check::default();
    // Findings.
    let mut want: BTreeMap<(String, String), String> = BTreeMap::new();
    each_csv(&truth_dir.join("findings.csv"), |h, r| {
        want.insert(
            (
                field(h, r, "household_id").to_string(),
                field(h, r, "rule").to_string(),
            ),
            format!(
                "{} members {} measured {} threshold {}",
                field(h, r, "severity"),
                sorted_members(field(h, r, "members")),
                field(h, r, "measured"),
                field(h, r, "threshold")
            ),
        );
    })?;
    let mut got: BTreeMap<(String, String), String> = BTreeMap::new();
    for_each_batch(&batch_dir.join("findings.parquet"), |b| {
        let hh = text_column(&b, "household_id")?;
        let rule = text_column(&b, "rule")?;
        let sev = text_column(&b, "severity")?;
        let members = text_column(&b, "members")?;
        let measured = int_column(&b, "measured")?;
        let threshold = int_column(&b, "threshold")?;
        for i in 0..b.num_rows() {
            got.insert(
                (
                    hh[i].clone().unwrap_or_default(),
                    rule[i].clone().unwrap_or_default(),
                ),
                format!(
                    "{} members {} measured {} threshold {}",
                    sev[i].as_deref().unwrap_or(""),
                    sorted_members(members[i].as_deref().unwrap_or("")),
                    measured[i].unwrap_or_default(),
                    threshold[i].unwrap_or_default()
                ),
            );
        }
        Ok::<_, crate::Error>(())
    })?;
    c.findings_expected = want.len() as u64;
    for (k, w) in &want {
        match got.get(k) {
            None => {
                c.findings_missing += 1;
                if c.examples.len() < 10 {
                    c.examples.push(format!("missing finding {} {}", k.0, k.1));
                }
            }
            Some(g) => {
                c.findings_found += 1;
                if g != w {
                    c.findings_differ += 1;
                    if c.examples.len() < 10 {
                        c.examples
                            .push(format!("finding {} {}: planted {w}, found {g}", k.0, k.1));
                    }
                }
            }
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        c.findings_unexpected += 1;
        if c.examples.len() < 10 {
            c.examples
                .push(format!("unexpected finding {} {}", k.0, k.1));
        }
    }
    // Evidence.
    let cols = EVIDENCE_KEY;
    let mut want_ev: Vec<u128> = Vec::new();
    each_csv(&truth_dir.join("evidence.csv"), |h, r| {
        let v: Vec<&str> = cols.iter().map(|n| field(h, r, n)).collect();
        want_ev.push(hash(&v));
    })?;
    let mut got_ev: Vec<u128> = Vec::new();
    for_each_batch(&batch_dir.join("evidence.parquet"), |b| {
        let v: Vec<Vec<Option<String>>> = cols
            .iter()
            .map(|n| text_column(&b, n))
            .collect::<Result<_, crate::engine::Error>>()?;
        for i in 0..b.num_rows() {
            let row: Vec<&str> = v.iter().map(|c| c[i].as_deref().unwrap_or("")).collect();
            got_ev.push(hash(&row));
        }
        Ok::<_, crate::Error>(())
    })?;
    want_ev.sort_unstable();
    got_ev.sort_unstable();
    let (missing, unexpected) = differences(&want_ev, &got_ev);
    c.evidence_expected = want_ev.len() as u64;
    c.evidence_missing = missing;
    c.evidence_unexpected = unexpected;
    c.evidence_found = c.evidence_expected - missing;
    // Outcomes.
    let mut want_o: Vec<u128> = Vec::new();
    each_csv(&truth_dir.join("households.csv"), |h, r| {
        want_o.push(hash(&[field(h, r, "household_id"), field(h, r, "outcome")]));
    })?;
    let mut got_o: Vec<u128> = Vec::new();
    for_each_batch(&batch_dir.join("outcomes.parquet"), |b| {
        let hh = text_column(&b, "household_id")?;
        let o = text_column(&b, "outcome")?;
        for i in 0..b.num_rows() {
            got_o.push(hash(&[
                hh[i].as_deref().unwrap_or(""),
                o[i].as_deref().unwrap_or(""),
            ]));
        }
        Ok::<_, crate::Error>(())
    })?;
    c.households = want_o.len() as u64;
    c.households_in_batch = got_o.len() as u64;
    want_o.sort_unstable();
    got_o.sort_unstable();
    c.outcome_differs = differences(&want_o, &got_o).0;
    c.pass_with_unreadable = pass_with_unreadable(batch_dir, &mut c.examples)?;
    check_linkage(batch_dir, truth_dir, &mut c)?;
    Ok(c)
}

/// Compares the batch's linkage (`linkage.parquet`) with the truth's (`truth/linkage.csv`),
/// record by record: a record is the same when the source and line agree and the batch's file
/// path ends with the truth's (the batch names it as the config does, the truth from the
/// exports folder). Nothing to compare when either file is missing.
fn check_linkage(batch_dir: &Path, truth_dir: &Path, c: &mut Check) -> Result<()> {
    let (truth, batch) = (
        truth_dir.join("linkage.csv"),
        batch_dir.join("linkage.parquet"),
    );
    if !truth.is_file() || !batch.is_file() {
        return Ok(());
    }
    // (source, line) -> [(file, status, person)] as the batch decided.
    type Decided = Vec<(String, String, String)>;
    let mut got: std::collections::HashMap<(String, i64), Decided> =
        std::collections::HashMap::new();
    for_each_batch(&batch, |b| {
        let cols: Vec<Vec<Option<String>>> =
            ["source", "file", "status", "person_id", "candidate_ids"]
                .iter()
                .map(|n| text_column(&b, n))
                .collect::<Result<_, crate::engine::Error>>()?;
        let line = int_column(&b, "line")?;
        for i in 0..b.num_rows() {
            let get = |k: usize| cols[k][i].clone().unwrap_or_default();
            let status = get(2);
            if status == "linked" {
                c.linkage_made += 1;
            }
            let who = if status == "ambiguous" {
                get(4)
            } else {
                get(3)
            };
            got.entry((get(0), line[i].unwrap_or_default()))
                .or_default()
                .push((get(1), status, who));
        }
        Ok::<_, crate::Error>(())
    })?;
    each_csv(&truth, |h, r| {
        c.linkage_records += 1;
        let (source, file, status, who) = (
            field(h, r, "source"),
            field(h, r, "file"),
            field(h, r, "status"),
            field(h, r, "person_ids"),
        );
        if status == "linked" {
            c.linkage_expected += 1;
        }
        let line: i64 = field(h, r, "line").parse().unwrap_or_default();
        let found = got.get(&(source.to_string(), line)).and_then(|v| {
            v.iter()
                .find(|(f, _, _)| f == file || f.ends_with(&format!("/{file}")))
        });
        match found {
            Some((_, s, p)) if s == status && p == who => {
                if status == "linked" {
                    c.linkage_right += 1;
                }
            }
            other => {
                c.linkage_status_differs += 1;
                if c.examples.len() < 10 {
                    let (s, p) = other.map_or(("absent", ""), |(_, s, p)| (s.as_str(), p.as_str()));
                    c.examples.push(format!(
                        "linkage of {source} {file}:{line}: planted {status} {}, found {s} {}",
                        mask_ids(who),
                        mask_ids(p)
                    ));
                }
            }
        }
    })?;
    Ok(())
}

/// Households of a published batch that PASS although one of its quarantined records (not an
/// exact copy of one that was read), in a source a rule reads, names a counted member by a
/// valid resident ID. Read from the quarantine's delivered record, not from the engine's
/// `subject_key`, so that it checks the rule rather than repeating it. Zero for an engine
/// output folder without `ingest/`.
pub fn pass_with_unreadable(batch_dir: &Path, examples: &mut Vec<String>) -> Result<u64> {
    let dir = batch_dir.join("ingest/quarantine");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let read = hedui_schemas::rules::read_sources();
    // Packed key -> the first such record about the person (for the examples).
    let mut about: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        for_each_batch(&path, |b| {
            let source = text_column(&b, "source")?;
            let reason = text_column(&b, "reason")?;
            let record = text_column(&b, "record")?;
            let file = text_column(&b, "file")?;
            let line = int_column(&b, "line")?;
            for i in 0..b.num_rows() {
                let (Some(src), Some(reason), Some(record)) = (&source[i], &reason[i], &record[i])
                else {
                    continue;
                };
                let Some(def) = hedui_schemas::source(src) else {
                    continue;
                };
                // Exact copies do not count; a record that could not be split into its fields
                // (its `record` is the cells as delivered, not the catalog's) names no one.
                if matches!(
                    reason.as_str(),
                    "duplicate_row" | "wrong_column_count" | "malformed" | "unterminated_quote"
                ) || !read.contains(&def.id)
                {
                    continue;
                }
                let Ok(fields) = serde_json::from_str::<Vec<Option<String>>>(record) else {
                    continue;
                };
                if fields.len() != def.fields.len() {
                    continue;
                }
                let subject = def
                    .fields
                    .iter()
                    .position(|f| f.role == hedui_schemas::Role::Subject);
                if let Some(Some(raw)) = subject.and_then(|s| fields.get(s))
                    && let Ok(id) = hedui_schemas::ResidentId::parse(raw)
                {
                    about.entry(id.pack()).or_insert_with(|| {
                        format!(
                            "{}:{} ({reason})",
                            file[i].as_deref().unwrap_or("?"),
                            line[i].unwrap_or_default()
                        )
                    });
                }
            }
            Ok::<_, Error>(())
        })?;
    }
    let mut households: std::collections::HashMap<String, String> =
        std::collections::HashMap::new();
    for_each_batch(&batch_dir.join("members.parquet"), |b| {
        let hh = text_column(&b, "household_id")?;
        let key = int_column(&b, "person_key")?;
        let excluded = text_column(&b, "excluded")?;
        for i in 0..b.num_rows() {
            if excluded[i].is_none()
                && let Some(record) = key[i].and_then(|k| about.get(&k))
                && let Some(h) = &hh[i]
            {
                households
                    .entry(h.clone())
                    .or_insert_with(|| record.clone());
            }
        }
        Ok::<_, Error>(())
    })?;
    let mut n = 0;
    for_each_batch(&batch_dir.join("outcomes.parquet"), |b| {
        let hh = text_column(&b, "household_id")?;
        let o = text_column(&b, "outcome")?;
        for i in 0..b.num_rows() {
            if o[i].as_deref() == Some("PASS")
                && let Some(h) = &hh[i]
                && let Some(record) = households.get(h)
            {
                n += 1;
                if examples.len() < 10 {
                    examples.push(format!(
                        "{h} PASSes although {record}, about a counted member, could not be read"
                    ));
                }
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::differences;

    #[test]
    fn examples_reach_the_terminal_with_ids_masked() {
        assert_eq!(
            super::mask_ids(
                "finding H1 x: members 11010519491231002X;110105194912310038 measured 2"
            ),
            "finding H1 x: members 110105********002X;110105********0038 measured 2"
        );
    }

    #[test]
    fn differences_count_both_ways() {
        assert_eq!(differences(&[1, 2, 3], &[1, 2, 3]), (0, 0));
        assert_eq!(differences(&[1, 2, 3], &[2, 4]), (2, 1));
        assert_eq!(differences(&[], &[5]), (0, 1));
        assert_eq!(differences(&[1, 1], &[1]), (1, 0));
    }
}
