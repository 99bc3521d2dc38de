//! OpenPGP v4 keys and signatures for rpmdepot (not built yet).
//!
//! Will own: per-project key generation and storage, RPM header signatures (RSA/SHA-256 or
//! EdDSA), detached `repomd.xml.asc`, and a signing service that only ever sees digests.
//! Must not: read package payloads, or emit SHA-1 or v3 signatures.
