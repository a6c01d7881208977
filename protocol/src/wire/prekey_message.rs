//! `PreKeySignalMessage`: the first messages of a session, carrying what the responder needs
//! to run X3DH.

use prost::Message;

use super::proto::PreKeySignalMessageProto;
use super::strict::{WireType, check_fields};
use super::{SignalMessage, VERSION_BYTE, WireError, split_version};
use crate::crypto::PublicKey;

/// A parsed `PreKeySignalMessage` (unauthenticated until its inner message decrypts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreKeySignalMessage {
    registration_id: u32,
    pre_key_id: Option<u32>,
    signed_pre_key_id: u32,
    base_key: PublicKey,
    identity_key: PublicKey,
    message: SignalMessage,
    serialized: Vec<u8>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Varint),
    (2, WireType::Bytes),
    (3, WireType::Bytes),
    (4, WireType::Bytes),
    (5, WireType::Varint),
    (6, WireType::Varint),
];

impl PreKeySignalMessage {
    /// Wraps a first message with the initiator's X3DH parameters (version byte 0x33).
    pub(crate) fn new(
        registration_id: u32,
        pre_key_id: Option<u32>,
        signed_pre_key_id: u32,
        base_key: PublicKey,
        identity_key: PublicKey,
        message: SignalMessage,
    ) -> Self {
        let body = PreKeySignalMessageProto {
            pre_key_id,
            base_key: Some(base_key.serialize().to_vec()),
            identity_key: Some(identity_key.serialize().to_vec()),
            message: Some(message.serialized().to_vec()),
            registration_id: Some(registration_id),
            signed_pre_key_id: Some(signed_pre_key_id),
        };
        let mut serialized = Vec::with_capacity(1 + body.encoded_len());
        serialized.push(VERSION_BYTE);
        serialized.extend_from_slice(&body.encode_to_vec());
        Self {
            registration_id,
            pre_key_id,
            signed_pre_key_id,
            base_key,
            identity_key,
            message,
            serialized,
        }
    }

    /// Parses a message strictly, including the enclosed `SignalMessage`, whose message
    /// version must match.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let (version, body) = split_version(bytes)?;
        check_fields(body, FIELDS)?;
        let proto = PreKeySignalMessageProto::decode(body).map_err(|_| WireError::Malformed)?;
        let key = |k: Option<Vec<u8>>| {
            k.ok_or(WireError::Malformed)
                .and_then(|k| PublicKey::deserialize(&k).map_err(|_| WireError::Malformed))
        };
        let message = SignalMessage::parse(&proto.message.ok_or(WireError::Malformed)?)?;
        if message.serialized().first().map(|b| b >> 4) != Some(version >> 4) {
            return Err(WireError::Malformed);
        }
        Ok(Self {
            registration_id: proto.registration_id.unwrap_or(0),
            pre_key_id: proto.pre_key_id,
            signed_pre_key_id: proto.signed_pre_key_id.ok_or(WireError::Malformed)?,
            base_key: key(proto.base_key)?,
            identity_key: key(proto.identity_key)?,
            message,
            serialized: bytes.to_vec(),
        })
    }

    /// The initiator's registration id.
    pub fn registration_id(&self) -> u32 {
        self.registration_id
    }

    /// The responder's one-time prekey the initiator used, if any.
    pub fn pre_key_id(&self) -> Option<u32> {
        self.pre_key_id
    }

    /// The responder's signed prekey the initiator used.
    pub fn signed_pre_key_id(&self) -> u32 {
        self.signed_pre_key_id
    }

    /// The initiator's base (ephemeral) key.
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The initiator's identity key.
    pub fn identity_key(&self) -> &PublicKey {
        &self.identity_key
    }

    /// The enclosed first `SignalMessage`.
    pub fn message(&self) -> &SignalMessage {
        &self.message
    }

    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}
