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

/// Copies pending bytes into `output`; returns how many were copied.
pub(crate) fn drain(pending: &[u8], output: &mut [u8]) -> usize {
    let n = pending.len().min(output.len());
    output[..n].copy_from_slice(&pending[..n]);
    n
}
