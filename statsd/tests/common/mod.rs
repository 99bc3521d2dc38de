//! Helpers shared by statsd's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Environment variable naming the shared, read-only fixture corpus.
pub const SHARED_FIXTURES_VAR: &str = "RPMDEPOT_SHARED_FIXTURES";

/// Outside CI prints that the test did not run; in CI (`CI` set) fails instead.
pub fn skip_or_fail_in_ci(reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("prerequisite missing in CI (tests must not skip in CI): {reason}");
    }
    println!("SKIPPED (did not run): {reason}");
}

/// `$RPMDEPOT_SHARED_FIXTURES`, or `None` after [`skip_or_fail_in_ci`].
pub fn shared_fixtures() -> Option<PathBuf> {
    let Some(value) = std::env::var_os(SHARED_FIXTURES_VAR).filter(|v| !v.is_empty()) else {
        skip_or_fail_in_ci(&format!("{SHARED_FIXTURES_VAR} is not set"));
        return None;
    };
    let corpus = PathBuf::from(value);
    assert!(
        corpus.join("logs").is_dir(),
        "{SHARED_FIXTURES_VAR}={} has no logs/ directory",
        corpus.display()
    );
    Some(corpus)
}

/// Compares `actual` with the golden file `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
pub fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if expected != actual {
        panic!(
            "{} differs from the golden file\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
