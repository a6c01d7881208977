//! Blob names: the unpadded base64url of the blob's SHA-256.

use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::BlobError;
use crate::media::MediaDigest;

/// Length of a blob id as text: 32 bytes in unpadded base64 are 43 characters.
pub const BLOB_ID_LENGTH: usize = 43;

/// A blob's name: its SHA-256, shown as 43 characters of unpadded base64url (`A–Z a–z 0–9 - _`).
/// Every id is a valid file name: no `/`, `.`, or anything else a path could be built from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 32]);

impl BlobId {
    /// The id of a blob with this SHA-256.
    pub const fn from_sha256(hash: [u8; 32]) -> Self {
        Self(hash)
    }

    /// The id of the blob a pointer's digest describes (its `file_enc_sha256`).
    pub const fn of(digest: &MediaDigest) -> Self {
        Self(digest.file_enc_sha256)
    }

    /// The id of these blob bytes.
    pub fn of_blob(blob: &[u8]) -> Self {
        Self(crate::crypto::sha256(&[blob]))
    }

    /// Parses an id: exactly 43 characters of canonical unpadded base64url (the unused low bits
    /// of the last character must be zero, so each blob has exactly one id).
    pub fn parse(text: &str) -> Result<Self, BlobError> {
        if text.len() != BLOB_ID_LENGTH
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(BlobError::InvalidId);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BlobError::InvalidId)?;
        let hash: [u8; 32] = bytes.as_slice().try_into().map_err(|_| BlobError::InvalidId)?;
        let id = Self(hash);
        if id.to_string() != text {
            return Err(BlobError::InvalidId);
        }
        Ok(id)
    }

    /// The SHA-256 the id names.
    pub const fn sha256(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_strict() {
        let id = BlobId::of_blob(b"blob");
        let text = id.to_string();
        assert_eq!(text.len(), BLOB_ID_LENGTH);
        assert_eq!(BlobId::parse(&text), Ok(id));
        for bad in [
            "",
            "..",
            "../etc/passwd",
            &format!("{text}="),
            &text[..42],
            &format!("{}/", &text[..42]),
        ] {
            assert_eq!(BlobId::parse(bad), Err(BlobError::InvalidId), "{bad}");
        }
        // Non-canonical: the last character carries two unused bits.
        let mut chars: Vec<char> = text.chars().collect();
        let last = chars[42];
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let pos = alphabet.find(last).unwrap();
        chars[42] = alphabet.chars().nth(pos ^ 1).unwrap();
        assert_eq!(
            BlobId::parse(&chars.iter().collect::<String>()),
            Err(BlobError::InvalidId)
        );
    }
}
