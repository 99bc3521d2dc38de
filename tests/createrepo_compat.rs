//! `rpmdepot createrepo` against the real `createrepo_c`.
//!
//! Both tools run once per configuration on the same input, writing with `-o`
//! below cargo's target tmpdir, and the outputs are compared: primary,
//! filelists and other XML package by package and then as whole files, the
//! sqlite databases table by table, repomd.xml, and the exit status.
//!
//! Configurations:
//! - the shared corpus (`$RPMDEPOT_SHARED_FIXTURES/rpms`, 550 real packages in
//!   nested directories, read-only), without and with `--database`;
//! - the project's own fixtures (`fixtures/rpms`, `fixtures/rpms-dup` and the
//!   unreadable files of `fixtures/corrupt`), which both tools must reject
//!   with exit status 2.
//!
//! The only accepted differences are the named normalization rules below,
//! applied to both sides.

mod common;

use common::*;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Flags given to both tools in every configuration.
const COMMON_FLAGS: &[&str] = &[
    "--general-compress-type",
    "gz",
    "--revision",
    "1",
    "--set-timestamp-to-revision",
    "--workers",
    "2",
];

/// The metadata files compared as XML.
const XML_KINDS: &[&str] = &["primary", "filelists", "other"];

/// The project's fixture directories used as input of `Config::ProjectFixtures`.
const PROJECT_FIXTURE_DIRS: &[&str] = &["rpms", "rpms-dup", "corrupt"];

/// The configurations; each runs both tools once.
#[derive(Clone, Copy)]
enum Config {
    CorpusWithoutDatabase,
    CorpusWithDatabase,
    ProjectFixtures,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::CorpusWithoutDatabase => "corpus-without-database",
            Config::CorpusWithDatabase => "corpus-with-database",
            Config::ProjectFixtures => "project-fixtures",
        }
    }

    fn database_flag(self) -> &'static str {
        match self {
            Config::CorpusWithDatabase => "--database",
            Config::CorpusWithoutDatabase | Config::ProjectFixtures => "--no-database",
        }
    }

    fn shared_runs(self) -> &'static OnceLock<ToolRuns> {
        static CORPUS_WITHOUT_DATABASE: OnceLock<ToolRuns> = OnceLock::new();
        static CORPUS_WITH_DATABASE: OnceLock<ToolRuns> = OnceLock::new();
        static PROJECT_FIXTURES: OnceLock<ToolRuns> = OnceLock::new();
        match self {
            Config::CorpusWithoutDatabase => &CORPUS_WITHOUT_DATABASE,
            Config::CorpusWithDatabase => &CORPUS_WITH_DATABASE,
            Config::ProjectFixtures => &PROJECT_FIXTURES,
        }
    }
}

/// Outputs of one configuration, shared by the tests of that configuration.
struct ToolRuns {
    /// Directory holding input copies, both outputs and scratch files.
    work: PathBuf,
    /// Input directory of both tools.
    input: PathBuf,
    /// Repository written by createrepo_c (`-o`).
    reference: PathBuf,
    /// Repository written by rpmdepot (`-o`).
    ours: PathBuf,
    /// Exit status of both tools (checked to be equal).
    exit_code: i32,
    /// Number of `*.rpm` files in the input.
    input_rpm_files: usize,
}

/// Runs createrepo_c and rpmdepot with `COMMON_FLAGS` + the configuration's
/// database flag on `input`. Outputs go to `work` (below cargo's target
/// tmpdir: kept after the run for inspection, wiped by the next run).
fn run_both_tools(config: Config, work: PathBuf, input: PathBuf) -> ToolRuns {
    let database_flag = config.database_flag();
    let reference = fresh_dir(&work.join("createrepo_c"));
    let ours = fresh_dir(&work.join("rpmdepot"));

    // createrepo_c 0.17.3 exits 0 even when packages fail unless it gets
    // --error-exit-val; createrepo_c >= 1.0 always behaves as if it had it
    // (the flag is a deprecated no-op there), so only the reference gets it.
    let mut createrepo_c = Command::new("createrepo_c");
    createrepo_c
        .args(COMMON_FLAGS)
        .arg(database_flag)
        .arg("--error-exit-val")
        .arg("-o")
        .arg(&reference)
        .arg(&input);
    let reference_output = run(&mut createrepo_c);
    let reference_code = reference_output.status.code().unwrap_or_else(|| {
        panic!(
            "createrepo_c was killed\n{}",
            describe_output(&createrepo_c, &reference_output)
        )
    });
    assert!(
        reference_code == 0 || reference_code == 2,
        "createrepo_c failed unexpectedly\n{}",
        describe_output(&createrepo_c, &reference_output)
    );

    let mut rpmdepot = rpmdepot_createrepo();
    rpmdepot
        .args(COMMON_FLAGS)
        .arg(database_flag)
        .arg("-o")
        .arg(&ours)
        .arg(&input);
    let our_output = run(&mut rpmdepot);
    assert_eq!(
        our_output.status.code(),
        Some(reference_code),
        "rpmdepot must exit like createrepo_c (status {reference_code})\n{}\ncreaterepo_c stderr (end):\n{}",
        describe_output(&rpmdepot, &our_output),
        tail_lines(&reference_output.stderr, 10),
    );

    ToolRuns {
        input_rpm_files: rpm_files_below(&input).len(),
        work,
        input,
        reference,
        ours,
        exit_code: reference_code,
    }
}

/// `<cargo target tmpdir>/createrepo_compat/<config>/`, emptied.
fn work_dir(config: Config) -> PathBuf {
    fresh_dir(
        &Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("createrepo_compat")
            .join(config.name()),
    )
}

/// The shared runs of one configuration, or `None` (after printing SKIPPED,
/// or failing in CI) when the corpus or a tool is missing.
fn runs(config: Config) -> Option<&'static ToolRuns> {
    if !tools_available(&["createrepo_c", "rpm", "sha256sum"]) {
        return None;
    }
    let runs = match config {
        Config::CorpusWithoutDatabase | Config::CorpusWithDatabase => {
            let corpus = shared_fixtures()?;
            config
                .shared_runs()
                .get_or_init(|| run_both_tools(config, work_dir(config), corpus.join("rpms")))
        }
        Config::ProjectFixtures => config.shared_runs().get_or_init(|| {
            // One input directory with copies of the fixture directories.
            let work = work_dir(config);
            let input = fresh_dir(&work.join("input"));
            let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
            for dir in PROJECT_FIXTURE_DIRS {
                for package in rpm_files_below(&fixtures.join(dir)) {
                    let source = fixtures.join(dir).join(&package);
                    let mtime = std::fs::metadata(&source)
                        .and_then(|metadata| metadata.modified())
                        .ok()
                        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |age| age.as_secs());
                    copy_with_mtime(&source, &input.join(dir).join(&package), mtime);
                }
            }
            run_both_tools(config, work, input)
        }),
    };
    Some(runs)
}

// ---------------------------------------------------------------------------
// Allowed differences.
// ---------------------------------------------------------------------------

const RPMSENSE_POSTTRANS: u64 = 1 << 5;
const RPMSENSE_PREREQ: u64 = 1 << 6;
const RPMSENSE_PRETRANS: u64 = 1 << 7;
const RPMSENSE_SCRIPT_PRE: u64 = 1 << 9;
const RPMSENSE_SCRIPT_POST: u64 = 1 << 10;

/// Rule `pre-for-pretrans-posttrans`.
///
/// Why: createrepo_c >= 1.1.1 (upstream commit f02f17a "Add detection of
/// %posttrans and %pretrans scriptlet from rpm header") marks
/// Requires(pretrans) and Requires(posttrans) as `pre="1"` (sqlite:
/// `requires.pre = 'TRUE'`) like Requires(pre)/(post)/PreReq; the installed
/// reference, createrepo_c 0.17.3, does not. rpmdepot follows 2.x. Because
/// createrepo_c drops a requirement that repeats the previous kept one of the
/// same name with the same flags, version AND pre, the change also changes
/// which duplicate entries are kept (e.g. `/bin/sh` required by several
/// scriptlets).
///
/// The XML does not say which entry is pretrans, so the rule reads the rpm
/// header (`rpm -qp`) and, for each requirement name with a pretrans or
/// posttrans entry, replays createrepo_c's selection with the old and the new
/// pre definition. If the reference's entries of that name have exactly the
/// pre flags the old selection keeps, and ours exactly those the new one
/// keeps, both sides' entries of that name are replaced by their distinct
/// texts without `pre` (which must then match). Any other difference remains.
const RULE_PRE_FOR_TRANSACTION_SCRIPTLETS: &str = "pre-for-pretrans-posttrans";

/// For one requirement name: the `pre` flags of the entries createrepo_c
/// keeps, in header order, with the 0.17.3 and with the >= 1.1.1 definition.
#[derive(Clone, Debug, Default)]
struct PreSelections {
    reference: Vec<bool>,
    ours: Vec<bool>,
}

impl PreSelections {
    fn for_side(&self, side: Side) -> &[bool] {
        match side {
            Side::Reference => &self.reference,
            Side::Ours => &self.ours,
        }
    }
}

/// The comparison operator createrepo_c writes as `flags` (`cr_flag_to_str`).
fn flag_text(flags: u64) -> Option<&'static str> {
    match flags & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

/// Replays createrepo_c's duplicate-requirement check (skip an entry equal in
/// flags, version and pre to the last kept entry of the same name) for the
/// names the rule is about. `requires` is (name, flags, version) in header order.
fn pre_selections(requires: &[(String, u64, String)]) -> HashMap<String, PreSelections> {
    let affected: BTreeSet<&str> = requires
        .iter()
        .filter(|(name, flags, _)| {
            flags & (RPMSENSE_PRETRANS | RPMSENSE_POSTTRANS) != 0
                // Never written (rpmlib) or handled separately (libc.so.6).
                && !name.starts_with("rpmlib(")
                && !name.starts_with("libc.so.6")
        })
        .map(|(name, _, _)| name.as_str())
        .collect();
    let old_pre_bits = RPMSENSE_PREREQ | RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST;
    let new_pre_bits = old_pre_bits | RPMSENSE_PRETRANS | RPMSENSE_POSTTRANS;
    let mut selections: HashMap<String, PreSelections> = HashMap::new();
    for (side, pre_bits) in [(Side::Reference, old_pre_bits), (Side::Ours, new_pre_bits)] {
        let mut last_kept: HashMap<&str, (Option<&str>, &str, bool)> = HashMap::new();
        for (name, flags, version) in requires {
            if !affected.contains(name.as_str()) {
                continue;
            }
            let entry = (flag_text(*flags), version.as_str(), flags & pre_bits != 0);
            if last_kept.get(name.as_str()) == Some(&entry) {
                continue;
            }
            last_kept.insert(name, entry);
            let selection = selections.entry(name.clone()).or_default();
            match side {
                Side::Reference => selection.reference.push(entry.2),
                Side::Ours => selection.ours.push(entry.2),
            }
        }
    }
    selections
}

/// [`pre_selections`] of rpm files, read with `rpm -qp` (cached per file).
struct TransactionScriptletRequires {
    cache: RefCell<HashMap<PathBuf, HashMap<String, PreSelections>>>,
}

impl TransactionScriptletRequires {
    fn new() -> Self {
        Self {
            cache: RefCell::new(HashMap::new()),
        }
    }

    fn selections(&self, rpm: &Path) -> HashMap<String, PreSelections> {
        if let Some(selections) = self.cache.borrow().get(rpm) {
            return selections.clone();
        }
        let output = run_success(
            Command::new("rpm")
                .args(["-qp", "--nosignature", "--nodigest", "--qf"])
                .arg("[%{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREVERSION}\n]")
                .arg(rpm),
        );
        let requires: Vec<(String, u64, String)> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let mut fields = line.rsplitn(3, '\t');
                let (Some(version), Some(flags), Some(name)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    panic!("unexpected rpm -qp line {line:?} for {}", rpm.display());
                };
                let flags = flags
                    .parse()
                    .unwrap_or_else(|_| panic!("bad REQUIREFLAGS {flags:?} for {}", rpm.display()));
                (name.to_owned(), flags, version.to_owned())
            })
            .collect();
        let selections = pre_selections(&requires);
        self.cache
            .borrow_mut()
            .insert(rpm.to_path_buf(), selections.clone());
        selections
    }

    /// The rule on a primary.xml package chunk of `side`.
    fn normalize_primary_chunk(&self, input: &Path, side: Side, chunk: &str) -> Option<String> {
        let start = chunk.find("<rpm:requires>")?;
        let end = start + chunk[start..].find("</rpm:requires>")?;
        let section = &chunk[start..end];
        let href = xml_unescape(attribute(element_start_tag(chunk, "location")?, "href")?);
        let selections = self.selections(&input.join(href));
        if selections.is_empty() {
            return None;
        }
        let lines: Vec<&str> = section.split_inclusive('\n').collect();
        let entry_name = |line: &str| {
            element_start_tag(line, "rpm:entry")
                .and_then(|tag| attribute(tag, "name"))
                .map(xml_unescape)
        };
        // Names whose entries on this side are exactly what createrepo_c's
        // selection (old or new pre definition, by side) keeps.
        let mut pre_flags: HashMap<String, Vec<bool>> = HashMap::new();
        for line in &lines {
            if let Some(name) = entry_name(line).filter(|name| selections.contains_key(name)) {
                pre_flags
                    .entry(name)
                    .or_default()
                    .push(line.contains(" pre=\"1\""));
            }
        }
        let matching: BTreeSet<&String> = pre_flags
            .iter()
            .filter(|(name, flags)| selections[*name].for_side(side) == flags.as_slice())
            .map(|(name, _)| name)
            .collect();
        if matching.is_empty() {
            return None;
        }
        let mut written: HashMap<String, Vec<String>> = HashMap::new();
        let mut normalized = String::new();
        for line in &lines {
            match entry_name(line).filter(|name| matching.contains(name)) {
                Some(name) => {
                    let without_pre = line.replacen(" pre=\"1\"", "", 1);
                    let seen = written.entry(name).or_default();
                    if !seen.contains(&without_pre) {
                        normalized.push_str(&without_pre);
                        seen.push(without_pre);
                    }
                }
                None => normalized.push_str(line),
            }
        }
        (normalized != section).then(|| format!("{}{normalized}{}", &chunk[..start], &chunk[end..]))
    }
}

/// All normalization rules for the XML comparison (applied to both sides).
fn xml_rules<'a>(
    input: &'a Path,
    scriptlet_requires: &'a TransactionScriptletRequires,
    kind: &str,
) -> Vec<Normalization<'a>> {
    let mut rules = Vec::new();
    if kind == "primary" {
        rules.push(Normalization {
            name: RULE_PRE_FOR_TRANSACTION_SCRIPTLETS,
            apply: Box::new(move |side, chunk| {
                scriptlet_requires.normalize_primary_chunk(input, side, chunk)
            }),
        });
    }
    rules
}

// ---------------------------------------------------------------------------
// XML metadata.
// ---------------------------------------------------------------------------

/// Compares primary/filelists/other of one configuration; returns a summary
/// line and, if anything differs, the report.
fn compare_xml_metadata(runs: &ToolRuns) -> (String, Result<String, String>) {
    let reference = read_repomd(&runs.reference);
    let ours = read_repomd(&runs.ours);
    let scriptlet_requires = TransactionScriptletRequires::new();

    let mut reports = String::new();
    let mut all_ok = true;
    let mut packages_compared = 0;
    for kind in XML_KINDS {
        let rules = xml_rules(&runs.input, &scriptlet_requires, kind);
        let comparison = compare_package_xml(
            kind,
            "createrepo_c",
            &reference.xml(kind),
            &ours.xml(kind),
            &rules,
        );
        all_ok &= comparison.is_ok();
        packages_compared = packages_compared.max(comparison.packages_compared);
        reports.push_str(&comparison.report());
    }

    let reference_packages = split_packages(&reference.xml("primary")).packages.len();
    let rejected = runs.input_rpm_files.saturating_sub(reference_packages);
    let summary = format!(
        "compared {packages_compared} packages byte-for-byte (primary, filelists, other); \
         rejected by both tools: {rejected} of {} rpm files (both exited {})",
        runs.input_rpm_files, runs.exit_code
    );
    if all_ok {
        (summary, Ok(reports))
    } else {
        (
            summary,
            Err(format!(
                "rpmdepot's XML metadata differs from createrepo_c's (outputs kept in {} and {}):\n{reports}",
                runs.reference.display(),
                runs.ours.display(),
            )),
        )
    }
}

#[test]
fn xml_metadata_is_byte_identical_to_createrepo_c() {
    let Some(runs) = runs(Config::CorpusWithoutDatabase) else {
        return;
    };
    let (summary, result) = compare_xml_metadata(runs);
    println!("{summary}");
    match result {
        Ok(reports) => print!("{reports}"),
        Err(report) => panic!("{report}"),
    }
}

/// The project's fixtures include files createrepo_c cannot read: both tools
/// must skip the same files and exit with status 2.
#[test]
fn project_fixtures_with_unreadable_files_match_createrepo_c() {
    let Some(runs) = runs(Config::ProjectFixtures) else {
        return;
    };
    assert_eq!(
        runs.exit_code, 2,
        "createrepo_c should reject fixtures/corrupt/* and exit 2"
    );
    let (reference, ours) = (read_repomd(&runs.reference), read_repomd(&runs.ours));
    let mut problems = repomd_problems(runs, &reference, &ours, false);
    let (summary, result) = compare_xml_metadata(runs);
    println!("{summary}");
    match result {
        Ok(reports) => print!("{reports}"),
        Err(report) => problems.insert(0, report),
    }
    assert_no_problems(
        "project fixtures: rpmdepot's repository differs from createrepo_c's",
        &problems,
    );
}

// ---------------------------------------------------------------------------
// repomd.xml.
// ---------------------------------------------------------------------------

/// Replaces, in a repomd.xml text, the values that depend on the compressor
/// and (for sqlite files) on the database page layout: the compressed file's
/// checksum (also part of the file name) and size, and for `_db` records the
/// open-checksum and open-size. The open values of the XML kinds in
/// `content_differs_by_rules` are replaced too (see [`xml_open_values`]).
/// Everything else must match byte for byte.
fn normalize_repomd_text(repomd: &Repomd, content_differs_by_rules: &BTreeSet<String>) -> String {
    let mut text = repomd.text.clone();
    for record in &repomd.records {
        let mut normalized = record.raw.clone();
        if let Some(checksum) = &record.checksum {
            normalized = normalized.replace(checksum.as_str(), "{COMPRESSED-SHA256}");
        }
        if let Some(size) = &record.size {
            normalized = normalized.replace(
                &format!("<size>{size}</size>"),
                "<size>{COMPRESSED-SIZE}</size>",
            );
        }
        if record.kind.ends_with("_db") || content_differs_by_rules.contains(&record.kind) {
            if let Some(open_checksum) = &record.open_checksum {
                normalized = normalized.replace(open_checksum.as_str(), "{OPEN-SHA256}");
            }
            if let Some(open_size) = &record.open_size {
                normalized = normalized.replace(
                    &format!("<open-size>{open_size}</open-size>"),
                    "<open-size>{OPEN-SIZE}</open-size>",
                );
            }
        }
        text = text.replacen(&record.raw, &normalized, 1);
    }
    text
}

/// Compares open-checksum/open-size of primary/filelists/other. They must be
/// equal, except when the decompressed files differ only by the allowed
/// normalization rules (then ours must still describe its own file, which
/// [`repomd_self_consistency_problems`] checks). Returns the kinds whose open
/// values legitimately differ.
fn xml_open_values(
    runs: &ToolRuns,
    reference: &Repomd,
    ours: &Repomd,
    problems: &mut Vec<String>,
) -> BTreeSet<String> {
    let mut content_differs_by_rules = BTreeSet::new();
    let scriptlet_requires = TransactionScriptletRequires::new();
    for kind in XML_KINDS {
        let (Some(theirs), Some(mine)) = (reference.record(kind), ours.record(kind)) else {
            problems.push(format!("`{kind}` record missing on one side"));
            continue;
        };
        if theirs.open_checksum == mine.open_checksum && theirs.open_size == mine.open_size {
            continue;
        }
        let rules = xml_rules(&runs.input, &scriptlet_requires, kind);
        let comparison = compare_package_xml(
            kind,
            "createrepo_c",
            &reference.xml(kind),
            &ours.xml(kind),
            &rules,
        );
        if comparison.is_ok() && !comparison.rule_hits.is_empty() {
            println!(
                "`{kind}` open-checksum/open-size differ only because of allowed differences ({})",
                format_rule_hits(&comparison.rule_hits)
            );
            content_differs_by_rules.insert((*kind).to_owned());
        } else {
            problems.push(format!(
                "`{kind}` open-checksum/open-size: createrepo_c {:?}/{:?}, rpmdepot {:?}/{:?} \
                 (the decompressed contents differ: see xml_metadata_is_byte_identical_to_createrepo_c)",
                theirs.open_checksum, theirs.open_size, mine.open_checksum, mine.open_size
            ));
        }
    }
    content_differs_by_rules
}

fn repomd_problems(
    runs: &ToolRuns,
    reference: &Repomd,
    ours: &Repomd,
    expect_databases: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if reference.kinds() != ours.kinds() {
        problems.push(format!(
            "record types differ: createrepo_c {:?}, rpmdepot {:?}",
            reference.kinds(),
            ours.kinds()
        ));
    }
    let has_databases = ours
        .records
        .iter()
        .any(|record| record.kind.ends_with("_db"));
    if has_databases != expect_databases {
        problems.push(format!(
            "rpmdepot wrote {} sqlite records, expected {}",
            if has_databases { "" } else { "no" },
            if expect_databases { "some" } else { "none" }
        ));
    }
    for (side, repomd) in [("createrepo_c", reference), ("rpmdepot", ours)] {
        if repomd.revision.as_deref() != Some("1") {
            problems.push(format!(
                "{side}: revision {:?}, expected 1",
                repomd.revision
            ));
        }
        for record in &repomd.records {
            if record.timestamp.as_deref() != Some("1") {
                problems.push(format!(
                    "{side}: `{}` timestamp {:?}, expected 1",
                    record.kind, record.timestamp
                ));
            }
            let expected_version = record.kind.ends_with("_db").then_some("10");
            if record.database_version.as_deref() != expected_version {
                problems.push(format!(
                    "{side}: `{}` database_version {:?}, expected {expected_version:?}",
                    record.kind, record.database_version
                ));
            }
        }
    }
    let content_differs_by_rules = xml_open_values(runs, reference, ours, &mut problems);
    problems.extend(
        repomd_self_consistency_problems(ours)
            .into_iter()
            .map(|problem| format!("rpmdepot: {problem}")),
    );
    let normalized_reference = normalize_repomd_text(reference, &content_differs_by_rules);
    let normalized_ours = normalize_repomd_text(ours, &content_differs_by_rules);
    if normalized_reference != normalized_ours {
        problems.push(format!(
            "repomd.xml text differs (values normalized: compressed checksums/sizes, sqlite open values{}):\n{}",
            if content_differs_by_rules.is_empty() {
                String::new()
            } else {
                format!(", open values of {content_differs_by_rules:?}")
            },
            diff_excerpt(&normalized_reference, &normalized_ours, MAX_REPORTED_LINES)
        ));
    }
    problems
}

fn print_compressed_identity(reference: &Repomd, ours: &Repomd) {
    let identical: Vec<String> = reference
        .records
        .iter()
        .map(|record| {
            let same = ours
                .record(&record.kind)
                .is_some_and(|mine| mine.checksum == record.checksum);
            format!("{} {}", record.kind, if same { "yes" } else { "no" })
        })
        .collect();
    println!(
        "compressed files byte-identical to createrepo_c's (informational): {}",
        identical.join(", ")
    );
}

#[test]
fn repomd_matches_createrepo_c() {
    let Some(runs) = runs(Config::CorpusWithoutDatabase) else {
        return;
    };
    let (reference, ours) = (read_repomd(&runs.reference), read_repomd(&runs.ours));
    print_compressed_identity(&reference, &ours);
    assert_no_problems(
        "repomd.xml (without --database) differs from createrepo_c's",
        &repomd_problems(runs, &reference, &ours, false),
    );
}

#[test]
fn repomd_with_database_matches_createrepo_c() {
    let Some(runs) = runs(Config::CorpusWithDatabase) else {
        return;
    };
    let (reference, ours) = (read_repomd(&runs.reference), read_repomd(&runs.ours));
    print_compressed_identity(&reference, &ours);
    assert_no_problems(
        "repomd.xml (with --database) differs from createrepo_c's",
        &repomd_problems(runs, &reference, &ours, true),
    );
}

// ---------------------------------------------------------------------------
// sqlite databases.
// ---------------------------------------------------------------------------

/// A decompressed sqlite database of one side.
struct Database {
    connection: Connection,
    /// pkgKey -> pkgId, from the database's own `packages` table.
    package_ids: HashMap<i64, String>,
}

fn open_database(repomd: &Repomd, kind: &str, scratch: &Path, side: &str) -> Database {
    let path = scratch.join(format!("{side}-{kind}.sqlite"));
    std::fs::write(&path, repomd.decompressed(kind))
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|error| {
            panic!("cannot open {side}'s {kind} ({}): {error}", path.display())
        });
    let mut package_ids = HashMap::new();
    {
        let mut statement = connection
            .prepare("SELECT pkgKey, pkgId FROM packages")
            .unwrap_or_else(|error| {
                panic!("{side}'s {kind} has no packages(pkgKey, pkgId): {error}")
            });
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .unwrap_or_else(|error| panic!("cannot read {side}'s {kind} packages: {error}"));
        for row in rows {
            let (key, id) =
                row.unwrap_or_else(|error| panic!("bad packages row in {side}'s {kind}: {error}"));
            package_ids.insert(key, id);
        }
    }
    Database {
        connection,
        package_ids,
    }
}

/// `sqlite_master` in storage order, one line per object.
fn schema(database: &Database) -> Vec<String> {
    let mut statement = database
        .connection
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
        .expect("sqlite_master is readable");
    statement
        .query_map([], |row| {
            Ok(format!(
                "{} {} on {}: {}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?
                    .unwrap_or_else(|| "NULL".to_owned()),
            ))
        })
        .expect("sqlite_master is readable")
        .collect::<Result<_, _>>()
        .expect("sqlite_master rows are readable")
}

fn table_names(database: &Database) -> Vec<String> {
    let mut statement = database
        .connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")
        .expect("sqlite_master is readable");
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .expect("sqlite_master is readable")
        .collect::<Result<_, _>>()
        .expect("sqlite_master rows are readable")
}

/// Column names and rows of `table`.
fn table_rows(database: &Database, table: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut statement = database
        .connection
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .unwrap_or_else(|error| panic!("cannot read table {table}: {error}"));
    let columns: Vec<String> = statement
        .column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let rows = statement
        .query_map([], |row| {
            (0..columns.len())
                .map(|index| row.get::<_, Value>(index))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap_or_else(|error| panic!("cannot read table {table}: {error}"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|error| panic!("cannot read a row of {table}: {error}"));
    (columns, rows)
}

/// A cell as text that keeps the storage class visible (`7` vs `"7"`).
fn render_cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Integer(integer) => integer.to_string(),
        Value::Real(real) => format!("{real:?}"),
        Value::Text(text) => format!("{text:?}"),
        Value::Blob(blob) => format!("blob({} bytes)", blob.len()),
    }
}

fn render_rows(rows: &[Vec<Value>]) -> String {
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row.iter().map(render_cell).collect();
            cells.join(" | ") + "\n"
        })
        .collect()
}

/// Rows grouped by package (pkgKey replaced by the pkgId it stands for), each
/// group sorted: row order (e.g. of `filelist`, hash-table order in
/// createrepo_c) and pkgKey numbering are not part of the comparison.
fn rows_by_package(
    database: &Database,
    columns: &[String],
    rows: Vec<Vec<Value>>,
    side: &str,
    table: &str,
) -> BTreeMap<String, Vec<Vec<Value>>> {
    let key_column = columns
        .iter()
        .position(|column| column == "pkgKey")
        .expect("caller checked for a pkgKey column");
    let mut grouped: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    for mut row in rows {
        let package_id = match &row[key_column] {
            Value::Integer(key) => database
                .package_ids
                .get(key)
                .cloned()
                .unwrap_or_else(|| format!("<{side}: pkgKey {key} not in packages>")),
            other => format!("<{side}: {table}.pkgKey is {}>", render_cell(other)),
        };
        row[key_column] = Value::Text(format!("pkgId={package_id}"));
        grouped.entry(package_id).or_default().push(row);
    }
    for group in grouped.values_mut() {
        group.sort_by_cached_key(|row| render_rows(std::slice::from_ref(row)));
    }
    grouped
}

/// Rule [`RULE_PRE_FOR_TRANSACTION_SCRIPTLETS`] on the sqlite `requires` rows
/// of one package of `side`: rows are unordered, so for each name the rule is
/// about, the numbers of `pre` TRUE and FALSE rows must be those of the side's
/// selection; then the rows of that name are replaced by their distinct
/// values with `pre` set to a placeholder.
fn normalize_requires_rows(
    side: Side,
    rows: &mut Vec<Vec<Value>>,
    columns: &[String],
    selections: &HashMap<String, PreSelections>,
) -> bool {
    let (Some(name_column), Some(pre_column)) = (
        columns.iter().position(|column| column == "name"),
        columns.iter().position(|column| column == "pre"),
    ) else {
        return false;
    };
    let name_of = |row: &Vec<Value>| match &row[name_column] {
        Value::Text(name) if selections.contains_key(name) => Some(name.clone()),
        _ => None,
    };
    let mut pre_flags: HashMap<String, Vec<bool>> = HashMap::new();
    for row in rows.iter() {
        if let Some(name) = name_of(row) {
            let pre = match &row[pre_column] {
                Value::Text(pre) if pre == "TRUE" => true,
                Value::Text(pre) if pre == "FALSE" => false,
                // Anything else (e.g. an integer) is a real difference.
                _ => return false,
            };
            pre_flags.entry(name).or_default().push(pre);
        }
    }
    let matching: BTreeSet<String> = pre_flags
        .into_iter()
        .filter(|(name, flags)| {
            let mut expected = selections[name].for_side(side).to_vec();
            let mut found = flags.clone();
            expected.sort_unstable();
            found.sort_unstable();
            expected == found
        })
        .map(|(name, _)| name)
        .collect();
    if matching.is_empty() {
        return false;
    }
    let placeholder = Value::Text(format!("<{RULE_PRE_FOR_TRANSACTION_SCRIPTLETS}>"));
    let mut normalized: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
    for mut row in rows.drain(..) {
        if name_of(&row).is_some_and(|name| matching.contains(&name)) {
            row[pre_column] = placeholder.clone();
            if normalized.contains(&row) {
                continue;
            }
        }
        normalized.push(row);
    }
    normalized.sort_by_cached_key(|row| render_rows(std::slice::from_ref(row)));
    *rows = normalized;
    true
}

#[derive(Default)]
struct DatabaseComparison {
    tables: usize,
    rows: usize,
    rule_hits: BTreeMap<&'static str, usize>,
    problems: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn compare_database(
    db_kind: &str,
    xml_kind: &str,
    reference_repomd: &Repomd,
    our_repomd: &Repomd,
    runs: &ToolRuns,
    scratch: &Path,
    pkgid_to_href: &HashMap<String, String>,
    scriptlet_requires: &TransactionScriptletRequires,
    comparison: &mut DatabaseComparison,
) {
    let reference = open_database(reference_repomd, db_kind, scratch, "createrepo_c");
    let ours = open_database(our_repomd, db_kind, scratch, "rpmdepot");
    let problems = &mut comparison.problems;

    let (reference_schema, our_schema) = (schema(&reference), schema(&ours));
    if reference_schema != our_schema {
        problems.push(format!(
            "{db_kind}: schema (sqlite_master) differs:\n{}",
            diff_excerpt(
                &(reference_schema.join("\n") + "\n"),
                &(our_schema.join("\n") + "\n"),
                MAX_REPORTED_LINES
            )
        ));
    }

    let our_tables: BTreeSet<String> = table_names(&ours).into_iter().collect();
    for table in table_names(&reference) {
        if !our_tables.contains(&table) {
            problems.push(format!("{db_kind}: rpmdepot has no table {table}"));
            continue;
        }
        comparison.tables += 1;
        let (reference_columns, mut reference_rows) = table_rows(&reference, &table);
        let (our_columns, mut our_rows) = table_rows(&ours, &table);
        comparison.rows += reference_rows.len();
        if reference_columns != our_columns {
            problems.push(format!(
                "{db_kind}.{table}: columns differ: createrepo_c {reference_columns:?}, rpmdepot {our_columns:?}"
            ));
            continue;
        }
        let columns = reference_columns;

        if table == "db_info" {
            // db_info.checksum is the checksum of the compressed XML file of
            // the same repository, which differs between the tools whenever
            // the compressed bytes do: check it against each side's own
            // repomd.xml, then compare the rest.
            for (side, repomd, rows) in [
                ("createrepo_c", reference_repomd, &mut reference_rows),
                ("rpmdepot", our_repomd, &mut our_rows),
            ] {
                let expected = repomd
                    .require(xml_kind)
                    .checksum
                    .clone()
                    .unwrap_or_default();
                let checksum_column = columns.iter().position(|column| column == "checksum");
                let version_column = columns.iter().position(|column| column == "dbversion");
                if rows.len() != 1 {
                    problems.push(format!(
                        "{db_kind}.db_info: {side} has {} rows, expected 1",
                        rows.len()
                    ));
                }
                for row in rows.iter_mut() {
                    if let Some(column) = version_column
                        && row[column] != Value::Integer(10)
                    {
                        problems.push(format!(
                            "{db_kind}.db_info: {side} dbversion {}, expected 10",
                            render_cell(&row[column])
                        ));
                    }
                    if let Some(column) = checksum_column {
                        if row[column] != Value::Text(expected.clone()) {
                            problems.push(format!(
                                "{db_kind}.db_info: {side} checksum {} is not the <checksum> of its own {xml_kind} record ({expected})",
                                render_cell(&row[column])
                            ));
                        }
                        row[column] = Value::Text(format!("<checksum of own {xml_kind}>"));
                    }
                }
            }
        }

        if !columns.iter().any(|column| column == "pkgKey") {
            reference_rows.sort_by_cached_key(|row| render_rows(std::slice::from_ref(row)));
            our_rows.sort_by_cached_key(|row| render_rows(std::slice::from_ref(row)));
            if reference_rows != our_rows {
                problems.push(format!(
                    "{db_kind}.{table}: rows differ:\n{}",
                    diff_excerpt(
                        &render_rows(&reference_rows),
                        &render_rows(&our_rows),
                        MAX_REPORTED_LINES
                    )
                ));
            }
            continue;
        }

        let mut reference_groups =
            rows_by_package(&reference, &columns, reference_rows, "createrepo_c", &table);
        let mut our_groups = rows_by_package(&ours, &columns, our_rows, "rpmdepot", &table);
        let package_ids: BTreeSet<String> = reference_groups
            .keys()
            .chain(our_groups.keys())
            .cloned()
            .collect();
        for package_id in package_ids {
            let mut theirs = reference_groups.remove(&package_id).unwrap_or_default();
            let mut mine = our_groups.remove(&package_id).unwrap_or_default();
            if theirs == mine {
                continue;
            }
            let href = pkgid_to_href.get(&package_id);
            if table == "requires"
                && let Some(href) = href
            {
                let selections = scriptlet_requires.selections(&runs.input.join(href));
                for (side, rows) in [(Side::Reference, &mut theirs), (Side::Ours, &mut mine)] {
                    if normalize_requires_rows(side, rows, &columns, &selections) {
                        *comparison
                            .rule_hits
                            .entry(RULE_PRE_FOR_TRANSACTION_SCRIPTLETS)
                            .or_default() += 1;
                    }
                }
                if theirs == mine {
                    continue;
                }
            }
            problems.push(format!(
                "{db_kind}.{table}, package {} (- createrepo_c, + rpmdepot):\n{}",
                href.map_or(package_id.as_str(), String::as_str),
                diff_excerpt(
                    &render_rows(&theirs),
                    &render_rows(&mine),
                    MAX_REPORTED_LINES
                )
            ));
        }
    }
}

#[test]
fn sqlite_databases_match_createrepo_c() {
    let Some(runs) = runs(Config::CorpusWithDatabase) else {
        return;
    };
    let reference = read_repomd(&runs.reference);
    let ours = read_repomd(&runs.ours);
    let scratch = fresh_dir(&runs.work.join("decompressed-databases"));
    let pkgid_to_href = pkgid_to_href(&reference.xml("primary"));
    let scriptlet_requires = TransactionScriptletRequires::new();

    let mut comparison = DatabaseComparison::default();
    for (db_kind, xml_kind) in [
        ("primary_db", "primary"),
        ("filelists_db", "filelists"),
        ("other_db", "other"),
    ] {
        if ours.record(db_kind).is_none() {
            comparison
                .problems
                .push(format!("rpmdepot wrote no `{db_kind}` record"));
            continue;
        }
        compare_database(
            db_kind,
            xml_kind,
            &reference,
            &ours,
            runs,
            &scratch,
            &pkgid_to_href,
            &scriptlet_requires,
            &mut comparison,
        );
    }
    println!(
        "compared {} sqlite tables ({} createrepo_c rows) in primary/filelists/other databases; rules applied: {}",
        comparison.tables,
        comparison.rows,
        format_rule_hits(&comparison.rule_hits)
    );
    assert_no_problems(
        "rpmdepot's sqlite databases differ from createrepo_c's",
        &comparison.problems,
    );
}
