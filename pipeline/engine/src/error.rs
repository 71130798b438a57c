//! The engine's errors, by cause: planning, resources exhausted, a query failing as it ran,
//! the staged snapshot or the catalog not fitting, an output that could not be written.

use std::path::Path;

/// An error that stops the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy is invalid or has no value the batch needs.
    #[error(transparent)]
    Policy(#[from] hedui_schemas::policy::PolicyError),
    /// The policy has no standard in force on the batch date.
    #[error("policy {policy}: no standard in force on {as_of}")]
    NoStandard {
        /// The policy's name.
        policy: String,
        /// The batch date.
        as_of: String,
    },
    /// The catalog describes a source the engine cannot sum (an income source without a
    /// period, an asset without an as-of date), or no source of a kind the engine needs.
    #[error("catalog: {0}")]
    Catalog(String),
    /// The cluster (`[engine] cluster`) cannot be used: its scheduler does not answer, has
    /// no executor, or is not a scheduler.
    #[error("cluster {url}: {reason}")]
    Cluster {
        /// The scheduler, as configured.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The staged snapshot lacks what every batch needs.
    #[error("engine: no staged applications under {dir}")]
    NoApplications {
        /// The staged folder.
        dir: String,
    },
    /// A path DataFusion must be given as text is not UTF-8.
    #[error("{path}: path is not UTF-8")]
    NotUtf8 {
        /// The path, lossily.
        path: String,
    },
    /// `explain` was asked for a plan the engine does not have.
    #[error(
        "explain: no plan named {name} (members, income, assets, metrics, units, or a rule \
         with evidence)"
    )]
    NoSuchPlan {
        /// The name asked for.
        name: String,
    },
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
    /// A query's result or a file the engine reads back lacks a column it must have.
    #[error("{}no column {column}", in_file(file))]
    NoColumn {
        /// The file, when the column was looked for in one.
        file: Option<String>,
        /// The column.
        column: String,
    },
    /// The engine's own intermediate results disagree (evidence for a household the metrics
    /// do not have, a row without its keys): a fault of hedui, not of the input.
    #[error("engine: {0}")]
    Inconsistent(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing Parquet failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Writing CSV failed.
    #[error("{path}: {source}")]
    Csv {
        /// The file (or `rows` for records rendered in memory).
        path: String,
        /// The cause.
        #[source]
        source: csv::Error,
    },
    /// An output file's writer stopped (its encoder failed earlier, or panicked).
    #[error("{path}: {reason}")]
    Output {
        /// The file.
        path: String,
        /// What happened.
        reason: &'static str,
    },
    /// Building Arrow data failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// ` (query)`, or nothing for no query.
fn at(query: &str) -> String {
    if query.is_empty() {
        String::new()
    } else {
        format!(" ({query})")
    }
}

/// `file: `, or nothing.
fn in_file(file: &Option<String>) -> String {
    file.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
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

    /// A column missing from a result (`file`: where it was looked for, if a file).
    pub fn no_column(file: Option<&Path>, column: &str) -> Error {
        Error::NoColumn {
            file: file.map(|f| f.display().to_string()),
            column: column.to_string(),
        }
    }

    /// A path given to DataFusion that is not UTF-8.
    pub fn not_utf8(path: &Path) -> Error {
        Error::NotUtf8 {
            path: path.display().to_string(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error.
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}
