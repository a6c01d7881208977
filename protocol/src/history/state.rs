//! The importer's state as bytes, to survive a restart.
//!
//! ```proto
//! message HistoryImporterState {
//!   optional uint32 version          = 1;  // 1
//!   optional bytes  sync_id          = 2;  // 16; absent (with 3 and 4) before the first notification
//!   optional uint32 sync_type        = 3;
//!   optional uint32 chunk_count      = 4;
//!   optional uint32 next_chunk       = 5;  // chunks 0..next_chunk are applied
//!   optional uint64 bytes_applied    = 6;
//!   optional uint64 messages_applied = 7;
//!   repeated bytes  pending          = 8;  // HistorySyncNotification bytes, ascending chunk order
//!   repeated FailedChunk failed      = 9;  // ascending chunk order
//! }
//! message FailedChunk { optional uint32 chunk = 1; optional uint32 reason = 2; }
//! ```
//!
//! Reasons: 1 blob missing, 2 tampered, 3 decompression bomb, 4 malformed, 5 mismatch. The
//! bytes hold the pending chunks' media keys: they are returned in a buffer wiped on drop, and
//! the client should store them encrypted at rest, like its session records.

use std::collections::BTreeMap;

use prost::Message;
use zeroize::{Zeroize, Zeroizing};

use super::importer::{Binding, ChunkFailure, HistoryImporter};
use super::limits::MAX_CHUNK_COUNT;
use super::notification::HistorySyncNotification;
use super::proto::decode_canonical;
use super::sync_id::{HistorySyncType, SyncId};

/// The state format version this build writes (and the only one it reads).
pub const IMPORTER_STATE_VERSION: u32 = 1;

/// Why importer state bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not the canonical encoding, a field missing, or contents that contradict each other (a
    /// pending or failed chunk already applied or out of range, a notification of another
    /// sync, chunks out of order).
    #[error("malformed history importer state")]
    Malformed,
    /// A format version this build does not read.
    #[error("unsupported history importer state version {0}")]
    UnknownVersion(u32),
}

#[derive(Clone, PartialEq, prost::Message)]
struct HistoryImporterStateProto {
    #[prost(uint32, optional, tag = "1")]
    version: Option<u32>,
    #[prost(bytes = "vec", optional, tag = "2")]
    sync_id: Option<Vec<u8>>,
    #[prost(uint32, optional, tag = "3")]
    sync_type: Option<u32>,
    #[prost(uint32, optional, tag = "4")]
    chunk_count: Option<u32>,
    #[prost(uint32, optional, tag = "5")]
    next_chunk: Option<u32>,
    #[prost(uint64, optional, tag = "6")]
    bytes_applied: Option<u64>,
    #[prost(uint64, optional, tag = "7")]
    messages_applied: Option<u64>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    pending: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "9")]
    failed: Vec<FailedChunkProto>,
}

impl Drop for HistoryImporterStateProto {
    fn drop(&mut self) {
        for p in &mut self.pending {
            p.zeroize();
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct FailedChunkProto {
    #[prost(uint32, optional, tag = "1")]
    chunk: Option<u32>,
    #[prost(uint32, optional, tag = "2")]
    reason: Option<u32>,
}

impl HistoryImporter {
    /// The importer's state as bytes (with the pending notifications' media keys).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let proto = HistoryImporterStateProto {
            version: Some(IMPORTER_STATE_VERSION),
            sync_id: self.binding.map(|b| b.sync_id.0.to_vec()),
            sync_type: self.binding.map(|b| b.sync_type.number()),
            chunk_count: self.binding.map(|b| b.chunk_count),
            next_chunk: Some(self.next),
            bytes_applied: Some(self.bytes),
            messages_applied: Some(self.messages),
            pending: self.pending.values().map(|n| n.encode().to_vec()).collect(),
            failed: self
                .failed
                .iter()
                .map(|(chunk, reason)| FailedChunkProto {
                    chunk: Some(*chunk),
                    reason: Some(reason.code()),
                })
                .collect(),
        };
        Zeroizing::new(proto.encode_to_vec())
    }

    /// An importer from bytes written by [`Self::to_bytes`], checked for consistency.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        let malformed = StateError::Malformed;
        let proto: HistoryImporterStateProto = decode_canonical(bytes).map_err(|_| malformed)?;
        match proto.version {
            Some(IMPORTER_STATE_VERSION) => {}
            Some(other) => return Err(StateError::UnknownVersion(other)),
            None => return Err(malformed),
        }
        let next = proto.next_chunk.ok_or(malformed)?;
        let bytes_applied = proto.bytes_applied.ok_or(malformed)?;
        let messages = proto.messages_applied.ok_or(malformed)?;
        let binding = match (&proto.sync_id, proto.sync_type, proto.chunk_count) {
            (None, None, None) => None,
            (Some(id), Some(sync_type), Some(chunk_count)) => Some(Binding {
                sync_id: SyncId(id.as_slice().try_into().map_err(|_| malformed)?),
                sync_type: HistorySyncType::from_number(sync_type).ok_or(malformed)?,
                chunk_count,
            }),
            _ => return Err(malformed),
        };
        let Some(binding) = binding else {
            if next != 0
                || bytes_applied != 0
                || messages != 0
                || !proto.pending.is_empty()
                || !proto.failed.is_empty()
            {
                return Err(malformed);
            }
            return Ok(Self::default());
        };
        if binding.chunk_count == 0 || binding.chunk_count > MAX_CHUNK_COUNT || next > binding.chunk_count {
            return Err(malformed);
        }
        let mut pending = BTreeMap::new();
        for raw in &proto.pending {
            let n = HistorySyncNotification::parse(raw).map_err(|_| malformed)?;
            let ok = n.sync_id == binding.sync_id
                && n.sync_type == binding.sync_type
                && n.chunk_count == binding.chunk_count
                && n.chunk_order >= next
                && pending
                    .keys()
                    .next_back()
                    .is_none_or(|last| *last < n.chunk_order);
            if !ok {
                return Err(malformed);
            }
            pending.insert(n.chunk_order, n);
        }
        let mut failed = BTreeMap::new();
        for f in &proto.failed {
            let chunk = f.chunk.ok_or(malformed)?;
            let reason = ChunkFailure::from_code(f.reason.ok_or(malformed)?).ok_or(malformed)?;
            let ok = chunk >= next
                && chunk < binding.chunk_count
                && !pending.contains_key(&chunk)
                && failed.keys().next_back().is_none_or(|last| *last < chunk);
            if !ok {
                return Err(malformed);
            }
            failed.insert(chunk, reason);
        }
        Ok(Self {
            binding: Some(binding),
            next,
            pending,
            failed,
            bytes: bytes_applied,
            messages,
        })
    }
}
