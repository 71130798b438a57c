//! Shared fixtures: a province generated once per test binary.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};

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

/// The folders of the fixtures shared by this process's tests, removed when it exits.
static FIXTURES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A folder for a fixture the tests of this process share. Such a fixture lives in a static,
/// which is never dropped, so the folder is removed when the process exits, the tests passed
/// or not (`HEDUI_KEEP_FIXTURES=1` keeps them, to look into a failure).
pub fn fixture_dir(prefix: &str) -> PathBuf {
    static HOOK: Once = Once::new();
    extern "C" fn remove_fixtures() {
        if std::env::var_os("HEDUI_KEEP_FIXTURES").is_some() {
            return;
        }
        if let Ok(dirs) = FIXTURES.lock() {
            for dir in dirs.iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    // atexit is the one hook that runs after the test harness's last test, also when it exits
    // with a failure.
    #[allow(unsafe_code)]
    HOOK.call_once(|| unsafe {
        libc::atexit(remove_fixtures);
    });
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap()
        .keep();
    FIXTURES.lock().unwrap().push(dir.clone());
    dir
}

/// The shared 10,000-household province (seed 1).
pub fn province() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = fixture_dir("hedui-it-province");
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
