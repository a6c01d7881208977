//! The root key: advanced by each Diffie-Hellman ratchet step.

use core::fmt;

use super::InvalidKey;
use super::chain_key::ChainKey;
use crate::crypto::{PrivateKey, PublicKey, Secret, hkdf_sha256};

/// HKDF info for a DH ratchet step (libsignal v3).
const RATCHET_INFO: &[u8] = b"WhisperRatchet";

/// The root key. `create_chain` mixes in a fresh DH output:
/// `HKDF(ikm = DH(ours, theirs), salt = root, info = "WhisperRatchet", 64)` → new root ‖ chain.
#[derive(Clone)]
pub(crate) struct RootKey(Secret<32>);

impl RootKey {
    /// Wraps a root key.
    pub(crate) fn new(key: Secret<32>) -> Self {
        Self(key)
    }

    /// The key bytes (for storage).
    pub(crate) fn key(&self) -> &Secret<32> {
        &self.0
    }

    /// One DH ratchet step: the next root key and a new chain starting at index 0.
    pub(crate) fn create_chain(
        &self,
        theirs: &PublicKey,
        ours: &PrivateKey,
    ) -> Result<(RootKey, ChainKey), InvalidKey> {
        let shared = ours.agree(theirs).map_err(|_| InvalidKey)?;
        let okm: Secret<64> =
            hkdf_sha256(shared.expose(), self.0.expose(), RATCHET_INFO).map_err(|_| InvalidKey)?;
        let (root, chain) = split64(&okm);
        Ok((RootKey(root), ChainKey::new(chain, 0)))
    }
}

/// Splits 64 secret bytes into two 32-byte secrets.
pub(crate) fn split64(okm: &Secret<64>) -> (Secret<32>, Secret<32>) {
    let mut a = Secret::new([0u8; 32]);
    let mut b = Secret::new([0u8; 32]);
    let (x, y) = okm.expose().split_at(32);
    a.expose_mut().copy_from_slice(x);
    b.expose_mut().copy_from_slice(y);
    (a, b)
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(redacted)")
    }
}
