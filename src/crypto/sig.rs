//! ECDSA footer signatures over a hash of the whole header and body.
//!
//! Spec: `data-format/message-footer.md`, `framework/algorithm-suites.md` "Signature
//! Algorithm", `framework/default-cmm.md` (public key in the encryption context).

use std::fmt;

use base64::Engine as _;

use super::backend::{digest, ecdsa};
use crate::error::{Error, FormatError, Result};
use crate::format::suite::SignatureAlgorithm;

/// A signing key generated for one message. Zeroized on drop (by `p256`/`p384`, or by
/// AWS-LC under the `aws-lc` feature).
pub(crate) struct SigningKey(ecdsa::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// A signature verification key, parsed from the encryption context.
#[derive(Clone)]
pub(crate) struct VerifyingKey(ecdsa::VerifyingKey);

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({:?})", self.0.algorithm())
    }
}

fn hash_alg(alg: SignatureAlgorithm) -> &'static digest::Algorithm {
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => &digest::SHA256,
        SignatureAlgorithm::EcdsaP384Sha384 => &digest::SHA384,
    }
}

/// The group order n of the curve, big-endian.
fn group_order(alg: SignatureAlgorithm) -> &'static [u8] {
    const P256_N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    const P384_N: [u8; 48] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC7, 0x63, 0x4D, 0x81, 0xF4, 0x37,
        0x2D, 0xDF, 0x58, 0x1A, 0x0D, 0xB2, 0x48, 0xB0, 0xA7, 0x7A, 0xEC, 0xEC, 0x19, 0x6A, 0xCC,
        0xC5, 0x29, 0x73,
    ];
    match alg {
        SignatureAlgorithm::EcdsaP256Sha256 => &P256_N,
        SignatureAlgorithm::EcdsaP384Sha384 => &P384_N,
    }
}

/// Reads one DER INTEGER (short-form length) from the front of `der`: (value, rest).
fn der_integer(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if tag != 0x02 || len >= 0x80 {
        return None;
    }
    let len = usize::from(len);
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Appends `value` (big-endian, unsigned) as a minimal DER INTEGER.
fn put_der_integer(out: &mut Vec<u8>, value: &[u8]) -> Option<()> {
    let start = value
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(value.len().checked_sub(1)?);
    let value = value.get(start..)?;
    let pad = value.first().is_some_and(|&b| b >= 0x80);
    out.push(0x02);
    out.push(u8::try_from(value.len().checked_add(usize::from(pad))?).ok()?);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(value);
    Some(())
}

/// The other valid signature of the same (r, s): (r, n - s), DER-encoded. `None` if `der`
/// is not a short-form DER signature of the curve (never for our own signatures).
fn flip_s(alg: SignatureAlgorithm, der: &[u8]) -> Option<Vec<u8>> {
    let n = group_order(alg);
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || usize::from(len) != body.len() {
        return None;
    }
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    // s as a fixed-width big-endian number of n's width, then n - s.
    let s = s.get(s.len().saturating_sub(n.len())..)?;
    let mut wide = vec![0u8; n.len()];
    wide.get_mut(n.len().checked_sub(s.len())?..)?
        .copy_from_slice(s);
    let mut borrow = 0u16;
    for (d, &m) in wide.iter_mut().zip(n).rev() {
        let sub = u16::from(*d) + borrow;
        let (v, b) = if u16::from(m) >= sub {
            (u16::from(m) - sub, 0)
        } else {
            (u16::from(m) + 0x100 - sub, 1)
        };
        *d = u8::try_from(v).ok()?;
        borrow = b;
    }
    if borrow != 0 || wide.iter().all(|&b| b == 0) {
        return None;
    }
    let mut inner = Vec::with_capacity(der.len().checked_add(1)?);
    put_der_integer(&mut inner, r)?;
    put_der_integer(&mut inner, &wide)?;
    let mut out = Vec::with_capacity(inner.len().checked_add(2)?);
    out.push(0x30);
    out.push(u8::try_from(inner.len()).ok().filter(|&l| l < 0x80)?);
    out.extend_from_slice(&inner);
    Some(out)
}

impl SigningKey {
    /// A fresh key pair for the algorithm.
    pub(crate) fn generate(alg: SignatureAlgorithm) -> Result<SigningKey> {
        ecdsa::SigningKey::generate(alg).map(SigningKey)
    }

    /// The algorithm of this key.
    pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
        self.0.algorithm()
    }

    /// The `aws-crypto-public-key` value: standard base64 of the SEC1 compressed point.
    pub(crate) fn public_key_base64(&self) -> Result<String> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.0.public_key_compressed()?))
    }

    /// Signs a message hash. Like the reference encryptors, produces a DER signature of the
    /// fixed length of the algorithm (71 or 103 bytes), re-signing or using the other valid
    /// `s` (n - s) until the length comes out right, so that message sizes are predictable.
    fn sign_hash(&self, hash: &digest::Digest) -> Result<Vec<u8>> {
        let alg = self.algorithm();
        let want = alg.signature_len();
        for _ in 0..64 {
            let sig = self.0.sign_digest_der(hash)?;
            if sig.len() == want {
                return Ok(sig);
            }
            if let Some(flipped) = flip_s(alg, &sig).filter(|f| f.len() == want) {
                return Ok(flipped);
            }
        }
        Err(Error::Unreachable(
            "no fixed-length ECDSA signature after 64 tries",
        ))
    }
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
        ecdsa::VerifyingKey::from_sec1(alg, &bytes)
            .map(VerifyingKey)
            .ok_or_else(|| FormatError::BadPublicKey.into())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.0.algorithm()
    }

    /// Verifies a DER signature of any valid length over a message hash. High-S signatures
    /// are accepted (the reference encryptors produce them).
    fn verify_hash(&self, hash: &digest::Digest, der: &[u8]) -> Result<()> {
        if self.0.verify_digest_der(hash, der) {
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
        self.key.sign_hash(&h)
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
        self.key.verify_hash(&h, der)
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
                let key = SigningKey::generate(alg).unwrap();
                let pk = key.public_key_base64().unwrap();
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

    /// (r, n - s) is the other valid signature: it verifies, and flipping twice gives back
    /// the original. A wrong group order would make the flipped signature fail.
    #[test]
    fn flipped_s_verifies() {
        for alg in [
            SignatureAlgorithm::EcdsaP256Sha256,
            SignatureAlgorithm::EcdsaP384Sha384,
        ] {
            for _ in 0..10 {
                let key = SigningKey::generate(alg).unwrap();
                let vk = VerifyingKey::from_base64(alg, &key.public_key_base64().unwrap()).unwrap();
                let mut h = digest::Context::new(hash_alg(alg));
                h.update(b"message");
                let hash = h.finish();
                let sig = key.0.sign_digest_der(&hash).unwrap();
                let flipped = flip_s(alg, &sig).unwrap();
                assert_ne!(flipped, sig);
                vk.verify_hash(&hash, &sig).unwrap();
                vk.verify_hash(&hash, &flipped).unwrap();
                assert_eq!(flip_s(alg, &flipped).unwrap(), sig);
            }
        }
    }
}
