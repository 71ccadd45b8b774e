//! A progress bar on stderr for long work.
//!
//! Shown only when stderr is a terminal and the input is a regular file of at least
//! [`MIN_SIZE`] bytes, so that it can show bytes done out of a known total. It counts input
//! bytes, and is cleared before anything else is printed.

use std::io::{self, IsTerminal, Read};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this get no progress bar.
pub const MIN_SIZE: u64 = 4 << 20;

/// A progress bar, or nothing.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for reading `len` input bytes, if it is worth showing.
    pub fn for_input(len: Option<u64>, label: &'static str) -> Progress {
        match len {
            Some(total) if total >= MIN_SIZE && io::stderr().is_terminal() => {
                Progress(Some(Self::bar(total, label)))
            }
            _ => Progress(None),
        }
    }

    fn bar(total: u64, label: &'static str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// Wraps a reader so that the bytes read move the bar.
    pub fn wrap<R: Read>(&self, inner: R) -> Counting<R> {
        Counting {
            inner,
            bar: self.0.clone(),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

/// A reader that advances a progress bar.
#[derive(Debug)]
pub struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bar_for_small_or_unknown_inputs() {
        assert!(Progress::for_input(None, "x").0.is_none());
        assert!(Progress::for_input(Some(10), "x").0.is_none());
        let p = Progress::for_input(None, "x");
        let mut r = p.wrap(&b"abc"[..]);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(s, b"abc");
    }
}
