//! Bank deposits (banks): financial assets. Each bank delivers its own file.

use super::prelude::*;

/// Bank deposit balances (banks, one file each).
pub static SOURCE: SourceDef = SourceDef {
    id: "bank_deposit",
    number: 17,
    name_zh: "银行存款",
    department: "银行 banks",
    row: "a person, bank, masked account, balance and as-of date",
    purpose: "financial assets: latest balance per account on or before the batch date",
    fields: &[
        field("person", PersonId, Subject, "证件号码", "account holder"),
        field("name", Text, Name, "客户姓名", "name"),
        field("bank", Text, Attribute, "开户行", "bank"),
        field("account", Text, RecordKey, "账号", "account number (masked)"),
        field("balance_fen", Money, Asset, "余额(元)", "balance"),
        field("as_of", Date, AsOf, "余额日期", "balance date"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "bank_deposit/" },
    counts: None,
};
