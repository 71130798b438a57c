//! `hedui run`: one batch, from department deliveries to published outcomes.
//!
//! Ingests every configured source into the batch's own staged snapshot, runs the engine at
//! the batch date and writes, under `ROOT/<batch-id>/`: `ingest/` (staged snapshot,
//! quarantine, `ingest.json`), `outcomes.parquet` (restricted: household ids), `outcomes.csv`
//! (UTF-8 with a BOM, for spreadsheets) and `summary.json`. A batch folder is never reused: a
//! second batch for the same date gets the next sequence number. (Issue #5 makes publication
//! atomic and adds the manifest.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use serde::Serialize;

use crate::config::BatchPlan;
use crate::engine::Engine;
use crate::engine::outcome::HouseholdOutcome;
use crate::error::io;
use crate::ingest::{IngestReport, ingest_all};
use crate::policy::Policy;
use crate::{Error, Result};

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The batch id.
    pub batch_id: String,
    /// The batch date.
    pub as_of: NaiveDate,
    /// The policy's name.
    pub policy: String,
    /// Households by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Households by region, programme and outcome.
    pub by_region_programme: BTreeMap<String, BTreeMap<String, u64>>,
    /// Findings by rule.
    pub findings: BTreeMap<String, u64>,
    /// Rows quarantined per source.
    pub quarantined: BTreeMap<String, u64>,
    /// Sources that failed or were absent.
    pub failed_sources: Vec<String>,
}

/// A finished batch.
pub struct Batch {
    /// Its folder.
    pub dir: PathBuf,
    /// Its summary.
    pub summary: Summary,
    /// Outcomes per household.
    pub outcomes: BTreeMap<String, HouseholdOutcome>,
    /// The ingest report.
    pub ingest: IngestReport,
}

/// The next free batch folder for `as_of` under `root`.
fn batch_dir(root: &Path, as_of: NaiveDate) -> Result<(String, PathBuf)> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    for seq in 1..10_000 {
        let id = format!("{}-{seq:03}", as_of.format("%Y%m%d"));
        let dir = root.join(&id);
        if std::fs::create_dir(&dir).is_ok() {
            return Ok((id, dir));
        }
    }
    Err(Error::Invalid(format!(
        "{}: no free batch id for {as_of}",
        root.display()
    )))
}

/// Runs a batch.
pub async fn run(
    plan: &BatchPlan,
    policy: &Policy,
    as_of: NaiveDate,
    root: &Path,
) -> Result<Batch> {
    let (batch_id, dir) = batch_dir(root, as_of)?;
    let ingest_dir = dir.join("ingest");
    let ingest = ingest_all(plan, &ingest_dir, Arc::new(|_| {})).await?;
    let engine = Engine::open(&ingest_dir, 2).await?;
    let outcomes = engine.outcomes(policy, as_of).await?;
    write_outcomes(&dir, &outcomes)?;
    let mut summary = Summary {
        batch_id: batch_id.clone(),
        as_of,
        policy: policy.name.clone(),
        outcomes: BTreeMap::new(),
        by_region_programme: BTreeMap::new(),
        findings: BTreeMap::new(),
        quarantined: ingest
            .sources
            .iter()
            .map(|(k, v)| (k.clone(), v.quarantined))
            .collect(),
        failed_sources: ingest.failed.clone(),
    };
    for o in outcomes.values() {
        *summary.outcomes.entry(o.outcome.to_string()).or_default() += 1;
        *summary
            .by_region_programme
            .entry(format!("{} {}", o.region, o.programme))
            .or_default()
            .entry(o.outcome.to_string())
            .or_default() += 1;
        for r in &o.rules {
            *summary.findings.entry(r.to_string()).or_default() += 1;
        }
    }
    let mut text =
        serde_json::to_string_pretty(&summary).map_err(|e| Error::Invalid(e.to_string()))?;
    text.push('\n');
    let path = dir.join("summary.json");
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(Batch {
        dir,
        summary,
        outcomes,
        ingest,
    })
}

fn write_outcomes(dir: &Path, outcomes: &BTreeMap<String, HouseholdOutcome>) -> Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("household_id", DataType::Utf8, false),
        Field::new("region", DataType::Int64, false),
        Field::new("programme", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("rules", DataType::Utf8, false),
        Field::new("unverified_sources", DataType::Utf8, false),
    ]));
    let (mut h, mut r, mut p, mut o, mut ru, mut u) = (
        StringBuilder::new(),
        Int64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let csv_path = dir.join("outcomes.csv");
    let mut csv_bytes = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut csv_bytes);
        w.write_record([
            "household_id",
            "region",
            "programme",
            "outcome",
            "rules",
            "unverified_sources",
        ])
        .map_err(|e| Error::Invalid(e.to_string()))?;
        for (id, x) in outcomes {
            let rules = x.rules.join(";");
            let unv = x.unverified.join(";");
            h.append_value(id);
            r.append_value(x.region);
            p.append_value(&x.programme);
            o.append_value(x.outcome);
            ru.append_value(&rules);
            u.append_value(&unv);
            w.write_record([
                id.as_str(),
                &x.region.to_string(),
                &x.programme,
                x.outcome,
                &rules,
                &unv,
            ])
            .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        w.flush().map_err(io(&csv_path))?;
    }
    std::fs::write(&csv_path, csv_bytes).map_err(io(&csv_path))?;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(h.finish()),
        Arc::new(r.finish()),
        Arc::new(p.finish()),
        Arc::new(o.finish()),
        Arc::new(ru.finish()),
        Arc::new(u.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols)?;
    let path = dir.join("outcomes.parquet");
    let file = std::fs::File::create(&path).map_err(io(&path))?;
    let mut w =
        parquet::arrow::ArrowWriter::try_new(file, schema, None).map_err(|err| Error::Parquet {
            path: path.display().to_string(),
            err,
        })?;
    w.write(&batch).map_err(|err| Error::Parquet {
        path: path.display().to_string(),
        err,
    })?;
    w.close().map_err(|err| Error::Parquet {
        path: path.display().to_string(),
        err,
    })?;
    Ok(())
}

/// The terminal summary of a batch.
pub fn render(b: &Batch) -> String {
    let s = &b.summary;
    let mut out = format!(
        "batch {} at {} (policy {}): {}\n\noutcomes:\n",
        s.batch_id,
        s.as_of,
        s.policy,
        b.dir.display()
    );
    for (k, v) in &s.outcomes {
        out.push_str(&format!("  {k:<11} {v:>8}\n"));
    }
    out.push_str("\nby region and programme:\n");
    for (k, m) in &s.by_region_programme {
        let cells: Vec<String> = m.iter().map(|(o, n)| format!("{o} {n}")).collect();
        out.push_str(&format!("  {k:<20} {}\n", cells.join(", ")));
    }
    out.push_str("\nfindings by rule:\n");
    for (k, v) in &s.findings {
        out.push_str(&format!("  {k:<24} {v:>8}\n"));
    }
    out.push_str("\nquarantine by source:\n");
    for (k, v) in s.quarantined.iter().filter(|(_, v)| **v > 0) {
        out.push_str(&format!("  {k:<22} {v:>8}\n"));
    }
    if !s.failed_sources.is_empty() {
        out.push_str(&format!(
            "\nFAILED SOURCES (their households cannot PASS): {}\n",
            s.failed_sources.join(", ")
        ));
    }
    out
}

/// Compares a batch's outcomes and findings with a generated province's truth: what a
/// demo prints and what its exit code says.
pub fn check_against_truth(b: &Batch, truth_dir: &Path) -> Result<(String, bool)> {
    let read = |f: &str| -> Result<Vec<BTreeMap<String, String>>> {
        let path = truth_dir.join(f);
        let mut r = csv::Reader::from_path(&path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        let headers = r
            .headers()
            .map_err(|e| Error::Invalid(e.to_string()))?
            .clone();
        r.records()
            .map(|rec| {
                let rec = rec.map_err(|e| Error::Invalid(e.to_string()))?;
                Ok(headers
                    .iter()
                    .zip(rec.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect())
            })
            .collect()
    };
    let want_findings: std::collections::BTreeSet<(String, String)> = read("findings.csv")?
        .into_iter()
        .map(|f| (f["household_id"].clone(), f["rule"].clone()))
        .collect();
    let got_findings: std::collections::BTreeSet<(String, String)> = b
        .outcomes
        .iter()
        .flat_map(|(h, o)| o.rules.iter().map(move |r| (h.clone(), r.to_string())))
        .collect();
    let households = read("households.csv")?;
    let wrong_outcomes = households
        .iter()
        .filter(|h| {
            b.outcomes.get(&h["household_id"]).map(|o| o.outcome) != Some(h["outcome"].as_str())
        })
        .count();
    let missing = want_findings.difference(&got_findings).count();
    let unexpected = got_findings.difference(&want_findings).count();
    let found = want_findings.intersection(&got_findings).count();
    let ok = missing == 0 && unexpected == 0 && wrong_outcomes == 0;
    let text = format!(
        "check against the planted truth ({}):\n  findings expected {}, found {found}, missing {missing}, unexpected {unexpected}\n  households {}, outcome differs for {wrong_outcomes}\n  {}\n",
        truth_dir.display(),
        want_findings.len(),
        households.len(),
        if ok {
            "OK: the batch found exactly what was planted"
        } else {
            "MISMATCH"
        }
    );
    Ok((text, ok))
}
