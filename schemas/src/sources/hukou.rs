//! Household registration (户籍, public security): household composition.

use super::prelude::*;

/// Household registration (公安 public security).
pub static SOURCE: SourceDef = SourceDef {
    id: "hukou",
    number: 1,
    name_zh: "户籍信息",
    department: "公安 public security",
    row: "a person, their household number (户号), relation to the head, region and status",
    purpose: "household composition: undeclared spouses and minor children",
    fields: &[
        field("person", PersonId, Subject, "公民身份号码", "registered person"),
        field("name", Text, Name, "姓名", "name"),
        field("hukou_no", Text, Household, "户号", "household registration number"),
        field("relation_to_head", Code(&codes::RELATION), Category, "与户主关系", "relation to the head of the registered household"),
        field("region", RegionCode, Region, "户籍地行政区划", "region of registration"),
        field("status", Code(&codes::HUKOU_STATUS), Category, "户籍状态", "registration status"),
        field("status_date", Date, AsOf, "变动日期", "date of the last status change").dates(DateStyle::Slash),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "hukou.csv" },
    counts: None,
};
