//! Taking over an existing repository directory (a createrepo_c repository such as a Copr
//! chroot): every package below it becomes part of one new version of a repository.
//!
//! When the directory has valid repodata, a package listed there is not read for its header:
//! its file must be at the listed location with the listed size, and its sha256, computed
//! while the artifact is stored, must be the listed sha256 pkgid; then the listed record is
//! used. Anything else (no or damaged repodata, another checksum type, a mismatch, a file not
//! listed) is read like `add` reads it. Must not: trust a listed record for bytes that do not
//! hash to its pkgid, or follow a location out of the directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use repo_core::PackageRecord;
use repo_core::existing::ExistingRepodata;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::publish::{
    AddReport, CHANGELOG_LIMIT, Ingested, check_names, find_packages, ingest, ingested,
    record_ingested, transfer_pool,
};
use crate::store::{BlobStore, artifact_key, sha256_of_file};

/// Listed packages checked and stored together (bounds the records held before storing).
const BATCH: usize = 256;

/// The outcome of `import`.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The version made, what was added and what was refused.
    #[serde(flatten)]
    pub report: AddReport,
    /// Packages whose record came from the existing repodata.
    pub records_reused: usize,
    /// Packages whose header was read.
    pub headers_read: usize,
    /// Packages the repodata lists that are not in the directory.
    pub listed_but_missing: usize,
    /// Why the existing repodata was not used, or not to its end.
    pub repodata_problem: Option<String>,
}

/// Path of `path` relative to `dir`, with `/` separators, as repodata writes locations.
fn relative_href(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?;
    let parts: Option<Vec<&str>> = relative.iter().map(|p| p.to_str()).collect();
    Some(parts?.join("/"))
}

/// Stores a listed package if its bytes are what the record says, returning whether it was
/// uploaded; `None` when they are not (the caller reads the header instead).
fn store_listed(
    store: &dyn BlobStore,
    path: &Path,
    record: &PackageRecord,
) -> Result<Option<bool>> {
    if record.checksum_type != "sha256" || artifact_key(&record.pkgid).is_err() {
        return Ok(None);
    }
    let key = artifact_key(&record.pkgid)?;
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size != record.size_package {
        return Ok(None);
    }
    if let Some(info) = store.head(&key)?
        && info.size == size
    {
        // Already stored: hash the local file to know that it is the same package.
        let (sha256, _) = sha256_of_file(path)?;
        return Ok((sha256 == record.pkgid).then_some(false));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    match store.put(&key, &mut reader, size, Some(&record.pkgid)) {
        Ok(()) => Ok(Some(true)),
        // Nothing was stored; the file is not the listed package (or changed meanwhile).
        Err(Error::ChecksumMismatch { .. } | Error::SizeMismatch { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A listed package: the listed record when the file matches it, else the header's.
fn ingest_listed(
    store: &dyn BlobStore,
    path: &Path,
    mut record: PackageRecord,
) -> Result<Ingested> {
    let Some(uploaded) = store_listed(store, path, &record)? else {
        tracing::info!(
            "{}: not the package the repodata lists, reading its header",
            path.display()
        );
        return ingest(store, path);
    };
    // What reading the header would give for the facts that do not come from it.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    record.time_file = std::os::unix::fs::MetadataExt::mtime(&meta);
    record.location_href = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    record.location_base = None;
    if let repo_core::ChangelogLimit::Newest(limit) = CHANGELOG_LIMIT {
        let extra = record.changelogs.len().saturating_sub(limit as usize);
        record.changelogs.drain(..extra);
    }
    check_names(path, &record)?;
    ingested(&record, uploaded, true)
}

/// Imports every `*.rpm` below `dir` into `repository` as one new version, reusing the
/// records of `dir`'s repodata where they are valid (see the module documentation).
pub fn import_dir(
    catalog: &mut Catalog,
    store: &dyn BlobStore,
    repository: &str,
    dir: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ImportReport> {
    catalog.repository(repository)?;
    let files = find_packages(dir)?;
    let total = files.len() as u64;
    let done = AtomicU64::new(0);
    let step = || progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
    let mut unlisted: HashMap<String, PathBuf> = files
        .iter()
        .filter_map(|path| Some((relative_href(dir, path)?, path.clone())))
        .collect();
    let pool = transfer_pool()?;
    let mut results: Vec<(PathBuf, Result<Ingested>)> = Vec::with_capacity(files.len());
    let mut problem = None;
    let mut listed_but_missing = 0;
    let stream = match ExistingRepodata::open(dir).and_then(|r| r.map(|r| r.records()).transpose())
    {
        Ok(stream) => stream,
        Err(err) => {
            problem = Some(err.to_string());
            None
        }
    };
    if let Some(mut stream) = stream {
        let mut batch: Vec<(PathBuf, PackageRecord)> = Vec::with_capacity(BATCH);
        loop {
            let next = stream.next();
            let finished = !matches!(next, Some(Ok(_)));
            match next {
                Some(Ok(record)) => match unlisted.remove(&record.location_href) {
                    Some(path) => batch.push((path, record)),
                    None => {
                        tracing::warn!(
                            "{}: listed in the repodata but not there",
                            dir.join(&record.location_href).display()
                        );
                        listed_but_missing += 1;
                    }
                },
                Some(Err(err)) => problem = Some(err.to_string()),
                None => {}
            }
            if batch.len() >= BATCH || (finished && !batch.is_empty()) {
                let stored: Vec<(PathBuf, Result<Ingested>)> = pool.install(|| {
                    batch
                        .par_drain(..)
                        .map(|(path, record)| {
                            let result = ingest_listed(store, &path, record);
                            step();
                            (path, result)
                        })
                        .collect()
                });
                results.extend(stored);
            }
            if finished {
                break;
            }
        }
    }
    if let Some(problem) = &problem {
        tracing::warn!("existing repodata not used: {problem}; reading package headers");
    }
    let mut rest: Vec<PathBuf> = unlisted.into_values().collect();
    // Files whose path is not valid UTF-8 have no href and were never listed.
    rest.extend(
        files
            .iter()
            .filter(|path| relative_href(dir, path).is_none())
            .cloned(),
    );
    let read: Vec<(PathBuf, Result<Ingested>)> = pool.install(|| {
        rest.par_iter()
            .map(|path| {
                let result = ingest(store, path);
                step();
                (path.clone(), result)
            })
            .collect()
    });
    results.extend(read);
    // The order `add` uses (sorted paths): same-NEVRA ties resolve the same way.
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let records_reused = results
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|i| i.reused_record))
        .count();
    let headers_read = results.len() - records_reused;
    let report = record_ingested(catalog, repository, results)?;
    Ok(ImportReport {
        report,
        records_reused,
        headers_read,
        listed_but_missing,
        repodata_problem: problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_relative_with_slashes() {
        let dir = Path::new("/srv/repo");
        assert_eq!(
            relative_href(dir, Path::new("/srv/repo/sub/a.rpm")).as_deref(),
            Some("sub/a.rpm")
        );
        assert_eq!(relative_href(dir, Path::new("/elsewhere/a.rpm")), None);
    }
}
