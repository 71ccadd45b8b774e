//! Decryption through the C ABI entry points, as a C caller drives them: a keyring and a
//! client configuration made with `esdk_*_new`, the one-shot `esdk_decrypt` (first into a
//! fuzzer-sized buffer, then into one of the size it asks for), and a streaming
//! `esdk_decryptor` pumped in fuzzer-chosen chunks through a fuzzer-sized output buffer,
//! then its header, suite, context and signature state.
//!
//! What must hold: no panic crosses the boundary (`ESDK_RESULT_PANIC` is a failure here);
//! both C paths agree with the Rust one-shot `esdk::decrypt` on success or failure and on
//! the plaintext; a too-small buffer is left untouched and the size it reports is exact; a
//! failed call leaves no plaintext in the caller's buffer; a failed decryptor stays failed.
//! Flag bit 0 selects the default commitment policy instead of forbid-encrypt-allow-decrypt.

#![no_main]

use std::ffi::CString;
use std::ptr::{null, null_mut};

use esdk::{decrypt, CommitmentPolicy, DecryptOptions};
use esdk_ffi::*;
use esdk_fuzz::{keyring, wrapping_keys, Plan};
use libfuzzer_sys::fuzz_target;

const SENTINEL: u8 = 0xA5;

/// The multi-keyring of `esdk_fuzz::keyring`, built through the C ABI.
fn c_keyring() -> *mut esdk_keyring {
    let mut keyrings = Vec::new();
    for (ns, name, key) in wrapping_keys() {
        let (ns, name) = (CString::new(ns).unwrap(), CString::new(name).unwrap());
        let mut k = null_mut();
        let r =
            esdk_raw_aes_keyring_new(ns.as_ptr(), name.as_ptr(), key.as_ptr(), key.len(), &mut k);
        assert_eq!(r, ESDK_RESULT_OK);
        keyrings.push(k);
    }
    let children: Vec<*const esdk_keyring> =
        keyrings[1..].iter().map(|&k| k.cast_const()).collect();
    let mut multi = null_mut();
    let r = esdk_multi_keyring_new(keyrings[0], children.as_ptr(), children.len(), &mut multi);
    assert_eq!(r, ESDK_RESULT_OK);
    // The multi-keyring keeps its own references to the children.
    for k in keyrings {
        esdk_keyring_free(k);
    }
    multi
}

/// No byte of a failed call's plaintext may stay in the caller's buffer.
fn no_plaintext_left(buf: &[u8]) {
    assert!(
        buf.iter().all(|&b| b == SENTINEL || b == 0),
        "a failed call left bytes in the caller's buffer"
    );
}

/// The one-shot C path: Ok(plaintext) or Err(result code).
fn one_shot(
    cfg: *const esdk_client_config,
    kr: *const esdk_keyring,
    msg: &[u8],
    first: usize,
) -> Result<Vec<u8>, esdk_result> {
    let mut out = vec![SENTINEL; first];
    let mut len = usize::MAX;
    let r = esdk_decrypt(
        cfg,
        kr,
        msg.as_ptr(),
        msg.len(),
        out.as_mut_ptr(),
        out.len(),
        &mut len,
    );
    match r {
        ESDK_RESULT_OK => {
            out.truncate(len);
            return Ok(out);
        }
        ESDK_RESULT_BUFFER_TOO_SMALL => {
            assert!(
                out.iter().all(|&b| b == SENTINEL),
                "a too-small buffer was written"
            );
            assert!(len > first, "too small, yet {len} bytes needed of {first}");
        }
        code => {
            assert_ne!(code, ESDK_RESULT_PANIC, "a panic crossed into C");
            no_plaintext_left(&out);
            return Err(code);
        }
    }
    let mut bound = 0;
    assert_eq!(
        esdk_decrypt_output_bound(msg.len(), &mut bound),
        ESDK_RESULT_OK
    );
    assert!(len <= bound, "the bound {bound} is below the needed {len}");
    let mut exact = vec![SENTINEL; len];
    let mut got = usize::MAX;
    let r = esdk_decrypt(
        cfg,
        kr,
        msg.as_ptr(),
        msg.len(),
        exact.as_mut_ptr(),
        exact.len(),
        &mut got,
    );
    assert_eq!(r, ESDK_RESULT_OK, "the size asked for did not do");
    assert_eq!(got, len);
    Ok(exact)
}

/// The streaming C path: Ok(plaintext) or Err(result code).
fn streaming(
    cfg: *const esdk_client_config,
    kr: *const esdk_keyring,
    msg: &[u8],
    plan: &mut Plan,
) -> Result<Vec<u8>, esdk_result> {
    let mut dec = null_mut();
    assert_eq!(esdk_decryptor_new(cfg, kr, &mut dec), ESDK_RESULT_OK);
    let result = pump(dec, msg, plan);
    if result.is_err() {
        // A failed decryptor refuses every later call.
        let (mut w, mut rd) = (7, 7);
        let mut out = [SENTINEL; 8];
        let r =
            esdk_decryptor_process(dec, out.as_mut_ptr(), out.len(), &mut w, null(), 0, &mut rd);
        assert_ne!(r, ESDK_RESULT_OK, "a failed decryptor went on");
        no_plaintext_left(&out);
    }
    esdk_decryptor_free(dec);
    result
}

fn pump(dec: *mut esdk_decryptor, msg: &[u8], plan: &mut Plan) -> Result<Vec<u8>, esdk_result> {
    let mut out = vec![SENTINEL; plan.out];
    let mut plaintext = Vec::new();
    let (mut pos, mut chunk, mut finished) = (0usize, 0usize, false);
    loop {
        if chunk == 0 {
            chunk = plan.next_chunk();
        }
        let end = pos.saturating_add(chunk).min(msg.len());
        let input = &msg[pos..end];
        if input.is_empty() && !finished {
            let r = esdk_decryptor_finish(dec);
            assert_ne!(r, ESDK_RESULT_PANIC);
            if r != ESDK_RESULT_OK {
                return Err(r);
            }
            finished = true;
        }
        out.fill(SENTINEL);
        let (mut written, mut read) = (usize::MAX, usize::MAX);
        let r = esdk_decryptor_process(
            dec,
            out.as_mut_ptr(),
            out.len(),
            &mut written,
            input.as_ptr(),
            input.len(),
            &mut read,
        );
        if r != ESDK_RESULT_OK {
            assert_ne!(r, ESDK_RESULT_PANIC, "a panic crossed into C");
            assert_eq!((written, read), (0, 0), "a failed call reported progress");
            no_plaintext_left(&out);
            return Err(r);
        }
        assert!(read <= input.len() && written <= out.len());
        plaintext.extend_from_slice(&out[..written]);
        pos += read;
        chunk = chunk.saturating_sub(read);
        let mut done = false;
        assert_eq!(esdk_decryptor_is_done(dec, &mut done), ESDK_RESULT_OK);
        if done {
            assert_eq!(pos, msg.len(), "done before the end of the input");
            check_header(dec);
            return Ok(plaintext);
        }
        assert!(
            read > 0 || written > 0,
            "decryptor stalled at {pos} of {}",
            msg.len()
        );
    }
}

/// The header accessors of a finished decryptor.
fn check_header(dec: *mut esdk_decryptor) {
    let mut header = null();
    assert_eq!(esdk_decryptor_header(dec, &mut header), ESDK_RESULT_OK);
    let mut suite = 0u16;
    assert_eq!(
        esdk_header_algorithm_suite(header, &mut suite),
        ESDK_RESULT_OK
    );
    let signed = esdk::AlgorithmSuite::from_id(suite)
        .expect("a suite it decrypted")
        .signature()
        .is_some();
    let mut verified = false;
    assert_eq!(
        esdk_decryptor_signature_verified(dec, &mut verified),
        ESDK_RESULT_OK
    );
    assert_eq!(verified, signed, "signature state of a finished message");
    let mut ctx = null();
    assert_eq!(
        esdk_header_encryption_context(header, &mut ctx),
        ESDK_RESULT_OK
    );
    let mut n = 0;
    assert_eq!(esdk_encryption_context_len(ctx, &mut n), ESDK_RESULT_OK);
    for i in 0..n {
        let (mut k, mut kl, mut v, mut vl) = (null(), 0, null(), 0);
        assert_eq!(
            esdk_encryption_context_at(ctx, i, &mut k, &mut kl, &mut v, &mut vl),
            ESDK_RESULT_OK
        );
    }
    let (mut k, mut kl, mut v, mut vl) = (null(), 0, null(), 0);
    assert_eq!(
        esdk_encryption_context_at(ctx, n, &mut k, &mut kl, &mut v, &mut vl),
        ESDK_RESULT_NOT_FOUND
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((mut plan, msg)) = Plan::split(data) else {
        return;
    };
    let default_policy = plan.flags & 1 == 1;
    let mut cfg = null_mut();
    assert_eq!(esdk_client_config_new(&mut cfg), ESDK_RESULT_OK);
    let policy = if default_policy {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        assert_eq!(
            esdk_client_config_set_commitment_policy(
                cfg,
                ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT
            ),
            ESDK_RESULT_OK
        );
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    let kr = c_keyring();

    let first = plan.out;
    let once = one_shot(cfg, kr, msg, first);
    let streamed = streaming(cfg, kr, msg, &mut plan);
    let rust = decrypt(
        keyring(),
        msg,
        DecryptOptions {
            commitment_policy: policy,
            ..DecryptOptions::default()
        },
    );
    match (&once, &streamed, &rust) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a, &c.plaintext, "C one-shot and Rust plaintexts differ");
            assert_eq!(b, &c.plaintext, "C streaming and Rust plaintexts differ");
        }
        (Err(a), Err(b), Err(_)) => assert_eq!(a, b, "C one-shot and streaming errors differ"),
        _ => panic!(
            "one-shot {:?}, streaming {:?}, Rust {:?}",
            once.as_ref().map(Vec::len),
            streamed.as_ref().map(Vec::len),
            rust.as_ref().map(|d| d.plaintext.len())
        ),
    }
    esdk_keyring_free(kr);
    esdk_client_config_free(cfg);
});
