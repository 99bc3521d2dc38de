//! HTTP serving of distributions: `GET/HEAD /<base_path>/<relative path>` (also under
//! Pulp's `/pulp/content/` prefix), answered from the catalog and streamed from the store.
//!
//! A small synchronous HTTP/1.1 server (a thread per connection, keep-alive): the store API
//! is synchronous and blocking, dnf asks for few, large files, and it keeps the build light
//! (no async server stack). Supports Range (206/416), ETag (the sha256) and Last-Modified
//! with 304, Content-Type/Length, `Cache-Control: no-cache` on repomd.xml, 302 to presigned
//! URLs (`redirect`), and writes an access log in the combined format statsd counts.
//! A file missing from the served publication is looked up in the repository's earlier
//! publications (never repomd.xml), so a client that read the previous repomd.xml just before
//! the distribution moved still gets every file it names.
//! Refuses (400) absolute-form targets, encoded slashes/backslashes/NULs, and `.`/`..`/empty
//! path segments before looking anything up. Must not: write to the catalog or the store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::store::{BlobStore, artifact_key};

/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 256;

/// How long presigned redirect URLs stay valid.
const PRESIGN_TTL: Duration = Duration::from_secs(300);

/// Settings of a server.
pub struct ServeOptions {
    /// Catalog database (each connection opens it read-only in WAL mode).
    pub catalog: PathBuf,
    /// 302 to presigned store URLs instead of streaming, when the store can presign.
    pub redirect: bool,
}

/// Where access log lines go.
pub type AccessLog = Arc<Mutex<Box<dyn Write + Send>>>;

/// Longest request line or header line accepted (longer: 431).
pub const MAX_HEAD_LINE: u64 = 8192;

/// Most header lines accepted (more: 431).
pub const MAX_HEAD_LINES: usize = 100;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request target as sent (decoded by [`clean_path`]).
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// Header fields in order, names as sent, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a response needs besides its body.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Empty,
    Text(String),
    Stream(Box<dyn Read + Send>, u64),
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

fn text(status: u16, message: &str) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
        body: Body::Text(format!("{message}\n")),
    }
}

/// The Content-Type of a published file.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit('.').next().unwrap_or("");
    match extension {
        "rpm" => "application/x-rpm",
        "xml" => "application/xml",
        "gz" => "application/gzip",
        "zst" => "application/zstd",
        "xz" => "application/x-xz",
        "bz2" => "application/x-bzip2",
        "sqlite" => "application/vnd.sqlite3",
        "asc" => "application/pgp-signature",
        "key" => "application/pgp-keys",
        "repo" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes and checks a request path; `None` when it must be refused.
pub fn clean_path(target: &str) -> Option<String> {
    if !target.starts_with('/') {
        return None; // absolute-form or garbage
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            // Encoded separators and NULs never name a file here.
            if matches!(byte, b'/' | b'\\' | 0) {
                return None;
            }
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(decoded).ok()?;
    if path.contains('\\') || path.chars().any(char::is_control) {
        return None;
    }
    let inner = &path[1..];
    let inner = inner.strip_prefix("pulp/content/").unwrap_or(inner);
    if inner.is_empty()
        || inner
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return None;
    }
    Some(inner.to_owned())
}

/// A Range header that no byte of the file satisfies (answered with 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// Parses a single `bytes=` range against `size`: `Ok(None)` for no (or an ignored)
/// range, `Err(Unsatisfiable)` when no byte matches.
pub fn parse_range(
    header: Option<&str>,
    size: u64,
) -> std::result::Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: answer with the whole file
    }
    let (start, end) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        let suffix: u64 = end.parse().map_err(|_| Unsatisfiable)?;
        if suffix == 0 || size == 0 {
            return Err(Unsatisfiable);
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let start: u64 = start.parse().map_err(|_| Unsatisfiable)?;
        let end: u64 = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            end.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(Unsatisfiable);
        }
        (start, end)
    };
    Ok(Some(range))
}

/// `[10/Oct/2000:13:55:36 +0000]`-style time for the combined log format.
fn log_time(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn quote_log(value: Option<&str>) -> String {
    match value {
        None => "-".into(),
        Some(v) => v.replace('\\', "\\\\").replace('"', "\\\""),
    }
}

/// Parses a request head: the request line and header lines, each ending in `\n` (CR LF or
/// LF), without the empty line that ends the head. The status to answer with when it is
/// malformed (400) or too large (431).
pub fn parse_request_head(head: &[u8]) -> std::result::Result<Request, u16> {
    let mut lines = head
        .split_inclusive(|&b| b == b'\n')
        .map(|line| String::from_utf8_lossy(line).trim_end().to_owned());
    let request_line = lines.next().ok_or(400u16)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return Err(400);
    }
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= MAX_HEAD_LINES {
            return Err(431);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(400);
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
    })
}

/// Reads one request head; `Ok(None)` at a clean end of the connection.
fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<std::result::Result<Request, u16>>> {
    let mut head = Vec::new();
    let mut lines = 0usize;
    loop {
        let mut line = Vec::new();
        let n = reader
            .by_ref()
            .take(MAX_HEAD_LINE)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(if head.is_empty() {
                None
            } else {
                Some(Err(400))
            });
        }
        if !line.ends_with(b"\n") {
            return Ok(Some(Err(431)));
        }
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue; // tolerate leading empty lines
            }
            break;
        }
        head.extend_from_slice(&line);
        lines += 1;
        if lines > MAX_HEAD_LINES {
            return Ok(Some(Err(431)));
        }
    }
    Ok(Some(parse_request_head(&head)))
}

/// Answers one request.
fn respond(
    catalog: &Catalog,
    store: &dyn BlobStore,
    options: &ServeOptions,
    request: &Request,
) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = text(405, "only GET and HEAD");
        response.headers.push(("Allow", "GET, HEAD".into()));
        return response;
    }
    let Some(path) = clean_path(&request.target) else {
        return text(400, "bad path");
    };
    let found = catalog.resolve_path(&path).and_then(|hit| match hit {
        Some((publication, relative)) => {
            let mut file = catalog.published_file(publication, &relative)?;
            if file.is_none() && !relative.starts_with("repodata/repomd.xml") {
                file = catalog.earlier_published_file(publication, &relative)?;
            }
            let created = catalog.publication(publication)?.created;
            Ok(file.map(|f| (f, created)))
        }
        None => Ok(None),
    });
    let (file, created) = match found {
        Ok(Some(hit)) => hit,
        Ok(None) => return text(404, "not found"),
        Err(err) => {
            tracing::error!("{path}: {err}");
            return text(500, "catalog error");
        }
    };
    let etag = format!("\"{}\"", file.sha256);
    let modified = UNIX_EPOCH + Duration::from_secs(created.max(0) as u64);
    let last_modified = httpdate::fmt_http_date(modified);
    let mut headers: Vec<(&'static str, String)> = vec![
        ("ETag", etag.clone()),
        ("Last-Modified", last_modified),
        ("Accept-Ranges", "bytes".into()),
    ];
    if file.relative_path.starts_with("repodata/repomd.xml") {
        headers.push(("Cache-Control", "no-cache".into()));
    }
    let not_modified = match request.header("If-None-Match") {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => request
            .header("If-Modified-Since")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .is_some_and(|since| modified <= since),
    };
    if not_modified {
        return Response {
            status: 304,
            headers,
            body: Body::Empty,
        };
    }
    let key = match artifact_key(&file.sha256) {
        Ok(key) => key,
        Err(_) => return text(500, "bad catalog entry"),
    };
    if options.redirect
        && let Ok(Some(url)) = store.presigned_get(&key, PRESIGN_TTL)
    {
        headers.push(("Location", url));
        return Response {
            status: 302,
            headers,
            body: Body::Empty,
        };
    }
    headers.push(("Content-Type", content_type(&file.relative_path).into()));
    // If-Range with another validator: the whole file.
    let range_header = match request.header("If-Range") {
        Some(tag) if tag.trim() != etag => None,
        _ => request.header("Range"),
    };
    let range = match parse_range(range_header, file.size) {
        Ok(range) => range,
        Err(Unsatisfiable) => {
            headers.push(("Content-Range", format!("bytes */{}", file.size)));
            return Response {
                status: 416,
                headers,
                body: Body::Empty,
            };
        }
    };
    let (status, length) = match range {
        Some((start, end)) => {
            headers.push((
                "Content-Range",
                format!("bytes {start}-{end}/{}", file.size),
            ));
            (206, end - start + 1)
        }
        None => (200, file.size),
    };
    if request.method == "HEAD" {
        headers.push(("Content-Length", length.to_string()));
        return Response {
            status,
            headers,
            body: Body::Empty,
        };
    }
    let reader = if file.size == 0 {
        Ok(Box::new(std::io::empty()) as Box<dyn Read + Send>)
    } else {
        store.get(&key, range)
    };
    match reader {
        Ok(reader) => Response {
            status,
            headers,
            body: Body::Stream(reader, length),
        },
        Err(Error::NotFound(_)) => {
            tracing::error!("{path}: artifact {key} is missing from the store");
            text(500, "artifact missing from the store")
        }
        Err(err) => {
            tracing::error!("{path}: {err}");
            text(500, "store error")
        }
    }
}

fn handle(
    stream: TcpStream,
    store: &dyn BlobStore,
    options: &ServeOptions,
    log: &AccessLog,
) -> std::io::Result<()> {
    let peer = stream
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "-".into());
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_nodelay(true)?;
    let catalog = match Catalog::open(&options.catalog) {
        Ok(catalog) => catalog,
        Err(err) => {
            tracing::error!("{err}");
            return Ok(());
        }
    };
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, stream);
    loop {
        let request = match read_request(&mut reader)? {
            None => return Ok(()),
            Some(request) => request,
        };
        let (request, mut response) = match request {
            Ok(request) => {
                let response = respond(&catalog, store, options, &request);
                (Some(request), response)
            }
            Err(status) => (None, text(status, reason(status))),
        };
        let keep_alive = request.as_ref().is_some_and(|r| {
            let connection = r.header("Connection").unwrap_or("").to_ascii_lowercase();
            if r.version == "HTTP/1.0" {
                connection == "keep-alive"
            } else {
                connection != "close"
            }
        }) && response.status < 500;
        let head_only = request.as_ref().is_some_and(|r| r.method == "HEAD");
        let length = match &response.body {
            Body::Empty => None,
            Body::Text(t) => Some(t.len() as u64),
            Body::Stream(_, n) => Some(*n),
        };
        if let Some(length) = length {
            response
                .headers
                .push(("Content-Length", length.to_string()));
        } else if response.status != 304
            && !response.headers.iter().any(|(n, _)| *n == "Content-Length")
        {
            response.headers.push(("Content-Length", "0".into()));
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            response.status,
            reason(response.status)
        );
        head.push_str(&format!(
            "Date: {}\r\n",
            httpdate::fmt_http_date(SystemTime::now())
        ));
        head.push_str("Server: rpmdepot\r\n");
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        writer.write_all(head.as_bytes())?;
        let mut sent = 0u64;
        if !head_only {
            match response.body {
                Body::Empty => {}
                Body::Text(text) => {
                    writer.write_all(text.as_bytes())?;
                    sent = text.len() as u64;
                }
                Body::Stream(mut reader, length) => {
                    sent = std::io::copy(&mut reader.by_ref().take(length), &mut writer)?;
                    if sent != length {
                        // The store ended early: the client must not take this as complete.
                        writer.flush()?;
                        return Err(std::io::Error::other("store body ended early"));
                    }
                }
            }
        }
        writer.flush()?;
        let line = format!(
            "{peer} - - [{}] \"{}\" {} {} \"{}\" \"{}\"\n",
            log_time(SystemTime::now()),
            match &request {
                Some(r) => quote_log(Some(&format!("{} {} {}", r.method, r.target, r.version))),
                None => "-".into(),
            },
            response.status,
            if sent == 0 {
                "-".to_owned()
            } else {
                sent.to_string()
            },
            quote_log(request.as_ref().and_then(|r| r.header("Referer"))),
            quote_log(request.as_ref().and_then(|r| r.header("User-Agent"))),
        );
        if let Ok(mut log) = log.lock() {
            let _ = log.write_all(line.as_bytes());
            let _ = log.flush();
        }
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Serves until the process ends.
pub fn serve(
    listener: TcpListener,
    store: Arc<dyn BlobStore>,
    options: ServeOptions,
    log: AccessLog,
) -> Result<()> {
    // Fail early on a catalog that cannot be opened.
    Catalog::open(&options.catalog)?;
    let options = Arc::new(options);
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!("accept: {err}");
                continue;
            }
        };
        while active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(5));
        }
        active.fetch_add(1, Ordering::AcqRel);
        let (store, options, log, active) = (
            Arc::clone(&store),
            Arc::clone(&options),
            Arc::clone(&log),
            Arc::clone(&active),
        );
        std::thread::spawn(move || {
            if let Err(err) = handle(stream, store.as_ref(), &options, &log) {
                tracing::debug!("connection: {err}");
            }
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_are_refused() {
        for target in [
            "http://example.com/a/b",
            "/a/../b",
            "/a/%2e%2e/b",
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/a/./b",
            "//etc/passwd",
            "/a//b",
            "/a%00b",
            "/",
            "/%zz",
        ] {
            assert_eq!(clean_path(target), None, "{target}");
        }
        assert_eq!(
            clean_path("/repo/x/repodata/repomd.xml?x=1").as_deref(),
            Some("repo/x/repodata/repomd.xml")
        );
        assert_eq!(
            clean_path("/pulp/content/repo/a%20b.rpm").as_deref(),
            Some("repo/a b.rpm")
        );
    }

    #[test]
    fn request_heads_parse_or_give_the_status_to_answer() {
        let request =
            parse_request_head(b"GET /a/b.rpm HTTP/1.1\r\nHost: x\r\nRange:  bytes=0-1 \r\n")
                .unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/a/b.rpm");
        assert_eq!(request.version, "HTTP/1.1");
        assert_eq!(request.header("range"), Some("bytes=0-1"));
        assert_eq!(request.header("If-Range"), None);
        assert_eq!(
            parse_request_head(b"GET / HTTP/1.0\n").unwrap().headers,
            Vec::new()
        );
        for bad in [
            &b""[..],
            b"GET /\r\n",
            b"GET / HTTP/2\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/1.1 x\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n",
            b"\xff\xfe / HTTP/1.1\r\nA: b\r\n\r\n",
        ] {
            assert_eq!(
                parse_request_head(bad),
                Err(400),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}",
            "A: b\r\n".repeat(MAX_HEAD_LINES + 1)
        );
        assert_eq!(parse_request_head(many.as_bytes()), Err(431));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some((90, 99))));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), Ok(Some((50, 99))));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=5-1"), 100), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(None, 100), Ok(None));
    }

    #[test]
    fn combined_log_time() {
        let time = UNIX_EPOCH + Duration::from_secs(971_186_136);
        assert_eq!(log_time(time), "10/Oct/2000:13:55:36 +0000");
    }
}
