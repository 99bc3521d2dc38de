//! OpenPGP v4 certificates: generation, expiry extension, revocation and the facts we list.
//!
//! Certificates are shaped like GnuPG's, not like sequoia's `CertBuilder` output: one primary
//! key that certifies and signs (rpm < 4.13 cannot use signing subkeys), a user ID bound by a
//! positive certification whose Key Flags and Key Expiration Time subpackets are *not*
//! critical. rpm >= 4.17 without rpm-sequoia (Debian 12's rpm 4.18, RHEL 9) rejects any critical
//! subpacket its internal parser does not implement, and `CertBuilder` marks those critical.
//! Must not: store keys (that is [`crate::keystore`]) or read packages.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openpgp::Cert;
use openpgp::crypto::KeyPair;
use openpgp::packet::key::{Key4, PrimaryRole, SecretParts};
use openpgp::packet::signature::SignatureBuilder;
use openpgp::packet::signature::subpacket::{Subpacket, SubpacketValue};
use openpgp::packet::{Packet, UserID};
use openpgp::policy::StandardPolicy;
use openpgp::types::{
    Curve, HashAlgorithm, KeyFlags, PublicKeyAlgorithm, ReasonForRevocation, RevocationStatus,
    SignatureType,
};
use sequoia_openpgp as openpgp;
use serde::Serialize;

use crate::error::{Error, Result};

/// The public-key algorithms a new key can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgo {
    /// RSA with a 4096-bit modulus (the default: accepted by every rpm and crypto policy).
    #[default]
    Rsa4096,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// EdDSA over Ed25519 (rpm >= 4.16).
    Ed25519,
}

impl FromStr for KeyAlgo {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rsa4096" | "rsa4k" => Ok(KeyAlgo::Rsa4096),
            "rsa3072" | "rsa3k" => Ok(KeyAlgo::Rsa3072),
            "ed25519" => Ok(KeyAlgo::Ed25519),
            "rsa1024" | "rsa2048" | "dsa" => Err(Error::BadArgument(format!(
                "key algorithm {s} is too weak for current crypto policies; \
                 use rsa4096, rsa3072 or ed25519"
            ))),
            _ => Err(Error::BadArgument(format!(
                "unknown key algorithm {s:?} (rsa4096, rsa3072, ed25519)"
            ))),
        }
    }
}

impl fmt::Display for KeyAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyAlgo::Rsa4096 => "rsa4096",
            KeyAlgo::Rsa3072 => "rsa3072",
            KeyAlgo::Ed25519 => "ed25519",
        })
    }
}

/// Parses a validity like gpg's `--quick-gen-key` expiry: `5y`, `18m`, `2w`, `90d`, or a
/// plain number of days; `never`/`0` mean no expiry (`None`).
///
/// Years are 365 days and months 30 days, computed here in seconds: sequoia's
/// `types::Duration::years` returns seconds instead of days (2.3/2.4), so it is never used.
pub fn parse_validity(text: &str) -> Result<Option<Duration>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") || text == "0" {
        return Ok(None);
    }
    let (number, unit_days) = match text.char_indices().last() {
        Some((i, 'y')) => (&text[..i], 365),
        Some((i, 'm')) => (&text[..i], 30),
        Some((i, 'w')) => (&text[..i], 7),
        Some((i, 'd')) => (&text[..i], 1),
        _ => (text, 1),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| Error::BadArgument(format!("bad duration {text:?} (like 5y, 18m, 90d)")))?;
    let days = n
        .checked_mul(unit_days)
        .filter(|d| *d > 0 && *d <= 100 * 365)
        .ok_or_else(|| Error::BadArgument(format!("duration {text:?} out of range")))?;
    Ok(Some(Duration::from_secs(days * 86_400)))
}

/// Expands a user ID template: `{owner}`, `{project}`, `{name}` (OWNER/PROJECT) and `{host}`.
pub fn expand_uid(template: &str, name: &str, host: &str) -> String {
    let (owner, project) = name.split_once('/').unwrap_or((name, name));
    template
        .replace("{owner}", owner)
        .replace("{project}", project)
        .replace("{name}", name)
        .replace("{host}", host)
}

/// The default user ID template, Copr's: `OWNER_PROJECT (None) <OWNER#PROJECT@HOST>`.
pub const DEFAULT_UID_TEMPLATE: &str = "{owner}_{project} (None) <{owner}#{project}@{host}>";

fn pgp<T>(what: &str, result: openpgp::Result<T>) -> Result<T> {
    result.map_err(|err| Error::pgp(what, err))
}

/// A user-ID binding signature in the shape rpm's internal parser accepts (see module docs).
fn binding_builder(validity: Option<Duration>, created: SystemTime) -> Result<SignatureBuilder> {
    let builder = SignatureBuilder::new(SignatureType::PositiveCertification)
        .set_hash_algo(HashAlgorithm::SHA256);
    let builder = pgp(
        "preferred hashes",
        builder.set_preferred_hash_algorithms(vec![HashAlgorithm::SHA512, HashAlgorithm::SHA256]),
    )?;
    let builder = pgp(
        "creation time",
        builder.set_signature_creation_time(created),
    )?;
    pgp(
        "binding subpackets",
        builder.modify_hashed_area(|mut area| {
            let flags = KeyFlags::empty().set_certification().set_signing();
            area.add(Subpacket::new(SubpacketValue::KeyFlags(flags), false)?)?;
            if let Some(validity) = validity {
                let validity = openpgp::types::Duration::try_from(validity)?;
                area.add(Subpacket::new(
                    SubpacketValue::KeyExpirationTime(validity),
                    false,
                )?)?;
            }
            Ok(area)
        }),
    )
}

/// Generates a new certificate: a sign+certify primary key of `algo`, bound to `uid`,
/// expiring `validity` after now (`None`: never). The secret key is not encrypted.
pub fn generate(uid: &str, algo: KeyAlgo, validity: Option<Duration>) -> Result<Cert> {
    if uid.trim().is_empty() {
        return Err(Error::BadArgument("empty user ID".into()));
    }
    let key: openpgp::packet::Key<SecretParts, PrimaryRole> = match algo {
        KeyAlgo::Rsa4096 => pgp("RSA-4096 key", Key4::generate_rsa(4096))?.into(),
        KeyAlgo::Rsa3072 => pgp("RSA-3072 key", Key4::generate_rsa(3072))?.into(),
        KeyAlgo::Ed25519 => pgp("Ed25519 key", Key4::generate_ecc(true, Curve::Ed25519))?.into(),
    };
    let created = key.creation_time();
    let mut signer = pgp("key pair", key.clone().into_keypair())?;
    let cert = pgp("certificate", Cert::try_from(vec![Packet::from(key)]))?;
    let uid = UserID::from(uid);
    let binding = pgp(
        "user ID binding",
        uid.bind(&mut signer, &cert, binding_builder(validity, created)?),
    )?;
    Ok(pgp(
        "certificate",
        cert.insert_packets(vec![Packet::from(uid), binding.into()]),
    )?
    .0)
}

/// The newest self-signature time on any user ID, so a new one can be made strictly later.
fn newest_binding_time(cert: &Cert) -> SystemTime {
    cert.userids()
        .flat_map(|uid| uid.self_signatures())
        .filter_map(|sig| sig.signature_creation_time())
        .max()
        .unwrap_or(UNIX_EPOCH)
}

/// Waits (at most a second) until the clock has passed `after`, so a new self-signature is
/// unambiguously the newest one.
fn time_after(after: SystemTime) -> SystemTime {
    loop {
        let now = SystemTime::now();
        let now_secs = unix_secs(now);
        if now_secs > unix_secs(after) {
            return UNIX_EPOCH + Duration::from_secs(now_secs);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Seconds since the Unix epoch (0 for earlier times).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Extends the validity: the new expiry is `by` after the current expiry (or after now, if
/// the key has expired or never expired). New binding signatures; the fingerprint stays.
pub fn extend(cert: &Cert, signer: &mut KeyPair, by: Duration) -> Result<Cert> {
    let info = KeyInfo::of(cert);
    let now = SystemTime::now();
    let base = info
        .expires
        .map(|e| UNIX_EPOCH + Duration::from_secs(e))
        .filter(|e| *e > now)
        .unwrap_or(now);
    let new_expiry = base + by;
    let created = cert.primary_key().key().creation_time();
    let validity = new_expiry
        .duration_since(created)
        .map_err(|_| Error::BadArgument("expiry before key creation".into()))?;
    let sig_time = time_after(newest_binding_time(cert));
    let mut packets = Vec::new();
    for uid in cert.userids() {
        let binding = pgp(
            "user ID binding",
            uid.userid()
                .bind(signer, cert, binding_builder(Some(validity), sig_time)?),
        )?;
        packets.push(Packet::from(binding));
    }
    Ok(pgp("certificate", cert.clone().insert_packets(packets))?.0)
}

/// Revokes the certificate (reason: retired). Signatures made before stay verifiable by rpm,
/// which does not check revocations, but our keystore refuses to sign with it.
pub fn revoke(cert: &Cert, signer: &mut KeyPair) -> Result<Cert> {
    let sig = pgp(
        "revocation",
        cert.revoke(
            signer,
            ReasonForRevocation::KeyRetired,
            b"retired by rpmdepot key revoke",
        ),
    )?;
    Ok(pgp("certificate", cert.clone().insert_packets(sig))?.0)
}

/// What `key list` shows about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// Primary key fingerprint, upper-case hex.
    pub fingerprint: String,
    /// `rsa4096`, `rsa3072`, `ed25519`, …
    pub algo: String,
    /// Creation time, seconds since the epoch.
    pub created: u64,
    /// Expiry, seconds since the epoch (`None`: never).
    pub expires: Option<u64>,
    /// Whether a revocation signature exists.
    pub revoked: bool,
    /// The primary user ID.
    pub uid: String,
}

impl KeyInfo {
    /// Reads the facts from a certificate's newest self-signatures.
    pub fn of(cert: &Cert) -> KeyInfo {
        let policy = StandardPolicy::new();
        let primary = cert.primary_key().key();
        let algo = match primary.pk_algo() {
            PublicKeyAlgorithm::EdDSA | PublicKeyAlgorithm::Ed25519 => "ed25519".to_string(),
            #[allow(deprecated)]
            PublicKeyAlgorithm::RSAEncryptSign | PublicKeyAlgorithm::RSASign => {
                format!("rsa{}", primary.mpis().bits().unwrap_or(0))
            }
            other => other.to_string().to_ascii_lowercase(),
        };
        // Expiry is a property of the binding signature, not of "now": evaluate at the newest
        // self-signature so an expired key still reports when it expired.
        let at = newest_binding_time(cert).max(primary.creation_time());
        let valid = cert.with_policy(&policy, at).ok();
        let expires = valid
            .as_ref()
            .and_then(|v| v.primary_key().key_expiration_time())
            .map(unix_secs);
        let uid = valid
            .as_ref()
            .and_then(|v| v.primary_userid().ok())
            .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            .or_else(|| {
                cert.userids()
                    .next()
                    .map(|u| String::from_utf8_lossy(u.userid().value()).into_owned())
            })
            .unwrap_or_default();
        let revoked = matches!(
            cert.revocation_status(&policy, None),
            RevocationStatus::Revoked(_)
        );
        KeyInfo {
            fingerprint: cert.fingerprint().to_hex(),
            algo,
            created: unix_secs(primary.creation_time()),
            expires,
            revoked,
            uid,
        }
    }
}

/// Checks that the certificate may sign now: valid self-signature, not expired, not revoked,
/// signing-capable primary key. Returns the reason otherwise.
pub fn check_usable(cert: &Cert) -> std::result::Result<(), String> {
    let policy = StandardPolicy::new();
    let valid = cert
        .with_policy(&policy, None)
        .map_err(|err| format!("no valid self-signature: {err}"))?;
    if let RevocationStatus::Revoked(_) = valid.revocation_status() {
        return Err("the key is revoked".into());
    }
    valid
        .alive()
        .map_err(|_| "the key has expired (extend it with `key extend`)".to_string())?;
    let primary = valid.primary_key();
    if !primary.for_signing() {
        return Err("the primary key is not signing-capable".into());
    }
    Ok(())
}

/// The armored public certificate (what `key export` prints and repomd.xml.key holds).
pub fn armored_public(cert: &Cert) -> Result<Vec<u8>> {
    use openpgp::serialize::SerializeInto;
    pgp("armoring", cert.armored().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_in_days_not_seconds() {
        assert_eq!(
            parse_validity("5y").unwrap(),
            Some(Duration::from_secs(5 * 365 * 86_400))
        );
        assert_eq!(
            parse_validity("90d").unwrap(),
            Some(Duration::from_secs(90 * 86_400))
        );
        assert_eq!(
            parse_validity("2").unwrap(),
            Some(Duration::from_secs(2 * 86_400))
        );
        assert_eq!(parse_validity("never").unwrap(), None);
        assert!(parse_validity("5x").is_err());
        assert!(parse_validity("-1y").is_err());
        assert!(parse_validity("1000y").is_err());
    }

    #[test]
    fn uid_template_follows_copr() {
        assert_eq!(
            expand_uid(DEFAULT_UID_TEMPLATE, "alice/hello", "copr.example.org"),
            "alice_hello (None) <alice#hello@copr.example.org>"
        );
    }

    #[test]
    fn generated_key_has_requested_expiry_and_no_critical_extras() {
        let cert = generate(
            "a_b (None) <a#b@h>",
            KeyAlgo::Ed25519,
            parse_validity("5y").unwrap(),
        )
        .unwrap();
        let info = KeyInfo::of(&cert);
        assert_eq!(info.algo, "ed25519");
        assert_eq!(info.expires, Some(info.created + 5 * 365 * 86_400));
        assert!(!info.revoked);
        check_usable(&cert).unwrap();
        for uid in cert.userids() {
            for sig in uid.self_signatures() {
                for sp in sig.hashed_area().iter() {
                    let allowed = matches!(
                        sp.tag(),
                        openpgp::packet::signature::subpacket::SubpacketTag::SignatureCreationTime
                            | openpgp::packet::signature::subpacket::SubpacketTag::Issuer
                    );
                    assert!(
                        !sp.critical() || allowed,
                        "critical subpacket {:?} breaks rpm 4.18",
                        sp.tag()
                    );
                }
            }
        }
    }

    #[test]
    fn extend_keeps_fingerprint_and_moves_expiry() {
        let cert = generate("x <x@y>", KeyAlgo::Ed25519, parse_validity("10d").unwrap()).unwrap();
        let before = KeyInfo::of(&cert);
        let mut kp = cert
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap();
        let extended = extend(&cert, &mut kp, Duration::from_secs(20 * 86_400)).unwrap();
        let after = KeyInfo::of(&extended);
        assert_eq!(before.fingerprint, after.fingerprint);
        assert_eq!(after.expires, Some(before.expires.unwrap() + 20 * 86_400));
        let revoked = revoke(&extended, &mut kp).unwrap();
        assert!(KeyInfo::of(&revoked).revoked);
        assert!(check_usable(&revoked).is_err());
    }
}
