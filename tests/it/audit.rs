//! Audit: identical bytes across runs, replay, tamper detection, kills mid-batch, the lock,
//! and the diff between two nights.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use hedui::config::BatchConfig;
use hedui::policy::Policy;

use crate::common::{generate_into, read_csv};

/// A small province for the audit tests (1,500 households, seed 7).
pub(crate) fn small_province() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::common::fixture_dir("hedui-it-audit");
        generate_into(&dir, 1_500, 7);
        dir
    })
}

fn as_of() -> chrono::NaiveDate {
    hedui::generate::DEFAULT_AS_OF.parse().unwrap()
}

/// Runs a batch of `province` into `root` with `policy`.
pub(crate) fn run_batch(province: &Path, root: &Path, policy: &Policy) -> hedui::run::Batch {
    let (cfg, base) = BatchConfig::load(&province.join("hedui.toml")).unwrap();
    let plan = cfg.build(&base).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(hedui::run::run(
        &plan,
        policy,
        as_of(),
        root,
        &hedui::run::Progress::none(),
    ))
    .unwrap()
}

fn replay(batch: &Path) -> hedui::audit::Replay {
    let scratch = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(hedui::audit::replay(batch, &scratch.path().join("r")))
        .unwrap()
}

fn hedui() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hedui"))
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let t = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

#[test]
fn two_runs_give_identical_bytes_and_replay_reproduces_a_batch() {
    let root = tempfile::tempdir().unwrap();
    let policy = Policy::default_policy();
    let a = run_batch(small_province(), root.path(), &policy);
    let b = run_batch(small_province(), root.path(), &policy);
    assert_ne!(a.dir, b.dir);
    let ma = hedui::manifest::Manifest::read(&a.dir).unwrap();
    let mb = hedui::manifest::Manifest::read(&b.dir).unwrap();
    // Every file of the batch (staged snapshot, quarantine, ingest.json, outputs, copies)
    // has the same bytes; the summary differs only in the batch id, the manifest in id,
    // timings, chain link and the relative gate's baseline.
    let (mut fa, mut fb) = (ma.files.clone(), mb.files.clone());
    fa.remove("summary.json");
    fb.remove("summary.json");
    assert_eq!(fa, fb);
    let summary = |d: &Path| {
        std::fs::read_to_string(d.join("summary.json"))
            .unwrap()
            .replace(&d.file_name().unwrap().to_string_lossy().to_string(), "ID")
    };
    assert_eq!(summary(&a.dir), summary(&b.dir));
    assert!(ma.files.len() > 50, "{}", ma.files.len());
    // The sources' inputs are the same; the second names the first's accepted rows as the
    // baseline its relative gate compared with.
    let mut first = ma.sources.clone();
    for s in first.values_mut() {
        s.baseline_accepted = Some(s.accepted);
    }
    assert_eq!(first, mb.sources);
    assert_eq!(
        mb.previous.as_ref().unwrap().batch_id,
        ma.batch_id,
        "batches form a chain"
    );
    let r = replay(&a.dir);
    assert!(r.first_difference.is_none(), "{:?}", r.first_difference);
    assert_eq!(r.identical.len(), hedui::audit::replayed_files().len());
}

#[test]
fn a_batch_replays_with_its_own_standards_after_the_policy_file_changes() {
    // A batch run when Guangzhou's policy only had its 2023 standard (1,238 yuan) still
    // replays with it after the file gains the 2024 standard (1,282 yuan).
    let dir = tempfile::tempdir().unwrap();
    let full = hedui::policy::DEFAULT_POLICY;
    let cut = full.replace(
        "[[regions.standards]]\nfrom = \"2024-06-01\"\ndibao_yuan = \"1282.00\"",
        "[[regions.standards]]\nfrom = \"2099-01-01\"\ndibao_yuan = \"1282.00\"",
    );
    assert_ne!(
        cut, full,
        "the 2024 Guangzhou standard is in the shipped policy"
    );
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, &cut).unwrap();
    let old = Policy::load(&path).unwrap();
    let root = dir.path().join("batches");
    let batch = run_batch(small_province(), &root, &old);
    // The policy file gains the 2025 values.
    std::fs::write(&path, full).unwrap();
    let new = Policy::load(&path).unwrap();
    let r = replay(&batch.dir);
    assert!(r.first_difference.is_none(), "{:?}", r.first_difference);
    // And the change matters: a fresh run with the new file decides differently.
    let fresh = run_batch(small_province(), &root, &new);
    assert_ne!(
        std::fs::read(batch.dir.join("households.parquet")).unwrap(),
        std::fs::read(fresh.dir.join("households.parquet")).unwrap()
    );
    let text = std::fs::read_to_string(batch.dir.join("policy.toml")).unwrap();
    assert!(
        text.contains("2099-01-01"),
        "the batch keeps the policy it ran with"
    );
}

/// Rewrites a staged Parquet file with one more fen in the first row of an amount column.
fn change_one_staged_row(path: &Path, column: &str) {
    let batches = hedui::output::read_parquet(path).unwrap();
    let schema = batches[0].schema();
    let mut out = hedui::output::ParquetOut::create(path, schema.clone()).unwrap();
    for (n, b) in batches.iter().enumerate() {
        if n > 0 {
            out.write(b).unwrap();
            continue;
        }
        let idx = schema.index_of(column).unwrap();
        let col: Vec<Option<i64>> = hedui::output::int_column(b, column).unwrap();
        let changed: Vec<Option<i64>> = col
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 0 { v.map(|x| x + 1) } else { *v })
            .collect();
        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
        cols[idx] = Arc::new(Int64Array::from(changed));
        out.write(&RecordBatch::try_new(schema.clone(), cols).unwrap())
            .unwrap();
    }
    out.finish().unwrap();
}

#[test]
fn verify_detects_and_names_each_kind_of_tampering() {
    let clean = tempfile::tempdir().unwrap();
    let policy = Policy::default_policy();
    for _ in 0..3 {
        run_batch(small_province(), clean.path(), &policy);
    }
    let ids = hedui::publish::published(clean.path()).unwrap();
    assert_eq!(ids.len(), 3);
    let (_, problems) = hedui::audit::verify_all(clean.path()).unwrap();
    assert!(problems.is_empty(), "{problems:#?}");

    let tampered = |edit: &dyn Fn(&Path), expect: &str| {
        let root = tempfile::tempdir().unwrap();
        copy_tree(clean.path(), root.path());
        edit(root.path());
        let (_, problems) = hedui::audit::verify_all(root.path()).unwrap();
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected {expect:?} in {problems:#?}"
        );
        let out = hedui()
            .args(["verify", "--all", "--root"])
            .arg(root.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "verify exits 1");
        assert!(String::from_utf8_lossy(&out.stdout).contains(expect));
    };
    let first = ids[0].clone();
    let second = ids[1].clone();
    let f = first.clone();
    tampered(
        &move |r: &Path| {
            change_one_staged_row(&r.join(&f).join("ingest/staged/tax.parquet"), "income_fen")
        },
        &format!("{first}: ingest/staged/tax.parquet changed (a staged snapshot)"),
    );
    let f = first.clone();
    tampered(
        &move |r: &Path| {
            let p = r.join(&f).join("findings.csv");
            let mut text = std::fs::read_to_string(&p).unwrap();
            text.push_str("forged,row\n");
            std::fs::write(p, text).unwrap();
        },
        &format!("{first}: findings.csv changed (an output)"),
    );
    let f = second.clone();
    tampered(
        &move |r: &Path| {
            let p = r.join(&f).join("policy.toml");
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("1282.00", "1382.00");
            std::fs::write(p, text).unwrap();
        },
        &format!("{second}: policy.toml changed (the policy copy)"),
    );
    let f = first.clone();
    tampered(
        &move |r: &Path| {
            let p = r.join(&f).join("manifest.json");
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("\"guangdong-default\"", "\"guangdong-edited\"");
            std::fs::write(p, text).unwrap();
        },
        &format!("{second}: chain broken: the manifest of {first} changed"),
    );
    // The config and policy copies edited with their `files` hash in the manifest updated
    // too (a raised quarantine share, a lower standard): their own hashes, recorded when the
    // batch ran, still differ.
    for (copy, from, to, field) in [
        (
            "config.toml",
            "max_quarantine_share = 0.05",
            "max_quarantine_share = 0.9",
            "config_sha256",
        ),
        ("policy.toml", "1282.00", "1382.00", "policy_sha256"),
    ] {
        let f = second.clone();
        tampered(
            &move |r: &Path| {
                let dir = r.join(&f);
                let p = dir.join(copy);
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(text.contains(from), "{copy}");
                std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
                let mut m = hedui::manifest::Manifest::read(&dir).unwrap();
                m.files
                    .insert(copy.into(), hedui::manifest::hash_file(&p).unwrap());
                m.write(&dir).unwrap();
            },
            &format!("{second}: {copy} does not hash to the manifest's {field}"),
        );
    }
    let f = second.clone();
    tampered(
        &move |r: &Path| std::fs::remove_dir_all(r.join(&f)).unwrap(),
        &format!("chain broken: it follows {second}, which is not here"),
    );
    let f = first.clone();
    tampered(
        &move |r: &Path| std::fs::write(r.join(&f).join("extra.csv"), "x").unwrap(),
        &format!("{first}: extra.csv was added after publication"),
    );
}

#[test]
fn replay_names_the_first_file_and_row_that_differ() {
    let root = tempfile::tempdir().unwrap();
    let batch = run_batch(small_province(), root.path(), &Policy::default_policy());
    // The published outcomes lose their first household.
    let p = batch.dir.join("outcomes.parquet");
    let rows = hedui::output::read_parquet(&p).unwrap();
    let first = hedui::output::text_column(&rows[0], "household_id").unwrap()[0]
        .clone()
        .unwrap();
    let mut w = hedui::output::ParquetOut::create(&p, rows[0].schema()).unwrap();
    for (n, b) in rows.iter().enumerate() {
        w.write(&if n == 0 {
            b.slice(1, b.num_rows() - 1)
        } else {
            b.clone()
        })
        .unwrap();
    }
    w.finish().unwrap();
    let out = hedui().arg("replay").arg(&batch.dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("identical  findings.parquet")
            && text.contains("DIFFERS    outcomes.parquet: row 1 (household_id ")
            && text.contains(&format!("replayed \"{first}\""))
            && !text.contains("identical  outcomes.parquet"),
        "{text}"
    );
}

#[test]
fn a_second_run_on_a_locked_root_is_refused_naming_the_holder() {
    let root = tempfile::tempdir().unwrap();
    let _held = hedui::publish::RootLock::acquire(root.path(), "a nightly batch").unwrap();
    let out = hedui()
        .args(["run", "--as-of", "2026-11-15", "--config"])
        .arg(small_province().join("hedui.toml"))
        .arg("--out")
        .arg(root.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is locked by another run")
            && err.contains(&format!("pid {}", std::process::id()))
            && err.contains("a nightly batch"),
        "{err}"
    );
    assert!(hedui::publish::published(root.path()).unwrap().is_empty());
}

#[test]
fn a_run_killed_at_any_point_leaves_nothing_or_a_complete_batch() {
    let root = tempfile::tempdir().unwrap();
    let start = || {
        hedui()
            .args(["run", "--as-of", "2026-11-15", "--config"])
            .arg(small_province().join("hedui.toml"))
            .arg("--out")
            .arg(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // A full run, to know how long one takes here.
    let t = std::time::Instant::now();
    assert!(start().wait().unwrap().success());
    let full = t.elapsed();
    let mut finished = 1;
    for frac in [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.1] {
        let mut child = start();
        std::thread::sleep(full.mul_f64(frac));
        let done = child.try_wait().unwrap().is_some();
        if !done {
            child.kill().unwrap(); // SIGKILL: no cleanup runs
        }
        let status = child.wait().unwrap();
        if done && status.success() {
            finished += 1;
        }
        // Whatever was published is complete and verifies; nothing half-written is visible.
        let (ids, problems) = hedui::audit::verify_all(root.path()).unwrap();
        assert!(problems.is_empty(), "after a kill at {frac}: {problems:#?}");
        for id in &ids {
            assert!(root.path().join(id).join("manifest.json").is_file());
        }
        assert!(ids.len() >= finished, "{ids:?} {finished}");
    }
    // The next run completes despite the stale lock and partial folders left behind.
    let before = hedui::publish::published(root.path()).unwrap().len();
    assert!(start().wait().unwrap().success());
    let (ids, problems) = hedui::audit::verify_all(root.path()).unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(ids.len(), before + 1);
    assert_eq!(
        std::fs::read_dir(root.path().join(".partial"))
            .unwrap()
            .count(),
        0,
        "the unfinished batches were cleared"
    );
    // Every published batch is whole: the same outputs as the first.
    let outputs = |id: &String| {
        let mut f = hedui::manifest::Manifest::read(&root.path().join(id))
            .unwrap()
            .files;
        f.remove("summary.json");
        f
    };
    for id in &ids[1..] {
        assert_eq!(outputs(id), outputs(&ids[0]), "{id}");
    }
}

/// Rewrites a GBK CSV export through `edit` (lines without their terminators).
fn edit_gbk(path: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let bytes = std::fs::read(path).unwrap();
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad);
    let mut lines: Vec<String> = text.lines().map(|l| l.to_string()).collect();
    edit(&mut lines);
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    let (out, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    std::fs::write(path, out).unwrap();
}

// The deliveries a batch read are checked against the hashes its manifest recorded: a file
// edited after the batch read it, or gone, is named (by the library and by `hedui verify
// --inputs`), and the untouched deliveries pass.
#[test]
fn verify_checks_the_deliveries_against_the_hashes_the_batch_recorded() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(small_province(), dir.path());
    let root = dir.path().join("batches");
    let batch = run_batch(dir.path(), &root, &Policy::default_policy());
    let id = batch
        .dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let clean = hedui::audit::verify_inputs(&root, &id, dir.path()).unwrap();
    assert!(clean.is_empty(), "{clean:#?}");
    let vessel = dir.path().join("exports/vessel.csv");
    let mut bytes = std::fs::read(&vessel).unwrap();
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&vessel, bytes).unwrap();
    std::fs::remove_file(dir.path().join("exports/death.csv")).unwrap();
    let problems = hedui::audit::verify_inputs(&root, &id, dir.path()).unwrap();
    assert_eq!(
        problems,
        vec![
            format!(
                "{id}: input exports/death.csv of death is no longer under {}",
                dir.path().display()
            ),
            format!("{id}: input exports/vessel.csv of vessel changed since the batch read it"),
        ],
        "{problems:#?}"
    );
    let out = hedui()
        .arg("verify")
        .arg(&batch.dir)
        .arg("--inputs")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("input exports/vessel.csv of vessel changed"),
        "{text}"
    );
    // Without --inputs, the batch itself still verifies.
    let out = hedui().arg("verify").arg(&batch.dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// A household that became UNVERIFIED because a source went missing says which source, not an
// empty list of reasons.
#[test]
fn diff_names_the_sources_a_household_became_unverified_for() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(small_province(), dir.path());
    let root = dir.path().join("batches");
    let policy = Policy::default_policy();
    let night1 = run_batch(dir.path(), &root, &policy);
    std::fs::remove_file(dir.path().join("exports/vessel.csv")).unwrap();
    let night2 = run_batch(dir.path(), &root, &policy);
    let changes = hedui::audit::diff(&night1.dir, &night2.dir).unwrap();
    let unverified: Vec<_> = changes
        .iter()
        .filter(|c| c.before == "PASS" && c.after == "UNVERIFIED")
        .collect();
    assert!(!unverified.is_empty(), "{changes:#?}");
    for c in &changes {
        assert!(
            c.why.iter().any(|w| w == "sources missing: none -> vessel") || c.before != "PASS",
            "{c:#?}"
        );
    }
    let text = hedui::audit::render_diff("a", "b", &changes);
    assert!(text.contains("sources missing: none -> vessel"), "{text}");
}

#[test]
fn diff_between_two_nights_reports_the_planted_changes_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(small_province(), dir.path());
    let root = dir.path().join("batches");
    let policy = Policy::default_policy();
    let night1 = run_batch(dir.path(), &root, &policy);

    // Night 2: the registry of vessels lost the vessels of the flagged households, and one
    // PASS household's member now owns a car (a copy of a flagged household's car row with
    // a new owner and plate).
    let evidence = read_csv(&dir.path().join("truth/evidence.csv"));
    let vessel_households: std::collections::BTreeSet<String> = evidence
        .iter()
        .filter(|e| e["rule"] == "vessel_owned")
        .map(|e| e["household_id"].clone())
        .collect();
    let vessel_ids: Vec<String> = evidence
        .iter()
        .filter(|e| e["rule"] == "vessel_owned")
        .map(|e| e["record_key"].clone())
        .collect();
    assert!(!vessel_ids.is_empty());
    edit_gbk(&dir.path().join("exports/vessel.csv"), |lines| {
        lines.retain(|l| !vessel_ids.iter().any(|v| l.contains(v.as_str())))
    });
    // The smaller delivery is one the centre accepts: the vessel source's relative gate is
    // lowered for the night (otherwise, in a province with few vessels, the source fails the
    // gate and every household that a vessel could flag becomes UNVERIFIED).
    let config = dir.path().join("hedui.toml");
    let (mut cfg, _) = BatchConfig::load(&config).unwrap();
    cfg.sources
        .get_mut("vessel")
        .unwrap()
        .gates
        .min_accepted_vs_previous = Some(0.5);
    std::fs::write(&config, cfg.to_toml("").unwrap()).unwrap();
    let car = evidence
        .iter()
        .find(|e| e["rule"] == "vehicle_owned")
        .unwrap()
        .clone();
    // A PASS household whose members all count: take its first member from the staged
    // applications of night 1.
    let households = read_csv(&dir.path().join("truth/households.csv"));
    let pass = households
        .iter()
        .find(|h| h["outcome"] == "PASS" && h["declared"] == h["counted"] && h["kind"] == "new")
        .or_else(|| {
            households
                .iter()
                .find(|h| h["outcome"] == "PASS" && h["declared"] == h["counted"])
        })
        .unwrap()
        .clone();
    let apps = hedui::output::read_parquet(&night1.dir.join("ingest/staged/applications.parquet"))
        .unwrap();
    let mut member = None;
    for b in &apps {
        let h = hedui::output::text_column(b, "household_id").unwrap();
        let k = hedui::output::int_column(b, "person_key").unwrap();
        for i in 0..b.num_rows() {
            if h[i].as_deref() == Some(pass["household_id"].as_str()) && member.is_none() {
                member = Some(
                    hedui_schemas::ResidentId::unpack(k[i].unwrap())
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    let member = member.unwrap();
    edit_gbk(&dir.path().join("exports/vehicle.csv"), |lines| {
        let row = lines
            .iter()
            .find(|l| l.contains(car["record_key"].as_str()))
            .unwrap()
            .clone();
        let owner = row.split(',').next().unwrap().to_string();
        lines.push(
            row.replacen(&owner, &member, 1)
                .replace(car["record_key"].as_str(), "粤Z99999"),
        );
    });
    let night2 = run_batch(dir.path(), &root, &policy);

    let changes = hedui::audit::diff(&night1.dir, &night2.dir).unwrap();
    let changed: std::collections::BTreeSet<String> =
        changes.iter().map(|c| c.household_id.clone()).collect();
    let mut want = vessel_households.clone();
    want.insert(pass["household_id"].clone());
    assert_eq!(changed, want, "{changes:#?}");
    for c in &changes {
        if c.household_id == pass["household_id"] {
            assert_eq!(
                (c.kind, c.before.as_str(), c.after.as_str()),
                ("newly flagged", "PASS", "FLAG")
            );
            assert!(
                c.why
                    .iter()
                    .any(|w| w.starts_with("new finding vehicle_owned"))
                    && c.why
                        .iter()
                        .any(|w| w.contains("record added: vehicle_owned vehicle 粤Z99999")),
                "{c:?}"
            );
        } else {
            assert!(
                c.why
                    .iter()
                    .any(|w| w.starts_with("finding vessel_owned gone"))
                    && c.why
                        .iter()
                        .any(|w| w.starts_with("record gone: vessel_owned vessel")),
                "{c:?}"
            );
            assert!(
                matches!(c.kind, "cleared" | "findings changed" | "outcome changed"),
                "{c:?}"
            );
        }
    }
    // The command prints the same.
    let out = hedui()
        .arg("diff")
        .arg(&night1.dir)
        .arg(&night2.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains(&format!("{} households changed", want.len()))
            && text.contains("newly flagged"),
        "{text}"
    );
}

#[test]
fn a_delivery_cut_in_half_fails_its_source_in_the_next_nightly_run() {
    // Night one: the province as delivered. Night two, into the same root: the pension
    // office's file cut to half its rows. Each `hedui run` ingests into a fresh folder; the
    // relative gate takes its baseline from the batch published before, so the halved
    // delivery fails its source and no household that needs it can PASS.
    let province = tempfile::tempdir().unwrap();
    copy_tree(small_province(), province.path());
    let root = tempfile::tempdir().unwrap();
    let policy = Policy::default_policy();
    let first = run_batch(province.path(), root.path(), &policy);
    assert!(first.ingest.failed.is_empty(), "{:?}", first.ingest.failed);
    let pension = province.path().join("exports/pension.csv");
    let bytes = std::fs::read(&pension).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let half = lines.len() / 2;
    std::fs::write(&pension, lines[..half].concat()).unwrap();
    let second = run_batch(province.path(), root.path(), &policy);
    let r = &second.ingest.sources["pension"];
    assert_eq!(second.ingest.failed, ["pension"], "{r:?}");
    let error = r.error.as_deref().unwrap();
    let before = first.ingest.sources["pension"].accepted;
    assert!(
        error.contains("quality gate") && error.contains(&format!("previous snapshot's {before}")),
        "{error}"
    );
    let manifest = hedui::manifest::Manifest::read(&second.dir).unwrap();
    assert_eq!(manifest.sources["pension"].baseline_accepted, Some(before));
    assert_eq!(manifest.sources["pension"].status, "failed");
    let outcomes = read_csv(&second.dir.join("outcomes.csv"));
    assert!(outcomes.iter().all(|o| o["outcome"] != "PASS"));
    assert!(
        outcomes
            .iter()
            .filter(|o| o["outcome"] == "UNVERIFIED")
            .all(|o| o["unverified_sources"].contains("pension"))
    );
    assert!(
        second
            .summary
            .outcomes
            .get("UNVERIFIED")
            .copied()
            .unwrap_or(0)
            >= first.summary.outcomes.get("PASS").copied().unwrap_or(0)
    );
    // The same deliveries again the night after the first give the same ingest.json: the
    // baseline is in the manifest, not in the ingest report.
    let third_root = tempfile::tempdir().unwrap();
    copy_tree(small_province(), province.path());
    let a = run_batch(province.path(), third_root.path(), &policy);
    let b = run_batch(province.path(), third_root.path(), &policy);
    assert_eq!(
        std::fs::read(a.dir.join("ingest/ingest.json")).unwrap(),
        std::fs::read(b.dir.join("ingest/ingest.json")).unwrap()
    );
}

#[test]
fn the_check_catches_a_pass_over_an_unreadable_record() {
    // The demo's check reads the batch's quarantine, members and outcomes itself: a batch
    // whose household with unreadable records about a member says PASS fails it.
    let root = tempfile::tempdir().unwrap();
    let batch = run_batch(small_province(), root.path(), &Policy::default_policy());
    let mut examples = Vec::new();
    assert_eq!(
        hedui::check::pass_with_unreadable(&batch.dir, &mut examples).unwrap(),
        0
    );
    let outcomes_path = batch.dir.join("outcomes.parquet");
    let outcomes = hedui::output::read_parquet(&outcomes_path).unwrap();
    // The households with an unreadable record whose subject's ID reads (a record the
    // linkage attributed, its ID mistyped, is not among what the check reads back).
    let mut review: std::collections::HashSet<String> = std::collections::HashSet::new();
    for b in hedui::output::read_parquet(&batch.dir.join("evidence.parquet")).unwrap() {
        let hh = hedui::output::text_column(&b, "household_id").unwrap();
        let rule = hedui::output::text_column(&b, "rule").unwrap();
        let key = hedui::output::text_column(&b, "record_key").unwrap();
        for i in 0..b.num_rows() {
            let k = key[i].clone().unwrap_or_default();
            if rule[i].as_deref() == Some("unreadable_records")
                && !k.ends_with(" linked")
                && !k.ends_with(" ambiguous")
            {
                review.insert(hh[i].clone().unwrap());
            }
        }
    }
    assert!(!review.is_empty());
    let mut turned = 0;
    let rewritten: Vec<RecordBatch> = outcomes
        .iter()
        .map(|b| {
            let hh = hedui::output::text_column(b, "household_id").unwrap();
            let o = hedui::output::text_column(b, "outcome").unwrap();
            let new: arrow::array::StringArray = (0..b.num_rows())
                .map(|i| {
                    let h = hh[i].clone().unwrap();
                    if review.contains(&h) && o[i].as_deref() == Some("REVIEW") {
                        turned += 1;
                        Some("PASS".to_string())
                    } else {
                        o[i].clone()
                    }
                })
                .collect();
            let mut cols: Vec<ArrayRef> = b.columns().to_vec();
            cols[b.schema().index_of("outcome").unwrap()] = Arc::new(new);
            RecordBatch::try_new(b.schema(), cols).unwrap()
        })
        .collect();
    assert!(turned > 0);
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&outcomes_path).unwrap(),
        rewritten[0].schema(),
        None,
    )
    .unwrap();
    for b in &rewritten {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let n = hedui::check::pass_with_unreadable(&batch.dir, &mut examples).unwrap();
    assert_eq!(n, turned, "{examples:?}");
}

/// Runs a batch of `province` into `root` signed with the secret key at `key`.
fn run_signed(province: &Path, root: &Path, key: &Path) -> hedui::Result<hedui::run::Batch> {
    run_signed_after(province, root, key, &[])
}

/// [`run_signed`], accepting the chain signed by the public keys `previous`.
fn run_signed_after(
    province: &Path,
    root: &Path,
    key: &Path,
    previous: &[PathBuf],
) -> hedui::Result<hedui::run::Batch> {
    let (mut cfg, base) = BatchConfig::load(&province.join("hedui.toml")).unwrap();
    cfg.signing.key = Some(key.to_path_buf());
    cfg.signing.previous_keys = previous.to_vec();
    let plan = cfg.build(&base).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(hedui::run::run(
        &plan,
        &Policy::default_policy(),
        as_of(),
        root,
        &hedui::run::Progress::none(),
    ))
}

/// Sets one file's hash in batch `dir`'s manifest to what it is now.
fn rehash(dir: &Path, rel: &str) {
    let mut m = hedui::manifest::Manifest::read(dir).unwrap();
    m.files.insert(
        rel.into(),
        hedui::manifest::hash_file(&dir.join(rel)).unwrap(),
    );
    m.write(dir).unwrap();
}

/// Points batch `id`'s link at its predecessor's manifest as it is now.
fn relink(root: &Path, id: &str) {
    let dir = root.join(id);
    let mut m = hedui::manifest::Manifest::read(&dir).unwrap();
    let prev = m.previous.as_mut().unwrap();
    let bytes = std::fs::read(root.join(&prev.batch_id).join("manifest.json")).unwrap();
    prev.manifest_sha256 = hedui::manifest::hash_bytes(&bytes);
    m.write(&dir).unwrap();
}

// The three tamperings the hash chain alone cannot see (the newest batch edited with its
// manifest, the newest batch deleted, every later link re-hashed after a middle edit) pass a
// keyless verify and are each named with the key; a recorded head that was removed is named;
// a run refuses to extend a chain whose head does not check; the key cannot live in the root;
// and openssl checks a manifest signature with the same public key file.
#[test]
fn signed_manifests_detect_what_the_chain_alone_cannot() {
    let keys = tempfile::tempdir().unwrap();
    let prefix = keys.path().join("site");
    let out = hedui()
        .args(["key", "generate", "--out"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (secret, public) = (keys.path().join("site.key"), keys.path().join("site.pub"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = hedui()
        .args(["key", "generate", "--out"])
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(!again.status.success(), "a key is never overwritten");
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));

    let clean = tempfile::tempdir().unwrap();
    // One batch before signing began, then three signed ones.
    run_batch(small_province(), clean.path(), &Policy::default_policy());
    for _ in 0..3 {
        run_signed(small_province(), clean.path(), &secret).unwrap();
    }
    let ids = hedui::publish::published(clean.path()).unwrap();
    assert_eq!(ids.len(), 4);
    let pubkey = hedui::signing::read_public(&public).unwrap();
    let report =
        hedui::signing::verify_chain(clean.path(), &ids, std::slice::from_ref(&pubkey)).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.unsigned_before_signing, vec![ids[0].clone()]);
    let newest = ids[3].clone();
    let head = hedui::manifest::hash_bytes(
        &std::fs::read(clean.path().join(&newest).join("manifest.json")).unwrap(),
    );
    let out = hedui()
        .args(["verify", "--all", "--root"])
        .arg(clean.path())
        .arg("--key")
        .arg(&public)
        .args(["--expect-head", &head])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("head: {newest} {head}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 batches published before signing began"),
        "{stdout}"
    );
    assert!(stdout.contains("every signature checks"), "{stdout}");

    // openssl reads the same key files and checks the same signature.
    if Path::new("/usr/bin/openssl").exists() {
        let dir = clean.path().join(&newest);
        let out = Command::new("/usr/bin/openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
            .arg(&public)
            .arg("-in")
            .arg(dir.join("manifest.json"))
            .arg("-sigfile")
            .arg(dir.join("manifest.json.sig"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    // Each tampering: invisible to the chain alone (where it says so), named with the key.
    let tampered = |edit: &dyn Fn(&Path), chain_sees_it: bool, expect: &str| {
        let root = tempfile::tempdir().unwrap();
        copy_tree(clean.path(), root.path());
        edit(root.path());
        let (ids, problems) = hedui::audit::verify_all(root.path()).unwrap();
        assert_eq!(
            !problems.is_empty(),
            chain_sees_it,
            "{expect}: {problems:#?}"
        );
        let report =
            hedui::signing::verify_chain(root.path(), &ids, std::slice::from_ref(&pubkey)).unwrap();
        assert!(
            report.problems.iter().any(|p| p.contains(expect)),
            "expected {expect:?} in {:#?}",
            report.problems
        );
        let out = hedui()
            .args(["verify", "--all", "--root"])
            .arg(root.path())
            .arg("--key")
            .arg(&public)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "verify --key exits 1");
        assert!(String::from_utf8_lossy(&out.stdout).contains(expect));
        root
    };
    // 1. The newest batch's findings and its manifest edited together.
    let n = newest.clone();
    let root = tampered(
        &move |r: &Path| {
            let dir = r.join(&n);
            let p = dir.join("findings.csv");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, text.lines().take(2).collect::<Vec<_>>().join("\n")).unwrap();
            rehash(&dir, "findings.csv");
        },
        false,
        &format!("{newest}: the manifest's signature does not verify"),
    );
    // The same, verifying that one batch: named with the key, and the clean one passes.
    let verify_one = |batch: &Path| {
        hedui()
            .arg("verify")
            .arg(batch)
            .arg("--key")
            .arg(&public)
            .output()
            .unwrap()
    };
    let out = verify_one(&root.path().join(&newest));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "{newest}: the manifest's signature does not verify"
        )),
        "{out:?}"
    );
    let out = verify_one(&clean.path().join(&newest));
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("every signature checks"),
        "{out:?}"
    );
    // 2. The newest batch deleted, and with it the head.
    let n = newest.clone();
    tampered(
        &move |r: &Path| std::fs::remove_dir_all(r.join(&n)).unwrap(),
        false,
        &format!("the signed head names batch {newest}, which is not here"),
    );
    let n = newest.clone();
    let root = tampered(
        &move |r: &Path| {
            std::fs::remove_dir_all(r.join(&n)).unwrap();
            std::fs::remove_file(r.join("head.json")).unwrap();
        },
        false,
        "no signed head (head.json)",
    );
    // A recorded head shows the deletion without any key, and a run refuses to cover it.
    let out = hedui()
        .args(["verify", "--all", "--root"])
        .arg(root.path())
        .args(["--expect-head", &head])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("the recorded head {head} is not in the chain")),
        "{out:?}"
    );
    let err = run_signed(small_province(), root.path(), &secret)
        .err()
        .expect("a run over a chain without its head is refused")
        .to_string();
    assert!(err.contains("there is no signed head"), "{err}");
    // 3. A middle batch edited and every later link re-hashed.
    let later: Vec<String> = ids[2..].to_vec();
    let middle = ids[1].clone();
    let m = middle.clone();
    tampered(
        &move |r: &Path| {
            let dir = r.join(&m);
            std::fs::write(dir.join("findings.csv"), "household_id\n").unwrap();
            rehash(&dir, "findings.csv");
            for id in &later {
                relink(r, id);
            }
        },
        false,
        &format!("{middle}: the manifest's signature does not verify"),
    );

    // After the newest batch is deleted (head left), the next signed run refuses.
    let root = tempfile::tempdir().unwrap();
    copy_tree(clean.path(), root.path());
    std::fs::remove_dir_all(root.path().join(&newest)).unwrap();
    let err = run_signed(small_province(), root.path(), &secret)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("which is not here"), "{err}");
    assert_eq!(hedui::publish::published(root.path()).unwrap().len(), 3);

    // A key inside the batch root is refused before anything runs.
    let inside = tempfile::tempdir().unwrap();
    let key_in_root = inside.path().join("site.key");
    std::fs::copy(&secret, &key_in_root).unwrap();
    let err = run_signed(small_province(), inside.path(), &key_in_root)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("inside the batch root"), "{err}");
    assert!(hedui::publish::published(inside.path()).unwrap().is_empty());

    // A new key: refused over the old key's head until the old public key is named, then the
    // chain goes on; verify needs both public keys.
    let new_prefix = keys.path().join("site2");
    assert!(
        hedui()
            .args(["key", "generate", "--out"])
            .arg(&new_prefix)
            .status()
            .unwrap()
            .success()
    );
    let (secret2, public2) = (keys.path().join("site2.key"), keys.path().join("site2.pub"));
    let root = tempfile::tempdir().unwrap();
    copy_tree(clean.path(), root.path());
    let err = run_signed(small_province(), root.path(), &secret2)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("previous_keys"), "{err}");
    run_signed_after(
        small_province(),
        root.path(),
        &secret2,
        std::slice::from_ref(&public),
    )
    .unwrap();
    let verify_with = |keys: &[&Path]| {
        let mut cmd = hedui();
        cmd.args(["verify", "--all", "--root"]).arg(root.path());
        for k in keys {
            cmd.arg("--key").arg(k);
        }
        cmd.output().unwrap()
    };
    let both = verify_with(&[&public, &public2]);
    assert!(both.status.success(), "{both:?}");
    let new_only = verify_with(&[&public2]);
    assert_eq!(new_only.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&new_only.stdout)
            .contains("the manifest's signature does not verify"),
        "{new_only:?}"
    );
}

/// A tmpfs of `kib` KiB mounted on a fresh folder, unmounted when dropped; None when this
/// process may not mount (not root). As root the mount must work.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(kib: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                !nix_is_root(),
                "mounting a tmpfs failed though this runs as root"
            );
            eprintln!("skipping: mounting a small disk needs root");
            return None;
        }
        Some(SmallDisk { dir })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

// A run on a disk too small for it, at sizes that fill it during ingestion and during the
// verification stages: it says the disk is full (not that a source failed), exits 1, and
// leaves nothing under the root but the lock file. `hedui ingest` into a folder whose disk
// fills keeps the previous snapshot as it was.
#[test]
fn a_run_on_a_full_disk_says_so_and_leaves_nothing_behind() {
    let province = small_province();
    let config = province.join("hedui.toml");
    let mut stages = BTreeSet::new();
    for kib in [1024, 2048, 2600, 2900, 3100, 3300, 3500, 3700] {
        let Some(disk) = SmallDisk::mount(kib) else {
            return;
        };
        let root = disk.dir.path().join("batches");
        let out = hedui()
            .args(["run", "--as-of", "2026-11-15", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&root)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            let (_, problems) = hedui::audit::verify_all(&root).unwrap();
            assert!(problems.is_empty(), "{kib} KiB: {problems:?}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{kib} KiB: {stderr}");
        assert!(
            stderr.contains("Error: the disk is full: "),
            "{kib} KiB: {stderr}"
        );
        assert!(
            !stderr.contains("source failed"),
            "a full disk is not a source's failure: {stderr}"
        );
        assert_eq!(tree(&root), vec![".lock"], "{kib} KiB: {stderr}");
        stages.insert(if stderr.contains("/ingest/") {
            "ingest"
        } else {
            "verification"
        });
    }
    assert_eq!(
        stages.into_iter().collect::<Vec<_>>(),
        ["ingest", "verification"],
        "the disk filled in both parts of the run"
    );

    // Room for one snapshot, not two: the second ingest fails and the first stays.
    let Some(disk) = SmallDisk::mount(4500) else {
        return;
    };
    let folder = disk.dir.path().join("ingest");
    let ingest = || {
        hedui()
            .args(["ingest", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&folder)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let first = ingest();
    assert!(first.status.success(), "{first:?}");
    let snapshot = || {
        let mut files = hedui::manifest::hash_tree(&folder).unwrap();
        files.remove(".lock");
        files
    };
    let before = snapshot();
    let second = ingest();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the disk is full"), "{stderr}");
    assert_eq!(
        snapshot(),
        before,
        "the previous snapshot is as it was, and nothing was added"
    );
}
