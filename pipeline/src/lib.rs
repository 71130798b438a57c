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
#[cfg(feature = "cluster")]
pub mod cluster;
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
pub mod simulate;
pub mod sources_cmd;

pub use error::{Error, Result};

/// Structured logs on stderr: `HEDUI_LOG` sets the filter (default `warn`; `info` shows each
/// stage and source), `HEDUI_LOG_FORMAT=json` writes one JSON object per line. Logs never
/// carry resident IDs: hedui's own events name sources, counts and paths, and other crates'
/// events (DataFusion's and Parquet's debug and trace output prints filter literals, which are
/// packed person keys, and column statistics, which are IDs) pass only at `warn` and above,
/// whatever `HEDUI_LOG` asks for.
pub fn init_logs() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEDUI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ours = tracing_subscriber::filter::filter_fn(|meta| {
        meta.target().starts_with("hedui") || *meta.level() <= tracing::Level::WARN
    });
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let registry = tracing_subscriber::registry().with(filter);
    if std::env::var("HEDUI_LOG_FORMAT").as_deref() == Ok("json") {
        registry.with(fmt.json().with_filter(ours)).init();
    } else {
        registry.with(fmt.with_filter(ours)).init();
    }
}

#[cfg(test)]
mod tests {
    // Logging below the level asked for costs a comparison: the process-wide maximum level
    // (tracing's, from which `log`'s is set, which DataFusion's and Parquet's `log` calls check
    // before anything else) is HEDUI_LOG's, `warn` by default, with the per-layer filter too.
    #[test]
    fn the_process_wide_log_level_is_the_one_asked_for() {
        if std::env::var_os("HEDUI_LOG").is_some() {
            return;
        }
        super::init_logs();
        assert_eq!(
            tracing::level_filters::LevelFilter::current(),
            tracing::level_filters::LevelFilter::WARN
        );
    }
}
