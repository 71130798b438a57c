//! The shape of a source definition: fields, their types and roles, the staged Arrow schema,
//! and the raw layout a department exports by default.
//!
//! A source is plain `static` data ([`SourceDef`]); the per-source files under
//! [`crate::sources`] are nothing but one such definition each.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::codes::CodeTable;

/// File format of a department export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON object per line.
    Jsonl,
}

/// Text encoding of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// UTF-8, with or without a BOM.
    Utf8,
    /// GBK (CP936), as Windows tools in Chinese locales write.
    Gbk,
    /// GB18030, the national standard superset of GBK.
    Gb18030,
}

/// The unit an export writes money in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyUnit {
    /// 分, integer.
    Fen,
    /// 元, up to 2 decimals.
    Yuan,
    /// 万元, up to 6 decimals.
    WanYuan,
}

impl MoneyUnit {
    /// Decimal places of one fen in this unit.
    pub fn decimals(self) -> usize {
        match self {
            MoneyUnit::Fen => 0,
            MoneyUnit::Yuan => 2,
            MoneyUnit::WanYuan => 6,
        }
    }

    /// The Chinese unit name, as written in headers (`金额(元)`) and sometimes after values.
    pub fn suffix(self) -> &'static str {
        match self {
            MoneyUnit::Fen => "分",
            MoneyUnit::Yuan => "元",
            MoneyUnit::WanYuan => "万元",
        }
    }
}

/// How an export writes dates (parsing accepts every style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateStyle {
    /// `2024-01-15`
    Iso,
    /// `2024/1/15`
    Slash,
    /// `20240115`
    Compact,
    /// `2024年1月15日`
    Chinese,
}

/// How an export writes months (parsing accepts every style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthStyle {
    /// `2024-01`
    Iso,
    /// `202401`
    Compact,
    /// `2024.01`
    Dot,
}

/// The type of a catalog field: how raw text is validated and what it is staged as.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// A resident ID; staged as `<name>_key` (packed `Int64`) and `<name>_id_raw` (as delivered).
    PersonId,
    /// Free text (names, plates, account numbers); staged as `Utf8`.
    Text,
    /// Money; staged as integer fen (`Int64`).
    Money,
    /// A calendar date; staged as `Date32`.
    Date,
    /// A calendar month; staged as `Int32` `yyyymm`.
    Month,
    /// A coded value; staged as `Dictionary(Int32, Utf8)` holding the catalog code.
    Code(&'static CodeTable),
    /// A non-negative integer (counts, grades, percentage shares); staged as `Int64`.
    Count,
    /// An area in square metres with up to 2 decimals; staged as `Int64` hundredths.
    Area,
    /// A 6-digit administrative region code; staged as `Int32`.
    RegionCode,
    /// A unified social credit code; staged as `Utf8`, validated.
    CreditCode,
}

impl FieldType {
    /// A short name for listings.
    pub fn name(&self) -> String {
        match self {
            FieldType::PersonId => "person_id".into(),
            FieldType::Text => "text".into(),
            FieldType::Money => "money_fen".into(),
            FieldType::Date => "date".into(),
            FieldType::Month => "month".into(),
            FieldType::Code(t) => format!("code<{}>", t.id),
            FieldType::Count => "count".into(),
            FieldType::Area => "area_m2".into(),
            FieldType::RegionCode => "region".into(),
            FieldType::CreditCode => "credit_code".into(),
        }
    }
}

/// What a field means to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person the row is about (the join key).
    Subject,
    /// Another person the row names (a spouse).
    Related,
    /// A household identifier (household id, 户号).
    Household,
    /// A person's name (display only).
    Name,
    /// Identifies the record within its source (plate, unit number, account).
    RecordKey,
    /// Income counted (or excluded) by the policy.
    Income,
    /// An amount deducted from income (tax paid, personal contributions).
    Deduction,
    /// A balance or value that counts as an asset.
    Asset,
    /// An amount shown as evidence but not summed (contribution bases, capital).
    Evidence,
    /// The month a monthly record covers.
    Period,
    /// The date a value or status holds at.
    AsOf,
    /// Start of validity (registration, marriage, from).
    ValidFrom,
    /// End of validity (deregistration, release).
    ValidTo,
    /// A classification the rules branch on.
    Category,
    /// The administrative region.
    Region,
    /// Descriptive detail.
    Attribute,
}

/// How a field appears in the department's raw export.
#[derive(Debug, Clone, Copy)]
pub struct RawColumn {
    /// The column header (CSV) or key (JSON lines, Parquet).
    pub header: &'static str,
    /// The unit money is written in.
    pub unit: MoneyUnit,
    /// How dates are written.
    pub date_style: DateStyle,
    /// How months are written.
    pub month_style: MonthStyle,
}

/// One field of a source.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Staged column name (for `PersonId`, the stem of `<name>_key` and `<name>_id_raw`).
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Its role.
    pub role: Role,
    /// A row without it is quarantined.
    pub required: bool,
    /// One line on what it holds.
    pub doc: &'static str,
    /// Its raw form in the default export.
    pub raw: RawColumn,
}

/// Starts a required field with its raw header (money in 元, ISO dates and months).
pub const fn field(
    name: &'static str,
    ty: FieldType,
    role: Role,
    header: &'static str,
    doc: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        ty,
        role,
        required: true,
        doc,
        raw: RawColumn {
            header,
            unit: MoneyUnit::Yuan,
            date_style: DateStyle::Iso,
            month_style: MonthStyle::Iso,
        },
    }
}

impl FieldDef {
    /// Marks the field optional.
    pub const fn optional(self) -> Self {
        FieldDef {
            required: false,
            ..self
        }
    }

    /// Sets the unit money is written in.
    pub const fn unit(self, unit: MoneyUnit) -> Self {
        FieldDef {
            raw: RawColumn { unit, ..self.raw },
            ..self
        }
    }

    /// Sets the date style.
    pub const fn dates(self, date_style: DateStyle) -> Self {
        FieldDef {
            raw: RawColumn {
                date_style,
                ..self.raw
            },
            ..self
        }
    }

    /// Sets the month style.
    pub const fn months(self, month_style: MonthStyle) -> Self {
        FieldDef {
            raw: RawColumn {
                month_style,
                ..self.raw
            },
            ..self
        }
    }

    /// Whether no rule reads the field: a name, a descriptive attribute (an employer's credit
    /// code, a business or bank name, a VIN) or an amount only shown as evidence. Such a
    /// detail that fails validation is staged empty with a warning; the record is kept, so
    /// that a bad detail never loses the income or asset it carries. A field the rules read
    /// (subject, record key, amounts summed, dates, months, codes they branch on) is never a
    /// detail; `pipeline`'s tests check that no rule's SQL reads a detail.
    pub fn is_detail(&self) -> bool {
        matches!(self.role, Role::Name | Role::Attribute | Role::Evidence)
    }

    /// The staged Arrow fields this field becomes (a detail is nullable even when required:
    /// it is staged empty when it fails validation).
    pub fn staged_fields(&self) -> Vec<Field> {
        let nullable = !self.required || self.is_detail();
        match self.ty {
            FieldType::PersonId => vec![
                Field::new(format!("{}_key", self.name), DataType::Int64, nullable),
                Field::new(format!("{}_id_raw", self.name), DataType::Utf8, nullable),
            ],
            ty => vec![Field::new(self.name, staged_type(ty), nullable)],
        }
    }

    /// The Arrow type the default export uses for this field in Parquet.
    pub fn raw_parquet_type(&self) -> DataType {
        match self.ty {
            FieldType::Money if self.raw.unit == MoneyUnit::Fen => DataType::Int64,
            FieldType::Date => DataType::Date32,
            FieldType::Count => DataType::Int64,
            _ => DataType::Utf8,
        }
    }
}

fn staged_type(ty: FieldType) -> DataType {
    match ty {
        FieldType::PersonId => DataType::Int64,
        FieldType::Text | FieldType::CreditCode => DataType::Utf8,
        FieldType::Money | FieldType::Count | FieldType::Area => DataType::Int64,
        FieldType::Date => DataType::Date32,
        FieldType::Month | FieldType::RegionCode => DataType::Int32,
        FieldType::Code(_) => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
    }
}

/// Staged provenance column: the file a row came from (dictionary-encoded).
pub const FILE_COLUMN: &str = "_file";
/// Staged provenance column: the 1-based line (CSV, JSON lines; the header is line 1 in CSV)
/// or row number (Parquet, PostgreSQL) a row came from.
pub const LINE_COLUMN: &str = "_line";
/// Column of a staged file of rows whose subject's ID does not read
/// (`staged/<source>.unread.parquet`): the keys of the people with an accepted row in the
/// source whose every other value is the same (a list, empty when none), found at ingest.
pub const COPY_OF_COLUMN: &str = "_copy_of";

/// How a source's records count in a household's net income over the window (the income
/// test): the catalog says it, not the engine, so a department that adds income is one schema
/// file. The window is on the source's `Period` field.
#[derive(Debug)]
pub struct Counts {
    /// Records kept at all (besides the window).
    pub rows: Gate,
    /// A wage figure: per member and month the largest wage figure of every source counts
    /// (one salary reported to several departments is counted once, never summed).
    pub wage: Option<Figure>,
    /// Income added to the household's.
    pub added: Option<Figure>,
    /// An amount deducted (tax paid, personal contributions, out-of-pocket medical spending).
    pub deducted: Option<Figure>,
    /// What a caseworker is shown of each record behind an income finding; `None`: its records
    /// are no evidence of income (a deduction), and the source is needed only when `rows`
    /// keeps records at all.
    pub evidence: Option<Shown>,
}

/// An amount field of a record, and when the record's amount counts.
#[derive(Debug)]
pub struct Figure {
    /// The money field.
    pub field: &'static str,
    /// When it counts.
    pub when: Gate,
}

/// A record behind an income finding as the evidence shows it.
#[derive(Debug)]
pub struct Shown {
    /// The amount shown.
    pub amount: &'static str,
    /// A code field the record key names after the month (tax: the income type).
    pub kind: Option<&'static str>,
}

/// A condition on a record under the policy in force.
#[derive(Debug)]
pub enum Gate {
    /// Always.
    Always,
    /// When the policy's switch is on.
    Switch(Switch),
    /// When the field's code is one of the policy's list.
    In(&'static str, List),
    /// When the field's code is this code and the policy's list holds it (the tax-reported
    /// wage: `income_type` is `wage`, and `wage` is a counted income type).
    Is(&'static str, &'static str, List),
    /// When the field's code is one of the policy's list but not this code.
    InBut(&'static str, List, &'static str),
}

/// A policy switch a gate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// `[income] count_unemployment_benefit`.
    CountUnemploymentBenefit,
    /// `[income] deduct_medical_expense`.
    DeductMedicalExpense,
}

/// A policy list of catalog codes a gate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `[income] counted_tax_income_types`.
    CountedTaxIncomeTypes,
    /// `[income] counted_pension_schemes`.
    CountedPensionSchemes,
}

impl Switch {
    /// The switch under `policy`.
    pub fn on(self, policy: &crate::policy::Policy) -> bool {
        match self {
            Switch::CountUnemploymentBenefit => policy.count_unemployment_benefit,
            Switch::DeductMedicalExpense => policy.deduct_medical_expense,
        }
    }
}

impl List {
    /// The list under `policy`.
    pub fn codes(self, policy: &crate::policy::Policy) -> &[String] {
        match self {
            List::CountedTaxIncomeTypes => &policy.counted_tax_income_types,
            List::CountedPensionSchemes => &policy.counted_pension_schemes,
        }
    }
}

/// The raw export a department delivers by default.
#[derive(Debug, Clone, Copy)]
pub struct ExportLayout {
    /// File format.
    pub format: Format,
    /// Text encoding (CSV only).
    pub encoding: Encoding,
    /// Path relative to the delivery folder; a folder ending in `/` holds one file per
    /// sub-department (each bank delivers its own file).
    pub path: &'static str,
}

/// One input source.
#[derive(Debug)]
pub struct SourceDef {
    /// Stable id used in configs and outputs.
    pub id: &'static str,
    /// The number in domain.md's table (0 for the applications).
    pub number: u8,
    /// Chinese name.
    pub name_zh: &'static str,
    /// The department that delivers it.
    pub department: &'static str,
    /// What one row says.
    pub row: &'static str,
    /// What the engine uses it for.
    pub purpose: &'static str,
    /// Its fields, in raw export order.
    pub fields: &'static [FieldDef],
    /// The department's default export.
    pub export: ExportLayout,
    /// How its records count in a household's income, if they do.
    pub counts: Option<&'static Counts>,
}

impl SourceDef {
    /// The staged Arrow schema: the normalised fields, then `_file` and `_line`.
    pub fn staged_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self.fields.iter().flat_map(|f| f.staged_fields()).collect();
        fields.push(Field::new(
            FILE_COLUMN,
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ));
        fields.push(Field::new(LINE_COLUMN, DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The subject person field (every source has exactly one).
    pub fn subject(&self) -> &'static FieldDef {
        // Invariant: checked for every registered source by the catalog tests.
        self.fields
            .iter()
            .find(|f| f.role == Role::Subject)
            .expect("every catalog source has a subject field")
    }

    /// The code tables the source uses.
    pub fn code_tables(&self) -> Vec<&'static CodeTable> {
        self.fields
            .iter()
            .filter_map(|f| match f.ty {
                FieldType::Code(t) => Some(t),
                _ => None,
            })
            .collect()
    }
}
