//! `undeclared_minor_child` (REVIEW): the household registration shows a minor child in a
//! declared member's hukou who was not declared. Measured: the children.

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::UndeclaredMinorChild,
    evidence: Some(include_str!("undeclared_minor_child.sql")),
    measure: super::persons,
    sentence,
};

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (keys, keys_en) = (&w.keys_zh, &w.keys_en);
    (
        format!(
            "户籍登记显示同户有未申报的未成年子女 {} 人（户号 {keys}），需核实；",
            f.measured
        ),
        format!(
            "Household registration shows {} undeclared minor child(ren) in the same hukou ({keys_en}); to be checked.",
            f.measured
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::sentences;

    #[test]
    fn the_sentence_counts_the_children_and_names_the_hukou() {
        let (zh, en) = sentences(Rule::UndeclaredMinorChild, &["HK1"], 2, 0);
        assert!(zh.contains("未成年子女 2 人（户号 HK1）"), "{zh}");
        assert!(en.contains("shows 2 undeclared minor child(ren) in the same hukou (HK1)"), "{en}");
    }
}
