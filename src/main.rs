//! The `rpmdepot` command line: argument parsing, wiring and printing only.
//! All logic lives in the library crates.

mod createrepo;
mod stats;
mod key;
mod sign;
mod signer_service;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turns built RPM packages into signed, published yum/dnf repositories.
#[derive(Debug, Parser)]
#[command(name = "rpmdepot", version, about, propagate_version = true)]
struct Cli {
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
    let result = match cli.command {
        Command::Createrepo(args) => {
            init_logging(args.verbosity());
            createrepo::run(*args)
        }
        Command::Stats(args) => {
            init_logging(args.verbosity());
            stats::run(*args)
        }
        command => {
            init_logging(0);
            match command {
                Command::Key(args) => key::run(args),
                Command::Sign(args) => sign::run_sign(args),
                Command::Verify(args) => sign::run_verify(args),
                Command::SignRepo(args) => sign::run_sign_repo(args),
                Command::Signer(args) => signer_service::run(args),
                Command::Createrepo(_) | Command::Stats(_) => unreachable!("handled above"),
            }
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("rpmdepot: error: {err:#}");
            ExitCode::from(1)
        }
    }
}
