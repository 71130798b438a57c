//! Individual income tax (税务): wage, business and property income; tax paid.

use super::prelude::*;

/// Individual income tax records (税务 taxation).
pub static SOURCE: SourceDef = SourceDef {
    id: "tax",
    number: 14,
    name_zh: "个人所得税",
    department: "税务 taxation",
    row: "a person, month, income type, amount and tax paid, with the withholding agent",
    purpose: "income by type; tax paid is deducted",
    fields: &[
        field("person", PersonId, Subject, "taxpayer_id", "taxpayer"),
        field("month", Month, Period, "income_month", "month of income").months(MonthStyle::Compact),
        field("income_type", Code(&codes::INCOME_TYPE), Category, "income_item", "income type"),
        field("income_fen", Money, Income, "income_fen", "income").unit(MoneyUnit::Fen),
        field("tax_fen", Money, Deduction, "tax_paid_fen", "tax paid").unit(MoneyUnit::Fen),
        field("withholder", CreditCode, Attribute, "withholder_uscc", "withholding agent").optional(),
    ],
    export: ExportLayout { format: Format::Parquet, encoding: Encoding::Utf8, path: "tax.parquet" },
    counts: Some(&Counts {
        rows: Gate::Always,
        wage: Some(Figure { field: "income_fen", when: Gate::Is("income_type", "wage", List::CountedTaxIncomeTypes) }),
        added: Some(Figure { field: "income_fen", when: Gate::InBut("income_type", List::CountedTaxIncomeTypes, "wage") }),
        deducted: Some(Figure { field: "tax_fen", when: Gate::Always }),
        evidence: Some(Shown { amount: "income_fen", kind: Some("income_type") }),
    }),
};
