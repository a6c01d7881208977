//! `HistorySyncNotification`: what the primary sends the new device, over their pairwise
//! session, for each chunk: where the blob is, its media key and hashes, and where the chunk
//! sits in the sync.
//!
//! ```proto
//! message HistorySyncNotification {   // WhatsApp's numbers for WhatsApp's fields
//!   optional bytes  file_sha256     = 1;    // 32: SHA-256 of the compressed chunk
//!   optional uint64 file_length     = 2;    // bytes of the compressed chunk
//!   optional bytes  media_key       = 3;    // 32: fresh for this chunk (and this upload)
//!   optional bytes  file_enc_sha256 = 4;    // 32: SHA-256 of the blob
//!   optional string direct_path     = 5;    // the blob's name on the store: its BlobId,
//!                                           // base64url(file_enc_sha256), 43 characters
//!   optional uint32 sync_type       = 6;    // HistorySyncType
//!   optional uint32 chunk_order     = 7;    // 0-based
//!   optional uint32 progress        = 9;    // percent after this chunk, 0..=100
//!   optional bytes  sync_id         = 101;  // 16 (tandem)
//!   optional uint32 chunk_count     = 102;  // chunks in the sync, 1..=100000 (tandem)
//! }
//! ```

use prost::Message;
use zeroize::Zeroizing;

use super::limits::{MAX_BLOB_BYTES, MAX_CHUNK_COUNT};
use super::proto::decode_canonical;
use super::sync_id::{HistorySyncType, SyncId};
use crate::blob::BlobId;
use crate::media::{MediaDigest, MediaKey};

/// The notification's protobuf.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HistorySyncNotificationProto {
    /// Field 1.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub file_sha256: Option<Vec<u8>>,
    /// Field 2.
    #[prost(uint64, optional, tag = "2")]
    pub file_length: Option<u64>,
    /// Field 3.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub media_key: Option<Vec<u8>>,
    /// Field 4.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub file_enc_sha256: Option<Vec<u8>>,
    /// Field 5.
    #[prost(string, optional, tag = "5")]
    pub direct_path: Option<String>,
    /// Field 6.
    #[prost(uint32, optional, tag = "6")]
    pub sync_type: Option<u32>,
    /// Field 7.
    #[prost(uint32, optional, tag = "7")]
    pub chunk_order: Option<u32>,
    /// Field 9.
    #[prost(uint32, optional, tag = "9")]
    pub progress: Option<u32>,
    /// Field 101.
    #[prost(bytes = "vec", optional, tag = "101")]
    pub sync_id: Option<Vec<u8>>,
    /// Field 102.
    #[prost(uint32, optional, tag = "102")]
    pub chunk_count: Option<u32>,
}

impl Drop for HistorySyncNotificationProto {
    fn drop(&mut self) {
        if let Some(key) = self.media_key.as_mut() {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

/// Why notification bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// Not the canonical encoding, a field missing, or a field of the wrong length, out of
    /// range or unknown (a sync type, `chunk_order ≥ chunk_count`, `file_length` above
    /// [`super::MAX_BLOB_BYTES`], a direct path that is not the blob id of `file_enc_sha256`,
    /// a progress other than `⌊100 · (chunk_order + 1) / chunk_count⌋`).
    #[error("malformed history sync notification")]
    Malformed,
    /// It belongs to another sync than the one the importer follows: drop it.
    #[error("notification for another history sync")]
    OtherSync,
    /// The same sync id, but a chunk count or sync type that differs from the sync's first
    /// notification: drop it.
    #[error("notification inconsistent with its sync")]
    Inconsistent,
    /// That chunk was already applied: ignore it.
    #[error("history chunk already applied")]
    AlreadyApplied,
}

/// One chunk's notification. `Debug` prints no key (the media key's `Debug` is redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySyncNotification {
    /// The sync this chunk belongs to.
    pub sync_id: SyncId,
    /// The kind of sync.
    pub sync_type: HistorySyncType,
    /// The chunk's index, `0..chunk_count`.
    pub chunk_order: u32,
    /// How many chunks the sync has.
    pub chunk_count: u32,
    /// Percent of the sync done after this chunk (`100 · (chunk_order + 1) / chunk_count`).
    pub progress: u32,
    /// The blob's media key (kind [`crate::media::MediaKind::History`]).
    pub media_key: MediaKey,
    /// The blob's and the compressed chunk's hashes and length.
    pub digest: MediaDigest,
    /// Where the blob is on the store: always `BlobId::of(&digest)` (the store is
    /// content-addressed), written out as WhatsApp's `direct_path`.
    pub direct_path: BlobId,
}

impl HistorySyncNotification {
    /// The notification's protobuf bytes (canonical: every field, in number order). They hold
    /// the media key: the buffer is wiped when dropped.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let proto = HistorySyncNotificationProto {
            file_sha256: Some(self.digest.file_sha256.to_vec()),
            file_length: Some(self.digest.file_length),
            media_key: Some(self.media_key.expose().to_vec()),
            file_enc_sha256: Some(self.digest.file_enc_sha256.to_vec()),
            direct_path: Some(self.direct_path.to_string()),
            sync_type: Some(self.sync_type.number()),
            chunk_order: Some(self.chunk_order),
            progress: Some(self.progress),
            sync_id: Some(self.sync_id.0.to_vec()),
            chunk_count: Some(self.chunk_count),
        };
        Zeroizing::new(proto.encode_to_vec())
    }

    /// Parses notification bytes strictly: the canonical encoding of a notification with every
    /// field present and in range. Says nothing about the blob (the importer checks it).
    pub fn parse(bytes: &[u8]) -> Result<Self, NotificationError> {
        let proto: HistorySyncNotificationProto =
            decode_canonical(bytes).map_err(|_| NotificationError::Malformed)?;
        let malformed = NotificationError::Malformed;
        let hash = |field: &Option<Vec<u8>>| -> Result<[u8; 32], NotificationError> {
            field
                .as_deref()
                .ok_or(malformed)?
                .try_into()
                .map_err(|_| malformed)
        };
        let file_sha256 = hash(&proto.file_sha256)?;
        let file_enc_sha256 = hash(&proto.file_enc_sha256)?;
        let file_length = proto.file_length.ok_or(malformed)?;
        let media_key =
            MediaKey::from_bytes(proto.media_key.as_deref().ok_or(malformed)?).map_err(|_| malformed)?;
        let direct_path =
            BlobId::parse(proto.direct_path.as_deref().ok_or(malformed)?).map_err(|_| malformed)?;
        let sync_type = HistorySyncType::from_number(proto.sync_type.ok_or(malformed)?).ok_or(malformed)?;
        let chunk_order = proto.chunk_order.ok_or(malformed)?;
        let chunk_count = proto.chunk_count.ok_or(malformed)?;
        let progress = proto.progress.ok_or(malformed)?;
        let sync_id = SyncId(
            proto
                .sync_id
                .as_deref()
                .ok_or(malformed)?
                .try_into()
                .map_err(|_| malformed)?,
        );
        let notification = Self {
            sync_id,
            sync_type,
            chunk_order,
            chunk_count,
            progress,
            media_key,
            digest: MediaDigest {
                file_sha256,
                file_enc_sha256,
                file_length,
            },
            direct_path,
        };
        notification.check()?;
        Ok(notification)
    }

    /// Checks what [`Self::parse`] checks beyond the encoding: `file_length` at most
    /// [`super::MAX_BLOB_BYTES`], `1 ≤ chunk_count ≤ MAX_CHUNK_COUNT`, `chunk_order <
    /// chunk_count`, the progress it must state, and a direct path that is the blob id of
    /// `file_enc_sha256`. [`super::HistoryImporter::receive`] checks this too, for notifications
    /// built in memory.
    pub fn check(&self) -> Result<(), NotificationError> {
        let ok = self.digest.file_length <= MAX_BLOB_BYTES
            && self.direct_path.sha256() == &self.digest.file_enc_sha256
            && self.chunk_count != 0
            && self.chunk_count <= MAX_CHUNK_COUNT
            && self.chunk_order < self.chunk_count
            && self.progress == progress_after(self.chunk_order, self.chunk_count);
        if ok {
            Ok(())
        } else {
            Err(NotificationError::Malformed)
        }
    }
}

/// Percent done after chunk `order` of `count`: `⌊100 · (order + 1) / count⌋`.
pub(crate) fn progress_after(order: u32, count: u32) -> u32 {
    let done = u64::from(order) + 1;
    u32::try_from(done * 100 / u64::from(count.max(1))).unwrap_or(100)
}
