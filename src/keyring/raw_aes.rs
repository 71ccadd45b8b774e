//! The raw AES keyring: wraps data keys with a local AES-GCM key.
//!
//! Spec: `framework/raw-aes-keyring.md`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::Keyring;
use crate::crypto::aead::AeadKey;
use crate::crypto::{fill_random, DataKey};
use crate::error::{Error, Result};
use crate::format::header::{EncryptedDataKey, IV_LEN, TAG_LEN};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// The bytes of a raw AES wrapping key (16, 24 or 32). Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct WrappingKey(Vec<u8>);

impl WrappingKey {
    /// Takes over key bytes; fails unless there are 16, 24 or 32 of them.
    pub fn new(bytes: Vec<u8>) -> Result<WrappingKey> {
        let k = WrappingKey(bytes);
        match k.0.len() {
            16 | 24 | 32 => Ok(k),
            n => Err(Error::InvalidArgument(format!(
                "a raw AES wrapping key must be 16, 24 or 32 bytes, not {n}"
            ))),
        }
    }

    /// A fresh random key of 16, 24 or 32 bytes.
    pub fn generate(len: usize) -> Result<WrappingKey> {
        let mut k = WrappingKey::new(vec![0u8; len])?;
        fill_random(&mut k.0)?;
        Ok(k)
    }

    /// The key bytes, for writing a generated key to its file.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WrappingKey([redacted])")
    }
}

/// Wraps data keys with AES-GCM under a local key.
///
/// The encrypted data key's provider ID is the key namespace; its provider info is
/// `key_name || u32 tag length in bits (128) || u32 IV length (12) || IV`; its ciphertext
/// is the AES-GCM ciphertext of the data key followed by the tag. The serialized
/// encryption context is the AAD, so a data key only unwraps under the same context.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: AeadKey,
}

impl fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl RawAesKeyring {
    /// A keyring for a key namespace, a key name and a wrapping key.
    ///
    /// Spec: framework/keyring-interface.md reserves the `aws-kms` provider ID for AWS KMS
    /// keyrings; we refuse every namespace starting with it.
    pub fn new(namespace: &str, name: &str, key: WrappingKey) -> Result<RawAesKeyring> {
        if namespace.starts_with("aws-kms") {
            return Err(Error::InvalidArgument(
                "the key namespace \"aws-kms\" is reserved for AWS KMS keyrings".into(),
            ));
        }
        if namespace.len() > usize::from(u16::MAX) || name.len() > usize::from(u16::MAX) - 20 {
            return Err(Error::InvalidArgument(
                "key namespace or name too long".into(),
            ));
        }
        Ok(RawAesKeyring {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: AeadKey::new_zeroizing(key.expose_secret())?,
        })
    }

    /// The key namespace (the provider ID of its encrypted data keys).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this keyring would attempt to decrypt `edk`, and if so its IV.
    /// Spec: raw-aes-keyring.md "OnDecrypt": provider ID equals the namespace, and the
    /// provider info is exactly our key name, a 128-bit tag length and a 12-byte IV length.
    fn matching_iv(&self, edk: &EncryptedDataKey) -> Option<[u8; IV_LEN]> {
        if edk.provider_id != self.namespace {
            return None;
        }
        let info = edk.provider_info.strip_prefix(self.name.as_bytes())?;
        if info.len() != 4 + 4 + IV_LEN {
            return None;
        }
        let (tag_bits, rest) = info.split_at(4);
        let (iv_len, iv) = rest.split_at(4);
        if tag_bits != (TAG_LEN as u32 * 8).to_be_bytes() || iv_len != (IV_LEN as u32).to_be_bytes()
        {
            return None;
        }
        iv.try_into().ok()
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, mut materials: EncryptionMaterials) -> Result<EncryptionMaterials> {
        if materials.data_key().is_none() {
            let key = DataKey::generate(materials.suite().key_len())?;
            materials.set_data_key(key)?;
        }
        let aad = materials.encryption_context().serialize()?;
        let mut iv = [0u8; IV_LEN];
        fill_random(&mut iv)?;
        let data_key = materials
            .data_key()
            .ok_or(Error::Unreachable("data key vanished"))?;
        let mut ciphertext = data_key.expose_secret().to_vec();
        let tag = self.key.seal_in_place(&iv, &aad, &mut ciphertext)?;
        ciphertext.extend_from_slice(&tag);

        let mut provider_info = Vec::with_capacity(self.name.len() + 20);
        provider_info.extend_from_slice(self.name.as_bytes());
        provider_info.extend_from_slice(&(TAG_LEN as u32 * 8).to_be_bytes());
        provider_info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        provider_info.extend_from_slice(&iv);
        materials.add_encrypted_data_key(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info,
            ciphertext,
        });
        Ok(materials)
    }

    fn on_decrypt(
        &self,
        mut materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key().is_some() {
            return Err(Error::InvalidState("the materials already hold a data key"));
        }
        let aad = materials.encryption_context().serialize()?;
        let mut matched = false;
        for edk in edks {
            let Some(iv) = self.matching_iv(edk) else {
                continue;
            };
            matched = true;
            let mut buf = Zeroizing::new(edk.ciphertext.clone());
            if let Ok(n) = self.key.open_in_place(&iv, &aad, &mut buf) {
                if n == materials.suite().key_len() {
                    materials.set_data_key(DataKey::from_slice(&buf[..n]))?;
                    return Ok(materials);
                }
            }
        }
        if matched {
            Err(Error::DataKeyUnwrapFailed)
        } else {
            Ok(materials)
        }
    }
}
