//! The command line: clap definitions and the parsers of option values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use esdk::format::context::RESERVED_PREFIX;
use esdk::{AlgorithmSuite, CommitmentPolicy, EncryptionContext};

/// Encrypt, decrypt and inspect AWS Encryption SDK messages.
///
/// Exit status: 0 on success, 1 when the operation fails, 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "esdk", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encrypt a file into an ESDK message.
    Encrypt(EncryptArgs),
    /// Decrypt an ESDK message. OUT appears only once the whole message has verified.
    Decrypt(DecryptArgs),
    /// Print a message's header as JSON (unauthenticated: no key is used).
    Inspect(InspectArgs),
    /// Write a new random raw AES key to a file (mode 0600; never overwrites).
    GenerateKey(GenerateKeyArgs),
}

const SPEC_HELP: &str = "A wrapping key: aes:namespace=NS,name=NAME,key=@PATH (PATH holds the \
raw 16, 24 or 32 key bytes; key=base64:DATA and key=hex:DATA are also accepted but expose the key \
to other local users), or rsa:namespace=NS,name=NAME,padding=PADDING,public-key=@FILE,\
private-key=@FILE (PADDING: pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512; each FILE \
holds a PEM or DER key; encrypt needs public-key, decrypt needs private-key, and the public key \
is never derived from the private one, so give both for a key used both ways). Repeat for \
several keys, AES and RSA mixed as needed. On encrypt the first one generates the data key and \
every one wraps it; on decrypt each is tried in turn, and any one that wrapped the data key \
decrypts.";

/// Options shared by encrypt and decrypt.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Input file, or - for standard input.
    #[arg(short = 'i', long = "input", value_name = "IN")]
    pub input: PathBuf,
    /// Output file, or - for standard output. Written through a temporary file in the
    /// same directory and renamed into place only on success.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// The wrapping keys: the first generates the data key, each wraps it, any one decrypts.
    #[arg(
        long = "wrapping-key",
        value_name = "SPEC",
        required = true,
        help = "A wrapping key, e.g. aes:namespace=NS,name=NAME,key=@PATH (repeatable)",
        long_help = SPEC_HELP
    )]
    pub wrapping_keys: Vec<String>,
    /// The commitment policy: forbid-encrypt-allow-decrypt, require-encrypt-allow-decrypt
    /// or require-encrypt-require-decrypt.
    #[arg(
        long = "commitment-policy",
        value_name = "POLICY",
        default_value = "require-encrypt-require-decrypt",
        value_parser = parse_policy
    )]
    pub commitment_policy: CommitmentPolicy,
    /// Fail if the message has more encrypted data keys than N.
    #[arg(long = "max-encrypted-data-keys", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_encrypted_data_keys: Option<u16>,
    /// Threads that seal or open frames, 1 to 256 (default 1). With more, frames are
    /// processed in batches of about 2 MiB per thread; the message is the same.
    #[arg(long = "threads", value_name = "N", default_value = "1",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
}

/// `esdk encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Input, output, keys and policy.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Adds KEY=VALUE to the encryption context (repeatable). The value may contain '='.
    #[arg(short = 'c', long = "encryption-context", value_name = "KEY=VALUE",
          value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// The algorithm suite, by hex ID (0x0578) or name. Default: the policy's default
    /// (0x0578, or 0x0378 under forbid-encrypt-allow-decrypt).
    #[arg(long = "algorithm", value_name = "SUITE", value_parser = parse_suite)]
    pub algorithm: Option<&'static AlgorithmSuite>,
    /// Plaintext bytes per frame (at least 1).
    #[arg(long = "frame-length", value_name = "BYTES", default_value = "4096",
          value_parser = parse_frame_length)]
    pub frame_length: u32,
}

/// `esdk decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Input, output, keys and policy.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Requires KEY=VALUE in the message's encryption context (repeatable); checked right
    /// after the header is read.
    #[arg(short = 'c', long = "encryption-context", value_name = "KEY=VALUE",
          value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Refuse signed messages (checked right after the header).
    #[arg(long = "unsigned-only")]
    pub unsigned_only: bool,
}

/// `esdk inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Input file, or - for standard input. Only the header is read.
    #[arg(short = 'i', long = "input", value_name = "IN")]
    pub input: PathBuf,
}

/// `esdk generate-key`.
#[derive(Debug, Args)]
pub struct GenerateKeyArgs {
    /// The key file to create; it must not exist.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Key size in bits: 128, 192 or 256.
    #[arg(long = "bits", default_value = "256", value_parser = parse_bits)]
    pub bits: u16,
}

/// Parses `KEY=VALUE`, splitting at the first `=`.
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_owned())?;
    if k.is_empty() {
        return Err("the key before '=' is empty".into());
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Parses a suite by hex ID or name.
pub fn parse_suite(text: &str) -> Result<&'static AlgorithmSuite, String> {
    AlgorithmSuite::parse(text).ok_or_else(|| {
        let known: Vec<String> = AlgorithmSuite::ALL
            .iter()
            .map(|s| format!("{:#06x}", s.id()))
            .collect();
        format!(
            "unknown algorithm suite (use a hex ID or a suite name; IDs: {})",
            known.join(", ")
        )
    })
}

/// Parses a commitment policy name.
pub fn parse_policy(text: &str) -> Result<CommitmentPolicy, String> {
    CommitmentPolicy::parse(text).ok_or_else(|| {
        let names: Vec<&str> = CommitmentPolicy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown commitment policy (expected {})", names.join(", "))
    })
}

/// Parses a frame length: 1 to 2^32 - 1.
pub fn parse_frame_length(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of bytes from 1 to 4294967295".to_owned())?;
    if n == 0 {
        return Err(
            "the frame length must be at least 1 (non-framed messages are never written)".into(),
        );
    }
    Ok(n)
}

/// Parses a key size in bits.
pub fn parse_bits(text: &str) -> Result<u16, String> {
    match text.trim() {
        "128" => Ok(128),
        "192" => Ok(192),
        "256" => Ok(256),
        _ => Err("expected 128, 192 or 256".into()),
    }
}

/// Builds an encryption context from `-c` pairs; a key given twice is an error, and so is
/// a key with the reserved prefix when `for_encrypt`.
pub fn context(pairs: &[(String, String)], for_encrypt: bool) -> Result<EncryptionContext, String> {
    let mut ctx = EncryptionContext::new();
    for (k, v) in pairs {
        if for_encrypt && k.starts_with(RESERVED_PREFIX) {
            return Err(format!(
                "invalid -c: the key {k:?} uses the prefix {RESERVED_PREFIX:?}, reserved for the ESDK"
            ));
        }
        if ctx.insert(k.clone(), v.clone()).is_some() {
            return Err(format!("invalid -c: the key {k:?} is given twice"));
        }
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pairs() {
        assert_eq!(parse_pair("a=b"), Ok(("a".into(), "b".into())));
        assert_eq!(parse_pair("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_pair("a="), Ok(("a".into(), String::new())));
        assert!(parse_pair("ab").is_err());
        assert!(parse_pair("=b").is_err());
    }

    #[test]
    fn contexts() {
        let p = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let ctx = context(&[p("a", "1"), p("b", "x=y")], true).unwrap();
        assert_eq!(ctx.get("b"), Some("x=y"));
        assert!(context(&[p("a", "1"), p("a", "1")], false)
            .unwrap_err()
            .contains("twice"));
        assert!(context(&[p("aws-crypto-public-key", "x")], true)
            .unwrap_err()
            .contains("reserved"));
        assert!(context(&[p("aws-crypto-public-key", "x")], false).is_ok());
    }

    #[test]
    fn values() {
        assert_eq!(parse_suite("0x0478").unwrap().id(), 0x0478);
        assert_eq!(
            parse_suite("AES_256_GCM_HKDF_SHA512_COMMIT_KEY")
                .unwrap()
                .id(),
            0x0478
        );
        assert!(parse_suite("0x9999").is_err());
        assert_eq!(
            parse_policy("forbid-encrypt-allow-decrypt"),
            Ok(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        );
        assert!(parse_policy("lax").is_err());
        assert_eq!(parse_frame_length("1"), Ok(1));
        assert!(parse_frame_length("0").unwrap_err().contains("non-framed"));
        assert!(parse_frame_length("4294967296").is_err());
        assert_eq!(parse_bits("192"), Ok(192));
        assert!(parse_bits("512").is_err());
    }

    #[test]
    fn parses_a_full_command_line() {
        let cli = Cli::try_parse_from([
            "esdk",
            "encrypt",
            "-i",
            "-",
            "-o",
            "out",
            "--wrapping-key",
            "aes:a",
            "--wrapping-key",
            "aes:b",
            "-c",
            "k=v=w",
            "--algorithm",
            "0x0478",
            "--frame-length",
            "100",
            "--max-encrypted-data-keys",
            "3",
        ])
        .unwrap();
        let Command::Encrypt(a) = cli.command else {
            panic!("not encrypt")
        };
        assert_eq!(a.common.wrapping_keys, ["aes:a", "aes:b"]);
        assert_eq!(a.context, [("k".to_owned(), "v=w".to_owned())]);
        assert_eq!(a.algorithm.unwrap().id(), 0x0478);
        assert_eq!(a.frame_length, 100);
        assert_eq!(a.common.max_encrypted_data_keys, Some(3));
        assert_eq!(
            a.common.commitment_policy,
            CommitmentPolicy::RequireEncryptRequireDecrypt
        );
        for bad in [
            &["esdk", "encrypt", "-i", "a", "-o", "b"][..],
            &[
                "esdk",
                "encrypt",
                "-i",
                "a",
                "-o",
                "b",
                "--wrapping-key",
                "x",
                "--frame-length",
                "0",
            ],
            &[
                "esdk",
                "decrypt",
                "-i",
                "a",
                "-o",
                "b",
                "--wrapping-key",
                "x",
                "-c",
                "novalue",
            ],
            &["esdk", "generate-key", "-o", "k", "--bits", "64"],
        ] {
            let e = Cli::try_parse_from(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }
}
