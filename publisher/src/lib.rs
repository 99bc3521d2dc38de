//! Pulp-compatible content storage for rpmdepot (not built yet).
//!
//! Will own: content-addressed artifacts (`artifact/ab/cdef…`) on local disk or S3, immutable
//! repository versions, publications, distributions, atomic publishing, pruning, migration
//! between stores and HTTP serving. Must not: generate repodata itself (repo-core does that).
