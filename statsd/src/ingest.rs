//! Ingesting many log files: identify, skip what is already stored, parse in parallel,
//! commit each file in its own transaction as soon as it is counted.
//!
//! Owns the pipeline; must not decide what counts (that is [`crate::tally`]) nor how it is
//! stored (that is [`crate::store`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::input::{Compression, LineReader, decompressed};
use crate::store::{CommitOutcome, FileIdentity, Store};
use crate::tally::{CountOptions, FileCounts, Tally};
use crate::{Error, Result};

/// Counts one file from disk.
pub fn count_file(path: &Path, options: &CountOptions) -> Result<(Compression, FileCounts)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (compression, reader) = decompressed(Box::new(file)).map_err(|e| Error::io(path, e))?;
    let mut lines = LineReader::new(reader);
    let mut tally = Tally::new(options);
    tally.read_lines(&mut lines);
    Ok((compression, tally.finish()))
}

/// What happened to one input.
#[derive(Debug)]
pub enum FileOutcome {
    Ingested {
        path: PathBuf,
        identity: FileIdentity,
        counts: Box<FileCounts>,
        replaced: bool,
    },
    AlreadyIngested {
        path: PathBuf,
        identity: FileIdentity,
    },
    Failed {
        path: PathBuf,
        error: Error,
    },
}

/// Options of one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub count: CountOptions,
    /// Replace the contribution of files already ingested.
    pub reingest: bool,
    /// Files parsed in parallel (default: rayon's, one per core).
    pub jobs: Option<usize>,
}

/// Ingests `paths` into `store`; `report` is called once per input, in completion order,
/// after its transaction committed. A file that cannot be read is reported as failed and
/// the others go on; database errors stop the run.
pub fn ingest(
    store: &mut Store,
    paths: &[PathBuf],
    options: &IngestOptions,
    mut report: impl FnMut(&FileOutcome),
) -> Result<Vec<FileOutcome>> {
    let identities: Vec<Result<FileIdentity>> =
        paths.par_iter().map(|p| FileIdentity::of(p)).collect();
    let mut outcomes = Vec::new();
    let mut todo: Vec<(PathBuf, FileIdentity)> = Vec::new();
    let mut seen = HashSet::new();
    for (path, identity) in paths.iter().zip(identities) {
        let outcome = match identity {
            Err(error) => FileOutcome::Failed {
                path: path.clone(),
                error,
            },
            Ok(identity) => {
                let duplicate = !seen.insert(identity.clone());
                if duplicate || (!options.reingest && store.contains(&identity)?) {
                    FileOutcome::AlreadyIngested {
                        path: path.clone(),
                        identity,
                    }
                } else {
                    todo.push((path.clone(), identity));
                    continue;
                }
            }
        };
        report(&outcome);
        outcomes.push(outcome);
    }

    let (sender, receiver) =
        mpsc::sync_channel::<(PathBuf, FileIdentity, Result<(Compression, FileCounts)>)>(2);
    std::thread::scope(|scope| -> Result<()> {
        let todo = &todo;
        let count_options = &options.count;
        scope.spawn(move || {
            todo.par_iter()
                .for_each_with(sender, |sender, (path, identity)| {
                    let counted = count_file(path, count_options);
                    let _ = sender.send((path.clone(), identity.clone(), counted));
                });
        });
        for (path, identity, counted) in receiver {
            let outcome = match counted {
                Err(error) => FileOutcome::Failed { path, error },
                Ok((compression, counts)) => match store.commit_file(
                    &identity,
                    compression.name(),
                    &counts,
                    options.reingest,
                )? {
                    CommitOutcome::AlreadyIngested => {
                        FileOutcome::AlreadyIngested { path, identity }
                    }
                    outcome => FileOutcome::Ingested {
                        path,
                        identity,
                        counts: Box::new(counts),
                        replaced: outcome == CommitOutcome::Replaced,
                    },
                },
            };
            report(&outcome);
            outcomes.push(outcome);
        }
        Ok(())
    })?;
    Ok(outcomes)
}
