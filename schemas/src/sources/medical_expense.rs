//! Medical expenses (医保): out-of-pocket spending, deductible where the policy says.

use super::prelude::*;

/// Medical out-of-pocket expenses (医保 medical insurance).
pub static SOURCE: SourceDef = SourceDef {
    id: "medical_expense",
    number: 22,
    name_zh: "医疗费用个人负担",
    department: "医保 medical insurance",
    row: "a person, month and out-of-pocket amount",
    purpose: "rigid-spending deduction, when the policy turns it on",
    fields: &[
        field("person", PersonId, Subject, "insured_id", "insured person"),
        field("month", Month, Period, "settle_month", "month settled").months(MonthStyle::Compact),
        field("out_of_pocket_fen", Money, Deduction, "self_pay_fen", "out-of-pocket amount").unit(MoneyUnit::Fen),
    ],
    export: ExportLayout { format: Format::Parquet, encoding: Encoding::Utf8, path: "medical_expense.parquet" },
    counts: Some(&Counts {
        rows: Gate::Switch(Switch::DeductMedicalExpense),
        wage: None,
        added: None,
        deducted: Some(Figure { field: "out_of_pocket_fen", when: Gate::Always }),
        evidence: None,
    }),
};
