//! `gen-corpus`: writes a deterministic corpus of real RPM packages for benchmarks.
//!
//! The same `--packages` and `--seed` always give byte-identical files with the same
//! modification times, whatever the number of threads.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use rayon::prelude::*;
use rpmdepot_benches::Corpus;

/// Write a deterministic corpus of RPM packages into OUT_DIR.
#[derive(Debug, Parser)]
#[command(name = "gen-corpus")]
struct Args {
    /// Corpus size N: the number of packages, which also fixes the names (about N/3).
    #[arg(long)]
    packages: u64,
    /// Seed: the same N and seed give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Multiply every ordinary package's payload by this (the corpus is otherwise the same).
    #[arg(long, default_value_t = 1.0)]
    payload_scale: f64,
    /// First package index to write. Indices from N on are further versions of the corpus's
    /// names, for "a package was added" scenarios.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// How many packages to write from --first [default: up to N].
    #[arg(long)]
    count: Option<u64>,
    /// Threads [default: one per core].
    #[arg(long)]
    jobs: Option<usize>,
    /// Print the path of every written package, relative to OUT_DIR, on stdout.
    #[arg(long)]
    list: bool,
    /// Directory to write into (created if missing; files of the same name are replaced).
    out_dir: PathBuf,
}

/// What one written package adds to the summary.
struct Written {
    index: u64,
    path: String,
    bytes: u64,
    duplicate: bool,
    source: bool,
}

fn write_package(corpus: &Corpus, index: u64, out_dir: &Path) -> Result<Written> {
    let spec = corpus.spec(index);
    let bytes = spec.build();
    let path = out_dir.join(&spec.relative_path);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    file.set_modified(UNIX_EPOCH + Duration::from_secs(spec.mtime()))
        .with_context(|| format!("setting the mtime of {}", path.display()))?;
    Ok(Written {
        index,
        path: spec.relative_path,
        bytes: bytes.len() as u64,
        duplicate: spec.duplicate_of.is_some(),
        source: spec.is_source,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.packages == 0 {
        bail!("--packages must be at least 1");
    }
    let count = match args.count {
        Some(count) => count,
        None => args.packages.saturating_sub(args.first),
    };
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global()
            .context("starting the thread pool")?;
    }
    fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    if !(args.payload_scale.is_finite() && args.payload_scale > 0.0) {
        bail!("--payload-scale must be a positive number");
    }
    let corpus = Corpus::new(args.packages, args.seed).with_payload_scale(args.payload_scale);
    let started = Instant::now();
    let mut written: Vec<Written> = (args.first..args.first + count)
        .into_par_iter()
        .map(|index| write_package(&corpus, index, &args.out_dir))
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();
    written.sort_by_key(|w| w.index);
    if args.list {
        let mut stdout = std::io::stdout().lock();
        for w in &written {
            writeln!(stdout, "{}", w.path)?;
        }
    }
    let total: u64 = written.iter().map(|w| w.bytes).sum();
    let duplicates = written.iter().filter(|w| w.duplicate).count();
    let sources = written.iter().filter(|w| w.source).count();
    eprintln!(
        "gen-corpus: wrote {} packages ({} bytes, {:.2} GiB; {} rebuilds of an existing NEVRA, \
         {} source packages) to {} in {:.1} s",
        written.len(),
        total,
        total as f64 / (1u64 << 30) as f64,
        duplicates,
        sources,
        args.out_dir.display(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
