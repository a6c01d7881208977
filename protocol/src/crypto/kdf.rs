//! HKDF-SHA256 (RFC 5869).

use hkdf::Hkdf;
use sha2::Sha256;

use super::Secret;

/// Why a key derivation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdfError {
    /// More output was asked for than HKDF-SHA256 can give (255 × 32 bytes).
    #[error("HKDF output length out of range")]
    InvalidLength,
}

/// HKDF-SHA256 extract-then-expand into a fixed-size secret.
///
/// An empty `salt` is the RFC's default (a string of zero bytes), which is what libsignal passes
/// when it derives without salt.
pub fn hkdf_sha256<const N: usize>(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<Secret<N>, KdfError> {
    let mut out = Secret::new([0u8; N]);
    hkdf_sha256_into(ikm, salt, info, out.expose_mut())?;
    Ok(out)
}

/// HKDF-SHA256 extract-then-expand into a caller buffer of any length up to 8160 bytes.
pub fn hkdf_sha256_into(ikm: &[u8], salt: &[u8], info: &[u8], okm: &mut [u8]) -> Result<(), KdfError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .map_err(|_| KdfError::InvalidLength)
}
