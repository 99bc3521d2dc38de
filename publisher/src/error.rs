//! The publisher's one error type. Every variant names the object (file, key, repository)
//! it is about and why it failed.

use std::path::{Path, PathBuf};

/// What can go wrong while storing, cataloguing, publishing or serving content.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A local file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An S3 request failed (after retries).
    #[error("s3 {operation} {key}: {message}")]
    S3 {
        /// The request (`PutObject`, …).
        operation: &'static str,
        /// The object key.
        key: String,
        /// The SDK's error, with its context.
        message: String,
    },
    /// Stored bytes do not have the checksum they must have.
    #[error("{key}: sha256 mismatch (expected {expected}, got {actual})")]
    ChecksumMismatch {
        /// The object key or file.
        key: String,
        /// Expected digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// Stored bytes do not have the size they must have.
    #[error("{key}: size mismatch (expected {expected} bytes, got {actual})")]
    SizeMismatch {
        /// The object key or file.
        key: String,
        /// Expected size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// An object that must exist does not.
    #[error("{0}: no such object")]
    NotFound(String),
    /// A store URL or object key that is not acceptable.
    #[error("{value}: {reason}")]
    BadLocation {
        /// The URL or key.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The catalog database failed.
    #[error("catalog: {0}")]
    Catalog(#[from] rusqlite::Error),
    /// The catalog refers to something that does not exist, or a request conflicts with it.
    #[error("{0}")]
    Invalid(String),
    /// A package could not be read or metadata could not be written.
    #[error("{path}: {source}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// repo-core's reason.
        source: repo_core::Error,
    },
    /// Metadata could not be written.
    /// The signer could not sign a publication's repomd.xml.
    #[error("signing repomd.xml: {0}")]
    Signing(String),
    #[error("repodata: {0}")]
    Repodata(#[from] repo_core::Error),
    /// A configuration file is not valid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A stored record could not be decoded.
    #[error("catalog record: {0}")]
    Record(#[from] serde_json::Error),
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// A refused URL or key.
    pub fn bad_location(value: &str, reason: impl Into<String>) -> Error {
        Error::BadLocation {
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The publisher's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
