//! `hedui map`: what a verification centre runs when a department sends a new export.
//!
//! It reads the file's header (detecting UTF-8, GBK or GB18030 and the delimiter of a CSV
//! file; the keys of JSON lines, unescaped; a Parquet file's columns), proposes the catalog
//! source by matching the headers against the synonyms the catalog keeps
//! (`hedui_schemas::synonyms`: Chinese, English, pinyin initials, national data-standard
//! codes), and a `[sources.<id>]` block: the column of each field, the unit of each amount
//! (from the header, `收入额(万元)`, or from the values), `absent` for details not delivered.
//! What it cannot decide (a field the rules read with no column, codes it does not know) it
//! says, for a human. Then it dry-runs the block on the first rows: accepted, and quarantined
//! by reason with examples, resident IDs masked. The block pastes into `hedui.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hedui_connectors::config::{Connector, SourceConfig};
use hedui_connectors::raw::RawRecord;
use hedui_schemas::synonyms::{normalize, synonyms};
use hedui_schemas::{Encoding, FieldType, Format, MoneyUnit, SourceDef};

use crate::{Error, Result};

/// What was read of a file.
#[derive(Debug, Clone)]
pub struct Sniffed {
    /// The file.
    pub path: PathBuf,
    /// Its format (by extension; CSV otherwise).
    pub format: Format,
    /// Its text encoding (CSV).
    pub encoding: Encoding,
    /// Its delimiter (CSV).
    pub delimiter: char,
    /// Its headers (keys, columns).
    pub headers: Vec<String>,
    /// Up to a few hundred rows of values, by header.
    pub rows: Vec<BTreeMap<String, String>>,
}

/// A proposed block and what a human must decide.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The source.
    pub def: &'static SourceDef,
    /// The block.
    pub config: SourceConfig,
    /// Headers matched per field (field -> header).
    pub matched: BTreeMap<&'static str, String>,
    /// Headers nothing reads.
    pub unused: Vec<String>,
    /// What a human must decide before the block is used (empty: ready as it is).
    pub decide: Vec<String>,
    /// What a human should look at, though the block runs as it is (codes the catalog does
    /// not know: a department's own code to map, or dirt the quarantine will hold).
    pub check: Vec<String>,
    /// Raw code values the catalog does not know, per field, with their counts in the sample.
    pub unknown_codes: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

/// The dry run of a block on the first rows.
#[derive(Debug, Clone, Default)]
pub struct DryRun {
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Quarantined rows by reason, with up to three examples each (IDs masked).
    pub quarantined: BTreeMap<String, (u64, Vec<String>)>,
    /// Details staged empty with a warning, by reason.
    pub warnings: BTreeMap<String, u64>,
    /// The block could not be used: why.
    pub error: Option<String>,
}

const SAMPLE_ROWS: usize = 500;

fn bad(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Input {
        path: path.display().to_string(),
        msg: msg.to_string(),
    }
}

/// Reads a file's header and first rows.
pub fn sniff(path: &Path) -> Result<Sniffed> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase();
    let mut s = Sniffed {
        path: path.to_path_buf(),
        format: Format::Csv,
        encoding: Encoding::Utf8,
        delimiter: ',',
        headers: Vec::new(),
        rows: Vec::new(),
    };
    match ext.as_str() {
        "parquet" => {
            s.format = Format::Parquet;
            let file = std::fs::File::open(path).map_err(|e| bad(path, e))?;
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(|e| bad(path, e))?;
            s.headers = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let reader = builder
                .with_batch_size(SAMPLE_ROWS)
                .build()
                .map_err(|e| bad(path, e))?;
            if let Some(b) = reader.into_iter().next() {
                let b = b.map_err(|e| bad(path, e))?;
                for i in 0..b.num_rows() {
                    let mut row = BTreeMap::new();
                    for (h, c) in s.headers.iter().zip(b.columns()) {
                        if let Ok(v) = arrow::util::display::array_value_to_string(c, i)
                            && !c.is_null(i)
                        {
                            row.insert(h.clone(), v);
                        }
                    }
                    s.rows.push(row);
                }
            }
        }
        "jsonl" | "ndjson" | "json" => {
            s.format = Format::Jsonl;
            let text = read_head(path)?;
            let text = String::from_utf8_lossy(&text);
            for line in text.lines().take(SAMPLE_ROWS) {
                let line = line.trim().trim_start_matches('\u{feff}');
                let Ok(serde_json::Value::Object(map)) = serde_json::from_str(line) else {
                    continue;
                };
                let mut row = BTreeMap::new();
                for (k, v) in map {
                    if !s.headers.contains(&k) {
                        s.headers.push(k.clone());
                    }
                    match v {
                        serde_json::Value::Null => {}
                        serde_json::Value::String(t) => {
                            row.insert(k, t);
                        }
                        other => {
                            row.insert(k, other.to_string());
                        }
                    }
                }
                s.rows.push(row);
            }
        }
        _ => {
            let bytes = read_head(path)?;
            let (text, encoding) = decode(&bytes);
            s.encoding = encoding;
            let first = text.lines().next().unwrap_or("");
            s.delimiter = [',', '\t', ';', '|']
                .into_iter()
                .max_by_key(|d| first.matches(*d).count())
                .unwrap_or(',');
            let mut r = csv::ReaderBuilder::new()
                .delimiter(s.delimiter as u8)
                .flexible(true)
                .from_reader(text.as_bytes());
            s.headers = r
                .headers()
                .map_err(|e| bad(path, e))?
                .iter()
                .map(|h| h.trim_start_matches('\u{feff}').to_string())
                .collect();
            for rec in r.records().take(SAMPLE_ROWS).flatten() {
                s.rows.push(
                    s.headers
                        .iter()
                        .zip(rec.iter())
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(h, v)| (h.clone(), v.to_string()))
                        .collect(),
                );
            }
        }
    }
    if s.headers.is_empty() {
        return Err(bad(path, "no header, keys or columns found"));
    }
    Ok(s)
}

/// The first megabyte of a file (whole lines of it are enough to sniff).
fn read_head(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| bad(path, e))?
        .take(1 << 20)
        .read_to_end(&mut buf)
        .map_err(|e| bad(path, e))?;
    Ok(buf)
}

/// Text of the head of a file and its encoding: UTF-8 when it decodes as such (a BOM says so
/// outright), else GBK when that decodes without error, else GB18030.
fn decode(bytes: &[u8]) -> (String, Encoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return (String::from_utf8_lossy(rest).into_owned(), Encoding::Utf8);
    }
    // The head may end inside a character: judge on whole lines.
    let whole = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) if bytes.len() == 1 << 20 => &bytes[..=i],
        _ => bytes,
    };
    if let Ok(t) = std::str::from_utf8(whole) {
        return (t.to_string(), Encoding::Utf8);
    }
    let (t, _, gbk_errors) = encoding_rs::GBK.decode(whole);
    if !gbk_errors {
        return (t.into_owned(), Encoding::Gbk);
    }
    (
        encoding_rs::GB18030.decode(whole).0.into_owned(),
        Encoding::Gb18030,
    )
}

/// For each field of `def`, the header that names it (each header used once), best first.
fn match_fields(def: &SourceDef, headers: &[String]) -> BTreeMap<&'static str, String> {
    let normalized: Vec<String> = headers.iter().map(|h| normalize(h)).collect();
    let mut out = BTreeMap::new();
    let mut used = vec![false; headers.len()];
    // Exact default headers first, then the other synonyms, in catalog order.
    for exact in [true, false] {
        for f in def.fields {
            if out.contains_key(f.name) {
                continue;
            }
            let names = if exact {
                vec![normalize(f.raw.header)]
            } else {
                synonyms(def, f)
            };
            if let Some(i) =
                (0..headers.len()).find(|&i| !used[i] && names.contains(&normalized[i]))
            {
                used[i] = true;
                out.insert(f.name, headers[i].clone());
            }
        }
    }
    out
}

/// How well `def` fits `headers`: matched headers, then matched required fields.
fn fit(def: &SourceDef, headers: &[String]) -> (i64, usize, usize) {
    let m = match_fields(def, headers);
    let exact = def
        .fields
        .iter()
        .filter(|f| {
            m.get(f.name)
                .is_some_and(|h| normalize(h) == normalize(f.raw.header))
        })
        .count();
    let required = def
        .fields
        .iter()
        .filter(|f| f.required && m.contains_key(f.name))
        .count();
    // Headers of the file no field of this source takes count against it.
    let (matched, unused) = (m.len() as i64, headers.len() as i64 - m.len() as i64);
    // A required field the file does not have counts against the source: more for one the
    // rules read than for a detail a department may leave out.
    let missing: i64 = def
        .fields
        .iter()
        .filter(|f| f.required && !m.contains_key(f.name))
        .map(|f| if f.is_detail() { 2 } else { 5 })
        .sum();
    (matched * 10 - unused - missing, exact, required)
}

/// The unit an amount column is written in: from its header (`(万元)`, `(元)`, `fen`), else
/// from the values (more than two decimals: 万元), else the catalog's default.
fn unit_of(header: &str, values: &[&str], default: MoneyUnit) -> MoneyUnit {
    let h = header.to_lowercase();
    if h.contains("万元") || h.contains("wanyuan") || h.contains("wan_yuan") {
        return MoneyUnit::WanYuan;
    }
    if h.contains("(元)") || h.contains("（元）") || h.ends_with("yuan") {
        return MoneyUnit::Yuan;
    }
    if h.contains("(分)") || h.ends_with("fen") {
        return MoneyUnit::Fen;
    }
    let decimals = values
        .iter()
        .filter_map(|v| v.split_once('.').map(|(_, f)| f.len()))
        .max();
    match decimals {
        Some(d) if d > 2 => MoneyUnit::WanYuan,
        Some(_) => MoneyUnit::Yuan,
        None => default,
    }
}

/// Proposes the source (`source`, or the best fit) and its block for a sniffed file; `path`
/// is the connector's path as it will stand in `hedui.toml`.
pub fn propose(s: &Sniffed, source: Option<&str>, path: &str) -> Result<Proposal> {
    let def = match source {
        Some(id) => {
            hedui_schemas::source(id).ok_or_else(|| Error::UnknownSource(id.to_string()))?
        }
        None => hedui_schemas::all_sources()
            .iter()
            .copied()
            .max_by_key(|d| fit(d, &s.headers))
            .ok_or_else(|| Error::UnknownSource(String::new()))?,
    };
    let matched = match_fields(def, &s.headers);
    let mut c = SourceConfig::default_for(def, ".");
    c.connector = match s.format {
        Format::Csv => Connector::Csv {
            path: path.to_string(),
            encoding: s.encoding,
            delimiter: s.delimiter,
            quote: '"',
        },
        Format::Jsonl => Connector::Jsonl {
            path: path.to_string(),
        },
        Format::Parquet => Connector::Parquet {
            path: path.to_string(),
        },
    };
    let mut decide = Vec::new();
    let mut check = Vec::new();
    let mut unknown_codes = BTreeMap::new();
    for f in def.fields {
        let Some(header) = matched.get(f.name) else {
            if f.is_detail() {
                c.absent.push(f.name.to_string());
            } else if f.required {
                decide.push(format!(
                    "{}: no column found for {} ({}), which the rules read: name its column in `columns`, or compute it with `derive` (e.g. a status from a cancellation date)",
                    def.id, f.name, f.raw.header
                ));
            }
            continue;
        };
        if header != f.raw.header {
            c.columns.insert(f.name.to_string(), header.clone());
        }
        let values: Vec<&str> = s
            .rows
            .iter()
            .filter_map(|r| r.get(header).map(String::as_str))
            .collect();
        match f.ty {
            FieldType::Money
                if s.format != Format::Parquet || values.iter().any(|v| v.contains('.')) =>
            {
                let unit = unit_of(header, &values, f.raw.unit);
                if unit != f.raw.unit {
                    c.units.insert(f.name.to_string(), unit);
                }
            }
            FieldType::Code(table) => {
                let mut unknown: BTreeMap<String, u64> = BTreeMap::new();
                for v in &values {
                    if table.map_raw(v).is_none() {
                        *unknown.entry(v.to_string()).or_default() += 1;
                    }
                }
                if !unknown.is_empty() {
                    check.push(format!(
                        "{}: {} has values the catalog does not know ({}): map them under [sources.{}.codes.{}]",
                        def.id,
                        f.name,
                        unknown.keys().take(5).cloned().collect::<Vec<_>>().join(", "),
                        def.id,
                        f.name
                    ));
                    unknown_codes.insert(f.name, unknown);
                }
            }
            _ => {}
        }
    }
    let taken: Vec<&String> = matched.values().collect();
    let unused = s
        .headers
        .iter()
        .filter(|h| !taken.contains(h))
        .cloned()
        .collect();
    Ok(Proposal {
        def,
        config: c,
        matched,
        unused,
        decide,
        check,
        unknown_codes,
    })
}

/// Runs a proposal's block on the first `rows` rows of its file (`base` resolves the path).
pub fn dry_run(p: &Proposal, base: &Path, rows: usize) -> DryRun {
    let mut d = DryRun::default();
    let plan = match p.config.build(p.def, base, &Default::default()) {
        Ok(plan) => plan,
        Err(e) => {
            d.error = Some(e.to_string());
            return d;
        }
    };
    const ENOUGH: &str = "dry run: enough rows";
    let mut sink = |_: &str, recs: Vec<RawRecord>| -> hedui_connectors::Result<()> {
        for r in recs {
            if d.read as usize >= rows {
                return Err(hedui_connectors::Error::Config {
                    source_id: String::new(),
                    msg: ENOUGH.into(),
                });
            }
            d.read += 1;
            let verdict = match r.problem {
                Some(reason) => Err((reason, None, String::new())),
                None => {
                    let refs: Vec<Option<&str>> = r.fields.iter().map(|f| f.as_deref()).collect();
                    hedui_connectors::validate::validate_row(&plan, &refs)
                        .map_err(|rej| (rej.reason, rej.field, rej.raw))
                }
            };
            match verdict {
                Ok(row) => {
                    d.accepted += 1;
                    for w in row.warnings {
                        *d.warnings.entry(w.reason.as_str().to_string()).or_default() += 1;
                    }
                }
                Err((reason, field, raw)) => {
                    let e = d
                        .quarantined
                        .entry(reason.as_str().to_string())
                        .or_insert((0, Vec::new()));
                    e.0 += 1;
                    if e.1.len() < 3 {
                        // IDs masked; other text (a date, an amount, a code) as delivered.
                        let is_id = field.is_none_or(|f| {
                            p.def
                                .field(f)
                                .is_none_or(|f| matches!(f.ty, FieldType::PersonId))
                        });
                        let shown = if is_id {
                            hedui_schemas::id::mask_text(&raw)
                        } else {
                            raw.clone()
                        };
                        e.1.push(format!(
                            "line {} {} {shown:?}",
                            r.line,
                            field.unwrap_or("(record)")
                        ));
                    }
                }
            }
        }
        Ok(())
    };
    if let Err(e) = hedui_connectors::raw::read_files(&plan, rows.clamp(1, 8192), &mut sink)
        && !e.to_string().contains(ENOUGH)
    {
        d.error = Some(e.to_string());
    }
    d
}

/// The proposal as text: the block to paste (TOML), then the dry run and what to decide as
/// comments.
pub fn render(p: &Proposal, d: &DryRun, sniffed: &Sniffed) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Block<'a> {
        sources: BTreeMap<&'a str, &'a SourceConfig>,
    }
    let block = toml::to_string_pretty(&Block {
        sources: BTreeMap::from([(p.def.id, &p.config)]),
    })?;
    let mut out = format!(
        "# {}: {} ({}), {} {}\n",
        sniffed.path.display(),
        p.def.id,
        p.def.name_zh,
        match sniffed.format {
            Format::Csv => format!(
                "CSV {:?}, delimiter {:?},",
                sniffed.encoding, sniffed.delimiter
            ),
            Format::Jsonl => "JSON lines,".into(),
            Format::Parquet => "Parquet,".into(),
        },
        format_args!("{} columns", sniffed.headers.len())
    );
    for (f, h) in &p.matched {
        out.push_str(&format!("#   {f} <- {h}\n"));
    }
    if !p.unused.is_empty() {
        out.push_str(&format!("#   not read: {}\n", p.unused.join(", ")));
    }
    out.push_str(&format!(
        "# dry run on the first {} rows: {} accepted",
        d.read, d.accepted
    ));
    for (reason, (n, examples)) in &d.quarantined {
        out.push_str(&format!(", {n} {reason} (e.g. {})", examples.join("; ")));
    }
    for (reason, n) in &d.warnings {
        out.push_str(&format!(", {n} details staged empty ({reason})"));
    }
    out.push('\n');
    if let Some(e) = &d.error {
        out.push_str(&format!("# the block does not run yet: {e}\n"));
    }
    if p.decide.is_empty() && d.error.is_none() {
        out.push_str("# ready to paste as it is\n");
    } else {
        for x in &p.decide {
            out.push_str(&format!("# DECIDE: {x}\n"));
        }
    }
    for x in &p.check {
        out.push_str(&format!("# CHECK: {x}\n"));
    }
    out.push_str(&block);
    Ok(out)
}
