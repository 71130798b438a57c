//! `member_in_two_households` (REVIEW unless the policy says FLAG): a counted member who is
//! declared in another household of the batch too, or receives another programme under
//! another household in another region. Measured: the other declarations (distinct
//! households, with their region and programme).
//!
//! The record key of another declaration is `household/region/programme`; the sentence
//! names each as the caseworker reads it (`H440300000000009（深圳市，低保）`).

use super::{RuleDef, Words};
use crate::finding::Finding;
use crate::sentence::{programme_en, programme_zh};
use hedui_schemas::Rule;
use hedui_schemas::policy::Policy;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::MemberInTwoHouseholds,
    evidence: Some(include_str!("member_in_two_households.sql")),
    measure: super::records,
    sentence,
};

/// A record key split into (household, region, programme); a household id may hold `/`, the
/// region and the programme never do.
fn parts(key: &str) -> (&str, Option<i32>, &str) {
    let mut it = key.rsplitn(3, '/');
    match (it.next(), it.next(), it.next()) {
        (Some(p), Some(r), Some(h)) => (h, r.parse().ok(), p),
        _ => (key, None, ""),
    }
}

/// The other declarations, up to three, then how many more: (Chinese, English).
fn others(f: &Finding, policy: &Policy) -> (String, String) {
    let (mut zh, mut en) = (Vec::new(), Vec::new());
    for k in f.records.iter().take(3) {
        let (h, region, prog) = parts(k);
        let named = region
            .map(|r| (r, policy.region_name(r)))
            .filter(|(r, n)| n.zh != r.to_string());
        let (rz, re) = match (named, region) {
            (Some((_, n)), _) => (n.zh, n.en),
            (None, Some(c)) => (format!("区划{c}"), format!("region {c}")),
            (None, None) => (String::new(), String::new()),
        };
        zh.push(format!("{h}（{rz}，{}）", programme_zh(prog)));
        en.push(format!("{h} ({re}, {})", programme_en(prog)));
    }
    let (mut zh, mut en) = (zh.join("、"), en.join("; "));
    if f.records.len() > 3 {
        zh.push_str(&format!("等{}户", f.records.len()));
        en.push_str(&format!("; … (+{})", f.records.len() - 3));
    }
    (zh, en)
}

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (zh, en) = others(f, w.policy);
    (
        format!("家庭成员同时在其他家庭申报或享受救助：{zh}，需核实其实际所属家庭；"),
        format!(
            "A household member is also declared in, or receives assistance with, another \
             household: {en}; which household they belong to must be established."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{measures_distinct_records, sentences};

    #[test]
    fn the_sentence_names_the_other_household_its_region_and_programme() {
        let (zh, en) = sentences(
            Rule::MemberInTwoHouseholds,
            &["H440300700000009/440300/tekun", "a/b/H1/442000/dibao"],
            2,
            0,
        );
        assert!(zh.contains("H440300700000009（深圳市，特困"), "{zh}");
        assert!(zh.contains("a/b/H1（中山市，"), "{zh}");
        assert!(
            en.contains("H440300700000009 (Shenzhen, extreme-poverty support (tekun))"),
            "{en}"
        );
        // A region the policy does not know is named by its code.
        let (zh, en) = sentences(Rule::MemberInTwoHouseholds, &["H9/450100/dibao"], 1, 0);
        assert!(zh.contains("H9（区划450100，"), "{zh}");
        assert!(en.contains("H9 (region 450100, "), "{en}");
    }

    #[test]
    fn it_is_measured_by_the_other_declarations() {
        measures_distinct_records(&RULE);
    }
}
