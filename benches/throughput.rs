//! Encrypt and decrypt throughput of esdk, next to baselines over the same bytes in the same
//! chunk sizes: AES-256-GCM seal/open alone (ring, or AWS-LC with the `aws-lc` feature: the
//! library esdk itself uses), SHA-384 alone, and the two one after the other (the floor of
//! the signed suites).
//!
//! Run it through `scripts/bench-report`, which prints the esdk/baseline table. By hand:
//! `cargo bench --bench throughput` (a criterion filter such as `-- 0x0478` narrows it).
//!
//! Cases: suites 0x0478, 0x0578 and 0x0178; frame lengths 4 KiB, 64 KiB and 1 MiB; messages
//! of 1 MiB for every suite and frame length, and of 64 MiB for 0x0478 and 0x0578 at 4 KiB
//! and 64 KiB frames (every suite and frame length with `ESDK_BENCH_FULL=1`, which takes
//! several times longer). Each through the one-shot API and the Write/Read fronts.
//!
//! Parallel frames: the Write/Read fronts with `threads = 2` on 64 MiB messages at 4 KiB and
//! 64 KiB frames, suites 0x0478 and 0x0578 (function `0xSUITE-fFRAME-t2`).
//!
//! Ids, which `scripts/bench-report` parses: group = operation, function =
//! `0xSUITE-fFRAME` (esdk), `0xSUITE-fFRAME-tTHREADS` (esdk on several threads) or
//! `fFRAME` (baselines), parameter = message bytes.
//! For each message size and frame length the baselines run right before the esdk cases,
//! so that each ratio compares numbers measured close together on a shared machine.

use std::cell::OnceCell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use esdk::{
    decrypt, encrypt, AlgorithmSuite, CommitmentPolicy, CryptoMaterialsManager, DecryptOptions,
    DecryptingReader, Decryptor, DefaultCmm, EncryptOptions, EncryptingWriter, Encryptor,
    RawAesKeyring, WrappingKey,
};
// The baselines run on the crypto library esdk is built with: ring by default, AWS-LC with
// the `aws-lc` feature (`scripts/bench-report --aws-lc`). Their criterion groups keep the
// names `ring-seal` / `ring-open` either way; the report names the library.
#[cfg(feature = "aws-lc")]
use aws_lc_rs::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM},
    digest,
};
#[cfg(not(feature = "aws-lc"))]
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM},
    digest,
};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
const SUITES: [u16; 3] = [0x0478, 0x0578, 0x0178];
const FRAMES: [usize; 3] = [4 * KIB, 64 * KIB, MIB];
const SIZES: [usize; 2] = [MIB, 64 * MIB];
/// Chunk size of the Write/Read fronts: the CLI's buffer size.
const IO_CHUNK: usize = 64 * KIB;
/// Length of a v2 frame's body AAD: message ID (32), "AWSKMSEncryptionClient Frame" (28),
/// sequence number (4), content length (8). The baselines authenticate as many bytes.
const AAD_LEN: usize = 72;
const TAG_LEN: usize = 16;

/// Whether a (suite, message size, frame length) case runs.
fn wanted(suite: Option<u16>, size: usize, frame: usize) -> bool {
    if size < 64 * MIB || std::env::var_os("ESDK_BENCH_FULL").is_some() {
        return true;
    }
    frame <= 64 * KIB && suite != Some(0x0178)
}

/// Deterministic filler bytes (their value does not matter to AES-GCM or SHA-384).
fn filler(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Few samples and short times: the whole report must fit in about five minutes.
fn configure(g: &mut BenchmarkGroup<'_, WallTime>, size: usize) {
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.throughput(Throughput::Bytes(size as u64));
    if size >= 64 * MIB {
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(2));
    } else {
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_secs(1));
    }
}

fn policy_for(suite: &AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

fn ring_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x42; 32]).expect("AES-256 key"))
}

/// The IV and AAD of chunk `i`, as a frame would have them.
fn nonce_and_aad(i: usize, aad: &mut [u8; AAD_LEN]) -> Nonce {
    let seq = (i as u32 + 1).to_be_bytes();
    aad[60..64].copy_from_slice(&seq);
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&seq);
    Nonce::assume_unique_for_key(iv)
}

/// Seals `buf` in place, chunk by chunk; each tag is handed to `tag_sink`.
fn seal_chunks(key: &LessSafeKey, buf: &mut [u8], frame: usize, mut tag_sink: impl FnMut(&[u8])) {
    let mut aad = [0x11u8; AAD_LEN];
    for (i, chunk) in buf.chunks_mut(frame).enumerate() {
        let nonce = nonce_and_aad(i, &mut aad);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(&aad), chunk)
            .expect("seal");
        tag_sink(chunk);
        tag_sink(tag.as_ref());
    }
}

/// `plaintext` sealed chunk by chunk, each chunk followed by its tag.
fn sealed_layout(key: &LessSafeKey, plaintext: &[u8], frame: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / frame * TAG_LEN + 64);
    let mut aad = [0x11u8; AAD_LEN];
    for (i, chunk) in plaintext.chunks(frame).enumerate() {
        let start = out.len();
        out.extend_from_slice(chunk);
        let nonce = nonce_and_aad(i, &mut aad);
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(&aad), &mut out[start..])
            .expect("seal");
        out.extend_from_slice(tag.as_ref());
    }
    out
}

/// Opens a [`sealed_layout`] in place, chunk by chunk; `before_open` sees each chunk (with
/// its tag) before it is opened.
fn open_chunks(
    key: &LessSafeKey,
    buf: &mut [u8],
    frame: usize,
    mut before_open: impl FnMut(&[u8]),
) {
    let mut aad = [0x11u8; AAD_LEN];
    for (i, chunk) in buf.chunks_mut(frame + TAG_LEN).enumerate() {
        before_open(chunk);
        let nonce = nonce_and_aad(i, &mut aad);
        let pt = key
            .open_in_place(nonce, Aad::from(&aad), chunk)
            .expect("open");
        black_box(pt);
    }
}

fn baselines(c: &mut Criterion, plaintext: &[u8], frame: usize) {
    let size = plaintext.len();
    let key = ring_key();
    // Made on first use only, so that a filtered run does not pay for skipped cases.
    let sealed = OnceCell::new();
    let sealed = || sealed.get_or_init(|| sealed_layout(&key, plaintext, frame));
    let id = BenchmarkId::new(format!("f{frame}"), size);

    let mut work = plaintext.to_vec();
    let mut g = c.benchmark_group("ring-seal");
    configure(&mut g, size);
    g.bench_function(id.clone(), |b| {
        b.iter(|| seal_chunks(&key, &mut work, frame, |_| {}))
    });
    g.finish();

    let mut g = c.benchmark_group("ring-open");
    configure(&mut g, size);
    g.bench_function(id.clone(), |b| {
        b.iter_batched_ref(
            || sealed().clone(),
            |buf| open_chunks(&key, buf, frame, |_| {}),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("sha384");
    configure(&mut g, size);
    g.bench_function(id.clone(), |b| {
        b.iter(|| {
            let mut h = digest::Context::new(&digest::SHA384);
            for chunk in sealed().chunks(frame + TAG_LEN) {
                h.update(chunk);
            }
            black_box(h.finish())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ring-seal+sha384");
    configure(&mut g, size);
    g.bench_function(id.clone(), |b| {
        b.iter(|| {
            let mut h = digest::Context::new(&digest::SHA384);
            seal_chunks(&key, &mut work, frame, |bytes| h.update(bytes));
            black_box(h.finish())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sha384+ring-open");
    configure(&mut g, size);
    g.bench_function(id, |b| {
        b.iter_batched_ref(
            || sealed().clone(),
            |buf| {
                let mut h = digest::Context::new(&digest::SHA384);
                open_chunks(&key, buf, frame, |bytes| h.update(bytes));
                black_box(h.finish())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn esdk_cases(c: &mut Criterion, plaintext: &[u8], frame: usize, suite_id: u16) {
    esdk_cases_threads(c, plaintext, frame, suite_id, 1);
}

/// Threads of the parallel-frame cases.
const THREADS: usize = 2;

/// Whether the parallel-frame cases run for a message size and frame length.
fn wanted_threads(size: usize, frame: usize) -> bool {
    size >= 64 * MIB && frame <= 64 * KIB
}

/// The esdk cases with `threads` threads: all four with one thread; the Write/Read fronts
/// only with more.
fn esdk_cases_threads(
    c: &mut Criterion,
    plaintext: &[u8],
    frame: usize,
    suite_id: u16,
    threads: usize,
) {
    let size = plaintext.len();
    let suite = AlgorithmSuite::from_id(suite_id).expect("known suite");
    let policy = policy_for(suite);
    let wrapping = WrappingKey::new(vec![7u8; 32]).expect("wrapping key");
    let keyring = Arc::new(RawAesKeyring::new("bench", "key", wrapping).expect("keyring"));
    let mut options = EncryptOptions {
        algorithm_suite: Some(suite),
        frame_length: frame as u32,
        commitment_policy: policy,
        threads,
        ..EncryptOptions::default()
    };
    options.encryption_context.insert("purpose", "bench");
    let dec_options = DecryptOptions {
        commitment_policy: policy,
        threads,
        ..DecryptOptions::default()
    };
    let cmm = DefaultCmm::new(keyring.clone());
    let shared_cmm: Arc<dyn CryptoMaterialsManager> = Arc::new(DefaultCmm::new(keyring.clone()));
    // Made on first use only, so that a filtered run does not pay for skipped cases.
    let message = OnceCell::new();
    let message = || {
        message
            .get_or_init(|| encrypt(keyring.clone(), plaintext, options.clone()).expect("encrypt"))
    };
    let id = if threads == 1 {
        BenchmarkId::new(format!("0x{suite_id:04x}-f{frame}"), size)
    } else {
        BenchmarkId::new(format!("0x{suite_id:04x}-f{frame}-t{threads}"), size)
    };

    if threads == 1 {
        let mut g = c.benchmark_group("encrypt-oneshot");
        configure(&mut g, size);
        g.bench_function(id.clone(), |b| {
            b.iter(|| encrypt(keyring.clone(), plaintext, options.clone()).expect("encrypt"))
        });
        g.finish();
    }

    let mut out = Vec::new();
    let mut g = c.benchmark_group("encrypt-stream");
    configure(&mut g, size);
    g.bench_function(id.clone(), |b| {
        out.reserve(message().len() + 4 * KIB);
        b.iter(|| {
            out.clear();
            let enc = Encryptor::new(&cmm, options.clone()).expect("encryptor");
            let mut w = EncryptingWriter::new(&mut out, enc);
            for chunk in plaintext.chunks(IO_CHUNK) {
                w.write_all(chunk).expect("write");
            }
            w.finish().expect("finish");
            assert_eq!(out.len(), message().len());
        })
    });
    g.finish();

    if threads == 1 {
        let mut g = c.benchmark_group("decrypt-oneshot");
        configure(&mut g, size);
        g.bench_function(id.clone(), |b| {
            b.iter(|| {
                let d = decrypt(keyring.clone(), message(), dec_options.clone()).expect("decrypt");
                assert_eq!(d.plaintext.len(), size);
                d
            })
        });
        g.finish();
    }

    let mut buf = vec![0u8; IO_CHUNK];
    let mut g = c.benchmark_group("decrypt-stream");
    configure(&mut g, size);
    g.bench_function(id, |b| {
        b.iter(|| {
            let dec = Decryptor::new(shared_cmm.clone(), dec_options.clone());
            let mut r = DecryptingReader::new(&message()[..], dec);
            let mut total = 0;
            loop {
                let n = r.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                black_box(&buf[..n]);
                total += n;
            }
            assert_eq!(total, size);
        })
    });
    g.finish();
}

fn throughput(c: &mut Criterion) {
    for size in SIZES {
        let plaintext = filler(size);
        for frame in FRAMES {
            if !wanted(None, size, frame) {
                continue;
            }
            baselines(c, &plaintext, frame);
            for suite in SUITES {
                if wanted(Some(suite), size, frame) {
                    esdk_cases(c, &plaintext, frame, suite);
                }
                if wanted_threads(size, frame) && suite != 0x0178 {
                    esdk_cases_threads(c, &plaintext, frame, suite, THREADS);
                }
            }
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    throughput(&mut c);
    c.final_summary();
}
