//! What every content command shares: `--config`/`--json`/`-v`, loading `rpmdepot.toml`,
//! opening the catalog and the active store, progress bars and printing.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{ArgAction, Args};
use indicatif::{ProgressBar, ProgressStyle};
use publisher::catalog::Catalog;
use publisher::config::Config;
use publisher::store::{BlobStore, open_store};
use serde::Serialize;

/// Options of every content command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Configuration file (default: $RPMDEPOT_CONFIG, else ./rpmdepot.toml, else everything
    /// in ./rpmdepot-data/).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More logging (repeatable).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

impl CommonArgs {
    /// Log verbosity for `init_logging`.
    pub fn verbosity(&self) -> i8 {
        self.verbose.min(2) as i8
    }
}

/// The loaded configuration, the catalog and its active store.
pub struct Depot {
    pub config: Config,
    pub catalog: Catalog,
    pub store: Box<dyn BlobStore>,
}

impl Depot {
    /// Loads the configuration and opens the catalog and the store the catalog names (the
    /// configured one the first time; `migrate --switch` changes it).
    pub fn open(common: &CommonArgs) -> Result<Depot> {
        let path = common
            .config
            .clone()
            .or_else(|| std::env::var_os("RPMDEPOT_CONFIG").map(PathBuf::from));
        let config = Config::load(path.as_deref())?;
        let catalog = Catalog::open(&config.catalog)
            .with_context(|| format!("opening the catalog {}", config.catalog.display()))?;
        let url = match catalog.setting("store")? {
            Some(url) => {
                if url != config.store {
                    tracing::info!(
                        "the catalog's store is {url} (the configuration says {}; migrate --switch changed it)",
                        config.store
                    );
                }
                url
            }
            None => {
                catalog.set_setting("store", &config.store)?;
                config.store.clone()
            }
        };
        let store = open_store(&url).with_context(|| format!("opening the store {url}"))?;
        Ok(Depot {
            config,
            catalog,
            store,
        })
    }
}

/// A progress bar on stderr when it is a terminal and output is not JSON.
pub fn progress_bar(common: &CommonArgs, what: &str) -> ProgressBar {
    if std::io::stderr().is_terminal() && !common.json {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}})"
            ))
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// Prints `value` as JSON when asked, else the human text.
pub fn print<T: Serialize>(
    common: &CommonArgs,
    value: &T,
    human: impl FnOnce() -> String,
) -> Result<()> {
    if common.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let text = human();
        if !text.is_empty() {
            println!("{text}");
        }
    }
    Ok(())
}
