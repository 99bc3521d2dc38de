//! `rpmdepot key`: generate, list, export, extend and revoke keys in the keystore, and the
//! keystore/passphrase options every signing command shares.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use signer::Password;
use signer::key::{DEFAULT_UID_TEMPLATE, expand_uid, parse_validity};
use signer::{KeyAlgo, KeyInfo, Keystore};

/// Where the keystore is and how to unlock it.
#[derive(Debug, Clone, Args)]
pub struct KeystoreArgs {
    /// Keystore directory (default: env RPMDEPOT_KEYSTORE, else ~/.local/share/rpmdepot/keystore).
    #[arg(long, value_name = "DIR")]
    keystore: Option<PathBuf>,
    /// File whose first line is the key passphrase (default: env RPMDEPOT_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

impl KeystoreArgs {
    /// Uses `dir` (rpmdepot.toml's keystore) when neither --keystore nor RPMDEPOT_KEYSTORE
    /// names one.
    pub fn default_dir(&mut self, dir: PathBuf) {
        let from_env = std::env::var_os("RPMDEPOT_KEYSTORE").is_some_and(|d| !d.is_empty());
        if self.keystore.is_none() && !from_env {
            self.keystore = Some(dir);
        }
    }

    /// The keystore directory.
    pub fn dir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.keystore {
            return Ok(dir.clone());
        }
        if let Some(dir) = std::env::var_os("RPMDEPOT_KEYSTORE").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .context("no keystore: pass --keystore or set RPMDEPOT_KEYSTORE")?;
        Ok(data.join("rpmdepot/keystore"))
    }

    /// Opens the keystore.
    pub fn open(&self) -> Result<Keystore> {
        let dir = self.dir()?;
        Keystore::open(&dir).with_context(|| format!("keystore {}", dir.display()))
    }

    /// The passphrase from --passphrase-file or RPMDEPOT_PASSPHRASE, if any.
    pub fn passphrase(&self) -> Result<Option<Password>> {
        if let Some(path) = &self.passphrase_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading passphrase file {}", path.display()))?;
            let line = text.lines().next().unwrap_or("");
            if line.is_empty() {
                bail!("passphrase file {} is empty", path.display());
            }
            return Ok(Some(Password::from(line)));
        }
        Ok(std::env::var("RPMDEPOT_PASSPHRASE")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Password::from))
    }
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a key (RSA-4096, 5 years by default) for OWNER/PROJECT.
    Generate {
        /// Key name, usually OWNER/PROJECT.
        #[arg(long)]
        name: String,
        /// rsa4096, rsa3072 or ed25519.
        #[arg(long, default_value = "rsa4096")]
        algo: String,
        /// Validity: 5y, 18m, 90d, or never.
        #[arg(long, default_value = "5y")]
        expire: String,
        /// User ID template; {owner}, {project}, {name} and {host} are replaced.
        #[arg(long, default_value = DEFAULT_UID_TEMPLATE)]
        uid: String,
        /// Host for {host} (default: this machine's host name).
        #[arg(long)]
        host: Option<String>,
        /// Store the secret key unencrypted (throwaway keys only).
        #[arg(long)]
        no_passphrase: bool,
        /// Print the key as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys: fingerprint, algorithm, created, expires, name.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Print the armored public key.
    Export {
        /// Key name.
        name: String,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Extend the expiry (new binding signatures, same fingerprint).
    Extend {
        /// Key name.
        name: String,
        /// How much longer: 5y, 18m, 90d.
        #[arg(long, default_value = "5y")]
        by: String,
    },
    /// Revoke a key; it stays exportable but signs nothing more.
    Revoke {
        /// Key name.
        name: String,
    },
}

/// `rpmdepot key ...`
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
    #[command(flatten)]
    store: KeystoreArgs,
}

fn day(secs: u64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn print_info(name: &str, info: &KeyInfo) {
    println!(
        "{}  {:<8} created {}  expires {}{}  {name}",
        info.fingerprint,
        info.algo,
        day(info.created),
        info.expires.map_or_else(|| "never     ".to_string(), day),
        if info.revoked { "  REVOKED" } else { "" }
    );
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Runs `key`; returns the exit code.
pub fn run(args: KeyArgs) -> Result<u8> {
    let store = args.store.open()?;
    match args.command {
        KeyCommand::Generate {
            name,
            algo,
            expire,
            uid,
            host,
            no_passphrase,
            json,
        } => {
            let algo: KeyAlgo = algo.parse()?;
            let validity = parse_validity(&expire)?;
            let passphrase = args.store.passphrase()?;
            if passphrase.is_none() && !no_passphrase {
                bail!(
                    "no passphrase: set RPMDEPOT_PASSPHRASE or --passphrase-file \
                     (or --no-passphrase for a throwaway key)"
                );
            }
            if passphrase.is_some() && no_passphrase {
                bail!("--no-passphrase given but a passphrase is set");
            }
            let uid = expand_uid(&uid, &name, &host.unwrap_or_else(host_name));
            let info = store
                .generate(&name, &uid, algo, validity, passphrase.as_ref())
                .with_context(|| format!("generating key {name}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_info(&name, &info);
            }
        }
        KeyCommand::List { json } => {
            let keys = store.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for key in &keys {
                    print_info(&key.name, &key.info);
                }
            }
        }
        KeyCommand::Export { name, output } => {
            let cert = store.public_cert(&name)?;
            let armored = signer::key::armored_public(&cert)?;
            match output {
                Some(path) => signer::keystore::write_atomic(&path, &armored, 0o644)?,
                None => std::io::stdout().write_all(&armored)?,
            }
        }
        KeyCommand::Extend { name, by } => {
            let by = parse_validity(&by)?.context("--by needs a duration, not never")?;
            let info = store.extend(&name, by, args.store.passphrase()?.as_ref())?;
            print_info(&name, &info);
        }
        KeyCommand::Revoke { name } => {
            let info = store.revoke(&name, args.store.passphrase()?.as_ref())?;
            print_info(&name, &info);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::day(0), "1970-01-01");
        assert_eq!(super::day(1_700_000_000), "2023-11-14");
    }
}
