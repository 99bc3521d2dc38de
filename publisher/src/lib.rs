//! Pulp-compatible content storage for rpmdepot.
//!
//! Owns content-addressed artifacts (`artifact/ab/cdef…`) on local disk or S3 ([`store`]),
//! the catalog of packages, repositories, immutable repository versions, publications and
//! distributions ([`catalog`]), taking over existing repository directories ([`import`]),
//! atomic publishing ([`publish`]), pruning and garbage
//! collection ([`prune`]), migration between stores ([`migrate`]) and HTTP serving
//! ([`serve`]). Must not: generate repodata itself (repo-core does that), sign anything (the
//! signer crate does, through [`publish::MetadataSigner`]) or print (the CLI reports).

pub mod catalog;
pub mod config;
pub mod error;
pub mod import;
pub mod migrate;
pub mod prune;
pub mod publish;
pub mod serve;
pub mod store;

pub use error::{Error, Result};
