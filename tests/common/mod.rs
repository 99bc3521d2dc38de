//! Helpers shared by the integration tests of the `rpmdepot` binary.
//!
//! Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// Our binary, built by cargo for the integration tests.
pub const RPMDEPOT: &str = env!("CARGO_BIN_EXE_rpmdepot");

/// Environment variable naming the shared, read-only fixture corpus.
pub const SHARED_FIXTURES_VAR: &str = "RPMDEPOT_SHARED_FIXTURES";

/// At most this many packages are shown in a failure message ...
pub const MAX_REPORTED_PACKAGES: usize = 10;
/// ... with at most this many lines each.
pub const MAX_REPORTED_LINES: usize = 20;

// ---------------------------------------------------------------------------
// Missing prerequisites: skip locally, fail in CI.
// ---------------------------------------------------------------------------

/// The one place that decides what happens when a test cannot run because
/// something outside the repository is missing (the shared corpus, a tool).
///
/// Outside CI it prints a plain `SKIPPED (did not run): <reason>` line and the
/// caller returns. When the `CI` environment variable is set it panics: in CI a
/// test must never skip silently and look like a pass.
pub fn skip_or_fail_in_ci(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("prerequisite missing in CI (tests must not skip in CI): {reason}");
    }
    println!("SKIPPED (did not run): {reason}");
}

/// The shared fixture corpus (`$RPMDEPOT_SHARED_FIXTURES`), or `None` after
/// [`skip_or_fail_in_ci`] when it is not set.
pub fn shared_fixtures() -> Option<PathBuf> {
    let Some(value) = std::env::var_os(SHARED_FIXTURES_VAR).filter(|v| !v.is_empty()) else {
        skip_or_fail_in_ci(&format!("{SHARED_FIXTURES_VAR} is not set"));
        return None;
    };
    let corpus = PathBuf::from(value);
    assert!(
        corpus.join("rpms").is_dir(),
        "{SHARED_FIXTURES_VAR}={} has no rpms/ directory",
        corpus.display()
    );
    Some(corpus)
}

/// Full path of `program` if it is an executable file on `PATH`.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// True when every tool is on `PATH`; otherwise [`skip_or_fail_in_ci`] and false.
pub fn tools_available(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| find_in_path(tool).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip_or_fail_in_ci(&format!("not installed: {}", missing.join(", ")));
    false
}

// ---------------------------------------------------------------------------
// Running commands.
// ---------------------------------------------------------------------------

/// The command line of `command`, for messages.
pub fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| {
            let part = part.to_string_lossy();
            if part.is_empty() || part.contains(|c: char| c.is_whitespace() || "'\"$*?".contains(c))
            {
                format!("'{}'", part.replace('\'', r"'\''"))
            } else {
                part.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Removes ANSI escape sequences (`ESC [ ... final-byte`) from `text`.
pub fn strip_ansi(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            result.push(c);
        }
    }
    result
}

/// The last `max_lines` lines of a command's output (without colour codes),
/// for messages.
pub fn tail_lines(bytes: &[u8], max_lines: usize) -> String {
    let text = strip_ansi(&String::from_utf8_lossy(bytes));
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut shown = String::new();
    if start > 0 {
        let _ = writeln!(shown, "    [... {start} earlier lines]");
    }
    for line in &lines[start..] {
        let _ = writeln!(shown, "    {line}");
    }
    shown
}

/// Describes a finished command (command line, status, end of stdout/stderr).
pub fn describe_output(command: &Command, output: &Output) -> String {
    format!(
        "command: {}\nstatus: {}\nstderr (end):\n{}stdout (end):\n{}",
        command_line(command),
        output.status,
        tail_lines(&output.stderr, 15),
        tail_lines(&output.stdout, 10),
    )
}

/// Runs `command` to completion; panics only if it cannot be started.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot start `{}`: {error}", command_line(command)))
}

/// Runs `command` and panics with its stderr unless it exits with `expected_code`.
pub fn run_expecting(command: &mut Command, expected_code: i32) -> Output {
    let output = run(command);
    if output.status.code() != Some(expected_code) {
        panic!(
            "expected exit status {expected_code}\n{}",
            describe_output(command, &output)
        );
    }
    output
}

/// Runs `command` and panics with its stderr unless it succeeds.
pub fn run_success(command: &mut Command) -> Output {
    run_expecting(command, 0)
}

/// `rpmdepot createrepo <args>`.
pub fn rpmdepot_createrepo() -> Command {
    let mut command = Command::new(RPMDEPOT);
    command.arg("createrepo");
    command
}

// ---------------------------------------------------------------------------
// Files.
// ---------------------------------------------------------------------------

/// All regular `*.rpm` files below `dir`, as paths relative to `dir`, sorted.
pub fn rpm_files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        for entry in entries {
            let entry =
                entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
            let path = entry.path();
            let file_type = entry
                .file_type()
                .unwrap_or_else(|error| panic!("cannot stat {}: {error}", path.display()));
            if file_type.is_dir() {
                walk(root, &path, found);
            } else if file_type.is_file() && path.extension().is_some_and(|ext| ext == "rpm") {
                let relative = path
                    .strip_prefix(root)
                    .expect("walked path is below its root");
                found.push(relative.to_path_buf());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// Copies `source` to `destination` (creating parent directories) and sets the
/// copy's modification time to `mtime_seconds` since the epoch.
pub fn copy_with_mtime(source: &Path, destination: &Path, mtime_seconds: u64) {
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
    }
    std::fs::copy(source, destination).unwrap_or_else(|error| {
        panic!(
            "cannot copy {} to {}: {error}",
            source.display(),
            destination.display()
        )
    });
    let file = std::fs::File::options()
        .write(true)
        .open(destination)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", destination.display()));
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime_seconds))
        .unwrap_or_else(|error| panic!("cannot set mtime of {}: {error}", destination.display()));
}

/// Makes `dir` an empty directory (removing what a previous run left there).
pub fn fresh_dir(dir: &Path) -> PathBuf {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .unwrap_or_else(|error| panic!("cannot remove {}: {error}", dir.display()));
    }
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
    dir.to_path_buf()
}

/// Lowercase hex SHA-256 of `bytes`, computed by the `sha256sum` tool
/// (coreutils) so the tests need no hashing crate.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start sha256sum");
    let mut stdin = child.stdin.take().expect("sha256sum stdin is piped");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("sha256sum did not finish");
    writer
        .join()
        .expect("sha256sum writer thread panicked")
        .expect("cannot write to sha256sum");
    assert!(
        output.status.success(),
        "sha256sum failed: {}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum printed nothing")
        .to_owned()
}

// ---------------------------------------------------------------------------
// Decompression.
// ---------------------------------------------------------------------------

/// Decompresses gzip bytes (all members).
pub fn gunzip(bytes: &[u8], what: &str) -> Vec<u8> {
    let mut decompressed = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut decompressed)
        .unwrap_or_else(|error| panic!("cannot gunzip {what}: {error}"));
    decompressed
}

/// Reads a metadata file and decompresses it according to its suffix: `.gz`
/// in-process; `.bz2`, `.xz` and `.zst` with the `bzip2`/`xz`/`zstd` tools;
/// anything else is returned as is.
pub fn read_decompressed(path: &Path) -> Vec<u8> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".bz2") {
        Some("bzip2")
    } else if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    };
    if let Some(tool) = tool {
        return run_success(Command::new(tool).arg("-dc").arg(path)).stdout;
    }
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {name}: {error}"));
    if name.ends_with(".gz") {
        gunzip(&bytes, &name)
    } else {
        bytes
    }
}

// ---------------------------------------------------------------------------
// repomd.xml.
// ---------------------------------------------------------------------------

/// One `<data type="...">` record of a repomd.xml.
#[derive(Clone, Debug)]
pub struct RepomdRecord {
    pub kind: String,
    pub checksum: Option<String>,
    pub open_checksum: Option<String>,
    pub location_href: String,
    pub timestamp: Option<String>,
    pub size: Option<String>,
    pub open_size: Option<String>,
    pub database_version: Option<String>,
    /// The record's text from `<data` to `</data>`.
    pub raw: String,
}

/// A parsed repomd.xml (only what the tests look at).
#[derive(Clone, Debug)]
pub struct Repomd {
    /// Directory that contains `repodata/`.
    pub repo_dir: PathBuf,
    pub revision: Option<String>,
    pub records: Vec<RepomdRecord>,
    pub text: String,
}

impl Repomd {
    pub fn record(&self, kind: &str) -> Option<&RepomdRecord> {
        self.records.iter().find(|record| record.kind == kind)
    }

    pub fn require(&self, kind: &str) -> &RepomdRecord {
        self.record(kind).unwrap_or_else(|| {
            panic!(
                "{}/repodata/repomd.xml has no `{kind}` record (has: {})",
                self.repo_dir.display(),
                self.kinds().join(", ")
            )
        })
    }

    pub fn kinds(&self) -> Vec<&str> {
        self.records
            .iter()
            .map(|record| record.kind.as_str())
            .collect()
    }

    /// Path of the file a record points to.
    pub fn path_of(&self, record: &RepomdRecord) -> PathBuf {
        self.repo_dir.join(&record.location_href)
    }

    /// Decompressed contents of the file of record `kind`.
    pub fn decompressed(&self, kind: &str) -> Vec<u8> {
        read_decompressed(&self.path_of(self.require(kind)))
    }

    /// Decompressed contents of the XML file of record `kind`, checked to be UTF-8.
    pub fn xml(&self, kind: &str) -> String {
        let path = self.path_of(self.require(kind));
        String::from_utf8(read_decompressed(&path)).unwrap_or_else(|error| {
            panic!(
                "{} is not valid UTF-8 (byte {}): metadata XML must be UTF-8",
                path.display(),
                error.utf8_error().valid_up_to()
            )
        })
    }
}

/// Reads `<repo_dir>/repodata/repomd.xml`.
pub fn read_repomd(repo_dir: &Path) -> Repomd {
    let path = repo_dir.join("repodata").join("repomd.xml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut records = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<data ") {
        let end = rest[start..]
            .find("</data>")
            .map(|end| start + end + "</data>".len())
            .unwrap_or_else(|| panic!("{}: unterminated <data> record", path.display()));
        let raw = &rest[start..end];
        let start_tag = &raw[..raw.find('>').expect("a <data tag ends with >")];
        let kind = attribute(start_tag, "type")
            .unwrap_or_else(|| panic!("{}: <data> without type", path.display()));
        let location = element_start_tag(raw, "location")
            .unwrap_or_else(|| panic!("{}: `{kind}` record has no <location>", path.display()));
        records.push(RepomdRecord {
            kind: kind.to_owned(),
            checksum: element_text(raw, "checksum").map(str::to_owned),
            open_checksum: element_text(raw, "open-checksum").map(str::to_owned),
            location_href: attribute(location, "href")
                .unwrap_or_else(|| panic!("{}: `{kind}` location has no href", path.display()))
                .to_owned(),
            timestamp: element_text(raw, "timestamp").map(str::to_owned),
            size: element_text(raw, "size").map(str::to_owned),
            open_size: element_text(raw, "open-size").map(str::to_owned),
            database_version: element_text(raw, "database_version").map(str::to_owned),
            raw: raw.to_owned(),
        });
        rest = &rest[end..];
    }
    Repomd {
        repo_dir: repo_dir.to_path_buf(),
        revision: element_text(&text, "revision").map(str::to_owned),
        records,
        text,
    }
}

// ---------------------------------------------------------------------------
// Tiny XML helpers (the metadata is machine-written; no general parser needed).
// ---------------------------------------------------------------------------

/// The start tag `<name ...>` of the first `name` element in `xml` (without
/// the closing `>` or `/>`).
pub fn element_start_tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    while let Some(found) = xml[from..].find(&open) {
        let start = from + found;
        let after = &xml[start + open.len()..];
        if after.starts_with([' ', '>', '/', '\n', '\t']) {
            let end = xml[start..].find('>')? + start;
            return Some(xml[start..end].trim_end_matches('/'));
        }
        from = start + open.len();
    }
    None
}

/// Text of the first `<name ...>text</name>` element in `xml`.
pub fn element_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let tag = element_start_tag(xml, name)?;
    let tag_offset = tag.as_ptr() as usize - xml.as_ptr() as usize;
    let content_start = tag_offset + xml[tag_offset..].find('>')? + 1;
    let close = format!("</{name}>");
    let content_end = content_start + xml[content_start..].find(&close)?;
    Some(&xml[content_start..content_end])
}

/// Value (still XML-escaped) of attribute `name` in a start tag.
pub fn attribute<'a>(start_tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let start = start_tag.find(&needle)? + needle.len();
    let end = start + start_tag[start..].find('"')?;
    Some(&start_tag[start..end])
}

/// Resolves the five predefined XML entities and numeric character references.
pub fn xml_unescape(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        result.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semicolon) = rest.find(';') else {
            break;
        };
        let entity = &rest[1..semicolon];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                result.push(c);
                rest = &rest[semicolon + 1..];
            }
            None => {
                result.push('&');
                rest = &rest[1..];
            }
        }
    }
    result.push_str(rest);
    result
}

/// A metadata XML file split into the text before the first `<package`, one
/// chunk per package, and the text after the last one; concatenating
/// `head + packages + tail` gives back the file exactly.
pub struct PackageChunks<'a> {
    pub head: &'a str,
    pub packages: Vec<&'a str>,
    pub tail: &'a str,
}

/// Splits primary/filelists/other XML into per-`<package>` chunks. A chunk runs
/// from `<package` to the start of the next one (the last one to the newline
/// after its `</package>`).
pub fn split_packages(xml: &str) -> PackageChunks<'_> {
    let starts: Vec<usize> = xml
        .match_indices("<package")
        .map(|(index, _)| index)
        .filter(|&index| xml[index + "<package".len()..].starts_with([' ', '>']))
        .collect();
    let Some(&first) = starts.first() else {
        return PackageChunks {
            head: xml,
            packages: Vec::new(),
            tail: "",
        };
    };
    let last = *starts.last().expect("starts is not empty");
    let last_end = xml[last..]
        .find("</package>")
        .map(|end| last + end + "</package>".len())
        .unwrap_or(xml.len());
    let last_end = if xml[last_end..].starts_with('\n') {
        last_end + 1
    } else {
        last_end
    };
    let mut packages = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(last_end);
        packages.push(&xml[start..end]);
    }
    PackageChunks {
        head: &xml[..first],
        packages,
        tail: &xml[last_end..],
    }
}

/// A key naming a package chunk: the location href in primary.xml, name.arch
/// and pkgid in filelists/other.
pub fn package_key(chunk: &str) -> String {
    if let Some(href) = element_start_tag(chunk, "location").and_then(|tag| attribute(tag, "href"))
    {
        return xml_unescape(href);
    }
    let start_tag = element_start_tag(chunk, "package").unwrap_or(chunk);
    format!(
        "{}.{} pkgid={}",
        attribute(start_tag, "name")
            .map(xml_unescape)
            .unwrap_or_default(),
        attribute(start_tag, "arch")
            .map(xml_unescape)
            .unwrap_or_default(),
        attribute(start_tag, "pkgid").unwrap_or("?"),
    )
}

/// Maps pkgid -> location href (first occurrence) from a primary.xml.
pub fn pkgid_to_href(primary_xml: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for chunk in split_packages(primary_xml).packages {
        let pkgid = element_text(chunk, "checksum").unwrap_or("?").to_owned();
        map.entry(pkgid).or_insert_with(|| package_key(chunk));
    }
    map
}

// ---------------------------------------------------------------------------
// Comparing metadata XML per package.
// ---------------------------------------------------------------------------

/// Which side of a comparison a text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The reference: createrepo_c's output or a golden repository.
    Reference,
    /// rpmdepot's output.
    Ours,
}

/// A named normalization for an allowed difference. It is applied to the chunk
/// of BOTH sides (told which side it is looking at); `apply` returns the
/// changed chunk, or `None` when it does not change anything.
pub struct Normalization<'a> {
    pub name: &'static str,
    pub apply: Box<NormalizeFn<'a>>,
}

/// Changes a package chunk, or returns `None` when it leaves it as it is.
pub type NormalizeFn<'a> = dyn Fn(Side, &str) -> Option<String> + 'a;

/// Result of comparing one metadata file (primary, filelists, ...) per package.
#[derive(Default)]
pub struct XmlComparison {
    pub kind: String,
    pub reference_name: String,
    /// Packages present on both sides and compared.
    pub packages_compared: usize,
    /// Packages identical without any normalization.
    pub identical_raw: usize,
    /// How many package chunks (counting both sides) each rule changed.
    pub rule_hits: BTreeMap<&'static str, usize>,
    /// Packages that still differ after normalization: (key, diff excerpt).
    pub differing: Vec<(String, String)>,
    /// Problems that are not about one package's content.
    pub structural: Vec<String>,
}

impl XmlComparison {
    pub fn is_ok(&self) -> bool {
        self.differing.is_empty() && self.structural.is_empty()
    }

    /// A short report: counts, structural problems, the first few differing
    /// packages with the first differing lines of each.
    pub fn report(&self) -> String {
        let mut report = format!(
            "{}: {} packages compared, {} identical as written, {} differ after normalization (rules applied: {})\n",
            self.kind,
            self.packages_compared,
            self.identical_raw,
            self.differing.len(),
            format_rule_hits(&self.rule_hits),
        );
        for problem in self.structural.iter().take(MAX_REPORTED_PACKAGES) {
            let _ = writeln!(report, "  {problem}");
        }
        if self.structural.len() > MAX_REPORTED_PACKAGES {
            let _ = writeln!(
                report,
                "  ... and {} more problems",
                self.structural.len() - MAX_REPORTED_PACKAGES
            );
        }
        for (key, diff) in self.differing.iter().take(MAX_REPORTED_PACKAGES) {
            let _ = writeln!(
                report,
                "  package {key} (- {}, + rpmdepot):\n{diff}",
                self.reference_name
            );
        }
        if self.differing.len() > MAX_REPORTED_PACKAGES {
            let _ = writeln!(
                report,
                "  ... and {} more differing packages",
                self.differing.len() - MAX_REPORTED_PACKAGES
            );
        }
        report
    }
}

pub fn format_rule_hits(hits: &BTreeMap<&'static str, usize>) -> String {
    if hits.is_empty() {
        return "none".to_owned();
    }
    hits.iter()
        .map(|(name, count)| format!("{name} x{count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn apply_normalizations(
    side: Side,
    chunk: &str,
    rules: &[Normalization<'_>],
    hits: &mut BTreeMap<&'static str, usize>,
) -> String {
    let mut current = chunk.to_owned();
    for rule in rules {
        if let Some(changed) = (rule.apply)(side, &current) {
            *hits.entry(rule.name).or_default() += 1;
            current = changed;
        }
    }
    current
}

/// Compares `ours` with `reference` package by package (paired by
/// [`package_key`] and occurrence), then the whole files after applying
/// `rules` to both sides. The package list must be the same, in the same order.
pub fn compare_package_xml(
    kind: &str,
    reference_name: &str,
    reference: &str,
    ours: &str,
    rules: &[Normalization<'_>],
) -> XmlComparison {
    let mut comparison = XmlComparison {
        kind: kind.to_owned(),
        reference_name: reference_name.to_owned(),
        ..XmlComparison::default()
    };
    let reference_chunks = split_packages(reference);
    let our_chunks = split_packages(ours);

    if reference_chunks.head != our_chunks.head {
        comparison.structural.push(format!(
            "text before the first package differs:\n{}",
            diff_excerpt(reference_chunks.head, our_chunks.head, MAX_REPORTED_LINES)
        ));
    }
    if reference_chunks.tail != our_chunks.tail {
        comparison.structural.push(format!(
            "text after the last package differs:\n{}",
            diff_excerpt(reference_chunks.tail, our_chunks.tail, MAX_REPORTED_LINES)
        ));
    }

    let keyed = |chunks: &PackageChunks<'_>| -> Vec<(String, usize)> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        chunks
            .packages
            .iter()
            .map(|chunk| {
                let key = package_key(chunk);
                let occurrence = seen.entry(key.clone()).or_default();
                *occurrence += 1;
                (key, *occurrence)
            })
            .collect()
    };
    let reference_keys = keyed(&reference_chunks);
    let our_keys = keyed(&our_chunks);
    let our_index: HashMap<&(String, usize), usize> = our_keys
        .iter()
        .enumerate()
        .map(|(index, key)| (key, index))
        .collect();
    let reference_index: HashMap<&(String, usize), usize> = reference_keys
        .iter()
        .enumerate()
        .map(|(index, key)| (key, index))
        .collect();

    let missing: Vec<&str> = reference_keys
        .iter()
        .filter(|key| !our_index.contains_key(key))
        .map(|(key, _)| key.as_str())
        .collect();
    let extra: Vec<&str> = our_keys
        .iter()
        .filter(|key| !reference_index.contains_key(key))
        .map(|(key, _)| key.as_str())
        .collect();
    if reference_keys.len() != our_keys.len() {
        comparison.structural.push(format!(
            "{} has {} packages, rpmdepot has {}",
            reference_name,
            reference_keys.len(),
            our_keys.len()
        ));
    }
    if !missing.is_empty() {
        comparison.structural.push(format!(
            "{} packages only in {reference_name}: {}",
            missing.len(),
            abbreviate_list(&missing)
        ));
    }
    if !extra.is_empty() {
        comparison.structural.push(format!(
            "{} packages only in rpmdepot: {}",
            extra.len(),
            abbreviate_list(&extra)
        ));
    }
    if missing.is_empty()
        && extra.is_empty()
        && let Some(position) = reference_keys
            .iter()
            .zip(&our_keys)
            .position(|(theirs, ours)| theirs != ours)
    {
        comparison.structural.push(format!(
                "package order differs from position {position}: {reference_name} has `{}`, rpmdepot has `{}`",
                reference_keys[position].0, our_keys[position].0
            ));
    }

    let mut normalized_reference = String::from(reference_chunks.head);
    let mut normalized_ours = String::from(our_chunks.head);
    for (reference_position, key) in reference_keys.iter().enumerate() {
        let Some(&our_position) = our_index.get(key) else {
            continue;
        };
        comparison.packages_compared += 1;
        let theirs = reference_chunks.packages[reference_position];
        let mine = our_chunks.packages[our_position];
        if theirs == mine {
            comparison.identical_raw += 1;
            normalized_reference.push_str(theirs);
            normalized_ours.push_str(mine);
            continue;
        }
        let theirs =
            apply_normalizations(Side::Reference, theirs, rules, &mut comparison.rule_hits);
        let mine = apply_normalizations(Side::Ours, mine, rules, &mut comparison.rule_hits);
        if theirs != mine {
            comparison.differing.push((
                key.0.clone(),
                diff_excerpt(&theirs, &mine, MAX_REPORTED_LINES),
            ));
        }
        normalized_reference.push_str(&theirs);
        normalized_ours.push_str(&mine);
    }
    normalized_reference.push_str(reference_chunks.tail);
    normalized_ours.push_str(our_chunks.tail);

    // Whole-file byte equality after normalization (this also catches order
    // differences and anything between the package chunks).
    if comparison.is_ok() && normalized_reference != normalized_ours {
        comparison.structural.push(format!(
            "whole file differs after normalization although every package matched:\n{}",
            diff_excerpt(&normalized_reference, &normalized_ours, MAX_REPORTED_LINES)
        ));
    }
    comparison
}

fn abbreviate_list(items: &[&str]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(MAX_REPORTED_PACKAGES)
        .map(|item| format!("`{item}`"))
        .collect();
    if items.len() > MAX_REPORTED_PACKAGES {
        shown.push(format!(
            "... ({} more)",
            items.len() - MAX_REPORTED_PACKAGES
        ));
    }
    shown.join(", ")
}

/// The first differing region of two texts: common leading and trailing lines
/// are dropped, the rest is shown as `-` (reference) and `+` (ours) lines,
/// at most `max_lines` in all.
pub fn diff_excerpt(reference: &str, ours: &str, max_lines: usize) -> String {
    let reference_lines: Vec<&str> = reference.split_inclusive('\n').collect();
    let our_lines: Vec<&str> = ours.split_inclusive('\n').collect();
    let common_prefix = reference_lines
        .iter()
        .zip(&our_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let common_suffix = reference_lines[common_prefix..]
        .iter()
        .rev()
        .zip(our_lines[common_prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let removed = &reference_lines[common_prefix..reference_lines.len() - common_suffix];
    let added = &our_lines[common_prefix..our_lines.len() - common_suffix];
    // Show everything if it fits, else split the lines between both sides
    // (a side that needs fewer than half leaves the rest to the other).
    let (removed_shown, added_shown) = if removed.len() + added.len() <= max_lines {
        (removed.len(), added.len())
    } else {
        let half = max_lines / 2;
        let removed_shown = removed.len().min(max_lines - added.len().min(half));
        (removed_shown, added.len().min(max_lines - removed_shown))
    };
    let mut excerpt = format!("    @@ line {}\n", common_prefix + 1);
    let show = |excerpt: &mut String, sign: char, line: &str| {
        let line = line
            .strip_suffix('\n')
            .map_or_else(|| format!("{line}  [no newline]"), str::to_owned);
        let shortened: String = line.chars().take(200).collect();
        let ellipsis = if shortened.len() < line.len() {
            "..."
        } else {
            ""
        };
        let _ = writeln!(excerpt, "    {sign} {shortened}{ellipsis}");
    };
    for line in &removed[..removed_shown] {
        show(&mut excerpt, '-', line);
    }
    if removed.len() > removed_shown {
        let _ = writeln!(
            excerpt,
            "    - [... {} more lines]",
            removed.len() - removed_shown
        );
    }
    for line in &added[..added_shown] {
        show(&mut excerpt, '+', line);
    }
    if added.len() > added_shown {
        let _ = writeln!(
            excerpt,
            "    + [... {} more lines]",
            added.len() - added_shown
        );
    }
    excerpt
}

/// Checks that a repository's repomd.xml is consistent with its files: every
/// record's file exists, `<size>`/`<checksum>` match the file and
/// `<open-size>`/`<open-checksum>` match its decompressed contents, and the
/// file name is `<checksum>-<name>` as createrepo_c names them. Returns the
/// problems found.
pub fn repomd_self_consistency_problems(repomd: &Repomd) -> Vec<String> {
    let mut problems = Vec::new();
    for record in &repomd.records {
        let path = repomd.path_of(record);
        let Ok(bytes) = std::fs::read(&path) else {
            problems.push(format!(
                "`{}`: file {} is missing",
                record.kind, record.location_href
            ));
            continue;
        };
        let checksum = sha256_hex(&bytes);
        if record.size.as_deref() != Some(bytes.len().to_string().as_str()) {
            problems.push(format!(
                "`{}`: <size> {:?} but the file has {} bytes",
                record.kind,
                record.size,
                bytes.len()
            ));
        }
        if record.checksum.as_deref() != Some(checksum.as_str()) {
            problems.push(format!(
                "`{}`: <checksum> {:?} but the file's sha256 is {checksum}",
                record.kind, record.checksum
            ));
        }
        let file_name = record
            .location_href
            .rsplit('/')
            .next()
            .unwrap_or(&record.location_href);
        if !file_name.starts_with(&format!("{checksum}-")) {
            problems.push(format!(
                "`{}`: file name {file_name} does not start with its sha256 {checksum}",
                record.kind
            ));
        }
        if record.open_checksum.is_some() || record.open_size.is_some() {
            let open = read_decompressed(&path);
            if record.open_size.as_deref() != Some(open.len().to_string().as_str()) {
                problems.push(format!(
                    "`{}`: <open-size> {:?} but the decompressed file has {} bytes",
                    record.kind,
                    record.open_size,
                    open.len()
                ));
            }
            let open_checksum = sha256_hex(&open);
            if record.open_checksum.as_deref() != Some(open_checksum.as_str()) {
                problems.push(format!(
                    "`{}`: <open-checksum> {:?} but the decompressed sha256 is {open_checksum}",
                    record.kind, record.open_checksum
                ));
            }
        }
    }
    problems
}

/// Panics with all `problems` (at most [`MAX_REPORTED_PACKAGES`] shown) under `title`.
pub fn assert_no_problems(title: &str, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let mut message = format!("{title}: {} problems\n", problems.len());
    for problem in problems.iter().take(MAX_REPORTED_PACKAGES) {
        let indented = problem.trim_end().replace('\n', "\n    ");
        let _ = writeln!(message, "  - {indented}");
    }
    if problems.len() > MAX_REPORTED_PACKAGES {
        let _ = writeln!(
            message,
            "  ... and {} more",
            problems.len() - MAX_REPORTED_PACKAGES
        );
    }
    panic!("{message}");
}
