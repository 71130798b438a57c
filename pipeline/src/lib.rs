//! hedui: household economic-status verification (居民家庭经济状况核对).
//!
//! The library behind the `hedui` binary. [`policy`] loads the policy file (standards per
//! region and date, programme lines, the income and asset rules); [`generate`] writes a
//! synthetic Guangdong province as the departments would export it, with the planted truth a
//! batch must find; [`config`] reads `hedui.toml` and [`ingest`] stages every configured
//! source concurrently; [`run`] runs a batch and publishes it, [`audit`] verifies, replays
//! and compares published batches. The engine ([`engine`], the `hedui-engine` crate) and the
//! review side ([`review`], the `hedui-review` crate) are crates of their own, re-exported
//! here under their old paths.
#![warn(missing_docs)]

pub mod audit;
pub mod check;
pub mod config;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod layout;
pub mod manifest;
pub mod map;
pub use hedui_engine as engine;
pub use hedui_engine::output;
pub use hedui_review as review;
pub use hedui_schemas::policy;
pub mod publish;
pub mod run;
pub mod signing;
pub mod sources_cmd;

pub use error::{Error, Result};

/// Structured logs on stderr: `HEDUI_LOG` sets the filter (default `warn`; `info` shows each
/// stage and source), `HEDUI_LOG_FORMAT=json` writes one JSON object per line. Logs never
/// carry resident IDs.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEDUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("HEDUI_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
