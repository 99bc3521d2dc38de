//! The one error type of the signer crate.

use std::path::PathBuf;

/// Everything that can go wrong while managing keys or signing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes of a package are not a well-formed RPM (or not one we may sign).
    #[error("{path}: {reason}")]
    BadRpm { path: PathBuf, reason: String },
    /// The package uses a format this signer does not write.
    #[error("{path}: not supported: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// No key of that name exists in the keystore (or on the signing service).
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// A key of that name exists already.
    #[error("a key named {0:?} exists already")]
    KeyExists(String),
    /// The key cannot be used: wrong passphrase, expired, revoked, not signing-capable.
    #[error("key {name:?}: {reason}")]
    KeyUnusable { name: String, reason: String },
    /// A key name, uid template, duration or other argument is invalid.
    #[error("invalid argument: {0}")]
    BadArgument(String),
    /// An OpenPGP operation failed.
    #[error("OpenPGP: {0}")]
    OpenPgp(String),
    /// The keystore's SQLite index failed.
    #[error("keystore index {path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The signing service refused a request or could not be reached.
    #[error("signing service: {0}")]
    Service(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a sequoia error (an `anyhow::Error`, kept out of our API) with what we were doing.
    pub fn pgp(what: &str, err: impl std::fmt::Display) -> Self {
        Error::OpenPgp(format!("{what}: {err:#}"))
    }

    pub(crate) fn bad_rpm(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadRpm {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Result alias for the signer crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
