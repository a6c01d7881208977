//! History sync to a newly linked device.
//!
//! The primary packages the history it chose (messages, media pointers as opaque bytes,
//! contacts' display names) into chunks ([`HistoryPackage::build`]): each a `HistoryChunk`
//! protobuf (WhatsApp's `HistorySync` numbers where they fit), zlib-compressed, encrypted as
//! media of kind [`MediaKind::History`](crate::media::MediaKind::History) under a fresh media
//! key and put in a [`BlobStore`](crate::blob::BlobStore). For each chunk a
//! [`HistorySyncNotification`] (WhatsApp's numbers, plus the chunk count and a sync id that
//! binds the chunks of one sync) carries the media key and hashes to the new device over the
//! pairwise session. The companion's [`HistoryImporter`] (fed only notifications from its own
//! primary) downloads, verifies, decrypts, inflates with a hard limit and parses each chunk,
//! applies the chunks strictly in order, reports progress, survives a restart
//! ([`HistoryImporter::to_bytes`]) and lists the chunks to upload again (lost or damaged).
//! Media keys are dropped, zeroized, once their chunk is applied. `spec/09-history-sync.md`
//! has the byte layouts.

mod chunk;
mod compress;
mod importer;
mod item;
mod limits;
mod notification;
mod package;
pub(crate) mod proto;
mod request;
mod state;
mod sync_id;

pub use importer::{AppliedChunk, ChunkFailure, HistoryImporter, ImportError, Progress};
pub use item::{ContactName, HistoryItem};
pub use limits::{ChunkLimits, MAX_BLOB_BYTES, MAX_CHUNK_BYTES, MAX_CHUNK_COUNT};
pub use notification::{HistorySyncNotification, NotificationError};
pub use package::{HistoryPackage, PackageError, SealedChunk, UploadError};
pub use request::{BadChunkRequest, HistoryChunkRequest};
pub use state::{IMPORTER_STATE_VERSION, StateError};
pub use sync_id::{HistorySyncType, SyncId};
