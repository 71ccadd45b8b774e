//! The sans-IO decryptor.
//!
//! Spec: `client-apis/decrypt.md`.
//!
//! Release rules: a frame's plaintext is handed out only after its tag verifies. The final
//! frame (and a non-framed body) is held back until the message is known to be complete and
//! good: the signature verified (signed suites) and the end of input declared with no byte
//! after the message. A failure zeroes everything held and leaves the decryptor failed.

use std::sync::Arc;

use zeroize::Zeroize;

use super::{add, at, at_mut, drain, extend_zeroizing, Progress};
use crate::cmm::{CryptoMaterialsManager, DecryptMaterialsRequest};
use crate::crypto::aead::AeadKey;
use crate::crypto::kdf;
use crate::crypto::sig::Verifier;
use crate::error::{Error, FormatError, LimitError, PolicyError, Result};
use crate::format::body::{
    BodyAad, BodyAadContent, FrameHeader, NonFramedHeader, MAX_NON_FRAMED_LENGTH,
};
use crate::format::context::EncryptionContext;
use crate::format::header::{ContentType, HeaderAuth, HeaderBody, HeaderScanner, TAG_LEN};
use crate::format::suite::CommitmentPolicy;
use crate::format::ParseError;

/// Default cap on the header length: 4 MiB (thousands of data keys).
pub const DEFAULT_MAX_HEADER_LENGTH: usize = 4 << 20;

/// Default cap on one frame (or a non-framed body): 2^32 - 1 bytes, the format's own limit
/// for frames, so every framed message any ESDK writes is accepted.
pub const DEFAULT_MAX_FRAME_LENGTH: u64 = u32::MAX as u64;

/// Options for decrypting one message.
#[derive(Debug, Clone)]
pub struct DecryptOptions {
    /// The commitment policy. Default: require-encrypt-require-decrypt, which refuses every
    /// v1 (non-committing) message.
    pub commitment_policy: CommitmentPolicy,
    /// Fail as soon as the header's data key count exceeds this.
    pub max_encrypted_data_keys: Option<usize>,
    /// Refuse signed messages right after the header ("streaming-unsigned-only"): every
    /// frame can then be released as soon as it verifies.
    pub unsigned_only: bool,
    /// Pairs that must be stored in the message's encryption context, checked right after
    /// the header is read.
    pub required_encryption_context: EncryptionContext,
    /// The reproduced encryption context handed to the materials manager (spec
    /// `client-apis/decrypt.md` "Encryption Context"): stored keys must match; keys not
    /// stored are authenticated as required-only keys.
    pub reproduced_encryption_context: Option<EncryptionContext>,
    /// Refuse headers longer than this.
    pub max_header_length: usize,
    /// Refuse frames (and non-framed bodies) longer than this; memory use is bounded by it.
    pub max_frame_length: u64,
    /// Threads that open frames (the calling thread counts as one). Default 1. With more,
    /// regular frames are gathered in batches of about
    /// [`BATCH_BYTES_PER_THREAD`](super::BATCH_BYTES_PER_THREAD) per thread (at least one
    /// frame each) and opened in parallel; a batch's plaintext is handed out, in order, once
    /// every frame of the batch has verified. Memory then grows to one batch. Values below
    /// 1 are taken as 1, above [`MAX_THREADS`](super::MAX_THREADS) as that.
    pub threads: usize,
}

impl Default for DecryptOptions {
    fn default() -> Self {
        DecryptOptions {
            commitment_policy: CommitmentPolicy::default(),
            max_encrypted_data_keys: None,
            unsigned_only: false,
            required_encryption_context: EncryptionContext::new(),
            reproduced_encryption_context: None,
            max_header_length: DEFAULT_MAX_HEADER_LENGTH,
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Gathering the header body.
    Header,
    /// Gathering the header authentication.
    HeaderAuth,
    /// Gathering a frame: its header first, then its content and tag.
    Frame,
    /// Gathering the non-framed body.
    NonFramed,
    /// Gathering the footer.
    Footer,
    /// The message is complete; the last plaintext waits for the end of input.
    Complete,
    /// Everything has been handed out.
    Done,
}

/// A regular frame gathered into a batch, not opened yet.
#[derive(Debug, Clone, Copy)]
struct BatchFrame {
    /// Where the frame starts in `buf`.
    start: usize,
    sequence_number: u32,
    iv: [u8; crate::format::header::IV_LEN],
}

/// The bytes that begin a final frame.
const FINAL_MARKER: [u8; 4] = crate::format::body::FINAL_FRAME_MARKER.to_be_bytes();

/// What the decryptor knows once the header has been authenticated.
struct Keys {
    content_key: AeadKey,
    verifier: Option<Verifier>,
}

/// Decrypts one message. Feed ciphertext with [`process`](Self::process); when the input
/// is exhausted call [`end_input`](Self::end_input) and `process` again with empty input
/// until [`is_done`](Self::is_done). Memory is bounded by the header and frame length.
pub struct Decryptor {
    cmm: Arc<dyn CryptoMaterialsManager>,
    options: DecryptOptions,
    state: State,
    /// The structure being gathered; after a frame opens, its plaintext.
    buf: Vec<u8>,
    /// Bytes `buf` must hold before the next step.
    need: usize,
    header: Option<HeaderBody>,
    scanner: HeaderScanner,
    header_len: usize,
    authenticated: bool,
    /// The whole authenticated context: stored pairs and required-only pairs.
    full_context: Option<EncryptionContext>,
    keys: Option<Keys>,
    frame: Option<FrameHeader>,
    expected_seq: u32,
    /// Batching of regular frames (`batch_frames` > 1 only with several threads): where
    /// the frame being gathered starts in `buf`, the frames gathered before it, and how
    /// many of them have been handed to `out_start..out_end` so far.
    batch_frames: usize,
    frame_base: usize,
    batch: Vec<BatchFrame>,
    released: usize,
    /// A final-frame marker read behind a batch: it is gathered again once the batch has
    /// been handed out.
    carry_final: bool,
    out_start: usize,
    out_end: usize,
    /// Plaintext in `buf[out_start..out_end]` withheld until the message is complete.
    held: bool,
    input_ended: bool,
    signature_verified: bool,
    failed: Option<Error>,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("state", &self.state)
            .field("signature_verified", &self.signature_verified)
            .finish_non_exhaustive()
    }
}

impl Drop for Decryptor {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

impl Decryptor {
    /// A decryptor that gets its materials from `cmm`.
    pub fn new(cmm: Arc<dyn CryptoMaterialsManager>, options: DecryptOptions) -> Decryptor {
        Decryptor {
            cmm,
            options,
            state: State::Header,
            buf: Vec::new(),
            need: 1,
            header: None,
            scanner: HeaderScanner::new(),
            header_len: 0,
            authenticated: false,
            full_context: None,
            keys: None,
            frame: None,
            expected_seq: 1,
            batch_frames: 1,
            frame_base: 0,
            batch: Vec::new(),
            released: 0,
            carry_final: false,
            out_start: 0,
            out_end: 0,
            held: false,
            input_ended: false,
            signature_verified: false,
            failed: None,
        }
    }

    /// The header, once it has been authenticated.
    pub fn header(&self) -> Option<&HeaderBody> {
        if self.authenticated {
            self.header.as_ref()
        } else {
            None
        }
    }

    /// The encryption context the message was authenticated with, once the header has
    /// verified: the pairs stored in the header plus any required-only pairs the caller
    /// reproduced (which are not stored).
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.full_context.as_ref()
    }

    /// Whether the message is signed and its signature has verified. Until then, plaintext
    /// already handed out of a signed message must be treated as unauthenticated by its
    /// signer (each frame's tag has verified, the message as a whole has not).
    pub fn signature_verified(&self) -> bool {
        self.signature_verified
    }

    /// Whether the whole message has been verified and all plaintext handed out.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Declares that no more ciphertext will come. A message that is not complete then fails
    /// with [`FormatError::Truncated`]; a complete one releases its last plaintext.
    pub fn end_input(&mut self) {
        self.input_ended = true;
    }

    /// Decrypts from `input` into `output`. Consumes input only while no plaintext is
    /// waiting, so memory stays bounded. On failure, the output written by this call is
    /// zeroed and every later call returns the same error.
    pub fn process(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress> {
        let mut p = Progress::default();
        let r = self.process_inner(input, output, &mut p);
        if let Err(e) = r {
            match output.get_mut(..p.produced) {
                Some(written) => written.zeroize(),
                None => output.zeroize(),
            }
            return Err(e);
        }
        Ok(p)
    }

    fn process_inner(&mut self, input: &[u8], output: &mut [u8], p: &mut Progress) -> Result<()> {
        loop {
            let n = drain(self.pending(), at_mut(output, p.produced..)?);
            if n > 0 {
                self.consume(n);
                p.produced = add(p.produced, n)?;
            }
            if !self.pending().is_empty() {
                return Ok(());
            }
            let used = self.push(at(input, p.consumed..)?)?;
            p.consumed = add(p.consumed, used)?;
            if used == 0 && self.pending().is_empty() {
                return Ok(());
            }
        }
    }

    /// Verified plaintext ready to be handed out.
    pub(crate) fn pending(&self) -> &[u8] {
        if self.held || self.failed.is_some() {
            return &[];
        }
        self.buf.get(self.out_start..self.out_end).unwrap_or(&[])
    }

    /// Marks `n` pending bytes as handed out.
    pub(crate) fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.out_start = self.out_start.saturating_add(n).min(self.out_end);
        if self.out_start == self.out_end {
            if self.release_next() {
                return;
            }
            self.out_start = 0;
            self.out_end = 0;
            self.buf.clear();
            if self.state == State::Complete {
                self.buf.zeroize();
                self.state = State::Done;
            }
        }
    }

    /// Consumes input while no plaintext is waiting. Returns the bytes used.
    pub(crate) fn push(&mut self, input: &[u8]) -> Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.step(input);
        if let Err(e) = &r {
            self.buf.zeroize();
            self.batch.clear();
            self.out_start = 0;
            self.out_end = 0;
            self.keys = None;
            self.failed = Some(e.clone());
        }
        r
    }

    fn step(&mut self, input: &[u8]) -> Result<usize> {
        if self.out_end > self.out_start && !self.held {
            return Ok(0);
        }
        if self.carry_final {
            // The batch before the final frame has been handed out: gather that frame.
            self.carry_final = false;
            self.buf.clear();
            self.buf.extend_from_slice(&FINAL_MARKER);
            self.frame_base = 0;
            self.advance_frame()?;
        }
        match self.state {
            State::Done => {
                if input.is_empty() {
                    Ok(0)
                } else {
                    Err(FormatError::TrailingBytes.into())
                }
            }
            State::Complete => {
                if !input.is_empty() {
                    return Err(FormatError::TrailingBytes.into());
                }
                if self.input_ended {
                    // The message is whole and nothing follows it: release the rest.
                    self.held = false;
                    if self.out_start == self.out_end {
                        self.buf.zeroize();
                        self.state = State::Done;
                    }
                }
                Ok(0)
            }
            State::Header => self.gather_header(input),
            _ => {
                if input.is_empty() {
                    if self.input_ended {
                        return Err(FormatError::Truncated.into());
                    }
                    return Ok(0);
                }
                let have = self.buf.len();
                let take = self.need.saturating_sub(have).min(input.len());
                let cap = self.need.max(self.batch_capacity());
                extend_zeroizing(&mut self.buf, at(input, ..take)?, cap);
                if self.buf.len() == self.need {
                    self.advance()?;
                }
                Ok(take)
            }
        }
    }

    /// The header's length is not known in advance: a resumable scan of its length
    /// fields says how many bytes to gather next, so exactly the header is consumed and
    /// the work stays linear in its length however the input is split.
    fn gather_header(&mut self, input: &[u8]) -> Result<usize> {
        let max = self.options.max_header_length;
        let max_edks = self.options.max_encrypted_data_keys;
        let mut used = 0;
        loop {
            let target = match self.scanner.scan(&self.buf, max_edks, max) {
                Ok(len) => {
                    let (header, parsed) = match HeaderBody::parse(&self.buf, max_edks) {
                        Ok(h) => h,
                        Err(ParseError::Invalid(e)) => return Err(e),
                        Err(ParseError::Incomplete { .. }) => {
                            return Err(Error::Unreachable("header scan and parse disagree"))
                        }
                    };
                    if parsed != len {
                        return Err(Error::Unreachable("header scan and parse disagree"));
                    }
                    self.header_len = len;
                    self.check_header(&header)?;
                    self.need = add(len, HeaderAuth::len(header.version()))?;
                    self.header = Some(header);
                    self.state = State::HeaderAuth;
                    return Ok(used);
                }
                Err(ParseError::Incomplete { needed }) => needed,
                Err(ParseError::Invalid(e)) => return Err(e),
            };
            let rest = at(input, used..)?;
            if rest.is_empty() {
                if self.input_ended && used == 0 {
                    return Err(FormatError::Truncated.into());
                }
                return Ok(used);
            }
            let take = target.saturating_sub(self.buf.len()).min(rest.len());
            extend_zeroizing(&mut self.buf, at(rest, ..take)?, 0);
            used = add(used, take)?;
        }
    }

    /// Checks made as soon as the header is parsed, before any key is sought.
    fn check_header(&self, h: &HeaderBody) -> Result<()> {
        // Spec: decrypt.md: an option MUST make decrypt fail right after the header when
        // the suite is signed.
        if self.options.unsigned_only && h.suite.signature().is_some() {
            return Err(PolicyError::SignedMessageRefused.into());
        }
        // Spec: decrypt.md: the commitment policy is checked on the parsed suite.
        if !self.options.commitment_policy.allows_decrypt(h.suite) {
            return Err(PolicyError::CommitmentPolicy {
                suite: h.suite.id(),
                operation: "decrypt",
            }
            .into());
        }
        Ok(())
    }

    /// Checks of the caller's requirements, made once the header is authenticated (spec
    /// decrypt.md: nothing parsed from the header is released before it verifies), and
    /// before any frame is gathered.
    fn check_authenticated_header(&self, h: &HeaderBody) -> Result<()> {
        for (k, v) in self.options.required_encryption_context.iter() {
            match h.encryption_context.get(k) {
                None => return Err(PolicyError::MissingContextPair(k.to_owned()).into()),
                Some(stored) if stored != v => {
                    return Err(PolicyError::ContextValueMismatch(k.to_owned()).into())
                }
                Some(_) => {}
            }
        }
        let max = self.options.max_frame_length;
        if u64::from(h.frame_length) > max {
            return Err(LimitError::FrameTooLong {
                length: u64::from(h.frame_length),
                max,
            }
            .into());
        }
        Ok(())
    }

    /// `buf` holds exactly `need` bytes: act on them.
    fn advance(&mut self) -> Result<()> {
        match self.state {
            State::HeaderAuth => self.authenticate_header(),
            State::Frame => self.advance_frame(),
            State::NonFramed => self.advance_non_framed(),
            State::Footer => self.advance_footer(),
            _ => Err(Error::Unreachable(
                "advance in a state without a fixed need",
            )),
        }
    }

    /// Spec: decrypt.md steps "Get the decryption materials" through "Verify the header".
    fn authenticate_header(&mut self) -> Result<()> {
        let header = self
            .header
            .as_ref()
            .ok_or(Error::Unreachable("no header"))?;
        let auth = match HeaderAuth::parse(at(&self.buf, self.header_len..)?, header.version()) {
            Ok(a) => a,
            Err(_) => return Err(Error::Unreachable("header auth shorter than its need")),
        };
        let mut materials = self.cmm.decrypt_materials(DecryptMaterialsRequest {
            algorithm_suite: header.suite,
            commitment_policy: self.options.commitment_policy,
            encrypted_data_keys: header.encrypted_data_keys.clone(),
            encryption_context: header.encryption_context.clone(),
            reproduced_encryption_context: self.options.reproduced_encryption_context.clone(),
        })?;
        // Spec: decrypt.md: the policy is checked again on the materials' suite, which must
        // be the message's.
        if materials.suite().id() != header.suite.id() {
            return Err(Error::Keyring(
                "the materials manager returned materials for another suite".into(),
            ));
        }
        let data_key = materials.take_data_key().ok_or(Error::NoMatchingDataKey)?;
        let keys = kdf::derive(header.suite, &data_key, &header.message_id)?;
        drop(data_key);
        // Spec: decrypt.md: for committing suites the derived commit key MUST equal the
        // header's suite data, checked before the header tag and any frame.
        if let Some(ck) = &keys.commit_key {
            kdf::verify_commitment(ck, &header.suite_data)?;
        }
        // Spec: client-apis/decrypt.md "Verify the header" and message-header.md "Header
        // Authentication": AAD = header body || serialized required-only context pairs;
        // empty plaintext; v1 uses the stored IV.
        let required = materials
            .encryption_context()
            .restricted_to(materials.required_encryption_context_keys());
        let mut aad = at(&self.buf, ..self.header_len)?.to_vec();
        aad.extend_from_slice(&required.serialize()?);
        let mut tag = auth.tag;
        keys.content_key.open_in_place(&auth.iv, &aad, &mut tag)?;
        self.check_authenticated_header(header)?;

        let verifier = match (header.suite.signature(), materials.verification_key.take()) {
            (Some(_), Some(vk)) => {
                let mut v = Verifier::new(vk);
                v.update(&self.buf);
                Some(v)
            }
            (None, None) => None,
            _ => return Err(PolicyError::PublicKeyMismatch.into()),
        };
        self.keys = Some(Keys {
            content_key: keys.content_key,
            verifier,
        });
        self.authenticated = true;
        self.full_context = Some(materials.encryption_context().clone());
        self.buf.clear();
        match header.content_type {
            ContentType::Framed => {
                self.state = State::Frame;
                self.need = 4;
                let frame_len = usize::try_from(header.frame_length)
                    .map_err(|_| Error::Unreachable("u32 does not fit usize"))?;
                self.batch_frames = super::encryptor::batch_frames(self.options.threads, frame_len);
                if self.batch_frames > 1 {
                    self.batch = Vec::with_capacity(self.batch_frames);
                }
            }
            ContentType::NonFramed => {
                self.state = State::NonFramed;
                self.need = NonFramedHeader::LEN;
            }
        }
        Ok(())
    }

    fn keys(&mut self) -> Result<&mut Keys> {
        self.keys.as_mut().ok_or(Error::Unreachable("no keys"))
    }

    fn message_id(&self) -> Result<&[u8]> {
        self.header
            .as_ref()
            .map(|h| h.message_id.as_slice())
            .ok_or(Error::Unreachable("no header"))
    }

    /// Spec: message-body.md "Framed Data".
    fn advance_frame(&mut self) -> Result<()> {
        let frame_length = self
            .header
            .as_ref()
            .ok_or(Error::Unreachable("no header"))?
            .frame_length;
        let base = self.frame_base;
        let frame = match &self.frame {
            Some(f) => f.clone(),
            None => {
                if !self.batch.is_empty() && at(&self.buf, base..)? == FINAL_MARKER {
                    // The final frame follows a batch: hand the batch out first, and keep
                    // the final frame's plaintext apart from it (it is held back).
                    self.buf.truncate(base);
                    self.carry_final = true;
                    return self.open_batch();
                }
                match FrameHeader::parse(at(&self.buf, base..)?, frame_length) {
                    Ok((f, len)) => {
                        // Spec: sequence numbers start at 1 and go up by one; the final
                        // frame's is one more than the last regular frame's.
                        if f.sequence_number != self.expected_seq {
                            return Err(FormatError::SequenceNumberMismatch {
                                expected: self.expected_seq,
                                found: f.sequence_number,
                            }
                            .into());
                        }
                        let content = usize::try_from(f.content_length)
                            .map_err(|_| Error::Unreachable("u32 does not fit usize"))?;
                        // At most 2^32 - 1 + 56 on a 64-bit target; on a 32-bit one the
                        // sum can overflow, and such a frame could not be held anyway.
                        self.need = add(add(base, len)?, TAG_LEN)?.checked_add(content).ok_or(
                            LimitError::FrameTooLong {
                                length: u64::from(f.content_length),
                                max: self.options.max_frame_length,
                            },
                        )?;
                        self.frame = Some(f);
                    }
                    Err(ParseError::Incomplete { needed }) => self.need = add(base, needed)?,
                    Err(ParseError::Invalid(e)) => return Err(e),
                }
                return Ok(());
            }
        };
        let keys = self.keys.as_mut().ok_or(Error::Unreachable("no keys"))?;
        if let Some(v) = keys.verifier.as_mut() {
            v.update(at(&self.buf, base..)?);
        }
        if self.batch_frames > 1 && !frame.is_final {
            self.batch.push(BatchFrame {
                start: base,
                sequence_number: frame.sequence_number,
                iv: frame.iv,
            });
            self.frame = None;
            self.expected_seq = self
                .expected_seq
                .checked_add(1)
                .ok_or(LimitError::TooManyFrames)?;
            if self.batch.len() >= self.batch_frames {
                return self.open_batch();
            }
            self.frame_base = self.buf.len();
            self.need = add(self.frame_base, 4)?;
            return Ok(());
        }
        let header = self
            .header
            .as_ref()
            .ok_or(Error::Unreachable("no header"))?;
        let keys = self.keys.as_ref().ok_or(Error::Unreachable("no keys"))?;
        let (hdr_len, n) = open_frame(
            &keys.content_key,
            &header.message_id,
            &frame,
            at_mut(&mut self.buf, base..)?,
        )?;
        self.out_start = add(base, hdr_len)?;
        self.out_end = add(self.out_start, n)?;
        self.buf.truncate(self.out_end);
        self.frame = None;
        if frame.is_final {
            self.finish_body()
        } else {
            self.expected_seq = self
                .expected_seq
                .checked_add(1)
                .ok_or(LimitError::TooManyFrames)?;
            self.need = 4;
            Ok(())
        }
    }

    /// Opens every frame of the batch (regular frames of the header's frame length, laid
    /// end to end in `buf`) on up to `options.threads` threads, then hands out the first
    /// frame's plaintext; [`release_next`](Self::release_next) hands out the others. Any
    /// failure fails the whole batch (and `push` zeroes it). Spec: message-body.md
    /// "Regular Frame".
    fn open_batch(&mut self) -> Result<()> {
        let header = self
            .header
            .as_ref()
            .ok_or(Error::Unreachable("no header"))?;
        let frame_length = header.frame_length;
        let content = usize::try_from(frame_length)
            .map_err(|_| Error::Unreachable("u32 does not fit usize"))?;
        let frame_bytes = add(add(FrameHeader::REGULAR_LEN, content)?, TAG_LEN)?;
        let message_id = header.message_id.as_slice();
        let keys = self.keys.as_ref().ok_or(Error::Unreachable("no keys"))?;
        let first = self.batch.first().map_or(0, |f| f.start);
        let mut frames: Vec<(&BatchFrame, &mut [u8])> = at_mut(&mut self.buf, first..)?
            .chunks_mut(frame_bytes)
            .zip(self.batch.iter())
            .map(|(bytes, f)| (f, bytes))
            .collect();
        if frames.len() != self.batch.len() {
            return Err(Error::Unreachable("batch shorter than its frames"));
        }
        let threads = super::encryptor::clamp_threads(self.options.threads);
        super::run_parallel(threads, &mut frames, |(f, bytes)| {
            let frame = FrameHeader {
                is_final: false,
                sequence_number: f.sequence_number,
                iv: f.iv,
                content_length: frame_length,
            };
            let (_, n) = open_frame(&keys.content_key, message_id, &frame, bytes)?;
            if n != content {
                return Err(Error::Unreachable("frame content of another length"));
            }
            Ok(())
        })?;
        drop(frames);
        self.released = 0;
        self.frame_base = 0;
        self.need = 4;
        if !self.release_next() {
            return Err(Error::Unreachable("empty batch"));
        }
        Ok(())
    }

    /// Points `out_start..out_end` at the plaintext of the next opened frame of the
    /// batch, if one is left; else empties the batch and returns false.
    fn release_next(&mut self) -> bool {
        let Some(f) = self.batch.get(self.released) else {
            self.batch.clear();
            self.released = 0;
            return false;
        };
        let content = self
            .header
            .as_ref()
            .and_then(|h| usize::try_from(h.frame_length).ok())
            .unwrap_or(0);
        let start = f.start.saturating_add(FrameHeader::REGULAR_LEN);
        self.out_start = start;
        self.out_end = start.saturating_add(content);
        self.released = self.released.saturating_add(1);
        true
    }

    /// The most `buf` holds while a batch of frames is gathered (0 without batching).
    fn batch_capacity(&self) -> usize {
        if self.batch_frames <= 1 {
            return 0;
        }
        let frame_len = self.header.as_ref().map_or(0, |h| h.frame_length as usize);
        frame_len
            .saturating_add(FrameHeader::REGULAR_LEN + TAG_LEN)
            .saturating_mul(self.batch_frames)
            .saturating_add(FrameHeader::FINAL_LEN)
    }

    /// Spec: message-body.md "Un-Framed Data".
    fn advance_non_framed(&mut self) -> Result<()> {
        if self.buf.len() == NonFramedHeader::LEN {
            let h = match NonFramedHeader::parse(&self.buf) {
                Ok(h) => h,
                Err(_) => return Err(Error::Unreachable("non-framed header short")),
            };
            let max = self.options.max_frame_length.min(MAX_NON_FRAMED_LENGTH);
            if h.content_length > max {
                return Err(LimitError::FrameTooLong {
                    length: h.content_length,
                    max,
                }
                .into());
            }
            let content =
                usize::try_from(h.content_length).map_err(|_| LimitError::FrameTooLong {
                    length: h.content_length,
                    max: usize::MAX as u64,
                })?;
            self.need = add(add(NonFramedHeader::LEN, TAG_LEN)?, content)?;
            return Ok(());
        }
        let h = match NonFramedHeader::parse(&self.buf) {
            Ok(h) => h,
            Err(_) => return Err(Error::Unreachable("non-framed header short")),
        };
        let aad = BodyAad::new(
            self.message_id()?,
            BodyAadContent::SingleBlock,
            1,
            h.content_length,
        );
        let keys = self.keys.as_mut().ok_or(Error::Unreachable("no keys"))?;
        if let Some(v) = keys.verifier.as_mut() {
            v.update(&self.buf);
        }
        let n = keys.content_key.open_in_place(
            &h.iv,
            aad.as_bytes(),
            at_mut(&mut self.buf, NonFramedHeader::LEN..)?,
        )?;
        self.out_start = NonFramedHeader::LEN;
        self.out_end = add(NonFramedHeader::LEN, n)?;
        self.buf.truncate(self.out_end);
        self.finish_body()
    }

    /// After the last body part: hold its plaintext; read the footer if signed.
    fn finish_body(&mut self) -> Result<()> {
        self.held = true;
        if self.keys()?.verifier.is_some() {
            // The held plaintext stays in `buf`; the footer is gathered behind it.
            self.state = State::Footer;
            self.need = add(self.out_end, 2)?;
        } else {
            self.state = State::Complete;
        }
        Ok(())
    }

    /// Spec: message-footer.md: `u16 signature length || signature`.
    fn advance_footer(&mut self) -> Result<()> {
        let base = self.out_end;
        if let &[a, b] = at(&self.buf, base..)? {
            let len = usize::from(u16::from_be_bytes([a, b]));
            self.need = add(add(base, 2)?, len)?;
            if len > 0 {
                return Ok(());
            }
        }
        let verifier = self
            .keys()?
            .verifier
            .take()
            .ok_or(Error::Unreachable("no verifier"))?;
        verifier.verify(at(&self.buf, add(base, 2)?..)?)?;
        self.signature_verified = true;
        self.buf.truncate(base);
        self.state = State::Complete;
        Ok(())
    }
}

/// Opens one frame, `frame` being its bytes (header, ciphertext, tag) and `header` its
/// parsed header; returns the header length and the plaintext length (the plaintext is
/// left in place behind the header). Every path that opens frames (one frame at a time,
/// batches) opens them here. Spec: message-body.md "Regular Frame", "Final Frame";
/// message-body-aad.md.
fn open_frame(
    key: &AeadKey,
    message_id: &[u8],
    header: &FrameHeader,
    frame: &mut [u8],
) -> Result<(usize, usize)> {
    let (hdr_len, content_kind) = if header.is_final {
        (FrameHeader::FINAL_LEN, BodyAadContent::FinalFrame)
    } else {
        (FrameHeader::REGULAR_LEN, BodyAadContent::Frame)
    };
    let aad = BodyAad::new(
        message_id,
        content_kind,
        header.sequence_number,
        u64::from(header.content_length),
    );
    let sealed = frame
        .get_mut(hdr_len..)
        .ok_or(Error::Unreachable("frame shorter than its header"))?;
    // Deviation (docs/CONFORMANCE.md): decrypt with the IV stored in the frame, as the
    // reference implementations do; the spec derives it from the sequence number, and
    // some published valid messages carry other IVs.
    let n = key.open_in_place(&header.iv, aad.as_bytes(), sealed)?;
    Ok((hdr_len, n))
}
