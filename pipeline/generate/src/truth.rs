//! The planted truth, written as CSV a person can read and a test can compare against.
//!
//! - `households.csv`: per household the outcome, counted members, net income and assets
//!   with their limits, and the scenarios planted (traps included);
//! - `findings.csv`: per household and rule, the finding a batch must produce;
//! - `evidence.csv`: the records behind each finding;
//! - `dirty_rows.csv`: every dirty row (source, file, line, kind, field, expected reason, and
//!   the real ID of the row's subject: what a normalised ID must come out as);
//! - `quarantine.json`: per source, rows read, accepted and quarantined by reason.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::model::TruthHousehold;
use crate::error::io;
use crate::{Error, Result};

/// The columns an evidence record is compared on, in the truth's `evidence.csv` and the
/// batch's `evidence.parquet` alike.
pub const EVIDENCE_KEY: &[&str] = &[
    "household_id",
    "rule",
    "person_id",
    "source",
    "record_key",
    "amount_fen",
    "date",
];

/// Streaming writers of the per-household truth files.
pub struct TruthWriter {
    households: csv::Writer<BufWriter<File>>,
    findings: csv::Writer<BufWriter<File>>,
    evidence: csv::Writer<BufWriter<File>>,
}

fn writer(path: &Path, header: &[&str]) -> Result<csv::Writer<BufWriter<File>>> {
    let f = File::create(path).map_err(io(path))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(f));
    w.write_record(header).map_err(csv_err)?;
    Ok(w)
}

fn csv_err(e: csv::Error) -> Error {
    Error::Csv(e)
}

impl TruthWriter {
    /// Creates the files under `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        Ok(TruthWriter {
            households: writer(
                &dir.join("households.csv"),
                &[
                    "household_id",
                    "region",
                    "area_type",
                    "programme",
                    "kind",
                    "declared",
                    "counted",
                    "outcome",
                    "income_fen",
                    "income_limit_fen",
                    "assets_fen",
                    "asset_limit_fen",
                    "planted",
                ],
            )?,
            findings: writer(
                &dir.join("findings.csv"),
                &[
                    "household_id",
                    "rule",
                    "severity",
                    "members",
                    "measured",
                    "threshold",
                ],
            )?,
            evidence: writer(&dir.join("evidence.csv"), EVIDENCE_KEY)?,
        })
    }

    /// Appends the truth of some households.
    pub fn write(&mut self, hs: &[TruthHousehold]) -> Result<()> {
        for h in hs {
            self.households
                .write_record([
                    h.id.as_str(),
                    &h.region.to_string(),
                    h.area.map_or("", |a| a.code()),
                    h.programme,
                    h.kind,
                    &h.declared.to_string(),
                    &h.counted.to_string(),
                    h.outcome(),
                    &h.income_fen.to_string(),
                    &h.income_limit_fen.to_string(),
                    &h.assets_fen.to_string(),
                    &h.asset_limit_fen.to_string(),
                    &h.planted.join(";"),
                ])
                .map_err(csv_err)?;
            for f in &h.findings {
                let members: Vec<String> = f.members.iter().map(|m| m.to_string()).collect();
                self.findings
                    .write_record([
                        h.id.as_str(),
                        f.rule.id(),
                        f.severity.as_str(),
                        &members.join(";"),
                        &f.measured.to_string(),
                        &f.threshold.to_string(),
                    ])
                    .map_err(csv_err)?;
                for e in &f.evidence {
                    self.evidence
                        .write_record([
                            h.id.as_str(),
                            f.rule.id(),
                            &e.person.to_string(),
                            e.source,
                            &e.key,
                            &e.amount_fen.map(|a| a.to_string()).unwrap_or_default(),
                            &e.date,
                        ])
                        .map_err(csv_err)?;
                }
            }
        }
        Ok(())
    }

    /// Flushes the files.
    pub fn finish(self) -> Result<()> {
        for w in [self.households, self.findings, self.evidence] {
            let mut inner = w.into_inner().map_err(|e| Error::Io {
                path: "rows in memory".into(),
                err: e.into_error(),
            })?;
            inner.flush().map_err(|err| Error::Io {
                path: "truth".into(),
                err,
            })?;
        }
        Ok(())
    }
}

/// Writes pretty JSON with a trailing newline.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).map_err(io(path))
}
