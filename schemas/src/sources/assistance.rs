//! Assistance payments (民政): duplicate benefits; excluded income.

use super::prelude::*;

/// Social-assistance payments (民政).
pub static SOURCE: SourceDef = SourceDef {
    id: "assistance",
    number: 6,
    name_zh: "社会救助发放",
    department: "民政 civil affairs",
    row: "a person receiving a programme in a household and region over a period, with the monthly amount",
    purpose: "duplicate benefits; assistance is excluded from income",
    fields: &[
        field("person", PersonId, Subject, "person_id", "recipient"),
        field("household_id", Text, Household, "household_id", "household the benefit is paid to"),
        field("programme", Code(&codes::PROGRAMME), Category, "programme", "programme"),
        field("region", RegionCode, Region, "region_code", "paying region"),
        field("period_from", Month, ValidFrom, "period_from", "first month paid").months(MonthStyle::Compact),
        field("period_to", Month, ValidTo, "period_to", "last month paid, empty while ongoing").months(MonthStyle::Compact).optional(),
        field("amount_fen", Money, Income, "monthly_amount_fen", "monthly amount").unit(MoneyUnit::Fen),
    ],
    export: ExportLayout { format: Format::Parquet, encoding: Encoding::Utf8, path: "assistance.parquet" },
    counts: None,
};
