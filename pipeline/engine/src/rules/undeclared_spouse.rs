//! `undeclared_spouse` (REVIEW): the marriage records show a declared member married to
//! someone outside the household. Measured: the spouses.

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::UndeclaredSpouse,
    evidence: Some(include_str!("undeclared_spouse.sql")),
    measure: super::persons,
    sentence,
};

fn sentence(f: &Finding, _: &Words<'_>) -> (String, String) {
    (
        format!(
            "婚姻登记显示家庭成员有未申报的配偶 {} 人，需核实；",
            f.measured
        ),
        format!(
            "Marriage records show {} undeclared spouse(s) of a household member; to be checked.",
            f.measured
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::sentences;

    #[test]
    fn the_sentence_counts_the_spouses() {
        let (zh, en) = sentences(Rule::UndeclaredSpouse, &[], 1, 0);
        assert!(zh.contains("未申报的配偶 1 人"), "{zh}");
        assert!(en.contains("show 1 undeclared spouse(s)"), "{en}");
    }
}
