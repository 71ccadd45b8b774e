//! Cryptographic materials managers: they turn a request into materials, using keyrings.
//!
//! Spec: `framework/cmm-interface.md`, `framework/default-cmm.md`,
//! `framework/required-encryption-context-cmm.md`.

mod default;
mod required;

pub use default::DefaultCmm;
pub use required::RequiredEncryptionContextCmm;

use std::collections::BTreeSet;

use crate::error::Result;
use crate::format::context::EncryptionContext;
use crate::format::header::EncryptedDataKey;
use crate::format::suite::{AlgorithmSuite, CommitmentPolicy};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// What the encryptor asks a materials manager for.
#[derive(Debug, Clone, Default)]
pub struct EncryptionMaterialsRequest {
    /// The caller's encryption context.
    pub encryption_context: EncryptionContext,
    /// The commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// The suite the caller asked for, if any.
    pub algorithm_suite: Option<&'static AlgorithmSuite>,
    /// An upper bound of the plaintext length, when known.
    pub max_plaintext_length: Option<u64>,
    /// Context keys to authenticate without storing them in the header.
    pub required_encryption_context_keys: BTreeSet<String>,
}

/// What the decryptor asks a materials manager for.
#[derive(Debug, Clone)]
pub struct DecryptMaterialsRequest {
    /// The message's suite.
    pub algorithm_suite: &'static AlgorithmSuite,
    /// The commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// The message's encrypted data keys.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// The encryption context stored in the message header.
    pub encryption_context: EncryptionContext,
    /// The caller's reproduced encryption context, if any.
    pub reproduced_encryption_context: Option<EncryptionContext>,
}

/// Provides encryption and decryption materials.
pub trait CryptoMaterialsManager: Send + Sync {
    /// Materials to encrypt one message: suite, data key, encrypted data keys, context, and
    /// a signing key for signing suites.
    fn get_encryption_materials(
        &self,
        request: EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials>;

    /// Materials to decrypt one message: the data key and, for signing suites, the
    /// verification key.
    fn decrypt_materials(&self, request: DecryptMaterialsRequest) -> Result<DecryptionMaterials>;
}
