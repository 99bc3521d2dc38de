//! Finding the packages of a repository: the directory walk, `--pkglist`/`--includepkg`,
//! `--excludes` and createrepo_c's package order.
//!
//! Must not: open packages.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A package file to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageTask {
    /// Path relative to the repository root, as written in `location href`. The walk skips
    /// names that are not UTF-8, so the root joined with it is the file's exact path; tasks
    /// keep no full path of their own (at 100k packages that took 7.5 MB off a cold run's peak).
    pub relative_path: String,
    /// (size, mtime) seen by the directory walk, so an update need not stat again.
    pub stat: Option<(u64, i64)>,
}

impl PackageTask {
    /// Path to the file, below `root` (the repository root the task was found in).
    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(&self.relative_path)
    }

    /// File name (the primary sort key).
    pub fn filename(&self) -> &str {
        self.relative_path
            .rsplit_once('/')
            .map_or(self.relative_path.as_str(), |(_, name)| name)
    }

    /// Directory part of the relative path, empty at the root (the secondary sort key).
    pub fn dir(&self) -> &str {
        self.relative_path
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir)
    }

    /// (file name, directory), split once.
    fn sort_key(&self) -> (&str, &str) {
        match self.relative_path.rsplit_once('/') {
            Some((dir, name)) => (name, dir),
            None => (self.relative_path.as_str(), ""),
        }
    }
}

/// GLib `GPatternSpec` matching: `*` is any run of characters (also `/`), `?` is one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn excluded(name: &str, excludes: &[String]) -> bool {
    excludes.iter().any(|pattern| glob_matches(pattern, name))
}

/// Walks `root` like createrepo_c: every regular file ending in `.rpm`, following symlinked
/// directories, skipping names that match an exclude pattern.
pub fn walk(root: &Path, excludes: &[String], skip_symlinks: bool) -> Result<Vec<PackageTask>> {
    let mut tasks = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    let mut seen_dirs = std::collections::HashSet::new();
    while let Some(dir) = pending.pop() {
        let canonical = std::fs::canonicalize(&dir).map_err(|e| Error::io(&dir, e))?;
        if !seen_dirs.insert(canonical) {
            continue; // a symlink loop
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if dir != root => {
                tracing::warn!("cannot open directory {}: {err}", dir.display());
                continue;
            }
            Err(err) => return Err(Error::io(&dir, err)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let Some(filename) = entry.file_name().to_str().map(str::to_owned) else {
                tracing::warn!("skipping {}: name is not UTF-8", entry.path().display());
                continue;
            };
            if excluded(&filename, excludes) {
                continue;
            }
            let path = entry.path();
            // The directory entry's own type and fstatat avoid resolving the whole path again;
            // only symlinks need following.
            let is_symlink = entry.file_type().is_ok_and(|t| t.is_symlink());
            let meta = if is_symlink {
                std::fs::metadata(&path)
            } else {
                entry.metadata()
            };
            let Ok(meta) = meta else {
                continue; // dangling symlink or vanished file
            };
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            if !meta.is_file() || !filename.ends_with(".rpm") {
                continue;
            }
            if skip_symlinks && is_symlink {
                continue;
            }
            // Every name below the root is UTF-8 (others are skipped above), so this is exact.
            let relative = path
                .strip_prefix(root)
                .expect("walked paths are below the root")
                .to_string_lossy()
                .into_owned();
            if excluded(&relative, excludes) {
                continue;
            }
            let stat = {
                use std::os::unix::fs::MetadataExt;
                Some((meta.len(), meta.mtime()))
            };
            tasks.push(PackageTask {
                stat,
                relative_path: relative,
            });
        }
    }
    sort_tasks(&mut tasks);
    // Growth slack is up to half the array, and the array lives until every package is read.
    tasks.shrink_to_fit();
    Ok(tasks)
}

/// Tasks for an explicit list of repository-relative paths (`--pkglist`, `--includepkg`).
pub fn from_list(paths: &[String], excludes: &[String]) -> Vec<PackageTask> {
    let mut tasks: Vec<PackageTask> = paths
        .iter()
        .filter(|path| !excluded(path, excludes))
        .map(|path| PackageTask {
            stat: None,
            relative_path: path.clone(),
        })
        .collect();
    sort_tasks(&mut tasks);
    tasks
}

/// createrepo_c's package order: by file name, then by directory (byte order).
pub fn sort_tasks(tasks: &mut [PackageTask]) {
    // Keys are split once per task, not once per comparison.
    let mut keyed: Vec<((&str, &str), usize)> = tasks
        .iter()
        .enumerate()
        .map(|(index, task)| (task.sort_key(), index))
        .collect();
    keyed.sort_unstable();
    let order: Vec<usize> = keyed.into_iter().map(|(_, index)| index).collect();
    apply_order(tasks, order);
}

/// Moves `items[order[i]]` to position `i` (`order` is a permutation), cycle by cycle.
fn apply_order<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut position = start;
        loop {
            // The element that belongs at `position` is still where it started.
            let source = order[position];
            order[position] = position;
            if source == start {
                break;
            }
            items.swap(position, source);
            position = source;
        }
    }
}

/// Reads a `--pkglist` file: one path per line, surrounding whitespace and empty lines ignored.
pub fn read_pkglist(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_gpatternspec() {
        assert!(glob_matches("*.src.rpm", "a-1.src.rpm"));
        assert!(glob_matches("*debuginfo*", "sub/x-debuginfo-1.rpm"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("*", ""));
        assert!(
            !glob_matches("[ab]", "a"),
            "brackets are literal in GPatternSpec"
        );
    }

    #[test]
    fn an_order_is_applied_as_a_permutation() {
        for order in [
            vec![2, 0, 1],
            vec![0, 1, 2],
            vec![1, 0, 3, 2],
            vec![3, 2, 0, 1],
        ] {
            let mut items: Vec<usize> = (0..order.len()).map(|i| i * 10).collect();
            let expected: Vec<usize> = order.iter().map(|&i| i * 10).collect();
            apply_order(&mut items, order);
            assert_eq!(items, expected);
        }
    }

    #[test]
    fn walk_sorts_by_basename_then_dir() {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            "b/z.rpm",
            "a/z.rpm",
            "c/a.rpm",
            "B.rpm",
            "x.txt",
            "d/skip-me.rpm",
        ] {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, b"").unwrap();
        }
        let tasks = walk(dir.path(), &["skip-*".into()], false).unwrap();
        let order: Vec<_> = tasks.iter().map(|t| t.relative_path.as_str()).collect();
        assert_eq!(order, ["B.rpm", "c/a.rpm", "a/z.rpm", "b/z.rpm"]);
        for task in &tasks {
            assert!(task.path(dir.path()).is_file(), "{}", task.relative_path);
        }
    }

    #[test]
    fn names_that_are_not_utf8_are_skipped_so_relative_paths_are_exact() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        std::fs::create_dir(&odd).unwrap();
        std::fs::write(odd.join("a.rpm"), b"").unwrap();
        std::fs::write(
            dir.path().join(std::ffi::OsStr::from_bytes(b"\xff.rpm")),
            b"",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.rpm"), b"").unwrap();
        let tasks = walk(dir.path(), &[], false).unwrap();
        let found: Vec<_> = tasks.iter().map(|t| t.relative_path.as_str()).collect();
        assert_eq!(found, ["b.rpm"]);
    }
}
