//! Keyrings: they generate, wrap and unwrap data keys.
//!
//! Spec: `framework/keyring-interface.md`.

mod multi;
mod raw_aes;
mod raw_ecdh;
mod raw_rsa;

pub use multi::MultiKeyring;
pub use raw_aes::{RawAesKeyring, WrappingKey};
pub use raw_ecdh::{
    EcdhCurve, EcdhPrivateKey, EcdhPublicKey, KeyAgreementScheme, RawEcdhKeyring,
    RAW_ECDH_PROVIDER_ID,
};
pub use raw_rsa::{RawRsaKeyring, RsaPadding, RsaPrivateKey, RsaPublicKey};

use crate::error::Result;
use crate::format::header::EncryptedDataKey;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// Generates, wraps and unwraps data keys.
///
/// Spec: keyring-interface.md "OnEncrypt" and "OnDecrypt".
pub trait Keyring: Send + Sync {
    /// Adds an encrypted data key to the materials, first generating the data key if the
    /// materials have none.
    fn on_encrypt(&self, materials: EncryptionMaterials) -> Result<EncryptionMaterials>;

    /// Tries to decrypt one of `edks` into the materials' data key.
    ///
    /// A keyring that recognizes none of the keys returns the materials unchanged (no data
    /// key): that is not an error. A keyring that recognized a key but failed to decrypt it
    /// returns [`crate::Error::DataKeyUnwrapFailed`].
    fn on_decrypt(
        &self,
        materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials>;
}
