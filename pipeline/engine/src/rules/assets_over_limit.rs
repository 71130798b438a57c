//! `assets_over_limit` (FLAG): the household's financial assets (the latest value of every
//! account of its counted members) are above the limit (the dibao standard × the policy's
//! months × counted members; metrics.sql decides it). The evidence is each account's latest
//! snapshot; the finding concerns every counted member.

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use crate::sentence::yuan;
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::AssetsOverLimit,
    evidence: Some(include_str!("assets_over_limit.sql")),
    measure,
    sentence,
};

fn measure(_: &Gathered, h: &Figures<'_>) -> Measured {
    Measured {
        measured: h.assets_fen,
        threshold: h.asset_limit_fen,
        members: h.counted_members.to_vec(),
    }
}

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let (city_zh, city_en, n) = (w.city_zh, w.city_en, w.n);
    (
        format!(
            "家庭金融资产合计 {} 元（{} 个账户），高于上限 {} 元（{city_zh}低保标准 {} 元 × {} 个月 × {} 人）；",
            yuan(f.measured),
            n,
            yuan(f.threshold),
            yuan(f.standard_fen.unwrap_or(0)),
            w.policy.financial_asset_months,
            f.counted
        ),
        format!(
            "The household's financial assets total {} yuan ({} accounts), above the limit of {} yuan ({city_en} dibao standard {} x {} months x {} members).",
            yuan(f.measured),
            n,
            yuan(f.threshold),
            yuan(f.standard_fen.unwrap_or(0)),
            w.policy.financial_asset_months,
            f.counted
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, gathered, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_the_household_assets_against_the_limit() {
        let policy = Policy::default_policy();
        let counted = [7];
        let h = Figures {
            assets_fen: 6_283_201,
            asset_limit_fen: 6_283_200,
            counted_members: &counted,
            ..figures(&policy)
        };
        let m = measure(&gathered(&[7], &["a", "b"], 2), &h);
        assert_eq!((m.measured, m.threshold, m.members), (6_283_201, 6_283_200, vec![7]));
    }

    #[test]
    fn the_sentence_counts_the_accounts() {
        let (zh, en) = sentences(Rule::AssetsOverLimit, &["a", "b"], 12_345_678, 6_283_200);
        assert!(zh.contains("合计 123,456.78 元（2 个账户），高于上限 62,832.00 元"), "{zh}");
        assert!(zh.contains("× 24 个月 × 2 人"), "{zh}");
        assert!(en.contains("total 123,456.78 yuan (2 accounts)"), "{en}");
    }
}
