//! `esdk inspect`: the header of a message as JSON, without any key.
//!
//! Only the header body is read, no byte more. Nothing is authenticated: the output
//! describes what the message claims.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine;
use esdk::format::header::{ContentType, HeaderScanner};
use esdk::format::ParseError;
use esdk::{DecryptOptions, EncryptedDataKey, HeaderBody};
use serde::Serialize;

use crate::args::InspectArgs;
use crate::error::CliError;
use crate::files::Input;

/// The JSON document printed by `inspect`. Field order is the output order.
#[derive(Debug, Serialize)]
pub struct HeaderJson {
    /// Message format version: 1 or 2.
    pub version: u8,
    /// The algorithm suite.
    pub algorithm_suite: SuiteJson,
    /// The message ID in lower-case hex.
    pub message_id: String,
    /// The stored encryption context.
    pub encryption_context: BTreeMap<String, String>,
    /// The encrypted data keys.
    pub encrypted_data_keys: Vec<DataKeyJson>,
    /// `framed` or `non-framed`.
    pub content_type: &'static str,
    /// The frame length (0 for non-framed).
    pub frame_length: u32,
}

/// An algorithm suite in the JSON output.
#[derive(Debug, Serialize)]
pub struct SuiteJson {
    /// `0x0578`.
    pub id: String,
    /// The spec name.
    pub name: &'static str,
}

/// An encrypted data key in the JSON output.
#[derive(Debug, Serialize)]
pub struct DataKeyJson {
    /// The key provider ID (the namespace for raw keys).
    pub provider_id: String,
    /// The provider info as text when it is printable UTF-8, otherwise base64.
    pub provider_info: String,
    /// The provider info in base64, always.
    pub provider_info_base64: String,
    /// The wrapping key's name: the text before the tag length, IV length and IV of a raw
    /// AES provider info, or the whole provider info when it is printable (raw RSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The length of the wrapped data key.
    pub ciphertext_length: usize,
}

impl HeaderJson {
    /// Describes a parsed header.
    pub fn new(h: &HeaderBody) -> HeaderJson {
        HeaderJson {
            version: h.version().byte(),
            algorithm_suite: SuiteJson {
                id: format!("{:#06x}", h.suite.id()),
                name: h.suite.name(),
            },
            message_id: hex(&h.message_id),
            encryption_context: h
                .encryption_context
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            encrypted_data_keys: h.encrypted_data_keys.iter().map(DataKeyJson::new).collect(),
            content_type: match h.content_type {
                ContentType::Framed => "framed",
                ContentType::NonFramed => "non-framed",
            },
            frame_length: h.frame_length,
        }
    }
}

impl DataKeyJson {
    fn new(edk: &EncryptedDataKey) -> DataKeyJson {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&edk.provider_info);
        DataKeyJson {
            provider_id: edk.provider_id.clone(),
            provider_info: printable_text(&edk.provider_info).unwrap_or_else(|| b64.clone()),
            provider_info_base64: b64,
            key_name: key_name(&edk.provider_info),
            ciphertext_length: edk.ciphertext.len(),
        }
    }
}

/// The key name of a raw AES (`name || u32 128 || u32 12 || 12-byte IV`) or raw RSA
/// (`name`) provider info.
fn key_name(info: &[u8]) -> Option<String> {
    const RAW_AES_TAIL: [u8; 8] = [0, 0, 0, 0x80, 0, 0, 0, 0x0C];
    if let Some(split) = info.len().checked_sub(20) {
        if info[split..split + 8] == RAW_AES_TAIL {
            return printable_text(&info[..split]);
        }
    }
    printable_text(info)
}

/// The bytes as text if they are UTF-8 without control characters.
pub fn printable_text(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    if s.chars().any(char::is_control) {
        return None;
    }
    Some(s.to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and parses the header body at the start of `input`, reading exactly the header:
/// the library's resumable scanner says how many bytes the next step needs, so the work is
/// linear in the header's length.
pub fn read_header(input: &mut impl Read) -> Result<HeaderBody, CliError> {
    let max = DecryptOptions::default().max_header_length;
    let mut scanner = HeaderScanner::new();
    let mut buf = Vec::new();
    loop {
        let needed = match scanner.scan(&buf, None, max) {
            Ok(_) => {
                return match HeaderBody::parse(&buf, None) {
                    Ok((header, _)) => Ok(header),
                    Err(ParseError::Invalid(e)) => Err(CliError::esdk(&e)),
                    Err(ParseError::Incomplete { .. }) => Err(truncated(buf.len())),
                }
            }
            Err(ParseError::Invalid(e)) => return Err(CliError::esdk(&e)),
            Err(ParseError::Incomplete { needed }) => needed,
        };
        let want = (needed - buf.len()) as u64;
        let got = input
            .by_ref()
            .take(want)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::io("reading the input", &e))?;
        if buf.is_empty() {
            return Err(CliError::Failed("the input is empty".into()));
        }
        if (got as u64) < want {
            return Err(truncated(buf.len()));
        }
    }
}

/// The error for input that ends inside the header.
pub fn truncated(read: usize) -> CliError {
    CliError::Failed(format!(
        "truncated message: the input ended inside the header, after {read} bytes"
    ))
}

/// Prints the header of IN as pretty JSON.
pub fn run(a: InspectArgs) -> Result<(), CliError> {
    let mut input = Input::open(&a.input)?;
    let header = read_header(&mut input)?;
    let json = serde_json::to_string_pretty(&HeaderJson::new(&header))
        .map_err(|e| CliError::Failed(format!("internal error: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}")
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Failed(format!("writing to standard output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::Arc;

    fn message(suite: u16, policy: esdk::CommitmentPolicy) -> Vec<u8> {
        let key = esdk::WrappingKey::new(vec![1; 32]).unwrap();
        let kr = Arc::new(esdk::RawAesKeyring::new("ns", "key", key).unwrap());
        let mut o = esdk::EncryptOptions {
            algorithm_suite: esdk::AlgorithmSuite::from_id(suite),
            commitment_policy: policy,
            frame_length: 512,
            ..Default::default()
        };
        o.encryption_context.insert("purpose", "test");
        esdk::encrypt(kr, &[0u8; 2000], o).unwrap()
    }

    #[test]
    fn reads_exactly_the_header() {
        let m = message(0x0478, esdk::CommitmentPolicy::default());
        let (_, len) = HeaderBody::parse(&m, None).unwrap();
        let mut r = Cursor::new(&m);
        let h = read_header(&mut r).unwrap();
        assert_eq!(r.position() as usize, len);
        let j = HeaderJson::new(&h);
        assert_eq!(j.version, 2);
        assert_eq!(j.algorithm_suite.id, "0x0478");
        assert_eq!(j.message_id.len(), 64);
        assert_eq!(j.frame_length, 512);
        assert_eq!(j.content_type, "framed");
        assert_eq!(j.encrypted_data_keys.len(), 1);
        let edk = &j.encrypted_data_keys[0];
        assert_eq!(edk.provider_id, "ns");
        assert_eq!(edk.provider_info, edk.provider_info_base64);
        assert_eq!(edk.ciphertext_length, 48);

        let v1 = message(0x0178, esdk::CommitmentPolicy::ForbidEncryptAllowDecrypt);
        let j = HeaderJson::new(&read_header(&mut Cursor::new(&v1)).unwrap());
        assert_eq!((j.version, j.message_id.len()), (1, 32));
    }

    #[test]
    fn refuses_short_and_foreign_input() {
        let m = message(0x0578, esdk::CommitmentPolicy::default());
        let (_, len) = HeaderBody::parse(&m, None).unwrap();
        for cut in [1, 3, 40, len - 1] {
            let e = read_header(&mut Cursor::new(&m[..cut])).unwrap_err();
            assert_eq!(e, truncated(cut), "{cut}");
        }
        assert_eq!(
            read_header(&mut Cursor::new(b"")).unwrap_err(),
            CliError::Failed("the input is empty".into())
        );
        let e = read_header(&mut Cursor::new(b"id,name\n1,x\n")).unwrap_err();
        assert!(e.to_string().contains("not an ESDK message"), "{e}");
    }

    #[test]
    fn provider_info_rendering() {
        assert_eq!(
            printable_text(b"arn:aws:kms:key"),
            Some("arn:aws:kms:key".into())
        );
        assert_eq!(printable_text("ключ".as_bytes()), Some("ключ".into()));
        assert_eq!(printable_text(b""), Some(String::new()));
        assert_eq!(printable_text(b"key\0\0\0\x80"), None);
        assert_eq!(printable_text(b"tab\there"), None);
        assert_eq!(printable_text(&[0xff, 0xfe]), None);
    }

    #[test]
    fn key_names_of_raw_aes_and_rsa() {
        let mut aes = b"my-key".to_vec();
        aes.extend_from_slice(&[0, 0, 0, 0x80, 0, 0, 0, 0x0C]);
        aes.extend_from_slice(&[0x9C; 12]);
        assert_eq!(key_name(&aes), Some("my-key".into()));
        assert_eq!(key_name(b"rsa-key"), Some("rsa-key".into()));
        assert_eq!(key_name(&[0xff; 30]), None);
    }
}
