//! The CLI's `--wrapping-key SPEC` parser and its command-line parsing, compiled in from
//! `cli/src` (the binary crate has no library to link against).
//!
//! First input byte even: the rest is one SPEC, given to `keyspec::parse` and, when it
//! parses, turned into a keyring. Odd: the rest is an argument list (one argument per line)
//! after `esdk`, parsed by clap; encrypt and decrypt arguments then go through
//! `keyspec::keyring` and the `-c` context builder, as the commands do before any I/O.
//!
//! Inputs with a `/` are skipped, so that `key=@PATH` reads only files of the working
//! directory (never a device or a FIFO elsewhere).

#![no_main]

#[allow(dead_code)]
#[path = "../../cli/src/args.rs"]
mod args;
#[allow(dead_code)]
#[path = "../../cli/src/keyspec.rs"]
mod keyspec;

use clap::Parser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if text.contains('/') {
        return;
    }
    if mode % 2 == 0 {
        let _ = keyspec::Fields::parse(text);
        for purpose in [keyspec::Purpose::Encrypt, keyspec::Purpose::Decrypt] {
            if let Ok(spec) = keyspec::parse(text) {
                let _ = spec.keyring(purpose);
            }
        }
        let _ = keyspec::keyring(
            &[text.to_owned(), text.to_owned()],
            keyspec::Purpose::Decrypt,
        );
        return;
    }
    let argv = std::iter::once("esdk").chain(text.split('\n'));
    let Ok(cli) = args::Cli::try_parse_from(argv) else {
        return;
    };
    match cli.command {
        args::Command::Encrypt(a) => {
            let _ = keyspec::keyring(&a.common.wrapping_keys, keyspec::Purpose::Encrypt);
            let _ = args::context(&a.context, true);
        }
        args::Command::Decrypt(a) => {
            let _ = keyspec::keyring(&a.common.wrapping_keys, keyspec::Purpose::Decrypt);
            let _ = args::context(&a.context, false);
        }
        _ => {}
    }
});
