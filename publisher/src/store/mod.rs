//! `BlobStore`: where artifacts and published trees live, on local disk or in S3.
//!
//! Owns object keys (Pulp's `artifact/<sha256[0:2]>/<sha256[2:]>`), store URLs
//! (`file:///path`, `s3://bucket/prefix`), checksum verification on put, and the two backends.
//! Must not: know about repositories, versions or publications (the catalog does).

mod local;
mod s3;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

pub use local::LocalStore;
pub use s3::{S3Settings, S3Store};

use crate::error::{Error, Result};

/// An existing artifact that an `add` takes again is marked as just used when it is older
/// than this, so that gc (whose grace period must be longer; the default is an hour) leaves it.
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);

/// What a store knows of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the store root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub modified: SystemTime,
}

/// The outcome of storing an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The bytes were written.
    Stored,
    /// An object with this content was already there; nothing was written.
    AlreadyPresent,
}

/// A readable object body (streams: a large package never sits in memory).
pub type ObjectReader = Box<dyn Read + Send>;

/// Content storage: a flat namespace of keys (`a/b/c`) holding immutable-by-convention bytes.
pub trait BlobStore: Send + Sync {
    /// The URL this store was opened from.
    fn url(&self) -> String;

    /// Stores `size` bytes read from `body` under `key`, replacing any object there. The key
    /// never holds a partial object. When `sha256` is given, the stored bytes must have that
    /// digest, or nothing is stored and [`Error::ChecksumMismatch`] is returned.
    fn put(&self, key: &str, body: &mut dyn Read, size: u64, sha256: Option<&str>) -> Result<()>;

    /// Size and modification time of `key`, or `None` when absent.
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>>;

    /// Reads `key`, or the inclusive byte range `range` of it.
    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ObjectReader>;

    /// Every object whose key starts with `prefix`, sorted by key.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;

    /// Deletes `key`; deleting an absent key is not an error.
    fn delete(&self, key: &str) -> Result<()>;

    /// Sets `key`'s modification time to now without changing its content, so `gc`'s grace
    /// period covers an artifact that an `add` is about to reference again.
    fn refresh(&self, key: &str) -> Result<()>;

    /// A URL a client may GET `key` from directly, for `serve --redirect`; `None` when the
    /// store has no such thing (local disk).
    fn presigned_get(&self, key: &str, expires: Duration) -> Result<Option<String>>;

    /// Removes what killed puts left behind (temporary files, incomplete multipart uploads)
    /// older than `older_than`; never a finished object. Returns how many were removed.
    fn sweep_incomplete(&self, older_than: Duration) -> Result<usize>;

    /// Stores the file at `path` as the artifact with digest `sha256` unless it is already
    /// there (same key and size): content-addressed puts are idempotent.
    fn put_artifact(&self, path: &Path, sha256: &str) -> Result<PutOutcome> {
        let key = artifact_key(sha256)?;
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if let Some(info) = self.head(&key)?
            && info.size == size
        {
            // An old unreferenced artifact may be past gc's grace period: make it young
            // before the caller records a reference to it, or a gc running meanwhile could
            // delete it between this check and the catalog commit.
            let age = SystemTime::now()
                .duration_since(info.modified)
                .unwrap_or_default();
            if age > REFRESH_AFTER
                && let Err(err) = self.refresh(&key)
            {
                tracing::warn!(
                    "{key}: could not mark the artifact as just used ({err}); a gc running now could remove it"
                );
            }
            return Ok(PutOutcome::AlreadyPresent);
        }
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        self.put(&key, &mut reader, size, Some(sha256))?;
        Ok(PutOutcome::Stored)
    }

    /// Reads `key` whole and checks its size and sha256 (a migration's and gc's check).
    fn verify(&self, key: &str, size: u64, sha256: &str) -> Result<()> {
        let mut reader = self.get(key, None)?;
        let (actual, actual_size) = sha256_of_reader(&mut reader).map_err(|e| Error::S3 {
            operation: "verify",
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        if actual_size != size {
            return Err(Error::SizeMismatch {
                key: key.to_owned(),
                expected: size,
                actual: actual_size,
            });
        }
        if actual != sha256 {
            return Err(Error::ChecksumMismatch {
                key: key.to_owned(),
                expected: sha256.to_owned(),
                actual,
            });
        }
        Ok(())
    }
}

/// Pulp's artifact key: `artifact/<sha256[0:2]>/<sha256[2:]>`.
pub fn artifact_key(sha256: &str) -> Result<String> {
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::bad_location(
            sha256,
            "not a lowercase hex sha256 digest",
        ));
    }
    Ok(format!("artifact/{}/{}", &sha256[..2], &sha256[2..]))
}

/// Refuses keys that could escape the store root or name a directory: empty, absolute,
/// with `.`/`..`/empty components, backslashes or control characters.
pub fn check_key(key: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::bad_location(key, reason));
    if key.is_empty() {
        return bad("empty object key");
    }
    if key.starts_with('/') {
        return bad("object keys are relative");
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return bad("control character or backslash in object key");
    }
    if key
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("empty, '.' or '..' component in object key");
    }
    Ok(())
}

/// Hex sha256 and length of everything `reader` yields.
pub fn sha256_of_reader(reader: &mut dyn Read) -> std::io::Result<(String, u64)> {
    repo_core::ChecksumType::Sha256.of_reader(reader)
}

/// Hex sha256 of a file.
pub fn sha256_of_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    sha256_of_reader(&mut file).map_err(|e| Error::io(path, e))
}

/// Checks what a put read from its body (by either backend) against the announced size and digest.
pub(crate) fn check_body(
    key: &str,
    size: u64,
    actual_size: u64,
    sha256: Option<&str>,
    hasher: Sha256,
) -> Result<()> {
    if actual_size != size {
        return Err(Error::SizeMismatch {
            key: key.to_owned(),
            expected: size,
            actual: actual_size,
        });
    }
    let actual = hex(&hasher.finalize());
    if let Some(expected) = sha256
        && expected != actual
    {
        return Err(Error::ChecksumMismatch {
            key: key.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(())
}

/// Lowercase hex of `bytes` (repo-core's, so digests print the same everywhere).
pub use repo_core::checksum::hex;

/// Opens a store from its URL: `file:///absolute/path` or `s3://bucket[/prefix]` (endpoint,
/// region and credentials from the standard AWS environment variables).
pub fn open_store(url: &str) -> Result<Box<dyn BlobStore>> {
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(Error::bad_location(
                url,
                "file store URLs need an absolute path (file:///path)",
            ));
        }
        return Ok(Box::new(LocalStore::open(Path::new(path))?));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = match rest.split_once('/') {
            Some((bucket, prefix)) => (bucket, prefix.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(Error::bad_location(url, "no bucket in s3:// URL"));
        }
        if !prefix.is_empty() {
            check_key(prefix)?;
        }
        let settings = S3Settings::from_env(bucket, prefix)?;
        return Ok(Box::new(S3Store::open(settings)?));
    }
    Err(Error::bad_location(
        url,
        "unknown store URL (expected file:///path or s3://bucket/prefix)",
    ))
}

/// A view of a store under a key prefix (a publish target `STORE/PATH`).
pub struct PrefixedStore<'a> {
    inner: &'a dyn BlobStore,
    prefix: String,
}

impl<'a> PrefixedStore<'a> {
    /// Keys are `prefix/<key>`; an empty prefix is the store root.
    pub fn new(inner: &'a dyn BlobStore, prefix: &str) -> Result<Self> {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            check_key(prefix)?;
        }
        Ok(PrefixedStore {
            inner,
            prefix: prefix.to_owned(),
        })
    }

    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

impl BlobStore for PrefixedStore<'_> {
    fn url(&self) -> String {
        if self.prefix.is_empty() {
            self.inner.url()
        } else {
            format!("{}/{}", self.inner.url().trim_end_matches('/'), self.prefix)
        }
    }
    fn put(&self, key: &str, body: &mut dyn Read, size: u64, sha256: Option<&str>) -> Result<()> {
        self.inner.put(&self.full(key), body, size, sha256)
    }
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        self.inner.head(&self.full(key))
    }
    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ObjectReader> {
        self.inner.get(&self.full(key), range)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut objects = self.inner.list(&self.full(prefix))?;
        for object in &mut objects {
            object.key = object.key[strip..].to_owned();
        }
        Ok(objects)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(&self.full(key))
    }
    fn refresh(&self, key: &str) -> Result<()> {
        self.inner.refresh(&self.full(key))
    }
    fn presigned_get(&self, key: &str, expires: Duration) -> Result<Option<String>> {
        self.inner.presigned_get(&self.full(key), expires)
    }
    fn sweep_incomplete(&self, older_than: Duration) -> Result<usize> {
        self.inner.sweep_incomplete(older_than)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_keys_follow_pulp() {
        let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            artifact_key(digest).unwrap(),
            "artifact/9f/86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(artifact_key("../etc/passwd").is_err());
        assert!(artifact_key(&digest.to_uppercase()).is_err());
    }

    #[test]
    fn hostile_keys_are_refused() {
        for key in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\nb",
            "a/",
        ] {
            assert!(check_key(key).is_err(), "{key:?}");
        }
        check_key("Packages/h/hello-1.0-1.noarch.rpm").unwrap();
    }

    #[test]
    fn store_urls_are_checked() {
        assert!(open_store("file://relative").is_err());
        assert!(open_store("http://x").is_err());
        assert!(open_store("s3:///prefix").is_err());
    }
}
