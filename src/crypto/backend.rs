//! The cryptography library behind the format, chosen at build time.
//!
//! * Default: `ring` for AES-128/256-GCM, HKDF, SHA-2 and randomness, and RustCrypto's
//!   `p256`/`p384` for ECDSA (`ring` cannot sign or verify a pre-computed hash, and a
//!   streamed signature covers the whole message, which is never held at once).
//! * Cargo feature `aws-lc`: AWS-LC through `aws-lc-rs` for all of them, AES-192-GCM and
//!   ECDSA included (`EcdsaKeyPair::sign_digest` and `ParsedPublicKey::verify_digest_sig`
//!   sign and verify the streamed hash). AWS-LC does not mark signing a pre-computed digest
//!   as FIPS-approved, so a FIPS build of this crate would have to revisit the signature.
//!
//! Both libraries have the same API shape (`aws-lc-rs` mirrors `ring`), so the rest of
//! `crypto` uses the re-exported modules below and never names either library; code outside
//! `crypto` does not know which one is active. Wrapping keys keep RustCrypto's `aes-gcm`
//! under both, because its key schedule is zeroized on drop (see [`super::aead`]).

#[cfg(feature = "aws-lc")]
pub(crate) use aws_lc_rs::{aead, digest, hkdf, rand};
#[cfg(not(feature = "aws-lc"))]
pub(crate) use ring::{aead, digest, hkdf, rand};

/// The name of the cryptography library in use: `"ring"` or `"aws-lc-rs"`.
#[cfg(not(feature = "aws-lc"))]
pub const NAME: &str = "ring";
/// The name of the cryptography library in use: `"ring"` or `"aws-lc-rs"`.
#[cfg(feature = "aws-lc")]
pub const NAME: &str = "aws-lc-rs";

/// The backend's AES-GCM for a key of `key_len` bytes, if it has one (`ring` has no
/// AES-192; the caller then uses RustCrypto's).
pub(crate) fn aes_gcm(key_len: usize) -> Option<&'static aead::Algorithm> {
    match key_len {
        16 => Some(&aead::AES_128_GCM),
        32 => Some(&aead::AES_256_GCM),
        #[cfg(feature = "aws-lc")]
        24 => Some(&aead::AES_192_GCM),
        _ => None,
    }
}

/// ECDSA over a hash computed by the caller: one randomized DER signature per call, and
/// verification of a DER signature of any valid length (high-S accepted).
#[cfg(not(feature = "aws-lc"))]
pub(crate) mod ecdsa {
    use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
    use rand_core::OsRng;

    use super::digest::Digest;
    use crate::error::{Error, Result};
    use crate::format::suite::SignatureAlgorithm;

    /// A private key, zeroized on drop by the `p256`/`p384` types.
    pub(crate) enum SigningKey {
        P256(p256::ecdsa::SigningKey),
        P384(p384::ecdsa::SigningKey),
    }

    impl SigningKey {
        pub(crate) fn generate(alg: SignatureAlgorithm) -> Result<SigningKey> {
            Ok(match alg {
                SignatureAlgorithm::EcdsaP256Sha256 => {
                    SigningKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng))
                }
                SignatureAlgorithm::EcdsaP384Sha384 => {
                    SigningKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng))
                }
            })
        }

        pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
            match self {
                SigningKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
                SigningKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
            }
        }

        /// The SEC1 compressed public point.
        pub(crate) fn public_key_compressed(&self) -> Result<Vec<u8>> {
            Ok(match self {
                SigningKey::P256(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
                SigningKey::P384(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
            })
        }

        /// One randomized signature of `hash`, DER-encoded.
        pub(crate) fn sign_digest_der(&self, hash: &Digest) -> Result<Vec<u8>> {
            let failed = |_| Error::Unreachable("ECDSA signing failed");
            Ok(match self {
                SigningKey::P256(k) => {
                    let s: p256::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut OsRng, hash.as_ref())
                        .map_err(failed)?;
                    s.to_der().as_bytes().to_vec()
                }
                SigningKey::P384(k) => {
                    let s: p384::ecdsa::Signature = k
                        .sign_prehash_with_rng(&mut OsRng, hash.as_ref())
                        .map_err(failed)?;
                    s.to_der().as_bytes().to_vec()
                }
            })
        }
    }

    /// A public key.
    #[derive(Clone)]
    pub(crate) enum VerifyingKey {
        P256(p256::ecdsa::VerifyingKey),
        P384(p384::ecdsa::VerifyingKey),
    }

    impl VerifyingKey {
        /// Parses a SEC1-encoded point of the algorithm's curve.
        pub(crate) fn from_sec1(alg: SignatureAlgorithm, bytes: &[u8]) -> Option<VerifyingKey> {
            match alg {
                SignatureAlgorithm::EcdsaP256Sha256 => {
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                        .ok()
                        .map(VerifyingKey::P256)
                }
                SignatureAlgorithm::EcdsaP384Sha384 => {
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                        .ok()
                        .map(VerifyingKey::P384)
                }
            }
        }

        pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
            match self {
                VerifyingKey::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
                VerifyingKey::P384(_) => SignatureAlgorithm::EcdsaP384Sha384,
            }
        }

        /// Whether `der` is a valid signature of `hash`.
        pub(crate) fn verify_digest_der(&self, hash: &Digest, der: &[u8]) -> bool {
            match self {
                VerifyingKey::P256(k) => p256::ecdsa::Signature::from_der(der)
                    .ok()
                    .is_some_and(|s| k.verify_prehash(hash.as_ref(), &s).is_ok()),
                VerifyingKey::P384(k) => p384::ecdsa::Signature::from_der(der)
                    .ok()
                    .is_some_and(|s| k.verify_prehash(hash.as_ref(), &s).is_ok()),
            }
        }
    }
}

/// ECDSA over a hash computed by the caller, with AWS-LC: one randomized DER signature per
/// call, and verification of a DER signature of any valid length (high-S accepted).
#[cfg(feature = "aws-lc")]
pub(crate) mod ecdsa {
    use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
    use aws_lc_rs::signature::{
        EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair, ParsedPublicKey,
        ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1,
        ECDSA_P384_SHA384_ASN1_SIGNING,
    };

    use super::digest::Digest;
    use crate::error::{Error, Result};
    use crate::format::suite::SignatureAlgorithm;

    fn signing(alg: SignatureAlgorithm) -> &'static EcdsaSigningAlgorithm {
        match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_ASN1_SIGNING,
            SignatureAlgorithm::EcdsaP384Sha384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    fn verification(alg: SignatureAlgorithm) -> &'static EcdsaVerificationAlgorithm {
        match alg {
            SignatureAlgorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_ASN1,
            SignatureAlgorithm::EcdsaP384Sha384 => &ECDSA_P384_SHA384_ASN1,
        }
    }

    /// A private key; AWS-LC clears it when it is freed.
    pub(crate) struct SigningKey {
        alg: SignatureAlgorithm,
        key: EcdsaKeyPair,
    }

    impl SigningKey {
        pub(crate) fn generate(alg: SignatureAlgorithm) -> Result<SigningKey> {
            let key = EcdsaKeyPair::generate(signing(alg))
                .map_err(|_| Error::Unreachable("ECDSA key generation failed"))?;
            Ok(SigningKey { alg, key })
        }

        pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
            self.alg
        }

        /// The SEC1 compressed public point.
        pub(crate) fn public_key_compressed(&self) -> Result<Vec<u8>> {
            let point: EcPublicKeyCompressedBin<'static> = self
                .key
                .public_key()
                .as_be_bytes()
                .map_err(|_| Error::Unreachable("ECDSA public key encoding failed"))?;
            Ok(point.as_ref().to_vec())
        }

        /// One randomized signature of `hash`, DER-encoded.
        pub(crate) fn sign_digest_der(&self, hash: &Digest) -> Result<Vec<u8>> {
            let sig = self
                .key
                .sign_digest(hash)
                .map_err(|_| Error::Unreachable("ECDSA signing failed"))?;
            Ok(sig.as_ref().to_vec())
        }
    }

    /// A public key.
    #[derive(Clone)]
    pub(crate) struct VerifyingKey {
        alg: SignatureAlgorithm,
        key: ParsedPublicKey,
    }

    impl VerifyingKey {
        /// Parses a SEC1-encoded point of the algorithm's curve.
        pub(crate) fn from_sec1(alg: SignatureAlgorithm, bytes: &[u8]) -> Option<VerifyingKey> {
            ParsedPublicKey::new(verification(alg), bytes)
                .ok()
                .map(|key| VerifyingKey { alg, key })
        }

        pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
            self.alg
        }

        /// Whether `der` is a valid signature of `hash`.
        pub(crate) fn verify_digest_der(&self, hash: &Digest, der: &[u8]) -> bool {
            self.key.verify_digest_sig(hash, der).is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aead::AeadKey;

    /// The feature picks the library: its name, and which AES-GCM key sizes it serves
    /// (AES-192 only under AWS-LC; under ring it falls back to RustCrypto).
    #[test]
    fn the_feature_selects_the_backend() {
        let aws_lc = cfg!(feature = "aws-lc");
        assert_eq!(NAME, if aws_lc { "aws-lc-rs" } else { "ring" });
        assert!(aes_gcm(16).is_some() && aes_gcm(32).is_some());
        assert_eq!(aes_gcm(24).is_some(), aws_lc);
        assert!(aes_gcm(20).is_none());
        for len in [16, 24, 32] {
            let key = AeadKey::new(&vec![3u8; len]).unwrap();
            let on_backend = matches!(key, AeadKey::Backend(_));
            assert_eq!(on_backend, len != 24 || aws_lc, "AES-{} key", len * 8);
        }
    }
}
