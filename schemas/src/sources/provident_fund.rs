//! Housing provident fund (公积金中心): contribution base as wage evidence.

use super::prelude::*;

/// Housing provident fund (公积金中心).
pub static SOURCE: SourceDef = SourceDef {
    id: "provident_fund",
    number: 11,
    name_zh: "住房公积金",
    department: "公积金中心 housing provident fund centre",
    row: "a person, month, contribution base and withdrawals",
    purpose: "wage evidence (the base); housing",
    fields: &[
        field("person", PersonId, Subject, "证件号码", "account holder"),
        field("name", Text, Name, "姓名", "name"),
        field("month", Month, Period, "缴存年月", "month covered").months(MonthStyle::Compact),
        field("base_fen", Money, Income, "缴存基数(元)", "contribution base"),
        field("withdrawal_fen", Money, Evidence, "提取金额(元)", "amount withdrawn that month").optional(),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gb18030, path: "provident_fund.csv" },
    counts: Some(&Counts {
        rows: Gate::Always,
        wage: Some(Figure { field: "base_fen", when: Gate::Always }),
        added: None,
        deducted: None,
        evidence: Some(Shown { amount: "base_fen", kind: None }),
    }),
};
