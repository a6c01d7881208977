//! `SenderKeyMessage`: one group message, signed by the sender.
//!
//! ```text
//! SenderKeyMessage = version ‖ protobuf(SenderKeyMessage) ‖ signature[64]
//! signature        = libsignal curve25519 signature by the sender's signing key over
//!                    version ‖ protobuf
//! ```

use prost::Message;
use rand_core::CryptoRng;

use super::proto::SenderKeyMessageProto;
use super::strict::{WireType, check_fields};
use super::{VERSION_BYTE, WireError, split_version};
use crate::crypto::{SIGNATURE_LENGTH, SigningKey, VerifyingKey};

/// A parsed `SenderKeyMessage` (signature not yet checked: the receiver's state holds the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderKeyMessage {
    distribution_id: [u8; 16],
    chain_id: u32,
    iteration: u32,
    ciphertext: Vec<u8>,
    serialized: Vec<u8>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Bytes),
    (2, WireType::Varint),
    (3, WireType::Varint),
    (4, WireType::Bytes),
];

impl SenderKeyMessage {
    /// Builds and signs a message (version byte 0x33).
    pub(crate) fn new<R: CryptoRng + ?Sized>(
        distribution_id: [u8; 16],
        chain_id: u32,
        iteration: u32,
        ciphertext: Vec<u8>,
        signing_key: &SigningKey,
        rng: &mut R,
    ) -> Self {
        let body = SenderKeyMessageProto {
            distribution_uuid: Some(distribution_id.to_vec()),
            chain_id: Some(chain_id),
            iteration: Some(iteration),
            ciphertext: Some(ciphertext),
        };
        let mut serialized = Vec::with_capacity(1 + body.encoded_len() + SIGNATURE_LENGTH);
        serialized.push(VERSION_BYTE);
        serialized.extend_from_slice(&body.encode_to_vec());
        let signature = signing_key.sign(&serialized, rng);
        serialized.extend_from_slice(signature.as_ref());
        let ciphertext = body.ciphertext.unwrap_or_default();
        Self {
            distribution_id,
            chain_id,
            iteration,
            ciphertext,
            serialized,
        }
    }

    /// Parses a message strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let (_, rest) = split_version(bytes)?;
        let body_len = rest
            .len()
            .checked_sub(SIGNATURE_LENGTH)
            .ok_or(WireError::Malformed)?;
        let body = rest.get(..body_len).ok_or(WireError::Malformed)?;
        check_fields(body, FIELDS)?;
        let proto = SenderKeyMessageProto::decode(body).map_err(|_| WireError::Malformed)?;
        let distribution_id: [u8; 16] = proto
            .distribution_uuid
            .as_deref()
            .and_then(|d| d.try_into().ok())
            .ok_or(WireError::Malformed)?;
        Ok(Self {
            distribution_id,
            chain_id: proto.chain_id.ok_or(WireError::Malformed)?,
            iteration: proto.iteration.ok_or(WireError::Malformed)?,
            ciphertext: proto.ciphertext.ok_or(WireError::Malformed)?,
            serialized: bytes.to_vec(),
        })
    }

    /// Checks the signature by the sender's signing key.
    pub(crate) fn verify_signature(&self, signing_key: &VerifyingKey) -> bool {
        let split = self.serialized.len().saturating_sub(SIGNATURE_LENGTH);
        let (signed, signature) = self.serialized.split_at(split);
        signing_key.verify(signed, signature).is_ok()
    }

    /// The distribution id (which group/list this belongs to).
    pub fn distribution_id(&self) -> &[u8; 16] {
        &self.distribution_id
    }

    /// The sender chain's id.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The message's position in the sender chain.
    pub fn iteration(&self) -> u32 {
        self.iteration
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
