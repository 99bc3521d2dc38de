//! createrepo over the project's own fixtures: golden XML, bad input, duplicates, locking and
//! determinism. Golden files live in `fixtures/golden/`; `RPMDEPOT_BLESS=1` rewrites them
//! (check the diff against createrepo_c before committing, see fixtures/README.md).

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::{copy_tree, fixtures};
use repo_core::createrepo::{CreaterepoOptions, CreaterepoSummary, run};
use repo_core::{Compression, DuplicatePolicy, Error};

fn options(input: &Path) -> CreaterepoOptions {
    let mut options = CreaterepoOptions::new(input);
    options.xml_compression = Compression::Gz;
    options.other_compression = Compression::Gz;
    options.revision = Some("1".into());
    options.set_timestamp_to_revision = true;
    options.workers = 2;
    options
}

fn no_progress(_: u64, _: u64) {}

fn run_ok(options: &CreaterepoOptions) -> CreaterepoSummary {
    run(options, &no_progress).expect("createrepo run")
}

fn decompressed(repo: &Path, summary: &CreaterepoSummary, kind: &str) -> String {
    let file = summary
        .files
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} record"));
    let bytes = fs::read(repo.join(&file.location)).unwrap();
    let mut out = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn assert_golden(name: &str, actual: &str) {
    let path = fixtures().join("golden").join(name);
    if std::env::var_os("RPMDEPOT_BLESS").is_some() {
        fs::write(&path, actual).unwrap();
    }
    let expected = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (RPMDEPOT_BLESS=1 creates it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// Parses a whole document, failing on any well-formedness error.
fn assert_well_formed(name: &str, xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(err) => panic!(
                "{name} is not well-formed at {}: {err}",
                reader.buffer_position()
            ),
        }
    }
}

#[test]
fn fixtures_match_golden_xml() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let mut opts = options(&repo);
    opts.filelists_ext = true;
    let summary = run_ok(&opts);
    assert_eq!(summary.exit_code(), 0, "{:?}", summary.skipped);
    assert_eq!(summary.packages_written, 8);
    for kind in ["primary", "filelists", "other", "filelists-ext"] {
        let xml = decompressed(&repo, &summary, kind);
        assert_well_formed(kind, &xml);
        assert_golden(&format!("{kind}.xml"), &xml);
    }
    let repomd = fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    assert_well_formed("repomd.xml", &repomd);
    assert!(repomd.contains("<timestamp>1</timestamp>"));
}

#[test]
fn corrupt_packages_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("corrupt"), &repo.join("bad"));
    fs::copy(
        fixtures().join("rpms/rpmdepot-hello-1.0-1.noarch.rpm"),
        repo.join("rpmdepot-hello-1.0-1.noarch.rpm"),
    )
    .unwrap();
    let mut opts = options(&repo);
    opts.includepkg = vec![
        "rpmdepot-hello-1.0-1.noarch.rpm".into(),
        "bad/empty.rpm".into(),
        "bad/not-an-rpm.rpm".into(),
        "bad/truncated.rpm".into(),
        "vanished.rpm".into(),
    ];
    let summary = run_ok(&opts);
    assert_eq!(summary.exit_code(), 2);
    assert_eq!(summary.packages_written, 1);
    let reasons: Vec<(String, String)> = summary
        .skipped
        .iter()
        .map(|s| {
            (
                s.path.rsplit('/').next().unwrap().to_owned(),
                s.reason.clone(),
            )
        })
        .collect();
    let reason_of = |name: &str| {
        reasons
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("{name} not reported: {reasons:?}"))
    };
    assert!(reason_of("empty.rpm").contains("shorter than an RPM lead"));
    assert!(reason_of("not-an-rpm.rpm").contains("no RPM lead magic"));
    assert!(reason_of("truncated.rpm").contains("truncated in the main header"));
    assert!(reason_of("vanished.rpm").contains("No such file"));
    let primary = decompressed(&repo, &summary, "primary");
    assert!(primary.contains("packages=\"1\""));
    assert!(primary.contains("<name>rpmdepot-hello</name>"));
}

#[test]
fn keep_last_picks_newest_build_then_last_location() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms-dup"), &repo);
    let mut opts = options(&repo);
    opts.duplicated_nevra = DuplicatePolicy::KeepLast;
    let summary = run_ok(&opts);
    assert_eq!(summary.duplicates.len(), 1);
    let kept: Vec<&str> = summary.duplicates[0]
        .members
        .iter()
        .filter(|m| m.kept)
        .map(|m| m.location.as_str())
        .collect();
    assert_eq!(
        kept,
        ["b/rpmdepot-dup-1.0-1.noarch.rpm"],
        "b has the newest build time"
    );
    assert_eq!(summary.packages_written, 1);

    // a and c share a build time: the lexicographically last location wins.
    fs::remove_dir_all(repo.join("b")).unwrap();
    let summary = run_ok(&opts);
    let kept: Vec<&str> = summary.duplicates[0]
        .members
        .iter()
        .filter(|m| m.kept)
        .map(|m| m.location.as_str())
        .collect();
    assert_eq!(kept, ["c/rpmdepot-dup-1.0-1.noarch.rpm"]);

    // Without the option every build is written and the group is still reported.
    opts.duplicated_nevra = DuplicatePolicy::KeepAll;
    let summary = run_ok(&opts);
    assert_eq!(summary.packages_written, 2);
    assert!(summary.duplicates[0].members.iter().all(|m| m.kept));
}

#[test]
fn a_locked_repository_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let opts = options(&repo);
    run_ok(&opts);
    let before = fs::read(repo.join("repodata/repomd.xml")).unwrap();
    fs::create_dir(repo.join(".repodata")).unwrap();
    let err = run(&opts, &no_progress).expect_err("must refuse while locked");
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert_eq!(fs::read(repo.join("repodata/repomd.xml")).unwrap(), before);
    assert!(
        repo.join(".repodata").exists(),
        "someone else's lock is not removed"
    );

    let mut forced = opts.clone();
    forced.ignore_lock = true;
    run_ok(&forced);
    assert!(!repo.join(".repodata").exists());
}

#[test]
fn output_is_identical_whatever_the_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut listings = Vec::new();
    for workers in [1, 3] {
        let repo = dir.path().join(format!("repo{workers}"));
        copy_tree(&fixtures().join("rpms"), &repo);
        let mut opts = options(&repo);
        opts.workers = workers;
        opts.xml_compression = Compression::Zstd;
        run_ok(&opts);
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(repo.join("repodata"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        listings.push(files);
    }
    assert_eq!(listings[0], listings[1]);
}

#[test]
fn old_metadata_is_replaced_and_foreign_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let mut opts = options(&repo);
    run_ok(&opts);
    fs::write(repo.join("repodata/extra.txt"), b"kept").unwrap();
    opts.xml_compression = Compression::Xz;
    let summary = run_ok(&opts);
    let names: Vec<String> = fs::read_dir(repo.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "extra.txt"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.ends_with(".gz")),
        "old files dropped: {names:?}"
    );
    assert_eq!(names.len(), summary.files.len() + 2, "{names:?}");
    assert!(!dir.path().join("repo/.repodata").exists());
}

#[test]
fn databases_include_filelists_ext_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let mut opts = options(&repo);
    opts.database = true;
    opts.filelists_ext = true;
    let summary = run_ok(&opts);
    let kinds: Vec<&str> = summary.files.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "primary",
            "filelists",
            "other",
            "primary_db",
            "filelists_db",
            "other_db",
            "filelists-ext",
            "filelists-ext_db"
        ]
    );
    let ext_db = summary
        .files
        .iter()
        .find(|f| f.kind == "filelists-ext_db")
        .unwrap();
    let ext_xml = summary
        .files
        .iter()
        .find(|f| f.kind == "filelists-ext")
        .unwrap();
    let mut sqlite = Vec::new();
    bzip2::read::BzDecoder::new(&fs::read(repo.join(&ext_db.location)).unwrap()[..])
        .read_to_end(&mut sqlite)
        .unwrap();
    let path = dir.path().join("ext.sqlite");
    fs::write(&path, sqlite).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (version, checksum): (i64, String) = conn
        .query_row("SELECT dbversion, checksum FROM db_info", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (version, checksum.as_str()),
        (10, ext_xml.checksum.as_str())
    );
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM filelist", [], |r| r.get(0))
        .unwrap();
    assert!(rows > 10, "filelist rows: {rows}");
}

#[test]
fn groupfile_is_compressed_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let comps = dir.path().join("comps.xml");
    let text = "<?xml version=\"1.0\"?>\n<comps>\n  <group><id>core</id></group>\n</comps>\n";
    fs::write(&comps, text).unwrap();
    let mut opts = options(&repo);
    opts.groupfile = Some(comps);
    let summary = run_ok(&opts);
    let group = summary
        .files
        .iter()
        .find(|f| f.kind == "group")
        .expect("group record");
    assert!(
        group.location.ends_with("-comps.xml.gz"),
        "{}",
        group.location
    );
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&fs::read(repo.join(&group.location)).unwrap()[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, text);
    assert_eq!(group.open_size, Some(text.len() as u64));
}

#[test]
fn location_prefix_baseurl_and_simple_names_shape_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let mut opts = options(&repo);
    opts.location_prefix = Some("mirror/".into());
    opts.baseurl = Some("/srv/pkgs".into());
    opts.unique_md_filenames = false;
    let summary = run_ok(&opts);
    let names: Vec<&str> = summary.files.iter().map(|f| f.location.as_str()).collect();
    assert_eq!(
        names,
        [
            "repodata/primary.xml.gz",
            "repodata/filelists.xml.gz",
            "repodata/other.xml.gz"
        ]
    );
    let primary = decompressed(&repo, &summary, "primary");
    assert!(
        primary.contains(
            "<location xml:base=\"file:///srv/pkgs\" href=\"mirror/rpmdepot-hello-1.0-1.noarch.rpm\"/>"
        ),
        "{primary}"
    );
}

#[test]
fn symlinked_packages_are_skipped_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    let target = dir.path().join("rpmdepot-hello-1.0-1.noarch.rpm");
    fs::copy(
        fixtures().join("rpms/rpmdepot-hello-1.0-1.noarch.rpm"),
        &target,
    )
    .unwrap();
    std::os::unix::fs::symlink(&target, repo.join("linked.rpm")).unwrap();
    let mut opts = options(&repo);
    assert_eq!(run_ok(&opts).packages_found, 1);
    opts.skip_symlinks = true;
    assert_eq!(run_ok(&opts).packages_found, 0);
}

#[test]
fn retention_by_age_keeps_recent_old_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    copy_tree(&fixtures().join("rpms"), &repo);
    let mut opts = options(&repo);
    opts.set_timestamp_to_revision = false; // old files must look recent
    let first = run_ok(&opts);
    opts.xml_compression = Compression::Xz;
    opts.retention = repo_core::Retention::ByAge(Duration::from_secs(3600));
    run_ok(&opts);
    for file in &first.files {
        assert!(
            repo.join(&file.location).exists(),
            "{} was dropped",
            file.location
        );
    }
    opts.retention = repo_core::Retention::ByAge(Duration::ZERO);
    opts.xml_compression = Compression::Zstd;
    run_ok(&opts);
    for file in &first.files {
        assert!(
            !repo.join(&file.location).exists(),
            "{} was kept",
            file.location
        );
    }
}

#[test]
fn update_md_path_reuses_another_repository_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    copy_tree(&fixtures().join("rpms"), &a);
    copy_tree(&fixtures().join("rpms"), &b);
    run_ok(&options(&a));
    let mut opts = options(&b);
    opts.update = true;
    opts.update_md_paths = vec![a.clone()];
    let summary = run_ok(&opts);
    assert_eq!(summary.packages_reused, summary.packages_found);
    let updated = fs::read(b.join("repodata/repomd.xml")).unwrap();
    assert_eq!(updated, fs::read(a.join("repodata/repomd.xml")).unwrap());
}
