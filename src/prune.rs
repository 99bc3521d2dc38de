//! `rpmdepot prune` and `rpmdepot gc`.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use publisher::config::parse_duration;

use crate::depot::{CommonArgs, Depot, print};

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Repository.
    repo: String,
    /// Builds to keep of each package name and arch (newest by EVR).
    #[arg(long, default_value_t = 1)]
    keep: usize,
    /// Only remove builds older than this many days (Copr: 14).
    #[arg(long, default_value_t = 14)]
    min_age: u64,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Never delete an artifact younger than this (30s, 15m, 1h, 2d).
    #[arg(long, default_value = "1h")]
    grace: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run_prune(args: PruneArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let report = publisher::prune::prune(
        &mut depot.catalog,
        &args.repo,
        args.keep,
        Duration::from_secs(args.min_age.saturating_mul(86_400)),
    )?;
    print(&args.common, &report, || match &report.version {
        Some(v) => {
            let mut text = format!(
                "version {} of {}: {} removed",
                v.number, v.repository, v.removed
            );
            for nevra in &report.removed {
                text.push_str(&format!("\n  {nevra}"));
            }
            text
        }
        None => "nothing to prune".into(),
    })?;
    Ok(0)
}

pub fn run_gc(args: GcArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let grace = parse_duration(&args.grace)
        .with_context(|| format!("--grace {}: expected 30s, 15m, 1h, 2d", args.grace))?;
    let report = publisher::prune::gc(&mut depot.catalog, depot.store.as_ref(), grace)?;
    print(&args.common, &report, || {
        format!(
            "{} artifacts: {} referenced, {} younger than {}, {} deleted ({} bytes freed)",
            report.artifacts,
            report.referenced,
            report.young,
            args.grace,
            report.deleted,
            report.bytes_freed
        )
    })?;
    Ok(0)
}
