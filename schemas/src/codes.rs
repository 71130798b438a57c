//! Code tables: the catalog's own code values and the raw values departments write for them.
//!
//! Each department writes its own codes (public security writes vehicle types as `K33`,
//! the land registry writes property uses as `住宅`). A code table lists the catalog's codes,
//! a Chinese label, and the raw values a department's default export uses for each; a source's
//! config may add mappings, and a raw value with no mapping is quarantined as
//! [`ReasonCode::UnknownCode`](crate::ReasonCode::UnknownCode).

/// One code of a table.
#[derive(Debug, Clone, Copy)]
pub struct CodeEntry {
    /// The catalog's code (snake_case, stable across departments).
    pub code: &'static str,
    /// The Chinese label shown to caseworkers.
    pub label_zh: &'static str,
    /// Raw values in departments' default exports that mean this code; the first is the one
    /// the generator writes.
    pub raw: &'static [&'static str],
    /// Marked by default as exempt from its test (vehicle types a policy may exempt).
    pub exempt: bool,
}

/// A table of codes.
#[derive(Debug)]
pub struct CodeTable {
    /// The table's id, as used in configs.
    pub id: &'static str,
    /// What the table classifies.
    pub description: &'static str,
    /// Its codes.
    pub entries: &'static [CodeEntry],
}

const fn e(code: &'static str, label_zh: &'static str, raw: &'static [&'static str]) -> CodeEntry {
    CodeEntry {
        code,
        label_zh,
        raw,
        exempt: false,
    }
}

const fn exempt(
    code: &'static str,
    label_zh: &'static str,
    raw: &'static [&'static str],
) -> CodeEntry {
    CodeEntry {
        code,
        label_zh,
        raw,
        exempt: true,
    }
}

/// Trims ASCII and full-width whitespace around a raw code value.
pub fn trim_code(raw: &str) -> &str {
    raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{3000}' || c == '\u{feff}')
}

impl CodeTable {
    /// The catalog code for a raw department value (trimmed, ASCII case-insensitive), or for a
    /// catalog code written as itself.
    pub fn map_raw(&self, raw: &str) -> Option<&'static str> {
        let v = trim_code(raw);
        self.entries
            .iter()
            .find(|e| e.code == v || e.raw.iter().any(|r| r.eq_ignore_ascii_case(v)))
            .map(|e| e.code)
    }

    /// The entry of a catalog code.
    pub fn entry(&self, code: &str) -> Option<&'static CodeEntry> {
        self.entries.iter().find(|e| e.code == code)
    }

    /// The raw value the default export writes for a catalog code.
    pub fn default_raw(&self, code: &str) -> Option<&'static str> {
        self.entry(code).map(|e| e.raw[0])
    }
}

/// Assistance programmes.
pub static PROGRAMME: CodeTable = CodeTable {
    id: "programme",
    description: "social-assistance programme",
    entries: &[
        e(
            "dibao",
            "最低生活保障",
            &["低保", "最低生活保障", "城乡低保"],
        ),
        e(
            "low_income",
            "低收入（低保边缘）",
            &["低收入", "低保边缘", "低边"],
        ),
        e(
            "tekun",
            "特困人员救助供养",
            &["特困", "特困供养", "特困人员"],
        ),
    ],
};

/// Whether an application is new or a periodic re-check of a current recipient.
pub static APPLICATION_KIND: CodeTable = CodeTable {
    id: "application_kind",
    description: "new application or periodic re-check (动态管理)",
    entries: &[
        e("new", "新申请", &["新申请", "申请"]),
        e("recheck", "动态复核", &["复核", "动态复核", "年审"]),
    ],
};

/// A household's area type, where its region sets an urban and a rural dibao standard
/// (applications; optional: none declared, the region's one or urban standard applies).
pub static AREA_TYPE: CodeTable = CodeTable {
    id: "area_type",
    description: "urban (城镇) or rural (农村) household, for regions with two dibao standards",
    entries: &[
        e("urban", "城镇", &["城镇", "城市", "城镇居民", "非农业"]),
        e("rural", "农村", &["农村", "乡村", "农村居民", "农业"]),
    ],
};

/// Relation to the applicant (applications) or to the head of household (hukou).
pub static RELATION: CodeTable = CodeTable {
    id: "relation",
    description: "relation to the applicant or household head",
    entries: &[
        e("head", "本人/户主", &["本人", "户主"]),
        e("spouse", "配偶", &["配偶", "妻", "夫"]),
        e("child", "子女", &["子女", "子", "女", "儿子", "女儿"]),
        e("parent", "父母", &["父母", "父亲", "母亲"]),
        e(
            "grandchild",
            "孙子女",
            &["孙子女", "孙子", "孙女", "外孙子女"],
        ),
        e("grandparent", "祖父母", &["祖父母", "外祖父母"]),
        e("sibling", "兄弟姐妹", &["兄弟姐妹", "兄", "弟", "姐", "妹"]),
        e("other", "其他", &["其他"]),
    ],
};

/// Household-registration status.
pub static HUKOU_STATUS: CodeTable = CodeTable {
    id: "hukou_status",
    description: "household registration status",
    entries: &[
        e("active", "正常", &["正常", "在册"]),
        e("moved_out", "迁出", &["迁出"]),
        e("deregistered", "注销", &["注销", "死亡注销"]),
    ],
};

/// Marriage-registry events.
pub static MARRIAGE_EVENT: CodeTable = CodeTable {
    id: "marriage_event",
    description: "marriage registry event",
    entries: &[
        e("marriage", "结婚", &["结婚", "结婚登记"]),
        e("divorce", "离婚", &["离婚", "离婚登记"]),
    ],
};

/// Vehicle types; public security writes GA 802 codes. Exempt types are marked.
pub static VEHICLE_TYPE: CodeTable = CodeTable {
    id: "vehicle_type",
    description: "motor vehicle type (public security codes)",
    entries: &[
        e(
            "small_car",
            "小型汽车",
            &["K33", "K31", "K32", "K34", "K39"],
        ),
        e("passenger_coach", "大中型客车", &["K11", "K21"]),
        e("truck", "货车", &["H31", "H11", "H21", "H41"]),
        e("tractor", "拖拉机", &["T11", "T21"]),
        exempt("motorcycle", "摩托车", &["M21", "M22", "M11"]),
        exempt("electric_bicycle", "电动自行车", &["F01", "电动自行车"]),
        exempt(
            "disability_scooter",
            "残疾人机动轮椅车",
            &["CJ1", "残疾人机动轮椅车"],
        ),
    ],
};

/// Uses of a registered property unit.
pub static PROPERTY_USE: CodeTable = CodeTable {
    id: "property_use",
    description: "planned use of a property unit",
    entries: &[
        e("residential", "住宅", &["住宅", "成套住宅"]),
        e("shop", "商业", &["商业", "商铺", "商服"]),
        e("office", "办公", &["办公", "写字楼"]),
        e("garage", "车库", &["车库"]),
        e("parking", "车位", &["车位", "停车位"]),
    ],
};

/// Income types in tax records.
pub static INCOME_TYPE: CodeTable = CodeTable {
    id: "income_type",
    description: "income type of a tax record",
    entries: &[
        e(
            "wage",
            "工资薪金所得",
            &["工资薪金所得", "正常工资薪金", "工资薪金"],
        ),
        e("business", "经营所得", &["经营所得", "生产经营所得"]),
        e(
            "property",
            "财产性所得",
            &["财产租赁所得", "利息股息红利所得", "财产转让所得"],
        ),
    ],
};

/// Legal forms of a registered business.
pub static ENTITY_TYPE: CodeTable = CodeTable {
    id: "entity_type",
    description: "legal form of a registered business",
    entries: &[
        e(
            "company",
            "公司",
            &["有限责任公司", "股份有限公司", "有限责任公司(自然人独资)"],
        ),
        e("sole_trader", "个体工商户", &["个体工商户"]),
        e(
            "partnership",
            "合伙企业",
            &["合伙企业", "普通合伙企业", "有限合伙企业"],
        ),
        e("sole_proprietorship", "个人独资企业", &["个人独资企业"]),
        e("cooperative", "农民专业合作社", &["农民专业合作社"]),
    ],
};

/// A person's role in a registered business.
pub static BUSINESS_ROLE: CodeTable = CodeTable {
    id: "business_role",
    description: "a person's role in a business",
    entries: &[
        e("legal_representative", "法定代表人", &["法定代表人"]),
        e("shareholder", "股东", &["股东", "投资人"]),
        e("operator", "经营者", &["经营者"]),
    ],
};

/// Registration status of a business.
pub static BUSINESS_STATUS: CodeTable = CodeTable {
    id: "business_status",
    description: "registration status of a business",
    entries: &[
        e("active", "存续", &["存续", "在业", "开业"]),
        e("deregistered", "注销", &["注销"]),
        e("revoked", "吊销", &["吊销", "吊销未注销"]),
    ],
};

/// Pension schemes; the resident basic pension is excluded from income by default.
pub static PENSION_SCHEME: CodeTable = CodeTable {
    id: "pension_scheme",
    description: "pension scheme",
    entries: &[
        e(
            "employee",
            "城镇职工基本养老保险",
            &["城镇职工基本养老保险", "企业职工基本养老保险"],
        ),
        e(
            "public_institution",
            "机关事业单位养老保险",
            &["机关事业单位养老保险"],
        ),
        e(
            "resident_basic",
            "城乡居民基本养老保险",
            &["城乡居民基本养老保险", "城乡居民养老保险"],
        ),
    ],
};

/// Employment registration.
pub static EMPLOYMENT_STATUS: CodeTable = CodeTable {
    id: "employment_status",
    description: "employment or unemployment registration",
    entries: &[
        e("employed", "就业登记", &["就业登记", "就业"]),
        e("unemployed", "失业登记", &["失业登记", "失业"]),
    ],
};

/// Disability categories.
pub static DISABILITY_CATEGORY: CodeTable = CodeTable {
    id: "disability_category",
    description: "disability category",
    entries: &[
        e("visual", "视力残疾", &["视力", "视力残疾"]),
        e("hearing", "听力残疾", &["听力", "听力残疾"]),
        e("speech", "言语残疾", &["言语", "言语残疾"]),
        e("physical", "肢体残疾", &["肢体", "肢体残疾"]),
        e("intellectual", "智力残疾", &["智力", "智力残疾"]),
        e("mental", "精神残疾", &["精神", "精神残疾"]),
        e("multiple", "多重残疾", &["多重", "多重残疾"]),
    ],
};

/// Every code table, for listings and consistency tests.
pub static ALL_TABLES: &[&CodeTable] = &[
    &PROGRAMME,
    &APPLICATION_KIND,
    &AREA_TYPE,
    &RELATION,
    &HUKOU_STATUS,
    &MARRIAGE_EVENT,
    &VEHICLE_TYPE,
    &PROPERTY_USE,
    &INCOME_TYPE,
    &ENTITY_TYPE,
    &BUSINESS_ROLE,
    &BUSINESS_STATUS,
    &PENSION_SCHEME,
    &EMPLOYMENT_STATUS,
    &DISABILITY_CATEGORY,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_raw_values_are_unambiguous() {
        for t in ALL_TABLES {
            let mut codes = HashSet::new();
            let mut raws = HashSet::new();
            for e in t.entries {
                assert!(codes.insert(e.code), "{}: code {} twice", t.id, e.code);
                assert!(!e.raw.is_empty(), "{}: {} has no raw value", t.id, e.code);
                for r in e.raw {
                    assert!(
                        raws.insert(r.to_ascii_lowercase()),
                        "{}: raw {r} twice",
                        t.id
                    );
                    assert_eq!(t.map_raw(r), Some(e.code));
                }
            }
        }
    }

    #[test]
    fn maps_with_trailing_full_width_space() {
        assert_eq!(VEHICLE_TYPE.map_raw("K33\u{3000}"), Some("small_car"));
        assert_eq!(VEHICLE_TYPE.map_raw("m21"), Some("motorcycle"));
        assert_eq!(VEHICLE_TYPE.map_raw("Z99"), None);
        assert!(VEHICLE_TYPE.entry("motorcycle").unwrap().exempt);
        assert!(!VEHICLE_TYPE.entry("small_car").unwrap().exempt);
    }
}
