//! How `rpmdepot createrepo` maps createrepo_c's option groups onto a run: `--compatibility`
//! and `--discard-additional-metadata`.

mod common;

use std::fs;
use std::path::Path;

use common::{rpmdepot_createrepo, run_success, tools_available};

fn hello_repo(dir: &Path) -> std::path::PathBuf {
    let repo = dir.join("repo");
    fs::create_dir_all(&repo).expect("create repo");
    fs::copy(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/rpms/rpmdepot-hello-1.0-1.noarch.rpm"
        )),
        repo.join("rpmdepot-hello-1.0-1.noarch.rpm"),
    )
    .expect("copy fixture");
    repo
}

/// (type, href) of every record in the repository's repomd.xml.
fn records(repo: &Path) -> Vec<(String, String)> {
    common::read_repomd(repo)
        .records
        .iter()
        .map(|r| (r.kind.clone(), r.location_href.clone()))
        .collect()
}

#[test]
fn compatibility_means_gzip_sqlite_and_a_plain_groupfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = hello_repo(dir.path());
    let comps = dir.path().join("comps.xml");
    fs::write(&comps, "<comps/>\n").expect("write comps");
    run_success(
        rpmdepot_createrepo()
            .args(["-q", "--compatibility", "-g"])
            .arg(&comps)
            .arg(&repo),
    );
    let records = records(&repo);
    let suffix_of = |kind: &str| {
        let (_, href) = records
            .iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no {kind} record in {records:?}"));
        href.rsplit_once('-')
            .map(|(_, name)| name.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(suffix_of("primary"), "primary.xml.gz");
    assert_eq!(suffix_of("other"), "other.xml.gz");
    assert_eq!(suffix_of("primary_db"), "primary.sqlite.bz2");
    assert_eq!(suffix_of("group"), "comps.xml");
}

#[test]
fn discard_additional_metadata_drops_updateinfo_on_update() {
    if !tools_available(&["modifyrepo_c"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = hello_repo(dir.path());
    run_success(rpmdepot_createrepo().arg("-q").arg(&repo));
    let updateinfo = dir.path().join("updateinfo.xml");
    fs::write(&updateinfo, "<?xml version=\"1.0\"?>\n<updates/>\n").expect("write updateinfo");
    run_success(
        std::process::Command::new("modifyrepo_c")
            .args(["--mdtype", "updateinfo"])
            .arg(&updateinfo)
            .arg(repo.join("repodata")),
    );
    let has_updateinfo = |repo: &Path| records(repo).iter().any(|(k, _)| k == "updateinfo");
    assert!(has_updateinfo(&repo));
    run_success(rpmdepot_createrepo().args(["-q", "--update"]).arg(&repo));
    assert!(has_updateinfo(&repo), "kept by default");
    run_success(
        rpmdepot_createrepo()
            .args(["-q", "--update", "--discard-additional-metadata"])
            .arg(&repo),
    );
    assert!(!has_updateinfo(&repo), "dropped when asked");
}
