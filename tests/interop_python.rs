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
    EncryptionContext, Error, Keyring, MultiKeyring, RawAesKeyring, WrappingKey,
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
