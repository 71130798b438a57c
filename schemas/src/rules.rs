//! The rules of the policy and the outcomes they lead to, defined once.
//!
//! Every crate that names a rule (the engine that runs it, the generator that plants it, the
//! review app that labels it, the tests) names it through [`Rule`]: its id as the batch's
//! files spell it, its severity, the sources it reads, the unit of its measured value and its
//! name in Chinese and English. A `match` over [`Rule`] has no fallback arm, so a rule added
//! here without its evidence plan, sentence or planting does not compile.
//!
//! The order of [`Rule::ALL`] is the order findings are written in for a household.

/// FLAG (a test failed) or REVIEW (a caseworker must look).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A test failed.
    Flag,
    /// A caseworker must look.
    Review,
}

impl Severity {
    /// `FLAG` or `REVIEW`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Flag => "FLAG",
            Severity::Review => "REVIEW",
        }
    }
}

/// A household's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Every test ran and none failed or needs a caseworker.
    Pass,
    /// A test failed.
    Flag,
    /// A caseworker must look.
    Review,
    /// A test the household needs could not run (a source or the policy is missing).
    Unverified,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Pass,
        Outcome::Flag,
        Outcome::Review,
        Outcome::Unverified,
    ];

    /// `PASS`, `FLAG`, `REVIEW` or `UNVERIFIED`, as the outcome files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Flag => "FLAG",
            Outcome::Review => "REVIEW",
            Outcome::Unverified => "UNVERIFIED",
        }
    }

    /// The outcome of its spelling.
    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Its name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Outcome::Pass => "通过",
            Outcome::Flag => "不符合",
            Outcome::Review => "需复核",
            Outcome::Unverified => "未能核对",
        }
    }

    /// Its name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Outcome::Pass => "Pass",
            Outcome::Flag => "Flagged",
            Outcome::Review => "Review",
            Outcome::Unverified => "Unverified",
        }
    }
}

/// The unit of a finding's measured value and threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Money, in fen.
    Fen,
    /// Registered staff.
    Staff,
    /// Months.
    Months,
    /// Household members.
    Members,
    /// Records (or the people they name).
    Records,
}

impl Unit {
    /// As the findings files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Fen => "fen",
            Unit::Staff => "staff",
            Unit::Months => "months",
            Unit::Members => "members",
            Unit::Records => "records",
        }
    }
}

/// The sources whose records are evidence of a household's income ([`crate::Counts`]), in
/// catalog order.
static INCOME_SOURCES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    crate::all_sources()
        .iter()
        .filter(|s| s.counts.is_some_and(|c| c.evidence.is_some()))
        .map(|s| s.id)
        .collect()
});

/// The sources that hold a financial asset (a field of role `Asset`), in catalog order.
static ASSET_SOURCES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    crate::all_sources()
        .iter()
        .filter(|s| s.fields.iter().any(|f| f.role == crate::Role::Asset))
        .map(|s| s.id)
        .collect()
});

/// The sources that only deduct from income (no record of theirs is evidence of it), needed
/// under `policy` when it keeps their records (out-of-pocket medical spending, when the
/// policy deducts it).
pub fn deduction_sources(policy: &crate::policy::Policy) -> Vec<&'static str> {
    crate::all_sources()
        .iter()
        .filter(|s| {
            s.counts.is_some_and(|c| {
                c.evidence.is_none()
                    && match &c.rows {
                        crate::Gate::Always => true,
                        crate::Gate::Switch(w) => w.on(policy),
                        crate::Gate::In(_, l)
                        | crate::Gate::Is(_, _, l)
                        | crate::Gate::InBut(_, l, _) => !l.codes(policy).is_empty(),
                    }
            })
        })
        .map(|s| s.id)
        .collect()
}

/// Sources every rule needs: who the members are and who counts.
pub const MEMBER_SOURCES: &[&str] = &["applications", "death", "cremation", "incarceration"];

/// A rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Net income over the window above the programme's line.
    IncomeOverLine,
    /// Financial assets above the limit.
    AssetsOverLimit,
    /// More homes than allowed, or a unit of a forbidden use.
    PropertyExcess,
    /// A non-exempt motor vehicle.
    VehicleOwned,
    /// A registered vessel.
    VesselOwned,
    /// An active business a member represents, owns shares in or runs.
    BusinessRegistered,
    /// A small sole trader (review rather than FLAG).
    SoleTraderReview,
    /// A member paid by a publicly funded employer.
    PublicPayroll,
    /// A member who already receives the programme in another household.
    DuplicateBenefit,
    /// A member declared in another household of the batch too, or receiving another
    /// programme under another household in another region (severity from the policy).
    MemberInTwoHouseholds,
    /// A declared member with a death or cremation record.
    DeclaredMemberDead,
    /// A spouse in the marriage records who was not declared.
    UndeclaredSpouse,
    /// A minor child in the household registration who was not declared.
    UndeclaredMinorChild,
    /// No declared member counts.
    NoCountedMember,
    /// Records about a counted member that could not be read (review: the check is
    /// incomplete).
    UnreadableRecords,
}

impl Rule {
    /// Every rule, in the order a household's findings are written.
    pub const ALL: [Rule; 15] = [
        Rule::IncomeOverLine,
        Rule::AssetsOverLimit,
        Rule::PropertyExcess,
        Rule::VehicleOwned,
        Rule::VesselOwned,
        Rule::BusinessRegistered,
        Rule::SoleTraderReview,
        Rule::PublicPayroll,
        Rule::DuplicateBenefit,
        Rule::MemberInTwoHouseholds,
        Rule::DeclaredMemberDead,
        Rule::UndeclaredSpouse,
        Rule::UndeclaredMinorChild,
        Rule::NoCountedMember,
        Rule::UnreadableRecords,
    ];

    /// The stable rule id, as the batch's files spell it.
    pub fn id(self) -> &'static str {
        match self {
            Rule::IncomeOverLine => "income_over_line",
            Rule::AssetsOverLimit => "assets_over_limit",
            Rule::PropertyExcess => "property_excess",
            Rule::VehicleOwned => "vehicle_owned",
            Rule::VesselOwned => "vessel_owned",
            Rule::BusinessRegistered => "business_registered",
            Rule::SoleTraderReview => "sole_trader_review",
            Rule::PublicPayroll => "public_payroll",
            Rule::DuplicateBenefit => "duplicate_benefit",
            Rule::MemberInTwoHouseholds => "member_in_two_households",
            Rule::DeclaredMemberDead => "declared_member_dead",
            Rule::UndeclaredSpouse => "undeclared_spouse",
            Rule::UndeclaredMinorChild => "undeclared_minor_child",
            Rule::NoCountedMember => "no_counted_member",
            Rule::UnreadableRecords => "unreadable_records",
        }
    }

    /// The rule of an id.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    /// Its place in [`Rule::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The severity of its findings unless the policy sets it ([`Rule::severity_is_policy`];
    /// `Policy::severity` is what a batch uses).
    pub fn severity(self) -> Severity {
        match self {
            Rule::IncomeOverLine
            | Rule::AssetsOverLimit
            | Rule::PropertyExcess
            | Rule::VehicleOwned
            | Rule::VesselOwned
            | Rule::BusinessRegistered
            | Rule::PublicPayroll
            | Rule::DuplicateBenefit => Severity::Flag,
            Rule::SoleTraderReview
            | Rule::MemberInTwoHouseholds
            | Rule::DeclaredMemberDead
            | Rule::UndeclaredSpouse
            | Rule::UndeclaredMinorChild
            | Rule::NoCountedMember
            | Rule::UnreadableRecords => Severity::Review,
        }
    }

    /// Whether the policy may set its severity (`[severity]`): only where the law leaves it to
    /// the centre. A sum test or a record the rules forbid is always FLAG.
    pub fn severity_is_policy(self) -> bool {
        matches!(self, Rule::MemberInTwoHouseholds)
    }

    /// The sources it reads besides the [`MEMBER_SOURCES`]: when one has no staged snapshot,
    /// a household the rule does not FLAG is UNVERIFIED.
    pub fn sources(self) -> &'static [&'static str] {
        match self {
            // Every source whose records are evidence of income (the catalog's `counts`).
            Rule::IncomeOverLine => &INCOME_SOURCES,
            // Every source the catalog tags as holding an asset.
            Rule::AssetsOverLimit => &ASSET_SOURCES,
            Rule::PropertyExcess => &["real_estate"],
            Rule::VehicleOwned => &["vehicle"],
            Rule::VesselOwned => &["vessel"],
            Rule::BusinessRegistered | Rule::SoleTraderReview => &["business"],
            Rule::PublicPayroll => &["public_payroll"],
            Rule::DuplicateBenefit | Rule::MemberInTwoHouseholds => &["assistance"],
            Rule::UndeclaredSpouse => &["marriage"],
            Rule::UndeclaredMinorChild => &["hukou"],
            Rule::DeclaredMemberDead | Rule::NoCountedMember | Rule::UnreadableRecords => &[],
        }
    }

    /// The unit of its measured value and threshold.
    pub fn unit(self) -> Unit {
        match self {
            Rule::IncomeOverLine | Rule::AssetsOverLimit => Unit::Fen,
            Rule::SoleTraderReview => Unit::Staff,
            Rule::PublicPayroll => Unit::Months,
            Rule::NoCountedMember => Unit::Members,
            // (The three below count the people their records name.)
            Rule::DeclaredMemberDead
            | Rule::UndeclaredSpouse
            | Rule::UndeclaredMinorChild
            | Rule::PropertyExcess
            | Rule::VehicleOwned
            | Rule::VesselOwned
            | Rule::BusinessRegistered
            | Rule::DuplicateBenefit
            | Rule::MemberInTwoHouseholds
            | Rule::UnreadableRecords => Unit::Records,
        }
    }

    /// Its name in Chinese, as a caseworker reads it.
    pub fn name_zh(self) -> &'static str {
        match self {
            Rule::IncomeOverLine => "收入超过标准",
            Rule::AssetsOverLimit => "金融资产超过限额",
            Rule::PropertyExcess => "房产超过规定",
            Rule::VehicleOwned => "拥有机动车辆",
            Rule::VesselOwned => "拥有船舶",
            Rule::BusinessRegistered => "登记经营企业",
            Rule::SoleTraderReview => "个体工商户（需复核）",
            Rule::PublicPayroll => "财政供养人员",
            Rule::DuplicateBenefit => "重复享受救助",
            Rule::MemberInTwoHouseholds => "成员在两个家庭申报",
            Rule::DeclaredMemberDead => "申报成员已死亡",
            Rule::UndeclaredSpouse => "未申报配偶",
            Rule::UndeclaredMinorChild => "未申报未成年子女",
            Rule::NoCountedMember => "无可计入成员",
            Rule::UnreadableRecords => "有记录无法读取",
        }
    }

    /// Its name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Rule::IncomeOverLine => "Income over the line",
            Rule::AssetsOverLimit => "Financial assets over the limit",
            Rule::PropertyExcess => "Property beyond what is allowed",
            Rule::VehicleOwned => "Owns a motor vehicle",
            Rule::VesselOwned => "Owns a vessel",
            Rule::BusinessRegistered => "Registered business",
            Rule::SoleTraderReview => "Sole trader (review)",
            Rule::PublicPayroll => "On the public payroll",
            Rule::DuplicateBenefit => "Benefit received twice",
            Rule::MemberInTwoHouseholds => "Member of two households",
            Rule::DeclaredMemberDead => "Declared member has died",
            Rule::UndeclaredSpouse => "Undeclared spouse",
            Rule::UndeclaredMinorChild => "Undeclared minor child",
            Rule::NoCountedMember => "No member counts",
            Rule::UnreadableRecords => "Records that could not be read",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// The sources some rule reads (the member sources and every rule's), sorted: an unreadable
/// record in one of them about a counted member keeps the household from PASS
/// ([`Rule::UnreadableRecords`]).
pub fn read_sources() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = MEMBER_SOURCES
        .iter()
        .chain(Rule::ALL.iter().flat_map(|r| r.sources().iter()))
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The rules that read `source` (every rule for a member source).
pub fn rules_reading(source: &str) -> Vec<Rule> {
    Rule::ALL
        .into_iter()
        .filter(|r| MEMBER_SOURCES.contains(&source) || r.sources().contains(&source))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_rule_once_in_declaration_order() {
        for (i, r) in Rule::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i, "{r}");
            assert_eq!(Rule::from_id(r.id()), Some(r));
        }
        let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Rule::ALL.len());
        assert_eq!(Rule::from_id("no_such_rule"), None);
    }

    #[test]
    fn income_and_assets_are_read_from_the_sources_the_catalog_says() {
        // The domain's income and asset sources are all read (a department added later joins
        // them), and only sources whose catalog entry adds income, a wage or an asset.
        let income = Rule::IncomeOverLine.sources();
        for s in [
            "tax",
            "public_payroll",
            "social_insurance",
            "provident_fund",
            "pension",
            "unemployment_benefit",
        ] {
            assert!(income.contains(&s), "{s}");
        }
        for s in income {
            let c = crate::source(s).and_then(|d| d.counts);
            assert!(
                c.is_some_and(|c| c.added.is_some() || c.wage.is_some()),
                "{s}"
            );
        }
        let assets = Rule::AssetsOverLimit.sources();
        assert_eq!(
            &assets[..4],
            [
                "bank_deposit",
                "securities",
                "commercial_insurance",
                "internet_finance"
            ]
        );
        for s in assets {
            let def = crate::source(s).unwrap();
            assert!(
                def.fields.iter().any(|f| f.role == crate::Role::Asset),
                "{s}"
            );
        }
        let mut policy = crate::policy::Policy::default_policy();
        assert!(deduction_sources(&policy).is_empty());
        policy.deduct_medical_expense = true;
        assert_eq!(deduction_sources(&policy), ["medical_expense"]);
    }

    #[test]
    fn every_source_a_rule_reads_is_in_the_catalog() {
        for s in read_sources() {
            assert!(crate::source(s).is_some(), "{s}");
        }
        assert!(read_sources().contains(&"vehicle"));
        assert!(!read_sources().contains(&"special_care"));
    }

    #[test]
    fn ids_and_names_are_distinct_and_ids_are_snake_case() {
        for r in Rule::ALL {
            assert!(
                r.id().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{r}"
            );
            assert!(!r.name_zh().is_empty() && !r.name_en().is_empty(), "{r}");
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }
}
