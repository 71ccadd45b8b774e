//! The wire layout of ESDK messages: parsing and serialization only, no cryptography, no I/O.
//!
//! Parsers work on byte slices that may hold only a prefix of a structure; they then answer
//! [`ParseError::Incomplete`] with the total number of bytes needed before trying again, so a
//! streaming caller can buffer without guessing. Every length read from the wire is checked
//! before anything is sized from it, and no allocation is ever made from a length field.
//!
//! Spec: `data-format/message-header.md`, `data-format/message-body.md`,
//! `data-format/message-footer.md`, `framework/structures.md`.

// No panic on any input: code here handles bytes from the wire (and, in stream/,
// caller buffers): no unwrap/expect, no indexing or slicing that can panic, no arithmetic
// that can overflow, no truncating casts. Tests opt out where they need to.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

pub mod body;
pub mod context;
pub mod header;
pub mod suite;

use crate::error::{Error, FormatError, LimitError};

/// Why a parse did not produce a value.
#[derive(Debug)]
pub enum ParseError {
    /// The input is a valid prefix but too short; at least `needed` bytes (counted from the
    /// start of the structure) are required before the parse can make progress.
    Incomplete {
        /// The minimum total input length for the next attempt.
        needed: usize,
    },
    /// The input is invalid.
    Invalid(Error),
}

impl From<FormatError> for ParseError {
    fn from(e: FormatError) -> Self {
        ParseError::Invalid(Error::Format(e))
    }
}

impl From<Error> for ParseError {
    fn from(e: Error) -> Self {
        ParseError::Invalid(e)
    }
}

impl From<LimitError> for ParseError {
    fn from(e: LimitError) -> Self {
        ParseError::Invalid(Error::Limit(e))
    }
}

/// A big-endian cursor over a byte slice that reports a short read as
/// [`ParseError::Incomplete`].
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(ParseError::Invalid(Error::Unreachable("length overflow")))?;
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(ParseError::Incomplete { needed: end }),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ParseError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `u16` length prefix followed by that many bytes.
    pub(crate) fn u16_prefixed(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Appends a `u16` length prefix and the bytes; fails if they do not fit the prefix.
pub(crate) fn put_u16_prefixed(
    out: &mut Vec<u8>,
    bytes: &[u8],
    what: &'static str,
) -> Result<(), Error> {
    let n = u16::try_from(bytes.len()).map_err(|_| LimitError::FieldTooLong(what))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}
