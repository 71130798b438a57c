//! The library's error type. Bad rows are not errors (they are quarantined); these are the
//! failures that stop a command: unreadable config, an invalid policy, an unwritable output.

/// An error that stops a hedui command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy is invalid, unreadable, or has no value for a household.
    #[error(transparent)]
    Policy(#[from] hedui_schemas::policy::PolicyError),
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
    /// Generating a province failed.
    #[error(transparent)]
    Generate(#[from] hedui_generate::Error),
    /// The engine could not plan a query: a table, column or named parameter missing, types
    /// that do not fit. A fault of the plan or of the staged snapshot, not of the machine.
    #[error("engine{}: {source}", at(query))]
    Planning {
        /// The query (`evidence for vehicle_owned`, `query for households.parquet`, ...;
        /// empty where the engine was setting up its tables).
        query: String,
        /// DataFusion's error.
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },
    /// A query ran out of memory under the engine's limit (or out of spill space): the
    /// batch may succeed with a higher `[engine] memory_limit_mib` or more room for spills.
    #[error(
        "engine{}: out of memory under the engine's limit or out of spill space \
         (raise [engine] memory_limit_mib or give spill_dir room): {source}",
        at(query)
    )]
    ResourcesExhausted {
        /// The query.
        query: String,
        /// DataFusion's error.
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },
    /// A query failed as it ran (a staged file unreadable, a value out of range).
    #[error("engine{}: {source}", at(query))]
    Engine {
        /// The query.
        query: String,
        /// DataFusion's error.
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },
}

/// ` (query)`, or nothing for no query.
fn at(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!(" ({query})")
    }
}

impl Error {
    /// An engine error of `query`, by its cause: planning, resources exhausted, or a failure
    /// as the query ran.
    pub fn engine(query: impl Into<String>, e: datafusion::error::DataFusionError) -> Error {
        use datafusion::error::DataFusionError as E;
        let query = query.into();
        let source = Box::new(e);
        match source.find_root() {
            E::ResourcesExhausted(_) => Error::ResourcesExhausted { query, source },
            E::Plan(_) | E::SchemaError(..) | E::SQL(..) | E::NotImplemented(_) => {
                Error::Planning { query, source }
            }
            _ => Error::Engine { query, source },
        }
    }
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
