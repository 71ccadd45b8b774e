//! Tests for rows of docs/CONFORMANCE.md that had none. Each test names its row and the
//! spec file and section it checks.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use esdk::cmm::{DecryptMaterialsRequest, EncryptionMaterialsRequest};
use esdk::format::body::FrameHeader;
use esdk::format::header::HeaderAuth;
use esdk::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk::*;

const COMMIT: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const COMMIT_SIGNED: &AlgorithmSuite =
    &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
const HKDF_256: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256;

fn aes(name: &str, byte: u8) -> Arc<RawAesKeyring> {
    Arc::new(RawAesKeyring::new("ns", name, WrappingKey::new(vec![byte; 32]).unwrap()).unwrap())
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

fn keys(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Every pair of `values` differs in at least `min_bits` bits (random values differ in
/// about half their bits; counters and constants do not).
fn assert_pairwise_far(values: &[Vec<u8>], min_bits: u32) {
    for (i, a) in values.iter().enumerate() {
        for b in &values[i + 1..] {
            let d = hamming(a, b);
            assert!(d >= min_bits, "two values differ in only {d} bits");
        }
    }
}

/// The header, the frame headers (in order) and the number of bytes after the final frame.
fn frames(ct: &[u8]) -> (HeaderBody, Vec<FrameHeader>, usize) {
    let (header, n) = HeaderBody::parse(ct, None).unwrap();
    let mut pos = n + HeaderAuth::len(header.version());
    let mut out = Vec::new();
    loop {
        let (fh, used) = FrameHeader::parse(&ct[pos..], header.frame_length).unwrap();
        pos += used + fh.content_length as usize + 16;
        let last = fh.is_final;
        out.push(fh);
        if last {
            break;
        }
    }
    (header, out, ct.len() - pos)
}

fn header_len(ct: &[u8]) -> usize {
    let (header, n) = HeaderBody::parse(ct, None).unwrap();
    n + HeaderAuth::len(header.version())
}

/// A keyring that counts its calls and then delegates (or fails when `inner` is None).
struct Counting {
    inner: Option<Arc<dyn Keyring>>,
    calls: AtomicUsize,
}

impl Counting {
    fn new(inner: Option<Arc<dyn Keyring>>) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            calls: AtomicUsize::new(0),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Keyring for Counting {
    fn on_encrypt(&self, m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.inner {
            Some(k) => k.on_encrypt(m),
            None => Err(Error::Keyring("hsm offline".into())),
        }
    }
    fn on_decrypt(
        &self,
        m: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.inner {
            Some(k) => k.on_decrypt(m, edks),
            None => Err(Error::Keyring("hsm offline".into())),
        }
    }
}

/// A keyring whose OnEncrypt returns the materials unchanged, or with one made-up EDK.
struct NoDataKey {
    add_edk: bool,
}

impl Keyring for NoDataKey {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        if self.add_edk {
            m.add_encrypted_data_key(EncryptedDataKey {
                provider_id: "fake".into(),
                provider_info: b"fake".to_vec(),
                ciphertext: vec![0; 48],
            });
        }
        Ok(m)
    }
    fn on_decrypt(
        &self,
        m: DecryptionMaterials,
        _: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        Ok(m)
    }
}

/// A keyring that sets a data key but adds no encrypted data key.
struct KeyButNoEdk;

impl Keyring for KeyButNoEdk {
    fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
        let len = m.suite().key_len();
        m.set_data_key(DataKey::new(vec![7; len]))?;
        Ok(m)
    }
    fn on_decrypt(
        &self,
        m: DecryptionMaterials,
        _: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        Ok(m)
    }
}

type EncHook = dyn Fn(EncryptionMaterialsRequest) -> Result<EncryptionMaterials> + Send + Sync;
type DecHook = dyn Fn(DecryptMaterialsRequest) -> Result<DecryptionMaterials> + Send + Sync;

/// A CMM made of two closures, counting its calls.
struct HookCmm {
    enc: Box<EncHook>,
    dec: Box<DecHook>,
    calls: AtomicUsize,
}

impl HookCmm {
    fn new(
        enc: impl Fn(EncryptionMaterialsRequest) -> Result<EncryptionMaterials> + Send + Sync + 'static,
        dec: impl Fn(DecryptMaterialsRequest) -> Result<DecryptionMaterials> + Send + Sync + 'static,
    ) -> Arc<HookCmm> {
        Arc::new(HookCmm {
            enc: Box::new(enc),
            dec: Box::new(dec),
            calls: AtomicUsize::new(0),
        })
    }
}

impl CryptoMaterialsManager for HookCmm {
    fn get_encryption_materials(
        &self,
        r: EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.enc)(r)
    }
    fn decrypt_materials(&self, r: DecryptMaterialsRequest) -> Result<DecryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.dec)(r)
    }
}

fn no_decrypt(_: DecryptMaterialsRequest) -> Result<DecryptionMaterials> {
    Err(Error::Keyring("not used".into()))
}

fn no_encrypt(_: EncryptionMaterialsRequest) -> Result<EncryptionMaterials> {
    Err(Error::Keyring("not used".into()))
}

fn commit_opts() -> EncryptOptions {
    EncryptOptions {
        algorithm_suite: Some(COMMIT),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// Header and body
// ---------------------------------------------------------------------------------------

// H-08: data-format/message-header.md "Message ID": the message ID MUST uniquely identify
// the message.
#[test]
fn message_ids_are_unique_per_message() {
    let kr = aes("k", 1);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        // Same key, same plaintext, same context: only the message ID can tell them apart.
        let ct = encrypt(kr.clone(), b"same", commit_opts()).unwrap();
        let (header, _) = HeaderBody::parse(&ct, None).unwrap();
        assert_eq!(header.message_id.len(), 32);
        assert!(seen.insert(header.message_id), "a message ID repeated");
    }
    assert_eq!(seen.len(), 200);
}

// H-09: data-format/message-header.md "Message ID": message IDs MUST come from a good
// source of randomness (v2, 32 bytes).
#[test]
fn message_ids_look_random_v2() {
    let kr = aes("k", 1);
    let ids: Vec<Vec<u8>> = (0..48)
        .map(|_| {
            let ct = encrypt(kr.clone(), b"x", commit_opts()).unwrap();
            HeaderBody::parse(&ct, None).unwrap().0.message_id
        })
        .collect();
    // 256 random bits: two IDs differ in 128 ± 8 bits; 64 is 8 standard deviations away.
    assert_pairwise_far(&ids, 64);
}

// E-34: client-apis/encrypt.md "Construct the header": the message ID MUST come from a good
// source of randomness (v1, 16 bytes).
#[test]
fn message_ids_look_random_v1() {
    let kr = aes("k", 1);
    let ids: Vec<Vec<u8>> = (0..48)
        .map(|_| {
            let opts = EncryptOptions {
                algorithm_suite: Some(HKDF_256),
                commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
                ..Default::default()
            };
            let ct = encrypt(kr.clone(), b"x", opts).unwrap();
            let id = HeaderBody::parse(&ct, None).unwrap().0.message_id;
            assert_eq!(id.len(), 16);
            id
        })
        .collect();
    // 128 random bits: 64 ± 5.7 differing bits; 24 is 7 standard deviations away.
    assert_pairwise_far(&ids, 24);
}

// B-07: data-format/message-body.md "Regular Frame" IV: each frame's IV MUST be unique
// within the message (one thread and the batched multi-thread path).
#[test]
fn regular_frame_ivs_differ_within_a_message() {
    let kr = aes("k", 1);
    for threads in [1usize, 4] {
        let pt = vec![0x33u8; 10 * 300 + 5];
        let opts = EncryptOptions {
            frame_length: 10,
            threads,
            ..commit_opts()
        };
        // The one-shot path and the streaming path.
        let one_shot = encrypt(kr.clone(), &pt, opts.clone()).unwrap();
        let mut streamed = Vec::new();
        let cmm = DefaultCmm::new(kr.clone());
        let mut w = EncryptingWriter::new(&mut streamed, Encryptor::new(&cmm, opts).unwrap());
        std::io::Write::write_all(&mut w, &pt).unwrap();
        w.finish().unwrap();
        for ct in [one_shot, streamed] {
            let (_, fs, _) = frames(&ct);
            assert_eq!(fs.len(), 301);
            let regular: Vec<_> = fs.iter().filter(|f| !f.is_final).collect();
            assert_eq!(regular.len(), 300);
            let ivs: HashSet<[u8; 12]> = regular.iter().map(|f| f.iv).collect();
            assert_eq!(ivs.len(), 300, "threads {threads}: a frame IV repeated");
        }
    }
}

// B-17: data-format/message-body.md "Final Frame" IV: the final frame's IV MUST be unique
// within the message.
#[test]
fn final_frame_iv_differs_from_every_regular_frame_iv() {
    let kr = aes("k", 1);
    // A short final frame, a full final frame, and a final frame alone.
    for len in [25usize, 30, 0, 7] {
        let opts = EncryptOptions {
            frame_length: 10,
            ..commit_opts()
        };
        let ct = encrypt(kr.clone(), &vec![1u8; len], opts).unwrap();
        let (_, fs, _) = frames(&ct);
        let (last, regular) = fs.split_last().unwrap();
        assert!(last.is_final);
        assert_eq!(regular.len(), len.saturating_sub(1) / 10);
        for f in regular {
            assert_ne!(
                f.iv, last.iv,
                "len {len}: final IV equals frame {}",
                f.sequence_number
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Raw AES keyring
// ---------------------------------------------------------------------------------------

// framework/raw-aes-keyring.md "OnEncrypt": the IV MUST be a CSPRNG IV of the
// algorithm's IV length (12 bytes).
#[test]
fn raw_aes_wrap_iv_is_random_and_12_bytes() {
    let kr = aes("key-name", 1);
    let ivs: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            let m = kr
                .on_encrypt(EncryptionMaterials::new(COMMIT, ctx(&[("a", "b")])))
                .unwrap();
            let info = &m.encrypted_data_keys()[0].provider_info;
            // key name ‖ tag length in bits (128) ‖ IV length (12) ‖ IV
            assert_eq!(info.len(), 8 + 4 + 4 + 12);
            assert_eq!(&info[8..16], &[0, 0, 0, 128, 0, 0, 0, 12]);
            info[16..].to_vec()
        })
        .collect();
    // 96 random bits: 48 ± 4.9 differing bits; 16 is 6.5 standard deviations away.
    assert_pairwise_far(&ivs, 16);
}

// framework/raw-aes-keyring.md "OnDecrypt": materials that already hold a data key
// ⇒ OnDecrypt MUST fail.
#[test]
fn raw_aes_on_decrypt_refuses_materials_with_a_data_key() {
    let kr = aes("k", 1);
    let edks = kr
        .on_encrypt(EncryptionMaterials::new(COMMIT, EncryptionContext::new()))
        .unwrap()
        .encrypted_data_keys()
        .to_vec();
    let other = EncryptedDataKey {
        provider_id: "other".into(),
        provider_info: b"x".to_vec(),
        ciphertext: vec![0; 48],
    };
    // With no EDK, or none of ours, the keyring would otherwise return the materials as
    // they are; with ours it would try to set a second key.
    for list in [vec![], vec![other], edks] {
        let mut m = DecryptionMaterials::new(COMMIT, EncryptionContext::new());
        m.set_data_key(DataKey::new(vec![9; 32])).unwrap();
        let e = kr.on_decrypt(m, &list).unwrap_err();
        assert_eq!(
            e,
            Error::InvalidState("the materials already hold a data key")
        );
    }
}

fn unserializable_context() -> EncryptionContext {
    // Two values of 40000 bytes: the serialization exceeds the 16-bit length.
    ctx(&[("a", &"x".repeat(40_000)), ("b", &"y".repeat(40_000))])
}

// framework/raw-aes-keyring.md "OnEncrypt": the keyring MUST serialize the materials'
// context, and OnEncrypt MUST fail if that fails (called directly, not through a header).
#[test]
fn raw_aes_on_encrypt_fails_on_an_unserializable_context() {
    let kr = aes("k", 1);
    let e = kr
        .on_encrypt(EncryptionMaterials::new(COMMIT, unserializable_context()))
        .unwrap_err();
    assert_eq!(e, Error::Limit(LimitError::EncryptionContextTooLarge));
    let e = kr
        .on_encrypt(EncryptionMaterials::new(
            COMMIT,
            ctx(&[("k", &"v".repeat(70_000))]),
        ))
        .unwrap_err();
    assert_eq!(
        e,
        Error::Limit(LimitError::FieldTooLong("an encryption context value"))
    );
}

// framework/raw-aes-keyring.md "OnDecrypt": the keyring MUST serialize the context,
// and OnDecrypt MUST fail if that fails (even when no EDK is the keyring's).
#[test]
fn raw_aes_on_decrypt_fails_on_an_unserializable_context() {
    let kr = aes("k", 1);
    let edks = kr
        .on_encrypt(EncryptionMaterials::new(COMMIT, EncryptionContext::new()))
        .unwrap()
        .encrypted_data_keys()
        .to_vec();
    for list in [vec![], edks] {
        let m = DecryptionMaterials::new(COMMIT, unserializable_context());
        let e = kr.on_decrypt(m, &list).unwrap_err();
        assert_eq!(e, Error::Limit(LimitError::EncryptionContextTooLarge));
    }
}

// ---------------------------------------------------------------------------------------
// Multi-keyring
// ---------------------------------------------------------------------------------------

// MK-02: framework/multi-keyring.md "Generator Keyring": the generator MUST generate a data
// key; MK-08: "OnEncrypt": the generator returns materials without a data key ⇒ OnEncrypt
// MUST fail. Both ways a generator can leave no data key: with an EDK added, and without.
#[test]
fn multi_keyring_fails_when_the_generator_sets_no_data_key() {
    for add_edk in [true, false] {
        let child = Counting::new(Some(aes("c", 2)));
        let multi =
            MultiKeyring::new(Some(Arc::new(NoDataKey { add_edk })), vec![child.clone()]).unwrap();
        let e = multi
            .on_encrypt(EncryptionMaterials::new(COMMIT, EncryptionContext::new()))
            .unwrap_err();
        assert_eq!(
            e,
            Error::Keyring("the generator produced no data key".into()),
            "add_edk {add_edk}"
        );
        assert_eq!(child.calls(), 0);
        // Through the whole encrypt call too.
        let e = encrypt(Arc::new(multi), b"x", commit_opts()).unwrap_err();
        assert_eq!(
            e,
            Error::Keyring("the generator produced no data key".into())
        );
    }
}

// MK-05: framework/multi-keyring.md "OnEncrypt": with a generator, input materials that
// already hold a data key ⇒ MUST fail.
#[test]
fn multi_keyring_with_generator_refuses_materials_with_a_data_key() {
    let generator = Counting::new(Some(aes("g", 1)));
    let multi = MultiKeyring::new(Some(generator.clone()), vec![aes("c", 2)]).unwrap();
    let mut m = EncryptionMaterials::new(COMMIT, EncryptionContext::new());
    m.set_data_key(DataKey::new(vec![5; 32])).unwrap();
    let e = multi.on_encrypt(m).unwrap_err();
    assert_eq!(
        e,
        Error::InvalidState("a multi-keyring with a generator got materials that hold a data key")
    );
    assert_eq!(generator.calls(), 0);
}

// MK-07: framework/multi-keyring.md "OnEncrypt": the generator fails ⇒ OnEncrypt MUST fail
// (with the generator's error, and no child is called).
#[test]
fn multi_keyring_fails_when_the_generator_fails() {
    let generator = Counting::new(None);
    let child = Counting::new(Some(aes("c", 2)));
    let multi = MultiKeyring::new(Some(generator.clone()), vec![child.clone()]).unwrap();
    let e = multi
        .on_encrypt(EncryptionMaterials::new(COMMIT, EncryptionContext::new()))
        .unwrap_err();
    assert_eq!(e, Error::Keyring("hsm offline".into()));
    assert_eq!(generator.calls(), 1);
    assert_eq!(child.calls(), 0);
}

// MK-13: framework/multi-keyring.md "OnDecrypt": materials that already hold a data key ⇒
// OnDecrypt MUST fail.
#[test]
fn multi_keyring_on_decrypt_refuses_materials_with_a_data_key() {
    let g = aes("g", 1);
    let edks = g
        .on_encrypt(EncryptionMaterials::new(COMMIT, EncryptionContext::new()))
        .unwrap()
        .encrypted_data_keys()
        .to_vec();
    let counted = Counting::new(Some(g));
    let multi = MultiKeyring::new(Some(counted.clone()), vec![]).unwrap();
    let mut m = DecryptionMaterials::new(COMMIT, EncryptionContext::new());
    m.set_data_key(DataKey::new(vec![9; 32])).unwrap();
    let e = multi.on_decrypt(m, &edks).unwrap_err();
    assert_eq!(
        e,
        Error::InvalidState("the materials already hold a data key")
    );
    assert_eq!(counted.calls(), 0);
}

// ---------------------------------------------------------------------------------------
// Keyring interface and structures
// ---------------------------------------------------------------------------------------

// K-16: framework/keyring-interface.md "Generate Data Key": the data key MUST be
// cryptographically secure random bits, of the suite's key length.
#[test]
fn keyring_generated_data_keys_are_random_and_of_the_suite_length() {
    let kr = aes("k", 1);
    for suite in AlgorithmSuite::ALL {
        let keys: Vec<Vec<u8>> = (0..24)
            .map(|_| {
                let m = kr
                    .on_encrypt(EncryptionMaterials::new(suite, EncryptionContext::new()))
                    .unwrap();
                let k = m.data_key().unwrap().expose_secret().to_vec();
                assert_eq!(k.len(), suite.key_len(), "{suite:?}");
                k
            })
            .collect();
        // At least 128 bits: 64 ± 5.7 differing bits; 24 is 7 standard deviations away.
        assert_pairwise_far(&keys, 24);
    }
}

// S-14: framework/structures.md "Plaintext Data Key" (encryption materials): MUST be
// CSPRNG bits (the materials a DefaultCmm returns).
#[test]
fn default_cmm_materials_hold_random_data_keys() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let keys: Vec<Vec<u8>> = (0..32)
        .map(|_| {
            let m = cmm
                .get_encryption_materials(EncryptionMaterialsRequest {
                    algorithm_suite: Some(COMMIT),
                    ..Default::default()
                })
                .unwrap();
            m.data_key().unwrap().expose_secret().to_vec()
        })
        .collect();
    for k in &keys {
        assert_eq!(k.len(), 32);
    }
    // 256 random bits: 128 ± 8 differing bits; 64 is 8 standard deviations away.
    assert_pairwise_far(&keys, 64);
    let fresh: Vec<Vec<u8>> = (0..16)
        .map(|_| DataKey::generate(32).unwrap().expose_secret().to_vec())
        .collect();
    assert_pairwise_far(&fresh, 64);
}

// S-15: framework/structures.md "Plaintext Data Key": MUST be kept secret (never printed).
#[test]
fn data_key_is_redacted_in_debug_output() {
    let key = DataKey::new(vec![0xAB; 32]);
    assert_eq!(format!("{key:?}"), "DataKey([redacted])");
    let mut m = EncryptionMaterials::new(COMMIT, EncryptionContext::new());
    m.set_data_key(key).unwrap();
    let text = format!("{m:?}");
    assert!(
        text.contains("data_key: Some(DataKey([redacted]))"),
        "{text}"
    );
    assert!(!text.contains("171"), "{text}");
    let mut d = DecryptionMaterials::new(COMMIT, EncryptionContext::new());
    d.set_data_key(DataKey::new(vec![0xAB; 32])).unwrap();
    let text = format!("{d:#?}");
    assert!(text.contains("DataKey([redacted])"), "{text}");
    assert!(!text.contains("171"), "{text}");
}

// S-17: framework/structures.md "Signing Key": for a suite without a signature the signing
// key MUST NOT be present (and with it no public key in the context, and no footer).
#[test]
fn unsigned_suites_get_no_signing_key() {
    let cmm = DefaultCmm::new(aes("k", 1));
    for suite in AlgorithmSuite::ALL {
        let policy = if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        let m = cmm
            .get_encryption_materials(EncryptionMaterialsRequest {
                algorithm_suite: Some(suite),
                commitment_policy: policy,
                ..Default::default()
            })
            .unwrap();
        let text = format!("{m:?}");
        let signed = suite.signature().is_some();
        assert_eq!(
            text.contains("signing_key: None"),
            !signed,
            "{suite:?}: {text}"
        );
        assert_eq!(
            m.encryption_context().contains_key("aws-crypto-public-key"),
            signed,
            "{suite:?}"
        );
        if !signed {
            let opts = EncryptOptions {
                algorithm_suite: Some(suite),
                commitment_policy: policy,
                ..Default::default()
            };
            let ct = encrypt(aes("k", 1), b"abc", opts).unwrap();
            let (_, _, after_body) = frames(&ct);
            assert_eq!(after_body, 0, "{suite:?}: a footer follows the body");
        }
    }
}

// S-18: framework/structures.md "Signing Key": MUST be kept secret (never printed).
#[test]
fn signing_key_is_redacted_in_debug_output() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let m = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            algorithm_suite: Some(COMMIT_SIGNED),
            ..Default::default()
        })
        .unwrap();
    let text = format!("{m:?}");
    assert!(
        text.contains("signing_key: Some(SigningKey([redacted]))"),
        "{text}"
    );
    assert!(
        text.contains("data_key: Some(DataKey([redacted]))"),
        "{text}"
    );
}

// S-19: framework/structures.md "Required Encryption Context Keys" (encryption materials):
// each MUST be a key of the encryption context.
#[test]
fn default_cmm_refuses_required_key_missing_from_the_context() {
    let inner = Counting::new(Some(aes("k", 1)));
    let cmm = DefaultCmm::new(inner.clone());
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: ctx(&[("a", "1")]),
            algorithm_suite: Some(COMMIT),
            required_encryption_context_keys: keys(&["b"]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::MissingContextPair("b".into()))
    );
    assert_eq!(inner.calls(), 0);
    // The same request with the key present gives materials that carry it as required.
    let m = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: ctx(&[("a", "1"), ("b", "2")]),
            algorithm_suite: Some(COMMIT),
            required_encryption_context_keys: keys(&["b"]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.required_encryption_context_keys(), &keys(&["b"]));
}

// ---------------------------------------------------------------------------------------
// CMM interface and default CMM
// ---------------------------------------------------------------------------------------

// CI-12: framework/cmm-interface.md "Valid encryption materials": the EDK list MUST hold
// at least one EDK.
#[test]
fn default_cmm_refuses_materials_without_an_encrypted_data_key() {
    let cmm = DefaultCmm::new(Arc::new(KeyButNoEdk));
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            algorithm_suite: Some(COMMIT),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Keyring("the keyring produced no encrypted data key".into())
    );
    let e = encrypt(Arc::new(KeyButNoEdk), b"x", commit_opts()).unwrap_err();
    assert_eq!(
        e,
        Error::Keyring("the keyring produced no encrypted data key".into())
    );
}

// CI-14: framework/cmm-interface.md "Valid encryption materials": every required key MUST
// be in the encryption context (the first missing one is named).
#[test]
fn default_cmm_names_the_missing_required_key() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: ctx(&[("a", "1"), ("c", "3")]),
            algorithm_suite: Some(COMMIT),
            required_encryption_context_keys: keys(&["a", "b", "c"]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::MissingContextPair("b".into()))
    );
}

// DC-04: framework/default-cmm.md "Get Encryption Materials": a requested suite that the
// commitment policy forbids ⇒ MUST fail (before the keyring is called).
#[test]
fn default_cmm_refuses_a_requested_suite_the_policy_forbids() {
    let inner = Counting::new(Some(aes("k", 1)));
    let cmm = DefaultCmm::new(inner.clone());
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            algorithm_suite: Some(HKDF_256),
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            operation: "encrypt"
        })
    );
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            algorithm_suite: Some(COMMIT),
            commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0478,
            operation: "encrypt"
        })
    );
    assert_eq!(inner.calls(), 0);
}

// DC-12: framework/default-cmm.md "Decrypt Materials": a signed suite whose context lacks
// the public key ⇒ MUST fail without returning materials.
#[test]
fn default_cmm_refuses_a_signed_suite_without_a_public_key() {
    let inner = Counting::new(Some(aes("k", 1)));
    let cmm = DefaultCmm::new(inner.clone());
    let e = cmm
        .decrypt_materials(DecryptMaterialsRequest {
            algorithm_suite: COMMIT_SIGNED,
            commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            encrypted_data_keys: vec![],
            encryption_context: ctx(&[("a", "1")]),
            reproduced_encryption_context: None,
        })
        .unwrap_err();
    assert_eq!(e, Error::Policy(PolicyError::PublicKeyMismatch));
    assert_eq!(inner.calls(), 0);
}

// DC-14: framework/default-cmm.md "Decrypt Materials": a suite the commitment policy
// forbids ⇒ MUST fail.
#[test]
fn default_cmm_decrypt_refuses_a_suite_the_policy_forbids() {
    let inner = Counting::new(Some(aes("k", 1)));
    let cmm = DefaultCmm::new(inner.clone());
    let e = cmm
        .decrypt_materials(DecryptMaterialsRequest {
            algorithm_suite: HKDF_256,
            commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            encrypted_data_keys: vec![],
            encryption_context: EncryptionContext::new(),
            reproduced_encryption_context: None,
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            operation: "decrypt"
        })
    );
    assert_eq!(inner.calls(), 0);
}

// ---------------------------------------------------------------------------------------
// Required encryption context CMM
// ---------------------------------------------------------------------------------------

fn required_cmm(
    underlying: Arc<dyn CryptoMaterialsManager>,
    names: &[&str],
) -> RequiredEncryptionContextCmm {
    RequiredEncryptionContextCmm::new(underlying, names.iter().map(|s| s.to_string()))
}

// RC-01: framework/required-encryption-context-cmm.md "Overview": the configured keys MUST
// be in every encryption request's context (end to end through encrypt).
#[test]
fn required_cmm_encrypt_refuses_a_context_without_the_keys() {
    let cmm = required_cmm(Arc::new(DefaultCmm::new(aes("k", 1))), &["tenant"]);
    let mut opts = commit_opts();
    opts.encryption_context.insert("other", "x");
    let e = encrypt_with_cmm(&cmm, b"secret", opts.clone()).unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::MissingContextPair("tenant".into()))
    );
    opts.encryption_context.insert("tenant", "t1");
    let ct = encrypt_with_cmm(&cmm, b"secret", opts).unwrap();
    // The configured key is authenticated but not stored.
    let (header, _) = HeaderBody::parse(&ct, None).unwrap();
    assert_eq!(header.encryption_context, ctx(&[("other", "x")]));
}

// RC-07: framework/required-encryption-context-cmm.md "Get Encryption Materials": the
// request context MUST hold every configured key, or the call MUST fail (before the
// underlying CMM is called).
#[test]
fn required_cmm_get_encryption_materials_checks_every_key_first() {
    let under = HookCmm::new(
        |r| DefaultCmm::new(aes("k", 1)).get_encryption_materials(r),
        no_decrypt,
    );
    let cmm = required_cmm(under.clone(), &["a", "b"]);
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: ctx(&[("a", "1")]),
            algorithm_suite: Some(COMMIT),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::MissingContextPair("b".into()))
    );
    assert_eq!(under.calls.load(Ordering::SeqCst), 0);
}

// RC-10: framework/required-encryption-context-cmm.md "Get Encryption Materials": the
// materials obtained MUST have the configured keys as required keys.
#[test]
fn required_cmm_refuses_materials_that_dropped_the_required_keys() {
    let under = HookCmm::new(
        |mut r| {
            r.required_encryption_context_keys.clear();
            DefaultCmm::new(aes("k", 1)).get_encryption_materials(r)
        },
        no_decrypt,
    );
    let cmm = required_cmm(under.clone(), &["a"]);
    let e = cmm
        .get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: ctx(&[("a", "1")]),
            algorithm_suite: Some(COMMIT),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Keyring("the underlying CMM dropped required context keys".into())
    );
    assert_eq!(under.calls.load(Ordering::SeqCst), 1);
}

// RC-13: framework/required-encryption-context-cmm.md "Decrypt Materials": the materials
// obtained MUST have the configured keys in their encryption context.
#[test]
fn required_cmm_refuses_decryption_materials_without_the_keys() {
    let under = HookCmm::new(no_encrypt, |r| {
        // Materials for the right suite with a data key, but a context without "a".
        let mut m = DecryptionMaterials::new(r.algorithm_suite, r.encryption_context);
        m.set_data_key(DataKey::new(vec![1; 32]))?;
        Ok(m)
    });
    let cmm = required_cmm(under.clone(), &["a"]);
    let e = cmm
        .decrypt_materials(DecryptMaterialsRequest {
            algorithm_suite: COMMIT,
            commitment_policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            encrypted_data_keys: vec![],
            encryption_context: ctx(&[("b", "2")]),
            reproduced_encryption_context: Some(ctx(&[("a", "1")])),
        })
        .unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::MissingContextPair("a".into()))
    );
    assert_eq!(under.calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// Commitment policy
// ---------------------------------------------------------------------------------------

// CP-06: framework/commitment-policy.md "ESDK.REQUIRE_ENCRYPT_ALLOW_DECRYPT": 0x0578 MUST be
// the default suite.
#[test]
fn require_encrypt_allow_decrypt_defaults_to_0578() {
    let policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
    assert_eq!(policy.default_suite().id(), 0x0578);
    let opts = EncryptOptions {
        commitment_policy: policy,
        ..Default::default()
    };
    let ct = encrypt(aes("k", 1), b"x", opts).unwrap();
    let (header, _) = HeaderBody::parse(&ct, None).unwrap();
    assert_eq!(header.suite.id(), 0x0578);
}

// ---------------------------------------------------------------------------------------
// Encrypt
// ---------------------------------------------------------------------------------------

// E-10: client-apis/encrypt.md "Frame Length": MUST default to 4096.
#[test]
fn frame_length_defaults_to_4096() {
    assert_eq!(EncryptOptions::default().frame_length, 4096);
    let ct = encrypt(aes("k", 1), &[0u8; 5000], EncryptOptions::default()).unwrap();
    let (header, fs, _) = frames(&ct);
    assert_eq!(header.frame_length, 4096);
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[1].content_length, 5000 - 4096);
}

fn recording_cmm(seen: Arc<Mutex<Vec<Option<u64>>>>) -> Arc<HookCmm> {
    HookCmm::new(
        move |r| {
            seen.lock().unwrap().push(r.max_plaintext_length);
            DefaultCmm::new(aes("k", 1)).get_encryption_materials(r)
        },
        no_decrypt,
    )
}

// E-24b: client-apis/encrypt.md "Get the encryption materials": the request's Max Plaintext
// Length MUST be the plaintext length when it is known.
#[test]
fn encrypt_passes_the_plaintext_length_to_the_cmm() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cmm = recording_cmm(seen.clone());
    encrypt_with_cmm(cmm.as_ref(), &[0u8; 123], commit_opts()).unwrap();
    let opts = EncryptOptions {
        max_plaintext_length: Some(1000),
        ..commit_opts()
    };
    encrypt_with_cmm(cmm.as_ref(), &[0u8; 77], opts).unwrap();
    encrypt_with_cmm(cmm.as_ref(), &[], commit_opts()).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![Some(123), Some(77), Some(0)]);
}

// E-25b: client-apis/encrypt.md "Get the encryption materials" (MAY): the materials' suite
// may differ from the requested one. Deviation: we refuse it.
#[test]
fn encrypt_refuses_materials_for_another_suite_than_requested() {
    let cmm = HookCmm::new(
        |mut r| {
            r.algorithm_suite = Some(COMMIT_SIGNED);
            DefaultCmm::new(aes("k", 1)).get_encryption_materials(r)
        },
        no_decrypt,
    );
    let e = encrypt_with_cmm(cmm.as_ref(), b"x", commit_opts()).unwrap_err();
    assert_eq!(
        e,
        Error::Keyring("the materials manager chose a different suite than requested".into())
    );
}

// E-27: client-apis/encrypt.md "Get the encryption materials": the materials' suite is not
// allowed by the commitment policy ⇒ MUST fail.
#[test]
fn encrypt_refuses_materials_whose_suite_the_policy_forbids() {
    let cmm = HookCmm::new(
        |mut r| {
            r.algorithm_suite = Some(HKDF_256);
            r.commitment_policy = CommitmentPolicy::ForbidEncryptAllowDecrypt;
            DefaultCmm::new(aes("k", 1)).get_encryption_materials(r)
        },
        no_decrypt,
    );
    // No suite requested: only the check on the materials can catch it.
    let opts = EncryptOptions::default();
    let e = encrypt_with_cmm(cmm.as_ref(), b"x", opts).unwrap_err();
    assert_eq!(
        e,
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            operation: "encrypt"
        })
    );
    assert_eq!(cmm.calls.load(Ordering::SeqCst), 1);
}

// E-42: client-apis/encrypt.md "Construct the header": header bytes MUST NOT be released
// before the whole header is serialized (the first output is the whole header, at once).
#[test]
fn encryptor_releases_the_whole_header_at_once() {
    let cmm = DefaultCmm::new(aes("k", 1));
    for suite in [COMMIT, COMMIT_SIGNED] {
        let opts = EncryptOptions {
            algorithm_suite: Some(suite),
            frame_length: 64,
            ..Default::default()
        };
        let mut enc = Encryptor::new(&cmm, opts).unwrap();
        let mut out = vec![0u8; 1 << 16];
        let p = enc.process(&[], &mut out).unwrap();
        assert_eq!(p.consumed, 0);
        assert!(p.produced > 0);
        assert_eq!(header_len(&out[..p.produced]), p.produced, "{suite:?}");
        // Nothing more until plaintext arrives.
        assert_eq!(enc.process(&[], &mut out).unwrap(), Progress::default());
    }
}

// E-57: client-apis/encrypt.md "Construct a frame": frame bytes MUST NOT be released before
// the whole frame is serialized.
#[test]
fn encryptor_releases_only_whole_frames() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let opts = EncryptOptions {
        frame_length: 64,
        ..commit_opts()
    };
    let mut enc = Encryptor::new(&cmm, opts).unwrap();
    let mut out = vec![0u8; 1 << 16];
    let mut message = Vec::new();
    let p = enc.process(&[], &mut out).unwrap();
    message.extend_from_slice(&out[..p.produced]);
    let pt = vec![0x42u8; 64 * 3 + 10];
    let mut releases = Vec::new();
    // Feed one byte at a time: each release must be exactly one regular frame.
    for b in &pt {
        let p = enc.process(std::slice::from_ref(b), &mut out).unwrap();
        assert_eq!(p.consumed, 1);
        if p.produced > 0 {
            releases.push(p.produced);
            message.extend_from_slice(&out[..p.produced]);
        }
    }
    assert_eq!(releases, vec![4 + 12 + 64 + 16; 3]);
    enc.end_input();
    let p = enc.process(&[], &mut out).unwrap();
    // The final frame: marker, sequence number, IV, length, 10 bytes, tag.
    assert_eq!(p.produced, 4 + 4 + 12 + 4 + 10 + 16);
    message.extend_from_slice(&out[..p.produced]);
    assert!(enc.is_done());
    let d = decrypt(aes("k", 1), &message, DecryptOptions::default()).unwrap();
    assert_eq!(d.plaintext, pt);
}

// E-62: client-apis/encrypt.md "Construct the signature": footer bytes MUST NOT be released
// until complete; then everything left and the footer MUST be released.
#[test]
fn encryptor_releases_final_frame_and_footer_together() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let opts = EncryptOptions {
        algorithm_suite: Some(COMMIT_SIGNED),
        frame_length: 64,
        ..Default::default()
    };
    let mut enc = Encryptor::new(&cmm, opts).unwrap();
    let mut out = vec![0u8; 1 << 16];
    let mut message = Vec::new();
    let p = enc.process(&[0x11; 100], &mut out).unwrap();
    assert_eq!(p.consumed, 100);
    message.extend_from_slice(&out[..p.produced]);
    // Header and the one full frame are out; the 36 bytes of the last frame are held.
    assert_eq!(p.produced, header_len(&message) + 4 + 12 + 64 + 16);
    assert!(!enc.is_done());
    enc.end_input();
    let p = enc.process(&[], &mut out).unwrap();
    message.extend_from_slice(&out[..p.produced]);
    assert!(enc.is_done());
    let (_, fs, footer) = frames(&message);
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[1].content_length, 36);
    // One release: the whole final frame and the whole footer (length + P-384 signature).
    assert_eq!(p.produced, 4 + 4 + 12 + 4 + 36 + 16 + footer);
    let sig_len = u16::from_be_bytes([
        message[message.len() - footer],
        message[message.len() - footer + 1],
    ]);
    assert_eq!(footer, 2 + sig_len as usize);
    assert_eq!(enc.process(&[], &mut out).unwrap(), Progress::default());
    let d = decrypt(aes("k", 1), &message, DecryptOptions::default()).unwrap();
    assert_eq!(d.plaintext, vec![0x11; 100]);
}

// E-47: client-apis/encrypt.md "Construct the body": plaintext beyond the bound ⇒ MUST fail
// at once (the streaming encryptor).
#[test]
fn streaming_encryptor_fails_as_soon_as_the_bound_is_passed() {
    let cmm = DefaultCmm::new(aes("k", 1));
    let opts = EncryptOptions {
        max_plaintext_length: Some(10),
        ..commit_opts()
    };
    let mut enc = Encryptor::new(&cmm, opts).unwrap();
    let mut out = vec![0u8; 1 << 16];
    let p = enc.process(&[0; 10], &mut out).unwrap();
    assert_eq!(p.consumed, 10);
    let e = enc.process(&[0; 1], &mut out).unwrap_err();
    assert_eq!(e, Error::Limit(LimitError::PlaintextTooLong));
    // The encryptor stays failed: it does not finish the message.
    enc.end_input();
    let e = enc.process(&[], &mut out).unwrap_err();
    assert_eq!(e, Error::Limit(LimitError::PlaintextTooLong));
    assert!(!enc.is_done());
}

// ---------------------------------------------------------------------------------------
// Decrypt
// ---------------------------------------------------------------------------------------

// D-30: client-apis/decrypt.md "Get the decryption materials": the materials' suite is not
// allowed by the policy (here: differs from the message's) ⇒ MUST fail.
#[test]
fn decrypt_refuses_materials_for_another_suite() {
    let kr = aes("k", 1);
    let ct = encrypt(kr.clone(), b"secret", commit_opts()).unwrap();
    let cmm = HookCmm::new(no_encrypt, move |mut r| {
        // Materials for 0x0178, which RequireEncryptRequireDecrypt forbids.
        r.algorithm_suite = HKDF_256;
        r.commitment_policy = CommitmentPolicy::RequireEncryptAllowDecrypt;
        DefaultCmm::new(kr.clone()).decrypt_materials(r)
    });
    let e = decrypt_with_cmm(cmm.clone(), &ct, DecryptOptions::default()).unwrap_err();
    assert_eq!(
        e,
        Error::Keyring("the materials manager returned materials for another suite".into())
    );
    assert_eq!(cmm.calls.load(Ordering::SeqCst), 1);
}

// K-04: framework/keyring-interface.md "key provider ID": MUST be a binary value. A
// deliberate deviation (docs/CONFORMANCE.md): data-format/message-header.md types the
// field as UTF-8 encoded bytes, every ESDK treats it as a string, and so does
// `EncryptedDataKey::provider_id`; a header whose provider ID is not UTF-8 is refused while
// parsing, before any keyring sees it.
#[test]
fn a_provider_id_that_is_not_utf8_is_refused_while_parsing() {
    let kr = Arc::new(
        RawAesKeyring::new(
            "provider-id-k04",
            "k",
            WrappingKey::new(vec![3; 32]).unwrap(),
        )
        .unwrap(),
    );
    let mut ct = encrypt(kr.clone(), b"x", commit_opts()).unwrap();
    let name = b"provider-id-k04";
    let at = ct
        .windows(name.len())
        .position(|w| w == name)
        .expect("the provider ID in the header");
    ct[at] = 0xFF;
    assert!(matches!(
        HeaderBody::parse(&ct, None),
        Err(esdk::format::ParseError::Invalid(Error::Format(
            FormatError::InvalidUtf8
        )))
    ));
    let e = decrypt(kr, &ct, DecryptOptions::default()).unwrap_err();
    assert!(
        matches!(e, Error::Format(FormatError::InvalidUtf8)),
        "{e:?}"
    );
}
