//! How one source is delivered: the connector and the department's layout, as configured in
//! `hedui.toml`, and its checked, ready-to-run form ([`SourcePlan`]).
//!
//! Config is plain data (serde, unknown keys rejected); [`SourceConfig::build`] checks every
//! value against the catalog before any work starts (unknown fields, units, codes, styles),
//! so a typo fails the run at once with the source and key named, not halfway through.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hedui_schemas::{DateStyle, Encoding, FieldType, Format, MoneyUnit, MonthStyle, SourceDef};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where a source's rows come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Connector {
    /// Delimited text files.
    Csv {
        /// A file, or a glob (`exports/bank_deposit/*.csv`), relative to the config file.
        path: String,
        /// Text encoding (default UTF-8; a BOM is honoured and removed).
        #[serde(default = "default_encoding")]
        encoding: Encoding,
        /// Field delimiter (default `,`).
        #[serde(default = "default_delimiter")]
        delimiter: char,
        /// Quote character (default `"`).
        #[serde(default = "default_quote")]
        quote: char,
    },
    /// Parquet files.
    Parquet {
        /// A file or a glob, relative to the config file.
        path: String,
    },
    /// JSON lines files.
    Jsonl {
        /// A file or a glob, relative to the config file.
        path: String,
    },
    /// A PostgreSQL query, streamed with `COPY (query) TO STDOUT`.
    Postgres {
        /// libpq-style connection string: `host=127.0.0.1 port=5432 user=hedui dbname=exports`.
        dsn: String,
        /// The query; its column names are the raw headers.
        query: String,
        /// Seconds to wait for a connection (default 10).
        #[serde(default = "default_connect_timeout")]
        connect_timeout_secs: u64,
        /// Further connection attempts after the first (default 3), with doubling backoff.
        #[serde(default = "default_retries")]
        retries: u32,
        /// The CA certificates (PEM) the server's certificate must chain to, relative to the
        /// config's folder; or `sslrootcert` in the dsn. See [`crate::pg_tls`] for `sslmode`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ca_file: Option<String>,
    },
}

fn default_encoding() -> Encoding {
    Encoding::Utf8
}
fn default_delimiter() -> char {
    ','
}
fn default_quote() -> char {
    '"'
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    3
}

/// Limits that turn a truncated or broken export into a failed source instead of false
/// passes. Unset values fall back to the config's defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// The largest share of read rows that may be quarantined (0.0..=1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quarantine_share: Option<f64>,
    /// The share gate applies only to sources with at least this many rows read, so that
    /// one bad row in a tiny delivery does not fail it (default 0: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_min_rows: Option<u64>,
    /// The fewest rows that must be accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_accepted: Option<u64>,
    /// The fewest rows accepted relative to the previous staged snapshot (0.8 = at least 80%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_accepted_vs_previous: Option<f64>,
}

impl Gates {
    /// Whether no gate is set.
    pub fn is_unset(&self) -> bool {
        *self == Gates::default()
    }

    /// These gates with unset values taken from `defaults`.
    pub fn or(&self, defaults: &Gates) -> Gates {
        Gates {
            max_quarantine_share: self.max_quarantine_share.or(defaults.max_quarantine_share),
            share_min_rows: self.share_min_rows.or(defaults.share_min_rows),
            min_accepted: self.min_accepted.or(defaults.min_accepted),
            min_accepted_vs_previous: self
                .min_accepted_vs_previous
                .or(defaults.min_accepted_vs_previous),
        }
    }
}

/// One source in `hedui.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Where the rows come from.
    pub connector: Connector,
    /// Raw header (or key, or column) per catalog field, where it differs from the catalog's
    /// default layout.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Unit per money field, where it differs from the default layout.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, MoneyUnit>,
    /// A date style to enforce per date field (by default every style is accepted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dates: BTreeMap<String, DateStyle>,
    /// A month style to enforce per month field (by default every style is accepted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub months: BTreeMap<String, MonthStyle>,
    /// The thousands separator the department writes in amounts (`thousands = ","` reads
    /// `1,234.50`); none by default, so that a decimal comma (`12,50`) is refused, never read
    /// as 1,250.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands: Option<char>,
    /// Extra raw values per code field: `{ vehicle_type = { "K35" = "small_car" } }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// Catalog fields the department does not deliver: staged empty. Allowed only for
    /// details no rule reads (names, attributes, amounts only shown); a field a rule needs is
    /// refused at build, naming the rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// Fields that are one value for the whole delivery (`{ share_pct = "100" }`): the raw
    /// text every row gets, validated like a delivered cell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constants: BTreeMap<String, String>,
    /// Fields computed from the delivered columns with a SQL expression (DataFusion's
    /// expression engine, on each raw batch before validation), e.g. a business status from
    /// a cancellation date; the result is validated like a delivered cell.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub derive: BTreeMap<String, Derive>,
    /// Quality gates for this source.
    #[serde(default, skip_serializing_if = "Gates::is_unset")]
    pub gates: Gates,
}

/// How a field is derived from the delivered columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derive {
    /// The delivered columns the expression reads (headers, JSON keys or Parquet columns),
    /// each a text column (empty cells are empty strings, missing ones null).
    pub from: Vec<String>,
    /// The SQL expression; columns are named as in `from`, in double quotes where they are
    /// not plain lowercase identifiers: `CASE WHEN "注销日期" = '' THEN '存续' ELSE '注销' END`.
    pub sql: String,
}

/// Where a field's raw text comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldSource {
    /// A delivered column (the plan's `header`).
    Column,
    /// Not delivered: staged empty.
    Absent,
    /// The same raw text on every row.
    Constant(String),
    /// Computed by the plan's derivation with this index in [`SourcePlan::derived`].
    Derived(usize),
}

/// How to read and validate each catalog field of a source.
#[derive(Debug, Clone)]
pub struct FieldPlan {
    /// The raw header, key or column name.
    pub header: String,
    /// The unit money is written in.
    pub unit: MoneyUnit,
    /// A date style to enforce, if any.
    pub date_style: Option<DateStyle>,
    /// A month style to enforce, if any.
    pub month_style: Option<MonthStyle>,
    /// Extra raw code values (trimmed raw value -> catalog code).
    pub extra_codes: BTreeMap<String, &'static str>,
    /// The thousands separator of amounts, if the source declares one.
    pub thousands: Option<char>,
    /// Where its raw text comes from.
    pub source: FieldSource,
}

/// A checked source config, ready to run.
#[derive(Debug, Clone)]
pub struct SourcePlan {
    /// The catalog source.
    pub def: &'static SourceDef,
    /// The connector, with paths resolved against the config's folder.
    pub connector: Connector,
    /// Per catalog field, in catalog order.
    pub fields: Vec<FieldPlan>,
    /// The gates in force.
    pub gates: Gates,
    /// The folder relative paths are resolved against.
    pub base: PathBuf,
    /// The derived fields' expressions, checked and compiled.
    pub derived: Vec<crate::derive::Derivation>,
}

fn bad(def: &SourceDef, msg: impl Into<String>) -> Error {
    Error::Config {
        source_id: def.id.into(),
        msg: msg.into(),
    }
}

impl SourceConfig {
    /// The catalog's default layout for a source, read from files under `exports_dir` (as
    /// `hedui generate` writes them).
    pub fn default_for(def: &SourceDef, exports_dir: &str) -> Self {
        let path = if def.export.path.ends_with('/') {
            let ext = match def.export.format {
                Format::Csv => "csv",
                Format::Parquet => "parquet",
                Format::Jsonl => "jsonl",
            };
            format!("{exports_dir}/{}*.{ext}", def.export.path)
        } else {
            format!("{exports_dir}/{}", def.export.path)
        };
        let connector = match def.export.format {
            Format::Csv => Connector::Csv {
                path,
                encoding: def.export.encoding,
                delimiter: ',',
                quote: '"',
            },
            Format::Parquet => Connector::Parquet { path },
            Format::Jsonl => Connector::Jsonl { path },
        };
        SourceConfig {
            connector,
            columns: BTreeMap::new(),
            units: BTreeMap::new(),
            dates: BTreeMap::new(),
            months: BTreeMap::new(),
            thousands: None,
            codes: BTreeMap::new(),
            absent: Vec::new(),
            constants: BTreeMap::new(),
            derive: BTreeMap::new(),
            gates: Gates::default(),
        }
    }

    /// Checks the config against the catalog and resolves it.
    pub fn build(
        &self,
        def: &'static SourceDef,
        base: &Path,
        default_gates: &Gates,
    ) -> Result<SourcePlan> {
        let known = |what: &str, name: &str| -> Result<&'static hedui_schemas::FieldDef> {
            def.field(name).ok_or_else(|| {
                bad(
                    def,
                    format!("{what}: {def_id} has no field {name:?}", def_id = def.id),
                )
            })
        };
        for name in self.columns.keys() {
            known("columns", name)?;
        }
        for name in self.units.keys() {
            let f = known("units", name)?;
            if !matches!(f.ty, FieldType::Money) {
                return Err(bad(def, format!("units: {name} is not a money field")));
            }
        }
        for name in self.dates.keys() {
            if !matches!(known("dates", name)?.ty, FieldType::Date) {
                return Err(bad(def, format!("dates: {name} is not a date field")));
            }
        }
        for name in self.months.keys() {
            if !matches!(known("months", name)?.ty, FieldType::Month) {
                return Err(bad(def, format!("months: {name} is not a month field")));
            }
        }
        let mut how: BTreeMap<&str, FieldSource> = BTreeMap::new();
        // Each field is given at most one way.
        let mut give = |name: &'static str, source: FieldSource| match how.insert(name, source) {
            Some(_) => Err(bad(
                def,
                format!("{name} is given more than one way (absent, constants, derive)"),
            )),
            None => Ok(()),
        };
        let mut derived = Vec::new();
        for name in &self.absent {
            let f = known("absent", name)?;
            if !f.is_detail() {
                return Err(bad(
                    def,
                    format!(
                        "absent: {name} cannot be absent: the rules read it (its role is {:?}); only names, attributes and amounts shown as evidence may be",
                        f.role
                    ),
                ));
            }
            give(f.name, FieldSource::Absent)?;
        }
        for (name, raw) in &self.constants {
            give(
                known("constants", name)?.name,
                FieldSource::Constant(raw.clone()),
            )?;
        }
        for (name, d) in &self.derive {
            let f = known("derive", name)?;
            let compiled = crate::derive::Derivation::compile(f.name, d)
                .map_err(|e| bad(def, format!("derive.{name}: {e}")))?;
            give(f.name, FieldSource::Derived(derived.len()))?;
            derived.push(compiled);
        }
        for name in self.columns.keys() {
            if how.contains_key(name.as_str()) {
                return Err(bad(
                    def,
                    format!("columns: {name} is absent, constant or derived, not a column"),
                ));
            }
        }
        let mut fields = Vec::with_capacity(def.fields.len());
        for f in def.fields {
            let mut extra_codes = BTreeMap::new();
            if let Some(map) = self.codes.get(f.name) {
                let FieldType::Code(table) = f.ty else {
                    return Err(bad(def, format!("codes: {} is not a code field", f.name)));
                };
                for (raw, code) in map {
                    let entry = table.entry(code).ok_or_else(|| {
                        bad(
                            def,
                            format!(
                                "codes.{}: {raw:?} maps to {code:?}, which is not a {} code",
                                f.name, table.id
                            ),
                        )
                    })?;
                    extra_codes
                        .insert(hedui_schemas::codes::trim_code(raw).to_string(), entry.code);
                }
            }
            fields.push(FieldPlan {
                header: self
                    .columns
                    .get(f.name)
                    .cloned()
                    .unwrap_or_else(|| f.raw.header.to_string()),
                unit: self.units.get(f.name).copied().unwrap_or(f.raw.unit),
                date_style: self.dates.get(f.name).copied(),
                month_style: self.months.get(f.name).copied(),
                extra_codes,
                thousands: self.thousands,
                source: how.remove(f.name).unwrap_or(FieldSource::Column),
            });
        }
        for name in self.codes.keys() {
            known("codes", name)?;
        }
        if let Some(sep) = self.thousands
            && (sep.is_ascii_digit() || sep == '.' || sep == '-' || sep == '+')
        {
            return Err(bad(
                def,
                format!(
                    "thousands = {sep:?}: a separator cannot be a digit, sign or the decimal point"
                ),
            ));
        }
        let gates = self.gates.or(default_gates);
        if let Some(s) = gates.max_quarantine_share
            && !(0.0..=1.0).contains(&s)
        {
            return Err(bad(
                def,
                format!("gates.max_quarantine_share = {s} (0.0..=1.0)"),
            ));
        }
        if let Some(s) = gates.min_accepted_vs_previous
            && !(0.0..=10.0).contains(&s)
        {
            return Err(bad(def, format!("gates.min_accepted_vs_previous = {s}")));
        }
        match &self.connector {
            Connector::Csv {
                delimiter, quote, ..
            } if !delimiter.is_ascii() || !quote.is_ascii() => {
                return Err(bad(def, "csv delimiter and quote must be ASCII characters"));
            }
            Connector::Postgres {
                dsn,
                query,
                ca_file,
                ..
            } => {
                let ca = ca_file.as_ref().map(|f| base.join(f));
                let (rest, _) = crate::pg_tls::split_dsn(dsn, ca.as_deref())
                    .map_err(|e| bad(def, format!("postgres dsn: {e}")))?;
                rest.parse::<postgres::Config>()
                    .map_err(|e| bad(def, format!("postgres dsn: {e}")))?;
                if query.trim().is_empty() {
                    return Err(bad(def, "postgres query is empty"));
                }
            }
            _ => {}
        }
        Ok(SourcePlan {
            def,
            connector: self.connector.clone(),
            fields,
            gates,
            base: base.to_path_buf(),
            derived,
        })
    }
}

impl SourcePlan {
    /// The files a file connector reads, sorted; an error if there are none.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let pattern = match &self.connector {
            Connector::Csv { path, .. }
            | Connector::Parquet { path }
            | Connector::Jsonl { path } => path,
            Connector::Postgres { .. } => return Ok(Vec::new()),
        };
        let full = self.base.join(pattern);
        let text = full.to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = if text.contains(['*', '?', '[']) {
            glob::glob(&text)
                .map_err(|e| bad(self.def, format!("path {pattern:?}: {e}")))?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect()
        } else {
            vec![full.clone()]
        };
        files.sort();
        if files.is_empty() {
            return Err(Error::Missing {
                source_id: self.def.id.into(),
                path: text,
            });
        }
        for f in &files {
            if !f.is_file() {
                return Err(Error::Missing {
                    source_id: self.def.id.into(),
                    path: f.display().to_string(),
                });
            }
        }
        Ok(files)
    }

    /// The connect timeout and retries of a PostgreSQL connector.
    pub fn postgres_timing(&self) -> Option<(Duration, u32)> {
        match &self.connector {
            Connector::Postgres {
                connect_timeout_secs,
                retries,
                ..
            } => Some((Duration::from_secs(*connect_timeout_secs), *retries)),
            _ => None,
        }
    }
}
