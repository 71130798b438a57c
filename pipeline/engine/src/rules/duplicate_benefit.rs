//! `duplicate_benefit` (FLAG): a counted member already receives the programme in another
//! household or region. Measured: the distinct other households.

use super::{RuleDef, Words};
use crate::finding::Finding;
use crate::sentence::{programme_en, programme_zh};
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::DuplicateBenefit,
    evidence: Some(include_str!("duplicate_benefit.sql")),
    measure: super::records,
    sentence,
};

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (keys, keys_en) = (&w.keys_zh, &w.keys_en);
    (
        format!(
            "家庭成员已在其他家庭（{keys}）享受{}，不得重复享受；",
            programme_zh(&f.programme)
        ),
        format!(
            "A household member already receives {} in another household ({keys_en}).",
            programme_en(&f.programme)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::sentences;

    #[test]
    fn the_sentence_names_the_other_household_and_the_programme() {
        let (zh, en) = sentences(Rule::DuplicateBenefit, &["H440300000000009"], 1, 0);
        assert!(zh.contains("已在其他家庭（H440300000000009）享受"), "{zh}");
        assert!(en.contains("receives minimum living guarantee (dibao) in another household (H440300000000009)"), "{en}");
    }
}
