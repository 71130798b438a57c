//! Golden batches, one folder per rule under `tests/golden/<rule>/`: deliveries written by
//! hand (not by the generator), each with a household that fires, one just below the line and
//! a trap that must not fire (its README.md says which is which), the `hedui.toml` that reads
//! them, and the batch's expected findings, evidence and outcomes in `expected/`, at the batch
//! date 2026-11-15 under `tests/golden/policy.toml` (the policy the goldens' lines were drawn
//! for: the shipped one of before issue #30, whose figures the households sit just above and
//! below; the shipped policy's own figures are tested by the generated province).
//!
//! Regenerate the expected files with `HEDUI_BLESS=1 cargo test --test it golden` and review
//! the diff: a changed line is a changed verdict.

use std::path::{Path, PathBuf};

use hedui::config::BatchConfig;
use hedui::engine::Engine;

/// The golden folders, sorted.
fn goldens() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("hedui.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// `evidence.parquet` as CSV text: every column, as text, in the file's order.
fn evidence_csv(path: &Path) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = false;
    for b in hedui::output::read_parquet(path).unwrap() {
        let schema = b.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if !header {
            w.write_record(&names).unwrap();
            header = true;
        }
        let cols: Vec<Vec<Option<String>>> = names
            .iter()
            .map(|n| hedui::output::text_column(&b, n).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            w.write_record(cols.iter().map(|c| c[i].clone().unwrap_or_default()))
                .unwrap();
        }
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// The batch of the golden folder `dir`: (file name, text) of each expected output.
fn batch_of(dir: &Path) -> Vec<(&'static str, String)> {
    let (cfg, base) = BatchConfig::load(&dir.join("hedui.toml")).unwrap();
    let plan = cfg.build(&base).unwrap();
    let work = tempfile::tempdir().unwrap();
    let ingest = work.path().join("ingest");
    hedui::ingest::ingest_blocking(&plan, &ingest).unwrap();
    let out = work.path().join("batch");
    std::fs::create_dir_all(&out).unwrap();
    let policy = hedui::policy::Policy::load(&dir.join("../policy.toml")).unwrap();
    let as_of = "2026-11-15".parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let verify = |out: &Path| {
        rt.block_on(async {
            let engine = Engine::open_with(&ingest, &plan.engine).await.unwrap();
            engine.verify(&policy, as_of, out, &|_| {}).await.unwrap()
        });
        let text = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
        vec![
            ("findings.csv", text("findings.csv")),
            ("evidence.csv", evidence_csv(&out.join("evidence.parquet"))),
            ("outcomes.csv", text("outcomes.csv")),
        ]
    };
    let got = verify(&out);
    // A snapshot staged before ingestion told the copies apart (no `_copy_of`): the engine
    // reads the linked members' rows to tell them, and comes to the same batch.
    if strip_copy_of(&ingest.join("staged")) {
        let before = work.path().join("before");
        std::fs::create_dir_all(&before).unwrap();
        assert_eq!(verify(&before), got, "{}", dir.display());
    }
    got
}

/// Rewrites each unread rows' file in `staged` without its `_copy_of` column; whether there
/// was one.
fn strip_copy_of(staged: &Path) -> bool {
    let mut any = false;
    for e in std::fs::read_dir(staged).unwrap() {
        let path = e.unwrap().path();
        if !path.to_string_lossy().ends_with(".unread.parquet") {
            continue;
        }
        let batches = hedui::output::read_parquet(&path).unwrap();
        let Some(first) = batches.first() else {
            continue;
        };
        let Ok(at) = first
            .schema()
            .index_of(hedui_schemas::catalog::COPY_OF_COLUMN)
        else {
            continue;
        };
        any = true;
        let mut b0 = first.clone();
        b0.remove_column(at);
        let schema = b0.schema();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema.clone(),
            None,
        )
        .unwrap();
        for mut b in batches {
            b.remove_column(at);
            w.write(&b).unwrap();
        }
        w.close().unwrap();
    }
    any
}

#[test]
fn every_golden_batch_gives_its_expected_findings_evidence_and_outcomes() {
    let bless = std::env::var_os("HEDUI_BLESS").is_some();
    let dirs = goldens();
    assert!(dirs.len() >= 4, "golden folders: {dirs:?}");
    let mut differ = Vec::new();
    for dir in &dirs {
        let rule = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            hedui_schemas::Rule::from_id(&rule).is_some(),
            "tests/golden/{rule} is named after no rule"
        );
        for (file, got) in batch_of(dir) {
            let path = dir.join("expected").join(file);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (HEDUI_BLESS=1 writes it)", path.display()));
            if got != want {
                differ.push(format!(
                    "tests/golden/{rule}/expected/{file}:\n--- expected\n{want}\n--- got\n{got}"
                ));
            }
        }
        // The rule the folder is named after fires in it.
        let findings = std::fs::read_to_string(dir.join("expected/findings.csv")).unwrap();
        assert!(
            findings.lines().any(|l| l.contains(&format!(",{rule},"))),
            "tests/golden/{rule}: no {rule} finding expected"
        );
    }
    assert!(differ.is_empty(), "{}", differ.join("\n\n"));
}
