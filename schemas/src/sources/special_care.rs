//! Special-care payments (退役军人): excluded income.

use super::prelude::*;

/// Special-care payments to veterans and families (退役军人事务).
pub static SOURCE: SourceDef = SourceDef {
    id: "special_care",
    number: 24,
    name_zh: "优抚金发放",
    department: "退役军人事务 veterans affairs",
    row: "a person, month and amount of special-care payment (优抚金)",
    purpose: "excluded income, shown as evidence",
    fields: &[
        field("person", PersonId, Subject, "身份证号", "recipient"),
        field("name", Text, Name, "姓名", "name"),
        field("month", Month, Period, "发放月份", "month paid").months(MonthStyle::Dot),
        field("amount_fen", Money, Income, "金额(元)", "amount paid"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "special_care.csv" },
    counts: None,
};
