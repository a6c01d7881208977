//! Pairwise sessions: X3DH and the Double Ratchet, byte-compatible with libsignal version 3.
//!
//! The operations take the device's stores, the peer's address and (where keys are made) the
//! caller's CSPRNG. Each reads what it needs, computes the whole new state, and hands the store
//! one [`SessionCommit`](crate::store::SessionCommit); when it fails, nothing is written:
//!
//! - [`process_prekey_bundle`]: start a session as initiator.
//! - [`encrypt`]: encrypt with the current session.
//! - [`decrypt_prekey_message`] / [`decrypt_message`]: decrypt a first / later message.

mod chain_key;
mod message_keys;
mod prekeys;
mod record;
mod root_key;
mod state;
mod x3dh;

pub use prekeys::{PreKeyBundle, PreKeyRecord, SignedPreKeyRecord, generate_registration_id};
pub use record::SessionRecord;
pub use state::{CiphertextMessage, SessionState};
// The parts of a session state, for the storage format (`store::serialize`).
pub(crate) use chain_key::ChainKey;
pub(crate) use root_key::RootKey;
pub(crate) use state::{PendingPreKey, ReceiverChain, SenderChain};

use rand_core::CryptoRng;

use crate::address::Address;
use crate::crypto::{KeyPair, PublicKey};
use crate::store::{ProtocolStore, SessionCommit, StoreError};
use crate::wire::{PreKeySignalMessage, SignalMessage, WireError};

/// A key agreement gave a non-contributory result (a small-order key from the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidKey;

/// Why a session could not be started from a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The signed prekey's signature does not verify under the bundle's identity key.
    #[error("the signed prekey signature is invalid")]
    BadSignature,
    /// The bundle's identity key differs from the one accepted before for this address; the
    /// caller must accept the new key (`IdentityStore::save_identity`) before trying again.
    #[error("the peer's identity key changed")]
    UntrustedIdentity,
    /// A key in the bundle is of small order.
    #[error("a key in the bundle is invalid")]
    InvalidKey,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// There is no session with this address: fetch a bundle first.
    #[error("no session with this address")]
    NoSession,
    /// The peer's identity key differs from the one accepted before.
    #[error("the peer's identity key changed")]
    UntrustedIdentity,
    /// The sending chain reached 2^32 messages (start a new session).
    #[error("the sending chain is exhausted")]
    ChainExhausted,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a message could not be decrypted. In every case no stored state changed.
///
/// What to do: `Duplicate` — ignore the message; `Malformed`, `UnknownVersion` — drop it;
/// `UntrustedIdentity` — ask the user; the others — the message cannot be read here (ask the
/// sender to retry with a fresh session).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The bytes are not a well-formed message.
    #[error("malformed message")]
    Malformed,
    /// The message version is not 3.
    #[error("unsupported message version")]
    UnknownVersion,
    /// No session's keys authenticate the message.
    #[error("MAC verification failed")]
    BadMac,
    /// The MAC was right but the ciphertext does not decrypt (bad padding).
    #[error("ciphertext does not decrypt")]
    BadCiphertext,
    /// This message was already decrypted (or its key is too old to be kept).
    #[error("duplicate message")]
    Duplicate,
    /// The message claims to be more than `MAX_FORWARD_JUMPS` ahead of its chain.
    #[error("message too far ahead of its chain")]
    TooFarAhead,
    /// There is no session with this address.
    #[error("no session with this address")]
    NoSession,
    /// The sender's identity key differs from the one accepted before.
    #[error("the peer's identity key changed")]
    UntrustedIdentity,
    /// The first message names a signed prekey we do not have.
    #[error("unknown signed prekey")]
    UnknownSignedPreKey,
    /// The first message names a one-time prekey we do not have (already used).
    #[error("unknown one-time prekey")]
    UnknownPreKey,
    /// A key in the message is of small order.
    #[error("a key in the message is invalid")]
    InvalidKey,
    /// The store failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WireError> for DecryptError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::UnknownVersion => Self::UnknownVersion,
            _ => Self::Malformed,
        }
    }
}

impl From<InvalidKey> for DecryptError {
    fn from(_: InvalidKey) -> Self {
        Self::InvalidKey
    }
}

impl From<InvalidKey> for BundleError {
    fn from(_: InvalidKey) -> Self {
        Self::InvalidKey
    }
}

/// Trust on first use: a key is trusted if none is known for the address, or it is the known one.
fn is_trusted(known: Option<PublicKey>, key: &PublicKey) -> bool {
    known.is_none_or(|k| &k == key)
}

/// Starts a session with `address` from its bundle (we are the initiator). Checks the identity
/// against the one we know and the signed prekey's signature; draws our base key, then our
/// first ratchet key, from `rng`. The old session, if any, is archived.
pub fn process_prekey_bundle<S: ProtocolStore + ?Sized, R: CryptoRng + ?Sized>(
    store: &mut S,
    address: &Address,
    bundle: &PreKeyBundle,
    rng: &mut R,
) -> Result<(), BundleError> {
    if !is_trusted(store.identity(address)?, &bundle.identity_key) {
        return Err(BundleError::UntrustedIdentity);
    }
    bundle
        .identity_key
        .verify(
            &bundle.signed_pre_key.serialize(),
            &bundle.signed_pre_key_signature,
        )
        .map_err(|_| BundleError::BadSignature)?;
    let identity = store.identity_key_pair()?;
    let state = x3dh::initialize_alice(
        x3dh::AliceParameters {
            our_identity: &identity,
            our_base_key: KeyPair::generate(rng),
            their_identity: bundle.identity_key,
            their_signed_pre_key: bundle.signed_pre_key,
            their_signed_pre_key_id: bundle.signed_pre_key_id,
            their_one_time_pre_key: bundle.pre_key,
            our_registration_id: store.local_registration_id()?,
            their_registration_id: bundle.registration_id,
        },
        rng,
    )?;
    let mut record = store.session(address)?.unwrap_or_default();
    record.promote_state(state);
    store.commit(SessionCommit {
        address: address.clone(),
        record,
        identity: Some(bundle.identity_key),
        consumed_pre_key: None,
    })?;
    Ok(())
}

/// Encrypts `plaintext` for `address` with the current session.
pub fn encrypt<S: ProtocolStore + ?Sized>(
    store: &mut S,
    address: &Address,
    plaintext: &[u8],
) -> Result<CiphertextMessage, EncryptError> {
    let known = store.identity(address)?;
    // Lent, not copied: on failure it goes back unchanged.
    let mut record = store.take_session(address)?.ok_or(EncryptError::NoSession)?;
    let trusted = record.current().map(|s| is_trusted(known, s.remote_identity()));
    let message = match trusted {
        Some(true) => record.encrypt(plaintext),
        Some(false) => Err(EncryptError::UntrustedIdentity),
        None => Err(EncryptError::NoSession),
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            store.restore_session(address, record);
            return Err(e);
        }
    };
    store.commit(SessionCommit {
        address: address.clone(),
        record,
        identity: None,
        consumed_pre_key: None,
    })?;
    Ok(message)
}

/// Decrypts a `PreKeySignalMessage` from `address`: builds the session (X3DH as responder)
/// unless one from the same X3DH run exists, decrypts, checks the sender's identity against the
/// one we know, and only then commits the session, remembers the identity and uses up the
/// one-time prekey — all in one commit.
pub fn decrypt_prekey_message<S: ProtocolStore + ?Sized, R: CryptoRng + ?Sized>(
    store: &mut S,
    address: &Address,
    bytes: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, DecryptError> {
    let message = PreKeySignalMessage::parse(bytes)?;
    // As libsignal: the identity the message claims must be one we trust before anything else.
    // (It is authenticated only when it goes into a new X3DH run; the check after decryption
    // covers the session that actually decrypted.)
    if !is_trusted(store.identity(address)?, message.identity_key()) {
        return Err(DecryptError::UntrustedIdentity);
    }
    let mut record = store.session(address)?.unwrap_or_default();
    let consumed_pre_key = if record.promote_matching_session(message.base_key()) {
        None
    } else {
        let signed = store
            .signed_pre_key(message.signed_pre_key_id())?
            .ok_or(DecryptError::UnknownSignedPreKey)?;
        let one_time = match message.pre_key_id() {
            Some(id) => Some(store.pre_key(id)?.ok_or(DecryptError::UnknownPreKey)?),
            None => None,
        };
        let identity = store.identity_key_pair()?;
        let state = x3dh::initialize_bob(x3dh::BobParameters {
            our_identity: &identity,
            our_signed_pre_key: signed.key_pair,
            our_one_time_pre_key: one_time.map(|r| r.key_pair),
            their_identity: *message.identity_key(),
            their_base_key: *message.base_key(),
            our_registration_id: store.local_registration_id()?,
            their_registration_id: message.registration_id(),
        })?;
        record.promote_state(state);
        message.pre_key_id()
    };
    // The identity of the session that decrypts must be trusted: it is authenticated by the MAC
    // (it went into X3DH and the MAC input). The message's identity field is not, when an
    // existing session was reused, so it is never what we remember.
    let known = store.identity(address)?;
    let plaintext = record.decrypt(message.message(), rng, |k| is_trusted(known, k))?;
    let their_identity = *record.current().ok_or(DecryptError::NoSession)?.remote_identity();
    store.commit(SessionCommit {
        address: address.clone(),
        record,
        // Remembered on first use; not rewritten on every message.
        identity: known.is_none().then_some(their_identity),
        consumed_pre_key,
    })?;
    Ok(plaintext)
}

/// Decrypts a `SignalMessage` from `address` with its current or an archived session.
pub fn decrypt_message<S: ProtocolStore + ?Sized, R: CryptoRng + ?Sized>(
    store: &mut S,
    address: &Address,
    bytes: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, DecryptError> {
    let message = SignalMessage::parse(bytes)?;
    let known = store.identity(address)?;
    // Lent, not copied: on failure it goes back unchanged (`decrypt` changes nothing unless it
    // succeeds, the identity check included).
    let mut record = store.take_session(address)?.ok_or(DecryptError::NoSession)?;
    let plaintext = match record.decrypt(&message, rng, |k| is_trusted(known, k)) {
        Ok(p) => p,
        Err(e) => {
            store.restore_session(address, record);
            return Err(e);
        }
    };
    let Some(their_identity) = record.current().map(|s| *s.remote_identity()) else {
        store.restore_session(address, record);
        return Err(DecryptError::NoSession);
    };
    store.commit(SessionCommit {
        address: address.clone(),
        record,
        // Remembered on first use; not rewritten on every message.
        identity: known.is_none().then_some(their_identity),
        consumed_pre_key: None,
    })?;
    Ok(plaintext)
}
