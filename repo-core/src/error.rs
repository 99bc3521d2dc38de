//! The one error type of repo-core.

use std::path::PathBuf;

/// Everything that can go wrong while reading packages or writing repodata.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes of a package are not a well-formed RPM.
    #[error("not a valid RPM: {0}")]
    BadRpm(String),
    /// The package is well-formed but cannot be put into repodata (createrepo_c refuses it too).
    #[error("package rejected: {0}")]
    Rejected(String),
    /// A user-supplied option has an invalid value.
    #[error("invalid option: {0}")]
    BadOption(String),
    /// Another run holds the repository lock.
    #[error(
        "{path} exists: another createrepo run is working on this repository \
         (remove it if that run is dead)"
    )]
    Locked { path: PathBuf },
    /// The step run before the swap (e.g. signing repomd.xml) failed; the old repodata stays.
    #[error("before replacing repodata: {0}")]
    BeforeSwap(String),
    /// Existing repodata is unusable (missing, inconsistent or not well-formed).
    #[error("{path}: {reason}")]
    Repodata { path: PathBuf, reason: String },
    /// Writing a SQLite database failed.
    #[error("sqlite database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for repo-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
