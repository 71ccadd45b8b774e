//! The official ESDK test vectors that need only raw AES, raw RSA and raw ECDH keys (or a
//! fixed test data key) all decrypt to the expected plaintext; the must-fail ones fail with the exact
//! error.
//!
//! Vector sets live in `$CARGO_MANIFEST_DIR/../shared/test-vectors` (override with the
//! `ESDK_TEST_VECTORS` environment variable); their layout is described in that folder's
//! `README.md`. A set that exists only as a `.zip` is unpacked with the `unzip` command
//! into a temporary folder.
//!
//! Each set's outcome (passed / failed / skipped with reasons) is printed as one table
//! (`cargo test --test vectors -- --nocapture`) and compared with hard-coded expected
//! counts, so a walker that silently finds nothing fails the test.
//!
//! What is walked: every decrypt manifest (`esdk-net/*`, `dafny-4.1.0`,
//! `awses-decrypt/python-1.3.5`), the known-answer sets (`kat/`, `python-decrypt-oracle/`,
//! `c-sdk-data/`), the encrypt manifest `dafny-4.1.0/encrypt-manifest.json` (each scenario
//! encrypted and decrypted by esdk), and the negative and `decryption-method` scenarios of
//! the generation manifest `generation-manifests/0006-…v2.json`, recreated from esdk's own
//! raw AES messages (it stores no ciphertexts). That manifest's 3,300 positive scenarios
//! describe messages for other SDKs to decrypt; they are not run here (a fifth of them are
//! non-framed, which esdk never writes, and the rest would only be more esdk-to-esdk round
//! trips like the encrypt-manifest walk).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use esdk::cmm::{DecryptMaterialsRequest, EncryptionMaterialsRequest};
use esdk::format::context::PUBLIC_KEY_FIELD;
use esdk::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk::{
    decrypt_with_cmm, encrypt_with_cmm, AlgorithmSuite, CommitmentPolicy, CryptoMaterialsManager,
    DataKey, DecryptOptions, Decrypted, DefaultCmm, EcdhCurve, EcdhPrivateKey, EcdhPublicKey,
    EncryptOptions, EncryptedDataKey, EncryptionContext, Error, FormatError, HeaderBody,
    KeyAgreementScheme, Keyring, MultiKeyring, PolicyError, RawAesKeyring, RawEcdhKeyring,
    RawRsaKeyring, RequiredEncryptionContextCmm, RsaPadding, RsaPrivateKey, RsaPublicKey,
    WrappingKey,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Skip reasons. Nothing else may be skipped: an unknown keyring type fails the test.

const SKIP_KMS: &str = "needs AWS KMS";

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
const GENERATION_ROW: &str = "generation-manifests/0006 negative scenarios";

const EXPECTED: &[Expected] = &[
    // 132 = 33 raw AES-256 + 33 raw RSA-4096 (OAEP-SHA512) + 33 with two RSA entries (a
    // private OAEP-SHA512 key that decrypts, a public OAEP-SHA256 one that cannot) + 33 KMS.
    Expected {
        set: "esdk-net/v4-Net-4.0.1",
        passed: 99,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 33)],
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
    //     + 55 raw RSA-4096 (PKCS#1 v1.5 and OAEP-SHA1/256/384/512, 11 each)
    //     + 99 raw ECDH (P-256, P-384, P-521 x 11 suites: 33 static sender keys decrypted
    //       by the sender's static keyring, 66 decrypted by the recipient's discovery keyring)
    //     + 201 KMS family.
    Expected {
        set: "dafny-4.1.0",
        passed: 286,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 201)],
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
    // The scenarios behind the dafny-4.1.0 decrypt set, encrypted and decrypted by esdk:
    // the same 286 runnable ones (RSA encrypts with the public key, decrypts with the
    // private one; raw ECDH encrypts with static or ephemeral sender keys, decrypts with the
    // static or discovery keyring).
    Expected {
        set: "dafny-4.1.0 encrypt-manifest (esdk round trip)",
        passed: 286,
        must_fail: 0,
        skipped: &[(SKIP_KMS, 201)],
    },
    // 6 = truncate, mutate, half-sign, change-edk-provider-info (raw AES equivalent),
    //     streaming-unsigned-only with 0x0378 (must fail) and with 0x0178 (decrypts).
    Expected {
        set: GENERATION_ROW,
        passed: 6,
        must_fail: 5,
        skipped: &[],
    },
    // Every positive v1 message above run again under the default policy:
    // 81 (v4-Net) + 3 (valid-Net) + 234 (dafny: 153 + 81 raw ECDH) + 18 (oracle)
    // + 3 (c-sdk) + 234 (dafny round trip) + 1 (generation, streaming-unsigned-only 0x0178).
    Expected {
        set: V1_POLICY_ROW,
        passed: 574,
        must_fail: 574,
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
    /// The whole entry (raw ECDH keys name their fields from the key description).
    entry: Value,
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
        let rsa = algorithm == "rsa" && (kind == "private" || kind == "public");
        let material = if kind == "symmetric" || rsa {
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
            match spec.get("encoding").and_then(Value::as_str) {
                Some("base64") if kind == "symmetric" => B64
                    .decode(text.as_bytes())
                    .unwrap_or_else(|e| panic!("key {name}: bad base64: {e}")),
                // RSA keys: the PEM text itself.
                Some("pem") if rsa => text.into_bytes(),
                other => panic!("key {name}: unexpected encoding {other:?} for a {kind} key"),
            }
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
                entry: spec.clone(),
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

/// The RSA padding of a raw RSA description: `padding-algorithm` `pkcs1` (any
/// `padding-hash` is ignored) or `oaep-mgf1` with `padding-hash` (also the MGF1 hash).
fn rsa_padding(desc: &Value) -> RsaPadding {
    match str_field(desc, "padding-algorithm") {
        "pkcs1" => RsaPadding::Pkcs1,
        "oaep-mgf1" => match str_field(desc, "padding-hash") {
            "sha1" => RsaPadding::OaepSha1,
            "sha256" => RsaPadding::OaepSha256,
            "sha384" => RsaPadding::OaepSha384,
            "sha512" => RsaPadding::OaepSha512,
            other => panic!("unknown padding-hash {other:?} in {desc}"),
        },
        other => panic!("unknown padding-algorithm {other:?} in {desc}"),
    }
}

/// A raw RSA keyring from a description: a `private` key decrypts, a `public` key only
/// encrypts.
fn raw_rsa(keys: &BTreeMap<String, KeySpec>, desc: &Value) -> Arc<dyn Keyring> {
    let spec = key(keys, str_field(desc, "key"));
    assert_eq!(spec.algorithm, "rsa", "raw RSA description {desc}");
    let (public, private) = match spec.kind.as_str() {
        "private" => (
            None,
            Some(RsaPrivateKey::from_pem(&spec.material).expect("RSA private key")),
        ),
        "public" => (
            Some(RsaPublicKey::from_pem(&spec.material).expect("RSA public key")),
            None,
        ),
        other => panic!("RSA key of type {other:?} in {desc}"),
    };
    let ns = str_field(desc, "provider-id");
    Arc::new(
        RawRsaKeyring::new(ns, &spec.key_id, rsa_padding(desc), public, private)
            .expect("raw RSA keyring"),
    )
}

/// The curve of a raw ECDH description's `ecc-curve` (`ecc-256`, `ecc-384`, `ecc-521`).
fn ecdh_curve(desc: &Value) -> EcdhCurve {
    match str_field(desc, "ecc-curve") {
        "ecc-256" => EcdhCurve::P256,
        "ecc-384" => EcdhCurve::P384,
        "ecc-521" => EcdhCurve::P521,
        other => panic!("unknown ecc-curve {other:?} in {desc}"),
    }
}

/// A string field of a raw ECDH key entry, named by a field of the description
/// (`sender-public-key` names e.g. `sender-material-public-key`).
fn ecdh_field<'a>(spec: &'a KeySpec, name: &str) -> &'a str {
    assert_eq!(spec.algorithm, "ecdh", "raw ECDH key {}", spec.key_id);
    str_field(&spec.entry, name)
}

/// A raw ECDH key's public key, base64 DER SubjectPublicKeyInfo.
fn ecdh_public(curve: EcdhCurve, spec: &KeySpec, field: &str) -> EcdhPublicKey {
    assert_eq!(
        str_field(&spec.entry, "public-key-encoding"),
        "base64-der",
        "raw ECDH key {}",
        spec.key_id
    );
    let der = B64
        .decode(ecdh_field(spec, field))
        .unwrap_or_else(|e| panic!("raw ECDH key {}: bad base64: {e}", spec.key_id));
    EcdhPublicKey::from_der(curve, &der).expect("raw ECDH public key")
}

/// A raw ECDH key's private key, PEM PKCS#8 (`sender-material` / `recipient-material`),
/// checked against the manifest's public key for it.
fn ecdh_private(curve: EcdhCurve, spec: &KeySpec, role: &str) -> EcdhPrivateKey {
    assert_eq!(str_field(&spec.entry, "encoding"), "pem", "{}", spec.key_id);
    let pem = ecdh_field(spec, &format!("{role}-material"));
    let key = EcdhPrivateKey::from_pem(curve, pem.as_bytes()).expect("raw ECDH private key");
    let listed = ecdh_public(curve, spec, &format!("{role}-material-public-key"));
    assert_eq!(
        key.public_key(),
        &listed,
        "raw ECDH key {}: the {role} public key",
        spec.key_id
    );
    key
}

/// A raw ECDH keyring from a description: `static` (the sender's private key and the
/// recipient's public key), `ephemeral` (the recipient's public key) or `discovery` (the
/// recipient's private key).
fn raw_ecdh(keys: &BTreeMap<String, KeySpec>, desc: &Value) -> Arc<dyn Keyring> {
    let curve = ecdh_curve(desc);
    let recipient = key(keys, str_field(desc, "recipient"));
    let scheme = match str_field(desc, "schema") {
        "static" => KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
            sender_private_key: ecdh_private(curve, key(keys, str_field(desc, "sender")), "sender"),
            recipient_public_key: ecdh_public(
                curve,
                recipient,
                str_field(desc, "recipient-public-key"),
            ),
        },
        "ephemeral" => KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey {
            recipient_public_key: ecdh_public(
                curve,
                recipient,
                str_field(desc, "recipient-public-key"),
            ),
        },
        "discovery" => KeyAgreementScheme::PublicKeyDiscovery {
            recipient_private_key: ecdh_private(curve, recipient, "recipient"),
        },
        other => panic!("unknown raw ECDH schema {other:?} in {desc}"),
    };
    Arc::new(RawEcdhKeyring::new(curve, scheme).expect("raw ECDH keyring"))
}

/// The skip reason for a keyring or CMM description type that we cannot run, if any.
fn unsupported_type(kind: &str) -> Option<&'static str> {
    if kind.starts_with("aws-kms") {
        Some(SKIP_KMS)
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
            "rsa" => Ok(raw_rsa(keys, desc)),
            other => panic!("unknown raw encryption-algorithm {other:?} in {desc}"),
        },
        "raw-ecdh" => Ok(raw_ecdh(keys, desc)),
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

/// A keyring from a v1–v4 `master-keys` list: a multi-keyring of the raw entries that can
/// decrypt (raw AES keys and RSA private keys).
fn keyring_from_master_keys(
    keys: &BTreeMap<String, KeySpec>,
    list: &Value,
) -> Result<Arc<dyn Keyring>, &'static str> {
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("master-keys is not a list: {list}"));
    let mut raw = Vec::new();
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
            "aes" => raw.push(raw_aes(keys, mk)),
            "rsa" => raw.push(raw_rsa(keys, mk)),
            other => panic!("unknown raw encryption-algorithm {other:?} in {mk}"),
        }
    }
    match raw.len() {
        0 => Err(reason.unwrap_or_else(|| panic!("no usable master key in {list:?}"))),
        1 => Ok(raw.pop().expect("one keyring")),
        _ => Ok(Arc::new(
            MultiKeyring::new(None, raw).expect("multi-keyring"),
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
    /// Messages decrypted for cases that are made of several variants.
    variants: usize,
    /// Wall-clock time spent on the set.
    seconds: f64,
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

/// What is wrong with a decryption result, if anything.
fn check(
    expect: &Expect,
    stored_context: Option<&EncryptionContext>,
    result: &esdk::Result<Decrypted>,
) -> Option<String> {
    match (expect, result) {
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
        (Expect::Plaintext(_) | Expect::Success, Ok(d)) => match stored_context {
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
    }
}

/// One variant of a multi-message case: name, message, CMM, options, expectation.
type Variant = (
    String,
    Vec<u8>,
    Arc<dyn CryptoMaterialsManager>,
    DecryptOptions,
    Expect,
);

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

    /// One case made of several messages (a tampering scenario): it passes only if every
    /// variant behaves as expected. It counts as must-fail if any variant must fail.
    fn run_variants(&mut self, set: &str, id: &str, variants: Vec<Variant>) {
        let count = variants.len();
        let negative = variants
            .iter()
            .any(|v| matches!(v.4, Expect::Error(_) | Expect::AnyError));
        // Thousands of variants (each decodes a P-384 public key): spread over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = count.div_ceil(threads).max(1);
        let problems: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = variants
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|(name, message, cmm, options, expect)| {
                                let result =
                                    decrypt_with_cmm(cmm.clone(), message, options.clone());
                                check(expect, None, &result).map(|p| format!("{name}: {p}"))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("variant thread"))
                .collect()
        });
        let tally = self.tally(set);
        tally.variants += count;
        if problems.is_empty() {
            tally.passed += 1;
            if negative {
                tally.must_fail += 1;
            }
        } else {
            let shown: Vec<&str> = problems.iter().take(5).map(String::as_str).collect();
            tally.failures.push(format!(
                "{set} / {id}: {} of {count} variants misbehaved, e.g. {}",
                problems.len(),
                shown.join("; ")
            ));
        }
    }

    fn run(&mut self, set: &str, case: Case) {
        let id = format!("{set} / {}", case.id);
        let result = decrypt_with_cmm(case.cmm.clone(), &case.message, case.options.clone());
        let problem = check(&case.expect, case.stored_context.as_ref(), &result);
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

/// The walk of an encrypt manifest (`awses-encrypt` v5, `dafny-4.1.0/encrypt-manifest.json`):
/// each scenario is encrypted by esdk with its `encryptKeyDescription` and decrypted by esdk
/// with its `decryptKeyDescription` and reproduced context.
fn run_encrypt_manifest(runner: &mut Runner, root: &Path, dir: &str, manifest_name: &str) {
    let set = "dafny-4.1.0 encrypt-manifest (esdk round trip)";
    let dir = open_set(root, dir);
    let manifest = read_json(&dir.path.join(manifest_name));
    assert_eq!(manifest["manifest"]["type"], "awses-encrypt", "{set}");
    assert_eq!(manifest["manifest"]["version"], 5, "{set}");
    let keys = load_keys(&uri(&dir.path, str_field(&manifest, "keys")));
    let tests = manifest["tests"].as_object().expect("tests object");
    let mut plaintexts: BTreeMap<String, Arc<Vec<u8>>> = BTreeMap::new();
    runner.tally(set);
    for (id, test) in tests {
        let s = &test["encryption-scenario"];
        assert_eq!(str_field(s, "type"), "positive-esdk", "{set} / {id}");
        let cmms = cmm_from_desc(&keys, &s["encryptKeyDescription"])
            .and_then(|enc| Ok((enc, cmm_from_desc(&keys, &s["decryptKeyDescription"])?)));
        let (enc_cmm, dec_cmm) = match cmms {
            Ok(c) => c,
            Err(reason) => {
                runner.skip(set, reason);
                continue;
            }
        };
        let suite = suite_from_hex(str_field(s, "algorithmSuiteId"));
        let frame_length = s["frame-size"].as_u64().expect("frame-size") as u32;
        let name = str_field(s, "plaintext");
        let plaintext = plaintexts
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(read(&dir.path.join("plaintexts").join(name))))
            .clone();
        let options = EncryptOptions {
            encryption_context: context_from_json(s.get("encryption-context")),
            algorithm_suite: Some(suite),
            frame_length,
            commitment_policy: encrypt_policy(suite),
            ..EncryptOptions::default()
        };
        let message = match encrypt_with_cmm(&*enc_cmm, &plaintext, options) {
            Ok(m) => m,
            Err(e) => {
                let failure = format!("{set} / {id}: esdk encrypt failed: {e:?} ({e})");
                runner.tally(set).failures.push(failure);
                continue;
            }
        };
        let options = DecryptOptions {
            commitment_policy: policy_for(&message),
            reproduced_encryption_context: Some(context_from_json(
                s.get("reproduced-encryption-context"),
            )),
            ..DecryptOptions::default()
        };
        runner.run(
            set,
            Case {
                id: id.clone(),
                message,
                cmm: dec_cmm,
                options,
                expect: Expect::Plaintext(plaintext),
                stored_context: None,
            },
        );
    }
}

fn suite_from_hex(hex: &str) -> &'static AlgorithmSuite {
    let id = u16::from_str_radix(hex.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("bad suite ID {hex:?}: {e}"));
    AlgorithmSuite::from_id(id).unwrap_or_else(|| panic!("unknown suite {hex}"))
}

/// The policy that lets esdk write a message of this suite.
fn encrypt_policy(suite: &AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Deterministic stand-in for a generation manifest's random plaintext (SplitMix64).
fn generated_plaintext(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x0006_0006;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A CMM that imitates a forger ("half-sign" in the generation manifest): it takes signing
/// materials for `signed` from the default CMM, then hands them out for the unsigned suite
/// `unsigned` without the signing key, so the message is unsigned but its stored context
/// still carries `aws-crypto-public-key`.
struct HalfSigningCmm {
    inner: DefaultCmm,
    signed: &'static AlgorithmSuite,
    unsigned: &'static AlgorithmSuite,
}

impl CryptoMaterialsManager for HalfSigningCmm {
    fn get_encryption_materials(
        &self,
        mut request: EncryptionMaterialsRequest,
    ) -> esdk::Result<EncryptionMaterials> {
        request.algorithm_suite = Some(self.signed);
        let signed = self.inner.get_encryption_materials(request)?;
        let mut half = EncryptionMaterials::new(self.unsigned, signed.encryption_context().clone());
        let key = signed.data_key().expect("data key").expose_secret();
        half.set_data_key(DataKey::from_slice(key))?;
        for edk in signed.encrypted_data_keys() {
            half.add_encrypted_data_key(edk.clone());
        }
        Ok(half)
    }

    fn decrypt_materials(
        &self,
        request: DecryptMaterialsRequest,
    ) -> esdk::Result<DecryptionMaterials> {
        self.inner.decrypt_materials(request)
    }
}

/// The message with the provider info of its (single) encrypted data key replaced; the
/// header is re-serialized and its authentication tag kept (now stale).
fn with_provider_info(message: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let (mut header, len) = HeaderBody::parse(message, None).expect("header");
    assert_eq!(header.encrypted_data_keys.len(), 1);
    edit(&mut header.encrypted_data_keys[0].provider_info);
    let mut out = header.serialize().expect("serialize");
    out.extend_from_slice(&message[len..]);
    out
}

/// The negative scenarios of the generation manifest `0006-…v2.json` (it stores no
/// ciphertexts: they are recreated here from esdk's own message for each scenario, as the
/// vector folder's README §3 describes), plus its positive `streaming-unsigned-only`
/// scenario. Its 3,300 positive encryption scenarios are messages for other SDKs to
/// decrypt and are not walked here (see the module docs).
///
/// * `truncate` (upstream's class of that name actually flips bits, and `mutate` truncates:
///   the labels are swapped, the set is the same): every prefix must fail as truncated.
/// * `mutate`: every single-bit flip of the message must fail.
/// * `half-sign`: an unsigned message whose context carries a signing key must be refused.
/// * `change-edk-provider-info`: upstream rewrites the EDK provider info to another AWS KMS
///   key; the raw AES equivalent rewrites the key name, the IV and the length fields.
/// * `decryption-method: streaming-unsigned-only`: a signed message must be refused, an
///   unsigned one decrypts.
///
/// Each scenario is one case; its variants are counted in `Runner::variants`.
fn run_generation_negatives(runner: &mut Runner, root: &Path) {
    let set = GENERATION_ROW;
    let dir = root.join("generation-manifests");
    let manifest = read_json(&dir.join("0006-awses-message-decryption-generation.v2.json"));
    assert_eq!(manifest["manifest"]["type"], "awses-decrypt-generate");
    assert_eq!(manifest["manifest"]["version"], 2);
    let keys = load_keys(&uri(&dir, str_field(&manifest, "keys")));
    let sizes = manifest["plaintexts"].as_object().expect("plaintexts");
    runner.tally(set);
    let mut scenarios = 0;
    for (id, test) in manifest["tests"].as_object().expect("tests object") {
        let tampering = test.get("tampering");
        let method = test.get("decryption-method").and_then(Value::as_str);
        if tampering.is_none() && method.is_none() {
            continue; // a positive encryption scenario
        }
        scenarios += 1;
        let s = &test["encryption-scenario"];
        let master_keys = s["master-keys"].as_array().expect("master-keys");
        assert!(
            master_keys.len() == 1 && master_keys[0]["encryption-algorithm"] == "aes",
            "{id}: negative scenarios are expected over one raw AES key: {s}"
        );
        let aes_desc = &master_keys[0];
        let keyring = raw_aes(&keys, aes_desc);
        let suite = suite_from_hex(str_field(s, "algorithm"));
        let size = sizes[str_field(s, "plaintext")]
            .as_u64()
            .expect("plaintext size");
        let plaintext = Arc::new(generated_plaintext(size as usize));
        let options = EncryptOptions {
            encryption_context: context_from_json(s.get("encryption-context")),
            algorithm_suite: Some(suite),
            frame_length: s["frame-size"].as_u64().expect("frame-size") as u32,
            commitment_policy: encrypt_policy(suite),
            ..EncryptOptions::default()
        };
        let encrypt_as = |cmm: &dyn CryptoMaterialsManager| {
            encrypt_with_cmm(cmm, &plaintext, options.clone())
                .unwrap_or_else(|e| panic!("{set} / {id}: esdk encrypt failed: {e:?}"))
        };
        let cmm = default_cmm(keyring.clone());
        let decrypt_options = |message: &[u8]| DecryptOptions {
            commitment_policy: policy_for(message),
            ..DecryptOptions::default()
        };

        if let Some(method) = method {
            assert_eq!(method, "streaming-unsigned-only", "{id}");
            assert!(tampering.is_none(), "{id}");
            let message = encrypt_as(&*cmm);
            let expect = match test.get("result").and_then(|r| r.get("error")) {
                Some(_) => Expect::Error(Error::Policy(PolicyError::SignedMessageRefused)),
                None => Expect::Plaintext(plaintext.clone()),
            };
            let mut options = decrypt_options(&message);
            options.unsigned_only = true;
            let id = format!("{id} (streaming-unsigned-only, suite {:#06x})", suite.id());
            runner.run(
                set,
                Case {
                    id,
                    message,
                    cmm,
                    options,
                    expect,
                    stored_context: None,
                },
            );
            continue;
        }

        let tampering = tampering.expect("tampering");
        let mut variants: Vec<Variant> = Vec::new();
        let variant = |name: String, message: Vec<u8>, cmm, expect| -> Variant {
            let options = decrypt_options(&message);
            (name, message, cmm, options, expect)
        };
        let what = match tampering {
            Value::String(t) if t == "truncate" || t == "mutate" => {
                let message = encrypt_as(&*cmm);
                // The untampered message decrypts (so each failure is the tampering's).
                variants.push(variant(
                    "untampered".into(),
                    message.clone(),
                    cmm.clone(),
                    Expect::Plaintext(plaintext.clone()),
                ));
                if t == "truncate" {
                    for len in 1..message.len() {
                        variants.push(variant(
                            format!("first {len} bytes"),
                            message[..len].to_vec(),
                            cmm.clone(),
                            Expect::Error(Error::Format(FormatError::Truncated)),
                        ));
                    }
                } else {
                    for bit in 0..message.len() * 8 {
                        let mut m = message.clone();
                        m[bit / 8] ^= 1 << (bit % 8);
                        variants.push(variant(
                            format!("bit {bit} flipped"),
                            m,
                            cmm.clone(),
                            Expect::AnyError,
                        ));
                    }
                }
                t.clone()
            }
            Value::String(t) if t == "half-sign" => {
                let signed = AlgorithmSuite::ALL
                    .into_iter()
                    .find(|x| {
                        x.signature().is_some()
                            && x.key_len() == suite.key_len()
                            && x.is_committing() == suite.is_committing()
                    })
                    .expect("signed counterpart");
                assert!(
                    suite.signature().is_none(),
                    "{id}: half-sign needs an unsigned suite"
                );
                let forger = HalfSigningCmm {
                    inner: DefaultCmm::new(keyring.clone()),
                    signed,
                    unsigned: suite,
                };
                let message = encrypt_as(&forger);
                let (header, _) = HeaderBody::parse(&message, None).expect("header");
                assert_eq!(header.suite.id(), suite.id(), "{id}");
                assert!(
                    header.encryption_context.get(PUBLIC_KEY_FIELD).is_some(),
                    "{id}: the half-signed message has no public key"
                );
                variants.push(variant(
                    format!(
                        "suite {:#06x} with a {:#06x} public key",
                        suite.id(),
                        signed.id()
                    ),
                    message,
                    cmm.clone(),
                    Expect::Error(Error::Policy(PolicyError::PublicKeyMismatch)),
                ));
                t.clone()
            }
            Value::Object(o) if o.contains_key("change-edk-provider-info") => {
                let message = encrypt_as(&*cmm);
                let name = key(&keys, str_field(aes_desc, "key")).key_id.clone();
                let ns = str_field(aes_desc, "provider-id");
                let material = key(&keys, str_field(aes_desc, "key")).material.clone();
                let renamed = with_provider_info(&message, |info| {
                    let rest = info.split_off(name.len());
                    *info = b"another-key".to_vec();
                    info.extend_from_slice(&rest);
                });
                let aes_cmm = |name: &str, bytes: Vec<u8>| {
                    default_cmm(Arc::new(
                        RawAesKeyring::new(ns, name, WrappingKey::new(bytes).expect("key"))
                            .expect("keyring"),
                    ))
                };
                let other_key: Vec<u8> = material.iter().map(|b| b ^ 0x5a).collect();
                let tail = |info: &mut Vec<u8>, offset: usize, xor: u8| {
                    let at = name.len() + offset;
                    info[at] ^= xor;
                };
                variants.extend([
                    variant(
                        "key name rewritten, decrypted with the original key".to_owned(),
                        renamed.clone(),
                        cmm.clone(),
                        Expect::Error(Error::NoMatchingDataKey),
                    ),
                    variant(
                        "key name rewritten, decrypted with another key of that name".to_owned(),
                        renamed.clone(),
                        aes_cmm("another-key", other_key),
                        Expect::Error(Error::DataKeyUnwrapFailed),
                    ),
                    variant(
                        "key name rewritten, decrypted with the same key under that name"
                            .to_owned(),
                        renamed,
                        aes_cmm("another-key", material.clone()),
                        Expect::Error(Error::AuthenticationFailed),
                    ),
                    variant(
                        "IV bit flipped".to_owned(),
                        with_provider_info(&message, |info| tail(info, 8 + 5, 0x01)),
                        cmm.clone(),
                        Expect::Error(Error::DataKeyUnwrapFailed),
                    ),
                    variant(
                        "tag length field changed (128 -> 96 bits)".to_owned(),
                        with_provider_info(&message, |info| tail(info, 3, 128 ^ 96)),
                        cmm.clone(),
                        Expect::Error(Error::NoMatchingDataKey),
                    ),
                    variant(
                        "IV length field changed (12 -> 16)".to_owned(),
                        with_provider_info(&message, |info| tail(info, 7, 12 ^ 16)),
                        cmm.clone(),
                        Expect::Error(Error::NoMatchingDataKey),
                    ),
                ]);
                "change-edk-provider-info (raw AES equivalent)".to_owned()
            }
            other => panic!("{set} / {id}: unknown tampering {other}"),
        };
        let id = format!("{id} ({what}, suite {:#06x})", suite.id());
        runner.run_variants(set, &id, variants);
    }
    assert_eq!(
        scenarios, 6,
        "{set}: negative and decryption-method scenarios"
    );
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
    // Runs one set and records its time on its row (each set is one contiguous row).
    let timed = |runner: &mut Runner, run: &dyn Fn(&mut Runner)| {
        let started = Instant::now();
        run(runner);
        if let Some((_, t)) = runner.tallies.last_mut() {
            t.seconds = started.elapsed().as_secs_f64();
        }
    };
    timed(&mut runner, &|r| {
        run_decrypt_manifest(r, &root, "esdk-net/v4-Net-4.0.1", "manifest.json", None)
    });
    timed(&mut runner, &|r| {
        run_decrypt_manifest(r, &root, "esdk-net/valid-Net-4.0.0", "manifest.json", None)
    });
    timed(&mut runner, &|r| {
        run_decrypt_manifest(
            r,
            &root,
            "esdk-net/invalid-Net-4.0.0",
            "manifest.json",
            Some(Error::AuthenticationFailed),
        )
    });
    timed(&mut runner, &|r| {
        run_decrypt_manifest(r, &root, "dafny-4.1.0", "decrypt-manifest.json", None)
    });
    timed(&mut runner, &|r| {
        run_decrypt_manifest(
            r,
            &root,
            "awses-decrypt/python-1.3.5",
            "decrypt_message.json",
            None,
        )
    });
    timed(&mut runner, &|r| run_commitment_kats(r, &root));
    timed(&mut runner, &|r| run_decrypt_oracle(r, &root));
    timed(&mut runner, &|r| run_c_sdk_data(r, &root));
    timed(&mut runner, &|r| {
        run_encrypt_manifest(r, &root, "dafny-4.1.0", "encrypt-manifest.json")
    });
    timed(&mut runner, &|r| run_generation_negatives(r, &root));
    let v1 = std::mem::take(&mut runner.v1_policy);
    runner.tallies.push((V1_POLICY_ROW.to_owned(), v1));

    // The table.
    let mut table = String::new();
    let rule = "-".repeat(130);
    let _ = writeln!(
        table,
        "{:<46} | {:>5} | {:>6} | {:>9} | {:>6} | {:>6} | skipped: count (reason)",
        "set", "cases", "passed", "must-fail", "failed", "time"
    );
    let _ = writeln!(table, "{rule}");
    let (mut total_cases, mut total_passed, mut total_failed, mut total_skipped) = (0, 0, 0, 0);
    for (set, t) in &runner.tallies {
        let skipped: usize = t.skipped.values().sum();
        let cases = t.passed + t.failures.len() + skipped;
        let _ = writeln!(
            table,
            "{set:<46} | {cases:>5} | {:>6} | {:>9} | {:>6} | {:>5.1}s | {}",
            t.passed,
            t.must_fail,
            t.failures.len(),
            t.seconds,
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
    for (set, t) in &runner.tallies {
        if t.variants > 0 {
            let _ = writeln!(
                table,
                "({set}: its tampering cases decrypted {} message variants in all)",
                t.variants
            );
        }
    }
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
