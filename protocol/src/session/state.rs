//! One Double Ratchet session between two devices.
//!
//! Decryption is split in two: [`SessionState::plan_decrypt`] computes the plaintext and every
//! change the message implies (a DH ratchet step, skipped keys to keep, the chain's new position)
//! without touching the state, and [`SessionState::apply`] commits such a plan. A message that
//! fails anywhere — a forged ratchet key, a bad MAC, bad padding — therefore leaves no trace.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use super::chain_key::ChainKey;
use super::message_keys::MessageKeys;
use super::root_key::RootKey;
use super::{DecryptError, EncryptError};
use crate::consts::{MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS};
use crate::crypto::{KeyPair, PublicKey, aes256_cbc_decrypt, aes256_cbc_encrypt};
use crate::wire::{PreKeySignalMessage, SignalMessage};

/// Our current sending chain and the ratchet key pair that started it.
#[derive(Clone, Debug)]
pub(crate) struct SenderChain {
    pub(crate) ratchet_key: KeyPair,
    pub(crate) chain_key: ChainKey,
}

/// A receiving chain: the peer's ratchet key, the chain's next position, and the chain keys at
/// the positions of skipped messages (oldest first). The chain key is kept rather than the
/// derived message keys, so a jump ahead costs one HMAC per skipped message; the HKDF runs only
/// for a skipped message that actually arrives.
#[derive(Clone, Debug)]
pub(crate) struct ReceiverChain {
    pub(crate) ratchet_key: PublicKey,
    pub(crate) chain_key: ChainKey,
    pub(crate) skipped: VecDeque<ChainKey>,
}

/// What the initiator repeats in every message until the responder answers: the X3DH
/// parameters that let the responder build the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingPreKey {
    pub(crate) pre_key_id: Option<u32>,
    pub(crate) signed_pre_key_id: u32,
    pub(crate) base_key: PublicKey,
}

/// A ciphertext ready for the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CiphertextMessage {
    /// A normal message.
    Whisper(SignalMessage),
    /// A message that also carries the X3DH parameters (sent until the peer replies).
    PreKey(PreKeySignalMessage),
}

impl CiphertextMessage {
    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        match self {
            Self::Whisper(m) => m.serialized(),
            Self::PreKey(m) => m.serialized(),
        }
    }

    /// libsignal's type number for the envelope.
    pub fn message_type(&self) -> crate::wire::MessageType {
        match self {
            Self::Whisper(_) => crate::wire::MessageType::Whisper,
            Self::PreKey(_) => crate::wire::MessageType::PreKey,
        }
    }
}

/// The state of one session (one X3DH run and the ratchet that followed).
#[derive(Clone, Debug)]
pub struct SessionState {
    pub(crate) local_identity: PublicKey,
    pub(crate) remote_identity: PublicKey,
    pub(crate) root_key: RootKey,
    pub(crate) sender_chain: SenderChain,
    /// Newest last; at most [`MAX_RECEIVER_CHAINS`].
    pub(crate) receiver_chains: VecDeque<ReceiverChain>,
    pub(crate) previous_counter: u32,
    pub(crate) pending_prekey: Option<PendingPreKey>,
    pub(crate) local_registration_id: u32,
    pub(crate) remote_registration_id: u32,
    /// The initiator's base key: identifies the X3DH run this state came from.
    pub(crate) alice_base_key: PublicKey,
}

/// A DH ratchet step computed for an incoming message with a new ratchet key.
struct RatchetStep {
    root_key: RootKey,
    receiver_chain_key: ChainKey,
    sender: SenderChain,
    previous_counter: u32,
}

/// How the receiving chain changes.
enum ChainChange {
    /// A stored skipped key was used: remove it.
    UsedSkipped { counter: u32 },
    /// The chain moved forward: keep these skipped keys and set the chain's next position.
    Advanced { skipped: Vec<ChainKey>, next: ChainKey },
}

/// Everything a successful decryption changes, computed before anything is changed.
pub(crate) struct DecryptPlan {
    pub(crate) plaintext: Vec<u8>,
    their_ratchet_key: PublicKey,
    ratchet: Option<RatchetStep>,
    chain: ChainChange,
}

impl SessionState {
    /// The peer's identity key.
    pub fn remote_identity(&self) -> &PublicKey {
        &self.remote_identity
    }

    /// Our identity key in this session.
    pub fn local_identity(&self) -> &PublicKey {
        &self.local_identity
    }

    /// The peer's registration id, as it told us.
    pub fn remote_registration_id(&self) -> u32 {
        self.remote_registration_id
    }

    /// True while we are the initiator and the peer has not answered yet.
    pub fn has_pending_prekey(&self) -> bool {
        self.pending_prekey.is_some()
    }

    /// Encrypts one message on the sending chain and steps the chain.
    pub(crate) fn encrypt(&mut self, plaintext: &[u8]) -> Result<CiphertextMessage, EncryptError> {
        let (keys, next) = self
            .sender_chain
            .chain_key
            .step()
            .ok_or(EncryptError::ChainExhausted)?;
        let ciphertext = aes256_cbc_encrypt(keys.cipher_key(), keys.iv(), plaintext);
        let message = SignalMessage::new(
            keys.mac_key().expose(),
            self.sender_chain.ratchet_key.public,
            keys.counter(),
            self.previous_counter,
            ciphertext,
            &self.local_identity,
            &self.remote_identity,
        );
        let out = match &self.pending_prekey {
            Some(p) => CiphertextMessage::PreKey(PreKeySignalMessage::new(
                self.local_registration_id,
                p.pre_key_id,
                p.signed_pre_key_id,
                p.base_key,
                self.local_identity,
                message,
            )),
            None => CiphertextMessage::Whisper(message),
        };
        self.sender_chain.chain_key = next;
        Ok(out)
    }

    /// Computes the decryption of `message` and the changes it implies, changing nothing.
    pub(crate) fn plan_decrypt<R: CryptoRng + ?Sized>(
        &self,
        message: &SignalMessage,
        rng: &mut R,
    ) -> Result<DecryptPlan, DecryptError> {
        let theirs = *message.sender_ratchet_key();
        let ratchet = match self.receiver_chain(&theirs) {
            Some(_) => None,
            None => Some(self.ratchet_step(&theirs, rng)?),
        };
        let (chain_key, skipped) = match (&ratchet, self.receiver_chain(&theirs)) {
            (Some(step), _) => (&step.receiver_chain_key, None),
            (None, Some(chain)) => (&chain.chain_key, Some(&chain.skipped)),
            (None, None) => return Err(DecryptError::NoSession),
        };
        let (keys, chain) = message_keys_for(chain_key, skipped, message.counter())?;
        if !message.verify_mac(
            keys.mac_key().expose(),
            &self.remote_identity,
            &self.local_identity,
        ) {
            return Err(DecryptError::BadMac);
        }
        let plaintext = aes256_cbc_decrypt(keys.cipher_key(), keys.iv(), message.ciphertext())
            .map_err(|_| DecryptError::BadCiphertext)?;
        Ok(DecryptPlan {
            plaintext,
            their_ratchet_key: theirs,
            ratchet,
            chain,
        })
    }

    /// Commits a plan made by [`Self::plan_decrypt`] on this same state.
    pub(crate) fn apply(&mut self, plan: DecryptPlan) -> Vec<u8> {
        if let Some(step) = plan.ratchet {
            self.root_key = step.root_key;
            self.receiver_chains.push_back(ReceiverChain {
                ratchet_key: plan.their_ratchet_key,
                chain_key: step.receiver_chain_key,
                skipped: VecDeque::new(),
            });
            while self.receiver_chains.len() > MAX_RECEIVER_CHAINS {
                self.receiver_chains.pop_front();
            }
            self.previous_counter = step.previous_counter;
            self.sender_chain = step.sender;
        }
        if let Some(chain) = self
            .receiver_chains
            .iter_mut()
            .rev()
            .find(|c| c.ratchet_key == plan.their_ratchet_key)
        {
            match plan.chain {
                ChainChange::UsedSkipped { counter } => chain.skipped.retain(|k| k.index() != counter),
                ChainChange::Advanced { skipped, next } => {
                    chain.skipped.extend(skipped);
                    while chain.skipped.len() > MAX_MESSAGE_KEYS {
                        chain.skipped.pop_front();
                    }
                    chain.chain_key = next;
                }
            }
        }
        self.pending_prekey = None;
        plan.plaintext
    }

    fn receiver_chain(&self, ratchet_key: &PublicKey) -> Option<&ReceiverChain> {
        self.receiver_chains
            .iter()
            .rev()
            .find(|c| &c.ratchet_key == ratchet_key)
    }

    /// The DH ratchet step for a new peer ratchet key: a receiving chain from
    /// DH(our current ratchet key, theirs), then a fresh ratchet key pair of ours and a sending
    /// chain from DH(it, theirs).
    fn ratchet_step<R: CryptoRng + ?Sized>(
        &self,
        theirs: &PublicKey,
        rng: &mut R,
    ) -> Result<RatchetStep, DecryptError> {
        let (root, receiver_chain_key) = self
            .root_key
            .create_chain(theirs, &self.sender_chain.ratchet_key.private)?;
        let ours = KeyPair::generate(rng);
        let (root_key, sender_chain_key) = root.create_chain(theirs, &ours.private)?;
        let current = self.sender_chain.chain_key.index();
        Ok(RatchetStep {
            root_key,
            receiver_chain_key,
            sender: SenderChain {
                ratchet_key: ours,
                chain_key: sender_chain_key,
            },
            previous_counter: current.saturating_sub(1),
        })
    }
}

/// The keys for message `counter` of a chain, and how the chain changes once it is used.
///
/// Behind the chain's position: a stored skipped key, or [`DecryptError::Duplicate`] when there is
/// none (already used, or dropped as too old). Ahead: step forward, keeping the keys of the
/// positions passed over (only the newest [`MAX_MESSAGE_KEYS`]; older ones would be dropped on
/// apply anyway).
fn message_keys_for(
    chain_key: &ChainKey,
    skipped: Option<&VecDeque<ChainKey>>,
    counter: u32,
) -> Result<(MessageKeys, ChainChange), DecryptError> {
    let index = chain_key.index();
    if counter < index {
        let chain = skipped
            .and_then(|s| s.iter().find(|k| k.index() == counter))
            .ok_or(DecryptError::Duplicate)?;
        let keys = chain.message_keys().map_err(|_| DecryptError::TooFarAhead)?;
        return Ok((keys, ChainChange::UsedSkipped { counter }));
    }
    if counter - index > MAX_FORWARD_JUMPS {
        return Err(DecryptError::TooFarAhead);
    }
    let keep_from = counter.saturating_sub(u32::try_from(MAX_MESSAGE_KEYS).unwrap_or(u32::MAX));
    let mut chain = chain_key.clone();
    let mut passed = Vec::new();
    while chain.index() < counter {
        if chain.index() >= keep_from {
            passed.push(chain.clone());
        }
        chain = chain.next().ok_or(DecryptError::TooFarAhead)?;
    }
    let (keys, next) = chain.step().ok_or(DecryptError::TooFarAhead)?;
    Ok((
        keys,
        ChainChange::Advanced {
            skipped: passed,
            next,
        },
    ))
}
