//! signer: OpenPGP v4 keys and signatures for rpmdepot.
//!
//! Owns per-project key generation and the keystore ([`keystore`]), RPM header signatures
//! ([`package`], RSA/SHA-256 or EdDSA/SHA-256, written in place atomically without reading the
//! payload into memory), detached `repomd.xml.asc` signatures ([`detached`]) and the
//! digest-only signing service with its client ([`service`]).
//! Must not: read package payloads into memory, emit SHA-1 or OpenPGP v3 signatures, write
//! RPM v3 header+payload signatures, or print.
//!
//! Crypto backend: sequoia-openpgp with `crypto-nettle`.
//! RustCrypto is flagged by sequoia itself as not constant-time (its RSA is affected by the
//! Marvin timing attack, RUSTSEC-2023-0071) and is the slowest to build; that rules it out for
//! a long-running signing service. Of the two constant-time backends, OpenSSL builds a little
//! faster, but sequoia 2.4's OpenSSL backend signs RSA from (n, e, d) alone, without the CRT
//! primes: about 16 ms per RSA-4096 signature here against 4 ms with Nettle, which signs with
//! p and q and blinding. Signing speed is the point of this crate, so Nettle it is (Debian
//! build dependencies: nettle-dev, pkg-config, and libclang for bindgen).

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
