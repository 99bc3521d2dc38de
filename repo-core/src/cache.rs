//! The per-repository package cache behind `--update`: each package's identity (relative
//! path, size, mtime) and the address of its already-rendered primary/filelists/other
//! fragments (and its record, for sqlite rows) in the fragment files beside the database, plus
//! the compressed blocks of the last documents written.
//!
//! The cache is a speed-up only: an entry is used when the run's settings fingerprint and the
//! file's size and mtime match, so a missing, stale or foreign cache changes nothing but time.
//! Must not: decide package order or write repodata.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::blocks::CompressedBlock;
use crate::error::{Error, Result};
use crate::fragments::FragmentLocation;

/// Bumped whenever the record rules or the fragment format change, so older caches are dropped.
const CACHE_FORMAT: &str = "rpmdepot-cache-3";

/// What the cache knows of a package without its metadata text: enough to decide whether it
/// is unchanged and to resolve duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedIdentity {
    /// File size when it was read.
    pub size: u64,
    /// File mtime when it was read.
    pub mtime: i64,
    /// `name-epoch:version-release.arch`.
    pub nevra: String,
    /// Build time (for duplicate resolution).
    pub time_build: i64,
    /// Location href as written.
    pub location_href: String,
}

/// What a document writer tells the cache about one block, by (document, block key).
#[derive(Debug)]
pub enum BlockMessage {
    /// A block compressed in this run.
    New(String, String, CompressedBlock),
    /// A cached block this run used again.
    Used(String, String),
}

fn lengths_total(lengths: &[u32; 5]) -> u64 {
    lengths
        .iter()
        .filter(|&&l| l != u32::MAX)
        .map(|&l| u64::from(l))
        .sum()
}

/// A cached package: its identity and where its fragments are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEntry {
    /// Identity.
    pub identity: CachedIdentity,
    /// Fragment address (the file is in the cache directory).
    pub location: FragmentLocation,
}

/// An open cache database.
pub struct PackageCache {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS package_index (
    relative_path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    nevra TEXT NOT NULL,
    time_build INTEGER NOT NULL,
    location_href TEXT NOT NULL,
    fragment_file TEXT NOT NULL,
    fragment_offset INTEGER NOT NULL,
    fragment_lengths TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compressed_blocks (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    crc INTEGER NOT NULL,
    len INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);";

impl PackageCache {
    /// Opens (or creates) the cache at `path`. When it was written with other settings
    /// (`fingerprint`) or by another cache format, its entries are dropped.
    pub fn open(path: &Path, fingerprint: &str) -> Result<PackageCache> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let sqlite_error = |source| Error::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite_error)?;
        // No fsync: the cache is a speed-up, and a damaged one is detected and rebuilt.
        // A 256 KiB page cache instead of SQLite's 2 MiB: the cache is written once per run,
        // mostly appended, and the larger one was the peak of a cold run's memory (20k
        // packages: about 0.5-1 MB less at the end, no slower).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -256;",
        )
        .map_err(sqlite_error)?;
        conn.execute_batch(SCHEMA).map_err(sqlite_error)?;
        let wanted = format!("{CACHE_FORMAT}\n{fingerprint}");
        let stored: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'settings'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sqlite_error)?;
        if stored.as_deref() != Some(wanted.as_str()) {
            if stored.is_some() {
                tracing::info!(
                    "{}: written with other settings, starting afresh",
                    path.display()
                );
            }
            conn.execute_batch(
                "DROP TABLE IF EXISTS packages; DROP TABLE IF EXISTS blocks; \
                 DELETE FROM package_index; DELETE FROM compressed_blocks;",
            )
            .map_err(sqlite_error)?;
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('settings', ?1)",
                [&wanted],
            )
            .map_err(sqlite_error)?;
        }
        Ok(PackageCache {
            conn,
            path: path.to_owned(),
        })
    }

    fn error(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The directory holding the database and its fragment files.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Every entry, by relative path. Rows whose address cannot be read (bad row, or a fragment
    /// file missing or shorter than the row says) are left out.
    pub fn load(&self) -> Result<HashMap<String, CachedEntry>> {
        let dir = self.dir().to_owned();
        let mut files: HashMap<String, (Arc<PathBuf>, u64)> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT relative_path, size, mtime, nevra, time_build, location_href, \
                 fragment_file, fragment_offset, fragment_lengths FROM package_index",
            )
            .map_err(self.error())?;
        let mut rows = stmt.query([]).map_err(self.error())?;
        let mut entries = HashMap::new();
        while let Some(r) = rows.next().map_err(self.error())? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, String>(0)?,
                    CachedIdentity {
                        size: r.get::<_, i64>(1)? as u64,
                        mtime: r.get(2)?,
                        nevra: r.get(3)?,
                        time_build: r.get(4)?,
                        location_href: r.get(5)?,
                    },
                    r.get::<_, String>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, String>(8)?,
                ))
            };
            let (path, identity, file, offset, lengths) = get(r).map_err(self.error())?;
            let Some(lengths) = FragmentLocation::parse_lengths(&lengths) else {
                continue;
            };
            if file.contains('/') || offset < 0 {
                continue;
            }
            let (file, file_len) = files.entry(file.clone()).or_insert_with(|| {
                let path = dir.join(&file);
                let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                (Arc::new(path), len)
            });
            // A fragment file that was deleted or cut short only costs re-reading the package.
            if offset as u64 + lengths_total(&lengths) > *file_len {
                continue;
            }
            let file = Arc::clone(file);
            entries.insert(
                path,
                CachedEntry {
                    identity,
                    location: FragmentLocation {
                        file,
                        offset: offset as u64,
                        lengths,
                    },
                },
            );
        }
        Ok(entries)
    }

    /// Deletes fragment files in the cache directory that no entry points at (left by
    /// replaced packages, compaction or an interrupted run).
    pub fn remove_unreferenced_fragment_files(&self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT fragment_file FROM package_index")
            .map_err(self.error())?;
        let used: std::collections::HashSet<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.error())?
            .collect::<Result<_, _>>()
            .map_err(self.error())?;
        let dir = self.dir();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("fragments-") && name.ends_with(".dat") && !used.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Compressed blocks of metadata documents, by (document, block key).
    pub fn load_blocks(&self) -> Result<HashMap<(String, String), CompressedBlock>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, crc, len, data FROM compressed_blocks")
            .map_err(self.error())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    (r.get(0)?, r.get(1)?),
                    CompressedBlock {
                        crc: r.get::<_, i64>(2)? as u32,
                        len: r.get::<_, i64>(3)? as u64,
                        data: r.get(4)?,
                    },
                ))
            })
            .map_err(self.error())?;
        rows.collect::<Result<_, _>>().map_err(self.error())
    }

    /// Stores the blocks a run compressed and drops every block it did not use, in one
    /// transaction, as the messages arrive (so compressed output is not held in memory).
    pub fn store_blocks(&mut self, messages: impl IntoIterator<Item = BlockMessage>) -> Result<()> {
        let path = self.path.clone();
        let sqlite_error = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite_error)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO compressed_blocks (kind, key, crc, len, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sqlite_error)?;
            // Usually all but a few blocks are used again, so the used set is kept here and
            // only the rest is deleted, rather than marking every used row in the database.
            let mut used: HashSet<(String, String)> = HashSet::new();
            for message in messages {
                match message {
                    BlockMessage::New(kind, key, block) => {
                        insert
                            .execute(params![kind, key, block.crc, block.len as i64, block.data])
                            .map_err(sqlite_error)?;
                        used.insert((kind, key));
                    }
                    BlockMessage::Used(kind, key) => {
                        used.insert((kind, key));
                    }
                }
            }
            let stored: Vec<(String, String)> = tx
                .prepare("SELECT kind, key FROM compressed_blocks")
                .and_then(|mut stmt| {
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(sqlite_error)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM compressed_blocks WHERE kind = ?1 AND key = ?2")
                .map_err(sqlite_error)?;
            for (kind, key) in stored {
                if !used.contains(&(kind.clone(), key.clone())) {
                    delete.execute([kind, key]).map_err(sqlite_error)?;
                }
            }
        }
        tx.commit().map_err(sqlite_error)
    }

    /// Brings the cache in line with a finished run: stores `changed` entries and deletes
    /// every path not in `present`, in one transaction.
    pub fn update(
        &mut self,
        changed: impl IntoIterator<Item = (String, CachedIdentity, FragmentLocation)>,
        present: &[&str],
    ) -> Result<()> {
        let path = self.path.clone();
        let sqlite_error = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite_error)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO package_index (relative_path, size, mtime, nevra, \
                     time_build, location_href, fragment_file, fragment_offset, \
                     fragment_lengths) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(sqlite_error)?;
            for (relative_path, p, location) in changed {
                let file = location
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                insert
                    .execute(params![
                        relative_path,
                        p.size as i64,
                        p.mtime,
                        p.nevra,
                        p.time_build,
                        p.location_href,
                        file,
                        location.offset as i64,
                        location.lengths_text()
                    ])
                    .map_err(sqlite_error)?;
            }
            // Deletions are computed here: a run usually removes a few paths of many, and
            // marking every present path in a temporary table cost more than the run's changes.
            let mut present_set: HashSet<&str> = HashSet::with_capacity(present.len());
            present_set.extend(present.iter().copied());
            // Only the stale paths are collected: every stored path at once was 8 MB at
            // 100k packages, the peak of a cold run.
            let mut stale: Vec<String> = Vec::new();
            {
                let mut select = tx
                    .prepare("SELECT relative_path FROM package_index")
                    .map_err(sqlite_error)?;
                let mut rows = select.query([]).map_err(sqlite_error)?;
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let path = row
                        .get_ref(0)
                        .and_then(|value| value.as_str().map_err(Into::into))
                        .map_err(sqlite_error)?;
                    if !present_set.contains(path) {
                        stale.push(path.to_owned());
                    }
                }
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM package_index WHERE relative_path = ?1")
                .map_err(sqlite_error)?;
            for path in stale {
                delete.execute([path]).map_err(sqlite_error)?;
            }
        }
        tx.commit().map_err(sqlite_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(size: u64) -> CachedIdentity {
        CachedIdentity {
            size,
            mtime: 5,
            nevra: "a-0:1-1.noarch".into(),
            time_build: 7,
            location_href: "a.rpm".into(),
        }
    }

    #[test]
    fn entries_survive_reopen_and_settings_changes_drop_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/cache.sqlite");
        let mut cache = PackageCache::open(&path, "sha256").unwrap();
        let location = FragmentLocation {
            file: Arc::new(cache.dir().join("fragments-x-0.dat")),
            offset: 9,
            lengths: [1, 2, 3, u32::MAX, 0],
        };
        // Long enough for the rows below (offset 9 + 6 bytes).
        std::fs::write(cache.dir().join("fragments-x-0.dat"), [b'x'; 15]).unwrap();
        std::fs::write(cache.dir().join("fragments-old-0.dat"), b"x").unwrap();
        cache
            .update(
                [
                    ("a.rpm".into(), identity(1), location.clone()),
                    ("b.rpm".into(), identity(2), location.clone()),
                ],
                &["a.rpm", "b.rpm"],
            )
            .unwrap();
        cache.remove_unreferenced_fragment_files().unwrap();
        assert!(cache.dir().join("fragments-x-0.dat").exists());
        assert!(!cache.dir().join("fragments-old-0.dat").exists());
        drop(cache);
        let mut cache = PackageCache::open(&path, "sha256").unwrap();
        assert_eq!(cache.load().unwrap().len(), 2);
        cache.update([], &["b.rpm"]).unwrap();
        let loaded = cache.load().unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["b.rpm"]);
        assert_eq!(loaded["b.rpm"].identity, identity(2));
        assert_eq!(loaded["b.rpm"].location, location);
        drop(cache);
        let cache = PackageCache::open(&path, "sha512").unwrap();
        assert!(cache.load().unwrap().is_empty());
    }
}
