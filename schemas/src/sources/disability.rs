//! Disability certificates (残联): exemptions and separate applications.

use super::prelude::*;

/// Disability certificates (残联 disabled persons' federation).
pub static SOURCE: SourceDef = SourceDef {
    id: "disability",
    number: 16,
    name_zh: "残疾人证",
    department: "残联 disabled persons' federation",
    row: "a person, disability category and grade",
    purpose: "shown to caseworkers (exemptions, separate application)",
    fields: &[
        field("person", PersonId, Subject, "身份证号", "certificate holder"),
        field("name", Text, Name, "姓名", "name"),
        field("category", Code(&codes::DISABILITY_CATEGORY), Category, "残疾类别", "category"),
        field("grade", Count, Attribute, "残疾等级", "grade 1 (most severe) to 4"),
        field("certified_on", Date, AsOf, "发证日期", "date certified").dates(DateStyle::Slash),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "disability.csv" },
    counts: None,
};
