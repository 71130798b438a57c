//! The `hedui` binary as a user runs it.

use std::process::Command;

fn hedui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hedui"))
}

#[test]
fn sources_lists_25_inputs() {
    let out = hedui().arg("sources").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("hedui source catalog: 25 inputs"),
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
