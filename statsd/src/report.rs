//! Reports drawn from the statistics database: download tables by day, week or month, top
//! packages, Copr's frontend payload and a self-contained HTML page.
//!
//! Owns queries and rendering; must not write to the database. Output is deterministic:
//! rows are sorted, JSON objects have sorted keys, the HTML has no timestamps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::params;

use crate::store::Store;
use crate::time::{DAY, format_day, month_start, week_start};
use crate::{Error, Result};

/// Report granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Weeks start on Monday, aligned like DNF countme (from 1970-01-05 UTC).
    Week,
    Month,
}

impl Period {
    /// The first day of the period `day` belongs to.
    pub fn start(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            Period::Week => week_start(day),
            Period::Month => month_start(day),
        }
    }

    /// How a period is written: `YYYY-MM-DD` for days and weeks (the Monday), `YYYY-MM` for months.
    pub fn label(self, start: i64) -> String {
        let day = format_day(start);
        match self {
            Period::Month => day[..7].to_owned(),
            _ => day,
        }
    }
}

/// Which rows a report covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// SQLite GLOB on the repository (`frostyx/*`).
    pub repository_glob: Option<String>,
    /// Package name (`hello`) or full package (`hello-2.12.2-1.fc41.x86_64`).
    pub package: Option<String>,
    /// First and last day (inclusive), days since 1970-01-01.
    pub from_day: Option<i64>,
    pub to_day: Option<i64>,
}

/// One row of a download report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportRow {
    pub period: String,
    pub repository: String,
    pub package: String,
    pub kind: String,
    pub client: String,
    pub downloads: u64,
}

struct DayRow {
    day: i64,
    repository: String,
    package: String,
    name: String,
    kind: String,
    client: String,
    downloads: u64,
}

fn day_rows(store: &Store, filter: &Filter) -> Result<Vec<DayRow>> {
    let err = |e| Error::sqlite(store.path(), e);
    let mut statement = store
        .connection()
        .prepare(
            "SELECT day, repository, package, name, kind, client, downloads FROM downloads_daily
             WHERE downloads > 0
               AND (?1 IS NULL OR repository GLOB ?1)
               AND (?2 IS NULL OR name = ?2 OR package = ?2)
               AND (?3 IS NULL OR day >= ?3)
               AND (?4 IS NULL OR day <= ?4)",
        )
        .map_err(err)?;
    let rows = statement
        .query_map(
            params![
                filter.repository_glob,
                filter.package,
                filter.from_day,
                filter.to_day
            ],
            |row| {
                Ok(DayRow {
                    day: row.get(0)?,
                    repository: row.get(1)?,
                    package: row.get(2)?,
                    name: row.get(3)?,
                    kind: row.get(4)?,
                    client: row.get(5)?,
                    downloads: row.get::<_, i64>(6)?.max(0) as u64,
                })
            },
        )
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    Ok(rows)
}

/// Downloads per period, repository, package, kind and client, sorted.
pub fn downloads(store: &Store, period: Period, filter: &Filter) -> Result<Vec<ReportRow>> {
    let mut cells: BTreeMap<(i64, String, String, String, String), u64> = BTreeMap::new();
    for row in day_rows(store, filter)? {
        *cells
            .entry((
                period.start(row.day),
                row.repository,
                row.package,
                row.kind,
                row.client,
            ))
            .or_default() += row.downloads;
    }
    Ok(cells
        .into_iter()
        .map(
            |((start, repository, package, kind, client), downloads)| ReportRow {
                period: period.label(start),
                repository,
                package,
                kind,
                client,
                downloads,
            },
        )
        .collect())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// CSV with the header `period,repository,package,kind,client,downloads`.
pub fn render_csv(rows: &[ReportRow]) -> String {
    let mut out = String::from("period,repository,package,kind,client,downloads\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            csv_field(&r.period),
            csv_field(&r.repository),
            csv_field(&r.package),
            csv_field(&r.kind),
            csv_field(&r.client),
            r.downloads
        );
    }
    out
}

/// A JSON array of row objects.
pub fn render_json(rows: &[ReportRow]) -> String {
    let array: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "period": r.period,
                "repository": r.repository,
                "package": r.package,
                "kind": r.kind,
                "client": r.client,
                "downloads": r.downloads,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&array).unwrap_or_default();
    text.push('\n');
    text
}

/// An aligned text table.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (i, cell) in cells.enumerate() {
            let numeric = i + 1 == widths.len();
            let pad = widths[i].saturating_sub(cell.chars().count());
            parts.push(if numeric {
                format!("{}{cell}", " ".repeat(pad))
            } else {
                format!("{cell}{}", " ".repeat(pad))
            });
        }
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &mut headers.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// Table rendering of download rows.
pub fn render_downloads_table(rows: &[ReportRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.period.clone(),
                r.repository.clone(),
                r.package.clone(),
                r.kind.clone(),
                r.client.clone(),
                r.downloads.to_string(),
            ]
        })
        .collect();
    render_table(
        &[
            "period",
            "repository",
            "package",
            "kind",
            "client",
            "downloads",
        ],
        &cells,
    )
}

/// One line of the top-packages list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopPackage {
    pub repository: String,
    pub name: String,
    pub downloads: u64,
}

/// Packages (by name, all versions and arches) with most downloads of package kinds.
pub fn top_packages(store: &Store, filter: &Filter, limit: usize) -> Result<Vec<TopPackage>> {
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in day_rows(store, filter)? {
        if matches!(row.kind.as_str(), "rpm" | "srpm" | "debuginfo") {
            *totals.entry((row.repository, row.name)).or_default() += row.downloads;
        }
    }
    let mut list: Vec<TopPackage> = totals
        .into_iter()
        .map(|((repository, name), downloads)| TopPackage {
            repository,
            name,
            downloads,
        })
        .collect();
    list.sort_by(|a, b| {
        b.downloads
            .cmp(&a.downloads)
            .then_with(|| (&a.repository, &a.name).cmp(&(&b.repository, &b.name)))
    });
    list.truncate(limit);
    Ok(list)
}

/// The body Copr's frontend accepts at `/stats_rcv/from_backend` for the days `from..=to`:
/// `{"ts_from", "ts_to", "hits": {"chroot_rpms_dl_stat|owner|project|chroot": n, …}}`.
///
/// Like Copr's hitcounter it counts only paths of the `copr` layout, leaves out the `bot`
/// and `mock` clients and SRPMs, and emits `chroot_rpms_dl_stat` and `project_rpms_dl_stat`
/// for binary RPMs (debuginfo included) and `chroot_repo_metadata_dl_stat` for repomd.xml.
/// Unlike it, only completed downloads count (no HEAD, 304 or partial 206).
pub fn copr_payload(store: &Store, from_day: i64, to_day: i64) -> Result<serde_json::Value> {
    let err = |e| Error::sqlite(store.path(), e);
    let mut statement = store
        .connection()
        .prepare(
            "SELECT repository, kind, SUM(downloads) FROM downloads_daily
             WHERE layout = 'copr' AND day BETWEEN ?1 AND ?2 AND kind IN ('rpm', 'debuginfo', 'repomd')
               AND client NOT IN ('bot', 'mock')
             GROUP BY repository, kind",
        )
        .map_err(err)?;
    let rows = statement
        .query_map(params![from_day, to_day], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
            ))
        })
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    let mut hits: BTreeMap<String, i64> = BTreeMap::new();
    for (repository, kind, downloads) in rows {
        if downloads <= 0 {
            continue;
        }
        let mut parts = repository.splitn(3, '/');
        let (Some(owner), Some(project), Some(chroot)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if kind == "repomd" {
            *hits
                .entry(format!(
                    "chroot_repo_metadata_dl_stat|{owner}|{project}|{chroot}"
                ))
                .or_default() += downloads;
        } else {
            *hits
                .entry(format!("chroot_rpms_dl_stat|{owner}|{project}|{chroot}"))
                .or_default() += downloads;
            *hits
                .entry(format!("project_rpms_dl_stat|{owner}|{project}"))
                .or_default() += downloads;
        }
    }
    Ok(serde_json::json!({
        "ts_from": from_day * DAY,
        "ts_to": (to_day + 1) * DAY - 1,
        "hits": hits,
    }))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The smallest 1, 2 or 5 times a power of ten (times 4, for four axis steps) at or above `value`.
fn nice_ceiling(value: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for factor in [1, 2, 5] {
            if step.saturating_mul(factor).saturating_mul(4) >= value {
                return step.saturating_mul(factor).saturating_mul(4);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A vertical bar chart of `(label, value)` as inline SVG.
fn bar_chart_svg(title: &str, bars: &[(String, u64)]) -> String {
    let width = 900.0_f64;
    let height = 260.0_f64;
    let (left, bottom, top) = (60.0, 40.0, 20.0);
    let max = nice_ceiling(bars.iter().map(|b| b.1).max().unwrap_or(0).max(1)) as f64;
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let step = plot_w / bars.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape_html(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    for tick in 0..=4 {
        let value = max * f64::from(tick) / 4.0;
        let y = top + plot_h - plot_h * f64::from(tick) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0,
            value.round() as u64
        );
    }
    let label_every = (bars.len() / 12).max(1);
    for (i, (label, value)) in bars.iter().enumerate() {
        let h = plot_h * (*value as f64) / max;
        let x = left + step * i as f64;
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#3c6eb4"><title>{}: {value}</title></rect>"##,
            x + step * 0.1,
            top + plot_h - h,
            (step * 0.8).max(1.0),
            escape_html(label)
        );
        if i % label_every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
                x + step / 2.0,
                top + plot_h + 16.0,
                escape_html(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Average advance of a 12 px sans-serif glyph, rounded up, for sizing label columns.
const LABEL_CHAR_WIDTH: f64 = 7.2;
/// Labels longer than this are cut with an ellipsis (the full text stays in a tooltip).
const MAX_LABEL_CHARS: usize = 72;

/// `label` cut to [`MAX_LABEL_CHARS`] characters, with an ellipsis when it was cut.
fn shorten_label(label: &str) -> (String, bool) {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return (label.to_owned(), false);
    }
    let mut short: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    short.push('…');
    (short, true)
}

/// A horizontal bar chart as inline SVG. The label column is as wide as the longest label,
/// so right-aligned labels are never clipped at the left edge.
fn hbar_chart_svg(title: &str, bars: &[(String, u64)]) -> String {
    let row = 22.0_f64;
    let labels: Vec<(String, bool)> = bars.iter().map(|(label, _)| shorten_label(label)).collect();
    let longest = labels
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = (longest as f64 * LABEL_CHAR_WIDTH + 16.0).max(80.0);
    let bar_area = 500.0;
    let width = label_w + bar_area + 80.0;
    let height = row * bars.len().max(1) as f64 + 10.0;
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1} {height}" width="{width:.1}" height="{height}" role="img" aria-label="{}">"#,
        escape_html(title)
    );
    for (i, ((label, cut), (full, value))) in labels.iter().zip(bars).enumerate() {
        let y = 5.0 + row * i as f64;
        let w = bar_area * (*value as f64) / max;
        let tooltip = if *cut {
            format!("<title>{}</title>", escape_html(full))
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{tooltip}{}</text><rect x="{label_w:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#51a2da"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{value}</text>"##,
            label_w - 8.0,
            y + 15.0,
            escape_html(label),
            y + 3.0,
            row - 6.0,
            label_w + w + 6.0,
            y + 15.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A self-contained HTML page (no scripts, no external resources) with download charts for
/// the repositories matching the filter.
pub fn html_page(store: &Store, filter: &Filter, title: &str) -> Result<String> {
    let rows = day_rows(store, filter)?;
    let package_rows: Vec<&DayRow> = rows
        .iter()
        .filter(|r| matches!(r.kind.as_str(), "rpm" | "srpm" | "debuginfo"))
        .collect();
    let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
    let mut per_client: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_repo: BTreeMap<String, u64> = BTreeMap::new();
    for row in &package_rows {
        *per_day.entry(row.day).or_default() += row.downloads;
        *per_client.entry(row.client.clone()).or_default() += row.downloads;
        *per_repo.entry(row.repository.clone()).or_default() += row.downloads;
    }
    let metadata: u64 = rows
        .iter()
        .filter(|r| r.kind == "repomd")
        .map(|r| r.downloads)
        .sum();
    let total: u64 = per_day.values().sum();
    // Fill missing days with zero so the time axis is honest.
    let mut days: Vec<(String, u64)> = Vec::new();
    if let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) {
        let span = last - first;
        let period = if span > 400 {
            Period::Month
        } else if span > 120 {
            Period::Week
        } else {
            Period::Day
        };
        let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
        let mut day = first;
        while day <= last {
            buckets.entry(period.start(day)).or_default();
            day += 1;
        }
        for (day, n) in &per_day {
            *buckets.entry(period.start(*day)).or_default() += n;
        }
        days = buckets
            .into_iter()
            .map(|(d, n)| (period.label(d), n))
            .collect();
    }
    let top = top_packages(store, filter, 20)?;
    let top_bars: Vec<(String, u64)> = top
        .iter()
        .map(|t| (format!("{} ({})", t.name, t.repository), t.downloads))
        .collect();
    let mut clients: Vec<(String, u64)> = per_client.into_iter().collect();
    clients.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut repos: Vec<(String, u64)> = per_repo.into_iter().collect();
    repos.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    repos.truncate(20);

    let mut page = String::new();
    let title = escape_html(title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\
body{{font-family:sans-serif;margin:2em;color:#222;max-width:960px}}h1{{font-size:1.5em}}h2{{font-size:1.15em;margin-top:2em}}\
table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}}td.n{{text-align:right}}\
.totals span{{display:inline-block;margin-right:2em;font-size:1.2em}}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(
        page,
        "<p class=\"totals\"><span><b>{total}</b> package downloads</span><span><b>{metadata}</b> repomd.xml downloads</span><span><b>{}</b> repositories</span></p>",
        rows.iter()
            .map(|r| r.repository.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    if days.is_empty() {
        page.push_str("<p>No downloads recorded for this selection.</p>\n");
    } else {
        let _ = writeln!(
            page,
            "<h2>Package downloads from {} to {}</h2>\n{}",
            days.first().map_or("", |d| d.0.as_str()),
            days.last().map_or("", |d| d.0.as_str()),
            bar_chart_svg("package downloads over time", &days)
        );
        let _ = writeln!(
            page,
            "<h2>Top packages</h2>\n{}",
            hbar_chart_svg("top packages", &top_bars)
        );
        let _ = writeln!(
            page,
            "<h2>Clients</h2>\n{}",
            hbar_chart_svg("downloads by client", &clients)
        );
        let _ = writeln!(
            page,
            "<h2>Repositories</h2>\n<table><tr><th>repository</th><th>downloads</th></tr>"
        );
        for (repository, n) in &repos {
            let _ = writeln!(
                page,
                "<tr><td>{}</td><td class=\"n\">{n}</td></tr>",
                escape_html(repository)
            );
        }
        page.push_str("</table>\n");
    }
    page.push_str("<p><small>Downloads are completed GET transfers and resumed downloads that reached the last byte; HEAD, 304 and other partial responses are not counted. Days are UTC.</small></p>\n</body>\n</html>\n");
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x of the first bar: where the label column ends.
    fn label_column(svg: &str) -> f64 {
        let start = svg.find("<rect x=\"").unwrap() + "<rect x=\"".len();
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end].parse().unwrap()
    }

    #[test]
    fn the_label_column_fits_the_longest_label() {
        let long = "copr-backend (@copr/copr-dev/fedora-rawhide-x86_64)".to_owned();
        let svg = hbar_chart_svg("t", &[(long.clone(), 3), ("ed".into(), 1)]);
        assert!(label_column(&svg) >= long.chars().count() as f64 * LABEL_CHAR_WIDTH);
        assert!(svg.contains(&long));
        let short = hbar_chart_svg("t", &[("dnf".into(), 4)]);
        assert_eq!(label_column(&short), 80.0);
    }

    #[test]
    fn very_long_labels_are_cut_and_keep_their_full_text_as_a_tooltip() {
        let long = format!(
            "{}-1.0-1.fc42.x86_64 (owner/project/chroot)",
            "x".repeat(100)
        );
        let svg = hbar_chart_svg("t", &[(long.clone(), 1)]);
        assert!(svg.contains(&format!("<title>{long}</title>")));
        let (shown, cut) = shorten_label(&long);
        assert!(cut && shown.ends_with('…'));
        assert_eq!(shown.chars().count(), MAX_LABEL_CHARS);
        assert!(label_column(&svg) <= MAX_LABEL_CHARS as f64 * LABEL_CHAR_WIDTH + 16.0);
    }
}
