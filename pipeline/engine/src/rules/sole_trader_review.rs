//! `sole_trader_review` (REVIEW): a counted member runs a sole trader (个体工商户) with at
//! most the policy's staff; its income is checked by a caseworker. Measured: the largest
//! registered staff against the staff allowed.

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::SoleTraderReview,
    evidence: Some(include_str!("sole_trader_review.sql")),
    measure,
    sentence,
};

fn measure(g: &Gathered, h: &Figures<'_>) -> Measured {
    Measured {
        measured: g.measure.unwrap_or_default(),
        threshold: i64::from(h.policy.sole_trader_review_max_staff),
        members: g.persons.iter().copied().collect(),
    }
}

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (keys, keys_en) = (&w.keys_zh, &w.keys_en);
    (
        format!(
            "家庭成员经营个体工商户（统一社会信用代码 {keys}），登记雇员 {} 人，需核实经营收入；",
            f.measured
        ),
        format!(
            "A household member runs a sole-trader business (credit code {keys_en}) with {} registered staff; its income must be checked.",
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
    fn measures_the_staff_against_the_staff_allowed() {
        let policy = Policy::default_policy();
        let mut g = gathered(&[4], &["91440101MA59XXXX1X"], 1);
        g.measure = Some(0);
        let m = measure(&g, &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (0, 0, vec![4]));
    }

    #[test]
    fn the_sentence_gives_the_staff() {
        let (zh, en) = sentences(Rule::SoleTraderReview, &["X1"], 0, 0);
        assert!(zh.contains("（统一社会信用代码 X1），登记雇员 0 人"), "{zh}");
        assert!(en.contains("(credit code X1) with 0 registered staff"), "{en}");
    }
}
