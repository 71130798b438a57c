//! Securities (证券登记结算): financial assets at market value.

use super::prelude::*;

/// Securities holdings (securities depository).
pub static SOURCE: SourceDef = SourceDef {
    id: "securities",
    number: 18,
    name_zh: "证券资产",
    department: "中国结算 securities depository",
    row: "a person, securities account, market value and as-of date",
    purpose: "financial assets at market value",
    fields: &[
        field("person", PersonId, Subject, "holder_id", "account holder"),
        field("account", Text, RecordKey, "securities_account", "securities account"),
        field("market_value_fen", Money, Asset, "market_value_fen", "market value").unit(MoneyUnit::Fen),
        field("as_of", Date, AsOf, "valuation_date", "valuation date"),
    ],
    export: ExportLayout { format: Format::Parquet, encoding: Encoding::Utf8, path: "securities.parquet" },
    counts: None,
};
