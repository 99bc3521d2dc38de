//! `rpmdepot sign`, `verify` and `sign-repo`, and the signing options `createrepo` shares.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use signer::sign::{DigestAlgo, SignatureMaker, VerifyStatus};

use crate::key::KeystoreArgs;

/// Which key signs and where it lives: the local keystore or a signing service.
#[derive(Debug, Clone, Args)]
pub struct SigningArgs {
    /// Sign through this signing service (HOST:PORT or unix:PATH) instead of the keystore.
    #[arg(long, value_name = "URL")]
    signer: Option<String>,
    /// File whose first line is the signing-service token (default: env RPMDEPOT_SIGNER_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Connections to the signing service, shared by all signing threads (at least 1).
    #[arg(
        long,
        value_name = "N",
        requires = "signer",
        default_value_t = signer::service::DEFAULT_CLIENT_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    signer_connections: usize,
    /// Digest algorithm (sha256, sha384, sha512; SHA-1 is refused).
    #[arg(long, default_value = "sha256")]
    digest: String,
    #[command(flatten)]
    store: KeystoreArgs,
}

impl SigningArgs {
    /// Uses `dir` as the keystore unless the command line or environment names one.
    pub fn default_keystore(&mut self, dir: PathBuf) {
        self.store.default_dir(dir);
    }

    /// The digest algorithm.
    pub fn digest(&self) -> Result<DigestAlgo> {
        Ok(self.digest.parse()?)
    }

    /// Unlocks `key` once (keystore) or connects to the service and fetches its certificate.
    pub fn maker(&self, key: &str) -> Result<Box<dyn SignatureMaker>> {
        match &self.signer {
            Some(url) => {
                let endpoint: signer::service::Endpoint = url.parse()?;
                let token = match &self.token_file {
                    Some(path) => signer::service::read_token_file(path)?,
                    None => std::env::var("RPMDEPOT_SIGNER_TOKEN")
                        .ok()
                        .filter(|t| !t.is_empty())
                        .context("no token: --token-file or env RPMDEPOT_SIGNER_TOKEN")?,
                };
                let remote = signer::service::RemoteKey::connect_with_limit(
                    endpoint,
                    &token,
                    key,
                    self.signer_connections,
                )
                .with_context(|| format!("key {key} on signer {url}"))?;
                Ok(Box::new(remote))
            }
            None => {
                let store = self.store.open()?;
                let local = store.unlock(key, self.store.passphrase()?.as_ref())?;
                Ok(Box::new(local))
            }
        }
    }
}

/// `rpmdepot sign`: header signatures for RPM packages.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key name in the keystore (or on the signing service).
    #[arg(long)]
    key: String,
    /// Write signed packages here instead of replacing them in place.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// One JSON object per package on standard output.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    signing: SigningArgs,
    /// Packages to sign.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn progress_bar(len: usize, quiet: bool) -> ProgressBar {
    if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} packages ({per_sec}, {eta})")
            .expect("valid template"),
    );
    bar
}

/// Runs `sign`; returns 0 when every package was signed.
pub fn run_sign(args: SignArgs) -> Result<u8> {
    let digest = args.signing.digest()?;
    if let Some(dir) = &args.out_dir
        && !dir.is_dir()
    {
        bail!("--out-dir {} is not a directory", dir.display());
    }
    if args.out_dir.is_some() {
        // Two inputs with one file name would silently overwrite each other in --out-dir.
        let mut seen = std::collections::HashSet::new();
        for file in &args.files {
            if let Some(name) = file.file_name()
                && !seen.insert(name)
            {
                bail!(
                    "{} appears twice among the inputs; --out-dir would keep only one",
                    name.to_string_lossy()
                );
            }
        }
    }
    let maker = args.signing.maker(&args.key)?;
    let bar = progress_bar(args.files.len(), args.json);
    let done = AtomicU64::new(0);
    let results = signer::sign::sign_packages(
        &args.files,
        args.out_dir.as_deref(),
        maker.as_ref(),
        digest,
        &|| bar.set_position(done.fetch_add(1, Ordering::Relaxed) + 1),
    );
    bar.finish_and_clear();
    let mut failed = 0;
    for (path, result) in args.files.iter().zip(results) {
        match result {
            Ok(signed) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": path, "ok": true, "dest": signed.dest, "replaced": signed.replaced})
                    );
                } else {
                    tracing::info!("signed {}", signed.dest.display());
                }
            }
            Err(err) => {
                failed += 1;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"file": path, "ok": false, "error": err.to_string()})
                    );
                } else {
                    eprintln!("rpmdepot: error: {err}");
                }
            }
        }
    }
    if !args.json {
        eprintln!(
            "signed {} of {} packages with {}",
            args.files.len() - failed,
            args.files.len(),
            maker.cert().fingerprint()
        );
    }
    Ok(u8::from(failed > 0))
}

/// `rpmdepot verify`: check header signatures.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key file (armored or binary, may hold several keys) or a keystore key name.
    #[arg(long, required = true)]
    key: Vec<String>,
    /// One JSON object per package.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: KeystoreArgs,
    /// Packages to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `verify`; returns 0 when every package is OK.
pub fn run_verify(args: VerifyArgs) -> Result<u8> {
    let mut certs = Vec::new();
    for key in &args.key {
        if Path::new(key).is_file() {
            certs.extend(signer::sign::read_certs(Path::new(key))?);
        } else {
            certs.push(args.store.open()?.public_cert(key)?);
        }
    }
    let mut all_ok = true;
    for path in &args.files {
        let status = signer::sign::verify_package(path, &certs);
        let (word, detail) = match &status {
            Ok(VerifyStatus::Ok {
                fingerprint,
                algorithm,
            }) => ("OK", format!("{algorithm}, key {fingerprint}")),
            Ok(VerifyStatus::Bad { reason }) => ("BAD", reason.clone()),
            Ok(VerifyStatus::Unsigned { detail }) => {
                ("UNSIGNED", detail.clone().unwrap_or_default())
            }
            Ok(VerifyStatus::UnknownKey { issuer }) => ("UNKNOWN KEY", format!("issuer {issuer}")),
            Err(err) => ("ERROR", err.to_string()),
        };
        all_ok &= word == "OK";
        if args.json {
            let mut value = match &status {
                Ok(s) => serde_json::to_value(s)?,
                Err(err) => serde_json::json!({"status": "error", "reason": err.to_string()}),
            };
            value["file"] = serde_json::json!(path);
            println!("{value}");
        } else if detail.is_empty() {
            println!("{}: {word}", path.display());
        } else {
            println!("{}: {word} ({detail})", path.display());
        }
    }
    Ok(u8::from(!all_ok))
}

/// `rpmdepot sign-repo`: sign repodata/repomd.xml.
#[derive(Debug, Args)]
pub struct SignRepoArgs {
    /// Key name in the keystore (or on the signing service).
    #[arg(long)]
    key: String,
    #[command(flatten)]
    signing: SigningArgs,
    /// Repository directory (the one holding repodata/).
    repo_dir: PathBuf,
}

/// Runs `sign-repo`.
pub fn run_sign_repo(args: SignRepoArgs) -> Result<u8> {
    let maker = args.signing.maker(&args.key)?;
    let repodata = args.repo_dir.join("repodata");
    let asc = signer::sign::sign_repomd(&repodata, maker.as_ref(), args.signing.digest()?)
        .with_context(|| format!("signing {}", repodata.display()))?;
    eprintln!("wrote {} and repomd.xml.key", asc.display());
    Ok(0)
}
