//! Named negative tests: each tampering or misuse fails with its own exact error, and the
//! streaming reader never hands out a byte that was not authenticated.

use std::io::Read;
use std::sync::Arc;

use esdk::format::header::HeaderAuth;
use esdk::*;

const FRAME: u32 = 64;

fn key_a() -> Arc<RawAesKeyring> {
    Arc::new(RawAesKeyring::new("ns", "a", WrappingKey::new(vec![1; 32]).unwrap()).unwrap())
}

fn plaintext() -> Vec<u8> {
    (0..(3 * FRAME as usize + 10))
        .map(|i| (i % 253) as u8)
        .collect()
}

fn context() -> EncryptionContext {
    [("purpose", "test"), ("team", "storage")]
        .into_iter()
        .collect()
}

/// A message of 4 frames (3 regular, 1 final of 10 bytes) with the given suite.
fn message(suite: &'static AlgorithmSuite) -> Vec<u8> {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    encrypt(
        key_a(),
        &plaintext(),
        EncryptOptions {
            encryption_context: context(),
            algorithm_suite: Some(suite),
            frame_length: FRAME,
            commitment_policy: policy,
            ..Default::default()
        },
    )
    .unwrap()
}

const SIGNED: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
const UNSIGNED: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;

/// Byte offsets of the parts of a message made by [`message`].
struct Layout {
    header_body: usize,
    header_end: usize,
    frames: Vec<(usize, usize)>,
    body_end: usize,
}

fn layout(ct: &[u8]) -> Layout {
    let (h, n) = HeaderBody::parse(ct, None).unwrap();
    let header_end = n + HeaderAuth::len(h.version());
    let mut frames = Vec::new();
    let mut pos = header_end;
    for _ in 0..3 {
        frames.push((pos, pos + 16 + FRAME as usize + 16));
        pos += 16 + FRAME as usize + 16;
    }
    frames.push((pos, pos + 24 + 10 + 16));
    pos += 24 + 10 + 16;
    Layout {
        header_body: n,
        header_end,
        frames,
        body_end: pos,
    }
}

fn try_decrypt(ct: &[u8], options: DecryptOptions) -> Result<Decrypted> {
    decrypt(key_a(), ct, options)
}

fn expect(ct: &[u8], options: DecryptOptions, want: Error) {
    match try_decrypt(ct, options) {
        Err(e) => assert_eq!(e, want),
        Ok(_) => panic!("decryption succeeded, expected {want:?}"),
    }
}

fn flip(ct: &[u8], pos: usize) -> Vec<u8> {
    let mut t = ct.to_vec();
    t[pos] ^= 0x01;
    t
}

#[test]
fn good_messages_decrypt() {
    for suite in [SIGNED, UNSIGNED] {
        let ct = message(suite);
        let l = layout(&ct);
        let footer = if suite.signature().is_some() {
            2 + 103
        } else {
            0
        };
        assert_eq!(l.body_end + footer, ct.len());
        let d = try_decrypt(&ct, DecryptOptions::default()).unwrap();
        assert_eq!(d.plaintext, plaintext());
    }
}

#[test]
fn truncation_at_every_frame_boundary() {
    for suite in [SIGNED, UNSIGNED] {
        let ct = message(suite);
        let l = layout(&ct);
        let mut cuts = vec![0, 1, l.header_body, l.header_end];
        cuts.extend(l.frames.iter().map(|f| f.1));
        cuts.retain(|&c| c < ct.len());
        assert_eq!(cuts.len(), if suite.signature().is_some() { 8 } else { 7 });
        for cut in cuts {
            expect(
                &ct[..cut],
                DecryptOptions::default(),
                Error::Format(FormatError::Truncated),
            );
        }
    }
}

#[test]
fn truncation_at_every_byte() {
    let ct = message(UNSIGNED);
    for cut in 0..ct.len() {
        expect(
            &ct[..cut],
            DecryptOptions::default(),
            Error::Format(FormatError::Truncated),
        );
    }
}

#[test]
fn bytes_after_the_message() {
    for suite in [SIGNED, UNSIGNED] {
        let mut ct = message(suite);
        ct.push(0);
        expect(
            &ct,
            DecryptOptions::default(),
            Error::Format(FormatError::TrailingBytes),
        );
    }
}

#[test]
fn a_second_final_frame() {
    let ct = message(UNSIGNED);
    let l = layout(&ct);
    let last = l.frames[3];
    let mut twice = ct.clone();
    twice.extend_from_slice(&ct[last.0..last.1]);
    expect(
        &twice,
        DecryptOptions::default(),
        Error::Format(FormatError::TrailingBytes),
    );
}

#[test]
fn out_of_order_frames() {
    let ct = message(UNSIGNED);
    let l = layout(&ct);
    let (f1, f2) = (l.frames[0], l.frames[1]);
    let mut swapped = ct[..f1.0].to_vec();
    swapped.extend_from_slice(&ct[f2.0..f2.1]);
    swapped.extend_from_slice(&ct[f1.0..f1.1]);
    swapped.extend_from_slice(&ct[f2.1..]);
    expect(
        &swapped,
        DecryptOptions::default(),
        Error::Format(FormatError::SequenceNumberMismatch {
            expected: 1,
            found: 2,
        }),
    );
}

#[test]
fn flipped_bit_in_header() {
    let ct = message(UNSIGNED);
    let l = layout(&ct);
    // Message ID (bytes 3..35): the derived commit key no longer matches.
    expect(
        &flip(&ct, 10),
        DecryptOptions::default(),
        Error::AuthenticationFailed,
    );
    // The stored commit key (the last 32 bytes of the header body).
    expect(
        &flip(&ct, l.header_body - 1),
        DecryptOptions::default(),
        Error::AuthenticationFailed,
    );
    // The frame length field (just before the commit key): header authentication fails.
    expect(
        &flip(&ct, l.header_body - 33),
        DecryptOptions::default(),
        Error::AuthenticationFailed,
    );
    // The header authentication tag.
    expect(
        &flip(&ct, l.header_end - 1),
        DecryptOptions::default(),
        Error::AuthenticationFailed,
    );
    // A context value: it is the AAD of the wrapped data key, which no longer unwraps.
    let pos = ct.windows(7).position(|w| w == b"storage").unwrap();
    expect(
        &flip(&ct, pos),
        DecryptOptions::default(),
        Error::DataKeyUnwrapFailed,
    );
    // Version and suite bytes.
    expect(
        &flip(&ct, 0),
        DecryptOptions::default(),
        Error::Format(FormatError::UnknownVersion(3)),
    );
    expect(
        &flip(&ct, 2),
        DecryptOptions::default(),
        Error::Format(FormatError::UnknownAlgorithmSuite(0x0479)),
    );
}

#[test]
fn flipped_bit_in_body_and_tag() {
    for suite in [SIGNED, UNSIGNED] {
        let ct = message(suite);
        let l = layout(&ct);
        for &(start, end) in &l.frames {
            // Ciphertext (after the frame header), the tag (last byte), the stored IV.
            let is_final = (start, end) == l.frames[3];
            let hdr = if is_final { 24 } else { 16 };
            let iv_last = if is_final { start + 19 } else { start + 15 };
            for pos in [start + hdr, end - 1, iv_last] {
                expect(
                    &flip(&ct, pos),
                    DecryptOptions::default(),
                    Error::AuthenticationFailed,
                );
            }
        }
    }
}

#[test]
fn flipped_bit_in_signature() {
    let ct = message(SIGNED);
    let l = layout(&ct);
    for pos in [l.body_end + 5, ct.len() - 1] {
        expect(
            &flip(&ct, pos),
            DecryptOptions::default(),
            Error::AuthenticationFailed,
        );
    }
    // A signature length that claims more bytes than exist is truncation.
    let mut long = ct.clone();
    long[l.body_end + 1] += 1;
    expect(
        &long,
        DecryptOptions::default(),
        Error::Format(FormatError::Truncated),
    );
}

#[test]
fn wrong_key_and_wrong_key_name() {
    let ct = message(UNSIGNED);
    let wrong_key =
        Arc::new(RawAesKeyring::new("ns", "a", WrappingKey::new(vec![2; 32]).unwrap()).unwrap());
    assert_eq!(
        decrypt(wrong_key, &ct, DecryptOptions::default()).unwrap_err(),
        Error::DataKeyUnwrapFailed
    );
    let wrong_name =
        Arc::new(RawAesKeyring::new("ns", "b", WrappingKey::new(vec![1; 32]).unwrap()).unwrap());
    assert_eq!(
        decrypt(wrong_name, &ct, DecryptOptions::default()).unwrap_err(),
        Error::NoMatchingDataKey
    );
    let wrong_ns =
        Arc::new(RawAesKeyring::new("other", "a", WrappingKey::new(vec![1; 32]).unwrap()).unwrap());
    assert_eq!(
        decrypt(wrong_ns, &ct, DecryptOptions::default()).unwrap_err(),
        Error::NoMatchingDataKey
    );
}

#[test]
fn required_context_pairs() {
    let ct = message(UNSIGNED);
    let mut options = DecryptOptions::default();
    options
        .required_encryption_context
        .insert("purpose", "test");
    assert_eq!(try_decrypt(&ct, options).unwrap().plaintext, plaintext());
    let mut options = DecryptOptions::default();
    options.required_encryption_context.insert("owner", "me");
    expect(
        &ct,
        options,
        Error::Policy(PolicyError::MissingContextPair("owner".into())),
    );
    let mut options = DecryptOptions::default();
    options
        .required_encryption_context
        .insert("purpose", "other");
    expect(
        &ct,
        options,
        Error::Policy(PolicyError::ContextValueMismatch("purpose".into())),
    );
}

#[test]
fn too_many_data_keys() {
    let b =
        Arc::new(RawAesKeyring::new("ns", "b", WrappingKey::new(vec![2; 16]).unwrap()).unwrap());
    let multi = Arc::new(MultiKeyring::new(Some(key_a()), vec![b]).unwrap());
    let ct = encrypt(multi.clone(), b"x", EncryptOptions::default()).unwrap();
    let options = DecryptOptions {
        max_encrypted_data_keys: Some(1),
        ..Default::default()
    };
    expect(
        &ct,
        options,
        Error::Limit(LimitError::TooManyEncryptedDataKeys { count: 2, max: 1 }),
    );
    let options = EncryptOptions {
        max_encrypted_data_keys: Some(1),
        ..Default::default()
    };
    assert_eq!(
        encrypt(multi, b"x", options).unwrap_err(),
        Error::Limit(LimitError::TooManyEncryptedDataKeys { count: 2, max: 1 })
    );
}

#[test]
fn non_committing_message_under_the_default_policy() {
    let ct = message(&AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256);
    expect(
        &ct,
        DecryptOptions::default(),
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            operation: "decrypt",
        }),
    );
    let ok = DecryptOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..Default::default()
    };
    assert_eq!(try_decrypt(&ct, ok).unwrap().plaintext, plaintext());
}

#[test]
fn unsigned_only_refuses_signed_messages() {
    let options = DecryptOptions {
        unsigned_only: true,
        ..Default::default()
    };
    expect(
        &message(SIGNED),
        options.clone(),
        Error::Policy(PolicyError::SignedMessageRefused),
    );
    assert_eq!(
        try_decrypt(&message(UNSIGNED), options).unwrap().plaintext,
        plaintext()
    );
}

#[test]
fn encrypt_refuses_reserved_context_keys_and_forbidden_suites() {
    let mut options = EncryptOptions::default();
    options
        .encryption_context
        .insert("aws-crypto-public-key", "x");
    assert_eq!(
        encrypt(key_a(), b"x", options).unwrap_err(),
        Error::Policy(PolicyError::ReservedContextKey(
            "aws-crypto-public-key".into()
        ))
    );
    let options = EncryptOptions {
        algorithm_suite: Some(&AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF),
        ..Default::default()
    };
    assert_eq!(
        encrypt(key_a(), b"x", options).unwrap_err(),
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0014,
            operation: "encrypt"
        })
    );
    let options = EncryptOptions {
        frame_length: 0,
        ..Default::default()
    };
    assert!(matches!(
        encrypt(key_a(), b"x", options),
        Err(Error::InvalidArgument(_))
    ));
}

/// Reads through the `Read` front in 7-byte pieces; returns the bytes handed out and the
/// error that ended the read. The read call that fails zeroes what it wrote and returns
/// nothing, so the bytes handed out are a prefix of the authenticated plaintext that falls
/// short of it by less than one read.
fn read_until_error(ct: &[u8]) -> (Vec<u8>, Error) {
    let dec = Decryptor::new(
        Arc::new(DefaultCmm::new(key_a())),
        DecryptOptions::default(),
    );
    let mut r = DecryptingReader::new(ct, dec);
    let mut got = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("tampered message read to the end"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Error::from_io(&e).cloned().unwrap()),
        }
    }
}

#[test]
fn reader_never_hands_out_unauthenticated_bytes() {
    let pt = plaintext();
    let regular = 3 * FRAME as usize;
    // Signed: a bad signature withholds the final frame; regular frames were verified.
    let ct = message(SIGNED);
    let (got, e) = read_until_error(&flip(&ct, ct.len() - 1));
    assert_eq!(e, Error::AuthenticationFailed);
    assert_authenticated_prefix(&got, &pt[..regular]);
    // Unsigned: trailing bytes after the final frame withhold the final frame too.
    let mut ct = message(UNSIGNED);
    ct.push(7);
    let (got, e) = read_until_error(&ct);
    assert_eq!(e, Error::Format(FormatError::TrailingBytes));
    assert_authenticated_prefix(&got, &pt[..regular]);
    // A bad tag in frame 2 stops after frame 1.
    let ct = message(UNSIGNED);
    let l = layout(&ct);
    let (got, e) = read_until_error(&flip(&ct, l.frames[1].1 - 1));
    assert_eq!(e, Error::AuthenticationFailed);
    assert_authenticated_prefix(&got, &pt[..FRAME as usize]);
}

fn assert_authenticated_prefix(got: &[u8], authenticated: &[u8]) {
    assert!(
        authenticated.starts_with(got),
        "handed out bytes beyond the authenticated ones"
    );
    assert!(
        got.len() + 7 > authenticated.len(),
        "only {} of {} bytes",
        got.len(),
        authenticated.len()
    );
}

#[test]
fn failed_decryptor_stays_failed() {
    let ct = flip(&message(UNSIGNED), 10);
    let mut dec = Decryptor::new(
        Arc::new(DefaultCmm::new(key_a())),
        DecryptOptions::default(),
    );
    let mut out = vec![0u8; 4096];
    assert_eq!(
        dec.process(&ct, &mut out).unwrap_err(),
        Error::AuthenticationFailed
    );
    assert_eq!(
        dec.process(&[], &mut out).unwrap_err(),
        Error::AuthenticationFailed
    );
    assert!(!dec.is_done());
}

#[test]
fn every_single_bit_flip_fails() {
    let ct = message(SIGNED);
    let mut n = 0;
    for pos in 0..ct.len() {
        for bit in 0..8 {
            let mut t = ct.clone();
            t[pos] ^= 1 << bit;
            assert!(
                try_decrypt(&t, DecryptOptions::default()).is_err(),
                "byte {pos} bit {bit}"
            );
            n += 1;
        }
    }
    assert_eq!(n, ct.len() * 8);
}

#[test]
fn required_only_context_pairs_are_authenticated_but_not_stored() {
    let cmm = RequiredEncryptionContextCmm::new(
        Arc::new(DefaultCmm::new(key_a())),
        ["secret-tag".to_string()],
    );
    let mut options = EncryptOptions::default();
    options.encryption_context.insert("secret-tag", "42");
    options.encryption_context.insert("public", "yes");
    let ct = encrypt_with_cmm(&cmm, b"data", options).unwrap();
    assert!(!ct.windows(10).any(|w| w == b"secret-tag"));
    let cmm = Arc::new(cmm);
    // Without the reproduced pair the required-EC CMM refuses.
    assert_eq!(
        decrypt_with_cmm(cmm.clone(), &ct, DecryptOptions::default()).unwrap_err(),
        Error::Policy(PolicyError::MissingContextPair("secret-tag".into()))
    );
    let reproduce = |value: &str| DecryptOptions {
        reproduced_encryption_context: Some([("secret-tag", value)].into_iter().collect()),
        ..Default::default()
    };
    let d = decrypt_with_cmm(cmm.clone(), &ct, reproduce("42")).unwrap();
    assert_eq!(d.plaintext, b"data");
    assert_eq!(d.header.encryption_context.get("secret-tag"), None);
    assert_eq!(d.encryption_context.get("secret-tag"), Some("42"));
    assert_eq!(d.encryption_context.get("public"), Some("yes"));
    // A wrong reproduced value fails authentication (of the wrapped key, here).
    assert_eq!(
        decrypt_with_cmm(cmm, &ct, reproduce("43")).unwrap_err(),
        Error::DataKeyUnwrapFailed
    );
}

#[test]
fn reproduced_context_must_match_stored_values() {
    let ct = message(UNSIGNED);
    let options = DecryptOptions {
        reproduced_encryption_context: Some([("purpose", "other")].into_iter().collect()),
        ..Default::default()
    };
    expect(
        &ct,
        options,
        Error::Policy(PolicyError::ContextValueMismatch("purpose".into())),
    );
}

#[test]
fn the_cmm_refuses_a_caller_public_key_for_any_suite() {
    let cmm = DefaultCmm::new(key_a());
    for suite in [SIGNED, UNSIGNED] {
        let request = esdk::cmm::EncryptionMaterialsRequest {
            encryption_context: [("aws-crypto-public-key", "x")].into_iter().collect(),
            algorithm_suite: Some(suite),
            ..Default::default()
        };
        assert_eq!(
            cmm.get_encryption_materials(request).unwrap_err(),
            Error::Policy(PolicyError::ReservedContextKey(
                "aws-crypto-public-key".into()
            ))
        );
    }
}

/// Adds many empty data keys, to make large headers.
struct Padding(usize);

impl Keyring for Padding {
    fn on_encrypt(
        &self,
        mut m: materials::EncryptionMaterials,
    ) -> Result<materials::EncryptionMaterials> {
        for _ in 0..self.0 {
            m.add_encrypted_data_key(EncryptedDataKey {
                provider_id: "pad".into(),
                provider_info: Vec::new(),
                ciphertext: Vec::new(),
            });
        }
        Ok(m)
    }
    fn on_decrypt(
        &self,
        m: materials::DecryptionMaterials,
        _: &[EncryptedDataKey],
    ) -> Result<materials::DecryptionMaterials> {
        Ok(m)
    }
}

/// A header of 20,000 data keys fed one byte at a time decrypts (the header scan is
/// resumable; re-parsing from the start at each byte would take minutes).
#[test]
fn a_large_header_fed_byte_by_byte() {
    let multi =
        Arc::new(MultiKeyring::new(Some(key_a()), vec![Arc::new(Padding(20_000))]).unwrap());
    let ct = encrypt(multi, b"payload", EncryptOptions::default()).unwrap();
    assert!(ct.len() > 120_000);
    let options = DecryptOptions {
        max_header_length: usize::MAX,
        ..Default::default()
    };
    let mut dec = Decryptor::new(Arc::new(DefaultCmm::new(key_a())), options);
    let mut out = [0u8; 64];
    let mut got = Vec::new();
    for b in ct.chunks(1) {
        let p = dec.process(b, &mut out).unwrap();
        assert_eq!(p.consumed, 1);
        got.extend_from_slice(&out[..p.produced]);
    }
    dec.end_input();
    while !dec.is_done() {
        let p = dec.process(&[], &mut out).unwrap();
        got.extend_from_slice(&out[..p.produced]);
    }
    assert_eq!(got, b"payload");
    assert_eq!(dec.header().unwrap().encrypted_data_keys.len(), 20_001);
}

#[test]
fn one_shot_encrypt_keeps_the_callers_plaintext_bound() {
    let options = EncryptOptions {
        max_plaintext_length: Some(5),
        ..Default::default()
    };
    assert_eq!(
        encrypt(key_a(), &[1; 6], options.clone()).unwrap_err(),
        Error::Limit(LimitError::PlaintextTooLong)
    );
    assert!(encrypt(key_a(), &[1; 5], options).is_ok());
}

#[test]
fn plaintext_after_end_input_is_refused_before_any_output() {
    let mut enc = Encryptor::new(&DefaultCmm::new(key_a()), EncryptOptions::default()).unwrap();
    enc.end_input();
    let mut out = vec![0u8; 4096];
    assert!(matches!(
        enc.process(b"abc", &mut out),
        Err(Error::InvalidState(_))
    ));
    // Nothing was lost: the whole message still comes out and decrypts.
    let mut ct = Vec::new();
    while !enc.is_done() {
        let p = enc.process(&[], &mut out).unwrap();
        ct.extend_from_slice(&out[..p.produced]);
    }
    assert_eq!(
        try_decrypt(&ct, DecryptOptions::default())
            .unwrap()
            .plaintext,
        b""
    );
}
