//! The multi-keyring: one generator and any number of children.
//!
//! Spec: `framework/multi-keyring.md`.

use std::sync::Arc;

use super::Keyring;
use crate::error::{Error, Result};
use crate::format::header::EncryptedDataKey;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// Combines keyrings: on encrypt the generator makes the data key and every keyring wraps
/// it; on decrypt the first keyring that can decrypt a data key wins.
pub struct MultiKeyring {
    generator: Option<Arc<dyn Keyring>>,
    children: Vec<Arc<dyn Keyring>>,
}

impl std::fmt::Debug for MultiKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("generator", &self.generator.is_some())
            .field("children", &self.children.len())
            .finish()
    }
}

impl MultiKeyring {
    /// A multi-keyring. Spec: multi-keyring.md "Initialization": with no generator there
    /// MUST be at least one child.
    pub fn new(
        generator: Option<Arc<dyn Keyring>>,
        children: Vec<Arc<dyn Keyring>>,
    ) -> Result<MultiKeyring> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::InvalidArgument(
                "a multi-keyring needs a generator or at least one child".into(),
            ));
        }
        Ok(MultiKeyring {
            generator,
            children,
        })
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, mut materials: EncryptionMaterials) -> Result<EncryptionMaterials> {
        match &self.generator {
            Some(generator) => {
                // Spec: "If the input encryption materials already include a plaintext data
                // key, OnEncrypt MUST fail."
                if materials.data_key().is_some() {
                    return Err(Error::InvalidState(
                        "a multi-keyring with a generator got materials that hold a data key",
                    ));
                }
                materials = generator.on_encrypt(materials)?;
                if materials.data_key().is_none() {
                    return Err(Error::Keyring("the generator produced no data key".into()));
                }
            }
            None => {
                if materials.data_key().is_none() {
                    return Err(Error::InvalidState(
                        "a multi-keyring without a generator needs materials with a data key",
                    ));
                }
            }
        }
        // Spec: each child in order; any failure fails the whole call.
        for child in &self.children {
            materials = child.on_encrypt(materials)?;
        }
        Ok(materials)
    }

    fn on_decrypt(
        &self,
        materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key().is_some() {
            return Err(Error::InvalidState("the materials already hold a data key"));
        }
        // Spec: try the generator, then each child, each with the unmodified input; the
        // first success wins; failures are collected and decryption goes on.
        let mut first_error = None;
        for keyring in self.generator.iter().chain(self.children.iter()) {
            match keyring.on_decrypt(materials.copy_without_data_key(), edks) {
                Ok(out) if out.data_key().is_some() => return Ok(out),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(materials),
        }
    }
}
