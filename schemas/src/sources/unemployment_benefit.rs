//! Unemployment benefit (人社): transfer income.

use super::prelude::*;

/// Unemployment benefit payments (人社).
pub static SOURCE: SourceDef = SourceDef {
    id: "unemployment_benefit",
    number: 9,
    name_zh: "失业保险金",
    department: "人社 human resources and social security",
    row: "a person, month and amount paid",
    purpose: "transfer income",
    fields: &[
        field("person", PersonId, Subject, "idCard", "recipient"),
        field("month", Month, Period, "payMonth", "month paid").months(MonthStyle::Dot),
        field("amount_fen", Money, Income, "amountYuan", "amount paid"),
    ],
    export: ExportLayout { format: Format::Jsonl, encoding: Encoding::Utf8, path: "unemployment_benefit.jsonl" },
    counts: Some(&Counts {
        rows: Gate::Switch(Switch::CountUnemploymentBenefit),
        wage: None,
        added: Some(Figure { field: "amount_fen", when: Gate::Always }),
        deducted: None,
        evidence: Some(Shown { amount: "amount_fen", kind: None }),
    }),
};
