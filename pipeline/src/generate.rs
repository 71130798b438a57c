//! `hedui generate`: the synthetic province of [`hedui_generate`] (exports and planted
//! truth, made from the catalog alone), with the `hedui.toml` that reads it in its layout
//! (`crate::layout`).

pub use hedui_generate::*;

use crate::error::io;

/// Generates a province into `cfg.out` ([`hedui_generate::generate`]) and writes the
/// `hedui.toml` that ingests its exports; `progress` is called with households done.
pub fn generate(cfg: &GenerateConfig, progress: &(dyn Fn(u64) + Sync)) -> crate::Result<Summary> {
    let summary = hedui_generate::generate(cfg, progress)?;
    let header = match cfg.layout {
        Layout::Catalog => format!(
            "# hedui batch config for the province generated here ({} households, seed {}).\n\
             # Every source in its department's default layout; see `hedui sources`.\n\n",
            cfg.households, cfg.seed
        ),
        Layout::County => format!(
            "# hedui batch config for the province generated here ({} households, seed {}),\n\
             # exported in the county style: each source's block maps the delivery as it is\n\
             # (columns, units, absent, derive); no preprocessing.\n\n",
            cfg.households, cfg.seed
        ),
    };
    let toml = crate::config::BatchConfig::for_layout(cfg.layout).to_toml(&header)?;
    let path = cfg.out.join("hedui.toml");
    std::fs::write(&path, toml).map_err(io(&path))?;
    Ok(summary)
}
