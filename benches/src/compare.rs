//! `compare`: hedui's verification core against the same computation written by hand in
//! DuckDB and in Polars (`benches/peers/`), on the same staged data, one after another.
//!
//! Per size: a province is generated (or reused) and run through the full pipeline once
//! (department exports to a published batch, timed by stage); then every engine runs over
//! the batch's staged snapshot as a child process, measured the same way (wall clock, user +
//! system CPU and peak RSS from `wait4`). The first round is a warm-up whose outputs are
//! checked for agreement (every household's counted members, income, per-capita income,
//! assets and limits to the fen, the households flagged per rule, every outcome); the next
//! `runs` rounds are timed. The table gives medians, ratios and scaling exponents; the last
//! line is `ratio hedui/duckdb: R`, the median per-round ratio at the largest size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use hedui::output::{for_each_batch, int_column, text_column};

/// The engines compared, in the order they run in each round.
pub const ENGINES: &[&str] = &["hedui", "hedui-unlinked", "duckdb", "polars"];

/// What one child process used.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall-clock seconds.
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak resident set, MiB.
    pub rss_mib: f64,
}

/// Runs `cmd` to completion (output to `log`) and measures it: through `hedui-benches
/// measured`, a process whose only child is `cmd`, so that its children's resource usage is
/// exactly `cmd`'s.
pub fn measure(cmd: &Command, log: &Path) -> Result<Measured> {
    let report = log.with_extension("usage.json");
    let _ = std::fs::remove_file(&report);
    let out = std::fs::File::create(log).with_context(|| log.display().to_string())?;
    let err = out.try_clone()?;
    let status = Command::new(std::env::current_exe()?)
        .arg("measured")
        .arg("--report")
        .arg(&report)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        return Err(Failed {
            status,
            what: format!(
                "{cmd:?} failed ({status}); last lines of {}:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        }
        .into());
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    Ok(Measured {
        wall: f("wall"),
        cpu: f("cpu"),
        rss_mib: f("rss_mib"),
    })
}

/// A measured command that ran and did not succeed: its exit status (which the comparison's
/// table shows) and what it printed last.
#[derive(Debug)]
pub struct Failed {
    /// How the command ended.
    pub status: std::process::ExitStatus,
    /// The command, its status and the last lines of its log.
    pub what: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Failed {}

/// `hedui-benches measured --report R -- CMD...`: runs CMD, writes its wall time, CPU time
/// and peak RSS to R as JSON, and exits with its status.
pub fn measured(report: &Path, cmd: &[String]) -> Result<i32> {
    use nix::sys::resource::{UsageWho, getrusage};
    let (program, args) = cmd.split_first().context("no command to measure")?;
    let t = Instant::now();
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("starting {program}"))?;
    let wall = t.elapsed().as_secs_f64();
    let u = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let secs = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    std::fs::write(
        report,
        serde_json::json!({
            "wall": wall,
            "cpu": secs(u.user_time()) + secs(u.system_time()),
            // ru_maxrss is in KiB on Linux.
            "rss_mib": u.max_rss() as f64 / 1024.0,
        })
        .to_string(),
    )?;
    Ok(status.code().unwrap_or(1))
}

/// The peers' Python: `benches/peers/.venv`, created and filled from `requirements.txt` when
/// missing or out of date.
pub fn ensure_venv(peers: &Path) -> Result<PathBuf> {
    let venv = peers.join(".venv");
    let python = venv.join("bin/python");
    let wanted = std::fs::read_to_string(peers.join("requirements.txt"))?;
    let stamp = venv.join("requirements.installed");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    eprintln!("installing the peers into {} ...", venv.display());
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("python3 -m venv (is python3 installed?)")?
        .success();
    ensure!(ok, "python3 -m venv {} failed", venv.display());
    let ok = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(peers.join("requirements.txt"))
        .status()?
        .success();
    ensure!(ok, "pip install -r requirements.txt failed");
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

/// One household's figures, as every engine writes them.
type Figures = [Option<i64>; 6];
const FIGURES: [&str; 6] = [
    "counted",
    "income_fen",
    "income_per_capita_fen",
    "income_limit_fen",
    "assets_fen",
    "asset_limit_fen",
];

/// An engine's results: figures per household, findings (household, rule), outcomes.
#[derive(Default)]
pub struct Results {
    figures: HashMap<String, Figures>,
    findings: BTreeSet<(String, String)>,
    outcomes: HashMap<String, String>,
}

impl Results {
    /// Reads `households.parquet`, `findings.parquet` and `outcomes.parquet` from `dir`.
    pub fn read(dir: &Path) -> Result<Results> {
        let mut r = Results::default();
        for_each_batch(&dir.join("households.parquet"), |b| {
            let ids = text_column(&b, "household_id")?;
            let cols = FIGURES
                .iter()
                .map(|c| int_column(&b, c))
                .collect::<Result<Vec<_>, hedui::engine::Error>>()?;
            for (i, id) in ids.into_iter().enumerate() {
                let mut f: Figures = [None; 6];
                for (j, c) in cols.iter().enumerate() {
                    f[j] = c[i];
                }
                r.figures.insert(id.unwrap_or_default(), f);
            }
            Ok::<_, hedui::engine::Error>(())
        })?;
        for_each_batch(&dir.join("findings.parquet"), |b| {
            for (h, rule) in text_column(&b, "household_id")?
                .into_iter()
                .zip(text_column(&b, "rule")?)
            {
                r.findings
                    .insert((h.unwrap_or_default(), rule.unwrap_or_default()));
            }
            Ok::<_, hedui::engine::Error>(())
        })?;
        for_each_batch(&dir.join("outcomes.parquet"), |b| {
            for (h, o) in text_column(&b, "household_id")?
                .into_iter()
                .zip(text_column(&b, "outcome")?)
            {
                r.outcomes
                    .insert(h.unwrap_or_default(), o.unwrap_or_default());
            }
            Ok::<_, hedui::engine::Error>(())
        })?;
        Ok(r)
    }

    /// Differences from `base` (hedui's), described; empty when they agree exactly.
    pub fn differences(&self, base: &Results) -> Vec<String> {
        let mut out = Vec::new();
        let mut figure_diffs = 0;
        let mut first = None;
        for (h, f) in &base.figures {
            match self.figures.get(h) {
                Some(g) if g == f => {}
                Some(g) => {
                    figure_diffs += 1;
                    if first.is_none() {
                        let cols: Vec<String> = FIGURES
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| f[*j] != g[*j])
                            .map(|(j, c)| format!("{c} {:?} vs {:?}", g[j], f[j]))
                            .collect();
                        first = Some(format!("household {h}: {}", cols.join(", ")));
                    }
                }
                None => {
                    figure_diffs += 1;
                    first.get_or_insert_with(|| format!("household {h} missing"));
                }
            }
        }
        let extra = self
            .figures
            .keys()
            .filter(|h| !base.figures.contains_key(*h))
            .count();
        if figure_diffs + extra > 0 {
            out.push(format!(
                "{figure_diffs} households' figures differ or are missing, {extra} unknown households (first: {})",
                first.unwrap_or_default()
            ));
        }
        let mut by_rule: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (_, r) in base.findings.difference(&self.findings) {
            by_rule.entry(r).or_default().0 += 1;
        }
        for (_, r) in self.findings.difference(&base.findings) {
            by_rule.entry(r).or_default().1 += 1;
        }
        for (rule, (missing, unexpected)) in by_rule {
            out.push(format!(
                "{rule}: {missing} households flagged by hedui only, {unexpected} by the peer only"
            ));
        }
        let outcome_diffs = base
            .outcomes
            .iter()
            .filter(|(h, o)| self.outcomes.get(*h) != Some(o))
            .count();
        if outcome_diffs > 0 {
            out.push(format!("{outcome_diffs} outcomes differ"));
        }
        out
    }

    /// Households with figures.
    pub fn figures_len(&self) -> usize {
        self.figures.len()
    }

    /// Findings (household, rule).
    pub fn findings_len(&self) -> usize {
        self.findings.len()
    }

    /// Households with an outcome.
    pub fn outcomes_len(&self) -> usize {
        self.outcomes.len()
    }

    /// Households flagged per rule.
    pub fn per_rule(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for (_, r) in &self.findings {
            *m.entry(r.clone()).or_default() += 1;
        }
        m
    }
}

/// The median of `v` (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// The least-squares slope of log(time) over log(size): 1.0 is linear scaling.
pub fn scaling_exponent(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1.ln()).collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(income: i64, rules: &[&str], outcome: &str) -> Results {
        let mut r = Results::default();
        r.figures.insert(
            "H1".into(),
            [
                Some(1),
                Some(income),
                Some(income / 6),
                Some(100),
                Some(0),
                Some(50),
            ],
        );
        for rule in rules {
            r.findings.insert(("H1".into(), rule.to_string()));
        }
        r.outcomes.insert("H1".into(), outcome.into());
        r
    }

    #[test]
    fn differences_name_each_kind() {
        let base = results(600, &["income_over_line"], "FLAG");
        assert!(
            results(600, &["income_over_line"], "FLAG")
                .differences(&base)
                .is_empty()
        );
        let d = results(601, &["income_over_line"], "FLAG").differences(&base);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("income_fen Some(601) vs Some(600)"), "{d:?}");
        let d = results(600, &["vehicle_owned"], "PASS").differences(&base);
        assert!(
            d.iter()
                .any(|l| l.starts_with("income_over_line: 1 households flagged by hedui only")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|l| l.starts_with(
                "vehicle_owned: 0 households flagged by hedui only, 1 by the peer only"
            )),
            "{d:?}"
        );
        assert!(d.iter().any(|l| l == "1 outcomes differ"), "{d:?}");
        let mut extra = results(600, &["income_over_line"], "FLAG");
        extra.figures.insert("H2".into(), [None; 6]);
        let d = extra.differences(&base);
        assert!(d[0].contains("1 unknown households"), "{d:?}");
    }

    #[test]
    fn medians_and_exponents() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let e = scaling_exponent(&[(1e5, 1.0), (1e6, 10.0), (1e7, 100.0)]).unwrap();
        assert!((e - 1.0).abs() < 1e-9);
        let e = scaling_exponent(&[(1e5, 1.0), (1e6, 100.0)]).unwrap();
        assert!((e - 2.0).abs() < 1e-9);
        assert!(scaling_exponent(&[(1e5, 1.0)]).is_none());
    }
}
