//! Pensions (人社): transfer income, except the resident basic pension.

use super::prelude::*;

/// Pension payments (人社).
pub static SOURCE: SourceDef = SourceDef {
    id: "pension",
    number: 8,
    name_zh: "养老金发放",
    department: "人社 human resources and social security",
    row: "a person, month, scheme and amount paid",
    purpose: "transfer income (the resident basic pension is excluded)",
    fields: &[
        field("person", PersonId, Subject, "身份证号", "pensioner"),
        field("name", Text, Name, "姓名", "name"),
        field("month", Month, Period, "发放年月", "month paid"),
        field("scheme", Code(&codes::PENSION_SCHEME), Category, "险种", "pension scheme"),
        field("amount_fen", Money, Income, "发放金额(元)", "amount paid"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "pension.csv" },
    counts: Some(&Counts {
        rows: Gate::In("scheme", List::CountedPensionSchemes),
        wage: None,
        added: Some(Figure { field: "amount_fen", when: Gate::Always }),
        deducted: None,
        evidence: Some(Shown { amount: "amount_fen", kind: None }),
    }),
};
