//! `income_over_line` (FLAG): the household's net income over the window is above its
//! programme's line (the dibao standard × the programme's multiple × counted members × months;
//! metrics.sql decides it, to the fen). The evidence is every counted income record of the
//! counted members; the finding concerns every counted member.

use super::{Figures, Gathered, Measured, RuleDef, Words};
use crate::finding::Finding;
use crate::sentence::{multiple, programme_en, programme_zh, yuan};
use hedui_schemas::Rule;

pub(super) static RULE: RuleDef = RuleDef {
    rule: Rule::IncomeOverLine,
    evidence: Some(include_str!("income_over_line.sql")),
    measure,
    sentence,
};

fn measure(_: &Gathered, h: &Figures<'_>) -> Measured {
    Measured {
        measured: h.income_fen,
        threshold: h.income_limit_fen,
        members: h.counted_members.to_vec(),
    }
}

fn sentence(f: &Finding, w: &Words<'_>) -> (String, String) {
    let people = f.counted.max(1) * f.months.max(1);
    let (months, counted, city_zh, city_en) = (f.months, f.counted, w.city_zh, w.city_en);
    // The figures, as both sentences print them.
    let income = yuan(f.measured);
    let pc = yuan(f.measured / people);
    let line = yuan(f.standard_fen.unwrap_or(0) * f.multiple_bp.unwrap_or(0) / 10_000);
    let std = yuan(f.standard_fen.unwrap_or(0));
    let mult = multiple(f.multiple_bp.unwrap_or(0));
    let limit = yuan(f.threshold);
    let (prog_zh, prog_en) = (programme_zh(&f.programme), programme_en(&f.programme));
    (
        format!(
            "家庭近 {months} 个月收入合计 {income} 元（月人均 {pc} 元），高于{city_zh}{prog_zh}标准 {line} 元/人·月（低保标准 {std} 元 × {mult}）× {counted} 人 × {months} 个月 = {limit} 元；"
        ),
        format!(
            "Household income over the last {months} months is {income} yuan ({pc} yuan per person per month), above the {city_en} {prog_en} line of {line} yuan per person per month (dibao standard {std} x {mult}) x {counted} members x {months} months = {limit} yuan."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{figures, gathered, sentences};
    use hedui_schemas::policy::Policy;

    #[test]
    fn measures_the_household_income_against_its_line_for_every_counted_member() {
        let policy = Policy::default_policy();
        let counted = [11, 22];
        let h = Figures {
            income_fen: 1_600_001,
            income_limit_fen: 1_570_800,
            counted_members: &counted,
            ..figures(&policy)
        };
        let m = measure(&gathered(&[11], &["202601"], 1), &h);
        assert_eq!((m.measured, m.threshold), (1_600_001, 1_570_800));
        assert_eq!(m.members, [11, 22]);
    }

    #[test]
    fn the_sentence_shows_the_line_and_how_it_was_made() {
        // 1,309.00 x 1 x 2 members x 6 months = 15,708.00.
        let (zh, en) = sentences(Rule::IncomeOverLine, &[], 1_600_001, 1_570_800);
        assert!(zh.contains("收入合计 16,000.01 元（月人均 1,333.33 元）"), "{zh}");
        assert!(zh.contains("× 2 人 × 6 个月 = 15,708.00 元"), "{zh}");
        assert!(en.contains("line of 1,309.00 yuan per person per month"), "{en}");
    }
}
