//! The protobuf messages of history sync and backups (prost derives; no protoc), with the
//! conversions between flat [`HistoryItem`]s and the conversation runs they are sent as.
//!
//! ```proto
//! // A chunk of history (WhatsApp's `HistorySync`, same numbers where the field is the same).
//! message HistoryChunk {
//!   optional uint32 sync_type          = 1;   // HistorySyncType
//!   repeated Conversation conversations = 2;
//!   optional uint32 chunk_order        = 5;   // 0-based
//!   optional uint32 progress           = 6;   // percent, 0..=100
//!   repeated Pushname pushnames        = 7;
//!   optional bytes  sync_id            = 101; // 16 bytes (tandem)
//! }
//! message Conversation {            // a run of consecutive messages of one chat
//!   optional string id        = 1;
//!   repeated HistoryMessage messages = 2;
//! }
//! message HistoryMessage {          // tandem's own (WhatsApp nests a WebMessageInfo here)
//!   optional string message_id   = 1;
//!   optional string sender       = 2;
//!   optional uint64 timestamp_ms = 3;
//!   optional bytes  body         = 4;
//!   optional bytes  media        = 5;   // absent: no media
//! }
//! message Pushname { optional string id = 1; optional string pushname = 2; }
//!
//! // What a backup holds (the same numbers as HistoryChunk for the same content).
//! message BackupContents {
//!   repeated Conversation conversations = 2;
//!   repeated Pushname pushnames        = 7;
//!   repeated AppStateExport app_state  = 101;
//! }
//! message AppStateExport { optional string collection = 1; optional bytes data = 2; }
//! ```
//!
//! Decoding is canonical: the bytes must be exactly what prost writes for what they decode to
//! (fields in number order, present optional fields written, no unknown or repeated singular
//! fields, minimal varints), every field except `media` present, no conversation without
//! messages, and no two adjacent conversations with the same id (a run is one entry).

use prost::Message;

use super::{ContactName, HistoryItem};

/// `HistoryChunk`: one chunk of a history sync.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HistoryChunkProto {
    /// Field 1: the sync type.
    #[prost(uint32, optional, tag = "1")]
    pub sync_type: Option<u32>,
    /// Field 2: runs of messages.
    #[prost(message, repeated, tag = "2")]
    pub conversations: Vec<ConversationProto>,
    /// Field 5: the chunk's index.
    #[prost(uint32, optional, tag = "5")]
    pub chunk_order: Option<u32>,
    /// Field 6: percent done after this chunk.
    #[prost(uint32, optional, tag = "6")]
    pub progress: Option<u32>,
    /// Field 7: contacts' display names.
    #[prost(message, repeated, tag = "7")]
    pub pushnames: Vec<PushnameProto>,
    /// Field 101: the sync id.
    #[prost(bytes = "vec", optional, tag = "101")]
    pub sync_id: Option<Vec<u8>>,
}

/// `Conversation`: consecutive messages of one chat.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ConversationProto {
    /// Field 1: the chat id.
    #[prost(string, optional, tag = "1")]
    pub id: Option<String>,
    /// Field 2: the messages, in order.
    #[prost(message, repeated, tag = "2")]
    pub messages: Vec<HistoryMessageProto>,
}

/// `HistoryMessage`: one message.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HistoryMessageProto {
    /// Field 1.
    #[prost(string, optional, tag = "1")]
    pub message_id: Option<String>,
    /// Field 2.
    #[prost(string, optional, tag = "2")]
    pub sender: Option<String>,
    /// Field 3.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp_ms: Option<u64>,
    /// Field 4.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub body: Option<Vec<u8>>,
    /// Field 5.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub media: Option<Vec<u8>>,
}

/// `Pushname`: a contact's display name.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PushnameProto {
    /// Field 1.
    #[prost(string, optional, tag = "1")]
    pub id: Option<String>,
    /// Field 2.
    #[prost(string, optional, tag = "2")]
    pub pushname: Option<String>,
}

/// `BackupContents`: what a backup holds.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct BackupContentsProto {
    /// Field 2.
    #[prost(message, repeated, tag = "2")]
    pub conversations: Vec<ConversationProto>,
    /// Field 7.
    #[prost(message, repeated, tag = "7")]
    pub pushnames: Vec<PushnameProto>,
    /// Field 101.
    #[prost(message, repeated, tag = "101")]
    pub app_state: Vec<AppStateExportProto>,
}

/// `AppStateExport`: one app-state collection, exported opaquely.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AppStateExportProto {
    /// Field 1.
    #[prost(string, optional, tag = "1")]
    pub collection: Option<String>,
    /// Field 2.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
}

/// Why decoded content was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentError {
    /// Not protobuf, or not its canonical encoding.
    NotCanonical,
    /// A required field is absent.
    Missing,
    /// A conversation with no messages, or two adjacent ones with the same id.
    BadRun,
}

/// Decodes `bytes` and refuses them unless they are exactly the encoding of what they decode to.
pub(crate) fn decode_canonical<M: Message + Default>(bytes: &[u8]) -> Result<M, ContentError> {
    let message = M::decode(bytes).map_err(|_| ContentError::NotCanonical)?;
    if message.encoded_len() != bytes.len() || message.encode_to_vec() != bytes {
        return Err(ContentError::NotCanonical);
    }
    Ok(message)
}

/// Groups items into runs: consecutive items of the same chat share one entry.
pub(crate) fn conversations_from_items(items: &[HistoryItem]) -> Vec<ConversationProto> {
    let mut out: Vec<ConversationProto> = Vec::new();
    for item in items {
        let message = HistoryMessageProto {
            message_id: Some(item.message_id.clone()),
            sender: Some(item.sender.clone()),
            timestamp_ms: Some(item.timestamp_ms),
            body: Some(item.body.clone()),
            media: item.media.clone(),
        };
        match out.last_mut() {
            Some(run) if run.id.as_deref() == Some(item.chat_id.as_str()) => run.messages.push(message),
            _ => out.push(ConversationProto {
                id: Some(item.chat_id.clone()),
                messages: vec![message],
            }),
        }
    }
    out
}

/// Flattens runs back into items, in order, checking every required field.
pub(crate) fn items_from_conversations(
    conversations: Vec<ConversationProto>,
) -> Result<Vec<HistoryItem>, ContentError> {
    let total = conversations.iter().map(|c| c.messages.len()).sum();
    let mut items = Vec::with_capacity(total);
    let mut previous: Option<String> = None;
    for conversation in conversations {
        let chat_id = conversation.id.ok_or(ContentError::Missing)?;
        if conversation.messages.is_empty() || previous.as_deref() == Some(chat_id.as_str()) {
            return Err(ContentError::BadRun);
        }
        for m in conversation.messages {
            items.push(HistoryItem {
                chat_id: chat_id.clone(),
                sender: m.sender.ok_or(ContentError::Missing)?,
                message_id: m.message_id.ok_or(ContentError::Missing)?,
                timestamp_ms: m.timestamp_ms.ok_or(ContentError::Missing)?,
                body: m.body.ok_or(ContentError::Missing)?,
                media: m.media,
            });
        }
        previous = Some(chat_id);
    }
    Ok(items)
}

/// A contact name as its protobuf.
pub(crate) fn pushname_from_contact(contact: &ContactName) -> PushnameProto {
    PushnameProto {
        id: Some(contact.id.clone()),
        pushname: Some(contact.name.clone()),
    }
}

/// Contact names from their protobufs, checking both fields.
pub(crate) fn contacts_from_pushnames(
    pushnames: Vec<PushnameProto>,
) -> Result<Vec<ContactName>, ContentError> {
    pushnames
        .into_iter()
        .map(|p| {
            Ok(ContactName {
                id: p.id.ok_or(ContentError::Missing)?,
                name: p.pushname.ok_or(ContentError::Missing)?,
            })
        })
        .collect()
}
