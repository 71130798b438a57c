//! Social insurance (人社): contribution bases as wage evidence; personal contributions deducted.

use super::prelude::*;

/// Social-insurance contributions (人社 human resources and social security).
pub static SOURCE: SourceDef = SourceDef {
    id: "social_insurance",
    number: 7,
    name_zh: "社会保险缴费",
    department: "人社 human resources and social security",
    row: "a person, employer, month, contribution base and personal contribution",
    purpose: "wage evidence (the base); personal contributions are deducted",
    fields: &[
        field("person", PersonId, Subject, "person_id", "insured person"),
        field("employer", CreditCode, Attribute, "employer_uscc", "employer's credit code"),
        field("month", Month, Period, "contribution_month", "month covered").months(MonthStyle::Compact),
        field("base_fen", Money, Income, "contribution_base_fen", "contribution base").unit(MoneyUnit::Fen),
        field("personal_fen", Money, Deduction, "personal_contribution_fen", "personal contribution").unit(MoneyUnit::Fen),
    ],
    export: ExportLayout { format: Format::Parquet, encoding: Encoding::Utf8, path: "social_insurance.parquet" },
    counts: Some(&Counts {
        rows: Gate::Always,
        wage: Some(Figure { field: "base_fen", when: Gate::Always }),
        added: None,
        deducted: Some(Figure { field: "personal_fen", when: Gate::Always }),
        evidence: Some(Shown { amount: "base_fen", kind: None }),
    }),
};
