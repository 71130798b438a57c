//! From the tests' results to one outcome per household: PASS, FLAG, REVIEW or UNVERIFIED.
//!
//! FLAG when any FLAG finding; else UNVERIFIED when a source that a rule needs has no staged
//! snapshot (failed or absent), naming it; else REVIEW when any REVIEW finding; else PASS. A
//! household is never PASSed on a test that could not run. Which sources each rule needs is
//! declared once here, in [`RULES`].

/// FLAG (a test failed) or REVIEW (a caseworker must look).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// A rule of the policy and the sources it reads.
#[derive(Debug)]
pub struct RuleDef {
    /// Stable rule id.
    pub id: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// Sources it needs besides the member sources.
    pub sources: &'static [&'static str],
}

/// Sources every rule needs: who the members are and who counts.
pub const MEMBER_SOURCES: &[&str] = &["applications", "death", "cremation", "incarceration"];

/// Every rule, with the sources it needs.
pub const RULES: &[RuleDef] = &[
    RuleDef {
        id: "income_over_line",
        severity: Severity::Flag,
        sources: &[
            "tax",
            "public_payroll",
            "social_insurance",
            "provident_fund",
            "pension",
            "unemployment_benefit",
        ],
    },
    RuleDef {
        id: "assets_over_limit",
        severity: Severity::Flag,
        sources: &[
            "bank_deposit",
            "securities",
            "commercial_insurance",
            "internet_finance",
        ],
    },
    RuleDef {
        id: "property_excess",
        severity: Severity::Flag,
        sources: &["real_estate"],
    },
    RuleDef {
        id: "vehicle_owned",
        severity: Severity::Flag,
        sources: &["vehicle"],
    },
    RuleDef {
        id: "vessel_owned",
        severity: Severity::Flag,
        sources: &["vessel"],
    },
    RuleDef {
        id: "business_registered",
        severity: Severity::Flag,
        sources: &["business"],
    },
    RuleDef {
        id: "sole_trader_review",
        severity: Severity::Review,
        sources: &["business"],
    },
    RuleDef {
        id: "public_payroll",
        severity: Severity::Flag,
        sources: &["public_payroll"],
    },
    RuleDef {
        id: "duplicate_benefit",
        severity: Severity::Flag,
        sources: &["assistance"],
    },
    RuleDef {
        id: "declared_member_dead",
        severity: Severity::Review,
        sources: &[],
    },
    RuleDef {
        id: "undeclared_spouse",
        severity: Severity::Review,
        sources: &["marriage"],
    },
    RuleDef {
        id: "undeclared_minor_child",
        severity: Severity::Review,
        sources: &["hukou"],
    },
    RuleDef {
        id: "no_counted_member",
        severity: Severity::Review,
        sources: &[],
    },
    RuleDef {
        id: "unreadable_records",
        severity: Severity::Review,
        sources: &[],
    },
];
