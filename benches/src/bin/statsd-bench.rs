//! statsd throughput tool: writes synthetic logs and counts them, printing lines per CPU
//! second (user + system time of this process, so other load on the machine does not count).
//!
//! ```text
//! statsd-bench gen --format cloudfront|combined --lines N [--seed S] OUT
//! statsd-bench count FILE [--db DB]
//! ```
//! `count` without `--db` parses and counts on one thread (cells handed out in batches and
//! dropped, as ingest hands them to the writer); with `--db` it runs the whole
//! ingest (identity hash, parse, SQLite commit) like `rpmdepot stats ingest --jobs 1`.

use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use rpmdepot_benches::logs::{LogFormat, write_log};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Cloudfront,
    Combined,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a synthetic log.
    Gen {
        #[arg(long, value_enum)]
        format: Format,
        #[arg(long)]
        lines: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        out: PathBuf,
    },
    /// Count a log and print lines per CPU second.
    Count {
        file: PathBuf,
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Gen {
            format,
            lines,
            seed,
            out,
        } => {
            let file = std::fs::File::create(&out).with_context(|| format!("{}", out.display()))?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let format = match format {
                Format::Cloudfront => LogFormat::CloudFront,
                Format::Combined => LogFormat::Combined,
            };
            write_log(format, seed, lines, &mut writer)?;
            std::io::Write::flush(&mut writer)?;
        }
        Command::Count { file, db } => {
            let (wall, cpu) = (Instant::now(), cpu_seconds());
            let (lines, downloads) = match db {
                None => {
                    // Batches are dropped, as the writer would take them: memory as in ingest.
                    let (_, counts) = statsd::ingest::count_file_in_batches(
                        &file,
                        &statsd::CountOptions::default(),
                        statsd::tally::BATCH_CELLS,
                        &mut drop,
                    )?;
                    (counts.lines, counts.downloads())
                }
                Some(db) => {
                    let mut store = statsd::Store::open(&db)?;
                    let options = statsd::IngestOptions {
                        jobs: Some(1),
                        ..Default::default()
                    };
                    let outcomes =
                        statsd::ingest(&mut store, std::slice::from_ref(&file), &options, |_| {})?;
                    match outcomes.into_iter().next() {
                        Some(statsd::FileOutcome::Ingested { counts, .. }) => {
                            (counts.lines, counts.downloads())
                        }
                        other => bail!("{}: not ingested: {other:?}", file.display()),
                    }
                }
            };
            let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
            println!(
                "lines={lines} downloads={downloads} cpu_s={cpu:.3} wall_s={wall:.3} lines_per_cpu_s={:.0}",
                lines as f64 / cpu.max(1e-9)
            );
        }
    }
    Ok(())
}
