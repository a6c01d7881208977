//! What a backup holds: message history, contacts' names and an opaque app-state export.
//! Never session or ratchet state (see [`super`] for why).

use core::fmt;

use prost::Message;
use zeroize::Zeroizing;

use crate::history::proto::{
    AppStateExportProto, BackupContentsProto, ContentError, contacts_from_pushnames,
    conversations_from_items, decode_canonical, items_from_conversations, pushname_from_contact,
};
use crate::history::{ContactName, HistoryItem};

/// One app-state collection as the app-state layer exports it (tandem does not look inside).
#[derive(Clone, PartialEq, Eq)]
pub struct AppStateExport {
    /// The collection's name (e.g. `regular`, `critical_block`).
    pub collection: String,
    /// The exported bytes.
    pub data: Vec<u8>,
}

impl fmt::Debug for AppStateExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppStateExport")
            .field("collection", &self.collection)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// The plaintext of a backup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupContents {
    /// Messages, in the order the client wants them restored.
    pub history: Vec<HistoryItem>,
    /// Contacts' display names.
    pub contacts: Vec<ContactName>,
    /// App-state collections, exported.
    pub app_state: Vec<AppStateExport>,
}

impl BackupContents {
    /// The `BackupContents` protobuf (see `history/proto.rs` and `spec/10-backup.md`). The
    /// buffer is wiped when dropped.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let proto = BackupContentsProto {
            conversations: conversations_from_items(&self.history),
            pushnames: self.contacts.iter().map(pushname_from_contact).collect(),
            app_state: self
                .app_state
                .iter()
                .map(|a| AppStateExportProto {
                    collection: Some(a.collection.clone()),
                    data: Some(a.data.clone()),
                })
                .collect(),
        };
        Zeroizing::new(proto.encode_to_vec())
    }

    /// Decodes the canonical encoding [`Self::encode`] writes; anything else is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentsError> {
        let proto: BackupContentsProto = decode_canonical(bytes).map_err(ContentsError::from)?;
        Ok(Self {
            history: items_from_conversations(proto.conversations)?,
            contacts: contacts_from_pushnames(proto.pushnames)?,
            app_state: proto
                .app_state
                .into_iter()
                .map(|a| {
                    Ok(AppStateExport {
                        collection: a.collection.ok_or(ContentsError::Malformed)?,
                        data: a.data.ok_or(ContentsError::Malformed)?,
                    })
                })
                .collect::<Result<_, ContentsError>>()?,
        })
    }
}

/// Why decrypted backup contents were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentsError {
    /// Not the canonical `BackupContents` encoding, or a required field is missing.
    #[error("malformed backup contents")]
    Malformed,
}

impl From<ContentError> for ContentsError {
    fn from(_: ContentError) -> Self {
        Self::Malformed
    }
}
