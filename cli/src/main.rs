//! `esdk`: encrypt, decrypt and inspect AWS Encryption SDK messages from the command line.
//!
//! ```text
//! esdk encrypt -i IN -o OUT --wrapping-key SPEC [--wrapping-key SPEC]... [-c KEY=VALUE]...
//!              [--algorithm 0x0578] [--frame-length 4096] [--commitment-policy POLICY]
//!              [--max-encrypted-data-keys N] [--threads N]
//! esdk decrypt -i IN -o OUT --wrapping-key SPEC [--wrapping-key SPEC]... [-c KEY=VALUE]...
//!              [--commitment-policy POLICY] [--max-encrypted-data-keys N] [--unsigned-only]
//!              [--threads N]
//! esdk inspect -i IN
//! esdk generate-key -o FILE [--bits 256]
//! ```
//!
//! Exit status: 0 on success, 1 when the operation fails (one line on stderr, `esdk: decrypt
//! failed: ...`), 2 on a usage error. A file OUT is written only when the command succeeds.

mod args;
mod decrypt;
mod encrypt;
mod error;
mod files;
mod inspect;
mod keygen;
mod keyspec;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// Size of the I/O buffers: memory use does not grow with the input.
pub const BUFFER_SIZE: usize = 64 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    files::clean_up_on_signals();
    let (name, result) = match cli.command {
        Command::Encrypt(a) => ("encrypt", encrypt::run(a)),
        Command::Decrypt(a) => ("decrypt", decrypt::run(a)),
        Command::Inspect(a) => ("inspect", inspect::run(a)),
        Command::GenerateKey(a) => ("generate-key", keygen::run(a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report(name);
            e.exit_code()
        }
    }
}
