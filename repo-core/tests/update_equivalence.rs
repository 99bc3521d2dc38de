//! `--update` gives the same bytes as a cold run of the same tree, whatever happened before:
//! random sequences of added, removed and touched packages over the project fixtures, with and
//! without duplicate NEVRAs, a deleted cache, or a cache made with other settings.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use repo_core::createrepo::{CreaterepoOptions, CreaterepoSummary, run};
use repo_core::{Compression, DuplicatePolicy};

/// Every fixture package, as (path relative to the fixtures dir, path inside the repository).
fn pool() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    for (dir, prefix) in [("rpms", ""), ("rpms-dup", "dup/")] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rpm") {
                    let rel = p.strip_prefix(root.join(dir)).unwrap().to_string_lossy();
                    out.push((p.clone(), format!("{prefix}{rel}")));
                }
            }
        }
    }
    out.sort();
    out
}

fn set_mtime(path: &Path, secs: u64) {
    let file = fs::File::options().write(true).open(path).unwrap();
    let time = UNIX_EPOCH + Duration::from_secs(secs);
    file.set_times(fs::FileTimes::new().set_modified(time))
        .unwrap();
}

/// Makes `repo` hold exactly the packages in `mask`, each with mtime `mtimes[i]`.
fn sync_tree(repo: &Path, pool: &[(PathBuf, String)], mask: u32, mtimes: &[u64]) {
    for (i, (source, rel)) in pool.iter().enumerate() {
        let target = repo.join(rel);
        if mask & (1 << i) != 0 {
            if !target.exists() {
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::copy(source, &target).unwrap();
            }
            set_mtime(&target, mtimes[i]);
        } else if target.exists() {
            fs::remove_file(&target).unwrap();
        }
    }
}

fn options(repo: &Path, keep_last: bool) -> CreaterepoOptions {
    let mut o = CreaterepoOptions::new(repo);
    o.xml_compression = Compression::Gz;
    o.revision = Some("7".into());
    o.set_timestamp_to_revision = true;
    o.workers = 2;
    o.database = true;
    if keep_last {
        o.duplicated_nevra = DuplicatePolicy::KeepLast;
    }
    o
}

fn repodata(repo: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(repo.join("repodata"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = fs::read(e.path()).unwrap();
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn run_quiet(options: &CreaterepoOptions) -> CreaterepoSummary {
    run(options, &|_, _| {}).expect("createrepo")
}

/// A cold run of the same tree in a fresh directory.
fn cold(
    pool: &[(PathBuf, String)],
    mask: u32,
    mtimes: &[u64],
    keep_last: bool,
) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    sync_tree(dir.path(), pool, mask, mtimes);
    run_quiet(&options(dir.path(), keep_last));
    repodata(dir.path())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn update_matches_a_cold_run(
        steps in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<bool>()), 1..4),
        keep_last in any::<bool>(),
    ) {
        let pool = pool();
        let dir = tempfile::tempdir().unwrap();
        let mut mtimes = vec![1_700_000_000u64; pool.len()];
        for (step, (mask, touch, skip_stat)) in steps.into_iter().enumerate() {
            let mask = mask & ((1 << pool.len()) - 1);
            for (i, mtime) in mtimes.iter_mut().enumerate() {
                if touch & (1 << i) != 0 {
                    *mtime += 100 + step as u64;
                }
            }
            sync_tree(dir.path(), &pool, mask, &mtimes);
            let mut o = options(dir.path(), keep_last);
            o.update = true;
            // --skip-stat trusts paths, so it only matches a cold run when nothing was touched.
            o.skip_stat = skip_stat && touch == 0;
            let summary = run_quiet(&o);
            prop_assert_eq!(summary.packages_found, mask.count_ones() as usize);
            prop_assert_eq!(repodata(dir.path()), cold(&pool, mask, &mtimes, keep_last),
                "step {} mask {:b}", step, mask);
        }
    }
}

#[test]
fn unchanged_packages_are_not_read_again() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let mtimes = vec![1_700_000_000u64; pool.len()];
    let all = (1 << pool.len()) - 1;
    sync_tree(dir.path(), &pool, all & !1, &mtimes);
    let mut o = options(dir.path(), false);
    run_quiet(&o);
    o.update = true;
    sync_tree(dir.path(), &pool, all, &mtimes);
    let summary = run_quiet(&o);
    assert_eq!(summary.packages_found, pool.len());
    assert_eq!(
        summary.packages_reused,
        pool.len() - 1,
        "only the new package is read"
    );
}

#[test]
fn a_deleted_or_foreign_cache_changes_nothing_but_time() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let mtimes = vec![1_700_000_000u64; pool.len()];
    let all = (1 << pool.len()) - 1;
    sync_tree(dir.path(), &pool, all, &mtimes);
    let mut o = options(dir.path(), false);
    o.changelog_limit = repo_core::ChangelogLimit::All;
    run_quiet(&o); // cache written with other settings
    let mut o = options(dir.path(), false);
    o.update = true;
    let summary = run_quiet(&o);
    assert_eq!(
        summary.packages_reused, 0,
        "a cache made with other settings is not used"
    );
    let expected = cold(&pool, all, &mtimes, false);
    assert_eq!(repodata(dir.path()), expected);
    fs::remove_dir_all(dir.path().join(".rpmdepot")).unwrap();
    run_quiet(&o);
    assert_eq!(repodata(dir.path()), expected);
    fs::write(dir.path().join(".rpmdepot/cache.sqlite"), b"garbage").unwrap();
    run_quiet(&o);
    assert_eq!(repodata(dir.path()), expected);
    // Fragment files deleted or cut short behind the cache's back: those packages are read again.
    let fragment_files: Vec<PathBuf> = fs::read_dir(dir.path().join(".rpmdepot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    assert!(!fragment_files.is_empty());
    fs::File::options()
        .write(true)
        .open(&fragment_files[0])
        .unwrap()
        .set_len(10)
        .unwrap();
    for extra in &fragment_files[1..] {
        fs::remove_file(extra).unwrap();
    }
    let summary = run_quiet(&o);
    assert!(
        summary.packages_reused < pool.len(),
        "damaged entries are not reused"
    );
    assert_eq!(repodata(dir.path()), expected);
}

#[test]
fn recycled_package_list_adds_and_removes_without_walking() {
    let pool = pool();
    let dir = tempfile::tempdir().unwrap();
    let mtimes = vec![1_700_000_000u64; pool.len()];
    let all = (1 << pool.len()) - 1;
    sync_tree(dir.path(), &pool, all & !1, &mtimes);
    let mut o = options(dir.path(), false);
    run_quiet(&o);
    // Copr's pattern: the new build is named explicitly, a removed one is excluded.
    sync_tree(dir.path(), &pool, all & !2, &mtimes);
    o.update = true;
    o.recycle_pkglist = true;
    o.includepkg = vec![pool[0].1.clone()];
    o.excludes = vec![pool[1].1.clone()];
    let summary = run_quiet(&o);
    assert_eq!(summary.packages_found, pool.len() - 1);
    assert_eq!(summary.packages_reused, pool.len() - 2);
    assert_eq!(repodata(dir.path()), cold(&pool, all & !2, &mtimes, false));
}
