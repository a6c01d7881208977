//! The server-facing messages, with WhatsApp's field numbers (whatsmeow
//! `proto/waServerSync/WAWebProtobufsServerSync.proto`, proto2):
//!
//! ```text
//! SyncdVersion  { 1 version uint64 }
//! KeyId         { 1 ID bytes }
//! SyncdIndex    { 1 blob bytes }                       index MAC, 32 bytes
//! SyncdValue    { 1 blob bytes }                       iv(16) ‖ AES-256-CBC ‖ value MAC(32)
//! SyncdRecord   { 1 index SyncdIndex, 2 value SyncdValue, 3 keyID KeyId }
//! SyncdMutation { 1 operation enum (SET 0, REMOVE 1), 2 record SyncdRecord }
//! SyncdPatch    { 1 version SyncdVersion, 2 mutations SyncdMutation (repeated),
//!                 3 externalMutations, 4 snapshotMAC bytes, 5 patchMAC bytes, 6 keyID KeyId,
//!                 7 exitCode, 8 deviceIndex uint32, 9 clientDebugData bytes }
//! SyncdSnapshot { 1 version SyncdVersion, 2 records SyncdRecord (repeated), 3 mac bytes,
//!                 4 keyID KeyId }
//! ```
//!
//! Parsing is strict (see `strict.rs`): unknown, repeated singular, mistyped and truncated
//! fields are refused. Fields 3 and 7 of a patch are refused as [`ParseError::Unsupported`];
//! 8 and 9 are read and ignored. A missing operation reads as SET (the proto2 default); tandem
//! always writes it.

use prost::Message;

use super::strict::{Field, Kind, check};
use super::{AppStateKeyId, MAX_PATCH_BYTES, MAX_RECORDS, Operation, ParseError};

const VERSION: &[Field] = &[Field::one(1, Kind::Varint64)];
const BLOB: &[Field] = &[Field::one(1, Kind::Bytes)];
const RECORD: &[Field] = &[
    Field::one(1, Kind::Message(BLOB)),
    Field::one(2, Kind::Message(BLOB)),
    Field::one(3, Kind::Message(BLOB)),
];
const MUTATION: &[Field] = &[
    Field::one(1, Kind::Varint32),
    Field::one(2, Kind::Message(RECORD)),
];
const PATCH: &[Field] = &[
    Field::one(1, Kind::Message(VERSION)),
    Field::many(2, Kind::Message(MUTATION)),
    Field::one(3, Kind::Unsupported),
    Field::one(4, Kind::Bytes),
    Field::one(5, Kind::Bytes),
    Field::one(6, Kind::Message(BLOB)),
    Field::one(7, Kind::Unsupported),
    Field::one(8, Kind::Varint32),
    Field::one(9, Kind::Bytes),
];
const SNAPSHOT: &[Field] = &[
    Field::one(1, Kind::Message(VERSION)),
    Field::many(2, Kind::Message(RECORD)),
    Field::one(3, Kind::Bytes),
    Field::one(4, Kind::Message(BLOB)),
];

#[derive(Clone, PartialEq, prost::Message)]
struct VersionProto {
    #[prost(uint64, optional, tag = "1")]
    version: Option<u64>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BlobProto {
    #[prost(bytes = "vec", optional, tag = "1")]
    blob: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RecordProto {
    #[prost(message, optional, tag = "1")]
    index: Option<BlobProto>,
    #[prost(message, optional, tag = "2")]
    value: Option<BlobProto>,
    #[prost(message, optional, tag = "3")]
    key_id: Option<BlobProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MutationProto {
    #[prost(int32, optional, tag = "1")]
    operation: Option<i32>,
    #[prost(message, optional, tag = "2")]
    record: Option<RecordProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PatchProto {
    #[prost(message, optional, tag = "1")]
    version: Option<VersionProto>,
    #[prost(message, repeated, tag = "2")]
    mutations: Vec<MutationProto>,
    #[prost(bytes = "vec", optional, tag = "4")]
    snapshot_mac: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "5")]
    patch_mac: Option<Vec<u8>>,
    #[prost(message, optional, tag = "6")]
    key_id: Option<BlobProto>,
    #[prost(uint32, optional, tag = "8")]
    device_index: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotProto {
    #[prost(message, optional, tag = "1")]
    version: Option<VersionProto>,
    #[prost(message, repeated, tag = "2")]
    records: Vec<RecordProto>,
    #[prost(bytes = "vec", optional, tag = "3")]
    mac: Option<Vec<u8>>,
    #[prost(message, optional, tag = "4")]
    key_id: Option<BlobProto>,
}

/// One record: an index MAC, a value blob and the key id both were made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncdRecord {
    /// `HMAC-SHA256(indexKey, index JSON)`.
    pub index_mac: [u8; 32],
    /// `iv(16) ‖ AES-256-CBC ciphertext ‖ valueMAC(32)`; its length is checked when parsed.
    pub value_blob: Vec<u8>,
    /// The key id.
    pub key_id: AppStateKeyId,
}

impl SyncdRecord {
    /// The value MAC (the blob's last 32 bytes).
    pub fn value_mac(&self) -> [u8; 32] {
        let mut mac = [0u8; 32];
        if let Some(tail) = self
            .value_blob
            .len()
            .checked_sub(32)
            .and_then(|at| self.value_blob.get(at..))
        {
            mac.copy_from_slice(tail);
        }
        mac
    }

    fn to_proto(&self) -> RecordProto {
        RecordProto {
            index: Some(BlobProto {
                blob: Some(self.index_mac.to_vec()),
            }),
            value: Some(BlobProto {
                blob: Some(self.value_blob.clone()),
            }),
            key_id: Some(key_id_proto(&self.key_id)),
        }
    }

    fn from_proto(p: RecordProto) -> Result<Self, ParseError> {
        let index = blob(p.index)?;
        let value_blob = blob(p.value)?;
        // iv ‖ at least one AES block ‖ MAC, whole blocks.
        if value_blob.len() < 16 + 16 + 32 || value_blob.len() % 16 != 0 {
            return Err(ParseError::BadLength);
        }
        Ok(Self {
            index_mac: mac32(index)?,
            value_blob,
            key_id: key_id(p.key_id)?,
        })
    }
}

/// One mutation as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncdMutation {
    /// SET or REMOVE.
    pub operation: Operation,
    /// The record.
    pub record: SyncdRecord,
}

/// A patch: the mutations that take a collection from `version − 1` to `version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncdPatch {
    /// The version this patch makes.
    pub version: u64,
    /// The mutations, in order.
    pub mutations: Vec<SyncdMutation>,
    /// `HMAC-SHA256(snapshotMacKey, ltHash after ‖ u64BE(version) ‖ name)`.
    pub snapshot_mac: [u8; 32],
    /// `HMAC-SHA256(patchMacKey, snapshotMAC ‖ valueMACs ‖ u64BE(version) ‖ name)`.
    pub patch_mac: [u8; 32],
    /// The key both MACs were made with.
    pub key_id: AppStateKeyId,
    /// WhatsApp's `deviceIndex` (unauthenticated; read and written, never used).
    pub device_index: Option<u32>,
}

impl SyncdPatch {
    /// Parses a patch strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > MAX_PATCH_BYTES {
            return Err(ParseError::Malformed);
        }
        check(bytes, PATCH)?;
        let p = PatchProto::decode(bytes).map_err(|_| ParseError::Malformed)?;
        if p.mutations.len() > MAX_RECORDS {
            return Err(ParseError::Malformed);
        }
        let mutations = p
            .mutations
            .into_iter()
            .map(|m| {
                let operation =
                    Operation::from_wire(m.operation.unwrap_or(0)).ok_or(ParseError::Malformed)?;
                let record = SyncdRecord::from_proto(m.record.ok_or(ParseError::MissingField)?)?;
                Ok(SyncdMutation { operation, record })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(Self {
            version: p
                .version
                .and_then(|v| v.version)
                .ok_or(ParseError::MissingField)?,
            mutations,
            snapshot_mac: mac32(p.snapshot_mac.ok_or(ParseError::MissingField)?)?,
            patch_mac: mac32(p.patch_mac.ok_or(ParseError::MissingField)?)?,
            key_id: key_id(p.key_id)?,
            device_index: p.device_index,
        })
    }

    /// The protobuf bytes (fields in number order; every field written).
    pub fn to_bytes(&self) -> Vec<u8> {
        PatchProto {
            version: Some(VersionProto {
                version: Some(self.version),
            }),
            mutations: self
                .mutations
                .iter()
                .map(|m| MutationProto {
                    operation: Some(m.operation.to_wire()),
                    record: Some(m.record.to_proto()),
                })
                .collect(),
            snapshot_mac: Some(self.snapshot_mac.to_vec()),
            patch_mac: Some(self.patch_mac.to_vec()),
            key_id: Some(key_id_proto(&self.key_id)),
            device_index: self.device_index,
        }
        .encode_to_vec()
    }
}

/// A snapshot: every record a collection holds at `version`, and the snapshot MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncdSnapshot {
    /// The version.
    pub version: u64,
    /// The records (all SET).
    pub records: Vec<SyncdRecord>,
    /// `HMAC-SHA256(snapshotMacKey, ltHash ‖ u64BE(version) ‖ name)`.
    pub mac: [u8; 32],
    /// The key the MAC was made with.
    pub key_id: AppStateKeyId,
}

impl SyncdSnapshot {
    /// Parses a snapshot strictly.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > MAX_PATCH_BYTES {
            return Err(ParseError::Malformed);
        }
        check(bytes, SNAPSHOT)?;
        let p = SnapshotProto::decode(bytes).map_err(|_| ParseError::Malformed)?;
        if p.records.len() > MAX_RECORDS {
            return Err(ParseError::Malformed);
        }
        Ok(Self {
            version: p
                .version
                .and_then(|v| v.version)
                .ok_or(ParseError::MissingField)?,
            records: p
                .records
                .into_iter()
                .map(SyncdRecord::from_proto)
                .collect::<Result<_, _>>()?,
            mac: mac32(p.mac.ok_or(ParseError::MissingField)?)?,
            key_id: key_id(p.key_id)?,
        })
    }

    /// The protobuf bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        SnapshotProto {
            version: Some(VersionProto {
                version: Some(self.version),
            }),
            records: self.records.iter().map(SyncdRecord::to_proto).collect(),
            mac: Some(self.mac.to_vec()),
            key_id: Some(key_id_proto(&self.key_id)),
        }
        .encode_to_vec()
    }
}

fn key_id_proto(id: &AppStateKeyId) -> BlobProto {
    BlobProto {
        blob: Some(id.as_bytes().to_vec()),
    }
}

fn blob(p: Option<BlobProto>) -> Result<Vec<u8>, ParseError> {
    p.and_then(|b| b.blob).ok_or(ParseError::MissingField)
}

fn key_id(p: Option<BlobProto>) -> Result<AppStateKeyId, ParseError> {
    let bytes = blob(p)?;
    let id: [u8; 6] = bytes.as_slice().try_into().map_err(|_| ParseError::BadLength)?;
    Ok(AppStateKeyId::from_bytes(id))
}

fn mac32(bytes: Vec<u8>) -> Result<[u8; 32], ParseError> {
    bytes.as_slice().try_into().map_err(|_| ParseError::BadLength)
}
