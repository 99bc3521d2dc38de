//! The three yum sqlite databases (`primary.sqlite`, `filelists.sqlite`, `other.sqlite`,
//! `database_version` 10) as createrepo_c's `sqlite.c` builds them (research notes,
//! createrepo.md §3.6).
//!
//! Owns: the schema text (byte for byte, so `sqlite_master` compares equal), the build pragmas,
//! the single transaction per database, the column value rules (which empty values become NULL),
//! the filelists packing (one row per package directory, rows in the order GLib's `GHashTable`
//! iterates them) and `db_info`.
//! Must not: compress the databases, compute checksums or decide which packages are written.
//!
//! Value rules, column by column, as createrepo_c binds them:
//! * `packages.description`: NULL when empty (the header reader stores an empty description
//!   as NULL); `url`, `rpm_packager`, `location_base`: NULL when empty (`force_null`);
//!   `rpm_vendor`, `rpm_sourcerpm`: always text, `''` when empty (`prevent_null`); every other
//!   text column is bound as it is (`''` when empty).
//! * `epoch` is TEXT; `time_file`, `time_build`, `rpm_header_start`, `rpm_header_end`,
//!   `changelog.date` go through `sqlite3_bind_int` (a C `int`: wrapped to 32 bits); the three
//!   sizes are 64-bit.
//! * Dependencies: `flags`, `epoch`, `version`, `release` are NULL when absent;
//!   `requires.pre` is the text `'TRUE'` or `'FALSE'`.
//! * primary's `files` holds only primary files, typed `file`, `dir` or `ghost`.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use crate::error::{Error, Result};
use crate::record::{Dependency, FileKind, PackageRecord, is_primary_file};

/// `CR_DB_CACHE_DBVERSION`: the version written into `db_info`.
pub const DATABASE_VERSION: i32 = 10;

/// Statements run right after opening, inside the open transaction (`db_tweak`).
const PRAGMAS: &str = "PRAGMA synchronous = OFF;\
                       PRAGMA journal_mode = MEMORY;\
                       PRAGMA temp_store = MEMORY;";

const CREATE_DB_INFO: &str = "CREATE TABLE db_info (dbversion INTEGER, checksum TEXT)";

const PRIMARY_TABLES: &[&str] = &[
    concat!(
        "CREATE TABLE packages (",
        "  pkgKey INTEGER PRIMARY KEY,",
        "  pkgId TEXT,",
        "  name TEXT,",
        "  arch TEXT,",
        "  version TEXT,",
        "  epoch TEXT,",
        "  release TEXT,",
        "  summary TEXT,",
        "  description TEXT,",
        "  url TEXT,",
        "  time_file INTEGER,",
        "  time_build INTEGER,",
        "  rpm_license TEXT,",
        "  rpm_vendor TEXT,",
        "  rpm_group TEXT,",
        "  rpm_buildhost TEXT,",
        "  rpm_sourcerpm TEXT,",
        "  rpm_header_start INTEGER,",
        "  rpm_header_end INTEGER,",
        "  rpm_packager TEXT,",
        "  size_package INTEGER,",
        "  size_installed INTEGER,",
        "  size_archive INTEGER,",
        "  location_href TEXT,",
        "  location_base TEXT,",
        "  checksum_type TEXT)"
    ),
    "CREATE TABLE files (  name TEXT,  type TEXT,  pkgKey INTEGER)",
    concat!(
        "CREATE TABLE requires (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER , pre BOOLEAN DEFAULT FALSE)"
    ),
    concat!(
        "CREATE TABLE provides (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE conflicts (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE obsoletes (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE suggests (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE enhances (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE recommends (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TABLE supplements (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,",
        "  release TEXT,  pkgKey INTEGER )"
    ),
    concat!(
        "CREATE TRIGGER removals AFTER DELETE ON packages",
        "  BEGIN",
        "    DELETE FROM files WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM requires WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM provides WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM conflicts WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM obsoletes WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM suggests WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM enhances WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM recommends WHERE pkgKey = old.pkgKey;",
        "    DELETE FROM supplements WHERE pkgKey = old.pkgKey;",
        "  END;"
    ),
];

const FILELISTS_TABLES: &[&str] = &[
    "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT)",
    "CREATE TABLE filelist (  pkgKey INTEGER,  dirname TEXT,  filenames TEXT,  filetypes TEXT)",
    concat!(
        "CREATE TRIGGER remove_filelist AFTER DELETE ON packages",
        "  BEGIN",
        "    DELETE FROM filelist WHERE pkgKey = old.pkgKey;",
        "  END;"
    ),
];

const OTHER_TABLES: &[&str] = &[
    "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT)",
    "CREATE TABLE changelog (  pkgKey INTEGER,  author TEXT,  date INTEGER,  changelog TEXT)",
    concat!(
        "CREATE TRIGGER remove_changelogs AFTER DELETE ON packages",
        "  BEGIN",
        "    DELETE FROM changelog WHERE pkgKey = old.pkgKey;",
        "  END;"
    ),
];

/// Indexes, created when the database is finished (`db_index_*_tables`).
const PRIMARY_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS packagename ON packages (name)",
    "CREATE INDEX IF NOT EXISTS packageId ON packages (pkgId)",
    "CREATE INDEX IF NOT EXISTS filenames ON files (name)",
    "CREATE INDEX IF NOT EXISTS pkgfiles ON files (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgrequires on requires (pkgKey)",
    "CREATE INDEX IF NOT EXISTS requiresname ON requires (name)",
    "CREATE INDEX IF NOT EXISTS pkgprovides on provides (pkgKey)",
    "CREATE INDEX IF NOT EXISTS providesname ON provides (name)",
    "CREATE INDEX IF NOT EXISTS pkgconflicts on conflicts (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgobsoletes on obsoletes (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgsuggests on suggests (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgenhances on enhances (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgrecommends on recommends (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgsupplements on supplements (pkgKey)",
];

const FILELISTS_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS keyfile ON filelist (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgId ON packages (pkgId)",
    "CREATE INDEX IF NOT EXISTS dirnames ON filelist (dirname)",
];

const OTHER_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS keychange ON changelog (pkgKey)",
    "CREATE INDEX IF NOT EXISTS pkgId ON packages (pkgId)",
];

const INSERT_PACKAGE: &str = concat!(
    "INSERT INTO packages (",
    "  pkgId, name, arch, version, epoch, release, summary, description,",
    "  url, time_file, time_build, rpm_license, rpm_vendor, rpm_group,",
    "  rpm_buildhost, rpm_sourcerpm, rpm_header_start, rpm_header_end,",
    "  rpm_packager, size_package, size_installed, size_archive,",
    "  location_href, location_base, checksum_type) ",
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,",
    "  ?, ?, ?, ?, ?, ?, ?)"
);
const INSERT_REQUIRES: &str = "INSERT INTO requires (name, flags, epoch, version, release, \
                               pkgKey, pre) VALUES (?, ?, ?, ?, ?, ?, ?)";
const INSERT_FILE: &str = "INSERT INTO files (name, type, pkgKey) VALUES (?, ?, ?)";
const INSERT_PACKAGE_ID: &str = "INSERT INTO packages (pkgId) VALUES (?)";
const INSERT_FILELIST: &str =
    "INSERT INTO filelist (pkgKey, dirname, filenames, filetypes)  VALUES (?, ?, ?, ?)";
const INSERT_CHANGELOG: &str =
    "INSERT INTO changelog (pkgKey, author, date, changelog)  VALUES (?, ?, ?, ?)";
const INSERT_DB_INFO: &str = "INSERT INTO db_info (dbversion, checksum) VALUES (?, ?)";

/// Insert statement of a dependency table without the `pre` column.
fn insert_dependency_sql(table: &str) -> String {
    format!("INSERT INTO {table} (name, flags, epoch, version, release, pkgKey) VALUES (?, ?, ?, ?, ?, ?)")
}

/// One open database file.
struct Database {
    path: PathBuf,
    conn: Connection,
}

impl Database {
    /// Creates the file (it must not exist), opens it, starts the build transaction, applies
    /// the pragmas and creates `db_info` and `tables`, in createrepo_c's order.
    fn create(path: PathBuf, tables: &[&str]) -> Result<Database> {
        // createrepo_c treats an empty file as a new database; creating it here first makes
        // "must not exist" atomic.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(&path, flags) {
            Ok(conn) => conn,
            Err(source) => return Err(Error::Sqlite { path, source }),
        };
        let db = Database { path, conn };
        db.conn.execute_batch("BEGIN").map_err(db.error())?;
        db.conn.execute_batch(PRAGMAS).map_err(db.error())?;
        db.conn.execute_batch(CREATE_DB_INFO).map_err(db.error())?;
        for sql in tables {
            db.conn.execute_batch(sql).map_err(db.error())?;
        }
        Ok(db)
    }

    /// Maps a rusqlite error to ours, naming this database.
    fn error(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Inserts `pkgId` into the `packages` table of filelists/other; returns the pkgKey.
    fn insert_package_id(&self, pkgid: &str) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached(INSERT_PACKAGE_ID).map_err(self.error())?;
        stmt.execute([pkgid]).map_err(self.error())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Replaces the content of `db_info` by (10, checksum) (`cr_db_dbinfo_update`).
    fn write_db_info(&self, checksum: &str) -> Result<()> {
        self.conn
            .execute_batch("DELETE FROM db_info")
            .map_err(self.error())?;
        self.conn
            .execute(INSERT_DB_INFO, params![DATABASE_VERSION, checksum])
            .map_err(self.error())?;
        Ok(())
    }

    /// Creates the indexes, commits and closes (`cr_db_close`); returns the path.
    fn close(self, indexes: &[&str]) -> Result<PathBuf> {
        for sql in indexes {
            self.conn.execute_batch(sql).map_err(self.error())?;
        }
        self.conn.execute_batch("COMMIT").map_err(self.error())?;
        let Database { path, conn } = self;
        match conn.close() {
            Ok(()) => Ok(path),
            Err((_, source)) => Err(Error::Sqlite { path, source }),
        }
    }
}

/// The three databases of one repository, written while the packages are added.
///
/// Everything goes into one transaction per database, committed by [`RepoDatabases::finish`].
/// Dropping the value without finishing rolls the databases back; the files stay behind
/// (empty or partial) for the caller to remove. After an error from [`RepoDatabases::add`]
/// the databases may hold part of that package: do not finish them.
pub struct RepoDatabases {
    primary: Database,
    filelists: Database,
    other: Database,
}

impl RepoDatabases {
    /// Creates primary.sqlite, filelists.sqlite and other.sqlite in `dir` (files must not exist).
    ///
    /// On error, the files this call created are removed again.
    pub fn create(dir: &Path) -> Result<RepoDatabases> {
        let mut created: Vec<PathBuf> = Vec::with_capacity(3);
        let result = (|| -> Result<RepoDatabases> {
            let mut open = |name: &str, tables: &[&str]| {
                let path = dir.join(name);
                let db = Database::create(path.clone(), tables);
                if !matches!(&db, Err(Error::Io { .. })) {
                    created.push(path);
                }
                db
            };
            Ok(RepoDatabases {
                primary: open("primary.sqlite", PRIMARY_TABLES)?,
                filelists: open("filelists.sqlite", FILELISTS_TABLES)?,
                other: open("other.sqlite", OTHER_TABLES)?,
            })
        })();
        if result.is_err() {
            for path in &created {
                let _ = fs::remove_file(path);
            }
        }
        result
    }

    /// Adds one package to all three databases (pkgKey = insertion order starting at 1).
    pub fn add(&mut self, record: &PackageRecord) -> Result<()> {
        self.add_primary(record)?;
        self.add_filelists(record)?;
        self.add_other(record)
    }

    /// Writes db_info (dbversion 10 + the checksum of the matching compressed XML file, as
    /// repomd.xml lists it), creates the indexes, commits and closes. Returns the three paths in
    /// the order primary, filelists, other.
    pub fn finish(
        self,
        primary_xml_checksum: &str,
        filelists_xml_checksum: &str,
        other_xml_checksum: &str,
    ) -> Result<[PathBuf; 3]> {
        let RepoDatabases {
            primary,
            filelists,
            other,
        } = self;
        primary.write_db_info(primary_xml_checksum)?;
        filelists.write_db_info(filelists_xml_checksum)?;
        other.write_db_info(other_xml_checksum)?;
        Ok([
            primary.close(PRIMARY_INDEXES)?,
            filelists.close(FILELISTS_INDEXES)?,
            other.close(OTHER_INDEXES)?,
        ])
    }

    /// `cr_db_add_primary_pkg`: the package row, its dependencies, its primary files.
    fn add_primary(&self, r: &PackageRecord) -> Result<()> {
        let db = &self.primary;
        let mut stmt = db.conn.prepare_cached(INSERT_PACKAGE).map_err(db.error())?;
        stmt.execute(params![
            r.pkgid,
            r.name,
            r.arch,
            r.version,
            r.epoch,
            r.release,
            r.summary,
            null_if_empty(&r.description),
            null_if_empty(&r.url),
            c_int(r.time_file),
            c_int(r.time_build),
            r.license,
            r.vendor,
            r.group,
            r.buildhost,
            r.sourcerpm,
            c_int(r.header_start as i64),
            c_int(r.header_end as i64),
            null_if_empty(&r.packager),
            r.size_package as i64,
            r.size_installed as i64,
            r.size_archive as i64,
            r.location_href,
            r.location_base.as_deref().and_then(null_if_empty),
            r.checksum_type,
        ])
        .map_err(db.error())?;
        drop(stmt);
        let pkg_key = db.conn.last_insert_rowid();

        // createrepo_c's order: provides, conflicts, obsoletes, requires, weak dependencies.
        let lists: [(&str, &[Dependency]); 8] = [
            ("provides", &r.provides),
            ("conflicts", &r.conflicts),
            ("obsoletes", &r.obsoletes),
            ("requires", &r.requires),
            ("suggests", &r.suggests),
            ("enhances", &r.enhances),
            ("recommends", &r.recommends),
            ("supplements", &r.supplements),
        ];
        for (table, deps) in lists {
            if deps.is_empty() {
                continue;
            }
            if table == "requires" {
                let mut stmt = db.conn.prepare_cached(INSERT_REQUIRES).map_err(db.error())?;
                for d in deps {
                    let pre = if d.pre { "TRUE" } else { "FALSE" };
                    stmt.execute(params![d.name, d.flags, d.epoch, d.version, d.release, pkg_key, pre])
                        .map_err(db.error())?;
                }
            } else {
                let sql = insert_dependency_sql(table);
                let mut stmt = db.conn.prepare_cached(&sql).map_err(db.error())?;
                for d in deps {
                    stmt.execute(params![d.name, d.flags, d.epoch, d.version, d.release, pkg_key])
                        .map_err(db.error())?;
                }
            }
        }

        let mut stmt = None;
        let mut path = String::new();
        for file in &r.files {
            path.clear();
            path.push_str(&file.dirname);
            path.push_str(&file.basename);
            if !is_primary_file(&path) {
                continue;
            }
            let kind = match file.kind {
                FileKind::File => "file",
                FileKind::Dir => "dir",
                FileKind::Ghost => "ghost",
            };
            let stmt = match &mut stmt {
                Some(stmt) => stmt,
                None => stmt.insert(db.conn.prepare_cached(INSERT_FILE).map_err(db.error())?),
            };
            stmt.execute(params![path, kind, pkg_key])
                .map_err(db.error())?;
        }
        Ok(())
    }

    /// `cr_db_add_filelists_pkg`: the package id and one row per directory.
    fn add_filelists(&self, r: &PackageRecord) -> Result<()> {
        let db = &self.filelists;
        let pkg_key = db.insert_package_id(&r.pkgid)?;
        if r.files.is_empty() {
            return Ok(());
        }
        let mut stmt = db.conn.prepare_cached(INSERT_FILELIST).map_err(db.error())?;
        for dir in pack_filelist(r) {
            stmt.execute(params![pkg_key, dir.dirname(), dir.filenames, dir.filetypes])
                .map_err(db.error())?;
        }
        Ok(())
    }

    /// `cr_db_add_other_pkg`: the package id and its changelog entries, oldest first.
    fn add_other(&self, r: &PackageRecord) -> Result<()> {
        let db = &self.other;
        let pkg_key = db.insert_package_id(&r.pkgid)?;
        if r.changelogs.is_empty() {
            return Ok(());
        }
        let mut stmt = db.conn.prepare_cached(INSERT_CHANGELOG).map_err(db.error())?;
        for entry in &r.changelogs {
            stmt.execute(params![pkg_key, entry.author, c_int(entry.date), entry.text])
                .map_err(db.error())?;
        }
        Ok(())
    }
}

/// `force_null` (and the empty-description rule): an empty string is stored as NULL.
fn null_if_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// What `sqlite3_bind_int` makes of createrepo_c's 64-bit values: a C `int`, so the value wraps
/// to 32 bits (e.g. a time after 2038 is stored negative).
fn c_int(value: i64) -> i32 {
    value as i32
}

/// The files of one directory of a package, packed as a filelist row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackedDir<'a> {
    /// The directory as the package stores it (`/usr/bin/`), the grouping key.
    key: &'a str,
    /// Basenames joined with `/`; an empty basename is written as `/`.
    filenames: String,
    /// One character per file: `f`, `d` or `g`.
    filetypes: String,
}

impl PackedDir<'_> {
    /// The `dirname` column: the key without trailing slashes (a key of only slashes keeps
    /// one), `.` for an empty key.
    fn dirname(&self) -> &str {
        let trimmed = self.key.trim_end_matches('/');
        if trimmed.is_empty() {
            if self.key.is_empty() { "." } else { "/" }
        } else {
            trimmed
        }
    }
}

/// Groups the files of a package by their directory string (exactly as stored, so `/a/` and
/// `/a` would be two groups, as in createrepo_c) and returns the groups in the order
/// createrepo_c writes them: the iteration order of its `GHashTable` keyed by that string.
fn pack_filelist(record: &PackageRecord) -> Vec<PackedDir<'_>> {
    let mut table = GHashOrder::new();
    let mut dirs: Vec<PackedDir<'_>> = Vec::new();
    for file in &record.files {
        let index = table.find_or_insert(&file.dirname, |i| dirs[i].key, dirs.len());
        if index == dirs.len() {
            dirs.push(PackedDir {
                key: &file.dirname,
                filenames: String::new(),
                filetypes: String::new(),
            });
        }
        let dir = &mut dirs[index];
        if !dir.filenames.is_empty() {
            dir.filenames.push('/');
        }
        if file.basename.is_empty() {
            dir.filenames.push('/');
        } else {
            dir.filenames.push_str(&file.basename);
        }
        dir.filetypes.push(match file.kind {
            FileKind::File => 'f',
            FileKind::Dir => 'd',
            FileKind::Ghost => 'g',
        });
    }
    let mut ordered: Vec<Option<PackedDir<'_>>> = dirs.into_iter().map(Some).collect();
    table
        .iteration_order()
        .filter_map(|i| ordered.get_mut(i).and_then(Option::take))
        .collect()
}

/// GLib's `g_str_hash` (djb2 over *signed* chars).
fn g_str_hash(key: &str) -> u32 {
    key.bytes().fold(5381u32, |h, b| {
        (h << 5)
            .wrapping_add(h)
            .wrapping_add(i32::from(b as i8) as u32)
    })
}

/// GLib's table of prime moduli, indexed by the table's shift.
const PRIME_MOD: [u32; 32] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
    268435399, 536870909, 1073741789, 2147483647,
];
const MIN_SHIFT: u32 = 3;

/// The slot layout of a GLib `GHashTable` (2.40 and later: open addressing, quadratic probing,
/// `hash * 11 % prime` start, in-place resize) under insertions only, so its iteration order
/// can be reproduced. Entries are identified by their insertion index.
struct GHashOrder {
    /// Stored hash per slot; 0 marks an unused slot (real hashes are >= 2).
    hashes: Vec<u32>,
    /// Insertion index of the entry in each used slot.
    entries: Vec<usize>,
    modulus: u32,
    mask: u32,
    nnodes: u32,
}

impl GHashOrder {
    fn new() -> Self {
        let size = 1usize << MIN_SHIFT;
        GHashOrder {
            hashes: vec![0; size],
            entries: vec![0; size],
            modulus: PRIME_MOD[MIN_SHIFT as usize],
            mask: (size - 1) as u32,
            nnodes: 0,
        }
    }

    fn start_index(&self, hash: u32) -> u32 {
        hash.wrapping_mul(11) % self.modulus
    }

    /// Returns the insertion index of `key`, inserting it as entry `next` when absent
    /// (`key_of` gives the key of an existing entry).
    fn find_or_insert<'k>(&mut self, key: &str, key_of: impl Fn(usize) -> &'k str, next: usize) -> usize {
        let hash = g_str_hash(key).max(2);
        let mut index = self.start_index(hash);
        let mut step = 0;
        while self.hashes[index as usize] != 0 {
            let slot = index as usize;
            if self.hashes[slot] == hash && key_of(self.entries[slot]) == key {
                return self.entries[slot];
            }
            step += 1;
            index = (index + step) & self.mask;
        }
        self.hashes[index as usize] = hash;
        self.entries[index as usize] = next;
        self.nnodes += 1;
        self.maybe_resize();
        next
    }

    /// `g_hash_table_maybe_resize` (without removals, `noccupied == nnodes`).
    fn maybe_resize(&mut self) {
        let size = self.hashes.len() as u32;
        let occupied = self.nnodes;
        if (size > 1 << MIN_SHIFT && (size - 1) / 4 >= self.nnodes)
            || size <= occupied + occupied / 16
        {
            self.resize();
        }
    }

    /// `g_hash_table_resize`: the in-place rehash that decides the new slot of every entry.
    fn resize(&mut self) {
        let old_size = self.hashes.len();
        let wanted = self.nnodes + self.nnodes / 3;
        let shift = (u32::BITS - wanted.leading_zeros()).max(MIN_SHIFT);
        let new_size = 1usize << shift;
        self.modulus = PRIME_MOD[shift as usize];
        self.mask = (new_size - 1) as u32;
        if new_size > old_size {
            self.hashes.resize(new_size, 0);
            self.entries.resize(new_size, 0);
        }
        let mut placed = vec![false; new_size.max(old_size)];
        for i in 0..old_size {
            let mut hash = self.hashes[i];
            if hash < 2 {
                self.hashes[i] = 0;
                continue;
            }
            if placed[i] {
                continue;
            }
            self.hashes[i] = 0;
            let mut entry = self.entries[i];
            loop {
                let mut index = self.start_index(hash);
                let mut step = 0;
                while placed[index as usize] {
                    step += 1;
                    index = (index + step) & self.mask;
                }
                let slot = index as usize;
                placed[slot] = true;
                let replaced = std::mem::replace(&mut self.hashes[slot], hash);
                if replaced < 2 {
                    self.entries[slot] = entry;
                    break;
                }
                hash = replaced;
                entry = std::mem::replace(&mut self.entries[slot], entry);
            }
        }
        if new_size < old_size {
            self.hashes.truncate(new_size);
            self.entries.truncate(new_size);
        }
    }

    /// Insertion indexes in `GHashTableIter` order (slot order).
    fn iteration_order(&self) -> impl Iterator<Item = usize> + '_ {
        self.hashes
            .iter()
            .zip(&self.entries)
            .filter(|(hash, _)| **hash >= 2)
            .map(|(_, entry)| *entry)
    }
}
