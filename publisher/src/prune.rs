//! Pruning (a new version without old builds) and garbage collection (deleting artifacts
//! nothing references).
//!
//! Pruning follows Copr's prunerepo: per binary package name and arch, the newest build is
//! always kept (here: the newest `keep`), older ones go once older than `min_age`, and a
//! source package goes with the last binary built from it. Collection deletes an artifact
//! only when no kept version and no publication references it and it is older than the
//! grace period: an `add` in progress stores artifacts before recording them, and one that
//! takes an artifact already in the store first makes it young again (`BlobStore::refresh`),
//! so a gc running meanwhile leaves it.
//! Must not: change a version (pruning makes a new one) or delete anything referenced.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use repo_core::evr::rpmvercmp;
use serde::Serialize;

use crate::catalog::{Catalog, ContentUnit, RepoVersion};
use crate::error::Result;
use crate::store::BlobStore;

/// Compares two builds by epoch, version, release (rpm's order), then build time.
fn newer(a: &ContentUnit, b: &ContentUnit) -> Ordering {
    let epoch = |u: &ContentUnit| u.epoch.parse::<u64>().unwrap_or(0);
    epoch(a)
        .cmp(&epoch(b))
        .then_with(|| rpmvercmp(&a.version, &b.version))
        .then_with(|| rpmvercmp(&a.release, &b.release))
        .then_with(|| a.time_build.cmp(&b.time_build))
}

/// The packages of `content` that pruning removes at time `now` (seconds).
pub fn prune_plan(content: &[ContentUnit], keep: usize, min_age: Duration, now: i64) -> Vec<i64> {
    let keep = keep.max(1);
    let cutoff = now - min_age.as_secs() as i64;
    let mut groups: HashMap<(&str, &str), Vec<&ContentUnit>> = HashMap::new();
    for unit in content.iter().filter(|u| u.arch != "src") {
        groups
            .entry((&unit.name, &unit.arch))
            .or_default()
            .push(unit);
    }
    let mut removed: HashSet<i64> = HashSet::new();
    for builds in groups.values_mut() {
        builds.sort_by(|a, b| newer(b, a));
        for old in builds.iter().skip(keep) {
            if old.time_build < cutoff {
                removed.insert(old.id);
            }
        }
    }
    // Source packages: gone with their last binary; without binaries, by their own age rule.
    let mut binaries_of: HashMap<&str, (usize, usize)> = HashMap::new();
    for unit in content.iter().filter(|u| u.arch != "src") {
        let entry = binaries_of.entry(&unit.sourcerpm).or_default();
        entry.0 += 1;
        if removed.contains(&unit.id) {
            entry.1 += 1;
        }
    }
    let mut lonely: HashMap<&str, Vec<&ContentUnit>> = HashMap::new();
    for source in content.iter().filter(|u| u.arch == "src") {
        match binaries_of.get(source.filename.as_str()) {
            Some(&(total, gone)) => {
                if total == gone {
                    removed.insert(source.id);
                }
            }
            None => lonely.entry(&source.name).or_default().push(source),
        }
    }
    for builds in lonely.values_mut() {
        builds.sort_by(|a, b| newer(b, a));
        for old in builds.iter().skip(keep) {
            if old.time_build < cutoff {
                removed.insert(old.id);
            }
        }
    }
    let mut removed: Vec<i64> = removed.into_iter().collect();
    removed.sort_unstable();
    removed
}

/// The outcome of a prune.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// The version made, if anything was removed.
    pub version: Option<RepoVersion>,
    /// NEVRAs removed.
    pub removed: Vec<String>,
}

/// Prunes the latest version of `repository` into a new version.
pub fn prune(
    catalog: &mut Catalog,
    repository: &str,
    keep: usize,
    min_age: Duration,
) -> Result<PruneReport> {
    let repo = catalog.repository(repository)?;
    let content = catalog.content(repository, repo.latest_version)?;
    let ids = prune_plan(&content, keep, min_age, crate::catalog::now());
    let by_id: HashMap<i64, &ContentUnit> = content.iter().map(|u| (u.id, u)).collect();
    let mut removed: Vec<String> = ids.iter().map(|id| by_id[id].nevra.clone()).collect();
    removed.sort();
    let version = catalog.remove_units(repository, &ids)?;
    if version.is_some() {
        catalog.drop_old_versions(repository)?;
    }
    Ok(PruneReport { version, removed })
}

/// The outcome of a garbage collection.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Artifacts in the store.
    pub artifacts: usize,
    /// Still referenced, kept.
    pub referenced: usize,
    /// Unreferenced but younger than the grace period, kept.
    pub young: usize,
    /// Deleted.
    pub deleted: usize,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Leftovers of killed uploads removed (temporary files, incomplete multipart uploads).
    pub incomplete_removed: usize,
}

/// Deletes artifacts that no kept version or publication references and that are older
/// than `grace` (by the store's modification time).
pub fn gc(catalog: &mut Catalog, store: &dyn BlobStore, grace: Duration) -> Result<GcReport> {
    let mut report = GcReport {
        incomplete_removed: store.sweep_incomplete(grace)?,
        ..GcReport::default()
    };
    let now = SystemTime::now();
    let referenced = catalog.referenced_artifacts()?;
    let mut deleted = Vec::new();
    let mut present = HashSet::new();
    for object in store.list("artifact/")? {
        let digest: String = object.key["artifact/".len()..].replace('/', "");
        present.insert(digest.clone());
        report.artifacts += 1;
        if referenced.contains(&digest) {
            report.referenced += 1;
            continue;
        }
        let age = now.duration_since(object.modified).unwrap_or_default();
        if age < grace {
            report.young += 1;
            continue;
        }
        // Check again right before deleting: a publish may have referenced it meanwhile.
        if catalog.referenced_artifacts_contains(&digest)? {
            report.referenced += 1;
            continue;
        }
        store.delete(&object.key)?;
        report.deleted += 1;
        report.bytes_freed += object.size;
        deleted.push(digest);
    }
    // Catalog rows of artifacts that are gone and unreferenced.
    let missing: Vec<String> = catalog
        .artifacts()?
        .into_iter()
        .map(|(digest, _, _)| digest)
        .filter(|d| !referenced.contains(d) && !present.contains(d))
        .collect();
    deleted.extend(missing);
    catalog.forget_artifacts(&deleted)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i64, name: &str, version: &str, arch: &str, built: i64, srpm: &str) -> ContentUnit {
        ContentUnit {
            id,
            name: name.into(),
            epoch: "0".into(),
            version: version.into(),
            release: "1".into(),
            arch: arch.into(),
            nevra: format!("{name}-0:{version}-1.{arch}"),
            pkgid: format!("{id}"),
            sha256: format!("{id}"),
            size: 1,
            filename: format!("{name}-{version}-1.{arch}.rpm"),
            time_build: built,
            sourcerpm: srpm.into(),
            created: 0,
        }
    }

    #[test]
    fn newest_kept_old_ones_after_min_age_with_their_srpms() {
        let day = 86_400;
        let now = 100 * day;
        let content = vec![
            unit(
                1,
                "foo",
                "1.0",
                "x86_64",
                now - 30 * day,
                "foo-1.0-1.src.rpm",
            ),
            unit(2, "foo", "1.0", "src", now - 30 * day, ""),
            unit(
                3,
                "foo",
                "2.0",
                "x86_64",
                now - 20 * day,
                "foo-2.0-1.src.rpm",
            ),
            unit(4, "foo", "2.0", "src", now - 20 * day, ""),
            unit(
                5,
                "foo",
                "10.0",
                "x86_64",
                now - 40 * day,
                "foo-10.0-1.src.rpm",
            ),
            unit(6, "foo", "10.0", "src", now - 40 * day, ""),
            unit(7, "bar", "1.0", "noarch", now - day, "bar-1.0-1.src.rpm"),
            unit(8, "bar", "2.0", "noarch", now, "bar-2.0-1.src.rpm"),
        ];
        // 10.0 is newest by rpm's order although oldest by build time: it stays.
        assert_eq!(
            prune_plan(&content, 1, Duration::from_secs(14 * day as u64), now),
            [1, 2, 3, 4]
        );
        assert_eq!(
            prune_plan(&content, 2, Duration::from_secs(14 * day as u64), now),
            [1, 2]
        );
        // bar-1.0 is younger than 14 days: kept.
        assert!(!prune_plan(&content, 1, Duration::from_secs(14 * day as u64), now).contains(&7));
        assert!(prune_plan(&content, 1, Duration::ZERO, now).contains(&7));
    }
}
