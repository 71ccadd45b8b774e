//! The official ESDK test vectors that need only raw AES keys (or a fixed test data key)
//! all decrypt to the expected plaintext; the must-fail ones fail with the exact error.
//!
//! Vector sets live in `$CARGO_MANIFEST_DIR/../shared/test-vectors` (override with the
//! `ESDK_TEST_VECTORS` environment variable); their layout is described in that folder's
//! `README.md`. A set that exists only as a `.zip` is unpacked with the `unzip` command
//! into a temporary folder.
//!
//! Each set's outcome (passed / failed / skipped with reasons) is printed as one table
//! (`cargo test --test vectors -- --nocapture`) and compared with hard-coded expected
//! counts, so a walker that silently finds nothing fails the test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use esdk::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk::{
    decrypt_with_cmm, CommitmentPolicy, CryptoMaterialsManager, DataKey, DecryptOptions,
    DefaultCmm, EncryptedDataKey, EncryptionContext, Error, FormatError, Keyring, MultiKeyring,
    PolicyError, RawAesKeyring, RequiredEncryptionContextCmm, WrappingKey,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Skip reasons. Nothing else may be skipped: an unknown keyring type fails the test.

const SKIP_RSA: &str = "raw RSA keyring not implemented yet";
const SKIP_KMS: &str = "needs AWS KMS";
const SKIP_ECDH: &str = "raw ECDH keyring not implemented";

// ---------------------------------------------------------------------------------------
// Expected counts, computed once from the manifests (see the README of the vector folder)
// and hard-coded here.

/// One row of expected results.
struct Expected {
    set: &'static str,
    /// Cases that behaved as expected (positive ones decrypted, negative ones failed).
    passed: usize,
    /// Of `passed`, how many were must-fail cases.
    must_fail: usize,
    skipped: &'static [(&'static str, usize)],
}

const V1_POLICY_ROW: &str = "v1 msgs under RequireEncryptRequireDecrypt";

const EXPECTED: &[Expected] = &[
    // 132 = 33 raw AES-256 + 33 raw RSA + 33 two RSA entries + 33 AWS KMS.
    Expected {
        set: "esdk-net/v4-Net-4.0.1",
        passed: 33,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 33), (SKIP_RSA, 66)],
    },
    Expected {
        set: "esdk-net/valid-Net-4.0.0",
        passed: 5,
        must_fail: 0,
        skipped: &[],
    },
    // All 28 were written by ESDK-.NET 4.0.0 with its header-auth bugs and must fail.
    Expected {
        set: "esdk-net/invalid-Net-4.0.0",
        passed: 28,
        must_fail: 28,
        skipped: &[],
    },
    // 487 = 33 raw AES + 44 multi-keyring of raw AES + 55 required-EC CMM over raw AES
    //     + 55 raw RSA + 201 KMS family + 99 raw ECDH.
    Expected {
        set: "dafny-4.1.0",
        passed: 132,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 201), (SKIP_ECDH, 99), (SKIP_RSA, 55)],
    },
    // 360 v1 messages, every one wrapped only under AWS KMS.
    Expected {
        set: "awses-decrypt/python-1.3.5",
        passed: 0,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 360)],
    },
    // 46 = 41 good + 5 with a wrong commitment (entries 2, 12, 13, 20, 21).
    Expected {
        set: "kat/commitment-test-vectors.json",
        passed: 46,
        must_fail: 5,
        skipped: &[],
    },
    // 27 = 9 `null` + 9 `test_counting` + 9 `aws-kms`.
    Expected {
        set: "python-decrypt-oracle",
        passed: 18,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 9)],
    },
    // 6 = hello, hello.tinyframes, ct_x_aes128_hkdf, ct_good_commitment
    //   + must-fail ct_bad_commitment, ct_x_aes128_hkdf_bad_header.
    Expected {
        set: "c-sdk-data",
        passed: 6,
        must_fail: 2,
        skipped: &[],
    },
    // Every positive v1 message above run again under the default policy:
    // 27 (v4-Net) + 3 (valid-Net) + 108 (dafny) + 18 (oracle) + 3 (c-sdk).
    Expected {
        set: V1_POLICY_ROW,
        passed: 159,
        must_fail: 159,
        skipped: &[],
    },
];

// ---------------------------------------------------------------------------------------
// Locating the vectors.

fn vectors_root() -> PathBuf {
    match std::env::var_os("ESDK_TEST_VECTORS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/test-vectors"),
    }
}

/// A vector-set folder: the unpacked folder next to the zip, or a temporary unpacking.
struct SetDir {
    path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

fn open_set(root: &Path, rel: &str) -> SetDir {
    let dir = root.join(rel);
    if dir.is_dir() {
        return SetDir {
            path: dir,
            _tmp: None,
        };
    }
    let zip = root.join(format!("{rel}.zip"));
    assert!(
        zip.is_file(),
        "vector set {rel} not found: neither {} nor {} exists",
        dir.display(),
        zip.display()
    );
    let unzip_ok = Command::new("unzip")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        unzip_ok,
        "{} exists only as a zip and the `unzip` command is not installed",
        zip.display()
    );
    let tmp = tempfile::tempdir().expect("temporary folder");
    let status = Command::new("unzip")
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(tmp.path())
        .status()
        .expect("run unzip");
    assert!(status.success(), "unzip {} failed: {status}", zip.display());
    SetDir {
        path: tmp.path().to_path_buf(),
        _tmp: Some(tmp),
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|e| panic!("parse JSON {}: {e}", path.display()))
}

/// Resolves a `file://` URI relative to the manifest's folder.
fn uri(dir: &Path, uri: &str) -> PathBuf {
    let rel = uri
        .strip_prefix("file://")
        .unwrap_or_else(|| panic!("not a file:// URI: {uri}"));
    dir.join(rel)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string field {key:?} in {v}"))
}

fn context_from_json(v: Option<&Value>) -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    if let Some(map) = v.and_then(Value::as_object) {
        for (k, val) in map {
            let val = val
                .as_str()
                .unwrap_or_else(|| panic!("non-string EC value for {k:?}"));
            ec.insert(k.clone(), val);
        }
    }
    ec
}

// ---------------------------------------------------------------------------------------
// Test keyrings.

/// Where a [`FixedKeyring`]'s data key comes from.
#[derive(Debug, Clone)]
enum KeySource {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// Zero bytes, as many as the suite needs.
    Zeros,
    /// The bytes 1, 2, 3, ... (as many as the suite needs).
    Counting,
}

/// A decrypt-only keyring that hands out a fixed data key when a message has a given EDK
/// (or, with no EDK given, always).
#[derive(Debug)]
struct FixedKeyring {
    edk: Option<EncryptedDataKey>,
    key: KeySource,
}

impl Keyring for FixedKeyring {
    fn on_encrypt(&self, _materials: EncryptionMaterials) -> esdk::Result<EncryptionMaterials> {
        Err(Error::Keyring("the test keyring only decrypts".into()))
    }

    fn on_decrypt(
        &self,
        mut materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk::Result<DecryptionMaterials> {
        let matches = match &self.edk {
            None => true,
            Some(want) => edks.iter().any(|e| e == want),
        };
        if matches {
            let n = materials.suite().key_len();
            let bytes = match &self.key {
                KeySource::Bytes(b) => b.clone(),
                KeySource::Zeros => vec![0; n],
                KeySource::Counting => (1..=n).map(|i| i as u8).collect(),
            };
            materials.set_data_key(DataKey::from_slice(&bytes))?;
        }
        Ok(materials)
    }
}

fn default_cmm(keyring: Arc<dyn Keyring>) -> Arc<dyn CryptoMaterialsManager> {
    Arc::new(DefaultCmm::new(keyring))
}

// ---------------------------------------------------------------------------------------
// Key manifests and keyring descriptions.

/// One entry of a keys manifest.
struct KeySpec {
    kind: String,
    algorithm: String,
    key_id: String,
    material: Vec<u8>,
}

fn load_keys(path: &Path) -> BTreeMap<String, KeySpec> {
    let json = read_json(path);
    let keys = json
        .get("keys")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{}: no \"keys\" object", path.display()));
    let mut out = BTreeMap::new();
    for (name, spec) in keys {
        let kind = spec.get("type").and_then(Value::as_str).unwrap_or("");
        let algorithm = spec.get("algorithm").and_then(Value::as_str).unwrap_or("");
        // v1 manifests have no key-id: the key name is the map key.
        let key_id = spec.get("key-id").and_then(Value::as_str).unwrap_or(name);
        let material = if kind == "symmetric" {
            // v1: an array of lines joined by line-separator; v2/v3: one string.
            let text = match spec.get("material") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(lines)) => {
                    let sep = spec
                        .get("line-separator")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    lines
                        .iter()
                        .map(|l| l.as_str().expect("material line"))
                        .collect::<Vec<_>>()
                        .join(sep)
                }
                other => panic!("key {name}: unexpected material {other:?}"),
            };
            assert_eq!(
                spec.get("encoding").and_then(Value::as_str),
                Some("base64"),
                "key {name}"
            );
            B64.decode(text.as_bytes())
                .unwrap_or_else(|e| panic!("key {name}: bad base64: {e}"))
        } else {
            Vec::new()
        };
        out.insert(
            name.clone(),
            KeySpec {
                kind: kind.to_owned(),
                algorithm: algorithm.to_owned(),
                key_id: key_id.to_owned(),
                material,
            },
        );
    }
    out
}

fn key<'a>(keys: &'a BTreeMap<String, KeySpec>, name: &str) -> &'a KeySpec {
    keys.get(name)
        .unwrap_or_else(|| panic!("key {name:?} is not in the keys manifest"))
}

fn raw_aes(keys: &BTreeMap<String, KeySpec>, desc: &Value) -> Arc<dyn Keyring> {
    let spec = key(keys, str_field(desc, "key"));
    assert_eq!(spec.algorithm, "aes", "raw AES description {desc}");
    let wrapping = WrappingKey::new(spec.material.clone()).expect("AES wrapping key");
    let ns = str_field(desc, "provider-id");
    Arc::new(RawAesKeyring::new(ns, &spec.key_id, wrapping).expect("raw AES keyring"))
}

/// The skip reason for a keyring or CMM description type that we cannot run, if any.
fn unsupported_type(kind: &str) -> Option<&'static str> {
    if kind.starts_with("aws-kms") {
        Some(SKIP_KMS)
    } else if kind == "raw-ecdh" {
        Some(SKIP_ECDH)
    } else {
        None
    }
}

/// A keyring from a v5 `decryptKeyDescription` (raw, or multi-keyring of them).
fn keyring_from_desc(
    keys: &BTreeMap<String, KeySpec>,
    desc: &Value,
) -> Result<Arc<dyn Keyring>, &'static str> {
    let kind = str_field(desc, "type");
    if let Some(reason) = unsupported_type(kind) {
        return Err(reason);
    }
    match kind {
        "raw" => match str_field(desc, "encryption-algorithm") {
            "aes" => Ok(raw_aes(keys, desc)),
            "rsa" => Err(SKIP_RSA),
            other => panic!("unknown raw encryption-algorithm {other:?} in {desc}"),
        },
        "multi-keyring" => {
            let generator = match desc.get("generator") {
                Some(g) if !g.is_null() => Some(keyring_from_desc(keys, g)?),
                _ => None,
            };
            let mut children = Vec::new();
            if let Some(list) = desc.get("childKeyrings").and_then(Value::as_array) {
                for c in list {
                    children.push(keyring_from_desc(keys, c)?);
                }
            }
            Ok(Arc::new(
                MultiKeyring::new(generator, children).expect("multi-keyring"),
            ))
        }
        other => panic!("unknown keyring description type {other:?}: {desc}"),
    }
}

/// A CMM from a v5 `decryptKeyDescription`.
fn cmm_from_desc(
    keys: &BTreeMap<String, KeySpec>,
    desc: &Value,
) -> Result<Arc<dyn CryptoMaterialsManager>, &'static str> {
    if str_field(desc, "type") == "required-encryption-context-cmm" {
        let underlying = cmm_from_desc(keys, &desc["underlying"])?;
        let required: Vec<String> = desc["requiredEncryptionContextKeys"]
            .as_array()
            .unwrap_or_else(|| panic!("no requiredEncryptionContextKeys in {desc}"))
            .iter()
            .map(|k| k.as_str().expect("required key").to_owned())
            .collect();
        return Ok(Arc::new(RequiredEncryptionContextCmm::new(
            underlying, required,
        )));
    }
    Ok(default_cmm(keyring_from_desc(keys, desc)?))
}

/// A keyring from a v1–v4 `master-keys` list: a multi-keyring of the raw AES entries.
fn keyring_from_master_keys(
    keys: &BTreeMap<String, KeySpec>,
    list: &Value,
) -> Result<Arc<dyn Keyring>, &'static str> {
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("master-keys is not a list: {list}"));
    let mut aes = Vec::new();
    let mut reason = None;
    for mk in list {
        let kind = str_field(mk, "type");
        if let Some(r) = unsupported_type(kind) {
            reason.get_or_insert(r);
            continue;
        }
        assert_eq!(kind, "raw", "unknown master key type in {mk}");
        let spec = key(keys, str_field(mk, "key"));
        if spec.kind == "public" {
            // A public key cannot decrypt.
            continue;
        }
        match str_field(mk, "encryption-algorithm") {
            "aes" => aes.push(raw_aes(keys, mk)),
            "rsa" => {
                reason = Some(SKIP_RSA);
            }
            other => panic!("unknown raw encryption-algorithm {other:?} in {mk}"),
        }
    }
    match aes.len() {
        0 => Err(reason.unwrap_or_else(|| panic!("no usable master key in {list:?}"))),
        1 => Ok(aes.pop().expect("one keyring")),
        _ => Ok(Arc::new(
            MultiKeyring::new(None, aes).expect("multi-keyring"),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Cases and their outcomes.

enum Expect {
    Plaintext(Arc<Vec<u8>>),
    /// Success; the plaintext is not known.
    Success,
    /// Failure with exactly this error.
    Error(Error),
    /// Failure with any error (a manifest `error` result, which names no error kind).
    AnyError,
}

struct Case {
    id: String,
    message: Vec<u8>,
    cmm: Arc<dyn CryptoMaterialsManager>,
    options: DecryptOptions,
    expect: Expect,
    /// When set, the decrypted header's encryption context must equal this.
    stored_context: Option<EncryptionContext>,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    must_fail: usize,
    failures: Vec<String>,
    skipped: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }
}

/// The ESDK message format version and suite ID at the start of a message, if it has them.
fn version_and_suite(message: &[u8]) -> Option<(u8, u16)> {
    match message.first()? {
        1 => Some((1, u16::from_be_bytes([*message.get(2)?, *message.get(3)?]))),
        2 => Some((2, u16::from_be_bytes([*message.get(1)?, *message.get(2)?]))),
        _ => None,
    }
}

/// The commitment policy a message of this version needs: v1 messages only decrypt when
/// the policy allows non-committing suites.
fn policy_for(message: &[u8]) -> CommitmentPolicy {
    match version_and_suite(message) {
        Some((1, _)) => CommitmentPolicy::RequireEncryptAllowDecrypt,
        _ => CommitmentPolicy::RequireEncryptRequireDecrypt,
    }
}

/// The runner: per-set tallies plus the extra v1 policy check.
#[derive(Default)]
struct Runner {
    tallies: Vec<(String, Tally)>,
    v1_policy: Tally,
}

impl Runner {
    fn tally(&mut self, set: &str) -> &mut Tally {
        if let Some(i) = self.tallies.iter().position(|(s, _)| s == set) {
            return &mut self.tallies[i].1;
        }
        self.tallies.push((set.to_owned(), Tally::default()));
        &mut self.tallies.last_mut().expect("just pushed").1
    }

    fn skip(&mut self, set: &str, reason: &'static str) {
        self.tally(set).skip(reason);
    }

    fn run(&mut self, set: &str, case: Case) {
        let id = format!("{set} / {}", case.id);
        let result = decrypt_with_cmm(case.cmm.clone(), &case.message, case.options.clone());
        let problem: Option<String> = match (&case.expect, &result) {
            (Expect::Plaintext(want), Ok(d)) if d.plaintext != **want => Some(format!(
                "decrypted to {} bytes that differ from the expected {} bytes \
                 (first difference at offset {})",
                d.plaintext.len(),
                want.len(),
                d.plaintext
                    .iter()
                    .zip(want.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(d.plaintext.len().min(want.len()))
            )),
            (Expect::Plaintext(_) | Expect::Success, Ok(d)) => match &case.stored_context {
                Some(ec) if &d.header.encryption_context != ec => Some(format!(
                    "decrypted, but the header's encryption context is {:?}, expected {ec:?}",
                    d.header.encryption_context
                )),
                _ => None,
            },
            (Expect::Plaintext(_) | Expect::Success, Err(e)) => {
                Some(format!("expected success, got error {e:?} ({e})"))
            }
            (Expect::Error(want), Err(e)) if e == want => None,
            (Expect::Error(want), Err(e)) => {
                Some(format!("expected error {want:?}, got error {e:?} ({e})"))
            }
            (Expect::AnyError, Err(_)) => None,
            (Expect::Error(_) | Expect::AnyError, Ok(d)) => Some(format!(
                "must fail, but decrypted to {} bytes",
                d.plaintext.len()
            )),
        };
        let positive = matches!(case.expect, Expect::Plaintext(_) | Expect::Success);
        let tally = self.tally(set);
        match problem {
            Some(p) => tally.failures.push(format!("{id}: {p}")),
            None => {
                tally.passed += 1;
                if !positive {
                    tally.must_fail += 1;
                }
            }
        }

        // Every positive v1 message must be refused under the default policy, right after
        // its header, with the exact policy error.
        if let (true, Some((1, suite))) = (positive, version_and_suite(&case.message)) {
            let mut options = case.options;
            options.commitment_policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
            let want = Error::Policy(PolicyError::CommitmentPolicy {
                suite,
                operation: "decrypt",
            });
            match decrypt_with_cmm(case.cmm, &case.message, options) {
                Err(e) if e == want => {
                    self.v1_policy.passed += 1;
                    self.v1_policy.must_fail += 1;
                }
                Err(e) => self.v1_policy.failures.push(format!(
                    "{id} under RequireEncryptRequireDecrypt: expected {want:?}, got {e:?} ({e})"
                )),
                Ok(_) => self.v1_policy.failures.push(format!(
                    "{id} under RequireEncryptRequireDecrypt: a v1 message decrypted"
                )),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The sets.

/// A decrypt manifest of version 1 to 5 (`awses-decrypt`).
///
/// `must_fail`: the whole set must fail with this error, whatever the manifest says (the
/// invalid .NET 4.0.0 set).
fn run_decrypt_manifest(
    runner: &mut Runner,
    root: &Path,
    set: &str,
    manifest_name: &str,
    must_fail: Option<Error>,
) {
    let dir = open_set(root, set);
    let manifest = read_json(&dir.path.join(manifest_name));
    assert_eq!(
        manifest["manifest"]["type"], "awses-decrypt",
        "{set}: manifest type"
    );
    let version = manifest["manifest"]["version"]
        .as_u64()
        .expect("manifest version");
    assert!(
        (1..=5).contains(&version),
        "{set}: manifest version {version}"
    );
    let keys = load_keys(&uri(&dir.path, str_field(&manifest, "keys")));
    let tests = manifest["tests"].as_object().expect("tests object");
    let mut plaintexts: BTreeMap<PathBuf, Arc<Vec<u8>>> = BTreeMap::new();
    let mut plaintext = |path: PathBuf| -> Arc<Vec<u8>> {
        plaintexts
            .entry(path)
            .or_insert_with_key(|p| Arc::new(read(p)))
            .clone()
    };
    runner.tally(set);

    for (id, test) in tests {
        let mut options = DecryptOptions::default();
        let (cmm, ciphertext, expect) = if version == 5 {
            let s = &test["decryption-scenario"];
            assert_eq!(str_field(s, "type"), "positive-esdk", "{set} / {id}");
            let cmm = match cmm_from_desc(&keys, &s["decryptKeyDescription"]) {
                Ok(c) => c,
                Err(reason) => {
                    runner.skip(set, reason);
                    continue;
                }
            };
            options.reproduced_encryption_context =
                Some(context_from_json(s.get("reproduced-encryption-context")));
            let pt = plaintext(uri(&dir.path, str_field(s, "result")));
            (cmm, str_field(s, "ciphertext"), Expect::Plaintext(pt))
        } else {
            let keyring = match keyring_from_master_keys(&keys, &test["master-keys"]) {
                Ok(k) => k,
                Err(reason) => {
                    runner.skip(set, reason);
                    continue;
                }
            };
            let expect = if version == 1 {
                Expect::Plaintext(plaintext(uri(&dir.path, str_field(test, "plaintext"))))
            } else if let Some(out) = test["result"].get("output") {
                Expect::Plaintext(plaintext(uri(&dir.path, str_field(out, "plaintext"))))
            } else {
                assert!(
                    test["result"].get("error").is_some(),
                    "{set} / {id}: result is neither output nor error"
                );
                Expect::AnyError
            };
            if test.get("decryption-method").and_then(Value::as_str)
                == Some("streaming-unsigned-only")
            {
                options.unsigned_only = true;
            }
            let cmm = if version == 4 {
                let reproduced = context_from_json(test.get("encryption-context"));
                let base = default_cmm(keyring);
                let cmm = match test.get("cmm").and_then(Value::as_str) {
                    None | Some("Default") => base,
                    Some("RequiredEncryptionContext") => {
                        let required = reproduced.iter().map(|(k, _)| k.to_owned());
                        Arc::new(RequiredEncryptionContextCmm::new(
                            base,
                            required.collect::<Vec<_>>(),
                        ))
                    }
                    Some(other) => panic!("{set} / {id}: unknown cmm {other:?}"),
                };
                options.reproduced_encryption_context = Some(reproduced);
                cmm
            } else {
                default_cmm(keyring)
            };
            (cmm, str_field(test, "ciphertext"), expect)
        };
        let message = read(&uri(&dir.path, ciphertext));
        options.commitment_policy = policy_for(&message);
        let expect = match &must_fail {
            Some(e) => Expect::Error(e.clone()),
            None => expect,
        };
        runner.run(
            set,
            Case {
                id: id.clone(),
                message,
                cmm,
                options,
                expect,
                stored_context: None,
            },
        );
    }
}

/// The 46 message-format-v2 known-answer tests, decrypted with their `decrypted-dek`.
fn run_commitment_kats(runner: &mut Runner, root: &Path) {
    let set = "kat/commitment-test-vectors.json";
    let json = read_json(&root.join(set));
    let tests = json["tests"].as_array().expect("tests list");
    runner.tally(set);
    for (i, t) in tests.iter().enumerate() {
        let id = format!(
            "#{} ({})",
            i + 1,
            t.get("comment").and_then(Value::as_str).unwrap_or("")
        );
        let message = B64
            .decode(str_field(t, "ciphertext"))
            .expect("ciphertext base64");
        let dek = B64
            .decode(str_field(t, "decrypted-dek"))
            .expect("decrypted-dek base64");
        let cmm = default_cmm(Arc::new(FixedKeyring {
            edk: None,
            key: KeySource::Bytes(dek),
        }));
        let expect = match t["status"].as_bool().expect("status") {
            false => Expect::Error(Error::AuthenticationFailed),
            true => match t.get("plaintext-frames").and_then(Value::as_array) {
                Some(frames) => Expect::Plaintext(Arc::new(
                    frames
                        .iter()
                        .flat_map(|f| f.as_str().expect("frame text").bytes())
                        .collect(),
                )),
                None => Expect::Success,
            },
        };
        let options = DecryptOptions {
            commitment_policy: policy_for(&message),
            ..DecryptOptions::default()
        };
        runner.run(
            set,
            Case {
                id,
                message,
                cmm,
                options,
                expect,
                stored_context: Some(context_from_json(t.get("encryption-context"))),
            },
        );
    }
}

/// The Python decrypt oracle's vectors: `null` and `test_counting` keys via a test keyring.
fn run_decrypt_oracle(runner: &mut Runner, root: &Path) {
    let set = "python-decrypt-oracle";
    let json = read_json(&root.join(set).join("decrypt_vectors.json"));
    runner.tally(set);
    for (i, v) in json.as_array().expect("vector list").iter().enumerate() {
        let kind = str_field(v, "key-type");
        let id = format!(
            "#{i} key-type {kind} suite {}",
            str_field(v, "algorithm-suite")
        );
        let keyring = match kind {
            "null" => FixedKeyring {
                edk: Some(EncryptedDataKey {
                    provider_id: "null".into(),
                    provider_info: b"null".to_vec(),
                    ciphertext: Vec::new(),
                }),
                key: KeySource::Zeros,
            },
            "test_counting" => FixedKeyring {
                edk: Some(EncryptedDataKey {
                    provider_id: "test_counting".into(),
                    provider_info: b"test_counting_prov_info".to_vec(),
                    ciphertext: b"@ABCD".to_vec(),
                }),
                key: KeySource::Counting,
            },
            k if k.starts_with("aws-kms") => {
                runner.skip(set, SKIP_KMS);
                continue;
            }
            other => panic!("{set} {id}: unknown key-type {other:?}"),
        };
        let message = B64.decode(str_field(v, "ciphertext")).expect("ciphertext");
        let plaintext = B64.decode(str_field(v, "plaintext")).expect("plaintext");
        let options = DecryptOptions {
            commitment_policy: policy_for(&message),
            ..DecryptOptions::default()
        };
        runner.run(
            set,
            Case {
                id,
                message,
                cmm: default_cmm(Arc::new(keyring)),
                options,
                expect: Expect::Plaintext(Arc::new(plaintext)),
                stored_context: None,
            },
        );
    }
}

/// A C SDK data file: name, keyring, expectation, expected stored context.
type CSdkCase<'a> = (
    &'a str,
    &'a Arc<dyn Keyring>,
    Expect,
    Option<EncryptionContext>,
);

/// The small data files of the C SDK's tests.
fn run_c_sdk_data(runner: &mut Runner, root: &Path) {
    let set = "c-sdk-data";
    let dir = root.join(set);
    runner.tally(set);
    let zero_key: Arc<dyn Keyring> = Arc::new(FixedKeyring {
        edk: Some(EncryptedDataKey {
            provider_id: "zero-key".into(),
            provider_info: b"provider info".to_vec(),
            ciphertext: vec![0],
        }),
        key: KeySource::Zeros,
    });
    let raw: Arc<dyn Keyring> = Arc::new(
        RawAesKeyring::new(
            "ProviderName",
            "KeyId",
            WrappingKey::new(vec![0; 32]).expect("key"),
        )
        .expect("raw AES keyring"),
    );
    let mut xy = EncryptionContext::new();
    xy.insert("x", "y");
    let pt = |name: &str| Expect::Plaintext(Arc::new(read(&dir.join(name))));
    let cases: Vec<CSdkCase> = vec![
        ("hello.bin", &zero_key, pt("hello.bin.pt"), Some(xy.clone())),
        (
            "hello.tinyframes.bin",
            &zero_key,
            pt("hello.bin.pt"),
            Some(xy.clone()),
        ),
        (
            "ct_x_aes128_hkdf.bin",
            &zero_key,
            pt("pt_x_aes128_hkdf.bin"),
            Some(xy),
        ),
        (
            "ct_good_commitment.bin",
            &raw,
            pt("good_commitment.pt"),
            Some(EncryptionContext::new()),
        ),
        // Same EDK scheme as the good one; the stored commit key is wrong.
        (
            "ct_bad_commitment.bin",
            &raw,
            Expect::Error(Error::AuthenticationFailed),
            None,
        ),
        // The header was mangled by a UTF-8 re-encoding: its v1 Type byte 0x80 became
        // `C2 80`, so the Type byte reads 0xC2.
        (
            "ct_x_aes128_hkdf_bad_header.bin",
            &zero_key,
            Expect::Error(Error::Format(FormatError::UnknownMessageType(0xC2))),
            None,
        ),
    ];
    for (file, keyring, expect, stored_context) in cases {
        let message = read(&dir.join(file));
        let options = DecryptOptions {
            commitment_policy: policy_for(&message),
            ..DecryptOptions::default()
        };
        runner.run(
            set,
            Case {
                id: file.to_owned(),
                message,
                cmm: default_cmm(keyring.clone()),
                options,
                expect,
                stored_context,
            },
        );
    }
}

// ---------------------------------------------------------------------------------------
// The test.

fn skipped_text(skipped: &BTreeMap<&'static str, usize>) -> String {
    if skipped.is_empty() {
        return "-".into();
    }
    skipped
        .iter()
        .map(|(r, n)| format!("{n} ({r})"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn official_vectors_decrypt() {
    let start = Instant::now();
    let root = vectors_root();
    assert!(
        root.is_dir(),
        "test vectors not found at {} (set ESDK_TEST_VECTORS)",
        root.display()
    );
    let mut runner = Runner::default();
    run_decrypt_manifest(
        &mut runner,
        &root,
        "esdk-net/v4-Net-4.0.1",
        "manifest.json",
        None,
    );
    run_decrypt_manifest(
        &mut runner,
        &root,
        "esdk-net/valid-Net-4.0.0",
        "manifest.json",
        None,
    );
    run_decrypt_manifest(
        &mut runner,
        &root,
        "esdk-net/invalid-Net-4.0.0",
        "manifest.json",
        Some(Error::AuthenticationFailed),
    );
    run_decrypt_manifest(
        &mut runner,
        &root,
        "dafny-4.1.0",
        "decrypt-manifest.json",
        None,
    );
    run_decrypt_manifest(
        &mut runner,
        &root,
        "awses-decrypt/python-1.3.5",
        "decrypt_message.json",
        None,
    );
    run_commitment_kats(&mut runner, &root);
    run_decrypt_oracle(&mut runner, &root);
    run_c_sdk_data(&mut runner, &root);
    let v1 = std::mem::take(&mut runner.v1_policy);
    runner.tallies.push((V1_POLICY_ROW.to_owned(), v1));

    // The table.
    let mut table = String::new();
    let rule = "-".repeat(120);
    let _ = writeln!(
        table,
        "{:<44} | {:>5} | {:>6} | {:>9} | {:>6} | skipped: count (reason)",
        "set", "cases", "passed", "must-fail", "failed"
    );
    let _ = writeln!(table, "{rule}");
    let (mut total_cases, mut total_passed, mut total_failed, mut total_skipped) = (0, 0, 0, 0);
    for (set, t) in &runner.tallies {
        let skipped: usize = t.skipped.values().sum();
        let cases = t.passed + t.failures.len() + skipped;
        let _ = writeln!(
            table,
            "{set:<44} | {cases:>5} | {:>6} | {:>9} | {:>6} | {}",
            t.passed,
            t.must_fail,
            t.failures.len(),
            skipped_text(&t.skipped)
        );
        if set != V1_POLICY_ROW {
            total_cases += cases;
            total_passed += t.passed;
            total_failed += t.failures.len();
            total_skipped += skipped;
        }
    }
    let runnable = total_passed + total_failed;
    let _ = writeln!(table, "{rule}");
    let _ = writeln!(
        table,
        "(passed = behaved as expected; must-fail = of those, cases that had to fail and did)"
    );
    let _ = writeln!(
        table,
        "vector files: {total_passed} of {runnable} runnable passed, {total_failed} failed, \
         {total_skipped} skipped, {total_cases} in all ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    println!("{table}");

    let failures: Vec<&String> = runner
        .tallies
        .iter()
        .flat_map(|(_, t)| t.failures.iter())
        .collect();
    for f in &failures {
        println!("FAILED {f}");
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) failed:\n{}\n\n{table}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Exact expected counts per set.
    assert_eq!(
        runner.tallies.len(),
        EXPECTED.len(),
        "rows differ from the expected rows\n{table}"
    );
    for (exp, (set, t)) in EXPECTED.iter().zip(&runner.tallies) {
        assert_eq!(exp.set, set, "row order\n{table}");
        assert_eq!(
            (t.passed, t.must_fail),
            (exp.passed, exp.must_fail),
            "{set}: (passed, must-fail passed)\n{table}"
        );
        let want: BTreeMap<&str, usize> = exp.skipped.iter().copied().collect();
        assert_eq!(t.skipped, want, "{set}: skipped\n{table}");
    }
    assert_eq!(
        runnable, total_passed,
        "{total_passed} of {runnable} passed\n{table}"
    );
}
