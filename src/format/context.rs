//! The encryption context and its serialization.
//!
//! Spec: `framework/structures.md` "Encryption Context" and
//! `data-format/message-header.md` "AAD" / "Key Value Pairs".

use std::collections::BTreeMap;

use super::{ParseError, Reader};
use crate::error::{Error, FormatError, LimitError};

/// The reserved prefix of encryption-context keys written by the ESDK itself.
/// Spec: `client-apis/encrypt.md` "Encryption Context": the encrypt operation MUST fail if a
/// caller key starts with it.
pub const RESERVED_PREFIX: &str = "aws-crypto-";

/// The key under which signing suites store the signature verification key.
/// Spec: `framework/default-cmm.md` "Get Encryption Materials".
pub const PUBLIC_KEY_FIELD: &str = "aws-crypto-public-key";

/// Non-secret key-value pairs bound to a message.
///
/// Kept in the canonical order of the format (ascending by the UTF-8 bytes of the key) by
/// construction: `String`'s ordering is byte-wise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a pair, returning the previous value of the key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(key.into(), value.into())
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The pairs whose keys are in `keys`, in canonical order.
    pub fn restricted_to<'a>(&self, keys: impl IntoIterator<Item = &'a String>) -> Self {
        let mut out = Self::new();
        for k in keys {
            if let Some(v) = self.0.get(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// The canonical serialization: empty for an empty context, else a `u16` pair count and
    /// the `u16`-length-prefixed keys and values, sorted by key bytes.
    pub fn serialize(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if self.0.is_empty() {
            return Ok(out);
        }
        let count =
            u16::try_from(self.0.len()).map_err(|_| LimitError::EncryptionContextTooLarge)?;
        out.extend_from_slice(&count.to_be_bytes());
        for (k, v) in &self.0 {
            super::put_u16_prefixed(&mut out, k.as_bytes(), "an encryption context key")?;
            super::put_u16_prefixed(&mut out, v.as_bytes(), "an encryption context value")?;
        }
        // The whole serialization must fit the header's u16 AAD length.
        if out.len() > usize::from(u16::MAX) {
            return Err(LimitError::EncryptionContextTooLarge.into());
        }
        Ok(out)
    }

    /// Parses the serialized context of exactly `bytes` (the content of the header AAD
    /// section, without its length prefix).
    ///
    /// Accepts the empty form, the legacy "expanded empty" form `00 00` (count 0 in a
    /// two-byte section), and pairs in any order; rejects duplicate keys, invalid UTF-8 and
    /// pairs that do not use up the section exactly.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let mut ctx = Self::new();
        if bytes.is_empty() {
            return Ok(ctx);
        }
        let mut r = Reader::new(bytes);
        let short = |e: ParseError| match e {
            ParseError::Incomplete { .. } => Error::Format(FormatError::BadEncryptionContext(
                "pairs overrun the section",
            )),
            ParseError::Invalid(e) => e,
        };
        let count = r.u16().map_err(short)?;
        if count == 0 {
            if bytes.len() == 2 {
                return Ok(ctx);
            }
            return Err(
                FormatError::BadEncryptionContext("zero pairs in a non-empty section").into(),
            );
        }
        for _ in 0..count {
            let k = r.u16_prefixed().map_err(short)?;
            let v = r.u16_prefixed().map_err(short)?;
            let k = std::str::from_utf8(k).map_err(|_| FormatError::InvalidUtf8)?;
            let v = std::str::from_utf8(v).map_err(|_| FormatError::InvalidUtf8)?;
            if ctx.insert(k, v).is_some() {
                return Err(FormatError::DuplicateContextKey(k.to_owned()).into());
            }
        }
        if r.position() != bytes.len() {
            return Err(FormatError::BadEncryptionContext("bytes left after the last pair").into());
        }
        Ok(ctx)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        EncryptionContext(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<'a> IntoIterator for &'a EncryptionContext {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
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
    fn empty_serializes_to_nothing_and_legacy_form_parses() {
        assert_eq!(
            EncryptionContext::new().serialize().unwrap(),
            Vec::<u8>::new()
        );
        assert!(EncryptionContext::parse(&[]).unwrap().is_empty());
        assert!(EncryptionContext::parse(&[0, 0]).unwrap().is_empty());
        assert!(EncryptionContext::parse(&[0, 0, 0]).is_err());
    }

    #[test]
    fn canonical_order_is_utf8_byte_order() {
        // U+E000 (EE 80 80) sorts before U+1F600 (F0 9F 98 80) in UTF-8 but after it in UTF-16.
        let ctx: EncryptionContext = [("\u{1F600}", "a"), ("\u{E000}", "b"), ("b", "c"), ("", "")]
            .into_iter()
            .collect();
        let keys: Vec<&str> = ctx.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["", "b", "\u{E000}", "\u{1F600}"]);
        let bytes = ctx.serialize().unwrap();
        let mut expected = vec![
            0, 4, 0, 0, 0, 0, 0, 1, b'b', 0, 1, b'c', 0, 3, 0xEE, 0x80, 0x80, 0, 1, b'b',
        ];
        expected.extend_from_slice(&[0, 4, 0xF0, 0x9F, 0x98, 0x80, 0, 1, b'a']);
        assert_eq!(bytes, expected);
        assert_eq!(EncryptionContext::parse(&bytes).unwrap(), ctx);
    }

    #[test]
    fn rejects_duplicates_bad_utf8_and_overruns() {
        let dup = [0, 2, 0, 1, b'a', 0, 0, 0, 1, b'a', 0, 0];
        assert!(matches!(
            EncryptionContext::parse(&dup),
            Err(Error::Format(FormatError::DuplicateContextKey(k))) if k == "a"
        ));
        let bad = [0, 1, 0, 1, 0xFF, 0, 0];
        assert!(matches!(
            EncryptionContext::parse(&bad),
            Err(Error::Format(FormatError::InvalidUtf8))
        ));
        let over = [0, 1, 0, 5, b'a'];
        assert!(matches!(
            EncryptionContext::parse(&over),
            Err(Error::Format(FormatError::BadEncryptionContext(_)))
        ));
        let extra = [0, 1, 0, 1, b'a', 0, 0, 9];
        assert!(matches!(
            EncryptionContext::parse(&extra),
            Err(Error::Format(FormatError::BadEncryptionContext(_)))
        ));
    }

    #[test]
    fn too_large_is_refused() {
        let mut ctx = EncryptionContext::new();
        ctx.insert("k", "v".repeat(70_000));
        assert!(matches!(
            ctx.serialize(),
            Err(Error::Limit(LimitError::FieldTooLong(_)))
        ));
        let mut ctx = EncryptionContext::new();
        ctx.insert("k", "v".repeat(65_530));
        assert!(matches!(
            ctx.serialize(),
            Err(Error::Limit(LimitError::EncryptionContextTooLarge))
        ));
    }
}
