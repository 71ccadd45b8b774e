//! Secret key newtypes: not `Clone`, zeroized on drop, `Debug` redacted.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Result;

/// A plaintext data key: the per-message secret that keyrings wrap and unwrap.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey(Vec<u8>);

impl DataKey {
    /// Wraps key bytes. The vector is taken over (not copied) and zeroized on drop.
    pub fn new(bytes: Vec<u8>) -> Self {
        DataKey(bytes)
    }

    /// Copies key bytes from a slice.
    pub fn from_slice(bytes: &[u8]) -> Self {
        DataKey(bytes.to_vec())
    }

    /// A fresh random data key of `len` bytes.
    pub fn generate(len: usize) -> Result<Self> {
        let mut k = DataKey(vec![0u8; len]);
        super::fill_random(&mut k.0)?;
        Ok(k)
    }

    /// The key bytes. Keep the borrow short; never copy them into memory that is not zeroized.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The key length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the key is empty (never for a valid key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// A 32-byte commit key (v2 "algorithm suite data"). Not itself secret once written, but
/// derived from the data key, so it is handled like one until it is.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct CommitKey(pub(crate) [u8; 32]);

impl fmt::Debug for CommitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommitKey([redacted])")
    }
}
