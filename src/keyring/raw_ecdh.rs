//! The raw ECDH keyring: wraps data keys under a key agreed by elliptic-curve
//! Diffie-Hellman between a sender and a recipient key pair held locally.
//!
//! Spec: `framework/raw-ecdh-keyring.md` (version 1.0.0) and
//! `framework/key-agreement-schemas.md` (version 0.1.0-preview).
//!
//! # What travels in the message
//!
//! Each encrypted data key has the provider ID `raw-ecdh`, the provider info
//! `0x01 || u32 len || recipient public key || u32 len || sender public key` (both keys as
//! compressed SEC 1 points), and the ciphertext
//! `salt (32) || commitment key (32) || AES-GCM ciphertext of the data key || tag (16)`.
//!
//! The shared secret Z (the x-coordinate of the ECDH point) goes through the NIST SP 800-108
//! counter-mode KDF with HMAC-SHA384, the random salt as its context and a `FixedInfo` label
//! that binds the curve, both public keys, the keyring version and the encryption context.
//! The first 32 bytes of the 64 derived are a commitment key stored in the ciphertext and
//! compared in constant time on decrypt; the last 32 are the AES-256-GCM key that wraps the
//! data key (all-zero IV, `FixedInfo` as AAD).
//!
//! # Where the spec is ambiguous
//!
//! The reference implementation (the AWS Cryptographic Material Providers Library) decides,
//! and the published test vectors confirm:
//! - the curve names in `FixedInfo` are `p256`, `p384`, `p521`, and the first field is the
//!   lower-case `ecdh-key-derivation` (the spec writes it both ways);
//! - the KDF's PRF input is `u32 counter (from 1) || FixedInfo || 0x00 || salt || u32 512`;
//! - the provider info holds no tag length: the tag is always 16 bytes, so the ciphertext
//!   must be exactly `64 + data key length + 16` bytes long.
//!
//! A keyring that recognizes no encrypted data key returns the materials unchanged (this
//! crate's keyring convention); one that recognized a key but could not decrypt any reports
//! [`Error::DataKeyUnwrapFailed`], without the per-key details the spec suggests collecting
//! (as for every keyring here, so that a failure says nothing about which check caught it).
//!
//! # Secrets in memory
//!
//! Private keys live inside AWS-LC, whose allocator wipes every block it frees, so a key is
//! zeroized when the last [`EcdhPrivateKey`] holding it is dropped. The shared secret, the
//! derived keying material and the PEM/DER buffers decoded here are held in [`Zeroizing`]
//! buffers. HMAC runs in AWS-LC, whose HMAC context is wiped when it is freed.

// No panic on any input: encrypted data keys come from the wire. No unwrap/expect, no
// indexing or slicing that can panic, no arithmetic that can overflow, no truncating casts.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::fmt;

use aws_lc_rs::agreement::{
    self, ParsedPublicKey, ParsedPublicKeyFormat, PrivateKey, UnparsedPublicKey,
};
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPublicKeyCompressedBin, PublicKeyX509Der};
use aws_lc_rs::hmac;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Keyring;
use crate::crypto::aead::AeadKey;
use crate::crypto::{fill_random, DataKey};
use crate::error::{Error, Result};
use crate::format::header::{EncryptedDataKey, IV_LEN, TAG_LEN};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// The provider ID of the encrypted data keys this keyring writes.
///
/// Spec: raw-ecdh-keyring.md "OnEncrypt": the key provider id MUST be "raw-ecdh".
pub const RAW_ECDH_PROVIDER_ID: &str = "raw-ecdh";

/// The provider ID of the AWS KMS ECDH keyring, whose encrypted data keys have the same
/// layout; this keyring decrypts them too when it holds the right private key.
///
/// Spec: raw-ecdh-keyring.md "OnDecrypt": the provider ID MUST be `raw-ecdh` OR
/// `aws-kms-ecdh`.
const KMS_ECDH_PROVIDER_ID: &str = "aws-kms-ecdh";

/// The keyring version, first byte of the provider info and a field of `FixedInfo`.
const KEYRING_VERSION: u8 = 0x01;

/// Length of the KDF salt (the "derivation nonce" of the ciphertext).
const SALT_LEN: usize = 32;
/// Length of the commitment key, and of the AES-256 shared wrapping key.
const HALF_LEN: usize = 32;
/// Spec: key-agreement-schemas.md "Key Derivation": L MUST be 512 bits.
const DERIVED_LEN: usize = 64;
/// HMAC-SHA384 output length.
const PRF_LEN: usize = 48;
/// The KDF's PRF name in `FixedInfo`.
const KDF_METHOD: &[u8] = b"HMAC_SHA384";
/// The first field of `FixedInfo`.
const KDF_LABEL: &[u8] = b"ecdh-key-derivation";

/// An elliptic curve of the raw ECDH keyring.
///
/// Spec: raw-ecdh-keyring.md "Supported Curve Specifications": NIST P-256, P-384 and P-521
/// (the spec's "P512") are supported; SM2, also listed, is not (AWS-LC has no SM2 ECDH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdhCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

impl EcdhCurve {
    /// Every supported curve.
    pub const ALL: [EcdhCurve; 3] = [EcdhCurve::P256, EcdhCurve::P384, EcdhCurve::P521];

    /// The curve's name in the key derivation (`p256`, `p384`, `p521`), also accepted by
    /// [`EcdhCurve::parse`].
    pub fn name(self) -> &'static str {
        match self {
            EcdhCurve::P256 => "p256",
            EcdhCurve::P384 => "p384",
            EcdhCurve::P521 => "p521",
        }
    }

    /// Parses `p256`, `p384`, `p521` (ASCII case and a `-` after the `p` are ignored, so
    /// `P-384` works too).
    pub fn parse(text: &str) -> Result<EcdhCurve> {
        let norm = text.to_ascii_lowercase().replace('-', "");
        EcdhCurve::ALL
            .into_iter()
            .find(|c| c.name() == norm)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown ECDH curve {text:?}; expected one of p256, p384, p521"
                ))
            })
    }

    fn algorithm(self) -> &'static agreement::Algorithm {
        match self {
            EcdhCurve::P256 => &agreement::ECDH_P256,
            EcdhCurve::P384 => &agreement::ECDH_P384,
            EcdhCurve::P521 => &agreement::ECDH_P521,
        }
    }

    /// Bytes of a field element (and of the shared secret).
    fn field_len(self) -> usize {
        match self {
            EcdhCurve::P256 => 32,
            EcdhCurve::P384 => 48,
            EcdhCurve::P521 => 66,
        }
    }

    /// Bytes of a compressed point: a 0x02/0x03 prefix and the x-coordinate.
    fn compressed_len(self) -> usize {
        self.field_len().saturating_add(1)
    }
}

impl fmt::Display for EcdhCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ECC public key of one curve, validated (on the curve, not the point at infinity).
#[derive(Clone, PartialEq, Eq)]
pub struct EcdhPublicKey {
    curve: EcdhCurve,
    /// The compressed SEC 1 point, as the provider info carries it.
    compressed: Vec<u8>,
}

impl EcdhPublicKey {
    /// Loads a DER-encoded X.509 SubjectPublicKeyInfo of an EC key on `curve`.
    ///
    /// Spec: raw-ecdh-keyring.md "ECC Keys": an ECC public key MUST be a DER-encoded
    /// SubjectPublicKeyInfo; key-agreement-schemas.md: if the public key is not DER-encoded
    /// the keyring MUST fail. Keys of another curve, points not on the curve and the point
    /// at infinity are refused.
    pub fn from_der(curve: EcdhCurve, der: &[u8]) -> Result<EcdhPublicKey> {
        let bad = |what: &str| {
            Error::InvalidArgument(format!(
                "not a valid {curve} public key (DER SubjectPublicKeyInfo): {what}"
            ))
        };
        // AWS-LC checks the algorithm, the curve, and that the point is on it and not
        // infinity; raw points are accepted by this parser too, so insist on X.509.
        let parsed = ParsedPublicKey::try_from(UnparsedPublicKey::new(curve.algorithm(), der))
            .map_err(|_| {
                bad("AWS-LC rejected it (malformed, another curve, or an invalid point)")
            })?;
        if parsed.format() != ParsedPublicKeyFormat::X509 {
            return Err(bad("a bare EC point, not a SubjectPublicKeyInfo"));
        }
        let point = spki_point(der).ok_or_else(|| bad("unexpected DER layout"))?;
        let compressed =
            compress_point(curve, point).ok_or_else(|| bad("unsupported point form"))?;
        Ok(EcdhPublicKey { curve, compressed })
    }

    /// The curve of the key.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The compressed SEC 1 encoding of the point (33, 49 or 67 bytes), as written in the
    /// encrypted data keys' provider info.
    pub fn compressed_point(&self) -> &[u8] {
        &self.compressed
    }
}

impl fmt::Debug for EcdhPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdhPublicKey({}, ", self.curve)?;
        for b in &self.compressed {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// An ECC private key of one curve, with its public key. Not `Clone`; AWS-LC wipes it when
/// it is dropped.
pub struct EcdhPrivateKey {
    curve: EcdhCurve,
    key: PrivateKey,
    public: EcdhPublicKey,
}

impl EcdhPrivateKey {
    /// Loads a PEM-encoded PKCS#8 PrivateKeyInfo (`-----BEGIN PRIVATE KEY-----`) of an EC
    /// key on `curve`.
    ///
    /// Spec: raw-ecdh-keyring.md "ECC Keys": an ECC private key MUST be a PEM-encoded
    /// PKCS #8 PrivateKeyInfo; key-agreement-schemas.md: if the private key is not
    /// PEM-encoded the keyring MUST fail.
    pub fn from_pem(curve: EcdhCurve, pem: &[u8]) -> Result<EcdhPrivateKey> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        // Spec: PKCS #8 only. AWS-LC's parser also takes RFC 5915 ECPrivateKey structures,
        // so check the outer layout first: a PKCS#8 PrivateKeyInfo starts with INTEGER 0.
        if !looks_like_pkcs8(&der) {
            return Err(Error::InvalidArgument(format!(
                "not a PKCS#8 {curve} private key"
            )));
        }
        let key = PrivateKey::from_private_key_der(curve.algorithm(), &der).map_err(|_| {
            Error::InvalidArgument(format!(
                "not a valid {curve} private key (PKCS#8): AWS-LC rejected it \
                 (malformed, or a key of another curve or algorithm)"
            ))
        })?;
        EcdhPrivateKey::from_key(curve, key)
    }

    /// A fresh random key pair on `curve`.
    pub fn generate(curve: EcdhCurve) -> Result<EcdhPrivateKey> {
        let key = PrivateKey::generate(curve.algorithm()).map_err(|_| Error::Rng)?;
        EcdhPrivateKey::from_key(curve, key)
    }

    fn from_key(curve: EcdhCurve, key: PrivateKey) -> Result<EcdhPrivateKey> {
        let public = key
            .compute_public_key()
            .map_err(|_| Error::InvalidArgument(format!("unusable {curve} private key")))?;
        let compressed: EcPublicKeyCompressedBin<'static> = public
            .as_be_bytes()
            .map_err(|_| Error::InvalidArgument(format!("unusable {curve} private key")))?;
        let compressed = compressed.as_ref().to_vec();
        if compressed.len() != curve.compressed_len() {
            return Err(Error::Unreachable("compressed point of the wrong length"));
        }
        Ok(EcdhPrivateKey {
            curve,
            key,
            public: EcdhPublicKey { curve, compressed },
        })
    }

    /// The curve of the key.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The public half.
    pub fn public_key(&self) -> &EcdhPublicKey {
        &self.public
    }

    /// The public half as a DER SubjectPublicKeyInfo, for handing to the other party.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let public = self
            .key
            .compute_public_key()
            .map_err(|_| Error::Unreachable("public key of a valid private key"))?;
        let der: PublicKeyX509Der<'static> = public
            .as_der()
            .map_err(|_| Error::Unreachable("public key DER encoding"))?;
        Ok(der.as_ref().to_vec())
    }

    /// ECDH with `peer` (a compressed point on our curve): the shared secret Z.
    ///
    /// Spec: raw-ecdh-keyring.md "Initialization": the peer key's point is checked (AWS-LC
    /// refuses points off the curve).
    fn agree(&self, peer: &[u8]) -> Result<SharedSecret> {
        let peer = UnparsedPublicKey::new(self.curve.algorithm(), peer);
        agreement::agree(&self.key, peer, Error::DataKeyUnwrapFailed, |z| {
            Ok(SharedSecret(Zeroizing::new(z.to_vec())))
        })
    }
}

impl fmt::Debug for EcdhPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcdhPrivateKey([redacted], {})", self.curve)
    }
}

/// The ECDH shared secret Z. Not `Clone`, zeroized on drop, `Debug` redacted.
struct SharedSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret([redacted])")
    }
}

/// The 64 bytes of derived keying material: commitment key, then shared wrapping key.
/// Not `Clone`, zeroized on drop, `Debug` redacted.
struct DerivedKeys(Zeroizing<[u8; 2 * PRF_LEN]>);

impl DerivedKeys {
    /// Spec: raw-ecdh-keyring.md "OnEncrypt"/"OnDecrypt": the keyring MUST use the first 32
    /// bytes as the Commitment Key.
    fn commitment_key(&self) -> &[u8] {
        self.0.get(..HALF_LEN).unwrap_or(&[])
    }

    /// Spec: raw-ecdh-keyring.md "OnEncrypt"/"OnDecrypt": the keyring MUST use the last 32
    /// bytes (of the 64) as the Derived Shared Wrapping Key.
    fn wrapping_key(&self) -> &[u8] {
        self.0.get(HALF_LEN..DERIVED_LEN).unwrap_or(&[])
    }
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKeys([redacted])")
    }
}

/// How the keyring agrees on a shared secret: the spec's three raw key agreement schemas.
///
/// Spec: raw-ecdh-keyring.md "Key Agreement Schema"; key-agreement-schemas.md "Raw ECDH Key
/// Agreement Schemas".
#[derive(Debug)]
pub enum KeyAgreementScheme {
    /// A static sender key pair and the recipient's static public key: encrypts, and
    /// decrypts what either party wrapped for the other (ECDH is symmetric).
    RawPrivateKeyToStaticPublicKey {
        /// The sender's private key.
        sender_private_key: EcdhPrivateKey,
        /// The recipient's public key.
        recipient_public_key: EcdhPublicKey,
    },
    /// A fresh key pair per encryption and the recipient's static public key: encrypts
    /// only (nobody keeps the ephemeral private key).
    EphemeralPrivateKeyToStaticPublicKey {
        /// The recipient's public key.
        recipient_public_key: EcdhPublicKey,
    },
    /// The recipient's static private key: decrypts whatever any sender wrapped for it;
    /// cannot encrypt (there is no sender key).
    PublicKeyDiscovery {
        /// The recipient's private key.
        recipient_private_key: EcdhPrivateKey,
    },
}

impl KeyAgreementScheme {
    fn name(&self) -> &'static str {
        match self {
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey { .. } => {
                "RawPrivateKeyToStaticPublicKey"
            }
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey { .. } => {
                "EphemeralPrivateKeyToStaticPublicKey"
            }
            KeyAgreementScheme::PublicKeyDiscovery { .. } => "PublicKeyDiscovery",
        }
    }
}

/// Wraps data keys under a key agreed by ECDH (local keys only; no AWS KMS).
///
/// Each encrypted data key has the provider ID `raw-ecdh`, the provider info
/// `0x01 || u32 len || recipient public key || u32 len || sender public key` (compressed
/// SEC 1 points) and the ciphertext `salt (32) || commitment key (32) || AES-GCM ciphertext
/// of the data key || tag (16)`. The encryption context is bound into both the key
/// derivation and the AES-GCM wrapping, so a data key only unwraps under the context it was
/// wrapped with.
pub struct RawEcdhKeyring {
    curve: EcdhCurve,
    scheme: KeyAgreementScheme,
}

impl fmt::Debug for RawEcdhKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawEcdhKeyring")
            .field("curve", &self.curve)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl RawEcdhKeyring {
    /// A keyring for a curve and a key agreement schema.
    ///
    /// Spec: raw-ecdh-keyring.md "Initialization": the caller MUST provide a key agreement
    /// schema and a curve specification, and the keyring MUST assert that the recipient's
    /// public key and the sender's private key belong to that curve (every key here is
    /// checked against it).
    pub fn new(curve: EcdhCurve, scheme: KeyAgreementScheme) -> Result<RawEcdhKeyring> {
        let curves: &[EcdhCurve] = match &scheme {
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key,
                recipient_public_key,
            } => &[sender_private_key.curve, recipient_public_key.curve],
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey {
                recipient_public_key,
            } => &[recipient_public_key.curve],
            KeyAgreementScheme::PublicKeyDiscovery {
                recipient_private_key,
            } => &[recipient_private_key.curve],
        };
        if let Some(other) = curves.iter().find(|c| **c != curve) {
            return Err(Error::InvalidArgument(format!(
                "the raw ECDH keyring is configured for {curve} but is given a {other} key"
            )));
        }
        Ok(RawEcdhKeyring { curve, scheme })
    }

    /// The configured curve.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The configured key agreement schema.
    pub fn scheme(&self) -> &KeyAgreementScheme {
        &self.scheme
    }

    /// Whether this keyring would attempt to decrypt `edk`; if so, the recipient and
    /// sender public keys of its provider info.
    ///
    /// Spec: raw-ecdh-keyring.md "OnDecrypt": to match, the provider ID MUST be `raw-ecdh`
    /// or `aws-kms-ecdh`, the provider info MUST deserialize with version `0x01`, and its
    /// public keys MUST match the keyring's: for PublicKeyDiscovery the recipient key
    /// (key-agreement-schemas.md "PublicKeyDiscovery"); for RawPrivateKeyToStaticPublicKey
    /// both keys (key-agreement-schemas.md "RawPrivateKeyToStaticPublicKey"), in either
    /// role, as the reference implementation does, so both parties can decrypt.
    fn matching_keys<'e>(&self, edk: &'e EncryptedDataKey) -> Option<(&'e [u8], &'e [u8])> {
        if edk.provider_id != RAW_ECDH_PROVIDER_ID && edk.provider_id != KMS_ECDH_PROVIDER_ID {
            return None;
        }
        let (recipient, sender) = parse_provider_info(self.curve, &edk.provider_info)?;
        let matches = match &self.scheme {
            KeyAgreementScheme::PublicKeyDiscovery {
                recipient_private_key,
            } => recipient == recipient_private_key.public.compressed.as_slice(),
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key,
                recipient_public_key,
            } => {
                let ours = sender_private_key.public.compressed.as_slice();
                let theirs = recipient_public_key.compressed.as_slice();
                (sender == ours && recipient == theirs) || (sender == theirs && recipient == ours)
            }
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey { .. } => false,
        };
        matches.then_some((recipient, sender))
    }

    /// Tries to unwrap one matching encrypted data key.
    fn unwrap(
        &self,
        edk: &EncryptedDataKey,
        recipient: &[u8],
        sender: &[u8],
        context: &[u8],
        key_len: usize,
    ) -> Option<DataKey> {
        // Spec: raw-ecdh-keyring.md "Ciphertext": derivation nonce (32), commitment key (32),
        // encrypted key, authentication tag (16); the ciphertext MUST deserialize.
        let expected_len = SALT_LEN
            .checked_add(HALF_LEN)?
            .checked_add(key_len)?
            .checked_add(TAG_LEN)?;
        if edk.ciphertext.len() != expected_len {
            return None;
        }
        let (salt, rest) = edk.ciphertext.split_at_checked(SALT_LEN)?;
        let (stored_commitment, wrapped) = rest.split_at_checked(HALF_LEN)?;
        let salt: &[u8; SALT_LEN] = salt.try_into().ok()?;

        // Spec: raw-ecdh-keyring.md "OnDecrypt": derive the shared secret per the schema.
        // Static: the sender's private key with the recipient's public key, whichever role
        // the message gave us (ECDH is symmetric). Discovery: the recipient's private key
        // with the message's sender key.
        let shared = match &self.scheme {
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key,
                recipient_public_key,
            } => sender_private_key.agree(&recipient_public_key.compressed),
            KeyAgreementScheme::PublicKeyDiscovery {
                recipient_private_key,
            } => recipient_private_key.agree(sender),
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey { .. } => return None,
        }
        .ok()?;
        let fixed_info = fixed_info(self.curve, sender, recipient, context);
        let derived = derive(&shared, &fixed_info, salt).ok()?;

        // Spec: raw-ecdh-keyring.md "OnDecrypt": the calculated commitment key MUST equal
        // the stored one, compared in constant time; key-agreement-schemas.md "Key
        // Commitment": this equality check MUST be a constant time operation.
        if !bool::from(derived.commitment_key().ct_eq(stored_commitment)) {
            return None;
        }

        // Spec: raw-ecdh-keyring.md "Data Key Unwrapping": AES-GCM-256 with the shared
        // wrapping key, a zeroed 12-byte IV, the encrypted key and tag from the ciphertext,
        // and FixedInfo as the AAD.
        let aead = AeadKey::new_zeroizing(derived.wrapping_key()).ok()?;
        let mut buf = Zeroizing::new(wrapped.to_vec());
        let n = aead
            .open_in_place(&[0u8; IV_LEN], &fixed_info, &mut buf)
            .ok()?;
        if n != key_len {
            return None;
        }
        Some(DataKey::from_slice(buf.get(..n)?))
    }
}

impl Keyring for RawEcdhKeyring {
    fn on_encrypt(&self, mut materials: EncryptionMaterials) -> Result<EncryptionMaterials> {
        // Spec: raw-ecdh-keyring.md "OnEncrypt": OnEncrypt MUST fail with the
        // PublicKeyDiscovery schema; key-agreement-schemas.md "PublicKeyDiscovery": on
        // encrypt, the keyring MUST fail.
        // Spec: key-agreement-schemas.md "EphemeralPrivateKeyToStaticPublicKey": on encrypt
        // the keyring MUST generate a new key pair on the recipient's curve, and MUST fail if
        // it cannot.
        let ephemeral;
        let (sender_key, recipient_key) = match &self.scheme {
            KeyAgreementScheme::PublicKeyDiscovery { .. } => {
                return Err(Error::InvalidArgument(
                    "a raw ECDH keyring with the PublicKeyDiscovery schema cannot encrypt \
                     (it has no sender key)"
                        .into(),
                ))
            }
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key,
                recipient_public_key,
            } => (sender_private_key, recipient_public_key),
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey {
                recipient_public_key,
            } => {
                ephemeral = EcdhPrivateKey::generate(self.curve)?;
                (&ephemeral, recipient_public_key)
            }
        };

        // Spec: raw-ecdh-keyring.md "OnEncrypt": the keyring MUST serialize the encryption
        // context and MUST fail if it cannot.
        let context = materials.encryption_context().serialize()?;

        // Spec: raw-ecdh-keyring.md "Data Key Wrapping": without a plaintext data key in the
        // materials, OnEncrypt MUST generate a random one.
        if materials.data_key().is_none() {
            let key = DataKey::generate(materials.suite().key_len())?;
            materials.set_data_key(key)?;
        }

        // Spec: raw-ecdh-keyring.md "OnEncrypt": the keyring MUST derive the shared secret
        // per the schema (key-agreement-schemas.md "RawPrivateKeyToStaticPublicKey": with the
        // sender's private key and the recipient's public key) and MUST fail if it cannot.
        let shared = sender_key
            .agree(&recipient_key.compressed)
            .map_err(|_| Error::InvalidArgument("ECDH key agreement failed".into()))?;

        // Spec: key-agreement-schemas.md "Key Derivation": a 32-byte random salt MUST be
        // generated first, and the operation MUST fail if that fails.
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        let sender = sender_key.public.compressed.as_slice();
        let recipient = recipient_key.compressed.as_slice();
        let fixed_info = fixed_info(self.curve, sender, recipient, &context);
        let derived = derive(&shared, &fixed_info, &salt)?;

        // Spec: raw-ecdh-keyring.md "Data Key Wrapping": AES-GCM-256 with the shared
        // wrapping key, the data key as the message, a zeroed 12-byte IV, a 16-byte tag, and
        // FixedInfo as the AAD.
        let aead = AeadKey::new_zeroizing(derived.wrapping_key())?;
        let data_key = materials
            .data_key()
            .ok_or(Error::Unreachable("data key vanished"))?;
        let mut wrapped = Zeroizing::new(data_key.expose_secret().to_vec());
        let tag = aead.seal_in_place(&[0u8; IV_LEN], &fixed_info, &mut wrapped)?;

        // Spec: raw-ecdh-keyring.md "Ciphertext": derivation nonce || commitment key ||
        // encrypted key || authentication tag.
        let mut ciphertext =
            Vec::with_capacity(capacity(&[SALT_LEN, HALF_LEN, wrapped.len(), TAG_LEN]));
        ciphertext.extend_from_slice(&salt);
        ciphertext.extend_from_slice(derived.commitment_key());
        ciphertext.extend_from_slice(&wrapped);
        ciphertext.extend_from_slice(&tag);

        // Spec: raw-ecdh-keyring.md "OnEncrypt": provider ID "raw-ecdh", provider info as
        // the raw ECDH key provider information, ciphertext as above.
        materials.add_encrypted_data_key(EncryptedDataKey {
            provider_id: RAW_ECDH_PROVIDER_ID.to_owned(),
            provider_info: provider_info(recipient, sender),
            ciphertext,
        });
        Ok(materials)
    }

    fn on_decrypt(
        &self,
        mut materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        // Spec: raw-ecdh-keyring.md "OnDecrypt": OnDecrypt MUST fail with the
        // EphemeralPrivateKeyToStaticPublicKey schema (key-agreement-schemas.md: if used on
        // decrypt, the keyring MUST fail).
        if let KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey { .. } = self.scheme {
            return Err(Error::InvalidArgument(format!(
                "a raw ECDH keyring with the {} schema cannot decrypt (it keeps no private \
                 key)",
                self.scheme.name()
            )));
        }
        // Spec: raw-ecdh-keyring.md "OnDecrypt": with a plaintext data key already in the
        // materials, the keyring MUST fail and MUST NOT modify them.
        if materials.data_key().is_some() {
            return Err(Error::InvalidState("the materials already hold a data key"));
        }
        // Spec: raw-ecdh-keyring.md "OnDecrypt": the keyring MUST serialize the encryption
        // context and MUST fail if it cannot.
        let context = materials.encryption_context().serialize()?;
        let key_len = materials.suite().key_len();

        // Spec: raw-ecdh-keyring.md "OnDecrypt": the EDKs MUST first be filtered to match
        // this keyring; each in the filtered set, one at a time, MUST be attempted, a failure
        // moving on to the next; the first success MUST set the data key and return at once.
        let mut matched = false;
        for edk in edks {
            let Some((recipient, sender)) = self.matching_keys(edk) else {
                continue;
            };
            matched = true;
            if let Some(key) = self.unwrap(edk, recipient, sender, &context, key_len) {
                materials.set_data_key(key)?;
                return Ok(materials);
            }
        }
        // Spec: raw-ecdh-keyring.md "OnDecrypt": if no EDK decrypts, OnDecrypt MUST fail.
        if matched {
            Err(Error::DataKeyUnwrapFailed)
        } else {
            Ok(materials)
        }
    }
}

/// `FixedInfo`, the KDF label and the wrapping AAD.
///
/// Spec: key-agreement-schemas.md "Key Derivation" and raw-ecdh-keyring.md "Data Key
/// Wrapping": `"ecdh-key-derivation" || 0x00 || curve || 0x00 || "HMAC_SHA384" || 0x00 ||
/// sender public key || recipient public key || 0x00 || keyring version || 0x00 ||
/// canonical encryption context` (public keys compressed, as in the provider info).
fn fixed_info(curve: EcdhCurve, sender: &[u8], recipient: &[u8], context: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity(&[
        KDF_LABEL.len(),
        16,
        KDF_METHOD.len(),
        sender.len(),
        recipient.len(),
        context.len(),
    ]));
    out.extend_from_slice(KDF_LABEL);
    out.push(0);
    out.extend_from_slice(curve.name().as_bytes());
    out.push(0);
    out.extend_from_slice(KDF_METHOD);
    out.push(0);
    out.extend_from_slice(sender);
    out.extend_from_slice(recipient);
    out.push(0);
    out.push(KEYRING_VERSION);
    out.push(0);
    out.extend_from_slice(context);
    out
}

/// The KDF: NIST SP 800-108 counter mode with HMAC-SHA384, 512 bits out.
///
/// Spec: raw-ecdh-keyring.md "Key Derivation Function Configuration" (counter mode,
/// HMAC_SHA384); key-agreement-schemas.md "Key Derivation": the shared secret Z as the key,
/// L = 512 bits, the 32-byte salt, no IV, FixedInfo. Each PRF input is
/// `u32 counter || FixedInfo || 0x00 || salt || u32 L`, counters from 1.
fn derive(shared: &SharedSecret, fixed_info: &[u8], salt: &[u8; SALT_LEN]) -> Result<DerivedKeys> {
    let key = hmac::Key::new(hmac::HMAC_SHA384, &shared.0);
    let l_bits = u32::try_from(DERIVED_LEN.saturating_mul(8))
        .map_err(|_| Error::Unreachable("KDF output length"))?;
    let mut input = Vec::with_capacity(capacity(&[4, fixed_info.len(), 1, SALT_LEN, 4]));
    let mut out = DerivedKeys(Zeroizing::new([0u8; 2 * PRF_LEN]));
    for (counter, block) in (1u32..).zip(out.0.chunks_mut(PRF_LEN)) {
        input.clear();
        input.extend_from_slice(&counter.to_be_bytes());
        input.extend_from_slice(fixed_info);
        input.push(0);
        input.extend_from_slice(salt);
        input.extend_from_slice(&l_bits.to_be_bytes());
        hmac::sign_to_buffer(&key, &input, block)
            .map_err(|_| Error::Unreachable("HMAC-SHA384 output buffer"))?;
    }
    Ok(out)
}

/// The provider info: `0x01 || u32 len || recipient key || u32 len || sender key`.
///
/// Spec: raw-ecdh-keyring.md "Key Provider Information": version, recipient's public key
/// length and key, sender's public key length and key, big-endian, both keys compressed.
fn provider_info(recipient: &[u8], sender: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity(&[1, 4, recipient.len(), 4, sender.len()]));
    out.push(KEYRING_VERSION);
    // Compressed points are at most 67 bytes.
    out.extend_from_slice(&u32::try_from(recipient.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(recipient);
    out.extend_from_slice(&u32::try_from(sender.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(sender);
    out
}

/// Parses a provider info for `curve`: (recipient key, sender key), or `None` if it is not
/// exactly version 1 with two compressed points of the curve.
///
/// Spec: raw-ecdh-keyring.md "OnDecrypt": the provider info MUST deserialize and its version
/// MUST be `0x01`.
fn parse_provider_info(curve: EcdhCurve, info: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&version, rest) = info.split_first()?;
    if version != KEYRING_VERSION {
        return None;
    }
    let (recipient, rest) = take_point(curve, rest)?;
    let (sender, rest) = take_point(curve, rest)?;
    rest.is_empty().then_some((recipient, sender))
}

/// A `u32`-length-prefixed compressed point of `curve`, and the rest.
fn take_point(curve: EcdhCurve, bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(4)?;
    let len = usize::try_from(u32::from_be_bytes(len.try_into().ok()?)).ok()?;
    if len != curve.compressed_len() {
        return None;
    }
    let (point, rest) = rest.split_at_checked(len)?;
    matches!(point.first(), Some(0x02 | 0x03)).then_some((point, rest))
}

/// The compressed form of a SEC 1 point of `curve` given compressed or uncompressed.
fn compress_point(curve: EcdhCurve, point: &[u8]) -> Option<Vec<u8>> {
    let n = curve.field_len();
    match point.split_first()? {
        (0x02 | 0x03, x) if x.len() == n => Some(point.to_vec()),
        (0x04, xy) if xy.len() == n.checked_mul(2)? => {
            let (x, y) = xy.split_at_checked(n)?;
            let parity = y.last()? & 1;
            let mut out = Vec::with_capacity(n.checked_add(1)?);
            out.push(0x02 | parity);
            out.extend_from_slice(x);
            Some(out)
        }
        _ => None,
    }
}

/// The EC point inside a DER SubjectPublicKeyInfo: `SEQUENCE { AlgorithmIdentifier,
/// BIT STRING (no unused bits) }` with nothing after it. (AWS-LC has validated the key.)
fn spki_point(der: &[u8]) -> Option<&[u8]> {
    let (spki, rest) = der_element(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (_algorithm, rest) = der_element(spki, 0x30)?;
    let (bits, rest) = der_element(rest, 0x03)?;
    if !rest.is_empty() {
        return None;
    }
    match bits.split_first()? {
        (0, point) => Some(point),
        _ => None,
    }
}

/// One DER element with `tag`: (content, rest). Definite lengths of up to two bytes.
fn der_element(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = der.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&b, rest) = rest.split_first()?;
            (usize::from(b), rest)
        }
        0x82 => {
            let (b, rest) = rest.split_at_checked(2)?;
            (usize::from(u16::from_be_bytes(b.try_into().ok()?)), rest)
        }
        _ => return None,
    };
    rest.split_at_checked(len)
}

/// Whether DER bytes start like a PKCS#8 PrivateKeyInfo: `SEQUENCE { INTEGER 0, SEQUENCE`
/// (an RFC 5915 ECPrivateKey starts `SEQUENCE { INTEGER 1, OCTET STRING`).
fn looks_like_pkcs8(der: &[u8]) -> bool {
    let Some((body, _)) = der_element(der, 0x30) else {
        return false;
    };
    matches!(body, [0x02, 0x01, 0x00, 0x30, ..])
}

/// Decodes a PEM block whose label must be `want`; the DER is zeroized when dropped.
fn pem_decode(pem: &[u8], want: &str) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |what: &str| {
        Error::InvalidArgument(format!(
            "not a PEM \"{want}\" (PKCS#8) EC private key: {what}"
        ))
    };
    let text = std::str::from_utf8(pem).map_err(|_| bad("the input is not text"))?;
    let begin = format!("-----BEGIN {want}-----");
    let end = format!("-----END {want}-----");
    let Some(start) = text.find(&begin) else {
        return Err(if text.contains("-----BEGIN ") {
            bad("another PEM type (only unencrypted PKCS#8 \"PRIVATE KEY\" is accepted)")
        } else {
            bad("no \"-----BEGIN PRIVATE KEY-----\" line")
        });
    };
    let after = text
        .get(start.saturating_add(begin.len())..)
        .ok_or_else(|| bad("truncated"))?;
    let body_len = after
        .find(&end)
        .ok_or_else(|| bad("no matching END line"))?;
    let body = after.get(..body_len).ok_or_else(|| bad("truncated"))?;
    let mut b64 = Zeroizing::new(Vec::with_capacity(body.len()));
    b64.extend(body.bytes().filter(|b| !b.is_ascii_whitespace()));
    let mut der = Zeroizing::new(Vec::with_capacity(capacity(&[
        (b64.len() / 4).saturating_mul(3),
        3,
    ])));
    base64::engine::general_purpose::STANDARD
        .decode_vec(&b64[..], &mut der)
        .map_err(|_| bad("the body is not valid base64"))?;
    Ok(der)
}

/// A capacity hint: the sum of `parts`, saturating (a hint never overflows).
fn capacity(parts: &[usize]) -> usize {
    parts.iter().fold(0, |a, &b| a.saturating_add(b))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use std::sync::Arc;

    use aws_lc_rs::encoding::Pkcs8V1Der;

    use super::*;
    use crate::format::context::EncryptionContext;
    use crate::format::suite::{AlgorithmSuite, CommitmentPolicy};
    use crate::WrappingKey;
    use crate::{decrypt, encrypt, DecryptOptions, EncryptOptions, MultiKeyring, RawAesKeyring};

    /// A fresh key pair as its PEM PKCS#8 private key and DER SPKI public key, made directly
    /// with AWS-LC (not through the code under test).
    fn key_pair(curve: EcdhCurve) -> (String, Vec<u8>) {
        let key = PrivateKey::generate(curve.algorithm()).unwrap();
        let pkcs8: Pkcs8V1Der<'static> = key.as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let spki: PublicKeyX509Der<'static> = key.compute_public_key().unwrap().as_der().unwrap();
        (pem, spki.as_ref().to_vec())
    }

    struct Party {
        pem: String,
        der: Vec<u8>,
    }

    fn party(curve: EcdhCurve) -> Party {
        let (pem, der) = key_pair(curve);
        Party { pem, der }
    }

    fn private(curve: EcdhCurve, p: &Party) -> EcdhPrivateKey {
        EcdhPrivateKey::from_pem(curve, p.pem.as_bytes()).unwrap()
    }

    fn public(curve: EcdhCurve, p: &Party) -> EcdhPublicKey {
        EcdhPublicKey::from_der(curve, &p.der).unwrap()
    }

    fn static_keyring(curve: EcdhCurve, sender: &Party, recipient: &Party) -> RawEcdhKeyring {
        RawEcdhKeyring::new(
            curve,
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key: private(curve, sender),
                recipient_public_key: public(curve, recipient),
            },
        )
        .unwrap()
    }

    fn ephemeral_keyring(curve: EcdhCurve, recipient: &Party) -> RawEcdhKeyring {
        RawEcdhKeyring::new(
            curve,
            KeyAgreementScheme::EphemeralPrivateKeyToStaticPublicKey {
                recipient_public_key: public(curve, recipient),
            },
        )
        .unwrap()
    }

    fn discovery_keyring(curve: EcdhCurve, recipient: &Party) -> RawEcdhKeyring {
        RawEcdhKeyring::new(
            curve,
            KeyAgreementScheme::PublicKeyDiscovery {
                recipient_private_key: private(curve, recipient),
            },
        )
        .unwrap()
    }

    fn context() -> EncryptionContext {
        let mut ec = EncryptionContext::new();
        ec.insert("purpose", "test");
        ec.insert("team", "esdk");
        ec
    }

    const SUITE: &AlgorithmSuite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;

    fn options(suite: &'static AlgorithmSuite) -> EncryptOptions {
        let mut o = EncryptOptions {
            algorithm_suite: Some(suite),
            encryption_context: context(),
            ..EncryptOptions::default()
        };
        if !suite.is_committing() {
            o.commitment_policy = CommitmentPolicy::ForbidEncryptAllowDecrypt;
        }
        o
    }

    fn decrypt_options() -> DecryptOptions {
        DecryptOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..DecryptOptions::default()
        }
    }

    fn wrap(k: &RawEcdhKeyring, suite: &'static AlgorithmSuite) -> (Vec<u8>, EncryptionMaterials) {
        let m = k
            .on_encrypt(EncryptionMaterials::new(suite, context()))
            .unwrap();
        let key = m.data_key().unwrap().expose_secret().to_vec();
        (key, m)
    }

    fn dec_materials(suite: &'static AlgorithmSuite) -> DecryptionMaterials {
        DecryptionMaterials::new(suite, context())
    }

    fn unwrapped(k: &RawEcdhKeyring, m: &EncryptionMaterials) -> Result<Option<Vec<u8>>> {
        let d = k.on_decrypt(dec_materials(m.suite()), m.encrypted_data_keys())?;
        Ok(d.data_key().map(|k| k.expose_secret().to_vec()))
    }

    /// Every scheme and curve, every suite key length: wrap, then unwrap with a separately
    /// constructed keyring of the other party (and, for static keys, of both parties).
    #[test]
    fn round_trip_every_scheme_and_curve() {
        let suites = [
            &AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
            &AlgorithmSuite::AES_192_GCM_IV12_TAG16_HKDF_SHA256,
            SUITE,
        ];
        for curve in EcdhCurve::ALL {
            let (alice, bob) = (party(curve), party(curve));
            for suite in suites {
                // Static: Alice to Bob; Alice (sender role) and Bob (in either keyring form)
                // decrypt.
                let (key, m) = wrap(&static_keyring(curve, &alice, &bob), suite);
                assert_eq!(key.len(), suite.key_len());
                let edk = &m.encrypted_data_keys()[0];
                assert_eq!(edk.provider_id, "raw-ecdh");
                assert_eq!(
                    edk.provider_info.len(),
                    1 + 2 * (4 + curve.compressed_len())
                );
                assert_eq!(edk.ciphertext.len(), 64 + suite.key_len() + 16);
                for k in [
                    static_keyring(curve, &alice, &bob),
                    static_keyring(curve, &bob, &alice),
                    discovery_keyring(curve, &bob),
                ] {
                    assert_eq!(unwrapped(&k, &m).unwrap().unwrap(), key, "{curve} {k:?}");
                }
                // Alice is not the recipient: discovery with her key does not match.
                let k = discovery_keyring(curve, &alice);
                assert_eq!(unwrapped(&k, &m).unwrap(), None);

                // Ephemeral: only Bob's discovery keyring can decrypt.
                let (key, m) = wrap(&ephemeral_keyring(curve, &bob), suite);
                assert_eq!(
                    unwrapped(&discovery_keyring(curve, &bob), &m)
                        .unwrap()
                        .unwrap(),
                    key
                );
                // Every encryption has its own ephemeral sender key.
                let (_, m2) = wrap(&ephemeral_keyring(curve, &bob), suite);
                let sender = |m: &EncryptionMaterials| {
                    parse_provider_info(curve, &m.encrypted_data_keys()[0].provider_info)
                        .unwrap()
                        .1
                        .to_vec()
                };
                assert_ne!(sender(&m), sender(&m2));
            }
        }
    }

    /// Whole messages: encrypted with the sender's keyring, decrypted by the recipient's
    /// keyrings built independently from the key files.
    #[test]
    fn messages_decrypt_with_independently_built_keyrings() {
        for curve in EcdhCurve::ALL {
            let (alice, bob) = (party(curve), party(curve));
            for enc in [
                static_keyring(curve, &alice, &bob),
                ephemeral_keyring(curve, &bob),
            ] {
                let message = encrypt(Arc::new(enc), b"ecdh message", options(SUITE)).unwrap();
                let bob_discovery = discovery_keyring(curve, &bob);
                let d = decrypt(Arc::new(bob_discovery), &message, decrypt_options()).unwrap();
                assert_eq!(d.plaintext, b"ecdh message");
            }
            let message = encrypt(
                Arc::new(static_keyring(curve, &alice, &bob)),
                b"both ways",
                options(&AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384),
            )
            .unwrap();
            for k in [
                static_keyring(curve, &bob, &alice),
                static_keyring(curve, &alice, &bob),
            ] {
                let d = decrypt(Arc::new(k), &message, decrypt_options()).unwrap();
                assert_eq!(d.plaintext, b"both ways");
            }
        }
    }

    /// A wrong key, a different context, tampering: matched but not decryptable.
    #[test]
    fn wrong_key_or_context_fails_with_unwrap_error() {
        let curve = EcdhCurve::P256;
        let (alice, bob, carol) = (party(curve), party(curve), party(curve));
        let (_, m) = wrap(&static_keyring(curve, &alice, &bob), SUITE);

        // Another encryption context: the EDK matches, the KDF input differs.
        let mut other = context();
        other.insert("purpose", "other");
        let k = discovery_keyring(curve, &bob);
        let d = DecryptionMaterials::new(SUITE, other);
        assert!(matches!(
            k.on_decrypt(d, m.encrypted_data_keys()),
            Err(Error::DataKeyUnwrapFailed)
        ));

        // An EDK whose provider info names Bob, with a ciphertext made for Carol.
        let (_, for_carol) = wrap(&static_keyring(curve, &alice, &carol), SUITE);
        let mut forged = m.encrypted_data_keys()[0].clone();
        forged.ciphertext = for_carol.encrypted_data_keys()[0].ciphertext.clone();
        assert!(matches!(
            k.on_decrypt(dec_materials(SUITE), &[forged]),
            Err(Error::DataKeyUnwrapFailed)
        ));

        // Tampered salt, commitment key, wrapped key or tag; truncated; lengthened.
        let edk = &m.encrypted_data_keys()[0];
        for i in [0, 31, 32, 63, 64, 95, 96, 111] {
            let mut t = edk.clone();
            t.ciphertext[i] ^= 0x01;
            assert!(
                matches!(
                    k.on_decrypt(dec_materials(SUITE), &[t]),
                    Err(Error::DataKeyUnwrapFailed)
                ),
                "byte {i}"
            );
        }
        let mut short = edk.clone();
        short.ciphertext.pop();
        let mut long = edk.clone();
        long.ciphertext.push(0);
        for t in [short, long] {
            assert!(matches!(
                k.on_decrypt(dec_materials(SUITE), &[t]),
                Err(Error::DataKeyUnwrapFailed)
            ));
        }
        // A suite with another key length than the wrapped key's.
        let d = DecryptionMaterials::new(&AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF, context());
        assert!(matches!(
            k.on_decrypt(d, m.encrypted_data_keys()),
            Err(Error::DataKeyUnwrapFailed)
        ));

        // A good EDK after a bad one still decrypts.
        let mut bad = edk.clone();
        bad.ciphertext[70] ^= 0x80;
        let d = k
            .on_decrypt(dec_materials(SUITE), &[bad, edk.clone()])
            .unwrap();
        assert!(d.data_key().is_some());

        // End to end: Carol cannot decrypt Alice-to-Bob (no match); a static keyring whose
        // public keys match but whose private key is wrong cannot happen (the public key
        // is derived from it), so the wrong-key case is the unmatched one.
        let message = encrypt(
            Arc::new(static_keyring(curve, &alice, &bob)),
            b"x",
            options(SUITE),
        )
        .unwrap();
        assert!(matches!(
            decrypt(
                Arc::new(discovery_keyring(curve, &carol)),
                &message,
                decrypt_options()
            ),
            Err(Error::NoMatchingDataKey)
        ));
        assert!(matches!(
            decrypt(
                Arc::new(static_keyring(curve, &alice, &carol)),
                &message,
                decrypt_options()
            ),
            Err(Error::NoMatchingDataKey)
        ));
    }

    /// Keys of another curve in the EDK, another version, other provider IDs, malformed
    /// provider info: not ours, so the materials come back unchanged.
    #[test]
    fn unmatched_or_malformed_edks_are_skipped() {
        let curve = EcdhCurve::P384;
        let (alice, bob) = (party(curve), party(curve));
        let (_, m) = wrap(&static_keyring(curve, &alice, &bob), SUITE);
        let edk = &m.encrypted_data_keys()[0];
        let k = discovery_keyring(curve, &bob);
        let mut cases = Vec::new();
        let mut e = edk.clone();
        e.provider_id = "raw-ecdh ".into();
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info[0] = 2;
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info.pop();
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info.push(0);
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info[4] = 48; // recipient key length off by one
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info[5] = 0x04; // not a compressed point
        cases.push(e);
        let mut e = edk.clone();
        e.provider_info.clear();
        cases.push(e);
        // A P-256 keyring sees P-384 keys.
        let (_, m256) = wrap(
            &static_keyring(
                EcdhCurve::P256,
                &party(EcdhCurve::P256),
                &party(EcdhCurve::P256),
            ),
            SUITE,
        );
        cases.push(m256.encrypted_data_keys()[0].clone());
        for e in cases {
            let d = k
                .on_decrypt(dec_materials(SUITE), std::slice::from_ref(&e))
                .unwrap();
            assert!(d.data_key().is_none(), "{e:?}");
        }
        // The KMS ECDH provider ID is accepted (same layout).
        let mut e = edk.clone();
        e.provider_id = "aws-kms-ecdh".into();
        assert!(k
            .on_decrypt(dec_materials(SUITE), &[e])
            .unwrap()
            .data_key()
            .is_some());
    }

    /// A sender key in the EDK that is not a point of the curve fails cleanly.
    #[test]
    fn invalid_sender_point_in_edk_fails_cleanly() {
        let curve = EcdhCurve::P256;
        let bob = party(curve);
        let (_, m) = wrap(&ephemeral_keyring(curve, &bob), SUITE);
        let k = discovery_keyring(curve, &bob);
        let mut e = m.encrypted_data_keys()[0].clone();
        // The sender's x-coordinate starts after 1 + 4 + 33 + 4 bytes and the prefix byte;
        // 0xff..ff is above the field prime, so not a point; x = 0 either is no point or
        // gives another secret, which the commitment check catches.
        let start = 1 + 4 + 33 + 4 + 1;
        for fill in [0xffu8, 0x00] {
            e.provider_info[start..start + 32].fill(fill);
            let r = k.on_decrypt(dec_materials(SUITE), std::slice::from_ref(&e));
            assert!(matches!(r, Err(Error::DataKeyUnwrapFailed)), "{r:?}");
        }
    }

    #[test]
    fn malformed_public_keys_are_refused() {
        let curve = EcdhCurve::P256;
        let good = party(curve).der;
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            vec![0x30],
            good[..good.len() - 1].to_vec(),
            [good.clone(), vec![0]].concat(),
        ];
        // Point not on the curve.
        let mut off = good.clone();
        let last = off.len() - 1;
        off[last] ^= 0x01;
        cases.push(off);
        // The point at infinity: BIT STRING holding the single byte 0x00.
        let prefix_len = good.len() - 65 - 3;
        let mut inf = good[..prefix_len].to_vec();
        inf[1] = (prefix_len - 2 + 4) as u8;
        inf.extend_from_slice(&[0x03, 0x02, 0x00, 0x00]);
        cases.push(inf);
        // A bare uncompressed point is not a SubjectPublicKeyInfo.
        cases.push(good[good.len() - 65..].to_vec());
        // PEM text instead of DER.
        cases.push(b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n".to_vec());
        for der in &cases {
            assert!(
                matches!(
                    EcdhPublicKey::from_der(curve, der),
                    Err(Error::InvalidArgument(_))
                ),
                "{der:02x?}"
            );
        }
        // A key of another curve.
        let p384 = party(EcdhCurve::P384).der;
        assert!(matches!(
            EcdhPublicKey::from_der(curve, &p384),
            Err(Error::InvalidArgument(_))
        ));
        let p521 = party(EcdhCurve::P521).der;
        assert!(matches!(
            EcdhPublicKey::from_der(curve, &p521),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn malformed_private_keys_are_refused() {
        let p = party(EcdhCurve::P256);
        let der = pem_decode(p.pem.as_bytes(), "PRIVATE KEY").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der[..der.len() - 3]);
        let truncated = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        let rfc5915 = {
            let key = PrivateKey::generate(&agreement::ECDH_P256).unwrap();
            let d: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'static> = key.as_der().unwrap();
            let b64 = base64::engine::general_purpose::STANDARD.encode(d.as_ref());
            format!("-----BEGIN EC PRIVATE KEY-----\n{b64}\n-----END EC PRIVATE KEY-----\n")
        };
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a key".to_vec(),
            der.to_vec(), // DER, not PEM
            truncated.into_bytes(),
            rfc5915.into_bytes(),
            p.pem.replace("PRIVATE KEY", "PUBLIC KEY").into_bytes(),
            vec![0xff, 0xfe],
        ];
        for pem in &cases {
            assert!(matches!(
                EcdhPrivateKey::from_pem(EcdhCurve::P256, pem),
                Err(Error::InvalidArgument(_))
            ));
        }
        // Another curve.
        assert!(matches!(
            EcdhPrivateKey::from_pem(EcdhCurve::P384, p.pem.as_bytes()),
            Err(Error::InvalidArgument(_))
        ));
        // Debug never shows the key.
        let k = private(EcdhCurve::P256, &p);
        assert_eq!(format!("{k:?}"), "EcdhPrivateKey([redacted], p256)");
    }

    #[test]
    fn curves_of_the_keys_must_match_the_keyring() {
        let (a, b) = (party(EcdhCurve::P256), party(EcdhCurve::P384));
        let r = RawEcdhKeyring::new(
            EcdhCurve::P256,
            KeyAgreementScheme::RawPrivateKeyToStaticPublicKey {
                sender_private_key: private(EcdhCurve::P256, &a),
                recipient_public_key: public(EcdhCurve::P384, &b),
            },
        );
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        let r = RawEcdhKeyring::new(
            EcdhCurve::P521,
            KeyAgreementScheme::PublicKeyDiscovery {
                recipient_private_key: private(EcdhCurve::P384, &b),
            },
        );
        assert!(matches!(r, Err(Error::InvalidArgument(_))));
        assert_eq!(EcdhCurve::parse("P-384").unwrap(), EcdhCurve::P384);
        assert!(EcdhCurve::parse("sm2").is_err());
    }

    #[test]
    fn schemes_refuse_the_operation_they_cannot_do() {
        let curve = EcdhCurve::P256;
        let bob = party(curve);
        let discovery = discovery_keyring(curve, &bob);
        assert!(matches!(
            discovery.on_encrypt(EncryptionMaterials::new(SUITE, context())),
            Err(Error::InvalidArgument(_))
        ));
        let ephemeral = ephemeral_keyring(curve, &bob);
        let (_, m) = wrap(&ephemeral, SUITE);
        assert!(matches!(
            ephemeral.on_decrypt(dec_materials(SUITE), m.encrypted_data_keys()),
            Err(Error::InvalidArgument(_))
        ));
        // Materials that already hold a data key are refused and left alone.
        let mut d = dec_materials(SUITE);
        d.set_data_key(DataKey::from_slice(&[7; 32])).unwrap();
        assert!(matches!(
            discovery.on_decrypt(d, m.encrypted_data_keys()),
            Err(Error::InvalidState(_))
        ));
    }

    /// In a multi-keyring, the ECDH keyring wraps the data key another keyring generated.
    #[test]
    fn wraps_an_existing_data_key_in_a_multi_keyring() {
        let curve = EcdhCurve::P521;
        let bob = party(curve);
        let aes =
            Arc::new(RawAesKeyring::new("ns", "aes", WrappingKey::generate(32).unwrap()).unwrap());
        let multi = MultiKeyring::new(
            Some(aes.clone()),
            vec![Arc::new(ephemeral_keyring(curve, &bob))],
        )
        .unwrap();
        let message = encrypt(Arc::new(multi), b"shared", options(SUITE)).unwrap();
        let by_ecdh = decrypt(
            Arc::new(discovery_keyring(curve, &bob)),
            &message,
            decrypt_options(),
        );
        assert_eq!(by_ecdh.unwrap().plaintext, b"shared");
        let by_aes = decrypt(aes, &message, decrypt_options());
        assert_eq!(by_aes.unwrap().plaintext, b"shared");
    }

    /// The KDF against an independent computation of SP 800-108 counter mode with ring's
    /// HMAC (a second implementation), and FixedInfo's layout byte by byte.
    #[test]
    fn kdf_and_fixed_info_layout() {
        let fi = fixed_info(
            EcdhCurve::P384,
            &[2; 49],
            &[3; 49],
            &[0, 1, 0, 1, b'k', 0, 1, b'v'],
        );
        let mut want = b"ecdh-key-derivation\0p384\0HMAC_SHA384\0".to_vec();
        want.extend_from_slice(&[2; 49]);
        want.extend_from_slice(&[3; 49]);
        want.extend_from_slice(&[0, 1, 0]);
        want.extend_from_slice(&[0, 1, 0, 1, b'k', 0, 1, b'v']);
        assert_eq!(fi, want);

        let z = SharedSecret(Zeroizing::new((0u8..48).collect()));
        let salt = [9u8; 32];
        let got = derive(&z, &fi, &salt).unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA384, &z.0);
        let mut expect = Vec::new();
        for i in 1u32..=2 {
            let mut ctx = ring::hmac::Context::with_key(&key);
            ctx.update(&i.to_be_bytes());
            ctx.update(&fi);
            ctx.update(&[0]);
            ctx.update(&salt);
            ctx.update(&512u32.to_be_bytes());
            expect.extend_from_slice(ctx.sign().as_ref());
        }
        assert_eq!(got.commitment_key(), &expect[..32]);
        assert_eq!(got.wrapping_key(), &expect[32..64]);
        assert_eq!(format!("{got:?}"), "DerivedKeys([redacted])");
        assert_eq!(format!("{z:?}"), "SharedSecret([redacted])");
    }

    #[test]
    fn point_compression() {
        for curve in EcdhCurve::ALL {
            let key = PrivateKey::generate(curve.algorithm()).unwrap();
            let public = key.compute_public_key().unwrap();
            let compressed: EcPublicKeyCompressedBin<'static> = public.as_be_bytes().unwrap();
            assert_eq!(
                compress_point(curve, public.as_ref()).unwrap(),
                compressed.as_ref()
            );
            assert_eq!(
                compress_point(curve, compressed.as_ref()).unwrap(),
                compressed.as_ref()
            );
            assert!(compress_point(curve, &public.as_ref()[1..]).is_none());
        }
        assert!(compress_point(EcdhCurve::P256, &[]).is_none());
        assert!(compress_point(EcdhCurve::P256, &[0x04; 64]).is_none());
    }
}
