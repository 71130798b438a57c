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
    /// The disk (or the account's quota) ran out while hedui wrote: the machine's failure,
    /// not a source's. Nothing is published and what the command wrote is removed.
    #[error(
        "the disk is full: {detail}. Nothing was published and what this command wrote under {dir} was removed; free space there and run it again"
    )]
    DiskFull {
        /// The folder the command was writing into.
        dir: String,
        /// The write that failed.
        detail: String,
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

/// Whether an error's text says a write found no space (ENOSPC, EDQUOT): errors that crossed
/// the Parquet and DataFusion writers, or a source's report, keep only their text, and the
/// operating system's code ends it as `(os error N)`.
pub fn is_disk_full_text(text: &str) -> bool {
    text.contains("(os error 28)") || text.contains("(os error 122)")
}

impl Error {
    /// Whether the disk ran out under this error (anywhere in its chain of causes).
    pub fn is_disk_full(&self) -> bool {
        if matches!(self, Error::DiskFull { .. }) {
            return true;
        }
        let mut cause: Option<&dyn std::error::Error> = Some(self);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>()
                && matches!(io.raw_os_error(), Some(28 | 122))
            {
                return true;
            }
            if is_disk_full_text(&c.to_string()) {
                return true;
            }
            cause = c.source();
        }
        false
    }

    /// This error as [`Error::DiskFull`] for `dir` when the disk ran out under it.
    pub fn or_disk_full(self, dir: &std::path::Path) -> Error {
        match self {
            Error::DiskFull { detail, .. } => Error::DiskFull {
                dir: dir.display().to_string(),
                detail,
            },
            e if e.is_disk_full() => Error::DiskFull {
                dir: dir.display().to_string(),
                detail: e.to_string(),
            },
            e => e,
        }
    }
}

/// Attaches a path to an I/O error.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |err| Error::Io {
        path: path.display().to_string(),
        err,
    }
}
