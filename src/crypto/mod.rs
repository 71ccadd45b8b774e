//! The cryptography of the format: key derivation and commitment, AES-GCM, ECDSA signatures.
//!
//! AES-128/256-GCM, HKDF, SHA-2 and randomness come from `ring`. `ring` has no AES-192, so
//! the three AES-192 suites use RustCrypto's `aes-gcm`. `ring` cannot sign or verify a
//! pre-computed hash, which streaming needs (the signed data is the whole message), so ECDSA
//! uses RustCrypto's `p256`/`p384` over a SHA-2 hash computed incrementally by `ring`.

pub(crate) mod aead;
pub(crate) mod kdf;
pub(crate) mod keys;
pub(crate) mod sig;

pub use keys::DataKey;

use crate::error::{Error, Result};

/// Fills `buf` from the operating system's secure random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::Rng)
}
