//! The shape of the generated corpus: which packages exist, what they are called, what they
//! contain and depend on. Package `i` of a corpus is a pure function of (packages, seed, i).
//!
//! Shape (for a corpus of N packages):
//! - about N/3 names; package `i` has name `i % (N/3)` and is that name's `i / (N/3)`-th
//!   version, so every name has about three versions and NEVRAs never collide by accident;
//! - about 1% of packages (never the first, never one past N) are rebuilds of an earlier
//!   package: the same NEVRA with a later build time and other payload bytes, stored under
//!   `Rebuilds/` instead of `Packages/`;
//! - about 0.5% are source packages;
//! - file counts are log-normal (median 20, a few thousand at the tail) and payload sizes are
//!   log-normal (median 50 KB), plus one package in 2000 of 15-60 MB.

use std::collections::BTreeMap;

use crate::rng::Rng;
use crate::rpmfile::{
    HASH_SHA256, HeaderBuilder, Value, assemble, cpio_member, cpio_pad, cpio_trailer, sha256_hex,
    tag,
};

const STREAM_NAME: u64 = 1;
const STREAM_PACKAGE: u64 = 2;
const STREAM_PAYLOAD: u64 = 3;
const STREAM_DUPLICATE: u64 = 4;
const STREAM_CORPUS: u64 = 5;

const DAY: u64 = 86_400;
/// Build times start from here (2020-09-13), shifted by up to a year by the seed.
const BASE_TIME: u64 = 1_600_000_000;

/// rpm dependency flags (`RPMSENSE_*`).
pub mod sense {
    pub const LESS: u32 = 1 << 1;
    pub const GREATER: u32 = 1 << 2;
    pub const EQUAL: u32 = 1 << 3;
    pub const POSTTRANS: u32 = 1 << 5;
    pub const PRETRANS: u32 = 1 << 7;
    pub const INTERP: u32 = 1 << 8;
    pub const SCRIPT_PRE: u32 = 1 << 9;
    pub const SCRIPT_POST: u32 = 1 << 10;
    pub const FIND_REQUIRES: u32 = 1 << 14;
    pub const FIND_PROVIDES: u32 = 1 << 15;
    pub const RPMLIB: u32 = 1 << 24;
    pub const CONFIG: u32 = 1 << 28;
}

/// rpm file flags (`RPMFILE_*`).
pub mod fileflag {
    pub const CONFIG: u32 = 1;
    pub const DOC: u32 = 1 << 1;
    pub const NOREPLACE: u32 = 1 << 4;
    pub const SPECFILE: u32 = 1 << 5;
    pub const GHOST: u32 = 1 << 6;
    pub const LICENSE: u32 = 1 << 7;
}

const SYLLABLES: [&str; 16] = [
    "ba", "ce", "di", "fo", "gu", "ka", "me", "no", "pi", "ru", "sa", "te", "vo", "xi", "za", "ho",
];

const WORDS: [&str; 48] = [
    "fast",
    "library",
    "tool",
    "for",
    "parsing",
    "the",
    "network",
    "daemon",
    "with",
    "support",
    "of",
    "plugins",
    "and",
    "bindings",
    "a",
    "simple",
    "portable",
    "implementation",
    "protocol",
    "files",
    "configuration",
    "data",
    "command-line",
    "utilities",
    "modern",
    "C++",
    "Python",
    "extensions",
    "<stdin>",
    "&",
    "\"quoted\"",
    "it's",
    "naïve",
    "café",
    "über",
    "compression",
    "streams",
    "graphics",
    "fonts",
    "cache",
    "server",
    "client",
    "kernel",
    "events",
    "rendering",
    "unicode",
    "reports",
    "API",
];

const PEOPLE: [(&str, &str); 10] = [
    ("Jane", "Doe"),
    ("Jürgen", "Müller"),
    ("Zoë", "Martin"),
    ("Łukasz", "Nowak"),
    ("Renée", "Dubois"),
    ("Ravi", "Kumar"),
    ("Mei", "Chen"),
    ("Olu", "Adeyemi"),
    ("Fedora", "Release Engineering"),
    ("Copr", "Build System"),
];

const LICENSES: [&str; 7] = [
    "MIT",
    "GPL-2.0-or-later",
    "Apache-2.0",
    "BSD-3-Clause",
    "LGPL-2.1-or-later",
    "MIT AND (Apache-2.0 OR MIT)",
    "GPL-3.0-only WITH Autoconf-exception-3.0",
];

const GLIBC_VERSIONS: [&str; 12] = [
    "2.2.5", "2.3", "2.3.4", "2.4", "2.7", "2.14", "2.17", "2.28", "2.32", "2.33", "2.34", "2.38",
];

/// What kind of software a name is, which decides its file layout and dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A program: binaries, maybe configuration and a service.
    Plain,
    /// A shared library (`lib…`).
    Lib,
    /// Development files (`…-devel`).
    Devel,
    /// A Python module (`python3-…`, noarch).
    Python,
    /// A Perl module (`perl-…`, noarch).
    Perl,
    /// Go sources (`golang-github-…`, noarch).
    Golang,
    /// Documentation (`…-doc`, noarch).
    Doc,
    /// Data files (`…-data`, noarch).
    Data,
}

/// What a name keeps across all of its versions.
#[derive(Debug, Clone)]
struct NameInfo {
    name: String,
    stem: String,
    kind: Kind,
    epoch: Option<u32>,
    major: u64,
    minor: u64,
    license: &'static str,
    summary: String,
    description: String,
    has_config: bool,
}

impl NameInfo {
    fn new(seed: u64, name_id: u64) -> NameInfo {
        let mut r = Rng::new(seed, &[STREAM_NAME, name_id]);
        // Bijective: every name id gets its own syllable string (two letters per digit).
        let mut digits = Vec::new();
        let mut n = name_id + 16;
        while n > 0 {
            digits.push(SYLLABLES[(n % 16) as usize]);
            n /= 16;
        }
        digits.reverse();
        let stem = digits.concat();
        let kind = match r.below(100) {
            0..=34 => Kind::Plain,
            35..=49 => Kind::Lib,
            50..=61 => Kind::Devel,
            62..=76 => Kind::Python,
            77..=83 => Kind::Perl,
            84..=88 => Kind::Golang,
            89..=94 => Kind::Doc,
            _ => Kind::Data,
        };
        let name = match kind {
            Kind::Plain => stem.clone(),
            Kind::Lib => format!("lib{stem}"),
            Kind::Devel => format!("{stem}-devel"),
            Kind::Python => format!("python3-{stem}"),
            Kind::Perl => format!("perl-{}", capitalize(&stem)),
            Kind::Golang => format!("golang-github-{stem}"),
            Kind::Doc => format!("{stem}-doc"),
            Kind::Data => format!("{stem}-data"),
        };
        let epoch = r.chance(0.08).then(|| 1 + r.below(3) as u32);
        let summary = capitalize(&words(&mut r, 3, 9));
        let mut description = String::new();
        for paragraph in 0..1 + r.below(3) {
            if paragraph > 0 {
                description.push_str("\n\n");
            }
            description.push_str(&capitalize(&words(&mut r, 12, 60)));
            description.push('.');
        }
        NameInfo {
            name,
            stem,
            kind,
            epoch,
            major: r.below(12),
            minor: r.below(30),
            license: r.pick(&LICENSES),
            summary,
            description,
            has_config: kind == Kind::Plain && r.chance(0.4),
        }
    }

    fn noarch(&self) -> bool {
        matches!(
            self.kind,
            Kind::Python | Kind::Perl | Kind::Golang | Kind::Doc | Kind::Data
        )
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn words(r: &mut Rng, min: u64, max: u64) -> String {
    let count = r.range(min, max + 1);
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(r.pick(&WORDS));
    }
    out
}

/// A file of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file with this many bytes of content.
    Regular(u64),
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
    /// A `%ghost` file: listed in the header, not in the payload.
    Ghost,
}

/// One entry of a package's file list.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Absolute path (binary packages) or bare file name (source packages).
    pub path: String,
    /// Type and content.
    pub kind: FileKind,
    /// Permission bits.
    pub perms: u32,
    /// `RPMFILE_*` flags.
    pub flags: u32,
}

impl FileSpec {
    fn mode(&self) -> u32 {
        let kind = match self.kind {
            FileKind::Regular(_) | FileKind::Ghost => 0o100000,
            FileKind::Dir => 0o040000,
            FileKind::Symlink(_) => 0o120000,
        };
        kind | self.perms
    }

    fn size(&self) -> u64 {
        match &self.kind {
            FileKind::Regular(size) => *size,
            FileKind::Dir => 4096,
            FileKind::Symlink(target) => target.len() as u64,
            FileKind::Ghost => 0,
        }
    }
}

/// A dependency entry: name, `RPMSENSE_*` flags, version (empty when unversioned).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dep {
    /// Capability name.
    pub name: String,
    /// `RPMSENSE_*` flags.
    pub flags: u32,
    /// `[epoch:]version[-release]`, or empty.
    pub version: String,
}

impl Dep {
    fn new(name: impl Into<String>, flags: u32, version: impl Into<String>) -> Dep {
        Dep {
            name: name.into(),
            flags,
            version: version.into(),
        }
    }
}

/// One changelog entry (header order: newest first).
#[derive(Debug, Clone)]
pub struct ChangelogEntry {
    /// Seconds since the epoch.
    pub time: u32,
    /// Author line.
    pub author: String,
    /// Text.
    pub text: String,
}

/// Everything needed to write one package file.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    /// Index of the package in its corpus.
    pub index: u64,
    /// For a rebuild, the index of the package with the same NEVRA.
    pub duplicate_of: Option<u64>,
    /// Path relative to the corpus directory.
    pub relative_path: String,
    pub name: String,
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// Architecture in the file name: `src` for source packages.
    pub arch: String,
    pub is_source: bool,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub vendor: String,
    pub packager: String,
    pub url: String,
    pub build_host: String,
    pub build_time: u32,
    /// File list, sorted by path.
    pub files: Vec<FileSpec>,
    pub provides: Vec<Dep>,
    pub requires: Vec<Dep>,
    pub conflicts: Vec<Dep>,
    pub obsoletes: Vec<Dep>,
    pub recommends: Vec<Dep>,
    pub suggests: Vec<Dep>,
    pub supplements: Vec<Dep>,
    pub enhances: Vec<Dep>,
    /// Changelog, newest first.
    pub changelog: Vec<ChangelogEntry>,
    payload_key: u64,
    seed: u64,
}

/// A corpus: its size (which fixes the number of names), its seed and its payload scale.
#[derive(Debug, Clone, Copy)]
pub struct Corpus {
    packages: u64,
    seed: u64,
    payload_scale: f64,
}

impl Corpus {
    /// The corpus of `packages` packages generated from `seed`. Indices past `packages` are
    /// valid too: they are new versions of the same names (for "add a package" scenarios).
    pub fn new(packages: u64, seed: u64) -> Corpus {
        Corpus {
            packages,
            seed,
            payload_scale: 1.0,
        }
    }

    /// The same corpus with every ordinary package's payload `scale` times as large (the
    /// median is 50 KB at 1.0). The headers, names and metadata do not change, so the share
    /// of hashing in a createrepo run grows with the scale: 1.0 is metadata-heavy (2.6 GiB
    /// for 20k packages), about 16 gives Copr's mean of about 1.4 MiB per RPM.
    pub fn with_payload_scale(self, scale: f64) -> Corpus {
        Corpus {
            payload_scale: scale,
            ..self
        }
    }

    fn name_count(&self) -> u64 {
        (self.packages / 3).max(1)
    }

    /// Whether package `index` is a rebuild (same NEVRA) of an earlier package.
    pub fn is_duplicate(&self, index: u64) -> bool {
        index > 0
            && index < self.packages
            && Rng::new(self.seed, &[STREAM_DUPLICATE, index]).below(100) == 0
    }

    /// First build time of this corpus.
    fn start_time(&self) -> u64 {
        BASE_TIME + Rng::new(self.seed, &[STREAM_CORPUS]).below(365 * DAY)
    }

    /// The package at `index`.
    pub fn spec(&self, index: u64) -> PackageSpec {
        if !self.is_duplicate(index) {
            return self.original_spec(index);
        }
        let mut original = index - 1;
        while self.is_duplicate(original) {
            original -= 1;
        }
        let mut spec = self.original_spec(original);
        let mut r = Rng::new(self.seed, &[STREAM_DUPLICATE, index, 1]);
        spec.index = index;
        spec.duplicate_of = Some(original);
        spec.payload_key = index;
        spec.build_time += r.range(3600, 30 * DAY) as u32;
        spec.build_host = format!("rebuild-{:02}.corpus.invalid", r.below(40));
        spec.relative_path = spec.relative_path.replacen("Packages/", "Rebuilds/", 1);
        spec
    }

    fn original_spec(&self, index: u64) -> PackageSpec {
        let name_id = index % self.name_count();
        let generation = index / self.name_count();
        let info = NameInfo::new(self.seed, name_id);
        let mut r = Rng::new(self.seed, &[STREAM_PACKAGE, index]);
        let is_source = r.chance(0.005);
        let arch = if is_source {
            "src"
        } else if info.noarch() {
            "noarch"
        } else if r.chance(0.12) {
            "i686"
        } else {
            "x86_64"
        };
        let version = format!("{}.{}.{}", info.major, info.minor + generation, r.below(20));
        let release = format!("{}.fc{}", 1 + r.below(4), 39 + r.below(4));
        let evr = match info.epoch {
            Some(epoch) => format!("{epoch}:{version}-{release}"),
            None => format!("{version}-{release}"),
        };
        let build_time = self.start_time() + generation * 45 * DAY + r.below(40 * DAY);
        let letter = info.name.chars().next().unwrap_or('_').to_ascii_lowercase();
        let mut spec = PackageSpec {
            index,
            duplicate_of: None,
            relative_path: format!(
                "Packages/{letter}/{}-{version}-{release}.{arch}.rpm",
                info.name
            ),
            name: info.name.clone(),
            epoch: info.epoch,
            version: version.clone(),
            release: release.clone(),
            arch: arch.to_owned(),
            is_source,
            summary: info.summary.clone(),
            description: info.description.clone(),
            license: info.license.to_owned(),
            vendor: "rpmdepot corpus".to_owned(),
            packager: {
                let (first, last) = r.pick(&PEOPLE);
                format!("{first} {last} <packagers@corpus.invalid>")
            },
            url: format!("https://{}.corpus.invalid/", info.stem),
            build_host: format!("builder-{:02}.corpus.invalid", r.below(40)),
            build_time: build_time as u32,
            files: Vec::new(),
            provides: Vec::new(),
            requires: Vec::new(),
            conflicts: Vec::new(),
            obsoletes: Vec::new(),
            recommends: Vec::new(),
            suggests: Vec::new(),
            supplements: Vec::new(),
            enhances: Vec::new(),
            changelog: changelog(&mut r, build_time, &version),
            payload_key: index,
            seed: self.seed,
        };
        let payload = if r.chance(1.0 / 2000.0) {
            r.range(15 << 20, 60 << 20)
        } else {
            (r.log_normal(50_000.0 * self.payload_scale, 1.1) as u64).clamp(512, 200 << 20)
        };
        if is_source {
            spec.files = source_files(&info, &version, payload, &mut r);
            spec.provides.push(Dep::new(&info.name, sense::EQUAL, &evr));
            spec.requires = build_requires(self, &info, &mut r);
        } else {
            let file_count = (r.log_normal(20.0, 1.4).round() as usize).clamp(1, 20_000);
            spec.files = binary_files(&info, arch, file_count, payload, &mut r);
            add_binary_deps(self, &info, &mut spec, &evr, &mut r);
        }
        for list in [
            &mut spec.provides,
            &mut spec.requires,
            &mut spec.conflicts,
            &mut spec.obsoletes,
            &mut spec.recommends,
            &mut spec.suggests,
            &mut spec.supplements,
            &mut spec.enhances,
        ] {
            // rpmbuild stores dependencies sorted and without repeats.
            list.sort();
            list.dedup();
        }
        spec
    }

    /// A name of this corpus other than package `index`'s, for dependencies.
    fn other_name(&self, r: &mut Rng) -> NameInfo {
        NameInfo::new(self.seed, r.below(self.name_count()))
    }
}

fn changelog(r: &mut Rng, build_time: u64, version: &str) -> Vec<ChangelogEntry> {
    let count = r.below(31);
    // rpmbuild keeps only the day: entries are at noon UTC, several may share a day.
    let mut time = build_time - build_time % DAY - DAY / 2;
    let mut entries = Vec::with_capacity(count as usize);
    for k in 0..count {
        let (first, last) = r.pick(&PEOPLE);
        let mail = format!("{}@corpus.invalid", first.to_lowercase());
        let mut text = if k == 0 {
            format!("- Update to {version}")
        } else {
            format!("- {}", capitalize(&words(r, 3, 14)))
        };
        for _ in 0..r.below(4) {
            text.push_str("\n- ");
            text.push_str(&words(r, 3, 20));
        }
        entries.push(ChangelogEntry {
            time: time as u32,
            author: format!("{first} {last} <{mail}> - {version}-{}", count - k),
            text,
        });
        time -= r.below(60) * DAY;
    }
    entries
}

fn regular(path: String, perms: u32, flags: u32) -> FileSpec {
    FileSpec {
        path,
        kind: FileKind::Regular(0),
        perms,
        flags,
    }
}

fn dir(path: String) -> FileSpec {
    FileSpec {
        path,
        kind: FileKind::Dir,
        perms: 0o755,
        flags: 0,
    }
}

/// Spreads `payload` bytes over the regular files (exponentially distributed shares) and sorts
/// the list by path, as rpmbuild does, dropping repeated paths.
fn finish_files(mut files: Vec<FileSpec>, payload: u64, r: &mut Rng) -> Vec<FileSpec> {
    let mut by_path: BTreeMap<String, FileSpec> = BTreeMap::new();
    for file in files.drain(..) {
        by_path.entry(file.path.clone()).or_insert(file);
    }
    let mut files: Vec<FileSpec> = by_path.into_values().collect();
    let weights: Vec<f64> = files
        .iter()
        .map(|f| {
            if matches!(f.kind, FileKind::Regular(_)) {
                r.exponential()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    if total > 0.0 {
        for (file, weight) in files.iter_mut().zip(weights) {
            if let FileKind::Regular(size) = &mut file.kind {
                *size = (payload as f64 * weight / total) as u64;
            }
        }
    }
    files
}

fn binary_files(
    info: &NameInfo,
    arch: &str,
    file_count: usize,
    payload: u64,
    r: &mut Rng,
) -> Vec<FileSpec> {
    let name = &info.name;
    let stem = &info.stem;
    let libdir = if arch == "x86_64" {
        "/usr/lib64"
    } else {
        "/usr/lib"
    };
    let mut files = vec![
        dir(format!("/usr/share/doc/{name}")),
        regular(
            format!("/usr/share/doc/{name}/README.md"),
            0o644,
            fileflag::DOC,
        ),
        dir(format!("/usr/share/licenses/{name}")),
        regular(
            format!("/usr/share/licenses/{name}/LICENSE"),
            0o644,
            fileflag::LICENSE,
        ),
    ];
    let fill_dir = match info.kind {
        Kind::Plain => {
            files.push(regular(format!("/usr/bin/{name}"), 0o755, 0));
            for _ in 0..r.below(3) {
                let word = r.pick(&["ctl", "admin", "convert", "check", "dump"]);
                files.push(regular(format!("/usr/bin/{name}-{word}"), 0o755, 0));
            }
            if info.has_config {
                files.push(dir(format!("/etc/{name}")));
                files.push(regular(
                    format!("/etc/{name}/{name}.conf"),
                    0o644,
                    fileflag::CONFIG | fileflag::NOREPLACE,
                ));
            }
            if r.chance(0.15) {
                files.push(regular(format!("/usr/sbin/{name}d"), 0o755, 0));
                files.push(regular(
                    format!("/usr/lib/systemd/system/{name}d.service"),
                    0o644,
                    0,
                ));
            }
            if r.chance(0.05) {
                files.push(FileSpec {
                    path: format!("/var/log/{name}.log"),
                    kind: FileKind::Ghost,
                    perms: 0o640,
                    flags: fileflag::GHOST,
                });
            }
            files.push(regular(
                format!("/usr/share/man/man1/{name}.1.gz"),
                0o644,
                fileflag::DOC,
            ));
            format!("/usr/share/{name}")
        }
        Kind::Lib => {
            let soname = format!("lib{stem}.so.{}", info.major);
            let real = format!("{soname}.{}.0", info.minor);
            files.push(regular(format!("{libdir}/{real}"), 0o755, 0));
            files.push(FileSpec {
                path: format!("{libdir}/{soname}"),
                kind: FileKind::Symlink(real),
                perms: 0o777,
                flags: 0,
            });
            format!("{libdir}/{stem}")
        }
        Kind::Devel => {
            files.push(FileSpec {
                path: format!("{libdir}/lib{stem}.so"),
                kind: FileKind::Symlink(format!("lib{stem}.so.{}", info.major)),
                perms: 0o777,
                flags: 0,
            });
            files.push(regular(format!("{libdir}/pkgconfig/{stem}.pc"), 0o644, 0));
            format!("/usr/include/{stem}")
        }
        Kind::Python => {
            let site = "/usr/lib/python3.12/site-packages";
            files.push(dir(format!("{site}/{stem}-{}.dist-info", info.major)));
            files.push(regular(
                format!("{site}/{stem}-{}.dist-info/METADATA", info.major),
                0o644,
                0,
            ));
            files.push(regular(format!("{site}/{stem}/__init__.py"), 0o644, 0));
            if r.chance(0.3) {
                files.push(regular(format!("/usr/bin/{stem}"), 0o755, 0));
            }
            format!("{site}/{stem}")
        }
        Kind::Perl => {
            let module = capitalize(stem);
            files.push(regular(
                format!("/usr/share/man/man3/{module}.3pm.gz"),
                0o644,
                fileflag::DOC,
            ));
            files.push(regular(
                format!("/usr/share/perl5/vendor_perl/{module}.pm"),
                0o644,
                0,
            ));
            format!("/usr/share/perl5/vendor_perl/{module}")
        }
        Kind::Golang => format!("/usr/share/gocode/src/github.com/{stem}/{stem}"),
        Kind::Doc => format!("/usr/share/doc/{name}/html"),
        Kind::Data => format!("/usr/share/{stem}"),
    };
    let extension = match info.kind {
        Kind::Python => "py",
        Kind::Perl => "pm",
        Kind::Golang => "go",
        Kind::Devel => "h",
        Kind::Doc => "html",
        Kind::Lib => "so",
        Kind::Plain | Kind::Data => "dat",
    };
    files.push(dir(fill_dir.clone()));
    let mut sub = fill_dir.clone();
    let mut k = 0;
    while files.len() < file_count {
        if k % 50 == 0 && k > 0 {
            sub = format!("{fill_dir}/part{}", k / 50);
            files.push(dir(sub.clone()));
        }
        let word = r.pick(&WORDS[..27]).replace('+', "p");
        files.push(regular(format!("{sub}/{word}-{k}.{extension}"), 0o644, 0));
        k += 1;
    }
    finish_files(files, payload, r)
}

fn source_files(info: &NameInfo, version: &str, payload: u64, r: &mut Rng) -> Vec<FileSpec> {
    let name = &info.name;
    let mut files = vec![
        regular(format!("{name}.spec"), 0o644, fileflag::SPECFILE),
        regular(format!("{}-{version}.tar.gz", info.stem), 0o644, 0),
    ];
    for k in 0..r.below(4) {
        files.push(regular(format!("{name}-fix-{k}.patch"), 0o644, 0));
    }
    finish_files(files, payload, r)
}

fn build_requires(corpus: &Corpus, info: &NameInfo, r: &mut Rng) -> Vec<Dep> {
    let mut deps = vec![
        Dep::new(
            "rpmlib(CompressedFileNames)",
            sense::RPMLIB | sense::LESS | sense::EQUAL,
            "3.0.4-1",
        ),
        Dep::new(
            "rpmlib(FileDigests)",
            sense::RPMLIB | sense::LESS | sense::EQUAL,
            "4.6.0-1",
        ),
        Dep::new("gcc", 0, ""),
        Dep::new("make", 0, ""),
    ];
    if info.kind == Kind::Python {
        deps.push(Dep::new(
            "python3-devel",
            sense::GREATER | sense::EQUAL,
            "3.9",
        ));
    }
    for _ in 0..r.below(6) {
        let other = corpus.other_name(r);
        deps.push(Dep::new(format!("{}-devel", other.stem), 0, ""));
    }
    deps
}

fn add_binary_deps(
    corpus: &Corpus,
    info: &NameInfo,
    spec: &mut PackageSpec,
    evr: &str,
    r: &mut Rng,
) {
    let name = &info.name;
    let stem = &info.stem;
    let bits64 = spec.arch == "x86_64";
    let isa = match spec.arch.as_str() {
        "x86_64" => Some("x86-64"),
        "i686" => Some("x86-32"),
        _ => None,
    };
    let lib_suffix = if bits64 { "()(64bit)" } else { "" };
    let has = |path: &str| spec.files.iter().any(|f| f.path == path);

    let provides = &mut spec.provides;
    provides.push(Dep::new(name, sense::EQUAL, evr));
    if let Some(isa) = isa {
        provides.push(Dep::new(format!("{name}({isa})"), sense::EQUAL, evr));
    }
    if info.has_config {
        provides.push(Dep::new(
            format!("config({name})"),
            sense::CONFIG | sense::EQUAL,
            evr,
        ));
    }
    match info.kind {
        Kind::Lib => provides.push(Dep::new(
            format!("lib{stem}.so.{}{lib_suffix}", info.major),
            sense::FIND_PROVIDES,
            "",
        )),
        Kind::Devel => provides.push(Dep::new(
            format!("pkgconfig({stem})"),
            sense::EQUAL | sense::FIND_PROVIDES,
            &spec.version,
        )),
        Kind::Python => {
            provides.push(Dep::new(
                format!("python3.12dist({stem})"),
                sense::EQUAL,
                &spec.version,
            ));
            provides.push(Dep::new(
                format!("python3dist({stem})"),
                sense::EQUAL,
                &spec.version,
            ));
        }
        Kind::Perl => {
            let module = capitalize(stem);
            provides.push(Dep::new(
                format!("perl({module})"),
                sense::EQUAL,
                &spec.version,
            ));
            provides.push(Dep::new(format!("perl({module}::Util)"), 0, ""));
        }
        Kind::Golang => provides.push(Dep::new(
            format!("golang(github.com/{stem}/{stem})"),
            sense::EQUAL,
            &spec.version,
        )),
        Kind::Plain | Kind::Doc | Kind::Data => {}
    }
    if r.chance(0.05) {
        let other = corpus.other_name(r);
        provides.push(Dep::new(
            format!("bundled({})", other.stem),
            sense::EQUAL,
            "1.2.0",
        ));
    }

    let mut requires = vec![
        Dep::new(
            "rpmlib(CompressedFileNames)",
            sense::RPMLIB | sense::LESS | sense::EQUAL,
            "3.0.4-1",
        ),
        Dep::new(
            "rpmlib(FileDigests)",
            sense::RPMLIB | sense::LESS | sense::EQUAL,
            "4.6.0-1",
        ),
        Dep::new(
            "rpmlib(PayloadFilesHavePrefix)",
            sense::RPMLIB | sense::LESS | sense::EQUAL,
            "4.0-1",
        ),
    ];
    if matches!(info.kind, Kind::Plain | Kind::Lib) {
        requires.push(Dep::new("rtld(GNU_HASH)", sense::FIND_REQUIRES, ""));
        requires.push(Dep::new(
            format!("libc.so.6{lib_suffix}"),
            sense::FIND_REQUIRES,
            "",
        ));
        let tail = if bits64 { "(64bit)" } else { "" };
        for _ in 0..1 + r.below(4) {
            let glibc = r.pick(&GLIBC_VERSIONS);
            requires.push(Dep::new(
                format!("libc.so.6(GLIBC_{glibc}){tail}"),
                sense::FIND_REQUIRES,
                "",
            ));
        }
        for _ in 0..r.below(6) {
            let other = corpus.other_name(r);
            requires.push(Dep::new(
                format!("lib{}.so.{}{lib_suffix}", other.stem, other.major),
                sense::FIND_REQUIRES,
                "",
            ));
        }
    }
    match info.kind {
        Kind::Python => {
            requires.push(Dep::new("python(abi)", sense::EQUAL, "3.12"));
            for _ in 0..r.below(4) {
                let other = corpus.other_name(r);
                requires.push(Dep::new(
                    format!("python3.12dist({})", other.stem),
                    sense::GREATER | sense::EQUAL,
                    format!("{}.{}", other.major, other.minor),
                ));
            }
            if has(&format!("/usr/bin/{stem}")) {
                requires.push(Dep::new("/usr/bin/python3", sense::FIND_REQUIRES, ""));
            }
        }
        Kind::Perl => {
            requires.push(Dep::new("perl(:MODULE_COMPAT_5.38.0)", 0, ""));
            requires.push(Dep::new("perl(strict)", sense::FIND_REQUIRES, ""));
        }
        Kind::Devel => {
            let isa = isa.map(|i| format!("({i})")).unwrap_or_default();
            requires.push(Dep::new(format!("lib{stem}{isa}"), sense::EQUAL, evr));
            requires.push(Dep::new("/usr/bin/pkg-config", sense::FIND_REQUIRES, ""));
            requires.push(Dep::new("pkgconfig", sense::FIND_REQUIRES, ""));
        }
        _ => {}
    }
    for _ in 0..r.below(4) {
        let other = corpus.other_name(r);
        if r.chance(0.5) {
            let version = format!("{}.{}", other.major, other.minor);
            requires.push(Dep::new(other.name, sense::GREATER | sense::EQUAL, version));
        } else {
            requires.push(Dep::new(other.name, 0, ""));
        }
    }
    if r.chance(0.2) {
        requires.push(Dep::new("/bin/sh", sense::INTERP | sense::SCRIPT_PRE, ""));
        requires.push(Dep::new("/bin/sh", sense::INTERP | sense::SCRIPT_POST, ""));
    }
    if has(&format!("/usr/lib/systemd/system/{name}d.service")) {
        requires.push(Dep::new("systemd", sense::SCRIPT_POST, ""));
    }
    if r.chance(0.03) {
        requires.push(Dep::new("coreutils", sense::PRETRANS, ""));
    }
    if r.chance(0.02) {
        requires.push(Dep::new("glibc-common", sense::POSTTRANS, ""));
    }
    if info.has_config {
        // rpmbuild adds this; createrepo_c drops it because the package provides it.
        requires.push(Dep::new(
            format!("config({name})"),
            sense::CONFIG | sense::EQUAL,
            evr,
        ));
    }
    if has(&format!("/usr/bin/{name}")) && r.chance(0.1) {
        // A requirement on one of its own primary files, which createrepo_c leaves out.
        requires.push(Dep::new(
            format!("/usr/bin/{name}"),
            sense::FIND_REQUIRES,
            "",
        ));
    }
    if r.chance(0.05) {
        // A requirement on a file in another package.
        requires.push(Dep::new("/usr/bin/perl", sense::FIND_REQUIRES, ""));
    }
    spec.requires = requires;

    if r.chance(0.04) {
        let other = corpus.other_name(r);
        spec.conflicts.push(Dep::new(
            other.name,
            sense::LESS,
            format!("{}.0", other.major),
        ));
    }
    if r.chance(0.08) {
        spec.obsoletes
            .push(Dep::new(format!("{name}-compat"), sense::LESS, evr));
    }
    if r.chance(0.15) {
        spec.recommends
            .push(Dep::new(format!("{}-doc", info.stem), 0, ""));
        for _ in 0..r.below(3) {
            spec.recommends
                .push(Dep::new(corpus.other_name(r).name, 0, ""));
        }
    }
    if r.chance(0.1) {
        for _ in 0..1 + r.below(3) {
            let other = corpus.other_name(r);
            spec.suggests.push(Dep::new(
                other.name,
                sense::GREATER | sense::EQUAL,
                format!("{}", other.major),
            ));
        }
    }
    if r.chance(0.05) {
        let lang = r.pick(&["en", "de", "fr", "ja", "pt_BR"]);
        spec.supplements
            .push(Dep::new(format!("({name} and langpacks-{lang})"), 0, ""));
    }
    if r.chance(0.03) {
        spec.enhances
            .push(Dep::new(corpus.other_name(r).name, 0, ""));
    }
}

fn dep_tags(header: &mut HeaderBuilder, deps: &[Dep], names: u32, flags: u32, versions: u32) {
    header
        .set(
            names,
            Value::StrArray(deps.iter().map(|d| d.name.clone()).collect()),
        )
        .set(flags, Value::Int32(deps.iter().map(|d| d.flags).collect()))
        .set(
            versions,
            Value::StrArray(deps.iter().map(|d| d.version.clone()).collect()),
        );
}

impl PackageSpec {
    /// The file's modification time: a few minutes after the build.
    pub fn mtime(&self) -> u64 {
        u64::from(self.build_time) + 300
    }

    /// The package file's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut r = Rng::new(self.seed, &[STREAM_PAYLOAD, self.payload_key]);
        let payload_size: u64 = self.files.iter().map(FileSpec::size).sum();
        let mut payload = Vec::with_capacity(payload_size as usize + 128 * (self.files.len() + 1));
        let mut digests = Vec::with_capacity(self.files.len());
        for (ino, file) in (1u32..).zip(&self.files) {
            let archive_name = if self.is_source {
                file.path.clone()
            } else {
                format!(".{}", file.path)
            };
            let mode = file.mode();
            let mut digest = String::new();
            match &file.kind {
                FileKind::Regular(size) => {
                    let size = *size as usize;
                    cpio_member(
                        &mut payload,
                        &archive_name,
                        ino,
                        mode,
                        self.build_time,
                        size,
                    );
                    let start = payload.len();
                    payload.resize(start + size, 0);
                    r.fill(&mut payload[start..]);
                    digest = sha256_hex(&payload[start..]);
                    cpio_pad(&mut payload);
                }
                FileKind::Dir => {
                    cpio_member(&mut payload, &archive_name, ino, mode, self.build_time, 0);
                }
                FileKind::Symlink(target) => {
                    cpio_member(
                        &mut payload,
                        &archive_name,
                        ino,
                        mode,
                        self.build_time,
                        target.len(),
                    );
                    payload.extend_from_slice(target.as_bytes());
                    cpio_pad(&mut payload);
                }
                FileKind::Ghost => {}
            }
            digests.push(digest);
        }
        cpio_trailer(&mut payload);

        let mut h = HeaderBuilder::default();
        h.set(tag::HEADERI18NTABLE, Value::StrArray(vec!["C".into()]))
            .set(tag::NAME, Value::Str(self.name.clone()))
            .set(tag::VERSION, Value::Str(self.version.clone()))
            .set(tag::RELEASE, Value::Str(self.release.clone()))
            .set(tag::SUMMARY, Value::I18n(self.summary.clone()))
            .set(tag::DESCRIPTION, Value::I18n(self.description.clone()))
            .set(tag::BUILDTIME, Value::Int32(vec![self.build_time]))
            .set(tag::BUILDHOST, Value::Str(self.build_host.clone()))
            .set(tag::VENDOR, Value::Str(self.vendor.clone()))
            .set(tag::LICENSE, Value::Str(self.license.clone()))
            .set(tag::PACKAGER, Value::Str(self.packager.clone()))
            .set(tag::GROUP, Value::I18n("Unspecified".into()))
            .set(tag::URL, Value::Str(self.url.clone()))
            .set(tag::OS, Value::Str("linux".into()))
            .set(tag::RPMVERSION, Value::Str("rpmdepot gen-corpus".into()))
            .set(tag::PAYLOADFORMAT, Value::Str("cpio".into()))
            .set(tag::PAYLOADFLAGS, Value::Str(String::new()))
            .set(tag::ENCODING, Value::Str("utf-8".into()));
        if let Some(epoch) = self.epoch {
            h.set(tag::EPOCH, Value::Int32(vec![epoch]));
        }
        let build_arch = if self.is_source { "x86_64" } else { &self.arch };
        h.set(tag::ARCH, Value::Str(build_arch.to_owned())).set(
            tag::PLATFORM,
            Value::Str(format!("{build_arch}-redhat-linux-gnu")),
        );
        if self.is_source {
            h.set(tag::SOURCEPACKAGE, Value::Int32(vec![1]));
        } else {
            h.set(
                tag::SOURCERPM,
                Value::Str(format!(
                    "{}-{}-{}.src.rpm",
                    self.name, self.version, self.release
                )),
            );
        }
        match u32::try_from(payload_size) {
            Ok(size) => h.set(tag::SIZE, Value::Int32(vec![size])),
            Err(_) => h.set(tag::LONGSIZE, Value::Int64(vec![payload_size])),
        };
        self.file_tags(&mut h, digests);
        dep_tags(
            &mut h,
            &self.provides,
            tag::PROVIDENAME,
            tag::PROVIDEFLAGS,
            tag::PROVIDEVERSION,
        );
        dep_tags(
            &mut h,
            &self.requires,
            tag::REQUIRENAME,
            tag::REQUIREFLAGS,
            tag::REQUIREVERSION,
        );
        dep_tags(
            &mut h,
            &self.conflicts,
            tag::CONFLICTNAME,
            tag::CONFLICTFLAGS,
            tag::CONFLICTVERSION,
        );
        dep_tags(
            &mut h,
            &self.obsoletes,
            tag::OBSOLETENAME,
            tag::OBSOLETEFLAGS,
            tag::OBSOLETEVERSION,
        );
        dep_tags(
            &mut h,
            &self.recommends,
            tag::RECOMMENDNAME,
            tag::RECOMMENDFLAGS,
            tag::RECOMMENDVERSION,
        );
        dep_tags(
            &mut h,
            &self.suggests,
            tag::SUGGESTNAME,
            tag::SUGGESTFLAGS,
            tag::SUGGESTVERSION,
        );
        dep_tags(
            &mut h,
            &self.supplements,
            tag::SUPPLEMENTNAME,
            tag::SUPPLEMENTFLAGS,
            tag::SUPPLEMENTVERSION,
        );
        dep_tags(
            &mut h,
            &self.enhances,
            tag::ENHANCENAME,
            tag::ENHANCEFLAGS,
            tag::ENHANCEVERSION,
        );
        h.set(
            tag::CHANGELOGTIME,
            Value::Int32(self.changelog.iter().map(|c| c.time).collect()),
        )
        .set(
            tag::CHANGELOGNAME,
            Value::StrArray(self.changelog.iter().map(|c| c.author.clone()).collect()),
        )
        .set(
            tag::CHANGELOGTEXT,
            Value::StrArray(self.changelog.iter().map(|c| c.text.clone()).collect()),
        );

        let lead_name = format!("{}-{}-{}", self.name, self.version, self.release);
        assemble(&lead_name, self.is_source, h, &payload)
    }

    fn file_tags(&self, h: &mut HeaderBuilder, digests: Vec<String>) {
        if self.files.is_empty() {
            return;
        }
        let mut dirnames: Vec<String> = Vec::new();
        let mut dir_index: BTreeMap<String, u32> = BTreeMap::new();
        let mut indexes = Vec::with_capacity(self.files.len());
        let mut basenames = Vec::with_capacity(self.files.len());
        for file in &self.files {
            let (dir, base) = match file.path.rfind('/') {
                Some(slash) => file.path.split_at(slash + 1),
                None => ("", file.path.as_str()),
            };
            let index = *dir_index.entry(dir.to_owned()).or_insert_with(|| {
                dirnames.push(dir.to_owned());
                (dirnames.len() - 1) as u32
            });
            indexes.push(index);
            basenames.push(base.to_owned());
        }
        let n = self.files.len();
        let sizes: Vec<u64> = self.files.iter().map(FileSpec::size).collect();
        if sizes.iter().all(|&s| s <= u64::from(u32::MAX)) {
            h.set(
                tag::FILESIZES,
                Value::Int32(sizes.iter().map(|&s| s as u32).collect()),
            );
        } else {
            h.set(5008, Value::Int64(sizes));
        }
        h.set(
            tag::FILEMODES,
            Value::Int16(self.files.iter().map(|f| f.mode() as u16).collect()),
        )
        .set(tag::FILERDEVS, Value::Int16(vec![0; n]))
        .set(tag::FILEMTIMES, Value::Int32(vec![self.build_time; n]))
        .set(tag::FILEDIGESTS, Value::StrArray(digests))
        .set(
            tag::FILELINKTOS,
            Value::StrArray(
                self.files
                    .iter()
                    .map(|f| match &f.kind {
                        FileKind::Symlink(target) => target.clone(),
                        _ => String::new(),
                    })
                    .collect(),
            ),
        )
        .set(
            tag::FILEFLAGS,
            Value::Int32(self.files.iter().map(|f| f.flags).collect()),
        )
        .set(tag::FILEUSERNAME, Value::StrArray(vec!["root".into(); n]))
        .set(tag::FILEGROUPNAME, Value::StrArray(vec!["root".into(); n]))
        .set(tag::FILEVERIFYFLAGS, Value::Int32(vec![u32::MAX; n]))
        .set(tag::FILEDEVICES, Value::Int32(vec![1; n]))
        .set(tag::FILEINODES, Value::Int32((1..=n as u32).collect()))
        .set(tag::FILELANGS, Value::StrArray(vec![String::new(); n]))
        .set(tag::DIRINDEXES, Value::Int32(indexes))
        .set(tag::BASENAMES, Value::StrArray(basenames))
        .set(tag::DIRNAMES, Value::StrArray(dirnames))
        .set(tag::FILEDIGESTALGO, Value::Int32(vec![HASH_SHA256]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_deterministic_and_nevras_unique() {
        let corpus = Corpus::new(600, 3);
        let mut nevras = std::collections::HashMap::new();
        let mut duplicates = 0;
        for i in 0..600 {
            let spec = corpus.spec(i);
            assert_eq!(spec.build(), corpus.spec(i).build());
            let nevra = format!(
                "{}-{:?}:{}-{}.{}",
                spec.name, spec.epoch, spec.version, spec.release, spec.arch
            );
            match spec.duplicate_of {
                Some(original) => {
                    duplicates += 1;
                    assert_eq!(nevras.get(&nevra), Some(&original));
                    assert!(spec.relative_path.starts_with("Rebuilds/"));
                }
                None => assert!(nevras.insert(nevra, i).is_none(), "{i}"),
            }
        }
        assert!(duplicates > 0);
        // Packages past the corpus size are new versions, never rebuilds.
        assert!((600..700).all(|i| !corpus.is_duplicate(i)));
    }

    #[test]
    fn payload_scale_grows_payloads_and_keeps_everything_else() {
        let plain = Corpus::new(300, 5);
        let same = Corpus::new(300, 5).with_payload_scale(1.0);
        let big = Corpus::new(300, 5).with_payload_scale(8.0);
        let payload = |spec: &PackageSpec| spec.files.iter().map(FileSpec::size).sum::<u64>();
        let (mut plain_bytes, mut big_bytes) = (0, 0);
        for i in 0..300 {
            let (a, b) = (plain.spec(i), big.spec(i));
            assert_eq!(
                a.build(),
                same.spec(i).build(),
                "scale 1 changed package {i}"
            );
            assert_eq!(
                (
                    &a.name,
                    &a.version,
                    &a.release,
                    &a.relative_path,
                    a.files.len()
                ),
                (
                    &b.name,
                    &b.version,
                    &b.release,
                    &b.relative_path,
                    b.files.len()
                )
            );
            plain_bytes += payload(&a);
            big_bytes += payload(&b);
        }
        assert!(big_bytes > 6 * plain_bytes, "{big_bytes} vs {plain_bytes}");
    }
}
