//! Row validation and normalisation against the catalog.
//!
//! One function decides whether a raw row is accepted, used by ingestion and by the tests that
//! check the generator's planted dirty rows: a row either becomes typed [`Value`]s or is
//! rejected with the [`ReasonCode`] and the field that caused it. The first bad field (in
//! catalog order) decides the reason, so a row with one defect always gets the same code.

use chrono::NaiveDate;
use hedui_schemas::codes::trim_code;
use hedui_schemas::{FieldDef, FieldType, ReasonCode, ResidentId, values};

use crate::config::{FieldPlan, FieldSource, SourcePlan};

/// A normalised field value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// An empty optional field.
    Null,
    /// A resident ID: the packed key and the text as delivered.
    Person {
        /// Packed key ([`ResidentId::pack`]).
        key: i64,
        /// The raw text.
        raw: String,
    },
    /// Text, trimmed.
    Text(String),
    /// Money in fen, counts, areas in hundredths of a square metre.
    Int(i64),
    /// A date.
    Date(NaiveDate),
    /// A month as `yyyymm`.
    Month(i32),
    /// A catalog code.
    Code(&'static str),
    /// A region code.
    Region(i32),
}

/// Why a row is rejected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The reason code.
    pub reason: ReasonCode,
    /// The catalog field, or `None` for row-level problems.
    pub field: Option<&'static str>,
    /// The raw text of the field.
    pub raw: String,
}

fn is_blank(s: &str) -> bool {
    trim_code(s).is_empty()
}

/// Validates one field as configured by `plan`.
pub fn validate_field(
    f: &FieldDef,
    plan: &FieldPlan,
    raw: Option<&str>,
) -> Result<Value, ReasonCode> {
    let raw = match raw {
        Some(r) if !is_blank(r) => r,
        _ if f.required => return Err(ReasonCode::MissingRequired),
        _ => return Ok(Value::Null),
    };
    Ok(match f.ty {
        FieldType::PersonId => {
            let id = ResidentId::parse(raw).map_err(|e| ReasonCode::from(&e))?;
            Value::Person {
                key: id.pack(),
                raw: raw.to_string(),
            }
        }
        FieldType::Text => Value::Text(trim_code(raw).to_string()),
        FieldType::Money => Value::Int(values::parse_money_with(raw, plan.unit, plan.thousands)?),
        FieldType::Date => {
            if let Some(style) = plan.date_style
                && !values::date_in_style(raw, style)
            {
                return Err(ReasonCode::BadDate);
            }
            Value::Date(values::parse_date(raw)?)
        }
        FieldType::Month => {
            if let Some(style) = plan.month_style
                && !values::month_in_style(raw, style)
            {
                return Err(ReasonCode::BadMonth);
            }
            Value::Month(values::parse_month(raw)?)
        }
        FieldType::Code(table) => Value::Code(
            table
                .map_raw(raw)
                .or_else(|| plan.extra_codes.get(trim_code(raw)).copied())
                .ok_or(ReasonCode::UnknownCode)?,
        ),
        FieldType::Count => Value::Int(values::parse_count(raw)?),
        FieldType::Area => Value::Int(values::parse_scaled(raw, 2)?),
        FieldType::RegionCode => Value::Region(values::parse_region(raw)?),
        FieldType::CreditCode => {
            Value::Text(hedui_schemas::uscc::normalize(raw).map_err(|_| ReasonCode::CreditCode)?)
        }
    })
}

/// An accepted row: its values, and the details that failed and were staged empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// One value per catalog field.
    pub values: Vec<Value>,
    /// Details ([`FieldDef::is_detail`]) that failed validation, each staged as `Null`.
    pub warnings: Vec<Rejection>,
}

/// Validates a row given as one raw string per catalog field (in catalog order). A field a
/// rule reads that fails rejects the row; a detail that fails is set empty and reported as a
/// warning, and the row is accepted.
pub fn validate_row(plan: &SourcePlan, raw: &[Option<&str>]) -> Result<Row, Rejection> {
    let src = plan.def;
    if raw.len() != src.fields.len() {
        return Err(Rejection {
            reason: ReasonCode::WrongColumnCount,
            field: None,
            raw: format!("{} fields, expected {}", raw.len(), src.fields.len()),
        });
    }
    let mut values = Vec::with_capacity(raw.len());
    let mut warnings = Vec::new();
    for ((f, fp), r) in src.fields.iter().zip(&plan.fields).zip(raw) {
        if fp.source == FieldSource::Absent {
            values.push(Value::Null);
            continue;
        }
        match validate_field(f, fp, *r) {
            Ok(v) => values.push(v),
            Err(reason) => {
                let text = r.unwrap_or_default();
                // A cell the config made says how it was made.
                let raw = match &fp.source {
                    FieldSource::Constant(_) => format!("{text} (constant)"),
                    FieldSource::Derived(k) => {
                        format!("{text} (derived: {})", plan.derived[*k].sql)
                    }
                    _ => text.to_string(),
                };
                let rejection = Rejection {
                    reason,
                    field: Some(f.name),
                    raw,
                };
                if !f.is_detail() {
                    return Err(rejection);
                }
                values.push(Value::Null);
                warnings.push(rejection);
            }
        }
    }
    Ok(Row { values, warnings })
}

/// The reasons a subject's resident ID fails for that the linkage may repair: the digits are
/// there, one may be mistyped.
pub const LINKABLE_ID_REASONS: [ReasonCode; 3] = [
    ReasonCode::IdChecksum,
    ReasonCode::IdFormat,
    ReasonCode::IdBirthDate,
];

/// Whether `rejection` is a subject's ID the linkage may repair ([`LINKABLE_ID_REASONS`]).
pub fn is_unread_subject(plan: &SourcePlan, rejection: &Rejection) -> bool {
    let subject = plan.def.subject().name;
    rejection.field == Some(subject) && LINKABLE_ID_REASONS.contains(&rejection.reason)
}

/// The values of a row rejected for its subject's ID alone: the subject as delivered
/// ([`Value::Text`], staged with no key) and every other field validated as
/// [`validate_row`] does (a detail that fails staged empty). `None` when another field
/// rejects the row too. The engine's linkage may attribute such a row to a member, as a
/// probable record.
pub fn validate_unread(plan: &SourcePlan, raw: &[Option<&str>]) -> Option<Vec<Value>> {
    let src = plan.def;
    if raw.len() != src.fields.len() {
        return None;
    }
    let subject = src.subject().name;
    let mut values = Vec::with_capacity(raw.len());
    for ((f, fp), r) in src.fields.iter().zip(&plan.fields).zip(raw) {
        if f.name == subject {
            values.push(Value::Text((*r)?.to_string()));
            continue;
        }
        if fp.source == FieldSource::Absent {
            values.push(Value::Null);
            continue;
        }
        match validate_field(f, fp, *r) {
            Ok(v) => values.push(v),
            Err(_) if f.is_detail() => values.push(Value::Null),
            Err(_) => return None,
        }
    }
    Some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;
    use hedui_schemas::source;

    fn plan(id: &str, cfg: &str) -> SourcePlan {
        let def = source(id).unwrap();
        let mut c = SourceConfig::default_for(def, "exports");
        if !cfg.is_empty() {
            let extra: SourceConfig = toml::from_str(cfg).unwrap();
            c.units = extra.units;
            c.codes = extra.codes;
            c.dates = extra.dates;
        }
        c.build(def, std::path::Path::new("."), &Default::default())
            .unwrap()
    }

    #[test]
    fn accepts_a_clean_vehicle_row_and_names_the_bad_field() {
        let p = plan("vehicle", "");
        let row = [
            Some("11010519491231002x"),
            Some("粤A12345"),
            Some("LSVAB2BR8DN123456"),
            Some("K33\u{3000}"),
            Some("20200115"),
            None,
            Some("12.5"),
        ];
        let v = validate_row(&p, &row).unwrap().values;
        assert_eq!(v[3], Value::Code("small_car"));
        assert_eq!(v[5], Value::Null);
        // 12.5 万元 = 125,000 元 = 12,500,000 fen.
        assert_eq!(v[6], Value::Int(12_500_000));

        let mut bad = row;
        bad[3] = Some("Z99");
        let r = validate_row(&p, &bad).unwrap_err();
        assert_eq!(
            (r.reason, r.field),
            (ReasonCode::UnknownCode, Some("vehicle_type"))
        );
        bad = row;
        bad[4] = Some("20201301");
        assert_eq!(
            validate_row(&p, &bad).unwrap_err().reason,
            ReasonCode::BadDate
        );
        // The value is shown as evidence, never read by a rule: a bad one is staged empty
        // with a warning and the vehicle is kept.
        bad = row;
        bad[6] = Some("-1.0");
        let kept = validate_row(&p, &bad).unwrap();
        assert_eq!(kept.values[6], Value::Null);
        assert_eq!(
            kept.warnings,
            [Rejection {
                reason: ReasonCode::NegativeAmount,
                field: Some("value_fen"),
                raw: "-1.0".into()
            }]
        );
        bad = row;
        bad[1] = None;
        assert_eq!(
            validate_row(&p, &bad).unwrap_err().reason,
            ReasonCode::MissingRequired,
            "the plate is the vehicle's record key"
        );
        assert_eq!(
            validate_row(&p, &row[..6]).unwrap_err().reason,
            ReasonCode::WrongColumnCount
        );
    }

    #[test]
    fn config_overrides_units_codes_and_date_styles() {
        let p = plan(
            "vehicle",
            "connector = { kind = \"csv\", path = \"x\" }\nunits = { value_fen = \"yuan\" }\ndates = { registered_on = \"iso\" }\n[codes.vehicle_type]\n\"K35\" = \"small_car\"\n",
        );
        let row = [
            Some("11010519491231002X"),
            Some("粤A1"),
            Some("V"),
            Some("K35"),
            Some("2020-01-15"),
            None,
            Some("12.50"),
        ];
        let v = validate_row(&p, &row).unwrap().values;
        assert_eq!(v[3], Value::Code("small_car"));
        assert_eq!(v[6], Value::Int(1250));
        let mut bad = row;
        bad[4] = Some("20200115");
        let r = validate_row(&p, &bad).unwrap_err();
        assert_eq!(
            (r.reason, r.field),
            (ReasonCode::BadDate, Some("registered_on"))
        );
    }

    #[test]
    fn config_mistakes_are_refused_before_any_work() {
        let def = source("vehicle").unwrap();
        for (cfg, needle) in [
            ("units = { plate = \"yuan\" }", "not a money field"),
            ("columns = { colour = \"颜色\" }", "no field \"colour\""),
            (
                "[codes.vehicle_type]\n\"K35\" = \"spaceship\"",
                "not a vehicle_type code",
            ),
            (
                "[gates]\nmax_quarantine_share = 2.0",
                "max_quarantine_share",
            ),
        ] {
            let text = format!("connector = {{ kind = \"csv\", path = \"x\" }}\n{cfg}\n");
            let c: SourceConfig = toml::from_str(&text).unwrap();
            let e = c
                .build(def, std::path::Path::new("."), &Default::default())
                .unwrap_err();
            assert!(
                e.to_string().contains(needle) && e.to_string().contains("vehicle"),
                "{e}"
            );
        }
        let unknown = toml::from_str::<SourceConfig>(
            "connector = { kind = \"csv\", path = \"x\", colour = 1 }",
        );
        assert!(unknown.is_err());
    }
}
