//! Download statistics from CDN and mirror access logs.
//!
//! Owns: reading CloudFront, Fastly and combined logs (any compression), deciding what
//! counts as a download, and exactly-once ingestion of daily counts into SQLite, plus the
//! reports drawn from them. Must not: touch repositories or their packages.
//!
//! # Counting rules
//!
//! Every line ends in exactly one place: a meta line (header, blank, marker), a rejection
//! with a reason ([`Rejection`]), a request that is not counted ([`tally::NotCounted`]: not an
//! artifact, another method, another status), or one counter of one cell
//! (day UTC, repository, package, kind, client class):
//!
//! 1. Status `000` (client went away), 4xx and 5xx are rejected (`status_000`, `status_4xx`,
//!    `status_5xx`). With a host list, a request logged for another host is rejected
//!    (`other_host`) — that line only, never the whole file.
//! 2. The path is decoded as its format requires. CloudFront escapes every field and `%`
//!    itself as `%25`, on top of the client's own escaping, so CloudFront paths are decoded
//!    twice (`%2540copr` → `%40copr` → `@copr`); combined and Fastly logs hold the target as
//!    sent and are decoded once. A path that still holds a `%XX` escape was double-encoded by
//!    the client and is rejected (`double_encoded_path`). `+` is a literal `+` (`libstdc++`).
//!    The query string is never part of the path.
//! 3. `…/metalink` and `…/mirrorlist` requests carrying `countme=1..4` (GET or HEAD, status
//!    200 or 302) are DNF countme hits: kind `countme`, repository `<repo>/<arch>` from the
//!    query (last value wins), package `countme=N`, one hit each; reports bucket them into
//!    weeks starting Monday 1970-01-05 UTC like mirrors-countme.
//! 4. Other paths are mapped to an artifact by the layouts ([`artifact`]); no artifact → not
//!    counted.
//! 5. Then, by method and status:
//!    - GET 200 with a completed transfer → **download** (+ bytes sent). Completed means the
//!      CDN did not log a failed transfer (`x-edge-result-type` `Error`) and, when both are
//!      logged, bytes sent ≥ Content-Length. Otherwise → `aborted`.
//!    - GET 206 → `partials`. A complete 206 of a package file keeps its range end; when that
//!      range ends at the file's last byte (size learned from any completed 200 of the same
//!      file) it is a resumed download and counts **once** as a download (resolved in the
//!      store, so the order of files does not matter). Other 206s (zchunk ranges, parallel
//!      segments, logs without ranges) never count as downloads.
//!    - HEAD 2xx/304 → `heads`; GET 304 → `not_modified`; neither is a download.
//!    - Other methods or statuses → not counted.
//! 6. The user agent (decoded once for CloudFront) gives the client class ([`client`]); bots
//!    and build farms are kept as classes, not dropped.
//!
//! Days are UTC days of the request time (CloudFront: when the response finished; combined
//! logs: the local time converted with its offset), so late files land on the right day.

pub mod artifact;
pub mod client;
mod error;
pub mod format;
pub mod ingest;
pub mod input;
pub mod record;
pub mod report;
pub mod store;
pub mod tally;
pub mod text;
pub mod time;

pub use artifact::{Kind, Layout};
pub use client::ClientClass;
pub use error::{Error, Result};
pub use ingest::{FileOutcome, IngestOptions, count_file, ingest};
pub use record::{Encoding, Rejection, Request};
pub use store::{CommitOutcome, FileIdentity, Store};
pub use tally::{CountOptions, Counts, FileCounts, count_stream};
