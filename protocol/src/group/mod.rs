//! Sender keys: group messages byte-compatible with libsignal.
//!
//! A sender encrypts a group message once with its sender chain and signs it; every member
//! device holds the chain (received once, in a [`SenderKeyDistributionMessage`] inside a pairwise
//! session) and the sender's signing public key. State is kept per (sender device, distribution
//! id) in a [`SenderKeyStore`].
//!
//! - [`create_distribution_message`]: the sender's chain (made on first use) as a distribution
//!   message;
//! - [`process_distribution_message`]: a member stores a sender's chain;
//! - [`encrypt`] / [`decrypt`]: one group message.
//!
//! Every operation writes at most one record, after it succeeded.

mod chain_key;
mod state;

pub use state::SenderKeyRecord;

use std::collections::VecDeque;

use rand_core::CryptoRng;

// `pub(crate)` for the storage format (`store::serialize`).
pub(crate) use self::chain_key::SenderChainKey;
pub(crate) use self::state::SenderKeyState;
use crate::address::Address;
use crate::crypto::{KeyPair, Secret, SigningKey, VerifyingKey, aes256_cbc_decrypt, aes256_cbc_encrypt};
use crate::store::{SenderKeyStore, StoreError};
use crate::wire::{SenderKeyDistributionMessage, SenderKeyMessage, WireError};

/// Why a distribution message could not be made or stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DistributionError {
    /// The bytes are not a well-formed distribution message.
    #[error("malformed distribution message")]
    Malformed,
    /// The message version is not 3.
    #[error("unsupported message version")]
    UnknownVersion,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a group message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupEncryptError {
    /// We have no sender chain of our own for this distribution id (create a distribution
    /// message first).
    #[error("no sender key for this distribution id")]
    NoSenderKey,
    /// The chain reached 2^32 messages (rotate the key).
    #[error("the sender chain is exhausted")]
    ChainExhausted,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a group message could not be decrypted. In every case no stored state changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupDecryptError {
    /// The bytes are not a well-formed group message.
    #[error("malformed message")]
    Malformed,
    /// The message version is not 3.
    #[error("unsupported message version")]
    UnknownVersion,
    /// We hold no chain of this sender with this distribution and chain id (ask the sender for
    /// its distribution message).
    #[error("no sender key for this sender and chain")]
    NoSenderKey,
    /// The signature does not verify under the sender's signing key.
    #[error("bad signature")]
    BadSignature,
    /// This message was already decrypted (or its key is too old to be kept).
    #[error("duplicate message")]
    Duplicate,
    /// The message claims to be more than `MAX_GROUP_FORWARD_JUMPS` ahead of the chain.
    #[error("message too far ahead of its chain")]
    TooFarAhead,
    /// The signature was right but the ciphertext does not decrypt.
    #[error("ciphertext does not decrypt")]
    BadCiphertext,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WireError> for GroupDecryptError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::UnknownVersion => Self::UnknownVersion,
            _ => Self::Malformed,
        }
    }
}

impl From<WireError> for DistributionError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::UnknownVersion => Self::UnknownVersion,
            _ => Self::Malformed,
        }
    }
}

/// Our sender chain for `distribution_id` as a distribution message for the members. Makes the
/// chain on first use: a 31-bit chain id, a 32-byte chain key and a signing key pair, drawn from
/// `rng` in that order. `sender` is our own address.
pub fn create_distribution_message<S: SenderKeyStore + ?Sized, R: CryptoRng + ?Sized>(
    store: &mut S,
    sender: &Address,
    distribution_id: [u8; 16],
    rng: &mut R,
) -> Result<SenderKeyDistributionMessage, DistributionError> {
    let mut record = store.sender_key(sender, &distribution_id)?.unwrap_or_default();
    let state = match record.newest() {
        Some(s) if s.signing_key.is_some() => s.clone(),
        _ => {
            let chain_id = rng.next_u32() >> 1;
            let chain_key = Secret::<32>::random(rng);
            let signing = KeyPair::generate(rng);
            let state = SenderKeyState {
                chain_id,
                chain_key: SenderChainKey::new(0, chain_key),
                verifying_key: VerifyingKey::new(signing.public),
                signing_key: Some(SigningKey::new(&signing.private)),
                skipped: VecDeque::new(),
            };
            record.set_state(state.clone());
            store.save_sender_key(sender, &distribution_id, record)?;
            state
        }
    };
    Ok(SenderKeyDistributionMessage::new(
        distribution_id,
        state.chain_id,
        state.chain_key.iteration(),
        state.chain_key.key().clone(),
        *state.verifying_key.public_key(),
    ))
}

/// Forgets our sender chain for `distribution_id`, so the next distribution message starts a
/// fresh one (rotation when a member or device leaves).
pub fn reset_own_sender_key<S: SenderKeyStore + ?Sized>(
    store: &mut S,
    sender: &Address,
    distribution_id: [u8; 16],
) -> Result<(), StoreError> {
    store.save_sender_key(sender, &distribution_id, SenderKeyRecord::new())
}

/// Stores a sender's chain from its distribution message. The message must have come through an
/// authenticated pairwise session from `sender`.
pub fn process_distribution_message<S: SenderKeyStore + ?Sized>(
    store: &mut S,
    sender: &Address,
    message: &SenderKeyDistributionMessage,
) -> Result<(), DistributionError> {
    let mut record = store
        .sender_key(sender, message.distribution_id())?
        .unwrap_or_default();
    record.add_state(SenderKeyState {
        chain_id: message.chain_id(),
        chain_key: SenderChainKey::new(message.iteration(), message.chain_key().clone()),
        verifying_key: VerifyingKey::new(*message.signing_key()),
        signing_key: None,
        skipped: VecDeque::new(),
    });
    store.save_sender_key(sender, message.distribution_id(), record)?;
    Ok(())
}

/// Encrypts and signs one group message with our newest chain for `distribution_id`.
pub fn encrypt<S: SenderKeyStore + ?Sized, R: CryptoRng + ?Sized>(
    store: &mut S,
    sender: &Address,
    distribution_id: [u8; 16],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<SenderKeyMessage, GroupEncryptError> {
    let mut record = store
        .sender_key(sender, &distribution_id)?
        .ok_or(GroupEncryptError::NoSenderKey)?;
    let state = record.newest_mut().ok_or(GroupEncryptError::NoSenderKey)?;
    let signing = state.signing_key.as_ref().ok_or(GroupEncryptError::NoSenderKey)?;
    let key = state
        .chain_key
        .message_key()
        .ok_or(GroupEncryptError::ChainExhausted)?;
    let next = state.chain_key.next().ok_or(GroupEncryptError::ChainExhausted)?;
    let ciphertext = aes256_cbc_encrypt(key.cipher_key(), key.iv(), plaintext);
    let message = SenderKeyMessage::new(
        distribution_id,
        state.chain_id,
        key.iteration(),
        ciphertext,
        signing,
        rng,
    );
    state.chain_key = next;
    store.save_sender_key(sender, &distribution_id, record)?;
    Ok(message)
}

/// Verifies and decrypts one group message from `sender`.
pub fn decrypt<S: SenderKeyStore + ?Sized>(
    store: &mut S,
    sender: &Address,
    bytes: &[u8],
) -> Result<Vec<u8>, GroupDecryptError> {
    let message = SenderKeyMessage::parse(bytes)?;
    let mut record = store
        .sender_key(sender, message.distribution_id())?
        .ok_or(GroupDecryptError::NoSenderKey)?;
    let state = record
        .by_chain_id_mut(message.chain_id())
        .ok_or(GroupDecryptError::NoSenderKey)?;
    if !message.verify_signature(&state.verifying_key) {
        return Err(GroupDecryptError::BadSignature);
    }
    let (key, change) = state.plan(message.iteration())?;
    let plaintext = aes256_cbc_decrypt(key.cipher_key(), key.iv(), message.ciphertext())
        .map_err(|_| GroupDecryptError::BadCiphertext)?;
    state.apply(change);
    store.save_sender_key(sender, message.distribution_id(), record)?;
    Ok(plaintext)
}
