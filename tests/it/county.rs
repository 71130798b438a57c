//! The county-style province: exports in layouts the catalog never writes (other headers,
//! CRLF and BOMs, display fields missing, business status as dates, tax in 万元, 15-digit
//! IDs, escaped JSON keys), read with the generated hedui.toml alone, against the same
//! planted truth as the catalog layout.

use std::path::{Path, PathBuf};

use hedui::config::BatchConfig;
use hedui::generate::{self, DirtyRates, GenerateConfig, Layout, PlantRates};
use hedui::policy::Policy;

use crate::common::{HOUSEHOLDS, province};

fn county() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::common::fixture_dir("hedui-it-county");
        let cfg = GenerateConfig {
            households: HOUSEHOLDS,
            seed: 1,
            as_of: generate::DEFAULT_AS_OF.parse().unwrap(),
            out: dir.clone(),
            dirty: DirtyRates::default(),
            plant: PlantRates::default(),
            policy: Policy::default_policy(),
            layout: Layout::County,
        };
        generate::generate(&cfg, &|_| {}).unwrap();
        dir
    })
}

#[test]
fn the_county_exports_are_not_the_catalog_layout() {
    let read = |p: &str| std::fs::read(county().join("exports").join(p)).unwrap();
    let pension = read("pension.csv");
    assert!(pension.starts_with(b"\xef\xbb\xbf"), "a BOM");
    assert!(pension.windows(2).any(|w| w == b"\r\n"), "CRLF");
    let text = String::from_utf8_lossy(&pension);
    assert!(
        text.lines().next().unwrap().contains("待遇年月"),
        "other headers"
    );
    let business = String::from_utf8(read("business.jsonl")).unwrap();
    assert!(
        business.contains("\\u6ce8\\u9500\\u65e5\\u671f"),
        "escaped keys"
    );
    assert!(!business.contains("regState"), "status as a date");
    let death = encoding_rs::GBK.decode(&read("death.csv")).0.into_owned();
    assert!(!death.lines().next().unwrap().contains("姓名"), "no names");
    let tax = String::from_utf8_lossy(&read("tax.csv")).into_owned();
    assert!(tax.contains("收入额(万元)"), "tax in 万元");
    let hukou = encoding_rs::GBK.decode(&read("hukou.csv")).0.into_owned();
    let short = hukou
        .lines()
        .skip(1)
        .filter(|l| l.split(',').next().is_some_and(|id| id.len() == 15))
        .count();
    assert!(short > 1_000, "15-digit IDs: {short}");
    let config = std::fs::read_to_string(county().join("hedui.toml")).unwrap();
    for key in ["absent", "derive", "[sources.tax.units]", "columns"] {
        assert!(config.contains(key), "the config maps with {key}");
    }
}

#[test]
fn the_county_province_matches_the_same_planted_truth() {
    // The same plants: the households and findings planted are the catalog layout's, but
    // where the linkage cannot follow: a record whose ID does not read is linked by its name,
    // and the county's death register delivers none. Every difference is such a record, left
    // unlinked here, and the unreadable-record finding and outcome it made there.
    let lines = |layout: &Path, f: &str| -> std::collections::BTreeSet<String> {
        std::fs::read_to_string(layout.join("truth").join(f))
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    };
    let differ = |f: &str| -> Vec<String> {
        let (a, b) = (lines(province(), f), lines(county(), f));
        a.symmetric_difference(&b).cloned().collect()
    };
    // (The linkage's records as source, status and members: the two layouts put them in
    // other files and at other lines.)
    let linkage_of = |layout: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(layout.join("truth/linkage.csv")).unwrap();
        let mut v: Vec<String> = text
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                format!("{},{},{}", c[0], c[3], c[4])
            })
            .collect();
        v.sort();
        v
    };
    let (catalog, county_rows) = (linkage_of(province()), linkage_of(county()));
    assert_eq!(catalog.len(), county_rows.len());
    let mut only_catalog = catalog.clone();
    for r in &county_rows {
        if let Some(i) = only_catalog.iter().position(|x| x == r) {
            only_catalog.swap_remove(i);
        }
    }
    // What the catalog layout links, the county's death register (no names) leaves unlinked.
    assert!(
        only_catalog.iter().all(|l| l.starts_with("death,")),
        "{:?}",
        &only_catalog[..only_catalog.len().min(5)]
    );
    let unlinked_deaths = county_rows
        .iter()
        .filter(|l| l.starts_with("death,unlinked"))
        .count();
    let catalog_unlinked_deaths = catalog
        .iter()
        .filter(|l| l.starts_with("death,unlinked"))
        .count();
    assert_eq!(
        unlinked_deaths,
        catalog_unlinked_deaths + only_catalog.len()
    );
    let findings = differ("findings.csv");
    assert!(
        findings.iter().all(|l| l.contains(",unreadable_records,")),
        "{:?}",
        &findings[..findings.len().min(5)]
    );
    let changed: std::collections::BTreeSet<&str> = findings
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    for l in differ("households.csv") {
        assert!(changed.contains(l.split(',').next().unwrap()), "{l}");
    }
    let (cfg, base) = BatchConfig::load(&county().join("hedui.toml")).unwrap();
    let plan = cfg.build(&base).unwrap();
    let root = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let batch = rt
        .block_on(hedui::run::run(
            &plan,
            &Policy::default_policy(),
            generate::DEFAULT_AS_OF.parse().unwrap(),
            root.path(),
            &hedui::run::Progress::none(),
        ))
        .unwrap();
    assert!(batch.ingest.failed.is_empty(), "{:?}", batch.ingest.failed);
    // Every source read, accepted and quarantined what the generator wrote.
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(county().join("truth/quarantine.json")).unwrap(),
    )
    .unwrap();
    for (id, r) in &batch.ingest.sources {
        let t = &truth[id];
        assert_eq!(Some(r.read), t["read"].as_u64(), "{id} read");
        assert_eq!(Some(r.accepted), t["accepted"].as_u64(), "{id} accepted");
        assert_eq!(r.warnings, 0, "{id}: absent fields are no warnings");
    }
    let check = hedui::check::check_against_truth(&batch.dir, &county().join("truth")).unwrap();
    assert!(check.ok(), "{}", check.render(&county().join("truth")));
    assert!(check.evidence_expected > 10_000, "{check:?}");
}

#[test]
fn hedui_map_proposes_blocks_that_ingest_as_the_hand_written_config_does() {
    // Every export of the county province, mapped by `hedui map` with no hint: the proposed
    // block, unedited, must pick the right source and ingest with the counts of the county
    // config (the hand-written reference), or say what a human must decide.
    let (cfg, _) = BatchConfig::load(&county().join("hedui.toml")).unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for e in walk(&county().join("exports")) {
        files.push(e);
    }
    files.sort();
    let (mut ready, mut undecided) = (0, Vec::new());
    for file in &files {
        let sniffed = hedui::map::sniff(file).unwrap();
        let path = file.to_string_lossy().into_owned();
        let p = hedui::map::propose(&sniffed, None, &path).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let expected = if file.parent().unwrap().ends_with("bank_deposit") {
            "bank_deposit".to_string()
        } else {
            name.split('.').next().unwrap().to_string()
        };
        assert_eq!(p.def.id, expected, "{name}: proposed source");
        if !p.decide.is_empty() {
            undecided.push(format!("{name}: {:?}", p.decide));
            continue;
        }
        // The reference: the county config's block for the source, on this file alone.
        let mut reference = cfg.sources[p.def.id].clone();
        reference.connector = p.config.connector.clone();
        let ingest = |c: &hedui_connectors::config::SourceConfig| {
            let plan = c.build(p.def, Path::new("/"), &Default::default()).unwrap();
            let out = tempfile::tempdir().unwrap();
            let opts = hedui_connectors::ingest::IngestOptions {
                out: out.path().to_path_buf(),
                batch_rows: 8192,
            };
            let r = hedui_connectors::ingest::ingest_source(&plan, &opts, None);
            (r.status, r.read, r.accepted, r.quarantined, r.by_reason)
        };
        let want = ingest(&reference);
        let got = ingest(&p.config);
        assert_eq!(got, want, "{name}: the proposed block ingests otherwise");
        assert!(want.1 > 0, "{name}");
        ready += 1;
    }
    assert!(
        ready >= 20,
        "{ready} of {} ready: {undecided:?}",
        files.len()
    );
    assert!(
        undecided
            .iter()
            .any(|u| u.starts_with("business.jsonl") && u.contains("derive")),
        "the business register's status must be derived by a human: {undecided:?}"
    );
    // The dry run reports what the first rows give.
    let tax = county().join("exports/tax.csv");
    let sniffed = hedui::map::sniff(&tax).unwrap();
    let p = hedui::map::propose(&sniffed, None, &tax.to_string_lossy()).unwrap();
    assert_eq!(
        p.config.units.get("income_fen"),
        Some(&hedui_schemas::MoneyUnit::WanYuan)
    );
    let d = hedui::map::dry_run(&p, Path::new("/"), 2_000);
    assert_eq!(d.read, 2_000);
    assert!(d.accepted > 1_900 && d.error.is_none(), "{d:?}");
    let text = hedui::map::render(&p, &d, &sniffed).unwrap();
    assert!(
        text.contains("[sources.tax") && text.contains("ready to paste"),
        "{text}"
    );
    let longest_digits = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_digits < 15, "no full IDs in the examples: {text}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
