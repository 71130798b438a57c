//! Motor vehicles (公安交管 traffic police): the asset test on vehicles.

use super::prelude::*;

/// Motor vehicle registrations (公安交管 traffic police).
pub static SOURCE: SourceDef = SourceDef {
    id: "vehicle",
    number: 3,
    name_zh: "机动车登记",
    department: "公安交管 traffic police",
    row: "an owner, plate, VIN, vehicle type, registration and deregistration dates, value",
    purpose: "asset test: no motor vehicle except exempt types",
    fields: &[
        field("owner", PersonId, Subject, "所有人身份证号", "registered owner"),
        field("plate", Text, RecordKey, "号牌号码", "licence plate"),
        field("vin", Text, Attribute, "车辆识别代号", "vehicle identification number"),
        field("vehicle_type", Code(&codes::VEHICLE_TYPE), Category, "车辆类型", "GA 802 vehicle type code"),
        field("registered_on", Date, ValidFrom, "初次登记日期", "first registration").dates(DateStyle::Compact),
        field("deregistered_on", Date, ValidTo, "注销日期", "deregistration, empty while registered").dates(DateStyle::Compact).optional(),
        field("value_fen", Money, Evidence, "车辆价值(万元)", "assessed value").unit(MoneyUnit::WanYuan),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Gbk, path: "vehicle.csv" },
    counts: None,
};
