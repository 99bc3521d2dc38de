//! The catalog: one SQLite database (WAL) of content units, repositories, immutable
//! repository versions, publications and distributions, with numbered schema migrations.
//!
//! Versions follow Pulp's model: content belongs to version N of a repository when it was
//! added at or before N and not removed at or before N; version 0 is empty; a version never
//! changes once written. Must not: touch the blob store (callers put artifacts before they
//! record them, and delete them only after the catalog lets go of them).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use repo_core::duplicates::{DuplicateKey, DuplicatePolicy, resolve};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;

use crate::error::{Error, Result};

/// Schema migrations, applied in order; `PRAGMA user_version` counts the ones applied.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE artifacts (
         sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL);
     CREATE TABLE packages (
         id INTEGER PRIMARY KEY,
         pkgid TEXT NOT NULL UNIQUE,
         sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
         name TEXT NOT NULL, epoch TEXT NOT NULL, version TEXT NOT NULL,
         release TEXT NOT NULL, arch TEXT NOT NULL, nevra TEXT NOT NULL,
         filename TEXT NOT NULL, size INTEGER NOT NULL, time_build INTEGER NOT NULL,
         sourcerpm TEXT NOT NULL, record TEXT NOT NULL, created INTEGER NOT NULL);
     CREATE INDEX packages_nevra ON packages(nevra);
     CREATE TABLE repositories (
         id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL,
         layout TEXT NOT NULL, compression TEXT NOT NULL, retain_versions INTEGER NOT NULL,
         signing_key TEXT, first_version INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE versions (
         repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
         number INTEGER NOT NULL, created INTEGER NOT NULL,
         added INTEGER NOT NULL, removed INTEGER NOT NULL,
         PRIMARY KEY (repository_id, number));
     CREATE TABLE repository_content (
         repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
         package_id INTEGER NOT NULL REFERENCES packages(id),
         version_added INTEGER NOT NULL, version_removed INTEGER);
     CREATE INDEX repository_content_repo ON repository_content(repository_id, version_added);
     CREATE INDEX repository_content_package ON repository_content(package_id);
     CREATE TABLE publications (
         id INTEGER PRIMARY KEY,
         repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
         version INTEGER NOT NULL, created INTEGER NOT NULL, layout TEXT NOT NULL,
         compression TEXT NOT NULL, checksum TEXT NOT NULL, signing_key TEXT,
         revision TEXT NOT NULL);
     CREATE TABLE published_files (
         publication_id INTEGER NOT NULL REFERENCES publications(id) ON DELETE CASCADE,
         relative_path TEXT NOT NULL, sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
         size INTEGER NOT NULL, PRIMARY KEY (publication_id, relative_path));
     CREATE INDEX published_files_sha ON published_files(sha256);
     CREATE TABLE distributions (
         name TEXT PRIMARY KEY, base_path TEXT NOT NULL UNIQUE,
         publication_id INTEGER NOT NULL REFERENCES publications(id));
     CREATE TABLE tree_files (
         target TEXT NOT NULL, relative_path TEXT NOT NULL, sha256 TEXT NOT NULL,
         size INTEGER NOT NULL, retired INTEGER, PRIMARY KEY (target, relative_path));",
    // 2: artifacts verified at a migration's destination (resuming skips them).
    "CREATE TABLE migrated (
         destination TEXT NOT NULL, sha256 TEXT NOT NULL, verified INTEGER NOT NULL,
         PRIMARY KEY (destination, sha256));",
];

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How a publication lays out packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `Packages/<first letter>/<file>` (Pulp's `nested_alphabetically`).
    Nested,
    /// `Packages/<file>`.
    Flat,
}

impl Layout {
    /// The name stored and accepted on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nested => "nested",
            Layout::Flat => "flat",
        }
    }

    /// Parses [`Layout::name`].
    pub fn parse(text: &str) -> Result<Layout> {
        match text {
            "nested" | "nested_alphabetically" => Ok(Layout::Nested),
            "flat" => Ok(Layout::Flat),
            other => Err(Error::Invalid(format!(
                "unknown layout {other:?} (nested or flat)"
            ))),
        }
    }

    /// Where a package file is published.
    pub fn package_path(self, filename: &str) -> String {
        match self {
            Layout::Nested => {
                let first = filename
                    .chars()
                    .next()
                    .map(|c| c.to_lowercase().to_string())
                    .unwrap_or_default();
                format!("Packages/{first}/{filename}")
            }
            Layout::Flat => format!("Packages/{filename}"),
        }
    }
}

/// A repository and its settings.
#[derive(Debug, Clone, Serialize)]
pub struct Repository {
    #[serde(skip)]
    pub id: i64,
    /// Name, e.g. `owner/project/fedora-43-x86_64`.
    pub name: String,
    /// Creation time (seconds since the epoch).
    pub created: i64,
    /// Package layout of its publications.
    pub layout: Layout,
    /// Compression of primary/filelists/other (`zstd`, `gz`, `xz`, `bz2`, `none`).
    pub compression: String,
    /// Versions kept besides those a distribution serves.
    pub retain_versions: i64,
    /// Key that signs repomd.xml, when set.
    pub signing_key: Option<String>,
    /// Oldest version still kept.
    pub first_version: i64,
    /// Newest version.
    pub latest_version: i64,
}

/// Settings of a new repository.
#[derive(Debug, Clone)]
pub struct RepositorySettings {
    pub layout: Layout,
    pub compression: String,
    pub retain_versions: i64,
    pub signing_key: Option<String>,
}

/// A version of a repository.
#[derive(Debug, Clone, Serialize)]
pub struct RepoVersion {
    /// Repository name.
    pub repository: String,
    /// Number, from 0.
    pub number: i64,
    /// Creation time.
    pub created: i64,
    /// Packages added by this version.
    pub added: i64,
    /// Packages removed by this version.
    pub removed: i64,
}

/// A stored RPM package: its identity, its artifact and its repo-core record.
#[derive(Debug, Clone, Serialize)]
pub struct ContentUnit {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    pub epoch: String,
    pub version: String,
    pub release: String,
    pub arch: String,
    /// `name-epoch:version-release.arch`.
    pub nevra: String,
    /// Package checksum (sha256 of the file, as in repodata).
    pub pkgid: String,
    /// Artifact digest.
    pub sha256: String,
    /// File size.
    pub size: u64,
    /// Published file name (`name-version-release.arch.rpm`, as Pulp names uploads).
    pub filename: String,
    /// RPMTAG_BUILDTIME.
    pub time_build: i64,
    /// Source package file name (empty for source packages).
    pub sourcerpm: String,
    /// When the catalog first saw it.
    pub created: i64,
}

/// A package to record: a content unit plus its record as JSON.
#[derive(Debug, Clone)]
pub struct NewPackage {
    pub unit: ContentUnit,
    /// `repo_core::PackageRecord` serialised (with a placeholder location).
    pub record_json: String,
}

/// A publication: one version rendered with given options.
#[derive(Debug, Clone, Serialize)]
pub struct Publication {
    pub id: i64,
    pub repository: String,
    pub version: i64,
    pub created: i64,
    pub layout: Layout,
    pub compression: String,
    pub checksum: String,
    pub signing_key: Option<String>,
    pub revision: String,
}

/// A file of a publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedFile {
    pub relative_path: String,
    pub sha256: String,
    pub size: u64,
}

/// A distribution: a base path served from a publication.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub name: String,
    pub base_path: String,
    pub publication_id: i64,
    pub repository: String,
    pub version: i64,
}

/// A file recorded as present in a materialised tree (`publish --to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    pub relative_path: String,
    pub sha256: String,
    pub size: u64,
    /// When it stopped being part of the tree (kept for the grace period), if it did.
    pub retired: Option<i64>,
}

/// The catalog database.
pub struct Catalog {
    connection: Connection,
}

fn layout_of(text: String) -> rusqlite::Result<Layout> {
    Ok(if text == "flat" {
        Layout::Flat
    } else {
        Layout::Nested
    })
}

const UNIT_COLUMNS: &str = "p.id, p.name, p.epoch, p.version, p.release, p.arch, p.nevra, p.pkgid, \
     p.sha256, p.size, p.filename, p.time_build, p.sourcerpm, p.created";

fn unit_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<ContentUnit> {
    Ok(ContentUnit {
        id: row.get(0)?,
        name: row.get(1)?,
        epoch: row.get(2)?,
        version: row.get(3)?,
        release: row.get(4)?,
        arch: row.get(5)?,
        nevra: row.get(6)?,
        pkgid: row.get(7)?,
        sha256: row.get(8)?,
        size: row.get::<_, i64>(9)? as u64,
        filename: row.get(10)?,
        time_build: row.get(11)?,
        sourcerpm: row.get(12)?,
        created: row.get(13)?,
    })
}

/// Whether `spec` names `unit`: its NEVRA, its NVRA (epoch omitted), or its file name.
fn names_unit(spec: &str, unit: &ContentUnit) -> bool {
    let nvra = format!(
        "{}-{}-{}.{}",
        unit.name, unit.version, unit.release, unit.arch
    );
    spec == unit.nevra || spec == nvra || spec == unit.filename
}

impl Catalog {
    /// Opens (creating and migrating as needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(30))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let mut catalog = Catalog { connection };
        catalog.migrate()?;
        Ok(catalog)
    }

    fn migrate(&mut self) -> Result<()> {
        let applied: i64 = self
            .connection
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if applied as usize > MIGRATIONS.len() {
            return Err(Error::Invalid(format!(
                "catalog schema version {applied} is newer than this rpmdepot knows ({})",
                MIGRATIONS.len()
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let tx = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// A catalog setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a catalog setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.connection.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Creates a repository with its empty version 0.
    pub fn create_repository(
        &mut self,
        name: &str,
        settings: &RepositorySettings,
    ) -> Result<Repository> {
        if name.is_empty()
            || name
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(Error::Invalid(format!(
                "bad repository name {name:?} (slash-separated parts, no spaces, no . or ..)"
            )));
        }
        settings
            .compression
            .parse::<repo_core::Compression>()
            .map_err(|e| Error::Invalid(format!("compression: {e}")))?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx
            .query_row("SELECT 1 FROM repositories WHERE name = ?1", [name], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if exists {
            return Err(Error::Invalid(format!("repository {name} already exists")));
        }
        let created = now();
        tx.execute(
            "INSERT INTO repositories (name, created, layout, compression, retain_versions, signing_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name,
                created,
                settings.layout.name(),
                settings.compression,
                settings.retain_versions,
                settings.signing_key
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO versions (repository_id, number, created, added, removed) VALUES (?1, 0, ?2, 0, 0)",
            params![id, created],
        )?;
        tx.commit()?;
        self.repository(name)
    }

    /// The repository called `name`.
    pub fn repository(&self, name: &str) -> Result<Repository> {
        self.connection
            .query_row(
                "SELECT r.id, r.name, r.created, r.layout, r.compression, r.retain_versions,
                        r.signing_key, r.first_version,
                        (SELECT MAX(number) FROM versions v WHERE v.repository_id = r.id)
                 FROM repositories r WHERE r.name = ?1",
                [name],
                |r| {
                    Ok(Repository {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created: r.get(2)?,
                        layout: layout_of(r.get(3)?)?,
                        compression: r.get(4)?,
                        retain_versions: r.get(5)?,
                        signing_key: r.get(6)?,
                        first_version: r.get(7)?,
                        latest_version: r.get(8)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| Error::Invalid(format!("no repository named {name}")))
    }

    /// Every repository, by name.
    pub fn repositories(&self) -> Result<Vec<Repository>> {
        let names: Vec<String> = self
            .connection
            .prepare("SELECT name FROM repositories ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        names.iter().map(|n| self.repository(n)).collect()
    }

    /// Deletes a repository, its versions and publications; refused while a distribution
    /// serves one of its publications. Content and artifacts stay until `gc`.
    pub fn delete_repository(&mut self, name: &str) -> Result<()> {
        let repo = self.repository(name)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let served: Option<String> = tx
            .query_row(
                "SELECT d.name FROM distributions d JOIN publications p ON p.id = d.publication_id
                 WHERE p.repository_id = ?1 LIMIT 1",
                [repo.id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(distribution) = served {
            return Err(Error::Invalid(format!(
                "repository {name} is served by distribution {distribution}; remove that first"
            )));
        }
        tx.execute("DELETE FROM repositories WHERE id = ?1", [repo.id])?;
        tx.commit()?;
        Ok(())
    }

    /// The versions of a repository, oldest first.
    pub fn versions(&self, repository: &str) -> Result<Vec<RepoVersion>> {
        let repo = self.repository(repository)?;
        let mut statement = self.connection.prepare(
            "SELECT number, created, added, removed FROM versions
             WHERE repository_id = ?1 ORDER BY number",
        )?;
        let rows = statement.query_map([repo.id], |r| {
            Ok(RepoVersion {
                repository: repository.to_owned(),
                number: r.get(0)?,
                created: r.get(1)?,
                added: r.get(2)?,
                removed: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Version `number` (or the latest) of a repository.
    pub fn version(&self, repository: &str, number: Option<i64>) -> Result<RepoVersion> {
        let repo = self.repository(repository)?;
        let number = number.unwrap_or(repo.latest_version);
        self.versions(repository)?
            .into_iter()
            .find(|v| v.number == number)
            .ok_or_else(|| Error::Invalid(format!("{repository} has no version {number}")))
    }

    fn latest_in(tx: &Connection, repository_id: i64) -> Result<i64> {
        Ok(tx.query_row(
            "SELECT MAX(number) FROM versions WHERE repository_id = ?1",
            [repository_id],
            |r| r.get(0),
        )?)
    }

    fn content_in(tx: &Connection, repository_id: i64, number: i64) -> Result<Vec<ContentUnit>> {
        let mut statement = tx.prepare(&format!(
            "SELECT {UNIT_COLUMNS} FROM repository_content c JOIN packages p ON p.id = c.package_id
             WHERE c.repository_id = ?1 AND c.version_added <= ?2
               AND (c.version_removed IS NULL OR c.version_removed > ?2)
             ORDER BY p.filename, p.pkgid"
        ))?;
        let rows = statement.query_map(params![repository_id, number], unit_of)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The packages of version `number` of a repository, by file name.
    pub fn content(&self, repository: &str, number: i64) -> Result<Vec<ContentUnit>> {
        let repo = self.repository(repository)?;
        if number < repo.first_version || number > repo.latest_version {
            return Err(Error::Invalid(format!(
                "{repository} has no version {number}"
            )));
        }
        Catalog::content_in(&self.connection, repo.id, number)
    }

    /// The stored repo-core record (JSON) of a package.
    pub fn record_json(&self, unit_id: i64) -> Result<String> {
        Ok(self.connection.query_row(
            "SELECT record FROM packages WHERE id = ?1",
            [unit_id],
            |r| r.get(0),
        )?)
    }

    /// Records of many packages, by id.
    pub fn records_json(&self, ids: &[i64]) -> Result<HashMap<i64, String>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT record FROM packages WHERE id = ?1")?;
        let mut out = HashMap::with_capacity(ids.len());
        for &id in ids {
            out.insert(id, statement.query_row([id], |r| r.get(0))?);
        }
        Ok(out)
    }

    /// A package already catalogued with this pkgid.
    pub fn unit_by_pkgid(&self, pkgid: &str) -> Result<Option<ContentUnit>> {
        Ok(self
            .connection
            .query_row(
                &format!("SELECT {UNIT_COLUMNS} FROM packages p WHERE p.pkgid = ?1"),
                [pkgid],
                unit_of,
            )
            .optional()?)
    }

    fn new_version(
        tx: &Transaction<'_>,
        repo: &Repository,
        added: &[i64],
        removed: &[i64],
    ) -> Result<Option<RepoVersion>> {
        if added.is_empty() && removed.is_empty() {
            return Ok(None); // like Pulp: a change that changes nothing makes no version
        }
        // Read inside the (immediate) transaction: concurrent writers get distinct numbers.
        let number = Catalog::latest_in(tx, repo.id)? + 1;
        let created = now();
        tx.execute(
            "INSERT INTO versions (repository_id, number, created, added, removed) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![repo.id, number, created, added.len() as i64, removed.len() as i64],
        )?;
        for &id in removed {
            tx.execute(
                "UPDATE repository_content SET version_removed = ?3
                 WHERE repository_id = ?1 AND package_id = ?2 AND version_removed IS NULL",
                params![repo.id, id, number],
            )?;
        }
        for &id in added {
            tx.execute(
                "INSERT INTO repository_content (repository_id, package_id, version_added) VALUES (?1, ?2, ?3)",
                params![repo.id, id, number],
            )?;
        }
        Ok(Some(RepoVersion {
            repository: repo.name.clone(),
            number,
            created,
            added: added.len() as i64,
            removed: removed.len() as i64,
        }))
    }

    /// Adds packages (whose artifacts are already stored) to a repository as one new version.
    /// Same-NEVRA packages among the current content and the new ones are resolved with
    /// repo-core's policy (newest build time, then location; a new package wins a tie): the
    /// losers are not in the new version. Returns `None` when nothing changed.
    pub fn add_packages(
        &mut self,
        repository: &str,
        packages: &[NewPackage],
    ) -> Result<Option<RepoVersion>> {
        let repo = self.repository(repository)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = Catalog::latest_in(&tx, repo.id)?;
        let current = Catalog::content_in(&tx, repo.id, latest)?;
        let mut new_units = Vec::new();
        for package in packages {
            let unit = &package.unit;
            tx.execute(
                "INSERT INTO artifacts (sha256, size, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT(sha256) DO NOTHING",
                params![unit.sha256, unit.size as i64, now()],
            )?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM packages WHERE pkgid = ?1",
                    [&unit.pkgid],
                    |r| r.get(0),
                )
                .optional()?;
            let id = match existing {
                Some(id) => id,
                None => {
                    tx.execute(
                        "INSERT INTO packages (pkgid, sha256, name, epoch, version, release, arch, nevra,
                             filename, size, time_build, sourcerpm, record, created)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                        params![
                            unit.pkgid, unit.sha256, unit.name, unit.epoch, unit.version,
                            unit.release, unit.arch, unit.nevra, unit.filename,
                            unit.size as i64, unit.time_build, unit.sourcerpm,
                            package.record_json, now()
                        ],
                    )?;
                    tx.last_insert_rowid()
                }
            };
            let mut stored = unit.clone();
            stored.id = id;
            new_units.push(stored);
        }
        // Current content first, new after: resolve() keeps the last of equals.
        let current_ids: HashSet<i64> = current.iter().map(|u| u.id).collect();
        let mut candidates: Vec<&ContentUnit> = current.iter().collect();
        let mut seen = current_ids.clone();
        for unit in &new_units {
            if seen.insert(unit.id) {
                candidates.push(unit);
            }
        }
        let keys: Vec<DuplicateKey<'_>> = candidates
            .iter()
            .map(|u| DuplicateKey {
                nevra: &u.nevra,
                time_build: u.time_build,
                location: &u.filename,
            })
            .collect();
        let (_, keep) = resolve(&keys, DuplicatePolicy::KeepLast);
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for (unit, keep) in candidates.iter().zip(keep) {
            match (current_ids.contains(&unit.id), keep) {
                (true, false) => removed.push(unit.id),
                (false, true) => added.push(unit.id),
                _ => {}
            }
        }
        let version = Catalog::new_version(&tx, &repo, &added, &removed)?;
        tx.commit()?;
        Ok(version)
    }

    /// Removes the packages named by `specs` (NEVRA, NVRA or file name) as one new version.
    /// Every spec must name something in the latest version.
    pub fn remove_packages(
        &mut self,
        repository: &str,
        specs: &[String],
    ) -> Result<Option<RepoVersion>> {
        let repo = self.repository(repository)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = Catalog::latest_in(&tx, repo.id)?;
        let current = Catalog::content_in(&tx, repo.id, latest)?;
        let mut removed = Vec::new();
        for spec in specs {
            let matching: Vec<i64> = current
                .iter()
                .filter(|u| names_unit(spec, u))
                .map(|u| u.id)
                .collect();
            if matching.is_empty() {
                return Err(Error::Invalid(format!(
                    "{repository} version {latest} has no package {spec}"
                )));
            }
            removed.extend(matching);
        }
        removed.sort_unstable();
        removed.dedup();
        let version = Catalog::new_version(&tx, &repo, &[], &removed)?;
        tx.commit()?;
        Ok(version)
    }

    /// Removes packages by id as one new version (pruning).
    pub fn remove_units(&mut self, repository: &str, ids: &[i64]) -> Result<Option<RepoVersion>> {
        let repo = self.repository(repository)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = Catalog::new_version(&tx, &repo, &[], ids)?;
        tx.commit()?;
        Ok(version)
    }

    /// Drops the oldest versions beyond the repository's `retain_versions`, except those a
    /// distribution serves (and everything newer than the oldest of those). Returns how
    /// many versions were dropped.
    pub fn drop_old_versions(&mut self, repository: &str) -> Result<i64> {
        let repo = self.repository(repository)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let served: Option<i64> = tx.query_row(
            "SELECT MIN(p.version) FROM distributions d JOIN publications p ON p.id = d.publication_id
             WHERE p.repository_id = ?1",
            [repo.id],
            |r| r.get(0),
        )?;
        let mut cutoff = (repo.latest_version - repo.retain_versions.max(1) + 1).max(0);
        if let Some(served) = served {
            cutoff = cutoff.min(served);
        }
        if cutoff <= repo.first_version {
            return Ok(0);
        }
        tx.execute(
            "DELETE FROM publications WHERE repository_id = ?1 AND version < ?2",
            params![repo.id, cutoff],
        )?;
        tx.execute(
            "DELETE FROM repository_content WHERE repository_id = ?1
             AND version_removed IS NOT NULL AND version_removed <= ?2",
            params![repo.id, cutoff],
        )?;
        let dropped = tx.execute(
            "DELETE FROM versions WHERE repository_id = ?1 AND number < ?2",
            params![repo.id, cutoff],
        )?;
        tx.execute(
            "UPDATE repositories SET first_version = ?2 WHERE id = ?1",
            params![repo.id, cutoff],
        )?;
        tx.commit()?;
        Ok(dropped as i64)
    }

    /// Records a publication and its files (metadata artifacts must already be stored).
    pub fn create_publication(
        &mut self,
        repo: &Repository,
        version: i64,
        checksum: &str,
        revision: &str,
        files: &[PublishedFile],
    ) -> Result<Publication> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let created = now();
        tx.execute(
            "INSERT INTO publications (repository_id, version, created, layout, compression, checksum, signing_key, revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![repo.id, version, created, repo.layout.name(), repo.compression, checksum, repo.signing_key, revision],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut artifact = tx.prepare(
                "INSERT INTO artifacts (sha256, size, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT(sha256) DO NOTHING",
            )?;
            let mut file = tx.prepare(
                "INSERT INTO published_files (publication_id, relative_path, sha256, size) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for f in files {
                artifact.execute(params![f.sha256, f.size as i64, created])?;
                file.execute(params![id, f.relative_path, f.sha256, f.size as i64])?;
            }
        }
        tx.commit()?;
        self.publication(id)
    }

    /// A publication by id.
    pub fn publication(&self, id: i64) -> Result<Publication> {
        self.connection
            .query_row(
                "SELECT p.id, r.name, p.version, p.created, p.layout, p.compression, p.checksum,
                        p.signing_key, p.revision
                 FROM publications p JOIN repositories r ON r.id = p.repository_id WHERE p.id = ?1",
                [id],
                |r| {
                    Ok(Publication {
                        id: r.get(0)?,
                        repository: r.get(1)?,
                        version: r.get(2)?,
                        created: r.get(3)?,
                        layout: layout_of(r.get(4)?)?,
                        compression: r.get(5)?,
                        checksum: r.get(6)?,
                        signing_key: r.get(7)?,
                        revision: r.get(8)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| Error::Invalid(format!("no publication {id}")))
    }

    /// The newest publication of a repository (optionally of one version).
    pub fn latest_publication(
        &self,
        repository: &str,
        version: Option<i64>,
    ) -> Result<Option<Publication>> {
        let repo = self.repository(repository)?;
        let id: Option<i64> = self.connection.query_row(
            "SELECT MAX(id) FROM publications WHERE repository_id = ?1 AND (?2 IS NULL OR version = ?2)",
            params![repo.id, version],
            |r| r.get(0),
        )?;
        id.map(|id| self.publication(id)).transpose()
    }

    /// The files of a publication, by path.
    pub fn published_files(&self, publication: i64) -> Result<Vec<PublishedFile>> {
        let mut statement = self.connection.prepare(
            "SELECT relative_path, sha256, size FROM published_files
             WHERE publication_id = ?1 ORDER BY relative_path",
        )?;
        let rows = statement.query_map([publication], |r| {
            Ok(PublishedFile {
                relative_path: r.get(0)?,
                sha256: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One file of a publication.
    pub fn published_file(&self, publication: i64, path: &str) -> Result<Option<PublishedFile>> {
        Ok(self
            .connection
            .prepare_cached(
                "SELECT relative_path, sha256, size FROM published_files
                 WHERE publication_id = ?1 AND relative_path = ?2",
            )?
            .query_row(params![publication, path], |r| {
                Ok(PublishedFile {
                    relative_path: r.get(0)?,
                    sha256: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()?)
    }

    /// A file of an older publication of the same repository as `publication`, newest first:
    /// a client that read the previous repomd.xml just before a distribution moved still
    /// finds the files it names (metadata names carry their checksum, so any match is right).
    pub fn earlier_published_file(
        &self,
        publication: i64,
        path: &str,
    ) -> Result<Option<PublishedFile>> {
        Ok(self
            .connection
            .prepare_cached(
                "SELECT f.relative_path, f.sha256, f.size FROM published_files f
                 JOIN publications p ON p.id = f.publication_id
                 WHERE p.repository_id = (SELECT repository_id FROM publications WHERE id = ?1)
                   AND p.id < ?1 AND f.relative_path = ?2
                 ORDER BY p.id DESC LIMIT 1",
            )?
            .query_row(params![publication, path], |r| {
                Ok(PublishedFile {
                    relative_path: r.get(0)?,
                    sha256: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()?)
    }

    /// Points distribution `name` at `base_path` and a publication (creating or updating it).
    /// Base paths do not nest, as in Pulp.
    pub fn distribute(&mut self, name: &str, base_path: &str, publication: i64) -> Result<()> {
        let base_path = base_path.trim_matches('/');
        if base_path.is_empty()
            || base_path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            || base_path.chars().any(|c| c.is_control() || c == '\\')
        {
            return Err(Error::Invalid(format!("bad base path {base_path:?}")));
        }
        self.publication(publication)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut statement =
                tx.prepare("SELECT name, base_path FROM distributions WHERE name != ?1")?;
            let others = statement.query_map([name], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            for other in others {
                let (other_name, other_path) = other?;
                let nested = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
                if nested(base_path, &other_path) || nested(&other_path, base_path) {
                    return Err(Error::Invalid(format!(
                        "base path {base_path} overlaps {other_path} of distribution {other_name}"
                    )));
                }
            }
        }
        tx.execute(
            "INSERT INTO distributions (name, base_path, publication_id) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET base_path = excluded.base_path,
                 publication_id = excluded.publication_id",
            params![name, base_path, publication],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a distribution.
    pub fn delete_distribution(&mut self, name: &str) -> Result<()> {
        if self
            .connection
            .execute("DELETE FROM distributions WHERE name = ?1", [name])?
            == 0
        {
            return Err(Error::Invalid(format!("no distribution named {name}")));
        }
        Ok(())
    }

    /// Every distribution, by name.
    pub fn distributions(&self) -> Result<Vec<Distribution>> {
        let mut statement = self.connection.prepare(
            "SELECT d.name, d.base_path, d.publication_id, r.name, p.version
             FROM distributions d JOIN publications p ON p.id = d.publication_id
             JOIN repositories r ON r.id = p.repository_id ORDER BY d.name",
        )?;
        let rows = statement.query_map([], |r| {
            Ok(Distribution {
                name: r.get(0)?,
                base_path: r.get(1)?,
                publication_id: r.get(2)?,
                repository: r.get(3)?,
                version: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The distribution whose base path starts `path`, and the rest of the path.
    pub fn resolve_path(&self, path: &str) -> Result<Option<(i64, String)>> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT publication_id FROM distributions WHERE base_path = ?1")?;
        // Base paths do not nest: the first match from the longest prefix is the only one.
        let mut end = path.len();
        loop {
            let prefix = &path[..end];
            if let Some(id) = statement
                .query_row([prefix], |r| r.get::<_, i64>(0))
                .optional()?
            {
                let rest = path[end..].trim_start_matches('/').to_owned();
                return Ok(Some((id, rest)));
            }
            match prefix.rfind('/') {
                Some(i) => end = i,
                None => return Ok(None),
            }
        }
    }

    /// Every artifact digest something still references: a package in any kept version, or a
    /// publication's file.
    pub fn referenced_artifacts(&self) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for sql in [
            "SELECT DISTINCT p.sha256 FROM packages p JOIN repository_content c ON c.package_id = p.id",
            "SELECT DISTINCT sha256 FROM published_files",
        ] {
            let mut statement = self.connection.prepare(sql)?;
            for row in statement.query_map([], |r| r.get::<_, String>(0))? {
                out.insert(row?);
            }
        }
        Ok(out)
    }

    /// Whether a kept version or a publication references `digest` now.
    pub fn referenced_artifacts_contains(&self, digest: &str) -> Result<bool> {
        Ok(self
            .connection
            .query_row(
                "SELECT 1 FROM packages p JOIN repository_content c ON c.package_id = p.id
                 WHERE p.sha256 = ?1 UNION SELECT 1 FROM published_files WHERE sha256 = ?1",
                [digest],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false))
    }

    /// Every artifact the catalog knows, with size and creation time.
    pub fn artifacts(&self) -> Result<Vec<(String, u64, i64)>> {
        let mut statement = self
            .connection
            .prepare("SELECT sha256, size, created FROM artifacts ORDER BY sha256")?;
        let rows = statement.query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Forgets packages no repository holds any more and the artifact rows of `digests`
    /// (which the caller has checked are unreferenced).
    pub fn forget_artifacts(&mut self, digests: &[String]) -> Result<usize> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM packages WHERE id NOT IN (SELECT package_id FROM repository_content)",
            [],
        )?;
        let mut count = 0;
        for digest in digests {
            let used: bool = tx
                .query_row(
                    "SELECT 1 FROM packages WHERE sha256 = ?1
                     UNION SELECT 1 FROM published_files WHERE sha256 = ?1",
                    [digest],
                    |_| Ok(true),
                )
                .optional()?
                .unwrap_or(false);
            if !used {
                count += tx.execute("DELETE FROM artifacts WHERE sha256 = ?1", [digest])?;
            }
        }
        tx.commit()?;
        Ok(count)
    }

    /// Files recorded for a materialised tree.
    pub fn tree_files(&self, target: &str) -> Result<Vec<TreeFile>> {
        let mut statement = self.connection.prepare(
            "SELECT relative_path, sha256, size, retired FROM tree_files WHERE target = ?1
             ORDER BY relative_path",
        )?;
        let rows = statement.query_map([target], |r| {
            Ok(TreeFile {
                relative_path: r.get(0)?,
                sha256: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                retired: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that a tree now holds a file (and that it is live).
    pub fn record_tree_file(&self, target: &str, file: &PublishedFile) -> Result<()> {
        self.connection
            .prepare_cached(
                "INSERT INTO tree_files (target, relative_path, sha256, size, retired)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT(target, relative_path) DO UPDATE SET sha256 = excluded.sha256,
                     size = excluded.size, retired = NULL",
            )?
            .execute(params![
                target,
                file.relative_path,
                file.sha256,
                file.size as i64
            ])?;
        Ok(())
    }

    /// Marks tree files as no longer published (at `when`, unless already marked).
    pub fn retire_tree_files(&mut self, target: &str, paths: &[String], when: i64) -> Result<()> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for path in paths {
            tx.execute(
                "UPDATE tree_files SET retired = ?3
                 WHERE target = ?1 AND relative_path = ?2 AND retired IS NULL",
                params![target, path, when],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a tree file (after deleting it).
    pub fn forget_tree_file(&self, target: &str, path: &str) -> Result<()> {
        self.connection.execute(
            "DELETE FROM tree_files WHERE target = ?1 AND relative_path = ?2",
            params![target, path],
        )?;
        Ok(())
    }

    /// Digests verified at a migration destination.
    pub fn migrated(&self, destination: &str) -> Result<HashSet<String>> {
        let mut statement = self
            .connection
            .prepare("SELECT sha256 FROM migrated WHERE destination = ?1")?;
        let rows = statement.query_map([destination], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records digests as verified at a migration destination.
    pub fn record_migrated(&mut self, destination: &str, digests: &[String]) -> Result<()> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for digest in digests {
            tx.execute(
                "INSERT OR REPLACE INTO migrated (destination, sha256, verified) VALUES (?1, ?2, ?3)",
                params![destination, digest, now()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one transaction (for bulk tree bookkeeping).
    pub fn in_transaction<T>(&mut self, f: impl FnOnce(&Catalog) -> Result<T>) -> Result<T> {
        self.connection.execute_batch("BEGIN")?;
        match f(self) {
            Ok(value) => {
                self.connection.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(err) => {
                let _ = self.connection.execute_batch("ROLLBACK");
                Err(err)
            }
        }
    }
}
