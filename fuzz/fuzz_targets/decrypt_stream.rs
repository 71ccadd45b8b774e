//! Full decryption through the sans-IO `Decryptor`, input in fuzzer-chosen chunks and output
//! drained through a fuzzer-chosen buffer, with the fixed raw-AES keyring and a policy that
//! allows every suite (v1 and v2). The decryptor must never stall, a finished one must have
//! the header the message starts with (and a verified signature if signed), and the result
//! must be the one-shot `esdk::decrypt` result: the same plaintext, or the same error.
//! With flag bit 2 the chunked decryptor uses two threads, which open regular frames in
//! batches: it must then succeed exactly when the one-shot decryption does, with the same
//! plaintext (its error may differ, as a batch is checked after the frames behind a bad one
//! are read).

#![no_main]

use esdk::{decrypt, CommitmentPolicy, DecryptOptions};
use esdk_fuzz::{keyring, sans_io, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mut plan, msg)) = Plan::split(data) else {
        return;
    };
    let options = DecryptOptions {
        commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
        max_encrypted_data_keys: (plan.flags & 1 == 1).then_some(3),
        ..DecryptOptions::default()
    };
    let threads = if plan.flags & 2 == 2 { 2 } else { 1 };
    let chunked = sans_io(
        msg,
        &mut plan,
        DecryptOptions {
            threads,
            ..options.clone()
        },
    );
    let whole = decrypt(keyring(), msg, options);
    match (chunked, whole) {
        (Ok(a), Ok(b)) => assert_eq!(a, b.plaintext, "chunked and one-shot plaintexts differ"),
        (Err(a), Err(b)) => {
            if threads == 1 {
                assert_eq!(a, b, "chunked and one-shot errors differ")
            }
        }
        (a, b) => panic!(
            "chunked {:?} vs one-shot {:?}",
            a.map(|p| p.len()),
            b.map(|d| d.plaintext.len())
        ),
    }
});
