//! Vessels (海事 maritime): the asset test on vessels.

use super::prelude::*;

/// Vessel registrations (海事 maritime).
pub static SOURCE: SourceDef = SourceDef {
    id: "vessel",
    number: 21,
    name_zh: "船舶登记",
    department: "海事 maritime",
    row: "an owner, vessel, value and registration dates",
    purpose: "asset test: no vessel",
    fields: &[
        field("owner", PersonId, Subject, "船舶所有人证件号", "owner"),
        field("vessel_no", Text, RecordKey, "船舶识别号", "vessel identification number"),
        field("vessel_name", Text, Attribute, "船名", "vessel name"),
        field("value_fen", Money, Evidence, "船舶价值(万元)", "assessed value").unit(MoneyUnit::WanYuan),
        field("registered_on", Date, ValidFrom, "登记日期", "registration").dates(DateStyle::Slash),
        field("deregistered_on", Date, ValidTo, "注销日期", "deregistration, empty while registered").dates(DateStyle::Slash).optional(),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "vessel.csv" },
    counts: None,
};
