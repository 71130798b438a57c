//! Applications (民政): one row per declared member of each household under check.

use super::prelude::*;

/// Applications (民政 civil affairs).
pub static SOURCE: SourceDef = SourceDef {
    id: "applications",
    number: 0,
    name_zh: "救助申请家庭成员",
    department: "民政 civil affairs",
    row: "one declared member of a household under check: household, programme, region, date, member",
    purpose: "the households and members to verify, and the region, programme and date that select the policy",
    fields: &[
        field("household_id", Text, Household, "家庭编号", "household under check"),
        field("programme", Code(&codes::PROGRAMME), Category, "救助类别", "programme applied for or received"),
        field("region", RegionCode, Region, "行政区划代码", "6-digit region code of the household"),
        field("application_date", Date, AsOf, "申请日期", "application or re-check date"),
        field("application_kind", Code(&codes::APPLICATION_KIND), Category, "申请类型", "new application or periodic re-check"),
        field("person", PersonId, Subject, "身份证号", "declared member"),
        field("name", Text, Name, "姓名", "member's name"),
        field("relation", Code(&codes::RELATION), Category, "与申请人关系", "relation to the applicant"),
        field("area_type", Code(&codes::AREA_TYPE), Category, "城乡类别", "urban or rural household: selects the standard where the region sets two; none declared, the urban one").optional(),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "applications.csv" },
    counts: None,
};
