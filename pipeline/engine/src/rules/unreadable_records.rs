//! `unreadable_records` (REVIEW): a department record about a counted member, in a source a
//! rule reads, could not be read (quarantined for any reason but being an exact copy): the
//! check is incomplete, and the household cannot PASS on records nobody read. Measured:
//! every such record (two alike, the same mistake twice, count as two).

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::UnreadableRecords,
    evidence: Some(include_str!("unreadable_records.sql")),
    measure,
    sentence,
};

fn measure(g: &Gathered, _: &Figures<'_>) -> Measured {
    Measured {
        measured: g.rows as i64,
        threshold: 0,
        members: g.persons.iter().copied().collect(),
    }
}

fn sentence(_: &Finding, w: &Words<'_>) -> (String, String) {
    let (n, keys, keys_en) = (w.n, &w.keys_zh, &w.keys_en);
    (
        format!("有 {n} 条关于家庭成员的部门记录无法读取（{keys}），核对不完整，需人工核实；"),
        format!(
            "{n} department record(s) about household members could not be read ({keys_en}); the check is incomplete and must be completed by hand."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, gathered, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_every_row_even_two_alike() {
        let policy = Policy::default_policy();
        let m = measure(&gathered(&[8], &["tax bad_amount income \"1,2x\""], 2), &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (2, 0, vec![8]));
    }

    #[test]
    fn the_sentence_says_what_could_not_be_read() {
        let (zh, en) = sentences(Rule::UnreadableRecords, &["tax bad_month month \"13\""], 1, 0);
        assert!(zh.contains("有 1 条关于家庭成员的部门记录无法读取（tax bad_month month \"13\"）"), "{zh}");
        assert!(en.starts_with("1 department record(s) about household members could not be read"), "{en}");
    }
}
