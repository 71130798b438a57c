//! `vehicle_owned` (FLAG): a counted member owns a motor vehicle at the batch date of a type
//! the policy does not exempt. Measured: the distinct vehicles (plates).

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::VehicleOwned,
    evidence: Some(include_str!("vehicle_owned.sql")),
    measure: super::records,
    sentence,
};

fn sentence(_: &Finding, w: &Words<'_>) -> (String, String) {
    let (n, keys, keys_en) = (w.n, &w.keys_zh, &w.keys_en);
    (
        format!("家庭成员名下登记有非豁免机动车 {n} 辆（{keys}）；"),
        format!("Household members own {n} non-exempt motor vehicle(s) ({keys_en})."),
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
        let (zh, en) = sentences(Rule::VehicleOwned, &["A1", "B2", "C3", "D4"], 4, 0);
        assert!(zh.contains("机动车 4 辆（A1、B2、C3、… (+1)）"), "{zh}");
        assert!(en.contains("own 4 non-exempt motor vehicle(s) (A1, B2, C3, … (+1))"), "{en}");
    }
}
