//! Streaming encryption and decryption.
//!
//! [`Encryptor`] and [`Decryptor`] are sans-IO state machines: the caller pushes input and
//! pulls output with [`Encryptor::process`] / [`Decryptor::process`], so any I/O model (a
//! blocking `Read`/`Write`, an async runtime, a C caller's buffers) is a thin layer over
//! them. [`io`] holds the `std::io` fronts.

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

use std::slice::SliceIndex;

use crate::error::{Error, Result};

mod decryptor;
mod encryptor;
pub mod io;

pub use decryptor::{
    DecryptOptions, Decryptor, DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_HEADER_LENGTH,
};
pub use encryptor::{
    EncryptOptions, Encryptor, BATCH_BYTES_PER_THREAD, DEFAULT_FRAME_LENGTH, MAX_THREADS,
};

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
    let need = buf.len().saturating_add(data.len());
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

/// `buf[index]`, or [`Error::Unreachable`] for an index the code believes is always in
/// bounds (the lints of this module forbid plain indexing).
pub(crate) fn at<I: SliceIndex<[u8]>>(buf: &[u8], index: I) -> Result<&I::Output> {
    buf.get(index)
        .ok_or(Error::Unreachable("buffer index out of bounds"))
}

/// `&mut buf[index]`, or [`Error::Unreachable`] as for [`at`].
pub(crate) fn at_mut<I: SliceIndex<[u8]>>(buf: &mut [u8], index: I) -> Result<&mut I::Output> {
    buf.get_mut(index)
        .ok_or(Error::Unreachable("buffer index out of bounds"))
}

/// `a + b` for lengths of buffers in memory, where overflow cannot happen; still an
/// [`Error::Unreachable`] rather than a wrap.
pub(crate) fn add(a: usize, b: usize) -> Result<usize> {
    a.checked_add(b)
        .ok_or(Error::Unreachable("length overflow"))
}

/// Runs `f` on every item on up to `threads` threads, the calling thread included, each
/// thread taking a contiguous share and stopping at its first error. Returns the first
/// error of the calling thread or of the workers in order.
pub(crate) fn run_parallel<T, F>(threads: usize, items: &mut [T], f: F) -> Result<()>
where
    T: Send,
    F: Fn(&mut T) -> Result<()> + Sync,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter_mut().try_for_each(f);
    }
    let share = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut shares = items.chunks_mut(share);
        let mine = shares.next();
        let workers: Vec<_> = shares
            .map(|share| scope.spawn(move || share.iter_mut().try_for_each(f)))
            .collect();
        let mut result = mine.map_or(Ok(()), |share| share.iter_mut().try_for_each(f));
        for worker in workers {
            let r = worker
                .join()
                .unwrap_or(Err(Error::Unreachable("a worker thread panicked")));
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}

/// Copies pending bytes into `output`; returns how many were copied.
pub(crate) fn drain(pending: &[u8], output: &mut [u8]) -> usize {
    let n = pending.len().min(output.len());
    match (output.get_mut(..n), pending.get(..n)) {
        (Some(dst), Some(src)) => {
            dst.copy_from_slice(src);
            n
        }
        _ => 0,
    }
}
