//! `hedui simulate`: a published batch re-verified under a proposed policy, without
//! re-ingesting, compared household by household, and priced.

use std::collections::BTreeSet;
use std::process::Command;

use hedui::policy::Policy;

use crate::audit::{run_batch, small_province};

#[test]
fn raising_one_citys_standard_changes_exactly_the_households_between_the_old_and_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let batch = run_batch(
        small_province(),
        &dir.path().join("batches"),
        &Policy::default_policy(),
    );
    // Guangzhou's standard in force (1,282.00 from 2024-06-01) raised by 200 yuan.
    let (old, new) = (128_200i128, 148_200i128);
    let shipped = hedui::policy::DEFAULT_POLICY;
    assert_eq!(shipped.matches("dibao_yuan = \"1282.00\"").count(), 1);
    let text = shipped
        .replace("dibao_yuan = \"1282.00\"", "dibao_yuan = \"1482.00\"")
        .replace(
            "name = \"guangdong-default\"",
            "name = \"guangzhou-plus-200\"",
        );
    let proposed_path = dir.path().join("proposed.toml");
    std::fs::write(&proposed_path, &text).unwrap();
    let proposed = Policy::load(&proposed_path).unwrap();

    // The households between the lines, from the published metrics: Guangzhou's (any of its
    // counties), over the old income line and within the new one, or the same for assets.
    let mut between = BTreeSet::new();
    let mut guangzhou = 0;
    for b in hedui::output::read_parquet(&batch.dir.join("households.parquet")).unwrap() {
        let col = |n: &str| hedui::output::int_column(&b, n).unwrap();
        let ids = hedui::output::text_column(&b, "household_id").unwrap();
        let (region, counted, income, assets, mbp, months) = (
            col("region"),
            col("counted"),
            col("income_fen"),
            col("assets_fen"),
            col("multiple_bp"),
            col("months"),
        );
        for i in 0..b.num_rows() {
            if region[i].unwrap() / 100 != 4401 {
                continue;
            }
            guangzhou += 1;
            let c = i128::from(counted[i].unwrap());
            if c == 0 {
                continue;
            }
            let (m, months) = (i128::from(mbp[i].unwrap()), i128::from(months[i].unwrap()));
            let inc = i128::from(income[i].unwrap()) * 10_000;
            let ast = i128::from(assets[i].unwrap());
            let asset_months = 24;
            if (inc > m * old * c * months && inc <= m * new * c * months)
                || (ast > asset_months * old * c && ast <= asset_months * new * c)
            {
                between.insert(ids[i].clone().unwrap());
            }
        }
    }
    assert!(guangzhou > 100, "{guangzhou}");
    assert!(
        !between.is_empty(),
        "no Guangzhou household between the lines"
    );

    let scratch = dir.path().join("scratch");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(hedui::simulate::simulate(&batch.dir, &proposed, &scratch))
        .unwrap();
    assert!(
        !scratch.exists(),
        "the scratch folder (full IDs) is removed"
    );
    let changed: BTreeSet<String> = sim.changed.iter().map(|c| c.household_id.clone()).collect();
    assert_eq!(changed, between);
    for c in &sim.changed {
        assert_eq!(c.city, 440100);
        assert!(
            c.reasons
                .iter()
                .any(|r| r.contains("standard 1,282.00 元 -> 1,482.00 元")),
            "{c:?}"
        );
        assert!(
            c.reasons
                .iter()
                .any(|r| r.starts_with("finding ") && r.contains(" gone")),
            "{c:?}"
        );
    }
    // Other cities cost the same; Guangzhou's eligible households get more.
    for ((city, programme), c) in &sim.cost {
        if *city == 440100 {
            assert!(c.fen_after > c.fen_before, "{programme}: {c:?}");
            assert!(c.households_after >= c.households_before, "{c:?}");
        } else {
            assert_eq!(
                (c.households_before, c.fen_before),
                (c.households_after, c.fen_after),
                "{city} {programme}"
            );
        }
    }
    // Not a batch: the batch root holds the one batch it had, and it still verifies.
    let (ids, problems) = hedui::audit::verify_all(&dir.path().join("batches")).unwrap();
    assert_eq!((ids.len(), problems), (1, Vec::<String>::new()));

    // The command: the same files, byte for byte, twice; names in the terminal table.
    let run = |out: &std::path::Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_hedui"))
            .arg("simulate")
            .arg(&batch.dir)
            .arg("--policy")
            .arg(&proposed_path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let (a, b) = (dir.path().join("sim-a"), dir.path().join("sim-b"));
    let text = run(&a);
    run(&b);
    assert!(
        text.contains(&format!("{} change", between.len())) && text.contains("广州市 Guangzhou"),
        "{text}"
    );
    for f in [
        "changes.csv",
        "cost.csv",
        "simulation.json",
        "simulation.html",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let changes = std::fs::read_to_string(a.join("changes.csv")).unwrap();
    assert_eq!(changes.lines().count(), between.len() + 1);
    let html = std::fs::read_to_string(a.join("simulation.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("guangzhou-plus-200"),
        "{html}"
    );
}
