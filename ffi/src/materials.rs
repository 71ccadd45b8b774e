//! The materials that a custom keyring's callbacks work on, and their accessors.
//!
//! Spec: `framework/structures.md` "Encryption Materials" / "Decryption Materials",
//! `framework/keyring-interface.md`.

use std::ffi::c_char;

use esdk::materials::EncryptionMaterials;
use esdk::{DataKey, EncryptedDataKey, EncryptionContext};

use crate::context::esdk_encryption_context;
use crate::keyring::DecryptCall;
use crate::ptr::{self, RefHandle};
use crate::result::{
    boundary, esdk_result, Failure, ESDK_RESULT_BUFFER_TOO_SMALL, ESDK_RESULT_NOT_FOUND,
};

/// The encryption materials given to a custom keyring's `on_encrypt`.
///
/// Borrowed: valid only during that call, on the thread that runs it; never freed by the
/// caller.
pub struct esdk_encryption_materials {
    _private: [u8; 0],
}

impl RefHandle for esdk_encryption_materials {
    type Rust = EncryptionMaterials;
}

/// The decryption materials, and the message's encrypted data keys, given to a custom
/// keyring's `on_decrypt`.
///
/// Borrowed: valid only during that call, on the thread that runs it; never freed by the
/// caller.
pub struct esdk_decryption_materials {
    _private: [u8; 0],
}

impl RefHandle for esdk_decryption_materials {
    type Rust = DecryptCall;
}

/// An encrypted data key: who can decrypt it (provider ID and info) and the wrapped key.
///
/// As an output (`esdk_decryption_materials_encrypted_data_key_at`) its pointers borrow
/// from the materials and are valid as long as they are. As an input
/// (`esdk_encryption_materials_add_encrypted_data_key`) it is copied. Strings are not
/// NUL-terminated; a pointer may be NULL when its length is 0.
#[repr(C)]
pub struct esdk_encrypted_data_key {
    /// The key provider ID: UTF-8, for raw keyrings the key namespace.
    pub provider_id: *const c_char,
    /// Bytes of `provider_id`.
    pub provider_id_len: usize,
    /// The key provider info: for raw keyrings it starts with the key name.
    pub provider_info: *const u8,
    /// Bytes of `provider_info`.
    pub provider_info_len: usize,
    /// The encrypted (wrapped) data key.
    pub ciphertext: *const u8,
    /// Bytes of `ciphertext`.
    pub ciphertext_len: usize,
}

fn enc_ref<'a>(m: *const esdk_encryption_materials) -> Result<&'a EncryptionMaterials, Failure> {
    ptr::borrowed_ref(m).ok_or_else(|| Failure::null("materials"))
}

fn enc_mut<'a>(m: *mut esdk_encryption_materials) -> Result<&'a mut EncryptionMaterials, Failure> {
    ptr::borrowed_mut(m).ok_or_else(|| Failure::null("materials"))
}

fn dec_ref<'a>(m: *const esdk_decryption_materials) -> Result<&'a DecryptCall, Failure> {
    ptr::borrowed_ref(m).ok_or_else(|| Failure::null("materials"))
}

fn dec_mut<'a>(m: *mut esdk_decryption_materials) -> Result<&'a mut DecryptCall, Failure> {
    ptr::borrowed_mut(m).ok_or_else(|| Failure::null("materials"))
}

fn set_out<T>(place: *mut T, what: &str, value: T) -> Result<(), Failure> {
    ptr::out(place)
        .ok_or_else(|| Failure::null(what))?
        .set(value);
    Ok(())
}

fn set_context(
    ctx: &EncryptionContext,
    place: *mut *const esdk_encryption_context,
) -> Result<(), Failure> {
    set_out(
        place,
        "context_out",
        ptr::to_c_ref::<esdk_encryption_context>(ctx),
    )
}

/// Copies `key` for the materials; the copy is zeroized when the materials drop it.
fn data_key_from(key: *const u8, key_len: usize) -> Result<DataKey, Failure> {
    if key.is_null() {
        return Err(Failure::null("key"));
    }
    let bytes = ptr::slice(key, key_len).ok_or_else(|| Failure::null("key"))?;
    Ok(DataKey::from_slice(bytes))
}

/// The algorithm suite ID of the message being encrypted (for example 0x0578).
///
/// Thread safety: only during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_algorithm_suite(
    materials: *const esdk_encryption_materials,
    suite_id_out: *mut u16,
) -> esdk_result {
    boundary(|| {
        let m = enc_ref(materials)?;
        set_out(suite_id_out, "suite_id_out", m.suite().id())
    })
}

/// The data key length of the suite, in bytes (16, 24 or 32).
///
/// Thread safety: only during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_data_key_length(
    materials: *const esdk_encryption_materials,
    len_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let m = enc_ref(materials)?;
        set_out(len_out, "len_out", m.suite().key_len())
    })
}

/// The full encryption context of the message (the caller's pairs and, for signing
/// suites, `aws-crypto-public-key`). A keyring that binds its wrapping to the context uses
/// `esdk_encryption_context_serialize` of it as AAD.
///
/// Ownership: `*context_out` borrows from the materials (valid during `on_encrypt`).
/// Thread safety: only during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_encryption_context(
    materials: *const esdk_encryption_materials,
    context_out: *mut *const esdk_encryption_context,
) -> esdk_result {
    boundary(|| set_context(enc_ref(materials)?.encryption_context(), context_out))
}

/// Copies the plaintext data key into `out` (`out_size` bytes of room); `*out_len` receives
/// its length, also on `ESDK_RESULT_BUFFER_TOO_SMALL` (then nothing is written).
/// `ESDK_RESULT_NOT_FOUND` if no data key is set yet (this keyring is the generator).
///
/// Ownership: the copy is the caller's, who must wipe it after use. Thread safety: only
/// during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_get_data_key(
    materials: *const esdk_encryption_materials,
    out: *mut u8,
    out_size: usize,
    out_len: *mut usize,
) -> esdk_result {
    boundary(|| {
        let m = enc_ref(materials)?;
        let mut len = ptr::out(out_len).ok_or_else(|| Failure::null("out_len"))?;
        let buf = ptr::slice_mut(out, out_size).ok_or_else(|| Failure::null("out"))?;
        let key = m
            .data_key()
            .ok_or_else(|| Failure::new(ESDK_RESULT_NOT_FOUND, "no data key is set yet"))?;
        let bytes = key.expose_secret();
        len.set(bytes.len());
        let dst = buf.get_mut(..bytes.len()).ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_BUFFER_TOO_SMALL,
                format!("the data key needs {} bytes", bytes.len()),
            )
        })?;
        dst.copy_from_slice(bytes);
        Ok(())
    })
}

/// Sets the plaintext data key (what a generator keyring does). `key_len` must be the
/// suite's data key length; `ESDK_RESULT_INVALID_STATE` if a data key is already set.
///
/// Ownership: the key is copied (zeroized when the materials are done with it); the caller
/// should wipe its own copy. Thread safety: only during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_set_data_key(
    materials: *mut esdk_encryption_materials,
    key: *const u8,
    key_len: usize,
) -> esdk_result {
    boundary(|| {
        let m = enc_mut(materials)?;
        let key = data_key_from(key, key_len)?;
        m.set_data_key(key)?;
        Ok(())
    })
}

/// Sets a fresh random data key of the suite's length, from the operating system's
/// generator (for a generator keyring that has no random source of its own).
/// `ESDK_RESULT_INVALID_STATE` if a data key is already set.
///
/// Thread safety: only during `on_encrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_generate_data_key(
    materials: *mut esdk_encryption_materials,
) -> esdk_result {
    boundary(|| {
        let m = enc_mut(materials)?;
        let key = DataKey::generate(m.suite().key_len())?;
        m.set_data_key(key)?;
        Ok(())
    })
}

/// Adds an encrypted data key to the message header. The provider ID must be UTF-8; each
/// field must fit in 65535 bytes (checked when the header is written).
///
/// Ownership: the key's fields are copied. Thread safety: only during `on_encrypt`, on its
/// thread.
#[no_mangle]
pub extern "C" fn esdk_encryption_materials_add_encrypted_data_key(
    materials: *mut esdk_encryption_materials,
    edk: *const esdk_encrypted_data_key,
) -> esdk_result {
    boundary(|| {
        let m = enc_mut(materials)?;
        let edk = ptr::struct_ref(edk).ok_or_else(|| Failure::null("edk"))?;
        let id = ptr::text_in(edk.provider_id, edk.provider_id_len)
            .ok_or_else(|| Failure::null("edk->provider_id"))?;
        let info = ptr::slice(edk.provider_info, edk.provider_info_len)
            .ok_or_else(|| Failure::null("edk->provider_info"))?;
        let ciphertext = ptr::slice(edk.ciphertext, edk.ciphertext_len)
            .ok_or_else(|| Failure::null("edk->ciphertext"))?;
        let provider_id = std::str::from_utf8(id)
            .map_err(|_| Failure::invalid("the provider ID is not UTF-8"))?;
        m.add_encrypted_data_key(EncryptedDataKey {
            provider_id: provider_id.to_owned(),
            provider_info: info.to_vec(),
            ciphertext: ciphertext.to_vec(),
        });
        Ok(())
    })
}

/// The algorithm suite ID of the message being decrypted.
///
/// Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_algorithm_suite(
    materials: *const esdk_decryption_materials,
    suite_id_out: *mut u16,
) -> esdk_result {
    boundary(|| {
        let m = dec_ref(materials)?;
        set_out(suite_id_out, "suite_id_out", m.materials.suite().id())
    })
}

/// The data key length of the message's suite, in bytes (16, 24 or 32).
///
/// Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_data_key_length(
    materials: *const esdk_decryption_materials,
    len_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let m = dec_ref(materials)?;
        set_out(len_out, "len_out", m.materials.suite().key_len())
    })
}

/// The full encryption context of the message: the pairs stored in its header plus any
/// reproduced required pairs; the same context the encrypting keyring saw.
///
/// Ownership: `*context_out` borrows from the materials (valid during `on_decrypt`).
/// Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_encryption_context(
    materials: *const esdk_decryption_materials,
    context_out: *mut *const esdk_encryption_context,
) -> esdk_result {
    boundary(|| {
        set_context(
            dec_ref(materials)?.materials.encryption_context(),
            context_out,
        )
    })
}

/// How many encrypted data keys the message has.
///
/// Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_encrypted_data_key_count(
    materials: *const esdk_decryption_materials,
    count_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let m = dec_ref(materials)?;
        set_out(count_out, "count_out", m.edks.len())
    })
}

/// Encrypted data key number `index` (from 0) of the message, in header order;
/// `ESDK_RESULT_NOT_FOUND` past the end.
///
/// Ownership: the pointers written to `*edk_out` borrow from the materials (valid during
/// `on_decrypt`). Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_encrypted_data_key_at(
    materials: *const esdk_decryption_materials,
    index: usize,
    edk_out: *mut esdk_encrypted_data_key,
) -> esdk_result {
    boundary(|| {
        let m = dec_ref(materials)?;
        let mut out = ptr::out(edk_out).ok_or_else(|| Failure::null("edk_out"))?;
        let edk = m.edks.get(index).ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_NOT_FOUND,
                format!("index {index}, the message has {} keys", m.edks.len()),
            )
        })?;
        let (provider_id, provider_id_len) = ptr::text_out(&edk.provider_id);
        out.set(esdk_encrypted_data_key {
            provider_id,
            provider_id_len,
            provider_info: edk.provider_info.as_ptr(),
            provider_info_len: edk.provider_info.len(),
            ciphertext: edk.ciphertext.as_ptr(),
            ciphertext_len: edk.ciphertext.len(),
        });
        Ok(())
    })
}

/// Sets the decrypted data key. `key_len` must be the suite's data key length;
/// `ESDK_RESULT_INVALID_STATE` if one is already set.
///
/// Ownership: the key is copied (zeroized when the materials are done with it); the caller
/// should wipe its own copy. Thread safety: only during `on_decrypt`, on its thread.
#[no_mangle]
pub extern "C" fn esdk_decryption_materials_set_data_key(
    materials: *mut esdk_decryption_materials,
    key: *const u8,
    key_len: usize,
) -> esdk_result {
    boundary(|| {
        let m = dec_mut(materials)?;
        let key = data_key_from(key, key_len)?;
        m.materials.set_data_key(key)?;
        Ok(())
    })
}
