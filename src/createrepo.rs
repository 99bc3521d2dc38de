//! `rpmdepot createrepo`: createrepo_c's options, mapped onto `repo_core::createrepo`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use repo_core::{
    ChangelogLimit, ChecksumType, Compression, CreaterepoOptions, DuplicatePolicy, Retention,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DuplicatedNevra {
    /// Keep every package (the default).
    Keep,
    /// Keep only the newest build (highest build time, then last location).
    KeepLast,
}

/// Options follow createrepo_c's names, defaults and meaning.
#[derive(Debug, Args)]
pub struct CreaterepoArgs {
    /// Directory with the packages.
    directory: PathBuf,
    /// Where to write repodata/ (defaults to the input directory).
    #[arg(short = 'o', long)]
    outputdir: Option<PathBuf>,
    /// Base URL written as xml:base of every package location.
    #[arg(short = 'u', long)]
    baseurl: Option<String>,
    /// Prefix prepended to every package location.
    #[arg(long)]
    location_prefix: Option<String>,
    /// Glob of files to exclude (repeatable).
    #[arg(short = 'x', long = "excludes", value_name = "GLOB")]
    excludes: Vec<String>,
    /// File with repository-relative paths of the packages to include (no directory walk).
    #[arg(short = 'i', long)]
    pkglist: Option<PathBuf>,
    /// Repository-relative path of a package to include (repeatable; no directory walk).
    #[arg(short = 'n', long = "includepkg", value_name = "PATH")]
    includepkg: Vec<String>,
    /// Skip symlinked packages.
    #[arg(short = 'S', long)]
    skip_symlinks: bool,
    /// Checksum for package ids and metadata (sha224, sha256, sha384, sha512).
    #[arg(short = 's', long, default_value = "sha256")]
    checksum: String,
    /// Checksum for repomd.xml records (defaults to --checksum).
    #[arg(long)]
    repomd_checksum: Option<String>,
    /// Compression of every metadata file (gz, bz2, xz, zstd, none).
    #[arg(long)]
    general_compress_type: Option<String>,
    /// Compression of sqlite databases and other metadata (gz, bz2, xz, zstd, none).
    #[arg(long)]
    compress_type: Option<String>,
    /// Same as --compress-type xz.
    #[arg(long)]
    xz: bool,
    /// Also write sqlite databases.
    #[arg(short = 'd', long, overrides_with = "no_database")]
    database: bool,
    /// Do not write sqlite databases.
    #[arg(long)]
    no_database: bool,
    /// Number of changelog entries per package (-1 for all).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    changelog_limit: i64,
    /// Revision written to repomd.xml (default: the current time).
    #[arg(long)]
    revision: Option<String>,
    /// Use --revision as every timestamp and file mtime (bit-identical repodata).
    #[arg(long)]
    set_timestamp_to_revision: bool,
    /// Distro tag "cpeid,name" or "name" (repeatable).
    #[arg(long)]
    distro: Vec<String>,
    /// Content tag (repeatable).
    #[arg(long)]
    content: Vec<String>,
    /// Repo tag (repeatable).
    #[arg(long)]
    repo: Vec<String>,
    /// Name metadata files <checksum>-<name> (the default).
    #[arg(long, overrides_with = "simple_md_filenames")]
    unique_md_filenames: bool,
    /// Name metadata files without checksum prefix.
    #[arg(long)]
    simple_md_filenames: bool,
    /// Also write filelists-ext.xml with per-file digests.
    #[arg(long)]
    filelists_ext: bool,
    /// comps group file to include.
    #[arg(short = 'g', long)]
    groupfile: Option<PathBuf>,
    /// Keep old metadata files younger than AGE (N, Nm, Nh, Nd).
    #[arg(long, value_name = "AGE")]
    retain_old_md_by_age: Option<String>,
    /// Threads reading packages (default: number of cores).
    #[arg(long)]
    workers: Option<usize>,
    /// What to do with packages that share a NEVRA.
    #[arg(long, value_enum)]
    duplicated_nevra: Option<DuplicatedNevra>,
    /// Behave like classic createrepo: gz compression, sqlite on, uncompressed groupfile.
    #[arg(long)]
    compatibility: bool,
    /// Reuse the metadata of unchanged packages (same path, size and mtime).
    #[arg(long)]
    update: bool,
    /// With --update, trust the path alone (no stat of unchanged packages).
    #[arg(long)]
    skip_stat: bool,
    /// With --update, also reuse packages known to this repository's cache (repeatable).
    #[arg(long, value_name = "PATH")]
    update_md_path: Vec<PathBuf>,
    /// With --update, take the package list from the previous run instead of walking
    /// (add with --pkglist/--includepkg, remove with --excludes).
    #[arg(long)]
    recycle_pkglist: bool,
    /// Directory of the package cache (default: OUTPUTDIR/.rpmdepot).
    #[arg(short = 'c', long)]
    cachedir: Option<PathBuf>,
    /// Keep additional metadata (comps, updateinfo, modules) on --update (the default).
    #[arg(long, overrides_with = "discard_additional_metadata")]
    keep_all_metadata: bool,
    /// Drop additional metadata of the old repodata on --update.
    #[arg(long)]
    discard_additional_metadata: bool,
    /// Remove a stale .repodata/ lock left by a dead run.
    #[arg(long)]
    ignore_lock: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    json: bool,
    /// Sign repodata/repomd.xml with this key (repomd.xml.asc + repomd.xml.key) before the
    /// new repodata replaces the old.
    #[arg(long, value_name = "NAME")]
    sign_key: Option<String>,
    #[command(flatten)]
    signing: crate::sign::SigningArgs,
    /// Only print errors.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print more (repeat for debug output).
    #[arg(short = 'v', long, action = ArgAction::Count)]
    verbose: u8,
}

impl CreaterepoArgs {
    /// -q → -1, default 0, -v → 1, -vv → 2.
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(2) as i8
        }
    }
}

/// Parses createrepo_c's age syntax: a number of seconds, or N with an m/h/d suffix.
fn parse_age(text: &str) -> Result<Duration> {
    let (number, unit) = match text.char_indices().last() {
        Some((i, c @ ('m' | 'h' | 'd'))) => (&text[..i], c),
        _ => (text, 's'),
    };
    let value: u64 = number
        .parse()
        .with_context(|| format!("bad --retain-old-md-by-age {text:?}"))?;
    let seconds = match unit {
        'm' => value * 60,
        'h' => value * 3600,
        'd' => value * 86400,
        _ => value,
    };
    Ok(Duration::from_secs(seconds))
}

fn options(args: &CreaterepoArgs) -> Result<CreaterepoOptions> {
    let checksum: ChecksumType = args.checksum.parse()?;
    let repomd_checksum = args
        .repomd_checksum
        .as_deref()
        .map(str::parse::<ChecksumType>)
        .transpose()?;
    // createrepo_c: zstd everywhere by default, bz2 for databases; --compatibility → gz;
    // --compress-type for non-XML files; --general-compress-type for everything.
    let mut xml = if args.compatibility {
        Compression::Gz
    } else {
        Compression::Zstd
    };
    let mut sqlite = Compression::Bz2;
    let mut other = xml;
    let compress_type = if args.xz {
        Some("xz")
    } else {
        args.compress_type.as_deref()
    };
    if let Some(name) = compress_type {
        sqlite = name.parse()?;
        other = sqlite;
    }
    if let Some(name) = &args.general_compress_type {
        xml = name.parse()?;
        sqlite = xml;
        other = xml;
    }
    if args.compatibility && args.groupfile.is_some() {
        other = Compression::None;
    }
    let changelog_limit = match args.changelog_limit {
        -1 => ChangelogLimit::All,
        n if n < -1 => {
            tracing::warn!("wrong changelog limit {n}, using 10");
            ChangelogLimit::Newest(10)
        }
        n => ChangelogLimit::Newest(u32::try_from(n).unwrap_or(u32::MAX)),
    };
    let workers = match args.workers {
        Some(n) if (1..=100).contains(&n) => n,
        Some(n) => bail!("--workers must be between 1 and 100, got {n}"),
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let retention = match &args.retain_old_md_by_age {
        Some(age) => Retention::ByAge(parse_age(age)?),
        None => Retention::DropReferenced,
    };
    let input_dir = std::path::absolute(&args.directory)
        .with_context(|| format!("bad directory {}", args.directory.display()))?;
    Ok(CreaterepoOptions {
        input_dir,
        output_dir: args.outputdir.clone(),
        baseurl: args.baseurl.clone(),
        location_prefix: args.location_prefix.clone(),
        excludes: args.excludes.clone(),
        pkglist: args.pkglist.clone(),
        includepkg: args.includepkg.clone(),
        skip_symlinks: args.skip_symlinks,
        checksum,
        repomd_checksum,
        xml_compression: xml,
        sqlite_compression: sqlite,
        other_compression: other,
        database: (args.database || args.compatibility) && !args.no_database,
        changelog_limit,
        revision: args.revision.clone(),
        set_timestamp_to_revision: args.set_timestamp_to_revision,
        distro_tags: args.distro.clone(),
        content_tags: args.content.clone(),
        repo_tags: args.repo.clone(),
        unique_md_filenames: !args.simple_md_filenames || args.unique_md_filenames,
        filelists_ext: args.filelists_ext,
        groupfile: args.groupfile.clone(),
        retention,
        workers,
        duplicated_nevra: match args.duplicated_nevra {
            Some(DuplicatedNevra::KeepLast) => DuplicatePolicy::KeepLast,
            _ => DuplicatePolicy::KeepAll,
        },
        ignore_lock: args.ignore_lock,
        update: args.update,
        skip_stat: args.skip_stat,
        update_md_paths: args.update_md_path.clone(),
        recycle_pkglist: args.recycle_pkglist,
        cachedir: args.cachedir.clone(),
        keep_all_metadata: !args.discard_additional_metadata || args.keep_all_metadata,
    })
}

/// Runs createrepo and reports; returns the process exit code.
pub fn run(args: CreaterepoArgs) -> Result<u8> {
    let options = options(&args)?;
    let bar = if std::io::stderr().is_terminal() && !args.quiet && !args.json {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} packages ({per_sec}, {eta})")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let maker = match &args.sign_key {
        Some(key) => Some(args.signing.maker(key)?),
        None => None,
    };
    let digest = args.signing.digest()?;
    let sign_repomd = |staged: &std::path::Path| match &maker {
        Some(maker) => signer::sign::sign_repomd(staged, maker.as_ref(), digest)
            .map(|_| ())
            .map_err(|err| err.into()),
        None => Ok(()),
    };
    let summary = repo_core::createrepo::run_with_hook(
        &options,
        &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
        &sign_repomd,
    )
    .with_context(|| format!("createrepo {}", options.input_dir.display()))?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !args.quiet {
        for group in &summary.duplicates {
            tracing::info!(
                "{}: {} builds, kept {}",
                group.nevra,
                group.members.len(),
                group.members.iter().filter(|m| m.kept).count()
            );
        }
        eprintln!(
            "{} packages written to {} ({} skipped, {} duplicate NEVRAs) in {} ms",
            summary.packages_written,
            summary.repodata_dir.display(),
            summary.skipped.len(),
            summary.duplicates.len(),
            summary.timings.total_ms
        );
    }
    Ok(summary.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_follow_createrepo_c() {
        assert_eq!(parse_age("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_age("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_age("1d").unwrap(), Duration::from_secs(86400));
        assert!(parse_age("1w").is_err());
    }
}
