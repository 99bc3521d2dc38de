//! The per-repository package cache behind `--update`: each package's identity (relative
//! path, size, mtime) with its already-rendered primary/filelists/other fragments and its
//! record (for sqlite rows), in SQLite.
//!
//! The cache is a speed-up only: an entry is used when the run's settings fingerprint and the
//! file's size and mtime match, so a missing, stale or foreign cache changes nothing but time.
//! Must not: decide package order or write repodata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::record::PackageRecord;

/// Bumped whenever the record rules or the fragment format change, so older caches are dropped.
const CACHE_FORMAT: &str = "rpmdepot-cache-1";

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

/// A package's rendered metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fragments {
    /// primary.xml chunk.
    pub primary: String,
    /// filelists.xml chunk.
    pub filelists: String,
    /// other.xml chunk.
    pub other: String,
    /// filelists-ext.xml chunk, when the run writes it.
    pub filelists_ext: Option<String>,
    /// The record as JSON, for the sqlite databases.
    pub record_json: String,
}

impl Fragments {
    /// The full record, parsed back from JSON.
    pub fn record(&self) -> Result<PackageRecord> {
        serde_json::from_str(&self.record_json)
            .map_err(|e| Error::BadOption(format!("corrupt cache entry: {e}")))
    }
}

/// An open cache database.
pub struct PackageCache {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packages (
    relative_path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    nevra TEXT NOT NULL,
    time_build INTEGER NOT NULL,
    location_href TEXT NOT NULL,
    primary_xml TEXT NOT NULL,
    filelists_xml TEXT NOT NULL,
    other_xml TEXT NOT NULL,
    filelists_ext_xml TEXT,
    record_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
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
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
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
            conn.execute_batch("DELETE FROM packages; DELETE FROM blocks;")
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

    /// The identity of every entry, by relative path.
    pub fn load(&self) -> Result<HashMap<String, CachedIdentity>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT relative_path, size, mtime, nevra, time_build, location_href FROM packages",
            )
            .map_err(self.error())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    CachedIdentity {
                        size: r.get::<_, i64>(1)? as u64,
                        mtime: r.get(2)?,
                        nevra: r.get(3)?,
                        time_build: r.get(4)?,
                        location_href: r.get(5)?,
                    },
                ))
            })
            .map_err(self.error())?;
        rows.collect::<Result<_, _>>().map_err(self.error())
    }

    /// The metadata of one entry.
    pub fn fragments(&self, relative_path: &str) -> Result<Fragments> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT primary_xml, filelists_xml, other_xml, filelists_ext_xml, record_json \
                 FROM packages WHERE relative_path = ?1",
            )
            .map_err(self.error())?;
        stmt.query_row([relative_path], |r| {
            Ok(Fragments {
                primary: r.get(0)?,
                filelists: r.get(1)?,
                other: r.get(2)?,
                filelists_ext: r.get(3)?,
                record_json: r.get(4)?,
            })
        })
        .map_err(self.error())
    }

    /// Compressed blocks of metadata documents, by (document, block key).
    pub fn load_blocks(&self) -> Result<HashMap<(String, String), Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, data FROM blocks")
            .map_err(self.error())?;
        let rows = stmt
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
            .map_err(self.error())?;
        rows.collect::<Result<_, _>>().map_err(self.error())
    }

    /// Stores `new` blocks and drops every block not in `used`, in one transaction.
    pub fn store_blocks(
        &mut self,
        new: &[(String, String, Vec<u8>)],
        used: &[(String, String)],
    ) -> Result<()> {
        let path = self.path.clone();
        let sqlite_error = |source| Error::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sqlite_error)?;
        {
            tx.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS used_blocks (kind TEXT, key TEXT, \
                 PRIMARY KEY (kind, key)); DELETE FROM used_blocks;",
            )
            .map_err(sqlite_error)?;
            let mut mark = tx
                .prepare_cached("INSERT OR IGNORE INTO used_blocks (kind, key) VALUES (?1, ?2)")
                .map_err(sqlite_error)?;
            for (kind, key) in used {
                mark.execute([kind, key]).map_err(sqlite_error)?;
            }
            tx.execute(
                "DELETE FROM blocks WHERE NOT EXISTS (SELECT 1 FROM used_blocks u \
                 WHERE u.kind = blocks.kind AND u.key = blocks.key)",
                [],
            )
            .map_err(sqlite_error)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO blocks (kind, key, data) VALUES (?1, ?2, ?3)",
                )
                .map_err(sqlite_error)?;
            for (kind, key, data) in new {
                insert
                    .execute(params![kind, key, data])
                    .map_err(sqlite_error)?;
            }
        }
        tx.commit().map_err(sqlite_error)
    }

    /// Brings the cache in line with a finished run: stores `changed` entries and deletes
    /// every path not in `present`, in one transaction.
    pub fn update(
        &mut self,
        changed: impl IntoIterator<Item = (String, CachedIdentity, Arc<Fragments>)>,
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
                    "INSERT OR REPLACE INTO packages (relative_path, size, mtime, nevra, \
                     time_build, location_href, primary_xml, filelists_xml, other_xml, \
                     filelists_ext_xml, record_json) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sqlite_error)?;
            for (relative_path, p, f) in changed {
                insert
                    .execute(params![
                        relative_path,
                        p.size as i64,
                        p.mtime,
                        p.nevra,
                        p.time_build,
                        p.location_href,
                        f.primary,
                        f.filelists,
                        f.other,
                        f.filelists_ext,
                        f.record_json
                    ])
                    .map_err(sqlite_error)?;
            }
            tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS present (path TEXT PRIMARY KEY); DELETE FROM present;")
                .map_err(sqlite_error)?;
            let mut mark = tx
                .prepare_cached("INSERT OR IGNORE INTO present (path) VALUES (?1)")
                .map_err(sqlite_error)?;
            for path in present {
                mark.execute([path]).map_err(sqlite_error)?;
            }
            tx.execute(
                "DELETE FROM packages WHERE relative_path NOT IN (SELECT path FROM present)",
                [],
            )
            .map_err(sqlite_error)?;
        }
        tx.commit().map_err(sqlite_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64) -> (CachedIdentity, Fragments) {
        (
            CachedIdentity {
                size,
                mtime: 5,
                nevra: "a-0:1-1.noarch".into(),
                time_build: 7,
                location_href: "a.rpm".into(),
            },
            Fragments {
                primary: "<package/>\n".into(),
                filelists: "f".into(),
                other: "o".into(),
                filelists_ext: None,
                record_json: "{}".into(),
            },
        )
    }

    #[test]
    fn entries_survive_reopen_and_settings_changes_drop_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/cache.sqlite");
        let mut cache = PackageCache::open(&path, "sha256").unwrap();
        let (a, b) = (entry(1), entry(2));
        cache
            .update(
                [
                    ("a.rpm".into(), a.0, Arc::new(a.1)),
                    ("b.rpm".into(), b.0.clone(), Arc::new(b.1.clone())),
                ],
                &["a.rpm", "b.rpm"],
            )
            .unwrap();
        drop(cache);
        let mut cache = PackageCache::open(&path, "sha256").unwrap();
        assert_eq!(cache.load().unwrap().len(), 2);
        cache.update([], &["b.rpm"]).unwrap();
        let loaded = cache.load().unwrap();
        assert_eq!(loaded.keys().collect::<Vec<_>>(), ["b.rpm"]);
        assert_eq!(loaded["b.rpm"], b.0);
        assert_eq!(cache.fragments("b.rpm").unwrap(), b.1);
        drop(cache);
        let cache = PackageCache::open(&path, "sha512").unwrap();
        assert!(cache.load().unwrap().is_empty());
    }
}
