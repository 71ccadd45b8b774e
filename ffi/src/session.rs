//! Streaming sessions that the caller pumps with its own buffers, over the sans-IO
//! `esdk::Encryptor` / `esdk::Decryptor`; and the header of a message being decrypted.

use std::sync::Arc;

use esdk::{Decryptor, DefaultCmm, Encryptor, HeaderBody, Progress};
use zeroize::Zeroize;

use crate::config::{config_ref, esdk_client_config};
use crate::context::esdk_encryption_context;
use crate::keyring::{esdk_keyring, keyring_ref};
use crate::ptr::{self, BoxHandle, RefHandle};
use crate::result::{boundary, esdk_result, Failure, ESDK_RESULT_INVALID_STATE};

/// A streaming encryption of one message.
///
/// Made by `esdk_encryptor_new`, pumped with `esdk_encryptor_process`, ended with
/// `esdk_encryptor_finish`, freed by `esdk_encryptor_free`. Memory stays bounded by the
/// frame length whatever the message size. Thread safety: may move between threads, but
/// must not be used by two threads at once.
pub struct esdk_encryptor {
    _private: [u8; 0],
}

/// A streaming decryption of one message.
///
/// Made by `esdk_decryptor_new`, pumped with `esdk_decryptor_process`, ended with
/// `esdk_decryptor_finish`, freed by `esdk_decryptor_free`. Memory stays bounded by the
/// header and frame lengths. Thread safety: may move between threads, but must not be used
/// by two threads at once.
pub struct esdk_decryptor {
    _private: [u8; 0],
}

/// The authenticated header of a message being decrypted: its algorithm suite and
/// encryption context.
///
/// Borrowed from its decryptor (`esdk_decryptor_header`): valid until `esdk_decryptor_free`
/// and never freed by the caller. Read-only, so it may be read from any thread while the
/// decryptor lives.
pub struct esdk_header {
    _private: [u8; 0],
}

/// What an `esdk_encryptor` handle owns. `None` after a panic inside the encryptor.
pub(crate) struct EncryptorHandle {
    inner: Option<Encryptor>,
}

/// What an `esdk_decryptor` handle owns.
pub(crate) struct DecryptorHandle {
    /// `None` after a panic inside the decryptor. Boxed so that it never moves.
    inner: Option<Box<Decryptor>>,
    /// A copy of the header once it is authenticated, in its own allocation so that
    /// `esdk_header` handles stay valid until the decryptor is freed.
    header: Option<Box<HeaderBody>>,
}

impl BoxHandle for esdk_encryptor {
    type Rust = EncryptorHandle;
}

impl BoxHandle for esdk_decryptor {
    type Rust = DecryptorHandle;
}

impl RefHandle for esdk_header {
    type Rust = HeaderBody;
}

const POISONED: &str = "the session is unusable after an internal error; free it";

/// Zeroes an output buffer when dropped, unless disarmed: whatever a failing (or
/// panicking) call wrote there is wiped.
struct ZeroOnFailure<'a> {
    buf: &'a mut [u8],
    armed: bool,
}

impl Drop for ZeroOnFailure<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.buf.zeroize();
        }
    }
}

/// The checked arguments of a `..._process` call.
struct ProcessArgs<'a> {
    input: &'a [u8],
    output: ZeroOnFailure<'a>,
    written: ptr::Out<usize>,
    read: ptr::Out<usize>,
}

fn process_args<'a>(
    output: *mut u8,
    output_len: usize,
    written: *mut usize,
    input: *const u8,
    input_len: usize,
    read: *mut usize,
) -> Result<ProcessArgs<'a>, Failure> {
    let mut written = ptr::out(written).ok_or_else(|| Failure::null("written"))?;
    let mut read = ptr::out(read).ok_or_else(|| Failure::null("read"))?;
    written.set(0);
    read.set(0);
    let input = ptr::slice(input, input_len).ok_or_else(|| Failure::null("input"))?;
    let output = ptr::slice_mut(output, output_len).ok_or_else(|| Failure::null("output"))?;
    Ok(ProcessArgs {
        input,
        output: ZeroOnFailure {
            buf: output,
            armed: true,
        },
        written,
        read,
    })
}

impl ProcessArgs<'_> {
    /// Reports a successful call: the output is kept.
    fn done(mut self, p: Progress) {
        self.output.armed = false;
        self.written.set(p.produced);
        self.read.set(p.consumed);
    }
}

fn set_bool(place: *mut bool, what: &str, value: bool) -> Result<(), Failure> {
    ptr::out(place)
        .ok_or_else(|| Failure::null(what))?
        .set(value);
    Ok(())
}

/// Starts encrypting one message: gets the materials (this calls the keyring, through a
/// default CMM) and prepares the header, which the first `esdk_encryptor_process` calls
/// write out.
///
/// Ownership: the settings of `config` are copied; the keyring is used during this call
/// only. On success `*encryptor_out` receives a new encryptor that the caller frees with
/// `esdk_encryptor_free`. Thread safety: any thread (the configuration must not be changed
/// during the call).
#[no_mangle]
pub extern "C" fn esdk_encryptor_new(
    config: *const esdk_client_config,
    keyring: *const esdk_keyring,
    encryptor_out: *mut *mut esdk_encryptor,
) -> esdk_result {
    boundary(|| {
        let cfg = config_ref(config)?;
        let kr = keyring_ref(keyring, "keyring")?;
        let mut out = ptr::out(encryptor_out).ok_or_else(|| Failure::null("encryptor_out"))?;
        let cmm = DefaultCmm::new(kr.keyring.clone());
        let encryptor = Encryptor::new(&cmm, cfg.encrypt_options())?;
        out.set(ptr::into_c_box(EncryptorHandle {
            inner: Some(encryptor),
        }));
        Ok(())
    })
}

/// Encrypts: takes plaintext from `input` (`input_len` bytes) and writes message bytes to
/// `output` (room for `output_len` bytes). `*read` receives how many input bytes were used
/// (pass the rest again) and `*written` how many output bytes were written. Input is taken
/// only as fast as output drains, so a small output buffer slows the intake; any sizes
/// work, and a call makes progress when `output_len` > 0.
///
/// Loop: call with plaintext until it is all read; then `esdk_encryptor_finish` and call
/// with empty input (`input` may be NULL when `input_len` is 0) until `esdk_encryptor_is_done`
/// says so. On failure `*written` and `*read` are 0, `output` is zeroed, and the encryptor
/// fails every later call.
///
/// The input and output buffers must not overlap (encrypting or decrypting in place is
/// not supported).
///
/// Ownership: the buffers are the caller's and are not retained. Thread safety: one thread
/// at a time per encryptor.
#[no_mangle]
pub extern "C" fn esdk_encryptor_process(
    encryptor: *mut esdk_encryptor,
    output: *mut u8,
    output_len: usize,
    written: *mut usize,
    input: *const u8,
    input_len: usize,
    read: *mut usize,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_mut(encryptor).ok_or_else(|| Failure::null("encryptor"))?;
        let args = process_args(output, output_len, written, input, input_len, read)?;
        let mut e = handle
            .inner
            .take()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        // On a panic `e` is dropped (and zeroized) while unwinding: the handle stays empty.
        let r = e.process(args.input, args.output.buf);
        handle.inner = Some(e);
        args.done(r?);
        Ok(())
    })
}

/// Declares that all plaintext has been given. The final frame (and the signature of
/// signing suites) are then written by the following `esdk_encryptor_process` calls, which
/// must be given no more input.
///
/// Thread safety: one thread at a time per encryptor.
#[no_mangle]
pub extern "C" fn esdk_encryptor_finish(encryptor: *mut esdk_encryptor) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_mut(encryptor).ok_or_else(|| Failure::null("encryptor"))?;
        let e = handle
            .inner
            .as_mut()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        e.end_input();
        Ok(())
    })
}

/// Writes to `*done_out` whether the whole message has been written out.
///
/// Thread safety: one thread at a time per encryptor.
#[no_mangle]
pub extern "C" fn esdk_encryptor_is_done(
    encryptor: *const esdk_encryptor,
    done_out: *mut bool,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_ref(encryptor).ok_or_else(|| Failure::null("encryptor"))?;
        let e = handle
            .inner
            .as_ref()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        set_bool(done_out, "done_out", e.is_done())
    })
}

/// Frees an encryptor (finished or not); its buffers and keys are zeroized. NULL does
/// nothing.
///
/// Thread safety: once no other call uses it.
#[no_mangle]
pub extern "C" fn esdk_encryptor_free(encryptor: *mut esdk_encryptor) {
    crate::result::boundary_free(|| ptr::free_box(encryptor));
}

/// Starts decrypting one message with a default CMM over `keyring` and the commitment
/// policy, encrypted data key limit and required encryption context pairs of `config`.
/// Nothing is read yet.
///
/// Ownership: the settings of `config` are copied; the keyring is retained until the
/// decryptor is freed. On success `*decryptor_out` receives a new decryptor that the caller
/// frees with `esdk_decryptor_free`. Thread safety: any thread (the configuration must not
/// be changed during the call).
#[no_mangle]
pub extern "C" fn esdk_decryptor_new(
    config: *const esdk_client_config,
    keyring: *const esdk_keyring,
    decryptor_out: *mut *mut esdk_decryptor,
) -> esdk_result {
    boundary(|| {
        let cfg = config_ref(config)?;
        let kr = keyring_ref(keyring, "keyring")?;
        let mut out = ptr::out(decryptor_out).ok_or_else(|| Failure::null("decryptor_out"))?;
        let cmm = Arc::new(DefaultCmm::new(kr.keyring.clone()));
        let decryptor = Decryptor::new(cmm, cfg.decrypt_options());
        out.set(ptr::into_c_box(DecryptorHandle {
            inner: Some(Box::new(decryptor)),
            header: None,
        }));
        Ok(())
    })
}

/// Decrypts: takes message bytes from `input` (`input_len` bytes) and writes plaintext to
/// `output` (room for `output_len` bytes). `*read` receives how many input bytes were used
/// (pass the rest again) and `*written` how many plaintext bytes were written.
///
/// A frame's plaintext is written only after its tag verified. The last frame is held back
/// until the message is complete: for signing suites until the signature verified, and
/// always until `esdk_decryptor_finish` declared that no byte follows. Plaintext written
/// before the signature verified is authentic frame by frame, but the message as a whole is
/// only proven once `esdk_decryptor_is_done` says so: act on it only then.
///
/// Loop: call with message bytes until they are all read; then `esdk_decryptor_finish` and
/// call with empty input (`input` may be NULL when `input_len` is 0) until
/// `esdk_decryptor_is_done` says so. On failure `*written` and `*read` are 0, `output` is
/// zeroed (no plaintext of this call is left in it), and the decryptor fails every later
/// call: the caller must also discard the plaintext of earlier calls.
///
/// The input and output buffers must not overlap (encrypting or decrypting in place is
/// not supported).
///
/// Ownership: the buffers are the caller's and are not retained. Thread safety: one thread
/// at a time per decryptor.
#[no_mangle]
pub extern "C" fn esdk_decryptor_process(
    decryptor: *mut esdk_decryptor,
    output: *mut u8,
    output_len: usize,
    written: *mut usize,
    input: *const u8,
    input_len: usize,
    read: *mut usize,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_mut(decryptor).ok_or_else(|| Failure::null("decryptor"))?;
        let args = process_args(output, output_len, written, input, input_len, read)?;
        let mut d = handle
            .inner
            .take()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        // On a panic `d` is dropped (and zeroized) while unwinding: the handle stays empty.
        let r = d.process(args.input, args.output.buf);
        if handle.header.is_none() {
            handle.header = d.header().map(|h| Box::new(h.clone()));
        }
        handle.inner = Some(d);
        args.done(r?);
        Ok(())
    })
}

/// Declares that the whole message has been given. A message that is not complete then
/// fails with `ESDK_RESULT_TRUNCATED_MESSAGE`; a complete one releases its last plaintext
/// through the following `esdk_decryptor_process` calls.
///
/// Thread safety: one thread at a time per decryptor.
#[no_mangle]
pub extern "C" fn esdk_decryptor_finish(decryptor: *mut esdk_decryptor) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_mut(decryptor).ok_or_else(|| Failure::null("decryptor"))?;
        let d = handle
            .inner
            .as_mut()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        d.end_input();
        Ok(())
    })
}

/// Writes to `*done_out` whether the whole message has been verified and all of its
/// plaintext written out.
///
/// Thread safety: one thread at a time per decryptor.
#[no_mangle]
pub extern "C" fn esdk_decryptor_is_done(
    decryptor: *const esdk_decryptor,
    done_out: *mut bool,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_ref(decryptor).ok_or_else(|| Failure::null("decryptor"))?;
        let d = handle
            .inner
            .as_ref()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        set_bool(done_out, "done_out", d.is_done())
    })
}

/// Writes to `*verified_out` whether the message is signed and its signature has verified
/// (always false for suites without a signature; check `esdk_decryptor_is_done` for
/// those).
///
/// Thread safety: one thread at a time per decryptor.
#[no_mangle]
pub extern "C" fn esdk_decryptor_signature_verified(
    decryptor: *const esdk_decryptor,
    verified_out: *mut bool,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_ref(decryptor).ok_or_else(|| Failure::null("decryptor"))?;
        let d = handle
            .inner
            .as_ref()
            .ok_or_else(|| Failure::new(ESDK_RESULT_INVALID_STATE, POISONED))?;
        set_bool(verified_out, "verified_out", d.signature_verified())
    })
}

/// Writes to `*header_out` the message's header once it has been read and authenticated
/// (by the `esdk_decryptor_process` call that read it: the header comes before any
/// plaintext); before that, `ESDK_RESULT_INVALID_STATE`.
///
/// Ownership: the header is borrowed from the decryptor and stays valid until
/// `esdk_decryptor_free`. Thread safety: one thread at a time per decryptor.
#[no_mangle]
pub extern "C" fn esdk_decryptor_header(
    decryptor: *const esdk_decryptor,
    header_out: *mut *const esdk_header,
) -> esdk_result {
    boundary(|| {
        let handle = ptr::box_ref(decryptor).ok_or_else(|| Failure::null("decryptor"))?;
        let mut out = ptr::out(header_out).ok_or_else(|| Failure::null("header_out"))?;
        let header = handle.header.as_deref().ok_or_else(|| {
            Failure::new(
                ESDK_RESULT_INVALID_STATE,
                "the header has not been read and authenticated yet",
            )
        })?;
        out.set(ptr::to_c_ref::<esdk_header>(header));
        Ok(())
    })
}

/// Frees a decryptor (finished or not); plaintext it still holds and its keys are
/// zeroized, and it releases its keyring. Its header handle becomes invalid. NULL does
/// nothing.
///
/// Thread safety: once no other call uses it.
#[no_mangle]
pub extern "C" fn esdk_decryptor_free(decryptor: *mut esdk_decryptor) {
    crate::result::boundary_free(|| ptr::free_box(decryptor));
}

fn header_ref<'a>(header: *const esdk_header) -> Result<&'a HeaderBody, Failure> {
    ptr::borrowed_ref(header).ok_or_else(|| Failure::null("header"))
}

/// The message's algorithm suite ID (`ESDK_ALGORITHM_SUITE_...`).
///
/// Thread safety: any thread while the decryptor lives.
#[no_mangle]
pub extern "C" fn esdk_header_algorithm_suite(
    header: *const esdk_header,
    suite_id_out: *mut u16,
) -> esdk_result {
    boundary(|| {
        let h = header_ref(header)?;
        ptr::out(suite_id_out)
            .ok_or_else(|| Failure::null("suite_id_out"))?
            .set(h.suite.id());
        Ok(())
    })
}

/// The encryption context stored in the message's header (for signing suites it includes
/// `aws-crypto-public-key`).
///
/// Ownership: `*context_out` borrows from the header: valid until `esdk_decryptor_free`.
/// Thread safety: any thread while the decryptor lives.
#[no_mangle]
pub extern "C" fn esdk_header_encryption_context(
    header: *const esdk_header,
    context_out: *mut *const esdk_encryption_context,
) -> esdk_result {
    boundary(|| {
        let h = header_ref(header)?;
        ptr::out(context_out)
            .ok_or_else(|| Failure::null("context_out"))?
            .set(ptr::to_c_ref::<esdk_encryption_context>(
                &h.encryption_context,
            ));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::ESDK_RESULT_OK;

    #[test]
    fn a_failing_or_panicking_call_wipes_its_output() {
        let mut buf = [0xAAu8; 16];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let guard = ZeroOnFailure {
                buf: &mut buf,
                armed: true,
            };
            guard.buf[0] = 1;
            panic!("boom");
        }));
        assert!(r.is_err());
        assert_eq!(buf, [0u8; 16]);
        {
            let mut guard = ZeroOnFailure {
                buf: &mut buf,
                armed: true,
            };
            guard.buf.fill(7);
            guard.armed = false;
        }
        assert_eq!(buf, [7u8; 16]);
    }

    #[test]
    fn a_session_that_panicked_refuses_every_later_call() {
        let e = ptr::into_c_box::<esdk_encryptor>(EncryptorHandle { inner: None });
        let d = ptr::into_c_box::<esdk_decryptor>(DecryptorHandle {
            inner: None,
            header: None,
        });
        let (mut written, mut read, mut done) = (9, 9, true);
        let mut out = [0xAAu8; 4];
        assert_eq!(
            esdk_encryptor_process(
                e,
                out.as_mut_ptr(),
                4,
                &mut written,
                [1u8].as_ptr(),
                1,
                &mut read
            ),
            ESDK_RESULT_INVALID_STATE
        );
        assert_eq!((written, read, out), (0, 0, [0; 4]));
        assert_eq!(esdk_encryptor_finish(e), ESDK_RESULT_INVALID_STATE);
        assert_eq!(
            esdk_encryptor_is_done(e, &mut done),
            ESDK_RESULT_INVALID_STATE
        );
        assert_eq!(
            esdk_decryptor_process(
                d,
                out.as_mut_ptr(),
                4,
                &mut written,
                [1u8].as_ptr(),
                1,
                &mut read
            ),
            ESDK_RESULT_INVALID_STATE
        );
        assert_eq!(esdk_decryptor_finish(d), ESDK_RESULT_INVALID_STATE);
        assert_eq!(
            esdk_decryptor_is_done(d, &mut done),
            ESDK_RESULT_INVALID_STATE
        );
        assert_eq!(
            esdk_decryptor_signature_verified(d, &mut done),
            ESDK_RESULT_INVALID_STATE
        );
        assert!(done, "out-parameters are untouched on failure");
        esdk_encryptor_free(e);
        esdk_decryptor_free(d);
        assert_eq!(ESDK_RESULT_OK, 0);
    }
}
