//! Limits of the format and of the caller's options, each refused with its own error:
//! data-key count, header / context / signature lengths, frame length bounds, frame count
//! and sequence numbers, non-framed body size; length fields that claim more bytes than
//! exist never cause an allocation of that size (checked in a child process under a
//! 256 MiB address-space limit); base64 text instead of a binary message.
//!
//! Messages are hand-built with `forge` so that any field can hold any value.

mod forge;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use esdk::format::body::MAX_NON_FRAMED_LENGTH;
use esdk::format::header::ContentType;
use esdk::format::ParseError;
use esdk::stream::DEFAULT_MAX_HEADER_LENGTH;
use esdk::*;
use forge::Forge;

/// The default suite: v2, committing, unsigned.
const V2: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
/// v2, committing, signed (ECDSA P-384).
const V2_SIGNED: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

/// Offset of the v2 header's encryption-context length field.
const V2_CONTEXT_AT: usize = 1 + 2 + 32;

/// Decrypts through the sans-IO decryptor, `chunk` input bytes at a time.
fn sans_io(msg: &[u8], options: DecryptOptions, chunk: usize) -> Result<Vec<u8>> {
    let mut dec = Decryptor::new(Arc::new(DefaultCmm::new(forge::keyring())), options);
    let mut out = vec![0u8; 100];
    let mut pt = Vec::new();
    let mut pos = 0;
    loop {
        let input = &msg[pos..(pos + chunk).min(msg.len())];
        if input.is_empty() {
            dec.end_input();
        }
        let p = dec.process(input, &mut out)?;
        pos += p.consumed;
        pt.extend_from_slice(&out[..p.produced]);
        if dec.is_done() {
            return Ok(pt);
        }
        assert!(p.consumed + p.produced > 0, "decryptor stalled");
    }
}

fn read_front(msg: &[u8], options: DecryptOptions) -> Result<Vec<u8>> {
    let dec = Decryptor::new(Arc::new(DefaultCmm::new(forge::keyring())), options);
    let mut pt = Vec::new();
    DecryptingReader::new(forge::Trickle(msg, 7), dec)
        .read_to_end(&mut pt)
        .map_err(|e| Error::from_io(&e).cloned().expect("esdk error"))?;
    Ok(pt)
}

/// Decrypts one-shot, through the sans-IO decryptor in 7-byte pieces and through the
/// `Read` front; all three must agree. Returns the one-shot result.
#[track_caller]
fn run(msg: &[u8], options: DecryptOptions) -> Result<Vec<u8>> {
    let whole = decrypt(forge::keyring(), msg, options.clone()).map(|d| d.plaintext);
    assert_eq!(sans_io(msg, options.clone(), 7), whole, "sans-IO differs");
    assert_eq!(read_front(msg, options), whole, "Read front differs");
    whole
}

/// Like [`run`]; the message must fail with exactly `want`.
#[track_caller]
fn fails(msg: &[u8], options: DecryptOptions, want: Error) {
    match run(msg, options) {
        Ok(_) => panic!("decrypted; expected {want:?}"),
        Err(e) => assert_eq!(e, want),
    }
}

fn default() -> DecryptOptions {
    DecryptOptions::default()
}

fn with_max_frame(max: u64) -> DecryptOptions {
    DecryptOptions {
        max_frame_length: max,
        ..DecryptOptions::default()
    }
}

fn limit(e: LimitError) -> Error {
    Error::Limit(e)
}

fn format(e: FormatError) -> Error {
    Error::Format(e)
}

fn raw(ns: &str, byte: u8) -> Arc<dyn Keyring> {
    Arc::new(RawAesKeyring::new(ns, "k", WrappingKey::new(vec![byte; 32]).unwrap()).unwrap())
}

// ---------------------------------------------------------------------------------------
// Encrypted data keys.

#[test]
fn data_key_count_limit_is_exact_on_both_sides() {
    let three: Arc<dyn Keyring> = Arc::new(
        MultiKeyring::new(Some(forge::keyring()), vec![raw("b", 2), raw("c", 3)]).unwrap(),
    );
    let enc = |max| {
        encrypt(
            three.clone(),
            b"abc",
            EncryptOptions {
                max_encrypted_data_keys: max,
                ..EncryptOptions::default()
            },
        )
    };
    assert_eq!(
        enc(Some(2)).unwrap_err(),
        limit(LimitError::TooManyEncryptedDataKeys { count: 3, max: 2 })
    );
    let msg = enc(Some(3)).unwrap();
    let max = |n| DecryptOptions {
        max_encrypted_data_keys: Some(n),
        ..DecryptOptions::default()
    };
    assert_eq!(run(&msg, max(3)).unwrap(), b"abc");
    fails(
        &msg,
        max(2),
        limit(LimitError::TooManyEncryptedDataKeys { count: 3, max: 2 }),
    );
}

/// The data-key count is checked when it is read, before any key: a header that claims
/// 65535 keys and ends right there fails on the limit, not as truncated.
#[test]
fn data_key_limit_applies_before_the_keys_are_read() {
    let f = Forge::framed(V2, 64);
    let mut msg = f.header.serialize().unwrap();
    let count_at = V2_CONTEXT_AT + 2; // empty context
    msg.truncate(count_at);
    msg.extend_from_slice(&[0xFF, 0xFF]);
    let opts = DecryptOptions {
        max_encrypted_data_keys: Some(10),
        ..DecryptOptions::default()
    };
    fails(
        &msg,
        opts,
        limit(LimitError::TooManyEncryptedDataKeys {
            count: 65535,
            max: 10,
        }),
    );
    // No limit: the same bytes are just truncated.
    fails(&msg, default(), format(FormatError::Truncated));
    // Zero keys is malformed.
    let mut zero = f.header.serialize().unwrap();
    zero[count_at..count_at + 2].copy_from_slice(&[0, 0]);
    fails(&zero, default(), format(FormatError::NoEncryptedDataKeys));
}

// ---------------------------------------------------------------------------------------
// Header, encryption context and signature lengths.

#[test]
fn header_length_limit_is_exact() {
    let f = Forge::framed(V2, 64);
    let msg = f.message(b"hello");
    let body_len = f.header.serialize().unwrap().len();
    let max = |n| DecryptOptions {
        max_header_length: n,
        ..DecryptOptions::default()
    };
    assert_eq!(run(&msg, max(body_len)).unwrap(), b"hello");
    fails(
        &msg,
        max(body_len - 1),
        limit(LimitError::HeaderTooLong { max: body_len - 1 }),
    );
}

/// A key field that claims 65535 bytes is refused as soon as the claim is read when it
/// would pass the header limit, even though the bytes never come.
#[test]
fn header_limit_applies_to_claimed_lengths() {
    let f = Forge::framed(V2, 64);
    let mut msg = f.header.serialize().unwrap();
    let count_at = V2_CONTEXT_AT + 2;
    msg.truncate(count_at + 2);
    msg.extend_from_slice(&[0, 1, b'x', 0, 0, 0xFF, 0xFF, 1, 2, 3]);
    let opts = DecryptOptions {
        max_header_length: 1000,
        ..DecryptOptions::default()
    };
    fails(&msg, opts, limit(LimitError::HeaderTooLong { max: 1000 }));
    fails(&msg, default(), format(FormatError::Truncated));
}

/// The default header limit (4 MiB) stops a header of 65535 data keys of 67 bytes each.
#[test]
fn default_header_limit_stops_a_huge_header() {
    let f = Forge::framed(V2, 64);
    let mut msg = f.header.serialize().unwrap();
    msg.truncate(V2_CONTEXT_AT + 2);
    msg.extend_from_slice(&[0xFF, 0xFF]);
    let mut edk = vec![0, 1, b'x', 0, 0, 0, 60];
    edk.extend_from_slice(&[0xEE; 60]);
    for _ in 0..65535 {
        msg.extend_from_slice(&edk);
    }
    assert!(msg.len() > DEFAULT_MAX_HEADER_LENGTH);
    let want = limit(LimitError::HeaderTooLong {
        max: DEFAULT_MAX_HEADER_LENGTH,
    });
    // One-shot and the Read front only: see the report on re-parsing in small chunks.
    let e = decrypt(forge::keyring(), &msg, default()).unwrap_err();
    assert_eq!(e, want);
    let dec = Decryptor::new(Arc::new(DefaultCmm::new(forge::keyring())), default());
    let mut r = DecryptingReader::new(&msg[..], dec);
    let e = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(Error::from_io(&e), Some(&want));
}

#[test]
fn encryption_context_fits_its_16_bit_length() {
    let enc = |ctx: EncryptionContext| {
        encrypt(
            forge::keyring(),
            b"x",
            EncryptOptions {
                encryption_context: ctx,
                algorithm_suite: Some(V2),
                ..EncryptOptions::default()
            },
        )
    };
    // count (2) + key "k" (2 + 1) + value (2 + n) = 65535 at most.
    let one =
        |n: usize| -> EncryptionContext { [("k".to_owned(), "v".repeat(n))].into_iter().collect() };
    let msg = enc(one(65535 - 7)).unwrap();
    let d = decrypt(forge::keyring(), &msg, default()).unwrap();
    assert_eq!(d.header.encryption_context, one(65535 - 7));
    assert_eq!(
        enc(one(65535 - 6)).unwrap_err(),
        limit(LimitError::EncryptionContextTooLarge)
    );
    // One value over 65535 bytes does not fit its own length prefix.
    assert!(matches!(
        enc(one(70_000)).unwrap_err(),
        Error::Limit(LimitError::FieldTooLong(_))
    ));
}

#[test]
fn encryption_context_section_claims() {
    let f = Forge::new(
        V2,
        &[("a", "b")].into_iter().collect(),
        ContentType::Framed,
        64,
    );
    let body = f.header.serialize().unwrap();
    let at = V2_CONTEXT_AT;
    // The section length claims 65535 bytes: truncated.
    let mut m = body.clone();
    m[at..at + 2].copy_from_slice(&[0xFF, 0xFF]);
    fails(&m, default(), format(FormatError::Truncated));
    // The pair count claims two pairs where there is one.
    let mut m = body.clone();
    m[at + 2..at + 4].copy_from_slice(&[0, 2]);
    fails(
        &m,
        default(),
        format(FormatError::BadEncryptionContext(
            "pairs overrun the section",
        )),
    );
    // A key length that runs past the section.
    let mut m = body.clone();
    m[at + 4..at + 6].copy_from_slice(&[0, 9]);
    fails(
        &m,
        default(),
        format(FormatError::BadEncryptionContext(
            "pairs overrun the section",
        )),
    );
    // The same key twice (a well-formed section otherwise).
    let mut h = body[..at].to_vec();
    let section = [0, 2, 0, 1, b'a', 0, 1, b'b', 0, 1, b'a', 0, 1, b'c'];
    h.extend_from_slice(&(section.len() as u16).to_be_bytes());
    h.extend_from_slice(&section);
    h.extend_from_slice(&body[at + 2 + 8..]);
    fails(
        &f.authenticate(h),
        default(),
        format(FormatError::DuplicateContextKey("a".into())),
    );
}

/// The footer's signature length is a u16: a claim past the end of the input is truncated
/// (at most 64 KiB is ever held); an empty or over-long signature fails to verify.
#[test]
fn signature_length_claims() {
    let f = Forge::framed(V2_SIGNED, 64);
    let mut body = f.header();
    body.extend_from_slice(&f.final_frame(1, b"hello"));
    let msg = f.sign(body.clone());
    assert_eq!(run(&msg, default()).unwrap(), b"hello");
    let sig = &msg[body.len() + 2..];
    assert!((100..=104).contains(&sig.len()));
    let with_footer = |len: u16, bytes: &[u8]| {
        let mut m = body.clone();
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(bytes);
        m
    };
    fails(
        &with_footer(0xFFFF, sig),
        default(),
        format(FormatError::Truncated),
    );
    fails(&with_footer(0, &[]), default(), Error::AuthenticationFailed);
    // The signature followed by junk that the length covers.
    let mut long = sig.to_vec();
    long.extend_from_slice(&[0; 30]);
    fails(
        &with_footer(132, &long),
        default(),
        Error::AuthenticationFailed,
    );
    // 65535 bytes of junk: read, then refused.
    fails(
        &with_footer(0xFFFF, &[0x30; 0xFFFF]),
        default(),
        Error::AuthenticationFailed,
    );
    // The length covers less than the signature: the rest is trailing.
    fails(
        &with_footer(101, sig),
        default(),
        Error::AuthenticationFailed,
    );
}

// ---------------------------------------------------------------------------------------
// Frame length, frame count, sequence numbers, non-framed size.

#[test]
fn frame_length_bounds() {
    let enc = |frame_length| {
        encrypt(
            forge::keyring(),
            b"0123456789",
            EncryptOptions {
                frame_length,
                ..EncryptOptions::default()
            },
        )
    };
    assert!(matches!(enc(0).unwrap_err(), Error::InvalidArgument(_)));
    // The largest frame length: the encryptor buffers only the plaintext it is given.
    let msg = enc(u32::MAX).unwrap();
    assert_eq!(run(&msg, default()).unwrap(), b"0123456789");
    fails(
        &msg,
        with_max_frame(4096),
        limit(LimitError::FrameTooLong {
            length: u64::from(u32::MAX),
            max: 4096,
        }),
    );
    // The caller's maximum is exact.
    let msg = enc(100).unwrap();
    assert_eq!(run(&msg, with_max_frame(100)).unwrap(), b"0123456789");
    fails(
        &msg,
        with_max_frame(99),
        limit(LimitError::FrameTooLong {
            length: 100,
            max: 99,
        }),
    );
    // A framed header with frame length 0, a non-framed one with a frame length.
    let mut f = Forge::framed(V2, 0);
    fails(
        &f.message(b""),
        default(),
        format(FormatError::BadFrameLength(0)),
    );
    f.header.content_type = ContentType::NonFramed;
    f.header.frame_length = 5;
    fails(
        &f.header(),
        default(),
        format(FormatError::BadFrameLength(5)),
    );
    // A final frame holding more than the frame length.
    let f = Forge::framed(V2, 4);
    let mut msg = f.header();
    msg.extend_from_slice(&f.final_frame(1, b"01234"));
    fails(
        &msg,
        default(),
        format(FormatError::FinalFrameTooLong {
            content_length: 5,
            frame_length: 4,
        }),
    );
}

/// Frames as `(sequence number, is final, plaintext)`, after a header of frame length 2.
fn frames(parts: &[(u32, bool, &[u8])]) -> Vec<u8> {
    let f = Forge::framed(V2, 2);
    let mut msg = f.header();
    for &(seq, last, pt) in parts {
        if last {
            msg.extend_from_slice(&f.final_frame(seq, pt));
        } else {
            msg.extend_from_slice(&f.frame(seq, pt));
        }
    }
    msg
}

fn mismatch(expected: u32, found: u32) -> Error {
    format(FormatError::SequenceNumberMismatch { expected, found })
}

/// Sequence numbers start at 1 and go up by one; a frame numbered near the 2^32 - 1 limit
/// is refused at once, so the frame-count limit needs no 2^32 frames to test.
#[test]
fn sequence_numbers_and_frame_count() {
    let ab: &[u8] = b"ab";
    assert_eq!(
        run(
            &frames(&[(1, false, ab), (2, false, ab), (3, true, b"c")]),
            default()
        )
        .unwrap(),
        b"ababc"
    );
    fails(
        &frames(&[(u32::MAX - 1, false, ab)]),
        default(),
        mismatch(1, u32::MAX - 1),
    );
    fails(
        &frames(&[(u32::MAX, true, ab)]),
        default(),
        mismatch(1, u32::MAX),
    );
    fails(&frames(&[(0, false, ab)]), default(), mismatch(1, 0));
    fails(&frames(&[(0, true, ab)]), default(), mismatch(1, 0));
    fails(
        &frames(&[(1, false, ab), (3, false, ab)]),
        default(),
        mismatch(2, 3),
    );
    fails(
        &frames(&[(1, false, ab), (1, false, ab)]),
        default(),
        mismatch(2, 1),
    );
    fails(
        &frames(&[(1, false, ab), (1, true, ab)]),
        default(),
        mismatch(2, 1),
    );
    fails(
        &frames(&[(1, false, ab), (2, false, ab), (4, true, ab)]),
        default(),
        mismatch(3, 4),
    );
    // Anything after the final frame.
    fails(
        &frames(&[(1, true, ab), (2, false, ab)]),
        default(),
        format(FormatError::TrailingBytes),
    );
    fails(
        &frames(&[(1, true, ab), (2, true, ab)]),
        default(),
        format(FormatError::TrailingBytes),
    );
}

#[test]
fn non_framed_body_size() {
    let f = Forge::non_framed(V2);
    let msg = f.message(b"hello");
    assert_eq!(run(&msg, default()).unwrap(), b"hello");
    let claiming = |n: u64| {
        let mut m = f.header();
        m.extend_from_slice(&f.single_block_claiming(b"hello", n));
        m
    };
    let unlimited = with_max_frame(u64::MAX);
    // The format's limit, 2^36 - 32 bytes.
    fails(
        &claiming(MAX_NON_FRAMED_LENGTH + 1),
        unlimited.clone(),
        limit(LimitError::FrameTooLong {
            length: MAX_NON_FRAMED_LENGTH + 1,
            max: MAX_NON_FRAMED_LENGTH,
        }),
    );
    fails(
        &claiming(u64::MAX),
        unlimited.clone(),
        limit(LimitError::FrameTooLong {
            length: u64::MAX,
            max: MAX_NON_FRAMED_LENGTH,
        }),
    );
    // At the limit the claim is accepted and the body is then missing.
    fails(
        &claiming(MAX_NON_FRAMED_LENGTH),
        unlimited,
        format(FormatError::Truncated),
    );
    // The default frame limit (2^32 - 1) applies to non-framed bodies too.
    fails(
        &claiming(1 << 32),
        default(),
        limit(LimitError::FrameTooLong {
            length: 1 << 32,
            max: u64::from(u32::MAX),
        }),
    );
    // The caller's limit is exact.
    assert_eq!(run(&msg, with_max_frame(5)).unwrap(), b"hello");
    fails(
        &msg,
        with_max_frame(4),
        limit(LimitError::FrameTooLong { length: 5, max: 4 }),
    );
}

// ---------------------------------------------------------------------------------------
// Length claims and memory: a child process under `ulimit -v`.

/// Messages whose length fields claim far more bytes than follow, the options to decrypt
/// them with, and the error each must give.
fn claims() -> Vec<(&'static str, Vec<u8>, DecryptOptions)> {
    let mut out = Vec::new();
    let huge = Forge::framed(V2, u32::MAX);
    let mut m = huge.header();
    m.extend_from_slice(&huge.frame(1, &[7; 1000])[..16 + 1000]);
    out.push(("a regular frame of 4 GiB", m, default()));
    let mut m = huge.header();
    m.extend_from_slice(&huge.final_frame_claiming(1, &[7; 1000], u32::MAX - 1)[..1000]);
    out.push(("a final frame of 4 GiB", m, default()));
    let nf = Forge::non_framed(V2);
    let mut m = nf.header();
    m.extend_from_slice(&nf.single_block_claiming(&[7; 1000], u64::from(u32::MAX))[..1000]);
    out.push(("a non-framed body of 4 GiB", m, default()));
    let mut m = nf.header();
    m.extend_from_slice(&nf.single_block_claiming(&[7; 1000], MAX_NON_FRAMED_LENGTH)[..1000]);
    out.push(("a non-framed body of 64 GiB", m, with_max_frame(u64::MAX)));
    let f = Forge::framed(V2, 64);
    let mut m = f.header.serialize().unwrap();
    m.truncate(V2_CONTEXT_AT + 2);
    m.extend_from_slice(&[0xFF, 0xFF]);
    for _ in 0..10 {
        m.extend_from_slice(&[0, 1, b'x', 0, 0, 0, 1, 0]);
    }
    out.push(("65535 data keys", m, default()));
    let mut m = f.header.serialize().unwrap();
    m.truncate(V2_CONTEXT_AT + 4);
    m.extend_from_slice(&[0, 1, b'x', 0, 0, 0xFF, 0xFF, 1, 2, 3]);
    out.push(("a data key of 64 KiB", m, default()));
    let mut m = f.header.serialize().unwrap();
    m[V2_CONTEXT_AT..V2_CONTEXT_AT + 2].copy_from_slice(&[0xFF, 0xFF]);
    out.push(("a context of 64 KiB", m, default()));
    let s = Forge::framed(V2_SIGNED, 64);
    let mut m = s.header();
    m.extend_from_slice(&s.final_frame(1, b"x"));
    m.extend_from_slice(&[0xFF, 0xFF, 0x30, 0x01]);
    out.push(("a signature of 64 KiB", m, default()));
    out
}

/// The address-space limit of the child processes: 256 MiB.
const ULIMIT_KIB: u32 = 262_144;

/// Runs this test binary's `allocation_child` test (or another command) under the limit.
fn under_ulimit(
    program: &std::path::Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {ULIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run sh")
}

fn child(case: &str) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    under_ulimit(
        &exe,
        &[
            "--exact",
            "allocation_child",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ],
        &[("ESDK_ALLOCATION_CASE", case)],
    )
}

/// Each claim fails cleanly (one-shot, sans-IO, Read front) in a process that cannot map
/// more than 256 MiB; a control case shows that a 512 MiB allocation there does abort.
#[test]
fn length_claims_never_allocate_what_they_claim() {
    let out = child("control");
    assert!(
        !out.status.success(),
        "the control allocation of 512 MiB succeeded under ulimit -v: the test proves nothing"
    );
    let out = child("claims");
    assert!(
        out.status.success(),
        "under ulimit -v {ULIMIT_KIB}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("8 claims failed cleanly"), "{stdout}");
}

/// Not a test on its own: `length_claims_never_allocate_what_they_claim` runs it in a child
/// process under `ulimit -v`.
#[test]
#[ignore = "run by length_claims_never_allocate_what_they_claim under ulimit -v"]
fn allocation_child() {
    match std::env::var("ESDK_ALLOCATION_CASE").as_deref() {
        Ok("control") => {
            let v = vec![1u8; 512 << 20];
            println!("allocated {} bytes", std::hint::black_box(&v).len());
        }
        Ok("claims") => {
            let cases = claims();
            for (name, msg, options) in &cases {
                let want = format(FormatError::Truncated);
                let whole = decrypt(forge::keyring(), msg, options.clone()).map(|d| d.plaintext);
                assert_eq!(whole, Err(want.clone()), "{name}");
                assert_eq!(
                    sans_io(msg, options.clone(), 4096),
                    Err(want.clone()),
                    "{name}"
                );
                assert_eq!(read_front(msg, options.clone()), Err(want), "{name}");
            }
            println!("{} claims failed cleanly", cases.len());
        }
        other => panic!("ESDK_ALLOCATION_CASE={other:?}"),
    }
}

/// The CLI, under the same limit, on the claims of frame and body sizes.
#[test]
fn cli_under_ulimit_refuses_length_claims() {
    let bin = forge::cli_binary();
    let dir = tempfile::tempdir().unwrap();
    for (name, msg, options) in claims() {
        if options.max_frame_length != DecryptOptions::default().max_frame_length {
            continue;
        }
        let input = dir.path().join("in");
        let output = dir.path().join("out");
        std::fs::write(&input, &msg).unwrap();
        let out = under_ulimit(
            bin,
            &[
                "decrypt",
                "-i",
                input.to_str().unwrap(),
                "-o",
                output.to_str().unwrap(),
                "--wrapping-key",
                &forge::cli_spec(),
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains("ended before the message was complete"),
            "{name}: {stderr}"
        );
        assert!(!output.exists(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------
// Base64 text instead of a binary message.

#[test]
fn base64_input_is_recognized() {
    let b64 = |m: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(m)
            .into_bytes()
    };
    let v2 = encrypt(forge::keyring(), b"hello", EncryptOptions::default()).unwrap();
    let v1_suite = &AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
    let v1 = Forge::framed(v1_suite, 64).message(b"hello");
    let v1_policy = DecryptOptions {
        commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ..DecryptOptions::default()
    };
    assert_eq!(run(&v1, v1_policy.clone()).unwrap(), b"hello");
    for (text, options) in [
        (b64(&v2), default()),
        (b64(&v1), v1_policy.clone()),
        (b64(&v1), default()),
    ] {
        assert!(text.starts_with(b"AY") || text.starts_with(b"Ag"));
        fails(&text, options.clone(), format(FormatError::LooksBase64));
        // Wrapped in lines, as `base64` writes it.
        let mut wrapped = Vec::new();
        for line in text.chunks(76) {
            wrapped.extend_from_slice(line);
            wrapped.push(b'\n');
        }
        fails(&wrapped, options, format(FormatError::LooksBase64));
    }
    let e = format(FormatError::LooksBase64).to_string();
    assert!(e.contains("looks base64-encoded"), "{e}");
    // Two bytes decide; one is not enough; other text is another error.
    assert!(matches!(
        HeaderBody::parse(b"AY", None),
        Err(ParseError::Invalid(Error::Format(FormatError::LooksBase64)))
    ));
    assert!(matches!(
        HeaderBody::parse(b"A", None),
        Err(ParseError::Incomplete { needed: 2 })
    ));
    fails(b"A", default(), format(FormatError::Truncated));
    fails(
        b"AB==",
        default(),
        format(FormatError::UnknownVersion(b'A')),
    );
}

#[test]
fn cli_says_base64() {
    let bin = forge::cli_binary();
    let v2 = encrypt(forge::keyring(), b"hello", EncryptOptions::default()).unwrap();
    let text = base64::engine::general_purpose::STANDARD.encode(v2);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.b64");
    let output = dir.path().join("out");
    std::fs::write(&input, &text).unwrap();
    let out = Command::new(bin)
        .arg("decrypt")
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--wrapping-key", &forge::cli_spec()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("looks base64-encoded"), "{stderr}");
    assert!(!output.exists());
    let out = Command::new(bin)
        .arg("inspect")
        .arg("-i")
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("looks base64-encoded"), "{stderr}");
}
