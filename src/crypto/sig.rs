//! ECDSA footer signatures over a hash of the whole header and body.
//!
//! Spec: `data-format/message-footer.md`, `framework/algorithm-suites.md` "Signature
//! Algorithm", `framework/default-cmm.md` (public key in the encryption context).

use std::fmt;

use base64::Engine as _;
use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use rand_core::OsRng;
use ring::digest;

use crate::error::{Error, FormatError, Result};
use crate::format::suite::SignatureAlgorithm;

/// A signing key generated for one message. Zeroized on drop by the `p256`/`p384` types.
pub(crate) enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// A signature verification key, parsed from the encryption context.
#[derive(Debug, Clone)]
pub(crate) enum VerifyingKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

fn hash_alg(alg: SignatureAlgorithm) -> &'static digest::Algorithm {
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => &digest::SHA256,
        SignatureAlgorithm::EcdsaP384Sha384 => &digest::SHA384,
    }
}

impl SigningKey {
    /// A fresh key pair for the algorithm.
    pub(crate) fn generate(alg: SignatureAlgorithm) -> SigningKey {
        match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                SigningKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng))
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                SigningKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng))
            }
        }
    }

    /// The algorithm of this key.
    pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            SigningKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
            SigningKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
        }
    }

    /// The `aws-crypto-public-key` value: standard base64 of the SEC1 compressed point.
    pub(crate) fn public_key_base64(&self) -> String {
        let point = match self {
            SigningKey::P256(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
            SigningKey::P384(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(point)
    }

    /// Signs a message hash. Like the reference encryptors, produces a DER signature of the
    /// fixed length of the algorithm (71 or 103 bytes), re-signing or using the other valid
    /// `s` (n - s) until the length comes out right, so that message sizes are predictable.
    fn sign_hash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        let want = self.algorithm().signature_len();
        for _ in 0..64 {
            let (sig, flipped) = match self {
                SigningKey::P256(k) => {
                    let s: p256::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut OsRng, hash)
                        .map_err(|_| Error::Unreachable("ECDSA signing failed"))?;
                    let flipped = flip_s_p256(&s);
                    (s.to_der().as_bytes().to_vec(), flipped)
                }
                SigningKey::P384(k) => {
                    let s: p384::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut OsRng, hash)
                        .map_err(|_| Error::Unreachable("ECDSA signing failed"))?;
                    let flipped = flip_s_p384(&s);
                    (s.to_der().as_bytes().to_vec(), flipped)
                }
            };
            if sig.len() == want {
                return Ok(sig);
            }
            if flipped.len() == want {
                return Ok(flipped);
            }
        }
        Err(Error::Unreachable(
            "no fixed-length ECDSA signature after 64 tries",
        ))
    }
}

fn flip_s_p256(sig: &p256::ecdsa::Signature) -> Vec<u8> {
    let (r, s) = sig.split_scalars();
    let s = -*s;
    p256::ecdsa::Signature::from_scalars(r.to_bytes(), s.to_bytes())
        .map(|x| x.to_der().as_bytes().to_vec())
        .unwrap_or_default()
}

fn flip_s_p384(sig: &p384::ecdsa::Signature) -> Vec<u8> {
    let (r, s) = sig.split_scalars();
    let s = -*s;
    p384::ecdsa::Signature::from_scalars(r.to_bytes(), s.to_bytes())
        .map(|x| x.to_der().as_bytes().to_vec())
        .unwrap_or_default()
}

impl VerifyingKey {
    /// Parses the `aws-crypto-public-key` value for the suite's algorithm.
    pub(crate) fn from_base64(alg: SignatureAlgorithm, text: &str) -> Result<VerifyingKey> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| FormatError::BadPublicKey)?;
        if bytes.len() != alg.public_key_len() {
            return Err(FormatError::BadPublicKey.into());
        }
        let key = match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map(VerifyingKey::P256)
            }
            SignatureAlgorithm::EcdsaP384Sha384 => {
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&bytes).map(VerifyingKey::P384)
            }
        };
        key.map_err(|_| FormatError::BadPublicKey.into())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            VerifyingKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
            VerifyingKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
        }
    }

    /// Verifies a DER signature of any valid length over a message hash. High-S signatures
    /// are accepted (the reference encryptors produce them).
    fn verify_hash(&self, hash: &[u8], der: &[u8]) -> Result<()> {
        let ok = match self {
            VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der)
                .ok()
                .is_some_and(|s| k.verify_prehash(hash, &s).is_ok()),
            VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der)
                .ok()
                .is_some_and(|s| k.verify_prehash(hash, &s).is_ok()),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::AuthenticationFailed)
        }
    }
}

/// Hashes the message as it is written and signs it at the end.
pub(crate) struct Signer {
    hash: digest::Context,
    key: SigningKey,
}

impl Signer {
    pub(crate) fn new(key: SigningKey) -> Signer {
        Signer {
            hash: digest::Context::new(hash_alg(key.algorithm())),
            key,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
    }

    /// The DER signature over everything passed to `update`.
    pub(crate) fn sign(self) -> Result<Vec<u8>> {
        let h = self.hash.finish();
        self.key.sign_hash(h.as_ref())
    }
}

/// Hashes the message as it is read and verifies the footer signature.
pub(crate) struct Verifier {
    hash: digest::Context,
    key: VerifyingKey,
}

impl Verifier {
    pub(crate) fn new(key: VerifyingKey) -> Verifier {
        Verifier {
            hash: digest::Context::new(hash_alg(key.algorithm())),
            key,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
    }

    pub(crate) fn verify(self, der: &[u8]) -> Result<()> {
        let h = self.hash.finish();
        self.key.verify_hash(h.as_ref(), der)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_both_curves_fixed_length() {
        for alg in [
            SignatureAlgorithm::EcdsaP256Sha256,
            SignatureAlgorithm::EcdsaP384Sha384,
        ] {
            for _ in 0..20 {
                let key = SigningKey::generate(alg);
                let pk = key.public_key_base64();
                assert_eq!(
                    pk.len(),
                    if alg == SignatureAlgorithm::EcdsaP256Sha256 {
                        44
                    } else {
                        68
                    }
                );
                let mut s = Signer::new(key);
                s.update(b"header");
                s.update(b"body");
                let sig = s.sign().unwrap();
                assert_eq!(sig.len(), alg.signature_len());
                let vk = VerifyingKey::from_base64(alg, &pk).unwrap();
                let mut v = Verifier::new(vk.clone());
                v.update(b"headerbody");
                v.verify(&sig).unwrap();
                let mut v = Verifier::new(vk);
                v.update(b"headerbodx");
                assert!(matches!(v.verify(&sig), Err(Error::AuthenticationFailed)));
            }
        }
        assert!(matches!(
            VerifyingKey::from_base64(SignatureAlgorithm::EcdsaP256Sha256, "AAAA"),
            Err(Error::Format(FormatError::BadPublicKey))
        ));
    }
}
