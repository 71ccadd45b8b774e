//! Opening IN and OUT: `-` for the standard streams, files otherwise.
//!
//! A file OUT is written as a temporary file in OUT's directory and renamed over OUT only by
//! [`Output::commit`]; dropping an uncommitted [`Output`] deletes the temporary file, so a
//! failed command leaves neither a partial OUT nor a temporary file, and never touches a
//! pre-existing OUT.

use std::fs::{File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The temporary output file of this process, removed by the signal handler if the
/// process is interrupted before the output is committed.
static PENDING_TEMP: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn set_pending_temp(path: Option<PathBuf>) {
    if let Ok(mut slot) = PENDING_TEMP.lock() {
        *slot = path;
    }
}

/// On SIGINT, SIGTERM or SIGHUP: delete the uncommitted temporary output (so an
/// interrupted decryption leaves no plaintext behind) and exit with 128 + the signal.
pub fn clean_up_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            if let Ok(slot) = PENDING_TEMP.lock() {
                if let Some(path) = slot.as_ref() {
                    let _ = std::fs::remove_file(path);
                }
            }
            std::process::exit(128 + sig);
        }
    });
}

use crate::error::CliError;

/// Whether a path argument means a standard stream.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The input of a command.
pub struct Input {
    reader: Box<dyn Read>,
    len: Option<u64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("len", &self.len).finish()
    }
}

impl Input {
    /// Opens `path`, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Input, CliError> {
        if is_stdio(path) {
            return Ok(Input {
                reader: Box::new(io::stdin().lock()),
                len: None,
            });
        }
        let fail =
            |e: io::Error| CliError::Failed(format!("cannot open input {}: {e}", path.display()));
        let file = File::open(path).map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        if meta.is_dir() {
            return Err(CliError::Failed(format!(
                "cannot open input {}: it is a directory",
                path.display()
            )));
        }
        Ok(Input {
            reader: Box::new(file),
            len: meta.is_file().then_some(meta.len()),
        })
    }

    /// The input's size, when it is a regular file.
    pub fn len(&self) -> Option<u64> {
        self.len
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The output of a command.
pub enum Output {
    /// Standard output: written as it comes.
    Stdout(io::Stdout),
    /// An existing device, FIFO or socket: written as it comes.
    Stream(File),
    /// A temporary file that becomes `dest` on commit.
    File {
        /// The temporary file, in `dest`'s directory.
        temp: NamedTempFile,
        /// Where it goes.
        dest: PathBuf,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Stdout(_) => f.write_str("Output::Stdout"),
            Output::Stream(_) => f.write_str("Output::Stream"),
            Output::File { temp, dest } => f
                .debug_struct("Output::File")
                .field("temp", &temp.path())
                .field("dest", dest)
                .finish(),
        }
    }
}

impl Output {
    /// Opens standard output for `-`, or a temporary file next to `path` created with
    /// `mode` (less the umask).
    pub fn create(path: &Path, mode: u32) -> Result<Output, CliError> {
        if is_stdio(path) {
            return Ok(Output::Stdout(io::stdout()));
        }
        if path.is_dir() {
            return Err(CliError::Failed(format!(
                "cannot write output {}: it is a directory",
                path.display()
            )));
        }
        // A symbolic link at OUT is not followed for files: the new file is renamed over
        // the link itself, as `mv` does, and the file it pointed to is left alone. (Following
        // it would let whoever can plant a link in a shared directory such as /tmp choose
        // which file of ours gets replaced.)
        //
        // A device, FIFO or socket (also behind a link, such as /dev/stdout) cannot be
        // replaced by a renamed file: it is written through, as standard output is (a later
        // failure is then reported by the exit status, with the verified part already
        // written).
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.is_file() {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| {
                        CliError::Failed(format!("cannot open output {}: {e}", path.display()))
                    })?;
                return Ok(Output::Stream(file));
            }
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".esdk-")
            .suffix(".tmp")
            .permissions(Permissions::from_mode(mode))
            .tempfile_in(dir)
            .map_err(|e| {
                CliError::Failed(format!(
                    "cannot create a temporary file in {} for the output: {e}",
                    dir.display()
                ))
            })?;
        set_pending_temp(Some(temp.path().to_owned()));
        Ok(Output::File {
            temp,
            dest: path.to_owned(),
        })
    }

    /// Flushes everything; for a file, syncs it and renames it over the destination.
    pub fn commit(self) -> Result<(), CliError> {
        match self {
            Output::Stdout(mut s) => s
                .flush()
                .map_err(|e| CliError::Failed(format!("writing to standard output: {e}"))),
            Output::Stream(mut f) => f
                .flush()
                .map_err(|e| CliError::Failed(format!("writing the output: {e}"))),
            Output::File { mut temp, dest } => {
                let write_err =
                    |e: io::Error| CliError::Failed(format!("writing {}: {e}", dest.display()));
                // The signal handler keeps watching the temporary file until it has been
                // renamed: an interruption during the flush or the sync still removes it.
                let result = temp
                    .flush()
                    .and_then(|()| temp.as_file().sync_all())
                    .map_err(write_err)
                    .and_then(|()| {
                        // On failure the returned error owns the temporary file and
                        // deletes it.
                        temp.persist(&dest).map(drop).map_err(|e| {
                            CliError::Failed(format!(
                                "cannot rename the output to {}: {}",
                                dest.display(),
                                e.error
                            ))
                        })
                    });
                set_pending_temp(None);
                result
            }
        }
    }

    /// A description of the output for error messages.
    pub fn describe(&self) -> String {
        match self {
            Output::Stdout(_) => "writing to standard output".into(),
            Output::Stream(_) => "writing the output".into(),
            Output::File { dest, .. } => format!("writing {}", dest.display()),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::Stream(f) => f.write(buf),
            Output::File { temp, .. } => temp.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::Stream(f) => f.flush(),
            Output::File { temp, .. } => temp.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let mut out = Output::create(&dest, 0o600).unwrap();
        out.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        // Dropped without commit: the old file stays and no temporary file is left.
        let mut out = Output::create(&dest, 0o600).unwrap();
        out.write_all(b"partial").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A link at OUT (planted, say, in a shared directory) is replaced by the new file; the
    /// file it pointed to keeps its content and mode. Devices are written through.
    #[test]
    fn replaces_a_symlink_not_its_target_and_writes_through_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"old").unwrap();
        std::fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut out = Output::create(&link, 0o600).unwrap();
        out.write_all(b"new").unwrap();
        out.commit().unwrap();
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        let target_mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(target_mode & 0o777, 0o644);

        // A dangling link is replaced the same way.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let mut out = Output::create(&dangling, 0o600).unwrap();
        out.write_all(b"x").unwrap();
        out.commit().unwrap();
        assert!(std::fs::symlink_metadata(&dangling).unwrap().is_file());
        assert!(!dir.path().join("nowhere").exists());

        let mut out = Output::create(Path::new("/dev/null"), 0o600).unwrap();
        assert!(matches!(out, Output::Stream(_)));
        out.write_all(b"discarded").unwrap();
        out.commit().unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn refuses_directories() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Output::create(dir.path(), 0o600).is_err());
        assert!(Input::open(dir.path()).is_err());
        assert!(Input::open(&dir.path().join("missing")).is_err());
        let missing_dir = dir.path().join("no").join("out");
        assert!(Output::create(&missing_dir, 0o600).is_err());
    }

    #[test]
    fn read_full_fills() {
        let data = [1u8; 10];
        let mut r = io::Read::chain(&data[..4], &data[4..]);
        let mut buf = [0u8; 8];
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 8);
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 2);
    }
}
