//! The cryptography of the format: key derivation and commitment, AES-GCM, ECDSA signatures.
//!
//! The library behind them is chosen at build time in `backend.rs` (the only module that
//! knows it): by default AES-128/256-GCM, HKDF, SHA-2 and randomness come from `ring`, the
//! three AES-192 suites use RustCrypto's `aes-gcm` (`ring` has no AES-192), and ECDSA uses
//! RustCrypto's `p256`/`p384` over a SHA-2 hash computed incrementally (`ring` cannot sign
//! or verify a pre-computed hash, which streaming needs: the signed data is the whole
//! message). With the cargo feature `aws-lc`, AWS-LC (through `aws-lc-rs`) does all of it.

pub(crate) mod aead;
mod backend;
pub(crate) mod kdf;
pub(crate) mod keys;
pub(crate) mod sig;

pub use backend::NAME as BACKEND;
pub use keys::DataKey;

use crate::error::{Error, Result};

/// Fills `buf` from the operating system's secure random source.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    use backend::rand::SecureRandom;
    backend::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::Rng)
}
