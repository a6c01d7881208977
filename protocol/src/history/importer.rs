//! The companion's side: take notifications from the primary, fetch, verify, decrypt,
//! decompress and parse each chunk, and hand the chunks over in order.

use std::collections::BTreeMap;
use std::io::Read;

use super::chunk;
use super::compress::{InflateError, decompress};
use super::limits::MAX_CHUNK_BYTES;
use super::notification::{HistorySyncNotification, NotificationError};
use super::sync_id::{HistorySyncType, SyncId};
use super::{ContactName, HistoryItem};
use crate::blob::{BlobError, BlobId, BlobStore};
use crate::media::{self, MediaKind};

/// Why a chunk could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkFailure {
    /// The store has no blob at the notification's direct path (lost, expired or deleted).
    #[error("blob missing")]
    BlobMissing,
    /// The blob does not match the notification: its SHA-256, length, MAC, padding or the
    /// plaintext's SHA-256 or length ([`crate::media::decrypt`]).
    #[error("blob tampered with")]
    Tampered,
    /// The chunk would decompress to more than [`super::MAX_CHUNK_BYTES`].
    #[error("chunk decompresses past the limit")]
    DecompressionBomb,
    /// Not one complete zlib stream, or not a canonical `HistoryChunk`.
    #[error("chunk malformed")]
    Malformed,
    /// A well-formed chunk whose sync id, sync type, order or progress is not the
    /// notification's.
    #[error("chunk does not match its notification")]
    Mismatch,
    /// The store failed for another reason (I/O): nothing changed; try again later.
    #[error("blob store unavailable")]
    Unavailable,
}

impl ChunkFailure {
    /// The number the importer state stores (`Unavailable` is never stored).
    pub(crate) const fn code(self) -> u32 {
        match self {
            Self::BlobMissing => 1,
            Self::Tampered => 2,
            Self::DecompressionBomb => 3,
            Self::Malformed => 4,
            Self::Mismatch => 5,
            Self::Unavailable => 6,
        }
    }

    pub(crate) const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Self::BlobMissing,
            2 => Self::Tampered,
            3 => Self::DecompressionBomb,
            4 => Self::Malformed,
            5 => Self::Mismatch,
            _ => return None,
        })
    }
}

/// A chunk that could not be applied. Unless the reason is
/// [`ChunkFailure::Unavailable`], the chunk's notification (and key) is dropped and the chunk is
/// listed by [`HistoryImporter::failed_chunks`]: ask the primary to upload it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("history chunk {chunk}: {reason}")]
pub struct ImportError {
    /// The chunk's order.
    pub chunk: u32,
    /// What went wrong.
    pub reason: ChunkFailure,
}

/// How far a sync has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Chunks applied (they are applied in order, so these are chunks `0..chunks_applied`).
    pub chunks_applied: u32,
    /// Chunks in the sync; 0 until the first notification.
    pub chunk_count: u32,
    /// Bytes of the chunks applied, compressed (their notifications' `file_length`).
    pub bytes: u64,
    /// Messages applied.
    pub messages: u64,
}

impl core::fmt::Display for Progress {
    /// `chunk 3 of 10 (1234567 bytes, 6000 messages)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "chunk {} of {} ({} bytes, {} messages)",
            self.chunks_applied, self.chunk_count, self.bytes, self.messages
        )
    }
}

/// One chunk, verified and parsed, for the client to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedChunk {
    /// The chunk's order.
    pub chunk_order: u32,
    /// The messages, in the primary's order.
    pub items: Vec<HistoryItem>,
    /// Contacts' display names.
    pub contacts: Vec<ContactName>,
    /// The blob it came from: delete it from the store once the chunk is committed.
    pub blob: BlobId,
    /// Progress after this chunk.
    pub progress: Progress,
}

/// What the importer is following: fixed by the first notification it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding {
    pub sync_id: SyncId,
    pub sync_type: HistorySyncType,
    pub chunk_count: u32,
}

/// The companion's import of one history sync.
///
/// The client passes it only notifications that came over the pairwise session from its own
/// primary. It keeps notifications until their turn (chunks are applied strictly in order),
/// downloads and verifies a chunk only when it is next, and after each chunk holds only what a
/// restart needs: which chunks are done, the notifications still pending (with their media
/// keys), which chunks failed. Persist [`Self::to_bytes`] in the same transaction as the items of
/// each [`AppliedChunk`]; [`Self::from_bytes`] resumes after a restart. A notification's media
/// key is dropped (and zeroized) as soon as its chunk is applied or fails.
#[derive(Debug, Clone, Default)]
pub struct HistoryImporter {
    pub(crate) binding: Option<Binding>,
    pub(crate) next: u32,
    pub(crate) pending: BTreeMap<u32, HistorySyncNotification>,
    pub(crate) failed: BTreeMap<u32, ChunkFailure>,
    pub(crate) bytes: u64,
    pub(crate) messages: u64,
}

impl HistoryImporter {
    /// An importer that follows the sync of the first notification it is given.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sync it follows, once it has accepted a notification.
    pub fn sync_id(&self) -> Option<SyncId> {
        self.binding.map(|b| b.sync_id)
    }

    /// Parses notification bytes ([`HistorySyncNotification::parse`]) and [`Self::receive`]s them.
    pub fn receive_bytes(&mut self, bytes: &[u8]) -> Result<u32, NotificationError> {
        self.receive(HistorySyncNotification::parse(bytes)?)
    }

    /// Queues a chunk's notification; returns its chunk order. A notification for a chunk that
    /// is pending or failed replaces the one held (a re-upload); one for an applied chunk is
    /// [`NotificationError::AlreadyApplied`]; one for another sync
    /// [`NotificationError::OtherSync`]; one that fails [`HistorySyncNotification::check`]
    /// [`NotificationError::Malformed`]. A refused notification changes nothing.
    pub fn receive(&mut self, notification: HistorySyncNotification) -> Result<u32, NotificationError> {
        notification.check()?;
        let binding = Binding {
            sync_id: notification.sync_id,
            sync_type: notification.sync_type,
            chunk_count: notification.chunk_count,
        };
        match self.binding {
            Some(b) if b.sync_id != binding.sync_id => return Err(NotificationError::OtherSync),
            Some(b) if b != binding => return Err(NotificationError::Inconsistent),
            _ => {}
        }
        let order = notification.chunk_order;
        if order < self.next {
            return Err(NotificationError::AlreadyApplied);
        }
        self.binding = Some(binding);
        self.failed.remove(&order);
        self.pending.insert(order, notification);
        Ok(order)
    }

    /// Whether every chunk has been applied.
    pub fn is_complete(&self) -> bool {
        self.binding.is_some_and(|b| self.next >= b.chunk_count)
    }

    /// Progress so far.
    pub fn progress(&self) -> Progress {
        Progress {
            chunks_applied: self.next,
            chunk_count: self.binding.map_or(0, |b| b.chunk_count),
            bytes: self.bytes,
            messages: self.messages,
        }
    }

    /// The chunk applied next, once its notification is here.
    pub fn next_chunk(&self) -> u32 {
        self.next
    }

    /// Chunks not applied whose notification has not arrived (and that have not failed): if
    /// they do not come (the sync stalls), ask the primary to upload them again.
    pub fn missing_chunks(&self) -> Vec<u32> {
        let Some(b) = self.binding else { return Vec::new() };
        (self.next..b.chunk_count)
            .filter(|o| !self.pending.contains_key(o) && !self.failed.contains_key(o))
            .collect()
    }

    /// Chunks that failed, with why: ask the primary to upload them again.
    pub fn failed_chunks(&self) -> Vec<(u32, ChunkFailure)> {
        self.failed.iter().map(|(o, r)| (*o, *r)).collect()
    }

    /// Chunks whose notification is held, waiting for their turn.
    pub fn pending_chunks(&self) -> Vec<u32> {
        self.pending.keys().copied().collect()
    }

    /// Applies the next chunk if its notification is here: downloads the blob from `store`,
    /// verifies and decrypts it ([`crate::media::decrypt`], kind
    /// [`MediaKind::History`]), inflates it (at most [`super::MAX_CHUNK_BYTES`]), parses it
    /// strictly and checks it against its notification. `Ok(None)` when the next chunk's
    /// notification has not arrived or the sync is complete.
    pub fn apply_next<S: BlobStore + ?Sized>(
        &mut self,
        store: &S,
    ) -> Result<Option<AppliedChunk>, ImportError> {
        let Some(binding) = self.binding else {
            return Ok(None);
        };
        let order = self.next;
        if order >= binding.chunk_count {
            return Ok(None);
        }
        let Some(notification) = self.pending.get(&order) else {
            return Ok(None);
        };
        let fail = |reason| ImportError { chunk: order, reason };
        let content = match open_chunk(notification, store) {
            Ok(content) => content,
            Err(ChunkFailure::Unavailable) => return Err(fail(ChunkFailure::Unavailable)),
            Err(reason) => {
                self.pending.remove(&order);
                self.failed.insert(order, reason);
                return Err(fail(reason));
            }
        };
        let bytes = notification.digest.file_length;
        let blob = notification.direct_path;
        // Drops the notification: its media key is zeroized.
        self.pending.remove(&order);
        self.next = order + 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.messages = self.messages.saturating_add(content.items.len() as u64);
        Ok(Some(AppliedChunk {
            chunk_order: order,
            items: content.items,
            contacts: content.contacts,
            blob,
            progress: self.progress(),
        }))
    }

    /// Applies every chunk that is ready, in order, until one is missing or fails. Returns the
    /// applied chunks and the failure, if one stopped it.
    pub fn apply_ready<S: BlobStore + ?Sized>(
        &mut self,
        store: &S,
    ) -> (Vec<AppliedChunk>, Option<ImportError>) {
        let mut applied = Vec::new();
        loop {
            match self.apply_next(store) {
                Ok(Some(chunk)) => applied.push(chunk),
                Ok(None) => return (applied, None),
                Err(e) => return (applied, Some(e)),
            }
        }
    }
}

/// Downloads, verifies, decrypts, inflates and parses one chunk.
fn open_chunk<S: BlobStore + ?Sized>(
    n: &HistorySyncNotification,
    store: &S,
) -> Result<chunk::ChunkContent, ChunkFailure> {
    let mut reader = store.open(&n.direct_path).map_err(|e| match e {
        BlobError::NotFound => ChunkFailure::BlobMissing,
        _ => ChunkFailure::Unavailable,
    })?;
    // The blob of an honest chunk: the PKCS#7-padded length plus the 10-byte MAC. Read one
    // byte more than that at most, so a hostile store cannot make us buffer more.
    let expected = (n.digest.file_length / 16)
        .saturating_add(1)
        .saturating_mul(16)
        .saturating_add(media::MAC_LENGTH as u64);
    let mut blob = Vec::new();
    (&mut reader)
        .take(expected.saturating_add(1))
        .read_to_end(&mut blob)
        .map_err(|_| ChunkFailure::Unavailable)?;
    let compressed = zeroize::Zeroizing::new(
        media::decrypt(MediaKind::History, &n.media_key, &blob, &n.digest)
            .map_err(|_| ChunkFailure::Tampered)?,
    );
    let plain = decompress(&compressed, MAX_CHUNK_BYTES).map_err(|e| match e {
        InflateError::TooLarge => ChunkFailure::DecompressionBomb,
        InflateError::Malformed => ChunkFailure::Malformed,
    })?;
    let content = chunk::decode(&plain).map_err(|_| ChunkFailure::Malformed)?;
    if content.sync_id != n.sync_id
        || content.sync_type != n.sync_type
        || content.chunk_order != n.chunk_order
        || content.progress != n.progress
    {
        return Err(ChunkFailure::Mismatch);
    }
    Ok(content)
}
