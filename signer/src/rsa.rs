//! RSA signatures through OpenSSL with the Chinese-remainder-theorem parameters.
//!
//! sequoia 2.4's OpenSSL backend hands OpenSSL a new RSA key built from (n, e, d) for every
//! signature, so OpenSSL cannot use the CRT and every RSA-4096 signature costs about four
//! times what it must (and sequoia re-parses the secret key material each time as well).
//! [`RsaCrtSigner`] imports the key into OpenSSL once, with p, q, d mod (p-1), d mod (q-1) and
//! q⁻¹ mod p, and then only signs: OpenSSL's blinded, constant-time CRT path, which also
//! checks each result against the public key before returning it. PKCS#1 v1.5 signatures are
//! deterministic, so the bytes are the ones sequoia's own backend would produce.
//! Secret numbers are held in zeroed-on-drop buffers until OpenSSL has its key object (the
//! parameter buffers OpenSSL's import goes through are freed without wiping, as they are
//! for every signature in sequoia's own backend).
//! Must not: sign with anything but the key it was built from, or keep secret numbers
//! anywhere but in OpenSSL's key object once imported.

use std::ffi::CStr;
use std::sync::OnceLock;

use openpgp::crypto::mpi::{self, PublicKey, SecretKeyMaterial};
use openpgp::crypto::{KeyPair, Signer};
use openpgp::packet::Key;
use openpgp::packet::key::{PublicParts, UnspecifiedRole};
use openpgp::types::{HashAlgorithm, PublicKeyAlgorithm};
use ossl::bindings::{self as bn, EVP_PKEY_KEYPAIR};
use ossl::pkey::EvpPkey;
use ossl::signature::{OsslSignature, SigAlg, SigOp};
use ossl::{OsslParamBuilder, OsslSecret};
use sequoia_openpgp as openpgp;

use crate::error::{Error, Result};

/// OpenSSL's library context for our own key objects (the default provider suffices).
fn context() -> std::result::Result<&'static ossl::OsslContext, ossl::Error> {
    static CONTEXT: OnceLock<Option<ossl::OsslContext>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| ossl::OsslContext::new_lib_ctx_checked().ok())
        .as_ref()
        .ok_or_else(|| ossl::Error::new(ossl::ErrorKind::NullPtr))
}

/// An RSA primary key imported into OpenSSL with its CRT parameters. Cloning shares the key
/// object (OpenSSL counts references); each clone may sign on its own thread.
#[derive(Clone)]
pub struct RsaCrtSigner {
    public: Key<PublicParts, UnspecifiedRole>,
    key: EvpPkey,
}

impl std::fmt::Debug for RsaCrtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaCrtSigner")
            .field("fingerprint", &self.public.fingerprint().to_hex())
            .finish_non_exhaustive()
    }
}

impl RsaCrtSigner {
    /// Imports `keypair`'s RSA secret. `Ok(None)` when the key is not RSA. The imported key
    /// must make a signature that the public key accepts, so a damaged secret is refused here
    /// rather than producing bad packages later.
    #[allow(deprecated)]
    pub fn from_keypair(keypair: &KeyPair) -> Result<Option<RsaCrtSigner>> {
        let public = keypair.public().clone();
        if !matches!(
            public.pk_algo(),
            PublicKeyAlgorithm::RSAEncryptSign | PublicKeyAlgorithm::RSASign
        ) {
            return Ok(None);
        }
        let PublicKey::RSA { e, n } = public.mpis() else {
            return Ok(None);
        };
        // OpenPGP stores p < q and u = p⁻¹ mod q; OpenSSL wants qinv = q⁻¹ mod p, so OpenPGP's
        // q is OpenSSL's first factor and u is the coefficient as it stands.
        let secrets = keypair.secret().map(|secret| match secret {
            SecretKeyMaterial::RSA { d, p, q, u } => Ok([
                OsslSecret::from_slice(d.value()),
                OsslSecret::from_slice(q.value()),
                OsslSecret::from_slice(p.value()),
                crt_exponent(d.value(), q.value())?,
                crt_exponent(d.value(), p.value())?,
                OsslSecret::from_slice(u.value()),
            ]),
            _ => Err(Error::OpenPgp(
                "RSA public key with non-RSA secret key material".into(),
            )),
        })?;
        let [d, p, q, dp, dq, qinv] = &secrets;
        let mut params = OsslParamBuilder::with_capacity(8);
        let numbers: [(&CStr, &[u8]); 8] = [
            (c"n", n.value()),
            (c"e", e.value()),
            (c"d", d),
            (c"rsa-factor1", p),
            (c"rsa-factor2", q),
            (c"rsa-exponent1", dp),
            (c"rsa-exponent2", dq),
            (c"rsa-coefficient1", qinv),
        ];
        let import_err = |e| Error::pgp("importing the RSA key into OpenSSL", e);
        for (name, value) in numbers {
            params.add_bn(name, value).map_err(import_err)?;
        }
        let params = params.finalize();
        let key = context()
            .and_then(|ctx| EvpPkey::fromdata(ctx, c"RSA", EVP_PKEY_KEYPAIR, &params))
            .map_err(import_err)?;
        let mut signer = RsaCrtSigner { public, key };
        signer.self_test()?;
        Ok(Some(signer))
    }

    /// Signs a fixed digest and verifies it with the public key (sequoia's own code).
    fn self_test(&mut self) -> Result<()> {
        let digest = [0x5a; 32];
        let signature = self
            .sign(HashAlgorithm::SHA256, &digest)
            .map_err(|e| Error::pgp("RSA self-test", e))?;
        self.public
            .verify(&signature, HashAlgorithm::SHA256, &digest)
            .map_err(|e| Error::pgp("RSA self-test signature does not verify", e))
    }
}

/// Owns an OpenSSL BIGNUM in secure memory; clears and frees it on drop.
struct SecretBn(*mut bn::BIGNUM);

impl SecretBn {
    fn from_be(bytes: &[u8]) -> Result<SecretBn> {
        // SAFETY: BN_secure_new returns a fresh BIGNUM or null; BN_bin2bn reads exactly
        // `bytes.len()` bytes into it.
        unsafe {
            let bn = SecretBn(bn::BN_secure_new());
            if bn.0.is_null() || bn::BN_bin2bn(bytes.as_ptr(), bytes.len() as _, bn.0).is_null() {
                return Err(crt_error());
            }
            bn::BN_set_flags(bn.0, bn::BN_FLG_CONSTTIME);
            Ok(bn)
        }
    }
}

impl Drop for SecretBn {
    fn drop(&mut self) {
        // SAFETY: the pointer came from BN_secure_new and is freed once (null is allowed).
        unsafe { bn::BN_clear_free(self.0) }
    }
}

fn crt_error() -> Error {
    Error::OpenPgp("OpenSSL could not derive the RSA CRT exponents".into())
}

/// d mod (prime - 1), one of the CRT exponents, with OpenSSL's constant-time division.
fn crt_exponent(d: &[u8], prime: &[u8]) -> Result<OsslSecret> {
    let d = SecretBn::from_be(d)?;
    let modulus = SecretBn::from_be(prime)?;
    let rem = SecretBn::from_be(&[])?;
    // SAFETY: every BIGNUM is valid and owned above; the context is freed on every path; the
    // output buffer has exactly the number's byte length.
    unsafe {
        let ctx = bn::BN_CTX_secure_new();
        if ctx.is_null() {
            return Err(crt_error());
        }
        let ok = bn::BN_sub(modulus.0, modulus.0, bn::BN_value_one()) == 1
            && bn::BN_div(std::ptr::null_mut(), rem.0, d.0, modulus.0, ctx) == 1;
        bn::BN_CTX_free(ctx);
        if !ok {
            return Err(crt_error());
        }
        let mut out = OsslSecret::new((bn::BN_num_bits(rem.0) as usize).div_ceil(8));
        bn::BN_bn2bin(rem.0, out.as_mut().as_mut_ptr());
        Ok(out)
    }
}

impl Signer for RsaCrtSigner {
    fn public(&self) -> &Key<PublicParts, UnspecifiedRole> {
        &self.public
    }

    fn sign(&mut self, hash_algo: HashAlgorithm, digest: &[u8]) -> openpgp::Result<mpi::Signature> {
        // EMSA-PKCS1-v1_5: OpenSSL pads; we hand it the DER DigestInfo (OID prefix + digest).
        let prefix = hash_algo.oid()?;
        let mut digest_info = Vec::with_capacity(prefix.len() + digest.len());
        digest_info.extend_from_slice(prefix);
        digest_info.extend_from_slice(digest);
        let mut op = OsslSignature::new(context()?, SigOp::Sign, SigAlg::Rsa, &self.key, None)?;
        let mut signature = vec![0; op.sign(&digest_info, None)?];
        let len = op.sign(&digest_info, Some(&mut signature))?;
        signature.truncate(len);
        Ok(mpi::Signature::RSA {
            s: mpi::MPI::new(&signature),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openpgp::cert::CertBuilder;
    use openpgp::cert::prelude::CipherSuite;

    fn keypair(suite: CipherSuite) -> KeyPair {
        let (cert, _) = CertBuilder::new()
            .set_cipher_suite(suite)
            .add_userid("test <test@example.org>")
            .generate()
            .unwrap();
        cert.primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .unwrap()
            .into_keypair()
            .unwrap()
    }

    #[test]
    fn signs_exactly_like_sequoia() {
        let mut reference = keypair(CipherSuite::RSA2k);
        let mut fast = RsaCrtSigner::from_keypair(&reference).unwrap().unwrap();
        for (hash, byte) in [
            (HashAlgorithm::SHA256, 1u8),
            (HashAlgorithm::SHA384, 2),
            (HashAlgorithm::SHA512, 3),
        ] {
            let digest = vec![byte; hash.digest_size().unwrap()];
            let ours = fast.sign(hash, &digest).unwrap();
            let theirs = reference.sign(hash, &digest).unwrap();
            assert_eq!(ours, theirs, "{hash}");
            fast.public().verify(&ours, hash, &digest).unwrap();
        }
    }

    #[test]
    fn other_algorithms_are_left_to_sequoia() {
        let eddsa = keypair(CipherSuite::Cv25519);
        assert!(RsaCrtSigner::from_keypair(&eddsa).unwrap().is_none());
    }
}
