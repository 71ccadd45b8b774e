//! Streaming memory does not grow with the message: a 1,000-frame message makes exactly as
//! many heap allocations as a 10-frame one, for the sans-IO [`Encryptor`] / [`Decryptor`]
//! driven through `process` with caller buffers and for the Write/Read fronts, with an
//! unsigned (0x0478) and a signed (0x0578) suite.
//!
//! A counting global allocator (this test binary only) counts, per thread, the calls to
//! `alloc`, `alloc_zeroed` and `realloc` made while one whole message (materials, header,
//! every frame, footer) is written or read. Each count is the least of twelve runs: to give
//! the fixed signature length the signer often (in about a third of signatures) takes the
//! other valid `s` (n - s), which allocates three more times, and rarely re-signs; that is
//! a per-message cost, not a per-frame one. (With three runs, the least count of the
//! 10-frame and the 1,000-frame message differed in a few percent of test runs.)

// The `GlobalAlloc` impl below needs `unsafe`; the library itself forbids unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::Arc;

use esdk::{
    encrypt, AlgorithmSuite, CryptoMaterialsManager, DecryptOptions, DecryptingReader, Decryptor,
    DefaultCmm, EncryptOptions, EncryptingWriter, Encryptor, RawAesKeyring, WrappingKey,
};

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting. Const-initialized thread-locals without
/// destructors never allocate, so this cannot recurse into the allocator.
fn note_allocation() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
        }
    });
}

/// `System`, counting allocations.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System` and returns its result,
// so `System`'s implementation upholds the `GlobalAlloc` contract; the only other work is
// `note_allocation`, which neither allocates nor touches the memory handled.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's guarantees for `alloc` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's guarantees for `alloc_zeroed` are passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's guarantees for `realloc` are passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees for `dealloc` are passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread makes while `f` runs.
fn allocations_in(f: impl FnOnce()) -> u64 {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    COUNT.with(|n| n.get())
}

const FRAME: usize = 512;
/// Caller buffer sizes, deliberately not multiples of the frame length.
const IN_CHUNK: usize = 1000;
const OUT_CHUNK: usize = 700;
const RUNS: usize = 12;

#[derive(Debug, Clone, Copy)]
enum Path {
    /// `Encryptor::process` with caller input and output buffers.
    EncryptProcess,
    /// `Decryptor::process` with caller input and output buffers.
    DecryptProcess,
    /// `EncryptingWriter` over a writer with room reserved.
    EncryptWriter,
    /// `DecryptingReader` over a byte slice.
    DecryptReader,
}

struct Setup {
    keyring: Arc<RawAesKeyring>,
    options: EncryptOptions,
    plaintext: Vec<u8>,
    message: Vec<u8>,
}

/// A message of `frames` frames: `frames - 1` full ones and a half-full final frame.
fn setup(suite_id: u16, frames: usize) -> Setup {
    let suite = AlgorithmSuite::from_id(suite_id).expect("known suite");
    let wrapping = WrappingKey::new(vec![9u8; 32]).expect("wrapping key");
    let keyring = Arc::new(RawAesKeyring::new("alloc", "key", wrapping).expect("keyring"));
    let mut options = EncryptOptions {
        algorithm_suite: Some(suite),
        frame_length: FRAME as u32,
        ..EncryptOptions::default()
    };
    options.encryption_context.insert("purpose", "alloc-test");
    let len = (frames - 1) * FRAME + FRAME / 2;
    let plaintext: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let message = encrypt(keyring.clone(), &plaintext, options.clone()).expect("encrypt");
    Setup {
        keyring,
        options,
        plaintext,
        message,
    }
}

/// Writes or reads the whole message once along `path`; returns the allocations made.
fn one_message(s: &Setup, path: Path) -> u64 {
    let encrypt_cmm = DefaultCmm::new(s.keyring.clone());
    let decrypt_cmm: Arc<dyn CryptoMaterialsManager> = Arc::new(DefaultCmm::new(s.keyring.clone()));
    // Room for the whole message, reserved outside the count: the sink never grows.
    let mut sink: Vec<u8> = Vec::with_capacity(s.message.len() + 4096);
    let mut out = [0u8; OUT_CHUNK];
    let n = allocations_in(|| match path {
        Path::EncryptProcess => {
            let mut enc = Encryptor::new(&encrypt_cmm, s.options.clone()).expect("encryptor");
            let mut rest = &s.plaintext[..];
            let mut idle = 0;
            while !enc.is_done() {
                if rest.is_empty() {
                    enc.end_input();
                }
                let take = rest.len().min(IN_CHUNK);
                let p = enc.process(&rest[..take], &mut out).expect("process");
                rest = &rest[p.consumed..];
                sink.extend_from_slice(&out[..p.produced]);
                idle = if p.consumed + p.produced == 0 {
                    idle + 1
                } else {
                    0
                };
                assert!(idle < 3, "encryptor stalled");
            }
        }
        Path::EncryptWriter => {
            let enc = Encryptor::new(&encrypt_cmm, s.options.clone()).expect("encryptor");
            let mut w = EncryptingWriter::new(&mut sink, enc);
            for chunk in s.plaintext.chunks(IN_CHUNK) {
                w.write_all(chunk).expect("write");
            }
            w.finish().expect("finish");
        }
        Path::DecryptProcess => {
            let mut dec = Decryptor::new(decrypt_cmm.clone(), DecryptOptions::default());
            let mut rest = &s.message[..];
            let mut done = 0;
            let mut idle = 0;
            while !dec.is_done() {
                if rest.is_empty() {
                    dec.end_input();
                }
                let take = rest.len().min(IN_CHUNK);
                let p = dec.process(&rest[..take], &mut out).expect("process");
                rest = &rest[p.consumed..];
                assert!(out[..p.produced] == s.plaintext[done..done + p.produced]);
                done += p.produced;
                idle = if p.consumed + p.produced == 0 {
                    idle + 1
                } else {
                    0
                };
                assert!(idle < 3, "decryptor stalled");
            }
            assert_eq!(done, s.plaintext.len());
        }
        Path::DecryptReader => {
            let dec = Decryptor::new(decrypt_cmm.clone(), DecryptOptions::default());
            let mut r = DecryptingReader::new(&s.message[..], dec);
            let mut done = 0;
            loop {
                let k = r.read(&mut out).expect("read");
                if k == 0 {
                    break;
                }
                assert!(out[..k] == s.plaintext[done..done + k]);
                done += k;
            }
            assert_eq!(done, s.plaintext.len());
        }
    });
    if matches!(path, Path::EncryptProcess | Path::EncryptWriter) {
        // The message written must be a good one (checked outside the count).
        let d =
            esdk::decrypt(s.keyring.clone(), &sink, DecryptOptions::default()).expect("decrypt");
        assert!(
            d.plaintext == s.plaintext,
            "encrypted message does not round-trip"
        );
    }
    n
}

/// The least allocation count of a few runs, after one warm-up run (one-time initialization
/// in the libraries is not a per-message cost).
fn allocations(s: &Setup, path: Path) -> u64 {
    one_message(s, path);
    (0..RUNS).map(|_| one_message(s, path)).min().unwrap_or(0)
}

fn check(path: Path, suite_id: u16) {
    let small = allocations(&setup(suite_id, 10), path);
    let large = allocations(&setup(suite_id, 1000), path);
    eprintln!("{path:?} {suite_id:#06x}: {small} allocations (10 frames), {large} (1,000 frames)");
    assert!(small > 0, "the counting allocator counted nothing");
    assert_eq!(
        large,
        small,
        "{path:?} with suite {suite_id:#06x}: {large} allocations for a 1,000-frame message, \
         {small} for a 10-frame one ({:+.2} per extra frame)",
        (large as f64 - small as f64) / 990.0
    );
}

#[test]
fn encryptor_process_unsigned() {
    check(Path::EncryptProcess, 0x0478);
}

#[test]
fn encryptor_process_signed() {
    check(Path::EncryptProcess, 0x0578);
}

#[test]
fn decryptor_process_unsigned() {
    check(Path::DecryptProcess, 0x0478);
}

#[test]
fn decryptor_process_signed() {
    check(Path::DecryptProcess, 0x0578);
}

#[test]
fn encrypting_writer_unsigned() {
    check(Path::EncryptWriter, 0x0478);
}

#[test]
fn encrypting_writer_signed() {
    check(Path::EncryptWriter, 0x0578);
}

#[test]
fn decrypting_reader_unsigned() {
    check(Path::DecryptReader, 0x0478);
}

#[test]
fn decrypting_reader_signed() {
    check(Path::DecryptReader, 0x0578);
}
