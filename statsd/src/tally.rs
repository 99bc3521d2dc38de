//! Counting one log file: every line becomes a request, a rejection or a meta line, and
//! every request is counted under exactly one counter (see the crate docs for the rules).
//!
//! Owns the per-file aggregate (interned strings, compact keys, no per-line allocation once
//! a file's repositories and packages have been seen). Must not touch the database.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::Read;
use std::sync::Arc;

use crate::artifact::{Kind, Layout, LayoutName, PathMapper};
use crate::client::ClientClass;
use crate::format::{Format, LineParser, Parsed};
use crate::input::{Line, LineReader};
use crate::record::{Encoding, Rejection, Request};
use crate::text::{has_escape, percent_decode_into};
use crate::time::day_of;

/// A small fast hasher for in-memory keys (not exposed to untrusted collision attacks that
/// matter: worst case is a slower file).
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = 0u64;
        for (i, byte) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(*byte) << (8 * i);
        }
        self.add(tail ^ bytes.len() as u64);
    }
    #[inline]
    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }
    #[inline]
    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }
    #[inline]
    fn write_i64(&mut self, value: i64) {
        self.add(value as u64);
    }
    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // Final avalanche (MurmurHash3's fmix64): hashbrown takes buckets from the low bits
        // and tags from the high bits, so every input bit must reach both.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The counters of one (day, repository, package, kind, client) cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Completed GET 200 transfers (and countme hits for kind `countme`).
    pub downloads: u64,
    /// Bytes sent for those downloads.
    pub bytes: u64,
    pub heads: u64,
    pub not_modified: u64,
    /// 206 responses (with `range_end` ≥ 0 they become downloads when the range ends at the
    /// file's last byte).
    pub partials: u64,
    /// GET 200 whose transfer did not complete.
    pub aborted: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.downloads += other.downloads;
        self.bytes += other.bytes;
        self.heads += other.heads;
        self.not_modified += other.not_modified;
        self.partials += other.partials;
        self.aborted += other.aborted;
    }
}

/// One aggregated row of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Shared with every other row (and size) of the file that names it.
    pub repository: Arc<str>,
    pub package: Arc<str>,
    pub kind: Kind,
    pub client: ClientClass,
    pub layout: LayoutName,
    /// Last byte of a complete 206 of a package file, −1 otherwise.
    pub range_end: i64,
    pub counts: Counts,
}

/// Requests that were fine but are not counted under any counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotCounted {
    /// The path is no artifact of any layout (logs, directories, other sites).
    NotAnArtifact,
    /// A method other than GET and HEAD.
    OtherMethod,
    /// 1xx, 3xx other than 304, 2xx other than 200/206.
    OtherStatus,
}

impl NotCounted {
    pub fn name(self) -> &'static str {
        match self {
            NotCounted::NotAnArtifact => "not_an_artifact",
            NotCounted::OtherMethod => "other_method",
            NotCounted::OtherStatus => "other_status",
        }
    }
}

/// The outcome of counting one file.
#[derive(Debug, Clone, Default)]
pub struct FileCounts {
    pub format: Option<Format>,
    pub lines: u64,
    pub requests: u64,
    pub rejections: BTreeMap<Rejection, u64>,
    pub not_counted: BTreeMap<NotCounted, u64>,
    /// Why the stream ended early, if it did.
    pub stream_error: Option<String>,
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    /// Rows sorted by their key.
    pub rows: Vec<CountRow>,
    /// Sizes of package files seen in completed GET 200 responses.
    pub sizes: Vec<(Arc<str>, Arc<str>, u64)>,
    /// Downloads in batches already handed out by [`Tally::read_lines_in_batches`].
    pub spilled_downloads: u64,
}

impl FileCounts {
    /// Sum of all downloads (complete 206 not included: their size is resolved in the store).
    pub fn downloads(&self) -> u64 {
        self.spilled_downloads
            + self
                .rows
                .iter()
                .filter(|r| r.kind != Kind::Countme)
                .map(|r| r.counts.downloads)
                .sum::<u64>()
    }

    pub fn rejected(&self) -> u64 {
        self.rejections.values().sum()
    }
}

/// Rows and sizes handed out before the end of a file, to bound memory on huge files.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub rows: Vec<CountRow>,
    pub sizes: Vec<(Arc<str>, Arc<str>, u64)>,
}

/// Distinct cells a tally holds before it hands them out as a [`Batch`].
pub const BATCH_CELLS: usize = 25_000;

/// What counting needs to know besides the lines.
#[derive(Debug, Clone)]
pub struct CountOptions {
    pub layouts: Vec<Layout>,
    /// When not empty, requests whose logged host is another one are rejected (lines without
    /// a host are kept).
    pub hosts: Vec<String>,
}

impl Default for CountOptions {
    fn default() -> Self {
        CountOptions {
            layouts: Layout::defaults(),
            hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    day: i32,
    repository: u32,
    package: u32,
    kind: Kind,
    client: ClientClass,
    layout: u8,
    range_end: i64,
}

impl Key {
    /// Day, repository, package, kind and client packed so that comparing the numbers
    /// compares the fields in that order.
    #[inline]
    fn packed(&self) -> u128 {
        let day = (self.day as u32) ^ (1 << 31);
        u128::from(day) << 96
            | u128::from(self.repository) << 64
            | u128::from(self.package) << 32
            | u128::from(self.kind as u8) << 8
            | u128::from(self.client as u8)
    }
}

impl Hash for Key {
    // Three words instead of seven fields, four of them narrower than a word.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let packed = self.packed();
        state.write_u64((packed >> 64) as u64);
        state.write_u64(packed as u64 | u64::from(self.layout) << 16);
        state.write_i64(self.range_end);
    }
}

/// Names by id; a name is allocated once and shared by the rows that carry it.
///
/// Looked up by the name's [`Fingerprint`], so a lookup reads the table only, never the
/// stored name (that read was a cache miss of its own on logs naming many files).
#[derive(Debug, Default)]
struct Interner {
    ids: FastMap<Fingerprint, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    #[inline]
    fn id(&mut self, text: &str) -> u32 {
        let names = &mut self.names;
        *self
            .ids
            .entry(fingerprint(text.as_bytes(), 3))
            .or_insert_with(|| {
                names.push(text.into());
                (names.len() - 1) as u32
            })
    }
}

/// Two independent 64-bit hashes of some bytes and a tag saying what they are. Two
/// different inputs would have to agree on both to be confused.
type Fingerprint = (u64, u64);

#[inline]
fn fingerprint(bytes: &[u8], tag: u64) -> Fingerprint {
    let mut first = FastHasher(0x243f_6a88_85a3_08d3 ^ tag);
    first.write(bytes);
    let mut second = FastHasher(0x1319_8a2e_0370_7344 ^ tag);
    second.write(bytes);
    second.write_u64(bytes.len() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    (first.finish(), second.finish().rotate_left(17) ^ first.0)
}

const AGENT_CACHE_LIMIT: usize = 16_384;
/// Paths the path cache holds (a power of two).
const PATH_CACHE_ENTRIES: usize = 1 << 17;
/// Entries per set of the path cache.
const PATH_CACHE_WAYS: usize = 4;
const PATH_CACHE_SETS: usize = PATH_CACHE_ENTRIES / PATH_CACHE_WAYS;
/// Repository and package names kept across batches (then forgotten with the path cache).
const MAX_INTERNED: usize = 100_000;

/// Raw path → what it resolved to, keyed by a 128-bit fingerprint of the path and its
/// encoding: fixed memory, no allocation. Set associative with least-recently-used
/// replacement within a set, so a popular path is not pushed out by one rare path that
/// happens to share its slot (a direct-mapped cache resolved a third of all lines again on
/// logs naming about as many distinct files as it has slots). Two different paths would
/// have to agree on two independent 64-bit hashes to be confused.
struct PathCache {
    sets: Box<[PathSet]>,
}

/// One set, most recently used first; aligned so that a lookup touches as few cache lines
/// as possible.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct PathSet([Option<(Fingerprint, Target)>; PATH_CACHE_WAYS]);

impl PathCache {
    fn new() -> Self {
        PathCache {
            sets: vec![PathSet([None; PATH_CACHE_WAYS]); PATH_CACHE_SETS].into_boxed_slice(),
        }
    }

    #[inline]
    fn fingerprint(path: &[u8], encoding: Encoding) -> Fingerprint {
        let tag = match encoding {
            Encoding::CloudFront => 1,
            Encoding::AsSent => 2,
        };
        fingerprint(path, tag)
    }

    #[inline]
    fn set_of(&mut self, fingerprint: Fingerprint) -> &mut PathSet {
        &mut self.sets[fingerprint.0 as usize & (PATH_CACHE_SETS - 1)]
    }

    /// The cached target; a hit moves the path to the front of its set.
    #[inline]
    fn get(&mut self, fingerprint: Fingerprint) -> Option<Target> {
        let set = &mut self.set_of(fingerprint).0;
        let way = set
            .iter()
            .position(|entry| matches!(entry, Some((stored, _)) if *stored == fingerprint))?;
        let entry = set[way];
        set.copy_within(0..way, 1);
        set[0] = entry;
        entry.map(|(_, target)| target)
    }

    /// Adds a path not in the cache, dropping the least recently used of its set.
    #[inline]
    fn insert(&mut self, fingerprint: Fingerprint, target: Target) {
        let set = &mut self.set_of(fingerprint).0;
        set.copy_within(0..PATH_CACHE_WAYS - 1, 1);
        set[0] = Some((fingerprint, target));
    }
}

/// What a raw path resolved to (cached per raw path).
#[derive(Debug, Clone, Copy)]
enum Target {
    Rejected(Rejection),
    NotAnArtifact,
    Countme,
    Artifact {
        repository: u32,
        package: u32,
        kind: Kind,
        layout: u8,
    },
}

/// Counts the lines of one file.
pub struct Tally {
    hosts: Vec<Vec<u8>>,
    mapper: PathMapper,
    strings: Interner,
    cells: FastMap<Key, Counts>,
    sizes: FastMap<(u32, u32), u64>,
    agents: FastMap<Box<[u8]>, ClientClass>,
    paths: PathCache,
    path: Vec<u8>,
    path_once: Vec<u8>,
    agent: Vec<u8>,
    query: Vec<u8>,
    result: FileCounts,
}

fn layout_id(layout: LayoutName) -> u8 {
    match layout {
        LayoutName::Copr => 0,
        LayoutName::Rpmdepot => 1,
        LayoutName::Pattern => 2,
    }
}

fn layout_of(id: u8) -> LayoutName {
    match id {
        0 => LayoutName::Copr,
        1 => LayoutName::Rpmdepot,
        _ => LayoutName::Pattern,
    }
}

/// Last value of `name` in a query string (mirrormanager semantics), raw.
fn query_value<'q>(query: &'q [u8], name: &[u8]) -> Option<&'q [u8]> {
    query
        .split(|b| *b == b'&')
        .filter_map(|pair| {
            let (key, value) = match memchr::memchr(b'=', pair) {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            (key == name).then_some(value)
        })
        .next_back()
}

impl Tally {
    pub fn new(options: &CountOptions) -> Self {
        Tally {
            hosts: options
                .hosts
                .iter()
                .map(|h| h.as_bytes().to_ascii_lowercase())
                .collect(),
            mapper: PathMapper::new(options.layouts.clone()),
            strings: Interner::default(),
            cells: FastMap::default(),
            sizes: FastMap::default(),
            agents: FastMap::default(),
            paths: PathCache::new(),
            path: Vec::with_capacity(512),
            path_once: Vec::with_capacity(512),
            agent: Vec::with_capacity(256),
            query: Vec::with_capacity(256),
            result: FileCounts::default(),
        }
    }

    #[inline]
    fn reject(&mut self, rejection: Rejection) {
        *self.result.rejections.entry(rejection).or_default() += 1;
    }

    #[inline]
    fn not_counted(&mut self, why: NotCounted) {
        *self.result.not_counted.entry(why).or_default() += 1;
    }

    fn client_of(&mut self, agent: &[u8], encoding: Encoding) -> ClientClass {
        if let Some(&class) = self.agents.get(agent) {
            return class;
        }
        let class = match encoding {
            Encoding::CloudFront => {
                self.agent.clear();
                percent_decode_into(agent, &mut self.agent);
                ClientClass::of(&self.agent)
            }
            Encoding::AsSent => ClientClass::of(agent),
        };
        if self.agents.len() >= AGENT_CACHE_LIMIT {
            self.agents.clear();
        }
        self.agents.insert(agent.into(), class);
        class
    }

    /// Counts one request.
    pub fn count(&mut self, request: &Request<'_>) {
        self.result.requests += 1;
        match request.status {
            0 => return self.reject(Rejection::ClientClosed),
            400..=499 => return self.reject(Rejection::ClientError),
            500..=599 => return self.reject(Rejection::ServerError),
            _ => {}
        }
        if !self.hosts.is_empty()
            && !request.host.is_empty()
            && !self
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(request.host))
        {
            return self.reject(Rejection::OtherHost);
        }
        self.result.first_timestamp = Some(
            self.result
                .first_timestamp
                .map_or(request.timestamp, |t| t.min(request.timestamp)),
        );
        self.result.last_timestamp = Some(
            self.result
                .last_timestamp
                .map_or(request.timestamp, |t| t.max(request.timestamp)),
        );

        let fingerprint = PathCache::fingerprint(request.path, request.encoding);
        let target = match self.paths.get(fingerprint) {
            Some(target) => target,
            None => {
                let target = self.resolve_path(request);
                self.paths.insert(fingerprint, target);
                target
            }
        };
        match target {
            Target::Rejected(rejection) => self.reject(rejection),
            Target::NotAnArtifact => self.not_counted(NotCounted::NotAnArtifact),
            Target::Countme => {
                let method_ok = request.method == b"GET" || request.method == b"HEAD";
                self.count_countme(request, day_of(request.timestamp) as i32, method_ok);
            }
            Target::Artifact {
                repository,
                package,
                kind,
                layout,
            } => self.count_artifact(request, repository, package, kind, layout),
        }
    }

    /// What a raw path is, decoded exactly as the format requires.
    fn resolve_path(&mut self, request: &Request<'_>) -> Target {
        self.path.clear();
        match request.encoding {
            Encoding::CloudFront => {
                self.path_once.clear();
                percent_decode_into(request.path, &mut self.path_once);
                percent_decode_into(&self.path_once, &mut self.path);
            }
            Encoding::AsSent => percent_decode_into(request.path, &mut self.path),
        }
        if has_escape(&self.path) {
            return Target::Rejected(Rejection::DoubleEncodedPath);
        }
        let Ok(path) = std::str::from_utf8(&self.path) else {
            return Target::Rejected(Rejection::BadPath);
        };
        if !path.starts_with('/') {
            return Target::Rejected(Rejection::BadPath);
        }
        if path.ends_with("/metalink") || path.ends_with("/mirrorlist") {
            return Target::Countme;
        }
        match self.mapper.map(path) {
            None => Target::NotAnArtifact,
            Some(artifact) => {
                let (kind, layout) = (artifact.kind, layout_id(artifact.layout));
                let repository = self.strings.id(artifact.repository);
                let package = self.strings.id(artifact.package);
                Target::Artifact {
                    repository,
                    package,
                    kind,
                    layout,
                }
            }
        }
    }

    fn count_artifact(
        &mut self,
        request: &Request<'_>,
        repository: u32,
        package: u32,
        kind: Kind,
        layout: u8,
    ) {
        let method = request.method;
        let is_get = method == b"GET";
        let is_head = method == b"HEAD";
        if !is_get && !is_head {
            return self.not_counted(NotCounted::OtherMethod);
        }
        let client = self.client_of(request.user_agent, request.encoding);
        let mut counts = Counts::default();
        let mut range_end = -1i64;
        let mut size = None;
        let incomplete = request.transfer_failed
            || matches!((request.bytes_sent, request.content_length), (Some(sent), Some(length)) if sent < length);
        match (is_head, request.status) {
            (true, 200..=299 | 304) => counts.heads = 1,
            (false, 200) if incomplete => counts.aborted = 1,
            (false, 200) => {
                counts.downloads = 1;
                counts.bytes = request.bytes_sent.unwrap_or(0);
                if kind.is_package() {
                    size = request.content_length;
                }
            }
            (false, 206) => {
                counts.partials = 1;
                if !incomplete && kind.is_package() {
                    range_end = request
                        .range_end
                        .and_then(|end| i64::try_from(end).ok())
                        .unwrap_or(-1);
                }
            }
            (false, 304) => counts.not_modified = 1,
            _ => return self.not_counted(NotCounted::OtherStatus),
        }
        let key = Key {
            day: day_of(request.timestamp) as i32,
            repository,
            package,
            kind,
            client,
            layout,
            range_end,
        };
        if let Some(size) = size {
            self.sizes.entry((repository, package)).or_insert(size);
        }
        self.cells.entry(key).or_default().add(&counts);
    }

    /// DNF countme: `countme=N` on a metalink/mirrorlist request, GET or HEAD, 200 or 302.
    fn count_countme(&mut self, request: &Request<'_>, day: i32, method_ok: bool) {
        self.query.clear();
        match request.encoding {
            Encoding::CloudFront => percent_decode_into(request.query, &mut self.query),
            Encoding::AsSent => self.query.extend_from_slice(request.query),
        }
        let query = std::mem::take(&mut self.query);
        let bucket = query_value(&query, b"countme").filter(|v| matches!(v, [b'1'..=b'4']));
        if bucket.is_none() || !method_ok || !matches!(request.status, 200 | 302) {
            self.query = query;
            return self.not_counted(NotCounted::NotAnArtifact);
        }
        let mut repository = Vec::new();
        percent_decode_into(query_value(&query, b"repo").unwrap_or(b""), &mut repository);
        repository.push(b'/');
        percent_decode_into(query_value(&query, b"arch").unwrap_or(b""), &mut repository);
        let repository = String::from_utf8_lossy(&repository).into_owned();
        let package = format!("countme={}", bucket.map_or('0', |b| char::from(b[0])));
        self.query = query;
        let client = self.client_of(request.user_agent, request.encoding);
        let key = Key {
            day,
            repository: self.strings.id(&repository),
            package: self.strings.id(&package),
            kind: Kind::Countme,
            client,
            layout: layout_id(LayoutName::Rpmdepot),
            range_end: -1,
        };
        self.cells.entry(key).or_default().downloads += 1;
    }

    /// Reads and counts every line of `reader`, keeping every cell until [`Tally::finish`].
    pub fn read_lines<R: Read>(&mut self, reader: &mut LineReader<R>) {
        self.read_lines_in_batches(reader, usize::MAX, &mut |_| {});
    }

    /// Reads and counts every line of `reader`; whenever more than `max_cells` cells are held
    /// they are handed to `spill` and forgotten, so memory stays bounded however many
    /// distinct files a log names. The rows of all batches plus those of
    /// [`Tally::finish`] add up to the file's counts (a cell may appear in several batches).
    pub fn read_lines_in_batches<R: Read>(
        &mut self,
        reader: &mut LineReader<R>,
        max_cells: usize,
        spill: &mut dyn FnMut(Batch),
    ) {
        let mut parser = LineParser::new();
        while let Some(line) = reader.next_line() {
            self.result.lines += 1;
            match line {
                Line::Complete(bytes) => match parser.parse(bytes) {
                    Parsed::Request(request) => {
                        self.count(&request);
                        if self.cells.len() > max_cells {
                            let batch = self.take_batch();
                            self.result.spilled_downloads += batch
                                .rows
                                .iter()
                                .filter(|r| r.kind != Kind::Countme)
                                .map(|r| r.counts.downloads)
                                .sum::<u64>();
                            if self.strings.names.len() > MAX_INTERNED {
                                // Cached paths hold interned ids: forget both together.
                                self.paths = PathCache::new();
                                self.strings = Interner::default();
                            }
                            spill(batch);
                        }
                    }
                    Parsed::Meta => {}
                    Parsed::Rejected(rejection) => self.reject(rejection),
                },
                Line::TooLong { .. } => self.reject(Rejection::LineTooLong),
                Line::Unterminated(_) => self.reject(Rejection::UnterminatedLine),
            }
        }
        if let Some(error) = reader.stream_error() {
            self.reject(Rejection::TruncatedStream);
            self.result.stream_error = Some(error.to_owned());
        }
        if self.result.format.is_none() {
            self.result.format = parser.format();
        }
    }

    /// The cells and sizes held now, as rows sorted by day, then by the order in which the
    /// file first named their repository and package (deterministic for a given file).
    fn take_batch(&mut self) -> Batch {
        let names = &self.strings.names;
        let mut cells: Vec<(Key, Counts)> = self.cells.drain().collect();
        cells.sort_by_cached_key(|(key, _)| (key.packed(), key.range_end, key.layout));
        let rows = cells
            .into_iter()
            .map(|(key, counts)| CountRow {
                day: i64::from(key.day),
                repository: Arc::clone(&names[key.repository as usize]),
                package: Arc::clone(&names[key.package as usize]),
                kind: key.kind,
                client: key.client,
                layout: layout_of(key.layout),
                range_end: key.range_end,
                counts,
            })
            .collect();
        let mut sizes: Vec<((u32, u32), u64)> = self.sizes.drain().collect();
        sizes.sort_unstable();
        let sizes = sizes
            .into_iter()
            .map(|((r, p), size)| {
                (
                    Arc::clone(&names[r as usize]),
                    Arc::clone(&names[p as usize]),
                    size,
                )
            })
            .collect();
        Batch { rows, sizes }
    }

    /// The file's counts (the cells not handed out in batches).
    pub fn finish(mut self) -> FileCounts {
        let batch = self.take_batch();
        self.result.rows = batch.rows;
        self.result.sizes = batch.sizes;
        self.result
    }
}

/// Requests that ended in a counter, a request-level rejection or a not-counted reason:
/// equals [`FileCounts::requests`] for every file (each request ends in exactly one place).
pub fn requests_accounted_for(counts: &FileCounts) -> u64 {
    let counted: u64 = counts
        .rows
        .iter()
        .map(|r| {
            let c = r.counts;
            c.downloads + c.heads + c.not_modified + c.partials + c.aborted
        })
        .sum();
    let rejected: u64 = counts
        .rejections
        .iter()
        .filter(|(r, _)| r.is_about_the_request())
        .map(|(_, n)| n)
        .sum();
    counted + counts.not_counted.values().sum::<u64>() + rejected
}

/// Counts a whole stream (already decompressed) with `options`.
pub fn count_stream<R: Read>(reader: R, options: &CountOptions) -> FileCounts {
    let mut lines = LineReader::new(reader);
    let mut tally = Tally::new(options);
    tally.read_lines(&mut lines);
    tally.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(package: u32) -> Target {
        Target::Artifact {
            repository: 0,
            package,
            kind: Kind::Rpm,
            layout: 0,
        }
    }

    fn package_of(target: Option<Target>) -> Option<u32> {
        match target? {
            Target::Artifact { package, .. } => Some(package),
            _ => None,
        }
    }

    #[test]
    fn path_cache_drops_the_least_recently_used_path_of_a_set() {
        let mut cache = PathCache::new();
        // Same set (same low bits), different fingerprints.
        let path = |i: u64| (7 + (i << 40), i);
        for i in 0..PATH_CACHE_WAYS as u64 {
            cache.insert(path(i), artifact(i as u32));
        }
        // Use the oldest one again: the second oldest is now the one to go.
        assert_eq!(package_of(cache.get(path(0))), Some(0));
        cache.insert(path(10), artifact(10));
        assert_eq!(package_of(cache.get(path(1))), None);
        for i in [0, 2, 3, 10] {
            assert_eq!(package_of(cache.get(path(i))), Some(i as u32), "{i}");
        }
        // A fingerprint equal in its first half only is another path.
        assert_eq!(package_of(cache.get((path(0).0, 99))), None);
    }

    #[test]
    fn interner_gives_one_id_and_one_allocation_per_name() {
        let mut names = Interner::default();
        let a = names.id("owner/project/fedora-42-x86_64");
        let b = names.id("hello-1-1.fc42.x86_64");
        assert_ne!(a, b);
        assert_eq!(names.id("owner/project/fedora-42-x86_64"), a);
        assert_eq!(&*names.names[a as usize], "owner/project/fedora-42-x86_64");
        assert_eq!(&*names.names[b as usize], "hello-1-1.fc42.x86_64");
        assert_eq!(names.names.len(), 2);
    }

    const FIELDS: &str = "#Fields: date time cs-method cs-uri-stem sc-status cs(User-Agent) cs-uri-query sc-bytes sc-content-len";

    fn count(log: &str) -> FileCounts {
        count_stream(log.as_bytes(), &CountOptions::default())
    }

    fn downloads_of(counts: &FileCounts) -> Vec<(String, String, u64)> {
        counts
            .rows
            .iter()
            .map(|r| {
                (
                    r.repository.to_string(),
                    r.package.to_string(),
                    r.counts.downloads,
                )
            })
            .collect()
    }

    #[test]
    fn cloudfront_paths_are_decoded_twice_and_plus_stays_literal() {
        let log = format!(
            "#Version: 1.0\n{FIELDS}\n\
             2026-08-06\t10:00:00\tGET\t/results/%2540grp/p/fedora-42-x86_64/01-x/libstdc++-1-1.fc42.x86_64.rpm\t200\tdnf5/5\t-\t10\t10\n\
             2026-08-06\t10:00:01\tGET\t/results/%40grp/p/fedora-42-x86_64/01-x/libstdc%2B%2B-1-1.fc42.x86_64.rpm\t200\tdnf5/5\t-\t10\t10\t\n\
             2026-08-06\t10:00:02\tGET\t/results/%252540grp/p/fedora-42-x86_64/01-x/a-1-1.fc42.x86_64.rpm\t200\tdnf5/5\t-\t10\t10\n"
        );
        let counts = count(&log);
        // Both spellings are the same file; the third is double-encoded by the client.
        assert_eq!(
            downloads_of(&counts),
            [(
                "@grp/p/fedora-42-x86_64".to_owned(),
                "libstdc++-1-1.fc42.x86_64".to_owned(),
                2
            )]
        );
        assert_eq!(counts.rejections[&Rejection::DoubleEncodedPath], 1);
    }

    #[test]
    fn a_new_fields_header_mid_file_remaps_the_columns() {
        let log = format!(
            "#Version: 1.0\n{FIELDS}\n\
             2026-08-06\t10:00:00\tGET\t/results/o/p/c/01-x/a-1-1.x86_64.rpm\t200\tdnf5/5\t-\t10\t10\n\
             #Fields: sc-status cs-uri-stem date time cs-method\n\
             200\t/results/o/p/c/01-x/a-1-1.x86_64.rpm\t2026-08-06\t11:00:00\tGET\n\
             200\t/results/o/p/c/01-x/a-1-1.x86_64.rpm\t2026-08-06\n"
        );
        let counts = count(&log);
        // The second header has no user agent: another client class, so another row.
        let row = ("o/p/c".to_owned(), "a-1-1.x86_64".to_owned(), 1);
        assert_eq!(downloads_of(&counts), [row.clone(), row]);
        assert_eq!(
            counts.rows.iter().map(|r| r.client).collect::<Vec<_>>(),
            [ClientClass::Dnf5, ClientClass::Other]
        );
        assert_eq!(counts.rejections[&Rejection::TooFewFields], 1);
    }

    #[test]
    fn countme_reads_the_query_string_not_the_path() {
        let log = format!(
            "#Version: 1.0\n{FIELDS}\n\
             2026-08-06\t10:00:00\tGET\t/metalink\t200\tlibdnf%20(Fedora%2042)\trepo=fedora-42&arch=x86_64&countme=1&countme=3\t10\t-\n\
             2026-08-06\t10:00:00\tGET\t/metalink\t200\tlibdnf\trepo=fedora-42&arch=x86_64&countme=9\t10\t-\n"
        );
        let counts = count(&log);
        assert_eq!(
            downloads_of(&counts),
            [("fedora-42/x86_64".to_owned(), "countme=3".to_owned(), 1)]
        );
        assert_eq!(counts.rows[0].client, ClientClass::Dnf);
        assert_eq!(counts.not_counted[&NotCounted::NotAnArtifact], 1);
    }
}
