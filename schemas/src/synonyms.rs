//! The names departments give the catalog's fields, for `hedui map`: Chinese, English, pinyin
//! initials (`sfzh` for 身份证号) and the codes of the national data standards (social
//! insurance's `aac002` for the resident ID). A field's own name and its default header are
//! always synonyms; this table adds the rest, for every source (`*`) or one.

use crate::catalog::{FieldDef, SourceDef};

/// (source or `*`, field, names).
const TABLE: &[(&str, &str, &[&str])] = &[
    (
        "*",
        "person",
        &[
            "身份证号",
            "身份证号码",
            "公民身份号码",
            "证件号码",
            "证件号",
            "身份证",
            "sfzh",
            "zjhm",
            "gmsfhm",
            "idcard",
            "id_card",
            "idno",
            "id_no",
            "person_id",
            "aac002",
        ],
    ),
    (
        "*",
        "owner",
        &["所有人身份证号", "权利人证件号", "证件号码", "身份证号"],
    ),
    (
        "*",
        "name",
        &["姓名", "xm", "name", "aac003", "户名", "客户姓名"],
    ),
    (
        "*",
        "month",
        &["月份", "年月", "所属月份", "ny", "yf", "month", "aae003"],
    ),
    (
        "*",
        "amount_fen",
        &["金额", "发放金额", "金额(元)", "je", "amount"],
    ),
    (
        "*",
        "as_of",
        &["日期", "统计日期", "余额日期", "估值日期", "as_of"],
    ),
    ("*", "household_id", &["家庭编号", "户编号", "household_id"]),
    (
        "*",
        "region",
        &["行政区划代码", "行政区划", "区划代码", "region", "aab301"],
    ),
    ("hukou", "person", &["身份证号", "公民身份号码"]),
    ("hukou", "hukou_no", &["户编号", "户号", "hh"]),
    ("hukou", "status", &["人口状态", "户籍状态"]),
    ("hukou", "status_date", &["状态变动日期", "变动日期"]),
    ("death", "person", &["死者身份证号", "身份证号码"]),
    ("bank_deposit", "person", &["客户证件号码", "证件号码"]),
    (
        "bank_deposit",
        "balance_fen",
        &["账户余额", "余额", "余额(元)"],
    ),
    ("pension", "person", &["证件号码", "身份证号"]),
    ("pension", "month", &["待遇年月", "发放年月", "aae003"]),
    ("pension", "scheme", &["养老保险险种", "险种", "aae140"]),
    (
        "pension",
        "amount_fen",
        &["实发金额", "发放金额(元)", "发放金额"],
    ),
    ("tax", "person", &["纳税人识别号", "taxpayer_id"]),
    ("tax", "month", &["所得期间", "所属期", "income_month"]),
    ("tax", "income_type", &["所得项目", "income_item"]),
    ("tax", "income_fen", &["收入额", "收入", "income_fen"]),
    ("tax", "tax_fen", &["已缴税额", "实缴税额", "tax_paid_fen"]),
    (
        "tax",
        "withholder",
        &[
            "扣缴义务人统一社会信用代码",
            "扣缴义务人",
            "withholder_uscc",
        ],
    ),
    ("business", "person", &["证件号码", "cerNo"]),
    ("business", "credit_code", &["统一社会信用代码", "uniscid"]),
    (
        "business",
        "entity_name",
        &["企业名称", "市场主体名称", "entName"],
    ),
    (
        "business",
        "entity_type",
        &["市场主体类型", "企业类型", "entType"],
    ),
    ("business", "role", &["人员类型", "职务", "personRole"]),
    ("business", "capital_fen", &["注册资本", "regCapWanYuan"]),
    ("business", "staff", &["从业人数", "empNum"]),
    ("business", "established_on", &["成立日期", "estDate"]),
    ("business", "status", &["登记状态", "regState"]),
    ("business", "status_date", &["状态日期", "regStateDate"]),
    (
        "commercial_insurance",
        "person",
        &["投保人证件号码", "policyHolderId"],
    ),
    ("commercial_insurance", "policy_no", &["保单号", "policyNo"]),
    (
        "commercial_insurance",
        "cash_value_fen",
        &["现金价值", "cashValue"],
    ),
    ("commercial_insurance", "as_of", &["估值日期", "valueDate"]),
    ("cremation", "person", &["身份证号", "sfzh"]),
    ("cremation", "cremation_date", &["火化日期", "hhrq"]),
    ("unemployment_benefit", "person", &["身份证号", "idCard"]),
    ("unemployment_benefit", "month", &["发放月份", "payMonth"]),
    (
        "unemployment_benefit",
        "amount_fen",
        &["发放金额", "amountYuan"],
    ),
    ("employment", "person", &["身份证号", "idCard"]),
    ("employment", "status", &["登记类型", "regType"]),
    ("employment", "registered_on", &["登记日期", "regDate"]),
    ("employment", "employer", &["用人单位", "employerName"]),
];

/// A header as compared: trimmed, lowercase, without a unit in brackets (`余额(元)` →
/// `余额`), full-width brackets folded.
pub fn normalize(header: &str) -> String {
    let h = header
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '\u{3000}')
        .replace('（', "(")
        .replace('）', ")")
        .to_lowercase();
    match h.find('(') {
        Some(i) if h.ends_with(')') && i > 0 => h[..i].trim().to_string(),
        _ => h,
    }
}

/// Every name of `f` in `src` (normalized): its name, its default header, and the table's.
pub fn synonyms(src: &SourceDef, f: &FieldDef) -> Vec<String> {
    let mut out = vec![normalize(f.name), normalize(f.raw.header)];
    for (s, field, names) in TABLE {
        if (*s == "*" || *s == src.id) && *field == f.name {
            out.extend(names.iter().map(|n| normalize(n)));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_names_a_catalog_field() {
        for (s, field, _) in TABLE {
            let ok = if *s == "*" {
                crate::all_sources()
                    .iter()
                    .any(|d| d.fields.iter().any(|f| f.name == *field))
            } else {
                crate::source(s).is_some_and(|d| d.fields.iter().any(|f| f.name == *field))
            };
            assert!(ok, "{s}.{field}");
        }
        assert_eq!(normalize(" 余额（元） "), "余额");
        assert_eq!(normalize("idCard"), "idcard");
    }
}
