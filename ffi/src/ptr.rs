//! Every raw-pointer operation of the crate, and nothing else.
//!
//! This is the only module with `unsafe` code: `Box::into_raw` / `Box::from_raw`, the casts
//! between the opaque C handle types and the Rust values behind them, slices and strings
//! made from C pointers, the copy of a caller's vtable, and the calls of a caller's
//! function pointers. The other modules use the safe functions below, which check for NULL.
//!
//! # Ownership of each handle type, declared once
//!
//! * [`BoxHandle`]: the handle is a `Box` that C owns between `..._new` and `..._free`
//!   (keyrings, client configurations, encryptors, decryptors). [`into_c_box`] hands one
//!   out, [`free_box`] takes it back and drops it, [`box_ref`] / [`box_mut`] borrow it.
//! * [`RefHandle`]: the handle borrows a value that Rust owns (a header, an encryption
//!   context, the materials given to a callback); C never frees it. [`to_c_ref`] /
//!   [`to_c_mut`] hand one out, [`borrowed_ref`] / [`borrowed_mut`] read it back.
//!
//! # What the C caller guarantees
//!
//! The functions here are safe Rust functions, but their soundness rests on the contract
//! stated in `include/esdk.h`: a non-NULL handle was made by this library and is still
//! alive, a non-NULL buffer holds (or has room for) the stated number of bytes, a string is
//! NUL-terminated, and a mutable handle is not used by two threads at once. A Rust program
//! cannot check these promises; NULL is the one thing that can be checked, and it always is.

use std::ffi::{c_char, c_void, CStr};
use std::mem::{size_of, MaybeUninit};

use esdk::materials::EncryptionMaterials;

use crate::keyring::DecryptCall;
use crate::materials::{esdk_decryption_materials, esdk_encryption_materials};
use crate::result::{esdk_result, ESDK_RESULT_INVALID_ARGUMENT, ESDK_RESULT_NULL_PARAMETER};

/// A C handle type owned by C through a `Box` of [`BoxHandle::Rust`].
pub(crate) trait BoxHandle {
    /// The Rust value behind the handle.
    type Rust;
}

/// A C handle type that borrows a [`RefHandle::Rust`] owned by Rust.
pub(crate) trait RefHandle {
    /// The Rust value behind the handle.
    type Rust;
}

/// Moves `value` to the heap and hands its ownership to C.
pub(crate) fn into_c_box<C: BoxHandle>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast::<C>()
}

/// Takes back a handle made by [`into_c_box`] and drops its value. NULL is a no-op.
pub(crate) fn free_box<C: BoxHandle>(handle: *mut C) {
    if handle.is_null() {
        return;
    }
    // SAFETY: a non-NULL `handle` came from `into_c_box::<C>` (a `Box<C::Rust>` cast to
    // `*mut C`) and C gives it back exactly once (the header's `_free` contract).
    drop(unsafe { Box::from_raw(handle.cast::<C::Rust>()) });
}

/// Borrows the value behind a live box handle; `None` for NULL.
pub(crate) fn box_ref<'a, C: BoxHandle>(handle: *const C) -> Option<&'a C::Rust> {
    // SAFETY: a non-NULL `handle` points to a live `C::Rust` made by `into_c_box`; C does
    // not free or mutate it during this call.
    unsafe { handle.cast::<C::Rust>().as_ref() }
}

/// Borrows mutably the value behind a live box handle; `None` for NULL.
pub(crate) fn box_mut<'a, C: BoxHandle>(handle: *mut C) -> Option<&'a mut C::Rust> {
    // SAFETY: as in `box_ref`, and C uses the handle from one thread at a time (the
    // header's thread-safety contract for mutable handles).
    unsafe { handle.cast::<C::Rust>().as_mut() }
}

/// A handle to a value that Rust owns and C only borrows.
pub(crate) fn to_c_ref<C: RefHandle>(value: &C::Rust) -> *const C {
    (value as *const C::Rust).cast::<C>()
}

/// A mutable handle to a value that Rust owns and C only borrows.
pub(crate) fn to_c_mut<C: RefHandle>(value: &mut C::Rust) -> *mut C {
    (value as *mut C::Rust).cast::<C>()
}

/// Reads back a borrowed handle; `None` for NULL.
pub(crate) fn borrowed_ref<'a, C: RefHandle>(handle: *const C) -> Option<&'a C::Rust> {
    // SAFETY: a non-NULL `handle` came from `to_c_ref` / `to_c_mut` and its value is still
    // alive (the header says for how long each borrowed handle stays valid).
    unsafe { handle.cast::<C::Rust>().as_ref() }
}

/// Reads back a mutable borrowed handle; `None` for NULL.
pub(crate) fn borrowed_mut<'a, C: RefHandle>(handle: *mut C) -> Option<&'a mut C::Rust> {
    // SAFETY: as in `borrowed_ref`; mutable borrowed handles exist only during a callback,
    // on the thread that runs it.
    unsafe { handle.cast::<C::Rust>().as_mut() }
}

/// Reads a `#[repr(C)]` struct that the caller passes by pointer; `None` for NULL.
pub(crate) fn struct_ref<'a, T>(value: *const T) -> Option<&'a T> {
    // SAFETY: a non-NULL `value` points to an initialized, aligned `T` that does not change
    // during the call (the caller's contract; `T` is a plain struct of pointers and sizes).
    unsafe { value.as_ref() }
}

/// An out-parameter: a place in C memory that may be uninitialized.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Writes the value without reading or dropping what was there.
    pub(crate) fn set(&mut self, value: T) {
        // SAFETY: the pointer is non-NULL (checked in `out`) and points to writable,
        // aligned room for a `T` (the caller's contract).
        unsafe { self.0.write(value) }
    }
}

/// An out-parameter; `None` for NULL.
pub(crate) fn out<T>(place: *mut T) -> Option<Out<T>> {
    (!place.is_null()).then_some(Out(place))
}

/// The bytes of an input buffer. NULL is accepted only with length 0.
pub(crate) fn slice<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    if data.is_null() {
        return (len == 0).then_some(&[]);
    }
    // SAFETY: `data` is non-NULL and the caller promises `len` readable bytes that do not
    // change during the call.
    Some(unsafe { std::slice::from_raw_parts(data, len) })
}

/// An output buffer. NULL is accepted only with length 0.
pub(crate) fn slice_mut<'a>(data: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if data.is_null() {
        return (len == 0).then_some(&mut []);
    }
    // SAFETY: `data` is non-NULL and the caller promises `len` writable bytes that nothing
    // else accesses during the call. The library only writes to it before reading.
    Some(unsafe { std::slice::from_raw_parts_mut(data, len) })
}

/// A string handed out to C: its bytes as `const char *` (not NUL-terminated) and length.
/// The pointer borrows from `text`.
pub(crate) fn text_out(text: &str) -> (*const c_char, usize) {
    (text.as_ptr().cast::<c_char>(), text.len())
}

/// The bytes of a `const char *` buffer of `len` bytes (not NUL-terminated). NULL is
/// accepted only with length 0.
pub(crate) fn text_in<'a>(data: *const c_char, len: usize) -> Option<&'a [u8]> {
    slice(data.cast::<u8>(), len)
}

/// A `char *` output buffer of `len` bytes. NULL is accepted only with length 0.
pub(crate) fn text_buf<'a>(data: *mut c_char, len: usize) -> Option<&'a mut [u8]> {
    slice_mut(data.cast::<u8>(), len)
}

/// A NUL-terminated UTF-8 string: NULL gives `ESDK_RESULT_NULL_PARAMETER`, bytes that are
/// not UTF-8 give `ESDK_RESULT_INVALID_ARGUMENT`.
pub(crate) fn c_str<'a>(s: *const c_char) -> Result<&'a str, esdk_result> {
    if s.is_null() {
        return Err(ESDK_RESULT_NULL_PARAMETER);
    }
    // SAFETY: `s` is non-NULL and the caller promises a NUL-terminated string that does not
    // change during the call.
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str().map_err(|_| ESDK_RESULT_INVALID_ARGUMENT)
}

/// Reads element `index` of a C array of `len` pointers. The array itself must not be NULL
/// unless `len` is 0; the element may be NULL.
pub(crate) fn array_element<T>(
    array: *const *const T,
    len: usize,
    index: usize,
) -> Option<*const T> {
    if array.is_null() || index >= len {
        return None;
    }
    // SAFETY: `array` is non-NULL, holds `len` pointers (the caller's contract) and
    // `index < len`.
    Some(unsafe { array.add(index).read() })
}

/// A custom keyring's `on_encrypt` callback (see `esdk_custom_keyring_vtable`).
pub type esdk_on_encrypt_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        materials: *mut esdk_encryption_materials,
    ) -> esdk_result,
>;

/// A custom keyring's `on_decrypt` callback (see `esdk_custom_keyring_vtable`).
pub type esdk_on_decrypt_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        materials: *mut esdk_decryption_materials,
    ) -> esdk_result,
>;

/// A custom keyring's `destroy` callback (see `esdk_custom_keyring_vtable`).
pub type esdk_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

type OnEncryptFn = unsafe extern "C" fn(*mut c_void, *mut esdk_encryption_materials) -> esdk_result;
type OnDecryptFn = unsafe extern "C" fn(*mut c_void, *mut esdk_decryption_materials) -> esdk_result;
type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// The functions of a keyring written in C (or any language with a C FFI).
///
/// Fill it with `size = sizeof(esdk_custom_keyring_vtable)` and pass it to
/// `esdk_custom_keyring_new`, which copies it (the struct itself need not outlive that
/// call). `size` lets later versions of this library add fields at the end: the library reads
/// only the first `size` bytes and treats the fields past them as NULL / 0.
///
/// Threads: the callbacks may run on any thread that uses the keyring, and at the same time
/// on several threads if the caller shares the keyring between threads; they must be written
/// for that (or the keyring used from one thread at a time).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct esdk_custom_keyring_vtable {
    /// `sizeof(esdk_custom_keyring_vtable)` as the caller compiled it. At least the size up
    /// to and including `destroy`.
    pub size: usize,
    /// Required. Called on encrypt with materials that may or may not hold a data key yet.
    /// A generator (materials without a data key) sets one, with
    /// `esdk_encryption_materials_set_data_key` or `..._generate_data_key`; every keyring
    /// then wraps the data key and adds the result with
    /// `esdk_encryption_materials_add_encrypted_data_key`. Returns `ESDK_RESULT_OK`, or any
    /// other code to fail the encryption (it then fails with
    /// `ESDK_RESULT_KEYRING_FAILURE`). `materials` is valid only during the call.
    pub on_encrypt: esdk_on_encrypt_fn,
    /// Required. Called on decrypt with materials that hold no data key. Look at the
    /// message's encrypted data keys (`esdk_decryption_materials_encrypted_data_key_count` /
    /// `..._at`); if one is yours, decrypt it and set it with
    /// `esdk_decryption_materials_set_data_key`. Return `ESDK_RESULT_OK` whether or not a key
    /// was yours (not finding one is not an error; `ESDK_RESULT_NO_MATCHING_DATA_KEY` means
    /// the same), `ESDK_RESULT_DATA_KEY_UNWRAP_FAILED` if a key was yours but did not
    /// decrypt, or any other code for another failure (reported as
    /// `ESDK_RESULT_KEYRING_FAILURE`). `materials` is valid only during the call.
    pub on_decrypt: esdk_on_decrypt_fn,
    /// Optional. Called once with `user_data` when the keyring is destroyed: after the last
    /// of `esdk_keyring_free` and the frees of every multi-keyring, encryptor and decryptor
    /// that retained it. Never called if `esdk_custom_keyring_new` fails.
    pub destroy: esdk_destroy_fn,
    /// Optional (0 = unknown). An upper bound of the header bytes that one `on_encrypt` call
    /// adds: for each encrypted data key it adds, 6 + the lengths of its provider ID,
    /// provider info and ciphertext. Used by `esdk_encrypt_output_bound`, which fails with
    /// `ESDK_RESULT_INVALID_ARGUMENT` for a keyring that gives no bound. When set, an
    /// `on_encrypt` that adds more fails the encryption with `ESDK_RESULT_KEYRING_FAILURE`.
    pub encrypted_data_keys_bound: usize,
}

/// The bytes of a vtable up to and including `destroy`: the least a caller may pass.
pub(crate) const VTABLE_MIN_SIZE: usize = 4 * size_of::<usize>();

/// A caller's vtable and user data, owned by one custom keyring. Dropping it calls
/// `destroy(user_data)`.
pub(crate) struct Callbacks {
    on_encrypt: OnEncryptFn,
    on_decrypt: OnDecryptFn,
    destroy: Option<DestroyFn>,
    user_data: *mut c_void,
    /// See [`esdk_custom_keyring_vtable::encrypted_data_keys_bound`].
    pub(crate) encrypted_data_keys_bound: usize,
}

// SAFETY: the header requires the callbacks and `user_data` to be usable from any thread,
// at the same time from several threads if the keyring is shared between them.
unsafe impl Send for Callbacks {}
// SAFETY: as for `Send`.
unsafe impl Sync for Callbacks {}

impl Callbacks {
    /// Copies the first `vtable->size` bytes of the caller's vtable.
    pub(crate) fn new(
        vtable: *const esdk_custom_keyring_vtable,
        user_data: *mut c_void,
    ) -> Result<Callbacks, esdk_result> {
        if vtable.is_null() {
            return Err(ESDK_RESULT_NULL_PARAMETER);
        }
        // SAFETY: `vtable` is non-NULL and points to at least its first field, `size`
        // (the caller's contract); `read_unaligned` needs no alignment.
        let size = unsafe { vtable.cast::<usize>().read_unaligned() };
        if size < VTABLE_MIN_SIZE {
            return Err(ESDK_RESULT_INVALID_ARGUMENT);
        }
        let n = size.min(size_of::<esdk_custom_keyring_vtable>());
        let mut copy = MaybeUninit::<esdk_custom_keyring_vtable>::zeroed();
        // SAFETY: the caller's struct holds `size >= n` readable bytes; `copy` has room for
        // `size_of::<esdk_custom_keyring_vtable>() >= n` bytes; they do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(vtable.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), n)
        };
        // SAFETY: all-zero bytes are a valid vtable (size 0, NULL function pointers as `None`,
        // bound 0), and the first `n` bytes now hold the caller's values of the same types.
        let v = unsafe { copy.assume_init() };
        let (Some(on_encrypt), Some(on_decrypt)) = (v.on_encrypt, v.on_decrypt) else {
            return Err(ESDK_RESULT_NULL_PARAMETER);
        };
        Ok(Callbacks {
            on_encrypt,
            on_decrypt,
            destroy: v.destroy,
            user_data,
            encrypted_data_keys_bound: v.encrypted_data_keys_bound,
        })
    }

    /// Runs the caller's `on_encrypt` on `materials`.
    pub(crate) fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> esdk_result {
        let handle = to_c_mut::<esdk_encryption_materials>(materials);
        // SAFETY: the function pointer is the caller's `on_encrypt`, called with its own
        // user data and a handle that stays valid for the duration of the call.
        unsafe { (self.on_encrypt)(self.user_data, handle) }
    }

    /// Runs the caller's `on_decrypt` on `call`.
    pub(crate) fn on_decrypt(&self, call: &mut DecryptCall) -> esdk_result {
        let handle = to_c_mut::<esdk_decryption_materials>(call);
        // SAFETY: as in `on_encrypt`.
        unsafe { (self.on_decrypt)(self.user_data, handle) }
    }
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: the caller's `destroy`, called exactly once, with its user data, after
            // the last use of the keyring.
            unsafe { destroy(self.user_data) }
        }
    }
}
