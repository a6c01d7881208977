//! The unit of history: one message as the primary's database holds it, and one contact's
//! display name. History sync and backups carry the same two types.

use core::fmt;

/// One message of a chat's history.
///
/// The body is the message's plaintext content as the client stores it (tandem does not look
/// inside). `media` is an opaque media pointer (in the client's format, e.g. a serialized media
/// message with its media key, hashes and direct path), or `None` for a message without media.
/// `Debug` prints the ids and the lengths of the body and pointer, never their bytes (the
/// pointer carries a media key).
#[derive(Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The chat the message belongs to (a user or group address in the client's notation).
    pub chat_id: String,
    /// Who sent it (the client's notation; the account's own address for sent messages).
    pub sender: String,
    /// The message id, unique within the chat.
    pub message_id: String,
    /// When it was sent, ms since the Unix epoch (sender's clock).
    pub timestamp_ms: u64,
    /// The message content.
    pub body: Vec<u8>,
    /// An opaque media pointer, if the message has media.
    pub media: Option<Vec<u8>>,
}

impl fmt::Debug for HistoryItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryItem")
            .field("chat_id", &self.chat_id)
            .field("sender", &self.sender)
            .field("message_id", &self.message_id)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("body_len", &self.body.len())
            .field("media_len", &self.media.as_ref().map(Vec::len))
            .finish()
    }
}

/// A contact's display name (WhatsApp's "push name").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactName {
    /// The contact's address in the client's notation.
    pub id: String,
    /// The name to show.
    pub name: String,
}
