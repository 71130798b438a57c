//! hedui: household economic-status verification (居民家庭经济状况核对).
//!
//! The library behind the `hedui` binary. [`policy`] loads the policy file (standards per
//! region and date, programme lines, the income and asset rules); [`generate`] writes a
//! synthetic Guangdong province as the departments would export it, with the planted truth a
//! batch must find; [`config`] reads `hedui.toml` and [`ingest`] stages every configured
//! source concurrently. The engine, audit and review build on these.
#![warn(missing_docs)]

pub mod audit;
pub mod check;
pub mod config;
pub mod engine;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod manifest;
pub mod output;
pub mod policy;
pub mod publish;
pub mod review;
pub mod run;
pub mod sources_cmd;

pub use error::{Error, Result};
