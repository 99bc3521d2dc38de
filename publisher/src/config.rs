//! `rpmdepot.toml`: where the store, the catalog and the keystore are, and defaults for new
//! repositories. Without a file, everything lives in `./rpmdepot-data/`.
//!
//! Must not: open anything (callers open the store and the catalog from the paths here).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The configuration used when no file exists.
pub const DEFAULT_CONFIG: &str = r#"# rpmdepot configuration. Relative paths are relative to this file.
# Content store: file:///absolute/path or s3://bucket/prefix (endpoint, region and credentials
# come from the standard AWS environment variables or ~/.aws).
store = "rpmdepot-data/store"
catalog = "rpmdepot-data/catalog.sqlite"
keystore = "rpmdepot-data/keys"
scratch = "rpmdepot-data/tmp"

[defaults]
layout = "nested"            # Packages/<first letter>/ (Pulp's default) or "flat"
compression = "zstd"         # primary/filelists/other: zstd, gz, xz, bz2, none
retain_versions = 10         # repository versions kept besides served ones
retain_old_md_by_age = "1h"  # how long a published tree keeps superseded files
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: String,
    catalog: String,
    keystore: Option<String>,
    scratch: Option<String>,
    #[serde(default)]
    defaults: RawDefaults,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    layout: Option<String>,
    compression: Option<String>,
    retain_versions: Option<i64>,
    retain_old_md_by_age: Option<String>,
}

/// Defaults for new repositories and publishes.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub layout: crate::catalog::Layout,
    pub compression: String,
    pub retain_versions: i64,
    pub retain_old_md_by_age: Duration,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (`None`: the embedded default).
    pub source: Option<PathBuf>,
    /// Store URL.
    pub store: String,
    /// Catalog database.
    pub catalog: PathBuf,
    /// Signing keys (used by the signer).
    pub keystore: PathBuf,
    /// Scratch space for publishing.
    pub scratch: PathBuf,
    pub defaults: Defaults,
}

/// Parses `30s`, `15m`, `1h`, `2d` or plain seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

impl Config {
    /// Loads `path`, or `./rpmdepot.toml` when it exists, or the embedded default.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
        let (text, source, base) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                let base = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| cwd.join(p))
                    .unwrap_or_else(|| cwd.clone());
                (text, Some(path.to_owned()), base)
            }
            None => {
                let default = cwd.join("rpmdepot.toml");
                match std::fs::read_to_string(&default) {
                    Ok(text) => (text, Some(default), cwd.clone()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (DEFAULT_CONFIG.to_owned(), None, cwd.clone())
                    }
                    Err(e) => return Err(Error::io(&default, e)),
                }
            }
        };
        Config::parse(&text, source, &base)
    }

    fn parse(text: &str, source: Option<PathBuf>, base: &Path) -> Result<Config> {
        let where_ = source
            .clone()
            .unwrap_or_else(|| PathBuf::from("(built-in rpmdepot.toml)"));
        let bad = |message: String| Error::Config {
            path: where_.clone(),
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let resolve = |p: &str| base.join(p);
        let store = if raw.store.contains("://") {
            raw.store.clone()
        } else {
            format!("file://{}", resolve(&raw.store).display())
        };
        let layout =
            crate::catalog::Layout::parse(raw.defaults.layout.as_deref().unwrap_or("nested"))
                .map_err(|e| bad(e.to_string()))?;
        let compression = raw.defaults.compression.unwrap_or_else(|| "zstd".into());
        compression
            .parse::<repo_core::Compression>()
            .map_err(|e| bad(format!("compression: {e}")))?;
        let retain = raw
            .defaults
            .retain_old_md_by_age
            .unwrap_or_else(|| "1h".into());
        Ok(Config {
            source,
            store,
            catalog: resolve(&raw.catalog),
            keystore: resolve(raw.keystore.as_deref().unwrap_or("rpmdepot-data/keys")),
            scratch: resolve(raw.scratch.as_deref().unwrap_or("rpmdepot-data/tmp")),
            defaults: Defaults {
                layout,
                compression,
                retain_versions: raw.defaults.retain_versions.unwrap_or(10),
                retain_old_md_by_age: parse_duration(&retain)
                    .ok_or_else(|| bad(format!("retain_old_md_by_age: bad duration {retain:?}")))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_default_puts_everything_in_rpmdepot_data() {
        let config = Config::parse(DEFAULT_CONFIG, None, Path::new("/srv")).unwrap();
        assert_eq!(config.store, "file:///srv/rpmdepot-data/store");
        assert_eq!(
            config.catalog,
            Path::new("/srv/rpmdepot-data/catalog.sqlite")
        );
        assert_eq!(
            config.defaults.retain_old_md_by_age,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = Config::parse("store = 1", Some("x.toml".into()), Path::new("/")).unwrap_err();
        assert!(err.to_string().starts_with("x.toml:"), "{err}");
        let text = DEFAULT_CONFIG.replace("\"1h\"", "\"soon\"");
        assert!(Config::parse(&text, None, Path::new("/")).is_err());
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1w"), None);
    }
}
