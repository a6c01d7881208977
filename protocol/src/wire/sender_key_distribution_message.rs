//! `SenderKeyDistributionMessage`: hands a sender chain to a group member (inside a pairwise
//! session, which authenticates it).
//!
//! ```text
//! SenderKeyDistributionMessage = version ‖ protobuf(SenderKeyDistributionMessage)
//! ```

use prost::Message;

use super::proto::SenderKeyDistributionMessageProto;
use super::strict::{WireType, check_fields};
use super::{VERSION_BYTE, WireError, split_version};
use crate::crypto::{PublicKey, Secret};

/// A parsed `SenderKeyDistributionMessage`. Its `Debug` leaves out the chain key and the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyDistributionMessage {
    distribution_id: [u8; 16],
    chain_id: u32,
    iteration: u32,
    chain_key: Secret<32>,
    signing_key: PublicKey,
    serialized: Vec<u8>,
}

const FIELDS: &[(u32, WireType)] = &[
    (1, WireType::Bytes),
    (2, WireType::Varint),
    (3, WireType::Varint),
    (4, WireType::Bytes),
    (5, WireType::Bytes),
];

impl SenderKeyDistributionMessage {
    /// Builds a message (version byte 0x33).
    pub(crate) fn new(
        distribution_id: [u8; 16],
        chain_id: u32,
        iteration: u32,
        chain_key: Secret<32>,
        signing_key: PublicKey,
    ) -> Self {
        let body = SenderKeyDistributionMessageProto {
            distribution_uuid: Some(distribution_id.to_vec()),
            chain_id: Some(chain_id),
            iteration: Some(iteration),
            chain_key: Some(chain_key.expose().to_vec()),
            signing_key: Some(signing_key.serialize().to_vec()),
        };
        let mut serialized = zeroize::Zeroizing::new(Vec::with_capacity(1 + body.encoded_len()));
        serialized.push(VERSION_BYTE);
        serialized.extend_from_slice(&zeroize::Zeroizing::new(body.encode_to_vec()));
        let serialized = serialized.to_vec();
        Self {
            distribution_id,
            chain_id,
            iteration,
            chain_key,
            signing_key,
            serialized,
        }
    }

    /// Parses a message strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let (_, body) = split_version(bytes)?;
        check_fields(body, FIELDS)?;
        let proto = SenderKeyDistributionMessageProto::decode(body).map_err(|_| WireError::Malformed)?;
        let distribution_id: [u8; 16] = proto
            .distribution_uuid
            .as_deref()
            .and_then(|d| d.try_into().ok())
            .ok_or(WireError::Malformed)?;
        let chain_key: [u8; 32] = proto
            .chain_key
            .as_deref()
            .and_then(|k| k.try_into().ok())
            .ok_or(WireError::Malformed)?;
        let signing_key = proto
            .signing_key
            .as_deref()
            .ok_or(WireError::Malformed)
            .and_then(|k| PublicKey::deserialize(k).map_err(|_| WireError::Malformed))?;
        Ok(Self {
            distribution_id,
            chain_id: proto.chain_id.ok_or(WireError::Malformed)?,
            iteration: proto.iteration.ok_or(WireError::Malformed)?,
            chain_key: Secret::new(chain_key),
            signing_key,
            serialized: bytes.to_vec(),
        })
    }

    /// The distribution id.
    pub fn distribution_id(&self) -> &[u8; 16] {
        &self.distribution_id
    }

    /// The chain id.
    pub fn chain_id(&self) -> u32 {
        self.chain_id
    }

    /// The chain's iteration at which `chain_key` stands.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The chain key.
    pub fn chain_key(&self) -> &Secret<32> {
        &self.chain_key
    }

    /// The sender's signing public key.
    pub fn signing_key(&self) -> &PublicKey {
        &self.signing_key
    }

    /// The bytes on the wire (they contain the chain key: treat as secret).
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }
}

impl core::fmt::Debug for SenderKeyDistributionMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SenderKeyDistributionMessage")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}
