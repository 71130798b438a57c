//! `declared_member_dead` (REVIEW): a declared member has a death or cremation record on or
//! before the batch date (members.sql then does not count them). Measured: the members.

use super::{RuleDef, Words};
use crate::finding::Finding;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::DeclaredMemberDead,
    evidence: Some(include_str!("declared_member_dead.sql")),
    measure: super::persons,
    sentence,
};

fn sentence(f: &Finding, _: &Words<'_>) -> (String, String) {
    (
        format!(
            "申报成员中 {} 人有死亡或火化记录，需核实家庭成员；",
            f.measured
        ),
        format!(
            "{} declared member(s) have a death or cremation record; the household's members must be checked.",
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
    fn measures_the_members_not_their_records() {
        // A death and a cremation record of one member: one member.
        let policy = Policy::default_policy();
        let m = (RULE.measure)(&gathered(&[6], &[], 2), &figures(&policy));
        assert_eq!((m.measured, m.threshold, m.members), (1, 0, vec![6]));
    }

    #[test]
    fn the_sentence_counts_the_members() {
        let (zh, en) = sentences(Rule::DeclaredMemberDead, &[], 1, 0);
        assert!(zh.contains("申报成员中 1 人有死亡或火化记录"), "{zh}");
        assert!(en.starts_with("1 declared member(s) have a death"), "{en}");
    }
}
