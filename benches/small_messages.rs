//! Messages per second for 1 KiB messages under a raw AES keyring, through the one-shot API:
//! 0x0478 (unsigned) and 0x0578 (signed, ECDSA P-384). Every message is a whole encrypt
//! (materials, key derivation, header, one frame; a fresh signing key and a signature for the
//! signed suite) or a whole decrypt (unwrap, derivation, commitment check, verification).
//!
//! Run it through `scripts/bench-report`, or `cargo bench --bench small_messages`.
//! Ids: group `messages-1KiB`, function `encrypt-0xSUITE` / `decrypt-0xSUITE`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use esdk::{
    decrypt, encrypt, AlgorithmSuite, DecryptOptions, EncryptOptions, RawAesKeyring, WrappingKey,
};

const MESSAGE_LEN: usize = 1024;

fn small_messages(c: &mut Criterion) {
    let wrapping = WrappingKey::new(vec![7u8; 32]).expect("wrapping key");
    let keyring = Arc::new(RawAesKeyring::new("bench", "key", wrapping).expect("keyring"));
    let plaintext: Vec<u8> = (0..MESSAGE_LEN).map(|i| (i * 31 % 251) as u8).collect();
    let mut g = c.benchmark_group("messages-1KiB");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(300));
    g.measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    for suite_id in [0x0478u16, 0x0578] {
        let suite = AlgorithmSuite::from_id(suite_id).expect("known suite");
        let mut options = EncryptOptions {
            algorithm_suite: Some(suite),
            ..EncryptOptions::default()
        };
        options.encryption_context.insert("purpose", "bench");
        let message = encrypt(keyring.clone(), &plaintext, options.clone()).expect("encrypt");
        g.bench_function(format!("encrypt-0x{suite_id:04x}"), |b| {
            b.iter(|| encrypt(keyring.clone(), &plaintext, options.clone()).expect("encrypt"))
        });
        g.bench_function(format!("decrypt-0x{suite_id:04x}"), |b| {
            b.iter(|| {
                decrypt(keyring.clone(), &message, DecryptOptions::default()).expect("decrypt")
            })
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    small_messages(&mut c);
    c.final_summary();
}
