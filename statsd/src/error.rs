//! The one error type of statsd.
//!
//! Only whole-file or whole-database problems are errors. A bad line is never an error: it
//! is counted as a [`crate::Rejection`] and the file goes on.

use std::path::PathBuf;

/// Everything that can stop reading a log file or using the statistics database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The statistics database could not be opened, read or written.
    #[error("statistics database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer or unknown schema.
    #[error("statistics database {path}: {reason}")]
    Schema { path: PathBuf, reason: String },
    /// A user-supplied option has an invalid value.
    #[error("invalid option: {0}")]
    BadOption(String),
    /// Ingest was interrupted before a file's counts were committed.
    #[error("ingest interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a SQLite error with the database path.
    pub fn sqlite(path: impl Into<PathBuf>, source: rusqlite::Error) -> Self {
        Error::Sqlite {
            path: path.into(),
            source,
        }
    }
}

/// Result with statsd's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
