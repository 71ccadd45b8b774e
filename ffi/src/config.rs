//! The client configuration: commitment policy, algorithm suite, frame length, limits and
//! encryption context, shared by the one-shot calls and the sessions.
//!
//! Spec: `client-apis/client.md`, `client-apis/encrypt.md`, `client-apis/decrypt.md`.

use std::ffi::c_char;

use esdk::stream::DecryptOptions;
use esdk::{AlgorithmSuite, CommitmentPolicy, EncryptOptions, EncryptionContext};

use crate::ptr::{self, BoxHandle};
use crate::result::{boundary, esdk_result, Failure};

/// A commitment policy (spec `client-apis/client.md` "Commitment Policy"): one of the
/// `ESDK_COMMITMENT_POLICY_...` values.
pub type esdk_commitment_policy = u32;

/// Encrypt only with non-committing suites; decrypt any message.
pub const ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT: esdk_commitment_policy = 1;
/// Encrypt only with committing suites; decrypt any message.
pub const ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_ALLOW_DECRYPT: esdk_commitment_policy = 2;
/// Encrypt and decrypt only with committing suites. The default.
pub const ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_REQUIRE_DECRYPT: esdk_commitment_policy = 3;

/// An algorithm suite ID as written in the message header (spec
/// `framework/algorithm-suites.md`): one of the `ESDK_ALGORITHM_SUITE_...` values.
pub type esdk_algorithm_suite_id = u16;

/// 0x0014: AES-128-GCM, no key derivation (legacy, non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_128_GCM_IV12_TAG16_NO_KDF: esdk_algorithm_suite_id = 0x0014;
/// 0x0046: AES-192-GCM, no key derivation (legacy, non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_192_GCM_IV12_TAG16_NO_KDF: esdk_algorithm_suite_id = 0x0046;
/// 0x0078: AES-256-GCM, no key derivation (legacy, non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_256_GCM_IV12_TAG16_NO_KDF: esdk_algorithm_suite_id = 0x0078;
/// 0x0114: AES-128-GCM, HKDF-SHA256 (non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_128_GCM_IV12_TAG16_HKDF_SHA256: esdk_algorithm_suite_id = 0x0114;
/// 0x0146: AES-192-GCM, HKDF-SHA256 (non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_192_GCM_IV12_TAG16_HKDF_SHA256: esdk_algorithm_suite_id = 0x0146;
/// 0x0178: AES-256-GCM, HKDF-SHA256 (non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_256_GCM_IV12_TAG16_HKDF_SHA256: esdk_algorithm_suite_id = 0x0178;
/// 0x0214: AES-128-GCM, HKDF-SHA256, ECDSA P-256 signature (non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256:
    esdk_algorithm_suite_id = 0x0214;
/// 0x0346: AES-192-GCM, HKDF-SHA384, ECDSA P-384 signature (non-committing).
pub const ESDK_ALGORITHM_SUITE_AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384:
    esdk_algorithm_suite_id = 0x0346;
/// 0x0378: AES-256-GCM, HKDF-SHA384, ECDSA P-384 signature (non-committing). The default
/// under `ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT`.
pub const ESDK_ALGORITHM_SUITE_AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384:
    esdk_algorithm_suite_id = 0x0378;
/// 0x0478: AES-256-GCM, HKDF-SHA512, key commitment.
pub const ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY: esdk_algorithm_suite_id = 0x0478;
/// 0x0578: AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384 signature. The default.
pub const ESDK_ALGORITHM_SUITE_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384:
    esdk_algorithm_suite_id = 0x0578;

/// The settings of encrypt and decrypt calls: commitment policy, algorithm suite, frame
/// length, maximum number of encrypted data keys, encryption context.
///
/// Made by `esdk_client_config_new` with the defaults, changed by the `..._set_...` calls,
/// freed by `esdk_client_config_free`. Every encrypt/decrypt call and session copies the
/// settings it needs when it starts, so a configuration may be changed or freed afterwards
/// without effect on them. Thread safety: not synchronized: several threads may use one
/// configuration at once only while none of them changes it.
pub struct esdk_client_config {
    _private: [u8; 0],
}

/// What an `esdk_client_config` handle owns.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientConfig {
    commitment_policy: CommitmentPolicy,
    algorithm_suite: Option<&'static AlgorithmSuite>,
    frame_length: Option<u32>,
    max_encrypted_data_keys: Option<usize>,
    encryption_context: EncryptionContext,
    threads: Option<usize>,
}

impl BoxHandle for esdk_client_config {
    type Rust = ClientConfig;
}

impl ClientConfig {
    /// The options of an encryption.
    pub(crate) fn encrypt_options(&self) -> EncryptOptions {
        let defaults = EncryptOptions::default();
        EncryptOptions {
            encryption_context: self.encryption_context.clone(),
            algorithm_suite: self.algorithm_suite,
            frame_length: self.frame_length.unwrap_or(defaults.frame_length),
            commitment_policy: self.commitment_policy,
            max_encrypted_data_keys: self.max_encrypted_data_keys,
            threads: self.threads.unwrap_or(defaults.threads),
            ..defaults
        }
    }

    /// The options of a decryption: the encryption context pairs become required pairs.
    pub(crate) fn decrypt_options(&self) -> DecryptOptions {
        DecryptOptions {
            commitment_policy: self.commitment_policy,
            max_encrypted_data_keys: self.max_encrypted_data_keys,
            required_encryption_context: self.encryption_context.clone(),
            threads: self.threads.unwrap_or(1),
            ..DecryptOptions::default()
        }
    }
}

/// The configuration behind a handle, or `ESDK_RESULT_NULL_PARAMETER`.
pub(crate) fn config_ref<'a>(
    config: *const esdk_client_config,
) -> Result<&'a ClientConfig, Failure> {
    ptr::box_ref(config).ok_or_else(|| Failure::null("config"))
}

fn config_mut<'a>(config: *mut esdk_client_config) -> Result<&'a mut ClientConfig, Failure> {
    ptr::box_mut(config).ok_or_else(|| Failure::null("config"))
}

/// Makes a configuration with the defaults: commitment policy
/// `ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_REQUIRE_DECRYPT`, the policy's default suite
/// (0x0578 for the require policies, 0x0378 for forbid), frame length 4096, no limit on
/// encrypted data keys, an empty encryption context.
///
/// Ownership: on success `*config_out` receives a new configuration that the caller frees
/// with `esdk_client_config_free`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn esdk_client_config_new(config_out: *mut *mut esdk_client_config) -> esdk_result {
    boundary(|| {
        ptr::out(config_out)
            .ok_or_else(|| Failure::null("config_out"))?
            .set(ptr::into_c_box(ClientConfig::default()));
        Ok(())
    })
}

/// Frees a configuration. NULL does nothing.
///
/// Thread safety: once no other call uses it.
#[no_mangle]
pub extern "C" fn esdk_client_config_free(config: *mut esdk_client_config) {
    crate::result::boundary_free(|| ptr::free_box(config));
}

/// Sets the commitment policy (`ESDK_COMMITMENT_POLICY_...`; another value gives
/// `ESDK_RESULT_INVALID_ARGUMENT`). It decides which suites may encrypt and which messages
/// may be decrypted, and the default suite.
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_set_commitment_policy(
    config: *mut esdk_client_config,
    policy: esdk_commitment_policy,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        cfg.commitment_policy = match policy {
            ESDK_COMMITMENT_POLICY_FORBID_ENCRYPT_ALLOW_DECRYPT => {
                CommitmentPolicy::ForbidEncryptAllowDecrypt
            }
            ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_ALLOW_DECRYPT => {
                CommitmentPolicy::RequireEncryptAllowDecrypt
            }
            ESDK_COMMITMENT_POLICY_REQUIRE_ENCRYPT_REQUIRE_DECRYPT => {
                CommitmentPolicy::RequireEncryptRequireDecrypt
            }
            other => {
                return Err(Failure::invalid(format!(
                    "unknown commitment policy {other}"
                )))
            }
        };
        Ok(())
    })
}

/// Sets the algorithm suite to encrypt with (`ESDK_ALGORITHM_SUITE_...`), or 0 for the
/// commitment policy's default. An unknown ID gives `ESDK_RESULT_INVALID_ARGUMENT`; a suite
/// that the commitment policy forbids fails at encrypt time with
/// `ESDK_RESULT_COMMITMENT_POLICY`. Decryption ignores it (the message names its suite).
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_set_algorithm_suite(
    config: *mut esdk_client_config,
    suite_id: esdk_algorithm_suite_id,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        cfg.algorithm_suite =
            match suite_id {
                0 => None,
                id => Some(AlgorithmSuite::from_id(id).ok_or_else(|| {
                    Failure::invalid(format!("unknown algorithm suite {id:#06x}"))
                })?),
            };
        Ok(())
    })
}

/// Sets the frame length of encrypted messages: plaintext bytes per frame, at least 1
/// (0 gives `ESDK_RESULT_INVALID_ARGUMENT`); the default is 4096. A streaming encryptor
/// holds one frame in memory. Decryption ignores it (the message names its frame length).
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_set_frame_length(
    config: *mut esdk_client_config,
    frame_length: u32,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        if frame_length == 0 {
            return Err(Failure::invalid("the frame length must be at least 1"));
        }
        cfg.frame_length = Some(frame_length);
        Ok(())
    })
}

/// Sets the number of threads that seal or open frames, the calling thread included: 1
/// (the default) does all the work on the calling thread; more gather about 2 MiB of
/// frames per thread and seal or open them in parallel, with byte-identical output (memory
/// then grows to one such batch). 0 gives `ESDK_RESULT_INVALID_ARGUMENT`. A decryptor with
/// more than one thread hands out a batch's plaintext only once all of its frames have
/// verified.
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_set_threads(
    config: *mut esdk_client_config,
    threads: u32,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        if threads == 0 {
            return Err(Failure::invalid("the thread count must be at least 1"));
        }
        let threads = usize::try_from(threads)
            .map_err(|_| Failure::invalid("the thread count does not fit this platform"))?;
        cfg.threads = Some(threads);
        Ok(())
    })
}

/// Sets the largest number of encrypted data keys a message may have, or 0 for no limit
/// (the default). Encryption fails if the keyring produces more; decryption fails on a
/// header that lists more, before any key is tried (a protection against messages crafted
/// to make decryption slow). Both fail with `ESDK_RESULT_LIMIT_EXCEEDED`.
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_set_max_encrypted_data_keys(
    config: *mut esdk_client_config,
    max: usize,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        cfg.max_encrypted_data_keys = (max > 0).then_some(max);
        Ok(())
    })
}

/// Adds a pair to the encryption context (a pair with the same key is replaced). Key and
/// value are NUL-terminated UTF-8 strings (otherwise `ESDK_RESULT_INVALID_ARGUMENT`).
///
/// On encrypt, the context is bound to the message and stored in its header (keys starting
/// with `aws-crypto-` are reserved: encryption then fails with
/// `ESDK_RESULT_POLICY_REFUSED`). On decrypt, every pair must be in the message's context
/// with the same value, or decryption fails with `ESDK_RESULT_POLICY_REFUSED` right after
/// the header, before any plaintext; the message may have more pairs.
///
/// Ownership: both strings are copied. Thread safety: not while another thread uses the
/// configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_add_encryption_context(
    config: *mut esdk_client_config,
    key: *const c_char,
    value: *const c_char,
) -> esdk_result {
    boundary(|| {
        let cfg = config_mut(config)?;
        let key = ptr::c_str(key).map_err(|code| Failure::new(code, "key is NULL or not UTF-8"))?;
        let value =
            ptr::c_str(value).map_err(|code| Failure::new(code, "value is NULL or not UTF-8"))?;
        cfg.encryption_context.insert(key, value);
        Ok(())
    })
}

/// Removes every pair of the encryption context.
///
/// Thread safety: not while another thread uses the configuration.
#[no_mangle]
pub extern "C" fn esdk_client_config_clear_encryption_context(
    config: *mut esdk_client_config,
) -> esdk_result {
    boundary(|| {
        config_mut(config)?.encryption_context = EncryptionContext::new();
        Ok(())
    })
}
