//! The raw RSA keyring: wraps data keys with a local RSA key pair.
//!
//! Spec: `framework/raw-rsa-keyring.md` (version 0.3.2).
//!
//! RSA comes from AWS-LC (the `aws-lc-rs` crate): its private-key operation is blinded and
//! constant-time, and its padding checks are constant-time. RustCrypto's `rsa` crate is not
//! used: it has an unfixed timing side channel (RUSTSEC-2023-0071, the "Marvin attack").
//!
//! # PKCS#1 v1.5 and padding oracles
//!
//! A decryptor that reports *whether* a PKCS#1 v1.5 ciphertext had valid padding is a
//! Bleichenbacher oracle: an attacker who can submit modified messages and see the outcome
//! can decrypt a captured data key (and, since the oracle is on raw RSA, also data keys that
//! the same RSA key wrapped with OAEP). So with [`RsaPadding::Pkcs1`] this keyring never
//! reports an unwrap failure that depends on the plaintext: when the padding is invalid, or
//! the unwrapped key has the wrong length, it goes on with a random data key of the right
//! length instead (RFC 3218 section 2.3.2, as TLS 1.2 does in RFC 5246 section 7.4.7.1).
//! The message then fails its header authentication with [`Error::AuthenticationFailed`],
//! exactly as a well-padded ciphertext under the wrong key would. The choice between the real
//! and the random key is made in constant time. This is a deliberate deviation from the
//! spec's "If no decryption succeeds, the keyring MUST fail": with PKCS#1 v1.5, a matching
//! encrypted data key whose ciphertext has the modulus length always yields a data key.
//!
//! OAEP needs no such care (a plain "valid / invalid" answer does not help an attacker against
//! OAEP, and AWS-LC checks OAEP padding in constant time), so OAEP failures are reported as
//! [`Error::DataKeyUnwrapFailed`] exactly as the spec says. Prefer OAEP for new keys.
//!
//! # Secrets in memory
//!
//! The private key lives inside AWS-LC, whose allocator wipes every block it frees
//! (`OPENSSL_free` calls `OPENSSL_cleanse`), so the key is zeroized when the last
//! [`RsaPrivateKey`] or [`RawRsaKeyring`] holding it is dropped. The PEM text and DER bytes
//! that this module decodes or builds are held in [`Zeroizing`] buffers allocated at their
//! final size, so no copy is left behind. Bytes passed in by the caller stay the caller's to
//! wipe.

use std::fmt;

use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey,
    Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey, OAEP_SHA1_MGF1SHA1,
    OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use base64::Engine as _;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use super::Keyring;
use crate::crypto::{fill_random, DataKey};
use crate::error::{Error, Result};
use crate::format::header::EncryptedDataKey;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// An RSA padding scheme of the raw RSA keyring.
///
/// Spec: raw-rsa-keyring.md "Supported Padding Schemes": these five and no other; with OAEP,
/// MGF1 uses the same hash as OAEP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5. Kept for compatibility; see the module documentation on padding
    /// oracles. Prefer OAEP.
    Pkcs1,
    /// RSAES-OAEP with SHA-1, MGF1 with SHA-1.
    OaepSha1,
    /// RSAES-OAEP with SHA-256, MGF1 with SHA-256.
    OaepSha256,
    /// RSAES-OAEP with SHA-384, MGF1 with SHA-384.
    OaepSha384,
    /// RSAES-OAEP with SHA-512, MGF1 with SHA-512.
    OaepSha512,
}

impl RsaPadding {
    /// Every padding scheme, PKCS#1 v1.5 first.
    pub const ALL: [RsaPadding; 5] = [
        RsaPadding::Pkcs1,
        RsaPadding::OaepSha1,
        RsaPadding::OaepSha256,
        RsaPadding::OaepSha384,
        RsaPadding::OaepSha512,
    ];

    /// Parses `pkcs1`, `oaep-sha1`, `oaep-sha256`, `oaep-sha384` or `oaep-sha512` (ASCII
    /// case is ignored).
    pub fn parse(text: &str) -> Result<RsaPadding> {
        RsaPadding::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown RSA padding {text:?}; expected one of pkcs1, oaep-sha1, \
                     oaep-sha256, oaep-sha384, oaep-sha512"
                ))
            })
    }

    /// The name that [`RsaPadding::parse`] accepts, e.g. `oaep-sha256`.
    pub fn name(self) -> &'static str {
        match self {
            RsaPadding::Pkcs1 => "pkcs1",
            RsaPadding::OaepSha1 => "oaep-sha1",
            RsaPadding::OaepSha256 => "oaep-sha256",
            RsaPadding::OaepSha384 => "oaep-sha384",
            RsaPadding::OaepSha512 => "oaep-sha512",
        }
    }

    /// The OAEP parameters (hash and MGF1 hash are the same), or `None` for PKCS#1 v1.5.
    fn oaep(self) -> Option<&'static OaepAlgorithm> {
        match self {
            RsaPadding::Pkcs1 => None,
            RsaPadding::OaepSha1 => Some(&OAEP_SHA1_MGF1SHA1),
            RsaPadding::OaepSha256 => Some(&OAEP_SHA256_MGF1SHA256),
            RsaPadding::OaepSha384 => Some(&OAEP_SHA384_MGF1SHA384),
            RsaPadding::OaepSha512 => Some(&OAEP_SHA512_MGF1SHA512),
        }
    }
}

impl fmt::Display for RsaPadding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An RSA public key (2048 to 8192 bits), for wrapping data keys.
#[derive(Clone)]
pub struct RsaPublicKey(PublicEncryptingKey);

impl RsaPublicKey {
    /// Loads a PEM public key: `PUBLIC KEY` (X.509 SubjectPublicKeyInfo) or `RSA PUBLIC KEY`
    /// (PKCS#1 RSAPublicKey). A private key is refused: this keyring never derives a public
    /// key from a private one.
    pub fn from_pem(pem: &[u8]) -> Result<RsaPublicKey> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PUBLIC KEY" => parse_spki(&der),
            "RSA PUBLIC KEY" => parse_pkcs1_public(&der),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                Err(private_key_given_as_public())
            }
            "CERTIFICATE" => Err(Error::InvalidArgument(
                "X.509 certificates are not accepted as RSA public keys; extract the key \
                 (openssl x509 -pubkey -noout -in CERT)"
                    .into(),
            )),
            other => Err(Error::InvalidArgument(format!(
                "unsupported PEM type \"{other}\" for an RSA public key; expected \
                 \"PUBLIC KEY\" (SubjectPublicKeyInfo) or \"RSA PUBLIC KEY\" (PKCS#1)"
            ))),
        }
    }

    /// Loads a DER public key: X.509 SubjectPublicKeyInfo or PKCS#1 RSAPublicKey. A private
    /// key is refused: this keyring never derives a public key from a private one.
    pub fn from_der(der: &[u8]) -> Result<RsaPublicKey> {
        match PublicEncryptingKey::from_der(der) {
            Ok(key) => Ok(RsaPublicKey(key)),
            Err(spki_err) => {
                let spki = pkcs1_public_to_spki(der);
                match PublicEncryptingKey::from_der(&spki) {
                    Ok(key) => Ok(RsaPublicKey(key)),
                    Err(_) if RsaPrivateKey::from_der(der).is_ok() => {
                        Err(private_key_given_as_public())
                    }
                    Err(pkcs1_err) => Err(key_rejected(
                        "an RSA public key in SubjectPublicKeyInfo or PKCS#1 DER",
                        &spki_err,
                        &pkcs1_err,
                    )),
                }
            }
        }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.key_size_bits()
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.bits())
    }
}

/// An RSA private key (2048 to 8192 bits), for unwrapping data keys. Not `Clone`; AWS-LC
/// wipes it when it is dropped.
pub struct RsaPrivateKey(PrivateDecryptingKey);

impl RsaPrivateKey {
    /// Loads a PEM private key: `PRIVATE KEY` (PKCS#8 PrivateKeyInfo) or `RSA PRIVATE KEY`
    /// (PKCS#1 RSAPrivateKey). Encrypted PEM (`ENCRYPTED PRIVATE KEY`, or `Proc-Type`
    /// headers) is refused: decrypt it first.
    pub fn from_pem(pem: &[u8]) -> Result<RsaPrivateKey> {
        let (label, der) = pem_decode(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => parse_pkcs8(&der),
            "RSA PRIVATE KEY" => parse_pkcs1_private(&der),
            "ENCRYPTED PRIVATE KEY" => Err(encrypted_pem()),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(Error::InvalidArgument(
                "this is an RSA public key, not a private key".into(),
            )),
            other => Err(Error::InvalidArgument(format!(
                "unsupported PEM type \"{other}\" for an RSA private key; expected \
                 \"PRIVATE KEY\" (PKCS#8) or \"RSA PRIVATE KEY\" (PKCS#1)"
            ))),
        }
    }

    /// Loads a DER private key: PKCS#8 PrivateKeyInfo or PKCS#1 RSAPrivateKey.
    pub fn from_der(der: &[u8]) -> Result<RsaPrivateKey> {
        match PrivateDecryptingKey::from_pkcs8(der) {
            Ok(key) => Ok(RsaPrivateKey(key)),
            Err(pkcs8_err) => {
                let pkcs8 = pkcs1_private_to_pkcs8(der);
                PrivateDecryptingKey::from_pkcs8(&pkcs8)
                    .map(RsaPrivateKey)
                    .map_err(|pkcs1_err| {
                        key_rejected(
                            "an RSA private key in PKCS#8 or PKCS#1 DER",
                            &pkcs8_err,
                            &pkcs1_err,
                        )
                    })
            }
        }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.0.key_size_bits()
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey([redacted], {} bits)", self.bits())
    }
}

/// The public half, ready for one padding scheme.
enum Encrypter {
    Pkcs1(Pkcs1PublicEncryptingKey),
    Oaep(OaepPublicEncryptingKey, &'static OaepAlgorithm),
}

/// The private half, ready for one padding scheme.
enum Decrypter {
    Pkcs1(Pkcs1PrivateDecryptingKey),
    Oaep(OaepPrivateDecryptingKey, &'static OaepAlgorithm),
}

/// Wraps data keys with RSA under a local key pair.
///
/// The encrypted data key's provider ID is the key namespace, its provider info is the key
/// name, and its ciphertext is the RSA ciphertext of the data key (as long as the modulus).
/// RSA has no associated data, so the encryption context is not bound into the wrapping (the
/// message's header authentication still binds it to the message).
///
/// A keyring with only a public key can encrypt but not decrypt; one with only a private key
/// can decrypt but not encrypt (the spec forbids deriving the public key from the private
/// one).
pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    wrapping: Option<Encrypter>,
    unwrapping: Option<Decrypter>,
}

impl fmt::Debug for RawRsaKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRsaKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("padding", &self.padding)
            .field("public_key", &self.wrapping.is_some())
            .field(
                "private_key",
                &self.unwrapping.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl RawRsaKeyring {
    /// A keyring for a key namespace, a key name, a padding scheme, and a public key, a
    /// private key or both.
    ///
    /// Spec: raw-rsa-keyring.md "Initialization": the caller MUST provide a public key and/or
    /// a private key; keyring-interface.md: the namespace MUST NOT be `aws-kms` (we refuse
    /// every namespace starting with it, as the spec reserves that prefix).
    pub fn new(
        namespace: &str,
        name: &str,
        padding: RsaPadding,
        public_key: Option<RsaPublicKey>,
        private_key: Option<RsaPrivateKey>,
    ) -> Result<RawRsaKeyring> {
        if namespace.starts_with("aws-kms") {
            return Err(Error::InvalidArgument(
                "the key namespace \"aws-kms\" is reserved for AWS KMS keyrings".into(),
            ));
        }
        if namespace.len() > usize::from(u16::MAX) || name.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidArgument(
                "key namespace or name too long".into(),
            ));
        }
        if public_key.is_none() && private_key.is_none() {
            return Err(Error::InvalidArgument(
                "a raw RSA keyring needs a public key, a private key, or both".into(),
            ));
        }
        let wrapping = match public_key {
            None => None,
            Some(RsaPublicKey(key)) => Some(match padding.oaep() {
                None => Encrypter::Pkcs1(Pkcs1PublicEncryptingKey::new(key).map_err(|_| {
                    Error::InvalidArgument("the RSA public key cannot be used".into())
                })?),
                Some(alg) => Encrypter::Oaep(
                    OaepPublicEncryptingKey::new(key).map_err(|_| {
                        Error::InvalidArgument("the RSA public key cannot be used".into())
                    })?,
                    alg,
                ),
            }),
        };
        let unwrapping = match private_key {
            None => None,
            Some(RsaPrivateKey(key)) => Some(match padding.oaep() {
                None => Decrypter::Pkcs1(Pkcs1PrivateDecryptingKey::new(key).map_err(|_| {
                    Error::InvalidArgument("the RSA private key cannot be used".into())
                })?),
                Some(alg) => Decrypter::Oaep(
                    OaepPrivateDecryptingKey::new(key).map_err(|_| {
                        Error::InvalidArgument("the RSA private key cannot be used".into())
                    })?,
                    alg,
                ),
            }),
        };
        Ok(RawRsaKeyring {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            padding,
            wrapping,
            unwrapping,
        })
    }

    /// The key namespace (the provider ID of its encrypted data keys).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key name (the provider info of its encrypted data keys).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The padding scheme.
    pub fn padding(&self) -> RsaPadding {
        self.padding
    }

    /// Whether the keyring has a public key, i.e. can encrypt.
    pub fn can_encrypt(&self) -> bool {
        self.wrapping.is_some()
    }

    /// Whether the keyring has a private key, i.e. can decrypt.
    pub fn can_decrypt(&self) -> bool {
        self.unwrapping.is_some()
    }
}

impl Keyring for RawRsaKeyring {
    fn on_encrypt(&self, mut materials: EncryptionMaterials) -> Result<EncryptionMaterials> {
        // Spec: "OnEncrypt MUST fail if this keyring does not have a specified public key.
        // The keyring MUST NOT derive a public key from a specified private key."
        let Some(wrapping) = &self.wrapping else {
            return Err(Error::InvalidArgument(
                "this raw RSA keyring has no public key, so it cannot encrypt (the public key \
                 is never derived from the private key)"
                    .into(),
            ));
        };
        // Spec: "If the encryption materials do not contain a plaintext data key, OnEncrypt
        // MUST generate a random plaintext data key and set it on the encryption materials."
        if materials.data_key().is_none() {
            let key = DataKey::generate(materials.suite().key_len())?;
            materials.set_data_key(key)?;
        }
        let data_key = materials
            .data_key()
            .ok_or(Error::Unreachable("data key vanished"))?;
        // Spec: RSA encryption with this keyring's public key and padding scheme; the
        // plaintext data key is the plaintext input.
        let plaintext = data_key.expose_secret();
        let mut ciphertext;
        let encrypted = match wrapping {
            Encrypter::Pkcs1(key) => {
                ciphertext = vec![0u8; key.ciphertext_size()];
                key.encrypt(plaintext, &mut ciphertext).map(|c| c.len())
            }
            Encrypter::Oaep(key, alg) => {
                ciphertext = vec![0u8; key.ciphertext_size()];
                key.encrypt(alg, plaintext, &mut ciphertext, None)
                    .map(|c| c.len())
            }
        };
        let n =
            encrypted.map_err(|_| Error::Unreachable("RSA encryption of the data key failed"))?;
        ciphertext.truncate(n);
        // Spec: provider ID = key namespace, provider info = key name, ciphertext = the RSA
        // ciphertext.
        materials.add_encrypted_data_key(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.name.as_bytes().to_vec(),
            ciphertext,
        });
        Ok(materials)
    }

    fn on_decrypt(
        &self,
        mut materials: DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        // Spec: "OnDecrypt MUST fail if this keyring does not have a specified private key."
        let Some(unwrapping) = &self.unwrapping else {
            return Err(Error::InvalidArgument(
                "this raw RSA keyring has no private key, so it cannot decrypt".into(),
            ));
        };
        // Spec: "If the decryption materials already contain a plaintext data key, the
        // keyring MUST fail and MUST NOT modify the decryption materials."
        if materials.data_key().is_some() {
            return Err(Error::InvalidState("the materials already hold a data key"));
        }
        let key_len = materials.suite().key_len();
        let mut matched = false;
        // Spec: "attempt to decrypt the input encrypted data keys, in list order, until it
        // successfully decrypts one".
        for edk in edks {
            // Spec: only if the provider info equals the key name and the provider ID equals
            // the key namespace.
            if edk.provider_id != self.namespace || edk.provider_info != self.name.as_bytes() {
                continue;
            }
            matched = true;
            // Spec: RSA decryption with this keyring's private key and padding scheme; the
            // EDK ciphertext is the input.
            if let Some(key) = unwrap(unwrapping, &edk.ciphertext, key_len)? {
                // Spec: "If any decryption succeeds, this keyring MUST immediately return
                // the input decryption materials" with the data key set.
                materials.set_data_key(key)?;
                return Ok(materials);
            }
        }
        // Spec: "If no decryption succeeds, the keyring MUST fail and MUST NOT modify the
        // decryption materials." Our keyring interface reports "no EDK was ours" as
        // unchanged materials (not an error) and "an EDK was ours but did not decrypt" as
        // DataKeyUnwrapFailed.
        if matched {
            Err(Error::DataKeyUnwrapFailed)
        } else {
            Ok(materials)
        }
    }
}

/// RSA-decrypts one wrapped data key of `key_len` bytes. `None` means this ciphertext did not
/// decrypt (OAEP), or cannot be a ciphertext for this key at all (wrong length, which is
/// public). With PKCS#1 v1.5 a ciphertext of the right length always yields a key: the real
/// one, or a random one if the padding or the length inside was wrong (see the module docs).
fn unwrap(key: &Decrypter, ciphertext: &[u8], key_len: usize) -> Result<Option<DataKey>> {
    match key {
        Decrypter::Oaep(key, alg) => {
            let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
            match key.decrypt(alg, ciphertext, &mut out, None) {
                Ok(plaintext) if plaintext.len() == key_len => {
                    Ok(Some(DataKey::from_slice(plaintext)))
                }
                _ => Ok(None),
            }
        }
        Decrypter::Pkcs1(key) => {
            if ciphertext.len() != key.key_size_bytes() {
                return Ok(None);
            }
            // Draw the substitute first, so both outcomes take the same path.
            let mut substitute = Zeroizing::new(vec![0u8; key_len]);
            fill_random(&mut substitute)?;
            let mut out = Zeroizing::new(vec![0u8; key.min_output_size().max(key_len)]);
            let (decrypted, len) = match key.decrypt(ciphertext, &mut out) {
                Ok(plaintext) => (Choice::from(1), plaintext.len()),
                Err(_) => (Choice::from(0), 0),
            };
            let good = decrypted & (len as u64).ct_eq(&(key_len as u64));
            // AWS-LC writes the message at the start of `out`.
            let mut chosen = Zeroizing::new(vec![0u8; key_len]);
            for ((c, s), o) in chosen.iter_mut().zip(substitute.iter()).zip(out.iter()) {
                *c = u8::conditional_select(s, o, good);
            }
            Ok(Some(DataKey::from_slice(&chosen)))
        }
    }
}

fn private_key_given_as_public() -> Error {
    Error::InvalidArgument(
        "this is an RSA private key where a public key is expected; give the public key \
         (the raw RSA keyring never derives the public key from the private key)"
            .into(),
    )
}

fn encrypted_pem() -> Error {
    Error::InvalidArgument(
        "encrypted PEM private keys are not supported; decrypt the key first \
         (e.g. openssl pkey -in KEY -out PLAIN_KEY)"
            .into(),
    )
}

/// An error for a key that neither of two encodings accepted; the more telling reason wins.
fn key_rejected(what: &str, first: &KeyRejected, second: &KeyRejected) -> Error {
    let reason = [first, second]
        .into_iter()
        .map(KeyRejected::description_)
        .find(|r| *r != "InvalidEncoding" && *r != "Unspecified" && *r != "UnexpectedError")
        .unwrap_or("InvalidEncoding");
    let why = match reason {
        "TooSmall" => "the key is smaller than 2048 bits, the minimum accepted",
        "TooLarge" => "the key is larger than 8192 bits, the maximum accepted",
        "WrongAlgorithm" => "it is not an RSA key",
        "InconsistentComponents" => "its components are inconsistent",
        _ => "it could not be parsed",
    };
    Error::InvalidArgument(format!("not usable as {what}: {why}"))
}

fn parse_spki(der: &[u8]) -> Result<RsaPublicKey> {
    PublicEncryptingKey::from_der(der)
        .map(RsaPublicKey)
        .map_err(|e| key_rejected("an RSA SubjectPublicKeyInfo", &e, &e))
}

fn parse_pkcs1_public(der: &[u8]) -> Result<RsaPublicKey> {
    PublicEncryptingKey::from_der(&pkcs1_public_to_spki(der))
        .map(RsaPublicKey)
        .map_err(|e| key_rejected("a PKCS#1 RSA public key", &e, &e))
}

fn parse_pkcs8(der: &[u8]) -> Result<RsaPrivateKey> {
    PrivateDecryptingKey::from_pkcs8(der)
        .map(RsaPrivateKey)
        .map_err(|e| key_rejected("a PKCS#8 RSA private key", &e, &e))
}

fn parse_pkcs1_private(der: &[u8]) -> Result<RsaPrivateKey> {
    PrivateDecryptingKey::from_pkcs8(&pkcs1_private_to_pkcs8(der))
        .map(RsaPrivateKey)
        .map_err(|e| key_rejected("a PKCS#1 RSA private key", &e, &e))
}

/// Decodes the first PEM block of `pem` (RFC 7468): its label and its DER bytes.
fn pem_decode(pem: &[u8]) -> Result<(String, Zeroizing<Vec<u8>>)> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let bad = |what: &str| Error::InvalidArgument(format!("not a valid PEM key: {what}"));
    let text = std::str::from_utf8(pem).map_err(|_| bad("the input is not text"))?;
    let start = text
        .find(BEGIN)
        .ok_or_else(|| bad("no \"-----BEGIN\" line"))?;
    let after_begin = &text[start + BEGIN.len()..];
    let label_len = after_begin
        .find(DASHES)
        .ok_or_else(|| bad("unterminated BEGIN line"))?;
    let label = &after_begin[..label_len];
    if label.contains(['\r', '\n']) {
        return Err(bad("unterminated BEGIN line"));
    }
    let after_label = &after_begin[label_len + DASHES.len()..];
    let end_line = format!("-----END {label}-----");
    let body_len = after_label
        .find(&end_line)
        .ok_or_else(|| bad("no matching \"-----END\" line"))?;
    let body = &after_label[..body_len];
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED", "DEK-Info: ...") mean an encrypted key.
    if body.contains(':') {
        return Err(encrypted_pem());
    }
    let mut base64_text = Zeroizing::new(Vec::with_capacity(body.len()));
    base64_text.extend(body.bytes().filter(|b| !b.is_ascii_whitespace()));
    let mut der = Zeroizing::new(Vec::with_capacity(base64_text.len() / 4 * 3 + 3));
    base64::engine::general_purpose::STANDARD
        .decode_vec(&base64_text[..], &mut der)
        .map_err(|_| bad("the body is not valid base64"))?;
    Ok((label.to_owned(), der))
}

/// DER AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
const RSA_ALGORITHM_ID: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The length of a DER tag and length header for `len` content bytes.
fn der_header_len(len: usize) -> usize {
    if len < 0x80 {
        2
    } else {
        2 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8)
    }
}

/// Appends a DER tag and length header.
fn push_der_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = len.leading_zeros() as usize / 8;
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Wraps a PKCS#1 RSAPrivateKey into a PKCS#8 PrivateKeyInfo (RFC 5208): SEQUENCE {
/// INTEGER 0, rsaEncryption, OCTET STRING key }. The result is allocated at its exact size.
fn pkcs1_private_to_pkcs8(pkcs1: &[u8]) -> Zeroizing<Vec<u8>> {
    let octets = der_header_len(pkcs1.len()) + pkcs1.len();
    let inner = 3 + RSA_ALGORITHM_ID.len() + octets;
    let mut out = Zeroizing::new(Vec::with_capacity(der_header_len(inner) + inner));
    push_der_header(&mut out, 0x30, inner);
    out.extend_from_slice(&[0x02, 0x01, 0x00]);
    out.extend_from_slice(&RSA_ALGORITHM_ID);
    push_der_header(&mut out, 0x04, pkcs1.len());
    out.extend_from_slice(pkcs1);
    out
}

/// Wraps a PKCS#1 RSAPublicKey into an X.509 SubjectPublicKeyInfo (RFC 5280): SEQUENCE {
/// rsaEncryption, BIT STRING key }.
fn pkcs1_public_to_spki(pkcs1: &[u8]) -> Vec<u8> {
    let bits = der_header_len(pkcs1.len() + 1) + 1 + pkcs1.len();
    let inner = RSA_ALGORITHM_ID.len() + bits;
    let mut out = Vec::with_capacity(der_header_len(inner) + inner);
    push_der_header(&mut out, 0x30, inner);
    out.extend_from_slice(&RSA_ALGORITHM_ID);
    push_der_header(&mut out, 0x03, pkcs1.len() + 1);
    out.push(0); // no unused bits
    out.extend_from_slice(pkcs1);
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::format::context::EncryptionContext;
    use crate::format::suite::{AlgorithmSuite, CommitmentPolicy};
    use crate::{decrypt, encrypt, DecryptOptions, EncryptOptions};

    const A_PKCS8_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pkcs8.pem");
    const A_PKCS8_DER: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pkcs8.der");
    const A_PKCS1_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pkcs1.pem");
    const A_PKCS1_DER: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pkcs1.der");
    const A_SPKI_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.spki.pem");
    const A_SPKI_DER: &[u8] = include_bytes!("../../tests/data/rsa/key-a.spki.der");
    const A_PUB_PKCS1_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pub-pkcs1.pem");
    const A_PUB_PKCS1_DER: &[u8] = include_bytes!("../../tests/data/rsa/key-a.pub-pkcs1.der");
    const A_ENC_PKCS8_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.encrypted-pkcs8.pem");
    const A_ENC_PKCS1_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-a.encrypted-pkcs1.pem");
    const B_PKCS8_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-b.pkcs8.pem");
    const B_SPKI_PEM: &[u8] = include_bytes!("../../tests/data/rsa/key-b.spki.pem");
    const SMALL_PEM: &[u8] = include_bytes!("../../tests/data/rsa/small-1024.pkcs8.pem");

    fn public_a() -> RsaPublicKey {
        RsaPublicKey::from_pem(A_SPKI_PEM).unwrap()
    }

    fn private_a() -> RsaPrivateKey {
        RsaPrivateKey::from_pem(A_PKCS8_PEM).unwrap()
    }

    fn keyring_a(padding: RsaPadding) -> RawRsaKeyring {
        RawRsaKeyring::new("ns", "key-a", padding, Some(public_a()), Some(private_a())).unwrap()
    }

    fn options(suite: &'static AlgorithmSuite) -> EncryptOptions {
        let mut options = EncryptOptions::default();
        options.encryption_context.insert("purpose", "test");
        options.algorithm_suite = Some(suite);
        options.commitment_policy = if suite.is_committing() {
            CommitmentPolicy::RequireEncryptAllowDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        options
    }

    fn decrypt_options() -> DecryptOptions {
        DecryptOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..DecryptOptions::default()
        }
    }

    fn enc_materials() -> EncryptionMaterials {
        let mut ec = EncryptionContext::new();
        ec.insert("purpose", "test");
        EncryptionMaterials::new(&AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, ec)
    }

    fn dec_materials() -> DecryptionMaterials {
        let mut ec = EncryptionContext::new();
        ec.insert("purpose", "test");
        DecryptionMaterials::new(&AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, ec)
    }

    /// Wraps a fresh data key with `keyring`; returns the key bytes and the EDKs.
    fn wrap(keyring: &RawRsaKeyring) -> (Vec<u8>, Vec<EncryptedDataKey>) {
        let m = keyring.on_encrypt(enc_materials()).unwrap();
        let key = m.data_key().unwrap().expose_secret().to_vec();
        (key, m.encrypted_data_keys().to_vec())
    }

    #[test]
    fn padding_names_parse() {
        for p in RsaPadding::ALL {
            assert_eq!(RsaPadding::parse(p.name()).unwrap(), p);
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!(
            RsaPadding::parse("OAEP-SHA256").unwrap(),
            RsaPadding::OaepSha256
        );
        for bad in ["", "oaep", "oaep-sha224", "pkcs1-sha1", "none"] {
            assert!(matches!(
                RsaPadding::parse(bad),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn every_format_loads_and_they_are_the_same_key() {
        let publics = [
            RsaPublicKey::from_pem(A_SPKI_PEM).unwrap(),
            RsaPublicKey::from_der(A_SPKI_DER).unwrap(),
            RsaPublicKey::from_pem(A_PUB_PKCS1_PEM).unwrap(),
            RsaPublicKey::from_der(A_PUB_PKCS1_DER).unwrap(),
        ];
        let privates = || {
            [
                RsaPrivateKey::from_pem(A_PKCS8_PEM).unwrap(),
                RsaPrivateKey::from_der(A_PKCS8_DER).unwrap(),
                RsaPrivateKey::from_pem(A_PKCS1_PEM).unwrap(),
                RsaPrivateKey::from_der(A_PKCS1_DER).unwrap(),
            ]
        };
        for public in &publics {
            assert_eq!(public.bits(), 2048);
            let enc = RawRsaKeyring::new(
                "ns",
                "key-a",
                RsaPadding::OaepSha256,
                Some(public.clone()),
                None,
            )
            .unwrap();
            let (key, edks) = wrap(&enc);
            for private in privates() {
                assert_eq!(private.bits(), 2048);
                let dec =
                    RawRsaKeyring::new("ns", "key-a", RsaPadding::OaepSha256, None, Some(private))
                        .unwrap();
                let m = dec.on_decrypt(dec_materials(), &edks).unwrap();
                assert_eq!(m.data_key().unwrap().expose_secret(), &key[..]);
            }
        }
    }

    #[test]
    fn pem_with_surrounding_text_and_crlf_loads() {
        let text = String::from_utf8(A_PKCS8_PEM.to_vec()).unwrap();
        let noisy = format!(
            "Bag Attributes\r\n  friendlyName: x\r\n{}",
            text.replace('\n', "\r\n")
        );
        RsaPrivateKey::from_pem(noisy.as_bytes()).unwrap();
    }

    #[test]
    fn bad_keys_are_refused_with_clear_errors() {
        let msg = |r: Result<()>| match r {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("expected InvalidArgument, got {other:?}"),
        };
        let public = |b: &[u8]| RsaPublicKey::from_pem(b).map(drop);
        let public_der = |b: &[u8]| RsaPublicKey::from_der(b).map(drop);
        let private = |b: &[u8]| RsaPrivateKey::from_pem(b).map(drop);
        let private_der = |b: &[u8]| RsaPrivateKey::from_der(b).map(drop);

        assert!(msg(public(A_PKCS8_PEM)).contains("never derives"));
        assert!(msg(public(A_PKCS1_PEM)).contains("never derives"));
        assert!(msg(public_der(A_PKCS8_DER)).contains("never derives"));
        assert!(msg(public_der(A_PKCS1_DER)).contains("never derives"));
        assert!(msg(private(A_SPKI_PEM)).contains("public key"));
        assert!(msg(private(A_ENC_PKCS8_PEM)).contains("encrypted"));
        assert!(msg(private(A_ENC_PKCS1_PEM)).contains("encrypted"));
        assert!(msg(private(SMALL_PEM)).contains("2048"));
        assert!(msg(private(b"hello")).contains("BEGIN"));
        assert!(msg(private(
            b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"
        ))
        .contains("base64"));
        assert!(msg(private(b"-----BEGIN PRIVATE KEY-----\nAAAA\n")).contains("END"));
        assert!(msg(private(
            b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----"
        ))
        .contains("parsed"));
        assert!(msg(private(
            b"-----BEGIN DSA PRIVATE KEY-----\nMAA=\n-----END DSA PRIVATE KEY-----"
        ))
        .contains("unsupported"));
        assert!(msg(public(
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----"
        ))
        .contains("certificate"));
        assert!(msg(private_der(b"\x30\x03\x02\x01\x00")).contains("parsed"));
        assert!(msg(private_der(A_SPKI_DER)).contains("parsed"));
        assert!(msg(public_der(b"")).contains("parsed"));
        assert!(msg(private_der(&[0xff; 3])).contains("parsed"));
    }

    #[test]
    fn keyring_configuration_is_checked() {
        let err = RawRsaKeyring::new("ns", "k", RsaPadding::OaepSha1, None, None).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(m) if m.contains("public key")));
        let err = RawRsaKeyring::new("aws-kms", "k", RsaPadding::Pkcs1, Some(public_a()), None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)));
        let long = "x".repeat(70_000);
        assert!(
            RawRsaKeyring::new("ns", &long, RsaPadding::Pkcs1, Some(public_a()), None).is_err()
        );
        let k = keyring_a(RsaPadding::OaepSha384);
        assert_eq!(
            (k.namespace(), k.name(), k.padding()),
            ("ns", "key-a", RsaPadding::OaepSha384)
        );
        assert!(k.can_encrypt() && k.can_decrypt());
        let debug = format!("{k:?} {:?}", private_a());
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn encrypted_data_key_layout() {
        let k = keyring_a(RsaPadding::OaepSha512);
        let (_, edks) = wrap(&k);
        assert_eq!(edks.len(), 1);
        assert_eq!(edks[0].provider_id, "ns");
        assert_eq!(edks[0].provider_info, b"key-a");
        assert_eq!(edks[0].ciphertext.len(), 256);
    }

    #[test]
    fn on_encrypt_wraps_an_existing_data_key() {
        let k = keyring_a(RsaPadding::Pkcs1);
        let mut m = enc_materials();
        m.set_data_key(DataKey::new(vec![7u8; 32])).unwrap();
        let m = k.on_encrypt(m).unwrap();
        let edks = m.encrypted_data_keys().to_vec();
        let out = k.on_decrypt(dec_materials(), &edks).unwrap();
        assert_eq!(out.data_key().unwrap().expose_secret(), &[7u8; 32]);
    }

    #[test]
    fn round_trip_every_padding() {
        for padding in RsaPadding::ALL {
            for suite in [
                &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
                &AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
            ] {
                let k = Arc::new(keyring_a(padding));
                let message = encrypt(k.clone(), b"hello rsa", options(suite)).unwrap();
                let out = decrypt(k, &message, decrypt_options()).unwrap();
                assert_eq!(out.plaintext, b"hello rsa", "{padding}");
            }
        }
    }

    #[test]
    fn public_only_encrypts_private_only_decrypts() {
        for padding in RsaPadding::ALL {
            let enc = Arc::new(
                RawRsaKeyring::new("ns", "key-a", padding, Some(public_a()), None).unwrap(),
            );
            let dec = Arc::new(
                RawRsaKeyring::new("ns", "key-a", padding, None, Some(private_a())).unwrap(),
            );
            assert!(enc.can_encrypt() && !enc.can_decrypt());
            assert!(!dec.can_encrypt() && dec.can_decrypt());
            let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
            let message = encrypt(enc.clone(), b"data", options(suite)).unwrap();
            assert_eq!(
                decrypt(dec.clone(), &message, decrypt_options())
                    .unwrap()
                    .plaintext,
                b"data"
            );
            // Spec: OnDecrypt MUST fail without a private key.
            assert!(matches!(
                decrypt(enc, &message, decrypt_options()),
                Err(Error::InvalidArgument(_))
            ));
            // Spec: OnEncrypt MUST fail without a public key, which is never derived.
            assert!(matches!(
                encrypt(dec, b"data", options(suite)),
                Err(Error::InvalidArgument(m)) if m.contains("no public key")
            ));
        }
    }

    #[test]
    fn unmatched_keys_leave_materials_unchanged() {
        let (_, edks) = wrap(&keyring_a(RsaPadding::OaepSha256));
        for (ns, name) in [("other", "key-a"), ("ns", "key-b"), ("ns", "key-a ")] {
            let k = RawRsaKeyring::new(ns, name, RsaPadding::OaepSha256, None, Some(private_a()))
                .unwrap();
            let m = k.on_decrypt(dec_materials(), &edks).unwrap();
            assert!(m.data_key().is_none());
        }
        let k = keyring_a(RsaPadding::OaepSha256);
        assert!(k
            .on_decrypt(dec_materials(), &[])
            .unwrap()
            .data_key()
            .is_none());
        // End to end: no keyring recognized the key.
        let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let message = encrypt(Arc::new(k), b"x", options(suite)).unwrap();
        let other = RawRsaKeyring::new(
            "ns",
            "key-b",
            RsaPadding::OaepSha256,
            None,
            Some(private_a()),
        )
        .unwrap();
        assert!(matches!(
            decrypt(Arc::new(other), &message, decrypt_options()),
            Err(Error::NoMatchingDataKey)
        ));
    }

    #[test]
    fn materials_with_a_data_key_are_refused() {
        let k = keyring_a(RsaPadding::OaepSha1);
        let (key, edks) = wrap(&k);
        let mut m = dec_materials();
        m.set_data_key(DataKey::new(key)).unwrap();
        assert!(matches!(
            k.on_decrypt(m, &edks),
            Err(Error::InvalidState(_))
        ));
    }

    #[test]
    fn first_decryptable_edk_wins() {
        let k = keyring_a(RsaPadding::OaepSha256);
        let (key, mut edks) = wrap(&k);
        let mut broken = edks[0].clone();
        broken.ciphertext[10] ^= 1;
        edks.insert(0, broken);
        let m = k.on_decrypt(dec_materials(), &edks).unwrap();
        assert_eq!(m.data_key().unwrap().expose_secret(), &key[..]);
    }

    /// An OAEP keyring reports a matching EDK that does not decrypt.
    #[test]
    fn oaep_wrong_padding_or_key_fails_cleanly() {
        for enc_padding in RsaPadding::ALL {
            let (_, edks) = wrap(&keyring_a(enc_padding));
            for dec_padding in RsaPadding::ALL {
                if dec_padding == enc_padding || dec_padding == RsaPadding::Pkcs1 {
                    continue;
                }
                let k = keyring_a(dec_padding);
                assert!(
                    matches!(
                        k.on_decrypt(dec_materials(), &edks),
                        Err(Error::DataKeyUnwrapFailed)
                    ),
                    "{enc_padding} -> {dec_padding}"
                );
            }
            // Same padding, same name, wrong key.
            if enc_padding != RsaPadding::Pkcs1 {
                let wrong = RawRsaKeyring::new(
                    "ns",
                    "key-a",
                    enc_padding,
                    None,
                    Some(RsaPrivateKey::from_pem(B_PKCS8_PEM).unwrap()),
                )
                .unwrap();
                assert!(matches!(
                    wrong.on_decrypt(dec_materials(), &edks),
                    Err(Error::DataKeyUnwrapFailed)
                ));
            }
        }
        // Truncated, tampered and wrong-length ciphertexts.
        let k = keyring_a(RsaPadding::OaepSha256);
        let (_, edks) = wrap(&k);
        let mut tampered = edks[0].clone();
        tampered.ciphertext[100] ^= 0x80;
        let mut short = edks[0].clone();
        short.ciphertext.pop();
        let mut empty = edks[0].clone();
        empty.ciphertext.clear();
        for edk in [tampered, short, empty] {
            assert!(matches!(
                k.on_decrypt(dec_materials(), &[edk]),
                Err(Error::DataKeyUnwrapFailed)
            ));
        }
        // A data key of another length than the suite's.
        let mut m = EncryptionMaterials::new(
            &AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
            EncryptionContext::new(),
        );
        m = k.on_encrypt(m).unwrap();
        assert!(matches!(
            k.on_decrypt(dec_materials(), m.encrypted_data_keys()),
            Err(Error::DataKeyUnwrapFailed)
        ));
    }

    /// A PKCS#1 v1.5 keyring never reports a padding failure: it substitutes a random key,
    /// and the message then fails authentication like any wrong key would.
    #[test]
    fn pkcs1_failures_are_indistinguishable_from_a_wrong_key() {
        let pkcs1 = keyring_a(RsaPadding::Pkcs1);
        // OAEP ciphertexts, a tampered PKCS#1 ciphertext, another key's ciphertext, and a
        // well-padded key of the wrong length all yield some (random) data key.
        let (_, oaep_edks) = wrap(&keyring_a(RsaPadding::OaepSha1));
        let (key, pkcs1_edks) = wrap(&pkcs1);
        let mut tampered = pkcs1_edks[0].clone();
        tampered.ciphertext[0] ^= 1;
        let (_, b_edks) = wrap(
            &RawRsaKeyring::new(
                "ns",
                "key-a",
                RsaPadding::Pkcs1,
                Some(RsaPublicKey::from_pem(B_SPKI_PEM).unwrap()),
                None,
            )
            .unwrap(),
        );
        let short_key = {
            let m = EncryptionMaterials::new(
                &AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
                EncryptionContext::new(),
            );
            pkcs1.on_encrypt(m).unwrap().encrypted_data_keys().to_vec()
        };
        for edks in [oaep_edks, vec![tampered], b_edks, short_key] {
            let m1 = pkcs1.on_decrypt(dec_materials(), &edks).unwrap();
            let m2 = pkcs1.on_decrypt(dec_materials(), &edks).unwrap();
            let k1 = m1.data_key().unwrap().expose_secret();
            let k2 = m2.data_key().unwrap().expose_secret();
            assert_eq!(k1.len(), 32);
            assert_ne!(k1, &key[..]);
            assert_ne!(k1, k2, "the substitute is fresh each time");
        }
        // The genuine ciphertext still decrypts, every time.
        for _ in 0..3 {
            let m = pkcs1.on_decrypt(dec_materials(), &pkcs1_edks).unwrap();
            assert_eq!(m.data_key().unwrap().expose_secret(), &key[..]);
        }
        // A ciphertext that is not as long as the modulus is publicly malformed: reported.
        let mut short = pkcs1_edks[0].clone();
        short.ciphertext.pop();
        assert!(matches!(
            pkcs1.on_decrypt(dec_materials(), &[short]),
            Err(Error::DataKeyUnwrapFailed)
        ));

        // End to end: a wrong padding and a wrong key give the same error.
        let suite = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let oaep_message = encrypt(
            Arc::new(keyring_a(RsaPadding::OaepSha256)),
            b"x",
            options(suite),
        )
        .unwrap();
        let wrong_key = RawRsaKeyring::new(
            "ns",
            "key-a",
            RsaPadding::Pkcs1,
            None,
            Some(RsaPrivateKey::from_pem(B_PKCS8_PEM).unwrap()),
        )
        .unwrap();
        let pkcs1_message =
            encrypt(Arc::new(keyring_a(RsaPadding::Pkcs1)), b"x", options(suite)).unwrap();
        assert!(matches!(
            decrypt(
                Arc::new(keyring_a(RsaPadding::Pkcs1)),
                &oaep_message,
                decrypt_options()
            ),
            Err(Error::AuthenticationFailed)
        ));
        assert!(matches!(
            decrypt(Arc::new(wrong_key), &pkcs1_message, decrypt_options()),
            Err(Error::AuthenticationFailed)
        ));
    }

    #[test]
    fn der_headers() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000] {
            let mut out = Vec::new();
            push_der_header(&mut out, 0x30, len);
            assert_eq!(out.len(), der_header_len(len), "{len}");
        }
        let mut out = Vec::new();
        push_der_header(&mut out, 0x04, 0x1234);
        assert_eq!(out, [0x04, 0x82, 0x12, 0x34]);
    }
}
