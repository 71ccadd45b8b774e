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
        let mut errors: Vec<Error> = Vec::new();
        for keyring in self.generator.iter().chain(self.children.iter()) {
            match keyring.on_decrypt(materials.copy_without_data_key(), edks) {
                Ok(out) if out.data_key().is_some() => return Ok(out),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        // Spec: "OnDecrypt MUST return a failure message containing the collected failure
        // messages from the child keyrings." One failure, or the same failure from every
        // keyring, keeps its own kind; mixed failures are listed together.
        match errors.len() {
            0 => Ok(materials),
            _ if errors.iter().all(|e| *e == errors[0]) => Err(errors.swap_remove(0)),
            _ => {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                Err(Error::Keyring(format!(
                    "no keyring could decrypt a data key: {}",
                    list.join("; ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::suite::AlgorithmSuite;
    use crate::keyring::{RawAesKeyring, WrappingKey};

    fn aes(name: &str, byte: u8) -> Arc<dyn Keyring> {
        Arc::new(RawAesKeyring::new("ns", name, WrappingKey::new(vec![byte; 16]).unwrap()).unwrap())
    }

    struct Failing;
    impl Keyring for Failing {
        fn on_encrypt(&self, _: EncryptionMaterials) -> Result<EncryptionMaterials> {
            Err(Error::Keyring("hsm offline".into()))
        }
        fn on_decrypt(
            &self,
            _: DecryptionMaterials,
            _: &[EncryptedDataKey],
        ) -> Result<DecryptionMaterials> {
            Err(Error::Keyring("hsm offline".into()))
        }
    }

    fn wrapped_by(keyring: &dyn Keyring) -> Vec<EncryptedDataKey> {
        let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let m = keyring
            .on_encrypt(EncryptionMaterials::new(suite, Default::default()))
            .unwrap();
        m.encrypted_data_keys().to_vec()
    }

    fn fresh() -> DecryptionMaterials {
        DecryptionMaterials::new(
            &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            Default::default(),
        )
    }

    #[test]
    fn needs_a_generator_or_a_child() {
        assert!(matches!(
            MultiKeyring::new(None, vec![]),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn decrypt_goes_on_past_failures_and_collects_them() {
        let edks = wrapped_by(aes("a", 1).as_ref());
        // A failing generator does not stop a child that can decrypt.
        let m = MultiKeyring::new(Some(Arc::new(Failing)), vec![aes("a", 1)]).unwrap();
        assert!(m.on_decrypt(fresh(), &edks).unwrap().data_key().is_some());
        // The same failure everywhere keeps its kind.
        let m = MultiKeyring::new(Some(aes("a", 2)), vec![aes("a", 3)]).unwrap();
        assert_eq!(
            m.on_decrypt(fresh(), &edks).unwrap_err(),
            Error::DataKeyUnwrapFailed
        );
        // Mixed failures are all listed.
        let m = MultiKeyring::new(Some(Arc::new(Failing)), vec![aes("a", 3)]).unwrap();
        match m.on_decrypt(fresh(), &edks).unwrap_err() {
            Error::Keyring(text) => {
                assert!(
                    text.contains("hsm offline") && text.contains("could not decrypt it"),
                    "{text}"
                )
            }
            e => panic!("{e:?}"),
        }
        // Nobody recognizing a key is not a failure.
        let m = MultiKeyring::new(Some(aes("b", 1)), vec![]).unwrap();
        assert!(m.on_decrypt(fresh(), &edks).unwrap().data_key().is_none());
    }

    #[test]
    fn encrypt_fails_as_a_whole_when_a_child_fails() {
        let m = MultiKeyring::new(Some(aes("a", 1)), vec![Arc::new(Failing)]).unwrap();
        let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let e = m
            .on_encrypt(EncryptionMaterials::new(suite, Default::default()))
            .unwrap_err();
        assert_eq!(e, Error::Keyring("hsm offline".into()));
        // Without a generator the materials must already hold a data key.
        let m = MultiKeyring::new(None, vec![aes("a", 1)]).unwrap();
        let e = m
            .on_encrypt(EncryptionMaterials::new(suite, Default::default()))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)));
    }
}
