//! `esdk decrypt`.
//!
//! Plaintext comes out of [`DecryptingReader`] one verified frame at a time; the last frame
//! only once the whole message, signature included, has verified and nothing follows it.
//! A file OUT is renamed into place only after that, so a failure leaves no OUT. To
//! standard output, verified frames stream as they come and a later failure exits 1.

use std::io::{self, Read, Write};
use std::sync::Arc;

use esdk::{DecryptOptions, DecryptingReader, Decryptor, DefaultCmm};
use zeroize::Zeroizing;

use crate::args::{self, DecryptArgs};
use crate::error::CliError;
use crate::files::{Input, Output};
use crate::keyspec;
use crate::progress::Progress;
use crate::BUFFER_SIZE;

/// Plaintext files are readable by their owner only.
const OUTPUT_MODE: u32 = 0o600;

/// Decrypts IN into OUT.
pub fn run(a: DecryptArgs) -> Result<(), CliError> {
    let c = &a.common;
    let keyring =
        keyspec::keyring(&c.wrapping_keys, keyspec::Purpose::Decrypt).map_err(CliError::Usage)?;
    let required_encryption_context = args::context(&a.context, false).map_err(CliError::Usage)?;
    let options = DecryptOptions {
        commitment_policy: c.commitment_policy,
        max_encrypted_data_keys: c.max_encrypted_data_keys.map(usize::from),
        unsigned_only: a.unsigned_only,
        required_encryption_context,
        threads: usize::from(c.threads),
        ..DecryptOptions::default()
    };
    let decryptor = Decryptor::new(Arc::new(DefaultCmm::new(keyring)), options);

    let input = Input::open(&c.input)?;
    let progress = Progress::for_input(input.len(), "decrypting");
    let mut reader = DecryptingReader::new(progress.wrap(input), decryptor);
    let mut output = Output::create(&c.output, OUTPUT_MODE)?;
    let what = output.describe();

    // Plaintext: wiped when dropped.
    let mut buf = Zeroizing::new(vec![0u8; BUFFER_SIZE]);
    loop {
        // Each read gives verified plaintext (at most one frame): pass it on at once, so
        // standard output streams and a later failure loses nothing already verified.
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io("reading the input", &e)),
        };
        output
            .write_all(&buf[..n])
            .map_err(|e| CliError::io(&what, &e))?;
    }
    // `read` returned 0: the message is complete, verified, and the input has ended.
    if !reader.decryptor().is_done() {
        return Err(CliError::Failed(
            "internal error: the decryptor stopped before the end of the message".into(),
        ));
    }
    drop(progress);
    output.commit()
}
