//! Checksum algorithms for package ids and metadata records (`-s/--checksum`).
//!
//! Must not: decide which bytes are hashed.

use std::str::FromStr;

use sha2::Digest;

use crate::error::Error;

/// The digest algorithms createrepo_c (without legacy hashes) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumType {
    Sha224,
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl ChecksumType {
    /// The name repodata uses (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Sha224 => "sha224",
            ChecksumType::Sha256 => "sha256",
            ChecksumType::Sha384 => "sha384",
            ChecksumType::Sha512 => "sha512",
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            ChecksumType::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            ChecksumType::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumType::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            ChecksumType::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Hex digest and length of everything `reader` yields, read in 1 MiB pieces.
    pub fn of_reader(self, reader: &mut dyn std::io::Read) -> std::io::Result<(String, u64)> {
        let mut hasher = self.hasher();
        let mut buffer = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buffer[..n]);
            total += n as u64;
        }
        Ok((hasher.finish_hex(), total))
    }
}

impl FromStr for ChecksumType {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        match name.to_ascii_lowercase().as_str() {
            "sha224" => Ok(ChecksumType::Sha224),
            "sha256" | "sha" => Ok(ChecksumType::Sha256),
            "sha384" => Ok(ChecksumType::Sha384),
            "sha512" => Ok(ChecksumType::Sha512),
            "md5" | "sha1" => Err(Error::BadOption(format!(
                "checksum type {name} is insecure and not supported (use sha256)"
            ))),
            _ => Err(Error::BadOption(format!(
                "unknown checksum type {name:?} (sha224, sha256, sha384, sha512)"
            ))),
        }
    }
}

/// An incremental hasher for one of the supported algorithms.
#[derive(Clone)]
pub enum Hasher {
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha224(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// Lower-case hex digest.
    pub fn finish_hex(self) -> String {
        let bytes = match self {
            Hasher::Sha224(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        hex(&bytes)
    }
}

/// Lower-case hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_is_hashed_whole_and_measured() {
        let (digest, len) = ChecksumType::Sha256.of_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(
            digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(len, 3);
        let big = vec![7u8; (1 << 20) + 5];
        let mut h = ChecksumType::Sha512.hasher();
        h.update(&big);
        let (digest, len) = ChecksumType::Sha512.of_reader(&mut &big[..]).unwrap();
        assert_eq!((digest, len), (h.finish_hex(), big.len() as u64));
    }

    #[test]
    fn known_digests() {
        let mut h = ChecksumType::Sha256.hasher();
        h.update(b"abc");
        assert_eq!(
            h.finish_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!("md5".parse::<ChecksumType>().is_err());
        assert_eq!(
            "SHA512".parse::<ChecksumType>().unwrap(),
            ChecksumType::Sha512
        );
    }
}
