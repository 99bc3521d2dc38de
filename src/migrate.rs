//! `rpmdepot migrate`: copy every artifact to another store, verified and resumable.

use anyhow::{Context, Result};
use clap::Args;
use publisher::store::open_store;

use crate::depot::{CommonArgs, Depot, print, progress_bar};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Source store URL (default: the catalog's store).
    #[arg(long)]
    from: Option<String>,
    /// Destination store URL (file:///path or s3://bucket/prefix).
    #[arg(long)]
    to: String,
    /// Parallel copies.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// After a complete, verified copy, make the destination the catalog's store.
    #[arg(long)]
    switch: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: MigrateArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let from = match &args.from {
        Some(url) => open_store(url).with_context(|| format!("opening {url}"))?,
        None => open_store(&depot.store.url())?,
    };
    let to = open_store(&args.to).with_context(|| format!("opening {}", args.to))?;
    let bar = progress_bar(&args.common, "artifacts");
    let report = publisher::migrate::migrate(
        &mut depot.catalog,
        from.as_ref(),
        to.as_ref(),
        args.jobs,
        args.switch,
        &|done, total, bytes| {
            bar.set_length(total);
            bar.set_position(done);
            bar.set_message(format!("{} MiB", bytes >> 20));
        },
    )?;
    bar.finish_and_clear();
    let secs = (report.elapsed_ms as f64 / 1000.0).max(0.001);
    print(&args.common, &report, || {
        let mut text = format!(
            "{} -> {}: {} artifacts, {} copied, {} already there, {} repaired, {} skipped (verified earlier), {} failed; {:.1} MiB in {:.1} s ({:.1} MiB/s){}",
            report.from,
            report.to,
            report.artifacts,
            report.copied,
            report.already_there,
            report.repaired,
            report.skipped,
            report.failed.len(),
            report.bytes_copied as f64 / 1048576.0,
            secs,
            report.bytes_copied as f64 / 1048576.0 / secs,
            if report.switched {
                "; the catalog now uses the destination"
            } else {
                ""
            }
        );
        for failure in &report.failed {
            text.push_str(&format!("\nfailed {}: {}", failure.sha256, failure.reason));
        }
        text
    })?;
    Ok(if report.failed.is_empty() { 0 } else { 2 })
}
