//! The `hedui.toml` that reads a generated province in each of the generator's layouts
//! (`hedui_generate::style`): the catalog's default layouts need nothing, the county style's
//! headers, units, absent fields and derived fields are mapped source by source.

use std::collections::BTreeMap;

use hedui_connectors::config::{Connector, Derive, SourceConfig};
use hedui_generate::style::{CANCELLED_ON, Layout, What, style};
use hedui_schemas::{Format, SourceDef};

/// The `hedui.toml` block that reads `def`'s export in `layout` (paths under `exports/`).
pub fn config_for(def: &'static SourceDef, layout: Layout) -> SourceConfig {
    let mut c = SourceConfig::default_for(def, "exports");
    if layout == Layout::Catalog {
        return c;
    }
    let s = style(def, layout);
    let path = if s.path.ends_with('/') {
        format!("exports/{}*.csv", s.path)
    } else {
        format!("exports/{}", s.path)
    };
    c.connector = match s.format {
        Format::Csv => Connector::Csv {
            path,
            encoding: s.encoding,
            delimiter: ',',
            quote: '"',
        },
        Format::Jsonl => Connector::Jsonl { path },
        Format::Parquet => Connector::Parquet { path },
    };
    let mut delivered = vec![false; def.fields.len()];
    for col in &s.columns {
        match col.what {
            What::Field { index, unit } => {
                delivered[index] = true;
                let f = &def.fields[index];
                if col.header != f.raw.header {
                    c.columns.insert(f.name.into(), col.header.clone());
                }
                if unit != f.raw.unit {
                    c.units.insert(f.name.into(), unit);
                }
            }
            What::CancelledOn { status, date } => {
                delivered[status] = true;
                delivered[date] = true;
                let est = def
                    .fields
                    .iter()
                    .position(|f| f.name == "established_on")
                    .and_then(|i| {
                        s.columns
                            .iter()
                            .find(|c| matches!(c.what, What::Field { index, .. } if index == i))
                    })
                    .map_or("estDate".to_string(), |c| c.header.clone());
                let empty =
                    format!("(\"{CANCELLED_ON}\" IS NULL OR trim(\"{CANCELLED_ON}\") = '')");
                c.derive.insert(
                    def.fields[status].name.into(),
                    Derive {
                        from: vec![CANCELLED_ON.into()],
                        sql: format!("CASE WHEN {empty} THEN '存续' ELSE '注销' END"),
                    },
                );
                c.derive.insert(
                    def.fields[date].name.into(),
                    Derive {
                        from: vec![CANCELLED_ON.into(), est.clone()],
                        sql: format!(
                            "CASE WHEN {empty} THEN \"{est}\" ELSE \"{CANCELLED_ON}\" END"
                        ),
                    },
                );
            }
        }
    }
    c.absent = def
        .fields
        .iter()
        .zip(&delivered)
        .filter(|(_, d)| !**d)
        .map(|(f, _)| f.name.to_string())
        .collect();
    c
}

/// The county config's sources, as `BatchConfig` holds them.
pub fn configs(layout: Layout) -> BTreeMap<String, SourceConfig> {
    hedui_schemas::all_sources()
        .iter()
        .map(|s| (s.id.to_string(), config_for(s, layout)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hedui_schemas::MoneyUnit;

    #[test]
    fn the_county_config_maps_every_source_without_preprocessing() {
        for def in hedui_schemas::all_sources() {
            let c = config_for(def, Layout::County);
            c.build(def, std::path::Path::new("/x"), &Default::default())
                .unwrap_or_else(|e| panic!("{}: {e}", def.id));
        }
        let business = config_for(hedui_schemas::source("business").unwrap(), Layout::County);
        assert_eq!(business.absent, ["entity_name"]);
        assert_eq!(
            business.derive.keys().collect::<Vec<_>>(),
            ["status", "status_date"]
        );
        let tax = config_for(hedui_schemas::source("tax").unwrap(), Layout::County);
        assert_eq!(tax.units.get("income_fen"), Some(&MoneyUnit::WanYuan));
    }
}
