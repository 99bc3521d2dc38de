//! dnf (4.x) reads repositories written by `rpmdepot createrepo`.
//!
//! dnf always runs isolated from the host: an empty config file, no repo
//! files (`reposdir=/dev/null`), a temporary `--installroot` (which also
//! receives dnf's logs and rpm database) and a temporary cachedir.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Query format: one line per package, NEVRA (with explicit epoch) and href.
const QUERY_FORMAT: &str = "%{name}-%{epoch}:%{version}-%{release}.%{arch}\t%{location}";

/// The id under which dnf sees the repository under test.
const REPO_ID: &str = "rpmdepot-test";

/// A dnf invocation isolated from the host's configuration and state, for
/// the repository at `repo_dir`. `scratch` receives config, installroot and
/// cache.
fn isolated_dnf(scratch: &Path, repo_dir: &Path) -> Command {
    std::fs::create_dir_all(scratch)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", scratch.display()));
    let config = scratch.join("dnf.conf");
    std::fs::write(&config, "[main]\n")
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", config.display()));
    let installroot = scratch.join("installroot");
    std::fs::create_dir_all(&installroot)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", installroot.display()));
    let mut dnf = Command::new("dnf");
    dnf.arg("-q")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--installroot={}", installroot.display()))
        // An empty installroot has no release package to detect it from.
        .arg("--releasever=1")
        .arg("--setopt=reposdir=/dev/null")
        .arg(format!(
            "--setopt=cachedir={}",
            scratch.join("cache").display()
        ))
        .arg(format!(
            "--repofrompath={REPO_ID},file://{}",
            repo_dir.display()
        ))
        .arg(format!("--repo={REPO_ID}"));
    dnf
}

/// `dnf repoquery` of every package of the repository at `repo_dir`, sorted.
fn repoquery(scratch: &Path, repo_dir: &Path) -> Vec<String> {
    let mut dnf = isolated_dnf(scratch, repo_dir);
    dnf.args(["repoquery", "--qf", QUERY_FORMAT]);
    let output = run_success(&mut dnf);
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .unwrap_or_else(|error| panic!("cannot resolve {}: {error}", path.display()))
}

/// dnf lists the same packages from rpmdepot's repository (default flags:
/// zstd, no sqlite) as from createrepo_c's over the same corpus.
#[test]
fn dnf_lists_the_same_packages_as_from_createrepo_c() {
    let Some(corpus) = shared_fixtures() else {
        return;
    };
    if !tools_available(&["dnf", "createrepo_c"]) {
        return;
    }
    let input = absolute(&corpus.join("rpms"));
    let baseurl = format!("file://{}", input.display());
    let scratch = tempfile::tempdir().expect("cannot create a temporary directory");
    let reference_repo = fresh_dir(&scratch.path().join("createrepo_c-repo"));
    let our_repo = fresh_dir(&scratch.path().join("rpmdepot-repo"));

    // createrepo_c exits 0 or 2 (some packages rejected); both are fine here.
    let mut createrepo_c = Command::new("createrepo_c");
    createrepo_c
        .args(["--baseurl", &baseurl, "-o"])
        .arg(&reference_repo)
        .arg(&input);
    let output = run(&mut createrepo_c);
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "createrepo_c failed\n{}",
        describe_output(&createrepo_c, &output)
    );
    let mut rpmdepot = rpmdepot_createrepo();
    rpmdepot
        .args(["--baseurl", &baseurl, "-o"])
        .arg(&our_repo)
        .arg(&input);
    let output = run(&mut rpmdepot);
    assert!(
        matches!(output.status.code(), Some(0 | 2)),
        "rpmdepot createrepo failed\n{}",
        describe_output(&rpmdepot, &output)
    );

    let reference_packages = repoquery(&scratch.path().join("dnf-createrepo_c"), &reference_repo);
    let our_packages = repoquery(&scratch.path().join("dnf-rpmdepot"), &our_repo);
    assert!(
        !reference_packages.is_empty(),
        "dnf lists no packages from createrepo_c's repository"
    );
    if reference_packages != our_packages {
        let only_reference: Vec<&String> = reference_packages
            .iter()
            .filter(|line| !our_packages.contains(line))
            .take(MAX_REPORTED_PACKAGES)
            .collect();
        let only_ours: Vec<&String> = our_packages
            .iter()
            .filter(|line| !reference_packages.contains(line))
            .take(MAX_REPORTED_PACKAGES)
            .collect();
        panic!(
            "dnf lists {} packages from createrepo_c's repository and {} from rpmdepot's\n\
             only from createrepo_c's (first {MAX_REPORTED_PACKAGES}): {only_reference:#?}\n\
             only from rpmdepot's (first {MAX_REPORTED_PACKAGES}): {only_ours:#?}",
            reference_packages.len(),
            our_packages.len()
        );
    }
    println!(
        "dnf lists the same {} packages from both repositories",
        our_packages.len()
    );
}

fn running_as_root() -> bool {
    let output = run_success(Command::new("id").arg("-u"));
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// dnf installs a package from a repository rpmdepot wrote (default flags)
/// into an empty installroot.
#[test]
fn dnf_installs_from_rpmdepot_repository() {
    if !tools_available(&["dnf", "rpm"]) {
        return;
    }
    if !running_as_root() {
        skip_or_fail_in_ci("dnf install into an installroot needs root");
        return;
    }
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/rpms"));
    let packages = rpm_files_below(fixtures);
    assert!(
        packages
            .iter()
            .any(|package| package.ends_with("rpmdepot-hello-1.0-1.noarch.rpm")),
        "{} has no rpmdepot-hello-1.0-1.noarch.rpm (found {packages:?})",
        fixtures.display()
    );

    // The repository is written in place (the default usage), in a copy.
    let scratch = tempfile::tempdir().expect("cannot create a temporary directory");
    let repo = fresh_dir(&scratch.path().join("repo"));
    for package in &packages {
        let destination = repo.join(package);
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
        }
        std::fs::copy(fixtures.join(package), &destination)
            .unwrap_or_else(|error| panic!("cannot copy {}: {error}", package.display()));
    }
    run_success(rpmdepot_createrepo().arg(&repo));

    let dnf_scratch = fresh_dir(&scratch.path().join("dnf"));
    let mut dnf = isolated_dnf(&dnf_scratch, &repo);
    dnf.args(["--nogpgcheck", "-y", "install", "rpmdepot-hello"]);
    run_success(&mut dnf);

    let installroot = dnf_scratch.join("installroot");
    let query = run_success(
        Command::new("rpm")
            .arg("--root")
            .arg(&installroot)
            .args(["-q", "rpmdepot-hello"]),
    );
    assert_eq!(
        String::from_utf8_lossy(&query.stdout).trim(),
        "rpmdepot-hello-1.0-1.noarch"
    );
    let installed_file = installroot.join("usr/share/rpmdepot-hello/hello.txt");
    assert!(
        installed_file.is_file(),
        "{} was not installed",
        installed_file.display()
    );
}
