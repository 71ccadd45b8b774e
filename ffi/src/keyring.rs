//! Keyrings: raw AES, multi, and custom keyrings implemented by the caller through a vtable.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use esdk::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk::{
    EncryptedDataKey, Error, Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding,
    RsaPrivateKey, RsaPublicKey, WrappingKey,
};

use crate::ptr::{self, esdk_custom_keyring_vtable, BoxHandle, Callbacks};
use crate::result::{
    boundary, esdk_result, message, Failure, ESDK_RESULT_DATA_KEY_UNWRAP_FAILED,
    ESDK_RESULT_NO_MATCHING_DATA_KEY, ESDK_RESULT_OK,
};

/// A keyring: it generates, wraps and unwraps data keys.
///
/// Made by `esdk_raw_aes_keyring_new`, `esdk_multi_keyring_new` or
/// `esdk_custom_keyring_new`; freed by `esdk_keyring_free`. Immutable once made: one keyring
/// may be used by any number of threads at the same time (a custom keyring as far as its
/// callbacks allow). Multi-keyrings, encryptors and decryptors that use a keyring retain it,
/// so the caller may free its handle as soon as it no longer needs it itself.
pub struct esdk_keyring {
    _private: [u8; 0],
}

/// What an `esdk_keyring` handle owns.
pub(crate) struct KeyringHandle {
    /// The keyring, shared with the multi-keyrings and sessions that retain it.
    pub(crate) keyring: Arc<dyn Keyring>,
    /// An upper bound of the header bytes its `on_encrypt` adds, when known.
    pub(crate) edk_bound: Option<usize>,
}

impl BoxHandle for esdk_keyring {
    type Rust = KeyringHandle;
}

/// The keyring behind a handle, or `ESDK_RESULT_NULL_PARAMETER`.
pub(crate) fn keyring_ref<'a>(
    keyring: *const esdk_keyring,
    what: &str,
) -> Result<&'a KeyringHandle, Failure> {
    ptr::box_ref(keyring).ok_or_else(|| Failure::null(what))
}

/// Header bytes of one encrypted data key: three 16-bit length prefixes and the fields.
pub(crate) fn edk_header_bytes(edk: &EncryptedDataKey) -> usize {
    6 + edk.provider_id.len() + edk.provider_info.len() + edk.ciphertext.len()
}

/// Makes a raw AES keyring (spec `framework/raw-aes-keyring.md`): it wraps data keys with
/// AES-GCM under `wrapping_key` (16, 24 or 32 bytes), and is byte-compatible with the raw
/// AES keyrings / `RawMasterKey` of the other ESDKs.
///
/// `key_namespace` and `key_name` are NUL-terminated UTF-8 strings (the provider ID and key
/// name of the encrypted data keys); a namespace starting with `aws-kms` is refused.
///
/// Ownership: the strings and key bytes are copied (the caller may wipe its key right
/// after); the key copy is zeroized when the keyring is destroyed. On success `*keyring_out`
/// receives a new keyring that the caller frees with `esdk_keyring_free`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_raw_aes_keyring_new(
    key_namespace: *const c_char,
    key_name: *const c_char,
    wrapping_key: *const u8,
    wrapping_key_len: usize,
    keyring_out: *mut *mut esdk_keyring,
) -> esdk_result {
    boundary(|| {
        let namespace = ptr::c_str(key_namespace)?;
        let name = ptr::c_str(key_name)?;
        let key = ptr::slice(wrapping_key, wrapping_key_len)
            .ok_or_else(|| Failure::null("wrapping_key"))?;
        let mut out = ptr::out(keyring_out).ok_or_else(|| Failure::null("keyring_out"))?;
        // The copy is zeroized when the keyring drops it (or at once if it is refused).
        let keyring = RawAesKeyring::new(namespace, name, WrappingKey::new(key.to_vec())?)?;
        // Spec raw-aes-keyring.md "OnEncrypt": provider ID = namespace; provider info = key
        // name || tag length (4) || IV length (4) || IV (12); ciphertext = the data key (at
        // most 32 bytes) || tag (16).
        let edk_bound = 6 + namespace.len() + name.len() + 4 + 4 + 12 + 32 + 16;
        out.set(ptr::into_c_box(KeyringHandle {
            keyring: Arc::new(keyring),
            edk_bound: Some(edk_bound),
        }));
        Ok(())
    })
}

/// An RSA padding scheme of the raw RSA keyring (spec `framework/raw-rsa-keyring.md`
/// "Supported Padding Schemes"). The numbers are fixed.
pub type esdk_rsa_padding = u32;
/// RSAES-PKCS1-v1_5. Kept for compatibility with old messages; prefer OAEP.
pub const ESDK_RSA_PADDING_PKCS1: esdk_rsa_padding = 1;
/// RSAES-OAEP with SHA-1 and MGF1 with SHA-1.
pub const ESDK_RSA_PADDING_OAEP_SHA1: esdk_rsa_padding = 2;
/// RSAES-OAEP with SHA-256 and MGF1 with SHA-256.
pub const ESDK_RSA_PADDING_OAEP_SHA256: esdk_rsa_padding = 3;
/// RSAES-OAEP with SHA-384 and MGF1 with SHA-384.
pub const ESDK_RSA_PADDING_OAEP_SHA384: esdk_rsa_padding = 4;
/// RSAES-OAEP with SHA-512 and MGF1 with SHA-512.
pub const ESDK_RSA_PADDING_OAEP_SHA512: esdk_rsa_padding = 5;

/// PEM when the bytes (after leading whitespace) start with `-----BEGIN`, else DER.
fn is_pem(key: &[u8]) -> bool {
    key.iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|start| key.get(start..))
        .is_some_and(|rest| rest.starts_with(b"-----BEGIN"))
}

/// Makes a raw RSA keyring (spec `framework/raw-rsa-keyring.md`): it wraps data keys with
/// RSA under a local key pair, and is byte-compatible with the raw RSA keyrings /
/// `RawMasterKey` of the other ESDKs.
///
/// `key_namespace` and `key_name` are NUL-terminated UTF-8 strings (the provider ID and
/// provider info of the encrypted data keys); a namespace starting with `aws-kms` is
/// refused. `padding` is one of `ESDK_RSA_PADDING_*`. `public_key` (`public_key_len` bytes)
/// is PEM or DER, SubjectPublicKeyInfo or PKCS#1 `RSAPublicKey`; `private_key`
/// (`private_key_len` bytes) is PEM or DER, PKCS#8 or PKCS#1 `RSAPrivateKey` (unencrypted).
/// Either may be NULL (with length 0) but not both: a keyring with only a public key can
/// encrypt and not decrypt, one with only a private key can decrypt and not encrypt (the
/// spec forbids deriving the public key). Keys of 2048 to 8192 bits.
///
/// Ownership: the strings and key bytes are copied; the parsed private key is zeroized
/// when the keyring is destroyed (the caller wipes its own copy). On success
/// `*keyring_out` receives a new keyring that the caller frees with `esdk_keyring_free`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_raw_rsa_keyring_new(
    key_namespace: *const c_char,
    key_name: *const c_char,
    padding: esdk_rsa_padding,
    public_key: *const u8,
    public_key_len: usize,
    private_key: *const u8,
    private_key_len: usize,
    keyring_out: *mut *mut esdk_keyring,
) -> esdk_result {
    boundary(|| {
        let namespace = ptr::c_str(key_namespace)?;
        let name = ptr::c_str(key_name)?;
        let mut out = ptr::out(keyring_out).ok_or_else(|| Failure::null("keyring_out"))?;
        let padding = match padding {
            ESDK_RSA_PADDING_PKCS1 => RsaPadding::Pkcs1,
            ESDK_RSA_PADDING_OAEP_SHA1 => RsaPadding::OaepSha1,
            ESDK_RSA_PADDING_OAEP_SHA256 => RsaPadding::OaepSha256,
            ESDK_RSA_PADDING_OAEP_SHA384 => RsaPadding::OaepSha384,
            ESDK_RSA_PADDING_OAEP_SHA512 => RsaPadding::OaepSha512,
            other => {
                return Err(Failure::from(Error::InvalidArgument(format!(
                    "unknown RSA padding {other}"
                ))))
            }
        };
        // NULL with length 0 means "no such key"; NULL with a length is a caller error.
        let optional = |data: *const u8, len: usize, what: &str| {
            if data.is_null() && len == 0 {
                Ok(None)
            } else {
                ptr::slice(data, len)
                    .map(Some)
                    .ok_or_else(|| Failure::null(what))
            }
        };
        let public = optional(public_key, public_key_len, "public_key")?
            .map(|k| {
                if is_pem(k) {
                    RsaPublicKey::from_pem(k)
                } else {
                    RsaPublicKey::from_der(k)
                }
            })
            .transpose()?;
        let private = optional(private_key, private_key_len, "private_key")?
            .map(|k| {
                if is_pem(k) {
                    RsaPrivateKey::from_pem(k)
                } else {
                    RsaPrivateKey::from_der(k)
                }
            })
            .transpose()?;
        let modulus_bytes = public
            .as_ref()
            .map(RsaPublicKey::bits)
            .or(private.as_ref().map(RsaPrivateKey::bits))
            .unwrap_or(8192)
            .div_ceil(8);
        let keyring = RawRsaKeyring::new(namespace, name, padding, public, private)?;
        // Spec raw-rsa-keyring.md "OnEncrypt": provider ID = namespace, provider info = key
        // name, ciphertext = the RSA ciphertext (as long as the modulus).
        let edk_bound = 6 + namespace.len() + name.len() + modulus_bytes;
        out.set(ptr::into_c_box(KeyringHandle {
            keyring: Arc::new(keyring),
            edk_bound: Some(edk_bound),
        }));
        Ok(())
    })
}

/// Makes a multi-keyring (spec `framework/multi-keyring.md`): on encrypt the generator
/// makes the data key and then it and every child wrap it; on decrypt the generator and
/// then each child are tried in order and the first that decrypts a data key wins.
///
/// `generator` may be NULL (no generator: the materials must then already hold a data
/// key, so such a multi-keyring is only useful as a child or for decryption); `children` is
/// an array of `children_len` keyrings, none of them NULL, and may be NULL when
/// `children_len` is 0. A multi-keyring needs a generator or at least one child.
///
/// Ownership: the generator and children are retained (the caller keeps its own handles and
/// frees them when it likes); the array is not. On success `*keyring_out` receives a new
/// keyring that the caller frees with `esdk_keyring_free`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_multi_keyring_new(
    generator: *const esdk_keyring,
    children: *const *const esdk_keyring,
    children_len: usize,
    keyring_out: *mut *mut esdk_keyring,
) -> esdk_result {
    boundary(|| {
        let mut out = ptr::out(keyring_out).ok_or_else(|| Failure::null("keyring_out"))?;
        if children.is_null() && children_len > 0 {
            return Err(Failure::null("children"));
        }
        let generator = ptr::box_ref(generator);
        let mut kids = Vec::with_capacity(children_len.min(1024));
        for i in 0..children_len {
            let child = ptr::array_element(children, children_len, i)
                .and_then(ptr::box_ref::<esdk_keyring>)
                .ok_or_else(|| Failure::null(&format!("children[{i}]")))?;
            kids.push(child);
        }
        let edk_bound = generator
            .iter()
            .chain(kids.iter())
            .try_fold(0usize, |sum, k| sum.checked_add(k.edk_bound?));
        let keyring = MultiKeyring::new(
            generator.map(|g| g.keyring.clone()),
            kids.iter().map(|k| k.keyring.clone()).collect(),
        )?;
        out.set(ptr::into_c_box(KeyringHandle {
            keyring: Arc::new(keyring),
            edk_bound,
        }));
        Ok(())
    })
}

/// Makes a keyring whose work is done by the caller's functions: see
/// `esdk_custom_keyring_vtable`. This is how any language plugs in its own key store or
/// HSM.
///
/// `vtable->size` must be `sizeof(esdk_custom_keyring_vtable)` (at least the size up to and
/// including `destroy`), and `on_encrypt` and `on_decrypt` must not be NULL. `user_data` is
/// passed to every callback and may be NULL.
///
/// Ownership: the vtable is copied. `user_data` is retained until the keyring is destroyed
/// (when the last of its handle and the multi-keyrings and sessions that retained it is
/// freed), and then `destroy(user_data)` is called if `destroy` is set. If this function
/// fails, `destroy` is not called and `user_data` stays the caller's. On success
/// `*keyring_out` receives a new keyring that the caller frees with `esdk_keyring_free`.
/// Thread safety: see `esdk_custom_keyring_vtable`.
#[no_mangle]
pub extern "C" fn esdk_custom_keyring_new(
    vtable: *const esdk_custom_keyring_vtable,
    user_data: *mut c_void,
    keyring_out: *mut *mut esdk_keyring,
) -> esdk_result {
    boundary(|| {
        let mut out = ptr::out(keyring_out).ok_or_else(|| Failure::null("keyring_out"))?;
        let callbacks = Callbacks::new(vtable, user_data).map_err(|code| {
            Failure::new(
                code,
                "the vtable is NULL, too small, or lacks on_encrypt or on_decrypt",
            )
        })?;
        let bound = callbacks.encrypted_data_keys_bound;
        out.set(ptr::into_c_box(KeyringHandle {
            keyring: Arc::new(CustomKeyring { callbacks }),
            edk_bound: (bound > 0).then_some(bound),
        }));
        Ok(())
    })
}

/// Frees a keyring handle. NULL does nothing. The keyring itself lives on while a
/// multi-keyring, encryptor or decryptor retains it; when the last one goes, its secrets
/// are zeroized (and a custom keyring's `destroy` is called).
///
/// Thread safety: any thread, once no other call uses this handle.
#[no_mangle]
pub extern "C" fn esdk_keyring_free(keyring: *mut esdk_keyring) {
    crate::result::boundary_free(|| ptr::free_box(keyring));
}

/// A keyring that calls the caller's functions.
struct CustomKeyring {
    callbacks: Callbacks,
}

/// What a custom keyring's `on_decrypt` callback sees through its materials handle.
pub(crate) struct DecryptCall {
    /// The materials; the callback may set their data key.
    pub(crate) materials: DecryptionMaterials,
    /// The message's encrypted data keys.
    pub(crate) edks: Vec<EncryptedDataKey>,
}

fn callback_error(which: &str, code: esdk_result) -> Error {
    Error::Keyring(format!(
        "custom keyring {which} returned {code} ({})",
        message(code).to_string_lossy()
    ))
}

impl Keyring for CustomKeyring {
    fn on_encrypt(&self, mut materials: EncryptionMaterials) -> esdk::Result<EncryptionMaterials> {
        let before = materials.encrypted_data_keys().len();
        let code = self.callbacks.on_encrypt(&mut materials);
        if code != ESDK_RESULT_OK {
            return Err(callback_error("on_encrypt", code));
        }
        let bound = self.callbacks.encrypted_data_keys_bound;
        if bound > 0 {
            let added: usize = materials
                .encrypted_data_keys()
                .get(before..)
                .unwrap_or_default()
                .iter()
                .map(edk_header_bytes)
                .sum();
            if added > bound {
                return Err(Error::Keyring(format!(
                    "custom keyring on_encrypt added {added} header bytes, more than its \
                     encrypted_data_keys_bound of {bound}"
                )));
            }
        }
        Ok(materials)
    }

    fn on_decrypt(
        &self,
        materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk::Result<DecryptionMaterials> {
        let mut call = DecryptCall {
            materials,
            edks: edks.to_vec(),
        };
        match self.callbacks.on_decrypt(&mut call) {
            ESDK_RESULT_OK | ESDK_RESULT_NO_MATCHING_DATA_KEY => Ok(call.materials),
            ESDK_RESULT_DATA_KEY_UNWRAP_FAILED => Err(Error::DataKeyUnwrapFailed),
            code => Err(callback_error("on_decrypt", code)),
        }
    }
}
