//! `rpmdepot serve`: distributions over HTTP from the catalog's store.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Args;
use publisher::serve::{AccessLog, ServeOptions, serve};

use crate::depot::{CommonArgs, Depot};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Answer package requests with a 302 to a presigned store URL (S3 stores).
    #[arg(long)]
    redirect: bool,
    /// Append the access log (combined format) to this file instead of stdout.
    #[arg(long)]
    access_log: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let depot = Depot::open(&args.common)?;
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let log: Box<dyn Write + Send> = match &args.access_log {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let log: AccessLog = Arc::new(Mutex::new(log));
    eprintln!("serving {} on http://{address}/", depot.store.url());
    serve(
        listener,
        Arc::from(depot.store),
        ServeOptions {
            catalog: depot.config.catalog.clone(),
            redirect: args.redirect,
        },
        log,
    )?;
    Ok(0)
}
