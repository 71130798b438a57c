//! One plain sentence per finding, in Chinese for the family and in English, built from the
//! finding's own figures and the policy values in force. Money is printed from integer fen
//! (`1,412.50 元`); per-capita figures are shown for reading only, rounded down to the fen,
//! and the household totals the decision was made on are always printed beside them.

use super::finding::Finding;
use crate::policy::Policy;

/// `123456789` fen as `1,234,567.89`.
pub fn yuan(fen: i64) -> String {
    let mut out = String::with_capacity(24);
    if fen < 0 {
        out.push('-');
    }
    let abs = fen.unsigned_abs();
    let mut digits = itoa::Buffer::new();
    let whole = digits.format(abs / 100);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let fen = abs % 100;
    out.push('.');
    out.push(char::from(b'0' + (fen / 10) as u8));
    out.push(char::from(b'0' + (fen % 10) as u8));
    out
}

/// A multiple in basis points as a decimal (`15000` → `1.5`).
pub fn multiple(bp: i64) -> String {
    let whole = bp / 10_000;
    let frac = bp % 10_000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{}", format!("{frac:04}").trim_end_matches('0'))
    }
}

/// The Chinese name of a programme code.
pub fn programme_zh(code: &str) -> &str {
    hedui_schemas::codes::PROGRAMME
        .entries
        .iter()
        .find(|e| e.code == code)
        .map(|e| e.label_zh)
        .unwrap_or(code)
}

/// The English name of a programme code.
pub fn programme_en(code: &str) -> &str {
    match code {
        "dibao" => "minimum living guarantee (dibao)",
        "low_income" => "low-income household",
        "tekun" => "extreme-poverty support (tekun)",
        other => other,
    }
}

/// Up to three record keys, then how many more.
fn list(keys: &[String], sep: &str) -> String {
    let mut s = keys.iter().take(3).cloned().collect::<Vec<_>>().join(sep);
    if keys.len() > 3 {
        s.push_str(&format!("{sep}… (+{})", keys.len() - 3));
    }
    s
}

/// The finding's sentences: (Chinese, English).
pub fn sentences(f: &Finding, policy: &Policy) -> (String, String) {
    let region = policy.regions.get(&(f.region as i32));
    let city_zh = region.map(|r| r.name_zh.as_str()).unwrap_or("本地");
    let city_en = region.map(|r| r.name_en.as_str()).unwrap_or("the region");
    let basis_zh = match (&f.reference, f.standard_from) {
        (Some(r), Some(d)) => format!("依据：{r}，{d} 起执行。"),
        _ => "依据：本地政策。".into(),
    };
    let basis_en = match (&f.reference, f.standard_from) {
        (Some(r), Some(d)) => format!(" Basis: {r}, in force from {d}."),
        _ => String::new(),
    };
    let n = f.records.len();
    let keys = list(&f.records, "、");
    let keys_en = list(&f.records, ", ");
    let (zh, en) = match f.rule.id {
        "income_over_line" => {
            let people = f.counted.max(1) * f.months.max(1);
            let line = f.standard_fen.unwrap_or(0) * f.multiple_bp.unwrap_or(0) / 10_000;
            (
                format!(
                    "家庭近 {months} 个月收入合计 {income} 元（月人均 {pc} 元），高于{city_zh}{prog}标准 {line} 元/人·月（低保标准 {std} 元 × {mult}）× {counted} 人 × {months} 个月 = {limit} 元；",
                    months = f.months,
                    income = yuan(f.measured),
                    pc = yuan(f.measured / people),
                    prog = programme_zh(&f.programme),
                    line = yuan(line),
                    std = yuan(f.standard_fen.unwrap_or(0)),
                    mult = multiple(f.multiple_bp.unwrap_or(0)),
                    counted = f.counted,
                    limit = yuan(f.threshold),
                ),
                format!(
                    "Household income over the last {months} months is {income} yuan ({pc} yuan per person per month), above the {city_en} {prog} line of {line} yuan per person per month (dibao standard {std} x {mult}) x {counted} members x {months} months = {limit} yuan.",
                    months = f.months,
                    income = yuan(f.measured),
                    pc = yuan(f.measured / people),
                    prog = programme_en(&f.programme),
                    line = yuan(line),
                    std = yuan(f.standard_fen.unwrap_or(0)),
                    mult = multiple(f.multiple_bp.unwrap_or(0)),
                    counted = f.counted,
                    limit = yuan(f.threshold),
                ),
            )
        }
        "assets_over_limit" => (
            format!(
                "家庭金融资产合计 {} 元（{} 个账户），高于上限 {} 元（{city_zh}低保标准 {} 元 × {} 个月 × {} 人）；",
                yuan(f.measured),
                n,
                yuan(f.threshold),
                yuan(f.standard_fen.unwrap_or(0)),
                policy.financial_asset_months,
                f.counted
            ),
            format!(
                "The household's financial assets total {} yuan ({} accounts), above the limit of {} yuan ({city_en} dibao standard {} x {} months x {} members).",
                yuan(f.measured),
                n,
                yuan(f.threshold),
                yuan(f.standard_fen.unwrap_or(0)),
                policy.financial_asset_months,
                f.counted
            ),
        ),
        "property_excess" => (
            format!(
                "家庭成员名下登记有房产 {n} 处（{keys}），超过规定（住房不超过 {} 套，且不得持有商铺、办公、车库或车位）；",
                f.threshold
            ),
            format!(
                "Household members own {n} registered properties ({keys_en}); at most {} home and no shop, office, garage or parking space are allowed.",
                f.threshold
            ),
        ),
        "vehicle_owned" => (
            format!("家庭成员名下登记有非豁免机动车 {n} 辆（{keys}）；"),
            format!("Household members own {n} non-exempt motor vehicle(s) ({keys_en})."),
        ),
        "vessel_owned" => (
            format!("家庭成员名下登记有船舶 {n} 艘（{keys}）；"),
            format!("Household members own {n} registered vessel(s) ({keys_en})."),
        ),
        "business_registered" => (
            format!(
                "家庭成员为 {n} 家在营市场主体的法定代表人、股东或经营者（统一社会信用代码 {keys}）；"
            ),
            format!(
                "A household member is the legal representative, shareholder or operator of {n} active business(es) (credit code {keys_en})."
            ),
        ),
        "sole_trader_review" => (
            format!(
                "家庭成员经营个体工商户（统一社会信用代码 {keys}），登记雇员 {} 人，需核实经营收入；",
                f.measured
            ),
            format!(
                "A household member runs a sole-trader business (credit code {keys_en}) with {} registered staff; its income must be checked.",
                f.measured
            ),
        ),
        "public_payroll" => (
            format!(
                "家庭成员在核对期内有 {} 个月由财政供养单位发放工资；",
                f.measured
            ),
            format!(
                "A household member was paid by a publicly funded employer in {} month(s) of the window.",
                f.measured
            ),
        ),
        "duplicate_benefit" => (
            format!(
                "家庭成员已在其他家庭（{keys}）享受{}，不得重复享受；",
                programme_zh(&f.programme)
            ),
            format!(
                "A household member already receives {} in another household ({keys_en}).",
                programme_en(&f.programme)
            ),
        ),
        "declared_member_dead" => (
            format!(
                "申报成员中 {} 人有死亡或火化记录，需核实家庭成员；",
                f.measured
            ),
            format!(
                "{} declared member(s) have a death or cremation record; the household's members must be checked.",
                f.measured
            ),
        ),
        "undeclared_spouse" => (
            format!(
                "婚姻登记显示家庭成员有未申报的配偶 {} 人，需核实；",
                f.measured
            ),
            format!(
                "Marriage records show {} undeclared spouse(s) of a household member; to be checked.",
                f.measured
            ),
        ),
        "undeclared_minor_child" => (
            format!(
                "户籍登记显示同户有未申报的未成年子女 {} 人（户号 {keys}），需核实；",
                f.measured
            ),
            format!(
                "Household registration shows {} undeclared minor child(ren) in the same hukou ({keys_en}); to be checked.",
                f.measured
            ),
        ),
        "no_counted_member" => (
            "家庭申报成员均已死亡或在押，无可计入的成员，需核实；".to_string(),
            "No declared member can be counted (all are dead or held); to be checked.".to_string(),
        ),
        "unreadable_records" => (
            format!("有 {n} 条关于家庭成员的部门记录无法读取（{keys}），核对不完整，需人工核实；"),
            format!(
                "{n} department record(s) about household members could not be read ({keys_en}); the check is incomplete and must be completed by hand."
            ),
        ),
        other => (format!("{other}；"), format!("{other}.")),
    };
    (format!("{zh}{basis_zh}"), format!("{en}{basis_en}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_groups_thousands_and_keeps_the_fen() {
        assert_eq!(yuan(141_250), "1,412.50");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(123_456_789), "1,234,567.89");
        assert_eq!(yuan(-100), "-1.00");
        assert_eq!(yuan(100_000), "1,000.00");
    }

    #[test]
    fn a_finding_reads_with_its_figures_and_the_standard_it_was_measured_against() {
        let policy = Policy::default_policy();
        let rule = super::super::outcome::RULES
            .iter()
            .find(|r| r.id == "assets_over_limit")
            .unwrap();
        let f = Finding {
            household_id: "H440100000000001".into(),
            rule,
            region: 440100,
            programme: "dibao".into(),
            members: vec![],
            records: vec!["a".into(), "b".into()],
            evidence_rows: 2,
            measured: 12_345_678,
            threshold: -5,
            counted: 2,
            months: 12,
            standard_fen: Some(130_900),
            multiple_bp: Some(10_000),
            standard_from: chrono::NaiveDate::from_ymd_opt(2024, 7, 1),
            reference: Some("穗民规字〔2024〕1号".into()),
        };
        let (zh, en) = sentences(&f, &policy);
        assert!(
            zh.contains("合计 123,456.78 元（2 个账户），高于上限 -0.05 元"),
            "{zh}"
        );
        assert!(
            zh.ends_with("依据：穗民规字〔2024〕1号，2024-07-01 起执行。"),
            "{zh}"
        );
        assert!(en.contains("total 123,456.78 yuan (2 accounts)"), "{en}");
        assert!(
            en.ends_with(" Basis: 穗民规字〔2024〕1号, in force from 2024-07-01."),
            "{en}"
        );
    }

    #[test]
    fn multiples_print_as_decimals() {
        assert_eq!(multiple(10_000), "1");
        assert_eq!(multiple(15_000), "1.5");
        assert_eq!(multiple(16_000), "1.6");
        assert_eq!(multiple(12_550), "1.255");
    }
}
