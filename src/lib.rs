//! # esdk
//!
//! The AWS Encryption SDK message format in Rust, byte-compatible with every ESDK (Python,
//! Java, C, JavaScript, .NET), with no AWS dependency.
//!
//! Each message is encrypted under a fresh data key; keyrings wrap that data key (raw AES
//! here) and the wrapped keys travel in the message header. The body is framed AES-GCM;
//! signing suites add an ECDSA footer.
//!
//! ```
//! use std::sync::Arc;
//! use esdk::{decrypt, encrypt, DecryptOptions, EncryptOptions, RawAesKeyring, WrappingKey};
//!
//! let keyring = Arc::new(RawAesKeyring::new("my-namespace", "my-key", WrappingKey::generate(32)?)?);
//! let mut options = EncryptOptions::default();
//! options.encryption_context.insert("purpose", "example");
//! let message = encrypt(keyring.clone(), b"hello", options)?;
//! let decrypted = decrypt(keyring, &message, DecryptOptions::default())?;
//! assert_eq!(decrypted.plaintext, b"hello");
//! assert_eq!(decrypted.header.encryption_context.get("purpose"), Some("example"));
//! # Ok::<(), esdk::Error>(())
//! ```
//!
//! Streaming: [`Encryptor`] / [`Decryptor`] (sans-IO) and their `std::io` fronts
//! [`EncryptingWriter`] / [`DecryptingReader`].

#![forbid(unsafe_code)]

pub mod cmm;
pub mod crypto;
pub mod error;
pub mod format;
pub mod keyring;
pub mod materials;
pub mod stream;

use std::sync::Arc;

pub use cmm::{CryptoMaterialsManager, DefaultCmm, RequiredEncryptionContextCmm};
pub use crypto::DataKey;
pub use error::{Error, FormatError, LimitError, PolicyError, Result};
pub use format::context::EncryptionContext;
pub use format::header::{EncryptedDataKey, HeaderBody};
pub use format::suite::{AlgorithmSuite, CommitmentPolicy};
pub use keyring::{EcdhCurve, EcdhPrivateKey, EcdhPublicKey, KeyAgreementScheme, RawEcdhKeyring};
pub use keyring::{Keyring, MultiKeyring, RawAesKeyring, WrappingKey};
pub use keyring::{RawRsaKeyring, RsaPadding, RsaPrivateKey, RsaPublicKey};
pub use stream::io::{DecryptingReader, EncryptingWriter};
pub use stream::{DecryptOptions, Decryptor, EncryptOptions, Encryptor, Progress};
pub use stream::{BATCH_BYTES_PER_THREAD, MAX_THREADS};

/// The README's code examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// A decrypted message. Its `Debug` shows the plaintext's length, not its bytes.
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The authenticated header. Its `encryption_context` is the stored one.
    pub header: HeaderBody,
    /// The encryption context the message was authenticated with: the stored pairs and
    /// any required-only pairs reproduced by the caller.
    pub encryption_context: EncryptionContext,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("header", &self.header)
            .field("encryption_context", &self.encryption_context)
            .finish()
    }
}

/// Encrypts `plaintext` into one message, with a [`DefaultCmm`] over `keyring`.
pub fn encrypt(
    keyring: Arc<dyn Keyring>,
    plaintext: &[u8],
    options: EncryptOptions,
) -> Result<Vec<u8>> {
    encrypt_with_cmm(&DefaultCmm::new(keyring), plaintext, options)
}

/// Encrypts `plaintext` into one message with a materials manager.
pub fn encrypt_with_cmm(
    cmm: &dyn CryptoMaterialsManager,
    plaintext: &[u8],
    mut options: EncryptOptions,
) -> Result<Vec<u8>> {
    // Spec: encrypt.md: a plaintext longer than the caller's bound MUST NOT be encrypted,
    // and a known plaintext length MUST be the bound given to the CMM.
    let len = plaintext.len() as u64;
    if options
        .max_plaintext_length
        .is_some_and(|bound| len > bound)
    {
        return Err(LimitError::PlaintextTooLong.into());
    }
    options.max_plaintext_length = Some(len);
    Encryptor::new(cmm, options)?.encrypt_all(plaintext)
}

/// Decrypts one whole message, with a [`DefaultCmm`] over `keyring`. Nothing is returned
/// unless the whole message verified.
pub fn decrypt(
    keyring: Arc<dyn Keyring>,
    message: &[u8],
    options: DecryptOptions,
) -> Result<Decrypted> {
    decrypt_with_cmm(Arc::new(DefaultCmm::new(keyring)), message, options)
}

/// Decrypts one whole message with a materials manager.
pub fn decrypt_with_cmm(
    cmm: Arc<dyn CryptoMaterialsManager>,
    message: &[u8],
    options: DecryptOptions,
) -> Result<Decrypted> {
    let mut dec = Decryptor::new(cmm, options);
    let mut plaintext = zeroize::Zeroizing::new(Vec::with_capacity(message.len()));
    let mut rest = message;
    dec.end_input();
    loop {
        let used = dec.push(rest)?;
        rest = &rest[used..];
        let pending = dec.pending();
        let n = pending.len();
        plaintext.extend_from_slice(pending);
        dec.consume(n);
        if dec.is_done() {
            let header = dec
                .header()
                .cloned()
                .ok_or(Error::Unreachable("done without a header"))?;
            let encryption_context = dec
                .encryption_context()
                .cloned()
                .ok_or(Error::Unreachable("done without a context"))?;
            return Ok(Decrypted {
                plaintext: std::mem::take(&mut *plaintext),
                header,
                encryption_context,
            });
        }
        if used == 0 && n == 0 {
            return Err(Error::Unreachable("decryptor stalled"));
        }
    }
}
