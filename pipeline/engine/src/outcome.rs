//! From the tests' results to one outcome per household: PASS, FLAG, REVIEW or UNVERIFIED.
//!
//! FLAG when any FLAG finding; else UNVERIFIED when a source that a rule needs has no staged
//! snapshot (failed or absent), naming it; else REVIEW when any REVIEW finding; else PASS. A
//! household is never PASSed on a test that could not run. The rules, their severities and
//! the sources each needs are declared once, in [`hedui_schemas::rules`].

pub use hedui_schemas::rules::{MEMBER_SOURCES, Outcome, Rule, Severity};

/// FLAG when any FLAG finding; else UNVERIFIED when a test could not run (`unverified`
/// names what is missing); else REVIEW when any finding; else PASS. The findings are given
/// by their severities (under the batch's policy: `Policy::severity`).
pub fn decide(findings: impl IntoIterator<Item = Severity>, unverified: &[&str]) -> Outcome {
    let mut any = false;
    for s in findings {
        if s == Severity::Flag {
            return Outcome::Flag;
        }
        any = true;
    }
    if !unverified.is_empty() {
        Outcome::Unverified
    } else if any {
        Outcome::Review
    } else {
        Outcome::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(findings: impl IntoIterator<Item = Rule>, unverified: &[&str]) -> Outcome {
        super::decide(findings.into_iter().map(Rule::severity), unverified)
    }

    #[test]
    fn flag_wins_then_unverified_then_review() {
        let missing = ["vehicle"];
        assert_eq!(decide([], &[]), Outcome::Pass);
        assert_eq!(decide([Rule::UndeclaredSpouse], &[]), Outcome::Review);
        assert_eq!(
            decide([Rule::UndeclaredSpouse], &missing),
            Outcome::Unverified
        );
        assert_eq!(decide([], &missing), Outcome::Unverified);
        assert_eq!(
            decide([Rule::UndeclaredSpouse, Rule::VehicleOwned], &missing),
            Outcome::Flag
        );
    }
}
