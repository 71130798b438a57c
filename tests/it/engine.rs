//! The verification engine against the planted truth.

use std::collections::HashMap;

use std::path::Path;

use arrow::array::AsArray;
use hedui::engine::Engine;

use crate::common::{province, read_csv};
use crate::ingest::ingest;

/// The shared province ingested once for every engine test.
fn staged() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::common::fixture_dir("hedui-it-staged");
        ingest(province(), &dir, |_| {});
        dir
    })
}

#[test]
fn household_resolution_counts_the_members_the_truth_counts() {
    let out = staged();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let as_of = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    let batches = rt.block_on(async {
        let engine = Engine::open(out, 2).await.unwrap();
        engine.members(as_of).await.unwrap()
    });
    let mut declared: HashMap<String, usize> = HashMap::new();
    let mut counted: HashMap<String, usize> = HashMap::new();
    let mut excluded: HashMap<String, usize> = HashMap::new();
    for b in &batches {
        let hh = arrow::compute::cast(
            b.column_by_name("household_id").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let hh = hh.as_string::<i32>();
        let ex = arrow::compute::cast(
            b.column_by_name("excluded").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let ex = ex.as_string::<i32>();
        for i in 0..b.num_rows() {
            let h = hh.value(i).to_string();
            *declared.entry(h.clone()).or_default() += 1;
            if arrow::array::Array::is_null(ex, i) {
                *counted.entry(h).or_default() += 1;
            } else {
                *excluded.entry(ex.value(i).to_string()).or_default() += 1;
            }
        }
    }
    let truth = read_csv(&province().join("truth/households.csv"));
    assert_eq!(declared.len(), truth.len(), "every household is resolved");
    for h in &truth {
        let id = &h["household_id"];
        assert_eq!(
            declared.get(id).copied().unwrap_or(0),
            h["declared"].parse::<usize>().unwrap(),
            "{id} declared"
        );
        assert_eq!(
            counted.get(id).copied().unwrap_or(0),
            h["counted"].parse::<usize>().unwrap(),
            "{id} counted"
        );
    }
    assert!(
        excluded.get("dead").copied().unwrap_or(0) > 50
            && excluded.get("incarcerated").copied().unwrap_or(0) > 20,
        "{excluded:?}"
    );
}

/// The shared province verified once: the batch files written by `Engine::verify`.
fn verified() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::common::fixture_dir("hedui-it-verified");
        verify_into(staged(), &dir, 2);
        dir
    })
}

fn verify_into(staged: &Path, out: &Path, partitions: usize) -> hedui::engine::finding::Verified {
    verify_under(
        staged,
        out,
        partitions,
        &hedui::policy::Policy::default_policy(),
    )
}

fn verify_under(
    staged: &Path,
    out: &Path,
    partitions: usize,
    policy: &hedui::policy::Policy,
) -> hedui::engine::finding::Verified {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let as_of = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    rt.block_on(async {
        let engine = Engine::open(staged, partitions).await.unwrap();
        engine.verify(policy, as_of, out, &|_| {}).await.unwrap()
    })
}

/// A batch file's rows, each as column name → text (nulls as "").
fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    for b in hedui::output::read_parquet(path).unwrap() {
        let schema = b.schema();
        let cols: Vec<(String, Vec<Option<String>>)> = schema
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().clone(),
                    hedui::output::text_column(&b, f.name()).unwrap(),
                )
            })
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|(n, c)| (n.clone(), c[i].clone().unwrap_or_default()))
                    .collect(),
            );
        }
    }
    out
}

fn metrics() -> HashMap<String, HashMap<String, String>> {
    rows(&verified().join("households.parquet"))
        .into_iter()
        .map(|r| (r["household_id"].clone(), r))
        .collect()
}

#[test]
fn the_province_has_every_city_county_codes_and_rural_households_under_both_standards() {
    // The generator registers households at county level in all 21 cities, rural ones among
    // them, some declaring no area type; the batch holds each to the line the truth computed
    // (county -> city standard; rural -> the rural one where the city sets two).
    let policy = hedui::policy::Policy::default_policy();
    let as_of: chrono::NaiveDate = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    let got = metrics();
    let mut cities = std::collections::BTreeSet::new();
    let (mut counties, mut rural_split, mut undeclared_split) = (0, 0, 0);
    for h in read_csv(&province().join("truth/households.csv")) {
        let region: i32 = h["region"].parse().unwrap();
        cities.insert(region / 100 * 100);
        if region % 100 != 0 {
            counties += 1;
        }
        let split = policy.standard_at(region, as_of).unwrap().is_split();
        rural_split += usize::from(split && h["area_type"] == "rural");
        undeclared_split += usize::from(split && h["area_type"].is_empty());
        let m = &got[&h["household_id"]];
        assert_eq!(m["region"], h["region"], "{}", h["household_id"]);
        assert_eq!(m["area_type"], h["area_type"], "{}", h["household_id"]);
        if h["counted"] != "0" {
            assert_eq!(
                m["income_limit_fen"], h["income_limit_fen"],
                "{} ({} {})",
                h["household_id"], h["region"], h["area_type"]
            );
        }
    }
    // 东莞 and 中山 have no counties: their households carry the city's own code.
    let all: Vec<i32> = policy
        .regions
        .keys()
        .copied()
        .filter(|c| *c != 440000)
        .collect();
    assert_eq!(cities.into_iter().collect::<Vec<_>>(), all);
    assert!(counties > 8_000, "{counties}");
    assert!(
        rural_split > 500 && undeclared_split > 50,
        "{rural_split} {undeclared_split}"
    );
    // A rural household of a city with two standards is held to the rural one, and says so.
    let r = got
        .values()
        .find(|m| m["area_type"] == "rural" && m["region"].starts_with("4405"))
        .unwrap();
    assert_eq!(r["standard_fen"], "81700", "{r:?}");
    assert!(r["reference"].ends_with("（农村标准）"), "{r:?}");
}

#[test]
fn net_income_over_the_window_equals_the_truth_to_the_fen() {
    let got = metrics();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for h in read_csv(&province().join("truth/households.csv")) {
        let m = &got[&h["household_id"]];
        assert_eq!(m["counted"], h["counted"], "{}", h["household_id"]);
        if h["counted"] == "0" {
            continue;
        }
        if m["income_fen"] != h["income_fen"] && wrong.len() < 10 {
            wrong.push(format!(
                "{}: want {} got {} planted {}",
                h["household_id"], h["income_fen"], m["income_fen"], h["planted"]
            ));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(checked > 9_000);
}

#[test]
fn the_income_test_flags_exactly_the_planted_households() {
    let got = metrics();
    let flagged: HashMap<String, (String, String)> =
        read_csv(&province().join("truth/findings.csv"))
            .into_iter()
            .filter(|f| f["rule"] == "income_over_line")
            .map(|f| {
                (
                    f["household_id"].clone(),
                    (f["measured"].clone(), f["threshold"].clone()),
                )
            })
            .collect();
    let mut edge = 0;
    for h in read_csv(&province().join("truth/households.csv")) {
        if h["counted"] == "0" {
            continue;
        }
        let id = &h["household_id"];
        let m = &got[id];
        assert_eq!(m["income_limit_fen"], h["income_limit_fen"], "{id} limit");
        assert_eq!(
            m["over_line"] == "true",
            flagged.contains_key(id),
            "{id}: income {}, limit {}",
            m["income_fen"],
            m["income_limit_fen"]
        );
        if let Some((measured, threshold)) = flagged.get(id) {
            assert_eq!(
                (&m["income_fen"], &m["income_limit_fen"]),
                (measured, threshold),
                "{id} measured and threshold"
            );
        }
        let fen: i64 = m["income_fen"].parse().unwrap();
        let limit: i64 = m["income_limit_fen"].parse().unwrap();
        if (fen - limit).abs() <= 1 {
            edge += 1;
        }
        assert!(!m["reference"].is_empty() && !m["standard_from"].is_empty());
    }
    assert!(
        edge >= 15,
        "the 1-fen cases on both sides are covered: {edge}"
    );
}

#[test]
fn the_asset_test_uses_the_latest_value_per_account_and_flags_the_planted_households() {
    let got = metrics();
    let flagged: std::collections::HashSet<String> =
        read_csv(&province().join("truth/findings.csv"))
            .into_iter()
            .filter(|f| f["rule"] == "assets_over_limit")
            .map(|f| f["household_id"].clone())
            .collect();
    let mut wrong = Vec::new();
    for h in read_csv(&province().join("truth/households.csv")) {
        if h["counted"] == "0" {
            continue;
        }
        let id = &h["household_id"];
        let m = &got[id];
        let want = (
            h["assets_fen"].clone(),
            h["asset_limit_fen"].clone(),
            flagged.contains(id),
        );
        let have = (
            m["assets_fen"].clone(),
            m["asset_limit_fen"].clone(),
            m["over_limit"] == "true",
        );
        if have != want && wrong.len() < 10 {
            wrong.push(format!(
                "{id}: want {want:?} got {have:?} planted {}",
                h["planted"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn findings_and_their_evidence_equal_the_planted_truth() {
    // Row by row first, so a failure names what differs.
    let key = |r: &HashMap<String, String>| {
        hedui::check::EVIDENCE_KEY
            .iter()
            .map(|c| r[*c].clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let want: std::collections::BTreeSet<String> = read_csv(&province().join("truth/evidence.csv"))
        .iter()
        .map(key)
        .collect();
    let got: std::collections::BTreeSet<String> = rows(&verified().join("evidence.parquet"))
        .iter()
        .map(key)
        .collect();
    let missing: Vec<_> = want.difference(&got).take(10).collect();
    let unexpected: Vec<_> = got.difference(&want).take(10).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing {missing:#?}\nunexpected {unexpected:#?}"
    );
    // Then the whole check the demo prints: findings with severity, members, measured value
    // and threshold; evidence; outcomes.
    let check = hedui::check::check_against_truth(verified(), &province().join("truth")).unwrap();
    assert!(check.ok(), "{}", check.render(&province().join("truth")));
    assert!(check.findings_expected > 1_500, "{check:?}");
    assert!(check.evidence_expected > 10_000, "{check:?}");
}

#[test]
fn every_evidence_row_points_at_its_record_in_the_delivery() {
    // The file and line of an evidence row hold the record: its key and amount appear there.
    let mut lines: HashMap<String, Vec<String>> = HashMap::new();
    let (mut checked, mut unreadable) = (0, 0);
    for r in rows(&verified().join("evidence.parquet")) {
        // Files are named relative to the batch config's folder (the province root here).
        let file = province().join(&r["file"]);
        if file.extension().and_then(|e| e.to_str()) == Some("parquet") {
            continue; // Parquet deliveries are located by row number, not text lines.
        }
        let text = lines.entry(r["file"].clone()).or_insert_with(|| {
            let bytes = std::fs::read(&file).unwrap();
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => encoding_rs::GB18030.decode(e.as_bytes()).0.into_owned(),
            };
            crate::common::physical_lines(&text)
        });
        let line: usize = r["line"].parse().unwrap();
        let record = &text[line - 1];
        if r["rule"] == "unreadable_records" {
            // The line holds the record that could not be read: its subject, and the text
            // that was wrong ("…" at the end of the record key). A record the linkage
            // attributed to the member ("…" linked, or ambiguous) holds its mistyped ID, shown
            // masked: its first six and last four characters.
            let (_, rest) = r["record_key"].split_once('"').unwrap_or_default();
            let (shown, status) = rest.rsplit_once('"').unwrap_or((rest, ""));
            if status.is_empty() {
                assert!(
                    record.contains(&r["person_id"]) && record.contains(shown),
                    "{}:{line} {record:?} is not the unreadable record {:?}",
                    r["file"],
                    r["record_key"]
                );
            } else {
                let (head, tail) = (&shown[..6], &shown[shown.len() - 4..]);
                assert!(
                    ["linked", "ambiguous"].contains(&status.trim())
                        && record.contains(head)
                        && record.contains(tail),
                    "{}:{line} {record:?} is not the mistyped record {:?}",
                    r["file"],
                    r["record_key"]
                );
            }
            unreadable += 1;
            continue;
        }
        let key = r["record_key"]
            .split('/')
            .next()
            .unwrap()
            .split('+')
            .next()
            .unwrap();
        // An ID is found as the reader normalises it: spaces (ASCII and ideographic) and
        // full-width digits inside it, a lowercase x.
        let normal: String = record
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
                'x' | 'ｘ' | 'Ｘ' => 'X',
                c => c,
            })
            .collect();
        // Months are keyed yyyymm but delivered in each department's own style (2026-05,
        // 202605, 2026年05月).
        let holds = if key.len() == 6 && key.chars().all(|c| c.is_ascii_digit()) {
            record.contains(&key[..4]) && record.contains(&key[4..])
        } else {
            record.contains(key)
                || normal.contains(key)
                || r["source"] == "death"
                || r["source"] == "cremation"
        };
        assert!(holds, "{}:{line} {record:?} does not hold {key}", r["file"]);
        checked += 1;
    }
    assert!(checked > 1_000, "{checked}");
    assert!(unreadable > 50, "{unreadable}");
}

#[test]
fn findings_explain_themselves_and_csv_outputs_mask_resident_ids() {
    let findings = rows(&verified().join("findings.parquet"));
    let income = findings
        .iter()
        .find(|f| f["rule"] == "income_over_line")
        .unwrap();
    let zh = &income["sentence_zh"];
    assert!(
        zh.contains("家庭近 6 个月收入合计") && zh.contains("元") && zh.contains("依据："),
        "{zh}"
    );
    assert!(zh.contains(&income["reference"]), "{zh}");
    assert!(
        income["sentence_en"].contains("yuan"),
        "{}",
        income["sentence_en"]
    );
    for f in &findings {
        assert!(!f["sentence_zh"].is_empty() && !f["sentence_en"].is_empty());
    }
    // The spreadsheets are for people: no full resident ID may appear in them.
    let full_ids: std::collections::HashSet<String> = rows(&verified().join("evidence.parquet"))
        .into_iter()
        .map(|r| r["person_id"].clone())
        .filter(|id| id.len() == 18)
        .collect();
    assert!(full_ids.len() > 1_000);
    for name in ["findings.csv", "outcomes.csv"] {
        let bytes = std::fs::read(verified().join(name)).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()), "{name} has a BOM");
        let text = String::from_utf8(bytes).unwrap();
        // Every 18-character run of ID characters is looked up.
        let chars: Vec<char> = text.chars().collect();
        for w in chars.windows(18) {
            if w.iter().all(|c| c.is_ascii_digit() || *c == 'X') {
                let cand: String = w.iter().collect();
                assert!(!full_ids.contains(&cand), "{name} holds a full resident ID");
            }
        }
    }
    let csv = std::fs::read_to_string(verified().join("findings.csv")).unwrap();
    assert!(csv.contains("********"), "members are masked");
}

#[test]
fn outputs_are_identical_with_one_and_four_partitions() {
    let one = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    verify_into(staged(), one.path(), 1);
    verify_into(staged(), four.path(), 4);
    for name in hedui::engine::finding::ENGINE_OUTPUTS {
        assert!(
            std::fs::read(one.path().join(name)).unwrap()
                == std::fs::read(four.path().join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn a_memory_limit_gives_the_same_outputs() {
    // The engine under a 256 MiB pool (sorts and aggregations spill beyond it) writes the
    // same bytes as without a limit. (Much smaller pools fail in DataFusion's external sort
    // when many sorts run at once: issue #6.)
    // Both fixtures first: they start runtimes of their own.
    let (staged, baseline) = (staged(), verified());
    let out = tempfile::tempdir().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let settings = hedui::config::EngineSection {
        memory_limit_mib: Some(256),
        spill_dir: Some(spill.path().to_path_buf()),
        target_partitions: Some(2),
        ..Default::default()
    };
    rt.block_on(async {
        let engine = Engine::open_with(staged, &settings).await.unwrap();
        engine
            .verify(
                &hedui::policy::Policy::default_policy(),
                hedui::generate::DEFAULT_AS_OF.parse().unwrap(),
                out.path(),
                &|_| {},
            )
            .await
            .unwrap()
    });
    for name in hedui::engine::finding::ENGINE_OUTPUTS {
        assert!(
            std::fs::read(out.path().join(name)).unwrap()
                == std::fs::read(baseline.join(name)).unwrap(),
            "{name} differs under the memory limit"
        );
    }
}

#[test]
fn the_sums_run_in_more_partitions_unless_memory_is_limited() {
    // Without a limit the income and asset sums repartition into `SUM_PARTITIONS_FACTOR`
    // times the engine's partitions, the other queries into the engine's own; under a limit
    // every query keeps the engine's (the pool is split between partitions).
    let staged = staged();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let policy = hedui::policy::Policy::default_policy();
    let as_of = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    let wide = 2 * hedui::engine::SUM_PARTITIONS_FACTOR;
    let into = |plan: &str, n: usize| plan.contains(&format!("], {n})"));
    for (limit, sums) in [(None, wide), (Some(256), 2)] {
        let out = tempfile::tempdir().unwrap();
        let spill = tempfile::tempdir().unwrap();
        let settings = hedui::config::EngineSection {
            memory_limit_mib: limit,
            spill_dir: Some(spill.path().to_path_buf()),
            target_partitions: Some(2),
            ..Default::default()
        };
        let plans = rt.block_on(async {
            let engine = Engine::open_with(staged, &settings).await.unwrap();
            engine
                .verify(&policy, as_of, out.path(), &|_| {})
                .await
                .unwrap();
            engine.explain(&policy, as_of, false, None).await.unwrap()
        });
        let plan = |name: &str| &plans.iter().find(|(n, _)| n == name).unwrap().1;
        for name in ["income", "assets"] {
            assert!(into(plan(name), sums), "{name} ({limit:?}): {}", plan(name));
            if sums != 2 {
                assert!(!into(plan(name), 2), "{name} ({limit:?}): {}", plan(name));
            }
        }
        let evidence = hedui_schemas::Rule::ALL
            .into_iter()
            .filter(|r| *r != hedui_schemas::Rule::NoCountedMember)
            .map(hedui_schemas::Rule::id);
        for name in ["members", "metrics", "units"].into_iter().chain(evidence) {
            assert!(
                !into(plan(name), wide),
                "{name} ({limit:?}): {}",
                plan(name)
            );
        }
    }
}

fn outcomes_of(dir: &Path) -> HashMap<String, HashMap<String, String>> {
    rows(&dir.join("outcomes.parquet"))
        .into_iter()
        .map(|r| (r["household_id"].clone(), r))
        .collect()
}

#[test]
fn every_household_gets_the_planted_outcome() {
    let got = outcomes_of(verified());
    let truth = read_csv(&province().join("truth/households.csv"));
    assert_eq!(got.len(), truth.len());
    let mut wrong = Vec::new();
    for h in &truth {
        let o = &got[&h["household_id"]];
        if o["outcome"] != h["outcome"] && wrong.len() < 10 {
            wrong.push(format!(
                "{}: want {} got {o:?}",
                h["household_id"], h["outcome"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A copy of the shared staged snapshot (and its quarantine) without the staged files named
/// in `leave_out`.
fn staged_copy(leave_out: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for folder in ["staged", "quarantine"] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        for e in std::fs::read_dir(staged().join(folder)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap();
            if folder == "quarantine" || !leave_out.iter().any(|l| name == *l) {
                std::fs::copy(&p, dir.path().join(folder).join(name)).unwrap();
            }
        }
    }
    dir
}

#[test]
fn a_deleted_source_turns_households_unverified_never_pass() {
    // The vehicle registry's snapshot is gone: no household may PASS; a household whose only
    // FLAG was a vehicle cannot be FLAGged either, and says which source is missing.
    let dir = staged_copy(&["vehicle.parquet"]);
    let out = tempfile::tempdir().unwrap();
    let v = verify_into(dir.path(), out.path(), 2);
    assert_eq!(v.unverified_sources, vec!["vehicle"]);
    assert_eq!(v.outcomes.get("PASS"), None);
    let got = outcomes_of(out.path());
    let findings = read_csv(&province().join("truth/findings.csv"));
    let mut flag_rules: HashMap<String, Vec<String>> = HashMap::new();
    for f in &findings {
        if f["severity"] == "FLAG" {
            flag_rules
                .entry(f["household_id"].clone())
                .or_default()
                .push(f["rule"].clone());
        }
    }
    // The rules that read the vehicle source cannot fire without it (a rule added later
    // that reads it too).
    let reading: Vec<&str> = hedui_schemas::rules::rules_reading("vehicle")
        .into_iter()
        .map(|r| r.id())
        .collect();
    let mut unverified = 0;
    for h in read_csv(&province().join("truth/households.csv")) {
        let id = &h["household_id"];
        let o = &got[id];
        assert_ne!(o["outcome"], "PASS", "{id}");
        let other_flags = flag_rules
            .get(id)
            .map(|v| v.iter().any(|r| !reading.contains(&r.as_str())))
            .unwrap_or(false);
        if other_flags {
            assert_eq!(o["outcome"], "FLAG", "{id}");
        } else {
            assert_eq!(o["outcome"], "UNVERIFIED", "{id}");
            assert_eq!(o["unverified_sources"], "vehicle", "{id}");
            unverified += 1;
        }
    }
    assert!(unverified > 8_000, "{unverified}");
}

#[test]
fn a_policy_that_exempts_no_vehicle_type_counts_every_vehicle() {
    // An empty list of exempt types exempts nothing: the households with only an exempt
    // vehicle (planted) are flagged too, none is lost to an empty `NOT IN`.
    let mut policy = hedui::policy::Policy::default_policy();
    assert!(!policy.exempt_vehicle_types.is_empty());
    policy.exempt_vehicle_types.clear();
    let out = tempfile::tempdir().unwrap();
    let all = verify_under(staged(), out.path(), 2, &policy);
    let default = verify_into(staged(), tempfile::tempdir().unwrap().path(), 2);
    let (all, default) = (
        all.findings.get("vehicle_owned").copied().unwrap_or(0),
        default.findings.get("vehicle_owned").copied().unwrap_or(0),
    );
    assert!(default > 0);
    assert!(
        all > default,
        "{all} households with a vehicle, {default} with a non-exempt one"
    );
}

#[test]
fn a_person_declared_twice_in_a_household_is_one_member() {
    // Fifty members declared a second time (at the end of the applications, so the copies
    // are far from the originals), each copy with a raw ID that sorts after the original:
    // every output is the same bytes as without the copies.
    let dir = staged_copy(&[]);
    let apps = dir.path().join("staged/applications.parquet");
    let mut batches = hedui::output::read_parquet(&apps).unwrap();
    let first = batches[0].slice(0, 50);
    let schema = first.schema();
    let raw = schema.index_of("person_id_raw").unwrap();
    let later = arrow::compute::cast(first.column(raw), &arrow::datatypes::DataType::Utf8).unwrap();
    let later: arrow::array::StringArray = later
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(|v| format!("~{v}")))
        .collect();
    let mut columns = first.columns().to_vec();
    columns[raw] = arrow::compute::cast(&later, schema.field(raw).data_type()).unwrap();
    batches.push(arrow::array::RecordBatch::try_new(schema.clone(), columns).unwrap());
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&apps).unwrap(), schema, None)
            .unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let out = tempfile::tempdir().unwrap();
    verify_into(dir.path(), out.path(), 2);
    for f in hedui::engine::finding::ENGINE_OUTPUTS {
        assert!(
            std::fs::read(out.path().join(f)).unwrap()
                == std::fs::read(verified().join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn no_pass_household_has_an_unreadable_record_about_a_counted_member() {
    // Read independently of the engine's query: every quarantined record (but exact copies)
    // in a source a rule reads whose delivered subject ID is valid, against the counted
    // members in members.parquet and the outcomes.
    let read = hedui::engine::read_sources();
    let mut about: HashMap<i64, usize> = HashMap::new();
    for e in std::fs::read_dir(staged().join("quarantine")).unwrap() {
        let path = e.unwrap().path();
        for r in rows(&path) {
            let def = hedui_schemas::source(&r["source"]).unwrap();
            if [
                "duplicate_row",
                "wrong_column_count",
                "malformed",
                "unterminated_quote",
            ]
            .contains(&r["reason"].as_str())
                || !read.contains(&def.id)
            {
                continue;
            }
            let Ok(fields) = serde_json::from_str::<Vec<Option<String>>>(&r["record"]) else {
                continue;
            };
            let subject = def
                .fields
                .iter()
                .position(|f| f.role == hedui_schemas::Role::Subject)
                .unwrap();
            if fields.len() != def.fields.len() {
                continue; // Split wrong: about no one known.
            }
            if let Some(Ok(id)) = fields[subject]
                .as_deref()
                .map(hedui_schemas::ResidentId::parse)
            {
                *about.entry(id.pack()).or_default() += 1;
            }
        }
    }
    let outcomes = outcomes_of(verified());
    let findings = rows(&verified().join("findings.parquet"));
    let mut households = 0;
    for m in rows(&verified().join("members.parquet")) {
        if !m["excluded"].is_empty() {
            continue;
        }
        let key: i64 = m["person_key"].parse().unwrap();
        let Some(&n) = about.get(&key) else {
            continue;
        };
        let h = &m["household_id"];
        let o = &outcomes[h]["outcome"];
        assert_ne!(
            o, "PASS",
            "{h}: {n} unreadable records about a counted member"
        );
        let listed = findings
            .iter()
            .find(|f| &f["household_id"] == h && f["rule"] == "unreadable_records")
            .unwrap_or_else(|| panic!("{h}: no unreadable_records finding"));
        assert!(
            listed["measured"].parse::<usize>().unwrap() >= n,
            "{listed:?}"
        );
        assert!(
            listed["sentence_zh"].contains("无法读取") && !listed["sentence_en"].is_empty(),
            "{listed:?}"
        );
        households += 1;
    }
    assert!(
        households > 50,
        "{households} households with unreadable records"
    );
}

#[test]
fn a_bad_employer_code_keeps_the_wage_record_and_its_income() {
    // Every social-insurance record's employer credit code gets a wrong check character:
    // each record is still read (the code is a detail no rule reads), with a warning, and
    // every household's income, finding and outcome is what it was.
    let def = hedui_schemas::source("social_insurance").unwrap();
    let exports = tempfile::tempdir().unwrap();
    let delivered = province().join("exports").join(def.export.path);
    let mut batches = hedui::output::read_parquet(&delivered).unwrap();
    let mut changed = 0;
    for b in &mut batches {
        let schema = b.schema();
        let i = schema.index_of("employer_uscc").unwrap();
        let codes = hedui::output::text_column(b, "employer_uscc").unwrap();
        let bad: arrow::array::StringArray = codes
            .iter()
            .map(|c| {
                c.as_ref().map(|c| {
                    changed += 1;
                    let last = if c.ends_with('0') { '1' } else { '0' };
                    format!("{}{last}", &c[..c.len() - 1])
                })
            })
            .collect();
        let mut cols = b.columns().to_vec();
        cols[i] = std::sync::Arc::new(bad);
        *b = arrow::array::RecordBatch::try_new(schema, cols).unwrap();
    }
    let path = exports.path().join(def.export.path);
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batches[0].schema(),
        None,
    )
    .unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let plan = hedui_connectors::config::SourceConfig::default_for(def, ".")
        .build(def, exports.path(), &Default::default())
        .unwrap();
    let dir = staged_copy(&[]);
    let opts = hedui_connectors::ingest::IngestOptions {
        out: dir.path().to_path_buf(),
        batch_rows: 8192,
    };
    let report = hedui_connectors::ingest::ingest_source(&plan, &opts, None);
    let original: hedui::ingest::IngestReport =
        serde_json::from_str(&std::fs::read_to_string(staged().join("ingest.json")).unwrap())
            .unwrap();
    let before = &original.sources["social_insurance"];
    assert_eq!(report.accepted, before.accepted, "{report:?}");
    assert_eq!(report.quarantined, before.quarantined, "{report:?}");
    assert!(
        report.warnings >= changed - before.quarantined,
        "{report:?}"
    );
    assert_eq!(
        report.warnings_by_reason.keys().collect::<Vec<_>>(),
        ["credit_code"]
    );
    let warnings = rows(&dir.path().join(report.warnings_file.as_ref().unwrap()));
    assert_eq!(warnings.len() as u64, report.warnings);
    assert_eq!(warnings[0]["field"], "employer");
    let out = tempfile::tempdir().unwrap();
    verify_into(dir.path(), out.path(), 2);
    for f in ["households.parquet", "findings.parquet", "outcomes.parquet"] {
        assert!(
            std::fs::read(out.path().join(f)).unwrap()
                == std::fs::read(verified().join(f)).unwrap(),
            "{f} differs"
        );
    }
}

/// Every leaf key of a TOML value, as a dotted path (`regions.standards.from`: arrays of
/// tables name their keys once).
fn leaf_keys(v: &toml::Value, path: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaf_keys(v, &p, out);
            }
        }
        toml::Value::Array(a) if a.iter().all(|v| v.is_table()) && !a.is_empty() => {
            for v in a {
                leaf_keys(v, path, out);
            }
        }
        _ => {
            out.insert(path.to_string());
        }
    }
}

#[test]
fn every_key_of_the_policy_file_changes_a_result_or_is_refused() {
    // For each key of the shipped policy: an edit of it, then the batch's results (household
    // metrics, findings, outcomes) under the edited policy must differ from the shipped
    // policy's. A key whose edit is refused at load says so. A key added to the policy file
    // without an edit here fails the test: no setting may be parsed and never read.
    use toml::Value;
    type Edit = Box<dyn Fn(&mut Value)>;
    let set = |path: &'static [&'static str], v: Value| -> Edit {
        Box::new(move |root: &mut Value| {
            let mut at = root;
            for k in path {
                at = match k.parse::<usize>() {
                    Ok(i) => &mut at.as_array_mut().unwrap()[i],
                    Err(_) => at.get_mut(*k).unwrap(),
                };
            }
            *at = v.clone();
        })
    };
    let s = |t: &str| Value::String(t.into());
    let list = |t: &[&str]| Value::Array(t.iter().map(|t| Value::String(t.to_string())).collect());
    // (key, edit, refused at load)
    let edits: Vec<(&str, Edit, bool)> = vec![
        ("name", set(&["name"], s("edited")), false),
        (
            "income_window_months",
            set(&["income_window_months"], Value::Integer(3)),
            false,
        ),
        (
            "financial_asset_months",
            set(&["financial_asset_months"], Value::Integer(12)),
            false,
        ),
        (
            "programmes.dibao",
            set(&["programmes", "dibao"], s("1.05")),
            false,
        ),
        (
            "programmes.low_income",
            set(&["programmes", "low_income"], s("1.4")),
            false,
        ),
        (
            "programmes.tekun",
            set(&["programmes", "tekun"], s("1.7")),
            false,
        ),
        (
            "income.counted_pension_schemes",
            set(&["income", "counted_pension_schemes"], list(&[])),
            false,
        ),
        (
            "income.counted_tax_income_types",
            set(&["income", "counted_tax_income_types"], list(&["wage"])),
            false,
        ),
        (
            "income.count_unemployment_benefit",
            set(
                &["income", "count_unemployment_benefit"],
                Value::Boolean(false),
            ),
            false,
        ),
        (
            "income.count_special_care",
            set(&["income", "count_special_care"], Value::Boolean(true)),
            true,
        ),
        (
            "income.count_assistance",
            set(&["income", "count_assistance"], Value::Boolean(true)),
            true,
        ),
        (
            "income.deduct_medical_expense",
            set(&["income", "deduct_medical_expense"], Value::Boolean(true)),
            false,
        ),
        (
            "vehicles.exempt_types",
            set(&["vehicles", "exempt_types"], list(&[])),
            false,
        ),
        (
            "property.max_residential_units",
            set(&["property", "max_residential_units"], Value::Integer(3)),
            false,
        ),
        (
            "property.forbidden_uses",
            set(&["property", "forbidden_uses"], list(&["shop"])),
            false,
        ),
        (
            "business.sole_trader_review_max_staff",
            set(
                &["business", "sole_trader_review_max_staff"],
                Value::Integer(20),
            ),
            false,
        ),
        // No record whose ID does not read is linked: its weight never reaches 200 bits.
        (
            "linkage.min_weight_bits",
            set(&["linkage", "min_weight_bits"], s("200")),
            false,
        ),
        // No margin: a record one slip from two namesakes goes to one of them.
        (
            "linkage.margin_bits",
            set(&["linkage", "margin_bits"], s("0")),
            false,
        ),
        // A member of two households is FLAG rather than REVIEW.
        (
            "severity.member_in_two_households",
            set(&["severity", "member_in_two_households"], s("flag")),
            false,
        ),
        // The review queue's due dates: the review app's, checked below.
        (
            "review_working_days",
            set(&["review_working_days"], Value::Integer(10)),
            false,
        ),
        (
            "review_holidays",
            set(&["review_holidays"], list(&[])),
            false,
        ),
        (
            "review_working_weekends",
            set(&["review_working_weekends"], list(&["2026-10-10"])),
            false,
        ),
        // Guangzhou (the first region) under a code the province has no city for: its
        // households take the province's line.
        (
            "regions.code",
            set(&["regions", "0", "code"], Value::Integer(449900)),
            false,
        ),
        (
            "regions.name_zh",
            set(&["regions", "0", "name_zh"], s("羊城")),
            false,
        ),
        (
            "regions.name_en",
            set(&["regions", "0", "name_en"], s("Canton")),
            false,
        ),
        // Guangzhou's 2024 standard from after the batch date: the 2023 one is in force.
        (
            "regions.standards.from",
            set(
                &["regions", "0", "standards", "2", "from"],
                Value::String("2026-12-01".into()),
            ),
            false,
        ),
        (
            "regions.standards.dibao_yuan",
            set(
                &["regions", "0", "standards", "2", "dibao_yuan"],
                s("1400.00"),
            ),
            false,
        ),
        (
            "regions.standards.reference",
            set(
                &["regions", "0", "standards", "2", "reference"],
                s("edited reference"),
            ),
            false,
        ),
        // The auditor's: checked below to reach summary.json, not the engine's results.
        (
            "regions.standards.provenance",
            set(
                &["regions", "0", "standards", "2", "provenance"],
                s("edited provenance"),
            ),
            false,
        ),
        // Shaoguan (the second region) sets an urban and a rural standard in 2024.
        (
            "regions.standards.urban_yuan",
            set(
                &["regions", "1", "standards", "1", "urban_yuan"],
                s("990.00"),
            ),
            false,
        ),
        (
            "regions.standards.rural_yuan",
            set(
                &["regions", "1", "standards", "1", "rural_yuan"],
                s("800.00"),
            ),
            false,
        ),
    ];
    let shipped: Value = toml::from_str(hedui::policy::DEFAULT_POLICY).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    leaf_keys(&shipped, "", &mut keys);
    let edited: std::collections::BTreeSet<String> =
        edits.iter().map(|(k, _, _)| k.to_string()).collect();
    assert_eq!(
        keys, edited,
        "the policy file's keys and the edits here disagree"
    );

    let staged = staged();
    let as_of = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt.block_on(Engine::open(staged, 2)).unwrap();
    let results = |policy: &hedui::policy::Policy| -> Vec<Vec<u8>> {
        let out = tempfile::tempdir().unwrap();
        rt.block_on(engine.verify(policy, as_of, out.path(), &|_| {}))
            .unwrap();
        ["households.parquet", "findings.csv", "outcomes.csv"]
            .iter()
            .map(|f| std::fs::read(out.path().join(f)).unwrap())
            .collect()
    };
    let baseline = results(&hedui::policy::Policy::default_policy());
    for (key, edit, refused) in &edits {
        let mut v = shipped.clone();
        edit(&mut v);
        assert_ne!(v, shipped, "{key}: the edit changes nothing");
        let loaded = hedui::policy::Policy::from_toml(&toml::to_string(&v).unwrap(), "edited.toml");
        if *refused {
            let e = loaded.map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(key.rsplit('.').next().unwrap()), "{key}: {e}");
            continue;
        }
        let policy = loaded.unwrap_or_else(|e| panic!("{key}: {e}"));
        if *key == "name" {
            // The name is the policy's label: a batch's manifest records it (`policy_name`)
            // beside the policy's hash; no rule reads it.
            assert_eq!(policy.name, "edited");
            continue;
        }
        if let Some(k) = key.strip_prefix("review_") {
            // How long a caseworker has (the review app's due dates: review.rs tests them);
            // no rule reads it.
            let r = policy.review.clone().unwrap();
            let shipped = hedui::policy::Policy::default_policy().review.unwrap();
            assert_ne!(r, shipped, "{k}");
            continue;
        }
        if *key == "regions.standards.provenance" {
            // Where a figure comes from is the auditor's: summary.json lists it per standard
            // in force (audit.rs tests that a batch's summary carries it); no rule reads it.
            let r = &policy.regions[&440100];
            assert_eq!(
                r.in_force_at(as_of).unwrap().provenance.as_deref(),
                Some("edited provenance")
            );
            continue;
        }
        assert_ne!(
            results(&policy),
            baseline,
            "{key}: the edit changed no result"
        );
    }
}

#[test]
fn a_batch_out_of_memory_says_so_by_its_kind_and_names_its_query() {
    // Under a limit too small for any sort's merge reservation, the engine fails with an
    // error a caller can tell from the others by its kind, not its text.
    let staged = staged();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let policy = hedui::policy::Policy::default_policy();
    let as_of = hedui::generate::DEFAULT_AS_OF.parse().unwrap();
    let spill = tempfile::tempdir().unwrap();
    let settings = hedui::config::EngineSection {
        memory_limit_mib: Some(1),
        spill_dir: Some(spill.path().to_path_buf()),
        target_partitions: Some(2),
        ..Default::default()
    };
    let out = tempfile::tempdir().unwrap();
    let err = rt
        .block_on(async {
            let engine = Engine::open_with(staged, &settings).await.unwrap();
            engine.verify(&policy, as_of, out.path(), &|_| {}).await
        })
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    match &err {
        hedui::engine::Error::ResourcesExhausted { query, .. } => {
            assert!(
                query.starts_with("query for ") || query.starts_with("evidence for "),
                "{query}"
            );
            assert!(
                text.contains(query.as_str()) && text.contains("memory_limit_mib"),
                "{text}"
            );
        }
        other => panic!("not ResourcesExhausted: {other:?}"),
    }
    // A plan that names a table no batch has is a planning error, not a resource one.
    let err = rt
        .block_on(async {
            let engine = Engine::open_with(staged, &Default::default())
                .await
                .unwrap();
            engine.query("SELECT * FROM no_such_table").await
        })
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, hedui::engine::Error::Planning { .. }),
        "{err:?}"
    );
}
