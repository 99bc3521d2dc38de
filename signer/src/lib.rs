//! signer: OpenPGP v4 keys and signatures for rpmdepot.
//!
//! Owns per-project key generation and the keystore ([`keystore`]), RPM header signatures
//! ([`package`], RSA/SHA-256 or EdDSA/SHA-256, written in place atomically without reading the
//! payload into memory), detached `repomd.xml.asc` signatures ([`detached`]) and the
//! digest-only signing service with its client ([`service`]).
//! Must not: read package payloads into memory, emit SHA-1 or OpenPGP v3 signatures, write
//! RPM v3 header+payload signatures, or print.
//!
//! Crypto backend: sequoia-openpgp with `crypto-openssl`. Of the three backends measured for
//! this project, RustCrypto is flagged by sequoia itself as not constant-time (its RSA is
//! affected by the Marvin timing attack, RUSTSEC-2023-0071) and is the slowest to build and, in
//! debug builds, to generate keys; that rules it out for a long-running signing service.
//! Nettle and OpenSSL are both constant-time; OpenSSL builds fastest of the three and its
//! development files are on every build host already (Debian: libssl-dev, plus clang for
//! bindgen).

pub mod error;
pub mod key;
pub mod keystore;
pub mod package;
pub mod service;
pub mod sign;

pub use error::{Error, Result};
pub use key::{KeyAlgo, KeyInfo};
pub use keystore::{KeyEntry, Keystore, LocalKey};
/// Passphrases, as sequoia keeps them (zeroed on drop).
pub use sequoia_openpgp::crypto::Password;
