//! `property_excess` (FLAG): the counted members own more homes than the policy allows, or a
//! unit of a forbidden use (shop, office, garage, parking). Measured: the distinct units
//! against the homes allowed.

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::PropertyExcess,
    evidence: Some(include_str!("property_excess.sql")),
    measure,
    sentence,
};

fn measure(g: &Gathered, h: &Figures<'_>) -> Measured {
    Measured {
        measured: g.records.len() as i64,
        threshold: i64::from(h.policy.max_residential_units),
        members: g.persons.iter().copied().collect(),
    }
}

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (n, keys, keys_en) = (w.n, &w.keys_zh, &w.keys_en);
    (
        format!(
            "家庭成员名下登记有房产 {n} 处（{keys}），超过规定（住房不超过 {} 套，且不得持有商铺、办公、车库或车位）；",
            f.threshold
        ),
        format!(
            "Household members own {n} registered properties ({keys_en}); at most {} home and no shop, office, garage or parking space are allowed.",
            f.threshold
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, gathered, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_the_units_against_the_homes_allowed() {
        let policy = Policy::default_policy();
        let m = measure(&gathered(&[3, 1], &["U1", "U2", "U1b"], 4), &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (3, 1, vec![1, 3]));
    }

    #[test]
    fn the_sentence_lists_the_units() {
        let (zh, en) = sentences(Rule::PropertyExcess, &["U1", "U2"], 2, 1);
        assert!(zh.contains("房产 2 处（U1、U2），超过规定（住房不超过 1 套"), "{zh}");
        assert!(en.contains("own 2 registered properties (U1, U2)"), "{en}");
    }
}
