//! Business registrations (市场监管): the business test.

use super::prelude::*;

/// Business registrations (市场监管 market regulation).
pub static SOURCE: SourceDef = SourceDef {
    id: "business",
    number: 13,
    name_zh: "市场主体登记",
    department: "市场监管 market regulation",
    row: "a person as legal representative, shareholder or operator of a business, with its status",
    purpose: "business test (a sole trader with no staff goes to review)",
    fields: &[
        field("person", PersonId, Subject, "cerNo", "person named"),
        field("credit_code", CreditCode, RecordKey, "uniscid", "business's credit code"),
        field("entity_name", Text, Attribute, "entName", "business name"),
        field("entity_type", Code(&codes::ENTITY_TYPE), Category, "entType", "legal form"),
        field("role", Code(&codes::BUSINESS_ROLE), Category, "personRole", "the person's role"),
        field("capital_fen", Money, Evidence, "regCapWanYuan", "registered capital").unit(MoneyUnit::WanYuan),
        field("staff", Count, Category, "empNum", "staff employed (the business rule branches on it)"),
        field("established_on", Date, ValidFrom, "estDate", "established"),
        field("status", Code(&codes::BUSINESS_STATUS), Category, "regState", "registration status"),
        field("status_date", Date, ValidTo, "regStateDate", "date of the current status"),
    ],
    export: ExportLayout { format: Format::Jsonl, encoding: Encoding::Utf8, path: "business.jsonl" },
    counts: None,
};
