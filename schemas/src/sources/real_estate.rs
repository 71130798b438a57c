//! Real estate (自然资源): the housing test.

use super::prelude::*;

/// Real-estate registrations (自然资源 natural resources).
pub static SOURCE: SourceDef = SourceDef {
    id: "real_estate",
    number: 12,
    name_zh: "不动产登记",
    department: "自然资源 natural resources (land registry)",
    row: "an owner, unit number (不动产单元号), use, area, share, registration dates",
    purpose: "housing test: at most one residential unit, no shop, office, garage or parking",
    fields: &[
        field("owner", PersonId, Subject, "权利人证件号", "owner or co-owner"),
        field("owner_name", Text, Name, "权利人", "owner's name"),
        field("unit_no", Text, RecordKey, "不动产单元号", "property unit number"),
        field("use", Code(&codes::PROPERTY_USE), Category, "用途", "planned use"),
        field("area_m2x100", Area, Attribute, "建筑面积(平方米)", "floor area"),
        field("share_pct", Count, Attribute, "份额(%)", "owner's share in percent"),
        field("registered_on", Date, ValidFrom, "登记日期", "registration").dates(DateStyle::Chinese),
        field("deregistered_on", Date, ValidTo, "注销日期", "deregistration (sale), empty while owned").dates(DateStyle::Chinese).optional(),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "real_estate.csv" },
    counts: None,
};
