//! signer: OpenPGP v4 keys and signatures for rpmdepot.
//!
//! Owns per-project key generation and the keystore ([`keystore`]), RPM header signatures
//! ([`package`], RSA/SHA-256 or EdDSA/SHA-256, written in place atomically without reading the
//! payload into memory), detached `repomd.xml.asc` signatures ([`detached`]) and the
//! digest-only signing service with its client ([`service`]).
//! Must not: read package payloads into memory, emit SHA-1 or OpenPGP v3 signatures, write
//! RPM v3 header+payload signatures, or print.
//!
//! Crypto backend: sequoia-openpgp with `crypto-openssl`, and RSA signatures made by
//! OpenSSL directly ([`rsa`]). RustCrypto is flagged by sequoia itself as not constant-time
//! (its RSA is affected by the Marvin timing attack, RUSTSEC-2023-0071) and is the slowest to
//! build; that rules it out for a long-running signing service. Of the two constant-time
//! production backends, OpenSSL has the fastest RSA: Nettle (GMP's side-channel-silent
//! `mpn_sec_powm`) took about 10 ms per RSA-4096 signature inside `rpmdepot sign`. sequoia's
//! OpenSSL backend itself signs RSA from (n, e, d) alone, without the CRT primes, which
//! measured about 4.5 times slower than the same OpenSSL key imported once with its CRT
//! parameters, so RSA keys sign through [`rsa::RsaCrtSigner`] and sequoia builds the packets.
//!
//! OpenSSL is built from source and linked statically (`openssl-sys`'s `vendored` feature,
//! OpenSSL 3.6): Debian 12's OpenSSL 3.0 has AVX-512 IFMA code for RSA-2048 only, and signs
//! RSA-4096 in 4.1 ms per core here against 2.3 ms for 3.6 on the same CPU. The cost is that
//! an OpenSSL security fix needs an `openssl-src` update and a rebuild; distributions that
//! want the system library build with `OPENSSL_NO_VENDOR=1` (and libssl-dev). Build
//! dependencies: perl and make for OpenSSL, libclang for bindgen.

pub mod error;
pub mod key;
pub mod keystore;
pub mod package;
pub mod rsa;
pub mod service;
pub mod sign;

pub use error::{Error, Result};
pub use key::{KeyAlgo, KeyInfo};
pub use keystore::{KeyEntry, Keystore, LocalKey};
/// Passphrases, as sequoia keeps them (zeroed on drop).
pub use sequoia_openpgp::crypto::Password;
