//! Helpers shared by repo-core's integration tests: the project's fixtures, copied with a fixed
//! mtime (`<time file>` is the file's mtime, and a git checkout sets arbitrary ones).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// The mtime every copied package gets.
pub const FIXED_MTIME: u64 = 1_700_000_000;

/// The project's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Copies the directory `src` into `dest`, every file with mtime [`FIXED_MTIME`].
pub fn copy_tree(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let target = dest.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
            let file = fs::File::options().write(true).open(&target).unwrap();
            let time = UNIX_EPOCH + Duration::from_secs(FIXED_MTIME);
            file.set_times(fs::FileTimes::new().set_modified(time))
                .unwrap();
        }
    }
}
