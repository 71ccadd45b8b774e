//! The one error type of the crate.
//!
//! Every failure is an [`Error`]. Failures of authentication (a frame tag, the header tag,
//! the key commitment, the footer signature) are all reported as the same
//! [`Error::AuthenticationFailed`], with no detail, so that an attacker who submits forged
//! messages learns nothing about which check caught the forgery.

use std::fmt;

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Every way an operation of this crate can fail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The message does not follow the ESDK message format.
    Format(FormatError),
    /// A tag, the header authentication, the key commitment or the signature did not verify.
    /// Deliberately carries no detail.
    AuthenticationFailed,
    /// The commitment policy, the signature policy or an encryption-context rule refused the
    /// operation.
    Policy(PolicyError),
    /// A configured or format limit was exceeded.
    Limit(LimitError),
    /// No keyring recognized any of the message's encrypted data keys (for example, a wrong
    /// key name or namespace).
    NoMatchingDataKey,
    /// A keyring recognized an encrypted data key but could not decrypt it (for example, a
    /// wrong wrapping key, or an encryption context that differs from the one used to encrypt).
    DataKeyUnwrapFailed,
    /// A caller-supplied argument or configuration value is invalid.
    InvalidArgument(String),
    /// A keyring or materials manager written by the caller reported a failure.
    Keyring(String),
    /// An object was used after it failed or finished, or in the wrong order.
    InvalidState(&'static str),
    /// The randomness source failed.
    Rng,
    /// A state that the code believes cannot happen; a bug if it is ever seen.
    Unreachable(&'static str),
}

/// Ways in which bytes do not follow the message format.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input ended before the message was complete.
    Truncated,
    /// Bytes follow the end of the message.
    TrailingBytes,
    /// The input looks like base64 text rather than a binary ESDK message.
    LooksBase64,
    /// The version byte is neither 1 nor 2.
    UnknownVersion(u8),
    /// The v1 message type byte is not 0x80.
    UnknownMessageType(u8),
    /// The algorithm suite ID is not one of the ESDK suites.
    UnknownAlgorithmSuite(u16),
    /// The suite does not belong to the header's message format version.
    SuiteVersionMismatch {
        /// The header version.
        version: u8,
        /// The suite ID found in that header.
        suite: u16,
    },
    /// The v1 reserved field is not all zeros.
    ReservedBytesNotZero,
    /// The v1 header IV length is not 12.
    BadIvLength(u8),
    /// The content type is neither 1 (non-framed) nor 2 (framed).
    UnknownContentType(u8),
    /// A framed message declares frame length 0, or a non-framed one a non-zero frame length.
    BadFrameLength(u32),
    /// The encryption context section is malformed; the text says how.
    BadEncryptionContext(&'static str),
    /// The encryption context holds the same key twice.
    DuplicateContextKey(String),
    /// A provider ID or an encryption context entry is not valid UTF-8.
    InvalidUtf8,
    /// The header lists no encrypted data key.
    NoEncryptedDataKeys,
    /// A frame's sequence number is not the one expected.
    SequenceNumberMismatch {
        /// The sequence number the next frame must have.
        expected: u32,
        /// The sequence number found.
        found: u32,
    },
    /// A final frame declares more content than the frame length.
    FinalFrameTooLong {
        /// The declared content length.
        content_length: u32,
        /// The header frame length.
        frame_length: u32,
    },
    /// The `aws-crypto-public-key` value is not a valid key for the suite.
    BadPublicKey,
}

/// Refusals by policy: commitment, signatures, encryption context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The commitment policy does not allow this algorithm suite here.
    CommitmentPolicy {
        /// The suite ID that was refused.
        suite: u16,
        /// What was being done: "encrypt" or "decrypt".
        operation: &'static str,
    },
    /// The message is signed but the caller asked for unsigned messages only.
    SignedMessageRefused,
    /// The caller's encryption context uses a key reserved for the ESDK (`aws-crypto-`).
    ReservedContextKey(String),
    /// A required encryption-context pair is missing from the message.
    MissingContextPair(String),
    /// The message's encryption context has a different value for a required key.
    ContextValueMismatch(String),
    /// A signing suite lacks `aws-crypto-public-key`, or a non-signing suite carries one.
    PublicKeyMismatch,
}

/// Limits of the format or of the caller's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitError {
    /// More encrypted data keys than the configured maximum.
    TooManyEncryptedDataKeys {
        /// How many the message or materials have.
        count: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The header is longer than the configured maximum.
    HeaderTooLong {
        /// The configured maximum in bytes.
        max: usize,
    },
    /// A frame (or non-framed body) is longer than the configured maximum.
    FrameTooLong {
        /// The declared length.
        length: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The serialized encryption context does not fit its 16-bit length field.
    EncryptionContextTooLarge,
    /// A field does not fit its 16-bit length prefix.
    FieldTooLong(&'static str),
    /// The message would need more than 2^32 - 1 frames.
    TooManyFrames,
    /// More plaintext than the declared maximum plaintext length.
    PlaintextTooLong,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Format(e) => write!(f, "malformed message: {e}"),
            Error::AuthenticationFailed => f.write_str("authentication failed"),
            Error::Policy(e) => write!(f, "refused by policy: {e}"),
            Error::Limit(e) => write!(f, "limit exceeded: {e}"),
            Error::NoMatchingDataKey => {
                f.write_str("no wrapping key matches any encrypted data key of the message")
            }
            Error::DataKeyUnwrapFailed => f.write_str(
                "a wrapping key matched an encrypted data key but could not decrypt it \
                 (wrong key material, or a different encryption context)",
            ),
            Error::InvalidArgument(s) => write!(f, "invalid argument: {s}"),
            Error::Keyring(s) => write!(f, "keyring failure: {s}"),
            Error::InvalidState(s) => write!(f, "invalid state: {s}"),
            Error::Rng => f.write_str("the system random number generator failed"),
            Error::Unreachable(s) => write!(f, "internal error (a bug): {s}"),
        }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated => f.write_str("the input ended before the message was complete"),
            FormatError::TrailingBytes => f.write_str("bytes follow the end of the message"),
            FormatError::LooksBase64 => f.write_str(
                "the input looks base64-encoded; decode it to binary before decrypting",
            ),
            FormatError::UnknownVersion(v) => write!(f, "unknown message format version {v:#04x}"),
            FormatError::UnknownMessageType(t) => write!(f, "unknown message type {t:#04x}"),
            FormatError::UnknownAlgorithmSuite(s) => write!(f, "unknown algorithm suite {s:#06x}"),
            FormatError::SuiteVersionMismatch { version, suite } => write!(
                f,
                "algorithm suite {suite:#06x} is not valid in a version {version} header"
            ),
            FormatError::ReservedBytesNotZero => f.write_str("reserved header bytes are not zero"),
            FormatError::BadIvLength(l) => write!(f, "header IV length is {l}, not 12"),
            FormatError::UnknownContentType(t) => write!(f, "unknown content type {t:#04x}"),
            FormatError::BadFrameLength(l) => {
                write!(f, "frame length {l} does not match the content type")
            }
            FormatError::BadEncryptionContext(s) => write!(f, "bad encryption context: {s}"),
            FormatError::DuplicateContextKey(k) => {
                write!(f, "encryption context key {k:?} appears twice")
            }
            FormatError::InvalidUtf8 => f.write_str("text field is not valid UTF-8"),
            FormatError::NoEncryptedDataKeys => f.write_str("the header has no encrypted data key"),
            FormatError::SequenceNumberMismatch { expected, found } => {
                write!(f, "frame sequence number {found}, expected {expected}")
            }
            FormatError::FinalFrameTooLong {
                content_length,
                frame_length,
            } => write!(
                f,
                "final frame holds {content_length} bytes, more than the frame length {frame_length}"
            ),
            FormatError::BadPublicKey => f.write_str("the signature public key is invalid"),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::CommitmentPolicy { suite, operation } => {
                write!(
                    f,
                    "the commitment policy does not allow algorithm suite {suite:#06x} on {operation}"
                )?;
                if *operation == "decrypt" {
                    f.write_str(
                        " (messages of non-committing suites need a policy that allows \
                         decrypting them, such as require-encrypt-allow-decrypt)",
                    )?;
                }
                Ok(())
            }
            PolicyError::SignedMessageRefused => {
                f.write_str("the message is signed and only unsigned messages are accepted")
            }
            PolicyError::ReservedContextKey(k) => write!(
                f,
                "encryption context key {k:?} uses the reserved prefix \"aws-crypto-\""
            ),
            PolicyError::MissingContextPair(k) => {
                write!(
                    f,
                    "the message's encryption context lacks required key {k:?}"
                )
            }
            PolicyError::ContextValueMismatch(k) => write!(
                f,
                "the message's encryption context has a different value for key {k:?}"
            ),
            PolicyError::PublicKeyMismatch => f.write_str(
                "the signature public key in the encryption context does not match the suite",
            ),
        }
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::TooManyEncryptedDataKeys { count, max } => write!(
                f,
                "{count} encrypted data keys, more than the maximum of {max}"
            ),
            LimitError::HeaderTooLong { max } => {
                write!(f, "the header is longer than the maximum of {max} bytes")
            }
            LimitError::FrameTooLong { length, max } => write!(
                f,
                "a frame of {length} bytes is longer than the maximum of {max}"
            ),
            LimitError::EncryptionContextTooLarge => {
                f.write_str("the serialized encryption context is larger than 65535 bytes")
            }
            LimitError::FieldTooLong(what) => write!(f, "{what} is longer than 65535 bytes"),
            LimitError::TooManyFrames => f.write_str("the message would need 2^32 or more frames"),
            LimitError::PlaintextTooLong => {
                f.write_str("the plaintext is longer than the declared maximum")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Format(e)
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Self {
        Error::Policy(e)
    }
}

impl From<LimitError> for Error {
    fn from(e: LimitError) -> Self {
        Error::Limit(e)
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Format(FormatError::Truncated) => std::io::ErrorKind::UnexpectedEof,
            Error::InvalidArgument(_) => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

impl Error {
    /// Recovers an [`Error`] carried inside an [`std::io::Error`] by the I/O fronts.
    pub fn from_io(e: &std::io::Error) -> Option<&Error> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }
}
