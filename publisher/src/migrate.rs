//! Migration of every artifact from one store to another, online and resumable.
//!
//! Each artifact is streamed from the source, checked against its sha256 while it is written,
//! then read back from the destination and checked again; only then is it recorded as done
//! (in the catalog, per destination), so a killed run resumes where it stopped. Objects
//! already at the destination but not yet verified are verified, and replaced when corrupt.
//! The catalog keeps naming the source store until `switch` is asked for and every artifact
//! is verified, so serving goes on from the old store meanwhile.
//! Must not: delete anything from the source.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::channel;

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::store::{BlobStore, artifact_key};

/// What happened to one artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Copied,
    AlreadyThere,
    Repaired,
}

/// An artifact that could not be migrated.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationFailure {
    pub sha256: String,
    pub reason: String,
}

/// The final report of a migration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrationReport {
    pub from: String,
    pub to: String,
    /// Artifacts in the catalog.
    pub artifacts: usize,
    /// Verified by an earlier run, skipped.
    pub skipped: usize,
    /// Copied and verified now.
    pub copied: usize,
    /// Found at the destination and verified (not copied).
    pub already_there: usize,
    /// Found corrupt at the destination, copied again and verified.
    pub repaired: usize,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Artifacts that failed.
    pub failed: Vec<MigrationFailure>,
    /// Whether the catalog now names the destination store.
    pub switched: bool,
    pub elapsed_ms: u64,
}

fn migrate_one(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    sha256: &str,
    size: u64,
) -> Result<Outcome> {
    let key = artifact_key(sha256)?;
    let mut repaired = false;
    if let Some(info) = to.head(&key)? {
        match to.verify(&key, size, sha256) {
            Ok(()) => return Ok(Outcome::AlreadyThere),
            Err(err) => {
                tracing::warn!(
                    "{} has a bad copy of {key} ({err}); copying it again",
                    to.url()
                );
                let _ = info;
                repaired = true;
            }
        }
    }
    let mut body = from.get(&key, None)?;
    to.put(&key, &mut body, size, Some(sha256))?;
    to.verify(&key, size, sha256)?;
    Ok(if repaired {
        Outcome::Repaired
    } else {
        Outcome::Copied
    })
}

/// Copies and verifies every catalogued artifact from `from` to `to` with `jobs` workers,
/// calling `progress(done, total, bytes)`. With `switch`, and when every artifact is
/// verified at the destination, the catalog's store becomes `to`.
pub fn migrate(
    catalog: &mut Catalog,
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    jobs: usize,
    switch: bool,
    progress: &(dyn Fn(u64, u64, u64) + Sync),
) -> Result<MigrationReport> {
    let started = std::time::Instant::now();
    let destination = to.url();
    if destination == from.url() {
        return Err(Error::Invalid(format!(
            "source and destination are the same store ({destination})"
        )));
    }
    let artifacts = catalog.artifacts()?;
    let done_before = catalog.migrated(&destination)?;
    let todo: Vec<(String, u64)> = artifacts
        .iter()
        .filter(|(sha, _, _)| !done_before.contains(sha))
        .map(|(sha, size, _)| (sha.clone(), *size))
        .collect();
    let mut report = MigrationReport {
        from: from.url(),
        to: destination.clone(),
        artifacts: artifacts.len(),
        skipped: artifacts.len() - todo.len(),
        ..MigrationReport::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start {jobs} workers: {e}")))?;
    let total = todo.len() as u64;
    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let (tx, rx) = channel::<(String, u64, Result<Outcome>)>();
    let record_result = std::thread::scope(|scope| {
        let todo = &todo;
        let (done, bytes) = (&done, &bytes);
        scope.spawn(move || {
            pool.install(|| {
                todo.par_iter().for_each_with(tx, |tx, (sha, size)| {
                    let result = migrate_one(from, to, sha, *size);
                    if matches!(result, Ok(Outcome::Copied | Outcome::Repaired)) {
                        bytes.fetch_add(*size, Ordering::Relaxed);
                    }
                    progress(
                        done.fetch_add(1, Ordering::Relaxed) + 1,
                        total,
                        bytes.load(Ordering::Relaxed),
                    );
                    let _ = tx.send((sha.clone(), *size, result));
                });
            });
        });
        // Record each verified artifact as it arrives: a kill loses at most the in-flight ones.
        let mut batch = Vec::new();
        let flush = |catalog: &mut Catalog, batch: &mut Vec<String>| -> Result<()> {
            catalog.record_migrated(&destination, batch)?;
            batch.clear();
            Ok(())
        };
        for (sha, size, result) in rx {
            match result {
                Ok(outcome) => {
                    match outcome {
                        Outcome::Copied => {
                            report.copied += 1;
                            report.bytes_copied += size;
                        }
                        Outcome::AlreadyThere => report.already_there += 1,
                        Outcome::Repaired => {
                            report.repaired += 1;
                            report.bytes_copied += size;
                        }
                    }
                    batch.push(sha);
                    if batch.len() >= 64 {
                        flush(catalog, &mut batch)?;
                    }
                }
                Err(err) => report.failed.push(MigrationFailure {
                    sha256: sha,
                    reason: err.to_string(),
                }),
            }
        }
        flush(catalog, &mut batch)
    });
    record_result?;
    report.failed.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    if switch {
        let verified = catalog.migrated(&destination)?;
        let complete = catalog
            .artifacts()?
            .iter()
            .all(|(sha, _, _)| verified.contains(sha));
        if complete && report.failed.is_empty() {
            catalog.set_setting("store", &destination)?;
            report.switched = true;
        } else {
            return Err(Error::Invalid(format!(
                "not switching to {destination}: {} artifact(s) failed or are not verified there; \
                 run migrate again",
                report.failed.len().max(1)
            )));
        }
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
