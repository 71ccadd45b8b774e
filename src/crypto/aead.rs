//! AES-GCM with 12-byte IVs and 16-byte tags, keyed by 16, 24 or 32 bytes.

use std::fmt;

use super::backend::{
    self,
    aead::{Aad, LessSafeKey, Nonce, UnboundKey},
};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInPlace, KeyInit};

use crate::error::{Error, Result};
use crate::format::header::{IV_LEN, TAG_LEN};

type Aes192Gcm = aes_gcm::AesGcm<aes_gcm::aes::Aes192, U12>;

/// An AES-GCM key.
///
/// Per-message content keys use the backend ([`super::backend`]: `ring`, or AWS-LC with the
/// `aws-lc` feature), except AES-192 under `ring`, which lacks it. `ring` does not zeroize
/// its key schedule on drop, and that schedule begins with the key itself, so long-lived
/// wrapping keys use [`AeadKey::new_zeroizing`]: RustCrypto's AES-GCM, whose key schedule
/// is zeroized on drop.
// The backend key is the hot path and lives inline; the RustCrypto keys are boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum AeadKey {
    Backend(LessSafeKey),
    Soft(Box<SoftKey>),
}

/// RustCrypto AES-GCM keys (zeroized on drop).
pub(crate) enum SoftKey {
    A128(aes_gcm::Aes128Gcm),
    A192(Aes192Gcm),
    A256(aes_gcm::Aes256Gcm),
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey([redacted])")
    }
}

impl AeadKey {
    /// A key of 16, 24 or 32 bytes.
    pub(crate) fn new(key: &[u8]) -> Result<AeadKey> {
        match backend::aes_gcm(key.len()) {
            Some(alg) => UnboundKey::new(alg, key)
                .map(|k| AeadKey::Backend(LessSafeKey::new(k)))
                .map_err(|_| Error::Unreachable("the backend refused a key of valid length")),
            // AES-192 under ring; any other length is refused there.
            None => Self::new_zeroizing(key),
        }
    }

    /// A key whose whole key schedule is zeroized on drop (RustCrypto), for wrapping keys.
    pub(crate) fn new_zeroizing(key: &[u8]) -> Result<AeadKey> {
        let refused = |_| Error::Unreachable("aes-gcm refused a key of valid length");
        let soft = match key.len() {
            16 => SoftKey::A128(aes_gcm::Aes128Gcm::new_from_slice(key).map_err(refused)?),
            24 => SoftKey::A192(Aes192Gcm::new_from_slice(key).map_err(refused)?),
            32 => SoftKey::A256(aes_gcm::Aes256Gcm::new_from_slice(key).map_err(refused)?),
            n => {
                return Err(Error::InvalidArgument(format!(
                    "an AES key must be 16, 24 or 32 bytes, not {n}"
                )))
            }
        };
        Ok(AeadKey::Soft(Box::new(soft)))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let mut tag = [0u8; TAG_LEN];
        match self {
            AeadKey::Backend(k) => {
                let t = k
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(*iv),
                        Aad::from(aad),
                        buf,
                    )
                    .map_err(|_| Error::Unreachable("AES-GCM input too long"))?;
                tag.copy_from_slice(t.as_ref());
            }
            AeadKey::Soft(k) => {
                let t = match k.as_ref() {
                    SoftKey::A128(k) => k.encrypt_in_place_detached(iv.into(), aad, buf),
                    SoftKey::A192(k) => k.encrypt_in_place_detached(iv.into(), aad, buf),
                    SoftKey::A256(k) => k.encrypt_in_place_detached(iv.into(), aad, buf),
                }
                .map_err(|_| Error::Unreachable("AES-GCM input too long"))?;
                tag.copy_from_slice(&t);
            }
        }
        Ok(tag)
    }

    /// Decrypts `ct_and_tag` (ciphertext followed by the 16-byte tag) in place and returns
    /// the plaintext length. On failure the whole buffer is zeroed and the one opaque
    /// [`Error::AuthenticationFailed`] is returned.
    pub(crate) fn open_in_place(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        ct_and_tag: &mut [u8],
    ) -> Result<usize> {
        let Some(pt_len) = ct_and_tag.len().checked_sub(TAG_LEN) else {
            return Err(Error::AuthenticationFailed);
        };
        let ok = match self {
            AeadKey::Backend(k) => k
                .open_in_place(
                    Nonce::assume_unique_for_key(*iv),
                    Aad::from(aad),
                    ct_and_tag,
                )
                .is_ok(),
            AeadKey::Soft(k) => {
                let (ct, tag) = ct_and_tag.split_at_mut(pt_len);
                let tag: [u8; TAG_LEN] = tag
                    .try_into()
                    .map_err(|_| Error::Unreachable("tag length"))?;
                let tag = aes_gcm::Tag::from(tag);
                match k.as_ref() {
                    SoftKey::A128(k) => k.decrypt_in_place_detached(iv.into(), aad, ct, &tag),
                    SoftKey::A192(k) => k.decrypt_in_place_detached(iv.into(), aad, ct, &tag),
                    SoftKey::A256(k) => k.decrypt_in_place_detached(iv.into(), aad, ct, &tag),
                }
                .is_ok()
            }
        };
        if ok {
            Ok(pt_len)
        } else {
            zeroize::Zeroize::zeroize(ct_and_tag);
            Err(Error::AuthenticationFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cross-checks every key size against the independent RustCrypto implementation.
    #[test]
    fn matches_rustcrypto_for_all_key_sizes() {
        for (len, zeroizing) in [16usize, 24, 32]
            .into_iter()
            .flat_map(|l| [(l, false), (l, true)])
        {
            let key: Vec<u8> = (0..len as u8).collect();
            let k = if zeroizing {
                AeadKey::new_zeroizing(&key).unwrap()
            } else {
                AeadKey::new(&key).unwrap()
            };
            let iv = [7u8; 12];
            let mut buf = b"attack at dawn, bring snacks".to_vec();
            let tag = k.seal_in_place(&iv, b"aad", &mut buf).unwrap();
            let mut other = b"attack at dawn, bring snacks".to_vec();
            let other_tag = match len {
                16 => aes_gcm::Aes128Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_in_place_detached((&iv).into(), b"aad", &mut other),
                24 => Aes192Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_in_place_detached((&iv).into(), b"aad", &mut other),
                _ => aes_gcm::Aes256Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_in_place_detached((&iv).into(), b"aad", &mut other),
            }
            .unwrap();
            assert_eq!(buf, other);
            assert_eq!(&tag[..], &other_tag[..]);
            let mut ct = buf.clone();
            ct.extend_from_slice(&tag);
            let n = k.open_in_place(&iv, b"aad", &mut ct).unwrap();
            assert_eq!(&ct[..n], b"attack at dawn, bring snacks");
            let mut bad = buf.clone();
            bad.extend_from_slice(&tag);
            bad[0] ^= 1;
            assert!(matches!(
                k.open_in_place(&iv, b"aad", &mut bad),
                Err(Error::AuthenticationFailed)
            ));
            assert!(
                bad.iter().all(|&b| b == 0),
                "buffer zeroed after a failed open"
            );
        }
        assert!(matches!(
            AeadKey::new(&[0; 20]),
            Err(Error::InvalidArgument(_))
        ));
    }
}
