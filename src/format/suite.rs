//! The closed set of ESDK algorithm suites and the commitment policy.
//!
//! Spec: `framework/algorithm-suites.md` (suite table, "Supported Algorithm Suites") and
//! `client-apis/client.md` ("Commitment Policy").

use std::fmt;

/// A message format version (the first header byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageFormatVersion {
    /// Version 1: 16-byte message ID, no key commitment.
    V1,
    /// Version 2: 32-byte message ID, key commitment in the header.
    V2,
}

impl MessageFormatVersion {
    /// The version byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            MessageFormatVersion::V1 => 1,
            MessageFormatVersion::V2 => 2,
        }
    }

    /// The length of the message ID in this version.
    pub fn message_id_len(self) -> usize {
        match self {
            MessageFormatVersion::V1 => 16,
            MessageFormatVersion::V2 => 32,
        }
    }
}

/// How the data key becomes the content encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// The data key is used as it is (legacy suites 0x0014, 0x0046, 0x0078).
    Identity,
    /// HKDF with SHA-256.
    HkdfSha256,
    /// HKDF with SHA-384.
    HkdfSha384,
    /// HKDF with SHA-512 (committing suites).
    HkdfSha512,
}

/// The footer signature algorithm of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 over a SHA-256 hash.
    EcdsaP256Sha256,
    /// ECDSA on P-384 over a SHA-384 hash.
    EcdsaP384Sha384,
}

impl SignatureAlgorithm {
    /// The length of the SEC1 compressed public key.
    pub fn public_key_len(self) -> usize {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => 33,
            SignatureAlgorithm::EcdsaP384Sha384 => 49,
        }
    }

    /// The DER signature length the reference encryptors produce (and so do we).
    pub fn signature_len(self) -> usize {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => 71,
            SignatureAlgorithm::EcdsaP384Sha384 => 103,
        }
    }
}

/// One ESDK algorithm suite. All suites are `&'static` values of [`AlgorithmSuite::ALL`].
#[derive(PartialEq, Eq)]
pub struct AlgorithmSuite {
    id: u16,
    name: &'static str,
    version: MessageFormatVersion,
    key_len: usize,
    kdf: Kdf,
    committing: bool,
    signature: Option<SignatureAlgorithm>,
}

const fn suite(
    id: u16,
    name: &'static str,
    version: MessageFormatVersion,
    key_len: usize,
    kdf: Kdf,
    committing: bool,
    signature: Option<SignatureAlgorithm>,
) -> AlgorithmSuite {
    AlgorithmSuite {
        id,
        name,
        version,
        key_len,
        kdf,
        committing,
        signature,
    }
}

use MessageFormatVersion::{V1, V2};
use SignatureAlgorithm::{EcdsaP256Sha256 as P256, EcdsaP384Sha384 as P384};

impl AlgorithmSuite {
    /// AES-128-GCM, data key used directly. Legacy, decrypt-worthy only.
    pub const AES_128_GCM_IV12_TAG16_NO_KDF: AlgorithmSuite = suite(
        0x0014,
        "AES_128_GCM_IV12_TAG16_NO_KDF",
        V1,
        16,
        Kdf::Identity,
        false,
        None,
    );
    /// AES-192-GCM, data key used directly.
    pub const AES_192_GCM_IV12_TAG16_NO_KDF: AlgorithmSuite = suite(
        0x0046,
        "AES_192_GCM_IV12_TAG16_NO_KDF",
        V1,
        24,
        Kdf::Identity,
        false,
        None,
    );
    /// AES-256-GCM, data key used directly.
    pub const AES_256_GCM_IV12_TAG16_NO_KDF: AlgorithmSuite = suite(
        0x0078,
        "AES_256_GCM_IV12_TAG16_NO_KDF",
        V1,
        32,
        Kdf::Identity,
        false,
        None,
    );
    /// AES-128-GCM with HKDF-SHA256.
    pub const AES_128_GCM_IV12_TAG16_HKDF_SHA256: AlgorithmSuite = suite(
        0x0114,
        "AES_128_GCM_IV12_TAG16_HKDF_SHA256",
        V1,
        16,
        Kdf::HkdfSha256,
        false,
        None,
    );
    /// AES-192-GCM with HKDF-SHA256.
    pub const AES_192_GCM_IV12_TAG16_HKDF_SHA256: AlgorithmSuite = suite(
        0x0146,
        "AES_192_GCM_IV12_TAG16_HKDF_SHA256",
        V1,
        24,
        Kdf::HkdfSha256,
        false,
        None,
    );
    /// AES-256-GCM with HKDF-SHA256.
    pub const AES_256_GCM_IV12_TAG16_HKDF_SHA256: AlgorithmSuite = suite(
        0x0178,
        "AES_256_GCM_IV12_TAG16_HKDF_SHA256",
        V1,
        32,
        Kdf::HkdfSha256,
        false,
        None,
    );
    /// AES-128-GCM with HKDF-SHA256 and an ECDSA P-256 signature.
    pub const AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256: AlgorithmSuite = suite(
        0x0214,
        "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256",
        V1,
        16,
        Kdf::HkdfSha256,
        false,
        Some(P256),
    );
    /// AES-192-GCM with HKDF-SHA384 and an ECDSA P-384 signature.
    pub const AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: AlgorithmSuite = suite(
        0x0346,
        "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
        V1,
        24,
        Kdf::HkdfSha384,
        false,
        Some(P384),
    );
    /// AES-256-GCM with HKDF-SHA384 and an ECDSA P-384 signature.
    pub const AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384: AlgorithmSuite = suite(
        0x0378,
        "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
        V1,
        32,
        Kdf::HkdfSha384,
        false,
        Some(P384),
    );
    /// AES-256-GCM with HKDF-SHA512 and key commitment (message format v2).
    pub const AES_256_GCM_HKDF_SHA512_COMMIT_KEY: AlgorithmSuite = suite(
        0x0478,
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
        V2,
        32,
        Kdf::HkdfSha512,
        true,
        None,
    );
    /// AES-256-GCM with HKDF-SHA512, key commitment and an ECDSA P-384 signature (the default).
    pub const AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384: AlgorithmSuite = suite(
        0x0578,
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        V2,
        32,
        Kdf::HkdfSha512,
        true,
        Some(P384),
    );

    /// Every ESDK suite, in ID order.
    pub const ALL: [&'static AlgorithmSuite; 11] = [
        &Self::AES_128_GCM_IV12_TAG16_NO_KDF,
        &Self::AES_192_GCM_IV12_TAG16_NO_KDF,
        &Self::AES_256_GCM_IV12_TAG16_NO_KDF,
        &Self::AES_128_GCM_IV12_TAG16_HKDF_SHA256,
        &Self::AES_192_GCM_IV12_TAG16_HKDF_SHA256,
        &Self::AES_256_GCM_IV12_TAG16_HKDF_SHA256,
        &Self::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
        &Self::AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
        &Self::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
        &Self::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        &Self::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ];

    /// Looks a suite up by its two-byte ID. Only the 11 ESDK suites are known; S3EC and DBE
    /// IDs are not ESDK suites and give `None`.
    pub fn from_id(id: u16) -> Option<&'static AlgorithmSuite> {
        Self::ALL.iter().copied().find(|s| s.id == id)
    }

    /// Looks a suite up by its spec name (`AES_256_GCM_HKDF_SHA512_COMMIT_KEY`) or its hex ID
    /// (`0x0478`, `0478`), case-insensitively.
    pub fn parse(text: &str) -> Option<&'static AlgorithmSuite> {
        let t = text.trim();
        let hex = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        if hex.len() == 4 {
            if let Ok(id) = u16::from_str_radix(hex, 16) {
                return Self::from_id(id);
            }
        }
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.name.eq_ignore_ascii_case(t))
    }

    /// The two-byte suite ID.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The spec name of the suite.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The message format version that carries this suite.
    pub fn message_format_version(&self) -> MessageFormatVersion {
        self.version
    }

    /// Length of the data key, of the derived AES key and of the KDF input (16, 24 or 32).
    pub fn key_len(&self) -> usize {
        self.key_len
    }

    /// The key derivation function.
    pub fn kdf(&self) -> Kdf {
        self.kdf
    }

    /// Whether the suite commits to its key (suites 0x0478 and 0x0578).
    pub fn is_committing(&self) -> bool {
        self.committing
    }

    /// The footer signature algorithm, if the suite signs.
    pub fn signature(&self) -> Option<SignatureAlgorithm> {
        self.signature
    }

    /// Length of the algorithm suite data in a v2 header (the commit key), 0 otherwise.
    pub fn suite_data_len(&self) -> usize {
        if self.committing {
            32
        } else {
            0
        }
    }
}

impl fmt::Debug for AlgorithmSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#06x})", self.name, self.id)
    }
}

impl fmt::Display for AlgorithmSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x} {}", self.id, self.name)
    }
}

/// Which algorithm suites may be used to encrypt and to decrypt.
///
/// Spec: `client-apis/client.md` "Commitment Policy" and `framework/commitment-policy.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentPolicy {
    /// Encrypt only with non-committing suites; decrypt everything.
    ForbidEncryptAllowDecrypt,
    /// Encrypt only with committing suites; decrypt everything.
    RequireEncryptAllowDecrypt,
    /// Encrypt and decrypt only with committing suites. The default.
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    /// All three policies.
    pub const ALL: [CommitmentPolicy; 3] = [
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        CommitmentPolicy::RequireEncryptRequireDecrypt,
    ];

    /// The suite used when the caller names none.
    ///
    /// Require policies: 0x0578. Forbid: 0x0378, the signed HKDF suite that the ESDK
    /// implementations (Python, Java, MPL) use as their default there.
    pub fn default_suite(self) -> &'static AlgorithmSuite {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => {
                &AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
            }
            _ => &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
        }
    }

    /// Whether `suite` may be used to encrypt under this policy.
    pub fn allows_encrypt(self, suite: &AlgorithmSuite) -> bool {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => !suite.is_committing(),
            _ => suite.is_committing(),
        }
    }

    /// Whether a message of `suite` may be decrypted under this policy.
    pub fn allows_decrypt(self, suite: &AlgorithmSuite) -> bool {
        match self {
            CommitmentPolicy::RequireEncryptRequireDecrypt => suite.is_committing(),
            _ => true,
        }
    }

    /// The kebab-case name used by the CLI (`require-encrypt-require-decrypt`).
    pub fn name(self) -> &'static str {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => "forbid-encrypt-allow-decrypt",
            CommitmentPolicy::RequireEncryptAllowDecrypt => "require-encrypt-allow-decrypt",
            CommitmentPolicy::RequireEncryptRequireDecrypt => "require-encrypt-require-decrypt",
        }
    }

    /// Parses the kebab-case or the SCREAMING_SNAKE_CASE spec name.
    pub fn parse(text: &str) -> Option<CommitmentPolicy> {
        let norm = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|p| p.name() == norm)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        for s in AlgorithmSuite::ALL {
            assert_eq!(AlgorithmSuite::from_id(s.id()).unwrap(), s);
            assert_eq!(AlgorithmSuite::parse(s.name()).unwrap(), s);
            let hex = format!("{:#06x}", s.id());
            assert_eq!(AlgorithmSuite::parse(&hex).unwrap(), s);
        }
        assert!(AlgorithmSuite::from_id(0x0070).is_none());
        assert!(AlgorithmSuite::from_id(0x6700).is_none());
        assert!(AlgorithmSuite::from_id(0).is_none());
        assert!(AlgorithmSuite::parse("0x05780").is_none());
    }

    #[test]
    fn policies() {
        let v1 = &AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256;
        let v2 = &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
        let forbid = CommitmentPolicy::ForbidEncryptAllowDecrypt;
        let req_allow = CommitmentPolicy::RequireEncryptAllowDecrypt;
        let req = CommitmentPolicy::RequireEncryptRequireDecrypt;
        assert!(forbid.allows_encrypt(v1) && !forbid.allows_encrypt(v2));
        assert!(!req_allow.allows_encrypt(v1) && req_allow.allows_encrypt(v2));
        assert!(req_allow.allows_decrypt(v1) && req_allow.allows_decrypt(v2));
        assert!(!req.allows_decrypt(v1) && req.allows_decrypt(v2));
        assert_eq!(CommitmentPolicy::default(), req);
        assert_eq!(req.default_suite().id(), 0x0578);
        assert_eq!(forbid.default_suite().id(), 0x0378);
        for p in CommitmentPolicy::ALL {
            assert_eq!(CommitmentPolicy::parse(p.name()), Some(p));
        }
        assert_eq!(
            CommitmentPolicy::parse("REQUIRE_ENCRYPT_ALLOW_DECRYPT"),
            Some(req_allow)
        );
    }
}
