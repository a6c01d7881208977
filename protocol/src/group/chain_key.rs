//! A sender chain: each step gives the keys of one group message.

use core::fmt;

use crate::crypto::{Secret, hkdf_sha256, hmac_sha256};

const MESSAGE_KEY_SEED: [u8; 1] = [0x01];
const CHAIN_KEY_SEED: [u8; 1] = [0x02];
/// HKDF info that expands a group message-key seed (libsignal).
const GROUP_INFO: &[u8] = b"WhisperGroup";

/// A sender chain key at an iteration: `next = HMAC(key, 0x02)`, message seed `= HMAC(key, 0x01)`.
#[derive(Clone)]
pub(crate) struct SenderChainKey {
    iteration: u32,
    key: Secret<32>,
}

/// The keys of one group message: `HKDF(seed, salt = none, info = "WhisperGroup", 48)` split
/// into a 16-byte IV and a 32-byte AES-256 key (IV first).
#[derive(Clone)]
pub(crate) struct SenderMessageKey {
    iteration: u32,
    iv: Secret<16>,
    cipher_key: Secret<32>,
}

impl SenderChainKey {
    pub(crate) fn new(iteration: u32, key: Secret<32>) -> Self {
        Self { iteration, key }
    }

    pub(crate) fn iteration(&self) -> u32 {
        self.iteration
    }

    pub(crate) fn key(&self) -> &Secret<32> {
        &self.key
    }

    /// One step on; `None` once the 32-bit iteration is exhausted.
    pub(crate) fn next(&self) -> Option<Self> {
        Some(Self {
            iteration: self.iteration.checked_add(1)?,
            key: Secret::new(hmac_sha256(self.key.expose(), &CHAIN_KEY_SEED)),
        })
    }

    /// The keys of the message at this iteration.
    pub(crate) fn message_key(&self) -> Option<SenderMessageKey> {
        let seed = hmac_sha256(self.key.expose(), &MESSAGE_KEY_SEED);
        let okm: Secret<48> = hkdf_sha256(&seed, &[], GROUP_INFO).ok()?;
        let mut iv = Secret::new([0u8; 16]);
        let mut cipher_key = Secret::new([0u8; 32]);
        let (i, k) = okm.expose().split_at(16);
        iv.expose_mut().copy_from_slice(i);
        cipher_key.expose_mut().copy_from_slice(k);
        Some(SenderMessageKey {
            iteration: self.iteration,
            iv,
            cipher_key,
        })
    }
}

impl SenderMessageKey {
    pub(crate) fn iteration(&self) -> u32 {
        self.iteration
    }
    pub(crate) fn iv(&self) -> &[u8; 16] {
        self.iv.expose()
    }
    pub(crate) fn cipher_key(&self) -> &Secret<32> {
        &self.cipher_key
    }
}

impl fmt::Debug for SenderChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderChainKey")
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SenderMessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderMessageKey")
            .field("iteration", &self.iteration)
            .finish_non_exhaustive()
    }
}
