//! rpmdepot's benchmark support: a deterministic generator of realistic RPM corpora.
//!
//! [`corpus::Corpus`] decides what package `i` of a corpus is; [`corpus::PackageSpec::build`]
//! writes it as a real RPM file (see [`rpmfile`]). The `gen-corpus` binary writes whole corpora
//! in parallel; the criterion benches build a few packages in memory. [`logs`] writes
//! synthetic CDN and mirror logs for statsd's benchmarks (`statsd-bench`).

pub mod corpus;
pub mod logs;
pub mod rng;
pub mod rpmfile;

pub use corpus::{Corpus, PackageSpec};
