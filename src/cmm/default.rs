//! The default CMM. Spec: `framework/default-cmm.md`.

use std::sync::Arc;

use super::{CryptoMaterialsManager, DecryptMaterialsRequest, EncryptionMaterialsRequest};
use crate::crypto::sig::{SigningKey, VerifyingKey};
use crate::error::{Error, PolicyError, Result};
use crate::format::context::PUBLIC_KEY_FIELD;
use crate::keyring::Keyring;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// Gets materials from one keyring (use a [`crate::keyring::MultiKeyring`] for several).
#[derive(Clone)]
pub struct DefaultCmm {
    keyring: Arc<dyn Keyring>,
}

impl std::fmt::Debug for DefaultCmm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DefaultCmm")
    }
}

impl DefaultCmm {
    /// A default CMM over a keyring.
    pub fn new(keyring: Arc<dyn Keyring>) -> DefaultCmm {
        DefaultCmm { keyring }
    }
}

impl CryptoMaterialsManager for DefaultCmm {
    fn get_encryption_materials(
        &self,
        request: EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials> {
        let policy = request.commitment_policy;
        let suite = request
            .algorithm_suite
            .unwrap_or_else(|| policy.default_suite());
        // Spec: default-cmm.md: the request's suite MUST be allowed by the commitment policy.
        if !policy.allows_encrypt(suite) {
            return Err(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                operation: "encrypt",
            }
            .into());
        }
        // Spec: default-cmm.md: a request context that already holds aws-crypto-public-key
        // MUST fail rather than be overwritten (refused for every suite).
        if request.encryption_context.contains_key(PUBLIC_KEY_FIELD) {
            return Err(PolicyError::ReservedContextKey(PUBLIC_KEY_FIELD.into()).into());
        }
        let mut materials = EncryptionMaterials::new(suite, request.encryption_context);
        for key in &request.required_encryption_context_keys {
            if !materials.encryption_context().contains_key(key) {
                return Err(PolicyError::MissingContextPair(key.clone()).into());
            }
        }
        materials.set_required_keys(request.required_encryption_context_keys);
        // Spec: default-cmm.md: for signing suites, generate a key pair and add the public
        // key under aws-crypto-public-key; fail if the context already has that key.
        if let Some(alg) = suite.signature() {
            if materials
                .encryption_context()
                .contains_key(PUBLIC_KEY_FIELD)
            {
                return Err(PolicyError::ReservedContextKey(PUBLIC_KEY_FIELD.into()).into());
            }
            let key = SigningKey::generate(alg)?;
            materials
                .context_mut()
                .insert(PUBLIC_KEY_FIELD, key.public_key_base64()?);
            materials.signing_key = Some(key);
        }
        let materials = self.keyring.on_encrypt(materials)?;
        // Spec: cmm-interface.md: valid materials have a data key and at least one EDK.
        if materials.data_key().is_none() {
            return Err(Error::Keyring("the keyring produced no data key".into()));
        }
        if materials.encrypted_data_keys().is_empty() {
            return Err(Error::Keyring(
                "the keyring produced no encrypted data key".into(),
            ));
        }
        Ok(materials)
    }

    fn decrypt_materials(&self, request: DecryptMaterialsRequest) -> Result<DecryptionMaterials> {
        let suite = request.algorithm_suite;
        if !request.commitment_policy.allows_decrypt(suite) {
            return Err(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                operation: "decrypt",
            }
            .into());
        }
        let mut materials = DecryptionMaterials::new(suite, request.encryption_context);
        // Reproduced context: a key stored in the header must have the same value; a key
        // not stored becomes a required (authenticated, unstored) pair.
        if let Some(reproduced) = &request.reproduced_encryption_context {
            for (k, v) in reproduced.iter() {
                match materials.encryption_context().get(k) {
                    Some(stored) if stored == v => {}
                    Some(_) => return Err(PolicyError::ContextValueMismatch(k.to_owned()).into()),
                    None => materials.add_required_pair(k, v),
                }
            }
        }
        // Spec: default-cmm.md "Decrypt Materials": a signing suite needs the public key in
        // the context; a non-signing suite must not carry one.
        match (
            suite.signature(),
            materials.encryption_context().get(PUBLIC_KEY_FIELD),
        ) {
            (Some(alg), Some(text)) => {
                materials.verification_key = Some(VerifyingKey::from_base64(alg, text)?);
            }
            (None, None) => {}
            _ => return Err(PolicyError::PublicKeyMismatch.into()),
        }
        let materials = self
            .keyring
            .on_decrypt(materials, &request.encrypted_data_keys)?;
        if materials.data_key().is_none() {
            return Err(Error::NoMatchingDataKey);
        }
        Ok(materials)
    }
}
