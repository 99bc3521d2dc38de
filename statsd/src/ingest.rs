//! Ingesting many log files: identify, skip what is already stored, parse in parallel,
//! commit each file in its own transaction as soon as it is counted.
//!
//! Owns the pipeline; must not decide what counts (that is [`crate::tally`]) nor how it is
//! stored (that is [`crate::store`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::input::{Compression, LineReader, decompressed};
use crate::store::{CommitOutcome, FileIdentity, Store};
use crate::tally::{BATCH_CELLS, Batch, CountOptions, FileCounts, Tally};
use crate::{Error, Result};

/// Counts one file from disk, keeping every cell in memory.
pub fn count_file(path: &Path, options: &CountOptions) -> Result<(Compression, FileCounts)> {
    count_file_in_batches(path, options, usize::MAX, &mut |_| {})
}

/// Counts one file from disk, handing out cells in batches when more than `max_cells` are
/// held (see [`Tally::read_lines_in_batches`]).
pub fn count_file_in_batches(
    path: &Path,
    options: &CountOptions,
    max_cells: usize,
    spill: &mut dyn FnMut(Batch),
) -> Result<(Compression, FileCounts)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (compression, reader) = decompressed(Box::new(file)).map_err(|e| Error::io(path, e))?;
    let mut lines = LineReader::new(reader);
    let mut tally = Tally::new(options);
    tally.read_lines_in_batches(&mut lines, max_cells, spill);
    Ok((compression, tally.finish()))
}

/// What a parser sends to the writer for one file.
enum Message {
    Batch(Batch),
    Done(Result<(Compression, FileCounts)>),
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
    /// Files parsed in parallel (default: one per core).
    pub jobs: Option<usize>,
    /// Distinct cells a parser holds before handing them to the writer (default
    /// [`BATCH_CELLS`]); bounds memory on huge files.
    pub batch_cells: Option<usize>,
}

/// Ingests `paths` into `store`; `report` is called once per input, in input order, after
/// its transaction committed. A file that cannot be read is reported as failed and
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

    // Workers take files in input order and the writer commits them in that order, one
    // transaction per file. Each file has a rendezvous channel, so a huge file's batches
    // wait for the writer instead of piling up in memory; since the writer always waits for
    // the lowest file not yet committed, and that file has been taken by a worker, the pipeline
    // cannot deadlock.
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, todo.len().max(1));
    let (senders, receivers): (Vec<_>, Vec<_>) = todo
        .iter()
        .map(|_| mpsc::sync_channel::<Message>(0))
        .unzip();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let senders = &senders;
        for _ in 0..jobs {
            let (todo, next, count_options) = (&todo, &next, &options.count);
            let batch_cells = options.batch_cells.unwrap_or(BATCH_CELLS).max(1);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some((path, _)) = todo.get(index) else {
                        break;
                    };
                    let sender = senders[index].clone();
                    let result =
                        count_file_in_batches(path, count_options, batch_cells, &mut |batch| {
                            let _ = sender.send(Message::Batch(batch));
                        });
                    let _ = sender.send(Message::Done(result));
                }
            });
        }
        let result = (|| -> Result<()> {
            for ((path, identity), receiver) in todo.iter().zip(&receivers) {
                let outcome = commit_one(store, path, identity, receiver, options.reingest)?;
                report(&outcome);
                outcomes.push(outcome);
            }
            Ok(())
        })();
        // On a database error, let the workers finish quickly: nobody reads their messages.
        drop(receivers);
        result
    })?;
    Ok(outcomes)
}

/// Receives one file's messages and commits them in one transaction.
fn commit_one(
    store: &mut Store,
    path: &Path,
    identity: &FileIdentity,
    receiver: &mpsc::Receiver<Message>,
    reingest: bool,
) -> Result<FileOutcome> {
    let lost = || {
        Error::Interrupted(format!(
            "{}: the parser stopped without a result",
            path.display()
        ))
    };
    let first = receiver.recv().map_err(|_| lost())?;
    if let Message::Done(Err(error)) = first {
        return Ok(FileOutcome::Failed {
            path: path.to_owned(),
            error,
        });
    }
    let Some(mut writer) = store.begin_file(identity, reingest)? else {
        // Drain the rest so the worker is not blocked.
        while let Ok(Message::Batch(_)) = receiver.recv() {}
        return Ok(FileOutcome::AlreadyIngested {
            path: path.to_owned(),
            identity: identity.clone(),
        });
    };
    let mut message = first;
    loop {
        match message {
            Message::Batch(batch) => writer.write_rows(&batch.rows, &batch.sizes)?,
            Message::Done(Err(error)) => {
                return Ok(FileOutcome::Failed {
                    path: path.to_owned(),
                    error,
                });
            }
            Message::Done(Ok((compression, counts))) => {
                writer.write_rows(&counts.rows, &counts.sizes)?;
                let outcome = writer.finish(compression.name(), &counts)?;
                return Ok(FileOutcome::Ingested {
                    path: path.to_owned(),
                    identity: identity.clone(),
                    counts: Box::new(counts),
                    replaced: outcome == CommitOutcome::Replaced,
                });
            }
        }
        message = receiver.recv().map_err(|_| lost())?;
    }
}
