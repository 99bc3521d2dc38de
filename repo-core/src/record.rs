//! The package record: what repodata says about one RPM, built from its headers with
//! createrepo_c's rules (research notes, createrepo.md §3.2-3.4).
//!
//! Owns: NEVRA and descriptive fields, sizes, dependency lists with requires filtering and
//! `pre`, the file list with types, changelogs with limit/order/timestamp bump.
//! Must not: touch the file system or render XML.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::evr::{rpmvercmp, split_evr};
use crate::header::{Header, RpmHeaders, sigtag, tag};
use crate::text::{has_forbidden_control_chars, to_utf8};

/// rpm dependency flag bits that createrepo_c looks at.
mod sense {
    pub const PREREQ: u64 = 1 << 6;
    pub const PRETRANS: u64 = 1 << 7;
    pub const POSTTRANS: u64 = 1 << 5;
    pub const SCRIPT_PRE: u64 = 1 << 9;
    pub const SCRIPT_POST: u64 = 1 << 10;
    pub const MISSINGOK: u64 = 1 << 19;
    pub const STRONG: u64 = 1 << 27;
    pub const EQUAL: u64 = 1 << 3;
}
const RPMFILE_GHOST: u64 = 1 << 6;
const S_IFMT: u64 = 0o170000;
const S_IFDIR: u64 = 0o040000;

/// One dependency entry (provides, requires, …) as createrepo_c writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// Capability name.
    pub name: String,
    /// `LT`, `GT`, `EQ`, `LE`, `GE`, or `None` for an unversioned entry.
    pub flags: Option<String>,
    /// Epoch of the version (`"0"` when the version had none).
    pub epoch: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Release.
    pub release: Option<String>,
    /// Whether the requirement is needed before installation (`pre="1"`); requires only.
    pub pre: bool,
}

/// Kind of a packaged file as repodata distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    /// Regular file, symlink, device, …
    File,
    /// Directory.
    Dir,
    /// `%ghost` file.
    Ghost,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFile {
    /// Directory part, with trailing slash as rpm stores it (`/usr/bin/`).
    pub dirname: String,
    /// File name within `dirname`.
    pub basename: String,
    /// File type.
    pub kind: FileKind,
    /// Hex digest from the header (empty for directories and some special files).
    pub digest: String,
}

impl PackageFile {
    /// The full path, `dirname` + `basename`.
    pub fn path(&self) -> String {
        let mut path = String::with_capacity(self.dirname.len() + self.basename.len());
        path.push_str(&self.dirname);
        path.push_str(&self.basename);
        path
    }
}

/// One changelog entry, with createrepo_c's author trimming and timestamp bump applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogEntry {
    /// Author line (trailing spaces removed).
    pub author: String,
    /// Seconds since the epoch.
    pub date: i64,
    /// Entry text.
    pub text: String,
}

/// Everything repodata holds about one package. `Default` is an empty record (epoch "" and
/// no dependencies), for readers that fill it field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Hex digest of the whole package file (`pkgid`).
    pub pkgid: String,
    /// Name of the algorithm of `pkgid` (`sha256`).
    pub checksum_type: String,
    pub name: String,
    /// Architecture, `src` for source packages.
    pub arch: String,
    pub epoch: String,
    pub version: String,
    pub release: String,
    pub summary: String,
    pub description: String,
    pub packager: String,
    pub url: String,
    /// Modification time of the package file.
    pub time_file: i64,
    /// RPMTAG_BUILDTIME.
    pub time_build: i64,
    /// Size of the package file.
    pub size_package: u64,
    /// Installed size (LONGSIZE, else SIZE).
    pub size_installed: u64,
    /// Payload archive size (LONGARCHIVESIZE, else ARCHIVESIZE / signature PAYLOADSIZE).
    pub size_archive: u64,
    /// Path of the package relative to the repository root.
    pub location_href: String,
    /// `xml:base` of the location, when a base URL was given.
    pub location_base: Option<String>,
    pub license: String,
    pub vendor: String,
    pub group: String,
    pub buildhost: String,
    pub sourcerpm: String,
    /// Offset of the main header in the file.
    pub header_start: u64,
    /// Offset of the payload in the file.
    pub header_end: u64,
    pub provides: Vec<Dependency>,
    pub requires: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    /// Every file, in header order.
    pub files: Vec<PackageFile>,
    /// Algorithm of the per-file digests (`sha256`, `md5`, or `unknown`).
    pub files_checksum_type: String,
    /// Changelog entries, oldest first, at most the configured limit.
    pub changelogs: Vec<ChangelogEntry>,
}

/// How many changelog entries to keep: createrepo_c's `--changelog-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogLimit {
    /// Keep all entries (`-1`).
    All,
    /// Keep the newest N entries.
    Newest(u32),
}

/// The file and location facts that do not come from the headers.
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// Hex digest of the file.
    pub pkgid: String,
    /// Digest algorithm name.
    pub checksum_type: String,
    /// File size in bytes.
    pub size: u64,
    /// File modification time.
    pub mtime: i64,
    /// Location relative to the repository.
    pub location_href: String,
    /// Base URL of the location.
    pub location_base: Option<String>,
}

/// createrepo_c's "primary file" rule: these files also appear in primary.xml.
pub fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

impl PackageFile {
    /// [`is_primary_file`] of [`PackageFile::path`], without building the path.
    pub fn is_primary(&self) -> bool {
        let (dir, base) = (self.dirname.as_str(), self.basename.as_str());
        if dir.contains("bin/") || base.contains("bin/") {
            return true;
        }
        // "bin/" may also straddle the join of directory and basename.
        let (dir_bytes, base_bytes) = (dir.as_bytes(), base.as_bytes());
        for split in 1..4 {
            let (left, right) = b"bin/".split_at(split);
            if dir_bytes.ends_with(left) && base_bytes.starts_with(right) {
                return true;
            }
        }
        let etc = "/etc/";
        let starts_with_etc = if dir.len() >= etc.len() {
            dir.starts_with(etc)
        } else {
            etc.starts_with(dir) && base.starts_with(&etc[dir.len()..])
        };
        starts_with_etc
            || (dir.len() + base.len() == "/usr/lib/sendmail".len()
                && "/usr/lib/sendmail".strip_prefix(dir) == Some(base))
    }
}

fn flags_name(flags: u64) -> Option<&'static str> {
    match flags & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

fn hash_algo_name(algo: u64) -> &'static str {
    match algo {
        1 => "md5",
        2 => "sha1",
        3 => "ripemd160",
        5 => "md2",
        6 => "tiger192",
        7 => "haval-5-160",
        8 => "sha256",
        9 => "sha384",
        10 => "sha512",
        11 => "sha224",
        _ => "unknown",
    }
}

/// A main header with the adjustments rpm makes when it reads a package (merged signature
/// sizes, source/binary retrofit, legacy file lists), so createrepo_c's view is reproduced.
struct HeaderView<'a> {
    main: &'a Header,
    signature: &'a Header,
    is_source: bool,
    sourcerpm: Option<&'a [u8]>,
}

impl<'a> HeaderView<'a> {
    fn new(headers: &'a RpmHeaders) -> Self {
        let main = &headers.main;
        let mut is_source = main.number(tag::SOURCEPACKAGE).unwrap_or(0) != 0;
        let mut sourcerpm = main.string(tag::SOURCERPM);
        if sourcerpm.is_none() && !main.has(tag::SOURCEPACKAGE) {
            // rpm's applyRetrofits: a source package has all files in one unnamed directory.
            let dirs = main.strings(tag::DIRNAMES);
            let legacy_source = main
                .strings(tag::OLDFILENAMES)
                .is_some_and(|names| names.first().is_some_and(|n| !n.starts_with(b"/")));
            if dirs.is_some_and(|d| d.len() == 1 && d[0].is_empty()) || legacy_source {
                is_source = true;
            } else {
                sourcerpm = Some(b"(none)");
            }
        }
        HeaderView {
            main,
            signature: &headers.signature,
            is_source,
            sourcerpm,
        }
    }

    fn text(&self, tag: u32) -> &'a [u8] {
        self.main.string(tag).unwrap_or(b"")
    }

    fn archive_size(&self) -> u64 {
        self.main
            .number(tag::LONGARCHIVESIZE)
            .or_else(|| self.signature.number(sigtag::LONGARCHIVESIZE))
            .or_else(|| self.main.number(tag::ARCHIVESIZE))
            .or_else(|| self.signature.number(sigtag::PAYLOADSIZE))
            .unwrap_or(0)
    }

    /// Files as (dirname, basename, flags, mode, digest), from the compressed or legacy list.
    fn files(&self) -> Vec<RawFile<'a>> {
        let main = self.main;
        let (Some(flags), Some(modes), Some(digests)) = (
            main.numbers(tag::FILEFLAGS),
            main.numbers(tag::FILEMODES),
            main.strings(tag::FILEDIGESTS),
        ) else {
            return Vec::new();
        };
        let names: Vec<(&[u8], &[u8])> = if let (Some(indexes), Some(basenames)) =
            (main.numbers(tag::DIRINDEXES), main.strings(tag::BASENAMES))
        {
            let dirs = main.strings(tag::DIRNAMES).unwrap_or_default();
            indexes
                .iter()
                .zip(basenames)
                .map(|(&index, base)| {
                    let dir = usize::try_from(index)
                        .ok()
                        .and_then(|i| dirs.get(i).copied())
                        .unwrap_or(b"");
                    (dir, base)
                })
                .collect()
        } else if let Some(paths) = main.strings(tag::OLDFILENAMES) {
            paths
                .into_iter()
                .map(|path| match path.iter().rposition(|&b| b == b'/') {
                    Some(slash) => (&path[..=slash], &path[slash + 1..]),
                    None => (&b""[..], path),
                })
                .collect()
        } else {
            return Vec::new();
        };
        names
            .into_iter()
            .zip(flags)
            .zip(modes)
            .zip(digests)
            .map(|((((dir, base), flags), mode), digest)| (dir, base, flags, mode, digest))
            .collect()
    }

    /// (name, flags, version) triples of one dependency kind; all three tags must exist.
    fn deps(&self, names: u32, flags: u32, versions: u32) -> Vec<(&'a [u8], u64, &'a [u8])> {
        let (Some(names), Some(flags), Some(versions)) = (
            self.main.strings(names),
            self.main.numbers(flags),
            self.main.strings(versions),
        ) else {
            return Vec::new();
        };
        names
            .into_iter()
            .zip(flags)
            .zip(versions)
            .map(|((name, flags), version)| (name, flags, version))
            .collect()
    }

    /// rpm's legacy retrofit adds `Provides: name = EVR` to binary v3 packages.
    fn retrofit_self_provide(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        if self.main.has(tag::HEADERIMMUTABLE) || self.is_source {
            return None;
        }
        let name = self.main.string(tag::NAME)?.to_vec();
        let mut evr = Vec::new();
        if let Some(epoch) = self.main.number(tag::EPOCH) {
            evr.extend_from_slice(format!("{epoch}:").as_bytes());
        }
        evr.extend_from_slice(self.text(tag::VERSION));
        evr.push(b'-');
        evr.extend_from_slice(self.text(tag::RELEASE));
        Some((name, evr))
    }
}

/// A file entry before text conversion: (dirname, basename, flags, mode, digest).
type RawFile<'a> = (&'a [u8], &'a [u8], u64, u64, &'a [u8]);

/// What createrepo_c remembers of a written requirement: (flags, version, pre).
type WrittenRequire<'a> = (Option<&'static str>, &'a [u8], bool);

/// A dependency before text conversion, with the raw bytes createrepo_c compares.
struct RawDep<'a> {
    name: &'a [u8],
    flags: u64,
    version: &'a [u8],
}

#[derive(Default)]
struct DepLists {
    provides: Vec<Dependency>,
    requires: Vec<Dependency>,
    conflicts: Vec<Dependency>,
    obsoletes: Vec<Dependency>,
    suggests: Vec<Dependency>,
    enhances: Vec<Dependency>,
    recommends: Vec<Dependency>,
    supplements: Vec<Dependency>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Provides,
    Conflicts,
    Obsoletes,
    Requires,
    Suggests,
    Enhances,
    Recommends,
    Supplements,
    OldSuggests,
    OldEnhances,
}

/// Compares two `libc.so.6(...)` requirement names like createrepo_c's
/// `cr_compare_dependency`: `Greater` when `candidate` carries the higher symbol version.
fn libc_candidate_is_higher(current: &[u8], candidate: &[u8]) -> bool {
    let open = |s: &[u8]| s.iter().position(|&b| b == b'(');
    let (Some(o1), Some(o2)) = (open(current), open(candidate)) else {
        return open(current).is_none() && open(candidate).is_some();
    };
    let close = |s: &[u8], from: usize| s[from..].iter().position(|&b| b == b')').map(|p| p + from);
    let (c1, c2) = (close(current, o1), close(candidate, o2));
    let (Some(c1), Some(c2)) = (c1, c2) else {
        // createrepo_c: a missing ')' makes that side the smaller one (or an error if both).
        return c1.is_none() && c2.is_some();
    };
    let (s1, s2) = (o1 + 1, o2 + 1);
    if s1 == c1 && s2 == c2 {
        return false;
    }
    if s1 == c1 {
        return true;
    }
    if s2 == c2 {
        return false;
    }
    let first_digit = |s: &[u8], from: usize| {
        s[from..]
            .iter()
            .position(u8::is_ascii_digit)
            .map_or(s.len(), |p| p + from)
    };
    let (d1, d2) = (first_digit(current, s1), first_digit(candidate, s2));
    if d1 > c1 && d2 > c2 {
        return false;
    }
    if d1 > c1 {
        return true;
    }
    if d2 > c2 {
        return false;
    }
    let v1 = String::from_utf8_lossy(&current[d1..c1]);
    let v2 = String::from_utf8_lossy(&candidate[d2..c2]);
    rpmvercmp(&v1, &v2) == std::cmp::Ordering::Less
}

fn convert_dep(raw: &RawDep<'_>, pre: bool) -> Option<Dependency> {
    let version = to_utf8(raw.version);
    let (epoch, ver, rel) = if version.is_empty() {
        (None, None, None)
    } else {
        let split = split_evr(&version)?;
        (Some(split.epoch), Some(split.version), split.release)
    };
    Some(Dependency {
        name: to_utf8(raw.name),
        flags: flags_name(raw.flags).map(str::to_owned),
        epoch,
        version: ver,
        release: rel,
        pre,
    })
}

fn build_deps(view: &HeaderView<'_>, file_paths: &HashSet<Vec<u8>>, nevra: &str) -> DepLists {
    let kinds = [
        (
            DepKind::Provides,
            tag::PROVIDENAME,
            tag::PROVIDEFLAGS,
            tag::PROVIDEVERSION,
        ),
        (
            DepKind::Conflicts,
            tag::CONFLICTNAME,
            tag::CONFLICTFLAGS,
            tag::CONFLICTVERSION,
        ),
        (
            DepKind::Obsoletes,
            tag::OBSOLETENAME,
            tag::OBSOLETEFLAGS,
            tag::OBSOLETEVERSION,
        ),
        (
            DepKind::Requires,
            tag::REQUIRENAME,
            tag::REQUIREFLAGS,
            tag::REQUIREVERSION,
        ),
        (
            DepKind::Suggests,
            tag::SUGGESTNAME,
            tag::SUGGESTFLAGS,
            tag::SUGGESTVERSION,
        ),
        (
            DepKind::Enhances,
            tag::ENHANCENAME,
            tag::ENHANCEFLAGS,
            tag::ENHANCEVERSION,
        ),
        (
            DepKind::Recommends,
            tag::RECOMMENDNAME,
            tag::RECOMMENDFLAGS,
            tag::RECOMMENDVERSION,
        ),
        (
            DepKind::Supplements,
            tag::SUPPLEMENTNAME,
            tag::SUPPLEMENTFLAGS,
            tag::SUPPLEMENTVERSION,
        ),
        (
            DepKind::OldSuggests,
            tag::OLDSUGGESTSNAME,
            tag::OLDSUGGESTSFLAGS,
            tag::OLDSUGGESTSVERSION,
        ),
        (
            DepKind::OldEnhances,
            tag::OLDENHANCESNAME,
            tag::OLDENHANCESFLAGS,
            tag::OLDENHANCESVERSION,
        ),
    ];
    let retrofit = view.retrofit_self_provide();
    let mut lists = DepLists::default();
    // name+flags+version of every provide, to drop requires the package satisfies itself.
    let mut provided: HashSet<Vec<u8>> = HashSet::new();
    // Requires already written, by name: (flags, version, pre).
    let mut written_requires: HashMap<&[u8], WrittenRequire<'_>> = HashMap::new();
    for (kind, names, flags, versions) in kinds {
        let mut raw_deps: Vec<RawDep<'_>> = view
            .deps(names, flags, versions)
            .into_iter()
            .map(|(name, flags, version)| RawDep {
                name,
                flags,
                version,
            })
            .collect();
        if kind == DepKind::Provides
            && let Some((name, evr)) = &retrofit
        {
            let present = raw_deps.iter().any(|d| {
                d.name == name.as_slice() && d.version == evr.as_slice() && d.flags == sense::EQUAL
            });
            if !present {
                raw_deps.push(RawDep {
                    name,
                    flags: sense::EQUAL,
                    version: evr,
                });
            }
        }
        let mut libc_highest: Option<(Dependency, &[u8])> = None;
        for raw in raw_deps {
            let flags = flags_name(raw.flags);
            let mut nfv = raw.name.to_vec();
            nfv.extend_from_slice(flags.unwrap_or("").as_bytes());
            nfv.extend_from_slice(raw.version);
            let mut pre = false;
            if kind == DepKind::Requires {
                if raw.name.starts_with(b"rpmlib(") {
                    continue;
                }
                if raw.name.first() == Some(&b'/')
                    && file_paths.contains(raw.name)
                    && is_primary_file(&String::from_utf8_lossy(raw.name))
                {
                    continue;
                }
                if provided.contains(&nfv) {
                    continue;
                }
                pre = raw.flags
                    & (sense::PREREQ
                        | sense::SCRIPT_PRE
                        | sense::POSTTRANS
                        | sense::PRETRANS
                        | sense::SCRIPT_POST)
                    != 0;
                if let Some(&(seen_flags, seen_version, seen_pre)) = written_requires.get(raw.name)
                    && seen_flags == flags
                    && seen_version == raw.version
                    && seen_pre == pre
                {
                    continue;
                }
            }
            let Some(mut dep) = convert_dep(&raw, false) else {
                tracing::warn!(
                    "bad epoch in version string {:?} for dependency {:?} in package {nevra}; \
                     skipping this dependency",
                    String::from_utf8_lossy(raw.version),
                    String::from_utf8_lossy(raw.name)
                );
                continue;
            };
            match kind {
                DepKind::Provides => {
                    provided.insert(nfv);
                    lists.provides.push(dep);
                }
                DepKind::Conflicts => lists.conflicts.push(dep),
                DepKind::Obsoletes => lists.obsoletes.push(dep),
                DepKind::Requires => {
                    if raw.flags & sense::MISSINGOK != 0 {
                        lists.recommends.push(dep);
                        continue;
                    }
                    dep.pre = pre;
                    if raw.name.starts_with(b"libc.so.6") {
                        match &libc_highest {
                            Some((_, current)) if !libc_candidate_is_higher(current, raw.name) => {}
                            _ => libc_highest = Some((dep, raw.name)),
                        }
                        continue;
                    }
                    lists.requires.push(dep);
                    written_requires.insert(raw.name, (flags, raw.version, pre));
                }
                DepKind::Suggests => lists.suggests.push(dep),
                DepKind::Enhances => lists.enhances.push(dep),
                DepKind::Recommends => lists.recommends.push(dep),
                DepKind::Supplements => lists.supplements.push(dep),
                DepKind::OldSuggests if raw.flags & sense::STRONG != 0 => {
                    lists.recommends.push(dep)
                }
                DepKind::OldSuggests => lists.suggests.push(dep),
                DepKind::OldEnhances if raw.flags & sense::STRONG != 0 => {
                    lists.supplements.push(dep)
                }
                DepKind::OldEnhances => lists.enhances.push(dep),
            }
        }
        if let Some((dep, _)) = libc_highest {
            lists.requires.push(dep);
        }
    }
    lists
}

/// Changelog entries as createrepo_c keeps them: the newest `limit` in header order, authors
/// without trailing spaces, equal timestamps made distinct, written oldest first. Entries that
/// are kept are checked for forbidden control characters.
fn build_changelogs(main: &Header, limit: ChangelogLimit) -> Result<Vec<ChangelogEntry>> {
    let (Some(times), Some(names), Some(texts)) = (
        main.numbers(tag::CHANGELOGTIME),
        main.strings(tag::CHANGELOGNAME),
        main.strings(tag::CHANGELOGTEXT),
    ) else {
        return Ok(Vec::new());
    };
    let keep = match limit {
        ChangelogLimit::All => usize::MAX,
        ChangelogLimit::Newest(n) => n as usize,
    };
    let mut newest_first: Vec<ChangelogEntry> = Vec::new();
    let mut last_time: i64 = 0;
    for ((time, name), text) in times.into_iter().zip(names).zip(texts).take(keep) {
        let time = time as i64;
        let mut author = name;
        while author.len() > 1 && author.last() == Some(&b' ') {
            author = &author[..author.len() - 1];
        }
        reject_control_chars("changelog author", author)?;
        reject_control_chars("changelog entry", text)?;
        newest_first.push(ChangelogEntry {
            author: to_utf8(author),
            date: time,
            text: to_utf8(text),
        });
        // Equal timestamps: bump the entries processed before (newer ones) by one second each.
        if last_time == time {
            let current = newest_first.len() - 1;
            for (expected, entry) in (time..).zip(newest_first[..current].iter_mut().rev()) {
                if entry.date != expected {
                    break;
                }
                entry.date += 1;
            }
        } else {
            last_time = time;
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// createrepo_c refuses packages whose strings hold C0 control characters.
fn reject_control_chars(what: &str, bytes: &[u8]) -> Result<()> {
    if has_forbidden_control_chars(bytes) {
        Err(Error::Rejected(format!(
            "{what} {:?} contains forbidden control characters \
             (ASCII values < 32 except 9, 10 and 13)",
            String::from_utf8_lossy(bytes)
        )))
    } else {
        Ok(())
    }
}

impl PackageRecord {
    /// Builds the record createrepo_c would write for a package with these headers.
    pub fn from_headers(
        headers: &RpmHeaders,
        facts: FileFacts,
        changelog_limit: ChangelogLimit,
    ) -> Result<PackageRecord> {
        let view = HeaderView::new(headers);
        let main = &headers.main;
        let epoch = main.number(tag::EPOCH).unwrap_or(0).to_string();
        let arch: &[u8] = if view.is_source {
            b"src"
        } else {
            view.text(tag::ARCH)
        };
        let fields: [(&str, &[u8]); 14] = [
            ("name", view.text(tag::NAME)),
            ("arch", arch),
            ("version", view.text(tag::VERSION)),
            ("release", view.text(tag::RELEASE)),
            ("summary", view.text(tag::SUMMARY)),
            ("description", view.text(tag::DESCRIPTION)),
            ("url", view.text(tag::URL)),
            ("license", view.text(tag::LICENSE)),
            ("vendor", view.text(tag::VENDOR)),
            ("group", view.text(tag::GROUP)),
            ("buildhost", view.text(tag::BUILDHOST)),
            ("sourcerpm", view.sourcerpm.unwrap_or(b"")),
            ("packager", view.text(tag::PACKAGER)),
            ("location", facts.location_href.as_bytes()),
        ];
        for (what, bytes) in fields {
            reject_control_chars(what, bytes)?;
        }
        if let Some(base) = &facts.location_base {
            reject_control_chars("location base", base.as_bytes())?;
        }
        let nevra = format!(
            "{}-{}:{}-{}.{}",
            to_utf8(view.text(tag::NAME)),
            epoch,
            to_utf8(view.text(tag::VERSION)),
            to_utf8(view.text(tag::RELEASE)),
            to_utf8(arch)
        );

        let raw_files = view.files();
        // Only requires naming a file can be dropped as "shipped by the package itself", so
        // only those paths are looked up among the files.
        let file_requires: HashSet<&[u8]> = view
            .main
            .strings(tag::REQUIRENAME)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| name.first() == Some(&b'/'))
            .collect();
        let file_paths: HashSet<Vec<u8>> = if file_requires.is_empty() {
            HashSet::new()
        } else {
            raw_files
                .iter()
                .filter(|(dir, base, ..)| {
                    file_requires.iter().any(|r| {
                        r.len() == dir.len() + base.len() && r.starts_with(dir) && r.ends_with(base)
                    })
                })
                .map(|(dir, base, ..)| [*dir, *base].concat())
                .collect()
        };
        let mut files = Vec::with_capacity(raw_files.len());
        for (dir, base, flags, mode, digest) in raw_files {
            reject_control_chars("file name", base)?;
            reject_control_chars("file path", dir)?;
            let kind = if mode & S_IFMT == S_IFDIR {
                FileKind::Dir
            } else if flags & RPMFILE_GHOST != 0 {
                FileKind::Ghost
            } else {
                FileKind::File
            };
            files.push(PackageFile {
                dirname: to_utf8(dir),
                basename: to_utf8(base),
                kind,
                digest: to_utf8(digest),
            });
        }

        let deps = build_deps(&view, &file_paths, &nevra);
        for list in [
            &deps.requires,
            &deps.provides,
            &deps.conflicts,
            &deps.obsoletes,
            &deps.suggests,
            &deps.enhances,
            &deps.recommends,
            &deps.supplements,
        ] {
            for dep in list {
                for part in [
                    Some(&dep.name),
                    dep.epoch.as_ref(),
                    dep.version.as_ref(),
                    dep.release.as_ref(),
                ]
                .into_iter()
                .flatten()
                {
                    reject_control_chars("dependency", part.as_bytes())?;
                }
            }
        }
        let changelogs = build_changelogs(main, changelog_limit)?;

        Ok(PackageRecord {
            pkgid: facts.pkgid,
            checksum_type: facts.checksum_type,
            name: to_utf8(view.text(tag::NAME)),
            arch: to_utf8(arch),
            epoch,
            version: to_utf8(view.text(tag::VERSION)),
            release: to_utf8(view.text(tag::RELEASE)),
            summary: to_utf8(view.text(tag::SUMMARY)),
            description: to_utf8(view.text(tag::DESCRIPTION)),
            packager: to_utf8(view.text(tag::PACKAGER)),
            url: to_utf8(view.text(tag::URL)),
            time_file: facts.mtime,
            time_build: main.number(tag::BUILDTIME).unwrap_or(0) as i64,
            size_package: facts.size,
            size_installed: main
                .number(tag::LONGSIZE)
                .or_else(|| main.number(tag::SIZE))
                .unwrap_or(0),
            size_archive: view.archive_size(),
            location_href: facts.location_href,
            location_base: facts.location_base,
            license: to_utf8(view.text(tag::LICENSE)),
            vendor: to_utf8(view.text(tag::VENDOR)),
            group: to_utf8(view.text(tag::GROUP)),
            buildhost: to_utf8(view.text(tag::BUILDHOST)),
            sourcerpm: to_utf8(view.sourcerpm.unwrap_or(b"")),
            header_start: headers.header_start,
            header_end: headers.header_end,
            provides: deps.provides,
            requires: deps.requires,
            conflicts: deps.conflicts,
            obsoletes: deps.obsoletes,
            suggests: deps.suggests,
            enhances: deps.enhances,
            recommends: deps.recommends,
            supplements: deps.supplements,
            files,
            files_checksum_type: hash_algo_name(main.number(tag::FILEDIGESTALGO).unwrap_or(0))
                .to_owned(),
            changelogs,
        })
    }

    /// `name-epoch:version-release.arch`, the key duplicates are detected by.
    pub fn nevra(&self) -> String {
        format!(
            "{}-{}:{}-{}.{}",
            self.name, self.epoch, self.version, self.release, self.arch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_file_rule() {
        assert!(is_primary_file("/etc/foo.conf"));
        assert!(is_primary_file("/usr/bin/ls"));
        assert!(is_primary_file("/opt/x/sbin/tool"));
        assert!(is_primary_file("/usr/lib/sendmail"));
        assert!(!is_primary_file("/usr/lib/sendmail.d"));
        assert!(!is_primary_file("/usr/share/doc/README"));
        assert!(!is_primary_file("/etc"));
    }

    proptest::proptest! {
        /// The allocation-free check agrees with the rule on the joined path.
        #[test]
        fn is_primary_agrees_with_the_path_rule(
            dir in "(/|/etc|/etc/|/usr/|/usr/lib/|/opt/x/bi|/opt/bin|/sb|/é|)[a-zé/]{0,6}",
            base in "(n/|in/|bin/|sendmail|etc/|/|é|)[a-zé/]{0,6}",
        ) {
            let file = PackageFile {
                dirname: dir.clone(),
                basename: base.clone(),
                kind: FileKind::File,
                digest: String::new(),
            };
            proptest::prop_assert_eq!(file.is_primary(), is_primary_file(&file.path()));
        }
    }

    #[test]
    fn libc_requires_keep_the_highest_symbol_version() {
        assert!(libc_candidate_is_higher(
            b"libc.so.6(GLIBC_2.4)(64bit)",
            b"libc.so.6(GLIBC_2.34)(64bit)"
        ));
        assert!(!libc_candidate_is_higher(
            b"libc.so.6(GLIBC_2.34)(64bit)",
            b"libc.so.6(GLIBC_2.4)(64bit)"
        ));
        assert!(libc_candidate_is_higher(
            b"libc.so.6()(64bit)",
            b"libc.so.6(GLIBC_2.2.5)(64bit)"
        ));
        assert!(libc_candidate_is_higher(
            b"libc.so.6",
            b"libc.so.6(GLIBC_2.2.5)"
        ));
        assert!(!libc_candidate_is_higher(
            b"libc.so.6(GLIBC_2.2.5)",
            b"libc.so.6"
        ));
    }
}
