//! Shared pieces of the fuzz targets: the fixed keyring, the fuzzer-chosen chunking, and
//! the two ways of driving a decryption (sans-IO and the `Read` front).
//!
//! Input layout of the decrypt targets: two control bytes, then the message.
//! * byte 0: how the message is cut into input chunks (0: all at once; otherwise a seed
//!   for pseudo-random chunk sizes, with a size class picked by the byte too);
//! * byte 1: the output buffer size (low 3 bits) and target-specific flags (high bits).

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

use esdk::{
    DecryptOptions, DecryptingReader, Decryptor, DefaultCmm, Error, HeaderBody, Keyring,
    MultiKeyring, RawAesKeyring, WrappingKey,
};

/// The key of the messages generated for the seed corpus (`tests/sweeps.rs`
/// `write_fuzz_seeds`, with the key of `tests/forge`): namespace `forge`, name `k`.
pub const SEED_KEY: [u8; 32] = [0x5A; 32];

/// The bytes 00..09 10..19 20..29 30 31 of the test vectors' `aes-256` key (and its first
/// 16 bytes, the `aes-128` key).
fn vector_key(len: usize) -> Vec<u8> {
    (0u8..32)
        .map(|i| (i / 10) * 16 + i % 10)
        .take(len)
        .collect()
}

fn raw(ns: &str, name: &str, key: Vec<u8>) -> Arc<dyn Keyring> {
    Arc::new(RawAesKeyring::new(ns, name, WrappingKey::new(key).unwrap()).unwrap())
}

/// The raw AES wrapping keys of the seeds, generator first: (namespace, name, key). The
/// generated messages use the first; the others are the raw-AES test vectors of the Dafny
/// and .NET sets and the C SDK's raw-AES commitment message.
pub fn wrapping_keys() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("forge", "k", SEED_KEY.to_vec()),
        ("aws-raw-vectors-persistant", "aes-256", vector_key(32)),
        (
            "aws-raw-vectors-persistent-aes-256",
            "aes-256",
            vector_key(32),
        ),
        (
            "aws-raw-vectors-persistent-aes-128",
            "aes-128",
            vector_key(16),
        ),
        ("ProviderName", "KeyId", vec![0; 32]),
    ]
}

/// One keyring for every seed: a multi-keyring over [`wrapping_keys`].
pub fn keyring() -> Arc<dyn Keyring> {
    static K: OnceLock<Arc<dyn Keyring>> = OnceLock::new();
    K.get_or_init(|| {
        let mut keys = wrapping_keys()
            .into_iter()
            .map(|(ns, name, key)| raw(ns, name, key));
        let generator = keys.next();
        Arc::new(MultiKeyring::new(generator, keys.collect()).unwrap())
    })
    .clone()
}

/// How the input is fed and the output drained.
#[derive(Debug, Clone)]
pub struct Plan {
    state: u32,
    max_chunk: usize,
    whole: bool,
    /// The output buffer size.
    pub out: usize,
    /// The high bits of the second control byte, for the target to use.
    pub flags: u8,
}

impl Plan {
    /// Splits the two control bytes off the input.
    pub fn split(data: &[u8]) -> Option<(Plan, &[u8])> {
        if data.len() < 2 {
            return None;
        }
        let (c0, c1) = (data[0], data[1]);
        let plan = Plan {
            state: 0x9E37_79B9 ^ u32::from(c0),
            max_chunk: [1, 2, 5, 17, 64, 300, 4096, 70_000][usize::from(c0 >> 5)],
            whole: c0 == 0,
            out: [1, 2, 7, 33, 100, 4096, 65_536, 200_000][usize::from(c1 & 7)],
            flags: c1 >> 3,
        };
        Some((plan, &data[2..]))
    }

    /// The size of the next input chunk (at least 1).
    pub fn next_chunk(&mut self) -> usize {
        if self.whole {
            return usize::MAX;
        }
        // xorshift32
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        1 + (x as usize) % self.max_chunk
    }
}

/// Decrypts with the sans-IO [`Decryptor`], feeding input in the plan's chunks and draining
/// into the plan's output buffer. Panics if the decryptor stalls or breaks its contract.
pub fn sans_io(msg: &[u8], plan: &mut Plan, options: DecryptOptions) -> Result<Vec<u8>, Error> {
    let mut dec = Decryptor::new(Arc::new(DefaultCmm::new(keyring())), options);
    let mut out = vec![0u8; plan.out];
    let mut plaintext = Vec::new();
    let mut pos: usize = 0;
    let mut ended = false;
    let mut chunk = 0;
    loop {
        if chunk == 0 {
            chunk = plan.next_chunk();
        }
        let end = pos.saturating_add(chunk).min(msg.len());
        let input = &msg[pos..end];
        if input.is_empty() && !ended {
            dec.end_input();
            ended = true;
        }
        let p = dec.process(input, &mut out)?;
        assert!(p.consumed <= input.len() && p.produced <= out.len());
        plaintext.extend_from_slice(&out[..p.produced]);
        pos += p.consumed;
        chunk = chunk.saturating_sub(p.consumed);
        if dec.is_done() {
            assert_eq!(pos, msg.len(), "done before the end of the input");
            check_done(&dec, msg);
            // A finished decryptor stays finished and takes nothing more.
            assert_eq!(dec.process(&[], &mut out).map(|p| p.produced), Ok(0));
            return Ok(plaintext);
        }
        assert!(
            p.consumed > 0 || p.produced > 0,
            "decryptor stalled: pos {pos} of {}, input {} bytes, ended {ended}",
            msg.len(),
            input.len()
        );
    }
}

/// What must hold once a decryptor reports the message done.
fn check_done(dec: &Decryptor, msg: &[u8]) {
    let header = dec.header().expect("done without a header");
    let (parsed, _) = HeaderBody::parse(msg, None).expect("done, yet the header does not parse");
    assert_eq!(header, &parsed);
    if header.suite.signature().is_some() {
        assert!(dec.signature_verified(), "signed message done unverified");
    }
}

/// A reader that returns the plan's chunk sizes, with an occasional `Interrupted`.
pub struct ChunkedReader<'a> {
    data: &'a [u8],
    plan: Plan,
    interrupt: bool,
    reads: usize,
}

impl<'a> ChunkedReader<'a> {
    /// Reads `data` in the plan's chunks; every 5th read is `Interrupted` if `interrupt`.
    pub fn new(data: &'a [u8], plan: Plan, interrupt: bool) -> Self {
        ChunkedReader {
            data,
            plan,
            interrupt,
            reads: 0,
        }
    }
}

impl Read for ChunkedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupt && self.reads % 5 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.plan.next_chunk().min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Decrypts through [`DecryptingReader`]; returns the plaintext or the error, and the bytes
/// handed out before an error.
pub fn reader(
    msg: &[u8],
    plan: &Plan,
    options: DecryptOptions,
    interrupt: bool,
) -> (Result<Vec<u8>, Error>, usize) {
    let dec = Decryptor::new(Arc::new(DefaultCmm::new(keyring())), options);
    let mut r = DecryptingReader::new(ChunkedReader::new(msg, plan.clone(), interrupt), dec);
    let mut out = vec![0u8; plan.out];
    let mut plaintext = Vec::new();
    loop {
        match r.read(&mut out) {
            Ok(0) => {
                assert!(r.decryptor().is_done(), "read returned 0 before the end");
                check_done(r.decryptor(), msg);
                return (Ok(plaintext), 0);
            }
            Ok(n) => plaintext.extend_from_slice(&out[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let inner = Error::from_io(&e)
                    .cloned()
                    .unwrap_or_else(|| panic!("an I/O error without an esdk error: {e}"));
                // A failed reader stays failed.
                assert!(r.read(&mut out).is_err(), "read succeeded after an error");
                return (Err(inner), plaintext.len());
            }
        }
    }
}
