//! Criterion micro-benchmarks: resident ID validation and packing, and CSV decoding of a
//! department export in UTF-8 and in GBK (the connectors' own streaming reader: decode,
//! split, map columns to catalog fields).
//!
//! `cargo bench -p hedui-benches --bench micro`

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hedui_schemas::ResidentId;

/// Resident IDs as departments deliver them: clean, lowercase x, full-width digits, spaces.
fn raw_ids() -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..1_000u64 {
        // Address 440106, born 1980-01-01, sequence i.
        let Some(id) = ResidentId::from_body(44_010_619_800_101_000 + i) else {
            continue;
        };
        let s = id.to_string();
        out.push(match i % 4 {
            0 => s,
            1 => s.to_lowercase(),
            2 => format!(" {s} "),
            _ => s
                .chars()
                .map(|c| {
                    c.to_digit(10)
                        .map(|d| char::from_u32(0xFF10 + d).unwrap_or(c))
                        .unwrap_or(c)
                })
                .collect(),
        });
    }
    out
}

fn ids(c: &mut Criterion) {
    let raw = raw_ids();
    assert!(raw.len() > 500, "{}", raw.len());
    let parsed: Vec<ResidentId> = raw
        .iter()
        .filter_map(|r| ResidentId::parse(r).ok())
        .collect();
    let keys: Vec<i64> = parsed.iter().map(|id| id.pack()).collect();
    let mut g = c.benchmark_group("resident_id");
    g.throughput(Throughput::Elements(raw.len() as u64));
    g.bench_function("parse_and_validate", |b| {
        b.iter(|| {
            raw.iter()
                .filter(|r| ResidentId::parse(black_box(r)).is_ok())
                .count()
        })
    });
    g.bench_function("pack", |b| {
        b.iter(|| parsed.iter().map(|id| black_box(id).pack()).sum::<i64>())
    });
    g.bench_function("unpack", |b| {
        b.iter(|| {
            keys.iter()
                .filter_map(|k| ResidentId::unpack(black_box(*k)))
                .count()
        })
    });
    g.finish();
}

/// A small generated province (2,000 households), made once.
fn province() -> PathBuf {
    let dir = std::env::temp_dir().join("hedui-micro-province");
    if !dir.join("hedui.toml").is_file() {
        let cfg = hedui::generate::GenerateConfig {
            households: 2_000,
            seed: 1,
            as_of: hedui::generate::DEFAULT_AS_OF.parse().unwrap(),
            out: dir.clone(),
            dirty: hedui::generate::DirtyRates::default(),
            plant: hedui::generate::PlantRates::default(),
            policy: hedui::policy::Policy::default_policy(),
            layout: Default::default(),
        };
        hedui::generate::generate(&cfg, &|_| {}).unwrap();
    }
    dir
}

fn csv_decoding(c: &mut Criterion) {
    let dir = province();
    let (cfg, base) = hedui::config::BatchConfig::load(&dir.join("hedui.toml")).unwrap();
    let plan = cfg.build(&base).unwrap();
    let mut g = c.benchmark_group("csv_decode");
    // pension: CSV UTF-8; hukou: CSV GBK.
    for (id, label) in [("pension", "utf8"), ("hukou", "gbk")] {
        let sp = plan.sources.iter().find(|s| s.def.id == id).unwrap();
        let files = sp.files().unwrap();
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(format!("{id}_{label}"), |b| {
            b.iter(|| {
                let mut rows = 0usize;
                for f in &files {
                    hedui_connectors::raw::read_file(sp, f, "bench", 8_192, &mut |_, recs| {
                        rows += recs.len();
                        Ok(())
                    })
                    .unwrap();
                }
                rows
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ids, csv_decoding);
criterion_main!(benches);
