//! Read access to an encryption context: lookup, iteration, serialization.
//!
//! Spec: `framework/structures.md` "Encryption Context".

use std::ffi::c_char;

use esdk::EncryptionContext;

use crate::ptr::{self, RefHandle};
use crate::result::{
    boundary, esdk_result, Failure, ESDK_RESULT_BUFFER_TOO_SMALL, ESDK_RESULT_NOT_FOUND,
};

/// An encryption context (non-secret UTF-8 key-value pairs bound to a message), read-only.
///
/// Borrowed: from a decrypted message's header (`esdk_header_encryption_context`, valid until
/// the decryptor is freed) or from materials (valid during the callback). Never freed by the
/// caller. Its pairs are in the canonical order of the format (ascending by the UTF-8 bytes
/// of the key). Strings it hands out are not NUL-terminated: use their lengths. Thread
/// safety: read-only, so as for the object it borrows from.
pub struct esdk_encryption_context {
    _private: [u8; 0],
}

impl RefHandle for esdk_encryption_context {
    type Rust = EncryptionContext;
}

fn ctx_ref<'a>(ctx: *const esdk_encryption_context) -> Result<&'a EncryptionContext, Failure> {
    ptr::borrowed_ref(ctx).ok_or_else(|| Failure::null("context"))
}

/// The number of pairs.
///
/// Thread safety: as for the object the context borrows from.
#[no_mangle]
pub extern "C" fn esdk_encryption_context_len(
    context: *const esdk_encryption_context,
    len_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let ctx = ctx_ref(context)?;
        ptr::out(len_out)
            .ok_or_else(|| Failure::null("len_out"))?
            .set(ctx.len());
        Ok(())
    })
}

/// The value of `key` (a NUL-terminated UTF-8 string); `ESDK_RESULT_NOT_FOUND` if the
/// context has no such key.
///
/// Ownership: `*value_out` (not NUL-terminated, `*value_len_out` bytes) borrows from the
/// context. Thread safety: as for the object the context borrows from.
#[no_mangle]
pub extern "C" fn esdk_encryption_context_get(
    context: *const esdk_encryption_context,
    key: *const c_char,
    value_out: *mut *const c_char,
    value_len_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let ctx = ctx_ref(context)?;
        let key = ptr::c_str(key).map_err(|code| Failure::new(code, "key is NULL or not UTF-8"))?;
        let mut value_out = ptr::out(value_out).ok_or_else(|| Failure::null("value_out"))?;
        let mut len_out = ptr::out(value_len_out).ok_or_else(|| Failure::null("value_len_out"))?;
        let value = ctx.get(key).ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_NOT_FOUND,
                format!("no encryption context key {key:?}"),
            )
        })?;
        let (text, len) = ptr::text_out(value);
        value_out.set(text);
        len_out.set(len);
        Ok(())
    })
}

/// Pair number `index` (from 0) in canonical order; `ESDK_RESULT_NOT_FOUND` past the end.
/// Iterate with `index` from 0 to `esdk_encryption_context_len() - 1`.
///
/// Ownership: the key and value (not NUL-terminated) borrow from the context. Thread
/// safety: as for the object the context borrows from.
#[no_mangle]
pub extern "C" fn esdk_encryption_context_at(
    context: *const esdk_encryption_context,
    index: usize,
    key_out: *mut *const c_char,
    key_len_out: *mut usize,
    value_out: *mut *const c_char,
    value_len_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let ctx = ctx_ref(context)?;
        let mut key_out = ptr::out(key_out).ok_or_else(|| Failure::null("key_out"))?;
        let mut key_len_out = ptr::out(key_len_out).ok_or_else(|| Failure::null("key_len_out"))?;
        let mut value_out = ptr::out(value_out).ok_or_else(|| Failure::null("value_out"))?;
        let mut value_len_out =
            ptr::out(value_len_out).ok_or_else(|| Failure::null("value_len_out"))?;
        let (k, v) = ctx.iter().nth(index).ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_NOT_FOUND,
                format!("index {index}, the context has {} pairs", ctx.len()),
            )
        })?;
        let (key, key_len) = ptr::text_out(k);
        let (value, value_len) = ptr::text_out(v);
        key_out.set(key);
        key_len_out.set(key_len);
        value_out.set(value);
        value_len_out.set(value_len);
        Ok(())
    })
}

/// Writes the context in the format's serialization (spec
/// `data-format/message-header.md` "Key Value Pairs"; empty for an empty context): the AAD
/// that raw keyrings bind their wrapping to. `*out_len` receives the length, also on
/// `ESDK_RESULT_BUFFER_TOO_SMALL` (then nothing is written). `out` may be NULL when
/// `out_size` is 0 (to ask for the length).
///
/// Ownership: `out` is the caller's. Thread safety: as for the object the context borrows
/// from.
#[no_mangle]
pub extern "C" fn esdk_encryption_context_serialize(
    context: *const esdk_encryption_context,
    out: *mut u8,
    out_size: usize,
    out_len: *mut usize,
) -> esdk_result {
    boundary(|| {
        let ctx = ctx_ref(context)?;
        let mut len = ptr::out(out_len).ok_or_else(|| Failure::null("out_len"))?;
        let buf = ptr::slice_mut(out, out_size).ok_or_else(|| Failure::null("out"))?;
        let bytes = ctx.serialize()?;
        len.set(bytes.len());
        let dst = buf.get_mut(..bytes.len()).ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_BUFFER_TOO_SMALL,
                format!("the serialization needs {} bytes", bytes.len()),
            )
        })?;
        dst.copy_from_slice(&bytes);
        Ok(())
    })
}
