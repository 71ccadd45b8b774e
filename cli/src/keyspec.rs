//! The `--wrapping-key SPEC` parser.
//!
//! A SPEC is `TYPE:FIELD=VALUE,FIELD=VALUE,...`. Values cannot contain `,`.
//!
//! * `aes:namespace=NS,name=NAME,key=SOURCE` — a raw AES keyring. SOURCE is `@PATH` (a file
//!   holding the raw 16, 24 or 32 key bytes), `base64:DATA` or `hex:DATA`.
//! * `rsa:namespace=NS,name=NAME,padding=PADDING,public-key=@FILE,private-key=@FILE` — a raw
//!   RSA keyring. PADDING is `pkcs1`, `oaep-sha1`, `oaep-sha256`, `oaep-sha384` or
//!   `oaep-sha512`. Each FILE holds a PEM or DER key (public: SubjectPublicKeyInfo or PKCS#1;
//!   private: PKCS#8 or PKCS#1, unencrypted). At least one of the two keys is required;
//!   encrypting needs `public-key`, decrypting needs `private-key`, and a key used for both
//!   gives both. The public key is never derived from the private key (the raw RSA keyring
//!   spec forbids it, and [`esdk::RsaPrivateKey`] offers no way to), so a `private-key`-only
//!   SPEC is refused on encrypt, and a `public-key`-only one on decrypt.
//!
//! Parsing happens in two steps so that new key types only add a row to [`KEY_TYPES`] and
//! an arm to [`parse`]: [`Fields::parse`] checks the syntax and the field names of any type
//! (unknown, duplicate, missing fields) and the type-specific code then reads the values.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use esdk::{
    Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring, RsaPadding, RsaPrivateKey, RsaPublicKey,
    WrappingKey,
};
use zeroize::Zeroizing;

/// The largest AES key file read; anything longer is refused without being read to its end.
const MAX_KEY_FILE: u64 = 4096;

/// The largest RSA key file read (an RSA-8192 private key in PEM is about 6.5 KB; room is
/// left for text around the PEM block).
const MAX_RSA_KEY_FILE: u64 = 64 * 1024;

/// What the wrapping keys are for: encrypting needs RSA public keys, decrypting RSA private
/// keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `esdk encrypt`.
    Encrypt,
    /// `esdk decrypt`.
    Decrypt,
}

/// One kind of wrapping key and the fields its SPEC takes.
#[derive(Debug)]
pub struct KeyType {
    /// The SPEC prefix (`aes`).
    pub name: &'static str,
    /// Every field the type accepts.
    pub fields: &'static [&'static str],
    /// The fields that must be present.
    pub required: &'static [&'static str],
}

/// Raw AES keys.
pub const AES: KeyType = KeyType {
    name: "aes",
    fields: &["namespace", "name", "key"],
    required: &["namespace", "name", "key"],
};

/// Raw RSA keys.
pub const RSA: KeyType = KeyType {
    name: "rsa",
    fields: &["namespace", "name", "padding", "public-key", "private-key"],
    required: &["namespace", "name", "padding"],
};

/// Every known key type.
pub const KEY_TYPES: &[&KeyType] = &[&AES, &RSA];

/// Why a SPEC was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// No `TYPE:` in front.
    MissingType,
    /// A `TYPE` that is not known.
    UnknownType(String),
    /// A field that is not `NAME=VALUE`.
    MalformedField(String),
    /// A field the type does not take.
    UnknownField {
        /// The key type.
        key_type: &'static str,
        /// The field name given.
        field: String,
    },
    /// A field given twice.
    DuplicateField(String),
    /// A required field that is absent.
    MissingField(&'static str),
    /// A field whose value is empty.
    EmptyValue(&'static str),
    /// A `key=` value that is not `@PATH`, `base64:` or `hex:`.
    BadKeySource,
    /// `base64:` or `hex:` data that does not decode.
    BadEncoding(&'static str),
    /// The key file could not be read.
    UnreadableFile {
        /// The path after `@`.
        path: PathBuf,
        /// The I/O error.
        error: String,
    },
    /// The key is not 16, 24 or 32 bytes.
    BadKeyLength {
        /// The length found (`None`: longer than [`MAX_KEY_FILE`]).
        len: Option<u64>,
        /// A hint about the probable mistake.
        hint: &'static str,
    },
    /// A `padding=` value that is not one of the five RSA padding schemes.
    BadPadding(String),
    /// A `public-key=` or `private-key=` value that is not `@PATH`.
    BadKeyFileSource(&'static str),
    /// The library refused an RSA key file.
    BadRsaKey {
        /// `public-key` or `private-key`.
        field: &'static str,
        /// The path after `@`.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An RSA SPEC with only a private key, used to encrypt.
    RsaCannotEncrypt,
    /// An RSA SPEC with only a public key, used to decrypt.
    RsaCannotDecrypt,
    /// The library refused the keyring (for example a reserved namespace).
    Keyring(String),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::MissingType => f.write_str(
                "expected TYPE:FIELD=VALUE,... (for example aes:namespace=NS,name=NAME,key=@PATH)",
            ),
            SpecError::UnknownType(t) => {
                let known: Vec<_> = KEY_TYPES.iter().map(|k| k.name).collect();
                write!(
                    f,
                    "unknown key type {t:?} (known types: {})",
                    known.join(", ")
                )
            }
            SpecError::MalformedField(s) => write!(
                f,
                "field {s:?} is not NAME=VALUE (values cannot contain ',')"
            ),
            SpecError::UnknownField { key_type, field } => {
                let fields = KEY_TYPES
                    .iter()
                    .find(|k| k.name == *key_type)
                    .map(|k| k.fields.join(", "))
                    .unwrap_or_default();
                write!(
                    f,
                    "unknown field {field:?} for {key_type} keys (fields: {fields})"
                )
            }
            SpecError::DuplicateField(s) => write!(f, "field {s:?} is given twice"),
            SpecError::MissingField(s) => write!(f, "missing field {s:?}"),
            SpecError::EmptyValue(s) => write!(f, "field {s:?} is empty"),
            SpecError::BadKeySource => {
                f.write_str("key must be @PATH (a raw key file), base64:DATA or hex:DATA")
            }
            SpecError::BadEncoding(what) => write!(f, "the key is not valid {what}"),
            SpecError::UnreadableFile { path, error } => {
                write!(f, "cannot read key file {}: {error}", path.display())
            }
            SpecError::BadKeyLength { len, hint } => {
                match len {
                    Some(n) => write!(f, "an AES key must be 16, 24 or 32 bytes, not {n}")?,
                    None => write!(
                        f,
                        "an AES key must be 16, 24 or 32 bytes; the file is longer than {MAX_KEY_FILE}"
                    )?,
                }
                if !hint.is_empty() {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            SpecError::BadPadding(p) => write!(
                f,
                "unknown RSA padding {:?} (expected pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 \
                 or oaep-sha512)",
                redact(p)
            ),
            SpecError::BadKeyFileSource(field) => {
                write!(f, "{field} must be @PATH (a PEM or DER key file)")
            }
            SpecError::BadRsaKey {
                field,
                path,
                reason,
            } => write!(f, "cannot use {field} file {}: {reason}", path.display()),
            SpecError::RsaCannotEncrypt => f.write_str(
                "this rsa key has only private-key=@PEM, which cannot encrypt: the public key is \
                 never derived from the private key; give both, \
                 public-key=@PEM,private-key=@PEM (or public-key=@PEM alone to encrypt)",
            ),
            SpecError::RsaCannotDecrypt => f.write_str(
                "this rsa key has only public-key=@PEM, which cannot decrypt; give \
                 private-key=@PEM (both may be given: public-key=@PEM,private-key=@PEM)",
            ),
            SpecError::Keyring(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SpecError {}

/// The fields of a SPEC, syntax-checked against its key type.
#[derive(Debug)]
pub struct Fields {
    key_type: &'static KeyType,
    values: BTreeMap<&'static str, String>,
}

impl Fields {
    /// Splits `TYPE:FIELD=VALUE,...` and checks field names against the type.
    pub fn parse(spec: &str) -> Result<Fields, SpecError> {
        let (type_name, rest) = spec.split_once(':').ok_or(SpecError::MissingType)?;
        let type_name = type_name.trim();
        if type_name.is_empty() {
            return Err(SpecError::MissingType);
        }
        let key_type = KEY_TYPES
            .iter()
            .copied()
            .find(|k| k.name.eq_ignore_ascii_case(type_name))
            .ok_or_else(|| SpecError::UnknownType(type_name.to_owned()))?;
        let mut values = BTreeMap::new();
        for part in rest.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| SpecError::MalformedField(redact(part)))?;
            let name = name.trim();
            let field = key_type
                .fields
                .iter()
                .copied()
                .find(|f| *f == name)
                .ok_or_else(|| SpecError::UnknownField {
                    key_type: key_type.name,
                    field: name.to_owned(),
                })?;
            if values.insert(field, value.to_owned()).is_some() {
                return Err(SpecError::DuplicateField(field.to_owned()));
            }
        }
        for required in key_type.required {
            if !values.contains_key(required) {
                return Err(SpecError::MissingField(required));
            }
        }
        for (name, value) in &values {
            if value.is_empty() {
                return Err(SpecError::EmptyValue(name));
            }
        }
        Ok(Fields { key_type, values })
    }

    /// The key type.
    pub fn key_type(&self) -> &'static KeyType {
        self.key_type
    }

    /// The value of a field, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of a required field.
    fn required(&self, name: &'static str) -> Result<&str, SpecError> {
        self.get(name).ok_or(SpecError::MissingField(name))
    }
}

/// A field shown in an error: never echo more than a short prefix, as it may be key
/// material (`hex:...`) mistyped.
fn redact(part: &str) -> String {
    let short: String = part.chars().take(12).collect();
    if short.len() < part.len() {
        format!("{short}...")
    } else {
        short
    }
}

/// A parsed wrapping key.
#[derive(Debug)]
pub enum KeySpec {
    /// A raw AES key.
    Aes {
        /// The key namespace (provider ID).
        namespace: String,
        /// The key name.
        name: String,
        /// The key bytes.
        key: WrappingKey,
    },
    /// A raw RSA key pair, or one half of it.
    Rsa {
        /// The key namespace (provider ID).
        namespace: String,
        /// The key name (provider info).
        name: String,
        /// The padding scheme.
        padding: RsaPadding,
        /// The public key (needed to encrypt).
        public_key: Option<RsaPublicKey>,
        /// The private key (needed to decrypt).
        private_key: Option<RsaPrivateKey>,
    },
}

impl KeySpec {
    /// The keyring for this key, checked for `purpose`: an RSA key without the half that
    /// `purpose` needs is refused here, before any input is read.
    pub fn keyring(self, purpose: Purpose) -> Result<Arc<dyn Keyring>, SpecError> {
        match self {
            KeySpec::Aes {
                namespace,
                name,
                key,
            } => {
                let k = RawAesKeyring::new(&namespace, &name, key)
                    .map_err(|e| SpecError::Keyring(library_message(e)))?;
                Ok(Arc::new(k))
            }
            KeySpec::Rsa {
                namespace,
                name,
                padding,
                public_key,
                private_key,
            } => {
                match purpose {
                    Purpose::Encrypt if public_key.is_none() => {
                        return Err(SpecError::RsaCannotEncrypt)
                    }
                    Purpose::Decrypt if private_key.is_none() => {
                        return Err(SpecError::RsaCannotDecrypt)
                    }
                    _ => {}
                }
                let k = RawRsaKeyring::new(&namespace, &name, padding, public_key, private_key)
                    .map_err(|e| SpecError::Keyring(library_message(e)))?;
                Ok(Arc::new(k))
            }
        }
    }
}

/// Parses one SPEC, reading its key file if it names one.
pub fn parse(spec: &str) -> Result<KeySpec, SpecError> {
    let fields = Fields::parse(spec)?;
    match fields.key_type().name {
        "aes" => {
            let namespace = fields.required("namespace")?.to_owned();
            let name = fields.required("name")?.to_owned();
            let bytes = key_bytes(fields.required("key")?)?;
            let key = aes_key(bytes)?;
            Ok(KeySpec::Aes {
                namespace,
                name,
                key,
            })
        }
        "rsa" => {
            let namespace = fields.required("namespace")?.to_owned();
            let name = fields.required("name")?.to_owned();
            let padding_text = fields.required("padding")?;
            let padding = RsaPadding::parse(padding_text)
                .map_err(|_| SpecError::BadPadding(padding_text.to_owned()))?;
            if fields.get("public-key").is_none() && fields.get("private-key").is_none() {
                return Err(SpecError::MissingField("public-key"));
            }
            let public_key = fields
                .get("public-key")
                .map(|source| {
                    rsa_key(source, "public-key", |bytes, pem| {
                        if pem {
                            RsaPublicKey::from_pem(bytes)
                        } else {
                            RsaPublicKey::from_der(bytes)
                        }
                    })
                })
                .transpose()?;
            let private_key = fields
                .get("private-key")
                .map(|source| {
                    rsa_key(source, "private-key", |bytes, pem| {
                        if pem {
                            RsaPrivateKey::from_pem(bytes)
                        } else {
                            RsaPrivateKey::from_der(bytes)
                        }
                    })
                })
                .transpose()?;
            Ok(KeySpec::Rsa {
                namespace,
                name,
                padding,
                public_key,
                private_key,
            })
        }
        _ => Err(SpecError::UnknownType(fields.key_type().name.to_owned())),
    }
}

/// Builds the keyring for the `--wrapping-key` options: the first key is the generator,
/// the others are children of a multi-keyring. Errors name the option by position.
pub fn keyring(specs: &[String], purpose: Purpose) -> Result<Arc<dyn Keyring>, String> {
    let mut keyrings = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let which = if specs.len() > 1 {
            format!("invalid --wrapping-key #{}", i + 1)
        } else {
            "invalid --wrapping-key".to_owned()
        };
        let kr = parse(spec)
            .and_then(|k| k.keyring(purpose))
            .map_err(|e| format!("{which}: {e}"))?;
        keyrings.push(kr);
    }
    let mut iter = keyrings.into_iter();
    let generator = iter
        .next()
        .ok_or_else(|| "at least one --wrapping-key is required".to_owned())?;
    let children: Vec<_> = iter.collect();
    if children.is_empty() {
        return Ok(generator);
    }
    let multi = MultiKeyring::new(Some(generator), children).map_err(|e| e.to_string())?;
    Ok(Arc::new(multi))
}

/// Decodes a `key=` value into the key bytes.
fn key_bytes(source: &str) -> Result<Zeroizing<Vec<u8>>, SpecError> {
    if let Some(path) = source.strip_prefix('@') {
        return read_key_file(Path::new(path));
    }
    if let Some(b64) = source.strip_prefix("base64:") {
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        return engine
            .decode(b64.trim())
            .map(Zeroizing::new)
            .map_err(|_| SpecError::BadEncoding("base64"));
    }
    if let Some(hex) = source.strip_prefix("hex:") {
        return decode_hex(hex.trim()).ok_or(SpecError::BadEncoding("hex"));
    }
    Err(SpecError::BadKeySource)
}

/// Reads an RSA key file (`@PATH`) and hands it to `load`, with `true` when it is PEM
/// (it has a `-----BEGIN` line) and `false` for DER.
fn rsa_key<K>(
    source: &str,
    field: &'static str,
    load: impl FnOnce(&[u8], bool) -> esdk::Result<K>,
) -> Result<K, SpecError> {
    let path = source
        .strip_prefix('@')
        .ok_or(SpecError::BadKeyFileSource(field))?;
    let path = Path::new(path);
    let bytes = read_file(path, MAX_RSA_KEY_FILE)?.ok_or_else(|| SpecError::BadRsaKey {
        field,
        path: path.to_owned(),
        reason: format!("the file is larger than {MAX_RSA_KEY_FILE} bytes, too large for a key"),
    })?;
    let pem = bytes.windows(10).any(|w| w == b"-----BEGIN");
    load(&bytes, pem).map_err(|e| SpecError::BadRsaKey {
        field,
        path: path.to_owned(),
        // Text without a PEM block: say so rather than report a DER parse failure.
        reason: if !pem && is_text(&bytes) {
            "the file is text without a \"-----BEGIN\" line: neither a PEM nor a DER key".into()
        } else {
            library_message(e)
        },
    })
}

/// The library's reason for refusing a key, without the "invalid argument: " prefix.
fn library_message(e: esdk::Error) -> String {
    match e {
        esdk::Error::InvalidArgument(m) => m,
        other => other.to_string(),
    }
}

fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, SpecError> {
    read_file(path, MAX_KEY_FILE)?.ok_or(SpecError::BadKeyLength {
        len: None,
        hint: "a key file holds only the raw key bytes",
    })
}

/// Reads a key file of at most `max` bytes (`None`: it is longer).
fn read_file(path: &Path, max: u64) -> Result<Option<Zeroizing<Vec<u8>>>, SpecError> {
    let unreadable = |e: std::io::Error| SpecError::UnreadableFile {
        path: path.to_owned(),
        error: e.to_string(),
    };
    if path.as_os_str().is_empty() {
        return Err(SpecError::UnreadableFile {
            path: path.to_owned(),
            error: "no path after '@'".into(),
        });
    }
    let file = File::open(path).map_err(unreadable)?;
    if file.metadata().map_err(unreadable)?.is_dir() {
        return Err(SpecError::UnreadableFile {
            path: path.to_owned(),
            error: "it is a directory".into(),
        });
    }
    // Allocated at its final size, so no partial copy of the key is left behind when the
    // buffer grows.
    let mut bytes = Zeroizing::new(Vec::with_capacity(max as usize + 1));
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// Checks the length and takes the bytes over.
fn aes_key(mut bytes: Zeroizing<Vec<u8>>) -> Result<WrappingKey, SpecError> {
    match bytes.len() {
        16 | 24 | 32 => WrappingKey::new(std::mem::take(&mut *bytes))
            .map_err(|e| SpecError::Keyring(library_message(e))),
        n => Err(SpecError::BadKeyLength {
            len: Some(n as u64),
            hint: length_hint(&bytes),
        }),
    }
}

/// Whether the bytes look like ASCII text (and are not empty).
fn is_text(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Guesses why a key has the wrong length.
fn length_hint(bytes: &[u8]) -> &'static str {
    if is_text(bytes) {
        "it looks like text: a key file holds the raw key bytes; use key=hex:... or \
         key=base64:... for encoded keys, or create one with `esdk generate-key`"
    } else {
        ""
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digits = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks_exact(2) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out.push((hi * 16 + lo) as u8);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn err(spec: &str) -> SpecError {
        parse(spec).expect_err(spec)
    }

    fn aes(spec: &str) -> (String, String, Vec<u8>) {
        match parse(spec).expect(spec) {
            KeySpec::Aes {
                namespace,
                name,
                key,
            } => (namespace, name, key.expose_secret().to_vec()),
            other => panic!("not an AES key: {other:?}"),
        }
    }

    #[test]
    fn aes_inline_keys() {
        let hex = "00112233445566778899aabbccddeeff";
        let (ns, name, key) = aes(&format!("aes:namespace=ns,name=k1,key=hex:{hex}"));
        assert_eq!((ns.as_str(), name.as_str()), ("ns", "k1"));
        assert_eq!(key, decode_hex(hex).unwrap().to_vec());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 24]);
        let (_, _, key) = aes(&format!("aes:key=base64:{b64},name=n,namespace=x"));
        assert_eq!(key, vec![7u8; 24]);
        let unpadded = b64.trim_end_matches('=');
        assert_eq!(
            aes(&format!("aes:namespace=x,name=n,key=base64:{unpadded}")).2,
            vec![7u8; 24]
        );
        // Hex in upper case, type in upper case, values with '=' and spaces kept.
        let (ns, name, key) = aes(&format!(
            "AES:namespace=a=b,name=my key,key=hex:{}",
            "AB".repeat(32)
        ));
        assert_eq!((ns.as_str(), name.as_str()), ("a=b", "my key"));
        assert_eq!(key, vec![0xAB; 32]);
    }

    #[test]
    fn aes_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.bin");
        std::fs::write(&path, [9u8; 32]).unwrap();
        let (_, _, key) = aes(&format!("aes:namespace=n,name=k,key=@{}", path.display()));
        assert_eq!(key, vec![9u8; 32]);

        let missing = dir.path().join("nope");
        assert!(matches!(
            err(&format!(
                "aes:namespace=n,name=k,key=@{}",
                missing.display()
            )),
            SpecError::UnreadableFile { .. }
        ));
        assert!(matches!(
            err(&format!(
                "aes:namespace=n,name=k,key=@{}",
                dir.path().display()
            )),
            SpecError::UnreadableFile { .. }
        ));
        assert!(matches!(
            err("aes:namespace=n,name=k,key=@"),
            SpecError::UnreadableFile { .. }
        ));

        let text = dir.path().join("k.txt");
        let mut f = File::create(&text).unwrap();
        writeln!(f, "{}", "ab".repeat(32)).unwrap();
        let e = err(&format!("aes:namespace=n,name=k,key=@{}", text.display()));
        assert_eq!(
            e,
            SpecError::BadKeyLength {
                len: Some(65),
                hint: length_hint(b"ab")
            }
        );
        assert!(e.to_string().contains("not 65"), "{e}");
        assert!(e.to_string().contains("looks like text"), "{e}");

        let big = dir.path().join("big");
        std::fs::write(&big, vec![0u8; 10_000]).unwrap();
        assert_eq!(
            err(&format!("aes:namespace=n,name=k,key=@{}", big.display())),
            SpecError::BadKeyLength {
                len: None,
                hint: "a key file holds only the raw key bytes"
            }
        );
    }

    #[test]
    fn bad_key_lengths() {
        for n in [0usize, 1, 15, 17, 31, 33, 64] {
            let spec = format!("aes:namespace=n,name=k,key=hex:{}", "00".repeat(n));
            assert!(
                matches!(err(&spec), SpecError::BadKeyLength { len: Some(l), .. } if l == n as u64),
                "{n}"
            );
        }
        let e = err("aes:namespace=n,name=k,key=hex:0011");
        assert_eq!(
            e.to_string(),
            "an AES key must be 16, 24 or 32 bytes, not 2"
        );
    }

    #[test]
    fn syntax_errors() {
        let key = format!("key=hex:{}", "00".repeat(32));
        assert_eq!(err("namespace=n"), SpecError::MissingType);
        assert_eq!(err(":namespace=n"), SpecError::MissingType);
        assert_eq!(err("des:namespace=n"), SpecError::UnknownType("des".into()));
        assert!(err("kms:x=y").to_string().contains("known types: aes, rsa"));
        assert_eq!(
            err(&format!("aes:namespace=n,name=k,{key},color=red")),
            SpecError::UnknownField {
                key_type: "aes",
                field: "color".into()
            }
        );
        assert_eq!(
            err(&format!("aes:namespace=n,name=k,name=j,{key}")),
            SpecError::DuplicateField("name".into())
        );
        assert_eq!(
            err(&format!("aes:namespace=n,{key}")),
            SpecError::MissingField("name")
        );
        assert_eq!(
            err("aes:namespace=n,name=k"),
            SpecError::MissingField("key")
        );
        assert_eq!(
            err(&format!("aes:namespace=,name=k,{key}")),
            SpecError::EmptyValue("namespace")
        );
        assert_eq!(
            err("aes:namespace=n,name=k,key="),
            SpecError::EmptyValue("key")
        );
        assert_eq!(
            err(&format!("aes:namespace=n,name=k,{key},junk")),
            SpecError::MalformedField("junk".into())
        );
        // A comma inside a value splits it: the tail is a malformed field, echoed short.
        let e = err(&format!(
            "aes:namespace=n,name=k,key=hex:{},{}",
            "00".repeat(16),
            "ff".repeat(16)
        ));
        assert!(
            matches!(&e, SpecError::MalformedField(s) if s.ends_with("...")),
            "{e:?}"
        );
        assert_eq!(
            err("aes:namespace=n,name=k,key=plain"),
            SpecError::BadKeySource
        );
        assert_eq!(
            err("aes:namespace=n,name=k,key=hex:0g"),
            SpecError::BadEncoding("hex")
        );
        assert_eq!(
            err("aes:namespace=n,name=k,key=hex:000"),
            SpecError::BadEncoding("hex")
        );
        assert_eq!(
            err("aes:namespace=n,name=k,key=base64:!!!!"),
            SpecError::BadEncoding("base64")
        );
    }

    /// A file of the RSA test keys (`tests/data/rsa`).
    fn rsa_file(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/data/rsa")
            .join(name);
        assert!(path.is_file(), "{}", path.display());
        path.to_str().unwrap().to_owned()
    }

    fn rsa_spec(padding: &str, public: Option<&str>, private: Option<&str>) -> String {
        let mut spec = format!("rsa:namespace=ns,name=key-a,padding={padding}");
        if let Some(p) = public {
            spec += &format!(",public-key=@{}", rsa_file(p));
        }
        if let Some(p) = private {
            spec += &format!(",private-key=@{}", rsa_file(p));
        }
        spec
    }

    /// Encrypts with one SPEC's keyring and decrypts with another's.
    fn rsa_round_trip(enc: &str, dec: &str) {
        use esdk::{decrypt, encrypt, DecryptOptions, EncryptOptions};
        let enc = keyring(&[enc.to_owned()], Purpose::Encrypt).unwrap();
        let dec = keyring(&[dec.to_owned()], Purpose::Decrypt).unwrap();
        let message = encrypt(enc, b"rsa via the cli", EncryptOptions::default()).unwrap();
        let out = decrypt(dec, &message, DecryptOptions::default()).unwrap();
        assert_eq!(out.plaintext, b"rsa via the cli");
    }

    #[test]
    fn rsa_keys_in_pem_and_der() {
        let publics = [
            "key-a.spki.pem",
            "key-a.pub-pkcs1.pem",
            "key-a.spki.der",
            "key-a.pub-pkcs1.der",
        ];
        let privates = [
            "key-a.pkcs8.pem",
            "key-a.pkcs1.pem",
            "key-a.pkcs8.der",
            "key-a.pkcs1.der",
        ];
        for (public, private) in publics.into_iter().zip(privates) {
            let spec = rsa_spec("oaep-sha256", Some(public), Some(private));
            match parse(&spec).unwrap() {
                KeySpec::Rsa {
                    namespace,
                    name,
                    padding,
                    public_key,
                    private_key,
                } => {
                    assert_eq!((namespace.as_str(), name.as_str()), ("ns", "key-a"));
                    assert_eq!(padding, RsaPadding::OaepSha256);
                    assert_eq!(public_key.unwrap().bits(), 2048);
                    assert_eq!(private_key.unwrap().bits(), 2048);
                }
                other => panic!("{other:?}"),
            }
            // Public only encrypts, private only decrypts, both do both.
            rsa_round_trip(
                &rsa_spec("oaep-sha256", Some(public), None),
                &rsa_spec("oaep-sha256", None, Some(private)),
            );
            rsa_round_trip(&spec, &spec);
        }
    }

    #[test]
    fn rsa_paddings() {
        for (text, padding) in [
            ("pkcs1", RsaPadding::Pkcs1),
            ("oaep-sha1", RsaPadding::OaepSha1),
            ("oaep-sha256", RsaPadding::OaepSha256),
            ("OAEP-SHA384", RsaPadding::OaepSha384),
            ("oaep-sha512", RsaPadding::OaepSha512),
        ] {
            let spec = rsa_spec(text, Some("key-a.spki.pem"), Some("key-a.pkcs8.pem"));
            assert!(
                matches!(parse(&spec), Ok(KeySpec::Rsa { padding: p, .. }) if p == padding),
                "{text}"
            );
            rsa_round_trip(&spec, &spec);
        }
        for bad in ["oaep", "oaep-sha224", "pss", "pkcs1v15"] {
            let e = err(&rsa_spec(bad, Some("key-a.spki.pem"), None));
            assert_eq!(e, SpecError::BadPadding(bad.into()));
            assert!(e.to_string().contains("expected pkcs1, oaep-sha1"), "{e}");
        }
    }

    #[test]
    fn rsa_purpose_needs_the_right_half() {
        let private_only = rsa_spec("pkcs1", None, Some("key-a.pkcs8.pem"));
        let public_only = rsa_spec("pkcs1", Some("key-a.spki.pem"), None);
        let both = rsa_spec("pkcs1", Some("key-a.spki.pem"), Some("key-a.pkcs8.pem"));
        let e = keyring(std::slice::from_ref(&private_only), Purpose::Encrypt)
            .err()
            .unwrap();
        assert_eq!(
            e,
            format!("invalid --wrapping-key: {}", SpecError::RsaCannotEncrypt)
        );
        assert!(e.contains("public-key=@PEM,private-key=@PEM"), "{e}");
        assert!(e.contains("never derived"), "{e}");
        let e = keyring(std::slice::from_ref(&public_only), Purpose::Decrypt)
            .err()
            .unwrap();
        assert!(e.contains("cannot decrypt"), "{e}");
        assert!(e.contains("private-key=@PEM"), "{e}");
        assert!(keyring(&[private_only], Purpose::Decrypt).is_ok());
        assert!(keyring(&[public_only], Purpose::Encrypt).is_ok());
        for purpose in [Purpose::Encrypt, Purpose::Decrypt] {
            assert!(keyring(std::slice::from_ref(&both), purpose).is_ok());
        }
    }

    #[test]
    fn rsa_bad_specs_and_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path.to_str().unwrap().to_owned()
        };
        let with_public =
            |path: &str| format!("rsa:namespace=n,name=k,padding=pkcs1,public-key=@{path}");
        let with_private =
            |path: &str| format!("rsa:namespace=n,name=k,padding=pkcs1,private-key=@{path}");
        let reason = |e: SpecError| match e {
            SpecError::BadRsaKey { reason, .. } => reason,
            other => panic!("expected BadRsaKey, got {other:?}"),
        };

        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1"),
            SpecError::MissingField("public-key")
        );
        assert_eq!(
            err("rsa:namespace=n,name=k,public-key=@x"),
            SpecError::MissingField("padding")
        );
        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1,key=@x"),
            SpecError::UnknownField {
                key_type: "rsa",
                field: "key".into()
            }
        );
        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1,public-key=base64:AAAA"),
            SpecError::BadKeyFileSource("public-key")
        );
        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1,private-key=plain.pem"),
            SpecError::BadKeyFileSource("private-key")
        );
        assert!(matches!(
            err(&with_public(
                &dir.path().join("missing.pem").display().to_string()
            )),
            SpecError::UnreadableFile { .. }
        ));
        assert!(matches!(
            err(&with_private(dir.path().to_str().unwrap())),
            SpecError::UnreadableFile { .. }
        ));
        // Swapped halves, encrypted, too small, garbage, empty, oversized.
        let e = err(&with_public(&rsa_file("key-a.pkcs8.pem")));
        assert!(
            e.to_string().starts_with("cannot use public-key file "),
            "{e}"
        );
        assert!(reason(e).contains("private key where a public key is expected"));
        assert!(reason(err(&with_public(&rsa_file("key-a.pkcs1.der")))).contains("private key"));
        assert!(reason(err(&with_private(&rsa_file("key-a.spki.pem")))).contains("public key"));
        assert!(
            reason(err(&with_private(&rsa_file("key-a.encrypted-pkcs8.pem"))))
                .contains("encrypted")
        );
        assert!(
            reason(err(&with_private(&rsa_file("key-a.encrypted-pkcs1.pem"))))
                .contains("encrypted")
        );
        assert!(reason(err(&with_private(&rsa_file("small-1024.pkcs8.pem")))).contains("2048"));
        let garbage = write("garbage.der", b"\x30\x03\x02\x01\x00");
        assert!(reason(err(&with_private(&garbage))).contains("parsed"));
        let text = write("notes.txt", b"my key is in the other file\n");
        assert!(reason(err(&with_public(&text))).contains("neither a PEM nor a DER key"));
        let empty = write("empty", b"");
        assert!(reason(err(&with_public(&empty))).contains("parsed"));
        let broken_pem = write("broken.pem", b"-----BEGIN PUBLIC KEY-----\nAAAA\n");
        assert!(reason(err(&with_public(&broken_pem))).contains("END"));
        let big = write("big.pem", &vec![b'A'; 70_000]);
        assert!(reason(err(&with_public(&big))).contains("too large"));
        // A reserved namespace is refused by the library.
        let reserved = format!(
            "rsa:namespace=aws-kms,name=k,padding=pkcs1,public-key=@{}",
            rsa_file("key-a.spki.pem")
        );
        let e = keyring(&[reserved], Purpose::Encrypt).err().unwrap();
        assert!(e.contains("reserved"), "{e}");
    }

    #[test]
    fn keyrings() {
        let k = |name: &str| format!("aes:namespace=n,name={name},key=hex:{}", "11".repeat(16));
        let enc = Purpose::Encrypt;
        assert!(keyring(&[k("a")], enc).is_ok());
        assert!(keyring(&[k("a"), k("b"), k("c")], Purpose::Decrypt).is_ok());
        assert!(keyring(&[], enc).is_err());
        let e = keyring(&[k("a"), "aes:namespace=n".into()], enc)
            .err()
            .unwrap();
        assert_eq!(e, "invalid --wrapping-key #2: missing field \"name\"");
        let e = keyring(&["aes:namespace=n".into()], enc).err().unwrap();
        assert_eq!(e, "invalid --wrapping-key: missing field \"name\"");
        let reserved = format!("aes:namespace=aws-kms,name=k,key=hex:{}", "11".repeat(16));
        let e = keyring(&[reserved], enc).err().unwrap();
        assert!(e.contains("reserved"), "{e}");

        // AES and RSA mixed, in either order; a message from the mix decrypts with each.
        use esdk::{decrypt, encrypt, DecryptOptions, EncryptOptions};
        let rsa = rsa_spec("oaep-sha1", Some("key-a.spki.pem"), Some("key-a.pkcs1.pem"));
        for specs in [vec![k("a"), rsa.clone()], vec![rsa.clone(), k("a")]] {
            let mixed = keyring(&specs, enc).unwrap();
            let m = encrypt(mixed, b"mixed", EncryptOptions::default()).unwrap();
            for one in &specs {
                let single = keyring(std::slice::from_ref(one), Purpose::Decrypt).unwrap();
                let out = decrypt(single, &m, DecryptOptions::default()).unwrap();
                assert_eq!(out.plaintext, b"mixed");
            }
        }
        let private_only = rsa_spec("oaep-sha1", None, Some("key-a.pkcs8.pem"));
        let e = keyring(&[k("a"), private_only], enc).err().unwrap();
        assert!(e.starts_with("invalid --wrapping-key #2: "), "{e}");
    }
}
