//! A deterministic generator of access logs for statsd's benchmarks.
//!
//! Line `i` of a log depends only on (format, seed, i): a realistic mix of RPM, repodata,
//! HEAD, 304, 206, 404 and bot requests for a Copr-like layout, with CloudFront's URL-encoded
//! user agents. Must not read logs.

use std::io::Write;

use crate::rng::Rng;

/// Which log format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    CloudFront,
    Combined,
}

/// The header of a CloudFront standard log.
pub const CLOUDFRONT_HEADER: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n";

const AGENTS: &[&str] = &[
    "libdnf (Fedora Linux 42; workstation; Linux.x86_64)",
    "libdnf (Fedora Linux 41; server; Linux.aarch64)",
    "dnf5/5.2.16.0",
    "libdnf (CentOS Stream 10; generic; Linux.x86_64)",
    "rpm-ostree (Fedora Linux 42; coreos; Linux.x86_64)",
    "PackageKit-hawkey",
    "urlgrabber/3.10 yum/3.4.3",
    "Mock (Fedora Linux 42; x86_64)",
    "curl/8.11.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
];

const CHROOTS: &[&str] = &[
    "fedora-42-x86_64",
    "fedora-41-x86_64",
    "fedora-rawhide-aarch64",
    "epel-10-x86_64",
    "centos-stream-10-x86_64",
];

fn encode_cloudfront(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '%' => out.push_str("%25"),
            _ => out.push(ch),
        }
    }
}

/// Writes `lines` lines (plus the header for CloudFront) to `out`.
pub fn write_log(
    format: LogFormat,
    seed: u64,
    lines: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if format == LogFormat::CloudFront {
        out.write_all(CLOUDFRONT_HEADER.as_bytes())?;
    }
    let mut line = String::with_capacity(1024);
    for i in 0..lines {
        line.clear();
        render_line(format, seed, i, &mut line);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Appends line `i` (with its newline) to `line`.
pub fn render_line(format: LogFormat, seed: u64, i: u64, line: &mut String) {
    use std::fmt::Write as _;
    let mut rng = Rng::new(seed, &[i]);
    // Popularity is skewed like real traffic: a few projects and packages get most hits.
    let projects = rng.below(1000) + 1;
    let project_index = rng.below(projects);
    let owner = project_index % 200;
    let project = project_index / 200;
    let chroot = CHROOTS[rng.below(CHROOTS.len() as u64) as usize];
    let packages = rng.below(40) + 1;
    let package = project_index * 40 + rng.below(packages);
    let roll = rng.below(100);
    let agent = AGENTS[if roll < 95 {
        rng.below(7)
    } else {
        7 + rng.below(4)
    } as usize];
    let (method, status, path_kind) = match roll {
        0..=69 => ("GET", 200, 0),
        70..=79 => ("GET", 200, 1),
        80..=84 => ("HEAD", 200, 1),
        85..=89 => ("GET", 304, 1),
        90..=94 => ("GET", 206, 0),
        95..=97 => ("GET", 404, 0),
        _ => ("GET", 200, 0),
    };
    let owner_text = if owner.is_multiple_of(17) {
        format!("%40group{owner}")
    } else {
        format!("user{owner}")
    };
    let path = if path_kind == 0 {
        format!(
            "/results/{owner_text}/project{project}/{chroot}/0{:07}-pkg{package}/pkg{package}-1.{}.0-1.fc42.x86_64.rpm",
            9_000_000 + package,
            package % 7
        )
    } else {
        format!("/results/{owner_text}/project{project}/{chroot}/repodata/repomd.xml")
    };
    let size = 10_000 + package * 137;
    let second = 1_786_000_000 + i / 50;
    let day = second / 86_400;
    let (y, m, d) = civil(day as i64);
    let clock = second % 86_400;
    let (hh, mm, ss) = (clock / 3600, clock / 60 % 60, clock % 60);
    match format {
        LogFormat::CloudFront => {
            let (range_start, range_end, sent) = if status == 206 {
                (size / 2, size - 1, size - size / 2 + 400)
            } else {
                (0, 0, size + 400)
            };
            let _ = write!(
                line,
                "{y:04}-{m:02}-{d:02}\t{hh:02}:{mm:02}:{ss:02}\tFRA56-P4\t{sent}\t192.0.2.{}\t{method}\td1nld9ovj32u75.cloudfront.net\t",
                rng.below(250)
            );
            // CloudFront logs the client's %40 as %2540.
            line.push_str(&path.replace('%', "%25"));
            let _ = write!(line, "\t{status}\t-\t");
            encode_cloudfront(agent, line);
            let _ = write!(
                line,
                "\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHm{i:016x}==\tdownload.copr.fedorainfracloud.org\thttps\t210\t0.012\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51234\t0.012\tHit\tapplication/x-rpm\t{}\t",
                if status == 206 { size - size / 2 } else { size }
            );
            if status == 206 {
                let _ = writeln!(line, "{range_start}\t{range_end}");
            } else {
                line.push_str("-\t-\n");
            }
        }
        LogFormat::Combined => {
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let _ = writeln!(
                line,
                "198.51.100.{} copr-be.cloud.fedoraproject.org - [{d:02}/{}/{y:04}:{hh:02}:{mm:02}:{ss:02} +0000] \"{method} {path} HTTP/1.1\" {status} {size} \"-\" \"{agent}\"",
                rng.below(250),
                MONTHS[m as usize - 1]
            );
        }
    }
}

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
