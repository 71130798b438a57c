//! Readers that turn department exports into validated rows.
//!
//! [`validate`] checks one raw row against its catalog source and normalises it (IDs packed,
//! money in fen, dates, months, catalog codes), or says why it is quarantined. [`raw`] reads
//! the raw records of an export in any of the catalog's formats and encodings.
#![warn(missing_docs)]

pub mod raw;
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
        err: std::io::Error,
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

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
