//! `std::io` fronts over the sans-IO [`Encryptor`] and [`Decryptor`].

use std::io::{self, Read, Write};

use super::{Decryptor, Encryptor};
use crate::error::Error;

/// Encrypts everything written to it into an inner writer.
///
/// [`finish`](Self::finish) must be called: it writes the final frame and the footer and
/// returns the inner writer. Dropping the writer without `finish` leaves an incomplete
/// message behind (which every decryptor refuses as truncated); it never finishes silently.
pub struct EncryptingWriter<W: Write> {
    inner: W,
    enc: Encryptor,
}

impl<W: Write> std::fmt::Debug for EncryptingWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingWriter")
            .field("encryptor", &self.enc)
            .finish_non_exhaustive()
    }
}

impl<W: Write> EncryptingWriter<W> {
    /// Wraps `inner`; the header is written with the first write or at `finish`.
    pub fn new(inner: W, encryptor: Encryptor) -> Self {
        EncryptingWriter {
            inner,
            enc: encryptor,
        }
    }

    /// The encryptor (for the header of the message being written).
    pub fn encryptor(&self) -> &Encryptor {
        &self.enc
    }

    fn write_pending(&mut self) -> io::Result<()> {
        loop {
            let pending = self.enc.pending();
            if pending.is_empty() {
                return Ok(());
            }
            let n = pending.len();
            self.inner.write_all(pending)?;
            self.enc.consume(n);
        }
    }

    /// Writes the final frame and footer, flushes, and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.enc.end_input();
        while !self.enc.is_done() {
            self.write_pending()?;
            self.enc.push(&[]).map_err(io::Error::from)?;
            if self.enc.pending().is_empty() && !self.enc.is_done() {
                return Err(Error::Unreachable("encryptor stalled at finish").into());
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut used = 0;
        while used < buf.len() {
            self.write_pending()?;
            let n = self
                .enc
                .push(buf.get(used..).unwrap_or_default())
                .map_err(io::Error::from)?;
            used = used.saturating_add(n);
            if n == 0 && self.enc.pending().is_empty() {
                return Err(Error::Unreachable("encryptor took no input").into());
            }
        }
        Ok(used)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.inner.flush()
    }
}

/// Size of the read-ahead buffer of [`DecryptingReader`].
const READ_CHUNK: usize = 64 * 1024;

/// Decrypts a message read from an inner reader.
///
/// `read` returns only plaintext whose frame tag has verified; the last frame only once the
/// whole message (signature included) has verified and the inner reader is at its end.
/// Any failure is an `io::Error` whose inner error is an [`Error`] ([`Error::from_io`]).
pub struct DecryptingReader<R: Read> {
    inner: R,
    dec: Decryptor,
    inbuf: Box<[u8]>,
    in_start: usize,
    in_end: usize,
    eof: bool,
}

impl<R: Read> std::fmt::Debug for DecryptingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptingReader")
            .field("decryptor", &self.dec)
            .finish_non_exhaustive()
    }
}

impl<R: Read> DecryptingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, decryptor: Decryptor) -> Self {
        DecryptingReader {
            inner,
            dec: decryptor,
            inbuf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            in_start: 0,
            in_end: 0,
            eof: false,
        }
    }

    /// The decryptor: its header once authenticated, and whether the signature verified.
    pub fn decryptor(&self) -> &Decryptor {
        &self.dec
    }

    /// Returns the inner reader. Only meaningful after `read` has returned 0.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn fill(&mut self) -> io::Result<()> {
        loop {
            match self.inner.read(&mut self.inbuf) {
                Ok(0) => {
                    self.eof = true;
                    self.dec.end_input();
                    return Ok(());
                }
                Ok(n) => {
                    self.in_start = 0;
                    self.in_end = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self
                .inbuf
                .get(self.in_start..self.in_end)
                .ok_or(Error::Unreachable("input window out of range"))?;
            let p = self.dec.process(input, out).map_err(io::Error::from)?;
            self.in_start = self.in_start.saturating_add(p.consumed);
            if p.produced > 0 {
                return Ok(p.produced);
            }
            if self.dec.is_done() {
                return Ok(0);
            }
            if self.in_start == self.in_end {
                if self.eof {
                    // end_input was declared and process made no progress: it has
                    // reported truncation already, or the message is done.
                    let p = self.dec.process(&[], out).map_err(io::Error::from)?;
                    if p.produced > 0 {
                        return Ok(p.produced);
                    }
                    if self.dec.is_done() {
                        return Ok(0);
                    }
                    return Err(Error::Unreachable("decryptor stalled at end of input").into());
                }
                self.fill()?;
            } else if p.consumed == 0 {
                return Err(Error::Unreachable("decryptor took no input").into());
            }
        }
    }
}

/// Encrypts all of `reader` into `writer` with the given encryptor; returns the writer.
pub fn encrypt_stream<R: Read, W: Write>(
    mut reader: R,
    writer: W,
    encryptor: Encryptor,
) -> io::Result<W> {
    let mut w = EncryptingWriter::new(writer, encryptor);
    io::copy(&mut reader, &mut w)?;
    w.finish()
}
