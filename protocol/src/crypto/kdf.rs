//! HKDF-SHA256 (RFC 5869).

use std::sync::OnceLock;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{HmacKey, Secret};

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
    let hkdf = if salt.is_empty() {
        // The RFC's default salt (32 zero bytes, the same HMAC key as an empty one): extract with
        // an HMAC state keyed once per process instead of on every call.
        let prk = Zeroizing::new(zero_salt().mac(&[ikm]));
        Hkdf::<Sha256>::from_prk(prk.as_slice()).map_err(|_| KdfError::InvalidLength)?
    } else {
        Hkdf::<Sha256>::new(Some(salt), ikm)
    };
    hkdf.expand(info, okm).map_err(|_| KdfError::InvalidLength)
}

fn zero_salt() -> &'static HmacKey {
    static ZERO_SALT: OnceLock<HmacKey> = OnceLock::new();
    ZERO_SALT.get_or_init(|| HmacKey::new(&[0u8; 32]))
}
