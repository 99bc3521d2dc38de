//! `rpmdepot signer serve`: run the digest-only signing service over the keystore.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use signer::service::{AuditSink, Endpoint, SignerService, parse_tokens};

use crate::key::KeystoreArgs;

#[derive(Debug, Subcommand)]
enum SignerCommand {
    /// Serve signatures over digests to token holders.
    Serve {
        /// HOST:PORT or unix:PATH.
        #[arg(long)]
        listen: String,
        /// Token file: one `LABEL TOKEN KEY[,KEY...]` per line (KEY may be `*` or `OWNER/*`).
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
        /// Append audit lines here (default: standard error).
        #[arg(long, value_name = "FILE")]
        audit_log: Option<PathBuf>,
        /// Serve only these keys (default: every usable key in the keystore).
        #[arg(long = "key", value_name = "NAME")]
        keys: Vec<String>,
        #[command(flatten)]
        store: KeystoreArgs,
    },
}

/// `rpmdepot signer ...`
#[derive(Debug, Args)]
pub struct SignerArgs {
    #[command(subcommand)]
    command: SignerCommand,
}

/// Runs the service until killed.
pub fn run(args: SignerArgs) -> Result<u8> {
    let SignerCommand::Serve {
        listen,
        tokens,
        audit_log,
        keys,
        store,
    } = args.command;
    let endpoint: Endpoint = listen.parse()?;
    let grants = parse_tokens(
        &std::fs::read_to_string(&tokens)
            .with_context(|| format!("reading token file {}", tokens.display()))?,
    )
    .with_context(|| format!("token file {}", tokens.display()))?;
    let keystore = store.open()?;
    let passphrase = store.passphrase()?;
    let names: Vec<String> = if keys.is_empty() {
        keystore.list()?.into_iter().map(|k| k.name).collect()
    } else {
        keys.clone()
    };
    let mut unlocked = Vec::new();
    for name in names {
        match keystore.unlock(&name, passphrase.as_ref()) {
            Ok(key) => unlocked.push(key),
            Err(err) if keys.is_empty() => tracing::warn!("not serving {name}: {err}"),
            Err(err) => return Err(err.into()),
        }
    }
    if unlocked.is_empty() {
        bail!("no usable key to serve");
    }
    let audit: AuditSink = match &audit_log {
        Some(path) => Arc::new(Mutex::new(Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("audit log {}", path.display()))?,
        ))),
        None => Arc::new(Mutex::new(Box::new(std::io::stderr()))),
    };
    let count = unlocked.len();
    let service = Arc::new(SignerService::new(unlocked, grants, audit));
    service.serve(&endpoint, |addr| {
        eprintln!("rpmdepot signer: serving {count} keys on {addr}");
        let _ = std::io::stderr().flush();
    })?;
    Ok(0)
}
