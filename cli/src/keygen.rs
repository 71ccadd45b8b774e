//! `esdk generate-key`: a raw AES key file.
//!
//! The key is written to a temporary file (mode 0600) in the destination's directory,
//! synced, then linked into place only if the destination does not exist. The key file
//! therefore either appears whole or not at all, and an existing file is never replaced.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;

use esdk::WrappingKey;

use crate::args::GenerateKeyArgs;
use crate::error::CliError;
use crate::files::is_stdio;

/// Writes a new key file.
pub fn run(a: GenerateKeyArgs) -> Result<(), CliError> {
    let path = &a.output;
    if is_stdio(path) {
        return Err(CliError::Usage(
            "generate-key writes a file; standard output (-) is not supported".into(),
        ));
    }
    let exists = || {
        CliError::Failed(format!(
            "{} already exists; refusing to overwrite it",
            path.display()
        ))
    };
    if path.symlink_metadata().is_ok() {
        return Err(exists());
    }
    let key = WrappingKey::generate(usize::from(a.bits / 8)).map_err(|e| CliError::esdk(&e))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let fail = |e: io::Error| CliError::Failed(format!("writing {}: {e}", path.display()));
    let mut temp = tempfile::Builder::new()
        .prefix(".esdk-key-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(fail)?;
    temp.write_all(key.expose_secret()).map_err(fail)?;
    temp.as_file().sync_all().map_err(fail)?;
    // On failure the error owns the temporary file and deletes it.
    temp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            exists()
        } else {
            fail(e.error)
        }
    })?;
    Ok(())
}
