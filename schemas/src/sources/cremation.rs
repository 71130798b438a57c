//! Cremations (民政 殡葬): a cross-check on deaths.

use super::prelude::*;

/// Cremation records (民政 殡葬).
pub static SOURCE: SourceDef = SourceDef {
    id: "cremation",
    number: 5,
    name_zh: "火化信息",
    department: "民政 殡葬 funeral services",
    row: "a person cremated, with the date",
    purpose: "death cross-check: a cremated member is dead",
    fields: &[
        field("person", PersonId, Subject, "sfzh", "cremated person"),
        field("name", Text, Name, "xm", "name"),
        field("cremation_date", Date, AsOf, "hhrq", "date of cremation"),
    ],
    export: ExportLayout { format: Format::Jsonl, encoding: Encoding::Utf8, path: "cremation.jsonl" },
    counts: None,
};
