//! The message body (frames, non-framed body), its AAD, and the footer.
//!
//! Spec: `data-format/message-body.md`, `data-format/message-body-aad.md`,
//! `data-format/message-footer.md`.

use super::header::IV_LEN;
use super::{ParseError, Reader};
use crate::error::{Error, FormatError};

/// The first four bytes of a final frame ("Sequence Number End").
/// Spec: message-body.md "Final Frame".
pub const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;

/// Largest content length of a non-framed body: 2^36 - 32 bytes.
/// Spec: message-body.md "Non-Framed Data": "MUST NOT be greater than 2^36 - 32".
pub const MAX_NON_FRAMED_LENGTH: u64 = (1 << 36) - 32;

/// Which body part an AAD is for. Spec: message-body-aad.md "Body AAD Content".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAadContent {
    /// A regular frame.
    Frame,
    /// The final frame.
    FinalFrame,
    /// A non-framed body.
    SingleBlock,
}

impl BodyAadContent {
    /// The ASCII string of this content kind.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            BodyAadContent::Frame => b"AWSKMSEncryptionClient Frame",
            BodyAadContent::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
            BodyAadContent::SingleBlock => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// The AAD of one body part, built on the stack (at most 79 bytes).
pub struct BodyAad {
    buf: [u8; 80],
    len: usize,
}

impl BodyAad {
    /// `message_id || content string || u32 sequence number || u64 content length`.
    /// Spec: message-body-aad.md. Its table says the message ID is 16 bytes; v2 messages use
    /// the header's whole 32-byte message ID (every v2 vector and peer does).
    pub fn new(message_id: &[u8], content: BodyAadContent, seq: u32, length: u64) -> BodyAad {
        let mut buf = [0u8; 80];
        let mut len = 0;
        for part in [
            message_id,
            content.as_bytes(),
            &seq.to_be_bytes(),
            &length.to_be_bytes(),
        ] {
            // message_id is at most 32 bytes, so the parts fit 80 bytes (a longer ID, which
            // no parsed or generated header has, would be cut, never overflow).
            let dst = buf.get_mut(len..).unwrap_or_default();
            let n = part.len().min(dst.len());
            if let (Some(d), Some(s)) = (dst.get_mut(..n), part.get(..n)) {
                d.copy_from_slice(s);
            }
            len = len.saturating_add(n);
        }
        BodyAad { buf, len }
    }

    /// The AAD bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&self.buf)
    }
}

/// The fields that precede a frame's ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame.
    pub is_final: bool,
    /// The sequence number (starts at 1).
    pub sequence_number: u32,
    /// The IV stored in the frame.
    pub iv: [u8; IV_LEN],
    /// The ciphertext length: the frame length for regular frames, the stored content
    /// length for the final frame.
    pub content_length: u32,
}

impl FrameHeader {
    /// Length of a regular frame's header: sequence number and IV.
    pub const REGULAR_LEN: usize = 4 + IV_LEN;
    /// Length of a final frame's header: marker, sequence number, IV, content length.
    pub const FINAL_LEN: usize = 4 + 4 + IV_LEN + 4;

    /// The IV writers use: 8 zero bytes then the big-endian sequence number.
    /// Spec: client-apis/encrypt.md "Construct a frame": the IV is the sequence number
    /// padded to the IV length.
    pub fn iv_for(seq: u32) -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        iv[IV_LEN - 4..].copy_from_slice(&seq.to_be_bytes());
        iv
    }

    /// Parses a frame header. A final frame whose content is longer than `frame_length` is
    /// refused (spec: message-body.md "Encrypted Content Length": MUST be <= frame length).
    pub fn parse(buf: &[u8], frame_length: u32) -> Result<(FrameHeader, usize), ParseError> {
        let mut r = Reader::new(buf);
        let first = r.u32()?;
        let header = if first == FINAL_FRAME_MARKER {
            let sequence_number = r.u32()?;
            let iv = r.array()?;
            let content_length = r.u32()?;
            if content_length > frame_length {
                return Err(FormatError::FinalFrameTooLong {
                    content_length,
                    frame_length,
                }
                .into());
            }
            FrameHeader {
                is_final: true,
                sequence_number,
                iv,
                content_length,
            }
        } else {
            FrameHeader {
                is_final: false,
                sequence_number: first,
                iv: r.array()?,
                content_length: frame_length,
            }
        };
        Ok((header, r.position()))
    }

    /// Writes the frame header into `out` (exactly [`Self::REGULAR_LEN`] or
    /// [`Self::FINAL_LEN`] bytes). A shorter `out` is a caller bug, reported as
    /// [`Error::Unreachable`].
    pub fn write(&self, out: &mut [u8]) -> Result<(), Error> {
        let mut rest = out;
        let mut put = |bytes: &[u8]| -> Result<(), Error> {
            let (dst, tail) = std::mem::take(&mut rest)
                .split_at_mut_checked(bytes.len())
                .ok_or(Error::Unreachable("frame header buffer too short"))?;
            dst.copy_from_slice(bytes);
            rest = tail;
            Ok(())
        };
        if self.is_final {
            put(&FINAL_FRAME_MARKER.to_be_bytes())?;
        }
        put(&self.sequence_number.to_be_bytes())?;
        put(&self.iv)?;
        if self.is_final {
            put(&self.content_length.to_be_bytes())?;
        }
        Ok(())
    }
}

/// The fields that precede a non-framed body's ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonFramedHeader {
    /// The stored IV.
    pub iv: [u8; IV_LEN],
    /// The ciphertext length.
    pub content_length: u64,
}

impl NonFramedHeader {
    /// Serialized length: IV and a u64 length.
    pub const LEN: usize = IV_LEN + 8;

    /// Parses the IV and content length of a non-framed body.
    pub fn parse(buf: &[u8]) -> Result<NonFramedHeader, ParseError> {
        let mut r = Reader::new(buf);
        let iv = r.array()?;
        let content_length = r.u64()?;
        Ok(NonFramedHeader { iv, content_length })
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
    fn final_frame_aad_matches_the_spec_example() {
        let mid = [0xAB; 16];
        let aad = BodyAad::new(&mid, BodyAadContent::FinalFrame, 3, 142);
        let mut want = mid.to_vec();
        want.extend_from_slice(b"AWSKMSEncryptionClient Final Frame");
        want.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0x8E]);
        assert_eq!(aad.as_bytes(), &want[..]);
        let long = BodyAad::new(&[1; 32], BodyAadContent::SingleBlock, 1, 5);
        assert_eq!(long.as_bytes().len(), 32 + 35 + 12);
    }

    #[test]
    fn frame_headers_roundtrip() {
        let f = FrameHeader {
            is_final: true,
            sequence_number: 7,
            iv: FrameHeader::iv_for(7),
            content_length: 10,
        };
        let mut b = [0u8; FrameHeader::FINAL_LEN];
        f.write(&mut b).unwrap();
        assert_eq!(&b[..8], &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 7]);
        assert_eq!(
            FrameHeader::parse(&b, 10).unwrap(),
            (f, FrameHeader::FINAL_LEN)
        );
        assert!(matches!(
            FrameHeader::parse(&b, 9),
            Err(ParseError::Invalid(crate::Error::Format(
                FormatError::FinalFrameTooLong {
                    content_length: 10,
                    frame_length: 9
                }
            )))
        ));
        let r = FrameHeader {
            is_final: false,
            sequence_number: 1,
            iv: FrameHeader::iv_for(1),
            content_length: 4096,
        };
        let mut b = [0u8; FrameHeader::REGULAR_LEN];
        r.write(&mut b).unwrap();
        assert_eq!(b, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(FrameHeader::parse(&b, 4096).unwrap(), (r, 16));
        assert!(matches!(
            FrameHeader::parse(&b[..5], 4096),
            Err(ParseError::Incomplete { needed: 16 })
        ));
    }
}
