//! Readers that turn department exports into validated, staged Arrow data.
//!
//! [`config`] is how a source is delivered (file formats and encodings, a PostgreSQL query,
//! the department's column names, units and codes, quality gates). [`raw`] streams the raw
//! records of a delivery in batches; [`pg`] streams a PostgreSQL query the same way.
//! [`validate`] checks one raw row against its catalog source and normalises it (IDs packed,
//! money in fen, dates, months, catalog codes) or says why it is quarantined. [`stage`]
//! builds the staged Arrow batches and the quarantine, and [`ingest`] runs one source end to
//! end: read, validate in parallel with rayon, deduplicate, stage, count, gate.
#![warn(missing_docs)]

pub mod config;
pub mod copies;
pub mod dedup;
pub mod derive;
pub mod ingest;
pub mod pg;
pub mod pg_tls;
pub mod raw;
pub mod split;
pub mod stage;
pub mod validate;

/// Errors reading an export. Bad rows are not errors: they are quarantined.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("{source_id}: cannot read {path}: {err}")]
    Io {
        /// The catalog source.
        source_id: String,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        err: std::io::Error,
    },
    /// The source's config does not fit the catalog.
    #[error("{source_id}: config: {msg}")]
    Config {
        /// The catalog source.
        source_id: String,
        /// What is wrong.
        msg: String,
    },
    /// No file matches the configured path.
    #[error("{source_id}: no export found at {path}")]
    Missing {
        /// The catalog source.
        source_id: String,
        /// The path or glob.
        path: String,
    },
    /// A PostgreSQL source failed.
    #[error("{source_id}: PostgreSQL at {host}: {msg}")]
    Postgres {
        /// The catalog source.
        source_id: String,
        /// Host and port.
        host: String,
        /// What failed.
        msg: String,
    },
    /// Writing the staged snapshot or the quarantine failed.
    #[error("{source_id}: writing {path}: {msg}")]
    Stage {
        /// The catalog source.
        source_id: String,
        /// The file.
        path: String,
        /// What failed.
        msg: String,
    },
    /// The file is not in the declared format (a broken header, an unreadable Parquet footer).
    #[error("{source_id}: {path}: {msg}")]
    Format {
        /// The catalog source.
        source_id: String,
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::Stage {
            source_id: String::new(),
            path: String::new(),
            msg: e.to_string(),
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
