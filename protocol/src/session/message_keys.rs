//! The keys of one message: cipher key, MAC key and IV.

use core::fmt;

use crate::crypto::{KdfError, Secret, hkdf_sha256};

/// The HKDF info string that expands a message-key seed (libsignal v3).
const MESSAGE_KEYS_INFO: &[u8] = b"WhisperMessageKeys";

/// The keys that encrypt and authenticate exactly one message: 80 bytes of
/// `HKDF(seed, salt = none, info = "WhisperMessageKeys")` split into a 32-byte AES-256 key, a
/// 32-byte HMAC key and a 16-byte CBC IV.
#[derive(Clone)]
pub(crate) struct MessageKeys {
    cipher_key: Secret<32>,
    mac_key: Secret<32>,
    iv: Secret<16>,
    counter: u32,
}

impl MessageKeys {
    /// Expands a chain's message-key seed for the message at `counter`.
    pub(crate) fn derive(seed: &Secret<32>, counter: u32) -> Result<Self, KdfError> {
        let okm: Secret<80> = hkdf_sha256(seed.expose(), &[], MESSAGE_KEYS_INFO)?;
        let mut cipher_key = Secret::new([0u8; 32]);
        let mut mac_key = Secret::new([0u8; 32]);
        let mut iv = Secret::new([0u8; 16]);
        let (c, rest) = okm.expose().split_at(32);
        let (m, i) = rest.split_at(32);
        cipher_key.expose_mut().copy_from_slice(c);
        mac_key.expose_mut().copy_from_slice(m);
        iv.expose_mut().copy_from_slice(i);
        Ok(Self {
            cipher_key,
            mac_key,
            iv,
            counter,
        })
    }

    /// The AES-256-CBC key.
    pub(crate) fn cipher_key(&self) -> &Secret<32> {
        &self.cipher_key
    }

    /// The HMAC-SHA256 key for the message MAC.
    pub(crate) fn mac_key(&self) -> &Secret<32> {
        &self.mac_key
    }

    /// The CBC IV.
    pub(crate) fn iv(&self) -> &[u8; 16] {
        self.iv.expose()
    }

    /// The message's index in its chain.
    pub(crate) fn counter(&self) -> u32 {
        self.counter
    }
}

impl fmt::Debug for MessageKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageKeys")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}
