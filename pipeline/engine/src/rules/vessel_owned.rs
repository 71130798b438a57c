//! `vessel_owned` (FLAG): a counted member owns a registered vessel at the batch date.
//! Measured: the distinct vessels.

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::VesselOwned,
    evidence: Some(include_str!("vessel_owned.sql")),
    measure: super::records,
    sentence,
};

fn sentence(_: &Finding, w: &Words<'_>) -> (String, String) {
    let (n, keys, keys_en) = (w.n, &w.keys_zh, &w.keys_en);
    (
        format!("家庭成员名下登记有船舶 {n} 艘（{keys}）；"),
        format!("Household members own {n} registered vessel(s) ({keys_en})."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{measures_distinct_records, sentences};

    #[test]
    fn measures_the_distinct_records() {
        measures_distinct_records(&RULE);
    }

    #[test]
    fn the_sentence_lists_the_records() {
        let (zh, en) = sentences(Rule::VesselOwned, &["A1", "B2", "C3", "D4"], 4, 0);
        assert!(zh.contains("船舶 4 艘（A1、B2、C3、… (+1)）"), "{zh}");
        assert!(en.contains("own 4 registered vessel(s) (A1,"), "{en}");
    }
}
