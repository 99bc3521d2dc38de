//! Download statistics from CDN and mirror access logs (not built yet).
//!
//! Will own: parsing CloudFront, Fastly and combined logs, deciding what counts as a download,
//! and exactly-once ingestion of daily counts into SQLite. Must not: touch repositories.
