//! One chunk's content: the `HistoryChunk` protobuf (see `proto.rs`), typed.

use prost::Message;
use zeroize::Zeroizing;

use super::proto::{
    ContentError, HistoryChunkProto, contacts_from_pushnames, conversations_from_items, decode_canonical,
    items_from_conversations, pushname_from_contact,
};
use super::sync_id::{HistorySyncType, SyncId};
use super::{ContactName, HistoryItem};

/// The content of one chunk, with the position it claims in its sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChunkContent {
    pub sync_id: SyncId,
    pub sync_type: HistorySyncType,
    pub chunk_order: u32,
    pub progress: u32,
    pub items: Vec<HistoryItem>,
    pub contacts: Vec<ContactName>,
}

/// Encodes a chunk from borrowed items (the packager's view).
pub(crate) fn encode(
    sync_id: SyncId,
    sync_type: HistorySyncType,
    chunk_order: u32,
    progress: u32,
    items: &[HistoryItem],
    contacts: &[ContactName],
) -> Zeroizing<Vec<u8>> {
    let proto = HistoryChunkProto {
        sync_type: Some(sync_type.number()),
        conversations: conversations_from_items(items),
        chunk_order: Some(chunk_order),
        progress: Some(progress),
        pushnames: contacts.iter().map(pushname_from_contact).collect(),
        sync_id: Some(sync_id.0.to_vec()),
    };
    Zeroizing::new(proto.encode_to_vec())
}

/// Decodes a chunk strictly (canonical encoding, every required field, known sync type).
pub(crate) fn decode(bytes: &[u8]) -> Result<ChunkContent, ContentError> {
    let proto: HistoryChunkProto = decode_canonical(bytes)?;
    let sync_id = SyncId(
        proto
            .sync_id
            .as_deref()
            .ok_or(ContentError::Missing)?
            .try_into()
            .map_err(|_| ContentError::Missing)?,
    );
    Ok(ChunkContent {
        sync_id,
        sync_type: HistorySyncType::from_number(proto.sync_type.ok_or(ContentError::Missing)?)
            .ok_or(ContentError::Missing)?,
        chunk_order: proto.chunk_order.ok_or(ContentError::Missing)?,
        progress: proto.progress.ok_or(ContentError::Missing)?,
        items: items_from_conversations(proto.conversations)?,
        contacts: contacts_from_pushnames(proto.pushnames)?,
    })
}
