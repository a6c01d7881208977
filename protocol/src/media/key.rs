//! The media key and the four keys HKDF expands it into.

use core::fmt;

use crate::crypto::{Secret, hkdf_sha256};

use super::{MediaError, MediaKind};

/// Length of a media key in bytes.
pub const MEDIA_KEY_LENGTH: usize = 32;

/// Length of the HKDF expansion of a media key: IV, cipher key, MAC key, reference key.
pub const EXPANDED_LENGTH: usize = 112;

/// A media key: 32 random bytes chosen by the sender for one blob. Zeroized on drop; `Debug`
/// prints nothing of it; equality is constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey(Secret<MEDIA_KEY_LENGTH>);

impl MediaKey {
    /// A fresh key from the caller's CSPRNG.
    pub fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(Secret::random(rng))
    }

    /// A key from exactly 32 bytes (as carried in a media pointer).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MediaError> {
        let raw: [u8; MEDIA_KEY_LENGTH] = bytes.try_into().map_err(|_| MediaError::BadKeyLength)?;
        Ok(Self(Secret::new(raw)))
    }

    /// Borrows the 32 key bytes (to put them into a message). Keep the borrow short.
    pub fn expose(&self) -> &[u8; MEDIA_KEY_LENGTH] {
        self.0.expose()
    }

    /// Expands the key for `kind`:
    /// `HKDF-SHA256(ikm = key, salt = none, info = kind.info(), L = 112)`.
    pub fn expand(&self, kind: MediaKind) -> MediaKeys {
        // 112 bytes is far below HKDF-SHA256's 8160-byte limit, so the error arm never happens;
        // an all-zero expansion would still never authenticate anything real.
        let okm: Secret<EXPANDED_LENGTH> = hkdf_sha256(self.0.expose(), &[], kind.info().as_bytes())
            .unwrap_or_else(|_| Secret::new([0u8; EXPANDED_LENGTH]));
        MediaKeys::split(okm.expose())
    }
}

impl From<[u8; MEDIA_KEY_LENGTH]> for MediaKey {
    fn from(bytes: [u8; MEDIA_KEY_LENGTH]) -> Self {
        Self(Secret::new(bytes))
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKey(redacted)")
    }
}

/// The expansion of a [`MediaKey`] for one [`MediaKind`]: bytes 0..16 are the CBC IV, 16..48
/// the AES-256 key, 48..80 the HMAC-SHA256 key, 80..112 the reference key (unused by the
/// cipher; WhatsApp derives it too). All zeroized on drop; `Debug` prints nothing.
#[derive(Clone)]
pub struct MediaKeys {
    /// The IV of the first CBC block.
    pub iv: Secret<16>,
    /// The AES-256-CBC key.
    pub cipher_key: Secret<32>,
    /// The HMAC-SHA256 key for the blob MAC and the sidecar.
    pub mac_key: Secret<32>,
    /// The reference key (bytes 80..112), not used by tandem.
    pub ref_key: Secret<32>,
}

impl MediaKeys {
    fn split(okm: &[u8; EXPANDED_LENGTH]) -> Self {
        let mut iv = [0u8; 16];
        let mut cipher_key = [0u8; 32];
        let mut mac_key = [0u8; 32];
        let mut ref_key = [0u8; 32];
        let (a, rest) = okm.split_at(16);
        let (b, rest) = rest.split_at(32);
        let (c, d) = rest.split_at(32);
        iv.copy_from_slice(a);
        cipher_key.copy_from_slice(b);
        mac_key.copy_from_slice(c);
        ref_key.copy_from_slice(d);
        let keys = Self {
            iv: Secret::new(iv),
            cipher_key: Secret::new(cipher_key),
            mac_key: Secret::new(mac_key),
            ref_key: Secret::new(ref_key),
        };
        zeroize::Zeroize::zeroize(&mut iv);
        zeroize::Zeroize::zeroize(&mut cipher_key);
        zeroize::Zeroize::zeroize(&mut mac_key);
        zeroize::Zeroize::zeroize(&mut ref_key);
        keys
    }
}

impl fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKeys(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = MediaKey::from([0xAB; 32]);
        assert_eq!(format!("{key:?}"), "MediaKey(redacted)");
        assert_eq!(
            format!("{:?}", key.expand(MediaKind::Image)),
            "MediaKeys(redacted)"
        );
    }

    #[test]
    fn from_bytes_wants_32() {
        assert_eq!(MediaKey::from_bytes(&[0; 31]), Err(MediaError::BadKeyLength));
        assert!(MediaKey::from_bytes(&[0; 32]).is_ok());
    }
}
