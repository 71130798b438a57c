//! Row validation and normalisation against the catalog.
//!
//! One function decides whether a raw row is accepted, used by ingestion and by the tests that
//! check the generator's planted dirty rows: a row either becomes typed [`Value`]s or is
//! rejected with the [`ReasonCode`] and the field that caused it. The first bad field (in
//! catalog order) decides the reason, so a row with one defect always gets the same code.

use chrono::NaiveDate;
use hedui_schemas::codes::trim_code;
use hedui_schemas::{FieldDef, FieldType, ReasonCode, ResidentId, SourceDef, values};

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

/// Validates one field.
pub fn validate_field(f: &FieldDef, raw: Option<&str>) -> Result<Value, ReasonCode> {
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
        FieldType::Money => Value::Int(values::parse_money(raw, f.raw.unit)?),
        FieldType::Date => Value::Date(values::parse_date(raw)?),
        FieldType::Month => Value::Month(values::parse_month(raw)?),
        FieldType::Code(table) => Value::Code(table.map_raw(raw).ok_or(ReasonCode::UnknownCode)?),
        FieldType::Count => Value::Int(values::parse_count(raw)?),
        FieldType::Area => Value::Int(values::parse_scaled(raw, 2)?),
        FieldType::RegionCode => Value::Region(values::parse_region(raw)?),
        FieldType::CreditCode => {
            Value::Text(hedui_schemas::uscc::normalize(raw).map_err(|_| ReasonCode::CreditCode)?)
        }
    })
}

/// Validates a row given as one raw string per catalog field (in catalog order).
pub fn validate_row(src: &SourceDef, raw: &[Option<&str>]) -> Result<Vec<Value>, Rejection> {
    if raw.len() != src.fields.len() {
        return Err(Rejection {
            reason: ReasonCode::WrongColumnCount,
            field: None,
            raw: format!("{} fields, expected {}", raw.len(), src.fields.len()),
        });
    }
    src.fields
        .iter()
        .zip(raw)
        .map(|(f, r)| {
            validate_field(f, *r).map_err(|reason| Rejection {
                reason,
                field: Some(f.name),
                raw: r.unwrap_or_default().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hedui_schemas::source;

    #[test]
    fn accepts_a_clean_vehicle_row_and_names_the_bad_field() {
        let src = source("vehicle").unwrap();
        let row = [
            Some("11010519491231002x"),
            Some("粤A12345"),
            Some("LSVAB2BR8DN123456"),
            Some("K33\u{3000}"),
            Some("20200115"),
            None,
            Some("12.5"),
        ];
        let v = validate_row(src, &row).unwrap();
        assert_eq!(v[3], Value::Code("small_car"));
        assert_eq!(v[5], Value::Null);
        // 12.5 万元 = 125,000 元 = 12,500,000 fen.
        assert_eq!(v[6], Value::Int(12_500_000));

        let mut bad = row;
        bad[3] = Some("Z99");
        let r = validate_row(src, &bad).unwrap_err();
        assert_eq!(
            (r.reason, r.field),
            (ReasonCode::UnknownCode, Some("vehicle_type"))
        );
        bad = row;
        bad[4] = Some("20201301");
        assert_eq!(
            validate_row(src, &bad).unwrap_err().reason,
            ReasonCode::BadDate
        );
        bad = row;
        bad[6] = Some("-1.0");
        assert_eq!(
            validate_row(src, &bad).unwrap_err().reason,
            ReasonCode::NegativeAmount
        );
        assert_eq!(
            validate_row(src, &row[..6]).unwrap_err().reason,
            ReasonCode::WrongColumnCount
        );
    }
}
