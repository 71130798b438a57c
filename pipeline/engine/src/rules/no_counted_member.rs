//! `no_counted_member` (REVIEW): no declared member counts at the batch date (all are dead
//! or held). Decided from the household's figures (its counted members), with no evidence
//! plan of its own: the declared members' death and custody records are the evidence of the
//! members' exclusion (members.parquet). Measured: 0 counted against the 1 needed.

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::NoCountedMember,
    evidence: None,
    measure,
    sentence,
};

fn measure(_: &Gathered, _: &Figures<'_>) -> Measured {
    Measured {
        measured: 0,
        threshold: 1,
        members: Vec::new(),
    }
}

fn sentence(_: &Finding, _: &Words<'_>) -> (String, String) {
    (
        "家庭申报成员均已死亡或在押，无可计入的成员，需核实；".to_string(),
        "No declared member can be counted (all are dead or held); to be checked.".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_none_counted_against_one_needed() {
        let policy = Policy::default_policy();
        let m = measure(&Gathered::default(), &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (0, 1, vec![]));
        let (zh, _) = sentences(Rule::NoCountedMember, &[], 0, 1);
        assert!(zh.starts_with("家庭申报成员均已死亡或在押"), "{zh}");
    }
}
