//! `HistoryChunkRequest`: a companion asks its primary to upload chunks again (a blob lost,
//! expired or tampered with), over their pairwise session. The primary answers by re-uploading
//! each chunk under a fresh media key ([`super::HistoryPackage::upload_chunk`]) and sending new
//! notifications.
//!
//! ```proto
//! message HistoryChunkRequest {
//!   optional bytes  sync_id = 1;  // 16: the sync the chunks belong to
//!   repeated uint32 chunks  = 2;  // chunk orders, ascending, no repeats, 1..=MAX_CHUNK_COUNT of them
//! }
//! ```
//!
//! Parsing is strict (the bytes must be the canonical encoding).

use super::limits::MAX_CHUNK_COUNT;
use super::proto::decode_canonical;
use super::sync_id::SyncId;

/// The request's protobuf.
#[derive(Clone, PartialEq, prost::Message)]
struct HistoryChunkRequestProto {
    /// Field 1.
    #[prost(bytes = "vec", optional, tag = "1")]
    sync_id: Option<Vec<u8>>,
    /// Field 2 (not packed, like every repeated scalar tandem writes).
    #[prost(uint32, repeated, packed = "false", tag = "2")]
    chunks: Vec<u32>,
}

/// A request to upload chunks of a sync again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryChunkRequest {
    /// The sync.
    pub sync_id: SyncId,
    /// The chunks, ascending.
    pub chunks: Vec<u32>,
}

/// Request bytes that are not a well-formed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed history chunk request")]
pub struct BadChunkRequest;

impl HistoryChunkRequest {
    /// The protobuf encoding.
    pub fn encode(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&HistoryChunkRequestProto {
            sync_id: Some(self.sync_id.0.to_vec()),
            chunks: self.chunks.clone(),
        })
    }

    /// Parses request bytes: canonical encoding, a 16-byte sync id, 1 to `MAX_CHUNK_COUNT`
    /// chunks strictly ascending and below `MAX_CHUNK_COUNT`.
    pub fn parse(bytes: &[u8]) -> Result<Self, BadChunkRequest> {
        let proto: HistoryChunkRequestProto = decode_canonical(bytes).map_err(|_| BadChunkRequest)?;
        let sync_id: [u8; 16] = proto
            .sync_id
            .as_deref()
            .and_then(|s| s.try_into().ok())
            .ok_or(BadChunkRequest)?;
        let ascending = proto.chunks.windows(2).all(|w| matches!(w, [a, b] if a < b));
        let in_range = proto.chunks.iter().all(|&c| c < MAX_CHUNK_COUNT);
        if proto.chunks.is_empty() || !ascending || !in_range {
            return Err(BadChunkRequest);
        }
        Ok(Self {
            sync_id: SyncId(sync_id),
            chunks: proto.chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_canonical() {
        let request = HistoryChunkRequest {
            sync_id: SyncId([7; 16]),
            chunks: vec![2, 5],
        };
        let bytes = request.encode();
        assert_eq!(HistoryChunkRequest::parse(&bytes), Ok(request));
        for bad in [
            HistoryChunkRequest {
                sync_id: SyncId([7; 16]),
                chunks: vec![],
            },
            HistoryChunkRequest {
                sync_id: SyncId([7; 16]),
                chunks: vec![5, 2],
            },
            HistoryChunkRequest {
                sync_id: SyncId([7; 16]),
                chunks: vec![3, 3],
            },
        ] {
            assert_eq!(HistoryChunkRequest::parse(&bad.encode()), Err(BadChunkRequest));
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(HistoryChunkRequest::parse(&trailing), Err(BadChunkRequest));
        assert_eq!(
            HistoryChunkRequest::parse(&bytes[..bytes.len() - 1]),
            Err(BadChunkRequest)
        );
    }
}
