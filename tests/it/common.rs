//! Shared fixtures: a province generated once per test binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hedui::generate::{self, DirtyRates, GenerateConfig, PlantRates};
use hedui::policy::Policy;

/// Households in the shared province (the size issue 2 names for CI).
pub const HOUSEHOLDS: u64 = 10_000;

/// Generates a province with the given size and seed into `out`.
pub fn generate_into(out: &Path, households: u64, seed: u64) -> generate::Summary {
    let cfg = GenerateConfig {
        households,
        seed,
        as_of: generate::DEFAULT_AS_OF.parse().unwrap(),
        out: out.to_path_buf(),
        dirty: DirtyRates::default(),
        plant: PlantRates::default(),
        policy: Policy::default_policy(),
        layout: Default::default(),
    };
    generate::generate(&cfg, &|_| {}).unwrap()
}

/// The shared 10,000-household province (seed 1).
pub fn province() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("hedui-it-province")
            .tempdir()
            .unwrap()
            .keep();
        generate_into(&dir, HOUSEHOLDS, 1);
        dir
    })
}

/// Reads a CSV file into header-keyed rows.
pub fn read_csv(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The physical lines of a delivered text as an editor shows them: `\r\n`, a lone `\r` and
/// `\n` each end a line (str::lines knows only the last two).
pub fn physical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            None => {
                out.push(rest.to_string());
                break;
            }
            Some(i) => {
                out.push(rest[..i].to_string());
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
        }
    }
    out
}
