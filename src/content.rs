//! `rpmdepot add`, `remove` and `import`: each makes one new repository version.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use publisher::catalog::RepositorySettings;
use publisher::import::{ImportReport, import_dir};
use publisher::publish::{AddReport, add_files};

use crate::depot::{CommonArgs, Depot, print, progress_bar};

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Repository.
    repo: String,
    /// Package files (many builds at once make one version).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Repository.
    repo: String,
    /// Packages: name-epoch:version-release.arch, name-version-release.arch or file name.
    #[arg(required = true)]
    nevras: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An existing repository directory (e.g. a Copr chroot): every *.rpm below it. Records
    /// of its repodata are reused for packages whose file matches them (sha256 pkgid).
    dir: PathBuf,
    /// Repository to import into (created when missing).
    #[arg(long)]
    repo: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn summary(report: &AddReport) -> String {
    let uploaded = report.added.iter().filter(|a| a.uploaded).count();
    let mut text = match &report.version {
        Some(v) => format!(
            "version {} of {}: {} added, {} removed ({} packages read, {} uploaded)",
            v.number,
            v.repository,
            v.added,
            v.removed,
            report.added.len(),
            uploaded
        ),
        None => format!("nothing changed ({} packages read)", report.added.len()),
    };
    for refused in &report.refused {
        text.push_str(&format!("\nrefused: {}", refused.reason));
    }
    text
}

fn report(common: &CommonArgs, report: &AddReport) -> Result<u8> {
    print(common, report, || summary(report))?;
    Ok(if report.refused.is_empty() { 0 } else { 2 })
}

fn import_report(common: &CommonArgs, import: &ImportReport) -> Result<u8> {
    print(common, import, || {
        let mut text = format!(
            "{} records reused from the existing repodata, {} package headers read",
            import.records_reused, import.headers_read
        );
        if import.listed_but_missing > 0 {
            text.push_str(&format!(
                ", {} listed packages missing",
                import.listed_but_missing
            ));
        }
        if let Some(problem) = &import.repodata_problem {
            text.push_str(&format!("\nexisting repodata not used: {problem}"));
        }
        text.push('\n');
        text.push_str(&summary(&import.report));
        text
    })?;
    Ok(if import.report.refused.is_empty() {
        0
    } else {
        2
    })
}

pub fn run_add(args: AddArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let bar = progress_bar(&args.common, "packages");
    let result = add_files(
        &mut depot.catalog,
        depot.store.as_ref(),
        &args.repo,
        &args.files,
        &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .with_context(|| format!("adding to {}", args.repo))?;
    bar.finish_and_clear();
    report(&args.common, &result)
}

pub fn run_remove(args: RemoveArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    let version = depot.catalog.remove_packages(&args.repo, &args.nevras)?;
    if version.is_some() {
        depot.catalog.drop_old_versions(&args.repo)?;
    }
    print(&args.common, &version, || match &version {
        Some(v) => format!(
            "version {} of {}: {} removed",
            v.number, v.repository, v.removed
        ),
        None => "nothing changed".into(),
    })?;
    Ok(0)
}

pub fn run_import(args: ImportArgs) -> Result<u8> {
    let mut depot = Depot::open(&args.common)?;
    if !args.dir.is_dir() {
        bail!("{}: not a directory", args.dir.display());
    }
    if depot.catalog.repository(&args.repo).is_err() {
        let defaults = &depot.config.defaults;
        depot.catalog.create_repository(
            &args.repo,
            &RepositorySettings {
                layout: defaults.layout,
                compression: defaults.compression.clone(),
                retain_versions: defaults.retain_versions,
                signing_key: None,
            },
        )?;
    }
    let bar = progress_bar(&args.common, "packages");
    let result = import_dir(
        &mut depot.catalog,
        depot.store.as_ref(),
        &args.repo,
        &args.dir,
        &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .with_context(|| format!("importing {} into {}", args.dir.display(), args.repo))?;
    bar.finish_and_clear();
    import_report(&args.common, &result)
}
