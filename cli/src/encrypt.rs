//! `esdk encrypt`.

use std::io::{BufWriter, Write};

use esdk::{DefaultCmm, EncryptOptions, EncryptingWriter, Encryptor};
use zeroize::Zeroizing;

use crate::args::{self, EncryptArgs};
use crate::error::CliError;
use crate::files::{read_full, Input, Output};
use crate::keyspec;
use crate::progress::Progress;
use crate::BUFFER_SIZE;

/// Ciphertext files are created like any file (mode 0666 less the umask).
const OUTPUT_MODE: u32 = 0o666;

/// Encrypts IN into OUT.
pub fn run(a: EncryptArgs) -> Result<(), CliError> {
    let c = &a.common;
    let keyring =
        keyspec::keyring(&c.wrapping_keys, keyspec::Purpose::Encrypt).map_err(CliError::Usage)?;
    let encryption_context = args::context(&a.context, true).map_err(CliError::Usage)?;
    if let Some(suite) = a.algorithm {
        if !c.commitment_policy.allows_encrypt(suite) {
            let hint = if suite.is_committing() {
                "require-encrypt-allow-decrypt or require-encrypt-require-decrypt"
            } else {
                "forbid-encrypt-allow-decrypt"
            };
            return Err(CliError::Usage(format!(
                "--algorithm {:#06x} is not allowed by --commitment-policy {} (it needs {hint})",
                suite.id(),
                c.commitment_policy.name()
            )));
        }
    }
    let options = EncryptOptions {
        encryption_context,
        algorithm_suite: a.algorithm,
        frame_length: a.frame_length,
        commitment_policy: c.commitment_policy,
        max_encrypted_data_keys: c.max_encrypted_data_keys.map(usize::from),
        threads: usize::from(c.threads),
        ..EncryptOptions::default()
    };
    // Materials first: a key or policy failure leaves nothing behind.
    let encryptor =
        Encryptor::new(&DefaultCmm::new(keyring), options).map_err(|e| CliError::esdk(&e))?;

    let input = Input::open(&c.input)?;
    let progress = Progress::for_input(input.len(), "encrypting");
    let mut input = progress.wrap(input);
    let output = Output::create(&c.output, OUTPUT_MODE)?;
    let what = output.describe();

    let mut writer =
        EncryptingWriter::new(BufWriter::with_capacity(BUFFER_SIZE, output), encryptor);
    // Plaintext: wiped when dropped.
    let mut buf = Zeroizing::new(vec![0u8; BUFFER_SIZE]);
    loop {
        let n =
            read_full(&mut input, &mut buf).map_err(|e| CliError::io("reading the input", &e))?;
        if n == 0 {
            break;
        }
        writer
            .write_all(&buf[..n])
            .map_err(|e| CliError::io(&what, &e))?;
    }
    let buffered = writer.finish().map_err(|e| CliError::io(&what, &e))?;
    let output = buffered
        .into_inner()
        .map_err(|e| CliError::io(&what, e.error()))?;
    drop(progress);
    output.commit()
}
