//! The required encryption context CMM. Spec:
//! `framework/required-encryption-context-cmm.md`.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{CryptoMaterialsManager, DecryptMaterialsRequest, EncryptionMaterialsRequest};
use crate::error::{PolicyError, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// Wraps another CMM so that some context keys are authenticated but not stored in the
/// header: the decrypting caller must supply them again.
pub struct RequiredEncryptionContextCmm {
    underlying: Arc<dyn CryptoMaterialsManager>,
    keys: BTreeSet<String>,
}

impl std::fmt::Debug for RequiredEncryptionContextCmm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequiredEncryptionContextCmm")
            .field("keys", &self.keys)
            .finish()
    }
}

impl RequiredEncryptionContextCmm {
    /// Requires `keys` on top of `underlying`.
    pub fn new(
        underlying: Arc<dyn CryptoMaterialsManager>,
        keys: impl IntoIterator<Item = String>,
    ) -> Self {
        RequiredEncryptionContextCmm {
            underlying,
            keys: keys.into_iter().collect(),
        }
    }
}

impl CryptoMaterialsManager for RequiredEncryptionContextCmm {
    fn get_encryption_materials(
        &self,
        mut request: EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials> {
        // Spec: the request's context MUST contain every required key.
        for k in &self.keys {
            if !request.encryption_context.contains_key(k) {
                return Err(PolicyError::MissingContextPair(k.clone()).into());
            }
        }
        request
            .required_encryption_context_keys
            .extend(self.keys.iter().cloned());
        let materials = self.underlying.get_encryption_materials(request)?;
        if !self
            .keys
            .is_subset(materials.required_encryption_context_keys())
        {
            return Err(crate::Error::Keyring(
                "the underlying CMM dropped required context keys".into(),
            ));
        }
        Ok(materials)
    }

    fn decrypt_materials(&self, request: DecryptMaterialsRequest) -> Result<DecryptionMaterials> {
        // Spec: the reproduced context MUST contain every required key.
        for k in &self.keys {
            let present = request
                .reproduced_encryption_context
                .as_ref()
                .is_some_and(|r| r.contains_key(k));
            if !present {
                return Err(PolicyError::MissingContextPair(k.clone()).into());
            }
        }
        let materials = self.underlying.decrypt_materials(request)?;
        for k in &self.keys {
            if !materials.encryption_context().contains_key(k) {
                return Err(PolicyError::MissingContextPair(k.clone()).into());
            }
        }
        Ok(materials)
    }
}
