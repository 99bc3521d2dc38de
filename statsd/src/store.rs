//! The statistics database (SQLite, WAL): daily counts, per-file contributions and the
//! files already ingested.
//!
//! Owns the schema and every write. A file's identity (content SHA-256, size, name), its
//! totals and all its counts are committed in one transaction: ingesting the same file again
//! is a no-op, a crash before the commit leaves nothing of the file, and a re-ingest first
//! subtracts the file's previous contribution. Must not parse logs.
//!
//! Tables: `daily_counts` (day UTC, repository, package, kind, client, range_end) with
//! additive upserts, so late log files land in the right day; `file_counts` (each file's
//! rows as written, possibly several per cell when a huge file came in batches, for exact
//! re-ingest); `ingested_files`; `artifact_sizes` (package sizes seen in
//! completed GETs). The view `downloads_daily` adds to `downloads` every complete 206 whose
//! range ends at the package's last byte (a resumed download, counted once).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use crate::artifact::parse_rpm_file_name;
use crate::tally::{CountRow, FileCounts};
use crate::{Error, Result};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingested_files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    name TEXT NOT NULL,
    format TEXT,
    compression TEXT NOT NULL,
    lines INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    downloads INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    rejections TEXT NOT NULL,
    not_counted TEXT NOT NULL,
    status TEXT NOT NULL,
    stream_error TEXT,
    first_ts INTEGER,
    last_ts INTEGER,
    ingested_at INTEGER NOT NULL,
    UNIQUE (sha256, size, name)
);
CREATE TABLE IF NOT EXISTS daily_counts (
    day INTEGER NOT NULL,
    repository TEXT NOT NULL,
    package TEXT NOT NULL,
    kind TEXT NOT NULL,
    client TEXT NOT NULL,
    range_end INTEGER NOT NULL,
    name TEXT NOT NULL,
    layout TEXT NOT NULL,
    downloads INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    not_modified INTEGER NOT NULL,
    partials INTEGER NOT NULL,
    aborted INTEGER NOT NULL,
    PRIMARY KEY (day, repository, package, kind, client, range_end)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS file_counts (
    file_id INTEGER NOT NULL REFERENCES ingested_files (id),
    day INTEGER NOT NULL,
    repository TEXT NOT NULL,
    package TEXT NOT NULL,
    kind TEXT NOT NULL,
    client TEXT NOT NULL,
    range_end INTEGER NOT NULL,
    downloads INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    not_modified INTEGER NOT NULL,
    partials INTEGER NOT NULL,
    aborted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS file_counts_file ON file_counts (file_id);
CREATE TABLE IF NOT EXISTS artifact_sizes (
    repository TEXT NOT NULL,
    package TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (repository, package)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS downloads_daily AS
SELECT c.day, c.repository, c.package, c.name, c.kind, c.client, c.layout,
       SUM(c.downloads + CASE WHEN c.range_end >= 0 AND s.size = c.range_end + 1
                              THEN c.partials ELSE 0 END) AS downloads,
       SUM(c.bytes) AS bytes, SUM(c.heads) AS heads, SUM(c.not_modified) AS not_modified,
       SUM(c.partials) AS partials, SUM(c.aborted) AS aborted
FROM daily_counts c
LEFT JOIN artifact_sizes s ON s.repository = c.repository AND s.package = c.package
GROUP BY c.day, c.repository, c.package, c.kind, c.client;
";

/// What identifies an input file: its content, its size and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    pub sha256: String,
    pub size: u64,
    pub name: String,
}

impl FileIdentity {
    /// Hashes the file at `path` (streamed, fixed memory).
    pub fn of(path: &Path) -> Result<FileIdentity> {
        use sha2::Digest;
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
        let digest = hasher.finalize();
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(FileIdentity { sha256, size, name })
    }
}

/// What committing a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Inserted,
    /// `--reingest`: the previous contribution was replaced.
    Replaced,
    /// Already ingested: nothing changed.
    AlreadyIngested,
}

/// The statistics database.
pub struct Store {
    connection: Connection,
    path: PathBuf,
    crash_after_rows: Option<u64>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let err = |e| Error::sqlite(path, e);
        let connection = Connection::open(path).map_err(err)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            )
            .map_err(err)?;
        connection.execute_batch(SCHEMA).map_err(err)?;
        let version: Option<String> = connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(err)?;
        match version {
            None => {
                connection
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                        [SCHEMA_VERSION.to_string()],
                    )
                    .map_err(err)?;
            }
            Some(v) if v == SCHEMA_VERSION.to_string() => {}
            Some(v) => {
                return Err(Error::Schema {
                    path: path.to_owned(),
                    reason: format!(
                        "schema version {v}, this rpmdepot reads version {SCHEMA_VERSION}"
                    ),
                });
            }
        }
        // Test hook: abort the process in the middle of a file's transaction.
        let crash_after_rows = std::env::var("RPMDEPOT_STATS_CRASH_AFTER_ROWS")
            .ok()
            .and_then(|v| v.parse().ok());
        Ok(Store {
            connection,
            path: path.to_owned(),
            crash_after_rows,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| Error::sqlite(&self.path, e)
    }

    /// True when a file with this identity was ingested.
    pub fn contains(&self, identity: &FileIdentity) -> Result<bool> {
        self.connection
            .query_row(
                "SELECT 1 FROM ingested_files WHERE sha256 = ?1 AND size = ?2 AND name = ?3",
                params![identity.sha256, identity.size as i64, identity.name],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.err())
    }

    /// Commits one file's counts with its identity, in one transaction.
    pub fn commit_file(
        &mut self,
        identity: &FileIdentity,
        compression: &str,
        counts: &FileCounts,
        reingest: bool,
    ) -> Result<CommitOutcome> {
        let Some(mut writer) = self.begin_file(identity, reingest)? else {
            return Ok(CommitOutcome::AlreadyIngested);
        };
        writer.write_rows(&counts.rows, &counts.sizes)?;
        writer.finish(compression, counts)
    }

    /// Starts one file's transaction: `None` when the file was ingested before and
    /// `reingest` is false. With `reingest`, the previous contribution is subtracted first.
    /// Nothing is visible to others until [`FileWriter::finish`].
    pub fn begin_file(
        &mut self,
        identity: &FileIdentity,
        reingest: bool,
    ) -> Result<Option<FileWriter<'_>>> {
        let path = self.path.clone();
        let err = |e| Error::sqlite(&path, e);
        let crash_after_rows = self.crash_after_rows;
        let transaction = self.connection.transaction().map_err(err)?;
        let existing: Option<i64> = transaction
            .query_row(
                "SELECT id FROM ingested_files WHERE sha256 = ?1 AND size = ?2 AND name = ?3",
                params![identity.sha256, identity.size as i64, identity.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(err)?;
        let outcome = match existing {
            Some(_) if !reingest => return Ok(None),
            Some(id) => {
                transaction
                    .execute(
                        "UPDATE daily_counts AS d SET downloads = d.downloads - f.downloads, bytes = d.bytes - f.bytes,
                                heads = d.heads - f.heads, not_modified = d.not_modified - f.not_modified,
                                partials = d.partials - f.partials, aborted = d.aborted - f.aborted
                         FROM (SELECT day, repository, package, kind, client, range_end,
                                      SUM(downloads) AS downloads, SUM(bytes) AS bytes, SUM(heads) AS heads,
                                      SUM(not_modified) AS not_modified, SUM(partials) AS partials,
                                      SUM(aborted) AS aborted
                               FROM file_counts WHERE file_id = ?1
                               GROUP BY day, repository, package, kind, client, range_end) AS f
                         WHERE d.day = f.day AND d.repository = f.repository AND d.package = f.package
                           AND d.kind = f.kind AND d.client = f.client AND d.range_end = f.range_end",
                        [id],
                    )
                    .map_err(err)?;
                transaction
                    .execute(
                        "DELETE FROM daily_counts WHERE downloads = 0 AND bytes = 0 AND heads = 0 AND not_modified = 0
                           AND partials = 0 AND aborted = 0",
                        [],
                    )
                    .map_err(err)?;
                transaction
                    .execute("DELETE FROM file_counts WHERE file_id = ?1", [id])
                    .map_err(err)?;
                transaction
                    .execute("DELETE FROM ingested_files WHERE id = ?1", [id])
                    .map_err(err)?;
                CommitOutcome::Replaced
            }
            None => CommitOutcome::Inserted,
        };
        transaction
            .execute(
                "INSERT INTO ingested_files (sha256, size, name, compression, lines, requests, downloads,
                    rejected, rejections, not_counted, status, ingested_at)
                 VALUES (?1, ?2, ?3, '', 0, 0, 0, 0, '{}', '{}', 'ingesting', 0)",
                params![identity.sha256, identity.size as i64, identity.name],
            )
            .map_err(err)?;
        let file_id = transaction.last_insert_rowid();
        Ok(Some(FileWriter {
            transaction,
            file_id,
            outcome,
            path,
            crash_after_rows,
            written: 0,
        }))
    }
}

/// One file's open transaction (see [`Store::begin_file`]). Dropping it without
/// [`FileWriter::finish`] rolls everything back.
pub struct FileWriter<'a> {
    transaction: rusqlite::Transaction<'a>,
    file_id: i64,
    outcome: CommitOutcome,
    path: PathBuf,
    crash_after_rows: Option<u64>,
    written: u64,
}

impl FileWriter<'_> {
    /// Adds rows (a batch or the rest of a file) to the daily and per-file counts.
    pub fn write_rows(
        &mut self,
        rows: &[CountRow],
        sizes: &[(Arc<str>, Arc<str>, u64)],
    ) -> Result<()> {
        let err = |e| Error::sqlite(&self.path, e);
        let mut daily = self
            .transaction
            .prepare_cached(
                "INSERT INTO daily_counts (day, repository, package, kind, client, range_end, name, layout,
                    downloads, bytes, heads, not_modified, partials, aborted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (day, repository, package, kind, client, range_end) DO UPDATE SET
                    downloads = downloads + excluded.downloads, bytes = bytes + excluded.bytes,
                    heads = heads + excluded.heads, not_modified = not_modified + excluded.not_modified,
                    partials = partials + excluded.partials, aborted = aborted + excluded.aborted",
            )
            .map_err(err)?;
        let mut per_file = self
            .transaction
            .prepare_cached(
                "INSERT INTO file_counts (file_id, day, repository, package, kind, client, range_end,
                    downloads, bytes, heads, not_modified, partials, aborted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(err)?;
        for row in rows {
            if self
                .crash_after_rows
                .is_some_and(|limit| self.written >= limit)
            {
                std::process::abort();
            }
            self.written += 1;
            let name = if row.kind.is_package() {
                parse_rpm_file_name(&row.package).map_or(&*row.package, |n| n.name)
            } else {
                &row.package
            };
            let c = &row.counts;
            daily
                .execute(params![
                    row.day,
                    row.repository,
                    row.package,
                    row.kind.name(),
                    row.client.name(),
                    row.range_end,
                    name,
                    row.layout.name(),
                    c.downloads as i64,
                    c.bytes as i64,
                    c.heads as i64,
                    c.not_modified as i64,
                    c.partials as i64,
                    c.aborted as i64,
                ])
                .map_err(err)?;
            per_file
                .execute(params![
                    self.file_id,
                    row.day,
                    row.repository,
                    row.package,
                    row.kind.name(),
                    row.client.name(),
                    row.range_end,
                    c.downloads as i64,
                    c.bytes as i64,
                    c.heads as i64,
                    c.not_modified as i64,
                    c.partials as i64,
                    c.aborted as i64,
                ])
                .map_err(err)?;
        }
        let mut known_sizes = self
            .transaction
            .prepare_cached("INSERT OR IGNORE INTO artifact_sizes (repository, package, size) VALUES (?1, ?2, ?3)")
            .map_err(err)?;
        for (repository, package, size) in sizes {
            known_sizes
                .execute(params![repository, package, *size as i64])
                .map_err(err)?;
        }
        Ok(())
    }

    /// Records the file's totals and commits everything of the file at once.
    pub fn finish(self, compression: &str, counts: &FileCounts) -> Result<CommitOutcome> {
        let err = |e| Error::sqlite(&self.path, e);
        let rejections: serde_json::Map<String, serde_json::Value> = counts
            .rejections
            .iter()
            .map(|(r, n)| (r.name().to_owned(), (*n).into()))
            .collect();
        let not_counted: serde_json::Map<String, serde_json::Value> = counts
            .not_counted
            .iter()
            .map(|(r, n)| (r.name().to_owned(), (*n).into()))
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.transaction
            .execute(
                "UPDATE ingested_files SET format = ?2, compression = ?3, lines = ?4, requests = ?5, downloads = ?6,
                    rejected = ?7, rejections = ?8, not_counted = ?9, status = ?10, stream_error = ?11,
                    first_ts = ?12, last_ts = ?13, ingested_at = ?14
                 WHERE id = ?1",
                params![
                    self.file_id,
                    counts.format.map(|f| f.name()),
                    compression,
                    counts.lines as i64,
                    counts.requests as i64,
                    counts.downloads() as i64,
                    counts.rejected() as i64,
                    serde_json::Value::Object(rejections).to_string(),
                    serde_json::Value::Object(not_counted).to_string(),
                    if counts.stream_error.is_some() { "partial" } else { "complete" },
                    counts.stream_error,
                    counts.first_timestamp,
                    counts.last_timestamp,
                    now,
                ],
            )
            .map_err(err)?;
        self.transaction.commit().map_err(err)?;
        Ok(self.outcome)
    }
}
