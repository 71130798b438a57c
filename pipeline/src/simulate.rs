//! `hedui simulate`: what a published batch would have said under a proposed policy.
//!
//! The engine re-verifies the batch's own staged snapshot (nothing is ingested again) under
//! the proposed policy into a scratch folder, at the batch's date; then every household's
//! outcome and findings are compared with the published ones. The result names the households
//! whose outcome or findings change, each with the reason (the findings that come or go, the
//! standard, multiple and line that moved), counts them by city and programme, and prices the
//! change: the monthly assistance of the dibao and tekun households that PASS (are eligible),
//! before and after, per city.
//!
//! **The cost.** A household's monthly assistance is the gap between its line and its
//! monthly income per counted member, times its counted members:
//! `multiple × standard × counted − income / months`, computed exactly in integers and
//! rounded down to the fen once per household (none when its income reaches the line). Only
//! households that PASS count: FLAG ones are not eligible, and REVIEW and UNVERIFIED ones are
//! not yet decided (their number is given beside the cost).
//!
//! A simulation is not a batch: it writes no manifest, enters no chain, and lives outside the
//! batch root (`--out`). Its files are deterministic: the same batch and proposed policy give
//! the same bytes. The engine's scratch outputs (full resident IDs) are removed when it ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use serde::Serialize;

use crate::engine::sentence::yuan;
use crate::manifest::Manifest;
use crate::output::{for_each_batch, int_column, text_column};
use crate::policy::Policy;
use crate::run::pad;
use crate::{Error, Result};

/// Programmes whose assistance is priced: the gap to the line is paid (dibao, tekun); the
/// low-income status brings other help, not a top-up.
pub const PRICED: [&str; 2] = ["dibao", "tekun"];

/// One household whose verdict changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    /// Household id.
    pub household_id: String,
    /// Its registered region.
    pub region: i32,
    /// Its city.
    pub city: i32,
    /// Programme code.
    pub programme: String,
    /// Published outcome.
    pub before: String,
    /// Outcome under the proposed policy.
    pub after: String,
    /// Why, one reason per finding or policy value that changed.
    pub reasons: Vec<String>,
}

impl Changed {
    /// `newly flagged`, `cleared`, `outcome changed` or `findings changed`.
    pub fn kind(&self) -> &'static str {
        if self.after == "FLAG" && self.before != "FLAG" {
            "newly flagged"
        } else if self.before == "FLAG" && self.after != "FLAG" {
            "cleared"
        } else if self.before != self.after {
            "outcome changed"
        } else {
            "findings changed"
        }
    }
}

/// The monthly assistance of one city and programme, before and after.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Households that PASS, published.
    pub households_before: u64,
    /// Their monthly assistance, fen.
    pub fen_before: i64,
    /// Households that PASS under the proposed policy.
    pub households_after: u64,
    /// Their monthly assistance, fen.
    pub fen_after: i64,
    /// Households undecided (REVIEW or UNVERIFIED) under the proposed policy: not priced.
    pub undecided_after: u64,
}

/// What a simulation found.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    /// The published batch.
    pub batch_id: String,
    /// Its date.
    pub as_of: chrono::NaiveDate,
    /// The name of the policy it was published under.
    pub policy_before: String,
    /// The name of the proposed policy.
    pub policy_after: String,
    /// The SHA-256 of the proposed policy file's text.
    pub policy_after_sha256: String,
    /// Households in the batch.
    pub households: u64,
    /// Households whose outcome or rules found change, in household order.
    pub changed: Vec<Changed>,
    /// Monthly assistance per city and programme (priced programmes only).
    pub cost: BTreeMap<(i32, String), Cost>,
    /// City names (Chinese, English), for every city shown.
    pub names: BTreeMap<i32, (String, String)>,
}

/// One household's row of `households.parquet` and its outcome and findings.
#[derive(Debug, Clone, Default)]
struct Side {
    household_id: String,
    region: i32,
    programme: String,
    counted: i64,
    income_fen: i64,
    standard_fen: Option<i64>,
    multiple_bp: Option<i64>,
    months: i64,
    income_limit_fen: Option<i64>,
    asset_limit_fen: Option<i64>,
    outcome: String,
    /// rule -> (measured, threshold, unit).
    findings: BTreeMap<String, (i64, i64, String)>,
}

impl Side {
    /// Monthly assistance in fen: `floor(multiple × standard × counted − income / months)`,
    /// none when income reaches the line or no line applies.
    fn assistance_fen(&self) -> i64 {
        let (Some(s), Some(m)) = (self.standard_fen, self.multiple_bp) else {
            return 0;
        };
        if self.counted <= 0 || self.months <= 0 {
            return 0;
        }
        let months = i128::from(self.months);
        // Over 10,000 × months: (m × s × counted × months − income × 10,000).
        let num = i128::from(m) * i128::from(s) * i128::from(self.counted) * months
            - i128::from(self.income_fen) * 10_000;
        if num <= 0 {
            return 0;
        }
        (num / (10_000 * months)) as i64
    }
}

/// Every household of a verified folder (`households.parquet`, `outcomes.parquet`,
/// `findings.parquet`), in household order.
fn read_side(dir: &Path) -> Result<Vec<Side>> {
    let mut sides: Vec<Side> = Vec::new();
    for_each_batch(&dir.join("households.parquet"), |b: RecordBatch| {
        let id = text_column(&b, "household_id")?;
        let region = int_column(&b, "region")?;
        let programme = text_column(&b, "programme")?;
        let counted = int_column(&b, "counted")?;
        let income = int_column(&b, "income_fen")?;
        let standard = int_column(&b, "standard_fen")?;
        let multiple = int_column(&b, "multiple_bp")?;
        let months = int_column(&b, "months")?;
        let limit = int_column(&b, "income_limit_fen")?;
        let asset_limit = int_column(&b, "asset_limit_fen")?;
        for i in 0..b.num_rows() {
            sides.push(Side {
                household_id: id[i].clone().unwrap_or_default(),
                region: region[i].unwrap_or_default() as i32,
                programme: programme[i].clone().unwrap_or_default(),
                counted: counted[i].unwrap_or_default(),
                income_fen: income[i].unwrap_or_default(),
                standard_fen: standard[i],
                multiple_bp: multiple[i],
                months: months[i].unwrap_or_default(),
                income_limit_fen: limit[i],
                asset_limit_fen: asset_limit[i],
                ..Side::default()
            });
        }
        Ok::<_, Error>(())
    })?;
    let at: std::collections::HashMap<String, usize> = sides
        .iter()
        .enumerate()
        .map(|(i, s)| (s.household_id.clone(), i))
        .collect();
    let find = |id: &Option<String>| -> Result<usize> {
        id.as_ref()
            .and_then(|id| at.get(id).copied())
            .ok_or_else(|| {
                input(
                    dir,
                    format!("household {id:?} is not in households.parquet"),
                )
            })
    };
    for_each_batch(&dir.join("outcomes.parquet"), |b: RecordBatch| {
        let id = text_column(&b, "household_id")?;
        let outcome = text_column(&b, "outcome")?;
        for i in 0..b.num_rows() {
            sides[find(&id[i])?].outcome = outcome[i].clone().unwrap_or_default();
        }
        Ok::<_, Error>(())
    })?;
    for_each_batch(&dir.join("findings.parquet"), |b: RecordBatch| {
        let id = text_column(&b, "household_id")?;
        let rule = text_column(&b, "rule")?;
        let measured = int_column(&b, "measured")?;
        let threshold = int_column(&b, "threshold")?;
        let unit = text_column(&b, "unit")?;
        for i in 0..b.num_rows() {
            sides[find(&id[i])?].findings.insert(
                rule[i].clone().unwrap_or_default(),
                (
                    measured[i].unwrap_or_default(),
                    threshold[i].unwrap_or_default(),
                    unit[i].clone().unwrap_or_default(),
                ),
            );
        }
        Ok::<_, Error>(())
    })?;
    Ok(sides)
}

/// A measured value or threshold as people read it: yuan for money, else the number.
fn amount(v: i64, unit: &str) -> String {
    if unit == "fen" {
        format!("{} 元", yuan(v))
    } else {
        v.to_string()
    }
}

/// Why household `a` (published) became `b` (proposed).
fn reasons(a: &Side, b: &Side) -> Vec<String> {
    let mut why = Vec::new();
    for (rule, (m, t, unit)) in &b.findings {
        match a.findings.get(rule) {
            None => why.push(format!(
                "new finding {rule}: {} over {}",
                amount(*m, unit),
                amount(*t, unit)
            )),
            Some((m0, t0, _)) if (m0, t0) != (m, t) => why.push(format!(
                "{rule}: {} over {} -> {} over {}",
                amount(*m0, unit),
                amount(*t0, unit),
                amount(*m, unit),
                amount(*t, unit)
            )),
            Some(_) => {}
        }
    }
    for (rule, (m, t, unit)) in &a.findings {
        if !b.findings.contains_key(rule) {
            why.push(format!(
                "finding {rule} gone: {} no longer over {}",
                amount(*m, unit),
                match (rule.as_str(), b.income_limit_fen, b.asset_limit_fen) {
                    ("income_over_line", Some(l), _) | ("assets_over_limit", _, Some(l)) => {
                        amount(l, "fen")
                    }
                    _ => amount(*t, unit),
                }
            ));
        }
    }
    let fen = |v: Option<i64>| v.map_or("none".to_string(), |v| format!("{} 元", yuan(v)));
    if a.standard_fen != b.standard_fen {
        why.push(format!(
            "standard {} -> {}",
            fen(a.standard_fen),
            fen(b.standard_fen)
        ));
    }
    if a.multiple_bp != b.multiple_bp {
        let m = |v: Option<i64>| v.map_or("none".to_string(), crate::engine::sentence::multiple);
        why.push(format!(
            "multiple {} -> {}",
            m(a.multiple_bp),
            m(b.multiple_bp)
        ));
    }
    if a.income_limit_fen != b.income_limit_fen {
        why.push(format!(
            "income line {} -> {} (income {})",
            fen(a.income_limit_fen),
            fen(b.income_limit_fen),
            yuan(b.income_fen)
        ));
    }
    if a.asset_limit_fen != b.asset_limit_fen {
        why.push(format!(
            "asset limit {} -> {}",
            fen(a.asset_limit_fen),
            fen(b.asset_limit_fen)
        ));
    }
    why
}

fn input(path: &Path, msg: String) -> Error {
    Error::Input {
        path: path.display().to_string(),
        msg,
    }
}

/// The city of a registered region: the county's city, or the city itself.
pub fn city_of(region: i32) -> i32 {
    region / 100 * 100
}

/// The published batch's policy, checked against the hash its manifest recorded.
pub(crate) fn batch_policy(batch: &Path, manifest: &Manifest) -> Result<Policy> {
    let policy_path = batch.join(crate::manifest::POLICY_COPY);
    let text = std::fs::read_to_string(&policy_path).map_err(crate::error::io(&policy_path))?;
    if crate::manifest::hash_bytes(text.as_bytes()) != manifest.policy_sha256 {
        return Err(Error::Integrity {
            path: policy_path.display().to_string(),
            msg: "the batch's policy copy is not the one it ran with (run `hedui verify`)".into(),
        });
    }
    Ok(Policy::from_toml(
        &text,
        &policy_path.display().to_string(),
    )?)
}

/// Links the batch's staged snapshot into `scratch` (as `ingest/`), so the engine reads it
/// there without copying it.
pub(crate) fn link_ingest(batch: &Path, scratch: &Path) -> Result<()> {
    std::fs::create_dir_all(scratch).map_err(crate::error::io(scratch))?;
    let scratch_ingest = scratch.join("ingest");
    if !scratch_ingest.exists() {
        std::os::unix::fs::symlink(
            batch
                .join("ingest")
                .canonicalize()
                .map_err(crate::error::io(batch))?,
            &scratch_ingest,
        )
        .map_err(crate::error::io(&scratch_ingest))?;
    }
    Ok(())
}

/// Simulates `batch` under `proposed`, verifying in `scratch` (created, and removed after).
pub async fn simulate(batch: &Path, proposed: &Policy, scratch: &Path) -> Result<Simulation> {
    let manifest = Manifest::read(batch)?;
    let published = batch_policy(batch, &manifest)?;
    link_ingest(batch, scratch)?;
    let mut timings = Vec::new();
    let verified = crate::run::verify_stages(
        scratch,
        proposed,
        manifest.as_of,
        &manifest.batch_id,
        &crate::config::EngineSection::default(),
        &crate::run::Progress::none(),
        &mut timings,
    )
    .await;
    let compared = verified.and_then(|_| Ok((read_side(batch)?, read_side(scratch)?)));
    let _ = std::fs::remove_dir_all(scratch);
    let (before, after) = compared?;
    if before.len() != after.len() {
        return Err(input(
            batch,
            format!(
                "the batch lists {} households, its snapshot verifies {}: is it intact (`hedui verify`)?",
                before.len(),
                after.len()
            ),
        ));
    }
    let mut changed = Vec::new();
    let mut cost: BTreeMap<(i32, String), Cost> = BTreeMap::new();
    let mut names = BTreeMap::new();
    for (a, b) in before.iter().zip(&after) {
        if a.household_id != b.household_id {
            return Err(input(
                batch,
                format!(
                    "households out of order ({} against {})",
                    a.household_id, b.household_id
                ),
            ));
        }
        let city = city_of(a.region);
        names.entry(city).or_insert_with(|| {
            let n = proposed.region_name(city);
            let n = if n.zh == city.to_string() {
                published.region_name(city)
            } else {
                n
            };
            (n.zh, n.en)
        });
        if PRICED.contains(&a.programme.as_str()) {
            let c = cost.entry((city, a.programme.clone())).or_default();
            if a.outcome == "PASS" {
                c.households_before += 1;
                c.fen_before += a.assistance_fen();
            }
            match b.outcome.as_str() {
                "PASS" => {
                    c.households_after += 1;
                    c.fen_after += b.assistance_fen();
                }
                "REVIEW" | "UNVERIFIED" => c.undecided_after += 1,
                _ => {}
            }
        }
        // A verdict changes when the outcome or the rules found change; a finding whose
        // threshold moved but still holds is the same verdict (its reason shows the move
        // only when the household changes for another reason).
        if a.outcome != b.outcome || !a.findings.keys().eq(b.findings.keys()) {
            changed.push(Changed {
                household_id: a.household_id.clone(),
                region: a.region,
                city,
                programme: a.programme.clone(),
                before: a.outcome.clone(),
                after: b.outcome.clone(),
                reasons: reasons(a, b),
            });
        }
    }
    Ok(Simulation {
        batch_id: manifest.batch_id,
        as_of: manifest.as_of,
        policy_before: published.name,
        policy_after: proposed.name.clone(),
        policy_after_sha256: crate::manifest::hash_bytes(proposed.text.as_bytes()),
        households: before.len() as u64,
        changed,
        cost,
        names,
    })
}

impl Simulation {
    /// Changed households by city and programme: (newly flagged, cleared, other).
    pub fn by_city(&self) -> BTreeMap<(i32, String), [u64; 3]> {
        let mut out: BTreeMap<(i32, String), [u64; 3]> = BTreeMap::new();
        for c in &self.changed {
            let k = match c.kind() {
                "newly flagged" => 0,
                "cleared" => 1,
                _ => 2,
            };
            out.entry((c.city, c.programme.clone())).or_default()[k] += 1;
        }
        out
    }

    /// The city's name, `广州市 Guangzhou`.
    pub fn name(&self, city: i32) -> String {
        self.names
            .get(&city)
            .map(|(zh, en)| format!("{zh} {en}"))
            .unwrap_or_else(|| city.to_string())
    }

    /// Monthly assistance in fen, before and after, over every city and programme.
    pub fn totals(&self) -> (i64, i64) {
        self.cost
            .values()
            .fold((0, 0), |(a, b), c| (a + c.fen_before, b + c.fen_after))
    }
}

/// The simulation as the terminal shows it: the changes by city and programme, the cost per
/// city, then the first changed households with their reasons.
pub fn render(sim: &Simulation, out: Option<&Path>) -> String {
    let mut s = format!(
        "simulation of batch {} at {}: policy {} -> {}\n\n{} households, {} change\n",
        sim.batch_id,
        sim.as_of,
        sim.policy_before,
        sim.policy_after,
        sim.households,
        sim.changed.len()
    );
    let by_city = sim.by_city();
    if !by_city.is_empty() {
        s.push_str(&format!(
            "\nchanged households by city and programme:\n  {:<30} {:<11} {:>8} {:>8} {:>8}\n",
            "city", "programme", "flagged", "cleared", "other"
        ));
        for ((city, programme), n) in &by_city {
            s.push_str(&format!(
                "  {} {programme:<11} {:>8} {:>8} {:>8}\n",
                pad(&sim.name(*city), 30),
                n[0],
                n[1],
                n[2]
            ));
        }
    }
    s.push_str(&format!(
        "\nmonthly assistance of eligible (PASS) dibao and tekun households, yuan:\n  {:<30} {:<11} {:>9} {:>16} {:>9} {:>16} {:>14}\n",
        "city", "programme", "before", "yuan", "after", "yuan", "change"
    ));
    for ((city, programme), c) in &sim.cost {
        s.push_str(&format!(
            "  {} {programme:<11} {:>9} {:>16} {:>9} {:>16} {:>14}\n",
            pad(&sim.name(*city), 30),
            c.households_before,
            yuan(c.fen_before),
            c.households_after,
            yuan(c.fen_after),
            signed_yuan(c.fen_after - c.fen_before)
        ));
    }
    let (before, after) = sim.totals();
    s.push_str(&format!(
        "  {:<42} {:>26} {:>26} {:>14}\n",
        "total",
        yuan(before),
        yuan(after),
        signed_yuan(after - before)
    ));
    const SHOWN: usize = 20;
    if !sim.changed.is_empty() {
        s.push_str("\nchanged households");
        if sim.changed.len() > SHOWN {
            s.push_str(&format!(" (the first {SHOWN})"));
        }
        s.push_str(":\n");
        for c in sim.changed.iter().take(SHOWN) {
            s.push_str(&format!(
                "  {} ({}, {}) {}: {} -> {}\n",
                c.household_id,
                sim.name(c.city),
                c.programme,
                c.kind(),
                c.before,
                c.after
            ));
            for r in &c.reasons {
                s.push_str(&format!("      {r}\n"));
            }
        }
    }
    if let Some(out) = out {
        s.push_str(&format!(
            "\nwritten: {} (changes.csv, cost.csv, simulation.json, simulation.html)\n",
            out.display()
        ));
    }
    s
}

fn signed_yuan(fen: i64) -> String {
    if fen > 0 {
        format!("+{}", yuan(fen))
    } else {
        yuan(fen)
    }
}

/// Writes `changes.csv`, `cost.csv`, `simulation.json` and `simulation.html` into `out`
/// (created); returns the files written.
pub fn write(sim: &Simulation, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(crate::error::io(out))?;
    let csv_err = |path: &Path| {
        let path = path.to_path_buf();
        move |e: csv::Error| input(&path, e.to_string())
    };
    let mut written = Vec::new();
    // A BOM first, as every CSV hedui writes for spreadsheets.
    let changes = out.join("changes.csv");
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record([
        "household_id",
        "region",
        "city",
        "city_name",
        "programme",
        "change",
        "outcome_before",
        "outcome_after",
        "reasons",
    ])
    .map_err(csv_err(&changes))?;
    for c in &sim.changed {
        w.write_record([
            crate::output::csv_cell(&c.household_id).into_owned(),
            c.region.to_string(),
            c.city.to_string(),
            sim.name(c.city),
            c.programme.clone(),
            c.kind().to_string(),
            c.before.clone(),
            c.after.clone(),
            c.reasons.join("; "),
        ])
        .map_err(csv_err(&changes))?;
    }
    let bytes = w.into_inner().map_err(|e| input(&changes, e.to_string()))?;
    std::fs::write(&changes, bytes).map_err(crate::error::io(&changes))?;
    written.push(changes);

    let cost = out.join("cost.csv");
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record([
        "city",
        "city_name",
        "programme",
        "households_before",
        "monthly_yuan_before",
        "households_after",
        "monthly_yuan_after",
        "change_yuan",
        "undecided_after",
    ])
    .map_err(csv_err(&cost))?;
    for ((city, programme), c) in &sim.cost {
        w.write_record([
            city.to_string(),
            sim.name(*city),
            programme.clone(),
            c.households_before.to_string(),
            yuan(c.fen_before).replace(',', ""),
            c.households_after.to_string(),
            yuan(c.fen_after).replace(',', ""),
            yuan(c.fen_after - c.fen_before).replace(',', ""),
            c.undecided_after.to_string(),
        ])
        .map_err(csv_err(&cost))?;
    }
    let bytes = w.into_inner().map_err(|e| input(&cost, e.to_string()))?;
    std::fs::write(&cost, bytes).map_err(crate::error::io(&cost))?;
    written.push(cost);

    let json = out.join("simulation.json");
    let value = serde_json::json!({
        "batch_id": sim.batch_id,
        "as_of": sim.as_of,
        "policy_before": sim.policy_before,
        "policy_after": sim.policy_after,
        "policy_after_sha256": sim.policy_after_sha256,
        "households": sim.households,
        "changed": sim.changed,
        "cost": sim.cost.iter().map(|((city, programme), c)| serde_json::json!({
            "city": city, "city_name": sim.name(*city), "programme": programme, "cost": c,
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&value).map_err(|e| input(&json, e.to_string()))?;
    std::fs::write(&json, text + "\n").map_err(crate::error::io(&json))?;
    written.push(json);

    let html = out.join("simulation.html");
    let view = crate::review::report::SimulationView {
        batch_id: sim.batch_id.clone(),
        as_of: sim.as_of.to_string(),
        policy_before: sim.policy_before.clone(),
        policy_after: sim.policy_after.clone(),
        households: sim.households,
        changed: sim.changed.len() as u64,
        totals: sim.totals(),
        by_city: sim
            .by_city()
            .into_iter()
            .map(|((city, programme), n)| (sim.name(city), programme, n))
            .collect(),
        cost: sim
            .cost
            .iter()
            .map(|((city, programme), c)| {
                (
                    sim.name(*city),
                    programme.clone(),
                    [
                        c.households_before as i64,
                        c.fen_before,
                        c.households_after as i64,
                        c.fen_after,
                    ],
                )
            })
            .collect(),
        first: sim
            .changed
            .iter()
            .take(200)
            .map(|c| {
                (
                    c.household_id.clone(),
                    sim.name(c.city),
                    c.programme.clone(),
                    format!("{} → {}", c.before, c.after),
                    c.reasons.join("; "),
                )
            })
            .collect(),
    };
    let page = crate::review::report::render_simulation(&view)?;
    std::fs::write(&html, page).map_err(crate::error::io(&html))?;
    written.push(html);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assistance_is_the_gap_to_the_line_rounded_down_once() {
        let s = Side {
            counted: 3,
            months: 6,
            standard_fen: Some(128_200),
            multiple_bp: Some(10_000),
            // 1,000.00 a month for the household: line 3 × 1,282.00 = 3,846.00, gap 2,846.00.
            income_fen: 600_000,
            ..Side::default()
        };
        assert_eq!(s.assistance_fen(), 284_600);
        // Income of 1 fen over six months: 3,845.99 (one third of a fen... rounded down).
        let s1 = Side {
            income_fen: 1,
            ..s.clone()
        };
        assert_eq!(s1.assistance_fen(), 384_599);
        // Tekun: 1.6 × standard.
        let t = Side {
            multiple_bp: Some(16_000),
            income_fen: 0,
            counted: 1,
            ..s.clone()
        };
        assert_eq!(t.assistance_fen(), 205_120);
        // At or over the line: nothing; no line: nothing.
        let over = Side {
            income_fen: 3 * 6 * 128_200,
            ..s.clone()
        };
        assert_eq!(over.assistance_fen(), 0);
        assert_eq!(
            Side {
                standard_fen: None,
                ..s
            }
            .assistance_fen(),
            0
        );
    }
}
