//! Internet finance (payment platforms): balances as financial assets.

use super::prelude::*;

/// Internet-finance balances (payment platforms).
pub static SOURCE: SourceDef = SourceDef {
    id: "internet_finance",
    number: 20,
    name_zh: "互联网金融资产",
    department: "支付平台 payment platforms",
    row: "a person, platform, account, balance and as-of date",
    purpose: "financial assets",
    fields: &[
        field("person", PersonId, Subject, "证件号码", "account holder"),
        field("platform", Text, Attribute, "平台名称", "platform"),
        field("account", Text, RecordKey, "账户", "account (masked)"),
        field("balance_fen", Money, Asset, "余额(元)", "balance"),
        field("as_of", Date, AsOf, "统计日期", "balance date"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "internet_finance.csv" },
    counts: None,
};
