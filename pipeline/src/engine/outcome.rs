//! From the tests' results to one outcome per household: PASS, FLAG, REVIEW or UNVERIFIED.
//!
//! FLAG when any FLAG finding; else UNVERIFIED when a source that a rule needs has no staged
//! snapshot (failed or absent), naming it; else REVIEW when any REVIEW finding; else PASS. A
//! household is never PASSed on a test that could not run. Which sources each rule needs is
//! declared once here, in [`RULES`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;

use super::Engine;
use crate::Result;

/// FLAG (a test failed) or REVIEW (a caseworker must look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A test failed.
    Flag,
    /// A caseworker must look.
    Review,
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
];

/// The outcome of one household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdOutcome {
    /// Region code.
    pub region: i64,
    /// Programme code.
    pub programme: String,
    /// PASS, FLAG, REVIEW or UNVERIFIED.
    pub outcome: &'static str,
    /// Rules with findings, in [`RULES`] order.
    pub rules: Vec<&'static str>,
    /// Sources whose absence left tests unrun (empty unless some source is missing).
    pub unverified: Vec<&'static str>,
}

fn strings(b: &RecordBatch, col: &str) -> Result<Vec<Option<String>>> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| crate::Error::Invalid(format!("engine: no column {col}")))?;
    let c = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
    let c = c.as_string::<i32>();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i).to_string()))
        .collect())
}

fn bools(b: &RecordBatch, col: &str) -> Result<Vec<Option<bool>>> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| crate::Error::Invalid(format!("engine: no column {col}")))?;
    let c = c.as_boolean();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect())
}

impl Engine {
    /// The outcome of every household under check at `as_of`.
    pub async fn outcomes(
        &self,
        policy: &crate::policy::Policy,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<String, HouseholdOutcome>> {
        let mut found: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        let mut info: BTreeMap<String, (i64, String)> = BTreeMap::new();
        let mut no_line: BTreeSet<String> = BTreeSet::new();
        for b in self.members(as_of).await? {
            let regions = datafusion::arrow::compute::cast(
                b.column_by_name("region")
                    .ok_or_else(|| crate::Error::Invalid("engine: no region".into()))?,
                &DataType::Int64,
            )?;
            let regions = regions.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let ids = strings(&b, "household_id")?;
            let programmes = strings(&b, "programme")?;
            for (i, (h, p)) in ids.into_iter().zip(programmes).enumerate() {
                if let Some(h) = h {
                    info.entry(h.clone())
                        .or_insert((regions.value(i), p.unwrap_or_default()));
                    found.entry(h).or_default();
                }
            }
        }
        let rule = |id: &str| RULES.iter().find(|r| r.id == id).map(|r| r.id);
        for b in self.income_line(policy, as_of).await? {
            for (h, over) in strings(&b, "household_id")?
                .into_iter()
                .zip(bools(&b, "over_line")?)
            {
                let Some(h) = h else { continue };
                match over {
                    Some(true) => {
                        found.entry(h).or_default().insert("income_over_line");
                    }
                    Some(false) => {}
                    None => {
                        no_line.insert(h);
                    }
                }
            }
        }
        for b in self.assets(policy, as_of).await? {
            for (h, over) in strings(&b, "household_id")?
                .into_iter()
                .zip(bools(&b, "over_limit")?)
            {
                if let (Some(h), Some(true)) = (h, over) {
                    found.entry(h).or_default().insert("assets_over_limit");
                }
            }
        }
        for b in self.findings(policy, as_of).await? {
            for (h, r) in strings(&b, "household_id")?
                .into_iter()
                .zip(strings(&b, "rule")?)
            {
                if let (Some(h), Some(r)) = (h, r.as_deref().and_then(rule)) {
                    found.entry(h).or_default().insert(r);
                }
            }
        }
        let mut needed: BTreeSet<&'static str> = MEMBER_SOURCES.iter().copied().collect();
        needed.extend(RULES.iter().flat_map(|r| r.sources.iter().copied()));
        if policy.deduct_medical_expense {
            needed.insert("medical_expense");
        }
        let unverified: Vec<&'static str> = self
            .missing
            .iter()
            .copied()
            .filter(|s| needed.contains(s))
            .collect();
        Ok(found
            .into_iter()
            .map(|(h, rules)| {
                let rules: Vec<&'static str> = RULES
                    .iter()
                    .map(|r| r.id)
                    .filter(|r| rules.contains(r))
                    .collect();
                let flag = rules.iter().any(|r| {
                    RULES
                        .iter()
                        .any(|d| d.id == *r && d.severity == Severity::Flag)
                });
                let mut unv = unverified.clone();
                if no_line.contains(&h) {
                    unv.push("policy");
                }
                let outcome = if flag {
                    "FLAG"
                } else if !unv.is_empty() {
                    "UNVERIFIED"
                } else if !rules.is_empty() {
                    "REVIEW"
                } else {
                    "PASS"
                };
                let (region, programme) = info.get(&h).cloned().unwrap_or_default();
                (
                    h,
                    HouseholdOutcome {
                        region,
                        programme,
                        outcome,
                        rules,
                        unverified: unv,
                    },
                )
            })
            .collect())
    }
}
