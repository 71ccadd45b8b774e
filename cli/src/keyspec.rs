//! The `--wrapping-key SPEC` parser.
//!
//! A SPEC is `TYPE:FIELD=VALUE,FIELD=VALUE,...`. Values cannot contain `,`.
//!
//! * `aes:namespace=NS,name=NAME,key=SOURCE` — a raw AES keyring. SOURCE is `@PATH` (a file
//!   holding the raw 16, 24 or 32 key bytes), `base64:DATA` or `hex:DATA`.
//! * `rsa:namespace=NS,name=NAME,padding=PADDING,public-key=@PEM,private-key=@PEM` — a raw
//!   RSA keyring. The fields are checked, then refused: the library has no RSA keyring yet.
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
use esdk::{Keyring, MultiKeyring, RawAesKeyring, WrappingKey};
use zeroize::Zeroizing;

/// The largest key file read; anything longer is refused without being read to its end.
const MAX_KEY_FILE: u64 = 4096;

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

/// Raw RSA keys (not supported by the library yet).
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
    /// The key type is known but not implemented.
    Unsupported(&'static str),
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
            SpecError::Unsupported(t) => write!(f, "{t} wrapping keys are not supported yet"),
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
}

impl KeySpec {
    /// The keyring for this key.
    pub fn keyring(self) -> Result<Arc<dyn Keyring>, SpecError> {
        match self {
            KeySpec::Aes {
                namespace,
                name,
                key,
            } => {
                let k = RawAesKeyring::new(&namespace, &name, key)
                    .map_err(|e| SpecError::Keyring(e.to_string()))?;
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
            if fields.get("public-key").is_none() && fields.get("private-key").is_none() {
                return Err(SpecError::MissingField("public-key"));
            }
            Err(SpecError::Unsupported("rsa"))
        }
        _ => Err(SpecError::UnknownType(fields.key_type().name.to_owned())),
    }
}

/// Builds the keyring for the `--wrapping-key` options: the first key is the generator,
/// the others are children of a multi-keyring. Errors name the option by position.
pub fn keyring(specs: &[String]) -> Result<Arc<dyn Keyring>, String> {
    let mut keyrings = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let which = if specs.len() > 1 {
            format!("invalid --wrapping-key #{}", i + 1)
        } else {
            "invalid --wrapping-key".to_owned()
        };
        let kr = parse(spec)
            .and_then(KeySpec::keyring)
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

fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, SpecError> {
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
    let mut bytes = Zeroizing::new(Vec::with_capacity(64));
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(SpecError::BadKeyLength {
            len: None,
            hint: "a key file holds only the raw key bytes",
        });
    }
    Ok(bytes)
}

/// Checks the length and takes the bytes over.
fn aes_key(mut bytes: Zeroizing<Vec<u8>>) -> Result<WrappingKey, SpecError> {
    match bytes.len() {
        16 | 24 | 32 => WrappingKey::new(std::mem::take(&mut *bytes))
            .map_err(|e| SpecError::Keyring(e.to_string())),
        n => Err(SpecError::BadKeyLength {
            len: Some(n as u64),
            hint: length_hint(&bytes),
        }),
    }
}

/// Guesses why a key has the wrong length.
fn length_hint(bytes: &[u8]) -> &'static str {
    let text = !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if text {
        "it looks like text: a key file holds the raw key bytes; use key=hex:... or \
         key=base64:... for encoded keys, or create one with `esdk generate-key`"
    } else {
        ""
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    if text.len() % 2 != 0 {
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

    #[test]
    fn rsa_is_recognized_but_refused() {
        let e = err("rsa:namespace=n,name=k,padding=oaep-sha256,public-key=@pub.pem");
        assert_eq!(e, SpecError::Unsupported("rsa"));
        assert_eq!(e.to_string(), "rsa wrapping keys are not supported yet");
        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1"),
            SpecError::MissingField("public-key")
        );
        assert_eq!(
            err("rsa:namespace=n,name=k,padding=pkcs1,key=@x"),
            SpecError::UnknownField {
                key_type: "rsa",
                field: "key".into()
            }
        );
    }

    #[test]
    fn keyrings() {
        let k = |name: &str| format!("aes:namespace=n,name={name},key=hex:{}", "11".repeat(16));
        assert!(keyring(&[k("a")]).is_ok());
        assert!(keyring(&[k("a"), k("b"), k("c")]).is_ok());
        assert!(keyring(&[]).is_err());
        let e = keyring(&[k("a"), "aes:namespace=n".into()]).err().unwrap();
        assert_eq!(e, "invalid --wrapping-key #2: missing field \"name\"");
        let e = keyring(&["aes:namespace=n".into()]).err().unwrap();
        assert_eq!(e, "invalid --wrapping-key: missing field \"name\"");
        let reserved = format!("aes:namespace=aws-kms,name=k,key=hex:{}", "11".repeat(16));
        let e = keyring(&[reserved]).err().unwrap();
        assert!(e.contains("reserved"), "{e}");
    }
}
