//! Hand-built ESDK messages for the hostile-input tests (sweeps, limits, props), made from
//! the format spec with a fixed data key, so that any field can be given any value: the
//! library's encryptor writes only framed, well-formed messages.
//!
//! Every message decrypts with [`keyring`]: its data key is wrapped by the raw AES wrapping
//! key [`WRAPPING_KEY`] (namespace `forge`, name `k`), exactly as `RawAesKeyring` does, but
//! with a fixed IV, so that a message is a pure function of its inputs (and signed messages
//! have a deterministic length: ECDSA here is RFC 6979).
//!
//! Also here: locating (and building) the `esdk` CLI binary for the tests that run it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use base64::Engine;
use esdk::format::body::{FrameHeader, FINAL_FRAME_MARKER};
use esdk::format::header::{ContentType, HeaderBody, IV_LEN};
use esdk::format::suite::Kdf;
use esdk::{AlgorithmSuite, EncryptedDataKey, EncryptionContext, RawAesKeyring, WrappingKey};

/// The raw AES wrapping key of every forged message.
pub const WRAPPING_KEY: [u8; 32] = [0x5A; 32];

/// The keyring that decrypts every forged message.
pub fn keyring() -> Arc<RawAesKeyring> {
    Arc::new(
        RawAesKeyring::new(
            "forge",
            "k",
            WrappingKey::new(WRAPPING_KEY.to_vec()).unwrap(),
        )
        .unwrap(),
    )
}

/// The CLI `--wrapping-key` SPEC of [`keyring`].
pub fn cli_spec() -> String {
    let hex: String = WRAPPING_KEY.iter().map(|b| format!("{b:02x}")).collect();
    format!("aes:namespace=forge,name=k,key=hex:{hex}")
}

/// AES-GCM encryption with a 12-byte IV: ciphertext || 16-byte tag.
pub fn seal(key: &[u8], iv: &[u8; IV_LEN], aad: &[u8], pt: &[u8]) -> Vec<u8> {
    let payload = Payload { msg: pt, aad };
    let nonce: &aes_gcm::Nonce<U12> = &(*iv).into();
    match key.len() {
        16 => Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt(nonce, payload),
        24 => AesGcm::<aes_gcm::aes::Aes192, U12>::new_from_slice(key)
            .unwrap()
            .encrypt(nonce, payload),
        32 => Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt(nonce, payload),
        n => panic!("no AES-{}", n * 8),
    }
    .unwrap()
}

struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf(
    alg: ring::hkdf::Algorithm,
    salt: &[u8],
    ikm: &[u8],
    info: &[&[u8]],
    len: usize,
) -> Vec<u8> {
    let mut out = vec![0u8; len];
    ring::hkdf::Salt::new(alg, salt)
        .extract(ikm)
        .expand(info, Len(len))
        .unwrap()
        .fill(&mut out)
        .unwrap();
    out
}

/// The content key and (committing suites) the commit key. Spec: algorithm-suites.md.
pub fn derive(suite: &AlgorithmSuite, data_key: &[u8], message_id: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let id = suite.id().to_be_bytes();
    let n = suite.key_len();
    match suite.kdf() {
        Kdf::Identity => (data_key.to_vec(), Vec::new()),
        Kdf::HkdfSha256 => (
            hkdf(
                ring::hkdf::HKDF_SHA256,
                &[],
                data_key,
                &[&id, message_id],
                n,
            ),
            Vec::new(),
        ),
        Kdf::HkdfSha384 => (
            hkdf(
                ring::hkdf::HKDF_SHA384,
                &[],
                data_key,
                &[&id, message_id],
                n,
            ),
            Vec::new(),
        ),
        Kdf::HkdfSha512 => (
            hkdf(
                ring::hkdf::HKDF_SHA512,
                message_id,
                data_key,
                &[&id, b"DERIVEKEY"],
                n,
            ),
            hkdf(
                ring::hkdf::HKDF_SHA512,
                message_id,
                data_key,
                &[b"COMMITKEY"],
                32,
            ),
        ),
    }
}

enum SigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

/// The parts of one forged message.
pub struct Forge {
    /// The suite.
    pub suite: &'static AlgorithmSuite,
    /// The header body; change fields freely, then call [`Forge::header`].
    pub header: HeaderBody,
    content_key: Vec<u8>,
    signing: Option<SigningKey>,
}

/// The AAD strings of the body. Spec: message-body-aad.md.
const FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE: &[u8] = b"AWSKMSEncryptionClient Single Block";

impl Forge {
    /// A message of `suite` with the stored context `context` (plus the public key of the
    /// fixed signing key, for signing suites), one data key wrapped by [`keyring`], and the
    /// given content type and frame length.
    pub fn new(
        suite: &'static AlgorithmSuite,
        context: &EncryptionContext,
        content_type: ContentType,
        frame_length: u32,
    ) -> Forge {
        let version = suite.message_format_version();
        let message_id: Vec<u8> = (0..version.message_id_len() as u8)
            .map(|i| i ^ 0xA5)
            .collect();
        let data_key: Vec<u8> = (0..suite.key_len() as u8)
            .map(|i| i.wrapping_mul(7) ^ 0x3C)
            .collect();
        let (content_key, commit_key) = derive(suite, &data_key, &message_id);
        let mut context = context.clone();
        let signing = suite.signature().map(|_| {
            if suite.key_len() == 16 {
                SigningKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap())
            } else {
                SigningKey::P384(p384::ecdsa::SigningKey::from_slice(&[0x22; 48]).unwrap())
            }
        });
        if let Some(k) = &signing {
            let point = match k {
                SigningKey::P256(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
                SigningKey::P384(k) => k.verifying_key().to_encoded_point(true).as_bytes().to_vec(),
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(point);
            context.insert("aws-crypto-public-key", b64);
        }
        // The raw AES keyring's EDK: AES-GCM(wrapping key, IV, AAD = serialized context).
        let iv = [0x77; IV_LEN];
        let mut provider_info = b"k".to_vec();
        provider_info.extend_from_slice(&128u32.to_be_bytes());
        provider_info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        provider_info.extend_from_slice(&iv);
        let edk = EncryptedDataKey {
            provider_id: "forge".into(),
            provider_info,
            ciphertext: seal(&WRAPPING_KEY, &iv, &context.serialize().unwrap(), &data_key),
        };
        let header = HeaderBody {
            suite,
            message_id,
            encryption_context: context,
            encrypted_data_keys: vec![edk],
            content_type,
            frame_length,
            suite_data: commit_key,
        };
        Forge {
            suite,
            header,
            content_key,
            signing,
        }
    }

    /// A framed message's forge with no stored context pairs.
    pub fn framed(suite: &'static AlgorithmSuite, frame_length: u32) -> Forge {
        Forge::new(
            suite,
            &EncryptionContext::new(),
            ContentType::Framed,
            frame_length,
        )
    }

    /// A non-framed message's forge with no stored context pairs.
    pub fn non_framed(suite: &'static AlgorithmSuite) -> Forge {
        Forge::new(suite, &EncryptionContext::new(), ContentType::NonFramed, 0)
    }

    /// The serialized header body and its authentication, for [`Forge::header`].
    pub fn header(&self) -> Vec<u8> {
        self.authenticate(self.header.serialize().unwrap())
    }

    /// Appends the header authentication to raw header-body bytes (which may be anything).
    pub fn authenticate(&self, mut body: Vec<u8>) -> Vec<u8> {
        let iv = [0u8; IV_LEN];
        let tag = seal(&self.content_key, &iv, &body, &[]);
        if self.suite.message_format_version().byte() == 1 {
            body.extend_from_slice(&iv);
        }
        body.extend_from_slice(&tag);
        body
    }

    /// A regular frame with sequence number `seq` holding `pt` (the frame length is not
    /// checked: the AAD states `pt.len()`).
    pub fn frame(&self, seq: u32, pt: &[u8]) -> Vec<u8> {
        let iv = FrameHeader::iv_for(seq);
        let aad = self.aad(FRAME, seq, pt.len() as u64);
        let mut out = seq.to_be_bytes().to_vec();
        out.extend_from_slice(&iv);
        out.extend_from_slice(&seal(&self.content_key, &iv, &aad, pt));
        out
    }

    /// A final frame with sequence number `seq` holding `pt`.
    pub fn final_frame(&self, seq: u32, pt: &[u8]) -> Vec<u8> {
        self.final_frame_claiming(seq, pt, pt.len() as u32)
    }

    /// A final frame whose content-length field says `claimed` (the AAD says the same).
    pub fn final_frame_claiming(&self, seq: u32, pt: &[u8], claimed: u32) -> Vec<u8> {
        let iv = FrameHeader::iv_for(seq);
        let aad = self.aad(FINAL, seq, u64::from(claimed));
        let mut out = FINAL_FRAME_MARKER.to_be_bytes().to_vec();
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&claimed.to_be_bytes());
        out.extend_from_slice(&seal(&self.content_key, &iv, &aad, pt));
        out
    }

    /// A non-framed body holding `pt`.
    pub fn single_block(&self, pt: &[u8]) -> Vec<u8> {
        self.single_block_claiming(pt, pt.len() as u64)
    }

    /// A non-framed body whose content-length field says `claimed`.
    pub fn single_block_claiming(&self, pt: &[u8], claimed: u64) -> Vec<u8> {
        let iv = [0x01; IV_LEN];
        let aad = self.aad(SINGLE, 1, claimed);
        let mut out = iv.to_vec();
        out.extend_from_slice(&claimed.to_be_bytes());
        out.extend_from_slice(&seal(&self.content_key, &iv, &aad, pt));
        out
    }

    fn aad(&self, what: &[u8], seq: u32, len: u64) -> Vec<u8> {
        let mut aad = self.header.message_id.clone();
        aad.extend_from_slice(what);
        aad.extend_from_slice(&seq.to_be_bytes());
        aad.extend_from_slice(&len.to_be_bytes());
        aad
    }

    /// Appends the footer (signing suites) over everything in `msg`.
    pub fn sign(&self, mut msg: Vec<u8>) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        let der = match &self.signing {
            None => return msg,
            Some(SigningKey::P256(k)) => {
                let s: p256::ecdsa::Signature = k.sign(&msg);
                s.to_der().as_bytes().to_vec()
            }
            Some(SigningKey::P384(k)) => {
                let s: p384::ecdsa::Signature = k.sign(&msg);
                s.to_der().as_bytes().to_vec()
            }
        };
        msg.extend_from_slice(&(der.len() as u16).to_be_bytes());
        msg.extend_from_slice(&der);
        msg
    }

    /// A whole, valid message holding `pt`: framed as the header says (regular frames of
    /// the frame length, then a final frame), or non-framed; signed if the suite is.
    pub fn message(&self, pt: &[u8]) -> Vec<u8> {
        let mut msg = self.header();
        match self.header.content_type {
            ContentType::NonFramed => msg.extend_from_slice(&self.single_block(pt)),
            ContentType::Framed => {
                let n = self.header.frame_length as usize;
                let mut seq = 1;
                let mut rest = pt;
                while rest.len() > n {
                    msg.extend_from_slice(&self.frame(seq, &rest[..n]));
                    rest = &rest[n..];
                    seq += 1;
                }
                msg.extend_from_slice(&self.final_frame(seq, rest));
            }
        }
        self.sign(msg)
    }
}

/// The policy that lets a suite be used for encrypting and decrypting.
pub fn policy_for(suite: &AlgorithmSuite) -> esdk::CommitmentPolicy {
    if suite.is_committing() {
        esdk::CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        esdk::CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// The `esdk` CLI binary of this workspace, built (once per test process) with
/// `cargo build -p esdk-cli`: integration tests of the root crate cannot name another
/// package's binary with `CARGO_BIN_EXE_*`.
pub fn cli_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "-p", "esdk-cli", "--bin", "esdk"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p esdk-cli");
        assert!(status.success(), "cargo build -p esdk-cli failed: {status}");
        // This test binary is target/<profile>/deps/NAME-HASH; the CLI is target/debug/esdk.
        let exe = std::env::current_exe().unwrap();
        let target = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .unwrap();
        let bin = target.join("debug").join("esdk");
        assert!(bin.is_file(), "no CLI binary at {}", bin.display());
        bin
    })
}

/// A reader that hands out its bytes at most `.1` at a time, to drive the `Read` front
/// through many small reads.
pub struct Trickle<'a>(pub &'a [u8], pub usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
