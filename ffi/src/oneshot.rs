//! One-shot encryption and decryption into the caller's buffers, and their size calls.
//!
//! Spec: `client-apis/encrypt.md`, `client-apis/decrypt.md`.

use esdk::format::body::FrameHeader;
use esdk::format::context::PUBLIC_KEY_FIELD;
use esdk::format::header::{ContentType, HeaderAuth, HeaderBody, TAG_LEN};
use esdk::EncryptedDataKey;
use zeroize::Zeroizing;

use crate::config::{config_ref, esdk_client_config, ClientConfig};
use crate::keyring::{edk_header_bytes, esdk_keyring, keyring_ref, KeyringHandle};
use crate::ptr;
use crate::result::{
    boundary, esdk_result, Failure, ESDK_RESULT_BUFFER_TOO_SMALL, ESDK_RESULT_LIMIT_EXCEEDED,
};

/// The size of the message that encrypting `plaintext_len` bytes with `config` and
/// `keyring` gives, or an upper bound of it: exact for the raw AES keyring and
/// multi-keyrings of them with 32-byte data keys (all current default suites); a bound
/// otherwise. Computed without calling any keyring.
pub(crate) fn encrypt_bound(
    config: &ClientConfig,
    keyring: &KeyringHandle,
    plaintext_len: u64,
) -> Result<u64, Failure> {
    let options = config.encrypt_options();
    let suite = options
        .algorithm_suite
        .unwrap_or_else(|| options.commitment_policy.default_suite());
    let edk_bytes = keyring.edk_bound.ok_or_else(|| {
        Failure::invalid(
            "the keyring cannot bound the size of its encrypted data keys (a custom keyring \
             without encrypted_data_keys_bound, or a multi-keyring holding one)",
        )
    })?;
    // The header: serialize one with the real context (plus the signature key that the
    // default CMM adds for signing suites, whose base64 length is fixed) and one empty
    // encrypted data key, then count the keyring's bound instead of that key.
    let mut context = options.encryption_context;
    if let Some(signature) = suite.signature() {
        let base64_len = signature.public_key_len().div_ceil(3) * 4;
        context.insert(PUBLIC_KEY_FIELD, "A".repeat(base64_len));
    }
    let version = suite.message_format_version();
    let empty_edk = EncryptedDataKey {
        provider_id: String::new(),
        provider_info: Vec::new(),
        ciphertext: Vec::new(),
    };
    let header = HeaderBody {
        suite,
        message_id: vec![0; version.message_id_len()],
        encryption_context: context,
        content_type: ContentType::Framed,
        frame_length: options.frame_length,
        suite_data: vec![0; suite.suite_data_len()],
        encrypted_data_keys: vec![empty_edk],
    };
    let edk_placeholder = edk_header_bytes(&header.encrypted_data_keys[0]);
    let header_len = header.serialize()?.len() - edk_placeholder + HeaderAuth::len(version);

    // The body (spec data-format/message-body.md): full regular frames while more plaintext
    // follows, then a final frame with the rest (a full frame if the length is a multiple
    // of the frame length; an empty one for empty plaintext).
    let frame = u64::from(options.frame_length);
    let regular_frames = plaintext_len.saturating_sub(1) / frame;
    let final_content = plaintext_len - regular_frames * frame;
    let tag = TAG_LEN as u64;
    let regular = (FrameHeader::REGULAR_LEN as u64 + frame + tag).checked_mul(regular_frames);
    let footer = suite
        .signature()
        .map_or(0, |s| 2 + s.signature_len() as u64);
    regular
        .and_then(|r| r.checked_add(FrameHeader::FINAL_LEN as u64 + final_content + tag))
        .and_then(|b| b.checked_add(footer))
        .and_then(|b| b.checked_add(header_len as u64))
        .and_then(|b| b.checked_add(edk_bytes as u64))
        .ok_or_else(|| Failure::new(ESDK_RESULT_LIMIT_EXCEEDED, "the message size overflows"))
}

fn set_len(place: *mut usize, what: &str) -> Result<ptr::Out<usize>, Failure> {
    ptr::out(place).ok_or_else(|| Failure::null(what))
}

/// Writes to `*bound_out` the size of the buffer that `esdk_encrypt` needs for
/// `plaintext_len` bytes of plaintext with this configuration and keyring, without
/// encrypting and without calling any keyring. It is exact for raw AES keyrings and
/// multi-keyrings of them (for suites with 32-byte data keys; a few bytes more than needed
/// otherwise) and a safe upper bound for custom keyrings that declare
/// `encrypted_data_keys_bound`; for a custom keyring that does not, it fails with
/// `ESDK_RESULT_INVALID_ARGUMENT` (then use the exact size that `esdk_encrypt` reports on
/// `ESDK_RESULT_BUFFER_TOO_SMALL`).
///
/// Ownership: nothing is retained. Thread safety: any thread (the configuration must not
/// be changed during the call).
#[no_mangle]
pub extern "C" fn esdk_encrypt_output_bound(
    config: *const esdk_client_config,
    keyring: *const esdk_keyring,
    plaintext_len: usize,
    bound_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        let cfg = config_ref(config)?;
        let kr = keyring_ref(keyring, "keyring")?;
        let mut out = set_len(bound_out, "bound_out")?;
        let bound = encrypt_bound(cfg, kr, plaintext_len as u64)?;
        let bound = usize::try_from(bound)
            .map_err(|_| Failure::new(ESDK_RESULT_LIMIT_EXCEEDED, "the message size overflows"))?;
        out.set(bound);
        Ok(())
    })
}

/// Encrypts `plaintext` into one ESDK message in `out` (`out_size` bytes of room), with a
/// default CMM over `keyring` and the settings of `config`.
///
/// On success `*out_len` is the message length. If the message does not fit, the result
/// is `ESDK_RESULT_BUFFER_TOO_SMALL`, nothing is written and `*out_len` is the exact size
/// needed (the keyring was called; calling again with that room works, as keyrings produce
/// keys of fixed sizes). `out` may be NULL when `out_size` is 0. See also
/// `esdk_encrypt_output_bound`. `plaintext` may be NULL when `plaintext_len` is 0.
///
/// The input and output buffers must not overlap (encrypting or decrypting in place is
/// not supported).
///
/// Ownership: inputs are read during the call only; nothing is retained. Thread safety:
/// any thread (the configuration must not be changed during the call).
#[no_mangle]
pub extern "C" fn esdk_encrypt(
    config: *const esdk_client_config,
    keyring: *const esdk_keyring,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_size: usize,
    out_len: *mut usize,
) -> esdk_result {
    boundary(|| {
        let cfg = config_ref(config)?;
        let kr = keyring_ref(keyring, "keyring")?;
        let input =
            ptr::slice(plaintext, plaintext_len).ok_or_else(|| Failure::null("plaintext"))?;
        let buf = ptr::slice_mut(out, out_size).ok_or_else(|| Failure::null("out"))?;
        let mut len = set_len(out_len, "out_len")?;
        let mut options = cfg.encrypt_options();
        options.max_plaintext_length = Some(input.len() as u64);
        let message = esdk::encrypt(kr.keyring.clone(), input, options)?;
        len.set(message.len());
        copy_out(buf, &message, "the message")
    })
}

/// Writes to `*bound_out` an upper bound of the plaintext length of a message of
/// `ciphertext_len` bytes: `ciphertext_len` itself.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_decrypt_output_bound(
    ciphertext_len: usize,
    bound_out: *mut usize,
) -> esdk_result {
    boundary(|| {
        set_len(bound_out, "bound_out")?.set(ciphertext_len);
        Ok(())
    })
}

/// Decrypts one whole ESDK message `ciphertext` into `out` (`out_size` bytes of room), with
/// a default CMM over `keyring` and the commitment policy, encrypted data key limit and
/// required encryption context pairs of `config`. Plaintext is written only after the whole
/// message verified (every tag, and the signature of signed suites).
///
/// On success `*out_len` is the plaintext length. If the plaintext does not fit, the
/// result is `ESDK_RESULT_BUFFER_TOO_SMALL`, nothing is written and `*out_len` is the exact
/// size needed; `esdk_decrypt_output_bound` gives a size that always fits. On any failure
/// no plaintext is left in `out`. `out` may be NULL when `out_size` is 0.
///
/// The input and output buffers must not overlap (encrypting or decrypting in place is
/// not supported).
///
/// Ownership: inputs are read during the call only; nothing is retained; the library's own
/// copy of the plaintext is zeroized. Thread safety: any thread (the configuration must not
/// be changed during the call).
#[no_mangle]
pub extern "C" fn esdk_decrypt(
    config: *const esdk_client_config,
    keyring: *const esdk_keyring,
    ciphertext: *const u8,
    ciphertext_len: usize,
    out: *mut u8,
    out_size: usize,
    out_len: *mut usize,
) -> esdk_result {
    boundary(|| {
        let cfg = config_ref(config)?;
        let kr = keyring_ref(keyring, "keyring")?;
        let input =
            ptr::slice(ciphertext, ciphertext_len).ok_or_else(|| Failure::null("ciphertext"))?;
        let buf = ptr::slice_mut(out, out_size).ok_or_else(|| Failure::null("out"))?;
        let mut len = set_len(out_len, "out_len")?;
        let decrypted = esdk::decrypt(kr.keyring.clone(), input, cfg.decrypt_options())?;
        let plaintext = Zeroizing::new(decrypted.plaintext);
        len.set(plaintext.len());
        copy_out(buf, &plaintext, "the plaintext")
    })
}

/// Copies a one-shot result into the caller's buffer, or fails with
/// `ESDK_RESULT_BUFFER_TOO_SMALL` (the caller's length output already holds the size
/// needed) and writes nothing.
fn copy_out(buf: &mut [u8], result: &[u8], what: &str) -> Result<(), Failure> {
    let dst = buf.get_mut(..result.len()).ok_or_else(|| {
        Failure::new(
            ESDK_RESULT_BUFFER_TOO_SMALL,
            format!("{what} needs {} bytes", result.len()),
        )
    })?;
    dst.copy_from_slice(result);
    Ok(())
}
