//! Making and checking signatures: detached OpenPGP v4 signatures over bytes, RPM packages
//! signed one by one or in parallel batches, and RPM signature verification.
//!
//! A [`SignatureMaker`] is where private-key operations happen: an unlocked [`LocalKey`] or a
//! [`crate::service::RemoteKey`]. Either way the OpenPGP packet (hashed subpackets, trailer,
//! digest) is built here, so local and remote signatures are the same shape.
//! Must not: create SHA-1, v3-packet or header+payload signatures.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use openpgp::crypto;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::parse::Parse;
use openpgp::serialize::{Serialize as _, SerializeInto as _};
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm, SignatureType};
use openpgp::{Cert, Packet};
use rayon::prelude::*;
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::keystore::LocalKey;
use crate::package::{self, sigtag};

/// Digest algorithms a signature may use. SHA-1 (and anything weaker) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestAlgo {
    /// SHA-256, what rpm and dnf expect (the default).
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgo {
    /// The sequoia hash algorithm.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            DigestAlgo::Sha256 => HashAlgorithm::SHA256,
            DigestAlgo::Sha384 => HashAlgorithm::SHA384,
            DigestAlgo::Sha512 => HashAlgorithm::SHA512,
        }
    }

    /// The algorithm for a hash the protocol names, if we accept it.
    pub fn from_hash(hash: HashAlgorithm) -> Option<DigestAlgo> {
        match hash {
            HashAlgorithm::SHA256 => Some(DigestAlgo::Sha256),
            HashAlgorithm::SHA384 => Some(DigestAlgo::Sha384),
            HashAlgorithm::SHA512 => Some(DigestAlgo::Sha512),
            _ => None,
        }
    }
}

impl FromStr for DigestAlgo {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(DigestAlgo::Sha256),
            "sha384" => Ok(DigestAlgo::Sha384),
            "sha512" => Ok(DigestAlgo::Sha512),
            "sha1" | "md5" | "sha224" => Err(Error::BadArgument(format!(
                "{s} signatures are refused: rpm-sequoia and RHEL 9 crypto policies reject them; \
                 use sha256"
            ))),
            _ => Err(Error::BadArgument(format!(
                "unknown digest {s:?} (sha256, sha384, sha512)"
            ))),
        }
    }
}

/// Where private-key operations happen.
pub trait SignatureMaker: Send + Sync {
    /// The public certificate whose primary key signs.
    fn cert(&self) -> &Cert;
    /// A sequoia signer for the primary key (one per thread or batch of work).
    fn crypto_signer(&self) -> Result<Box<dyn crypto::Signer + Send + Sync>>;
}

impl SignatureMaker for LocalKey {
    fn cert(&self) -> &Cert {
        &self.cert
    }

    fn crypto_signer(&self) -> Result<Box<dyn crypto::Signer + Send + Sync>> {
        Ok(self.signer())
    }
}

#[allow(deprecated)]
fn is_rsa(key: &openpgp::packet::Key<PublicParts, UnspecifiedRole>) -> bool {
    matches!(
        key.pk_algo(),
        PublicKeyAlgorithm::RSAEncryptSign | PublicKeyAlgorithm::RSASign
    )
}

/// The name rpm prints for a public-key algorithm (`RSA`, `EdDSA`, …).
#[allow(deprecated)]
fn algorithm_name(algo: PublicKeyAlgorithm) -> String {
    match algo {
        PublicKeyAlgorithm::RSAEncryptSign | PublicKeyAlgorithm::RSASign => "RSA".into(),
        PublicKeyAlgorithm::EdDSA | PublicKeyAlgorithm::Ed25519 => "EdDSA".into(),
        PublicKeyAlgorithm::ECDSA => "ECDSA".into(),
        PublicKeyAlgorithm::DSA => "DSA".into(),
        other => other.to_string(),
    }
}

/// A binary OpenPGP v4 signature packet over `data`.
pub fn sign_bytes(
    signer: &mut dyn crypto::Signer,
    data: &[u8],
    digest: DigestAlgo,
) -> Result<Vec<u8>> {
    let sig = SignatureBuilder::new(SignatureType::Binary)
        .set_hash_algo(digest.hash())
        .sign_message(signer, data)
        .map_err(|e| Error::pgp("signing", e))?;
    Packet::from(sig)
        .to_vec()
        .map_err(|e| Error::pgp("serializing signature", e))
}

/// An ASCII-armored detached signature over `data` (what `repomd.xml.asc` holds).
pub fn sign_detached_armored(
    signer: &mut dyn crypto::Signer,
    data: &[u8],
    digest: DigestAlgo,
) -> Result<Vec<u8>> {
    let packet = sign_bytes(signer, data, digest)?;
    let mut out = Vec::new();
    let io_err = |e: std::io::Error| Error::pgp("armoring", e);
    let mut w =
        openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).map_err(io_err)?;
    std::io::Write::write_all(&mut w, &packet).map_err(io_err)?;
    w.finalize().map_err(io_err)?;
    Ok(out)
}

/// What signing one package did.
#[derive(Debug, Clone, Serialize)]
pub struct SignedPackage {
    /// The package that was read.
    pub source: PathBuf,
    /// Where the signed package was written (the source itself when in place).
    pub dest: PathBuf,
    /// How many old signatures were replaced.
    pub replaced: usize,
}

/// Signs one package: header-only v4 signature, old signatures replaced, written atomically
/// to `out_dir/NAME` or in place. Returns once the new file and its name are on disk.
pub fn sign_package(
    path: &Path,
    out_dir: Option<&Path>,
    signer: &mut dyn crypto::Signer,
    digest: DigestAlgo,
) -> Result<SignedPackage> {
    let signed = sign_unsynced_rename(path, out_dir, signer, digest)?;
    package::sync_dir(&package::parent_dir(&signed.dest))?;
    Ok(signed)
}

/// [`sign_package`] up to the rename: the new file's bytes are on disk, its name may not be
/// until the directory is synced.
fn sign_unsynced_rename(
    path: &Path,
    out_dir: Option<&Path>,
    signer: &mut dyn crypto::Signer,
    digest: DigestAlgo,
) -> Result<SignedPackage> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_rpm(path, "not a regular file"));
    }
    let head = package::read_head(&mut file, path)?;
    package::check_header_digests(&head, path)?;
    let replaced = [
        sigtag::RSA,
        sigtag::DSA,
        sigtag::PGP,
        sigtag::GPG,
        sigtag::PGP5,
    ]
    .iter()
    .filter(|t| head.signature.get(**t).is_some())
    .count();
    let tag = package::signature_tag(is_rsa(signer.public()));
    let signature = sign_bytes(signer, &head.header, digest)?;
    let new_header = package::resigned_header(&head, tag, signature);
    let dest = match out_dir {
        Some(dir) => dir.join(
            path.file_name()
                .ok_or_else(|| Error::bad_rpm(path, "no file name"))?,
        ),
        // Rewrite the file a symlink points to, not the link.
        None => fs::canonicalize(path).map_err(|e| Error::io(path, e))?,
    };
    let mode = meta.permissions().mode() & 0o7777;
    package::write_package(&mut file, &head, &new_header, &dest, mode)?;
    Ok(SignedPackage {
        source: path.to_path_buf(),
        dest,
        replaced,
    })
}

/// Threads for a batch. Besides its signature, each package waits for its own fsync
/// (writeback plus a disk flush or journal commit: 3.8 ms on the project's ext4 disk, about as
/// long as an RSA-4096 signature). With more threads than cores the cores keep signing while
/// other threads wait, and the waits overlap each other (a journalling file system commits
/// concurrent fsyncs together), so the syncs cost next to nothing per package.
fn batch_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores * 4
}

/// Signs packages on all cores. The maker is unlocked once by the caller; each worker gets
/// its own signer. Results come back in input order; one bad package does not stop the rest.
///
/// Durability: every package is written to a temp file beside its destination, fsynced and
/// renamed over the destination, so a crash at any moment leaves each package either as it
/// was or completely signed (plus at worst a `.NAME.*.sign-tmp` temp file). The renames are
/// made durable by one fsync per destination directory at the end: when this returns, every
/// package reported as signed is on disk under its name.
pub fn sign_packages(
    paths: &[PathBuf],
    out_dir: Option<&Path>,
    maker: &dyn SignatureMaker,
    digest: DigestAlgo,
    progress: &(dyn Fn() + Sync),
) -> Vec<Result<SignedPackage>> {
    let sign_all = || -> Vec<Result<SignedPackage>> {
        paths
            .par_iter()
            .map_init(
                || maker.crypto_signer(),
                |signer, path| {
                    let result = match signer {
                        Ok(signer) => sign_unsynced_rename(path, out_dir, signer.as_mut(), digest),
                        Err(err) => Err(Error::Service(err.to_string())),
                    };
                    progress();
                    result
                },
            )
            .collect()
    };
    let mut results = match rayon::ThreadPoolBuilder::new()
        .num_threads(batch_threads())
        .build()
    {
        Ok(pool) => pool.install(sign_all),
        // No threads to spare: the global pool signs just as correctly, only waits more.
        Err(_) => sign_all(),
    };
    sync_dest_dirs(&mut results);
    results
}

/// Fsyncs each directory that received a signed package, once; a package whose directory
/// cannot be synced is reported as failed, since its rename may not survive a crash.
fn sync_dest_dirs(results: &mut [Result<SignedPackage>]) {
    let dirs: BTreeSet<PathBuf> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|signed| package::parent_dir(&signed.dest))
        .collect();
    for dir in dirs {
        let Err(err) = package::sync_dir(&dir) else {
            continue;
        };
        for result in results.iter_mut() {
            if let Ok(signed) = result
                && package::parent_dir(&signed.dest) == dir
            {
                let reason = format!("signed, but syncing its directory failed: {err}");
                *result = Err(Error::io(&signed.dest, std::io::Error::other(reason)));
            }
        }
    }
}

/// What checking one package's signature found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VerifyStatus {
    /// A valid header signature by one of the keys.
    Ok {
        /// Fingerprint of the signing key.
        fingerprint: String,
        /// e.g. `RSA/SHA256`.
        algorithm: String,
    },
    /// A signature that does not verify, or a corrupt header.
    Bad {
        /// Why.
        reason: String,
    },
    /// No header signature at all.
    Unsigned {
        /// Extra detail (e.g. only a legacy header+payload signature).
        detail: Option<String>,
    },
    /// Signed by a key we were not given.
    UnknownKey {
        /// The issuer's key ID or fingerprint.
        issuer: String,
    },
}

/// Checks a package's header signature against `certs`.
pub fn verify_package(path: &Path, certs: &[Cert]) -> Result<VerifyStatus> {
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let head = package::read_head(&mut file, path)?;
    if let Err(err) = package::check_header_digests(&head, path) {
        return Ok(VerifyStatus::Bad {
            reason: err.to_string(),
        });
    }
    let Some(entry) = head
        .signature
        .get(sigtag::RSA)
        .or_else(|| head.signature.get(sigtag::DSA))
    else {
        let legacy = [sigtag::PGP, sigtag::GPG]
            .iter()
            .any(|t| head.signature.get(*t).is_some());
        return Ok(VerifyStatus::Unsigned {
            detail: legacy.then(|| "only an RPM v3 header+payload signature".to_string()),
        });
    };
    let sig = match Packet::from_bytes(&entry.data) {
        Ok(Packet::Signature(sig)) => sig,
        Ok(other) => {
            return Ok(VerifyStatus::Bad {
                reason: format!("signature tag holds a {} packet", other.tag()),
            });
        }
        Err(err) => {
            return Ok(VerifyStatus::Bad {
                reason: format!("unparsable signature packet: {err}"),
            });
        }
    };
    let issuers = sig.get_issuers();
    let key = certs.iter().find_map(|cert| {
        cert.keys()
            .find(|ka| issuers.iter().any(|i| i.aliases(ka.key().key_handle())))
            .map(|ka| ka.key().clone())
    });
    let Some(key) = key else {
        return Ok(VerifyStatus::UnknownKey {
            issuer: issuers
                .first()
                .map_or_else(|| "(no issuer)".to_string(), |i| i.to_hex()),
        });
    };
    let algorithm = format!("{}/{}", algorithm_name(key.pk_algo()), sig.hash_algo());
    if sig.version() < 4 {
        return Ok(VerifyStatus::Bad {
            reason: "OpenPGP v3 signature packet (legacy, rejected by rpm-sequoia policies)".into(),
        });
    }
    if DigestAlgo::from_hash(sig.hash_algo()).is_none() {
        return Ok(VerifyStatus::Bad {
            reason: format!("{} signature (weak digest)", sig.hash_algo()),
        });
    }
    Ok(match sig.verify_message(&key, &head.header) {
        Ok(()) => VerifyStatus::Ok {
            fingerprint: key.fingerprint().to_hex(),
            algorithm,
        },
        Err(err) => VerifyStatus::Bad {
            reason: format!("signature does not verify: {err}"),
        },
    })
}

/// Reads certificates from an armored or binary keyring file.
pub fn read_certs(path: &Path) -> Result<Vec<Cert>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let certs: Vec<Cert> = openpgp::cert::CertParser::from_bytes(&bytes)
        .map_err(|e| Error::pgp(&path.to_string_lossy(), e))?
        .filter_map(|c| c.ok())
        .collect();
    if certs.is_empty() {
        return Err(Error::BadArgument(format!(
            "{}: no OpenPGP certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// Serializes a certificate's public parts, binary (for tests and the wire).
pub fn cert_bytes(cert: &Cert) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    cert.serialize(&mut out)
        .map_err(|e| Error::pgp("serializing certificate", e))?;
    Ok(out)
}

/// Signs a repository's metadata: `repodata/repomd.xml.asc` (armored detached signature) and
/// `repodata/repomd.xml.key` (the armored public key), each written atomically. Returns the
/// signature's path.
pub fn sign_repomd(
    repodata_dir: &Path,
    maker: &dyn SignatureMaker,
    digest: DigestAlgo,
) -> Result<PathBuf> {
    let repomd = repodata_dir.join("repomd.xml");
    let data = fs::read(&repomd).map_err(|e| Error::io(&repomd, e))?;
    let mut signer = maker.crypto_signer()?;
    let armored = sign_detached_armored(signer.as_mut(), &data, digest)?;
    let key = crate::key::armored_public(maker.cert())?;
    let asc = repodata_dir.join("repomd.xml.asc");
    crate::keystore::write_atomic(&repodata_dir.join("repomd.xml.key"), &key, 0o644)?;
    crate::keystore::write_atomic(&asc, &armored, 0o644)?;
    Ok(asc)
}
