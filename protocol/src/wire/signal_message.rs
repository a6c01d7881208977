//! `SignalMessage`: one Double Ratchet message.

use prost::Message;

use super::proto::SignalMessageProto;
use super::strict::{WireType, check_fields};
use super::{MAC_LENGTH, VERSION_BYTE, WireError, split_version};
use crate::crypto::{PublicKey, hmac_sha256_parts, verify_hmac_sha256};

/// A parsed `SignalMessage`. Its MAC has not been checked yet: only the session that holds the
/// MAC key can, when it decrypts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalMessage {
    sender_ratchet_key: PublicKey,
    counter: u32,
    previous_counter: u32,
    ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Bytes),
    (2, WireType::Varint),
    (3, WireType::Varint),
    (4, WireType::Bytes),
];

impl SignalMessage {
    /// Builds and MACs a message (version byte 0x33).
    pub(crate) fn new(
        mac_key: &[u8],
        sender_ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
    ) -> Self {
        let body = SignalMessageProto {
            ratchet_key: Some(sender_ratchet_key.serialize().to_vec()),
            counter: Some(counter),
            previous_counter: Some(previous_counter),
            ciphertext: Some(ciphertext),
        };
        let mut serialized = Vec::with_capacity(1 + body.encoded_len() + MAC_LENGTH);
        serialized.push(VERSION_BYTE);
        // Encoding into a Vec cannot run out of room, prost's only failure.
        if body.encode(&mut serialized).is_err() {
            serialized.truncate(1);
        }
        let mac = compute_mac(mac_key, sender_identity, receiver_identity, &serialized);
        serialized.extend_from_slice(mac.get(..MAC_LENGTH).unwrap_or_default());
        let ciphertext = body.ciphertext.unwrap_or_default();
        Self {
            sender_ratchet_key,
            counter,
            previous_counter,
            ciphertext,
            serialized,
        }
    }

    /// Parses a message strictly (see the module docs of [`crate::wire`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let (_, rest) = split_version(bytes)?;
        let body_len = rest.len().checked_sub(MAC_LENGTH).ok_or(WireError::Malformed)?;
        let body = rest.get(..body_len).ok_or(WireError::Malformed)?;
        check_fields(body, FIELDS)?;
        let proto = SignalMessageProto::decode(body).map_err(|_| WireError::Malformed)?;
        let ratchet_key = proto.ratchet_key.ok_or(WireError::Malformed)?;
        let sender_ratchet_key = PublicKey::deserialize(&ratchet_key).map_err(|_| WireError::Malformed)?;
        Ok(Self {
            sender_ratchet_key,
            counter: proto.counter.ok_or(WireError::Malformed)?,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext: proto.ciphertext.ok_or(WireError::Malformed)?,
            serialized: bytes.to_vec(),
        })
    }

    /// Checks the MAC in constant time.
    pub(crate) fn verify_mac(
        &self,
        mac_key: &[u8],
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
    ) -> bool {
        let split = self.serialized.len().saturating_sub(MAC_LENGTH);
        let (covered, mac) = self.serialized.split_at(split);
        verify_hmac_sha256(
            mac_key,
            &[
                &sender_identity.serialize(),
                &receiver_identity.serialize(),
                covered,
            ],
            mac,
        )
        .is_ok()
    }

    /// The sender's ratchet public key.
    pub fn sender_ratchet_key(&self) -> &PublicKey {
        &self.sender_ratchet_key
    }

    /// The message's index in its sending chain.
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// libsignal's `previous_counter`: the counter of the last message on the sender's previous
    /// sending chain (0 if none or one). Informational; decryption does not use it.
    pub fn previous_counter(&self) -> u32 {
        self.previous_counter
    }

    /// The AES-256-CBC ciphertext.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// The bytes on the wire.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}

fn compute_mac(mac_key: &[u8], sender: &PublicKey, receiver: &PublicKey, covered: &[u8]) -> [u8; 32] {
    hmac_sha256_parts(mac_key, &[&sender.serialize(), &receiver.serialize(), covered])
}
