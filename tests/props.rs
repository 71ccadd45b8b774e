//! Property tests (proptest):
//! * round trip over suites x frame lengths x plaintext sizes x contexts x chunk splittings
//!   of both the encryptor's input and the decryptor's input and output;
//! * `parse(serialize(header)) == header`, every proper prefix of a header is incomplete,
//!   and non-canonical context encodings parse to the same header;
//! * any mutation of a message either fails or yields the exact plaintext, and the `Read`
//!   front hands out only authenticated plaintext.

mod forge;

use std::io::Read;
use std::sync::{Arc, OnceLock};

use esdk::format::header::{ContentType, HeaderBody};
use esdk::format::ParseError;
use esdk::*;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn suite() -> impl Strategy<Value = &'static AlgorithmSuite> {
    (0..AlgorithmSuite::ALL.len()).prop_map(|i| AlgorithmSuite::ALL[i])
}

/// Contexts of up to 3 pairs; keys and values mix ASCII, 2-, 3- and 4-byte UTF-8, so that
/// byte order and UTF-16 order differ.
fn context() -> impl Strategy<Value = EncryptionContext> {
    btree_map(
        "[a-z\u{e9}\u{e000}\u{1f600}]{0,4}",
        "[ -~\u{e9}\u{1f600}]{0,6}",
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// Feeds `input` to `step(chunk, output)` in the given chunk sizes (cycled) with an output
/// buffer of `out` bytes, then ends the input; returns everything produced.
fn pump<F, D>(
    input: &[u8],
    chunks: &[usize],
    out: usize,
    mut step: F,
    mut end: D,
) -> Result<Vec<u8>>
where
    F: FnMut(&[u8], &mut [u8]) -> Result<(Progress, bool)>,
    D: FnMut(),
{
    let mut buf = vec![0u8; out];
    let mut produced = Vec::new();
    let mut pos = 0;
    let mut ended = false;
    let mut i = 0;
    loop {
        let n = chunks[i % chunks.len()];
        i += 1;
        let piece = &input[pos..(pos + n).min(input.len())];
        if piece.is_empty() && !ended {
            end();
            ended = true;
        }
        let (p, done) = step(piece, &mut buf)?;
        pos += p.consumed;
        produced.extend_from_slice(&buf[..p.produced]);
        if done {
            assert_eq!(pos, input.len(), "done with input left");
            return Ok(produced);
        }
        assert!(p.consumed + p.produced > 0, "stalled");
    }
}

fn encrypt_chunked(
    suite: &'static AlgorithmSuite,
    frame: u32,
    pt: &[u8],
    ctx: &EncryptionContext,
    chunks: &[usize],
    out: usize,
) -> Vec<u8> {
    let cmm = DefaultCmm::new(forge::keyring());
    let options = EncryptOptions {
        encryption_context: ctx.clone(),
        algorithm_suite: Some(suite),
        frame_length: frame,
        commitment_policy: forge::policy_for(suite),
        ..EncryptOptions::default()
    };
    let enc = std::cell::RefCell::new(Encryptor::new(&cmm, options).unwrap());
    pump(
        pt,
        chunks,
        out,
        |i, o| {
            let mut e = enc.borrow_mut();
            let p = e.process(i, o)?;
            Ok((p, e.is_done()))
        },
        || enc.borrow_mut().end_input(),
    )
    .unwrap()
}

fn decrypt_chunked(
    suite: &AlgorithmSuite,
    msg: &[u8],
    chunks: &[usize],
    out: usize,
) -> Result<(Vec<u8>, HeaderBody)> {
    let options = DecryptOptions {
        commitment_policy: forge::policy_for(suite),
        ..DecryptOptions::default()
    };
    let dec = std::cell::RefCell::new(Decryptor::new(
        Arc::new(DefaultCmm::new(forge::keyring())),
        options,
    ));
    let pt = pump(
        msg,
        chunks,
        out,
        |i, o| {
            let mut d = dec.borrow_mut();
            let p = d.process(i, o)?;
            Ok((p, d.is_done()))
        },
        || dec.borrow_mut().end_input(),
    )?;
    let header = dec.borrow().header().cloned().unwrap();
    Ok((pt, header))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(
        suite in suite(),
        frame in prop_oneof![1u32..=9, Just(64), Just(4096), Just(u32::MAX)],
        pt in vec(any::<u8>(), 0..300),
        ctx in context(),
        enc_chunks in vec(1usize..80, 1..5),
        enc_out in 1usize..100,
        dec_chunks in vec(1usize..80, 1..5),
        dec_out in 1usize..100,
    ) {
        let msg = encrypt_chunked(suite, frame, &pt, &ctx, &enc_chunks, enc_out);
        let (got, header) = decrypt_chunked(suite, &msg, &dec_chunks, dec_out).unwrap();
        prop_assert_eq!(got, pt);
        prop_assert_eq!(header.suite.id(), suite.id());
        prop_assert_eq!(header.frame_length, frame);
        let mut stored = header.encryption_context.clone();
        stored.remove("aws-crypto-public-key");
        prop_assert_eq!(stored, ctx);
    }
}

// ---------------------------------------------------------------------------------------
// Headers.

fn edk() -> impl Strategy<Value = EncryptedDataKey> {
    (
        "[a-z\u{e9}]{0,8}",
        vec(any::<u8>(), 0..24),
        vec(any::<u8>(), 0..48),
    )
        .prop_map(
            |(provider_id, provider_info, ciphertext)| EncryptedDataKey {
                provider_id,
                provider_info,
                ciphertext,
            },
        )
}

fn header() -> impl Strategy<Value = HeaderBody> {
    (
        suite(),
        vec(any::<u8>(), 32),
        context(),
        vec(edk(), 1..4),
        prop_oneof![Just(0u32), 1u32..=u32::MAX],
        vec(any::<u8>(), 32),
    )
        .prop_map(|(suite, id, ctx, edks, frame, data)| {
            let v = suite.message_format_version();
            HeaderBody {
                suite,
                message_id: id[..v.message_id_len()].to_vec(),
                encryption_context: ctx,
                encrypted_data_keys: edks,
                content_type: if frame == 0 {
                    ContentType::NonFramed
                } else {
                    ContentType::Framed
                },
                frame_length: frame,
                suite_data: data[..suite.suite_data_len()].to_vec(),
            }
        })
}

/// Offset of the encryption-context length field.
fn context_at(h: &HeaderBody) -> usize {
    if h.version().byte() == 1 {
        1 + 1 + 2 + 16
    } else {
        1 + 2 + 32
    }
}

/// Replaces the context section of serialized header bytes.
fn with_section(bytes: &[u8], h: &HeaderBody, section: &[u8]) -> Vec<u8> {
    let at = context_at(h);
    let old = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(section.len() as u16).to_be_bytes());
    out.extend_from_slice(section);
    out.extend_from_slice(&bytes[at + 2 + old..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn header_parse_serialize(h in header(), tail in vec(any::<u8>(), 0..8)) {
        let bytes = h.serialize().unwrap();
        let mut input = bytes.clone();
        input.extend_from_slice(&tail);
        let (parsed, len) = HeaderBody::parse(&input, None).unwrap();
        prop_assert_eq!(&parsed, &h);
        prop_assert_eq!(len, bytes.len());
        for k in 0..bytes.len() {
            match HeaderBody::parse(&bytes[..k], None) {
                Err(ParseError::Incomplete { needed }) => prop_assert!(needed > k && needed <= len),
                other => prop_assert!(false, "prefix {}: {:?}", k, other),
            }
        }
        // Non-canonical context encodings parse to the same header and re-serialize to the
        // canonical bytes.
        let pairs: Vec<(&str, &str)> = h.encryption_context.iter().collect();
        let mut section = Vec::new();
        if pairs.is_empty() {
            section.extend_from_slice(&[0, 0]);
        } else {
            section.extend_from_slice(&(pairs.len() as u16).to_be_bytes());
            for (k, v) in pairs.iter().rev() {
                for s in [k, v] {
                    section.extend_from_slice(&(s.len() as u16).to_be_bytes());
                    section.extend_from_slice(s.as_bytes());
                }
            }
        }
        let reordered = with_section(&bytes, &h, &section);
        let (again, len) = HeaderBody::parse(&reordered, None).unwrap();
        prop_assert_eq!(&again, &h);
        prop_assert_eq!(len, reordered.len());
        prop_assert_eq!(again.serialize().unwrap(), bytes.clone());
        if pairs.len() != 1 {
            prop_assert_ne!(reordered, bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.

const PLAINTEXT: &[u8] = b"the quick brown fox jumps";

/// A message per suite, framed by the library (frames of 8) and non-framed by hand, with
/// the most plaintext the `Read` front may release from it before a failure.
fn messages() -> &'static [(&'static AlgorithmSuite, Vec<u8>, usize)] {
    static M: OnceLock<Vec<(&'static AlgorithmSuite, Vec<u8>, usize)>> = OnceLock::new();
    M.get_or_init(|| {
        let mut out = Vec::new();
        for suite in AlgorithmSuite::ALL {
            let ctx: EncryptionContext = [("purpose", "props")].into_iter().collect();
            let framed = encrypt(
                forge::keyring(),
                PLAINTEXT,
                EncryptOptions {
                    encryption_context: ctx.clone(),
                    algorithm_suite: Some(suite),
                    frame_length: 8,
                    commitment_policy: forge::policy_for(suite),
                    ..EncryptOptions::default()
                },
            )
            .unwrap();
            out.push((suite, framed, 24));
            let nf = forge::Forge::new(suite, &ctx, ContentType::NonFramed, 0).message(PLAINTEXT);
            out.push((suite, nf, 0));
        }
        out
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Xor(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Copies `len` bytes from one place over another.
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<prop::sample::Index>();
    prop_oneof![
        4 => (at.clone(), 1u8..=255).prop_map(|(i, x)| Mutation::Xor(i.index(1 << 20), x)),
        2 => (at.clone(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i.index(1 << 20), b)),
        1 => (at.clone(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Mutation::Insert(i.index(1 << 20), b)),
        1 => (at.clone(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i.index(1 << 20), n)),
        1 => at.clone().prop_map(|i| Mutation::Truncate(i.index(1 << 20))),
        1 => (at.clone(), at, 1usize..40).prop_map(|(a, b, n)| Mutation::Splice(a.index(1 << 20), b.index(1 << 20), n)),
    ]
}

fn apply(msg: &mut Vec<u8>, m: &Mutation) {
    let len = msg.len();
    match *m {
        Mutation::Xor(i, x) => msg[i % len] ^= x,
        Mutation::Set(i, b) => msg[i % len] = b,
        Mutation::Insert(i, ref b) => {
            let at = i % (len + 1);
            msg.splice(at..at, b.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let at = i % len;
            msg.drain(at..(at + n).min(len));
        }
        Mutation::Truncate(i) => msg.truncate(i % len),
        Mutation::Splice(a, b, n) => {
            let (from, to) = (a % len, b % len);
            let n = n.min(len - from).min(len - to);
            let bytes = msg[from..from + n].to_vec();
            msg[to..to + n].copy_from_slice(&bytes);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutations_fail_or_give_the_exact_plaintext(
        which in 0usize..22,
        mutations in vec(mutation(), 1..4),
        read_size in 1usize..40,
        out_size in 1usize..40,
    ) {
        let (suite, original, releasable) = &messages()[which];
        let mut msg = original.clone();
        for m in &mutations {
            if msg.is_empty() {
                break;
            }
            apply(&mut msg, m);
        }
        prop_assume!(&msg != original);
        let options = DecryptOptions {
            commitment_policy: forge::policy_for(suite),
            ..DecryptOptions::default()
        };
        let whole = decrypt(forge::keyring(), &msg, options.clone());
        if let Ok(d) = &whole {
            prop_assert_eq!(&d.plaintext[..], PLAINTEXT);
        }
        let dec = Decryptor::new(Arc::new(DefaultCmm::new(forge::keyring())), options);
        let mut r = DecryptingReader::new(forge::Trickle(&msg, read_size), dec);
        let mut got = Vec::new();
        let mut buf = vec![0u8; out_size];
        let streamed = loop {
            match r.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Err(Error::from_io(&e).cloned().unwrap()),
            }
        };
        prop_assert!(PLAINTEXT.starts_with(&got), "handed out bytes that are not the plaintext");
        match (&whole, &streamed) {
            (Ok(_), Ok(())) => prop_assert_eq!(&got[..], PLAINTEXT),
            (Err(a), Err(b)) => {
                prop_assert_eq!(a, b);
                prop_assert!(!matches!(a, Error::Unreachable(_)), "{:?}", a);
                prop_assert!(got.len() <= *releasable, "released {} bytes of a failed message", got.len());
            }
            _ => prop_assert!(false, "one-shot {:?} vs Read front {:?}", whole.as_ref().err(), streamed),
        }
    }
}
