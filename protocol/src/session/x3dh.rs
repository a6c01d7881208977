//! X3DH session setup (libsignal version 3): the initiator ("Alice") from a prekey bundle, the
//! responder ("Bob") from the first message.
//!
//! ```text
//! secret = 0xFF×32 ‖ DH(IK_A, SPK_B) ‖ DH(EK_A, IK_B) ‖ DH(EK_A, SPK_B) [‖ DH(EK_A, OPK_B)]
//! root ‖ chain = HKDF(secret, salt = none, info = "WhisperText", 64)
//! ```
//! The 32 0xFF bytes are the "discontinuity bytes" that keep X3DH output apart from any
//! Curve25519 key. Alice then takes a DH ratchet step at once: she makes a ratchet key pair and
//! derives her sending chain from DH(it, SPK_B); Bob's first sending ratchet key is his signed
//! prekey and his sending chain is `chain`.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::InvalidKey;
use super::chain_key::ChainKey;
use super::root_key::{RootKey, split64};
use super::state::{PendingPreKey, ReceiverChain, SenderChain, SessionState};
use crate::crypto::{KeyPair, PublicKey, Secret, hkdf_sha256};

const X3DH_INFO: &[u8] = b"WhisperText";
const DISCONTINUITY: [u8; 32] = [0xFF; 32];

/// What the initiator knows when it starts a session.
pub(crate) struct AliceParameters<'a> {
    pub(crate) our_identity: &'a KeyPair,
    pub(crate) our_base_key: KeyPair,
    pub(crate) their_identity: PublicKey,
    pub(crate) their_signed_pre_key: PublicKey,
    pub(crate) their_signed_pre_key_id: u32,
    pub(crate) their_one_time_pre_key: Option<(u32, PublicKey)>,
    pub(crate) our_registration_id: u32,
    pub(crate) their_registration_id: u32,
}

/// What the responder knows when a first message arrives.
pub(crate) struct BobParameters<'a> {
    pub(crate) our_identity: &'a KeyPair,
    pub(crate) our_signed_pre_key: KeyPair,
    pub(crate) our_one_time_pre_key: Option<KeyPair>,
    pub(crate) their_identity: PublicKey,
    pub(crate) their_base_key: PublicKey,
    pub(crate) our_registration_id: u32,
    pub(crate) their_registration_id: u32,
}

fn derive(secret: &[u8]) -> Result<(RootKey, ChainKey), InvalidKey> {
    let okm: Secret<64> = hkdf_sha256(secret, &[], X3DH_INFO).map_err(|_| InvalidKey)?;
    let (root, chain) = split64(&okm);
    Ok((RootKey::new(root), ChainKey::new(chain, 0)))
}

/// Appends a DH output to the X3DH secret.
fn push_dh(
    secret: &mut Vec<u8>,
    ours: &crate::crypto::PrivateKey,
    theirs: &PublicKey,
) -> Result<(), InvalidKey> {
    secret.extend_from_slice(ours.agree(theirs).map_err(|_| InvalidKey)?.expose());
    Ok(())
}

/// Runs the initiator's side. Draws the first sending ratchet key pair from `rng`.
pub(crate) fn initialize_alice<R: CryptoRng + ?Sized>(
    p: AliceParameters<'_>,
    rng: &mut R,
) -> Result<SessionState, InvalidKey> {
    let mut secret = Zeroizing::new(Vec::with_capacity(32 * 5));
    secret.extend_from_slice(&DISCONTINUITY);
    push_dh(&mut secret, &p.our_identity.private, &p.their_signed_pre_key)?;
    push_dh(&mut secret, &p.our_base_key.private, &p.their_identity)?;
    push_dh(&mut secret, &p.our_base_key.private, &p.their_signed_pre_key)?;
    if let Some((_, one_time)) = &p.their_one_time_pre_key {
        push_dh(&mut secret, &p.our_base_key.private, one_time)?;
    }
    let (root, chain) = derive(&secret)?;

    let sending_ratchet = KeyPair::generate(rng);
    let (root_key, sending_chain) = root.create_chain(&p.their_signed_pre_key, &sending_ratchet.private)?;
    Ok(SessionState {
        local_identity: p.our_identity.public,
        remote_identity: p.their_identity,
        root_key,
        sender_chain: SenderChain {
            ratchet_key: sending_ratchet,
            chain_key: sending_chain,
        },
        receiver_chains: VecDeque::from([ReceiverChain {
            ratchet_key: p.their_signed_pre_key,
            chain_key: chain,
            skipped: VecDeque::new(),
        }]),
        previous_counter: 0,
        pending_prekey: Some(PendingPreKey {
            pre_key_id: p.their_one_time_pre_key.map(|(id, _)| id),
            signed_pre_key_id: p.their_signed_pre_key_id,
            base_key: p.our_base_key.public,
        }),
        local_registration_id: p.our_registration_id,
        remote_registration_id: p.their_registration_id,
        alice_base_key: p.our_base_key.public,
    })
}

/// Runs the responder's side.
pub(crate) fn initialize_bob(p: BobParameters<'_>) -> Result<SessionState, InvalidKey> {
    let mut secret = Zeroizing::new(Vec::with_capacity(32 * 5));
    secret.extend_from_slice(&DISCONTINUITY);
    push_dh(&mut secret, &p.our_signed_pre_key.private, &p.their_identity)?;
    push_dh(&mut secret, &p.our_identity.private, &p.their_base_key)?;
    push_dh(&mut secret, &p.our_signed_pre_key.private, &p.their_base_key)?;
    if let Some(one_time) = &p.our_one_time_pre_key {
        push_dh(&mut secret, &one_time.private, &p.their_base_key)?;
    }
    let (root_key, chain) = derive(&secret)?;
    Ok(SessionState {
        local_identity: p.our_identity.public,
        remote_identity: p.their_identity,
        root_key,
        sender_chain: SenderChain {
            ratchet_key: p.our_signed_pre_key,
            chain_key: chain,
        },
        receiver_chains: VecDeque::new(),
        previous_counter: 0,
        pending_prekey: None,
        local_registration_id: p.our_registration_id,
        remote_registration_id: p.their_registration_id,
        alice_base_key: p.their_base_key,
    })
}
