//! Commercial insurance (insurers): cash values as financial assets.

use super::prelude::*;

/// Commercial insurance policies (insurers).
pub static SOURCE: SourceDef = SourceDef {
    id: "commercial_insurance",
    number: 19,
    name_zh: "商业保险",
    department: "保险公司 insurers",
    row: "a person, policy, insurer, cash value and as-of date",
    purpose: "financial assets: cash value",
    fields: &[
        field("person", PersonId, Subject, "policyHolderId", "policy holder"),
        field("policy_no", Text, RecordKey, "policyNo", "policy number"),
        field("insurer", Text, Attribute, "insurer", "insurer"),
        field("cash_value_fen", Money, Asset, "cashValue", "cash value"),
        field("as_of", Date, AsOf, "valueDate", "valuation date"),
    ],
    export: ExportLayout { format: Format::Jsonl, encoding: Encoding::Utf8, path: "commercial_insurance.jsonl" },
    counts: None,
};
