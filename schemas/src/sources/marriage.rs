//! Marriage registry (民政): marriages and divorces.

use super::prelude::*;

/// Marriage and divorce registrations (民政).
pub static SOURCE: SourceDef = SourceDef {
    id: "marriage",
    number: 4,
    name_zh: "婚姻登记",
    department: "民政 civil affairs",
    row: "two persons, a marriage or divorce, and its date",
    purpose: "undeclared spouses",
    fields: &[
        field("person", PersonId, Subject, "男方身份证号", "first party"),
        field("spouse", PersonId, Related, "女方身份证号", "second party"),
        field("event", Code(&codes::MARRIAGE_EVENT), Category, "登记类别", "marriage or divorce"),
        field("event_date", Date, AsOf, "登记日期", "registration date"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "marriage.csv" },
    counts: None,
};
