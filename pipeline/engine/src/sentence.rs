//! One plain sentence per finding, in Chinese for the family and in English, built from the
//! finding's own figures and the policy values in force. Money is printed from integer fen
//! (`1,412.50 元`); per-capita figures are shown for reading only, rounded down to the fen,
//! and the household totals the decision was made on are always printed beside them.

use super::finding::Finding;
use super::rules::Words;
use hedui_schemas::policy::Policy;

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

/// The finding's sentences: (Chinese, English): its rule's ([`super::rules`]), then the
/// basis (the standard's legal reference and the date it took effect).
pub fn sentences(f: &Finding, policy: &Policy) -> (String, String) {
    // The region whose standard applies, by name (a county's household is held to its city's
    // standard unless the county has its own); without a standard, the household's region by
    // name (a county after its city); one the policy cannot name at all, "the region".
    let region = i32::try_from(f.region).ok();
    let name = region
        .zip(f.standard_from)
        .and_then(|(r, from)| policy.resolve_at(r, from).ok())
        .map(|(r, _)| hedui_schemas::policy::RegionName {
            zh: r.name_zh.clone(),
            en: r.name_en.clone(),
        })
        .or_else(|| region.map(|r| policy.region_name(r)))
        .filter(|n| n.zh != f.region.to_string());
    let basis_zh = match (&f.reference, f.standard_from) {
        (Some(r), Some(d)) => format!("依据：{r}，{d} 起执行。"),
        _ => "依据：本地政策。".into(),
    };
    let basis_en = match (&f.reference, f.standard_from) {
        (Some(r), Some(d)) => format!(" Basis: {r}, in force from {d}."),
        _ => String::new(),
    };
    let words = Words {
        city_zh: name.as_ref().map(|n| n.zh.as_str()).unwrap_or("本地"),
        city_en: name.as_ref().map(|n| n.en.as_str()).unwrap_or("the region"),
        n: f.records.len(),
        keys_zh: list(&f.records, "、"),
        keys_en: list(&f.records, ", "),
        policy,
    };
    let (zh, en) = (super::rules::def(f.rule).sentence)(f, &words);
    let (probable_zh, probable_en) = probable(f);
    (
        format!("{zh}{probable_zh}{basis_zh}"),
        format!("{en}{probable_en}{basis_en}"),
    )
}

/// What the finding says of its probable records (records whose ID did not read, attributed
/// to a member by the linkage): how many, and a sum's figure without them.
fn probable(f: &Finding) -> (String, String) {
    let Some(p) = f.probable else {
        return (String::new(), String::new());
    };
    let mut zh = String::new();
    let mut en = String::new();
    if p.rows > 0 {
        zh.push_str(&format!(
            "其中 {} 条记录的身份证号无法识读，系按姓名、出生日期等比对归属的可能记录，需核实；",
            p.rows
        ));
        en.push_str(&format!(
            " {} record(s) behind it carry an ID that does not read and were attributed to the member by record linkage (probable records, to be confirmed).",
            p.rows
        ));
    }
    if let Some(c) = p.certain {
        let unit = if f.rule == hedui_schemas::Rule::IncomeOverLine {
            ("收入", "income")
        } else {
            ("资产", "assets")
        };
        zh.push_str(&format!("不计可能记录时{}为 {} 元；", unit.0, yuan(c)));
        en.push_str(&format!(
            " Without the probable records the {} are {} yuan.",
            unit.1,
            yuan(c)
        ));
    }
    (zh, en)
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
        let rule = hedui_schemas::Rule::AssetsOverLimit;
        let f = Finding {
            household_id: "H440100000000001".into(),
            rule,
            severity: rule.severity(),
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
            probable: None,
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
