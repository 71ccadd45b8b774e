//! `EncryptionContext::parse` on arbitrary bytes: where it parses, the canonical
//! serialization parses back to the same context, and equals the input exactly when the
//! input is canonical (pairs sorted by key bytes, and not the legacy `00 00` empty form).

#![no_main]

use esdk::EncryptionContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ctx) = EncryptionContext::parse(data) {
        let bytes = ctx
            .serialize()
            .expect("a parsed context fits its length field");
        assert_eq!(EncryptionContext::parse(&bytes).unwrap(), ctx);
        assert!(bytes.len() <= data.len());
        let legacy_empty = data == [0, 0];
        // Keys were parsed in wire order; the input is canonical iff they were sorted.
        if !legacy_empty && is_sorted(data) {
            assert_eq!(bytes, data);
        } else {
            assert_ne!(bytes, data);
        }
    }
});

/// Whether the keys of a well-formed context section appear in ascending byte order.
fn is_sorted(data: &[u8]) -> bool {
    if data.is_empty() {
        return true;
    }
    let mut pos = 2;
    let mut prev: Option<&[u8]> = None;
    let field = |pos: &mut usize| {
        let n = usize::from(u16::from_be_bytes([data[*pos], data[*pos + 1]]));
        let s = &data[*pos + 2..*pos + 2 + n];
        *pos += 2 + n;
        s
    };
    while pos < data.len() {
        let k = field(&mut pos);
        let _v = field(&mut pos);
        if prev.is_some_and(|p| p >= k) {
            return false;
        }
        prev = Some(k);
    }
    true
}
