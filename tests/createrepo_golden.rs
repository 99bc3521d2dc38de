//! `rpmdepot createrepo` against golden repositories made by createrepo_c
//! (`$RPMDEPOT_SHARED_FIXTURES/repodata/<source>/<repo>/`).
//!
//! For each comparable golden repository, its package files are copied into a
//! temporary directory (keeping their hrefs) with the modification time the
//! golden repository recorded (`<time file=...>`), rpmdepot runs over the copy
//! with the flags the golden repository was made with (revision,
//! filelists-ext), and the decompressed primary/filelists/other (and
//! filelists-ext) are compared byte for byte, package by package.
//!
//! Why copies with the recorded mtime: `<time file>` is the package file's
//! mtime, and the corpus' copies were all written at extraction time, not when
//! the golden repository was made. Restoring the recorded mtime on a copy lets
//! the comparison stay exact, so no normalization rule is needed for it.
//!
//! Golden files that were edited by hand after createrepo_c wrote them are
//! listed in `HAND_EDITS`; each edit is undone on the golden side only.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

/// Golden repositories that are createrepo_c output we can reproduce.
/// (Checked with the installed createrepo_c 0.17.3: over the same package
/// files, with the same mtimes and flags, it writes byte-identical primary,
/// filelists and other; 0.17.3 cannot write filelists-ext.)
const COMPARED: &[&str] = &[
    "copr/rare_example_repo_fedora-23-x86_64",
    "createrepo_c/repo_00_empty",
    "createrepo_c/repo_04_filelists_ext",
    "libdnf/advisories",
    "libdnf/modules__all_x86_64",
    "libdnf/modules_httpd-2.4-2_x86_64",
];

/// Golden repositories that are not compared, and why.
const NOT_COMPARABLE: &[(&str, &str)] = &[
    (
        "createrepo_c/repo_02",
        "made in 2012 by an early createrepo_c: <location> not indented, <rpm:vendor/> \
         self-closed, blank lines in filelists/other, a different obsoletes order",
    ),
    (
        "createrepo_c/repo_with_duplicate_packages",
        "hand-edited: every package is listed twice for the same file",
    ),
    (
        "createrepo_c/repo_with_additional_metadata_metadata_only",
        "metadata only: the package it lists (fontconfig) is not in the corpus",
    ),
    (
        "libdnf/hawkey_yum",
        "made by the python createrepo (--baseurl disagree, different indentation), \
         with hand-appended updateinfo",
    ),
    (
        "libdnf/gpg-asc_signed_repomd",
        "only a primary_db record (no XML metadata) and no package files",
    ),
];

/// A known hand edit in a golden file, undone (on the golden side only)
/// before comparing.
struct HandEdit {
    /// Short name, printed when applied.
    name: &'static str,
    repo: &'static str,
    kind: &'static str,
    /// Returns the file as createrepo_c wrote it, or `None` if the edit is
    /// not (or no longer) there.
    undo: fn(&str) -> Option<String>,
}

const HAND_EDITS: &[HandEdit] = &[HandEdit {
    // Why: upstream commit 80f8935 ("Complete renaming to filelists-ext")
    // renamed the tags of this file by hand and left a newline after
    // `</filelists-ext>` (open-size 867 -> 868). The file createrepo_c wrote
    // (blob e036d7e in that repository) ends right after the closing tag, as
    // all of createrepo_c's XML footers do.
    name: "golden-filelists-ext-trailing-newline",
    repo: "createrepo_c/repo_04_filelists_ext",
    kind: "filelists-ext",
    undo: |xml| {
        xml.strip_suffix("</filelists-ext>\n")
            .map(|rest| format!("{rest}</filelists-ext>"))
    },
}];

/// XML metadata compared for every golden repository (plus filelists-ext when
/// the golden repository has it).
const XML_KINDS: &[&str] = &["primary", "filelists", "other"];

fn compare_with_golden(relative: &str) {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    let golden_dir = corpus.join("repodata").join(relative);
    let golden = read_repomd(&golden_dir);
    let revision = golden
        .revision
        .clone()
        .unwrap_or_else(|| panic!("{relative}: golden repomd.xml has no <revision>"));
    let filelists_ext = golden.record("filelists-ext").is_some();

    let scratch = tempfile::tempdir().expect("cannot create a temporary directory");
    let packages_dir = fresh_dir(&scratch.path().join("packages"));
    let output_dir = fresh_dir(&scratch.path().join("output"));
    let golden_primary = golden.xml("primary");
    let mut copied = BTreeSet::new();
    for chunk in split_packages(&golden_primary).packages {
        let location = element_start_tag(chunk, "location")
            .unwrap_or_else(|| panic!("{relative}: a package without <location>"));
        assert!(
            attribute(location, "xml:base").is_none(),
            "{relative}: packages with xml:base need --baseurl, which this test does not pass"
        );
        let href = xml_unescape(attribute(location, "href").expect("<location> has an href"));
        let mtime: u64 = element_start_tag(chunk, "time")
            .and_then(|time| attribute(time, "file"))
            .and_then(|file| file.parse().ok())
            .unwrap_or_else(|| panic!("{relative}: {href} has no <time file=...>"));
        assert!(
            copied.insert(href.clone()),
            "{relative}: {href} is listed twice"
        );
        copy_with_mtime(&golden_dir.join(&href), &packages_dir.join(&href), mtime);
    }

    let mut rpmdepot = rpmdepot_createrepo();
    rpmdepot
        .args(["--general-compress-type", "gz", "--no-database"])
        .args(["--revision", &revision, "--set-timestamp-to-revision"]);
    if filelists_ext {
        rpmdepot.arg("--filelists-ext");
    }
    rpmdepot.arg("-o").arg(&output_dir).arg(&packages_dir);
    run_success(&mut rpmdepot);
    let ours = read_repomd(&output_dir);

    let mut kinds: Vec<&str> = XML_KINDS.to_vec();
    if filelists_ext {
        kinds.push("filelists-ext");
    }
    let mut problems = Vec::new();
    let mut summaries = Vec::new();
    let mut edits_undone = Vec::new();
    for kind in &kinds {
        if ours.record(kind).is_none() {
            problems.push(format!("rpmdepot wrote no `{kind}` record"));
            continue;
        }
        let mut golden_xml = golden.xml(kind);
        for edit in HAND_EDITS
            .iter()
            .filter(|edit| edit.repo == relative && edit.kind == *kind)
        {
            golden_xml = (edit.undo)(&golden_xml).unwrap_or_else(|| {
                panic!(
                    "{relative}: hand edit `{}` not found in the golden {kind}: update HAND_EDITS",
                    edit.name
                )
            });
            edits_undone.push(edit.name);
        }
        let comparison = compare_package_xml(kind, "golden", &golden_xml, &ours.xml(kind), &[]);
        summaries.push(format!(
            "{kind} {}/{}",
            comparison.identical_raw, comparison.packages_compared
        ));
        if !comparison.is_ok() {
            problems.push(comparison.report());
        }
        // Ours must describe the golden content (after undoing hand edits).
        let expected = (
            Some(sha256_hex(golden_xml.as_bytes())),
            Some(golden_xml.len().to_string()),
        );
        let mine = ours.require(kind);
        if (&expected.0, &expected.1) != (&mine.open_checksum, &mine.open_size) {
            problems.push(format!(
                "`{kind}` open-checksum/open-size: golden {:?}/{:?}, rpmdepot {:?}/{:?}",
                expected.0, expected.1, mine.open_checksum, mine.open_size
            ));
        }
    }
    let golden_kinds: Vec<&str> = golden
        .kinds()
        .into_iter()
        .filter(|kind| kinds.contains(kind))
        .collect();
    if ours.kinds() != golden_kinds {
        problems.push(format!(
            "records: golden has {golden_kinds:?} (of the kinds rpmdepot writes here), rpmdepot {:?}",
            ours.kinds()
        ));
    }
    if ours.revision.as_deref() != Some(revision.as_str()) {
        problems.push(format!(
            "revision: golden {revision}, rpmdepot {:?}",
            ours.revision
        ));
    }
    problems.extend(
        repomd_self_consistency_problems(&ours)
            .into_iter()
            .map(|problem| format!("rpmdepot: {problem}")),
    );
    println!(
        "{relative}: {} packages, identical packages per file: {}; hand edits undone: {}",
        copied.len(),
        summaries.join(", "),
        if edits_undone.is_empty() {
            "none".to_owned()
        } else {
            edits_undone.join(", ")
        }
    );
    assert_no_problems(
        &format!("{relative}: rpmdepot's metadata differs from the golden repository"),
        &problems,
    );
}

/// Every golden repository directory must be listed in `COMPARED` or
/// `NOT_COMPARABLE`, so a new one is never silently left out.
#[test]
fn every_golden_repository_is_classified() {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    let repodata = corpus.join("repodata");
    let mut found = BTreeSet::new();
    for source in read_dir_names(&repodata) {
        for repo in read_dir_names(&repodata.join(&source)) {
            found.insert(format!("{source}/{repo}"));
        }
    }
    let known: BTreeSet<String> = COMPARED
        .iter()
        .copied()
        .chain(NOT_COMPARABLE.iter().map(|(name, _)| *name))
        .map(str::to_owned)
        .collect();
    let unclassified: Vec<&String> = found.difference(&known).collect();
    let vanished: Vec<&String> = known.difference(&found).collect();
    assert!(
        unclassified.is_empty() && vanished.is_empty(),
        "golden repositories not classified: {unclassified:?}; listed but absent: {vanished:?}"
    );
    for (name, reason) in NOT_COMPARABLE {
        println!("not compared: {name}: {reason}");
    }
}

fn read_dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| {
            let entry =
                entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
            entry.file_name().to_string_lossy().into_owned()
        })
        .filter(|name| dir.join(name).is_dir())
        .collect();
    names.sort();
    names
}

macro_rules! golden_tests {
    ($($test:ident => $repo:literal,)*) => {
        $(
            #[test]
            fn $test() {
                compare_with_golden($repo);
            }
        )*

        /// The generated tests cover exactly `COMPARED`.
        #[test]
        fn golden_tests_cover_compared_list() {
            assert_eq!(vec![$($repo),*], COMPARED.to_vec());
        }
    };
}

golden_tests! {
    copr_rare_example_repo_fedora_23_x86_64 => "copr/rare_example_repo_fedora-23-x86_64",
    createrepo_c_repo_00_empty => "createrepo_c/repo_00_empty",
    createrepo_c_repo_04_filelists_ext => "createrepo_c/repo_04_filelists_ext",
    libdnf_advisories => "libdnf/advisories",
    libdnf_modules_all_x86_64 => "libdnf/modules__all_x86_64",
    libdnf_modules_httpd_2_4_2_x86_64 => "libdnf/modules_httpd-2.4-2_x86_64",
}
