//! `rpmdepot repo create|list|show|delete`: repositories in the catalog.

use anyhow::Result;
use clap::{Args, Subcommand};
use publisher::catalog::{Layout, RepositorySettings};
use serde::Serialize;

use crate::depot::{CommonArgs, Depot, print};

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub struct RepoArgs {
    #[command(subcommand)]
    action: RepoAction,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum RepoAction {
    /// Create a repository (with its empty version 0).
    Create {
        /// Name, e.g. owner/project/fedora-43-x86_64.
        name: String,
        /// Package layout: nested (Packages/<letter>/) or flat.
        #[arg(long)]
        layout: Option<String>,
        /// Metadata compression: zstd, gz, xz, bz2, none.
        #[arg(long)]
        compression: Option<String>,
        /// Versions to keep besides those a distribution serves.
        #[arg(long)]
        retain_versions: Option<i64>,
        /// Key that signs repomd.xml (from the signer's keystore).
        #[arg(long)]
        signing_key: Option<String>,
    },
    /// List repositories.
    List,
    /// Show a repository, its versions and its latest content.
    Show {
        name: String,
        /// Version to list the content of (default: latest).
        #[arg(long)]
        version: Option<i64>,
    },
    /// Delete a repository (its content stays until gc).
    Delete { name: String },
}

#[derive(Serialize)]
struct Shown {
    repository: publisher::catalog::Repository,
    versions: Vec<publisher::catalog::RepoVersion>,
    content: Vec<publisher::catalog::ContentUnit>,
}

pub fn run(args: RepoArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let common = &args.common;
    match args.action {
        RepoAction::Create {
            name,
            layout,
            compression,
            retain_versions,
            signing_key,
        } => {
            let defaults = &depot.config.defaults;
            let settings = RepositorySettings {
                layout: match layout {
                    Some(l) => Layout::parse(&l)?,
                    None => defaults.layout,
                },
                compression: compression.unwrap_or_else(|| defaults.compression.clone()),
                retain_versions: retain_versions.unwrap_or(defaults.retain_versions),
                signing_key,
            };
            let repo = depot.catalog.create_repository(&name, &settings)?;
            print(common, &repo, || format!("created {}", repo.name))?;
        }
        RepoAction::List => {
            let repos = depot.catalog.repositories()?;
            print(common, &repos, || {
                repos
                    .iter()
                    .map(|r| format!("{}\tversion {}", r.name, r.latest_version))
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
        RepoAction::Show { name, version } => {
            let repository = depot.catalog.repository(&name)?;
            let versions = depot.catalog.versions(&name)?;
            let number = version.unwrap_or(repository.latest_version);
            let content = depot.catalog.content(&name, number)?;
            let shown = Shown {
                repository,
                versions,
                content,
            };
            print(common, &shown, || {
                let mut out = format!(
                    "{} (layout {}, compression {}, versions {}..={})\n",
                    shown.repository.name,
                    shown.repository.layout.name(),
                    shown.repository.compression,
                    shown.repository.first_version,
                    shown.repository.latest_version
                );
                out.push_str(&format!(
                    "version {number}: {} packages\n",
                    shown.content.len()
                ));
                for unit in &shown.content {
                    out.push_str(&format!("  {}\n", unit.nevra));
                }
                out.trim_end().to_owned()
            })?;
        }
        RepoAction::Delete { name } => {
            depot.catalog.delete_repository(&name)?;
            print(common, &serde_json::json!({ "deleted": name }), || {
                format!("deleted {name}")
            })?;
        }
    }
    Ok(0)
}
