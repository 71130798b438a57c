//! How the generator writes each department's export: in the catalog's layout, or in the
//! county style, the way a county's departments really deliver.
//!
//! The records and the planted truth are the same in both: only the bytes differ. The
//! county style has other header names (JSON keys in Chinese, escaped as Python's
//! `json.dumps` writes them), `\r\n` line ends and BOMs on every CSV file, display fields the
//! department does not deliver (a death register without names, bank files without the
//! bank's name, no insurer, no VIN, no business name), a business register that says a
//! business's status by its cancellation date, a tax file as CSV in 万元, and the household
//! register's IDs in the old 15-digit form for everyone born in the 1900s. [`config_for`]
//! is the `hedui.toml` block that maps each such delivery with `columns`, `units`, `absent`
//! and `derive`, without preprocessing.

use hedui_schemas::{Encoding, Format, MoneyUnit, SourceDef};

/// An export style for the whole province.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Every source in its catalog layout (with the line ends and BOMs of the tools that
    /// write it: `write::windows_style`).
    #[default]
    Catalog,
    /// The county style (module docs).
    County,
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "catalog" => Ok(Layout::Catalog),
            "county" => Ok(Layout::County),
            other => Err(format!("no layout {other:?} (catalog, county)")),
        }
    }
}

impl Layout {
    /// The layout's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Catalog => "catalog",
            Layout::County => "county",
        }
    }
}

/// What one output column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A catalog field (its index), money written in `unit`.
    Field {
        /// The field's index in the catalog.
        index: usize,
        /// The unit money is written in.
        unit: MoneyUnit,
    },
    /// A cancellation date in place of a status and its date: empty while the status is
    /// active, else the status's date.
    CancelledOn {
        /// The status field's index.
        status: usize,
        /// The status date field's index.
        date: usize,
    },
}

/// One output column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its header (CSV) or key (JSON lines).
    pub header: String,
    /// What it holds.
    pub what: What,
}

/// How one source's export is written.
#[derive(Debug, Clone)]
pub struct Style {
    /// File format.
    pub format: Format,
    /// Text encoding (CSV).
    pub encoding: Encoding,
    /// The export's path under `exports/` (a folder ends in `/`: one file per bank).
    pub path: String,
    /// The columns, in order (Parquet exports keep the catalog's).
    pub columns: Vec<Column>,
    /// Lines end in `\r\n`.
    pub crlf: bool,
    /// A UTF-8 BOM before the header.
    pub bom: bool,
    /// JSON keys with every non-ASCII character escaped (`\u59d3\u540d`).
    pub escape_keys: bool,
    /// Resident IDs of people born in the 1900s in the old 15-digit form.
    pub id15: bool,
}

/// County headers: (source, field, header); a field of a listed source that is not named
/// here keeps its catalog header, and a source's `OMITTED` fields are not delivered.
const COUNTY_HEADERS: &[(&str, &str, &str)] = &[
    ("hukou", "person", "身份证号"),
    ("hukou", "hukou_no", "户编号"),
    ("hukou", "region", "行政区划代码"),
    ("hukou", "status", "人口状态"),
    ("hukou", "status_date", "状态变动日期"),
    ("death", "person", "死者身份证号"),
    ("bank_deposit", "person", "客户证件号码"),
    ("bank_deposit", "name", "户名"),
    ("bank_deposit", "balance_fen", "账户余额"),
    ("pension", "person", "证件号码"),
    ("pension", "month", "待遇年月"),
    ("pension", "scheme", "养老保险险种"),
    ("pension", "amount_fen", "实发金额"),
    ("tax", "person", "纳税人识别号"),
    ("tax", "month", "所得期间"),
    ("tax", "income_type", "所得项目"),
    ("tax", "income_fen", "收入额(万元)"),
    ("tax", "tax_fen", "已缴税额(万元)"),
    ("tax", "withholder", "扣缴义务人统一社会信用代码"),
    ("business", "person", "证件号码"),
    ("business", "credit_code", "统一社会信用代码"),
    ("business", "entity_type", "市场主体类型"),
    ("business", "role", "人员类型"),
    ("business", "capital_fen", "注册资本(万元)"),
    ("business", "staff", "从业人数"),
    ("business", "established_on", "成立日期"),
    ("commercial_insurance", "person", "投保人证件号码"),
    ("commercial_insurance", "policy_no", "保单号"),
    ("commercial_insurance", "cash_value_fen", "现金价值"),
    ("commercial_insurance", "as_of", "估值日期"),
    ("cremation", "person", "身份证号"),
    ("cremation", "name", "姓名"),
    ("cremation", "cremation_date", "火化日期"),
    ("unemployment_benefit", "person", "身份证号"),
    ("unemployment_benefit", "month", "发放月份"),
    ("unemployment_benefit", "amount_fen", "发放金额"),
    ("employment", "person", "身份证号"),
    ("employment", "status", "登记类型"),
    ("employment", "registered_on", "登记日期"),
    ("employment", "employer", "用人单位"),
];

/// Display fields county departments do not deliver: (source, field).
const OMITTED: &[(&str, &str)] = &[
    ("death", "name"),
    ("bank_deposit", "bank"),
    ("commercial_insurance", "insurer"),
    ("vehicle", "vin"),
    ("business", "entity_name"),
];

/// The county business register's cancellation-date column.
pub const CANCELLED_ON: &str = "注销日期";

/// How `def` is exported in `layout`.
pub fn style(def: &SourceDef, layout: Layout) -> Style {
    let catalog_columns = || -> Vec<Column> {
        def.fields
            .iter()
            .enumerate()
            .map(|(index, f)| Column {
                header: f.raw.header.to_string(),
                what: What::Field {
                    index,
                    unit: f.raw.unit,
                },
            })
            .collect()
    };
    let (crlf, bom) = super::write::windows_style(def);
    let catalog = Style {
        format: def.export.format,
        encoding: def.export.encoding,
        path: def.export.path.to_string(),
        columns: catalog_columns(),
        crlf,
        bom,
        escape_keys: false,
        id15: false,
    };
    if layout == Layout::Catalog {
        return catalog;
    }
    let mut s = catalog;
    if def.id == "tax" {
        s.format = Format::Csv;
        s.path = "tax.csv".into();
    }
    let mut columns = Vec::new();
    for (index, f) in def.fields.iter().enumerate() {
        if OMITTED.contains(&(def.id, f.name)) {
            continue;
        }
        if def.id == "business" && f.name == "status_date" {
            continue;
        }
        if def.id == "business" && f.name == "status" {
            let date = def.fields.iter().position(|g| g.name == "status_date");
            if let Some(date) = date {
                columns.push(Column {
                    header: CANCELLED_ON.into(),
                    what: What::CancelledOn {
                        status: index,
                        date,
                    },
                });
            }
            continue;
        }
        let header = COUNTY_HEADERS
            .iter()
            .find(|(src, field, _)| *src == def.id && *field == f.name)
            .map_or(f.raw.header, |h| h.2);
        let unit = if def.id == "tax" && matches!(f.ty, hedui_schemas::FieldType::Money) {
            MoneyUnit::WanYuan
        } else {
            f.raw.unit
        };
        columns.push(Column {
            header: header.into(),
            what: What::Field { index, unit },
        });
    }
    if s.format != Format::Parquet {
        s.columns = columns;
    }
    s.crlf = s.format == Format::Csv;
    s.bom = s.format == Format::Csv && s.encoding == Encoding::Utf8;
    s.escape_keys = s.format == Format::Jsonl;
    s.id15 = def.id == "hukou";
    s
}

/// Every source's style in `layout`, in catalog order.
pub fn styles(layout: Layout) -> Vec<Style> {
    hedui_schemas::all_sources()
        .iter()
        .map(|d| style(d, layout))
        .collect()
}

/// A JSON string with every non-ASCII character escaped, as Python's `json.dumps` writes it.
pub fn json_ascii(s: &str) -> String {
    let plain = serde_json::to_string(s).unwrap_or_default();
    let mut out = String::with_capacity(plain.len() * 2);
    for c in plain.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_escape_as_python_does() {
        assert_eq!(json_ascii("注销日期"), "\"\\u6ce8\\u9500\\u65e5\\u671f\"");
        assert_eq!(json_ascii("a\"b"), "\"a\\\"b\"");
        assert_eq!(json_ascii("𠀀"), "\"\\ud840\\udc00\"");
    }
}
