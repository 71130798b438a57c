//! Employment registration (人社): work capacity.

use super::prelude::*;

/// Employment and unemployment registrations (人社).
pub static SOURCE: SourceDef = SourceDef {
    id: "employment",
    number: 10,
    name_zh: "就业失业登记",
    department: "人社 human resources and social security",
    row: "a person registered as employed or unemployed, with the date",
    purpose: "work capacity, shown to caseworkers",
    fields: &[
        field("person", PersonId, Subject, "idCard", "registered person"),
        field("status", Code(&codes::EMPLOYMENT_STATUS), Category, "regType", "employed or unemployed"),
        field("registered_on", Date, AsOf, "regDate", "registration date"),
        field("employer", Text, Attribute, "employerName", "employer, for employment registrations").optional(),
    ],
    export: ExportLayout { format: Format::Jsonl, encoding: Encoding::Utf8, path: "employment.jsonl" },
    counts: None,
};
