//! Incarceration (司法): persons excluded from the household count.

use super::prelude::*;

/// Incarceration and compulsory detention (司法 justice).
pub static SOURCE: SourceDef = SourceDef {
    id: "incarceration",
    number: 23,
    name_zh: "服刑及强制隔离戒毒",
    department: "司法 justice",
    row: "a person held from one date to another",
    purpose: "members held at the batch date are excluded from the household",
    fields: &[
        field("person", PersonId, Subject, "身份证号", "person held"),
        field("name", Text, Name, "姓名", "name"),
        field("from_date", Date, ValidFrom, "入监日期", "held from").dates(DateStyle::Compact),
        field("to_date", Date, ValidTo, "出监日期", "released on, empty while held").dates(DateStyle::Compact).optional(),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "incarceration.csv" },
    counts: None,
};
