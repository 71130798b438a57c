//! Findings and outcomes: each batch of households decided (its findings measured by their
//! rules, the outcome by `outcome::decide`) and rendered as Parquet columns and CSV text, then
//! written in household order.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::finding::{Finding, Verified};
use super::keys::{id_masked, push_id};
use super::outcome::{Rule, decide};
use crate::output::{CsvOut, ParquetOut, bool_column, csv_cell, int_column, utf8_column};
use crate::{Error, Result};
use hedui_schemas::policy::Policy;

use super::rules::{self, Figures, Gathered as Acc, Measured};

pub(super) fn findings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("region", DataType::Int64, false),
        Field::new("programme", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("members", DataType::Utf8, false),
        Field::new("measured", DataType::Int64, false),
        Field::new("threshold", DataType::Int64, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("standard_from", DataType::Utf8, true),
        Field::new("reference", DataType::Utf8, true),
        Field::new("evidence_rows", DataType::Int64, false),
        Field::new("sentence_zh", DataType::Utf8, false),
        Field::new("sentence_en", DataType::Utf8, false),
    ]))
}

pub(super) fn outcomes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("region", DataType::Int64, false),
        Field::new("programme", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("rules", DataType::Utf8, false),
        Field::new("unverified_sources", DataType::Utf8, false),
        Field::new("declared", DataType::Int64, false),
        Field::new("counted", DataType::Int64, false),
    ]))
}

pub(super) const FINDINGS_CSV: &[&str] = &[
    "household_id",
    "region",
    "programme",
    "rule",
    "severity",
    "members",
    "measured",
    "threshold",
    "unit",
    "standard_from",
    "reference",
    "evidence_rows",
    "sentence_zh",
    "sentence_en",
];

pub(super) const OUTCOMES_CSV: &[&str] = &[
    "household_id",
    "region",
    "programme",
    "outcome",
    "rules",
    "unverified_sources",
    "declared",
    "counted",
];

/// Households counted by outcome, and by region, programme and outcome, without a key
/// allocated per household (a region has a few programmes: they are looked up in a list).
#[derive(Default)]
pub(super) struct Tally {
    pub(super) by_region: std::collections::HashMap<i64, Vec<(String, OutcomeCounts)>>,
}

/// Households by outcome.
pub(super) type OutcomeCounts = BTreeMap<&'static str, u64>;

impl Tally {
    /// The counts of one region and programme.
    pub(super) fn counts(&mut self, region: i64, programme: &str) -> &mut OutcomeCounts {
        let programmes = self.by_region.entry(region).or_default();
        let at = match programmes.iter().position(|(p, _)| p == programme) {
            Some(at) => at,
            None => {
                programmes.push((programme.to_string(), BTreeMap::new()));
                programmes.len() - 1
            }
        };
        &mut programmes[at].1
    }

    pub(super) fn add(&mut self, region: i64, programme: &str, outcome: &'static str) {
        *self.counts(region, programme).entry(outcome).or_default() += 1;
    }

    /// Adds another tally's counts.
    pub(super) fn merge(&mut self, other: Tally) {
        for (region, programmes) in other.by_region {
            for (programme, outcomes) in programmes {
                let mine = self.counts(region, &programme);
                for (outcome, n) in outcomes {
                    *mine.entry(outcome).or_default() += n;
                }
            }
        }
    }

    /// Adds the counts to `v` (its maps are ordered, so the order of adding does not show).
    pub(super) fn into(self, v: &mut Verified) {
        for (region, programmes) in self.by_region {
            for (programme, outcomes) in programmes {
                let by = v
                    .by_region_programme
                    .entry(format!("{region} {programme}"))
                    .or_default();
                for (outcome, n) in outcomes {
                    *by.entry(outcome.into()).or_default() += n;
                    *v.outcomes.entry(outcome.into()).or_default() += n;
                }
            }
        }
    }
}

/// What [`decide_batch`] reads: the same for every batch.
pub(super) struct Decide<'a> {
    pub(super) policy: &'a Policy,
    pub(super) counted_of: &'a BTreeMap<i64, Vec<i64>>,
    /// Per household with probable records in the sums' sources: what they add to its
    /// income and assets (probable.rs).
    pub(super) shares: &'a std::collections::HashMap<i64, (i64, i64)>,
    pub(super) no_counted_member: usize,
    pub(super) unverified: &'a [&'a str],
    pub(super) unverified_policy: &'a [&'a str],
    pub(super) unverified_text: String,
    pub(super) unverified_policy_text: String,
}

/// One batch of households decided: its rows, counts, and any findings left over (for no
/// household of the batch).
#[derive(Default)]
pub(super) struct Decided {
    pub(super) rows: OutcomeRows,
    pub(super) tally: Tally,
    pub(super) findings: BTreeMap<&'static str, u64>,
    pub(super) households: u64,
    pub(super) left: BTreeMap<(i64, usize), Acc>,
}

/// Findings gathered from the evidence, by household (`hh`) and rule.
pub(super) type Findings = BTreeMap<(i64, usize), Acc>;

/// Batches of households decided at once, one per task.
pub(super) const DECIDE_WINDOW: usize = 8;

/// Decides the households of one batch of the metrics file, with `acc` holding their
/// findings (taken as they are used), into `d`.
pub(super) fn decide_batch(
    b: &RecordBatch,
    acc: &mut BTreeMap<(i64, usize), Acc>,
    c: &Decide<'_>,
    d: &mut Decided,
) -> Result<()> {
    let ids = utf8_column(b, "household_id")?;
    let ids = ids.as_string::<i32>();
    let hhs = int_column(b, "hh")?;
    let regions = int_column(b, "region")?;
    let programmes = utf8_column(b, "programme")?;
    let programmes = programmes.as_string::<i32>();
    let declared = int_column(b, "declared")?;
    let counted = int_column(b, "counted")?;
    let standard = int_column(b, "standard_fen")?;
    let from = utf8_column(b, "standard_from")?;
    let from = from.as_string::<i32>();
    let reference = utf8_column(b, "reference")?;
    let reference = reference.as_string::<i32>();
    let multiple = int_column(b, "multiple_bp")?;
    let months = int_column(b, "months")?;
    let income = int_column(b, "income_fen")?;
    let income_limit = int_column(b, "income_limit_fen")?;
    let over_line = bool_column(b, "over_line")?;
    let assets = int_column(b, "assets_fen")?;
    let asset_limit = int_column(b, "asset_limit_fen")?;
    for i in 0..b.num_rows() {
        let (Some(h), Some(hh)) = (ids.is_valid(i).then(|| ids.value(i)), hhs[i]) else {
            continue;
        };
        let region = regions[i].unwrap_or_default();
        let programme = if programmes.is_valid(i) {
            programmes.value(i)
        } else {
            ""
        };
        let counted = counted[i].unwrap_or_default();
        let mut found: Vec<(usize, Acc)> = Vec::new();
        while let Some(entry) = acc.first_entry() {
            if entry.key().0 != hh {
                break;
            }
            let ((_, r), a) = entry.remove_entry();
            found.push((r, a));
        }
        if counted == 0 {
            found.push((c.no_counted_member, Acc::default()));
            found.sort_by_key(|f| f.0);
        }
        let mut findings = Vec::with_capacity(found.len());
        for (r, a) in found {
            let rule = Rule::ALL[r];
            let figures = Figures {
                income_fen: income[i].unwrap_or_default(),
                income_limit_fen: income_limit[i].unwrap_or_default(),
                assets_fen: assets[i].unwrap_or_default(),
                asset_limit_fen: asset_limit[i].unwrap_or_default(),
                counted_members: c.counted_of.get(&hh).map_or(&[], Vec::as_slice),
                policy: c.policy,
            };
            let Measured {
                measured,
                threshold,
                members,
            } = (rules::def(rule).measure)(&a, &figures);
            let (probable, depends) = probable_part(rule, &a, c.shares.get(&hh), &figures);
            let severity = match c.policy.severity(rule) {
                hedui_schemas::Severity::Flag if depends => hedui_schemas::Severity::Review,
                s => s,
            };
            findings.push(Finding {
                household_id: h.to_string(),
                rule,
                severity,
                probable,
                region,
                programme: programme.to_string(),
                members,
                records: a.records.into_iter().collect(),
                evidence_rows: a.rows,
                measured,
                threshold,
                counted,
                months: months[i].unwrap_or_default(),
                standard_fen: standard[i],
                multiple_bp: multiple[i],
                standard_from: from
                    .is_valid(i)
                    .then(|| from.value(i).parse().ok())
                    .flatten(),
                reference: reference
                    .is_valid(i)
                    .then(|| reference.value(i).to_string()),
            });
        }
        let no_policy = standard[i].is_none() || multiple[i].is_none() || over_line[i].is_none();
        let unv: &[&str] = if no_policy {
            c.unverified_policy
        } else {
            c.unverified
        };
        let outcome = decide(findings.iter().map(|f| f.severity), unv).as_str();
        d.tally.add(region, programme, outcome);
        for f in &findings {
            *d.findings.entry(f.rule.id()).or_default() += 1;
            d.rows.finding(f, c.policy)?;
        }
        d.households += 1;
        d.rows.outcome(
            h,
            region,
            programme,
            outcome,
            &findings,
            if no_policy {
                &c.unverified_policy_text
            } else {
                &c.unverified_text
            },
            declared[i].unwrap_or_default(),
            counted,
        )?;
    }
    Ok(())
}

/// What probable records (probable.rs) are to a finding: the note its sentence gives, and
/// whether the finding depends on them (then it is REVIEW, never FLAG). A sum depends on them
/// when it is over its line with them and not without them, or the other way round
/// (`shares`: what they add to the household's income and assets); a rule that one record makes
/// fire, when every record behind it is probable; the property rule, which counts records
/// against a number, when any is.
fn probable_part(
    rule: Rule,
    a: &Acc,
    shares: Option<&(i64, i64)>,
    f: &Figures<'_>,
) -> (Option<super::finding::ProbableNote>, bool) {
    use super::finding::ProbableNote;
    let sum = |with: i64, without: i64, limit: i64| {
        if a.probable_rows == 0 && with == without {
            return (None, false);
        }
        let note = ProbableNote {
            rows: a.probable_rows,
            certain: Some(without),
        };
        (Some(note), (with > limit) != (without > limit))
    };
    let note = (a.probable_rows > 0).then_some(ProbableNote {
        rows: a.probable_rows,
        certain: None,
    });
    match rule {
        Rule::IncomeOverLine => match shares {
            Some((income, _)) => sum(f.income_fen, f.income_fen - income, f.income_limit_fen),
            None => (None, false),
        },
        Rule::AssetsOverLimit => match shares {
            Some((_, assets)) => sum(f.assets_fen, f.assets_fen - assets, f.asset_limit_fen),
            None => (None, false),
        },
        Rule::PropertyExcess => (note, a.probable_rows > 0),
        Rule::VehicleOwned
        | Rule::VesselOwned
        | Rule::BusinessRegistered
        | Rule::SoleTraderReview
        | Rule::PublicPayroll
        | Rule::DuplicateBenefit
        | Rule::MemberInTwoHouseholds
        | Rule::DeclaredMemberDead
        | Rule::UndeclaredSpouse
        | Rule::UndeclaredMinorChild => (note, a.rows > 0 && a.probable_rows == a.rows),
        Rule::NoCountedMember | Rule::UnreadableRecords => (None, false),
    }
}

/// Writes findings and outcomes in household order, Parquet and CSV side by side, from the
/// rows each batch of households rendered ([`OutcomeRows`]).
pub(super) struct OutcomeWriter {
    pub(super) findings: ParquetOut,
    pub(super) findings_csv: CsvOut,
    pub(super) outcomes: ParquetOut,
    pub(super) outcomes_csv: CsvOut,
}

/// One batch of households' findings and outcomes, rendered: Parquet rows gathered in
/// columns, CSV records as text.
pub(super) struct OutcomeRows {
    pub(super) f_text: Vec<StringBuilder>,
    pub(super) f_num: Vec<Vec<i64>>,
    pub(super) o_text: Vec<StringBuilder>,
    pub(super) o_num: Vec<Vec<i64>>,
    pub(super) findings_csv: csv::Writer<Vec<u8>>,
    pub(super) outcomes_csv: csv::Writer<Vec<u8>>,
}

impl Default for OutcomeRows {
    fn default() -> Self {
        OutcomeRows {
            f_text: (0..10).map(|_| StringBuilder::new()).collect(),
            f_num: vec![Vec::new(); 4],
            o_text: (0..5).map(|_| StringBuilder::new()).collect(),
            o_num: vec![Vec::new(); 3],
            findings_csv: CsvOut::records(),
            outcomes_csv: CsvOut::records(),
        }
    }
}

/// One batch of households' rows as they are written: Parquet columns and CSV text, made
/// where the batch was decided (copying the text into arrays is work of its own).
pub(super) struct Rendered {
    pub(super) findings: Option<RecordBatch>,
    pub(super) outcomes: Option<RecordBatch>,
    pub(super) findings_csv: Vec<u8>,
    pub(super) outcomes_csv: Vec<u8>,
}

impl OutcomeRows {
    pub(super) fn render(mut self) -> Result<Rendered> {
        Ok(Rendered {
            findings: self.findings_batch()?,
            outcomes: self.outcomes_batch()?,
            findings_csv: csv_text(self.findings_csv)?,
            outcomes_csv: csv_text(self.outcomes_csv)?,
        })
    }
}

pub(super) fn text_array(v: &mut StringBuilder) -> ArrayRef {
    Arc::new(v.finish())
}

pub(super) fn int_array(v: &mut Vec<i64>) -> ArrayRef {
    Arc::new(arrow::array::Int64Array::from(std::mem::take(v)))
}

impl OutcomeWriter {
    pub(super) fn create(out: &Path) -> Result<Self> {
        Ok(OutcomeWriter {
            findings: ParquetOut::create(&out.join("findings.parquet"), findings_schema())?,
            findings_csv: CsvOut::create(&out.join("findings.csv"), FINDINGS_CSV)?,
            outcomes: ParquetOut::create(&out.join("outcomes.parquet"), outcomes_schema())?,
            outcomes_csv: CsvOut::create(&out.join("outcomes.csv"), OUTCOMES_CSV)?,
        })
    }

    /// Appends one batch of households' rows.
    pub(super) fn write(&mut self, rows: Rendered) -> Result<()> {
        if let Some(b) = &rows.findings {
            self.findings.write(b)?;
        }
        if let Some(b) = &rows.outcomes {
            self.outcomes.write(b)?;
        }
        self.findings_csv.write_records(&rows.findings_csv)?;
        self.outcomes_csv.write_records(&rows.outcomes_csv)
    }

    pub(super) fn finish(self) -> Result<()> {
        self.findings.finish()?;
        self.findings_csv.finish()?;
        self.outcomes.finish()?;
        self.outcomes_csv.finish()
    }
}

/// The records a CSV writer over memory holds.
pub(super) fn csv_text(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    w.into_inner().map_err(|e| Error::Io {
        path: "rows in memory".into(),
        source: e.into_error(),
    })
}

impl OutcomeRows {
    pub(super) fn finding(&mut self, f: &Finding, policy: &Policy) -> Result<()> {
        let (zh, en) = super::sentence::sentences(f, policy);
        // The members' IDs, masked for the CSV and in full for the Parquet, `;`-separated.
        let (mut masked, mut full) = (String::new(), String::new());
        for (i, k) in f.members.iter().enumerate() {
            if i > 0 {
                masked.push(';');
                full.push(';');
            }
            masked.push_str(&id_masked(*k));
            push_id(&mut full, *k);
        }
        let from = f.standard_from.map(|d| d.to_string());
        let mut n: [itoa::Buffer; 4] = Default::default();
        let [n1, n2, n3, n4] = &mut n;
        // Text from the deliveries and the policy goes through `csv_cell` (no formulas in a
        // spreadsheet); the numbers are hedui's own.
        self.findings_csv
            .write_record([
                &*csv_cell(&f.household_id),
                n1.format(f.region),
                &csv_cell(&f.programme),
                f.rule.id(),
                f.severity.as_str(),
                &csv_cell(&masked),
                n2.format(f.measured),
                n3.format(f.threshold),
                f.unit(),
                from.as_deref().unwrap_or(""),
                &csv_cell(f.reference.as_deref().unwrap_or("")),
                n4.format(f.evidence_rows),
                &csv_cell(&zh),
                &csv_cell(&en),
            ])
            .map_err(|source| Error::Csv {
                path: "rows".into(),
                source,
            })?;
        // Text columns in schema order: household_id, programme, rule, severity, members,
        // unit, standard_from, reference, sentence_zh, sentence_en.
        for (col, v) in [
            Some(f.household_id.as_str()),
            Some(&f.programme),
            Some(f.rule.id()),
            Some(f.severity.as_str()),
            Some(&full),
            Some(f.unit()),
            from.as_deref(),
            f.reference.as_deref(),
            Some(&zh),
            Some(&en),
        ]
        .into_iter()
        .enumerate()
        {
            self.f_text[col].append_option(v);
        }
        for (col, v) in [f.region, f.measured, f.threshold, f.evidence_rows as i64]
            .into_iter()
            .enumerate()
        {
            self.f_num[col].push(v);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn outcome(
        &mut self,
        h: &str,
        region: i64,
        programme: &str,
        outcome: &'static str,
        findings: &[Finding],
        unv: &str,
        declared: i64,
        counted: i64,
    ) -> Result<()> {
        let rules: Vec<&str> = findings.iter().map(|f| f.rule.id()).collect();
        let rules = rules.join(";");
        let (mut n1, mut n2, mut n3) = (
            itoa::Buffer::new(),
            itoa::Buffer::new(),
            itoa::Buffer::new(),
        );
        self.outcomes_csv
            .write_record([
                &*csv_cell(h),
                n1.format(region),
                &csv_cell(programme),
                outcome,
                &rules,
                unv,
                n2.format(declared),
                n3.format(counted),
            ])
            .map_err(|source| Error::Csv {
                path: "rows".into(),
                source,
            })?;
        for (col, v) in [h, programme, outcome, &rules, unv].into_iter().enumerate() {
            self.o_text[col].append_value(v);
        }
        for (col, v) in [region, declared, counted].into_iter().enumerate() {
            self.o_num[col].push(v);
        }
        Ok(())
    }

    pub(super) fn findings_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.f_num[0].is_empty() {
            return Ok(None);
        }
        let t = &mut self.f_text;
        let n = &mut self.f_num;
        let cols: Vec<ArrayRef> = vec![
            text_array(&mut t[0]),
            int_array(&mut n[0]),
            text_array(&mut t[1]),
            text_array(&mut t[2]),
            text_array(&mut t[3]),
            text_array(&mut t[4]),
            int_array(&mut n[1]),
            int_array(&mut n[2]),
            text_array(&mut t[5]),
            text_array(&mut t[6]),
            text_array(&mut t[7]),
            int_array(&mut n[3]),
            text_array(&mut t[8]),
            text_array(&mut t[9]),
        ];
        Ok(Some(RecordBatch::try_new(findings_schema(), cols)?))
    }

    pub(super) fn outcomes_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.o_num[0].is_empty() {
            return Ok(None);
        }
        let t = &mut self.o_text;
        let n = &mut self.o_num;
        let cols: Vec<ArrayRef> = vec![
            text_array(&mut t[0]),
            int_array(&mut n[0]),
            text_array(&mut t[1]),
            text_array(&mut t[2]),
            text_array(&mut t[3]),
            text_array(&mut t[4]),
            int_array(&mut n[1]),
            int_array(&mut n[2]),
        ];
        Ok(Some(RecordBatch::try_new(outcomes_schema(), cols)?))
    }
}
