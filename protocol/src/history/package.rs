//! The primary's side: cut history into chunks, compress each, and encrypt each under a fresh
//! media key for upload.

use zeroize::Zeroizing;

use super::chunk;
use super::compress::compress;
use super::limits::{ChunkLimits, MAX_CHUNK_BYTES, MAX_CHUNK_COUNT};
use super::notification::{HistorySyncNotification, progress_after};
use super::sync_id::{HistorySyncType, SyncId};
use super::{ContactName, HistoryItem};
use crate::blob::{BlobError, BlobId, BlobStore};
use crate::media::{self, MediaDigest, MediaKey, MediaKind};

/// Why history could not be packaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// [`ChunkLimits`] out of range ([`ChunkLimits::is_valid`]).
    #[error("chunk limits out of range")]
    BadLimits,
    /// One message or contact alone would exceed [`super::MAX_CHUNK_BYTES`].
    #[error("a history item is too large for a chunk")]
    ItemTooLarge,
    /// More than [`super::MAX_CHUNK_COUNT`] chunks.
    #[error("too many chunks")]
    TooManyChunks,
    /// No chunk with that number.
    #[error("no such chunk")]
    NoSuchChunk,
}

/// One compressed chunk, kept so it can be encrypted again for a re-upload.
struct PackagedChunk {
    compressed: Zeroizing<Vec<u8>>,
    messages: usize,
}

/// A chunk encrypted for upload, and the notification that will point at it once it has a
/// direct path.
pub struct SealedChunk {
    /// The chunk's index.
    pub chunk_order: u32,
    /// The blob to upload.
    pub blob: Vec<u8>,
    /// Its media key (fresh for every seal).
    pub media_key: MediaKey,
    /// Its hashes and length.
    pub digest: MediaDigest,
}

impl core::fmt::Debug for SealedChunk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedChunk")
            .field("chunk_order", &self.chunk_order)
            .field("blob_len", &self.blob.len())
            .finish_non_exhaustive()
    }
}

/// One history sync, packaged: the compressed chunks the primary keeps until the companion has
/// applied them all (so a lost or damaged chunk can be encrypted afresh and uploaded again).
pub struct HistoryPackage {
    sync_id: SyncId,
    sync_type: HistorySyncType,
    chunks: Vec<PackagedChunk>,
}

impl core::fmt::Debug for HistoryPackage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HistoryPackage")
            .field("sync_id", &self.sync_id)
            .field("sync_type", &self.sync_type)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

/// Estimated encoded size of an item (protobuf overhead per message is under 32 bytes).
fn item_size(item: &HistoryItem) -> usize {
    item.chat_id.len()
        + item.sender.len()
        + item.message_id.len()
        + item.body.len()
        + item.media.as_ref().map_or(0, Vec::len)
        + 32
}

fn contact_size(contact: &ContactName) -> usize {
    contact.id.len() + contact.name.len() + 8
}

impl HistoryPackage {
    /// Packages `items` (in the order the companion should apply them) and `contacts` into
    /// chunks under `limits`, with a fresh sync id from `rng` (its only draw). Contacts come
    /// first, then messages; a chunk closes at `max_messages` messages or before the item that
    /// would take it past `max_bytes`. No history at all still makes one (empty) chunk, so the
    /// companion learns that the sync is complete.
    pub fn build<R: rand_core::CryptoRng + ?Sized>(
        rng: &mut R,
        sync_type: HistorySyncType,
        items: &[HistoryItem],
        contacts: &[ContactName],
        limits: &ChunkLimits,
    ) -> Result<Self, PackageError> {
        if !limits.is_valid() {
            return Err(PackageError::BadLimits);
        }
        // Boundaries: (contacts range, items range) per chunk.
        let ceiling = MAX_CHUNK_BYTES - 1024;
        let mut bounds: Vec<((usize, usize), (usize, usize))> = Vec::new();
        let (mut c0, mut i0, mut bytes, mut messages) = (0usize, 0usize, 0usize, 0usize);
        let mut close = |c1: usize, i1: usize, c0: &mut usize, i0: &mut usize| {
            bounds.push(((*c0, c1), (*i0, i1)));
            *c0 = c1;
            *i0 = i1;
        };
        for (n, contact) in contacts.iter().enumerate() {
            let size = contact_size(contact);
            if size > ceiling {
                return Err(PackageError::ItemTooLarge);
            }
            if n > c0 && bytes + size > limits.max_bytes {
                close(n, 0, &mut c0, &mut i0);
                bytes = 0;
            }
            bytes += size;
        }
        let contacts_end = contacts.len();
        for (n, item) in items.iter().enumerate() {
            let size = item_size(item);
            if size > ceiling {
                return Err(PackageError::ItemTooLarge);
            }
            let nonempty = n > i0 || contacts_end > c0;
            if nonempty && (messages >= limits.max_messages || bytes + size > limits.max_bytes) {
                close(contacts_end, n, &mut c0, &mut i0);
                bytes = 0;
                messages = 0;
            }
            bytes += size;
            messages += 1;
        }
        close(contacts_end, items.len(), &mut c0, &mut i0);

        let count = u32::try_from(bounds.len()).map_err(|_| PackageError::TooManyChunks)?;
        if count > MAX_CHUNK_COUNT {
            return Err(PackageError::TooManyChunks);
        }
        let sync_id = SyncId::generate(rng);
        let mut chunks = Vec::with_capacity(bounds.len());
        for (order, ((ca, cb), (ia, ib))) in (0u32..).zip(bounds) {
            let plain = chunk::encode(
                sync_id,
                sync_type,
                order,
                progress_after(order, count),
                items.get(ia..ib).unwrap_or_default(),
                contacts.get(ca..cb).unwrap_or_default(),
            );
            if plain.len() > MAX_CHUNK_BYTES {
                return Err(PackageError::ItemTooLarge);
            }
            chunks.push(PackagedChunk {
                compressed: compress(&plain),
                messages: ib - ia,
            });
        }
        Ok(Self {
            sync_id,
            sync_type,
            chunks,
        })
    }

    /// The sync's id.
    pub fn sync_id(&self) -> SyncId {
        self.sync_id
    }

    /// The sync's type.
    pub fn sync_type(&self) -> HistorySyncType {
        self.sync_type
    }

    /// How many chunks the sync has.
    pub fn chunk_count(&self) -> u32 {
        u32::try_from(self.chunks.len()).unwrap_or(u32::MAX)
    }

    /// How many messages chunk `order` holds.
    pub fn message_count(&self, order: u32) -> Option<usize> {
        self.chunks.get(usize::try_from(order).ok()?).map(|c| c.messages)
    }

    /// Encrypts chunk `order` under a fresh media key from `rng` (one 32-byte draw), as media
    /// of kind [`MediaKind::History`]. Called again for a re-upload, it makes a new blob under
    /// a new key.
    pub fn seal_chunk<R: rand_core::CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        order: u32,
    ) -> Result<SealedChunk, PackageError> {
        let chunk = usize::try_from(order)
            .ok()
            .and_then(|i| self.chunks.get(i))
            .ok_or(PackageError::NoSuchChunk)?;
        let media_key = MediaKey::generate(rng);
        let (blob, digest) = media::encrypt(MediaKind::History, &media_key, &chunk.compressed);
        Ok(SealedChunk {
            chunk_order: order,
            blob,
            media_key,
            digest,
        })
    }

    /// The notification for a sealed chunk (its direct path is the blob's id).
    pub fn notification(&self, sealed: SealedChunk) -> HistorySyncNotification {
        HistorySyncNotification {
            direct_path: BlobId::of(&sealed.digest),
            sync_id: self.sync_id,
            sync_type: self.sync_type,
            chunk_order: sealed.chunk_order,
            chunk_count: self.chunk_count(),
            progress: progress_after(sealed.chunk_order, self.chunk_count()),
            media_key: sealed.media_key,
            digest: sealed.digest,
        }
    }

    /// Seals chunk `order` afresh, puts the blob in `store` and returns the notification to send
    /// the companion (over the pairwise session). Draws one media key from `rng`.
    pub fn upload_chunk<R: rand_core::CryptoRng + ?Sized, S: BlobStore + ?Sized>(
        &self,
        rng: &mut R,
        store: &mut S,
        order: u32,
    ) -> Result<HistorySyncNotification, UploadError> {
        let sealed = self.seal_chunk(rng, order)?;
        store.put(&BlobId::of(&sealed.digest), &sealed.blob)?;
        Ok(self.notification(sealed))
    }

    /// [`Self::upload_chunk`] for every chunk, in order.
    pub fn upload_all<R: rand_core::CryptoRng + ?Sized, S: BlobStore + ?Sized>(
        &self,
        rng: &mut R,
        store: &mut S,
    ) -> Result<Vec<HistorySyncNotification>, UploadError> {
        (0..self.chunk_count())
            .map(|order| self.upload_chunk(rng, store, order))
            .collect()
    }
}

/// Why a chunk could not be uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// No chunk with that number.
    #[error("no such chunk")]
    NoSuchChunk,
    /// The blob store refused.
    #[error("blob store: {0}")]
    Store(#[from] BlobError),
}

impl From<PackageError> for UploadError {
    fn from(_: PackageError) -> Self {
        Self::NoSuchChunk
    }
}
