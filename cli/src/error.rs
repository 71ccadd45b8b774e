//! The CLI's failure type and its exit codes.

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// Why a command did not succeed.
///
/// Every variant prints as exactly one line on stderr (see [`CliError::report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// The command line is wrong (a bad `--wrapping-key`, `-c`, option combination...).
    /// Exit code 2, like clap's own parse errors.
    Usage(String),
    /// The operation was attempted and failed. Exit code 1.
    Failed(String),
}

/// Exit code of a failed operation.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (clap uses the same).
pub const EXIT_USAGE: u8 = 2;

impl CliError {
    /// A failure carrying a library error.
    pub fn esdk(e: &esdk::Error) -> CliError {
        CliError::Failed(describe_esdk(e))
    }

    /// A failure from an I/O front: the library error inside it when there is one,
    /// otherwise the I/O error with `what` (for example `reading the input`) in front.
    pub fn io(what: &str, e: &io::Error) -> CliError {
        match esdk::Error::from_io(e) {
            Some(inner) => CliError::esdk(inner),
            None => CliError::Failed(format!("{what}: {e}")),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(EXIT_USAGE),
            CliError::Failed(_) => ExitCode::from(EXIT_FAILURE),
        }
    }

    /// Prints the one stderr line for a failure of `command` (`encrypt`, `decrypt`...).
    pub fn report(&self, command: &str) {
        // A closed or full stderr must not turn a reported failure into a panic.
        let _ = writeln!(io::stderr(), "esdk: {}", self.line(command));
    }

    /// The text of the stderr line, without the `esdk: ` prefix.
    pub fn line(&self, command: &str) -> String {
        let text = match self {
            CliError::Usage(m) => m.clone(),
            CliError::Failed(m) => format!("{command} failed: {m}"),
        };
        // Exactly one line, whatever a message holds.
        text.replace(['\n', '\r'], " ")
    }
}

/// The library's message, made clearer where the input is plainly not an ESDK message.
pub fn describe_esdk(e: &esdk::Error) -> String {
    match e {
        esdk::Error::Format(esdk::FormatError::UnknownVersion(_)) => {
            format!("the input is not an ESDK message ({e})")
        }
        _ => e.to_string(),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_codes() {
        let e = CliError::esdk(&esdk::Error::AuthenticationFailed);
        assert_eq!(e.line("decrypt"), "decrypt failed: authentication failed");
        assert_eq!(e.exit_code(), ExitCode::from(1));
        let u = CliError::Usage("bad\nthing".into());
        assert_eq!(u.line("encrypt"), "bad thing");
        assert_eq!(u.exit_code(), ExitCode::from(2));
        let io = io::Error::new(io::ErrorKind::NotFound, "gone");
        assert_eq!(
            CliError::io("reading the input", &io).line("encrypt"),
            "encrypt failed: reading the input: gone"
        );
        let wrapped: io::Error = esdk::Error::AuthenticationFailed.into();
        assert_eq!(
            CliError::io("reading the input", &wrapped),
            CliError::Failed("authentication failed".into())
        );
    }
}
