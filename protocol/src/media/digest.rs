//! The hashes and length that a media pointer carries for its blob.

/// What the sender states about a blob, carried in the (end-to-end encrypted) message that
/// points at it: the receiver checks the blob and the plaintext against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaDigest {
    /// SHA-256 of the plaintext.
    pub file_sha256: [u8; 32],
    /// SHA-256 of the whole blob (`ciphertext ‖ mac`); also the blob's name on the server.
    pub file_enc_sha256: [u8; 32],
    /// Length of the plaintext in bytes.
    pub file_length: u64,
}
