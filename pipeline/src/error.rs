//! The library's error type. Bad rows are not errors (they are quarantined); these are the
//! failures that stop a command: unreadable config, an invalid policy, an unwritable output.

/// An error that stops a hedui command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy is invalid, unreadable, or has no value for a household.
    #[error(transparent)]
    Policy(#[from] hedui_schemas::policy::PolicyError),
    /// `hedui.toml` is invalid: unreadable TOML, an unknown source, a field the rules read
    /// declared absent, a value out of range.
    #[error("{file}: {msg}")]
    Config {
        /// The config file (`hedui.toml` when the file is not known).
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// A file given to a command is not what it must be (an export `hedui map` cannot read,
    /// a truth file `hedui check` cannot parse).
    #[error("{path}: {msg}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// A catalog source id that does not exist.
    #[error("no catalog source {0:?} (see `hedui sources`)")]
    UnknownSource(String),
    /// The batch root is locked by another run.
    #[error("batch root {root} is locked by another run ({holder}); wait for it to finish")]
    Locked {
        /// The batch root.
        root: String,
        /// Who holds the lock (host and process, as the holder wrote it).
        holder: String,
    },
    /// A published batch is never overwritten, nor a batch replayed over a copy that is
    /// not the one it ran with: the batch's integrity is at stake.
    #[error("{path}: {msg}")]
    Integrity {
        /// The file.
        path: String,
        /// What does not hold.
        msg: String,
    },
    /// A signing key cannot be made, read or used (`hedui key`, `[signing] key`, `--key`).
    #[error("{path}: {msg}")]
    Key {
        /// The key file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The runtime or one of its tasks failed (a task panicked, the runtime did not start).
    #[error("{what}: {detail}")]
    Runtime {
        /// `ingest task`, `starting the runtime`.
        what: &'static str,
        /// The cause.
        detail: String,
    },
    /// Writing a config as TOML failed.
    #[error(transparent)]
    Toml(#[from] toml::ser::Error),
    /// Reading or writing a file failed.
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
    /// Reading an export failed.
    #[error(transparent)]
    Connector(#[from] hedui_connectors::Error),
    /// Generating a province failed.
    #[error(transparent)]
    Generate(#[from] hedui_generate::Error),
    /// A batch file (manifest, summary, ingest report) could not be read or written.
    #[error(transparent)]
    BatchFile(#[from] hedui_schemas::batch::BatchFileError),
    /// Reports or the review app failed.
    #[error(transparent)]
    Review(#[from] hedui_review::Error),
    /// The engine failed (planning, resources exhausted, a query as it ran, an output).
    #[error(transparent)]
    Engine(#[from] hedui_engine::Error),
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
