//! The rules, one file each, and the registry that lists them.
//!
//! A rule file holds everything the engine knows of one rule: its evidence plan (a `.sql`
//! file beside it, with named parameters such as `$as_of`, bound from [`super::Parameters`]),
//! how its measured value and threshold are taken from what the evidence gathered, its
//! sentence in Chinese and English, and its unit tests. The rule itself (its id, severity,
//! the sources it reads, its unit and its name) is [`hedui_schemas::Rule`], shared by every
//! crate. The engine runs the rules by going through [`RULES`]; a rule of the catalog that is
//! missing here, or listed out of order, fails the test below.
//!
//! An evidence plan gives one row per record behind a finding, with the columns of
//! [`EVIDENCE_COLUMNS`], found by name (the engine adds the rule's id). It reads the
//! tables the engine has written by then: `members`, `metrics`, `income_members` and
//! `asset_members` (the counted members of the households over the income line or the asset
//! limit), `units` (the real estate the counted members own) and `quarantine`, besides the
//! department sources.

use std::collections::BTreeSet;

use arrow::datatypes::DataType;
use hedui_schemas::Rule;

use super::finding::Finding;
use hedui_schemas::policy::Policy;

/// Declares the rule files and lists them, in the order of [`Rule::ALL`].
macro_rules! registry {
    ($($file:ident),* $(,)?) => {
        $(mod $file;)*
        /// Every rule's definition, in the order of [`Rule::ALL`] (one for each: a rule of
        /// the catalog without its file here does not compile).
        pub(crate) static RULES: [&RuleDef; Rule::ALL.len()] = [$(&$file::RULE),*];
    };
}

registry! {
    income_over_line,
    assets_over_limit,
    property_excess,
    vehicle_owned,
    vessel_owned,
    business_registered,
    sole_trader_review,
    public_payroll,
    duplicate_benefit,
    member_in_two_households,
    declared_member_dead,
    undeclared_spouse,
    undeclared_minor_child,
    no_counted_member,
    unreadable_records,
}

/// The definition of `rule`.
pub(crate) fn def(rule: Rule) -> &'static RuleDef {
    RULES[rule.index()]
}

/// The columns of every evidence plan, by name (`rule` is added by the engine):
///
/// - `hh`: the household's integer key (from `members`);
/// - `person_key`: the member the record is about;
/// - `source`: the catalog source of the record;
/// - `record_key`: the record's natural key in its source (plate, unit, account, month,
///   credit code), or NULL for a record keyed by resident IDs, which `key_a` (and `key_b`)
///   then hold, packed;
/// - `amount_fen`, `date`: the record's amount and date, where it has them;
/// - `measure`: the rule's own measured value where it is not a count (a sole trader's staff);
/// - `file`, `line`: where the record is in the department's delivery.
pub(crate) const EVIDENCE_COLUMNS: &[(&str, DataType)] = &[
    ("hh", DataType::Int64),
    ("person_key", DataType::Int64),
    ("source", DataType::Utf8),
    ("record_key", DataType::Utf8),
    ("key_a", DataType::Int64),
    ("key_b", DataType::Int64),
    ("amount_fen", DataType::Int64),
    ("date", DataType::Utf8),
    ("measure", DataType::Int64),
    ("file", DataType::Utf8),
    ("line", DataType::Int64),
];

/// What one rule's evidence rows gathered for one household.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    /// The members the rows are about.
    pub persons: BTreeSet<i64>,
    /// The distinct record keys.
    pub records: BTreeSet<String>,
    /// The largest `measure` of the rows.
    pub measure: Option<i64>,
    /// Rows.
    pub rows: u64,
    /// Rows that are probable records (probable.rs).
    pub probable_rows: u64,
}

/// The household figures a rule's measure may read (its row of `households.parquet`).
pub(crate) struct Figures<'a> {
    /// Net income over the window, fen.
    pub income_fen: i64,
    /// The income line over the window, fen.
    pub income_limit_fen: i64,
    /// Financial assets, fen.
    pub assets_fen: i64,
    /// The asset limit, fen.
    pub asset_limit_fen: i64,
    /// The counted members, when the household fails a sum test (packed keys, sorted).
    pub counted_members: &'a [i64],
    /// The policy.
    pub policy: &'a Policy,
}

/// A finding's figures: its measured value, the threshold it is compared with, and the
/// members it concerns (packed keys, sorted).
pub(crate) struct Measured {
    /// The measured value (unit: [`Rule::unit`]).
    pub measured: i64,
    /// The threshold.
    pub threshold: i64,
    /// The members concerned.
    pub members: Vec<i64>,
}

/// What a sentence is made of besides the finding: the region's names, the record keys as
/// a short list, the policy.
pub(crate) struct Words<'a> {
    /// The region's Chinese name (`本地` when the policy has none).
    pub city_zh: &'a str,
    /// The region's English name.
    pub city_en: &'a str,
    /// Distinct records.
    pub n: usize,
    /// Up to three record keys, `、`-separated, then how many more.
    pub keys_zh: String,
    /// The same, `, `-separated.
    pub keys_en: String,
    /// The policy.
    pub policy: &'a Policy,
}

/// One rule as the engine runs it.
pub(crate) struct RuleDef {
    /// The rule.
    pub rule: Rule,
    /// Its evidence plan (none for a rule decided from the household's figures alone).
    pub evidence: Option<&'static str>,
    /// Its measured value, threshold and members, from what its evidence gathered.
    pub measure: fn(&Gathered, &Figures<'_>) -> Measured,
    /// Its sentence: (Chinese, English), without the basis the engine appends.
    pub sentence: fn(&Finding, &Words<'_>) -> (String, String),
}

/// A rule measured by the distinct records behind it (threshold 0).
fn records(g: &Gathered, _: &Figures<'_>) -> Measured {
    Measured {
        measured: g.records.len() as i64,
        threshold: 0,
        members: g.persons.iter().copied().collect(),
    }
}

/// A rule measured by the people its records name (threshold 0).
fn persons(g: &Gathered, _: &Figures<'_>) -> Measured {
    Measured {
        measured: g.persons.len() as i64,
        threshold: 0,
        members: g.persons.iter().copied().collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_registry_lists_every_rule_of_the_catalog_in_order() {
        assert_eq!(RULES.len(), Rule::ALL.len());
        for (d, r) in RULES.iter().zip(Rule::ALL) {
            assert_eq!(d.rule, r, "registry out of order at {r}");
        }
        // Only the rule decided from the figures alone has no evidence plan.
        let without: Vec<Rule> = RULES
            .iter()
            .filter(|d| d.evidence.is_none())
            .map(|d| d.rule)
            .collect();
        assert_eq!(without, [Rule::NoCountedMember]);
    }

    #[test]
    fn no_evidence_plan_names_a_rule_or_selects_the_rule_column() {
        // The engine adds the rule's id: a plan that spelt one could disagree with it.
        for d in RULES {
            let Some(sql) = d.evidence else { continue };
            let code: String = sql
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            // (`public_payroll` is a source's name as well as a rule's.)
            for r in Rule::ALL
                .into_iter()
                .filter(|r| hedui_schemas::source(r.id()).is_none())
            {
                assert!(
                    !code.contains(&format!("'{}'", r.id())),
                    "{}'s plan names {r}",
                    d.rule
                );
            }
            assert!(!code.contains(" AS rule"), "{}", d.rule);
        }
    }

    /// A finding of `rule` with `records` and figures, for the rules' sentence tests.
    pub(crate) fn finding(rule: Rule, records: &[&str], measured: i64, threshold: i64) -> Finding {
        Finding {
            household_id: "H440100000000001".into(),
            rule,
            severity: rule.severity(),
            region: 440100,
            programme: "dibao".into(),
            members: vec![],
            records: records.iter().map(|r| r.to_string()).collect(),
            evidence_rows: records.len() as u64,
            measured,
            threshold,
            counted: 2,
            months: 6,
            standard_fen: Some(130_900),
            multiple_bp: Some(10_000),
            standard_from: chrono::NaiveDate::from_ymd_opt(2025, 1, 1),
            reference: Some("穗民规字〔2024〕1号".into()),
            probable: None,
        }
    }

    /// The sentences of a finding of `rule`.
    pub(crate) fn sentences(
        rule: Rule,
        records: &[&str],
        measured: i64,
        threshold: i64,
    ) -> (String, String) {
        let policy = Policy::default_policy();
        let f = finding(rule, records, measured, threshold);
        super::super::sentence::sentences(&f, &policy)
    }

    /// Gathered rows about `persons` with `records`.
    pub(crate) fn gathered(persons: &[i64], records: &[&str], rows: u64) -> Gathered {
        Gathered {
            persons: persons.iter().copied().collect(),
            records: records.iter().map(|r| r.to_string()).collect(),
            measure: None,
            rows,
            probable_rows: 0,
        }
    }

    /// A rule measured by its distinct records: three rows about two members, two records.
    pub(crate) fn measures_distinct_records(def: &RuleDef) {
        let policy = Policy::default_policy();
        let m = (def.measure)(&gathered(&[5, 2], &["A", "B"], 3), &figures(&policy));
        assert_eq!(
            (m.measured, m.threshold, m.members),
            (2, 0, vec![2, 5]),
            "{}",
            def.rule
        );
    }

    /// Figures of a household with no sum findings.
    pub(crate) fn figures(policy: &Policy) -> Figures<'_> {
        Figures {
            income_fen: 0,
            income_limit_fen: 0,
            assets_fen: 0,
            asset_limit_fen: 0,
            counted_members: &[],
            policy,
        }
    }
}
