//! Public payroll (财政): the public-payroll test; wages.

use super::prelude::*;

/// Public payroll (财政 finance).
pub static SOURCE: SourceDef = SourceDef {
    id: "public_payroll",
    number: 15,
    name_zh: "财政供养人员工资",
    department: "财政 finance",
    row: "a person, employer, month and salary",
    purpose: "public payroll test; wage evidence",
    fields: &[
        field("person", PersonId, Subject, "身份证号", "employee"),
        field("name", Text, Name, "姓名", "name"),
        field("employer", Text, Attribute, "单位名称", "public employer"),
        field("month", Month, Period, "工资年月", "month paid"),
        field("salary_fen", Money, Income, "应发工资(元)", "gross salary"),
    ],
    export: ExportLayout { format: Format::Csv, encoding: Encoding::Utf8, path: "public_payroll.csv" },
    counts: Some(&Counts {
        rows: Gate::Always,
        wage: Some(Figure { field: "salary_fen", when: Gate::Always }),
        added: None,
        deducted: None,
        evidence: Some(Shown { amount: "salary_fen", kind: None }),
    }),
};
