//! `rpmdepot stats`: download statistics from CDN and mirror logs, mapped onto `statsd`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{ArgAction, Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use statsd::report::{self, Filter, Period};
use statsd::{CountOptions, FileOutcome, IngestOptions, Layout, Store};

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(subcommand)]
    command: StatsCommand,
    /// Only print errors.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Print more (repeat for debug output).
    #[arg(short = 'v', long, action = ArgAction::Count, global = true)]
    verbose: u8,
}

impl StatsArgs {
    /// -q → -1, default 0, -v → 1, -vv → 2.
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            self.verbose.min(2) as i8
        }
    }
}

#[derive(Debug, Subcommand)]
enum StatsCommand {
    /// Count downloads in log files (any compression) into the statistics database.
    Ingest(IngestArgs),
    /// Downloads per day, week or month.
    Report(ReportArgs),
    /// Most downloaded packages.
    Top(TopArgs),
    /// The JSON Copr's frontend accepts at /stats_rcv/from_backend.
    CoprPayload(CoprPayloadArgs),
    /// A self-contained HTML page with download charts.
    Html(HtmlArgs),
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// The statistics database (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Path layout: copr, rpmdepot or a pattern like /pub/{distro}/{arch} (repeatable; tried
    /// in order; default: copr, then rpmdepot).
    #[arg(long = "layout", value_name = "LAYOUT")]
    layouts: Vec<String>,
    /// Count only requests logged for this host (repeatable; lines without a host are kept).
    #[arg(long = "host", value_name = "HOST")]
    hosts: Vec<String>,
    /// Replace the counts of files that were ingested before.
    #[arg(long)]
    reingest: bool,
    /// Files parsed in parallel (default: one per core).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Log files, or directories searched recursively.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum By {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
struct FilterArgs {
    /// Repositories matching this glob (`owner/project/*`).
    #[arg(long = "repo", value_name = "GLOB")]
    repository: Option<String>,
    /// Package name (`hello`) or full package (`hello-2.12.2-1.fc41.x86_64`).
    #[arg(long)]
    package: Option<String>,
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: Option<String>,
    /// Last day (YYYY-MM-DD, UTC, inclusive).
    #[arg(long)]
    to: Option<String>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The statistics database written by `stats ingest`.
    #[arg(long)]
    db: PathBuf,
    #[arg(long, value_enum, default_value = "day")]
    by: By,
    #[command(flatten)]
    filter: FilterArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

#[derive(Debug, Args)]
struct TopArgs {
    /// The statistics database written by `stats ingest`.
    #[arg(long)]
    db: PathBuf,
    #[command(flatten)]
    filter: FilterArgs,
    /// How many packages.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

#[derive(Debug, Args)]
struct CoprPayloadArgs {
    /// The statistics database written by `stats ingest`.
    #[arg(long)]
    db: PathBuf,
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long)]
    from: String,
    /// Last day (YYYY-MM-DD, UTC, inclusive).
    #[arg(long)]
    to: String,
}

#[derive(Debug, Args)]
struct HtmlArgs {
    /// The statistics database written by `stats ingest`.
    #[arg(long)]
    db: PathBuf,
    /// Repositories matching this glob.
    #[arg(long = "repo", value_name = "GLOB")]
    repository: String,
    /// Where to write the page.
    #[arg(long)]
    out: PathBuf,
    /// Page title (default: "Downloads of <GLOB>").
    #[arg(long)]
    title: Option<String>,
}

fn parse_day(text: &str) -> Result<i64> {
    statsd::time::parse_day(text.as_bytes())
        .with_context(|| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

fn filter(args: &FilterArgs) -> Result<Filter> {
    Ok(Filter {
        repository_glob: args.repository.clone(),
        package: args.package.clone(),
        from_day: args.from.as_deref().map(parse_day).transpose()?,
        to_day: args.to.as_deref().map(parse_day).transpose()?,
    })
}

/// An existing database, or an error naming it (reports never create one).
fn open_existing(db: &Path) -> Result<Store> {
    if !db.is_file() {
        bail!(
            "{}: no statistics database (run `rpmdepot stats ingest` first)",
            db.display()
        );
    }
    Ok(Store::open(db)?)
}

/// Files under the inputs (directories recursively, sorted).
fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("{}: cannot list", dir.display()))?;
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.is_file() {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

/// Totals over all files of one ingest run.
#[derive(Default)]
struct Summary {
    ingested: u64,
    replaced: u64,
    skipped: Vec<String>,
    failed: Vec<String>,
    lines: u64,
    requests: u64,
    downloads: u64,
    rejections: BTreeMap<&'static str, u64>,
    not_counted: BTreeMap<&'static str, u64>,
    partial_files: Vec<String>,
}

fn ingest(args: &IngestArgs, quiet: bool) -> Result<u8> {
    let layouts = if args.layouts.is_empty() {
        Layout::defaults()
    } else {
        args.layouts
            .iter()
            .map(|l| Layout::parse(l))
            .collect::<Result<_, _>>()?
    };
    let files = expand_inputs(&args.inputs)?;
    let mut store = Store::open(&args.db)?;
    let options = IngestOptions {
        count: CountOptions {
            layouts,
            hosts: args.hosts.clone(),
        },
        reingest: args.reingest,
        jobs: args.jobs,
        batch_cells: None,
    };
    let bar = if std::io::stderr().is_terminal() && !quiet && !args.json {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} files [{elapsed}] {msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = Summary::default();
    statsd::ingest(&mut store, &files, &options, |outcome| {
        bar.inc(1);
        match outcome {
            FileOutcome::Ingested {
                path,
                counts,
                replaced,
                ..
            } => {
                bar.set_message(path.display().to_string());
                summary.ingested += 1;
                summary.replaced += u64::from(*replaced);
                summary.lines += counts.lines;
                summary.requests += counts.requests;
                summary.downloads += counts.downloads();
                for (rejection, n) in &counts.rejections {
                    *summary.rejections.entry(rejection.name()).or_default() += n;
                }
                for (why, n) in &counts.not_counted {
                    *summary.not_counted.entry(why.name()).or_default() += n;
                }
                if let Some(error) = &counts.stream_error {
                    tracing::warn!(
                        "{}: stream ended early, counted the lines before: {error}",
                        path.display()
                    );
                    summary.partial_files.push(path.display().to_string());
                }
            }
            FileOutcome::AlreadyIngested { path, .. } => {
                tracing::info!("{}: already ingested, skipped", path.display());
                summary.skipped.push(path.display().to_string());
            }
            FileOutcome::Failed { path, error } => {
                bar.suspend(|| eprintln!("rpmdepot: error: {error}"));
                summary.failed.push(path.display().to_string());
            }
        }
    })
    .with_context(|| format!("ingesting into {}", args.db.display()))?;
    bar.finish_and_clear();

    if args.json {
        let value = serde_json::json!({
            "files_ingested": summary.ingested,
            "files_replaced": summary.replaced,
            "files_skipped_already_ingested": summary.skipped,
            "files_failed": summary.failed,
            "files_partial": summary.partial_files,
            "lines": summary.lines,
            "requests": summary.requests,
            "downloads": summary.downloads,
            "rejected": summary.rejections,
            "not_counted": summary.not_counted,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if !quiet {
        let mut out = String::new();
        out += &format!(
            "files: {} ingested ({} replaced), {} skipped as already ingested, {} failed\n",
            summary.ingested,
            summary.replaced,
            summary.skipped.len(),
            summary.failed.len()
        );
        for path in &summary.skipped {
            out += &format!("  already ingested: {path}\n");
        }
        out += &format!(
            "lines read: {}\nrequests: {}\ndownloads counted: {}\n",
            summary.lines, summary.requests, summary.downloads
        );
        out += &format!("rejected: {}\n", summary.rejections.values().sum::<u64>());
        for (reason, n) in &summary.rejections {
            out += &format!("  {reason}: {n}\n");
        }
        out += &format!(
            "not counted: {}\n",
            summary.not_counted.values().sum::<u64>()
        );
        for (reason, n) in &summary.not_counted {
            out += &format!("  {reason}: {n}\n");
        }
        print!("{out}");
    }
    Ok(if summary.failed.is_empty() { 0 } else { 1 })
}

fn print_rows(format: OutputFormat, rows: &[report::ReportRow]) {
    let text = match format {
        OutputFormat::Table => report::render_downloads_table(rows),
        OutputFormat::Json => report::render_json(rows),
        OutputFormat::Csv => report::render_csv(rows),
    };
    print!("{text}");
}

fn top(args: &TopArgs) -> Result<u8> {
    let store = open_existing(&args.db)?;
    let list = report::top_packages(&store, &filter(&args.filter)?, args.limit)?;
    match args.format {
        OutputFormat::Table => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| {
                    vec![
                        t.repository.clone(),
                        t.name.clone(),
                        t.downloads.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                report::render_table(&["repository", "package", "downloads"], &rows)
            );
        }
        OutputFormat::Json => {
            let array: Vec<_> = list
                .iter()
                .map(|t| serde_json::json!({"repository": t.repository, "package": t.name, "downloads": t.downloads}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&array)?);
        }
        OutputFormat::Csv => {
            println!("repository,package,downloads");
            for t in &list {
                println!("{},{},{}", t.repository, t.name, t.downloads);
            }
        }
    }
    Ok(0)
}

/// Writes `contents` to `path` atomically (temporary file, fsync, rename).
fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let temporary = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

pub fn run(args: StatsArgs) -> Result<u8> {
    let quiet = args.quiet;
    match &args.command {
        StatsCommand::Ingest(ingest_args) => ingest(ingest_args, quiet),
        StatsCommand::Report(report_args) => {
            let store = open_existing(&report_args.db)?;
            let period = match report_args.by {
                By::Day => Period::Day,
                By::Week => Period::Week,
                By::Month => Period::Month,
            };
            let rows = report::downloads(&store, period, &filter(&report_args.filter)?)?;
            print_rows(report_args.format, &rows);
            Ok(0)
        }
        StatsCommand::Top(top_args) => top(top_args),
        StatsCommand::CoprPayload(payload) => {
            let store = open_existing(&payload.db)?;
            let (from, to) = (parse_day(&payload.from)?, parse_day(&payload.to)?);
            if from > to {
                bail!("--from {} is after --to {}", payload.from, payload.to);
            }
            let value = report::copr_payload(&store, from, to)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(0)
        }
        StatsCommand::Html(html) => {
            let store = open_existing(&html.db)?;
            let filter = Filter {
                repository_glob: Some(html.repository.clone()),
                ..Filter::default()
            };
            let title = html
                .title
                .clone()
                .unwrap_or_else(|| format!("Downloads of {}", html.repository));
            let page = report::html_page(&store, &filter, &title)?;
            write_atomically(&html.out, page.as_bytes())?;
            if !quiet {
                eprintln!("wrote {}", html.out.display());
            }
            Ok(0)
        }
    }
}
