//! Streaming encryption and decryption.
//!
//! [`Encryptor`] and [`Decryptor`] are sans-IO state machines: the caller pushes input and
//! pulls output with [`Encryptor::process`] / [`Decryptor::process`], so any I/O model (a
//! blocking `Read`/`Write`, an async runtime, a C caller's buffers) is a thin layer over
//! them. [`io`] holds the `std::io` fronts.

mod decryptor;
mod encryptor;
pub mod io;

pub use decryptor::{
    DecryptOptions, Decryptor, DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_LENGTH,
};
pub use encryptor::{EncryptOptions, Encryptor, DEFAULT_FRAME_LENGTH};

/// What one `process` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Input bytes consumed. Bytes not consumed must be passed again.
    pub consumed: usize,
    /// Output bytes written.
    pub produced: usize,
}

/// Appends `data` to a buffer that holds secrets. When the buffer must grow, the new block
/// is allocated here and the old one zeroed before it is freed, so no copy of the secret is
/// left behind in freed memory. `cap_hint` (the most the buffer will hold; 0 for unknown)
/// bounds the doubling.
pub(crate) fn extend_zeroizing(buf: &mut Vec<u8>, data: &[u8], cap_hint: usize) {
    let need = buf.len() + data.len();
    if need > buf.capacity() {
        let mut cap = need.max(buf.capacity().saturating_mul(2)).max(64);
        if cap_hint >= need {
            cap = cap.min(cap_hint);
        }
        let mut grown = Vec::with_capacity(cap);
        grown.extend_from_slice(buf);
        zeroize::Zeroize::zeroize(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

/// Copies pending bytes into `output`; returns how many were copied.
pub(crate) fn drain(pending: &[u8], output: &mut [u8]) -> usize {
    let n = pending.len().min(output.len());
    output[..n].copy_from_slice(&pending[..n]);
    n
}
