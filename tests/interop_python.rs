//! Interoperability with the Python AWS Encryption SDK (aws-encryption-sdk 4.0.7), both
//! directions, through the batch driver `tests/interop/peer.py` and the venv built by
//! `scripts/peer-venv`.
//!
//! * esdk → Python: every suite, frame lengths 1, 100, 128, 4096 and 65536, plaintexts of
//!   0, 1, fl-1, fl, fl+1 and 3*fl+7 bytes, under a multi-keyring of two raw AES keys
//!   (different sizes and namespaces); Python decrypts every message with each key alone.
//! * Python → esdk: the same suites, sizes and contexts at the frame lengths Python can
//!   write (128, 4096, 65536), both keys; we decrypt every message with each key alone and
//!   check the header (suite, frame length, stored context, data keys).
//! * Negative: one flipped bit in a frame must fail on the other side.
//! * Wrapping-key matrix, both directions: every suite x {raw AES-128, AES-192, AES-256,
//!   raw RSA with PKCS#1 v1.5, OAEP-SHA1, OAEP-SHA256, OAEP-SHA384, OAEP-SHA512} x frame
//!   lengths 128 and 4096 x plaintexts of 0, 1 and fl+1 bytes, under a non-ASCII context
//!   (528 messages each way; RSA uses the 2048-bit test pairs of `tests/data/rsa`, public
//!   key to encrypt, private key to decrypt), plus one message per suite under AES-256 and
//!   two RSA keys together, decrypted with each key alone, and one wrong-padding case per
//!   RSA padding that must fail.
//!
//! The encryption contexts use an empty key, Cyrillic, characters outside the BMP and
//! characters in U+E000..U+FFFF (whose order differs between UTF-8 and UTF-16).
//!
//! Nothing is skipped: if the Python peer cannot be built, the tests fail with the
//! script's stderr.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use esdk::format::context::PUBLIC_KEY_FIELD;
use esdk::format::header::{HeaderAuth, HeaderBody};
use esdk::{
    decrypt, encrypt, AlgorithmSuite, CommitmentPolicy, DecryptOptions, EncryptOptions,
    EncryptionContext, Error, Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding,
    RsaPrivateKey, RsaPublicKey, WrappingKey,
};
use serde_json::{json, Value};

/// Frame lengths we encrypt with (Python decrypts them).
const OUR_FRAME_LENGTHS: [u32; 5] = [1, 100, 128, 4096, 65536];
/// Frame lengths Python encrypts with (it only writes multiples of 128).
const PYTHON_FRAME_LENGTHS: [u32; 3] = [128, 4096, 65536];
/// The frame length and size of the messages that get a flipped bit.
const TAMPER_FRAME_LENGTH: u32 = 128;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// One raw AES wrapping key, known to both sides.
struct Key {
    handle: &'static str,
    namespace: &'static str,
    name: &'static str,
    bytes: Vec<u8>,
}

impl Key {
    fn keyring(&self) -> Arc<RawAesKeyring> {
        Arc::new(
            RawAesKeyring::new(
                self.namespace,
                self.name,
                WrappingKey::new(self.bytes.clone()).unwrap(),
            )
            .unwrap(),
        )
    }

    fn manifest_entry(&self) -> Value {
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "key_b64": base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        })
    }
}

/// Key A (AES-256) and key B (AES-192), in different namespaces.
fn keys() -> (Key, Key) {
    (
        Key {
            handle: "a",
            namespace: "esdk-interop-namespace-a",
            name: "wrapping-key-a",
            bytes: prng_bytes(0xA, 32),
        },
        Key {
            handle: "b",
            namespace: "esdk-interop-namespace-b",
            name: "wrapping-key-b",
            bytes: prng_bytes(0xB, 24),
        },
    )
}

fn manifest_keys(a: &Key, b: &Key) -> Value {
    json!({ a.handle: a.manifest_entry(), b.handle: b.manifest_entry() })
}

/// Deterministic pseudo-random bytes (SplitMix64).
fn prng_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The encryption contexts, used in rotation.
fn contexts() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        // Everything at once: empty key, Cyrillic, outside the BMP, U+E000..U+FFFF.
        vec![
            ("", "the empty key"),
            ("ascii", "plain value"),
            ("ключ", "значение"),
            ("\u{E000}", "private use area"),
            ("\u{FFFD}", "replacement \u{FFFD} character"),
            ("😀", "grinning face"),
            ("𝄞", "G clef 𝄞"),
            ("mixed-ключ-😀-\u{E000}", ""),
        ],
        vec![],
        // Few pairs whose UTF-8 order (U+E000, U+FFFD < U+1D11E < U+1F600) differs from
        // their UTF-16 order (surrogates D834/D83D sort before E000).
        vec![
            ("😀", "b"),
            ("\u{FFFD}", "c"),
            ("\u{E000}", "a"),
            ("𝄞", "d"),
            ("", ""),
        ],
    ]
}

fn context_of(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().map(|&(k, v)| (k, v)).collect()
}

fn context_json(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

/// 0, 1, fl-1, fl, fl+1 and several frames, without duplicates (frame length 1 has 4).
fn sizes(frame_length: u32) -> Vec<usize> {
    let fl = frame_length as usize;
    let mut s = vec![0, 1, fl - 1, fl, fl + 1, 3 * fl + 7];
    s.sort_unstable();
    s.dedup();
    s
}

fn encrypt_policy(suite: &AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

fn decrypt_policy(suite: &AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::RequireEncryptAllowDecrypt
    }
}

fn hex_id(suite: &AlgorithmSuite) -> String {
    format!("0x{:04x}", suite.id())
}

/// One (suite, frame length, size, context) combination.
struct Case {
    id: String,
    suite: &'static AlgorithmSuite,
    frame_length: u32,
    plaintext: Vec<u8>,
    context: Vec<(&'static str, &'static str)>,
}

/// Every suite x frame length x size. The context rotates with (suite, frame, size) so each
/// (suite, frame length) pair meets all three contexts.
fn cases(frame_lengths: &[u32]) -> Vec<Case> {
    let contexts = contexts();
    let mut out = Vec::new();
    for (si, suite) in AlgorithmSuite::ALL.into_iter().enumerate() {
        for (fi, &frame_length) in frame_lengths.iter().enumerate() {
            for (zi, size) in sizes(frame_length).into_iter().enumerate() {
                let seed =
                    (u64::from(suite.id()) << 40) | (u64::from(frame_length) << 8) | zi as u64;
                out.push(Case {
                    id: format!("{}-fl{}-len{}", hex_id(suite), frame_length, size),
                    suite,
                    frame_length,
                    plaintext: prng_bytes(seed, size),
                    context: contexts[(si + fi + zi) % contexts.len()].clone(),
                });
            }
        }
    }
    out
}

/// The offsets of a bit in the first frame's ciphertext and of one in its tag. The message
/// must start with a regular frame (plaintext longer than the frame length).
fn first_frame_offsets(message: &[u8]) -> [usize; 2] {
    let (header, len) = HeaderBody::parse(message, None).unwrap_or_else(|e| panic!("{e:?}"));
    let frame = len + HeaderAuth::len(header.version());
    let fl = header.frame_length as usize;
    let content = frame + 4 + 12;
    [content + fl / 2, content + fl + 15]
}

fn flip(message: &[u8], offset: usize) -> Vec<u8> {
    let mut m = message.to_vec();
    m[offset] ^= 0x10;
    m
}

// ---------------------------------------------------------------------------------------
// The Python peer
// ---------------------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The python of the peer venv; fails (never skips) if `scripts/peer-venv` fails.
fn peer_python() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo().join("scripts/peer-venv"))
        .current_dir(repo())
        .output()
        .expect("cannot run bash scripts/peer-venv");
    assert!(
        out.status.success(),
        "scripts/peer-venv failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let python = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect("scripts/peer-venv printed no python path")
        .trim()
        .to_owned();
    assert!(Path::new(&python).exists(), "no python at {python}");
    PathBuf::from(python)
}

/// Runs one manifest through `peer.py`; returns each case's `Ok(())` or `Err(error)`.
fn run_peer(dir: &Path, keys: Value, cases: Vec<Value>) -> HashMap<String, Result<(), String>> {
    let python = peer_python();
    let count = cases.len();
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec(&json!({ "keys": keys, "cases": cases })).unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(&python)
        .arg(repo().join("tests/interop/peer.py"))
        .arg(&manifest)
        .output()
        .expect("cannot run peer.py");
    println!("peer.py ran {count} cases in {:.1?}", started.elapsed());
    assert!(
        out.status.success(),
        "peer.py failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "peer.py output is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = report["results"].as_array().expect("no results array");
    assert_eq!(
        results.len(),
        count,
        "peer.py returned a wrong number of results"
    );
    let mut map = HashMap::new();
    for r in results {
        let id = r["id"].as_str().unwrap().to_owned();
        let outcome = if r["ok"] == Value::Bool(true) {
            Ok(())
        } else {
            Err(r["error"].as_str().unwrap_or("<no error text>").to_owned())
        };
        assert!(
            map.insert(id.clone(), outcome).is_none(),
            "duplicate id {id}"
        );
    }
    map
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------
// Direction 1: esdk encrypts, Python decrypts
// ---------------------------------------------------------------------------------------

#[test]
fn esdk_messages_decrypt_in_python() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = keys();
    let multi: Arc<dyn Keyring> =
        Arc::new(MultiKeyring::new(Some(a.keyring()), vec![b.keyring()]).unwrap());
    let cases = cases(&OUR_FRAME_LENGTHS);

    let mut manifest = Vec::new();
    let mut expected_plaintext = BTreeMap::new();
    let mut tampered = Vec::new();
    for case in &cases {
        let mut options = EncryptOptions {
            algorithm_suite: Some(case.suite),
            frame_length: case.frame_length,
            commitment_policy: encrypt_policy(case.suite),
            ..Default::default()
        };
        options.encryption_context = context_of(&case.context);
        let message = encrypt(multi.clone(), &case.plaintext, options)
            .unwrap_or_else(|e| panic!("{}: esdk encrypt failed: {e:?}", case.id));
        let input = dir.path().join(format!("{}.esdk", case.id));
        std::fs::write(&input, &message).unwrap();
        for key in [&a, &b] {
            let id = format!("{}-key-{}", case.id, key.handle);
            let output = dir.path().join(format!("{id}.plain"));
            manifest.push(json!({
                "id": id,
                "op": "decrypt",
                "input": path_str(&input),
                "output": path_str(&output),
                "keys": [key.handle],
                "context": context_json(&case.context),
                "commitment_policy": decrypt_policy(case.suite).name(),
            }));
            expected_plaintext.insert(id, (output, &case.plaintext));
        }
        if case.frame_length == TAMPER_FRAME_LENGTH
            && case.plaintext.len() == 3 * TAMPER_FRAME_LENGTH as usize + 7
        {
            for (what, offset) in ["content", "tag"]
                .into_iter()
                .zip(first_frame_offsets(&message))
            {
                let bad = flip(&message, offset);
                // Our own library refuses it too (sanity check of the tampering).
                let ours = decrypt(
                    a.keyring(),
                    &bad,
                    DecryptOptions {
                        commitment_policy: decrypt_policy(case.suite),
                        ..Default::default()
                    },
                );
                assert!(
                    matches!(ours, Err(Error::AuthenticationFailed)),
                    "{}: esdk accepted its own tampered message: {ours:?}",
                    case.id
                );
                let id = format!("{}-flipped-{what}", case.id);
                let input = dir.path().join(format!("{id}.esdk"));
                std::fs::write(&input, &bad).unwrap();
                let output = dir.path().join(format!("{id}.plain"));
                manifest.push(json!({
                    "id": id,
                    "op": "decrypt",
                    "input": path_str(&input),
                    "output": path_str(&output),
                    "keys": [a.handle],
                    "commitment_policy": decrypt_policy(case.suite).name(),
                }));
                tampered.push((id, output));
            }
        }
    }
    let encrypted_in = started.elapsed();

    let positive = expected_plaintext.len();
    let negative = tampered.len();
    println!(
        "esdk -> python: {} messages, {positive} decrypt cases, {negative} tampered cases \
         (esdk encrypt took {encrypted_in:.1?})",
        cases.len()
    );
    // 11 suites x (4 sizes at frame length 1 + 6 sizes at each of 4 other lengths).
    assert_eq!(cases.len(), 11 * (4 + 4 * 6));
    assert_eq!(cases.len(), 308);
    assert_eq!(positive, 616);
    assert_eq!(negative, 22);

    let results = run_peer(dir.path(), manifest_keys(&a, &b), manifest);

    let mut failures = Vec::new();
    for (id, (output, plaintext)) in &expected_plaintext {
        match &results[id] {
            Ok(()) => {
                let got = std::fs::read(output).unwrap();
                if &got != *plaintext {
                    failures.push(format!(
                        "{id}: Python decrypted {} bytes that differ from the {} plaintext bytes",
                        got.len(),
                        plaintext.len()
                    ));
                }
            }
            Err(e) => failures.push(format!("{id}: Python failed: {e}")),
        }
    }
    for (id, output) in &tampered {
        match &results[id] {
            Ok(()) => failures.push(format!("{id}: Python accepted a tampered message")),
            Err(e) => {
                assert!(!output.exists(), "{id}: output left behind");
                if !e.contains("InvalidTag") {
                    failures.push(format!("{id}: Python failed for another reason: {e}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} Python cases failed:\n{}",
        failures.len(),
        positive + negative,
        failures.join("\n")
    );
    println!(
        "esdk -> python: {} cases passed in {:.1?}",
        positive + negative,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Direction 2: Python encrypts, esdk decrypts
// ---------------------------------------------------------------------------------------

#[test]
fn python_messages_decrypt_in_esdk() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = keys();
    let cases = cases(&PYTHON_FRAME_LENGTHS);

    let mut manifest = Vec::new();
    for case in &cases {
        let input = dir.path().join(format!("{}.plain", case.id));
        std::fs::write(&input, &case.plaintext).unwrap();
        manifest.push(json!({
            "id": case.id,
            "op": "encrypt",
            "input": path_str(&input),
            "output": path_str(&dir.path().join(format!("{}.esdk", case.id))),
            "keys": [a.handle, b.handle],
            "algorithm": hex_id(case.suite),
            "frame_length": case.frame_length,
            "context": context_json(&case.context),
            "commitment_policy": encrypt_policy(case.suite).name(),
        }));
    }
    // 11 suites x 3 frame lengths x 6 sizes.
    assert_eq!(manifest.len(), 198);
    let results = run_peer(dir.path(), manifest_keys(&a, &b), manifest);
    let python_done = started.elapsed();

    let keyrings = [(a.handle, a.keyring()), (b.handle, b.keyring())];
    let mut failures = Vec::new();
    let mut decrypted = 0usize;
    let mut tampered = 0usize;
    for case in &cases {
        if let Err(e) = &results[&case.id] {
            failures.push(format!("{}: Python encrypt failed: {e}", case.id));
            continue;
        }
        let message = std::fs::read(dir.path().join(format!("{}.esdk", case.id))).unwrap();
        let options = || DecryptOptions {
            commitment_policy: decrypt_policy(case.suite),
            ..Default::default()
        };

        // Our serializer reproduces Python's header body byte for byte (same canonical
        // context order, same data key layout).
        match HeaderBody::parse(&message, None) {
            Ok((header, len)) => match header.serialize() {
                Ok(bytes) if bytes == message[..len] => {}
                Ok(bytes) => failures.push(format!(
                    "{}: header re-serializes differently:\n python {:02x?}\n esdk   {:02x?}",
                    case.id,
                    &message[..len],
                    bytes
                )),
                Err(e) => failures.push(format!("{}: header re-serialize: {e:?}", case.id)),
            },
            Err(e) => failures.push(format!("{}: header parse: {e:?}", case.id)),
        }

        for (handle, keyring) in &keyrings {
            decrypted += 1;
            let what = format!("{} key {handle}", case.id);
            let d = match decrypt(keyring.clone(), &message, options()) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{what}: esdk decrypt failed: {e:?}"));
                    continue;
                }
            };
            if d.plaintext != case.plaintext {
                failures.push(format!(
                    "{what}: plaintext differs ({} bytes, expected {})",
                    d.plaintext.len(),
                    case.plaintext.len()
                ));
            }
            let h = &d.header;
            if h.suite.id() != case.suite.id() {
                failures.push(format!("{what}: suite {:#06x}", h.suite.id()));
            }
            if h.frame_length != case.frame_length {
                failures.push(format!("{what}: frame length {}", h.frame_length));
            }
            let mut stored = h.encryption_context.clone();
            let public_key = stored.remove(PUBLIC_KEY_FIELD);
            if public_key.is_some() != case.suite.signature().is_some() {
                failures.push(format!("{what}: {PUBLIC_KEY_FIELD} is {public_key:?}"));
            }
            if stored != context_of(&case.context) {
                failures.push(format!("{what}: stored context {stored:?}"));
            }
            let mut providers: Vec<&str> = h
                .encrypted_data_keys
                .iter()
                .map(|k| k.provider_id.as_str())
                .collect();
            providers.sort_unstable();
            if providers != [a.namespace, b.namespace] {
                failures.push(format!("{what}: data key providers {providers:?}"));
            }
        }

        if case.frame_length == TAMPER_FRAME_LENGTH
            && case.plaintext.len() == 3 * TAMPER_FRAME_LENGTH as usize + 7
        {
            for (part, offset) in ["content", "tag"]
                .into_iter()
                .zip(first_frame_offsets(&message))
            {
                tampered += 1;
                let r = decrypt(a.keyring(), &flip(&message, offset), options());
                if !matches!(r, Err(Error::AuthenticationFailed)) {
                    failures.push(format!(
                        "{}: flipped bit in the first frame's {part}: {:?}",
                        case.id,
                        r.map(|d| d.plaintext.len())
                    ));
                }
            }
        }
    }

    println!(
        "python -> esdk: {} Python encrypt cases, {decrypted} esdk decryptions, {tampered} \
         tampered messages (peer {python_done:.1?}, total {:.1?})",
        cases.len(),
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(cases.len(), 198);
    assert_eq!(decrypted, 396);
    assert_eq!(tampered, 22);
}

// ---------------------------------------------------------------------------------------
// Raw RSA: every suite x {AES-128, AES-192, AES-256, each RSA padding}, both directions
// ---------------------------------------------------------------------------------------

/// Frame lengths of the wrapping-key matrix (both sides can write them).
const MATRIX_FRAME_LENGTHS: [u32; 2] = [128, 4096];

/// A wrapping key of the matrix: raw AES bytes, or an RSA key pair from `tests/data/rsa`
/// with a padding.
enum Wrapping {
    Aes(Vec<u8>),
    Rsa {
        padding: RsaPadding,
        /// `key-a` or `key-b` (2048-bit test pairs).
        pair: &'static str,
    },
}

/// One wrapping key of the matrix, known to both sides.
struct MatrixKey {
    handle: String,
    namespace: &'static str,
    name: String,
    wrapping: Wrapping,
}

fn rsa_pem(pair: &str, half: &str) -> String {
    let path = repo()
        .join("tests/data/rsa")
        .join(format!("{pair}.{half}.pem"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl MatrixKey {
    fn aes(bytes: usize, seed: u64) -> MatrixKey {
        MatrixKey {
            handle: format!("aes-{}", bytes * 8),
            namespace: "esdk-interop-aes",
            name: format!("aes-{}-key", bytes * 8),
            wrapping: Wrapping::Aes(prng_bytes(seed, bytes)),
        }
    }

    fn rsa(padding: RsaPadding, pair: &'static str) -> MatrixKey {
        MatrixKey {
            handle: format!("rsa-{padding}-{pair}"),
            namespace: "esdk-interop-rsa",
            name: format!("{pair}-{padding}"),
            wrapping: Wrapping::Rsa { padding, pair },
        }
    }

    /// The same key name and pair under another padding (for wrong-padding cases).
    fn with_padding(&self, padding: RsaPadding) -> MatrixKey {
        let Wrapping::Rsa { pair, .. } = self.wrapping else {
            panic!("not an RSA key")
        };
        MatrixKey {
            handle: format!("{}-as-{padding}", self.handle),
            namespace: self.namespace,
            name: self.name.clone(),
            wrapping: Wrapping::Rsa { padding, pair },
        }
    }

    fn padding(&self) -> Option<RsaPadding> {
        match self.wrapping {
            Wrapping::Aes(_) => None,
            Wrapping::Rsa { padding, .. } => Some(padding),
        }
    }

    /// Our keyring for encrypting: AES, or RSA with the public key only.
    fn encrypt_keyring(&self) -> Arc<dyn Keyring> {
        self.keyring(true)
    }

    /// Our keyring for decrypting: AES, or RSA with the private key only.
    fn decrypt_keyring(&self) -> Arc<dyn Keyring> {
        self.keyring(false)
    }

    fn keyring(&self, encrypt: bool) -> Arc<dyn Keyring> {
        match &self.wrapping {
            Wrapping::Aes(bytes) => Arc::new(
                RawAesKeyring::new(
                    self.namespace,
                    &self.name,
                    WrappingKey::new(bytes.clone()).unwrap(),
                )
                .unwrap(),
            ),
            Wrapping::Rsa { padding, pair } => {
                let (public, private) = if encrypt {
                    let pem = rsa_pem(pair, "spki");
                    (Some(RsaPublicKey::from_pem(pem.as_bytes()).unwrap()), None)
                } else {
                    let pem = rsa_pem(pair, "pkcs8");
                    (None, Some(RsaPrivateKey::from_pem(pem.as_bytes()).unwrap()))
                };
                Arc::new(
                    RawRsaKeyring::new(self.namespace, &self.name, *padding, public, private)
                        .unwrap(),
                )
            }
        }
    }

    fn manifest_entry(&self) -> Value {
        match &self.wrapping {
            Wrapping::Aes(bytes) => json!({
                "type": "aes",
                "namespace": self.namespace,
                "name": self.name,
                "key_b64": base64::engine::general_purpose::STANDARD.encode(bytes),
            }),
            Wrapping::Rsa { padding, pair } => {
                // For key-a Python gets the PKCS#1 PEM forms while we load SPKI and PKCS#8
                // (the same key); key-b exists only as SPKI and PKCS#8.
                let (public, private) = match *pair {
                    "key-a" => ("pub-pkcs1", "pkcs1"),
                    _ => ("spki", "pkcs8"),
                };
                json!({
                    "type": "rsa",
                    "namespace": self.namespace,
                    "name": self.name,
                    "padding": padding.name(),
                    "public_pem": rsa_pem(pair, public),
                    "private_pem": rsa_pem(pair, private),
                })
            }
        }
    }
}

/// The matrix keys: AES-128, AES-192, AES-256, and key-a under each RSA padding.
fn matrix_keys() -> Vec<MatrixKey> {
    let mut keys = vec![
        MatrixKey::aes(16, 0x128),
        MatrixKey::aes(24, 0x192),
        MatrixKey::aes(32, 0x256),
    ];
    keys.extend(RsaPadding::ALL.map(|p| MatrixKey::rsa(p, "key-a")));
    keys
}

/// The keys of the mixed messages: AES-256 generates, RSA key-b (OAEP-SHA256) and RSA key-a
/// (PKCS#1 v1.5) also wrap.
fn mixed_keys() -> Vec<MatrixKey> {
    let mut aes = MatrixKey::aes(32, 0x3256);
    aes.handle = "mixed-aes-256".into();
    aes.name = "mixed-aes-256-key".into();
    vec![
        aes,
        MatrixKey::rsa(RsaPadding::OaepSha256, "key-b"),
        MatrixKey::rsa(RsaPadding::Pkcs1, "key-a"),
    ]
}

/// Every key a manifest may name, by handle (the wrong-padding keys included).
fn matrix_manifest_keys(matrix: &[MatrixKey], mixed: &[MatrixKey]) -> Value {
    let mut map = serde_json::Map::new();
    for k in matrix.iter().chain(mixed) {
        map.insert(k.handle.clone(), k.manifest_entry());
        if let Some(p) = k.padding() {
            let wrong = k.with_padding(next_padding(p));
            map.insert(wrong.handle.clone(), wrong.manifest_entry());
        }
    }
    Value::Object(map)
}

/// The padding a wrong-padding case decrypts with.
fn next_padding(p: RsaPadding) -> RsaPadding {
    let i = RsaPadding::ALL.iter().position(|&q| q == p).unwrap();
    RsaPadding::ALL[(i + 1) % RsaPadding::ALL.len()]
}

/// One message of the matrix.
struct MatrixCase {
    id: String,
    suite: &'static AlgorithmSuite,
    key: usize,
    frame_length: u32,
    plaintext: Vec<u8>,
}

/// Every suite x key x frame length x size (0, 1, fl+1).
fn matrix_cases(keys: &[MatrixKey]) -> Vec<MatrixCase> {
    let mut out = Vec::new();
    for suite in AlgorithmSuite::ALL {
        for (ki, key) in keys.iter().enumerate() {
            for frame_length in MATRIX_FRAME_LENGTHS {
                for size in [0, 1, frame_length as usize + 1] {
                    let seed = (u64::from(suite.id()) << 40)
                        ^ (ki as u64) << 32
                        ^ u64::from(frame_length) << 8
                        ^ size as u64;
                    out.push(MatrixCase {
                        id: format!(
                            "{}-{}-fl{frame_length}-len{size}",
                            hex_id(suite),
                            key.handle
                        ),
                        suite,
                        key: ki,
                        frame_length,
                        plaintext: prng_bytes(seed, size),
                    });
                }
            }
        }
    }
    out
}

/// The message of each suite that gets wrong-padding cases: the one at frame length 128
/// with 129 bytes.
fn is_wrong_padding_probe(case: &MatrixCase) -> bool {
    case.suite.id() == 0x0578 && case.frame_length == 128 && case.plaintext.len() == 129
}

/// The non-ASCII context of the matrix.
fn matrix_context() -> Vec<(&'static str, &'static str)> {
    contexts()[0].clone()
}

#[test]
fn esdk_rsa_and_aes_messages_decrypt_in_python() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let keys = matrix_keys();
    let mixed = mixed_keys();
    let context = matrix_context();
    let cases = matrix_cases(&keys);
    let encrypt = |keyring: Arc<dyn Keyring>, suite, frame_length, plaintext: &[u8]| {
        let options = EncryptOptions {
            algorithm_suite: Some(suite),
            frame_length,
            commitment_policy: encrypt_policy(suite),
            encryption_context: context_of(&context),
            ..Default::default()
        };
        encrypt(keyring, plaintext, options).unwrap_or_else(|e| panic!("esdk encrypt: {e:?}"))
    };

    let mut manifest = Vec::new();
    let mut expected_plaintext = BTreeMap::new();
    let mut must_fail = Vec::new();
    let mut add = |id: String,
                   input: &Path,
                   key: &str,
                   suite: &AlgorithmSuite,
                   plaintext: Option<Vec<u8>>| {
        let output = dir.path().join(format!("{id}.plain"));
        manifest.push(json!({
            "id": id,
            "op": "decrypt",
            "input": path_str(input),
            "output": path_str(&output),
            "keys": [key],
            "context": context_json(&context),
            "commitment_policy": decrypt_policy(suite).name(),
        }));
        match plaintext {
            Some(p) => {
                expected_plaintext.insert(id, (output, p));
            }
            None => must_fail.push((id, output)),
        }
    };
    for case in &cases {
        let key = &keys[case.key];
        let message = encrypt(
            key.encrypt_keyring(),
            case.suite,
            case.frame_length,
            &case.plaintext,
        );
        let input = dir.path().join(format!("{}.esdk", case.id));
        std::fs::write(&input, &message).unwrap();
        add(
            case.id.clone(),
            &input,
            &key.handle,
            case.suite,
            Some(case.plaintext.clone()),
        );
        if let (Some(p), true) = (key.padding(), is_wrong_padding_probe(case)) {
            let wrong = key.with_padding(next_padding(p));
            add(
                format!("{}-decrypted-as-{}", case.id, next_padding(p)),
                &input,
                &wrong.handle,
                case.suite,
                None,
            );
        }
    }
    // Mixed AES + RSA messages: Python decrypts each with every key alone.
    let multi: Arc<dyn Keyring> = Arc::new(
        MultiKeyring::new(
            Some(mixed[0].encrypt_keyring()),
            mixed[1..].iter().map(|k| k.encrypt_keyring()).collect(),
        )
        .unwrap(),
    );
    for suite in AlgorithmSuite::ALL {
        let plaintext = prng_bytes(0x3000 + u64::from(suite.id()), 4097);
        let message = encrypt(multi.clone(), suite, 4096, &plaintext);
        let id = format!("{}-mixed", hex_id(suite));
        let input = dir.path().join(format!("{id}.esdk"));
        std::fs::write(&input, &message).unwrap();
        for key in &mixed {
            add(
                format!("{id}-key-{}", key.handle),
                &input,
                &key.handle,
                suite,
                Some(plaintext.clone()),
            );
        }
    }
    let encrypted_in = started.elapsed();
    // 11 suites x 8 keys x 2 frame lengths x 3 sizes; 11 mixed messages x 3 keys; one
    // wrong-padding case per RSA padding.
    assert_eq!(cases.len(), 528);
    assert_eq!(expected_plaintext.len(), 528 + 33);
    assert_eq!(must_fail.len(), 5);

    let results = run_peer(dir.path(), matrix_manifest_keys(&keys, &mixed), manifest);
    let mut failures = Vec::new();
    for (id, (output, plaintext)) in &expected_plaintext {
        match &results[id] {
            Ok(()) if std::fs::read(output).unwrap() == *plaintext => {}
            Ok(()) => failures.push(format!("{id}: Python's plaintext differs")),
            Err(e) => failures.push(format!("{id}: Python failed: {e}")),
        }
    }
    let mut wrong_padding_errors = Vec::new();
    for (id, output) in &must_fail {
        match &results[id] {
            Ok(()) => failures.push(format!("{id}: Python decrypted with the wrong padding")),
            Err(e) => {
                assert!(!output.exists(), "{id}: output left behind");
                wrong_padding_errors.push(format!("{id}: {e}"));
            }
        }
    }
    println!(
        "esdk -> python (RSA/AES matrix): {} messages + 11 mixed, {} decrypt cases, {} \
         wrong-padding cases; esdk encrypt {encrypted_in:.1?}, total {:.1?}",
        cases.len(),
        expected_plaintext.len(),
        must_fail.len(),
        started.elapsed()
    );
    for e in &wrong_padding_errors {
        println!("  refused as expected: {e}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} Python cases failed:\n{}",
        failures.len(),
        expected_plaintext.len() + must_fail.len(),
        failures.join("\n")
    );
}

#[test]
fn python_rsa_and_aes_messages_decrypt_in_esdk() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let keys = matrix_keys();
    let mixed = mixed_keys();
    let context = matrix_context();
    let cases = matrix_cases(&keys);

    let mut manifest = Vec::new();
    let mut push_encrypt = |id: &str, plaintext: &[u8], handles: Vec<&str>, suite, fl| {
        let input = dir.path().join(format!("{id}.plain"));
        std::fs::write(&input, plaintext).unwrap();
        manifest.push(json!({
            "id": id,
            "op": "encrypt",
            "input": path_str(&input),
            "output": path_str(&dir.path().join(format!("{id}.esdk"))),
            "keys": handles,
            "algorithm": hex_id(suite),
            "frame_length": fl,
            "context": context_json(&context),
            "commitment_policy": encrypt_policy(suite).name(),
        }));
    };
    for case in &cases {
        let handle = keys[case.key].handle.as_str();
        push_encrypt(
            &case.id,
            &case.plaintext,
            vec![handle],
            case.suite,
            case.frame_length,
        );
    }
    let mixed_plaintext = |suite: &AlgorithmSuite| prng_bytes(0x4000 + u64::from(suite.id()), 4097);
    for suite in AlgorithmSuite::ALL {
        let id = format!("{}-mixed", hex_id(suite));
        let handles = mixed.iter().map(|k| k.handle.as_str()).collect();
        push_encrypt(&id, &mixed_plaintext(suite), handles, suite, 4096);
    }
    assert_eq!(manifest.len(), 528 + 11);
    let results = run_peer(dir.path(), matrix_manifest_keys(&keys, &mixed), manifest);
    let python_done = started.elapsed();

    let mut failures = Vec::new();
    let mut decrypted = 0usize;
    let mut wrong_padding = 0usize;
    // Decrypts one Python message with one key and checks it all.
    let mut check = |id: &str,
                     message: &[u8],
                     key: &MatrixKey,
                     suite: &AlgorithmSuite,
                     frame_length: u32,
                     plaintext: &[u8],
                     edk_count: usize,
                     failures: &mut Vec<String>| {
        decrypted += 1;
        let what = format!("{id} key {}", key.handle);
        let options = DecryptOptions {
            commitment_policy: decrypt_policy(suite),
            ..Default::default()
        };
        let d = match decrypt(key.decrypt_keyring(), message, options) {
            Ok(d) => d,
            Err(e) => return failures.push(format!("{what}: esdk decrypt failed: {e:?}")),
        };
        if d.plaintext != plaintext {
            failures.push(format!("{what}: plaintext differs"));
        }
        let h = &d.header;
        if (h.suite.id(), h.frame_length) != (suite.id(), frame_length) {
            failures.push(format!(
                "{what}: suite {:#06x}, frame length {}",
                h.suite.id(),
                h.frame_length
            ));
        }
        let mut stored = h.encryption_context.clone();
        if stored.remove(PUBLIC_KEY_FIELD).is_some() != suite.signature().is_some() {
            failures.push(format!("{what}: {PUBLIC_KEY_FIELD} presence"));
        }
        if stored != context_of(&context) {
            failures.push(format!("{what}: stored context {stored:?}"));
        }
        if h.encrypted_data_keys.len() != edk_count {
            failures.push(format!("{what}: {} data keys", h.encrypted_data_keys.len()));
        }
        match h.encrypted_data_keys.iter().find(|e| {
            e.provider_id == key.namespace && e.provider_info.starts_with(key.name.as_bytes())
        }) {
            None => failures.push(format!("{what}: no data key of ours")),
            // RSA: the provider info is exactly the key name, the ciphertext the modulus size.
            Some(edk) if key.padding().is_some() => {
                if edk.provider_info != key.name.as_bytes() || edk.ciphertext.len() != 256 {
                    failures.push(format!("{what}: RSA data key {edk:?}"));
                }
            }
            Some(edk) => {
                if edk.provider_info.len() != key.name.len() + 20 {
                    failures.push(format!("{what}: AES data key {edk:?}"));
                }
            }
        }
    };
    for case in &cases {
        let key = &keys[case.key];
        if let Err(e) = &results[&case.id] {
            failures.push(format!("{}: Python encrypt failed: {e}", case.id));
            continue;
        }
        let message = std::fs::read(dir.path().join(format!("{}.esdk", case.id))).unwrap();
        // Our serializer reproduces Python's header body byte for byte.
        match HeaderBody::parse(&message, None) {
            Ok((header, len)) => {
                if header.serialize().ok().as_deref() != Some(&message[..len]) {
                    failures.push(format!("{}: header re-serializes differently", case.id));
                }
            }
            Err(e) => failures.push(format!("{}: header parse: {e:?}", case.id)),
        }
        check(
            &case.id,
            &message,
            key,
            case.suite,
            case.frame_length,
            &case.plaintext,
            1,
            &mut failures,
        );
        if let (Some(p), true) = (key.padding(), is_wrong_padding_probe(case)) {
            // The wrong padding: OAEP reports the unwrap failure; PKCS#1 v1.5 goes on with a
            // random key (padding-oracle defence) and fails authentication.
            wrong_padding += 1;
            let wrong = next_padding(p);
            let want = if wrong == RsaPadding::Pkcs1 {
                Error::AuthenticationFailed
            } else {
                Error::DataKeyUnwrapFailed
            };
            let options = DecryptOptions {
                commitment_policy: decrypt_policy(case.suite),
                ..Default::default()
            };
            let r = decrypt(key.with_padding(wrong).decrypt_keyring(), &message, options);
            match r {
                Err(e) if e == want => {}
                other => failures.push(format!(
                    "{} decrypted as {wrong}: expected {want:?}, got {:?}",
                    case.id,
                    other.map(|d| d.plaintext.len())
                )),
            }
        }
    }
    for suite in AlgorithmSuite::ALL {
        let id = format!("{}-mixed", hex_id(suite));
        if let Err(e) = &results[&id] {
            failures.push(format!("{id}: Python encrypt failed: {e}"));
            continue;
        }
        let message = std::fs::read(dir.path().join(format!("{id}.esdk"))).unwrap();
        for key in &mixed {
            check(
                &id,
                &message,
                key,
                suite,
                4096,
                &mixed_plaintext(suite),
                3,
                &mut failures,
            );
        }
    }
    println!(
        "python -> esdk (RSA/AES matrix): {} Python encrypt cases, {decrypted} esdk \
         decryptions, {wrong_padding} wrong-padding cases (peer {python_done:.1?}, total {:.1?})",
        cases.len() + 11,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(decrypted, 528 + 33);
    assert_eq!(wrong_padding, 5);
}
