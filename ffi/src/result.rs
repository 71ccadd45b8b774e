//! Result codes, their texts, the detail of the last failure, and the panic boundary.
//!
//! Every exported function runs its body through [`boundary`], [`boundary_free`] or
//! [`boundary_static_str`]: a panic never crosses into C, it becomes `ESDK_RESULT_PANIC`
//! (or NULL for the functions that return a string).

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use esdk::{Error, FormatError, PolicyError};

use crate::ptr;

/// The result of a call: `ESDK_RESULT_OK` (0) or the reason it failed. The numbers are fixed
/// and never change meaning; new codes may be added. `esdk_result_message()` gives the text.
pub type esdk_result = u32;

/// Success.
pub const ESDK_RESULT_OK: esdk_result = 0;
/// A bug in the library: a Rust panic was caught at the C boundary. A session (encryptor or
/// decryptor) that panicked is unusable afterwards; free it.
pub const ESDK_RESULT_PANIC: esdk_result = 1;
/// A required pointer argument was NULL.
pub const ESDK_RESULT_NULL_PARAMETER: esdk_result = 2;
/// An argument is invalid: a wrapping key of a wrong length, an unknown algorithm suite ID or
/// commitment policy, a string that is not UTF-8, a data key of a wrong length, ...
pub const ESDK_RESULT_INVALID_ARGUMENT: esdk_result = 3;
/// The output buffer is too small; the size needed is reported where the function says.
/// Nothing was written.
pub const ESDK_RESULT_BUFFER_TOO_SMALL: esdk_result = 4;
/// The object cannot do this now: a session already failed, the header is not read yet,
/// the materials already hold a data key, input given after `..._finish`, ...
pub const ESDK_RESULT_INVALID_STATE: esdk_result = 5;
/// The thing looked up does not exist (an encryption context key, an index past the end,
/// a data key not set yet).
pub const ESDK_RESULT_NOT_FOUND: esdk_result = 6;
/// A state the library believes impossible: a bug if ever seen.
pub const ESDK_RESULT_INTERNAL_ERROR: esdk_result = 7;
/// The operating system's random number generator failed.
pub const ESDK_RESULT_RNG_FAILURE: esdk_result = 8;
/// The input is not a well-formed ESDK message (wrong version, unknown suite, bad field,
/// bytes after the end of the message, ...).
pub const ESDK_RESULT_MALFORMED_MESSAGE: esdk_result = 100;
/// The input ended before the message was complete.
pub const ESDK_RESULT_TRUNCATED_MESSAGE: esdk_result = 101;
/// A tag, the header authentication, the key commitment or the signature did not verify.
/// Deliberately says no more.
pub const ESDK_RESULT_AUTHENTICATION_FAILED: esdk_result = 102;
/// The commitment policy refused the algorithm suite (on encrypt or decrypt).
pub const ESDK_RESULT_COMMITMENT_POLICY: esdk_result = 200;
/// Another policy refused the operation: an encryption context key with the reserved
/// prefix `aws-crypto-`, a required encryption context pair that is missing or differs, a
/// signature key that does not match the suite.
pub const ESDK_RESULT_POLICY_REFUSED: esdk_result = 201;
/// A limit was exceeded: too many encrypted data keys, a header or frame too long, too
/// much plaintext, a field too long for its length prefix.
pub const ESDK_RESULT_LIMIT_EXCEEDED: esdk_result = 202;
/// No keyring recognized any encrypted data key of the message (wrong key name or
/// namespace).
pub const ESDK_RESULT_NO_MATCHING_DATA_KEY: esdk_result = 300;
/// A keyring recognized an encrypted data key but could not decrypt it (wrong key
/// material, or a different encryption context).
pub const ESDK_RESULT_DATA_KEY_UNWRAP_FAILED: esdk_result = 301;
/// A keyring failed otherwise; for a custom keyring, one of its callbacks returned an error.
pub const ESDK_RESULT_KEYRING_FAILURE: esdk_result = 302;

/// Every code with its text, for `esdk_result_message`.
const MESSAGES: &[(esdk_result, &CStr)] = &[
    (ESDK_RESULT_OK, c"success"),
    (
        ESDK_RESULT_PANIC,
        c"internal error: a panic was caught (a bug)",
    ),
    (
        ESDK_RESULT_NULL_PARAMETER,
        c"a required pointer argument is NULL",
    ),
    (ESDK_RESULT_INVALID_ARGUMENT, c"invalid argument"),
    (
        ESDK_RESULT_BUFFER_TOO_SMALL,
        c"the output buffer is too small",
    ),
    (
        ESDK_RESULT_INVALID_STATE,
        c"the object cannot do this in its current state",
    ),
    (ESDK_RESULT_NOT_FOUND, c"not found"),
    (ESDK_RESULT_INTERNAL_ERROR, c"internal error (a bug)"),
    (
        ESDK_RESULT_RNG_FAILURE,
        c"the system random number generator failed",
    ),
    (ESDK_RESULT_MALFORMED_MESSAGE, c"malformed message"),
    (ESDK_RESULT_TRUNCATED_MESSAGE, c"the message is truncated"),
    (ESDK_RESULT_AUTHENTICATION_FAILED, c"authentication failed"),
    (
        ESDK_RESULT_COMMITMENT_POLICY,
        c"refused by the commitment policy",
    ),
    (ESDK_RESULT_POLICY_REFUSED, c"refused by policy"),
    (ESDK_RESULT_LIMIT_EXCEEDED, c"limit exceeded"),
    (
        ESDK_RESULT_NO_MATCHING_DATA_KEY,
        c"no keyring matches any encrypted data key of the message",
    ),
    (
        ESDK_RESULT_DATA_KEY_UNWRAP_FAILED,
        c"an encrypted data key matched but could not be decrypted",
    ),
    (ESDK_RESULT_KEYRING_FAILURE, c"a keyring failed"),
];

/// The text of a result code (static, never NULL for a known or unknown code).
pub(crate) fn message(code: esdk_result) -> &'static CStr {
    MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, m)| *m)
        .unwrap_or(c"unknown result code")
}

/// A failed call: its code and, for `esdk_last_error_message`, the detail.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: esdk_result,
    pub(crate) detail: String,
}

impl Failure {
    /// A failure with a code and a detail.
    pub(crate) fn new(code: esdk_result, detail: impl Into<String>) -> Failure {
        Failure {
            code,
            detail: detail.into(),
        }
    }

    /// A NULL pointer argument.
    pub(crate) fn null(what: &str) -> Failure {
        Failure::new(ESDK_RESULT_NULL_PARAMETER, format!("{what} is NULL"))
    }

    /// An invalid argument.
    pub(crate) fn invalid(detail: impl Into<String>) -> Failure {
        Failure::new(ESDK_RESULT_INVALID_ARGUMENT, detail)
    }
}

/// The result code of a library error.
pub(crate) fn code_of(e: &Error) -> esdk_result {
    match e {
        Error::Format(FormatError::Truncated) => ESDK_RESULT_TRUNCATED_MESSAGE,
        Error::Format(_) => ESDK_RESULT_MALFORMED_MESSAGE,
        Error::AuthenticationFailed => ESDK_RESULT_AUTHENTICATION_FAILED,
        Error::Policy(PolicyError::CommitmentPolicy { .. }) => ESDK_RESULT_COMMITMENT_POLICY,
        Error::Policy(_) => ESDK_RESULT_POLICY_REFUSED,
        Error::Limit(_) => ESDK_RESULT_LIMIT_EXCEEDED,
        Error::NoMatchingDataKey => ESDK_RESULT_NO_MATCHING_DATA_KEY,
        Error::DataKeyUnwrapFailed => ESDK_RESULT_DATA_KEY_UNWRAP_FAILED,
        Error::InvalidArgument(_) => ESDK_RESULT_INVALID_ARGUMENT,
        Error::Keyring(_) => ESDK_RESULT_KEYRING_FAILURE,
        Error::InvalidState(_) => ESDK_RESULT_INVALID_STATE,
        Error::Rng => ESDK_RESULT_RNG_FAILURE,
        _ => ESDK_RESULT_INTERNAL_ERROR,
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(code_of(&e), e.to_string())
    }
}

impl From<esdk_result> for Failure {
    fn from(code: esdk_result) -> Failure {
        Failure::new(code, message(code).to_string_lossy())
    }
}

thread_local! {
    /// The detail of the last failed call on this thread.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn record(detail: String) {
    LAST_ERROR.with(|d| *d.borrow_mut() = detail);
}

/// Runs an exported function's body: a panic becomes `ESDK_RESULT_PANIC`, a failure its
/// code; either records the detail for `esdk_last_error_message`.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> esdk_result {
    run(body, true)
}

/// Like [`boundary`], but leaves the recorded detail alone (for `esdk_last_error_message`,
/// which must not overwrite what it reports).
pub(crate) fn boundary_keep_detail(body: impl FnOnce() -> Result<(), Failure>) -> esdk_result {
    run(body, false)
}

fn run(body: impl FnOnce() -> Result<(), Failure>, record_detail: bool) -> esdk_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ESDK_RESULT_OK,
        Ok(Err(f)) => {
            if record_detail {
                record(f.detail);
            }
            f.code
        }
        Err(_) => {
            if record_detail {
                record("a panic was caught at the C boundary (a bug)".into());
            }
            ESDK_RESULT_PANIC
        }
    }
}

/// Runs a `_free` function's body; a panic is swallowed (there is no way to report it).
pub(crate) fn boundary_free(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        record("a panic was caught at the C boundary (a bug)".into());
    }
}

/// Runs the body of a function that returns a static string; a panic gives NULL.
pub(crate) fn boundary_static_str(body: impl FnOnce() -> &'static CStr) -> *const c_char {
    catch_unwind(AssertUnwindSafe(body)).map_or(std::ptr::null(), CStr::as_ptr)
}

/// Copies the detail of the last failure on this thread, NUL-terminated, into `out`.
pub(crate) fn copy_last_error(
    out: *mut c_char,
    out_len: usize,
    needed: *mut usize,
) -> Result<(), Failure> {
    let mut needed = ptr::out(needed).ok_or_else(|| Failure::null("out_len"))?;
    let buf = ptr::text_buf(out, out_len).ok_or_else(|| Failure::null("out"))?;
    let detail = LAST_ERROR.with(|d| d.borrow().clone());
    let n = detail.len() + 1;
    needed.set(n);
    if buf.len() < n {
        return Err(Failure::new(
            ESDK_RESULT_BUFFER_TOO_SMALL,
            format!("the detail needs {n} bytes"),
        ));
    }
    buf[..detail.len()].copy_from_slice(detail.as_bytes());
    buf[detail.len()] = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_esdk_result_panic() {
        assert_eq!(boundary(|| panic!("boom")), ESDK_RESULT_PANIC);
        assert_eq!(boundary_keep_detail(|| panic!("boom")), ESDK_RESULT_PANIC);
        assert!(boundary_static_str(|| panic!("boom")).is_null());
        boundary_free(|| panic!("boom"));
        let mut detail = [0 as c_char; 128];
        let mut n = 0;
        assert!(copy_last_error(detail.as_mut_ptr(), detail.len(), &mut n).is_ok());
        let bytes = ptr::text_in(detail.as_ptr(), n).expect("not NULL");
        let text = CStr::from_bytes_until_nul(bytes).expect("NUL-terminated");
        assert!(text.to_string_lossy().contains("panic"));
    }

    #[test]
    fn codes_are_fixed_and_their_texts_distinct() {
        let codes: Vec<esdk_result> = MESSAGES.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            codes,
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 102, 200, 201, 202, 300, 301, 302]
        );
        for (i, (_, a)) in MESSAGES.iter().enumerate() {
            for (_, b) in &MESSAGES[..i] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(message(12345), c"unknown result code");
    }

    #[test]
    fn library_errors_map_to_their_codes() {
        use esdk::{FormatError, LimitError};
        let cases = [
            (
                Error::Format(FormatError::Truncated),
                ESDK_RESULT_TRUNCATED_MESSAGE,
            ),
            (
                Error::Format(FormatError::TrailingBytes),
                ESDK_RESULT_MALFORMED_MESSAGE,
            ),
            (
                Error::AuthenticationFailed,
                ESDK_RESULT_AUTHENTICATION_FAILED,
            ),
            (
                Error::Policy(PolicyError::CommitmentPolicy {
                    suite: 0x0178,
                    operation: "decrypt",
                }),
                ESDK_RESULT_COMMITMENT_POLICY,
            ),
            (
                Error::Policy(PolicyError::SignedMessageRefused),
                ESDK_RESULT_POLICY_REFUSED,
            ),
            (
                Error::Limit(LimitError::TooManyFrames),
                ESDK_RESULT_LIMIT_EXCEEDED,
            ),
            (Error::NoMatchingDataKey, ESDK_RESULT_NO_MATCHING_DATA_KEY),
            (
                Error::DataKeyUnwrapFailed,
                ESDK_RESULT_DATA_KEY_UNWRAP_FAILED,
            ),
            (
                Error::InvalidArgument("x".into()),
                ESDK_RESULT_INVALID_ARGUMENT,
            ),
            (Error::Keyring("x".into()), ESDK_RESULT_KEYRING_FAILURE),
            (Error::InvalidState("x"), ESDK_RESULT_INVALID_STATE),
            (Error::Rng, ESDK_RESULT_RNG_FAILURE),
            (Error::Unreachable("x"), ESDK_RESULT_INTERNAL_ERROR),
        ];
        for (e, code) in cases {
            assert_eq!(code_of(&e), code, "{e}");
        }
    }
}
