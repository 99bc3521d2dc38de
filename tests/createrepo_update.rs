//! `rpmdepot createrepo --update` with the real tools around it: metadata added by
//! `modifyrepo_c` survives an update, dnf reads the updated repository, and the JSON summary
//! says how many packages were reused.

mod common;

use std::fs;
use std::path::Path;

use common::{rpmdepot_createrepo, run_success, tools_available};

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

fn copy_dir(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("create dir");
    for entry in fs::read_dir(src).expect("read fixtures") {
        let entry = entry.expect("dir entry");
        let target = dest.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy fixture");
        }
    }
}

/// Adds an updateinfo record to `repo` with modifyrepo_c, as errata tools do.
fn add_updateinfo(scratch: &Path, repo: &Path) {
    let updateinfo = scratch.join("updateinfo.xml");
    fs::write(
        &updateinfo,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n  <update from=\"rpmdepot\" \
         status=\"stable\" type=\"bugfix\" version=\"1\">\n    <id>RPMDEPOT-1</id>\n    \
         <title>fix</title>\n  </update>\n</updates>\n",
    )
    .expect("write updateinfo");
    run_success(
        std::process::Command::new("modifyrepo_c")
            .args(["--mdtype", "updateinfo"])
            .arg(&updateinfo)
            .arg(repo.join("repodata")),
    );
}

/// The record types a repomd.xml lists, sorted.
fn record_types(repo: &Path) -> Vec<String> {
    let repomd = fs::read_to_string(repo.join("repodata/repomd.xml")).expect("repomd");
    let mut types: Vec<String> = repomd
        .split("<data type=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    types.sort();
    types
}

/// The names of the files in `repo/repodata` whose name contains `part`, sorted.
fn repodata_files(repo: &Path, part: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo.join("repodata"))
        .expect("repodata")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(part))
        .collect();
    names.sort();
    names
}

#[test]
fn update_keeps_updateinfo_added_by_modifyrepo_c() {
    if !tools_available(&["modifyrepo_c"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    copy_dir(&fixtures().join("rpms"), &repo);
    run_success(rpmdepot_createrepo().args(["-q"]).arg(&repo));

    add_updateinfo(dir.path(), &repo);

    // A new package arrives; the update must keep the updateinfo record and its file.
    fs::copy(
        fixtures().join("rpms-dup/a/rpmdepot-dup-1.0-1.noarch.rpm"),
        repo.join("rpmdepot-dup-1.0-1.noarch.rpm"),
    )
    .expect("add package");
    let output = run_success(
        rpmdepot_createrepo()
            .args(["--update", "--json"])
            .arg(&repo),
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["packages_written"], 9);
    assert_eq!(
        summary["packages_reused"], 8,
        "only the new package is read"
    );

    let repomd = fs::read_to_string(repo.join("repodata/repomd.xml")).expect("repomd");
    let block = repomd
        .split("<data ")
        .find(|b| b.starts_with("type=\"updateinfo\""))
        .unwrap_or_else(|| panic!("updateinfo record lost:\n{repomd}"));
    let href = block
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("updateinfo location");
    let bytes = fs::read(repo.join(href)).expect("updateinfo file is kept");
    let checksum = common::sha256_hex(&bytes);
    assert!(
        block.contains(&checksum),
        "record checksum matches the kept file"
    );

    // A second update with nothing changed reuses everything.
    let output = run_success(
        rpmdepot_createrepo()
            .args(["--update", "--json"])
            .arg(&repo),
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["packages_reused"], 9);
    assert!(
        fs::read_to_string(repo.join("repodata/repomd.xml"))
            .expect("repomd")
            .contains("type=\"updateinfo\"")
    );
}

/// createrepo_c, asked to update a repository whose repomd.xml it cannot parse, warns and
/// goes on: the records it could not read are not listed again, and the old files stay. We
/// do the same, and the warning names the file and what is wrong with it.
#[test]
fn update_over_an_unreadable_repomd_goes_on_like_createrepo_c() {
    if !tools_available(&["createrepo_c", "modifyrepo_c"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = dir.path().join("ours");
    copy_dir(&fixtures().join("rpms"), &ours);
    run_success(rpmdepot_createrepo().args(["-q"]).arg(&ours));
    add_updateinfo(dir.path(), &ours);
    let updateinfo_files = repodata_files(&ours, "updateinfo");
    assert_eq!(updateinfo_files.len(), 1);
    let theirs = dir.path().join("theirs");
    copy_dir(&ours, &theirs);
    for repo in [&ours, &theirs] {
        fs::write(repo.join("repodata/repomd.xml"), "garbage <<<\n").expect("spoil repomd");
    }

    let output = run_success(rpmdepot_createrepo().arg("--update").arg(&ours));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let repomd = ours.join("repodata/repomd.xml");
    assert!(
        stderr.contains("cannot read the old repomd.xml")
            && stderr.contains(&format!("{}: not well-formed XML", repomd.display())),
        "{stderr}"
    );
    run_success(
        std::process::Command::new("createrepo_c")
            .args(["--update", "--quiet", "--no-database"])
            .arg(&theirs),
    );

    let types = record_types(&ours);
    assert!(types.contains(&"primary".to_owned()), "{types:?}");
    assert!(!types.contains(&"updateinfo".to_owned()), "{types:?}");
    assert_eq!(types, record_types(&theirs), "ours, then createrepo_c's");
    assert_eq!(repodata_files(&ours, "updateinfo"), updateinfo_files);
    assert_eq!(repodata_files(&theirs, "updateinfo"), updateinfo_files);
}
