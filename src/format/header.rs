//! The message header: header body and header authentication.
//!
//! Spec: `data-format/message-header.md`.

use super::context::EncryptionContext;
use super::suite::{AlgorithmSuite, MessageFormatVersion};
use super::{put_u16_prefixed, ParseError, Reader};
use crate::error::{Error, FormatError, LimitError};

/// The v1 message type: "customer authenticated encrypted data".
/// Spec: message-header.md "Type": the only defined value is 0x80.
pub const MESSAGE_TYPE_CUSTOMER_AED: u8 = 0x80;

/// The IV length of every ESDK suite (header v1 "IV Length", frames, header auth).
pub const IV_LEN: usize = 12;

/// The AES-GCM tag length of every ESDK suite.
pub const TAG_LEN: usize = 16;

/// A data key encrypted by one wrapping key.
/// Spec: `framework/structures.md` "Encrypted Data Key".
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Who can decrypt it (the keyring's namespace for raw keyrings).
    pub provider_id: String,
    /// Provider-specific information (for raw AES: key name, tag and IV lengths, IV).
    pub provider_info: Vec<u8>,
    /// The wrapped data key.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedDataKey")
            .field("provider_id", &self.provider_id)
            .field(
                "provider_info",
                &String::from_utf8_lossy(&self.provider_info),
            )
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Framed or non-framed body.
/// Spec: message-header.md "Content Type".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// One AES-GCM operation over the whole plaintext (legacy; decrypt only).
    NonFramed,
    /// A sequence of frames (what every encryptor writes today).
    Framed,
}

impl ContentType {
    /// The byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            ContentType::NonFramed => 1,
            ContentType::Framed => 2,
        }
    }
}

/// The header body: everything in the header before the header authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBody {
    /// The algorithm suite; it fixes the format version.
    pub suite: &'static AlgorithmSuite,
    /// 16 bytes (v1) or 32 bytes (v2).
    pub message_id: Vec<u8>,
    /// The encryption context stored in the header (required-only keys are not stored).
    pub encryption_context: EncryptionContext,
    /// One or more encrypted data keys.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Framed or non-framed.
    pub content_type: ContentType,
    /// The frame length (0 for non-framed).
    pub frame_length: u32,
    /// v2 algorithm suite data: the 32-byte commit key. Empty for v1.
    pub suite_data: Vec<u8>,
}

/// The header authentication that follows the header body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderAuth {
    /// The IV: stored in v1, implicitly zero in v2.
    pub iv: [u8; IV_LEN],
    /// The AES-GCM tag over the header body.
    pub tag: [u8; TAG_LEN],
}

impl HeaderBody {
    /// The message format version (fixed by the suite).
    pub fn version(&self) -> MessageFormatVersion {
        self.suite.message_format_version()
    }

    /// Serializes the header body. Spec: message-header.md "Header Body Version 1.0/2.0".
    pub fn serialize(&self) -> Result<Vec<u8>, Error> {
        let version = self.version();
        if self.message_id.len() != version.message_id_len() {
            return Err(Error::InvalidArgument(
                "message ID length does not match the version".into(),
            ));
        }
        let mut out = Vec::with_capacity(128);
        out.push(version.byte());
        if version == MessageFormatVersion::V1 {
            out.push(MESSAGE_TYPE_CUSTOMER_AED);
        }
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        let ec = self.encryption_context.serialize()?;
        put_u16_prefixed(&mut out, &ec, "the encryption context")?;
        let count = u16::try_from(self.encrypted_data_keys.len()).map_err(|_| {
            LimitError::TooManyEncryptedDataKeys {
                count: self.encrypted_data_keys.len(),
                max: usize::from(u16::MAX),
            }
        })?;
        if count == 0 {
            return Err(FormatError::NoEncryptedDataKeys.into());
        }
        out.extend_from_slice(&count.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            put_u16_prefixed(&mut out, edk.provider_id.as_bytes(), "a key provider ID")?;
            put_u16_prefixed(&mut out, &edk.provider_info, "a key provider info")?;
            put_u16_prefixed(&mut out, &edk.ciphertext, "an encrypted data key")?;
        }
        out.push(self.content_type.byte());
        match version {
            MessageFormatVersion::V1 => {
                out.extend_from_slice(&[0, 0, 0, 0]);
                // IV_LEN is 12, a constant that fits its one-byte field.
                #[allow(clippy::cast_possible_truncation)]
                out.push(IV_LEN as u8);
                out.extend_from_slice(&self.frame_length.to_be_bytes());
            }
            MessageFormatVersion::V2 => {
                out.extend_from_slice(&self.frame_length.to_be_bytes());
                if self.suite_data.len() != self.suite.suite_data_len() {
                    return Err(Error::Unreachable(
                        "suite data length does not match the suite",
                    ));
                }
                out.extend_from_slice(&self.suite_data);
            }
        }
        Ok(out)
    }

    /// Parses a header body from the start of `buf`; returns it and the number of bytes it
    /// used. `max_edks` is checked at the count field, before any key is read.
    pub fn parse(buf: &[u8], max_edks: Option<usize>) -> Result<(HeaderBody, usize), ParseError> {
        let mut r = Reader::new(buf);
        let version_byte = r.u8()?;
        let version = match version_byte {
            1 => MessageFormatVersion::V1,
            2 => MessageFormatVersion::V2,
            // Spec (client-apis/decrypt.md): SHOULD detect base64-encoded messages.
            // "AY" starts base64 of 01 80; "Ag" of any v2 header.
            b'A' => match buf.get(1) {
                Some(b'Y') | Some(b'g') => return Err(FormatError::LooksBase64.into()),
                Some(_) => return Err(FormatError::UnknownVersion(version_byte).into()),
                None => return Err(ParseError::Incomplete { needed: 2 }),
            },
            v => return Err(FormatError::UnknownVersion(v).into()),
        };
        if version == MessageFormatVersion::V1 {
            let t = r.u8()?;
            if t != MESSAGE_TYPE_CUSTOMER_AED {
                return Err(FormatError::UnknownMessageType(t).into());
            }
        }
        let suite_id = r.u16()?;
        let suite = AlgorithmSuite::from_id(suite_id)
            .ok_or(FormatError::UnknownAlgorithmSuite(suite_id))?;
        if suite.message_format_version() != version {
            return Err(FormatError::SuiteVersionMismatch {
                version: version.byte(),
                suite: suite_id,
            }
            .into());
        }
        let message_id = r.take(version.message_id_len())?.to_vec();
        let ec_bytes = r.u16_prefixed()?;
        let encryption_context = EncryptionContext::parse(ec_bytes)?;

        // Spec: client-apis/decrypt.md: the max-EDK limit is enforced as soon as the count
        // is known, before reading the keys.
        let count = usize::from(r.u16()?);
        if count == 0 {
            return Err(FormatError::NoEncryptedDataKeys.into());
        }
        if let Some(max) = max_edks {
            if count > max {
                return Err(LimitError::TooManyEncryptedDataKeys { count, max }.into());
            }
        }
        let mut encrypted_data_keys = Vec::new();
        for _ in 0..count {
            let id = r.u16_prefixed()?;
            let info = r.u16_prefixed()?;
            let ct = r.u16_prefixed()?;
            encrypted_data_keys.push(EncryptedDataKey {
                provider_id: std::str::from_utf8(id)
                    .map_err(|_| FormatError::InvalidUtf8)?
                    .to_owned(),
                provider_info: info.to_vec(),
                ciphertext: ct.to_vec(),
            });
        }
        let content_type = match r.u8()? {
            1 => ContentType::NonFramed,
            2 => ContentType::Framed,
            t => return Err(FormatError::UnknownContentType(t).into()),
        };
        let frame_length;
        let mut suite_data = Vec::new();
        match version {
            MessageFormatVersion::V1 => {
                if r.array::<4>()? != [0; 4] {
                    return Err(FormatError::ReservedBytesNotZero.into());
                }
                let iv_len = r.u8()?;
                if usize::from(iv_len) != IV_LEN {
                    return Err(FormatError::BadIvLength(iv_len).into());
                }
                frame_length = r.u32()?;
            }
            MessageFormatVersion::V2 => {
                frame_length = r.u32()?;
                suite_data = r.take(suite.suite_data_len())?.to_vec();
            }
        }
        // Spec: message-header.md "Frame Length": 0 for non-framed content.
        let frame_ok = match content_type {
            ContentType::NonFramed => frame_length == 0,
            ContentType::Framed => frame_length > 0,
        };
        if !frame_ok {
            return Err(FormatError::BadFrameLength(frame_length).into());
        }
        let body = HeaderBody {
            suite,
            message_id,
            encryption_context,
            encrypted_data_keys,
            content_type,
            frame_length,
            suite_data,
        };
        Ok((body, r.position()))
    }
}

/// Finds where a header body ends by walking its length fields.
///
/// Resumable: each call continues where the last one stopped, so feeding a header in any
/// number of pieces costs time linear in its length (re-parsing from the start at every
/// new byte would cost its square). It checks the version, the EDK count limit and the
/// `max_len` cap as soon as it reaches them; everything else is left to
/// [`HeaderBody::parse`], run once on the whole header.
#[derive(Debug, Clone, Default)]
pub struct HeaderScanner {
    pos: usize,
    stage: ScanStage,
    tail_len: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ScanStage {
    #[default]
    Version,
    Prefix,
    AadLength,
    EdkCount,
    EdkFields(u32),
    Tail(usize),
}

impl HeaderScanner {
    /// A scanner at the start of a header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scans `buf` (the header so far, from its first byte). Returns the header body's
    /// length once it is known and `buf` holds all of it, [`ParseError::Incomplete`] with
    /// the total length needed for the next step otherwise.
    pub fn scan(
        &mut self,
        buf: &[u8],
        max_edks: Option<usize>,
        max_len: usize,
    ) -> Result<usize, ParseError> {
        loop {
            if self.pos > max_len {
                return Err(LimitError::HeaderTooLong { max: max_len }.into());
            }
            match self.stage {
                ScanStage::Version => {
                    let (prefix, tail) = match buf.first() {
                        None => return Err(ParseError::Incomplete { needed: 1 }),
                        // version, type, suite, 16-byte message ID | reserved, IV length,
                        // content type, frame length
                        Some(1) => (1 + 1 + 2 + 16, 1 + 4 + 1 + 4),
                        // version, suite, 32-byte message ID | content type, frame length,
                        // 32-byte suite data
                        Some(2) => (1 + 2 + 32, 1 + 4 + 32),
                        // Any other first byte: the full parser names the error.
                        Some(_) => {
                            HeaderBody::parse(buf, max_edks)?;
                            return Err(
                                Error::Unreachable("header parsed after a bad version").into()
                            );
                        }
                    };
                    self.pos = prefix;
                    self.tail_len = tail;
                    self.stage = ScanStage::Prefix;
                }
                ScanStage::Prefix => {
                    // The fixed fields before the context (type, suite, message ID) are
                    // checked as soon as they are here, before any length is trusted.
                    let Some(prefix) = buf.get(..self.pos) else {
                        return Err(ParseError::Incomplete { needed: self.pos });
                    };
                    if let Err(ParseError::Invalid(e)) = HeaderBody::parse(prefix, max_edks) {
                        return Err(ParseError::Invalid(e));
                    }
                    self.stage = ScanStage::AadLength;
                }
                ScanStage::AadLength => {
                    let n = self.u16_at(buf)?;
                    self.advance(2)?;
                    self.advance(usize::from(n))?;
                    self.stage = ScanStage::EdkCount;
                }
                ScanStage::EdkCount => {
                    let count16 = self.u16_at(buf)?;
                    let count = usize::from(count16);
                    if count == 0 {
                        return Err(FormatError::NoEncryptedDataKeys.into());
                    }
                    if let Some(max) = max_edks {
                        if count > max {
                            return Err(LimitError::TooManyEncryptedDataKeys { count, max }.into());
                        }
                    }
                    self.advance(2)?;
                    // Three length-prefixed fields per data key; 3 * u16::MAX fits a u32.
                    self.stage = ScanStage::EdkFields(u32::from(count16).saturating_mul(3));
                }
                ScanStage::EdkFields(0) => {
                    self.advance(self.tail_len)?;
                    self.stage = ScanStage::Tail(self.pos);
                }
                ScanStage::EdkFields(left) => {
                    let n = self.u16_at(buf)?;
                    self.advance(2)?;
                    self.advance(usize::from(n))?;
                    self.stage = ScanStage::EdkFields(left.saturating_sub(1));
                }
                ScanStage::Tail(end) => {
                    return if buf.len() >= end {
                        Ok(end)
                    } else {
                        Err(ParseError::Incomplete { needed: end })
                    };
                }
            }
        }
    }

    /// Moves past `n` bytes. The header length limit is checked at every step of
    /// [`Self::scan`], so `pos` stays far below `usize::MAX`; overflow is still an error.
    fn advance(&mut self, n: usize) -> Result<(), ParseError> {
        self.pos = self
            .pos
            .checked_add(n)
            .ok_or(ParseError::Invalid(Error::Unreachable(
                "header length overflow",
            )))?;
        Ok(())
    }

    fn u16_at(&self, buf: &[u8]) -> Result<u16, ParseError> {
        let needed = self.pos.saturating_add(2);
        match buf.get(self.pos..needed) {
            Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
            _ => Err(ParseError::Incomplete { needed }),
        }
    }
}

impl HeaderAuth {
    /// The serialized length for a header version: 28 bytes in v1, 16 in v2.
    pub fn len(version: MessageFormatVersion) -> usize {
        match version {
            MessageFormatVersion::V1 => IV_LEN + TAG_LEN,
            MessageFormatVersion::V2 => TAG_LEN,
        }
    }

    /// Serializes for the given version. Spec: message-header.md "Header Authentication".
    pub fn serialize(&self, version: MessageFormatVersion, out: &mut Vec<u8>) {
        if version == MessageFormatVersion::V1 {
            out.extend_from_slice(&self.iv);
        }
        out.extend_from_slice(&self.tag);
    }

    /// Parses the header authentication from the start of `buf`.
    pub fn parse(buf: &[u8], version: MessageFormatVersion) -> Result<HeaderAuth, ParseError> {
        let mut r = Reader::new(buf);
        let iv = match version {
            MessageFormatVersion::V1 => r.array()?,
            MessageFormatVersion::V2 => [0u8; IV_LEN],
        };
        let tag = r.array()?;
        Ok(HeaderAuth { iv, tag })
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

    fn sample(suite: &'static AlgorithmSuite) -> HeaderBody {
        let v = suite.message_format_version();
        HeaderBody {
            suite,
            message_id: (0..v.message_id_len() as u8).collect(),
            encryption_context: [("a", "b")].into_iter().collect(),
            encrypted_data_keys: vec![EncryptedDataKey {
                provider_id: "ns".into(),
                provider_info: b"info".to_vec(),
                ciphertext: vec![9; 5],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            suite_data: vec![7; suite.suite_data_len()],
        }
    }

    #[test]
    fn v1_layout_is_exact() {
        let h = sample(&AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256);
        let b = h.serialize().unwrap();
        let mut want = vec![1, 0x80, 0x01, 0x78];
        want.extend(0..16u8);
        want.extend([0, 8, 0, 1, 0, 1, b'a', 0, 1, b'b']);
        want.extend([
            0, 1, 0, 2, b'n', b's', 0, 4, b'i', b'n', b'f', b'o', 0, 5, 9, 9, 9, 9, 9,
        ]);
        want.extend([2, 0, 0, 0, 0, 12, 0, 0, 0x10, 0]);
        assert_eq!(b, want);
        let (p, n) = HeaderBody::parse(&b, None).unwrap();
        assert_eq!(n, b.len());
        assert_eq!(p, h);
    }

    #[test]
    fn v2_roundtrip_and_every_prefix_is_incomplete() {
        let h = sample(&AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
        let b = h.serialize().unwrap();
        // 76 fixed bytes (with both length fields), 8 of context, one 17-byte data key entry.
        assert_eq!(b.len(), 76 + 8 + 17);
        for cut in 0..b.len() {
            match HeaderBody::parse(&b[..cut], None) {
                Err(ParseError::Incomplete { needed }) => {
                    assert!(needed > cut && needed <= b.len())
                }
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
        assert_eq!(HeaderBody::parse(&b, None).unwrap().0, h);
    }

    #[test]
    fn scanner_finds_the_length_byte_by_byte() {
        for suite in [
            &AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
            &AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
        ] {
            let b = sample(suite).serialize().unwrap();
            let mut scanner = HeaderScanner::new();
            let mut have = 0;
            let mut steps = 0;
            loop {
                match scanner.scan(&b[..have], None, 1 << 20) {
                    Ok(n) => {
                        assert_eq!(n, b.len());
                        break;
                    }
                    Err(ParseError::Incomplete { needed }) => {
                        assert!(needed > have && needed <= b.len());
                        have = needed;
                    }
                    Err(e) => panic!("{e:?}"),
                }
                steps += 1;
            }
            // version, fixed prefix, AAD length, EDK count, 3 EDK fields, then the tail.
            assert_eq!(steps, 8);
        }
        let b = sample(&AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF)
            .serialize()
            .unwrap();
        assert!(matches!(
            HeaderScanner::new().scan(&b, None, 30),
            Err(ParseError::Invalid(Error::Limit(
                LimitError::HeaderTooLong { max: 30 }
            )))
        ));
        assert!(matches!(
            HeaderScanner::new().scan(&b, Some(0), 1 << 20),
            Err(ParseError::Invalid(Error::Limit(
                LimitError::TooManyEncryptedDataKeys { count: 1, max: 0 }
            )))
        ));
        assert!(matches!(
            HeaderScanner::new().scan(b"Ag", None, 1 << 20),
            Err(ParseError::Invalid(Error::Format(FormatError::LooksBase64)))
        ));
        assert!(matches!(
            HeaderScanner::new().scan(&[9], None, 1 << 20),
            Err(ParseError::Invalid(Error::Format(
                FormatError::UnknownVersion(9)
            )))
        ));
    }

    #[test]
    fn invalid_fields_are_named() {
        let h = sample(&AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF);
        let good = h.serialize().unwrap();
        let check = |pos: usize, val: u8, want: FormatError| {
            let mut b = good.clone();
            b[pos] = val;
            match HeaderBody::parse(&b, None) {
                Err(ParseError::Invalid(Error::Format(e))) => assert_eq!(e, want),
                other => panic!("byte {pos}: {other:?}"),
            }
        };
        check(0, 3, FormatError::UnknownVersion(3));
        check(1, 0x81, FormatError::UnknownMessageType(0x81));
        check(3, 0x15, FormatError::UnknownAlgorithmSuite(0x0015));
        let ct = good.len() - 10;
        check(ct, 3, FormatError::UnknownContentType(3));
        check(ct + 2, 1, FormatError::ReservedBytesNotZero);
        check(ct + 5, 16, FormatError::BadIvLength(16));
        let mut b = good.clone();
        b[2] = 0x04;
        b[3] = 0x78;
        assert!(matches!(
            HeaderBody::parse(&b, None),
            Err(ParseError::Invalid(Error::Format(
                FormatError::SuiteVersionMismatch {
                    version: 1,
                    suite: 0x0478
                }
            )))
        ));
        assert!(matches!(
            HeaderBody::parse(b"AYAAA", None),
            Err(ParseError::Invalid(Error::Format(FormatError::LooksBase64)))
        ));
        assert!(matches!(
            HeaderBody::parse(&good, Some(0)),
            Err(ParseError::Invalid(Error::Limit(
                LimitError::TooManyEncryptedDataKeys { count: 1, max: 0 }
            )))
        ));
    }
}
