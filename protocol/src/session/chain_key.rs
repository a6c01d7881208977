//! A symmetric-key ratchet chain: each step yields one message's keys.

use core::fmt;

use super::message_keys::MessageKeys;
use crate::crypto::{HmacKey, KdfError, Secret, hmac_sha256};

/// HMAC input that derives a message-key seed from a chain key (libsignal v3).
const MESSAGE_KEY_SEED: [u8; 1] = [0x01];
/// HMAC input that derives the next chain key (libsignal v3).
const CHAIN_KEY_SEED: [u8; 1] = [0x02];

/// A chain key and its position: `next = HMAC(key, 0x02)`, message seed `= HMAC(key, 0x01)`.
#[derive(Clone)]
pub(crate) struct ChainKey {
    key: Secret<32>,
    index: u32,
}

impl ChainKey {
    /// A chain key at position `index`.
    pub(crate) fn new(key: Secret<32>, index: u32) -> Self {
        Self { key, index }
    }

    /// The chain key bytes (for storage).
    pub(crate) fn key(&self) -> &Secret<32> {
        &self.key
    }

    /// The position of the next message this chain will give keys for.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The chain key one step on. `None` once the 32-bit counter is exhausted.
    pub(crate) fn next(&self) -> Option<Self> {
        let index = self.index.checked_add(1)?;
        Some(Self {
            key: Secret::new(hmac_sha256(self.key.expose(), &CHAIN_KEY_SEED)),
            index,
        })
    }

    /// The keys of the message at this position.
    pub(crate) fn message_keys(&self) -> Result<MessageKeys, KdfError> {
        let seed = Secret::new(hmac_sha256(self.key.expose(), &MESSAGE_KEY_SEED));
        MessageKeys::derive(&seed, self.index)
    }

    /// The keys of the message at this position and the chain key one step on, keying HMAC
    /// once for both. `None` once the 32-bit counter is exhausted.
    pub(crate) fn step(&self) -> Option<(MessageKeys, Self)> {
        let index = self.index.checked_add(1)?;
        let hmac = HmacKey::new(self.key.expose());
        let seed = Secret::new(hmac.mac(&[&MESSAGE_KEY_SEED]));
        let keys = MessageKeys::derive(&seed, self.index).ok()?;
        Some((
            keys,
            Self {
                key: Secret::new(hmac.mac(&[&CHAIN_KEY_SEED])),
                index,
            },
        ))
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainKey")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}
