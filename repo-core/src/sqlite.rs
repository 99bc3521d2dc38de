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

/// Pragmas set before the build transaction starts.
///
/// `synchronous = OFF`: createrepo_c's `db_tweak` runs it right after its `BEGIN` and ignores
/// the result; SQLite refuses it there ("Safety level may not be changed inside a
/// transaction"), so createrepo_c really builds with the default. Set before `BEGIN` it takes
/// effect; it only decides about fsync calls, never about the bytes of the file.
/// `secure_delete = ON`: the distributions' SQLite libraries that createrepo_c links against
/// (Debian, Fedora) are built with `SQLITE_SECURE_DELETE`, which zeroes space freed while the
/// b-trees are filled; the bundled SQLite is not. With it the files match createrepo_c's byte
/// for byte except the SQLite version number in the header and stray bytes in unused page
/// space that differ between SQLite versions.
const PRAGMA_BEFORE_BEGIN: &str = "PRAGMA synchronous = OFF; PRAGMA secure_delete = ON;";
/// The pragmas that do take effect inside the transaction, in createrepo_c's order.
const PRAGMAS: &str = "PRAGMA journal_mode = MEMORY; PRAGMA temp_store = MEMORY;";

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

/// Insert statement of a dependency table without the `pre` column (`db_dependency_prepare`).
macro_rules! insert_dependency {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (name, flags, epoch, version, release, pkgKey) VALUES (?, ?, ?, ?, ?, ?)"
        )
    };
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
        db.conn
            .execute_batch(PRAGMA_BEFORE_BEGIN)
            .map_err(db.error())?;
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
        let mut stmt = self
            .conn
            .prepare_cached(INSERT_PACKAGE_ID)
            .map_err(self.error())?;
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

/// createrepo_c's `filelists-ext.sqlite`: the filelists database (same schema and rows; it has
/// no schema of its own yet) with `db_info` pointing at filelists-ext.xml. Made from a finished
/// filelists.sqlite.
pub fn write_filelists_ext_database(
    filelists_db: &Path,
    dest: &Path,
    filelists_ext_xml_checksum: &str,
) -> Result<PathBuf> {
    fs::copy(filelists_db, dest).map_err(|e| Error::io(dest, e))?;
    let sqlite_error = |source| Error::Sqlite {
        path: dest.to_owned(),
        source,
    };
    let conn = Connection::open(dest).map_err(sqlite_error)?;
    conn.execute(
        "UPDATE db_info SET checksum = ?1",
        [filelists_ext_xml_checksum],
    )
    .map_err(sqlite_error)?;
    conn.close().map_err(|(_, e)| sqlite_error(e))?;
    Ok(dest.to_owned())
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
        // Only the requires table has the `pre` column (text 'TRUE'/'FALSE').
        let lists: [(&str, &[Dependency]); 8] = [
            (insert_dependency!("provides"), &r.provides),
            (insert_dependency!("conflicts"), &r.conflicts),
            (insert_dependency!("obsoletes"), &r.obsoletes),
            (INSERT_REQUIRES, &r.requires),
            (insert_dependency!("suggests"), &r.suggests),
            (insert_dependency!("enhances"), &r.enhances),
            (insert_dependency!("recommends"), &r.recommends),
            (insert_dependency!("supplements"), &r.supplements),
        ];
        for (sql, deps) in lists {
            if deps.is_empty() {
                continue;
            }
            let is_requires = sql == INSERT_REQUIRES;
            let mut stmt = db.conn.prepare_cached(sql).map_err(db.error())?;
            for d in deps {
                if is_requires {
                    let pre = if d.pre { "TRUE" } else { "FALSE" };
                    stmt.execute(params![
                        d.name, d.flags, d.epoch, d.version, d.release, pkg_key, pre
                    ])
                } else {
                    stmt.execute(params![
                        d.name, d.flags, d.epoch, d.version, d.release, pkg_key
                    ])
                }
                .map_err(db.error())?;
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
        let mut stmt = db
            .conn
            .prepare_cached(INSERT_FILELIST)
            .map_err(db.error())?;
        for dir in pack_filelist(r) {
            stmt.execute(params![
                pkg_key,
                dir.dirname(),
                dir.filenames,
                dir.filetypes
            ])
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
        let mut stmt = db
            .conn
            .prepare_cached(INSERT_CHANGELOG)
            .map_err(db.error())?;
        for entry in &r.changelogs {
            stmt.execute(params![
                pkg_key,
                entry.author,
                c_int(entry.date),
                entry.text
            ])
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
/// createrepo_c hashes the raw header bytes, we hash the record's UTF-8 text: for a directory
/// name that is not valid UTF-8 (converted from ISO-8859-1 by the record) the row order can
/// differ from createrepo_c's.
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
    fn find_or_insert<'k>(
        &mut self,
        key: &str,
        key_of: impl Fn(usize) -> &'k str,
        next: usize,
    ) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ChangelogEntry, PackageFile};
    use crate::text::to_utf8;

    /// `sqlite3 primary.sqlite .schema` of a createrepo_c 0.17.3 repository.
    const PRIMARY_SCHEMA: &str = concat!(
        "CREATE TABLE db_info (dbversion INTEGER, checksum TEXT);\n",
        "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT,  name TEXT,  arch TEXT,  version TEXT,  epoch TEXT,  release TEXT,  summary TEXT,  description TEXT,  url TEXT,  time_file INTEGER,  time_build INTEGER,  rpm_license TEXT,  rpm_vendor TEXT,  rpm_group TEXT,  rpm_buildhost TEXT,  rpm_sourcerpm TEXT,  rpm_header_start INTEGER,  rpm_header_end INTEGER,  rpm_packager TEXT,  size_package INTEGER,  size_installed INTEGER,  size_archive INTEGER,  location_href TEXT,  location_base TEXT,  checksum_type TEXT);\n",
        "CREATE TABLE files (  name TEXT,  type TEXT,  pkgKey INTEGER);\n",
        "CREATE TABLE requires (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER , pre BOOLEAN DEFAULT FALSE);\n",
        "CREATE TABLE provides (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE conflicts (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE obsoletes (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE suggests (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE enhances (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE recommends (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TABLE supplements (  name TEXT,  flags TEXT,  epoch TEXT,  version TEXT,  release TEXT,  pkgKey INTEGER );\n",
        "CREATE TRIGGER removals AFTER DELETE ON packages  BEGIN    DELETE FROM files WHERE pkgKey = old.pkgKey;    DELETE FROM requires WHERE pkgKey = old.pkgKey;    DELETE FROM provides WHERE pkgKey = old.pkgKey;    DELETE FROM conflicts WHERE pkgKey = old.pkgKey;    DELETE FROM obsoletes WHERE pkgKey = old.pkgKey;    DELETE FROM suggests WHERE pkgKey = old.pkgKey;    DELETE FROM enhances WHERE pkgKey = old.pkgKey;    DELETE FROM recommends WHERE pkgKey = old.pkgKey;    DELETE FROM supplements WHERE pkgKey = old.pkgKey;  END;\n",
        "CREATE INDEX packagename ON packages (name);\n",
        "CREATE INDEX packageId ON packages (pkgId);\n",
        "CREATE INDEX filenames ON files (name);\n",
        "CREATE INDEX pkgfiles ON files (pkgKey);\n",
        "CREATE INDEX pkgrequires on requires (pkgKey);\n",
        "CREATE INDEX requiresname ON requires (name);\n",
        "CREATE INDEX pkgprovides on provides (pkgKey);\n",
        "CREATE INDEX providesname ON provides (name);\n",
        "CREATE INDEX pkgconflicts on conflicts (pkgKey);\n",
        "CREATE INDEX pkgobsoletes on obsoletes (pkgKey);\n",
        "CREATE INDEX pkgsuggests on suggests (pkgKey);\n",
        "CREATE INDEX pkgenhances on enhances (pkgKey);\n",
        "CREATE INDEX pkgrecommends on recommends (pkgKey);\n",
        "CREATE INDEX pkgsupplements on supplements (pkgKey);\n",
    );

    /// `sqlite3 filelists.sqlite .schema` of a createrepo_c 0.17.3 repository.
    const FILELISTS_SCHEMA: &str = concat!(
        "CREATE TABLE db_info (dbversion INTEGER, checksum TEXT);\n",
        "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT);\n",
        "CREATE TABLE filelist (  pkgKey INTEGER,  dirname TEXT,  filenames TEXT,  filetypes TEXT);\n",
        "CREATE TRIGGER remove_filelist AFTER DELETE ON packages  BEGIN    DELETE FROM filelist WHERE pkgKey = old.pkgKey;  END;\n",
        "CREATE INDEX keyfile ON filelist (pkgKey);\n",
        "CREATE INDEX pkgId ON packages (pkgId);\n",
        "CREATE INDEX dirnames ON filelist (dirname);\n",
    );

    /// `sqlite3 other.sqlite .schema` of a createrepo_c 0.17.3 repository.
    const OTHER_SCHEMA: &str = concat!(
        "CREATE TABLE db_info (dbversion INTEGER, checksum TEXT);\n",
        "CREATE TABLE packages (  pkgKey INTEGER PRIMARY KEY,  pkgId TEXT);\n",
        "CREATE TABLE changelog (  pkgKey INTEGER,  author TEXT,  date INTEGER,  changelog TEXT);\n",
        "CREATE TRIGGER remove_changelogs AFTER DELETE ON packages  BEGIN    DELETE FROM changelog WHERE pkgKey = old.pkgKey;  END;\n",
        "CREATE INDEX keychange ON changelog (pkgKey);\n",
        "CREATE INDEX pkgId ON packages (pkgId);\n",
    );

    fn dep(name: &str, flags: Option<&str>, evr: Option<(&str, &str, Option<&str>)>) -> Dependency {
        Dependency {
            name: name.to_owned(),
            flags: flags.map(str::to_owned),
            epoch: evr.map(|(e, _, _)| e.to_owned()),
            version: evr.map(|(_, v, _)| v.to_owned()),
            release: evr.and_then(|(_, _, r)| r.map(str::to_owned)),
            pre: false,
        }
    }

    fn file(dirname: &str, basename: &str, kind: FileKind) -> PackageFile {
        PackageFile {
            dirname: dirname.to_owned(),
            basename: basename.to_owned(),
            kind,
            digest: String::new(),
        }
    }

    /// A package with every optional text empty, as a minimal rpmbuild package would be.
    fn bare_record(pkgid: &str, name: &str) -> PackageRecord {
        PackageRecord {
            pkgid: pkgid.to_owned(),
            checksum_type: "sha256".to_owned(),
            name: name.to_owned(),
            arch: "x86_64".to_owned(),
            epoch: "0".to_owned(),
            version: "1.0".to_owned(),
            release: "1".to_owned(),
            summary: "A package".to_owned(),
            description: String::new(),
            packager: String::new(),
            url: String::new(),
            time_file: 1_700_000_000,
            time_build: 1_600_000_000,
            size_package: 1234,
            size_installed: 5_000_000_000,
            size_archive: 600,
            location_href: format!("Packages/{name}-1.0-1.x86_64.rpm"),
            location_base: None,
            license: "MIT".to_owned(),
            vendor: String::new(),
            group: "Unspecified".to_owned(),
            buildhost: "builder".to_owned(),
            sourcerpm: String::new(),
            header_start: 4504,
            header_end: 9000,
            provides: Vec::new(),
            requires: Vec::new(),
            conflicts: Vec::new(),
            obsoletes: Vec::new(),
            suggests: Vec::new(),
            enhances: Vec::new(),
            recommends: Vec::new(),
            supplements: Vec::new(),
            files: Vec::new(),
            files_checksum_type: "sha256".to_owned(),
            changelogs: Vec::new(),
        }
    }

    /// A package with everything filled in, Latin-1 text converted the way the record does it.
    fn full_record() -> PackageRecord {
        let mut r = bare_record("bbbb", "full");
        r.epoch = "3".to_owned();
        r.description = to_utf8(b"Caf\xe9 description\nsecond line");
        r.packager = to_utf8(b"Jos\xe9 Packager <jose@example.com>");
        r.url = "https://example.com/".to_owned();
        r.vendor = "Vendor Inc.".to_owned();
        r.sourcerpm = "full-1.0-1.src.rpm".to_owned();
        r.location_base = Some("https://mirror.example.com/repo/".to_owned());
        // After 2038: createrepo_c binds these with sqlite3_bind_int.
        r.time_file = 2_147_483_648;
        r.provides = vec![
            dep("full", Some("EQ"), Some(("3", "1.0", Some("1")))),
            dep("full(x86-64)", Some("EQ"), Some(("3", "1.0", Some("1")))),
            dep("virtual-thing", None, None),
        ];
        let mut pre_req = dep("coreutils", None, None);
        pre_req.pre = true;
        r.requires = vec![
            dep("libfoo.so.1()(64bit)", None, None),
            pre_req,
            dep("bar", Some("GE"), Some(("0", "2.0", None))),
        ];
        r.conflicts = vec![dep("oldfull", Some("LT"), Some(("0", "0.9", None)))];
        r.obsoletes = vec![dep(
            "full-legacy",
            Some("LE"),
            Some(("1", "0.5", Some("2"))),
        )];
        r.suggests = vec![dep("full-doc", None, None)];
        r.enhances = vec![dep("editor", None, None)];
        r.recommends = vec![dep("full-extras", Some("GE"), Some(("0", "1.0", None)))];
        r.supplements = vec![dep("(full and other)", None, None)];
        r.files = vec![
            file("/etc/", "full.conf", FileKind::File),
            file("/etc/", "full.d", FileKind::Dir),
            file("/etc/full.d/", "state", FileKind::Ghost),
            file("/usr/bin/", "full", FileKind::File),
            file("/usr/lib/", "sendmail", FileKind::File),
            file("/usr/share/doc/", "full", FileKind::Dir),
            file("/usr/share/doc/full/", "README", FileKind::File),
            file("/usr/bin/", "full-helper", FileKind::Ghost),
            file("/", "", FileKind::Dir),
            file("/", "vmlinuz", FileKind::File),
            file("", "full.spec", FileKind::File),
            file("/opt//", "x", FileKind::File),
            file("/opt/", "y", FileKind::File),
            file("/srv/", "", FileKind::File),
        ];
        r.changelogs = vec![
            ChangelogEntry {
                author: to_utf8(b"Jos\xe9 M\xfcller <jm@example.com> - 1.0-1"),
                date: 1_600_000_000,
                text: "- First release".to_owned(),
            },
            ChangelogEntry {
                author: "Ann <ann@example.com> - 1.0-2".to_owned(),
                date: 2_147_483_648,
                text: to_utf8(b"- Na\xefve fix\n- second item"),
            },
        ];
        r
    }

    /// Builds the three databases from `records` in a temporary directory.
    fn build(records: &[PackageRecord]) -> (tempfile::TempDir, [PathBuf; 3]) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut dbs = RepoDatabases::create(dir.path()).expect("create databases");
        for record in records {
            dbs.add(record).expect("add package");
        }
        let paths = dbs
            .finish("pri-sum", "fil-sum", "oth-sum")
            .expect("finish databases");
        (dir, paths)
    }

    fn open(path: &Path) -> Connection {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open database")
    }

    /// Every row of `sql` as strings made by SQLite's `quote()`.
    fn rows(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(sql).expect("prepare query");
        stmt.query_map([], |row| row.get::<_, String>(0))
            .expect("run query")
            .collect::<rusqlite::Result<_>>()
            .expect("read rows")
    }

    fn schema(path: &Path) -> String {
        rows(
            &open(path),
            "SELECT sql || ';' FROM sqlite_master ORDER BY rowid",
        )
        .into_iter()
        .map(|line| line + "\n")
        .collect()
    }

    #[test]
    fn schema_matches_createrepo_c() {
        let (_dir, [primary, filelists, other]) = build(&[full_record()]);
        assert_eq!(schema(&primary), PRIMARY_SCHEMA);
        assert_eq!(schema(&filelists), FILELISTS_SCHEMA);
        assert_eq!(schema(&other), OTHER_SCHEMA);
        let names: Vec<_> = [&primary, &filelists, &other]
            .iter()
            .map(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            names,
            ["primary.sqlite", "filelists.sqlite", "other.sqlite"]
        );
    }

    #[test]
    fn indexes_are_created_only_at_finish_and_pragmas_are_set() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dbs = RepoDatabases::create(dir.path()).expect("create databases");
        let conn = &dbs.primary.conn;
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index'",
                [],
                |r| r.get(0),
            )
            .expect("count indexes");
        assert_eq!(indexes, 0);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal mode");
        assert_eq!(mode, "memory");
        let temp_store: i64 = conn
            .query_row("PRAGMA temp_store", [], |r| r.get(0))
            .expect("temp store");
        assert_eq!(temp_store, 2);
        assert!(!conn.is_autocommit(), "the whole build is one transaction");
    }

    #[test]
    fn db_info_holds_version_10_and_the_xml_checksum() {
        let (_dir, [primary, filelists, other]) = build(&[]);
        let info = "SELECT quote(dbversion) || '|' || quote(checksum) FROM db_info";
        assert_eq!(rows(&open(&primary), info), ["10|'pri-sum'"]);
        assert_eq!(rows(&open(&filelists), info), ["10|'fil-sum'"]);
        assert_eq!(rows(&open(&other), info), ["10|'oth-sum'"]);
    }

    #[test]
    fn package_columns_follow_createrepo_c_null_rules() {
        let mut base_empty = bare_record("cccc", "third");
        base_empty.location_base = Some(String::new());
        let (_dir, [primary, _, _]) =
            build(&[bare_record("aaaa", "bare"), full_record(), base_empty]);
        let columns = "SELECT quote(pkgKey) || '|' || quote(pkgId) || '|' || quote(name) || '|' || \
             quote(arch) || '|' || quote(version) || '|' || quote(epoch) || '|' || quote(release) \
             || '|' || quote(summary) || '|' || quote(description) || '|' || quote(url) || '|' || \
             quote(time_file) || '|' || quote(time_build) || '|' || quote(rpm_license) || '|' || \
             quote(rpm_vendor) || '|' || quote(rpm_group) || '|' || quote(rpm_buildhost) || '|' \
             || quote(rpm_sourcerpm) || '|' || quote(rpm_header_start) || '|' || \
             quote(rpm_header_end) || '|' || quote(rpm_packager) || '|' || quote(size_package) \
             || '|' || quote(size_installed) || '|' || quote(size_archive) || '|' || \
             quote(location_href) || '|' || quote(location_base) || '|' || quote(checksum_type) \
             FROM packages ORDER BY pkgKey";
        assert_eq!(
            rows(&open(&primary), columns),
            [
                "1|'aaaa'|'bare'|'x86_64'|'1.0'|'0'|'1'|'A package'|NULL|NULL|1700000000|\
                 1600000000|'MIT'|''|'Unspecified'|'builder'|''|4504|9000|NULL|1234|5000000000|600|\
                 'Packages/bare-1.0-1.x86_64.rpm'|NULL|'sha256'",
                "2|'bbbb'|'full'|'x86_64'|'1.0'|'3'|'1'|'A package'|\
                 'Café description\nsecond line'|'https://example.com/'|-2147483648|1600000000|\
                 'MIT'|'Vendor Inc.'|'Unspecified'|'builder'|'full-1.0-1.src.rpm'|4504|9000|\
                 'José Packager <jose@example.com>'|1234|5000000000|600|\
                 'Packages/full-1.0-1.x86_64.rpm'|'https://mirror.example.com/repo/'|'sha256'",
                "3|'cccc'|'third'|'x86_64'|'1.0'|'0'|'1'|'A package'|NULL|NULL|1700000000|\
                 1600000000|'MIT'|''|'Unspecified'|'builder'|''|4504|9000|NULL|1234|5000000000|600|\
                 'Packages/third-1.0-1.x86_64.rpm'|NULL|'sha256'",
            ]
        );
        let types =
            "SELECT typeof(epoch) || typeof(time_file) || typeof(size_package) FROM packages";
        assert_eq!(rows(&open(&primary), types)[0], "textintegerinteger");
    }

    #[test]
    fn package_keys_count_from_one_in_every_database() {
        let (_dir, paths) = build(&[bare_record("aaaa", "a"), bare_record("bbbb", "b")]);
        for path in &paths {
            assert_eq!(
                rows(
                    &open(path),
                    "SELECT pkgKey || '=' || pkgId FROM packages ORDER BY rowid"
                ),
                ["1=aaaa", "2=bbbb"]
            );
        }
    }

    #[test]
    fn dependencies_keep_nulls_and_requires_pre_is_text() {
        let (_dir, [primary, _, _]) = build(&[full_record()]);
        let conn = open(&primary);
        let deps = |table: &str| {
            rows(
                &conn,
                &format!(
                    "SELECT quote(name) || '|' || quote(flags) || '|' || quote(epoch) || '|' || \
                     quote(version) || '|' || quote(release) || '|' || quote(pkgKey) FROM {table} \
                     ORDER BY rowid"
                ),
            )
        };
        assert_eq!(
            deps("provides"),
            [
                "'full'|'EQ'|'3'|'1.0'|'1'|1",
                "'full(x86-64)'|'EQ'|'3'|'1.0'|'1'|1",
                "'virtual-thing'|NULL|NULL|NULL|NULL|1",
            ]
        );
        assert_eq!(
            deps("requires"),
            [
                "'libfoo.so.1()(64bit)'|NULL|NULL|NULL|NULL|1",
                "'coreutils'|NULL|NULL|NULL|NULL|1",
                "'bar'|'GE'|'0'|'2.0'|NULL|1",
            ]
        );
        assert_eq!(
            rows(&conn, "SELECT quote(pre) FROM requires ORDER BY rowid"),
            ["'FALSE'", "'TRUE'", "'FALSE'"]
        );
        assert_eq!(deps("conflicts"), ["'oldfull'|'LT'|'0'|'0.9'|NULL|1"]);
        assert_eq!(deps("obsoletes"), ["'full-legacy'|'LE'|'1'|'0.5'|'2'|1"]);
        assert_eq!(deps("suggests"), ["'full-doc'|NULL|NULL|NULL|NULL|1"]);
        assert_eq!(deps("enhances"), ["'editor'|NULL|NULL|NULL|NULL|1"]);
        assert_eq!(deps("recommends"), ["'full-extras'|'GE'|'0'|'1.0'|NULL|1"]);
        assert_eq!(
            deps("supplements"),
            ["'(full and other)'|NULL|NULL|NULL|NULL|1"]
        );
    }

    #[test]
    fn primary_files_table_holds_only_primary_files() {
        let (_dir, [primary, _, _]) = build(&[full_record()]);
        assert_eq!(
            rows(
                &open(&primary),
                "SELECT name || '|' || type || '|' || pkgKey FROM files ORDER BY rowid"
            ),
            [
                "/etc/full.conf|file|1",
                "/etc/full.d|dir|1",
                "/etc/full.d/state|ghost|1",
                "/usr/bin/full|file|1",
                "/usr/lib/sendmail|file|1",
                "/usr/bin/full-helper|ghost|1",
            ]
        );
    }

    #[test]
    fn filelists_pack_one_row_per_directory_string() {
        let (_dir, [_, filelists, _]) = build(&[full_record()]);
        let mut got = rows(
            &open(&filelists),
            "SELECT pkgKey || '|' || quote(dirname) || '|' || quote(filenames) || '|' || \
             quote(filetypes) FROM filelist",
        );
        got.sort();
        let mut want = [
            "1|'.'|'full.spec'|'f'",
            // The root directory entry has an empty basename: written as '/'.
            "1|'/'|'//vmlinuz'|'df'",
            "1|'/etc'|'full.conf/full.d'|'fd'",
            "1|'/etc/full.d'|'state'|'g'",
            // "/opt//" and "/opt/" are different keys with the same dirname.
            "1|'/opt'|'x'|'f'",
            "1|'/opt'|'y'|'f'",
            "1|'/srv'|'/'|'f'",
            "1|'/usr/bin'|'full/full-helper'|'fg'",
            "1|'/usr/lib'|'sendmail'|'f'",
            "1|'/usr/share/doc'|'full'|'d'",
            "1|'/usr/share/doc/full'|'README'|'f'",
        ];
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn filelist_dirname_trimming() {
        let dir = |key| PackedDir {
            key,
            filenames: String::new(),
            filetypes: String::new(),
        };
        assert_eq!(dir("/usr/bin/").dirname(), "/usr/bin");
        assert_eq!(dir("/usr/bin//").dirname(), "/usr/bin");
        assert_eq!(dir("/usr/bin").dirname(), "/usr/bin");
        assert_eq!(dir("/").dirname(), "/");
        assert_eq!(dir("///").dirname(), "/");
        assert_eq!(dir("").dirname(), ".");
    }

    #[test]
    fn other_holds_changelogs_oldest_first() {
        let (_dir, [_, _, other]) = build(&[bare_record("aaaa", "none"), full_record()]);
        assert_eq!(
            rows(
                &open(&other),
                "SELECT quote(pkgKey) || '|' || quote(author) || '|' || quote(date) || '|' || \
                 quote(changelog) FROM changelog ORDER BY rowid"
            ),
            [
                "2|'José Müller <jm@example.com> - 1.0-1'|1600000000|'- First release'",
                "2|'Ann <ann@example.com> - 1.0-2'|-2147483648|'- Naïve fix\n- second item'",
            ]
        );
    }

    #[test]
    fn create_refuses_existing_files_and_names_them() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let existing = dir.path().join("filelists.sqlite");
        fs::write(&existing, b"").expect("write placeholder");
        match RepoDatabases::create(dir.path()) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, existing);
                assert_eq!(source.kind(), std::io::ErrorKind::AlreadyExists);
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("create must refuse an existing file"),
        }
        // The primary database created before the failure is removed again.
        assert!(!dir.path().join("primary.sqlite").exists());
        assert!(existing.exists());
        assert!(!dir.path().join("other.sqlite").exists());
    }

    #[test]
    fn g_str_hash_matches_glib() {
        // Values from GLib 2.74's g_str_hash (signed chars: non-ASCII bytes count negative).
        assert_eq!(g_str_hash("abc"), 193_485_963);
        assert_eq!(g_str_hash("/usr/share/café/"), 670_813_220);
        assert_eq!(g_str_hash("é😀"), 1_935_905_272);
        assert_eq!(g_str_hash(""), 5381);
    }

    fn hash_order<'a>(keys: &[&'a str]) -> Vec<&'a str> {
        let mut table = GHashOrder::new();
        let mut inserted: Vec<&str> = Vec::new();
        for key in keys {
            let next = inserted.len();
            if table.find_or_insert(key, |i| inserted[i], next) == next {
                inserted.push(key);
            }
        }
        table.iteration_order().map(|i| inserted[i]).collect()
    }

    #[test]
    fn filelist_rows_follow_createrepo_c_order() {
        // Row order of createrepo_c 0.17.3 (GLib 2.74) for two real packages: super_kernel
        // (two directories) and iok (41 directories, so the table is resized three times).
        assert_eq!(
            hash_order(&["/usr/bin/", "/usr/share/man/"]),
            ["/usr/share/man/", "/usr/bin/"]
        );
        let locales = [
            "as", "bn_IN", "bs", "ca", "da", "de", "de_CH", "el", "es", "fr", "gu", "hi", "hu",
            "it", "ja", "kn", "ko", "mai", "ml", "mr", "nl", "or", "pa", "pl", "pt", "pt_BR", "ru",
            "sr", "sr@latin", "ta", "te", "th", "uk", "zh_CN", "zh_TW",
        ];
        let mut header_order: Vec<String> = [
            "/usr/bin/",
            "/usr/share/applications/",
            "/usr/share/doc/",
            "/usr/share/doc/iok-1.3.11/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        header_order.extend(
            locales
                .iter()
                .map(|l| format!("/usr/share/locale/{l}/LC_MESSAGES/")),
        );
        header_order.push("/usr/share/man/man1/".to_owned());
        header_order.push("/usr/share/pixmaps/".to_owned());
        // Each directory appears several times, as it does for a package's files.
        let keys: Vec<&str> = header_order
            .iter()
            .flat_map(|d| [d.as_str(), d.as_str()])
            .collect();
        let expected = [
            "ja",
            "mai",
            "pa",
            "ru",
            "as",
            "el",
            "ca",
            "hu",
            "nl",
            "zh_TW",
            "or",
            "bn_IN",
            "th",
            "sr@latin",
            "/usr/share/applications",
            "pt",
            "/usr/share/doc",
            "hi",
            "ml",
            "pl",
            "/usr/share/doc/iok-1.3.11",
            "gu",
            "te",
            "pt_BR",
            "kn",
            "de_CH",
            "it",
            "ta",
            "bs",
            "es",
            "uk",
            "zh_CN",
            "/usr/bin",
            "fr",
            "ko",
            "de",
            "/usr/share/man/man1",
            "/usr/share/pixmaps",
            "mr",
            "da",
            "sr",
        ]
        .map(|d| {
            if d.starts_with('/') {
                format!("{d}/")
            } else {
                format!("/usr/share/locale/{d}/LC_MESSAGES/")
            }
        });
        assert_eq!(hash_order(&keys), expected);
    }

    #[test]
    fn hash_order_survives_many_directories() {
        let dirs: Vec<String> = (0..5000).map(|i| format!("/d{i}/")).collect();
        let keys: Vec<&str> = dirs.iter().map(String::as_str).collect();
        let mut order = hash_order(&keys);
        assert_eq!(order.len(), 5000);
        order.sort();
        let mut all = keys.clone();
        all.sort();
        assert_eq!(order, all);
    }
}
