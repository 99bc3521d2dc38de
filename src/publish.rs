//! `rpmdepot publish` and `rpmdepot distribute`.

use anyhow::{Context, Result, bail};
use clap::Args;
use publisher::config::parse_duration;
use publisher::publish::{MetadataSigner, materialize, publish};
use publisher::store::open_store;
use serde::Serialize;

use crate::depot::{CommonArgs, Depot, print, progress_bar};
use crate::sign::SigningArgs;

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub struct PublishArgs {
    /// Repository.
    repo: String,
    /// Version to publish (default: latest).
    #[arg(long)]
    version: Option<i64>,
    /// Also materialise the tree at STORE/PATH (file:///srv/www/repo, s3://bucket/repos/x).
    #[arg(long, value_name = "STORE/PATH")]
    to: Option<String>,
    /// With --to: keep files the new metadata no longer references this long (30s, 15m, 1h, 2d).
    #[arg(long, value_name = "AGE")]
    retain_old_md_by_age: Option<String>,
    /// Point this distribution (base path = its name) at the new publication.
    #[arg(long, value_name = "NAME")]
    distribute: Option<String>,
    /// Where the repository's signing key is (default keystore: rpmdepot.toml's `keystore`).
    #[command(flatten)]
    signing: SigningArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Signs repomd.xml with the key the repository names, from the keystore or signing service
/// the command line chooses.
struct RepomdSigner<'a> {
    signing: &'a SigningArgs,
}

impl MetadataSigner for RepomdSigner<'_> {
    fn sign_repomd(&self, key_name: &str, repomd_xml: &[u8]) -> publisher::Result<Vec<u8>> {
        let failed = |e: anyhow::Error| publisher::Error::Signing(format!("key {key_name}: {e:#}"));
        let maker = self.signing.maker(key_name).map_err(failed)?;
        let digest = self.signing.digest().map_err(failed)?;
        let mut signer = maker.crypto_signer().map_err(|e| failed(e.into()))?;
        signer::sign::sign_detached_armored(signer.as_mut(), repomd_xml, digest)
            .map_err(|e| failed(e.into()))
    }

    fn public_key(&self, key_name: &str) -> publisher::Result<Vec<u8>> {
        let failed = |e: anyhow::Error| publisher::Error::Signing(format!("key {key_name}: {e:#}"));
        let maker = self.signing.maker(key_name).map_err(failed)?;
        signer::key::armored_public(maker.cert()).map_err(|e| failed(e.into()))
    }
}

#[derive(Debug, Args)]
#[command(disable_version_flag = true)]
pub struct DistributeArgs {
    /// Distribution name; also its base path unless --base-path is given.
    name: String,
    /// Repository whose publication to serve.
    #[arg(long, required_unless_present = "delete")]
    repo: Option<String>,
    /// Publication of this version (default: the newest publication).
    #[arg(long)]
    version: Option<i64>,
    /// URL path under which it is served.
    #[arg(long)]
    base_path: Option<String>,
    /// Delete the distribution instead.
    #[arg(long)]
    delete: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Serialize)]
struct Published {
    #[serde(flatten)]
    publish: publisher::publish::PublishReport,
    tree: Option<publisher::publish::TreeReport>,
    distribution: Option<String>,
}

/// Splits `s3://bucket/a/b` or `file:///srv/x` into a store URL and a path inside it: for
/// S3 the bucket is the store, for files the whole path is.
fn split_target(target: &str) -> Result<(String, String)> {
    if let Some(rest) = target.strip_prefix("s3://") {
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        Ok((format!("s3://{bucket}"), path.trim_matches('/').to_owned()))
    } else if target.starts_with("file:///") {
        Ok((target.trim_end_matches('/').to_owned(), String::new()))
    } else {
        bail!("--to {target}: expected file:///path or s3://bucket/path")
    }
}

pub fn run_publish(mut args: PublishArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let scratch = depot.config.scratch.clone();
    args.signing.default_keystore(depot.config.keystore.clone());
    let signer = RepomdSigner {
        signing: &args.signing,
    };
    let report = publish(
        &mut depot.catalog,
        depot.store.as_ref(),
        &args.repo,
        args.version,
        Some(&signer),
        &scratch,
    )
    .with_context(|| format!("publishing {}", args.repo))?;
    let tree = match &args.to {
        Some(target) => {
            let (url, path) = split_target(target)?;
            let store = open_store(&url)?;
            let retain = match &args.retain_old_md_by_age {
                Some(age) => parse_duration(age).with_context(|| {
                    format!("--retain-old-md-by-age {age}: expected 30s, 15m, 1h, 2d")
                })?,
                None => depot.config.defaults.retain_old_md_by_age,
            };
            let bar = progress_bar(&args.common, "files");
            let tree = materialize(
                &mut depot.catalog,
                depot.store.as_ref(),
                report.publication.id,
                store.as_ref(),
                &path,
                retain,
                &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .with_context(|| format!("publishing {} to {target}", args.repo))?;
            bar.finish_and_clear();
            Some(tree)
        }
        None => None,
    };
    if let Some(name) = &args.distribute {
        depot
            .catalog
            .distribute(name, name, report.publication.id)?;
    }
    let published = Published {
        publish: report,
        tree,
        distribution: args.distribute.clone(),
    };
    print(&args.common, &published, || {
        let p = &published.publish;
        let mut text = format!(
            "publication {} of {} version {}: {} packages, {} metadata files ({} ms)",
            p.publication.id,
            p.publication.repository,
            p.publication.version,
            p.packages,
            p.metadata.len(),
            p.render_ms
        );
        if let Some(tree) = &published.tree {
            text.push_str(&format!(
                "\n{}: {} uploaded, {} unchanged, {} retired, {} deleted ({} ms)",
                tree.target,
                tree.uploaded,
                tree.unchanged,
                tree.retired,
                tree.deleted,
                tree.elapsed_ms
            ));
        }
        if let Some(name) = &published.distribution {
            text.push_str(&format!("\ndistribution {name} serves it"));
        }
        text
    })?;
    Ok(0)
}

pub fn run_distribute(args: DistributeArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    if args.delete {
        depot.catalog.delete_distribution(&args.name)?;
        print(
            &args.common,
            &serde_json::json!({"deleted": args.name}),
            || format!("deleted distribution {}", args.name),
        )?;
        return Ok(0);
    }
    let repo = args.repo.as_deref().expect("clap requires --repo");
    let publication = depot
        .catalog
        .latest_publication(repo, args.version)?
        .with_context(|| {
            format!(
                "{repo} has no publication{}; run publish first",
                args.version
                    .map(|v| format!(" of version {v}"))
                    .unwrap_or_default()
            )
        })?;
    let base_path = args.base_path.clone().unwrap_or_else(|| args.name.clone());
    depot
        .catalog
        .distribute(&args.name, &base_path, publication.id)?;
    let all = depot.catalog.distributions()?;
    let distribution = all.into_iter().find(|d| d.name == args.name);
    print(&args.common, &distribution, || {
        format!(
            "distribution {} at /{base_path}/ serves {} version {} (publication {})",
            args.name, publication.repository, publication.version, publication.id
        )
    })?;
    Ok(0)
}
