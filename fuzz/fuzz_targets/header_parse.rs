//! `HeaderBody::parse` on arbitrary bytes, with `max_edks` chosen by the fuzzer.
//!
//! Where it parses:
//! * re-serializing gives back the same bytes, but only when the encryption-context section
//!   is canonical: the parser also accepts pairs in any order and the legacy `00 00` form of
//!   an empty context, which serialize differently (sorted, and empty). Otherwise the
//!   re-serialization must parse to the same header;
//! * every proper prefix of the header is `Incomplete`, asking for more than it has and no
//!   more than the whole header;
//! * the data-key limit is exact: one fewer than the count fails, the count passes.
//!
//! Where it does not: an `Incomplete` asks for more bytes than it was given (else a
//! streaming caller would wait forever).

#![no_main]

use esdk::format::ParseError;
use esdk::{Error, HeaderBody, LimitError};
use libfuzzer_sys::fuzz_target;

/// The encryption-context section (without its length) of a header that parsed.
fn context_section(data: &[u8]) -> &[u8] {
    let at = if data[0] == 1 {
        1 + 1 + 2 + 16
    } else {
        1 + 2 + 32
    };
    let len = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
    &data[at + 2..at + 2 + len]
}

fn check_prefix(data: &[u8], k: usize, total: usize, max: Option<usize>) {
    match HeaderBody::parse(&data[..k], max) {
        Err(ParseError::Incomplete { needed }) => {
            assert!(
                needed > k && needed <= total,
                "prefix {k}: needs {needed}, header {total}"
            )
        }
        other => panic!("prefix {k} of a {total}-byte header: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let max = (sel != 0).then(|| usize::from(sel) - 1);
    match HeaderBody::parse(data, max) {
        Ok((header, len)) => {
            assert!(len <= data.len());
            let count = header.encrypted_data_keys.len();
            assert!(count >= 1 && max.map_or(true, |m| count <= m));
            let bytes = header.serialize().expect("a parsed header serializes");
            let canonical = context_section(data) == header.encryption_context.serialize().unwrap();
            if canonical {
                assert_eq!(
                    &bytes[..],
                    &data[..len],
                    "canonical header re-serialized differently"
                );
            } else {
                assert!(bytes.len() <= len);
            }
            let (again, again_len) = HeaderBody::parse(&bytes, None).expect("re-parse");
            assert_eq!(again, header);
            assert_eq!(again_len, bytes.len());
            // Proper prefixes are incomplete: all of them for small headers, else a sample.
            if len <= 600 {
                for k in 0..len {
                    check_prefix(data, k, len, max);
                }
            } else {
                for k in [0, 1, len / 3, len / 2, len - 1] {
                    check_prefix(data, k, len, max);
                }
            }
            // The data-key limit is checked exactly at the count.
            if let Err(e) = HeaderBody::parse(data, Some(count)) {
                panic!("limit {count} refused {count} keys: {e:?}");
            }
            match HeaderBody::parse(data, Some(count - 1)) {
                Err(ParseError::Invalid(Error::Limit(LimitError::TooManyEncryptedDataKeys {
                    count: c,
                    max: m,
                }))) => assert!(c == count && m == count - 1),
                other => panic!("limit {} with {count} keys: {other:?}", count - 1),
            }
        }
        Err(ParseError::Incomplete { needed }) => {
            assert!(
                needed > data.len(),
                "Incomplete asks for {needed} of {}",
                data.len()
            )
        }
        Err(ParseError::Invalid(_)) => {}
    }
});
