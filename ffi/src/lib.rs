//! The C ABI of the `esdk` crate: `libesdk.so` / `libesdk.a`, declared in `include/esdk.h`
//! (generated from these doc comments by cbindgen; see `ffi/cbindgen.toml`).
//!
//! Rules that hold for every exported function, stated once here and in the header:
//!
//! * It returns an `esdk_result` (`ESDK_RESULT_OK` is 0), except `..._free` (void),
//!   `esdk_version` and `esdk_result_message` (a static string).
//! * A panic never crosses into C: it becomes `ESDK_RESULT_PANIC` (NULL for the string
//!   functions). See [`result::boundary`].
//! * A NULL pointer where one is required gives `ESDK_RESULT_NULL_PARAMETER`; a buffer may be
//!   NULL only when its length is 0; `..._free(NULL)` does nothing.
//! * Out-parameters are written only on success, except where a function says otherwise
//!   (the needed size on `ESDK_RESULT_BUFFER_TOO_SMALL`).
//! * When a call fails, no plaintext is left in the caller's output buffer.
//! * Every raw-pointer operation is in the `ptr` module.

#![allow(non_camel_case_types)]

mod config;
mod context;
mod keyring;
mod materials;
mod oneshot;
mod ptr;
mod result;
mod session;

pub use config::*;
pub use context::*;
pub use keyring::*;
pub use materials::*;
pub use oneshot::*;
pub use ptr::{
    esdk_custom_keyring_vtable, esdk_destroy_fn, esdk_on_decrypt_fn, esdk_on_encrypt_fn,
};
pub use result::*;
pub use session::*;

use std::ffi::{c_char, CStr};

/// The library version, `"MAJOR.MINOR.PATCH"`.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The library version as a static NUL-terminated string, `"MAJOR.MINOR.PATCH"`.
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_version() -> *const c_char {
    result::boundary_static_str(|| VERSION)
}

/// The text of a result code as a static NUL-terminated English string (for an unknown
/// code, `"unknown result code"`).
///
/// Ownership: the string is static; do not free it. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_result_message(result: esdk_result) -> *const c_char {
    result::boundary_static_str(|| result::message(result))
}

/// Copies the detail of the last call that failed on this thread (for example which
/// encryption context key was missing) into `out` as a NUL-terminated string.
///
/// `*out_len` receives the size needed including the NUL, also when the result is
/// `ESDK_RESULT_BUFFER_TOO_SMALL` (then nothing is written). The detail is kept per thread
/// and replaced by the next call that fails on the same thread; this function itself never
/// replaces it. `out` may be NULL when `out_size` is 0 (to ask for the size).
///
/// Ownership: `out` is the caller's; nothing is retained. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_last_error_message(
    out: *mut c_char,
    out_size: usize,
    out_len: *mut usize,
) -> esdk_result {
    result::boundary_keep_detail(|| result::copy_last_error(out, out_size, out_len))
}
