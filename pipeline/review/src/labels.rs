//! What caseworkers read: every label of the reports and pages in Chinese (the default) and
//! English. Codes stay codes in the data; they become words only here.

use serde::Serialize;

/// The language of a report or page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Lang {
    /// 简体中文 (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code, as in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    fn pick(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The static words of the pages, by key (templates use `t.<key>`).
    pub fn ui(self) -> std::collections::BTreeMap<&'static str, &'static str> {
        UI.iter()
            .map(|(k, zh, en)| (*k, self.pick(zh, en)))
            .collect()
    }

    /// A rule's name (the id itself for an id no rule has: a batch's files are input).
    pub fn rule(self, id: &str) -> String {
        match hedui_schemas::Rule::from_id(id) {
            Some(r) => self.pick(r.name_zh(), r.name_en()).to_string(),
            None => id.to_string(),
        }
    }

    /// An outcome's name (the code itself for a code no outcome has).
    pub fn outcome(self, code: &str) -> String {
        match hedui_schemas::Outcome::parse(code) {
            Some(o) => self.pick(o.name_zh(), o.name_en()).to_string(),
            None => code.to_string(),
        }
    }

    /// A programme's name.
    pub fn programme(self, code: &str) -> String {
        match self {
            Lang::Zh => hedui_engine::sentence::programme_zh(code).to_string(),
            Lang::En => hedui_engine::sentence::programme_en(code).to_string(),
        }
    }

    /// A quarantine reason's name.
    pub fn reason(self, code: &str) -> String {
        let (zh, en) = match code {
            "missing_required" => ("必填项为空", "Required field empty"),
            "id_format" => ("身份证号格式错误", "Malformed resident ID"),
            "id_checksum" => ("身份证号校验位错误", "Resident ID check digit wrong"),
            "id_birth_date" => ("身份证号出生日期无效", "Resident ID birth date invalid"),
            "id_scientific_notation" => ("身份证号被转为科学计数法", "ID in scientific notation"),
            "credit_code" => ("统一社会信用代码无效", "Invalid credit code"),
            "bad_date" => ("日期无效", "Invalid date"),
            "bad_month" => ("月份无效", "Invalid month"),
            "bad_amount" => ("金额无效", "Invalid amount"),
            "negative_amount" => ("金额为负", "Negative amount"),
            "bad_number" => ("数值无效", "Invalid number"),
            "bad_region" => ("行政区划代码无效", "Invalid region code"),
            "unknown_code" => ("代码无法识别", "Unknown code"),
            "duplicate_row" => ("重复记录", "Duplicate row"),
            "wrong_column_count" => ("列数不符", "Wrong column count"),
            "malformed" => ("记录损坏或编码错误", "Malformed record"),
            "unterminated_quote" => (
                "引号未闭合，整行无法读取",
                "Unclosed quote: line unreadable",
            ),
            other => return other.to_string(),
        };
        self.pick(zh, en).to_string()
    }

    /// A source's name (the catalog's Chinese name, or its id in English).
    pub fn source(self, id: &str) -> String {
        match (self, hedui_schemas::sources::source(id)) {
            (Lang::Zh, Some(def)) => def.name_zh.to_string(),
            _ => id.replace('_', " "),
        }
    }

    /// A member's relation to the applicant.
    pub fn relation(self, code: &str) -> String {
        match self {
            Lang::Zh => hedui_schemas::codes::RELATION
                .entry(code)
                .map(|e| e.label_zh.to_string())
                .unwrap_or_else(|| code.to_string()),
            Lang::En => code.replace('_', " "),
        }
    }

    /// Why a member does not count.
    pub fn excluded(self, code: &str) -> String {
        let (zh, en) = match code {
            "dead" => ("已死亡，不计入", "Deceased: not counted"),
            "incarcerated" => ("服刑中，不计入", "Serving a sentence: not counted"),
            other => return other.to_string(),
        };
        self.pick(zh, en).to_string()
    }

    /// A caseworker's decision.
    pub fn decision(self, code: &str) -> String {
        let (zh, en) = match code {
            "confirmed" => ("确认不符合", "Confirmed"),
            "dismissed" => ("排除（核实无误）", "Dismissed"),
            "home_visit" => ("需入户调查", "Home visit needed"),
            other => return other.to_string(),
        };
        self.pick(zh, en).to_string()
    }

    /// A role's name.
    pub fn role(self, code: &str) -> String {
        let (zh, en) = match code {
            "caseworker" => ("经办人员", "Caseworker"),
            "auditor" => ("审计人员", "Auditor"),
            "admin" => ("管理员", "Administrator"),
            other => return other.to_string(),
        };
        self.pick(zh, en).to_string()
    }

    /// A region's name from the batch's policy (a county after its city: 广州市天河区), or
    /// its code.
    pub fn region(self, policy: &hedui_schemas::policy::Policy, code: i32) -> String {
        let n = policy.region_name(code);
        match self {
            Lang::Zh => n.zh,
            Lang::En => n.en,
        }
    }
}

/// `(key, Chinese, English)` for the static words of the pages.
const UI: &[(&str, &str, &str)] = &[
    (
        "report_title",
        "家庭经济状况核对报告",
        "Household economic-status verification report",
    ),
    (
        "summary_title",
        "核对批次汇总",
        "Verification batch summary",
    ),
    ("batch", "核对批次", "Batch"),
    ("as_of", "核对基准日", "As of"),
    ("policy", "政策", "Policy"),
    ("household", "家庭编号", "Household"),
    ("region", "地区", "Region"),
    ("programme", "救助类别", "Programme"),
    ("outcome", "核对结论", "Outcome"),
    ("members", "家庭成员", "Members"),
    ("member_id", "身份证号", "Resident ID"),
    ("relation", "与申请人关系", "Relation"),
    ("counts", "是否计入", "Counted"),
    ("counted_yes", "计入", "Counted"),
    ("declared", "申报人数", "Declared"),
    ("counted", "计入人数", "Counted"),
    ("metrics", "收入与财产", "Income and assets"),
    ("income", "核对期内收入合计", "Income over the window"),
    ("income_per_capita", "月人均收入", "Per person per month"),
    (
        "income_limit",
        "收入标准（期内合计）",
        "Income line over the window",
    ),
    ("assets", "金融资产", "Financial assets"),
    ("asset_limit", "金融资产限额", "Asset limit"),
    ("standard", "低保标准", "Dibao standard"),
    ("multiple", "倍数", "Multiple"),
    ("months", "核对月数", "Months"),
    ("reference", "政策依据", "Policy reference"),
    ("in_force_from", "起执行", "in force from"),
    ("findings", "核对发现", "Findings"),
    ("no_findings", "未发现不符合情形。", "No findings."),
    ("rule", "核对规则", "Rule"),
    ("severity", "性质", "Severity"),
    ("measured", "核对值", "Measured"),
    ("threshold", "标准值", "Threshold"),
    ("evidence", "证据记录", "Evidence records"),
    ("source", "数据来源", "Source"),
    ("person", "人员", "Person"),
    ("record_key", "记录编号", "Record"),
    ("amount", "金额（元）", "Amount (yuan)"),
    ("date", "日期", "Date"),
    ("location", "数据文件与行", "File and line"),
    ("sources", "数据来源核对情况", "Sources"),
    ("source_ok", "已反馈", "Answered"),
    ("source_failed", "未反馈/失败", "Failed"),
    ("rows_accepted", "有效记录", "Accepted rows"),
    ("rows_quarantined", "隔离记录", "Quarantined rows"),
    (
        "unverified_note",
        "以下数据来源未能核对，本家庭结论为“未能核对”：",
        "These sources could not be checked, so the household is unverified: ",
    ),
    ("decision", "核对处理意见", "Decision"),
    ("decision_none", "尚未处理", "No decision yet"),
    ("decided_by", "处理人", "By"),
    ("decided_at", "处理时间", "At"),
    ("carried_from", "沿用自批次", "Carried from batch"),
    ("reason", "理由", "Reason"),
    ("record_decision", "记录处理意见", "Record decision"),
    ("save", "保存", "Save"),
    ("generated", "生成", "Generated"),
    (
        "charts_outcomes",
        "各地区、各类别核对结论",
        "Outcomes by region and programme",
    ),
    (
        "charts_findings",
        "各规则核对发现（户数）",
        "Households flagged per rule",
    ),
    (
        "charts_quarantine",
        "各数据来源隔离记录（按原因）",
        "Quarantined rows by source and reason",
    ),
    (
        "charts_linkage",
        "身份证号无法读取的记录：与申报成员关联结果（按来源）",
        "Records whose resident ID does not read: linked to a declared member, by source",
    ),
    (
        "charts_linkage_scores",
        "最佳候选人得分分布（比特）",
        "Best candidate's score (bits)",
    ),
    ("linked", "已关联", "Linked"),
    ("ambiguous", "无法区分", "Ambiguous"),
    ("unlinked", "未关联", "Unlinked"),
    ("linkage_weights", "关联权重", "Linkage weights"),
    (
        "probable_records",
        "可能属于本户成员的记录（身份证号无法读取，按姓名等关联）",
        "Probable records: IDs that do not read, linked to a member by name and more",
    ),
    ("delivered_id", "报送的证件号", "ID as delivered"),
    (
        "probable_record",
        "可能记录（证件号无法识读，按比对归属）",
        "probable record (its ID does not read; attributed by linkage)",
    ),
    ("linkage_status", "关联结果", "Linkage"),
    ("score", "得分（比特）", "Score (bits)"),
    ("agreed", "一致项", "Fields that agree"),
    ("runner_up", "次优", "runner-up"),
    ("linkage_field", "比较项", "Field"),
    ("weight_agree", "一致时权重", "Weight if it agrees"),
    ("weight_disagree", "不一致时权重", "Weight if not"),
    ("candidate_pairs", "对候选", "candidate pairs"),
    ("random_pairs", "对随机样本", "random pairs"),
    (
        "min_weight_bits",
        "最低关联得分（比特）",
        "Least score of a link (bits)",
    ),
    (
        "margin_bits",
        "领先幅度（比特）",
        "Lead over the next (bits)",
    ),
    (
        "charts_change",
        "与上一批次相比",
        "Change since the previous batch",
    ),
    ("previous_batch", "上一批次", "Previous batch"),
    ("no_previous", "无上一批次。", "No previous batch."),
    ("newly_flagged", "新增不符合", "Newly flagged"),
    ("cleared", "不再不符合", "No longer flagged"),
    ("new_households", "新增家庭", "New households"),
    (
        "gone_households",
        "不再核对的家庭",
        "Households no longer checked",
    ),
    ("change", "变化", "Change"),
    ("now", "本批次", "This batch"),
    ("before", "上一批次", "Previous"),
    ("households", "家庭", "Households"),
    ("reports", "核对报告", "Reports"),
    ("review_list", "待处理家庭", "Households to review"),
    ("filter", "筛选", "Filter"),
    ("all", "全部", "All"),
    ("decided", "处理进度", "Decided"),
    ("undecided_only", "仅未处理", "Undecided only"),
    ("excess", "超出", "Over the line"),
    ("assign_title", "分派核查任务", "Assign households"),
    (
        "assign_help",
        "按地区分派该批次中待处理的全部家庭（市含所辖区县），或列出家庭编号；已分派的家庭改由新经办人负责，分派对以后的批次继续有效。",
        "Assign every household to review of a region in this batch (a city takes its counties'), or list household ids; an assigned household moves to the new caseworker, and the assignment holds in later batches.",
    ),
    ("assign", "分派", "Assign"),
    ("assigned_n", "已分派家庭数：", "Households assigned:"),
    (
        "assign_nothing",
        "请选择地区或填写家庭编号。",
        "Choose a region or list household ids.",
    ),
    ("households_listed", "家庭编号", "Household ids"),
    ("assignee", "经办人", "Caseworker"),
    ("open_households", "待办家庭", "Open households"),
    (
        "open_by_caseworker",
        "各经办人待办",
        "Open households per caseworker",
    ),
    ("overdue", "已逾期", "Overdue"),
    ("due", "办结期限", "Due"),
    ("my_queue", "我的待办", "My queue"),
    ("all_queue", "全部待处理", "All to review"),
    (
        "queue_order",
        "排序：先标记后复核，超出保障线越多越靠前",
        "Order: FLAG before REVIEW, the furthest over the line first",
    ),
    ("open", "查看", "Open"),
    ("previous_page", "上一页", "Previous"),
    ("next_page", "下一页", "Next"),
    ("page", "页", "Page"),
    ("of", "共", "of"),
    ("batches", "核对批次", "Batches"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("username", "用户名", "User name"),
    ("password", "密码", "Password"),
    (
        "login_failed",
        "用户名或密码错误。",
        "Wrong user name or password.",
    ),
    (
        "login_throttled",
        "登录失败次数过多，请稍后再试。",
        "Too many failed logins; try again later.",
    ),
    ("role", "角色", "Role"),
    ("regions", "负责地区", "Regions"),
    ("all_regions", "全部地区", "All regions"),
    ("users", "用户管理", "Users"),
    ("add_user", "新增用户", "Add user"),
    ("disable", "停用", "Disable"),
    ("disabled", "已停用", "Disabled"),
    ("access_log", "查阅记录", "Access log"),
    ("who", "用户", "User"),
    ("when", "时间", "When"),
    ("what", "操作", "Action"),
    (
        "forbidden",
        "无权查看该页面。",
        "You may not see this page.",
    ),
    ("not_found", "未找到。", "Not found."),
    ("bad_request", "请求无效。", "Bad request."),
    ("lang_other", "English", "中文"),
    (
        "scope_note",
        "仅显示您负责地区的数据。",
        "Only your regions are shown.",
    ),
    ("province", "全省", "Province-wide"),
    ("print", "打印", "Print"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_reason_has_words_in_both_languages() {
        for r in hedui_schemas::Rule::ALL {
            assert_eq!(Lang::Zh.rule(r.id()), r.name_zh());
            assert_eq!(Lang::En.rule(r.id()), r.name_en());
        }
        assert_eq!(Lang::Zh.outcome("UNVERIFIED"), "未能核对");
        for r in hedui_schemas::ReasonCode::ALL {
            assert_ne!(Lang::Zh.reason(r.as_str()), r.as_str());
            assert_ne!(Lang::En.reason(r.as_str()), r.as_str());
        }
        let keys: std::collections::BTreeSet<_> = UI.iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys.len(), UI.len(), "a UI key is listed twice");
    }
}
