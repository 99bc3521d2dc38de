//! `createrepo`: turn a directory of packages into repodata, as createrepo_c does.
//!
//! Owns the run: locking, finding packages, parallel reading, duplicate resolution, writing
//! every metadata file into a temporary directory, repomd.xml last, and the atomic swap.
//! Must not: print (it returns a [`CreaterepoSummary`]; the CLI reports it).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::Serialize;

use crate::blocks::{BlockCodec, BlockFile, CompressedBlock};
use crate::cache::{BlockMessage, CachedEntry, CachedIdentity, PackageCache};
use crate::checksum::ChecksumType;
use crate::compress::{Compression, FileStats, MetadataFile, compress_file};
use crate::duplicates::{DuplicateGroup, DuplicateKey, DuplicatePolicy, resolve};
use crate::error::{Error, Result};
use crate::existing::is_safe_location;
use crate::fragments::{FragmentLocation, FragmentReader, FragmentWriter, Fragments};
use crate::package::{PackageSource, read_package};
use crate::record::ChangelogLimit;
use crate::repomd::{ListedRecord, Repomd, RepomdRecord, is_generated_type, read_repomd};
use crate::scan::{PackageTask, from_list, read_pkglist, walk};
use crate::sqlite::{RepoDatabases, write_filelists_ext_database};
use crate::xml::MetadataKind;

/// What to keep of the previous repodata (`--retain-old-md-by-age`, createrepo_c's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// Drop files the old repomd.xml referenced; keep foreign files.
    #[default]
    DropReferenced,
    /// Keep old files younger than this age.
    ByAge(Duration),
}

/// Options of a createrepo run, with createrepo_c's meaning.
#[derive(Debug, Clone)]
pub struct CreaterepoOptions {
    /// Directory with the packages.
    pub input_dir: PathBuf,
    /// Where `repodata/` goes (defaults to `input_dir`).
    pub output_dir: Option<PathBuf>,
    /// `--baseurl`, written as `xml:base`.
    pub baseurl: Option<String>,
    /// `--location-prefix`, prepended to every href.
    pub location_prefix: Option<String>,
    /// `--excludes` glob patterns.
    pub excludes: Vec<String>,
    /// `--pkglist` file.
    pub pkglist: Option<PathBuf>,
    /// `--includepkg` paths.
    pub includepkg: Vec<String>,
    /// `--skip-symlinks`.
    pub skip_symlinks: bool,
    /// `--checksum`: package ids and (unless overridden) repomd.
    pub checksum: ChecksumType,
    /// `--repomd-checksum`.
    pub repomd_checksum: Option<ChecksumType>,
    /// Compression of primary/filelists/other.
    pub xml_compression: Compression,
    /// Compression of the sqlite databases.
    pub sqlite_compression: Compression,
    /// Compression of other metadata (the group file).
    pub other_compression: Compression,
    /// `--database`.
    pub database: bool,
    /// `--changelog-limit`.
    pub changelog_limit: ChangelogLimit,
    /// `--revision` (default: now).
    pub revision: Option<String>,
    /// `--set-timestamp-to-revision`.
    pub set_timestamp_to_revision: bool,
    /// `--distro` values (`cpeid,name` or `name`).
    pub distro_tags: Vec<String>,
    /// `--content` values.
    pub content_tags: Vec<String>,
    /// `--repo` values.
    pub repo_tags: Vec<String>,
    /// `--unique-md-filenames` (default) vs `--simple-md-filenames`.
    pub unique_md_filenames: bool,
    /// `--filelists-ext`.
    pub filelists_ext: bool,
    /// `--groupfile`.
    pub groupfile: Option<PathBuf>,
    /// What to keep of old metadata.
    pub retention: Retention,
    /// Threads that read packages.
    pub workers: usize,
    /// `--duplicated-nevra`.
    pub duplicated_nevra: DuplicatePolicy,
    /// `--ignore-lock`.
    pub ignore_lock: bool,
    /// `--update`: reuse what the cache knows of unchanged packages.
    pub update: bool,
    /// `--skip-stat`: with `--update`, trust the path alone.
    pub skip_stat: bool,
    /// `--update-md-path`: other repositories whose caches may hold our packages.
    pub update_md_paths: Vec<PathBuf>,
    /// `--recycle-pkglist`: take the package list from the previous run instead of walking.
    pub recycle_pkglist: bool,
    /// `--cachedir`: where the package cache lives (default `<outputdir>/.rpmdepot`).
    pub cachedir: Option<PathBuf>,
    /// Keep additional metadata (comps, updateinfo, modules…) of the old repodata on update.
    pub keep_all_metadata: bool,
}

impl CreaterepoOptions {
    /// Options with createrepo_c's defaults for packages in `input_dir`.
    pub fn new(input_dir: impl Into<PathBuf>) -> Self {
        CreaterepoOptions {
            input_dir: input_dir.into(),
            output_dir: None,
            baseurl: None,
            location_prefix: None,
            excludes: Vec::new(),
            pkglist: None,
            includepkg: Vec::new(),
            skip_symlinks: false,
            checksum: ChecksumType::Sha256,
            repomd_checksum: None,
            xml_compression: Compression::Zstd,
            sqlite_compression: Compression::Bz2,
            other_compression: Compression::Zstd,
            database: false,
            changelog_limit: ChangelogLimit::Newest(10),
            revision: None,
            set_timestamp_to_revision: false,
            distro_tags: Vec::new(),
            content_tags: Vec::new(),
            repo_tags: Vec::new(),
            unique_md_filenames: true,
            filelists_ext: false,
            groupfile: None,
            retention: Retention::DropReferenced,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            duplicated_nevra: DuplicatePolicy::KeepAll,
            ignore_lock: false,
            update: false,
            skip_stat: false,
            update_md_paths: Vec::new(),
            recycle_pkglist: false,
            cachedir: None,
            keep_all_metadata: true,
        }
    }

    /// Everything that shapes a package's fragments: a cache made with other values is unusable.
    fn cache_fingerprint(&self) -> String {
        format!(
            "checksum={} changelog={:?} baseurl={:?} filelists_ext={} database={}",
            self.checksum.name(),
            self.changelog_limit,
            self.baseurl,
            self.filelists_ext,
            self.database
        )
    }

    fn cache_path(&self, out_dir: &Path) -> PathBuf {
        self.cachedir
            .clone()
            .unwrap_or_else(|| out_dir.join(".rpmdepot"))
            .join("cache.sqlite")
    }
}

/// A package that was not written, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedPackage {
    /// Path of the file.
    pub path: String,
    /// Reason.
    pub reason: String,
}

/// A metadata file that was written.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    /// repomd record type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Location relative to the output directory.
    pub location: String,
    /// Checksum algorithm.
    pub checksum_type: String,
    /// Checksum of the stored file.
    pub checksum: String,
    /// Size of the stored file.
    pub size: u64,
    /// Checksum of the uncompressed content.
    pub open_checksum: Option<String>,
    /// Size of the uncompressed content.
    pub open_size: Option<u64>,
}

/// Wall-clock time of each phase, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub scan_ms: u64,
    pub read_ms: u64,
    pub write_ms: u64,
    pub total_ms: u64,
}

/// The outcome of a run, for people (`-v`) and scripts (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct CreaterepoSummary {
    /// The finished `repodata/` directory.
    pub repodata_dir: PathBuf,
    /// Packages found.
    pub packages_found: usize,
    /// Packages written to the metadata.
    pub packages_written: usize,
    /// Packages taken from the cache without reading them (`--update`).
    pub packages_reused: usize,
    /// Compressed metadata blocks taken from the cache (`--update`, gz and zstd).
    pub blocks_reused: usize,
    /// Metadata blocks compressed in this run.
    pub blocks_compressed: usize,
    /// Packages that could not be read or were refused.
    pub skipped: Vec<SkippedPackage>,
    /// Every NEVRA found more than once, with the members kept.
    pub duplicates: Vec<DuplicateGroup>,
    /// Metadata files, in repomd.xml order.
    pub files: Vec<WrittenFile>,
    /// Revision written to repomd.xml.
    pub revision: String,
    /// Phase timings.
    pub timings: Timings,
}

impl CreaterepoSummary {
    /// createrepo_c's exit status: 2 when any package could not be processed.
    pub fn exit_code(&self) -> u8 {
        if self.skipped.is_empty() { 0 } else { 2 }
    }
}

/// Removes the temporary directory unless the run completed (including on panic or error).
struct TempDirGuard {
    path: PathBuf,
    committed: bool,
}

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn unix_now() -> (u64, u32) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs(), now.subsec_micros())
}

/// Takes the repository lock (createrepo_c's `.repodata/` directory) and returns the temporary
/// directory to build in.
fn lock_output(out_dir: &Path, ignore_lock: bool) -> Result<TempDirGuard> {
    let lock = out_dir.join(".repodata");
    match fs::create_dir(&lock) {
        Ok(()) => Ok(TempDirGuard {
            path: lock,
            committed: false,
        }),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            if !ignore_lock {
                return Err(Error::Locked { path: lock });
            }
            tracing::warn!("--ignore-lock: removing {}", lock.display());
            fs::remove_dir_all(&lock).map_err(|e| Error::io(&lock, e))?;
            let (secs, micros) = unix_now();
            let path = out_dir.join(format!(".repodata.{secs}.{micros}.{}", std::process::id()));
            fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
            Ok(TempDirGuard {
                path,
                committed: false,
            })
        }
        Err(err) => Err(Error::io(&lock, err)),
    }
}

fn join_href(prefix: Option<&str>, href: &str) -> String {
    match prefix.filter(|p| !p.is_empty()) {
        Some(prefix) => {
            let prefix = prefix.trim_end_matches('/');
            let href = href.trim_start_matches('/');
            if prefix.is_empty() {
                format!("/{href}")
            } else {
                format!("{prefix}/{href}")
            }
        }
        None => href.to_owned(),
    }
}

fn parse_distro(value: &str) -> (Option<String>, String) {
    match value.split_once(',') {
        Some((cpeid, name)) => (Some(cpeid.to_owned()), name.to_owned()),
        None => (None, value.to_owned()),
    }
}

/// Dead bytes tolerated in the cache's fragment files before they are rewritten (in tests,
/// none, so compaction runs on small repositories).
const COMPACTION_SLACK: u64 = if cfg!(test) { 0 } else { 64 << 20 };

/// Packages in flight between the feeder and the sqlite writer.
const CHANNEL_DEPTH: usize = 256;

/// Blocks (up to [`MAX_BLOCK_BYTES`] of text each) in flight to each document writer.
const BLOCK_CHANNEL_DEPTH: usize = 1;

/// Blocks in flight to each document writer when the feeder reads whole blocks for them.
const SPAN_CHANNEL_DEPTH: usize = 8;

/// Free memory goes back to the system after this many blocks (see [`crate::memory`]).
const TRIM_EVERY_BLOCKS: usize = 16;

/// Reading packages frees as much as it allocates; trimmed after this many packages read.
/// Packages taken from the cache allocate next to nothing, and each trim walks the whole
/// heap (an `--update` of 20k packages spent about 8% of its time trimming for nothing), so
/// they do not count. The same count of packages read also decides whether writing trims.
const TRIM_EVERY_PACKAGES: u64 = 512;

/// Writes one metadata document as a single stream (xz, bz2 or uncompressed: codecs without
/// block assembly) from the blocks arriving in package order.
fn write_document(
    path: &Path,
    kind: MetadataKind,
    count: usize,
    feed: Receiver<Feed>,
    compression: Compression,
    checksum: ChecksumType,
) -> Result<FileStats> {
    let mut file = MetadataFile::create(path, compression, checksum)?;
    file.write_all(kind.header(count).as_bytes())?;
    let mut text = BlockText::default();
    for Feed::Block { packages, .. } in feed {
        file.write_all(text.gather(&packages, kind)?)?;
    }
    file.write_all(kind.footer().as_bytes())?;
    file.finish()
}

/// One package's metadata as the feeder hands it to the document writers.
enum PackageText {
    /// Rendered and in memory.
    Loaded(Arc<Fragments>),
    /// In a fragment file: each writer reads only its own document's part, so a block in
    /// flight costs memory once per document instead of all documents' text per writer.
    Stored(FragmentLocation),
    /// Inside `span`, which the feeder read for a whole block of cached packages at once.
    InSpan(Arc<Span>, FragmentLocation),
}

/// Consecutive bytes of a fragment file: the fragments of packages stored one after another.
struct Span {
    /// File offset of `bytes[0]`.
    offset: u64,
    bytes: Vec<u8>,
}

impl Span {
    /// `kind`'s text of the package at `location`, which lies inside the span.
    fn text(&self, location: &FragmentLocation, kind: MetadataKind) -> &[u8] {
        match location.text_range(kind) {
            Some((offset, len)) => {
                let start = (offset - self.offset) as usize;
                &self.bytes[start..start + len]
            }
            None => &[],
        }
    }
}

/// Replaces the stored packages of a block by spans read with one `pread` per run of packages
/// stored back to back. An `--update` reads every package's text to hash the documents; one
/// read per package and document was about half of the writers' time on 20k packages. This
/// holds all documents of a block in memory at once, so cold runs, where memory is the limit,
/// leave the writers to read their own parts.
fn read_block_spans(
    reader: &mut FragmentReader,
    block: Vec<PackageText>,
) -> Result<Vec<PackageText>> {
    let mut out = Vec::with_capacity(block.len());
    let mut run: Vec<FragmentLocation> = Vec::new();
    let flush = |reader: &mut FragmentReader,
                 run: &mut Vec<FragmentLocation>,
                 out: &mut Vec<PackageText>|
     -> Result<()> {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return Ok(());
        };
        let offset = first.offset;
        let len = (last.offset + last.total_len() - offset) as usize;
        let span = Arc::new(Span {
            offset,
            bytes: reader.read_span(first, offset, len)?,
        });
        out.extend(
            run.drain(..)
                .map(|location| PackageText::InSpan(Arc::clone(&span), location)),
        );
        Ok(())
    };
    for text in block {
        match text {
            PackageText::Stored(location) => {
                let follows = run.last().is_some_and(|prev| {
                    (Arc::ptr_eq(&prev.file, &location.file) || prev.file == location.file)
                        && prev.offset + prev.total_len() == location.offset
                });
                if !follows {
                    flush(reader, &mut run, &mut out)?;
                }
                run.push(location);
            }
            other => {
                flush(reader, &mut run, &mut out)?;
                out.push(other);
            }
        }
    }
    flush(reader, &mut run, &mut out)?;
    Ok(out)
}

impl PackageText {
    /// Bytes of `kind`'s text.
    fn text_len(&self, kind: MetadataKind) -> usize {
        match self {
            PackageText::Loaded(fragments) => fragments.text_of(kind).len(),
            PackageText::Stored(location) | PackageText::InSpan(_, location) => {
                location.text_len(kind)
            }
        }
    }

    /// Bytes of primary, filelists and other text.
    fn documents_len(&self) -> usize {
        match self {
            PackageText::Loaded(fragments) => {
                fragments.primary().len() + fragments.filelists().len() + fragments.other().len()
            }
            PackageText::Stored(location) | PackageText::InSpan(_, location) => {
                location.documents_len()
            }
        }
    }
}

/// A document writer's view of one block: its document's text of every package, in one
/// buffer that is reused from block to block.
#[derive(Default)]
struct BlockText {
    reader: FragmentReader,
    buf: Vec<u8>,
}

impl BlockText {
    /// Keeps at most this much buffer between blocks; a bigger block's buffer is given back.
    const KEPT_CAPACITY: usize = 512 << 10;

    /// The text of `kind` for `packages`, concatenated.
    fn gather(&mut self, packages: &[PackageText], kind: MetadataKind) -> Result<&[u8]> {
        self.buf.clear();
        self.buf.shrink_to(Self::KEPT_CAPACITY);
        let len: usize = packages.iter().map(|p| p.text_len(kind)).sum();
        self.buf.reserve_exact(len);
        for package in packages {
            match package {
                PackageText::Loaded(fragments) => {
                    self.buf.extend_from_slice(fragments.text_of(kind));
                }
                PackageText::Stored(location) => {
                    self.reader.read_text_into(location, kind, &mut self.buf)?;
                }
                PackageText::InSpan(span, location) => {
                    self.buf.extend_from_slice(span.text(location, kind));
                }
            }
        }
        Ok(&self.buf)
    }
}

/// `kind`'s text of every package, when all of it is in memory (nothing left to read).
fn in_memory_parts(packages: &[PackageText], kind: MetadataKind) -> Option<Vec<&[u8]>> {
    packages
        .iter()
        .map(|package| match package {
            PackageText::Loaded(fragments) => Some(fragments.text_of(kind)),
            PackageText::InSpan(span, location) => Some(span.text(location, kind)),
            PackageText::Stored(_) => None,
        })
        .collect()
}

/// What the feeder sends each document writer: the next block of packages, in order.
enum Feed {
    Block {
        /// Names the block by its packages' identities (see the cache).
        key: Arc<str>,
        /// The packages' metadata.
        packages: Arc<Vec<PackageText>>,
    },
}

/// Hands a finished block to every document writer. A writer that stopped (it failed and
/// reports why when joined) no longer receives blocks.
fn send_block(senders: &[SyncSender<Feed>], key: String, block: Vec<PackageText>) {
    let key: Arc<str> = Arc::from(key);
    let packages = Arc::new(block);
    for tx in senders {
        let _ = tx.send(Feed::Block {
            key: Arc::clone(&key),
            packages: Arc::clone(&packages),
        });
    }
}

/// A block ends after at most this much metadata text, so blocks stay small enough to
/// compress in parallel and cheap to redo.
const MAX_BLOCK_BYTES: usize = 2 << 20;

/// Content-defined block boundaries: a block ends after a package whose path hashes to 0
/// modulo 64, so adding or removing a package changes only the block around it.
fn ends_block(relative_path: &str) -> bool {
    // FNV-1a: stable across runs, versions and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in relative_path.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.is_multiple_of(64)
}

/// The cached blocks a writer may reuse, and where it reports what it compressed and used.
struct BlockReuse<'a> {
    cached: &'a HashMap<(String, String), CompressedBlock>,
    store: Option<SyncSender<BlockMessage>>,
}

/// A document writer's result: the file and the number of blocks it compressed and reused.
type WriterOutput = (PendingFile, usize, usize);

/// Writes a gzip or zstd document block by block, reusing cached blocks with the same key and
/// telling the cache (through `store`) which blocks it compressed and used.
fn write_block_document(
    path: &Path,
    kind: MetadataKind,
    count: usize,
    feed: Receiver<Feed>,
    codec: BlockCodec,
    checksum: ChecksumType,
    blocks: BlockReuse<'_>,
) -> Result<(FileStats, usize, usize)> {
    let BlockReuse { cached, store } = blocks;
    let mut file = BlockFile::create(path, codec, checksum)?;
    let header = kind.header(count);
    file.append(
        header.as_bytes(),
        &CompressedBlock::new(codec, header.as_bytes(), false)?,
    )?;
    let (mut compressed, mut reused) = (0, 0);
    let document = format!("{}.{}", kind.name(), codec.name());
    let mut text = BlockText::default();
    for Feed::Block { key, packages } in feed {
        let key = (document.clone(), key.to_string());
        // A closed store channel means the cache gave up; the document is still written.
        match cached.get(&key) {
            Some(block) => {
                // Only hashed: text already in memory is not copied together first.
                match in_memory_parts(&packages, kind) {
                    Some(parts) => file.append_parts(parts, block)?,
                    None => file.append_parts([text.gather(&packages, kind)?], block)?,
                }
                reused += 1;
                if let Some(store) = &store {
                    let _ = store.send(BlockMessage::Used(key.0, key.1));
                }
            }
            None => {
                let block_text = text.gather(&packages, kind)?;
                let block = CompressedBlock::from_parts(codec, &[block_text], false)?;
                file.append_parts([block_text], &block)?;
                compressed += 1;
                if let Some(store) = &store {
                    let _ = store.send(BlockMessage::New(key.0, key.1, block));
                }
            }
        }
    }
    let footer = kind.footer();
    file.append(
        footer.as_bytes(),
        &CompressedBlock::new(codec, footer.as_bytes(), true)?,
    )?;
    Ok((file.finish()?, compressed, reused))
}

/// A package after pass 1: identity in memory, metadata in a fragment file. One is held per
/// package until the end of the run, so it keeps its path only once when, as usual, the
/// location href is the relative path.
struct PreparedPackage {
    /// The path relative to the repository, when it differs from the location href
    /// (`--location-prefix`).
    own_relative_path: Option<String>,
    identity: CachedIdentity,
    location: FragmentLocation,
    /// Read in this run (false: reused from a cache).
    fresh: bool,
}

impl PreparedPackage {
    fn new(
        relative_path: String,
        identity: CachedIdentity,
        location: FragmentLocation,
        fresh: bool,
    ) -> PreparedPackage {
        let own_relative_path = (relative_path != identity.location_href).then_some(relative_path);
        PreparedPackage {
            own_relative_path,
            identity,
            location,
            fresh,
        }
    }

    fn relative_path(&self) -> &str {
        self.own_relative_path
            .as_deref()
            .unwrap_or(&self.identity.location_href)
    }
}

/// Every package's path relative to the repository, in package order: what the cache keeps.
/// Collected only after the writers are done, when their buffers are freed.
fn present_paths(prepared: &[PreparedPackage]) -> Vec<&str> {
    prepared
        .iter()
        .map(PreparedPackage::relative_path)
        .collect()
}

/// A package pass 1 could not read: its path relative to the repository, and why.
struct FailedPackage {
    relative_path: String,
    error: Error,
}

/// Reuses the cached entry of an unchanged package (`--update`) or reads and renders it into
/// this run's fragment files. Takes the task by value, so each task's memory is handed on or
/// freed as pass 1 goes instead of living until every package is read.
fn prepare_package(
    task: PackageTask,
    options: &CreaterepoOptions,
    known: &HashMap<String, CachedEntry>,
    writer: &FragmentWriter,
) -> std::result::Result<PreparedPackage, FailedPackage> {
    match read_or_reuse(&task, options, known, writer) {
        Ok((identity, location, fresh)) => Ok(PreparedPackage::new(
            task.relative_path,
            identity,
            location,
            fresh,
        )),
        Err(error) => Err(FailedPackage {
            relative_path: task.relative_path,
            error,
        }),
    }
}

/// [`prepare_package`]'s work: the package's identity, where its fragments are, and whether
/// it was read in this run.
fn read_or_reuse(
    task: &PackageTask,
    options: &CreaterepoOptions,
    known: &HashMap<String, CachedEntry>,
    writer: &FragmentWriter,
) -> Result<(CachedIdentity, FragmentLocation, bool)> {
    let href = join_href(options.location_prefix.as_deref(), &task.relative_path);
    if let Some(entry) = known.get(&task.relative_path)
        && entry.identity.location_href == href
    {
        let cached = &entry.identity;
        let unchanged = options.skip_stat || {
            use std::os::unix::fs::MetadataExt;
            let stat = task.stat.or_else(|| {
                fs::metadata(task.path(&options.input_dir))
                    .ok()
                    .map(|m| (m.len(), m.mtime()))
            });
            stat == Some((cached.size, cached.mtime))
        };
        if unchanged {
            return Ok((cached.clone(), entry.location.clone(), false));
        }
    }
    let path = task.path(&options.input_dir);
    let source = PackageSource {
        path: &path,
        location_href: &href,
        location_base: options.baseurl.as_deref(),
    };
    let record = read_package(&source, options.checksum, options.changelog_limit)?;
    // The full record is only needed again for the sqlite databases.
    let record_json = if options.database {
        serde_json::to_string(&record)
            .map_err(|e| Error::BadOption(format!("cannot serialise a record: {e}")))?
    } else {
        String::new()
    };
    let fragments = Fragments::render(&record, options.filelists_ext, &record_json)?;
    let location = writer.write(&fragments)?;
    let identity = CachedIdentity {
        size: record.size_package,
        mtime: record.time_file,
        nevra: record.nevra(),
        time_build: record.time_build,
        location_href: record.location_href,
    };
    Ok((identity, location, true))
}

/// Opens the package cache; a broken cache is recreated, and a cache that cannot be written at
/// all only costs speed.
fn open_cache(path: &Path, fingerprint: &str) -> Option<PackageCache> {
    match PackageCache::open(path, fingerprint) {
        Ok(cache) => Some(cache),
        Err(err) => {
            tracing::warn!("package cache unusable ({err}); recreating it");
            let _ = fs::remove_file(path);
            PackageCache::open(path, fingerprint)
                .map_err(|err| tracing::warn!("running without a package cache: {err}"))
                .ok()
        }
    }
}

/// A finished file in the temporary directory, before it gets its final name.
struct PendingFile {
    kind: String,
    path: PathBuf,
    stats: FileStats,
}

fn set_mtime(path: &Path, secs: i64) -> Result<()> {
    let time = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    let file = fs::File::options()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.set_times(fs::FileTimes::new().set_accessed(time).set_modified(time))
        .map_err(|e| Error::io(path, e))
}

fn file_mtime(path: &Path) -> Result<i64> {
    use std::os::unix::fs::MetadataExt;
    Ok(fs::metadata(path).map_err(|e| Error::io(path, e))?.mtime())
}

/// The records of the repomd.xml about to be replaced. One that cannot be read is passed
/// over with a warning naming it and the reason, as createrepo_c does: the run goes on as if
/// there were none, so its additional records are not carried over and every old file is
/// left in place.
fn old_repomd_records(out_dir: &Path) -> Vec<ListedRecord> {
    match read_repomd(&out_dir.join("repodata/repomd.xml")) {
        Ok(records) => records.unwrap_or_default(),
        Err(err) => {
            tracing::warn!("cannot read the old repomd.xml, going on without it: {err}");
            Vec::new()
        }
    }
}

/// Copies files of the old `repodata/` that the retention policy keeps into the new one.
fn retain_old_files(
    old: &Path,
    new: &Path,
    retention: Retention,
    old_records: &[ListedRecord],
) -> Result<()> {
    let Ok(entries) = fs::read_dir(old) else {
        return Ok(());
    };
    let referenced: Vec<&str> = old_records
        .iter()
        .filter_map(|r| r.location_href.as_deref())
        .map(|href| href.rsplit('/').next().unwrap_or(href))
        .collect();
    let now = SystemTime::now();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(old, e))?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "repomd.xml" || new.join(&name).exists() {
            continue;
        }
        let keep = match retention {
            Retention::DropReferenced => !referenced.iter().any(|r| *r == name_str),
            Retention::ByAge(age) => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok())
                .is_some_and(|elapsed| elapsed <= age),
        };
        if keep && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::copy(entry.path(), new.join(&name)).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// `--update` keeps the old repodata's additional records (comps, updateinfo, modules, …)
/// like createrepo_c ≥ 0.18: their files are carried over unchanged. A new `--groupfile`
/// replaces the old group records.
fn keep_additional_metadata(
    out_dir: &Path,
    temp_dir: &Path,
    options: &CreaterepoOptions,
    fixed_timestamp: Option<i64>,
    old_records: &[ListedRecord],
    repomd: &mut Repomd,
) -> Result<()> {
    for listed in old_records {
        let kind = &listed.kind;
        if is_generated_type(kind)
            || (options.groupfile.is_some() && kind.starts_with("group"))
            || repomd.records.iter().any(|r| r.kind == *kind)
        {
            continue;
        }
        let mut record = match listed.to_record() {
            Ok(record) => record,
            Err(reason) => {
                tracing::warn!("old repomd.xml: {reason}; not keeping it");
                continue;
            }
        };
        let Some(name) = record.location_href.strip_prefix("repodata/") else {
            tracing::warn!("not keeping {kind} record outside repodata/");
            continue;
        };
        if name.contains('/') || !is_safe_location(&record.location_href) {
            continue;
        }
        let source = out_dir.join("repodata").join(name);
        if let Err(err) = fs::copy(&source, temp_dir.join(name)) {
            tracing::warn!(
                "not keeping {} record: {}: {err}",
                record.kind,
                source.display()
            );
            continue;
        }
        if let Some(ts) = fixed_timestamp {
            set_mtime(&temp_dir.join(name), ts)?;
            record.timestamp = ts;
        }
        repomd.records.push(record);
    }
    Ok(())
}

/// Gives a finished metadata file its final name in its directory (prefixed with its checksum
/// when `unique`), sets its mtime to `timestamp` when one is fixed, and returns its repomd.xml
/// record.
fn place_metadata_file(
    file: PendingFile,
    unique: bool,
    timestamp: Option<i64>,
    checksum: ChecksumType,
) -> Result<RepomdRecord> {
    let name = file
        .path
        .file_name()
        .expect("metadata files have names")
        .to_string_lossy()
        .into_owned();
    let final_name = if unique {
        format!("{}-{name}", file.stats.checksum)
    } else {
        name
    };
    let final_path = file.path.with_file_name(&final_name);
    if final_path != file.path {
        fs::rename(&file.path, &final_path).map_err(|e| Error::io(&file.path, e))?;
    }
    let timestamp = match timestamp {
        Some(ts) => {
            set_mtime(&final_path, ts)?;
            ts
        }
        None => file_mtime(&final_path)?,
    };
    Ok(RepomdRecord {
        kind: file.kind,
        location_href: format!("repodata/{final_name}"),
        checksum_type: checksum,
        stats: file.stats,
        timestamp,
    })
}

fn sync_dir(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| Error::io(path, e))
}

/// Replaces `out/repodata` with the finished temporary directory.
fn swap_into_place(temp: &Path, out_dir: &Path) -> Result<PathBuf> {
    let final_dir = out_dir.join("repodata");
    let old = if final_dir.exists() {
        let (secs, micros) = unix_now();
        let old = out_dir.join(format!(
            "repodata.old.{}.{secs}.{micros}",
            std::process::id()
        ));
        fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
        Some(old)
    } else {
        None
    };
    if let Err(err) = fs::rename(temp, &final_dir) {
        if let Some(old) = &old {
            let _ = fs::rename(old, &final_dir);
        }
        return Err(Error::io(&final_dir, err));
    }
    sync_dir(out_dir)?;
    if let Some(old) = old {
        fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    }
    Ok(final_dir)
}

/// A step run on the finished temporary `repodata` directory just before it replaces the old
/// one (e.g. signing repomd.xml); an error aborts the run and leaves the old repodata in place.
pub type BeforeSwap<'a> =
    &'a dyn Fn(&Path) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs createrepo. `progress(done, total)` is called as packages are read.
pub fn run(
    options: &CreaterepoOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<CreaterepoSummary> {
    run_with_hook(options, progress, &|_| Ok(()))
}

/// Runs createrepo like [`run`], calling `before_swap` with the staged repodata directory
/// after repomd.xml is written and before the atomic swap.
pub fn run_with_hook(
    options: &CreaterepoOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
    before_swap: BeforeSwap<'_>,
) -> Result<CreaterepoSummary> {
    let started = Instant::now();
    let input_dir = &options.input_dir;
    if !input_dir.is_dir() {
        return Err(Error::io(
            input_dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let out_dir = options.output_dir.as_deref().unwrap_or(input_dir);
    if !out_dir.is_dir() {
        return Err(Error::io(
            out_dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "output directory does not exist",
            ),
        ));
    }
    let revision = match &options.revision {
        Some(revision) => revision.clone(),
        None => unix_now().0.to_string(),
    };
    let fixed_timestamp = if options.set_timestamp_to_revision {
        Some(revision.parse::<u64>().map_err(|_| {
            Error::BadOption(format!(
                "--set-timestamp-to-revision needs a non-negative integer --revision, got {revision:?}"
            ))
        })? as i64)
    } else {
        None
    };
    let mut temp = lock_output(out_dir, options.ignore_lock)?;

    let mut listed: Vec<String> = options.includepkg.clone();
    if let Some(pkglist) = &options.pkglist {
        listed.extend(read_pkglist(pkglist)?);
    }
    let recycle = options.recycle_pkglist && options.update;
    let listed_only = options.pkglist.is_some() || !options.includepkg.is_empty();
    let cache_path = options.cache_path(out_dir);
    let fingerprint = options.cache_fingerprint();
    let codec = BlockCodec::for_compression(options.xml_compression);
    // The directory walk (mostly stat calls) runs while the cache is read.
    let (tasks, scan_ms, mut cache, known, previous_paths, cached_blocks) =
        std::thread::scope(|scope| {
            let walker = scope.spawn(|| -> Result<(Vec<PackageTask>, u64)> {
                let tasks = if recycle {
                    Vec::new() // the previous run's list, below, once the cache is open
                } else if listed_only {
                    from_list(&listed, &options.excludes)
                } else {
                    walk(input_dir, &options.excludes, options.skip_symlinks)?
                };
                Ok((tasks, started.elapsed().as_millis() as u64))
            });
            let cache = open_cache(&cache_path, &fingerprint);
            // Entries that may be reused: ours, then those of --update-md-path repositories.
            let mut known: HashMap<String, CachedEntry> = HashMap::new();
            let mut previous_paths: Option<Vec<String>> = None;
            let mut cached_blocks = HashMap::new();
            if options.update {
                if let Some(cache) = &cache {
                    match cache.load() {
                        Ok(entries) => {
                            if recycle {
                                previous_paths = Some(entries.keys().cloned().collect());
                            }
                            known = entries;
                        }
                        Err(err) => tracing::warn!("ignoring the package cache: {err}"),
                    }
                    if codec.is_some() {
                        cached_blocks = cache.load_blocks().unwrap_or_else(|err| {
                            tracing::warn!("ignoring cached metadata blocks: {err}");
                            HashMap::new()
                        });
                    }
                }
                for path in &options.update_md_paths {
                    let other =
                        PackageCache::open(&path.join(".rpmdepot/cache.sqlite"), &fingerprint)
                            .and_then(|c| c.load());
                    match other {
                        Ok(entries) => {
                            for (key, entry) in entries {
                                known.entry(key).or_insert(entry);
                            }
                        }
                        Err(err) => tracing::warn!("--update-md-path {}: {err}", path.display()),
                    }
                }
            }
            let walked = walker.join().expect("directory walk thread panicked");
            walked.map(|(tasks, scan_ms)| {
                (tasks, scan_ms, cache, known, previous_paths, cached_blocks)
            })
        })?;
    let read_started = Instant::now();
    let tasks = if options.recycle_pkglist && options.update {
        match previous_paths {
            Some(mut paths) => {
                paths.extend(listed.iter().cloned());
                paths.sort();
                paths.dedup();
                from_list(&paths, &options.excludes)
            }
            None => {
                tracing::warn!(
                    "--recycle-pkglist: no package cache from a previous run, walking {}",
                    input_dir.display()
                );
                let mut tasks = walk(input_dir, &options.excludes, options.skip_symlinks)?;
                tasks.extend(from_list(&listed, &options.excludes));
                crate::scan::sort_tasks(&mut tasks);
                tasks.dedup_by(|a, b| a.relative_path == b.relative_path);
                tasks
            }
        }
    } else {
        tasks
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.workers.max(1))
        .build()
        .map_err(|e| Error::BadOption(format!("cannot start {} workers: {e}", options.workers)))?;
    let temp_dir = temp.path.clone();
    // Fragments go next to the cache, where later runs find them; without a cache they are
    // scratch files in the temporary directory.
    let (secs, micros) = unix_now();
    let fragment_dir = match &cache {
        Some(cache) => cache.dir().to_owned(),
        None => temp_dir.clone(),
    };
    let writer = FragmentWriter::new(
        &fragment_dir,
        &format!("fragments-{secs}-{micros}-{}", std::process::id()),
        pool.current_num_threads(),
    );

    // Pass 1, parallel: read new or changed packages, render their metadata into the spill
    // files; keep only what ordering and duplicate resolution need in memory.
    let done = AtomicU64::new(0);
    let read = AtomicU64::new(0);
    let total = tasks.len() as u64;
    let packages_found = tasks.len();
    let results: Vec<std::result::Result<PreparedPackage, FailedPackage>> = pool.install(|| {
        tasks
            .into_par_iter()
            .map(|task| {
                let result = prepare_package(task, options, &known, &writer);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if !matches!(&result, Ok(p) if !p.fresh)
                    && (read.fetch_add(1, Ordering::Relaxed) + 1)
                        .is_multiple_of(TRIM_EVERY_PACKAGES)
                {
                    crate::memory::release_free_memory();
                }
                progress(finished, total);
                result
            })
            .collect()
    });
    let run_fragment_files = writer.finish()?;
    let mut skipped = Vec::new();
    for result in &results {
        if let Err(failed) = result {
            let path = input_dir.join(&failed.relative_path).display().to_string();
            let err = &failed.error;
            tracing::error!("{path}: {err}");
            skipped.push(SkippedPackage {
                path,
                reason: err.to_string(),
            });
        }
    }
    // Collected in place (the results' buffer is reused): a second array of every package
    // next to the first was the largest allocation of a cold run.
    let prepared: Vec<PreparedPackage> = results.into_iter().filter_map(Result::ok).collect();
    // Pass 1 freed every package's header and text; hand that back before pass 2 starts.
    crate::memory::release_free_memory();
    let reused = prepared.iter().filter(|p| !p.fresh).count();
    // Blocks of packages read in this run are compressed, and their buffers churn the heap;
    // reused blocks are copied through small buffers only.
    let trim_while_writing = read.into_inner() >= TRIM_EVERY_PACKAGES;
    // Rewrite the cache's fragment files when most of what they hold is dead.
    let live_bytes: u64 = prepared.iter().map(|p| p.location.total_len()).sum();
    let stored_bytes: u64 = {
        let mut files: Vec<&Arc<PathBuf>> = prepared.iter().map(|p| &p.location.file).collect();
        files.sort();
        files.dedup();
        files
            .iter()
            .filter_map(|f| fs::metadata(f.as_path()).ok())
            .map(|m| m.len())
            .sum()
    };
    let compact = cache.is_some() && stored_bytes > 2 * live_bytes + COMPACTION_SLACK;
    let read_ms = read_started.elapsed().as_millis() as u64;

    let keys: Vec<DuplicateKey<'_>> = prepared
        .iter()
        .map(|p| DuplicateKey {
            nevra: &p.identity.nevra,
            time_build: p.identity.time_build,
            location: &p.identity.location_href,
        })
        .collect();
    let (duplicates, keep) = resolve(&keys, options.duplicated_nevra);
    // 40 bytes a package: gone before pass 2, whose buffers are the run's peak.
    drop(keys);
    for group in &duplicates {
        tracing::warn!("duplicate NEVRA {}:", group.nevra);
        for member in &group.members {
            tracing::warn!(
                "  {} (build time {}){}",
                member.location,
                member.build_time,
                if member.kept {
                    ""
                } else {
                    " — not written (keep-last)"
                }
            );
        }
    }
    let kept_count = keep.iter().filter(|k| **k).count();

    // Pass 2: one feeder fetches fragments in package order and hands them to a compressor
    // per document, the sqlite writer and the cache writer, through bounded channels.
    let write_started = Instant::now();
    let suffix = options.xml_compression.suffix();
    let mut kinds = vec![
        MetadataKind::Primary,
        MetadataKind::Filelists,
        MetadataKind::Other,
    ];
    if options.filelists_ext {
        kinds.push(MetadataKind::FilelistsExt);
    }
    let repomd_checksum = options.repomd_checksum.unwrap_or(options.checksum);
    type Batch = Arc<Fragments>;
    let block_cache = cache.as_mut().filter(|_| codec.is_some());
    // The feeder reads each package's text for the sqlite writer or a compaction; otherwise
    // the document writers read their own parts. With few packages read, the feeder instead
    // reads whole blocks of cached text for them (see [`read_block_spans`]) and may run further
    // ahead of the writers, since such a run holds little else in memory.
    let feeder_reads_text = options.database || compact;
    let read_whole_blocks = !feeder_reads_text && !trim_while_writing;
    let feed_depth = if read_whole_blocks {
        SPAN_CHANNEL_DEPTH
    } else {
        BLOCK_CHANNEL_DEPTH
    };
    let (documents, database_result, feed_result, store_result) = std::thread::scope(|scope| {
        let (store_tx, store) = match block_cache {
            Some(block_cache) => {
                let (tx, rx) = sync_channel::<BlockMessage>(BLOCK_CHANNEL_DEPTH * kinds.len());
                (
                    Some(tx),
                    Some(scope.spawn(move || block_cache.store_blocks(rx))),
                )
            }
            None => (None, None),
        };
        let mut senders: Vec<SyncSender<Feed>> = Vec::new();
        let mut writers = Vec::new();
        for &kind in &kinds {
            let (tx, rx) = sync_channel::<Feed>(feed_depth);
            senders.push(tx);
            let path = temp_dir.join(format!("{}.xml{suffix}", kind.name()));
            let cached_blocks = &cached_blocks;
            let store_tx = store_tx.clone();
            writers.push(scope.spawn(move || -> Result<WriterOutput> {
                let (stats, compressed, reused) = match codec {
                    Some(codec) => write_block_document(
                        &path,
                        kind,
                        kept_count,
                        rx,
                        codec,
                        repomd_checksum,
                        BlockReuse {
                            cached: cached_blocks,
                            store: store_tx,
                        },
                    )?,
                    None => {
                        let stats = write_document(
                            &path,
                            kind,
                            kept_count,
                            rx,
                            options.xml_compression,
                            repomd_checksum,
                        )?;
                        (stats, 0, 0)
                    }
                };
                Ok((
                    PendingFile {
                        kind: kind.name().to_owned(),
                        path,
                        stats,
                    },
                    compressed,
                    reused,
                ))
            }));
        }
        drop(store_tx);
        let (db_tx, database) = if options.database {
            let (tx, rx) = sync_channel::<Batch>(CHANNEL_DEPTH);
            let temp_dir = &temp_dir;
            (
                Some(tx),
                Some(scope.spawn(move || -> Result<RepoDatabases> {
                    let mut databases = RepoDatabases::create(temp_dir)?;
                    for fragments in rx {
                        databases.add(&fragments.record()?)?;
                    }
                    Ok(databases)
                })),
            )
        } else {
            (None, None)
        };
        let feed = (|| -> Result<Vec<(String, CachedIdentity, FragmentLocation)>> {
            let mut reader = FragmentReader::default();
            let compacted = compact.then(|| {
                FragmentWriter::new(
                    &fragment_dir,
                    &format!("fragments-{secs}-{micros}-{}-compact", std::process::id()),
                    1,
                )
            });
            let mut moved = Vec::new();
            let mut block: Vec<PackageText> = Vec::new();
            let mut block_key = ChecksumType::Sha256.hasher();
            let mut block_bytes = 0usize;
            let mut blocks_sent = 0usize;
            let last_kept = keep.iter().rposition(|k| *k);
            for (index, (package, &keep)) in prepared.iter().zip(&keep).enumerate() {
                if !keep && compacted.is_none() {
                    continue;
                }
                let fragments = if feeder_reads_text {
                    Some(Arc::new(reader.read(&package.location)?))
                } else {
                    None
                };
                if let (Some(compacted), Some(fragments)) = (&compacted, &fragments) {
                    let location = compacted.write(fragments)?;
                    moved.push((
                        package.relative_path().to_owned(),
                        package.identity.clone(),
                        location,
                    ));
                }
                if !keep {
                    continue;
                }
                if let (Some(tx), Some(fragments)) = (&db_tx, &fragments) {
                    let _ = tx.send(Arc::clone(fragments));
                }
                // A block is named by its packages' identities: the same files give the same
                // text, so --update can take the compressed block from the cache.
                let identity = &package.identity;
                block_key.update(
                    format!(
                        "{}\0{}\0{}\0{}\n",
                        package.relative_path(),
                        identity.size,
                        identity.mtime,
                        identity.location_href
                    )
                    .as_bytes(),
                );
                let text = match fragments {
                    Some(fragments) => PackageText::Loaded(fragments),
                    None => PackageText::Stored(package.location.clone()),
                };
                block_bytes += text.documents_len();
                block.push(text);
                if Some(index) == last_kept
                    || block_bytes >= MAX_BLOCK_BYTES
                    || ends_block(package.relative_path())
                {
                    let key = std::mem::replace(&mut block_key, ChecksumType::Sha256.hasher());
                    let mut block = std::mem::take(&mut block);
                    if read_whole_blocks {
                        block = read_block_spans(&mut reader, block)?;
                    }
                    send_block(&senders, key.finish_hex(), block);
                    block_bytes = 0;
                    blocks_sent += 1;
                    if trim_while_writing && blocks_sent.is_multiple_of(TRIM_EVERY_BLOCKS) {
                        crate::memory::release_free_memory();
                    }
                }
            }
            if let Some(compacted) = compacted {
                compacted.finish()?;
            }
            Ok(moved)
        })();
        drop(senders);
        drop(db_tx);
        let documents: Vec<Result<WriterOutput>> = writers
            .into_iter()
            .map(|h| h.join().expect("metadata writer thread panicked"))
            .collect();
        let database = database.map(|h| h.join().expect("sqlite writer thread panicked"));
        let stored = store.map(|h| h.join().expect("block cache thread panicked"));
        (documents, database, feed, stored)
    });
    if let Some(Err(err)) = store_result {
        tracing::warn!("could not cache metadata blocks: {err}");
    }
    let moved = feed_result?;
    if let Some(cache) = cache.as_mut() {
        // Fresh packages point at this run's fragment files; after a compaction every entry
        // points at the compacted file.
        // Streamed, not collected: a cold run stores every package, and a copy of all their
        // identities at once was the run's peak memory.
        let changed: Box<dyn Iterator<Item = (String, CachedIdentity, FragmentLocation)>> =
            if compact {
                Box::new(moved.into_iter())
            } else {
                Box::new(prepared.iter().filter(|p| p.fresh).map(|p| {
                    (
                        p.relative_path().to_owned(),
                        p.identity.clone(),
                        p.location.clone(),
                    )
                }))
            };
        let result = cache
            .update(changed, &present_paths(&prepared))
            .and_then(|()| cache.remove_unreferenced_fragment_files());
        if let Err(err) = result {
            tracing::warn!(
                "the package cache could not be updated (next --update reads more): {err}"
            );
        }
    } else {
        for file in &run_fragment_files {
            let _ = fs::remove_file(file.as_path());
        }
    }
    let (mut blocks_compressed, mut blocks_reused) = (0, 0);
    let mut pending = Vec::new();
    for document in documents {
        let (file, compressed, reused) = document?;
        pending.push(file);
        blocks_compressed += compressed;
        blocks_reused += reused;
    }

    if let Some(databases) = database_result {
        let databases = databases?;
        let checksum_of = |kind: &str| {
            pending
                .iter()
                .find(|p| p.kind == kind)
                .map(|p| p.stats.checksum.clone())
                .unwrap_or_default()
        };
        let paths = databases.finish(
            &checksum_of("primary"),
            &checksum_of("filelists"),
            &checksum_of("other"),
        )?;
        let mut databases: Vec<(PathBuf, &str)> = paths
            .iter()
            .cloned()
            .zip(["primary_db", "filelists_db", "other_db"])
            .collect();
        if options.filelists_ext {
            let ext = write_filelists_ext_database(
                &paths[1],
                &temp_dir.join("filelists-ext.sqlite"),
                &checksum_of("filelists-ext"),
            )?;
            databases.push((ext, "filelists-ext_db"));
        }
        let sqlite_suffix = options.sqlite_compression.suffix();
        for (path, kind) in &databases {
            let dest = PathBuf::from(format!("{}{sqlite_suffix}", path.display()));
            let stats = compress_file(path, &dest, options.sqlite_compression, repomd_checksum)?;
            fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            pending.push(PendingFile {
                kind: (*kind).to_owned(),
                path: dest,
                stats,
            });
        }
    }

    if let Some(groupfile) = &options.groupfile {
        let name = groupfile
            .file_name()
            .ok_or_else(|| Error::BadOption(format!("bad --groupfile {}", groupfile.display())))?;
        let dest = temp_dir.join(format!(
            "{}{}",
            name.to_string_lossy(),
            options.other_compression.suffix()
        ));
        let stats = compress_file(groupfile, &dest, options.other_compression, repomd_checksum)?;
        pending.push(PendingFile {
            kind: "group".into(),
            path: dest,
            stats,
        });
    }

    let mut repomd = Repomd {
        revision: revision.clone(),
        content_tags: options.content_tags.clone(),
        repo_tags: options.repo_tags.clone(),
        distro_tags: options
            .distro_tags
            .iter()
            .map(|d| parse_distro(d))
            .collect(),
        records: Vec::new(),
    };
    for file in pending {
        repomd.records.push(place_metadata_file(
            file,
            options.unique_md_filenames,
            fixed_timestamp,
            repomd_checksum,
        )?);
    }
    let old_records = old_repomd_records(out_dir);
    if options.update && options.keep_all_metadata {
        keep_additional_metadata(
            out_dir,
            &temp_dir,
            options,
            fixed_timestamp,
            &old_records,
            &mut repomd,
        )?;
    }
    repomd.sort_records();
    retain_old_files(
        &out_dir.join("repodata"),
        &temp_dir,
        options.retention,
        &old_records,
    )?;

    let repomd_path = temp_dir.join("repomd.xml");
    let mut repomd_file = MetadataFile::create(&repomd_path, Compression::None, repomd_checksum)?;
    repomd_file.write_all(repomd.render().as_bytes())?;
    repomd_file.finish()?;
    if let Some(ts) = fixed_timestamp {
        set_mtime(&repomd_path, ts)?;
    }
    before_swap(&temp_dir).map_err(|err| Error::BeforeSwap(err.to_string()))?;
    sync_dir(&temp_dir)?;
    let repodata_dir = swap_into_place(&temp_dir, out_dir)?;
    temp.committed = true;
    let write_ms = write_started.elapsed().as_millis() as u64;

    Ok(CreaterepoSummary {
        repodata_dir,
        packages_found,
        packages_written: kept_count,
        packages_reused: reused,
        blocks_reused,
        blocks_compressed,
        skipped,
        duplicates,
        files: repomd
            .records
            .iter()
            .map(|r| WrittenFile {
                kind: r.kind.clone(),
                location: r.location_href.clone(),
                checksum_type: r.checksum_type.name().to_owned(),
                checksum: r.stats.checksum.clone(),
                size: r.stats.size,
                open_checksum: r.stats.open_checksum.clone(),
                open_size: r.stats.open_size,
            })
            .collect(),
        revision,
        timings: Timings {
            scan_ms,
            read_ms,
            write_ms,
            total_ms: started.elapsed().as_millis() as u64,
        },
    })
}

/// A package whose metadata is already rendered (with its final location href), as a
/// publisher keeps it: [`write_repodata`] writes it without reading the package again.
#[derive(Debug, Clone)]
pub struct RenderedPackage {
    /// The location href written in the fragments; it also places metadata block boundaries.
    pub location_href: String,
    /// The rendered primary, filelists and other documents.
    pub fragments: Arc<Fragments>,
}

/// Options of [`write_repodata`].
#[derive(Debug, Clone)]
pub struct RepodataOptions {
    /// Checksum of the metadata files and repomd.xml.
    pub checksum: ChecksumType,
    /// Compression of primary, filelists and other.
    pub compression: Compression,
    /// `<revision>` of repomd.xml.
    pub revision: String,
    /// Timestamp of every record and file (deterministic output); `None`: the files' mtimes.
    pub timestamp: Option<i64>,
    /// Also write filelists-ext (the fragments must carry it).
    pub filelists_ext: bool,
}

/// Writes `primary`, `filelists`, `other` (named `<checksum>-<kind>.xml<suffix>`) and then
/// `repomd.xml` into the existing directory `dir`, from packages in the order given. The
/// caller orders the packages and resolves duplicates; it also moves the files into place.
/// Returns the repomd document that was written.
pub fn write_repodata(
    dir: &Path,
    packages: &[RenderedPackage],
    options: &RepodataOptions,
) -> Result<Repomd> {
    let mut kinds = vec![
        MetadataKind::Primary,
        MetadataKind::Filelists,
        MetadataKind::Other,
    ];
    if options.filelists_ext {
        kinds.push(MetadataKind::FilelistsExt);
    }
    let suffix = options.compression.suffix();
    let codec = BlockCodec::for_compression(options.compression);
    let no_cache = HashMap::new();
    let count = packages.len();
    let checksum = options.checksum;
    let documents: Vec<Result<PendingFile>> = std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut writers = Vec::new();
        for &kind in &kinds {
            let (tx, rx) = sync_channel::<Feed>(BLOCK_CHANNEL_DEPTH);
            senders.push(tx);
            let path = dir.join(format!("{}.xml{suffix}", kind.name()));
            let no_cache = &no_cache;
            writers.push(scope.spawn(move || -> Result<PendingFile> {
                let stats = match codec {
                    Some(codec) => {
                        let blocks = BlockReuse {
                            cached: no_cache,
                            store: None,
                        };
                        write_block_document(&path, kind, count, rx, codec, checksum, blocks)?.0
                    }
                    None => write_document(&path, kind, count, rx, options.compression, checksum)?,
                };
                Ok(PendingFile {
                    kind: kind.name().to_owned(),
                    path,
                    stats,
                })
            }));
        }
        let mut block: Vec<PackageText> = Vec::new();
        let mut block_bytes = 0usize;
        for (index, package) in packages.iter().enumerate() {
            let text = PackageText::Loaded(Arc::clone(&package.fragments));
            block_bytes += text.documents_len();
            block.push(text);
            if index + 1 == count
                || block_bytes >= MAX_BLOCK_BYTES
                || ends_block(&package.location_href)
            {
                send_block(&senders, index.to_string(), std::mem::take(&mut block));
                block_bytes = 0;
            }
        }
        drop(senders);
        writers
            .into_iter()
            .map(|h| h.join().expect("metadata writer thread panicked"))
            .collect()
    });
    let mut repomd = Repomd {
        revision: options.revision.clone(),
        ..Repomd::default()
    };
    for document in documents {
        repomd.records.push(place_metadata_file(
            document?,
            true,
            options.timestamp,
            checksum,
        )?);
    }
    repomd.sort_records();
    let repomd_path = dir.join("repomd.xml");
    let mut repomd_file = MetadataFile::create(&repomd_path, Compression::None, checksum)?;
    repomd_file.write_all(repomd.render().as_bytes())?;
    repomd_file.finish()?;
    if let Some(ts) = options.timestamp {
        set_mtime(&repomd_path, ts)?;
    }
    sync_dir(dir)?;
    Ok(repomd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_spans_give_each_writer_the_text_it_would_read_itself() {
        let dir = tempfile::tempdir().unwrap();
        let first = FragmentWriter::new(dir.path(), "a", 1);
        let second = FragmentWriter::new(dir.path(), "b", 1);
        let fragments = |n: usize| {
            Fragments::new(
                &format!("<p{n}/>"),
                &"f".repeat(n),
                &format!("<o{n}/>"),
                n.is_multiple_of(2).then_some("<ext/>"),
                "",
            )
            .unwrap()
        };
        // Two runs in file a (a gap after the second package), one package in file b.
        let mut locations = Vec::new();
        for n in 0..5 {
            let writer = if n == 3 { &second } else { &first };
            locations.push(writer.write(&fragments(n)).unwrap());
        }
        first.finish().unwrap();
        second.finish().unwrap();
        let order = [0, 1, 3, 4, 2];
        let stored: Vec<PackageText> = order
            .iter()
            .map(|&i| PackageText::Stored(locations[i].clone()))
            .collect();
        let mut reader = FragmentReader::default();
        let spans = read_block_spans(&mut reader, stored).unwrap();
        assert!(spans.iter().all(|t| matches!(t, PackageText::InSpan(..))));
        let stored: Vec<PackageText> = order
            .iter()
            .map(|&i| PackageText::Stored(locations[i].clone()))
            .collect();
        for kind in [
            MetadataKind::Primary,
            MetadataKind::Filelists,
            MetadataKind::Other,
            MetadataKind::FilelistsExt,
        ] {
            let (mut a, mut b) = (BlockText::default(), BlockText::default());
            assert_eq!(
                a.gather(&spans, kind).unwrap(),
                b.gather(&stored, kind).unwrap(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn location_prefix_is_joined_like_g_build_filename() {
        assert_eq!(join_href(None, "a/b.rpm"), "a/b.rpm");
        assert_eq!(join_href(Some("pfx/"), "a/b.rpm"), "pfx/a/b.rpm");
        assert_eq!(join_href(Some(""), "b.rpm"), "b.rpm");
    }

    #[test]
    fn an_unreadable_old_repomd_counts_as_none() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("repodata")).unwrap();
        assert!(old_repomd_records(dir.path()).is_empty());
        let repomd = dir.path().join("repodata/repomd.xml");
        fs::write(
            &repomd,
            r#"<repomd><data type="primary"><location href="repodata/abc-primary.xml.gz"/></data>
               <data type="group"><location href="repodata/comps&amp;.xml"/></data></repomd>"#,
        )
        .unwrap();
        let hrefs: Vec<_> = old_repomd_records(dir.path())
            .into_iter()
            .map(|r| r.location_href.unwrap())
            .collect();
        assert_eq!(
            hrefs,
            ["repodata/abc-primary.xml.gz", "repodata/comps&.xml"]
        );
        fs::write(&repomd, "<repomd><data type=\"primary\">").unwrap();
        assert!(old_repomd_records(dir.path()).is_empty());
    }

    #[test]
    fn dead_fragments_are_compacted_without_changing_the_output() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms");
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        fs::create_dir(&repo).unwrap();
        for entry in fs::read_dir(&fixtures).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), repo.join(entry.file_name())).unwrap();
            }
        }
        let mut options = CreaterepoOptions::new(&repo);
        options.revision = Some("1".into());
        options.set_timestamp_to_revision = true;
        options.workers = 1; // one fragment file
        run(&options, &|_, _| {}).unwrap();
        // Most packages go away: the fragment file now holds mostly dead entries.
        let mut packages: Vec<PathBuf> = fs::read_dir(&repo)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
            .collect();
        packages.sort_by_key(|p| fs::metadata(p).unwrap().len());
        for path in &packages[2..] {
            fs::remove_file(path).unwrap();
        }
        options.update = true;
        let summary = run(&options, &|_, _| {}).unwrap();
        assert_eq!(summary.packages_reused, 2);
        let fragment_files = |repo: &Path| {
            fs::read_dir(repo.join(".rpmdepot"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("fragments-"))
                .collect::<Vec<_>>()
        };
        let files = fragment_files(&repo);
        assert_eq!(files.len(), 1, "one compacted file remains: {files:?}");
        assert!(files[0].ends_with("-compact-0.dat"), "{files:?}");
        // The compacted cache serves the next update, and output matches a cold run.
        let summary = run(&options, &|_, _| {}).unwrap();
        assert_eq!(summary.packages_reused, summary.packages_found);
        let updated = fs::read(repo.join("repodata/repomd.xml")).unwrap();
        options.update = false;
        options.cachedir = Some(dir.path().join("other-cache"));
        run(&options, &|_, _| {}).unwrap();
        assert_eq!(updated, fs::read(repo.join("repodata/repomd.xml")).unwrap());
    }

    #[test]
    fn repodata_from_rendered_packages_matches_a_createrepo_run() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rpms");
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        fs::create_dir(&repo).unwrap();
        let mut names: Vec<String> = fs::read_dir(&fixtures)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rpm"))
            .collect();
        names.sort();
        for name in &names {
            fs::copy(fixtures.join(name), repo.join(name)).unwrap();
        }
        let mut options = CreaterepoOptions::new(&repo);
        options.revision = Some("7".into());
        options.set_timestamp_to_revision = true;
        options.duplicated_nevra = DuplicatePolicy::KeepAll;
        run(&options, &|_, _| {}).unwrap();
        let expected = fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();

        let mut packages = Vec::new();
        for name in &names {
            let path = repo.join(name);
            let source = PackageSource {
                path: &path,
                location_href: name,
                location_base: None,
            };
            let record =
                read_package(&source, ChecksumType::Sha256, ChangelogLimit::Newest(10)).unwrap();
            packages.push(RenderedPackage {
                location_href: name.clone(),
                fragments: Arc::new(Fragments::render(&record, false, "").unwrap()),
            });
        }
        let out = dir.path().join("published");
        fs::create_dir(&out).unwrap();
        let repomd = write_repodata(
            &out,
            &packages,
            &RepodataOptions {
                checksum: ChecksumType::Sha256,
                compression: Compression::Zstd,
                revision: "7".into(),
                timestamp: Some(7),
                filelists_ext: false,
            },
        )
        .unwrap();
        assert_eq!(repomd.records.len(), 3);
        assert_eq!(
            fs::read_to_string(out.join("repomd.xml")).unwrap(),
            expected
        );
    }

    #[test]
    fn a_second_run_is_refused_while_the_lock_exists() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_output(dir.path(), false).unwrap();
        let err = lock_output(dir.path(), false)
            .err()
            .expect("second lock must fail");
        assert!(err.to_string().contains("another createrepo run"), "{err}");
        drop(first);
        assert!(
            !dir.path().join(".repodata").exists(),
            "guard removes the lock"
        );
        lock_output(dir.path(), false).unwrap();
    }
}
