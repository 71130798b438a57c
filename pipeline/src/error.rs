//! The library's error type. Bad rows are not errors (they are quarantined); these are the
//! failures that stop a command: unreadable config, an invalid policy, an unwritable output.

/// An error that stops a hedui command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy file is invalid; the message names the file and the entry.
    #[error("policy {path}: {msg}")]
    Policy {
        /// The policy file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// A command-line or config value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file failed.
    #[error("{path}: {err}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        err: std::io::Error,
    },
    /// Writing Parquet failed.
    #[error("{path}: {err}")]
    Parquet {
        /// The file.
        path: String,
        /// The cause.
        err: parquet::errors::ParquetError,
    },
    /// Building Arrow data failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Reading an export failed.
    #[error(transparent)]
    Connector(#[from] hedui_connectors::Error),
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
