//! The `rpmdepot` command line: argument parsing, wiring and printing only.
//! All logic lives in the library crates.

mod content;
mod createrepo;
mod depot;
mod key;
mod migrate;
mod prune;
mod publish;
mod repo;
mod serve;
mod sign;
mod signer_service;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turns built RPM packages into signed, published yum/dnf repositories.
#[derive(Debug, Parser)]
#[command(name = "rpmdepot", version, about, propagate_version = true)]
struct Cli {
    /// Configuration file of the content commands (repo, add, publish, serve, …), before or
    /// after the subcommand.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create repodata for a directory of RPMs (a drop-in for createrepo_c).
    Createrepo(Box<createrepo::CreaterepoArgs>),
    /// Count package downloads from CDN and mirror logs; reports.
    Stats(Box<stats::StatsArgs>),
    /// Manage signing keys (generate, list, export, extend, revoke).
    Key(key::KeyArgs),
    /// Sign RPM packages (v4 header signature, SHA-256).
    Sign(sign::SignArgs),
    /// Check RPM packages' header signatures.
    Verify(sign::VerifyArgs),
    /// Sign a repository's repodata/repomd.xml.
    SignRepo(sign::SignRepoArgs),
    /// The digest-only signing service.
    Signer(signer_service::SignerArgs),
    /// Create, list, show or delete repositories.
    Repo(repo::RepoArgs),
    /// Add packages to a repository (one new version).
    Add(content::AddArgs),
    /// Remove packages from a repository (one new version).
    Remove(content::RemoveArgs),
    /// Publish a repository version (and optionally write it as a static tree).
    Publish(publish::PublishArgs),
    /// Serve a publication under a base path.
    Distribute(publish::DistributeArgs),
    /// Take over an existing repository directory.
    Import(content::ImportArgs),
    /// Serve distributions over HTTP.
    Serve(serve::ServeArgs),
    /// Remove old builds from a repository (one new version).
    Prune(prune::PruneArgs),
    /// Delete artifacts nothing references.
    Gc(prune::GcArgs),
    /// Copy every artifact to another store, verified and resumable.
    Migrate(migrate::MigrateArgs),
}

impl Command {
    /// Whether the command works on the catalog and store that `--config` describes.
    fn reads_config(&self) -> bool {
        matches!(
            self,
            Command::Repo(_)
                | Command::Add(_)
                | Command::Remove(_)
                | Command::Publish(_)
                | Command::Distribute(_)
                | Command::Import(_)
                | Command::Serve(_)
                | Command::Prune(_)
                | Command::Gc(_)
                | Command::Migrate(_)
        )
    }
}

fn init_logging(verbosity: i8) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RPMDEPOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

/// glibc gives every thread its own heap arena and raises its mmap threshold after large
/// frees, which lets a long parallel run keep hundreds of megabytes of freed fragments.
/// Two arenas and a fixed 1 MiB threshold keep peak memory close to what is live; a lower
/// threshold made every package's header buffer an mmap/munmap pair (page faults and zeroing
/// cost a third of a cold run's system time).
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; it is called before any other thread
    // exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    if cli.config.is_some() && !cli.command.reads_config() {
        eprintln!("rpmdepot: error: --config is an option of the content commands only");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Createrepo(args) => {
            init_logging(args.verbosity());
            createrepo::run(*args)
        }
        Command::Stats(args) => {
            init_logging(args.verbosity());
            stats::run(*args)
        }
        Command::Key(args) => {
            init_logging(0);
            key::run(args)
        }
        Command::Sign(args) => {
            init_logging(0);
            sign::run_sign(args)
        }
        Command::Verify(args) => {
            init_logging(0);
            sign::run_verify(args)
        }
        Command::SignRepo(args) => {
            init_logging(0);
            sign::run_sign_repo(args)
        }
        Command::Signer(args) => {
            init_logging(0);
            signer_service::run(args)
        }
        Command::Repo(a) => {
            init_logging(a.common.verbosity());
            repo::run(a)
        }
        Command::Add(a) => {
            init_logging(a.common.verbosity());
            content::run_add(a)
        }
        Command::Remove(a) => {
            init_logging(a.common.verbosity());
            content::run_remove(a)
        }
        Command::Publish(a) => {
            init_logging(a.common.verbosity());
            publish::run_publish(a)
        }
        Command::Distribute(a) => {
            init_logging(a.common.verbosity());
            publish::run_distribute(a)
        }
        Command::Import(a) => {
            init_logging(a.common.verbosity());
            content::run_import(a)
        }
        Command::Serve(a) => {
            init_logging(a.common.verbosity());
            serve::run(a)
        }
        Command::Prune(a) => {
            init_logging(a.common.verbosity());
            prune::run_prune(a)
        }
        Command::Gc(a) => {
            init_logging(a.common.verbosity());
            prune::run_gc(a)
        }
        Command::Migrate(a) => {
            init_logging(a.common.verbosity());
            migrate::run(a)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("rpmdepot: error: {}", error_chain(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes joined by ": ", like anyhow's `{:#}`, but without repeating a
/// cause whose text the message before it already ends with: the library errors print their
/// source themselves (`{path}: {source}`) and also expose it as the source.
fn error_chain(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.is_empty() && out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_chain;
    use anyhow::Context;

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "output directory does not exist",
        );
        let err = Err::<(), _>(repo_core::Error::io("out", io))
            .context("createrepo corpus")
            .unwrap_err();
        assert_eq!(
            error_chain(&err),
            "createrepo corpus: out: output directory does not exist"
        );
    }

    #[test]
    fn causes_with_their_own_text_are_all_kept() {
        let err = Err::<(), _>(anyhow::anyhow!("inner"))
            .context("middle")
            .context("outer")
            .unwrap_err();
        assert_eq!(error_chain(&err), "outer: middle: inner");
    }
}
