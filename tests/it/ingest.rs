//! Ingestion: counts reconcile with the planted truth, failures and gates, staged output.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use hedui::config::BatchConfig;
use hedui::ingest::{IngestReport, ingest_blocking};
use hedui_connectors::ingest::Status;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::province;

/// Ingests `province_dir` with its generated config (edited by `edit`) into `out`.
pub fn ingest(
    province_dir: &Path,
    out: &Path,
    edit: impl FnOnce(&mut BatchConfig),
) -> IngestReport {
    let (mut cfg, base) = BatchConfig::load(&province_dir.join("hedui.toml")).unwrap();
    edit(&mut cfg);
    let plan = cfg.build(&base).unwrap();
    ingest_blocking(&plan, out).unwrap()
}

fn parquet_rows(path: &Path) -> Vec<arrow::array::RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

#[test]
fn counts_reconcile_and_equal_the_planted_quarantine() {
    let out = tempfile::tempdir().unwrap();
    let report = ingest(province(), out.path(), |_| {});
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let leftovers: Vec<_> = std::fs::read_dir(out.path().join("staged"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().ends_with(".parquet"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no partial or spill files are left: {leftovers:?}"
    );
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(province().join("truth/quarantine.json")).unwrap(),
    )
    .unwrap();
    for s in hedui_schemas::all_sources() {
        let r = &report.sources[s.id];
        assert_eq!(r.status, Status::Ok, "{}: {:?}", s.id, r.error);
        assert_eq!(r.read, r.accepted + r.quarantined, "{}", s.id);
        let t = &truth[s.id];
        assert_eq!(Some(r.read), t["read"].as_u64(), "{} read", s.id);
        assert_eq!(
            Some(r.accepted),
            t["accepted"].as_u64(),
            "{} accepted",
            s.id
        );
        let want: BTreeMap<String, u64> = serde_json::from_value(t["by_reason"].clone()).unwrap();
        assert_eq!(r.by_reason, want, "{} quarantine by reason", s.id);
        // The staged snapshot holds exactly the accepted rows, in the catalog's schema.
        let staged = parquet_rows(&out.path().join(r.staged.as_ref().unwrap()));
        let rows: usize = staged.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows as u64, r.accepted, "{}", s.id);
        if let Some(b) = staged.first() {
            assert_eq!(b.schema().fields(), s.staged_schema().fields(), "{}", s.id);
        }
        let q = parquet_rows(&out.path().join(r.quarantine.as_ref().unwrap()));
        assert_eq!(
            q.iter().map(|b| b.num_rows()).sum::<usize>() as u64,
            r.quarantined,
            "{}",
            s.id
        );
    }
    // Every quarantined row names its file and line, and they are the planted dirty rows.
    let dirty: HashMap<(String, u64), String> =
        crate::common::read_csv(&province().join("truth/dirty_rows.csv"))
            .into_iter()
            .filter(|r| r["source"] == "hukou")
            .map(|r| {
                (
                    (format!("exports/{}", r["file"]), r["line"].parse().unwrap()),
                    r["expected"].clone(),
                )
            })
            .collect();
    for b in parquet_rows(&out.path().join("quarantine/hukou.parquet")) {
        let file = arrow::compute::cast(
            b.column_by_name("file").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let reason = arrow::compute::cast(
            b.column_by_name("reason").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let line = b
            .column_by_name("line")
            .unwrap()
            .as_primitive::<Int64Type>();
        let record = b.column_by_name("record").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            let key = (
                file.as_string::<i32>().value(i).to_string(),
                line.value(i) as u64,
            );
            let reason = reason.as_string::<i32>().value(i);
            assert_eq!(dirty.get(&key).map(String::as_str), Some(reason), "{key:?}");
            if reason == "duplicate_row" {
                // A duplicate points at its first occurrence, the line before it here.
                assert_eq!(
                    record.value(i),
                    format!("duplicate of exports/hukou.csv:{}", key.1 - 1)
                );
            } else {
                assert!(record.value(i).starts_with('['), "the record as delivered");
            }
        }
    }
}

#[test]
fn gbk_text_decodes_to_the_same_names_as_utf8() {
    // Applicants appear in the UTF-8 applications file and the GBK household registration:
    // their names must come out identical.
    let out = tempfile::tempdir().unwrap();
    let report = ingest(province(), out.path(), |cfg| {
        cfg.sources
            .retain(|k, _| k == "applications" || k == "hukou")
    });
    assert_eq!(
        report.failed.len(),
        hedui_schemas::all_sources().len() - 2,
        "only two sources configured"
    );
    let names = |src: &str| -> HashMap<i64, String> {
        let mut m = HashMap::new();
        for b in parquet_rows(&out.path().join(format!("staged/{src}.parquet"))) {
            let k = b
                .column_by_name("person_key")
                .unwrap()
                .as_primitive::<Int64Type>();
            let n = b.column_by_name("name").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                m.insert(k.value(i), n.value(i).to_string());
            }
        }
        m
    };
    let (apps, hukou) = (names("applications"), names("hukou"));
    let mut compared = 0;
    for (k, n) in &apps {
        if let Some(h) = hukou.get(k) {
            assert_eq!(n, h);
            assert!(
                n.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{n}"
            );
            compared += 1;
        }
    }
    assert!(compared > 10_000, "{compared}");
}

#[test]
fn a_missing_source_fails_alone_and_unconfigured_sources_fail() {
    let out = tempfile::tempdir().unwrap();
    let report = ingest(province(), out.path(), |cfg| {
        let c = cfg.sources.get_mut("vehicle").unwrap();
        c.connector = hedui_connectors::config::Connector::Csv {
            path: "exports/no_such_vehicle_export.csv".into(),
            encoding: hedui_schemas::Encoding::Gbk,
            delimiter: ',',
            quote: '"',
        };
        cfg.sources.remove("vessel");
    });
    assert_eq!(
        report.failed,
        vec!["vehicle".to_string(), "vessel".to_string()]
    );
    let err = report.sources["vehicle"].error.as_deref().unwrap();
    assert!(
        err.contains("vehicle") && err.contains("no_such_vehicle_export.csv"),
        "{err}"
    );
    assert!(
        report.sources["vessel"]
            .error
            .as_deref()
            .unwrap()
            .contains("not configured")
    );
    assert!(!out.path().join("staged/vehicle.parquet").exists());
    assert_eq!(report.sources["hukou"].status, Status::Ok);
}

#[test]
fn a_broken_header_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("exports")).unwrap();
    std::fs::write(
        dir.path().join("exports/applications.csv"),
        "家庭编号,救助类别\nH1,低保\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("hedui.toml"),
        BatchConfig::for_generated().to_toml("").unwrap(),
    )
    .unwrap();
    let report = ingest(dir.path(), &dir.path().join("ingest"), |cfg| {
        cfg.sources.retain(|k, _| k == "applications")
    });
    let err = report.sources["applications"].error.as_deref().unwrap();
    assert!(
        err.contains("applications")
            && err.contains("applications.csv")
            && err.contains("行政区划代码"),
        "{err}"
    );
}

#[test]
fn a_source_cut_to_half_trips_its_gate() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::generate_into(dir.path(), 1_500, 5);
    let out = dir.path().join("ingest");
    let first = ingest(dir.path(), &out, |_| {});
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    // As an ingest stopped while moving its snapshot in leaves the folder: no ingest.json, the
    // previous report set aside. The next ingest's gates still compare with it.
    std::fs::rename(out.join("ingest.json"), out.join(".old-ingest.json")).unwrap();
    // The department resends pension.csv cut to half its rows.
    let path = dir.path().join("exports/pension.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..lines.len() / 2].join("\n") + "\n").unwrap();
    let second = ingest(dir.path(), &out, |_| {});
    assert_eq!(second.failed, vec!["pension".to_string()]);
    let err = second.sources["pension"].error.as_deref().unwrap();
    assert!(
        err.contains("quality gate") && err.contains("previous snapshot"),
        "{err}"
    );
    assert!(
        !out.join("staged/pension.parquet").exists(),
        "no staged snapshot for a failed source"
    );
    assert_eq!(
        second.sources["pension"].previous_accepted,
        first.sources["pension"].accepted.into()
    );
    assert!(out.join("ingest.json").is_file());
    assert!(!out.join(".old-ingest.json").exists());
}

#[test]
fn a_source_over_its_quarantine_share_fails() {
    let out = tempfile::tempdir().unwrap();
    let report = ingest(province(), out.path(), |cfg| {
        cfg.sources
            .get_mut("tax")
            .unwrap()
            .gates
            .max_quarantine_share = Some(0.001);
    });
    assert_eq!(report.failed, vec!["tax".to_string()]);
    assert!(
        report.sources["tax"]
            .error
            .as_deref()
            .unwrap()
            .contains("more than the limit of 0.1%")
    );
}

#[test]
fn ingesting_twice_writes_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let keep = |cfg: &mut BatchConfig| {
        cfg.sources.retain(|k, _| {
            ["applications", "bank_deposit", "tax", "business"].contains(&k.as_str())
        })
    };
    ingest(province(), a.path(), keep);
    ingest(province(), b.path(), keep);
    for f in [
        "ingest.json",
        "staged/bank_deposit.parquet",
        "staged/tax.parquet",
        "staged/business.parquet",
        "quarantine/tax.parquet",
    ] {
        assert_eq!(
            std::fs::read(a.path().join(f)).unwrap(),
            std::fs::read(b.path().join(f)).unwrap(),
            "{f}"
        );
    }
    let r: IngestReport =
        serde_json::from_str(&std::fs::read_to_string(a.path().join("ingest.json")).unwrap())
            .unwrap();
    assert_eq!(
        r.sources["bank_deposit"].files.len(),
        6,
        "one file per bank"
    );
}

#[test]
fn ids_that_normalise_come_out_as_the_real_person() {
    // 15-digit IDs, full-width digits, lowercase x and stray spaces: accepted, and packed to
    // the key of the person the generator meant.
    let out = tempfile::tempdir().unwrap();
    let keep = ["applications", "hukou", "tax", "business", "provident_fund"];
    ingest(province(), out.path(), |cfg| {
        cfg.sources.retain(|k, _| keep.contains(&k.as_str()))
    });
    let want: HashMap<(String, String, u64), i64> =
        crate::common::read_csv(&province().join("truth/dirty_rows.csv"))
            .into_iter()
            .filter(|r| r["expected"] == "accepted" && keep.contains(&r["source"].as_str()))
            .map(|r| {
                let key = hedui_schemas::ResidentId::parse(&r["person_id"])
                    .unwrap()
                    .pack();
                (
                    (
                        r["source"].clone(),
                        format!("exports/{}", r["file"]),
                        r["line"].parse().unwrap(),
                    ),
                    key,
                )
            })
            .collect();
    assert!(want.len() > 100, "{}", want.len());
    let mut found = 0;
    for src in keep {
        let def = hedui_schemas::source(src).unwrap();
        let key_col = format!("{}_key", def.subject().name);
        for b in parquet_rows(&out.path().join(format!("staged/{src}.parquet"))) {
            let file = arrow::compute::cast(
                b.column_by_name("_file").unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let file = file.as_string::<i32>();
            let line = b
                .column_by_name("_line")
                .unwrap()
                .as_primitive::<Int64Type>();
            let key = b
                .column_by_name(&key_col)
                .unwrap()
                .as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                if let Some(k) = want.get(&(
                    src.to_string(),
                    file.value(i).to_string(),
                    line.value(i) as u64,
                )) {
                    assert_eq!(
                        key.value(i),
                        *k,
                        "{src} {}:{}",
                        file.value(i),
                        line.value(i)
                    );
                    found += 1;
                }
            }
        }
    }
    assert_eq!(found, want.len(), "every normalised row is staged");
}
