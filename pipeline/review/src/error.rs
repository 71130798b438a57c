//! The review side's errors, by cause: a value refused (a user, role, region, password or
//! decision), the review database, a published batch that does not read as one, the
//! templates, the server, and the files under them.

/// An error that stops a review command or a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given to the review app is refused (an unknown role, a region that is not a
    /// 6-digit code, a password too short, a user that exists already).
    #[error("{0}")]
    Refused(String),
    /// The review database failed.
    #[error("review database{}: {source}", in_path(path))]
    Database {
        /// The database file, when opening it failed.
        path: Option<String>,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The system's random source or the password hasher failed.
    #[error("{what}: {detail}")]
    Secret {
        /// `random source`, `salt`, `hashing password`.
        what: &'static str,
        /// The cause.
        detail: String,
    },
    /// A published batch does not read as one (rows out of household order, a household
    /// asked for that it does not have).
    #[error("{0}")]
    Batch(String),
    /// A page or report template failed.
    #[error("{what} {name}: {detail}")]
    Template {
        /// `template` (loading) or `rendering`.
        what: &'static str,
        /// The template.
        name: String,
        /// minijinja's error with its context.
        detail: String,
    },
    /// The review server could not listen or stopped.
    #[error("{what}: {source}")]
    Server {
        /// `listening on ADDR` or `serving`.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A batch file (manifest, summary, ingest report) could not be read.
    #[error(transparent)]
    BatchFile(#[from] hedui_schemas::batch::BatchFileError),
    /// The batch's policy copy is invalid.
    #[error(transparent)]
    Policy(#[from] hedui_schemas::policy::PolicyError),
    /// Reading the batch's Parquet outputs failed.
    #[error(transparent)]
    Engine(#[from] hedui_engine::Error),
    /// Building Arrow data failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// ` PATH`, or nothing.
fn in_path(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" {p}")).unwrap_or_default()
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}
