//! The sans-IO encryptor.
//!
//! Spec: `client-apis/encrypt.md`.

use zeroize::Zeroize;

use super::extend_zeroizing;
use super::{at, at_mut, drain, Progress};
use crate::cmm::{CryptoMaterialsManager, EncryptionMaterialsRequest};
use crate::crypto::aead::AeadKey;
use crate::crypto::kdf;
use crate::crypto::sig::Signer;
use crate::error::{Error, LimitError, PolicyError, Result};
use crate::format::body::{BodyAad, BodyAadContent, FrameHeader};
use crate::format::context::{EncryptionContext, RESERVED_PREFIX};
use crate::format::header::{ContentType, HeaderAuth, HeaderBody, IV_LEN, TAG_LEN};
use crate::format::suite::{AlgorithmSuite, CommitmentPolicy};

/// The default frame length. Spec: client-apis/encrypt.md "Frame Length": default 4096.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;

/// Options for encrypting one message.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// The encryption context to bind to the message (stored in the header).
    pub encryption_context: EncryptionContext,
    /// The suite; `None` uses the commitment policy's default (0x0578 by default).
    pub algorithm_suite: Option<&'static AlgorithmSuite>,
    /// Bytes of plaintext per frame, 1 to 2^32 - 1. Default 4096.
    pub frame_length: u32,
    /// The commitment policy. Default: require-encrypt-require-decrypt.
    pub commitment_policy: CommitmentPolicy,
    /// Fail if the materials hold more encrypted data keys than this.
    pub max_encrypted_data_keys: Option<usize>,
    /// If set, the plaintext must not be longer than this; it is also passed to the CMM.
    pub max_plaintext_length: Option<u64>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        EncryptOptions {
            encryption_context: EncryptionContext::new(),
            algorithm_suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            max_plaintext_length: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Writing the header, then accepting plaintext.
    Body,
    /// The final frame (and footer) have been sealed and are being drained.
    Final,
    /// Everything has been written.
    Done,
}

/// Room kept in front of the plaintext for the longest frame header (a final frame's).
const PREFIX: usize = FrameHeader::FINAL_LEN;

/// Encrypts one message. Feed plaintext with [`process`](Self::process), call
/// [`end_input`](Self::end_input) when it is all given, then call `process` with empty
/// input until [`is_done`](Self::is_done).
///
/// Memory is bounded by the frame length: plaintext is gathered in one frame buffer and
/// sealed in place.
pub struct Encryptor {
    suite: &'static AlgorithmSuite,
    message_id: Vec<u8>,
    key: AeadKey,
    frame_len: usize,
    signer: Option<Signer>,
    /// Frame assembly and output staging. While plaintext is gathered, `buf[PREFIX..]` holds
    /// it; once sealed, `buf[out_start..out_end]` is the pending output.
    buf: Vec<u8>,
    out_start: usize,
    out_end: usize,
    seq: u32,
    state: State,
    input_ended: bool,
    plaintext_len: u64,
    max_plaintext_length: Option<u64>,
    failed: Option<Error>,
    header: HeaderBody,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("suite", &self.suite)
            .field("frame_len", &self.frame_len)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Drop for Encryptor {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl Encryptor {
    /// Gets materials from `cmm` and writes the header into the output queue.
    pub fn new(cmm: &dyn CryptoMaterialsManager, options: EncryptOptions) -> Result<Encryptor> {
        // Spec: encrypt.md "Frame Length": MUST be greater than 0 (and fits u32 by type).
        if options.frame_length == 0 {
            return Err(Error::InvalidArgument(
                "the frame length must be at least 1 (non-framed messages are never written)"
                    .into(),
            ));
        }
        // Spec: encrypt.md "Encryption Context": MUST fail if a key starts with
        // "aws-crypto-".
        if let Some((k, _)) = options
            .encryption_context
            .iter()
            .find(|(k, _)| k.starts_with(RESERVED_PREFIX))
        {
            return Err(PolicyError::ReservedContextKey(k.to_owned()).into());
        }
        let policy = options.commitment_policy;
        if let Some(suite) = options.algorithm_suite {
            if !policy.allows_encrypt(suite) {
                return Err(PolicyError::CommitmentPolicy {
                    suite: suite.id(),
                    operation: "encrypt",
                }
                .into());
            }
        }
        let materials = cmm.get_encryption_materials(EncryptionMaterialsRequest {
            encryption_context: options.encryption_context,
            commitment_policy: policy,
            algorithm_suite: options.algorithm_suite,
            max_plaintext_length: options.max_plaintext_length,
            required_encryption_context_keys: Default::default(),
        })?;
        let suite = materials.suite();
        // Spec: encrypt.md: the materials' suite MUST be allowed by the policy.
        if !policy.allows_encrypt(suite) {
            return Err(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                operation: "encrypt",
            }
            .into());
        }
        if let Some(requested) = options.algorithm_suite {
            if requested.id() != suite.id() {
                return Err(Error::Keyring(
                    "the materials manager chose a different suite than requested".into(),
                ));
            }
        }
        // Spec: encrypt.md: MUST fail if the EDK count exceeds the configured maximum.
        let edk_count = materials.encrypted_data_keys().len();
        if let Some(max) = options.max_encrypted_data_keys {
            if edk_count > max {
                return Err(LimitError::TooManyEncryptedDataKeys {
                    count: edk_count,
                    max,
                }
                .into());
            }
        }
        if suite.signature().is_some() != materials.signing_key.is_some() {
            return Err(Error::Keyring(
                "signing key present or absent against the suite".into(),
            ));
        }
        let (full_context, required_keys, data_key, edks, signing_key) = materials.into_parts();
        let data_key = data_key.ok_or(Error::Keyring("no data key in the materials".into()))?;

        let version = suite.message_format_version();
        let mut message_id = vec![0u8; version.message_id_len()];
        crate::crypto::fill_random(&mut message_id)?;
        let keys = kdf::derive(suite, &data_key, &message_id)?;
        drop(data_key);

        // Spec: encrypt.md "Construct the header": the stored context leaves out the
        // required-only keys; the header auth AAD appends their serialization.
        let mut stored_context = full_context.clone();
        for k in &required_keys {
            stored_context.remove(k);
        }
        let required_context = full_context.restricted_to(&required_keys);
        let header = HeaderBody {
            suite,
            message_id: message_id.clone(),
            encryption_context: stored_context,
            encrypted_data_keys: edks,
            content_type: ContentType::Framed,
            frame_length: options.frame_length,
            suite_data: keys
                .commit_key
                .as_ref()
                .map(|c| c.0.to_vec())
                .unwrap_or_default(),
        };
        let mut bytes = header.serialize()?;
        let mut aad = bytes.clone();
        aad.extend_from_slice(&required_context.serialize()?);
        let iv = [0u8; IV_LEN];
        let tag = keys.content_key.seal_in_place(&iv, &aad, &mut [])?;
        HeaderAuth { iv, tag }.serialize(version, &mut bytes);

        let mut signer = signing_key.map(Signer::new);
        if let Some(s) = signer.as_mut() {
            s.update(&bytes);
        }
        let frame_len = usize::try_from(options.frame_length)
            .map_err(|_| Error::InvalidArgument("frame length does not fit memory".into()))?;
        let out_end = bytes.len();
        Ok(Encryptor {
            suite,
            message_id,
            key: keys.content_key,
            frame_len,
            signer,
            buf: bytes,
            out_start: 0,
            out_end,
            seq: 1,
            state: State::Body,
            input_ended: false,
            plaintext_len: 0,
            max_plaintext_length: options.max_plaintext_length,
            failed: None,
            header,
        })
    }

    /// The header of the message being written.
    pub fn header(&self) -> &HeaderBody {
        &self.header
    }

    /// Encrypts from `input` into `output`. Consumes input only as fast as output drains,
    /// so memory stays bounded by the frame length.
    pub fn process(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress> {
        if self.input_ended && !input.is_empty() {
            // Refused before anything is written, so no output is lost.
            return Err(Error::InvalidState("plaintext given after end_input"));
        }
        let mut p = Progress::default();
        loop {
            let n = drain(
                self.pending(),
                output.get_mut(p.produced..).unwrap_or_default(),
            );
            if n > 0 {
                self.consume(n);
                p.produced = p.produced.saturating_add(n);
            }
            if !self.pending().is_empty() {
                return Ok(p);
            }
            let used = self.push(input.get(p.consumed..).unwrap_or_default())?;
            p.consumed = p.consumed.saturating_add(used);
            if used == 0 && self.pending().is_empty() {
                return Ok(p);
            }
        }
    }

    /// Declares that all plaintext has been given. The final frame (and the footer of a
    /// signed message) is then written by the following `process` calls.
    pub fn end_input(&mut self) {
        self.input_ended = true;
    }

    /// Whether the whole message has been written out.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Output ready to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.buf.get(self.out_start..self.out_end).unwrap_or(&[])
    }

    /// Marks `n` pending bytes as written.
    pub(crate) fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.out_start = self.out_start.saturating_add(n).min(self.out_end);
        if self.out_start == self.out_end {
            self.out_start = 0;
            self.out_end = 0;
            match self.state {
                State::Body => {
                    self.buf.clear();
                    self.buf.resize(PREFIX, 0);
                }
                State::Final => {
                    self.buf.zeroize();
                    self.state = State::Done;
                }
                State::Done => {}
            }
        }
    }

    /// Takes plaintext while no output is pending; seals frames as they fill. Returns the
    /// number of input bytes used.
    pub(crate) fn push(&mut self, input: &[u8]) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.input_ended && !input.is_empty() {
            return Err(Error::InvalidState("plaintext given after end_input"));
        }
        if !self.pending().is_empty() || self.state != State::Body {
            return Ok(0);
        }
        if self.input_ended {
            let r = self.seal_final();
            return self.fail_on_err(r).map(|_| 0);
        }
        let gathered = self.buf.len().saturating_sub(PREFIX);
        if gathered == self.frame_len {
            if input.is_empty() {
                return Ok(0);
            }
            // More plaintext follows, so the full frame is a regular frame.
            let r = self.seal_regular();
            return self.fail_on_err(r).map(|_| 0);
        }
        let take = input.len().min(self.frame_len.saturating_sub(gathered));
        self.plaintext_len = self.plaintext_len.saturating_add(take as u64);
        if let Some(max) = self.max_plaintext_length {
            if self.plaintext_len > max {
                let e = Error::Limit(LimitError::PlaintextTooLong);
                return self.fail_on_err(Err(e)).map(|_| 0);
            }
        }
        extend_zeroizing(
            &mut self.buf,
            input.get(..take).unwrap_or_default(),
            self.frame_len.saturating_add(PREFIX + TAG_LEN),
        );
        Ok(take)
    }

    fn fail_on_err(&mut self, r: Result<()>) -> Result<()> {
        if let Err(e) = &r {
            self.buf.zeroize();
            self.out_start = 0;
            self.out_end = 0;
            self.failed = Some(e.clone());
        }
        r
    }

    /// Spec: message-body.md "Regular Frame".
    fn seal_regular(&mut self) -> Result<()> {
        let seq = self.seq;
        // Sequence numbers of regular frames stop below the final-frame marker, and the
        // final frame needs one more.
        if seq >= u32::MAX - 1 {
            return Err(LimitError::TooManyFrames.into());
        }
        let iv = FrameHeader::iv_for(seq);
        let start = PREFIX - FrameHeader::REGULAR_LEN;
        FrameHeader {
            is_final: false,
            sequence_number: seq,
            iv,
            content_length: u32::try_from(self.frame_len)
                .map_err(|_| Error::Unreachable("frame longer than u32"))?,
        }
        .write(at_mut(&mut self.buf, start..PREFIX)?)?;
        let aad = BodyAad::new(
            &self.message_id,
            BodyAadContent::Frame,
            seq,
            self.frame_len as u64,
        );
        let tag = self
            .key
            .seal_in_place(&iv, aad.as_bytes(), at_mut(&mut self.buf, PREFIX..)?)?;
        extend_zeroizing(&mut self.buf, &tag, 0);
        if let Some(s) = self.signer.as_mut() {
            s.update(at(&self.buf, start..)?);
        }
        self.seq = seq.checked_add(1).ok_or(LimitError::TooManyFrames)?;
        self.out_start = start;
        self.out_end = self.buf.len();
        Ok(())
    }

    /// Spec: message-body.md "Final Frame"; message-footer.md.
    fn seal_final(&mut self) -> Result<()> {
        let seq = self.seq;
        let content_len = self.buf.len().saturating_sub(PREFIX);
        let iv = FrameHeader::iv_for(seq);
        FrameHeader {
            is_final: true,
            sequence_number: seq,
            iv,
            content_length: u32::try_from(content_len)
                .map_err(|_| Error::Unreachable("frame longer than u32"))?,
        }
        .write(at_mut(&mut self.buf, ..PREFIX)?)?;
        let aad = BodyAad::new(
            &self.message_id,
            BodyAadContent::FinalFrame,
            seq,
            content_len as u64,
        );
        let tag = self
            .key
            .seal_in_place(&iv, aad.as_bytes(), at_mut(&mut self.buf, PREFIX..)?)?;
        extend_zeroizing(&mut self.buf, &tag, 0);
        if let Some(mut s) = self.signer.take() {
            s.update(&self.buf);
            let sig = s.sign()?;
            crate::format::put_u16_prefixed(&mut self.buf, &sig, "the signature")?;
        }
        self.state = State::Final;
        self.out_start = 0;
        self.out_end = self.buf.len();
        Ok(())
    }
}
