//! The storage format of records: session records, sender-key records, prekeys and signed
//! prekeys as bytes, and back.
//!
//! Each record is a protobuf message from the storage section of `protocol/proto/wire.proto`
//! ("storage records, never sent on the wire"), whose top level carries a format `version`
//! ([`RECORD_VERSION`]). Every field is written, in tag order; a session or sender-key record
//! keeps everything a later encrypt or decrypt needs (identities, root key, sending chain with
//! its ratchet key pair, receiving chains with their skipped chain keys, the pending prekey,
//! registration ids, the X3DH base key; chain ids, chain keys, signing keys).
//!
//! Decoding is strict and returns a typed [`RecordError`]:
//! - the bytes must re-encode to exactly themselves (so no unknown, repeated or reordered field
//!   and nothing non-canonical is accepted — a record has one encoding);
//! - the version must be one this build reads (only 1 today; a later version adds a branch);
//! - every field must be present except those optional in meaning (the current session, a
//!   pending prekey and its one-time prekey id, a sender chain's private signing key);
//! - keys must have their exact lengths and encodings;
//! - lists must respect the bounds in [`crate::consts`].
//!
//! The encoded bytes hold private keys and chain keys: they are returned in a buffer that is
//! wiped when dropped, and a store should encrypt them at rest.

use std::collections::VecDeque;

use prost::Message;
use zeroize::Zeroizing;

use crate::consts::{
    ARCHIVED_STATES_MAX_LENGTH, MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS, MAX_SENDER_KEY_STATES,
};
use crate::crypto::{
    KeyPair, PrivateKey, PublicKey, SIGNATURE_LENGTH, Secret, Signature, SigningKey, VerifyingKey,
};
use crate::group::{SenderChainKey, SenderKeyRecord, SenderKeyState};
use crate::session::{
    ChainKey, PendingPreKey, PreKeyRecord, ReceiverChain, RootKey, SenderChain, SessionRecord, SessionState,
    SignedPreKeyRecord,
};
use crate::wire::proto::{
    ChainKeyRecordProto, PendingPreKeyRecordProto, PreKeyRecordProto, ReceiverChainRecordProto,
    SenderChainRecordProto, SenderKeyRecordProto, SenderKeyStateRecordProto, SessionRecordProto,
    SessionStateRecordProto, SignedPreKeyRecordProto,
};

/// The record format version this build writes (and the only one it reads).
pub const RECORD_VERSION: u32 = 1;

/// Why stored record bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The bytes are not a record of this kind in its one canonical encoding (truncated, unknown
    /// or repeated fields, fields out of order).
    #[error("malformed record")]
    Malformed,
    /// The record's format version is not one this build reads.
    #[error("unsupported record version {0}")]
    UnknownVersion(u32),
    /// A field that must be present is missing.
    #[error("record field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong length or encoding.
    #[error("record field `{0}` is invalid")]
    InvalidField(&'static str),
    /// A list is longer than tandem's bound for it.
    #[error("record list `{0}` exceeds its bound")]
    TooMany(&'static str),
}

/// Encodes a session record (current and archived sessions).
pub fn encode_session_record(record: &SessionRecord) -> Zeroizing<Vec<u8>> {
    let proto = SessionRecordProto {
        version: Some(RECORD_VERSION),
        current: record.current().map(state_to_proto),
        previous: record.previous().iter().map(state_to_proto).collect(),
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes a session record written by [`encode_session_record`].
pub fn decode_session_record(bytes: &[u8]) -> Result<SessionRecord, RecordError> {
    let mut proto: SessionRecordProto = decode_canonical(bytes)?;
    check_version(proto.version)?;
    bound(proto.previous.len(), ARCHIVED_STATES_MAX_LENGTH, "previous")?;
    let current = proto.current.as_mut().map(state_from_proto).transpose()?;
    let previous = proto
        .previous
        .iter_mut()
        .map(state_from_proto)
        .collect::<Result<VecDeque<_>, _>>()?;
    Ok(SessionRecord::from_parts(current, previous))
}

/// Encodes a sender-key record (a sender's chains for one distribution id).
pub fn encode_sender_key_record(record: &SenderKeyRecord) -> Zeroizing<Vec<u8>> {
    let proto = SenderKeyRecordProto {
        version: Some(RECORD_VERSION),
        states: record.states.iter().map(sender_state_to_proto).collect(),
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes a sender-key record written by [`encode_sender_key_record`].
pub fn decode_sender_key_record(bytes: &[u8]) -> Result<SenderKeyRecord, RecordError> {
    let mut proto: SenderKeyRecordProto = decode_canonical(bytes)?;
    check_version(proto.version)?;
    bound(proto.states.len(), MAX_SENDER_KEY_STATES, "states")?;
    let states = proto
        .states
        .iter_mut()
        .map(sender_state_from_proto)
        .collect::<Result<VecDeque<_>, _>>()?;
    Ok(SenderKeyRecord { states })
}

/// Encodes a one-time prekey.
pub fn encode_pre_key_record(record: &PreKeyRecord) -> Zeroizing<Vec<u8>> {
    let proto = PreKeyRecordProto {
        version: Some(RECORD_VERSION),
        id: Some(record.id),
        public_key: Some(record.key_pair.public.serialize().to_vec()),
        private_key: Some(private_bytes(&record.key_pair.private)),
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes a one-time prekey written by [`encode_pre_key_record`].
pub fn decode_pre_key_record(bytes: &[u8]) -> Result<PreKeyRecord, RecordError> {
    let mut proto: PreKeyRecordProto = decode_canonical(bytes)?;
    check_version(proto.version)?;
    Ok(PreKeyRecord {
        id: required(proto.id, "id")?,
        key_pair: key_pair(
            &mut proto.public_key,
            &mut proto.private_key,
            "public_key",
            "private_key",
        )?,
    })
}

/// Encodes a signed prekey.
pub fn encode_signed_pre_key_record(record: &SignedPreKeyRecord) -> Zeroizing<Vec<u8>> {
    let proto = SignedPreKeyRecordProto {
        version: Some(RECORD_VERSION),
        id: Some(record.id),
        public_key: Some(record.key_pair.public.serialize().to_vec()),
        private_key: Some(private_bytes(&record.key_pair.private)),
        signature: Some(record.signature.to_bytes().to_vec()),
        timestamp: Some(record.timestamp),
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes a signed prekey written by [`encode_signed_pre_key_record`].
pub fn decode_signed_pre_key_record(bytes: &[u8]) -> Result<SignedPreKeyRecord, RecordError> {
    let mut proto: SignedPreKeyRecordProto = decode_canonical(bytes)?;
    check_version(proto.version)?;
    let signature: [u8; SIGNATURE_LENGTH] = required(proto.signature.take(), "signature")?
        .as_slice()
        .try_into()
        .map_err(|_| RecordError::InvalidField("signature"))?;
    Ok(SignedPreKeyRecord {
        id: required(proto.id, "id")?,
        key_pair: key_pair(
            &mut proto.public_key,
            &mut proto.private_key,
            "public_key",
            "private_key",
        )?,
        signature: Signature(signature),
        timestamp: required(proto.timestamp, "timestamp")?,
    })
}

// ---- Session states ----

fn state_to_proto(state: &SessionState) -> SessionStateRecordProto {
    SessionStateRecordProto {
        local_identity: Some(state.local_identity.serialize().to_vec()),
        remote_identity: Some(state.remote_identity.serialize().to_vec()),
        root_key: Some(state.root_key.key().expose().to_vec()),
        sender_chain: Some(SenderChainRecordProto {
            ratchet_public: Some(state.sender_chain.ratchet_key.public.serialize().to_vec()),
            ratchet_private: Some(private_bytes(&state.sender_chain.ratchet_key.private)),
            chain_key: Some(chain_key_to_proto(
                state.sender_chain.chain_key.key(),
                state.sender_chain.chain_key.index(),
            )),
        }),
        receiver_chains: state
            .receiver_chains
            .iter()
            .map(|chain| ReceiverChainRecordProto {
                ratchet_key: Some(chain.ratchet_key.serialize().to_vec()),
                chain_key: Some(chain_key_to_proto(chain.chain_key.key(), chain.chain_key.index())),
                skipped: chain
                    .skipped
                    .iter()
                    .map(|k| chain_key_to_proto(k.key(), k.index()))
                    .collect(),
            })
            .collect(),
        previous_counter: Some(state.previous_counter),
        pending_prekey: state.pending_prekey.as_ref().map(|p| PendingPreKeyRecordProto {
            pre_key_id: p.pre_key_id,
            signed_pre_key_id: Some(p.signed_pre_key_id),
            base_key: Some(p.base_key.serialize().to_vec()),
        }),
        local_registration_id: Some(state.local_registration_id),
        remote_registration_id: Some(state.remote_registration_id),
        alice_base_key: Some(state.alice_base_key.serialize().to_vec()),
    }
}

fn state_from_proto(proto: &mut SessionStateRecordProto) -> Result<SessionState, RecordError> {
    bound(
        proto.receiver_chains.len(),
        MAX_RECEIVER_CHAINS,
        "receiver_chains",
    )?;
    let sender = proto
        .sender_chain
        .as_mut()
        .ok_or(RecordError::MissingField("sender_chain"))?;
    let sender_chain = SenderChain {
        ratchet_key: key_pair(
            &mut sender.ratchet_public,
            &mut sender.ratchet_private,
            "ratchet_public",
            "ratchet_private",
        )?,
        chain_key: chain_key_from_proto(sender.chain_key.as_mut()).map(|(k, i)| ChainKey::new(k, i))?,
    };
    let receiver_chains = proto
        .receiver_chains
        .iter_mut()
        .map(|chain| {
            bound(chain.skipped.len(), MAX_MESSAGE_KEYS, "skipped")?;
            Ok(ReceiverChain {
                ratchet_key: public_key(chain.ratchet_key.as_deref(), "ratchet_key")?,
                chain_key: chain_key_from_proto(chain.chain_key.as_mut())
                    .map(|(k, i)| ChainKey::new(k, i))?,
                skipped: chain
                    .skipped
                    .iter_mut()
                    .map(|k| chain_key_from_proto(Some(k)).map(|(k, i)| ChainKey::new(k, i)))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect::<Result<VecDeque<_>, RecordError>>()?;
    let pending_prekey = proto
        .pending_prekey
        .as_ref()
        .map(|p| {
            Ok::<_, RecordError>(PendingPreKey {
                pre_key_id: p.pre_key_id,
                signed_pre_key_id: required(p.signed_pre_key_id, "signed_pre_key_id")?,
                base_key: public_key(p.base_key.as_deref(), "base_key")?,
            })
        })
        .transpose()?;
    Ok(SessionState {
        local_identity: public_key(proto.local_identity.as_deref(), "local_identity")?,
        remote_identity: public_key(proto.remote_identity.as_deref(), "remote_identity")?,
        root_key: RootKey::new(secret32(&mut proto.root_key, "root_key")?),
        sender_chain,
        receiver_chains,
        previous_counter: required(proto.previous_counter, "previous_counter")?,
        pending_prekey,
        local_registration_id: required(proto.local_registration_id, "local_registration_id")?,
        remote_registration_id: required(proto.remote_registration_id, "remote_registration_id")?,
        alice_base_key: public_key(proto.alice_base_key.as_deref(), "alice_base_key")?,
    })
}

// ---- Sender-key states ----

fn sender_state_to_proto(state: &SenderKeyState) -> SenderKeyStateRecordProto {
    SenderKeyStateRecordProto {
        chain_id: Some(state.chain_id),
        chain_key: Some(chain_key_to_proto(
            state.chain_key.key(),
            state.chain_key.iteration(),
        )),
        signing_public: Some(state.verifying_key.public_key().serialize().to_vec()),
        signing_private: state
            .signing_key
            .as_ref()
            .map(|k| k.private_bytes().expose().to_vec()),
        skipped: state
            .skipped
            .iter()
            .map(|k| chain_key_to_proto(k.key(), k.iteration()))
            .collect(),
    }
}

fn sender_state_from_proto(proto: &mut SenderKeyStateRecordProto) -> Result<SenderKeyState, RecordError> {
    bound(proto.skipped.len(), MAX_MESSAGE_KEYS, "skipped")?;
    let signing_key = if proto.signing_private.is_some() {
        Some(SigningKey::new(&private_key(
            &mut proto.signing_private,
            "signing_private",
        )?))
    } else {
        None
    };
    let (key, iteration) = chain_key_from_proto(proto.chain_key.as_mut())?;
    Ok(SenderKeyState {
        chain_id: required(proto.chain_id, "chain_id")?,
        chain_key: SenderChainKey::new(iteration, key),
        verifying_key: VerifyingKey::new(public_key(proto.signing_public.as_deref(), "signing_public")?),
        signing_key,
        skipped: proto
            .skipped
            .iter_mut()
            .map(|k| chain_key_from_proto(Some(k)).map(|(k, i)| SenderChainKey::new(i, k)))
            .collect::<Result<_, _>>()?,
    })
}

// ---- Fields ----

/// Decodes `bytes` and refuses them unless they are exactly the encoding of what they decode to.
pub(crate) fn decode_canonical<M: Message + Default>(bytes: &[u8]) -> Result<M, RecordError> {
    let message = M::decode(bytes).map_err(|_| RecordError::Malformed)?;
    let again = Zeroizing::new(message.encode_to_vec());
    if again.as_slice() != bytes {
        return Err(RecordError::Malformed);
    }
    Ok(message)
}

pub(crate) fn check_version(version: Option<u32>) -> Result<(), RecordError> {
    match required(version, "version")? {
        RECORD_VERSION => Ok(()),
        other => Err(RecordError::UnknownVersion(other)),
    }
}

fn bound(len: usize, max: usize, name: &'static str) -> Result<(), RecordError> {
    if len > max {
        return Err(RecordError::TooMany(name));
    }
    Ok(())
}

pub(crate) fn required<T>(value: Option<T>, name: &'static str) -> Result<T, RecordError> {
    value.ok_or(RecordError::MissingField(name))
}

pub(crate) fn public_key(bytes: Option<&[u8]>, name: &'static str) -> Result<PublicKey, RecordError> {
    PublicKey::deserialize(required(bytes, name)?).map_err(|_| RecordError::InvalidField(name))
}

/// Takes 32 secret bytes out of a field (the field's buffer is wiped when dropped).
fn secret32(field: &mut Option<Vec<u8>>, name: &'static str) -> Result<Secret<32>, RecordError> {
    let bytes = Zeroizing::new(field.take().ok_or(RecordError::MissingField(name))?);
    let mut secret = Secret::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(RecordError::InvalidField(name));
    }
    secret.expose_mut().copy_from_slice(&bytes);
    Ok(secret)
}

/// A private key out of a field. The stored bytes are clamped already; a stored key that is not
/// clamped is refused rather than silently changed.
fn private_key(field: &mut Option<Vec<u8>>, name: &'static str) -> Result<PrivateKey, RecordError> {
    let secret = secret32(field, name)?;
    let key = PrivateKey::from_bytes(secret.expose()).map_err(|_| RecordError::InvalidField(name))?;
    if key.to_bytes() != secret {
        return Err(RecordError::InvalidField(name));
    }
    Ok(key)
}

/// A key pair from its two stored halves. The public half is stored, not recomputed (one scalar
/// multiplication per key pair would be spent on every load); the record is our own, written by
/// [`encode_session_record`] and, at rest, authenticated by the store's encryption.
pub(crate) fn key_pair(
    public: &mut Option<Vec<u8>>,
    private: &mut Option<Vec<u8>>,
    public_name: &'static str,
    private_name: &'static str,
) -> Result<KeyPair, RecordError> {
    Ok(KeyPair {
        public: public_key(public.as_deref(), public_name)?,
        private: private_key(private, private_name)?,
    })
}

pub(crate) fn private_bytes(key: &PrivateKey) -> Vec<u8> {
    key.to_bytes().expose().to_vec()
}

fn chain_key_to_proto(key: &Secret<32>, index: u32) -> ChainKeyRecordProto {
    ChainKeyRecordProto {
        key: Some(key.expose().to_vec()),
        index: Some(index),
    }
}

fn chain_key_from_proto(proto: Option<&mut ChainKeyRecordProto>) -> Result<(Secret<32>, u32), RecordError> {
    let proto = proto.ok_or(RecordError::MissingField("chain_key"))?;
    Ok((
        secret32(&mut proto.key, "chain_key.key")?,
        required(proto.index, "chain_key.index")?,
    ))
}

#[cfg(test)]
mod tests;
