//! The local filesystem backend: objects are files under a root directory.
//!
//! A put writes a temporary file next to the final one, checks size and sha256, fsyncs it,
//! renames it into place and fsyncs the directory, so a key never names a partial file, even
//! after a crash. Must not: follow keys outside the root (keys are checked first).

use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::{BlobStore, ObjectInfo, ObjectReader, check_body, check_key};
use crate::error::{Error, Result};

/// Files under a root directory.
pub struct LocalStore {
    root: PathBuf,
}

/// Temporary files of puts in progress start with this (never a valid final name: list skips them).
const TEMP_PREFIX: &str = ".tmp-";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io(path, e))
}

impl LocalStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: &Path) -> Result<LocalStore> {
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        Ok(LocalStore {
            root: root.to_owned(),
        })
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn collect(&self, dir: &Path, out: &mut Vec<ObjectInfo>) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                continue;
            }
            if kind.is_dir() {
                self.collect(&path, out)?;
            } else if kind.is_file() {
                let meta = entry.metadata().map_err(|e| Error::io(&path, e))?;
                let key = path
                    .strip_prefix(&self.root)
                    .expect("walked below the root")
                    .to_string_lossy()
                    .into_owned();
                out.push(ObjectInfo {
                    key,
                    size: meta.len(),
                    modified: meta.modified().map_err(|e| Error::io(&path, e))?,
                });
            }
        }
        Ok(())
    }
}

/// Removes the temporary file unless the put completed.
struct TempFile {
    path: PathBuf,
    done: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A file limited to a byte range.
struct RangeReader {
    file: File,
    left: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.file.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl BlobStore for LocalStore {
    fn url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn put(&self, key: &str, body: &mut dyn Read, size: u64, sha256: Option<&str>) -> Result<()> {
        let path = self.path_of(key)?;
        let dir = path.parent().expect("keys have a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let name = path
            .file_name()
            .expect("keys name a file")
            .to_string_lossy();
        let mut temp = TempFile {
            path: dir.join(format!(
                "{TEMP_PREFIX}{name}.{}.{}",
                std::process::id(),
                TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
            )),
            done: false,
        };
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp.path)
            .map_err(|e| Error::io(&temp.path, e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut written = 0u64;
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&path, e)),
            };
            hasher.update(&buffer[..n]);
            writer
                .write_all(&buffer[..n])
                .map_err(|e| Error::io(&temp.path, e))?;
            written += n as u64;
        }
        check_body(key, size, written, sha256, hasher)?;
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&temp.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&temp.path, e))?;
        drop(file);
        fs::rename(&temp.path, &path).map_err(|e| Error::io(&path, e))?;
        temp.done = true;
        sync_dir(dir)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectInfo {
                key: key.to_owned(),
                size: meta.len(),
                modified: meta.modified().map_err(|e| Error::io(&path, e))?,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<ObjectReader> {
        let path = self.path_of(key)?;
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(key.to_owned()));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        match range {
            None => Ok(Box::new(file)),
            Some((start, end)) => {
                file.seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io(&path, e))?;
                Ok(Box::new(RangeReader {
                    file,
                    left: end.saturating_sub(start) + 1,
                }))
            }
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        // Walk the deepest directory the prefix names, then filter by the whole prefix.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let start = if dir_part.is_empty() {
            self.root.clone()
        } else {
            self.path_of(dir_part)?
        };
        let mut out = Vec::new();
        self.collect(&start, &mut out)?;
        out.retain(|o| o.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn refresh(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        // The owner may set a file's times through a read-only handle.
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        file.set_modified(SystemTime::now())
            .map_err(|e| Error::io(&path, e))
    }

    fn presigned_get(&self, _key: &str, _expires: Duration) -> Result<Option<String>> {
        Ok(None)
    }

    fn sweep_incomplete(&self, older_than: Duration) -> Result<usize> {
        fn sweep(dir: &Path, cutoff: SystemTime, removed: &mut usize) -> Result<()> {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io(dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(dir, e))?;
                let path = entry.path();
                let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
                if kind.is_dir() {
                    sweep(&path, cutoff, removed)?;
                } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
                    && entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t <= cutoff)
                {
                    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    *removed += 1;
                }
            }
            Ok(())
        }
        let cutoff = SystemTime::now() - older_than;
        let mut removed = 0;
        sweep(&self.root, cutoff, &mut removed)?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PutOutcome, sha256_of_file};

    #[test]
    fn put_get_head_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let body = b"hello world";
        store.put("a/b/c.txt", &mut &body[..], 11, None).unwrap();
        let info = store.head("a/b/c.txt").unwrap().unwrap();
        assert_eq!(info.size, 11);
        let mut text = String::new();
        store
            .get("a/b/c.txt", Some((6, 10)))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "world");
        assert_eq!(
            store
                .list("a/")
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect::<Vec<_>>(),
            ["a/b/c.txt"]
        );
        store.delete("a/b/c.txt").unwrap();
        store.delete("a/b/c.txt").unwrap();
        assert!(store.head("a/b/c.txt").unwrap().is_none());
        assert!(matches!(
            store.get("a/b/c.txt", None),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn a_wrong_checksum_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let err = store
            .put("x", &mut &b"abc"[..], 3, Some(&"0".repeat(64)))
            .unwrap_err();
        assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
        let err = store.put("x", &mut &b"abc"[..], 4, None).unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        assert!(store.head("x").unwrap().is_none());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no temp file left"
        );
    }

    #[test]
    fn an_old_artifact_taken_again_is_made_young_for_gc() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("store")).unwrap();
        let file = dir.path().join("pkg");
        fs::write(&file, b"package bytes").unwrap();
        let (digest, _) = sha256_of_file(&file).unwrap();
        store.put_artifact(&file, &digest).unwrap();
        let key = crate::store::artifact_key(&digest).unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        File::open(store.path_of(&key).unwrap())
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let age = |store: &LocalStore| {
            let modified = store.head(&key).unwrap().unwrap().modified;
            SystemTime::now()
                .duration_since(modified)
                .unwrap_or_default()
        };
        assert!(age(&store) > Duration::from_secs(7000));
        assert_eq!(
            store.put_artifact(&file, &digest).unwrap(),
            PutOutcome::AlreadyPresent
        );
        assert!(age(&store) < crate::store::REFRESH_AFTER, "refreshed");
        store.verify(&key, 13, &digest).unwrap();
    }

    #[test]
    fn artifacts_are_stored_once_at_pulps_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("store")).unwrap();
        let file = dir.path().join("pkg");
        fs::write(&file, b"package bytes").unwrap();
        let (digest, _) = sha256_of_file(&file).unwrap();
        assert_eq!(
            store.put_artifact(&file, &digest).unwrap(),
            PutOutcome::Stored
        );
        assert_eq!(
            store.put_artifact(&file, &digest).unwrap(),
            PutOutcome::AlreadyPresent
        );
        let path = dir
            .path()
            .join("store/artifact")
            .join(&digest[..2])
            .join(&digest[2..]);
        assert_eq!(fs::read(path).unwrap(), b"package bytes");
        store
            .verify(&crate::store::artifact_key(&digest).unwrap(), 13, &digest)
            .unwrap();
        assert!(store.put_artifact(&file, &"1".repeat(64)).is_err());
    }
}
