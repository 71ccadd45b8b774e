//! Encryption and decryption materials: what a materials manager hands to the encryptor and
//! decryptor, and what keyrings fill in.
//!
//! Spec: `framework/structures.md` "Encryption Materials" and "Decryption Materials".

use std::collections::BTreeSet;

use crate::crypto::sig::{SigningKey, VerifyingKey};
use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::format::context::EncryptionContext;
use crate::format::header::EncryptedDataKey;
use crate::format::suite::AlgorithmSuite;

/// Spec: framework/structures.md: a data key is set once, and its length MUST equal the
/// suite's KDF input length.
fn put_data_key(slot: &mut Option<DataKey>, suite: &AlgorithmSuite, key: DataKey) -> Result<()> {
    if slot.is_some() {
        return Err(Error::InvalidState("the materials already hold a data key"));
    }
    if key.len() != suite.key_len() {
        return Err(Error::InvalidArgument(format!(
            "data key of {} bytes, the suite needs {}",
            key.len(),
            suite.key_len()
        )));
    }
    *slot = Some(key);
    Ok(())
}

/// Materials for encrypting one message.
#[derive(Debug)]
pub struct EncryptionMaterials {
    suite: &'static AlgorithmSuite,
    encryption_context: EncryptionContext,
    required_encryption_context_keys: BTreeSet<String>,
    data_key: Option<DataKey>,
    encrypted_data_keys: Vec<EncryptedDataKey>,
    pub(crate) signing_key: Option<SigningKey>,
}

impl EncryptionMaterials {
    /// Materials with no data key yet, for a suite and the full encryption context.
    pub fn new(suite: &'static AlgorithmSuite, encryption_context: EncryptionContext) -> Self {
        EncryptionMaterials {
            suite,
            encryption_context,
            required_encryption_context_keys: BTreeSet::new(),
            data_key: None,
            encrypted_data_keys: Vec::new(),
            signing_key: None,
        }
    }

    /// The algorithm suite.
    pub fn suite(&self) -> &'static AlgorithmSuite {
        self.suite
    }

    /// The full encryption context (stored pairs, required-only pairs, and the signature
    /// public key for signing suites). Raw keyrings bind exactly this into their wrapping.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// Keys of the context that are authenticated but not stored in the header.
    pub fn required_encryption_context_keys(&self) -> &BTreeSet<String> {
        &self.required_encryption_context_keys
    }

    pub(crate) fn set_required_keys(&mut self, keys: BTreeSet<String>) {
        self.required_encryption_context_keys = keys;
    }

    /// The plaintext data key, once a keyring has generated it.
    pub fn data_key(&self) -> Option<&DataKey> {
        self.data_key.as_ref()
    }

    /// Sets the data key. Fails if one is set already or if its length is not the suite's.
    pub fn set_data_key(&mut self, key: DataKey) -> Result<()> {
        put_data_key(&mut self.data_key, self.suite, key)
    }

    /// The encrypted data keys so far.
    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.encrypted_data_keys
    }

    /// Adds an encrypted data key.
    pub fn add_encrypted_data_key(&mut self, edk: EncryptedDataKey) {
        self.encrypted_data_keys.push(edk);
    }

    pub(crate) fn into_parts(
        mut self,
    ) -> (
        EncryptionContext,
        BTreeSet<String>,
        Option<DataKey>,
        Vec<EncryptedDataKey>,
        Option<SigningKey>,
    ) {
        (
            std::mem::take(&mut self.encryption_context),
            std::mem::take(&mut self.required_encryption_context_keys),
            self.data_key.take(),
            std::mem::take(&mut self.encrypted_data_keys),
            self.signing_key.take(),
        )
    }

    pub(crate) fn context_mut(&mut self) -> &mut EncryptionContext {
        &mut self.encryption_context
    }
}

/// Materials for decrypting one message.
#[derive(Debug)]
pub struct DecryptionMaterials {
    suite: &'static AlgorithmSuite,
    encryption_context: EncryptionContext,
    required_encryption_context_keys: BTreeSet<String>,
    data_key: Option<DataKey>,
    pub(crate) verification_key: Option<VerifyingKey>,
}

impl DecryptionMaterials {
    /// Materials with no data key yet.
    pub fn new(suite: &'static AlgorithmSuite, encryption_context: EncryptionContext) -> Self {
        DecryptionMaterials {
            suite,
            encryption_context,
            required_encryption_context_keys: BTreeSet::new(),
            data_key: None,
            verification_key: None,
        }
    }

    /// The algorithm suite of the message.
    pub fn suite(&self) -> &'static AlgorithmSuite {
        self.suite
    }

    /// The full encryption context: the stored pairs plus the reproduced required pairs.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// Keys of the context that were authenticated but not stored in the header.
    pub fn required_encryption_context_keys(&self) -> &BTreeSet<String> {
        &self.required_encryption_context_keys
    }

    pub(crate) fn add_required_pair(&mut self, key: &str, value: &str) {
        self.encryption_context.insert(key, value);
        self.required_encryption_context_keys.insert(key.to_owned());
    }

    /// The plaintext data key, once a keyring has decrypted one.
    pub fn data_key(&self) -> Option<&DataKey> {
        self.data_key.as_ref()
    }

    /// Sets the data key. Fails if one is set already or if its length is not the suite's.
    pub fn set_data_key(&mut self, key: DataKey) -> Result<()> {
        put_data_key(&mut self.data_key, self.suite, key)
    }

    /// A copy without the data key, for handing the same input to several keyrings.
    pub(crate) fn copy_without_data_key(&self) -> DecryptionMaterials {
        DecryptionMaterials {
            suite: self.suite,
            encryption_context: self.encryption_context.clone(),
            required_encryption_context_keys: self.required_encryption_context_keys.clone(),
            data_key: None,
            verification_key: self.verification_key.clone(),
        }
    }

    pub(crate) fn take_data_key(&mut self) -> Option<DataKey> {
        self.data_key.take()
    }
}
