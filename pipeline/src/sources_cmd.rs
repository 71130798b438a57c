//! `hedui sources`: the catalog as a person reads it.

use std::fmt::Write;

use hedui_schemas::{Encoding, FieldType, Format, all_sources};

/// Renders the catalog: per source its id, department, purpose, export and fields.
pub fn render() -> String {
    let mut out = String::new();
    let sources = all_sources();
    let _ = writeln!(
        out,
        "hedui source catalog: {} inputs (applications + {} department sources)\n",
        sources.len(),
        sources.len() - 1
    );
    for s in sources {
        let fmt = match (s.export.format, s.export.encoding) {
            (Format::Csv, Encoding::Utf8) => "CSV UTF-8",
            (Format::Csv, Encoding::Gbk) => "CSV GBK",
            (Format::Csv, Encoding::Gb18030) => "CSV GB18030",
            (Format::Parquet, _) => "Parquet",
            (Format::Jsonl, _) => "JSON lines",
        };
        let _ = writeln!(
            out,
            "{:>2}  {}  {}  [{}]",
            s.number, s.id, s.name_zh, s.department
        );
        let _ = writeln!(out, "    row:     {}", s.row);
        let _ = writeln!(out, "    purpose: {}", s.purpose);
        let _ = writeln!(out, "    export:  {fmt}, {}", s.export.path);
        for f in s.fields {
            let raw = match f.ty {
                FieldType::Money => format!("{} in {}", f.raw.header, f.raw.unit.suffix()),
                _ => f.raw.header.to_string(),
            };
            let _ = writeln!(
                out,
                "      {:<18} {:<28} {:<10} {}{}  ← {}",
                f.name,
                f.ty.name(),
                serde_json::to_value(f.role)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                f.doc,
                if f.required { "" } else { " (optional)" },
                raw
            );
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_input() {
        let text = super::render();
        let head = format!(
            "hedui source catalog: {} inputs",
            hedui_schemas::all_sources().len()
        );
        assert!(text.starts_with(&head), "{text}");
        for s in hedui_schemas::all_sources() {
            assert!(
                text.contains(&format!("  {}  {}", s.id, s.name_zh)),
                "{}",
                s.id
            );
        }
    }
}
