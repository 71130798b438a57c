//! `hedui.toml`: the batch config. Plain data, parsed with unknown keys rejected and checked
//! in one [`BatchConfig::build`] step before any work starts.
//!
//! ```toml
//! [ingest]
//! batch_rows = 65536        # rows per batch read, validated and written
//! max_concurrent_sources = 4
//!
//! [gates]                   # defaults for every source
//! max_quarantine_share = 0.05
//! share_min_rows = 100      # the share gate ignores smaller deliveries
//! min_accepted = 1
//! min_accepted_vs_previous = 0.8
//!
//! [sources.hukou]
//! connector = { kind = "csv", path = "exports/hukou.csv", encoding = "gbk" }
//! columns = { person = "公民身份号码" }   # raw header per catalog field, where it differs
//!
//! [sources.tax]
//! connector = { kind = "postgres", dsn = "host=10.0.0.5 user=hedui dbname=tax", query = "SELECT * FROM pit_export" }
//! gates = { max_quarantine_share = 0.01 }
//! ```
//!
//! Relative paths are resolved against the folder of the config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hedui_connectors::config::{Gates, SourceConfig, SourcePlan};
use serde::{Deserialize, Serialize};

use crate::error::io;
use crate::{Error, Result};

/// The `[ingest]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    /// Rows per batch read, validated and written; memory follows it (default 65,536).
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Sources ingested at once (default 4).
    #[serde(default = "default_concurrency")]
    pub max_concurrent_sources: usize,
}

fn default_batch_rows() -> usize {
    65_536
}
fn default_concurrency() -> usize {
    4
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            batch_rows: default_batch_rows(),
            max_concurrent_sources: default_concurrency(),
        }
    }
}

/// The `[engine]` section: how the verification core runs (defined by the engine).
pub use hedui_engine::EngineSection;

/// The whole `hedui.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Ingestion settings.
    #[serde(default)]
    pub ingest: IngestSection,
    /// Default quality gates.
    #[serde(default)]
    pub gates: Gates,
    /// Engine settings.
    #[serde(default, skip_serializing_if = "is_default_engine")]
    pub engine: EngineSection,
    /// The policy file (default: the shipped policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
    /// Signing the manifests (see [`crate::signing`]).
    #[serde(default, skip_serializing_if = "SigningSection::is_none")]
    pub signing: SigningSection,
    /// Sources by catalog id.
    pub sources: BTreeMap<String, SourceConfig>,
}

/// The `[signing]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningSection {
    /// The Ed25519 secret key (`hedui key generate`) `hedui run` signs each manifest and the
    /// root's head with, relative to the config's folder; it must be outside the batch root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Public keys of keys `key` replaced (lost, leaked, retired): the run accepts the chain's
    /// head and batches signed by them, and signs on with `key`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_keys: Vec<PathBuf>,
}

impl SigningSection {
    fn is_none(&self) -> bool {
        self.key.is_none() && self.previous_keys.is_empty()
    }
}

fn is_default_engine(e: &EngineSection) -> bool {
    *e == EngineSection::default()
}

/// A checked config: a plan per configured source, and the catalog sources it lacks.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// Plans for configured sources, in catalog order.
    pub sources: Vec<SourcePlan>,
    /// Catalog sources the config does not mention (they count as failed).
    pub absent: Vec<&'static str>,
    /// Ingestion settings.
    pub ingest: IngestSection,
    /// The config file's folder.
    pub base: PathBuf,
    /// The policy file, resolved.
    pub policy: Option<PathBuf>,
    /// The config as used, serialised (a batch keeps a copy).
    pub config_text: String,
    /// Engine settings.
    pub engine: EngineSection,
    /// The key manifests are signed with, resolved.
    pub signing_key: Option<PathBuf>,
    /// The public keys of the keys it replaced, resolved.
    pub previous_keys: Vec<PathBuf>,
}

/// The default gates written by `hedui generate`.
pub fn default_gates() -> Gates {
    Gates {
        max_quarantine_share: Some(0.05),
        share_min_rows: Some(100),
        min_accepted: Some(1),
        min_accepted_vs_previous: Some(0.8),
    }
}

/// A field the rules read cannot be declared absent: the error names the rules that read its
/// source (the member sources are read by every rule).
fn needed_not_absent(
    def: &'static hedui_schemas::SourceDef,
    c: &hedui_connectors::config::SourceConfig,
) -> Result<()> {
    use hedui_schemas::rules::{MEMBER_SOURCES, Rule, rules_reading};
    for name in &c.absent {
        let Some(f) = def.field(name) else {
            continue; // The connector's build names an unknown field.
        };
        if f.is_detail() {
            continue;
        }
        let rules: Vec<&str> = if MEMBER_SOURCES.contains(&def.id) {
            vec!["every rule (it says who the members are and who counts)"]
        } else {
            rules_reading(def.id)
                .into_iter()
                .chain([Rule::UnreadableRecords])
                .map(Rule::id)
                .collect()
        };
        return Err(Error::Config {
            file: "hedui.toml".into(),
            msg: format!(
                "[sources.{}] absent: {name} cannot be absent, the rules read it: {}",
                def.id,
                rules.join(", ")
            ),
        });
    }
    Ok(())
}

impl BatchConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<(Self, PathBuf)> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let cfg: BatchConfig = toml::from_str(&text).map_err(|e| Error::Config {
            file: path.display().to_string(),
            msg: e.to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((cfg, base))
    }

    /// The config `hedui generate` writes: every source in its default layout under
    /// `exports/`, and the default gates.
    pub fn for_generated() -> Self {
        Self::for_layout(crate::generate::Layout::Catalog)
    }

    /// The config that reads a province generated in `layout` (`hedui generate --layout`).
    pub fn for_layout(layout: crate::generate::Layout) -> Self {
        BatchConfig {
            ingest: IngestSection::default(),
            gates: default_gates(),
            engine: EngineSection::default(),
            policy: None,
            signing: SigningSection::default(),
            sources: crate::layout::configs(layout),
        }
    }

    /// Checks everything against the catalog; `base` resolves relative paths.
    pub fn build(&self, base: &Path) -> Result<BatchPlan> {
        for id in self.sources.keys() {
            if hedui_schemas::source(id).is_none() {
                return Err(Error::Config {
                    file: "hedui.toml".into(),
                    msg: format!("[sources.{id}] is not a catalog source (see `hedui sources`)"),
                });
            }
        }
        if !self.sources.contains_key("applications") {
            return Err(Error::Config {
                file: "hedui.toml".into(),
                msg: "[sources.applications] is required".into(),
            });
        }
        if self.ingest.batch_rows == 0 || self.ingest.max_concurrent_sources == 0 {
            return Err(Error::Config {
                file: "hedui.toml".into(),
                msg: "[ingest] values must be at least 1".into(),
            });
        }
        let mut sources = Vec::new();
        let mut absent = Vec::new();
        for def in hedui_schemas::all_sources() {
            match self.sources.get(def.id) {
                Some(c) => {
                    needed_not_absent(def, c)?;
                    sources.push(c.build(def, base, &self.gates)?)
                }
                None => absent.push(def.id),
            }
        }
        Ok(BatchPlan {
            sources,
            absent,
            ingest: self.ingest.clone(),
            base: base.to_path_buf(),
            policy: self.policy.as_ref().map(|p| base.join(p)),
            engine: self.engine.clone(),
            signing_key: self.signing.key.as_ref().map(|k| base.join(k)),
            previous_keys: self
                .signing
                .previous_keys
                .iter()
                .map(|k| base.join(k))
                .collect(),
            config_text: toml::to_string_pretty(self)?,
        })
    }

    /// The config as TOML, with a header comment.
    pub fn to_toml(&self, header: &str) -> Result<String> {
        let body = toml::to_string_pretty(self)?;
        Ok(format!("{header}{body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_config_round_trips_and_builds() {
        let cfg = BatchConfig::for_generated();
        let text = cfg.to_toml("# test\n").unwrap();
        let back: BatchConfig = toml::from_str(&text).unwrap();
        let plan = back.build(Path::new("/tmp/x")).unwrap();
        assert_eq!(plan.sources.len(), hedui_schemas::all_sources().len());
        assert!(plan.absent.is_empty());
        assert!(
            text.contains("kind = \"csv\"") && text.contains("encoding = \"gbk\""),
            "{text}"
        );
    }

    #[test]
    fn a_field_the_rules_read_cannot_be_absent_and_the_rules_are_named() {
        let mut cfg = BatchConfig::for_generated();
        let vehicle = cfg.sources.get_mut("vehicle").unwrap();
        vehicle.absent = vec!["vin".into(), "owner_name".into()];
        assert!(
            cfg.build(Path::new("/tmp/x")).is_err(),
            "no field owner_name"
        );
        let vehicle = cfg.sources.get_mut("vehicle").unwrap();
        vehicle.absent = vec!["vin".into()];
        cfg.build(Path::new("/tmp/x")).unwrap();
        let vehicle = cfg.sources.get_mut("vehicle").unwrap();
        vehicle.absent = vec!["plate".into()];
        let e = cfg.build(Path::new("/tmp/x")).unwrap_err().to_string();
        // The message names every rule that reads the source (a rule added later joins them).
        let (_, named) = e
            .split_once("[sources.vehicle] absent: plate cannot be absent, the rules read it: ")
            .unwrap_or_else(|| panic!("{e}"));
        let named: Vec<&str> = named.split(", ").collect();
        let reading: Vec<&str> = hedui_schemas::rules::rules_reading("vehicle")
            .into_iter()
            .map(|r| r.id())
            .chain(["unreadable_records"])
            .collect();
        assert_eq!(named, reading, "{e}");
        assert!(named.contains(&"vehicle_owned") && named.contains(&"unreadable_records"));
        let mut cfg = BatchConfig::for_generated();
        cfg.sources.get_mut("death").unwrap().absent = vec!["death_date".into()];
        let e = cfg.build(Path::new("/tmp/x")).unwrap_err().to_string();
        assert!(e.contains("every rule"), "{e}");
    }

    #[test]
    fn mistakes_are_named() {
        let mut cfg = BatchConfig::for_generated();
        cfg.sources
            .insert("horoscope".into(), cfg.sources["hukou"].clone());
        let e = cfg.build(Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("[sources.horoscope]"), "{e}");
        let mut cfg = BatchConfig::for_generated();
        cfg.sources.remove("applications");
        assert!(
            cfg.build(Path::new("."))
                .unwrap_err()
                .to_string()
                .contains("applications")
        );
        let mut cfg = BatchConfig::for_generated();
        cfg.sources.remove("vessel");
        assert_eq!(cfg.build(Path::new(".")).unwrap().absent, vec!["vessel"]);
        let err =
            toml::from_str::<BatchConfig>("[sources]\n[ingest]\nbatch_size = 3\n").unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
    }
}
