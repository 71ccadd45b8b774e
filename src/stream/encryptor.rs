//! The sans-IO encryptor.
//!
//! Spec: `client-apis/encrypt.md`.

use zeroize::Zeroize;

use super::extend_zeroizing;
use super::{add, at, at_mut, drain, Progress};
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
    /// Threads that seal frames (the calling thread counts as one). Default 1. With more,
    /// frames are gathered in batches of about [`BATCH_BYTES_PER_THREAD`] per thread (at
    /// least one frame each) and sealed in parallel; the output is byte-identical to the
    /// one-thread output for the same data key and message ID. Memory then grows to one
    /// batch. Values below 1 are taken as 1, above [`MAX_THREADS`] as [`MAX_THREADS`].
    pub threads: usize,
}

/// Plaintext gathered per thread before a batch of frames is sealed (or opened) in parallel
/// when more than one thread is asked for: large enough that starting the threads costs
/// little next to the work, small enough to keep memory modest.
pub const BATCH_BYTES_PER_THREAD: usize = 2 << 20;

/// The most threads an encryptor or decryptor uses.
pub const MAX_THREADS: usize = 256;

/// The most frames one thread takes in a batch (small frames make small batches).
const MAX_FRAMES_PER_THREAD: usize = 1024;

/// `threads` within 1..=[`MAX_THREADS`].
pub(crate) fn clamp_threads(threads: usize) -> usize {
    threads.clamp(1, MAX_THREADS)
}

/// Frames per batch for `threads` threads and frames of `frame_len` bytes: 1 with one
/// thread (no batching), else about [`BATCH_BYTES_PER_THREAD`] per thread, at least one
/// frame and at most 1024 frames per thread.
pub(crate) fn batch_frames(threads: usize, frame_len: usize) -> usize {
    let threads = clamp_threads(threads);
    if threads == 1 {
        return 1;
    }
    let per_thread = BATCH_BYTES_PER_THREAD
        .checked_div(frame_len)
        .unwrap_or(1)
        .clamp(1, MAX_FRAMES_PER_THREAD);
    threads.saturating_mul(per_thread)
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
            threads: 1,
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
/// Where the first regular frame of the buffer starts.
const FIRST_FRAME: usize = PREFIX - FrameHeader::REGULAR_LEN;
/// Room for the footer: the signature length and the longest signature written (P-384).
const FOOTER_ROOM: usize = 2 + 103;

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
    /// Threads that seal a batch, and frames per batch (1: no batching).
    threads: usize,
    batch_frames: usize,
    /// In a batch, the slot being filled; slot `i` is the regular frame
    /// `buf[FIRST_FRAME + i * slot_len ..][..slot_len]`: header, plaintext, room for the tag.
    slot: usize,
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
        Self::new_inner(cmm, options, None)
    }

    /// [`Encryptor::new`], with a given message ID instead of a random one when
    /// `message_id` is set (tests compare outputs that way; callers never choose it).
    pub(crate) fn new_inner(
        cmm: &dyn CryptoMaterialsManager,
        options: EncryptOptions,
        message_id_given: Option<&[u8]>,
    ) -> Result<Encryptor> {
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
        match message_id_given {
            Some(id) if id.len() == message_id.len() => message_id.copy_from_slice(id),
            Some(_) => {
                return Err(Error::InvalidArgument(
                    "message ID of the wrong length".into(),
                ))
            }
            None => crate::crypto::fill_random(&mut message_id)?,
        }
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
        let threads = clamp_threads(options.threads);
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
            threads,
            batch_frames: batch_frames(threads, frame_len),
            slot: 0,
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
                    self.slot = 0;
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
        let slot_start = self.slot.saturating_mul(self.slot_len());
        let mut gathered = self
            .buf
            .len()
            .saturating_sub(PREFIX.saturating_add(slot_start));
        if gathered == self.frame_len {
            if input.is_empty() {
                return Ok(0);
            }
            // More plaintext follows, so the full frame is a regular frame.
            if self.batch_frames == 1 {
                let r = self.seal_regular();
                return self.fail_on_err(r).map(|_| 0);
            }
            if self.slot.saturating_add(1) == self.batch_frames {
                let r = self.seal_batch(self.batch_frames, false);
                return self.fail_on_err(r).map(|_| 0);
            }
            // Room for this frame's tag and the next frame's header.
            let room = [0u8; TAG_LEN + FrameHeader::REGULAR_LEN];
            let cap = self.batch_capacity();
            extend_zeroizing(&mut self.buf, &room, cap);
            self.slot = self.slot.saturating_add(1);
            gathered = 0;
        }
        let take = input.len().min(self.frame_len.saturating_sub(gathered));
        self.plaintext_len = self.plaintext_len.saturating_add(take as u64);
        if let Some(max) = self.max_plaintext_length {
            if self.plaintext_len > max {
                let e = Error::Limit(LimitError::PlaintextTooLong);
                return self.fail_on_err(Err(e)).map(|_| 0);
            }
        }
        let cap = self.batch_capacity();
        extend_zeroizing(&mut self.buf, input.get(..take).unwrap_or_default(), cap);
        Ok(take)
    }

    /// Bytes of one regular frame: header, content, tag.
    fn slot_len(&self) -> usize {
        self.frame_len
            .saturating_add(FrameHeader::REGULAR_LEN + TAG_LEN)
    }

    /// The most `buf` holds while frames are gathered: a batch of frames, the longer header
    /// of the final frame, and the footer.
    fn batch_capacity(&self) -> usize {
        self.slot_len()
            .saturating_mul(self.batch_frames)
            .saturating_add(PREFIX + FOOTER_ROOM)
    }

    /// Seals the batch's slots `0..regular` as regular frames on up to `self.threads`
    /// threads, then (when `last_is_final`) slot `regular` as the final frame, and queues
    /// them all as output. Spec: message-body.md "Regular Frame", "Final Frame".
    fn seal_batch(&mut self, regular: usize, last_is_final: bool) -> Result<()> {
        let slot_len = self.slot_len();
        if !last_is_final {
            // The last slot of a full batch has no room for its tag yet.
            let cap = self.batch_capacity();
            extend_zeroizing(&mut self.buf, &[0u8; TAG_LEN], cap);
        }
        let first_seq = self.seq;
        let count = u32::try_from(regular).map_err(|_| LimitError::TooManyFrames)?;
        // Regular sequence numbers stop below the final-frame marker, and the final frame
        // needs one more.
        let next_seq = first_seq
            .checked_add(count)
            .filter(|&n| n < u32::MAX)
            .ok_or(LimitError::TooManyFrames)?;
        let regular_end = add(FIRST_FRAME, regular.saturating_mul(slot_len))?;
        // Sequence numbers as u64: a tuple with a u32 and a slice has 4 bytes of padding,
        // which valgrind's memcheck then reports as uninitialised bytes reaching AES-GCM.
        let mut slots: Vec<(u64, &mut [u8])> = at_mut(&mut self.buf, FIRST_FRAME..regular_end)?
            .chunks_exact_mut(slot_len)
            .zip(u64::from(first_seq)..)
            .map(|(slot, seq)| (seq, slot))
            .collect();
        let key = &self.key;
        let message_id = &self.message_id;
        super::run_parallel(self.threads, &mut slots, |(seq, slot)| {
            let seq = u32::try_from(*seq).map_err(|_| LimitError::TooManyFrames)?;
            seal_frame(key, message_id, seq, false, slot, None)
        })?;
        drop(slots);
        self.seq = next_seq;
        if last_is_final {
            // The final frame's header is 8 bytes longer than the room left for it.
            let extra = [0u8; PREFIX - FrameHeader::REGULAR_LEN];
            let content_start = add(regular_end, FrameHeader::REGULAR_LEN)?;
            let content_end = self.buf.len();
            let cap = self.batch_capacity();
            extend_zeroizing(&mut self.buf, &extra, cap);
            self.buf
                .copy_within(content_start..content_end, add(content_start, extra.len())?);
            return self.seal_final_at(regular_end, FIRST_FRAME);
        }
        if let Some(s) = self.signer.as_mut() {
            s.update(at(&self.buf, FIRST_FRAME..)?);
        }
        self.out_start = FIRST_FRAME;
        self.out_end = self.buf.len();
        Ok(())
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

    /// Encrypts a whole plaintext given at once (the one-shot API) straight into the
    /// message: each thread copies its share of frames into place and seals them there, so
    /// the plaintext is copied once and the work (copies, sealing, first touch of the
    /// output's pages) is shared by `threads` threads. The bytes are those the streaming
    /// path writes: the same frames (a plaintext that is an exact multiple of the frame
    /// length ends with a full final frame), and the footer of a signed suite. Must be
    /// called on a new encryptor (nothing processed yet).
    /// Spec: message-body.md "Regular Frame", "Final Frame"; message-footer.md.
    pub(crate) fn encrypt_all(mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        if self.seq != 1 || self.state != State::Body || self.out_start != 0 {
            return Err(Error::InvalidState(
                "encrypt_all on an encryptor already in use",
            ));
        }
        let header_len = self.out_end;
        let fl = self.frame_len;
        // Frames: every full frame followed by more plaintext is regular; the rest, full
        // or not (empty for an empty plaintext), is the final frame.
        let regular = plaintext
            .len()
            .saturating_sub(1)
            .checked_div(fl)
            .ok_or(Error::Unreachable("frame length 0"))?;
        let regular_bytes = regular.checked_mul(fl).ok_or(LimitError::TooManyFrames)?;
        let final_len = plaintext.len().saturating_sub(regular_bytes);
        let count = u32::try_from(regular).map_err(|_| LimitError::TooManyFrames)?;
        let final_seq = count
            .checked_add(1)
            .filter(|&n| n < u32::MAX)
            .ok_or(LimitError::TooManyFrames)?;
        if let Some(max) = self.max_plaintext_length {
            if plaintext.len() as u64 > max {
                return Err(LimitError::PlaintextTooLong.into());
            }
        }
        let slot_len = self.slot_len();
        let footer_len = self
            .suite
            .signature()
            .map_or(0, |alg| alg.signature_len().saturating_add(2));
        let body_start = header_len;
        let final_start = add(
            body_start,
            regular
                .checked_mul(slot_len)
                .ok_or(LimitError::TooManyFrames)?,
        )?;
        let body_end = add(add(final_start, PREFIX)?, add(final_len, TAG_LEN)?)?;
        let total = add(body_end, footer_len)?;
        // Zeroed pages come from the allocator untouched, so each thread faults in its own.
        // Plaintext is copied into it before it is sealed: wiped if anything fails.
        let mut out = zeroize::Zeroizing::new(vec![0u8; total]);
        at_mut(&mut out, ..header_len)?.copy_from_slice(at(&self.buf, ..header_len)?);

        let (regular_pt, final_pt) = plaintext.split_at(regular_bytes);
        // u64 sequence numbers: no padding in the tuples (see `seal_batch`).
        let mut frames: Vec<(u64, &mut [u8], &[u8])> = at_mut(&mut out, body_start..final_start)?
            .chunks_exact_mut(slot_len)
            .zip(regular_pt.chunks_exact(fl))
            .zip(1u64..)
            .map(|((slot, pt), seq)| (seq, slot, pt))
            .collect();
        let key = &self.key;
        let message_id = &self.message_id;
        super::run_parallel(self.threads, &mut frames, |(seq, slot, pt)| {
            let seq = u32::try_from(*seq).map_err(|_| LimitError::TooManyFrames)?;
            seal_frame(key, message_id, seq, false, slot, Some(pt))
        })?;
        drop(frames);

        seal_frame(
            &self.key,
            &self.message_id,
            final_seq,
            true,
            at_mut(&mut out, final_start..body_end)?,
            Some(final_pt),
        )?;
        if let Some(mut signer) = self.signer.take() {
            // The header went into the hash when it was written (`new_inner`).
            signer.update(at(&out, body_start..body_end)?);
            let sig = signer.sign()?;
            let mut footer = Vec::with_capacity(footer_len);
            crate::format::put_u16_prefixed(&mut footer, &sig, "the signature")?;
            at_mut(&mut out, body_end..)?
                .get_mut(..)
                .filter(|f| f.len() == footer.len())
                .ok_or(Error::Unreachable("signature of an unexpected length"))?
                .copy_from_slice(&footer);
        }
        self.buf.zeroize();
        self.state = State::Done;
        Ok(std::mem::take(&mut *out))
    }

    /// Spec: message-body.md "Regular Frame".
    fn seal_regular(&mut self) -> Result<()> {
        let seq = self.seq;
        // Sequence numbers of regular frames stop below the final-frame marker, and the
        // final frame needs one more.
        if seq >= u32::MAX - 1 {
            return Err(LimitError::TooManyFrames.into());
        }
        let start = FIRST_FRAME;
        let cap = self.batch_capacity();
        extend_zeroizing(&mut self.buf, &[0u8; TAG_LEN], cap);
        seal_frame(
            &self.key,
            &self.message_id,
            seq,
            false,
            at_mut(&mut self.buf, start..)?,
            None,
        )?;
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
        if self.slot > 0 {
            // A batch is under way: seal its full frames, then the final one.
            return self.seal_batch(self.slot, true);
        }
        self.seal_final_at(0, 0)
    }

    /// Seals the final frame, whose header starts at `buf[start]` and whose content fills
    /// the rest of `buf`, and the footer; the output starts at `buf[out_start]` (frames
    /// before `start` are sealed already). Spec: message-body.md "Final Frame";
    /// message-footer.md.
    fn seal_final_at(&mut self, start: usize, out_start: usize) -> Result<()> {
        let cap = self.batch_capacity();
        extend_zeroizing(&mut self.buf, &[0u8; TAG_LEN], cap);
        seal_frame(
            &self.key,
            &self.message_id,
            self.seq,
            true,
            at_mut(&mut self.buf, start..)?,
            None,
        )?;
        if let Some(mut s) = self.signer.take() {
            s.update(at(&self.buf, out_start..)?);
            let sig = s.sign()?;
            crate::format::put_u16_prefixed(&mut self.buf, &sig, "the signature")?;
        }
        self.state = State::Final;
        self.out_start = out_start;
        self.out_end = self.buf.len();
        Ok(())
    }
}

/// Seals one frame laid out in `frame`: its header (regular or final), its content, room
/// for the tag. The content is copied in from `plaintext` first when given, else it is
/// already there. Every path that writes frames (one frame at a time, batches, one-shot)
/// seals them here. Spec: message-body.md "Regular Frame", "Final Frame".
fn seal_frame(
    key: &AeadKey,
    message_id: &[u8],
    seq: u32,
    is_final: bool,
    frame: &mut [u8],
    plaintext: Option<&[u8]>,
) -> Result<()> {
    let (header_len, content_kind) = if is_final {
        (FrameHeader::FINAL_LEN, BodyAadContent::FinalFrame)
    } else {
        (FrameHeader::REGULAR_LEN, BodyAadContent::Frame)
    };
    let too_short = || Error::Unreachable("frame buffer too short");
    let (header, rest) = frame
        .split_at_mut_checked(header_len)
        .ok_or_else(too_short)?;
    let content_len = rest.len().checked_sub(TAG_LEN).ok_or_else(too_short)?;
    let (content, tag_room) = rest
        .split_at_mut_checked(content_len)
        .ok_or_else(too_short)?;
    let iv = FrameHeader::iv_for(seq);
    FrameHeader {
        is_final,
        sequence_number: seq,
        iv,
        content_length: u32::try_from(content_len)
            .map_err(|_| Error::Unreachable("frame longer than u32"))?,
    }
    .write(header)?;
    if let Some(pt) = plaintext {
        if pt.len() != content.len() {
            return Err(Error::Unreachable("frame content of another length"));
        }
        content.copy_from_slice(pt);
    }
    let aad = BodyAad::new(message_id, content_kind, seq, content_len as u64);
    let tag = key.seal_in_place(&iv, aad.as_bytes(), content)?;
    tag_room.copy_from_slice(&tag);
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cmm::DefaultCmm;
    use crate::crypto::DataKey;
    use crate::format::header::EncryptedDataKey;
    use crate::keyring::Keyring;
    use crate::materials::{DecryptionMaterials, EncryptionMaterials};
    use crate::{decrypt_with_cmm, DecryptOptions};

    /// Hands out the same data key (bytes 1, 2, 3, ...) and the same encrypted data key
    /// every time, so that two encryptions with one message ID give the same bytes.
    struct FixedKeyring;

    fn fixed_key(suite: &AlgorithmSuite) -> DataKey {
        DataKey::new((1..=suite.key_len()).map(|i| i as u8).collect())
    }

    impl Keyring for FixedKeyring {
        fn on_encrypt(&self, mut m: EncryptionMaterials) -> Result<EncryptionMaterials> {
            let key = fixed_key(m.suite());
            m.set_data_key(key)?;
            m.add_encrypted_data_key(EncryptedDataKey {
                provider_id: "fixed".into(),
                provider_info: b"key".to_vec(),
                ciphertext: vec![7; 8],
            });
            Ok(m)
        }

        fn on_decrypt(
            &self,
            mut m: DecryptionMaterials,
            _edks: &[EncryptedDataKey],
        ) -> Result<DecryptionMaterials> {
            let key = fixed_key(m.suite());
            m.set_data_key(key)?;
            Ok(m)
        }
    }

    /// Encrypts `plaintext` with `threads`, feeding it in pieces of `chunk` bytes and
    /// draining into an output buffer of `chunk` bytes. Returns the message and the length
    /// of its header (body and authentication).
    fn encrypt(
        suite: &'static AlgorithmSuite,
        frame_length: u32,
        threads: usize,
        plaintext: &[u8],
        chunk: usize,
    ) -> (Vec<u8>, usize) {
        let cmm = DefaultCmm::new(Arc::new(FixedKeyring));
        let mut options = EncryptOptions {
            algorithm_suite: Some(suite),
            frame_length,
            commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
            threads,
            ..EncryptOptions::default()
        };
        if suite.is_committing() {
            options.commitment_policy = CommitmentPolicy::RequireEncryptRequireDecrypt;
        }
        let id = vec![0x5a; suite.message_format_version().message_id_len()];
        let mut enc = Encryptor::new_inner(&cmm, options, Some(&id)).unwrap();
        let header_len = enc.pending().len();
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        let mut rest = plaintext;
        loop {
            let take = rest.len().min(chunk);
            if take == 0 && !enc.input_ended {
                enc.end_input();
            }
            let p = enc.process(&rest[..take], &mut buf).unwrap();
            out.extend_from_slice(&buf[..p.produced]);
            rest = &rest[p.consumed..];
            if enc.is_done() {
                break;
            }
            // Every call makes progress: callers take a call that neither consumes nor
            // produces as a stall.
            assert!(p.consumed + p.produced > 0, "no progress");
        }
        (out, header_len)
    }

    /// [`Encryptor::encrypt_all`] with the same keys and message ID as [`encrypt`].
    fn encrypt_all(
        suite: &'static AlgorithmSuite,
        frame_length: u32,
        threads: usize,
        plaintext: &[u8],
    ) -> Vec<u8> {
        let cmm = DefaultCmm::new(Arc::new(FixedKeyring));
        let options = EncryptOptions {
            algorithm_suite: Some(suite),
            frame_length,
            commitment_policy: if suite.is_committing() {
                CommitmentPolicy::RequireEncryptRequireDecrypt
            } else {
                CommitmentPolicy::ForbidEncryptAllowDecrypt
            },
            threads,
            ..EncryptOptions::default()
        };
        let id = vec![0x5a; suite.message_format_version().message_id_len()];
        Encryptor::new_inner(&cmm, options, Some(&id))
            .unwrap()
            .encrypt_all(plaintext)
            .unwrap()
    }

    /// The output of the batched, multi-threaded path is the one-thread output, byte for
    /// byte (unsigned suites), or its header and body with another random signature
    /// (signed suites, whose signing key and ECDSA nonce are fresh each time): for every
    /// suite, frame lengths that give one frame per thread or many, and plaintext lengths
    /// around frame and batch boundaries.
    #[test]
    fn threads_give_byte_identical_frames() {
        let mut cases = 0;
        for suite in AlgorithmSuite::ALL {
            for (frame_length, sizes) in [
                (1u32, vec![0usize, 1, 2, 5]),
                (100, vec![0, 99, 100, 101, 1000, 12_345]),
                (
                    4096,
                    vec![0, 4096, 4097, 3 * 4096, 2 * BATCH_BYTES_PER_THREAD + 1],
                ),
                (
                    1 << 20,
                    vec![(1 << 20) + 1, 3 << 20, 5 * (1 << 20) + 17, 8 << 20],
                ),
            ] {
                for size in sizes {
                    // Messages of several MiB for three suites only (one of each kind:
                    // HKDF, committing, signed), to keep the test quick.
                    if size > 100_000 && ![0x0178, 0x0478, 0x0578].contains(&suite.id()) {
                        continue;
                    }
                    let plaintext: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
                    let (one, header_len) = encrypt(suite, frame_length, 1, &plaintext, 65_536);
                    for threads in [2, 3, 4] {
                        let chunk = if threads == 3 { 1000 } else { 65_536 };
                        let (many, _) = encrypt(suite, frame_length, threads, &plaintext, chunk);
                        match suite.signature() {
                            None => assert!(
                                one == many,
                                "suite {:#06x}, frame {frame_length}, size {size}, {threads} threads",
                                suite.id()
                            ),
                            Some(alg) => {
                                let footer = 2 + alg.signature_len();
                                assert_eq!(one.len(), many.len());
                                assert!(
                                    one[header_len..one.len() - footer]
                                        == many[header_len..many.len() - footer],
                                    "suite {:#06x}, frame {frame_length}, size {size}",
                                    suite.id()
                                );
                            }
                        }
                        // The one-shot path (every thread count, one included) writes
                        // the same bytes.
                        let all = encrypt_all(suite, frame_length, threads - 1, &plaintext);
                        let cmm = Arc::new(DefaultCmm::new(Arc::new(FixedKeyring)));
                        let d = decrypt_with_cmm(
                            cmm,
                            &all,
                            DecryptOptions {
                                commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
                                ..DecryptOptions::default()
                            },
                        )
                        .unwrap();
                        assert!(d.plaintext == plaintext, "one-shot, {threads} threads");
                        match suite.signature() {
                            None => assert!(one == all, "one-shot, {threads} threads"),
                            Some(alg) => {
                                let footer = 2 + alg.signature_len();
                                assert_eq!(one.len(), all.len());
                                assert!(
                                    one[header_len..one.len() - footer]
                                        == all[header_len..all.len() - footer]
                                );
                            }
                        }
                        let cmm = Arc::new(DefaultCmm::new(Arc::new(FixedKeyring)));
                        let d = decrypt_with_cmm(
                            cmm,
                            &many,
                            DecryptOptions {
                                commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
                                threads,
                                ..DecryptOptions::default()
                            },
                        )
                        .unwrap();
                        assert!(d.plaintext == plaintext);
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, (11 * (4 + 6 + 4) + 3 * (1 + 4)) * 3);
    }

    /// With several threads the decryptor opens regular frames a batch at a time: a frame
    /// that fails in the second batch lets out exactly the first batch, then the error.
    #[test]
    fn a_bad_frame_fails_its_whole_batch() {
        use crate::stream::Decryptor;
        let suite = AlgorithmSuite::from_id(0x0478).unwrap();
        let threads = 2;
        let batch = crate::stream::encryptor::batch_frames(threads, 4096);
        assert_eq!(batch, 2 * BATCH_BYTES_PER_THREAD / 4096);
        let plaintext = vec![0x42u8; 3 * batch * 4096 + 10];
        let (mut msg, header_len) = encrypt(suite, 4096, 1, &plaintext, 65_536);
        // A regular frame is 16 + 4096 + 16 bytes; flip a bit in the content of the
        // frame in the middle of the second batch.
        let bad = batch + batch / 2;
        msg[header_len + bad * (4096 + 32) + 100] ^= 1;
        let cmm = Arc::new(DefaultCmm::new(Arc::new(FixedKeyring)));
        let mut dec = Decryptor::new(
            cmm,
            DecryptOptions {
                threads,
                ..DecryptOptions::default()
            },
        );
        let mut out = vec![0u8; 10_000];
        let (mut released, mut input) = (0usize, &msg[..]);
        let err = loop {
            match dec.process(&input[..input.len().min(7_000)], &mut out) {
                Ok(p) => {
                    assert!(out[..p.produced].iter().all(|&b| b == 0x42));
                    released += p.produced;
                    input = &input[p.consumed..];
                    assert!(p.consumed + p.produced > 0, "no progress");
                }
                Err(e) => break e,
            }
        };
        assert!(matches!(err, Error::AuthenticationFailed), "{err:?}");
        assert_eq!(released, batch * 4096);
        assert!(out.iter().all(|&b| b == 0 || b == 0x42));
    }

    /// Spec: message-body.md "Framed Data" (B-04): a message has at most 2^32 - 1 frames.
    /// The encryptor stops one frame short of it, on the one-thread and the batched path:
    /// starting 3 below the last sequence number, 3 frames fit (the third is the final
    /// frame), a fourth is refused with `TooManyFrames`.
    #[test]
    fn frame_count_stops_below_two_to_the_32() {
        let suite = AlgorithmSuite::from_id(0x0478).unwrap();
        let cmm = DefaultCmm::new(Arc::new(FixedKeyring));
        for threads in [1, 2] {
            for (len, fits) in [(3usize, true), (4, false)] {
                let options = EncryptOptions {
                    algorithm_suite: Some(suite),
                    frame_length: 1,
                    threads,
                    ..EncryptOptions::default()
                };
                let mut enc = Encryptor::new(&cmm, options).unwrap();
                enc.seq = u32::MAX - 3;
                let mut out = vec![0u8; 4096];
                let mut rest = &[7u8; 4][..len];
                let result = loop {
                    if rest.is_empty() {
                        enc.end_input();
                    }
                    match enc.process(rest, &mut out) {
                        Ok(p) => rest = &rest[p.consumed..],
                        Err(e) => break Err(e),
                    }
                    if enc.is_done() {
                        break Ok(());
                    }
                };
                let as_expected = matches!(
                    (fits, &result),
                    (true, Ok(())) | (false, Err(Error::Limit(LimitError::TooManyFrames)))
                );
                assert!(as_expected, "{threads} threads, {len} frames: {result:?}");
            }
        }
    }
}
