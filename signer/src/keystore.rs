//! The keystore: a directory of secret certificates plus a SQLite index naming them.
//!
//! Layout: `index.sqlite` (name → fingerprint and the facts `key list` shows) and
//! `keys/<FINGERPRINT>.asc` (armored transferable secret key, the secret key material
//! encrypted with the passphrase unless the key was made with no passphrase). Directories are
//! 0700, files 0600; key files are written atomically (temp file, fsync, rename) before the
//! index row that names them, so a crash never leaves an index entry without its key.
//! Must not: take passphrases from anywhere but its callers, or hand out secret keys except
//! as an unlocked [`LocalKey`].

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openpgp::Cert;
use openpgp::crypto::{self, KeyPair, Password};
use openpgp::parse::Parse;
use openpgp::serialize::Serialize as _;
use rusqlite::{Connection, OptionalExtension, params};
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::key::{self, KeyAlgo, KeyInfo};
use crate::rsa::RsaCrtSigner;

/// One key as `key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    /// The keystore name, usually `OWNER/PROJECT`.
    pub name: String,
    /// Whether the secret key is encrypted with a passphrase.
    pub protected: bool,
    /// Facts from the certificate.
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// An unlocked signing key: the public certificate and a key pair for its primary key.
#[derive(Clone)]
pub struct LocalKey {
    /// The keystore name.
    pub name: String,
    /// The public certificate (no secret material).
    pub cert: Cert,
    /// The primary key with its decrypted secret.
    pub keypair: KeyPair,
    /// The same key inside OpenSSL with its CRT parameters, when it is RSA.
    rsa: Option<RsaCrtSigner>,
}

impl LocalKey {
    /// A signer for the primary key: OpenSSL's CRT path for RSA keys, sequoia's key pair
    /// for the others. Cheap; make one per thread.
    pub fn signer(&self) -> Box<dyn crypto::Signer + Send + Sync> {
        match &self.rsa {
            Some(rsa) => Box::new(rsa.clone()),
            None => Box::new(self.keypair.clone()),
        }
    }
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .field("fingerprint", &self.cert.fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

/// A keystore directory.
pub struct Keystore {
    dir: PathBuf,
    index_path: PathBuf,
    db: Connection,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS keys (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    algo TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER,
    revoked INTEGER NOT NULL,
    uid TEXT NOT NULL,
    protected INTEGER NOT NULL
)";

/// Checks a key name: `OWNER/PROJECT`-like, printable, no path tricks (names never become
/// paths, but they do appear in logs and protocol lines).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-@/:".contains(c))
        && !name.starts_with('/')
        && !name.ends_with('/');
    if ok {
        Ok(())
    } else {
        Err(Error::BadArgument(format!(
            "bad key name {name:?}: use letters, digits and ._+-@:/ like OWNER/PROJECT"
        )))
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    if !path.is_dir() {
        fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(path, e))
}

/// Writes `bytes` to `path` atomically with mode 0600: temp file, fsync, rename, fsync dir.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes, 0o600)
}

/// Writes `bytes` to `path` atomically with `mode`: temp file, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        Error::io(path, e)
    })
}

impl Keystore {
    /// Opens (creating if needed) the keystore in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Keystore> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        create_private_dir(&dir.join("keys"))?;
        let index_path = dir.join("index.sqlite");
        let existed = index_path.exists();
        let index_err = |source| Error::Index {
            path: index_path.clone(),
            source,
        };
        let db = Connection::open(&index_path).map_err(index_err)?;
        db.busy_timeout(Duration::from_secs(10))
            .map_err(index_err)?;
        db.execute_batch(SCHEMA).map_err(index_err)?;
        if !existed {
            fs::set_permissions(&index_path, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(&index_path, e))?;
        }
        Ok(Keystore {
            dir,
            index_path,
            db,
        })
    }

    /// The keystore directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_err(&self, source: rusqlite::Error) -> Error {
        Error::Index {
            path: self.index_path.clone(),
            source,
        }
    }

    fn key_path(&self, fingerprint: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{fingerprint}.asc"))
    }

    fn fingerprint_of(&self, name: &str) -> Result<(String, bool)> {
        self.db
            .query_row(
                "SELECT fingerprint, protected FROM keys WHERE name = ?1",
                params![name],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.index_err(e))?
            .ok_or_else(|| Error::UnknownKey(name.to_string()))
    }

    fn read_cert(&self, name: &str) -> Result<(Cert, bool)> {
        let (fingerprint, protected) = self.fingerprint_of(name)?;
        let path = self.key_path(&fingerprint);
        let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let cert = Cert::from_bytes(&bytes).map_err(|e| Error::pgp(&path.to_string_lossy(), e))?;
        if cert.fingerprint().to_hex() != fingerprint {
            return Err(Error::BadArgument(format!(
                "{}: holds key {} but the index says {fingerprint}",
                path.display(),
                cert.fingerprint()
            )));
        }
        Ok((cert, protected))
    }

    fn store(&self, name: &str, cert: &Cert, protected: bool, replace: bool) -> Result<KeyInfo> {
        let info = KeyInfo::of(cert);
        let mut armored = Vec::new();
        {
            let mut w = openpgp::armor::Writer::new(&mut armored, openpgp::armor::Kind::SecretKey)
                .map_err(|e| Error::io(&self.dir, e))?;
            cert.as_tsk()
                .serialize(&mut w)
                .map_err(|e| Error::pgp("serializing key", e))?;
            w.finalize().map_err(|e| Error::io(&self.dir, e))?;
        }
        write_private_atomic(&self.key_path(&info.fingerprint), &armored)?;
        let sql = if replace {
            "INSERT OR REPLACE INTO keys VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        } else {
            "INSERT INTO keys VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        };
        self.db
            .execute(
                sql,
                params![
                    name,
                    info.fingerprint,
                    info.algo,
                    info.created as i64,
                    info.expires.map(|e| e as i64),
                    info.revoked,
                    info.uid,
                    protected
                ],
            )
            .map_err(|e| self.index_err(e))?;
        Ok(info)
    }

    /// Generates and stores a key. `passphrase: None` stores the secret unencrypted (the
    /// caller must have asked for that explicitly).
    pub fn generate(
        &self,
        name: &str,
        uid: &str,
        algo: KeyAlgo,
        validity: Option<Duration>,
        passphrase: Option<&Password>,
    ) -> Result<KeyInfo> {
        check_name(name)?;
        if self.fingerprint_of(name).is_ok() {
            return Err(Error::KeyExists(name.to_string()));
        }
        let cert = key::generate(uid, algo, validity)?;
        let cert = match passphrase {
            Some(passphrase) => encrypt(cert, passphrase)?,
            None => cert,
        };
        self.store(name, &cert, passphrase.is_some(), false)
    }

    /// Every key, by name.
    pub fn list(&self) -> Result<Vec<KeyEntry>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT name, fingerprint, algo, created, expires, revoked, uid, protected \
                 FROM keys ORDER BY name",
            )
            .map_err(|e| self.index_err(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(KeyEntry {
                    name: row.get(0)?,
                    protected: row.get(7)?,
                    info: KeyInfo {
                        fingerprint: row.get(1)?,
                        algo: row.get(2)?,
                        created: row.get::<_, i64>(3)? as u64,
                        expires: row.get::<_, Option<i64>>(4)?.map(|e| e as u64),
                        revoked: row.get(5)?,
                        uid: row.get(6)?,
                    },
                })
            })
            .map_err(|e| self.index_err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.index_err(e))
    }

    /// The public certificate of `name`.
    pub fn public_cert(&self, name: &str) -> Result<Cert> {
        Ok(self.read_cert(name)?.0.strip_secret_key_material())
    }

    /// Decrypts `name`'s secret key (once; the result signs any number of times).
    /// Refuses expired and revoked keys.
    pub fn unlock(&self, name: &str, passphrase: Option<&Password>) -> Result<LocalKey> {
        let (cert, _) = self.read_cert(name)?;
        key::check_usable(&cert).map_err(|reason| Error::KeyUnusable {
            name: name.to_string(),
            reason,
        })?;
        let keypair = self.keypair(name, &cert, passphrase)?;
        let rsa = RsaCrtSigner::from_keypair(&keypair)?;
        Ok(LocalKey {
            name: name.to_string(),
            cert: cert.strip_secret_key_material(),
            keypair,
            rsa,
        })
    }

    fn keypair(&self, name: &str, cert: &Cert, passphrase: Option<&Password>) -> Result<KeyPair> {
        let unusable = |reason: &str| Error::KeyUnusable {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let secret = cert
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .map_err(|_| unusable("the keystore holds no secret key for it"))?;
        let secret = if secret.has_unencrypted_secret() {
            secret
        } else {
            let passphrase = passphrase.ok_or_else(|| {
                unusable(
                    "the secret key is passphrase-protected; set RPMDEPOT_PASSPHRASE \
                     or use --passphrase-file",
                )
            })?;
            secret
                .decrypt_secret(passphrase)
                .map_err(|_| unusable("wrong passphrase"))?
        };
        secret.into_keypair().map_err(|e| Error::pgp("key pair", e))
    }

    fn modify(
        &self,
        name: &str,
        passphrase: Option<&Password>,
        change: impl FnOnce(&Cert, &mut KeyPair) -> Result<Cert>,
    ) -> Result<KeyInfo> {
        let (cert, protected) = self.read_cert(name)?;
        let mut keypair = self.keypair(name, &cert, passphrase)?;
        let public = change(&cert, &mut keypair)?;
        // The change adds signatures; merge them into the stored (secret) certificate.
        let merged = cert
            .merge_public(public)
            .map_err(|e| Error::pgp("merging signatures", e))?;
        self.store(name, &merged, protected, true)
    }

    /// Extends `name`'s expiry by `by` (same key, new binding signatures).
    pub fn extend(
        &self,
        name: &str,
        by: Duration,
        passphrase: Option<&Password>,
    ) -> Result<KeyInfo> {
        self.modify(name, passphrase, |cert, keypair| {
            key::extend(cert, keypair, by)
        })
    }

    /// Revokes `name`; it stays listed and exportable but no longer signs.
    pub fn revoke(&self, name: &str, passphrase: Option<&Password>) -> Result<KeyInfo> {
        self.modify(name, passphrase, key::revoke)
    }
}

/// Encrypts the secret key material with `passphrase` (sequoia's default S2K: iterated and
/// salted, AES-256).
fn encrypt(cert: Cert, passphrase: &Password) -> Result<Cert> {
    let primary = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .map_err(|e| Error::pgp("secret key", e))?;
    let encrypted = primary
        .encrypt_secret(passphrase)
        .map_err(|e| Error::pgp("encrypting secret key", e))?;
    Ok(cert
        .insert_packets(openpgp::Packet::from(encrypted.role_into_primary()))
        .map_err(|e| Error::pgp("certificate", e))?
        .0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystore_round_trip_with_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = Keystore::open(dir.path().join("ks")).unwrap();
        let pass = Password::from("correct horse");
        let info = store
            .generate(
                "alice/hello",
                "alice_hello (None) <alice#hello@h>",
                KeyAlgo::Ed25519,
                None,
                Some(&pass),
            )
            .unwrap();
        assert!(matches!(
            store.generate("alice/hello", "x", KeyAlgo::Ed25519, None, None),
            Err(Error::KeyExists(_))
        ));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("ks")), 0o700);
        assert_eq!(mode(&dir.path().join("ks/index.sqlite")), 0o600);
        let key_file = dir.path().join(format!("ks/keys/{}.asc", info.fingerprint));
        assert_eq!(mode(&key_file), 0o600);
        // Encrypted at rest: the stored secret cannot be used without the passphrase.
        let stored = Cert::from_file(&key_file).unwrap();
        assert!(stored.is_tsk());
        assert!(!stored.primary_key().key().has_unencrypted_secret());
        assert!(matches!(
            store.unlock("alice/hello", None),
            Err(Error::KeyUnusable { .. })
        ));
        assert!(
            store
                .unlock("alice/hello", Some(&Password::from("wrong")))
                .is_err()
        );
        let key = store.unlock("alice/hello", Some(&pass)).unwrap();
        assert_eq!(key.cert.fingerprint().to_hex(), info.fingerprint);
        assert!(!key.cert.is_tsk());
        let list = store.list().unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].protected);
        assert!(matches!(
            store.unlock("nobody/x", None),
            Err(Error::UnknownKey(_))
        ));

        let revoked = store.revoke("alice/hello", Some(&pass)).unwrap();
        assert!(revoked.revoked);
        assert!(matches!(
            store.unlock("alice/hello", Some(&pass)),
            Err(Error::KeyUnusable { .. })
        ));
        // Still encrypted after the rewrite.
        let stored = Cert::from_file(&key_file).unwrap();
        assert!(!stored.primary_key().key().has_unencrypted_secret());
    }

    #[test]
    fn names_are_checked() {
        check_name("alice/hello-world_2").unwrap();
        check_name("@group/proj").unwrap();
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("/abs").is_err());
        assert!(check_name("a\nb").is_err());
    }
}
