//! Round trips through the one-shot helpers and the Write/Read fronts.

use std::io::{Read, Write};
use std::sync::Arc;

use esdk::*;

fn keyring(name: &str, byte: u8, len: usize) -> Arc<RawAesKeyring> {
    Arc::new(RawAesKeyring::new("ns", name, WrappingKey::new(vec![byte; len]).unwrap()).unwrap())
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn policy_for(suite: &AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

#[test]
fn every_suite_frame_length_and_size_roundtrips() {
    let kr = keyring("k", 7, 32);
    let mut cases = 0;
    for suite in AlgorithmSuite::ALL {
        for frame in [1u32, 100, 128, 4096] {
            for len in [
                0usize,
                1,
                frame as usize - 1,
                frame as usize,
                frame as usize + 1,
                3 * frame as usize + 5,
            ] {
                let pt = sample(len);
                let mut opts = EncryptOptions {
                    algorithm_suite: Some(suite),
                    frame_length: frame,
                    commitment_policy: policy_for(suite),
                    ..Default::default()
                };
                opts.encryption_context.insert("ключ", "значение");
                let ct = encrypt(kr.clone(), &pt, opts).unwrap();
                let d = decrypt(
                    kr.clone(),
                    &ct,
                    DecryptOptions {
                        commitment_policy: policy_for(suite),
                        ..Default::default()
                    },
                )
                .unwrap();
                assert_eq!(d.plaintext, pt, "suite {suite:?} frame {frame} len {len}");
                assert_eq!(d.header.suite.id(), suite.id());
                assert_eq!(d.header.frame_length, frame);
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 11 * 4 * 6);
}

/// A full final frame is written when the plaintext is an exact multiple of the frame length.
#[test]
fn exact_multiple_ends_with_a_full_final_frame() {
    let kr = keyring("k", 7, 32);
    let opts = EncryptOptions {
        algorithm_suite: Some(&AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY),
        frame_length: 100,
        ..Default::default()
    };
    let ct = encrypt(kr, &sample(300), opts).unwrap();
    // header + 2 regular frames (32 + 100 each) + a final frame (40 + 100).
    let header_len = ct.len() - 2 * 132 - 140;
    assert_eq!(
        &ct[header_len + 264..header_len + 272],
        &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 3]
    );
}

fn write_in_chunks(
    pt: &[u8],
    chunks: &mut dyn FnMut() -> usize,
    kr: Arc<RawAesKeyring>,
) -> Vec<u8> {
    let enc = Encryptor::new(
        &DefaultCmm::new(kr),
        EncryptOptions {
            frame_length: 128,
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = EncryptingWriter::new(Vec::new(), enc);
    let mut rest = pt;
    while !rest.is_empty() {
        let n = chunks().min(rest.len()).max(1);
        w.write_all(&rest[..n]).unwrap();
        rest = &rest[n..];
    }
    w.finish().unwrap()
}

fn read_in_chunks(ct: &[u8], chunks: &mut dyn FnMut() -> usize, kr: Arc<RawAesKeyring>) -> Vec<u8> {
    let dec = Decryptor::new(Arc::new(DefaultCmm::new(kr)), DecryptOptions::default());
    let mut r = DecryptingReader::new(ct, dec);
    let mut out = Vec::new();
    loop {
        let mut buf = vec![0u8; chunks().max(1)];
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert!(r.decryptor().is_done());
    assert!(r.decryptor().signature_verified());
    out
}

#[test]
fn write_and_read_fronts_with_chunk_sizes_1_7_4096_and_random() {
    let kr = keyring("k", 3, 16);
    let pt = sample(128 * 9 + 17);
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 700) as usize + 1
    };
    for size in [1usize, 7, 4096] {
        let ct = write_in_chunks(&pt, &mut || size, kr.clone());
        assert_eq!(read_in_chunks(&ct, &mut || size, kr.clone()), pt);
        assert_eq!(
            decrypt(kr.clone(), &ct, DecryptOptions::default())
                .unwrap()
                .plaintext,
            pt
        );
    }
    for _ in 0..10 {
        let ct = write_in_chunks(&pt, &mut random, kr.clone());
        assert_eq!(read_in_chunks(&ct, &mut random, kr.clone()), pt);
    }
}

#[test]
fn sans_io_process_with_tiny_output_buffers() {
    let kr = keyring("k", 9, 24);
    let pt = sample(1000);
    let mut enc = Encryptor::new(
        &DefaultCmm::new(kr.clone()),
        EncryptOptions {
            frame_length: 64,
            ..Default::default()
        },
    )
    .unwrap();
    let mut ct = Vec::new();
    let mut out = [0u8; 5];
    let mut input = &pt[..];
    while !enc.is_done() {
        if input.is_empty() {
            enc.end_input();
        }
        let p = enc.process(&input[..input.len().min(3)], &mut out).unwrap();
        input = &input[p.consumed..];
        ct.extend_from_slice(&out[..p.produced]);
    }
    let mut dec = Decryptor::new(Arc::new(DefaultCmm::new(kr)), DecryptOptions::default());
    let mut got = Vec::new();
    let mut input = &ct[..];
    while !dec.is_done() {
        if input.is_empty() {
            dec.end_input();
        }
        let p = dec
            .process(&input[..input.len().min(11)], &mut out)
            .unwrap();
        input = &input[p.consumed..];
        got.extend_from_slice(&out[..p.produced]);
    }
    assert_eq!(got, pt);
}
