//! Decryption through the `Read` front (`DecryptingReader`) under the default commitment
//! policy (require-encrypt-require-decrypt), and, when a flag bit of the input says so, as
//! an unsigned-only reader. The inner reader returns fuzzer-chosen chunk sizes and is
//! sometimes `Interrupted`. A success must respect the policy (a committing suite; an
//! unsigned one when unsigned-only) and agree with the one-shot `esdk::decrypt`; a failure
//! must be the one-shot error, and the reader must stay failed.

#![no_main]

use esdk::{decrypt, DecryptOptions, HeaderBody};
use esdk_fuzz::{keyring, reader, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((plan, msg)) = Plan::split(data) else {
        return;
    };
    let unsigned_only = plan.flags & 1 == 1;
    let options = DecryptOptions {
        unsigned_only,
        ..DecryptOptions::default()
    };
    let (streamed, _handed_out) = reader(msg, &plan, options.clone(), plan.flags & 2 == 2);
    let whole = decrypt(keyring(), msg, options);
    match (streamed, whole) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b.plaintext, "reader and one-shot plaintexts differ");
            let (h, _) = HeaderBody::parse(msg, None).unwrap();
            assert!(
                h.suite.is_committing(),
                "default policy decrypted a v1 suite"
            );
            assert!(!(unsigned_only && h.suite.signature().is_some()));
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "reader and one-shot errors differ"),
        (a, b) => panic!(
            "reader {:?} vs one-shot {:?}",
            a.map(|p| p.len()),
            b.map(|d| d.plaintext.len())
        ),
    }
});
