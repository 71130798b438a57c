//! `public_payroll` (FLAG): a counted member was paid by a publicly funded employer in the
//! income window. Measured: the distinct months.

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::PublicPayroll,
    evidence: Some(include_str!("public_payroll.sql")),
    measure: super::records,
    sentence,
};

fn sentence(f: &Finding, _: &Words<'_>) -> (String, String) {
    (
        format!(
            "家庭成员在核对期内有 {} 个月由财政供养单位发放工资；",
            f.measured
        ),
        format!(
            "A household member was paid by a publicly funded employer in {} month(s) of the window.",
            f.measured
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, gathered, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_the_months() {
        let policy = Policy::default_policy();
        let m = (RULE.measure)(&gathered(&[9], &["202605", "202606"], 2), &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (2, 0, vec![9]));
    }

    #[test]
    fn the_sentence_gives_the_months() {
        let (zh, en) = sentences(Rule::PublicPayroll, &["202605", "202606"], 2, 0);
        assert!(zh.contains("有 2 个月由财政供养单位发放工资"), "{zh}");
        assert!(en.contains("in 2 month(s) of the window"), "{en}");
    }
}
