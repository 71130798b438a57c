//! The `hedui` binary as a user runs it.

use std::path::Path;
use std::process::Command;

fn hedui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hedui"))
}

#[test]
fn sources_lists_every_input() {
    let out = hedui().arg("sources").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let n = hedui_schemas::all_sources().len();
    assert!(
        text.starts_with(&format!("hedui source catalog: {n} inputs")),
        "{text}"
    );
    for id in hedui_schemas::SOURCE_IDS {
        assert!(
            text.contains(&format!("  {id}  ")),
            "{id} missing from `hedui sources`"
        );
    }
    assert!(text.contains("Parquet") && text.contains("CSV GBK") && text.contains("JSON lines"));
}

#[test]
fn generate_writes_every_source_and_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = hedui()
        .args(["generate", "--households", "300", "--seed", "7", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("generated 300 households"), "{text}");
    for s in hedui_schemas::all_sources() {
        let p = dir.path().join("exports").join(s.export.path);
        assert!(p.exists(), "{} missing", p.display());
    }
    for f in [
        "households.csv",
        "findings.csv",
        "evidence.csv",
        "dirty_rows.csv",
        "quarantine.json",
    ] {
        assert!(
            dir.path().join("truth").join(f).is_file(),
            "truth/{f} missing"
        );
    }
}

#[test]
fn generate_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = hedui()
        .args(["generate", "--households", "0", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--households must be at least 1"));
    let out = hedui()
        .args(["generate", "--as-of", "2026-02-30", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as-of"));
    // A batch date before any standard in the policy is refused, naming the region.
    let out = hedui()
        .args(["generate", "--as-of", "2020-01-01", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no dibao standard"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_runs_end_to_end_and_checks_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = hedui()
        .args(["demo", "--households", "1500", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("OK: the batch found exactly what was planted"),
        "{text}"
    );
    assert!(
        text.contains("missing 0, unexpected 0, figures differ 0"),
        "{text}"
    );
    // The summary and check name no full resident ID.
    let id = regex_free_id(&text);
    assert!(id.is_none(), "full resident ID on the terminal: {id:?}");
    // `hedui check` on the published batch says the same.
    let batch = std::fs::read_dir(dir.path().join("batches"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let run_check = || {
        hedui()
            .args(["check", "--batch"])
            .arg(&batch)
            .arg("--truth")
            .arg(dir.path().join("truth"))
            .output()
            .unwrap()
    };
    let check = run_check();
    assert!(check.status.success());
    // A tampered truth makes the check (and so the demo) fail.
    let findings = dir.path().join("truth/findings.csv");
    let text = std::fs::read_to_string(&findings).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    std::fs::write(&findings, lines.join("\n") + "\n").unwrap();
    let check = run_check();
    assert_eq!(check.status.code(), Some(1));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("unexpected 1") && text.contains("MISMATCH"),
        "{text}"
    );
}

/// The first 18-character run of digits (with a final X) that passes the resident-ID check.
fn regex_free_id(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    for start in 0..chars.len().saturating_sub(17) {
        let cand: String = chars[start..start + 18].iter().collect();
        let digits_ok = cand[..17].chars().all(|c| c.is_ascii_digit())
            && (cand.ends_with('X') || cand.ends_with(|c: char| c.is_ascii_digit()));
        let bounded = start == 0 || !chars[start - 1].is_ascii_digit();
        if digits_ok && bounded && hedui_schemas::ResidentId::parse(&cand).is_ok() {
            return Some(cand);
        }
    }
    None
}

#[test]
fn run_publishes_outcomes_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::generate_into(dir.path(), 800, 3);
    let root = dir.path().join("batches");
    let run = |root: &std::path::Path| {
        hedui()
            .args(["run", "--as-of", "2026-11-15", "--config"])
            .arg(dir.path().join("hedui.toml"))
            .arg("--out")
            .arg(root)
            .output()
            .unwrap()
    };
    let out = run(&root);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("outcomes:") && text.contains("findings by rule:"),
        "{text}"
    );
    let batch = root.join("20261115-001");
    let csv = std::fs::read(batch.join("outcomes.csv")).unwrap();
    assert!(
        csv.starts_with("\u{feff}household_id,".as_bytes()),
        "CSV for spreadsheets starts with a BOM"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(batch.join("summary.json")).unwrap())
            .unwrap();
    let total: u64 = summary["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 800);
    for f in [
        "outcomes.parquet",
        "outcomes.csv",
        "findings.parquet",
        "findings.csv",
        "evidence.parquet",
        "households.parquet",
        "ingest/ingest.json",
    ] {
        assert!(batch.join(f).is_file(), "{f}");
    }
    assert!(text.contains("time by stage:"), "{text}");
    // A second run of the same date never reuses the folder.
    assert!(run(&root).status.success());
    assert!(root.join("20261115-002/summary.json").is_file());
}

#[test]
fn explain_prints_every_plan_on_a_fresh_checkout_and_over_a_staged_snapshot() {
    // No config, no batch: the shipped policy over empty tables.
    let dir = tempfile::tempdir().unwrap();
    let out = hedui()
        .current_dir(dir.path())
        .args(["explain", "--as-of", "2026-11-15"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("-- over empty tables"), "{text}");
    let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("== ")).collect();
    let mut expected = vec!["members", "income", "assets", "metrics", "units"];
    expected.extend(
        hedui_schemas::Rule::ALL
            .iter()
            .filter(|r| **r != hedui_schemas::Rule::NoCountedMember)
            .map(|r| r.id()),
    );
    assert_eq!(names, expected);
    assert_eq!(text.matches("-- physical_plan").count(), expected.len());

    // One plan, over a batch's staged snapshot, with its operators' metrics.
    let prov = tempfile::tempdir().unwrap();
    let ok = hedui()
        .args(["generate", "--households", "200", "--out"])
        .arg(prov.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let config = prov.path().join("hedui.toml");
    let ok = hedui()
        .arg("ingest")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = hedui()
        .arg("explain")
        .arg("--config")
        .arg(&config)
        .args(["--as-of", "2026-11-15", "--analyze", "vehicle_owned"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("-- over the staged snapshot in"), "{text}");
    assert!(text.contains("\n== vehicle_owned\n"), "{text}");
    assert!(
        text.contains("vehicle.parquet") && text.contains("output_rows="),
        "{text}"
    );

    // A plan no batch has is refused, naming the choices.
    let out = hedui()
        .args(["explain", "--as-of", "2026-11-15", "no_such_rule"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no plan named no_such_rule"), "{err}");
}

// Two ingests into one folder: the second is refused, naming the first, while the first
// holds the folder's lock (the same OS lock as `hedui run`'s); once it is released, ingest runs.
#[test]
fn a_second_ingest_into_a_locked_folder_is_refused_naming_the_holder() {
    let prov = tempfile::tempdir().unwrap();
    let ok = hedui()
        .args(["generate", "--households", "200", "--out"])
        .arg(prov.path())
        .output()
        .unwrap();
    assert!(ok.status.success());
    let config = prov.path().join("hedui.toml");
    let out = prov.path().join("staged-here");
    let lock = hedui::publish::RootLock::acquire(&out, "a first ingest").unwrap();
    let refused = hedui()
        .args(["ingest", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("is locked by another run"), "{err}");
    assert!(err.contains("a first ingest"), "{err}");
    assert!(!out.join("ingest.json").exists());
    drop(lock);
    let ok = hedui()
        .args(["ingest", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.join("ingest.json").exists());
}

// Report files are named by the household's position when its id is not a plain name: an id
// from the applications export never chooses where a file goes, and a `/` in one does not
// stop the report. An id that reads as a spreadsheet formula is neutralised in the CSV files.
#[test]
fn report_file_names_never_come_from_a_hostile_household_id() {
    let dir = tempfile::tempdir().unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/vehicle_owned");
    for f in ["hedui.toml", "vehicle.csv"] {
        std::fs::copy(golden.join(f), dir.path().join(f)).unwrap();
    }
    let outside = dir.path().join("outside");
    let long = format!("H{}", "9".repeat(300));
    let ids = [
        "../../escaped".to_string(),
        format!("{}/absolute", outside.display()),
        "=1+2".to_string(),
        long.clone(),
    ];
    let apps = std::fs::read_to_string(golden.join("applications.csv")).unwrap();
    let mut lines: Vec<String> = apps.lines().map(str::to_string).collect();
    for (i, id) in ids.iter().enumerate().take(lines.len() - 1) {
        let old = format!("H44010000000000{}", i + 1);
        assert!(lines[i + 1].contains(&old), "{}", lines[i + 1]);
        lines[i + 1] = lines[i + 1].replacen(&old, id, 1);
    }
    std::fs::write(
        dir.path().join("applications.csv"),
        lines.join("\r\n") + "\r\n",
    )
    .unwrap();
    let named = &ids[..lines.len() - 1];
    let root = dir.path().join("batches");
    let run = hedui()
        .args(["run", "--as-of", "2026-11-15", "--config"])
        .arg(dir.path().join("hedui.toml"))
        .arg("--out")
        .arg(&root)
        .output()
        .unwrap();
    // The golden config delivers two sources: the others fail (exit 2), the batch is published.
    let batch = root.join("20261115-001");
    assert!(
        batch.join("manifest.json").exists(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = dir.path().join("reports").join("here");
    let report = hedui()
        .arg("report")
        .arg(&batch)
        .args(named)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    // One file per household named (by position, since none of these ids is a plain name)
    // and the index, all inside --out, and nothing anywhere else.
    assert_eq!(written.len(), named.len() + 1, "{written:?}");
    assert!(
        written
            .iter()
            .all(|f| f == "index.html" || f.starts_with('_')),
        "{written:?}"
    );
    assert!(!outside.exists());
    assert!(!dir.path().join("escaped.html").exists());
    assert!(!dir.path().join("reports/escaped.html").exists());
    assert!(!out.join("a").exists());
    // In the CSV files caseworkers open in spreadsheets, the id that reads as a formula is
    // written as text (a leading '), in the Parquet files as delivered.
    let outcomes = std::fs::read_to_string(batch.join("outcomes.csv")).unwrap();
    assert!(outcomes.contains("\n'=1+2,"), "{outcomes}");
    assert!(!outcomes.contains("\n=1+2,"), "{outcomes}");
    let findings = std::fs::read_to_string(batch.join("findings.csv")).unwrap();
    assert!(!findings.contains("\n="), "{findings}");
    let ids_in_parquet = hedui::output::read_parquet(&batch.join("outcomes.parquet")).unwrap();
    let ids_in_parquet = hedui::output::text_column(&ids_in_parquet[0], "household_id").unwrap();
    assert!(ids_in_parquet.contains(&Some("=1+2".to_string())));
    // The index links each report under its file name.
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for f in written.iter().filter(|f| f.starts_with('_')) {
        assert!(index.contains(&format!("href=\"{f}\"")), "{f}");
    }
}
