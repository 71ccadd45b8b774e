//! Derivation of the content encryption key and of the commit key.
//!
//! Spec: `framework/algorithm-suites.md` "Key Derivation" and "Key Commitment";
//! `client-apis/encrypt.md` / `decrypt.md` for where they are used.

use super::backend::hkdf::{self, KeyType, Salt, HKDF_SHA256, HKDF_SHA384, HKDF_SHA512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aead::AeadKey;
use super::keys::{CommitKey, DataKey};
use crate::error::{Error, Result};
use crate::format::suite::{AlgorithmSuite, Kdf};

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The keys derived from one data key for one message.
pub(crate) struct MessageKeys {
    pub(crate) content_key: AeadKey,
    pub(crate) commit_key: Option<CommitKey>,
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8]) -> Result<()> {
    prk.expand(info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| Error::Unreachable("HKDF output length out of range"))
}

/// Derives the content key (and, for committing suites, the commit key) from the data key.
///
/// * Identity KDF: the data key itself.
/// * v1 HKDF suites: `HKDF(salt = none, ikm = dk, info = suite_id || message_id, L = key_len)`.
/// * Committing suites: `HKDF-SHA512(salt = message_id, ikm = dk)`, expanded with
///   `info = suite_id || "DERIVEKEY"` (content key) and `info = "COMMITKEY"` (commit key).
pub(crate) fn derive(
    suite: &'static AlgorithmSuite,
    data_key: &DataKey,
    message_id: &[u8],
) -> Result<MessageKeys> {
    // Spec: framework/structures.md: the data key length MUST equal the KDF input length.
    if data_key.len() != suite.key_len() {
        return Err(Error::InvalidArgument(format!(
            "data key of {} bytes for a suite that needs {}",
            data_key.len(),
            suite.key_len()
        )));
    }
    let id = suite.id().to_be_bytes();
    let mut key = Zeroizing::new(vec![0u8; suite.key_len()]);
    let mut commit_key = None;
    match suite.kdf() {
        Kdf::Identity => key.copy_from_slice(data_key.expose_secret()),
        Kdf::HkdfSha256 | Kdf::HkdfSha384 => {
            let alg = if suite.kdf() == Kdf::HkdfSha256 {
                HKDF_SHA256
            } else {
                HKDF_SHA384
            };
            // An empty salt and a hash-length zero salt give the same HMAC key (RFC 5869).
            let prk = Salt::new(alg, &[]).extract(data_key.expose_secret());
            expand(&prk, &[&id, message_id], &mut key)?;
        }
        Kdf::HkdfSha512 => {
            let prk = Salt::new(HKDF_SHA512, message_id).extract(data_key.expose_secret());
            expand(&prk, &[&id, b"DERIVEKEY"], &mut key)?;
            let mut ck = CommitKey([0u8; 32]);
            expand(&prk, &[b"COMMITKEY"], &mut ck.0)?;
            commit_key = Some(ck);
        }
    }
    Ok(MessageKeys {
        content_key: AeadKey::new(&key)?,
        commit_key,
    })
}

/// Compares the derived commit key with the one stored in the header, in constant time.
/// Spec: client-apis/decrypt.md "Get the decryption materials" (key commitment): the
/// derived commit key must equal the header's algorithm suite data, else decryption fails.
pub(crate) fn verify_commitment(derived: &CommitKey, stored: &[u8]) -> Result<()> {
    if stored.len() == derived.0.len() && bool::from(derived.0.ct_eq(stored)) {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}
