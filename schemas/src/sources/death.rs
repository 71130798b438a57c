//! Deaths (公安/卫健): persons deregistered as dead.

use super::prelude::*;

/// Death registrations (公安/卫健).
pub static SOURCE: SourceDef = SourceDef {
    id: "death",
    number: 2,
    name_zh: "死亡登记",
    department: "公安/卫健 public security, health",
    row: "a person deregistered as dead, with the date",
    purpose: "declared members who died are excluded and flagged for review",
    fields: &[
        field("person", PersonId, Subject, "身份证号码", "deceased person"),
        field("name", Text, Name, "姓名", "name"),
        field("death_date", Date, AsOf, "死亡日期", "date of death").dates(DateStyle::Chinese),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "death.csv" },
    counts: None,
};
