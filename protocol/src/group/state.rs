//! One sender chain as a group member holds it, and the record of a sender's chains.

use std::collections::VecDeque;

use super::GroupDecryptError;
use super::chain_key::{SenderChainKey, SenderMessageKey};
use crate::consts::{MAX_GROUP_FORWARD_JUMPS, MAX_MESSAGE_KEYS, MAX_SENDER_KEY_STATES};
use crate::crypto::{SigningKey, VerifyingKey};

/// A sender chain: its id, position, the sender's signing key (with the private half only on the
/// sender's own device), and the chain keys at skipped iterations (oldest first). Keeping the
/// chain key rather than the derived message key makes a jump ahead cost one HMAC per skipped
/// message; the HKDF runs only for a skipped message that actually arrives.
#[derive(Clone, Debug)]
pub(crate) struct SenderKeyState {
    pub(crate) chain_id: u32,
    pub(crate) chain_key: SenderChainKey,
    pub(crate) verifying_key: VerifyingKey,
    pub(crate) signing_key: Option<SigningKey>,
    pub(crate) skipped: VecDeque<SenderChainKey>,
}

/// How a successful decrypt changes a state, computed before anything changes.
pub(crate) enum ChainChange {
    UsedSkipped(u32),
    Advanced {
        skipped: Vec<SenderChainKey>,
        next: SenderChainKey,
    },
}

impl SenderKeyState {
    /// The key for message `iteration`, and the change to apply once it decrypted.
    pub(crate) fn plan(&self, iteration: u32) -> Result<(SenderMessageKey, ChainChange), GroupDecryptError> {
        let current = self.chain_key.iteration();
        if iteration < current {
            let chain = self
                .skipped
                .iter()
                .find(|k| k.iteration() == iteration)
                .ok_or(GroupDecryptError::Duplicate)?;
            let key = chain.message_key().ok_or(GroupDecryptError::TooFarAhead)?;
            return Ok((key, ChainChange::UsedSkipped(iteration)));
        }
        if iteration - current > MAX_GROUP_FORWARD_JUMPS {
            return Err(GroupDecryptError::TooFarAhead);
        }
        let keep_from = iteration.saturating_sub(u32::try_from(MAX_MESSAGE_KEYS).unwrap_or(u32::MAX));
        let mut chain = self.chain_key.clone();
        let mut passed = Vec::new();
        while chain.iteration() < iteration {
            if chain.iteration() >= keep_from {
                passed.push(chain.clone());
            }
            chain = chain.next().ok_or(GroupDecryptError::TooFarAhead)?;
        }
        let key = chain.message_key().ok_or(GroupDecryptError::TooFarAhead)?;
        let next = chain.next().ok_or(GroupDecryptError::TooFarAhead)?;
        Ok((
            key,
            ChainChange::Advanced {
                skipped: passed,
                next,
            },
        ))
    }

    /// Applies a change computed by [`Self::plan`].
    pub(crate) fn apply(&mut self, change: ChainChange) {
        match change {
            ChainChange::UsedSkipped(i) => self.skipped.retain(|k| k.iteration() != i),
            ChainChange::Advanced { skipped, next } => {
                self.skipped.extend(skipped);
                while self.skipped.len() > MAX_MESSAGE_KEYS {
                    self.skipped.pop_front();
                }
                self.chain_key = next;
            }
        }
    }
}

/// Every chain of one sender for one distribution id, newest first, at most
/// [`MAX_SENDER_KEY_STATES`].
#[derive(Clone, Debug, Default)]
pub struct SenderKeyRecord {
    pub(crate) states: VecDeque<SenderKeyState>,
}

impl SenderKeyRecord {
    /// A record with no chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many chains are kept.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True when no chain is kept.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The newest chain (the one a sender encrypts with).
    pub(crate) fn newest_mut(&mut self) -> Option<&mut SenderKeyState> {
        self.states.front_mut()
    }

    pub(crate) fn newest(&self) -> Option<&SenderKeyState> {
        self.states.front()
    }

    /// The chain with this id.
    pub(crate) fn by_chain_id_mut(&mut self, chain_id: u32) -> Option<&mut SenderKeyState> {
        self.states.iter_mut().find(|s| s.chain_id == chain_id)
    }

    /// Adds a chain as the newest. A chain already held with the same id and signing key is kept
    /// as it is (a repeated distribution message must not rewind it); other chains with the same
    /// id are dropped; the oldest chains beyond the bound are dropped.
    pub(crate) fn add_state(&mut self, state: SenderKeyState) {
        let existing = self
            .states
            .iter()
            .position(|s| {
                s.chain_id == state.chain_id
                    && same_key(s.verifying_key.public_key(), state.verifying_key.public_key())
            })
            .and_then(|i| self.states.remove(i));
        self.states.retain(|s| s.chain_id != state.chain_id);
        while self.states.len() >= MAX_SENDER_KEY_STATES {
            self.states.pop_back();
        }
        self.states.push_front(existing.unwrap_or(state));
    }

    /// Replaces every chain with `state` (a sender starting a fresh chain).
    pub(crate) fn set_state(&mut self, state: SenderKeyState) {
        self.states.clear();
        self.states.push_front(state);
    }
}

/// Key equality as verification sees it: bit 255 of the u-coordinate is ignored when verifying,
/// so two encodings that differ only there are the same key (a repeated distribution message
/// must not be able to rewind a chain by flipping it).
fn same_key(a: &crate::crypto::PublicKey, b: &crate::crypto::PublicKey) -> bool {
    let (mut x, mut y) = (*a.as_raw(), *b.as_raw());
    x[31] &= 0x7F;
    y[31] &= 0x7F;
    x == y
}
