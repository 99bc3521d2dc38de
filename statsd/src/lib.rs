//! Download statistics from CDN and mirror access logs.
//!
//! Owns: reading CloudFront, Fastly and combined logs (any compression), deciding what
//! counts as a download, and exactly-once ingestion of daily counts into SQLite, plus the
//! reports drawn from them. Must not: touch repositories or their packages.

mod error;
pub mod format;
pub mod input;
pub mod record;
pub mod text;
pub mod time;

pub use error::{Error, Result};
pub use record::{Encoding, Rejection, Request};
