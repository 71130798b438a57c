//! The synthetic province: determinism, dirty data, and the planted truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use hedui_connectors::config::{Gates, SourceConfig};
use hedui_connectors::raw::{RawRecord, read_files};
use hedui_connectors::validate::{Value, validate_row};
use hedui_schemas::{ReasonCode, ResidentId, SourceDef, all_sources};

use crate::common::{HOUSEHOLDS, generate_into, province, read_csv};

/// What the catalog's own validation makes of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Quarantined(ReasonCode),
}

/// Reads every row of every source with the connectors' own reader and validator (the
/// catalog's default layouts), judging each one; calls `each(source, file, line, verdict,
/// values)` with the file relative to `exports/`.
fn judge_all(dir: &Path, mut each: impl FnMut(&SourceDef, &str, u64, &Verdict, Option<&[Value]>)) {
    for s in all_sources() {
        let plan = SourceConfig::default_for(s, "exports")
            .build(s, dir, &Gates::default())
            .unwrap();
        let mut seen: HashSet<Vec<Option<String>>> = HashSet::new();
        read_files(&plan, 4096, &mut |label: &str, records: Vec<RawRecord>| {
            let rel = label.strip_prefix("exports/").unwrap_or(label);
            for rec in records {
                let (verdict, values) = match rec.problem {
                    Some(reason) => (Verdict::Quarantined(reason), None),
                    None => {
                        let refs: Vec<Option<&str>> =
                            rec.fields.iter().map(|f| f.as_deref()).collect();
                        match validate_row(&plan, &refs) {
                            // A row rejected for its subject's ID alone comes with its other
                            // values (what the linkage may attribute).
                            Err(rej)
                                if hedui_connectors::validate::is_unread_subject(&plan, &rej) =>
                            {
                                (
                                    Verdict::Quarantined(rej.reason),
                                    hedui_connectors::validate::validate_unread(&plan, &refs),
                                )
                            }
                            Err(rej) => (Verdict::Quarantined(rej.reason), None),
                            Ok(row) => {
                                assert!(
                                    row.warnings.is_empty(),
                                    "{rel}:{}: the generator plants no bad details: {:?}",
                                    rec.line,
                                    row.warnings
                                );
                                if seen.insert(rec.fields.clone()) {
                                    (Verdict::Accepted, Some(row.values))
                                } else {
                                    (Verdict::Quarantined(ReasonCode::DuplicateRow), None)
                                }
                            }
                        }
                    }
                };
                each(s, rel, rec.line, &verdict, values.as_deref());
            }
            Ok(())
        })
        .unwrap();
    }
}

#[test]
fn every_dirty_row_is_dirty_and_every_clean_row_is_clean() {
    let dir = province();
    let dirty: HashMap<(String, String, u64), (String, String)> =
        read_csv(&dir.join("truth/dirty_rows.csv"))
            .into_iter()
            .map(|r| {
                (
                    (
                        r["source"].clone(),
                        r["file"].clone(),
                        r["line"].parse().unwrap(),
                    ),
                    (r["kind"].clone(), r["expected"].clone()),
                )
            })
            .collect();
    let mut kinds_seen: HashSet<String> = HashSet::new();
    let mut tally: BTreeMap<String, (u64, u64, BTreeMap<String, u64>)> = BTreeMap::new();
    let mut problems = Vec::new();
    judge_all(dir, |s, file, line, verdict, _| {
        let t = tally.entry(s.id.to_string()).or_default();
        t.0 += 1;
        let got = match verdict {
            Verdict::Accepted => "accepted".to_string(),
            Verdict::Quarantined(r) => {
                *t.2.entry(r.as_str().to_string()).or_default() += 1;
                r.as_str().to_string()
            }
        };
        if got == "accepted" {
            t.1 += 1;
        }
        let want = match dirty.get(&(s.id.to_string(), file.to_string(), line)) {
            Some((kind, expected)) => {
                kinds_seen.insert(kind.clone());
                expected.clone()
            }
            None => "accepted".to_string(),
        };
        if got != want && problems.len() < 20 {
            problems.push(format!(
                "{} {file}:{line}: expected {want}, validation says {got}",
                s.id
            ));
        }
    });
    assert!(problems.is_empty(), "{problems:#?}");
    for k in hedui::generate::model::DirtyKind::ALL {
        assert!(
            kinds_seen.contains(k.as_str()),
            "no {} row was planted",
            k.as_str()
        );
    }
    // The truth's per-source counts are what the catalog's validation counts.
    let q: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth/quarantine.json")).unwrap())
            .unwrap();
    for s in all_sources() {
        let (read, accepted, by_reason) = &tally[s.id];
        let e = &q[s.id];
        assert_eq!(e["read"].as_u64(), Some(*read), "{}", s.id);
        assert_eq!(e["accepted"].as_u64(), Some(*accepted), "{}", s.id);
        assert_eq!(e["quarantined"].as_u64(), Some(read - accepted), "{}", s.id);
        let want: BTreeMap<String, u64> = serde_json::from_value(e["by_reason"].clone()).unwrap();
        assert_eq!(&want, by_reason, "{}", s.id);
    }
}

#[test]
fn the_same_seed_gives_byte_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    generate_into(a.path(), 2_500, 42);
    // The second run on one thread: the output must not depend on the thread count.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| generate_into(b.path(), 2_500, 42));
    generate_into(c.path(), 2_500, 43);
    fn files(root: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(root).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
        out.sort();
        out
    }
    let fa = files(a.path());
    let fb = files(b.path());
    assert_eq!(fa.len(), fb.len());
    assert!(
        fa.len() >= 30,
        "24 sources (6 bank files), applications and truth"
    );
    let mut differs_from_other_seed = 0;
    for p in &fa {
        let rel = p.strip_prefix(a.path()).unwrap();
        let x = std::fs::read(p).unwrap();
        assert_eq!(
            x,
            std::fs::read(b.path().join(rel)).unwrap(),
            "{} differs between runs",
            rel.display()
        );
        if std::fs::read(c.path().join(rel)).ok() != Some(x) {
            differs_from_other_seed += 1;
        }
    }
    assert!(
        differs_from_other_seed > 25,
        "another seed gives other data"
    );
}

#[test]
fn the_truth_plants_both_sides_of_every_line() {
    let hs = read_csv(&province().join("truth/households.csv"));
    // Every household generated, and the second household of each member declared in two:
    // one member, no income or assets, the finding naming the first.
    // And the namesakes' (`H<region>5…`): one member, no records, a namesake of a member.
    let second: Vec<_> = hs
        .iter()
        .filter(|h| matches!(h["household_id"].as_bytes().get(7), Some(b'7' | b'5')))
        .collect();
    assert_eq!((hs.len() - second.len()) as u64, HOUSEHOLDS);
    for (digit, planted) in [
        ('7', "member_in_two_households"),
        ('5', "ambiguous_namesake"),
    ] {
        let of_kind: Vec<_> = second
            .iter()
            .filter(|h| h["household_id"].chars().nth(7) == Some(digit))
            .collect();
        assert!(!of_kind.is_empty(), "no {planted} household");
        for h in of_kind {
            assert_eq!(
                (
                    h["declared"].as_str(),
                    h["counted"].as_str(),
                    h["income_fen"].as_str(),
                    h["assets_fen"].as_str()
                ),
                ("1", "1", "0", "0"),
                "{}",
                h["household_id"]
            );
            assert!(h["planted"].starts_with(planted), "{}", h["planted"]);
        }
    }
    let findings = read_csv(&province().join("truth/findings.csv"));
    let mut by_hh: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &findings {
        by_hh
            .entry(f["household_id"].as_str())
            .or_default()
            .push(f["rule"].as_str());
    }
    let n = |k: &str| -> i64 { k.parse().unwrap() };
    let mut cases: BTreeMap<&str, u32> = BTreeMap::new();
    // All 21 cities, their households registered at county level (but in the two cities
    // without counties).
    let cities: HashSet<i64> = hs.iter().map(|h| n(&h["region"]) / 100 * 100).collect();
    assert_eq!(cities.len(), 21, "21 cities");
    let at_city_level: HashSet<i64> = hs
        .iter()
        .map(|h| n(&h["region"]))
        .filter(|r| r % 100 == 0)
        .collect();
    assert_eq!(at_city_level, HashSet::from([441900, 442000]));
    for prog in ["dibao", "low_income", "tekun"] {
        assert!(hs.iter().any(|h| h["programme"] == prog), "{prog}");
    }
    assert!(hs.iter().any(|h| h["kind"] == "recheck") && hs.iter().any(|h| h["kind"] == "new"));
    for h in &hs {
        let rules = by_hh
            .get(h["household_id"].as_str())
            .cloned()
            .unwrap_or_default();
        let (inc, lim) = (n(&h["income_fen"]), n(&h["income_limit_fen"]));
        let (ast, alim) = (n(&h["assets_fen"]), n(&h["asset_limit_fen"]));
        let counted = n(&h["counted"]);
        if counted > 0 {
            assert_eq!(
                rules.contains(&"income_over_line"),
                inc > lim,
                "{}",
                h["household_id"]
            );
            assert_eq!(
                rules.contains(&"assets_over_limit"),
                ast > alim,
                "{}",
                h["household_id"]
            );
            for (d, name) in [(1, "income+1"), (0, "income=line"), (-1, "income-1")] {
                if inc == lim + d {
                    *cases.entry(name).or_default() += 1;
                }
            }
            for (d, name) in [(1, "assets+1"), (0, "assets=limit"), (-1, "assets-1")] {
                if ast == alim + d {
                    *cases.entry(name).or_default() += 1;
                }
            }
        } else {
            assert!(rules.contains(&"no_counted_member"));
        }
        let planted = h["planted"].as_str();
        if planted.contains("normal_income") {
            assert!(
                inc * 100 <= lim * 60,
                "a normal household is clearly inside the income line"
            );
        }
        // (A probable deposit may put a normal household over the limit.)
        if planted.contains("normal_assets") && !planted.contains("probable_deposit") {
            assert!(
                ast * 100 <= alim * 50,
                "a normal household is clearly inside the asset limit"
            );
        }
        // An asset finding that rests on a probable deposit is REVIEW.
        let resting = |r: &&str| {
            *r == "assets_over_limit"
                && planted.contains("probable_deposit")
                && findings.iter().any(|f| {
                    f["household_id"] == h["household_id"]
                        && f["rule"] == "assets_over_limit"
                        && f["severity"] == "REVIEW"
                })
        };
        let want = if rules.iter().filter(|r| !resting(r)).any(|r| {
            ![
                "sole_trader_review",
                "member_in_two_households",
                "declared_member_dead",
                "undeclared_spouse",
                "undeclared_minor_child",
                "no_counted_member",
                "unreadable_records",
            ]
            .contains(r)
        }) {
            "FLAG"
        } else if rules.is_empty() {
            "PASS"
        } else {
            "REVIEW"
        };
        assert_eq!(h["outcome"], want, "{}", h["household_id"]);
    }
    for c in [
        "income+1",
        "income=line",
        "income-1",
        "assets+1",
        "assets=limit",
        "assets-1",
    ] {
        assert!(
            cases.get(c).copied().unwrap_or(0) >= 5,
            "too few {c} cases: {cases:?}"
        );
    }
    let rules: HashSet<&str> = findings.iter().map(|f| f["rule"].as_str()).collect();
    for r in hedui_schemas::Rule::ALL.map(hedui_schemas::Rule::id) {
        assert!(rules.contains(r), "no {r} finding planted");
    }
}

#[test]
fn limits_follow_the_policy_file() {
    // The standard at 2026-11-15 of each city (its counties' households take it), urban (or
    // the one) and rural, written out by hand from policy/guangdong.toml; the 6-month income
    // line and the 24-month asset limit per counted member.
    let standards: HashMap<i64, (i64, i64)> = [
        (440100, (128_200, 128_200)),
        (440200, (86_000, 64_500)),
        (440300, (153_500, 153_500)),
        (440400, (124_000, 124_000)),
        (440500, (87_200, 81_700)),
        (440600, (122_600, 122_600)),
        (440700, (93_200, 93_200)),
        (440800, (86_000, 64_500)),
        (440900, (86_000, 64_500)),
        (441200, (93_200, 93_200)),
        (441300, (93_200, 93_200)),
        (441400, (86_200, 66_400)),
        (441500, (86_000, 64_500)),
        (441600, (91_500, 70_100)),
        (441700, (86_000, 64_500)),
        (441800, (86_000, 64_500)),
        (441900, (107_300, 107_300)),
        (442000, (122_500, 122_500)),
        (445100, (86_000, 64_500)),
        (445200, (86_000, 64_500)),
        (445300, (86_000, 64_500)),
    ]
    .into_iter()
    .collect();
    let mut rural_held_lower = 0;
    for h in read_csv(&province().join("truth/households.csv")) {
        let c: i64 = h["counted"].parse().unwrap();
        let region: i64 = h["region"].parse().unwrap();
        let (urban, rural) = standards
            .get(&(region / 100 * 100))
            .unwrap_or_else(|| panic!("unexpected region {region}"));
        // Undeclared: the urban one.
        let std = if h["area_type"] == "rural" {
            *rural
        } else {
            *urban
        };
        rural_held_lower += usize::from(h["area_type"] == "rural" && rural < urban && c > 0);
        let mult_bp = match h["programme"].as_str() {
            "dibao" => 10_000,
            "low_income" => 15_000,
            _ => 16_000,
        };
        assert_eq!(
            h["income_limit_fen"].parse::<i64>().unwrap(),
            mult_bp * std * c * 6 / 10_000,
            "{} ({region} {})",
            h["household_id"],
            h["area_type"]
        );
        assert_eq!(h["asset_limit_fen"].parse::<i64>().unwrap(), 24 * std * c);
    }
    assert!(rural_held_lower > 100, "{rural_held_lower}");
}

#[test]
fn evidence_points_at_real_records_of_the_member() {
    // Key-based evidence (vehicles, homes, businesses, vessels, benefits, accounts) names a
    // record that exists, is accepted, and belongs to the member.
    // A probable record (its ID does not read; the linkage links it to a member, as the
    // truth says) is the member's too.
    let dir = province();
    let linked: HashMap<(String, String, u64), i64> = read_csv(&dir.join("truth/linkage.csv"))
        .into_iter()
        .filter(|r| r["status"] == "linked")
        .map(|r| {
            (
                (
                    r["source"].clone(),
                    r["file"].clone(),
                    r["line"].parse().unwrap(),
                ),
                ResidentId::parse(&r["person_ids"]).unwrap().pack(),
            )
        })
        .collect();
    let mut keys: HashSet<(String, i64, String)> = HashSet::new();
    judge_all(dir, |s, file, line, verdict, values| {
        let Some(values) = values else {
            return;
        };
        let person = match (
            verdict,
            &values[s
                .fields
                .iter()
                .position(|f| f.role == hedui_schemas::Role::Subject)
                .unwrap()],
        ) {
            (Verdict::Accepted, Value::Person { key, .. }) => *key,
            (Verdict::Quarantined(_), _) => {
                match linked.get(&(s.id.to_string(), file.to_string(), line)) {
                    Some(k) => *k,
                    None => return,
                }
            }
            _ => return,
        };
        for (f, v) in s.fields.iter().zip(values) {
            if matches!(
                f.role,
                hedui_schemas::Role::RecordKey | hedui_schemas::Role::Household
            ) && let Value::Text(t) = v
            {
                keys.insert((s.id.to_string(), person, t.clone()));
            }
        }
    });
    let mut checked = 0;
    for e in read_csv(&dir.join("truth/evidence.csv")) {
        let source = e["source"].as_str();
        if e["rule"] == "unreadable_records" {
            continue; // Records nobody could read: not among the accepted ones.
        }
        if [
            "vehicle",
            "real_estate",
            "business",
            "vessel",
            "assistance",
            "bank_deposit",
            "securities",
            "commercial_insurance",
            "internet_finance",
        ]
        .contains(&source)
        {
            let person = ResidentId::parse(&e["person_id"]).unwrap().pack();
            // A member of two households names the other as household/region/programme.
            let key = match e["rule"].as_str() {
                "member_in_two_households" => {
                    e["record_key"].split('/').next().unwrap().to_string()
                }
                _ => e["record_key"].clone(),
            };
            assert!(
                keys.contains(&(source.to_string(), person, key)),
                "evidence {source} {} of {} not found in the exports",
                e["record_key"],
                e["household_id"]
            );
            checked += 1;
        }
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn most_department_rows_are_about_other_residents() {
    let dir = province();
    let mut applicants: HashSet<i64> = HashSet::new();
    let mut per_source: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    judge_all(dir, |s, _, _, verdict, values| {
        let (Verdict::Accepted, Some(values)) = (verdict, values) else {
            return;
        };
        let Value::Person { key, .. } = &values[s
            .fields
            .iter()
            .position(|f| f.role == hedui_schemas::Role::Subject)
            .unwrap()]
        else {
            return;
        };
        if s.id == "applications" {
            applicants.insert(*key);
        } else {
            let e = per_source.entry(s.id.to_string()).or_default();
            e.0 += 1;
            e.1 += u64::from(applicants.contains(key));
        }
    });
    let (all, mine) = per_source
        .values()
        .fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    assert!(
        mine * 2 < all,
        "applicants' rows {mine} of {all}: {per_source:?}"
    );
    for key in [
        "social_insurance",
        "vehicle",
        "real_estate",
        "bank_deposit",
        "tax",
    ] {
        let (n, m) = per_source[key];
        assert!(m * 2 < n, "{key}: {m} of {n} rows are about applicants");
    }
}
