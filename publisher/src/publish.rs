//! Adding packages, and publishing: a repository version rendered into repodata (a
//! publication) and materialised as a static tree in a store.
//!
//! Adding reads each package once (repo-core), stores its artifact, and records the unit
//! with its repo-core record, so publishing never reads a package again. A publication's
//! metadata files are artifacts too. Materialising a tree is atomic for dnf clients: packages
//! and metadata files first, `repodata/repomd.xml` last (then its `.asc`), and files the new
//! repomd.xml no longer references stay for a grace period before they are deleted.
//! Must not: sign (a [`MetadataSigner`] from the signer crate does) or print.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rayon::prelude::*;
use repo_core::fragments::Fragments;
use repo_core::package::{PackageSource, read_package};
use repo_core::{ChangelogLimit, ChecksumType, PackageRecord, RenderedPackage, RepodataOptions};
use serde::Serialize;

use crate::catalog::{
    Catalog, ContentUnit, NewPackage, Publication, PublishedFile, RepoVersion, now,
};
use crate::error::{Error, Result};
use crate::store::{BlobStore, PrefixedStore, PutOutcome, artifact_key, sha256_of_file};

/// Changelog entries kept per package (createrepo_c's default).
pub const CHANGELOG_LIMIT: ChangelogLimit = ChangelogLimit::Newest(10);

/// Concurrent transfers to or from a store: uploads wait on the network (S3) or on fsync, not
/// on the CPU, so they get more threads than there are cores.
pub const TRANSFER_THREADS: usize = 8;

pub(crate) fn transfer_pool() -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(TRANSFER_THREADS)
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start {TRANSFER_THREADS} workers: {e}")))
}

/// Signs repomd.xml for a publication; implemented with the signer crate. The publisher only
/// places what it returns: `repodata/repomd.xml.asc` and `repodata/repomd.xml.key`.
pub trait MetadataSigner: Send + Sync {
    /// An ASCII-armored detached signature of `repomd_xml` made with key `key_name`.
    fn sign_repomd(&self, key_name: &str, repomd_xml: &[u8]) -> Result<Vec<u8>>;
    /// The ASCII-armored public key of `key_name`.
    fn public_key(&self, key_name: &str) -> Result<Vec<u8>>;
}

/// A package read from disk, its artifact stored, ready to be recorded.
#[derive(Debug, Clone, Serialize)]
pub struct AddedPackage {
    /// The file it came from.
    pub path: PathBuf,
    /// `name-epoch:version-release.arch`.
    pub nevra: String,
    /// Artifact digest.
    pub sha256: String,
    /// Whether the artifact was uploaded (false: the store had it).
    pub uploaded: bool,
    /// Whether the record came from the directory's existing repodata (`import`) instead of
    /// the package's header.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reused_record: bool,
}

/// A package that could not be added, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedPackage {
    pub path: PathBuf,
    pub reason: String,
}

/// The outcome of `add` or `import`.
#[derive(Debug, Clone, Serialize)]
pub struct AddReport {
    /// The version made, if anything changed.
    pub version: Option<RepoVersion>,
    pub added: Vec<AddedPackage>,
    pub refused: Vec<RefusedPackage>,
}

/// A package whose artifact is stored, ready to be recorded.
pub(crate) struct Ingested {
    pub package: NewPackage,
    /// The artifact was uploaded (the store did not have it).
    pub uploaded: bool,
    /// The record came from existing repodata.
    pub reused_record: bool,
}

fn unit_from_record(record: &PackageRecord) -> ContentUnit {
    ContentUnit {
        id: 0,
        name: record.name.clone(),
        epoch: record.epoch.clone(),
        version: record.version.clone(),
        release: record.release.clone(),
        arch: record.arch.clone(),
        nevra: record.nevra(),
        pkgid: record.pkgid.clone(),
        sha256: record.pkgid.clone(),
        size: record.size_package,
        filename: format!(
            "{}-{}-{}.{}.rpm",
            record.name, record.version, record.release, record.arch
        ),
        time_build: record.time_build,
        sourcerpm: record.sourcerpm.clone(),
        created: 0,
    }
}

/// Refuses records whose names would make unusable file names.
pub(crate) fn check_names(path: &Path, record: &PackageRecord) -> Result<()> {
    if record.name.contains('/') || record.arch.contains('/') || record.version.contains('/') {
        return Err(Error::Invalid(format!(
            "{}: '/' in the package's name, version or arch",
            path.display()
        )));
    }
    Ok(())
}

/// What the catalog records for a package with this record and artifact.
pub(crate) fn ingested(
    record: &PackageRecord,
    uploaded: bool,
    reused_record: bool,
) -> Result<Ingested> {
    Ok(Ingested {
        package: NewPackage {
            unit: unit_from_record(record),
            record_json: serde_json::to_string(record)?,
        },
        uploaded,
        reused_record,
    })
}

/// Reads one package, stores its artifact and returns what the catalog records.
pub(crate) fn ingest(store: &dyn BlobStore, path: &Path) -> Result<Ingested> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source = PackageSource {
        path,
        location_href: &name,
        location_base: None,
    };
    // sha256 package ids are the artifact digest: one read gives record and digest.
    let record = read_package(&source, ChecksumType::Sha256, CHANGELOG_LIMIT).map_err(|e| {
        Error::Package {
            path: path.to_owned(),
            source: e,
        }
    })?;
    check_names(path, &record)?;
    let outcome = store.put_artifact(path, &record.pkgid)?;
    ingested(&record, outcome == PutOutcome::Stored, false)
}

/// Reads and stores `files` in parallel (calling `progress(done, total)`), then adds
/// everything that could be read to `repository` as one new version.
pub fn add_files(
    catalog: &mut Catalog,
    store: &dyn BlobStore,
    repository: &str,
    files: &[PathBuf],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<AddReport> {
    catalog.repository(repository)?;
    let done = AtomicU64::new(0);
    let total = files.len() as u64;
    let results: Vec<(PathBuf, Result<Ingested>)> = transfer_pool()?.install(|| {
        files
            .par_iter()
            .map(|path| {
                let result = ingest(store, path);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                (path.clone(), result)
            })
            .collect()
    });
    record_ingested(catalog, repository, results)
}

/// Adds what was ingested to `repository` as one new version, and reports what was refused.
pub(crate) fn record_ingested(
    catalog: &mut Catalog,
    repository: &str,
    results: Vec<(PathBuf, Result<Ingested>)>,
) -> Result<AddReport> {
    let mut packages = Vec::new();
    let mut added = Vec::new();
    let mut refused = Vec::new();
    for (path, result) in results {
        match result {
            Ok(ingested) => {
                added.push(AddedPackage {
                    nevra: ingested.package.unit.nevra.clone(),
                    sha256: ingested.package.unit.sha256.clone(),
                    path,
                    uploaded: ingested.uploaded,
                    reused_record: ingested.reused_record,
                });
                packages.push(ingested.package);
            }
            Err(err) => {
                tracing::error!("{err}");
                refused.push(RefusedPackage {
                    path,
                    reason: err.to_string(),
                });
            }
        }
    }
    let version = catalog.add_packages(repository, &packages)?;
    if version.is_some() {
        catalog.drop_old_versions(repository)?;
    }
    Ok(AddReport {
        version,
        added,
        refused,
    })
}

/// Every `*.rpm` below `dir` (sorted), skipping `repodata/` and hidden directories.
pub fn find_packages(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                if !name.starts_with('.') && name != "repodata" {
                    walk(&path, out)?;
                }
            } else if name.ends_with(".rpm") && (kind.is_file() || kind.is_symlink()) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// The outcome of a publish.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    pub publication: Publication,
    /// Packages in the publication.
    pub packages: usize,
    /// Metadata files (repodata/…).
    pub metadata: Vec<PublishedFile>,
    /// Milliseconds spent rendering and writing metadata.
    pub render_ms: u64,
}

/// Renders version `version` (default: latest) of `repository` into a publication: writes
/// repodata from the stored records, stores each metadata file as an artifact and records
/// the publication. `signer` signs repomd.xml when the repository has a signing key.
pub fn publish(
    catalog: &mut Catalog,
    store: &dyn BlobStore,
    repository: &str,
    version: Option<i64>,
    signer: Option<&dyn MetadataSigner>,
    scratch: &Path,
) -> Result<PublishReport> {
    let started = std::time::Instant::now();
    let repo = catalog.repository(repository)?;
    let version = catalog.version(repository, version)?;
    let units = catalog.content(repository, version.number)?;
    let ids: Vec<i64> = units.iter().map(|u| u.id).collect();
    let records = catalog.records_json(&ids)?;
    let mut packages: Vec<RenderedPackage> = units
        .par_iter()
        .map(|unit| -> Result<RenderedPackage> {
            let mut record: PackageRecord = serde_json::from_str(&records[&unit.id])?;
            record.location_href = repo.layout.package_path(&unit.filename);
            record.location_base = None;
            let fragments = Fragments::render(&record, false, "")?;
            Ok(RenderedPackage {
                location_href: record.location_href,
                fragments: Arc::new(fragments),
            })
        })
        .collect::<Result<_>>()?;
    packages.sort_by(|a, b| a.location_href.cmp(&b.location_href));
    let mut published: Vec<PublishedFile> = units
        .iter()
        .map(|u| PublishedFile {
            relative_path: repo.layout.package_path(&u.filename),
            sha256: u.sha256.clone(),
            size: u.size,
        })
        .collect();
    published.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    published.dedup_by(|a, b| a.relative_path == b.relative_path);

    std::fs::create_dir_all(scratch).map_err(|e| Error::io(scratch, e))?;
    let staging = tempfile::Builder::new()
        .prefix("publish-")
        .tempdir_in(scratch)
        .map_err(|e| Error::io(scratch, e))?;
    let compression = repo
        .compression
        .parse()
        .map_err(|e| Error::Invalid(format!("{repository}: compression: {e}")))?;
    // The version's creation time: the same version renders to the same bytes everywhere.
    let revision = version.created.to_string();
    repo_core::write_repodata(
        staging.path(),
        &packages,
        &RepodataOptions {
            checksum: ChecksumType::Sha256,
            compression,
            revision: revision.clone(),
            timestamp: Some(version.created),
            filelists_ext: false,
        },
    )?;
    drop(packages);
    if let Some(key) = &repo.signing_key {
        let signer = signer.ok_or_else(|| {
            Error::Invalid(format!(
                "{repository} is signed with key {key}, but no signer is available"
            ))
        })?;
        let repomd = std::fs::read(staging.path().join("repomd.xml"))
            .map_err(|e| Error::io(staging.path(), e))?;
        let signature = signer.sign_repomd(key, &repomd)?;
        let public = signer.public_key(key)?;
        for (name, bytes) in [("repomd.xml.asc", signature), ("repomd.xml.key", public)] {
            let path = staging.path().join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        }
    }
    let mut metadata = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(staging.path())
        .map_err(|e| Error::io(staging.path(), e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(staging.path(), e))?;
    names.sort();
    for name in names {
        let path = staging.path().join(&name);
        let (sha256, size) = sha256_of_file(&path)?;
        store.put_artifact(&path, &sha256)?;
        metadata.push(PublishedFile {
            relative_path: format!("repodata/{name}"),
            sha256,
            size,
        });
    }
    published.extend(metadata.iter().cloned());
    published.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
    let publication =
        catalog.create_publication(&repo, version.number, "sha256", &revision, &published)?;
    Ok(PublishReport {
        publication,
        packages: units.len(),
        metadata,
        render_ms: started.elapsed().as_millis() as u64,
    })
}

/// The outcome of materialising a publication as a tree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TreeReport {
    /// Where the tree is.
    pub target: String,
    /// Files copied into the tree.
    pub uploaded: usize,
    /// Files already there.
    pub unchanged: usize,
    /// Files no longer published, kept for the grace period.
    pub retired: usize,
    /// Retired files deleted now (older than the grace period).
    pub deleted: usize,
    /// Leftovers of killed uploads removed.
    pub incomplete_removed: usize,
    /// Milliseconds spent.
    pub elapsed_ms: u64,
}

/// Is this the file dnf reads first? It goes last.
fn is_index(path: &str) -> bool {
    path == "repodata/repomd.xml" || path == "repodata/repomd.xml.asc"
}

/// Copies one published file from the content store into the tree.
fn copy_into(content: &dyn BlobStore, tree: &dyn BlobStore, file: &PublishedFile) -> Result<()> {
    let mut body = content.get(&artifact_key(&file.sha256)?, None)?;
    tree.put(
        &file.relative_path,
        &mut body,
        file.size,
        Some(&file.sha256),
    )
}

/// Materialises a publication under `prefix` of `target` (a static tree a web server or CDN
/// serves): packages and metadata files first, then `repodata/repomd.xml`, then its
/// signature; files the previous tree had that this one lacks are retired, and deleted once
/// retired longer than `retain_old`. A kill at any point leaves the previous tree usable; a
/// re-run completes it.
pub fn materialize(
    catalog: &mut Catalog,
    content: &dyn BlobStore,
    publication: i64,
    target: &dyn BlobStore,
    prefix: &str,
    retain_old: Duration,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<TreeReport> {
    let started = std::time::Instant::now();
    let tree = PrefixedStore::new(target, prefix)?;
    let target_id = tree.url();
    let files = catalog.published_files(publication)?;
    let recorded: HashMap<String, (String, u64)> = catalog
        .tree_files(&target_id)?
        .into_iter()
        .map(|f| (f.relative_path, (f.sha256, f.size)))
        .collect();
    let mut report = TreeReport {
        target: target_id.clone(),
        ..TreeReport::default()
    };
    let (index, body): (Vec<&PublishedFile>, Vec<&PublishedFile>) =
        files.iter().partition(|f| is_index(&f.relative_path));
    let todo: Vec<&PublishedFile> = body
        .into_iter()
        .filter(|f| {
            recorded.get(&f.relative_path) != Some(&(f.sha256.clone(), f.size))
                || f.relative_path.starts_with("repodata/repomd.xml")
        })
        .collect();
    report.unchanged = files.len() - index.len() - todo.len();
    let done = AtomicU64::new(0);
    let total = todo.len() as u64;
    let results: Vec<Result<()>> = transfer_pool()?.install(|| {
        todo.par_iter()
            .map(|file| {
                let result = copy_into(content, &tree, file);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                result
            })
            .collect()
    });
    // Record what arrived even when something failed, so a re-run skips it.
    let mut first_error = None;
    let copied: std::collections::HashSet<&str> =
        todo.iter().map(|f| f.relative_path.as_str()).collect();
    catalog.in_transaction(|catalog| {
        for (file, result) in todo.iter().zip(results) {
            match result {
                Ok(()) => catalog.record_tree_file(&target_id, file)?,
                Err(err) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        // Files already there are live again even if an earlier publish retired them.
        for file in files.iter().filter(|f| !is_index(&f.relative_path)) {
            if !copied.contains(file.relative_path.as_str()) {
                catalog.record_tree_file(&target_id, file)?;
            }
        }
        Ok(())
    })?;
    if let Some(err) = first_error {
        return Err(err);
    }
    report.uploaded = todo.len();
    // The index last: repomd.xml, then its signature.
    let mut index = index;
    index.sort_by_key(|f| f.relative_path.len());
    for file in index {
        copy_into(content, &tree, file)?;
        catalog.record_tree_file(&target_id, file)?;
        report.uploaded += 1;
    }
    // Retire what this tree no longer has; delete what was retired long enough ago.
    let live: std::collections::HashSet<&str> =
        files.iter().map(|f| f.relative_path.as_str()).collect();
    let time = now();
    let gone: Vec<String> = recorded
        .keys()
        .filter(|p| !live.contains(p.as_str()))
        .cloned()
        .collect();
    catalog.retire_tree_files(&target_id, &gone, time)?;
    report.retired = gone.len();
    let limit = time - retain_old.as_secs() as i64;
    for file in catalog.tree_files(&target_id)? {
        if let Some(retired) = file.retired
            && retired <= limit
        {
            tree.delete(&file.relative_path)?;
            catalog.forget_tree_file(&target_id, &file.relative_path)?;
            report.deleted += 1;
        }
    }
    // Leftovers of killed publishes (never under a final name) go after the same delay.
    report.incomplete_removed = tree.sweep_incomplete(retain_old)?;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
