//! HMAC-SHA256, with constant-time verification of full or truncated tags.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a MAC check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The tag does not match (or is shorter than the minimum accepted length).
    #[error("MAC verification failed")]
    BadMac,
}

/// The shortest truncated tag tandem accepts (libsignal's message MAC is 8 bytes).
pub const MIN_TAG_LENGTH: usize = 8;

#[allow(
    clippy::expect_used,
    reason = "HMAC takes keys of every length (long ones are hashed); new_from_slice cannot fail"
)]
fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// An HMAC-SHA256 key with its inner and outer pads computed once, for several MACs under the
/// same key (a chain key gives both the next chain key and a message-key seed). The keyed state
/// is zeroized on drop.
#[derive(Clone)]
pub struct HmacKey(HmacSha256);

impl HmacKey {
    /// Keys HMAC-SHA256 with `key`.
    pub fn new(key: &[u8]) -> Self {
        Self(keyed(key))
    }

    /// HMAC over the concatenation of `parts`.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

impl core::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("HmacKey(redacted)")
    }
}

/// HMAC-SHA256(key, message).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    hmac_sha256_parts(key, &[message])
}

/// HMAC-SHA256 over the concatenation of `parts`, without building the concatenation.
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Checks `tag` against HMAC-SHA256 over `parts` in constant time. `tag` may be truncated to
/// its leftmost bytes, down to [`MIN_TAG_LENGTH`].
pub fn verify_hmac_sha256(key: &[u8], parts: &[&[u8]], tag: &[u8]) -> Result<(), MacError> {
    if tag.len() < MIN_TAG_LENGTH || tag.len() > 32 {
        return Err(MacError::BadMac);
    }
    let mut mac = keyed(key);
    for p in parts {
        mac.update(p);
    }
    mac.verify_truncated_left(tag).map_err(|_| MacError::BadMac)
}
