//! Why a media operation was refused.

/// Why media encryption, decryption or a range read was refused.
///
/// Decryption checks in this order and reports the first failure: the blob's SHA-256
/// ([`MediaError::EncHashMismatch`]), its shape ([`MediaError::BadBlobLength`]), the MAC
/// ([`MediaError::BadMac`]), the padding ([`MediaError::BadPadding`]), the plaintext's SHA-256
/// ([`MediaError::PlainHashMismatch`]) and its length ([`MediaError::LengthMismatch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// A media key is not exactly 32 bytes.
    #[error("media key must be 32 bytes")]
    BadKeyLength,
    /// The blob's SHA-256 is not the `file_enc_sha256` the pointer states.
    #[error("blob SHA-256 does not match the pointer")]
    EncHashMismatch,
    /// The blob is too short (under 16 + 10 bytes) or its ciphertext is not whole 16-byte blocks.
    #[error("blob is truncated or not whole cipher blocks")]
    BadBlobLength,
    /// The blob's (or a seekable chunk's) truncated HMAC does not verify.
    #[error("media MAC verification failed")]
    BadMac,
    /// The final block's PKCS#7 padding is malformed.
    #[error("bad padding in media blob")]
    BadPadding,
    /// The plaintext's SHA-256 is not the `file_sha256` the pointer states.
    #[error("plaintext SHA-256 does not match the pointer")]
    PlainHashMismatch,
    /// The plaintext's length is not the `file_length` the pointer states.
    #[error("plaintext length does not match the pointer")]
    LengthMismatch,
    /// A sidecar's length is not 10 bytes per 64 KiB chunk of this blob.
    #[error("sidecar does not fit the blob")]
    BadSidecar,
    /// A requested plaintext range is reversed or reaches past the end of the plaintext.
    #[error("range outside the plaintext")]
    RangeOutOfBounds,
    /// Reading the input or writing the output failed (the I/O error's kind).
    #[error("I/O error: {0:?}")]
    Io(std::io::ErrorKind),
}

impl MediaError {
    /// The variant's name (`"BadMac"`, …), as vector files name expected errors.
    pub const fn name(&self) -> &'static str {
        match self {
            MediaError::BadKeyLength => "BadKeyLength",
            MediaError::EncHashMismatch => "EncHashMismatch",
            MediaError::BadBlobLength => "BadBlobLength",
            MediaError::BadMac => "BadMac",
            MediaError::BadPadding => "BadPadding",
            MediaError::PlainHashMismatch => "PlainHashMismatch",
            MediaError::LengthMismatch => "LengthMismatch",
            MediaError::BadSidecar => "BadSidecar",
            MediaError::RangeOutOfBounds => "RangeOutOfBounds",
            MediaError::Io(_) => "Io",
        }
    }
}

impl From<std::io::Error> for MediaError {
    fn from(e: std::io::Error) -> Self {
        MediaError::Io(e.kind())
    }
}
