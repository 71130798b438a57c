//! `business_registered` (FLAG): a counted member is the legal representative or a
//! shareholder of an active business, or runs a sole trader too large for review. Measured:
//! the distinct businesses (credit codes).

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::BusinessRegistered,
    evidence: Some(include_str!("business_registered.sql")),
    measure: super::records,
    sentence,
};

fn sentence(_: &Finding, w: &Words<'_>) -> (String, String) {
    let (n, keys, keys_en) = (w.n, &w.keys_zh, &w.keys_en);
    (
        format!("家庭成员为 {n} 家在营市场主体的法定代表人、股东或经营者（统一社会信用代码 {keys}）；"),
        format!("A household member is the legal representative, shareholder or operator of {n} active business(es) (credit code {keys_en})."),
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
        let (zh, en) = sentences(Rule::BusinessRegistered, &["A1", "B2", "C3", "D4"], 4, 0);
        assert!(zh.contains("4 家在营市场主体"), "{zh}");
        assert!(en.contains("of 4 active business(es) (credit code A1, B2"), "{en}");
    }
}
