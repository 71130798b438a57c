//! The generator's error: a province that cannot be made (a size out of range, a policy with
//! no standard for a region the generator plants) or cannot be written.

/// An error that stops the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter out of range (no households, more households than the ID space holds).
    #[error("generate: {0}")]
    OutOfRange(String),
    /// A planted value that the export's format or encoding cannot hold.
    #[error("generate: {0}")]
    Encode(String),
    /// Writing CSV failed.
    #[error("generate: {0}")]
    Csv(#[from] csv::Error),
    /// Writing JSON failed.
    #[error("generate: {0}")]
    Json(#[from] serde_json::Error),
    /// The policy has no value the generator needs (a standard in force for a region).
    #[error(transparent)]
    Policy(#[from] hedui_schemas::policy::PolicyError),
    /// Writing a file failed.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        err: std::io::Error,
    },
    /// Writing Parquet failed.
    #[error("{path}: {err}")]
    Parquet {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        err: parquet::errors::ParquetError,
    },
    /// Building Arrow data failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |err| Error::Io {
        path: path.display().to_string(),
        err,
    }
}
