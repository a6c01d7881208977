//! One mutation: SET or REMOVE of an index, its plaintext, and how a record is opened.

use prost::Message;
use subtle::ConstantTimeEq;

use super::action::{SyncAction, action_schema};
use super::index::{encode_index, parse_index};
use super::keys::ValueError;
use super::value::{SyncActionData, SyncActionValue};
use super::wire::SyncdRecord;
use super::{AppStateKeyId, AppStateKeyRing, ApplyError, CollectionName, MAX_INDEX_BYTES, MAX_INDEX_PARTS};

/// `SyncdMutation.SyncdOperation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// SET (0): the index now has this value.
    Set,
    /// REMOVE (1): the index has no value.
    Remove,
}

impl Operation {
    /// The protobuf enum value.
    pub fn to_wire(self) -> i32 {
        match self {
            Self::Set => 0,
            Self::Remove => 1,
        }
    }

    /// From the protobuf enum value.
    pub fn from_wire(v: i32) -> Option<Self> {
        match v {
            0 => Some(Self::Set),
            1 => Some(Self::Remove),
            _ => None,
        }
    }

    /// The first byte of the value MAC input: operation + 1.
    pub fn mac_byte(self) -> u8 {
        match self {
            Self::Set => 0x01,
            Self::Remove => 0x02,
        }
    }
}

/// A local change to encode: an operation on an index, with the plaintext that goes with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mutation {
    /// SET or REMOVE.
    pub operation: Operation,
    /// The index parts.
    pub index: Vec<String>,
    /// The value (timestamp and action). A REMOVE carries the value being removed.
    pub value: SyncActionValue,
    /// The action version (`SyncActionData.version`).
    pub version: i32,
}

impl Mutation {
    /// SET of a typed action, taken at `timestamp_ms`.
    pub fn set(action: &SyncAction, timestamp_ms: i64) -> Self {
        Self {
            operation: Operation::Set,
            index: action.index(),
            value: action.to_value(timestamp_ms),
            version: action.version(),
        }
    }

    /// REMOVE of a typed action's index, taken at `timestamp_ms`.
    pub fn remove(action: &SyncAction, timestamp_ms: i64) -> Self {
        Self {
            operation: Operation::Remove,
            ..Self::set(action, timestamp_ms)
        }
    }

    /// The collection the index belongs to (by its first part), if tandem knows it.
    pub fn collection(&self) -> Option<CollectionName> {
        action_schema(self.index.first()?).map(|(c, _)| c)
    }

    /// When it was taken (the value's timestamp), if it says.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.value.timestamp
    }

    /// The index as JSON bytes (what the index MAC covers).
    pub fn index_json(&self) -> Vec<u8> {
        encode_index(&self.index)
    }

    /// Whether the index is within the bounds.
    pub(crate) fn index_ok(&self) -> bool {
        !self.index.is_empty()
            && self.index.len() <= MAX_INDEX_PARTS
            && self.index_json().len() <= MAX_INDEX_BYTES
    }

    /// The plaintext `SyncActionData`, without padding (as Baileys writes it; whatsmeow writes
    /// an empty padding field, `1a 00`: readers accept both, the MAC covers the ciphertext).
    pub fn to_data(&self) -> SyncActionData {
        SyncActionData {
            index: Some(self.index_json()),
            value: Some(self.value.clone()),
            padding: None,
            version: Some(self.version),
        }
    }

    /// The typed action, if tandem models it.
    pub fn action(&self) -> Option<SyncAction> {
        SyncAction::from_parts(&self.index, &self.value)
    }
}

/// A record whose value MAC and index MAC verified, with its decrypted plaintext.
#[derive(Clone, Debug)]
pub(crate) struct OpenedRecord {
    pub(crate) index_mac: [u8; 32],
    pub(crate) value_mac: [u8; 32],
    pub(crate) key_id: AppStateKeyId,
    pub(crate) index: Vec<String>,
    pub(crate) data: SyncActionData,
}

/// Opens a record: key lookup, value MAC, decryption, plaintext, index MAC, in that order.
pub(crate) fn open_record(
    ring: &AppStateKeyRing,
    operation: Operation,
    record: &SyncdRecord,
) -> Result<OpenedRecord, ApplyError> {
    let keys = ring.mutation_keys(&record.key_id)?;
    let plaintext = keys
        .decrypt_value(operation, &record.key_id, &record.value_blob)
        .map_err(|e| match e {
            ValueError::BadMac => ApplyError::BadValueMac,
            ValueError::BadCiphertext | ValueError::BadLength => ApplyError::BadCiphertext,
        })?;
    let data = SyncActionData::decode(plaintext.as_slice()).map_err(|_| ApplyError::BadPlaintext)?;
    let index_json = data.index.as_deref().ok_or(ApplyError::BadPlaintext)?;
    let index = parse_index(index_json).ok_or(ApplyError::BadPlaintext)?;
    if index.is_empty() {
        return Err(ApplyError::BadPlaintext);
    }
    let expected = keys.index_mac(index_json);
    if !bool::from(expected.ct_eq(&record.index_mac)) {
        return Err(ApplyError::BadIndexMac);
    }
    Ok(OpenedRecord {
        index_mac: record.index_mac,
        value_mac: record.value_mac(),
        key_id: record.key_id,
        index,
        data,
    })
}
