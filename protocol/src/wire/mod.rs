//! Wire formats of pairwise and group messages, byte-identical to libsignal version 3.
//!
//! ```text
//! SignalMessage       = version ‖ protobuf(SignalMessage) ‖ mac[8]
//! PreKeySignalMessage = version ‖ protobuf(PreKeySignalMessage)
//! version             = (3 << 4) | 3 = 0x33
//! mac                 = HMAC-SHA256(mac_key, sender_identity[33] ‖ receiver_identity[33]
//!                                             ‖ version ‖ protobuf)[..8]
//! ```
//!
//! The high nibble of the version byte is the message version and must be 3; the low nibble is
//! the highest version the sender speaks and is not checked (official libsignal writes 0x34 for
//! version-3 sessions, the JavaScript port 0x33). The MAC covers the byte exactly as received.
//! Parsing is strict: unknown fields, repeated fields, truncation and trailing bytes are refused
//! as [`WireError::Malformed`]. A parsed message is not yet authenticated; the session checks
//! its MAC when it decrypts.

mod prekey_message;
pub(crate) mod proto;
mod sender_key_distribution_message;
mod sender_key_message;
mod signal_message;
pub(crate) mod strict;

pub use prekey_message::PreKeySignalMessage;
pub use sender_key_distribution_message::SenderKeyDistributionMessage;
pub use sender_key_message::SenderKeyMessage;
pub use signal_message::SignalMessage;

/// The message (session) version tandem speaks: classic X3DH + Double Ratchet.
pub const MESSAGE_VERSION: u8 = 3;

/// The version byte tandem writes: message version 3, highest version spoken 3.
pub const VERSION_BYTE: u8 = (MESSAGE_VERSION << 4) | MESSAGE_VERSION;

/// Length of the truncated MAC that ends a `SignalMessage`.
pub const MAC_LENGTH: usize = 8;

/// libsignal's numbering of ciphertext message types, as carried in envelopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageType {
    /// A `SignalMessage` (libsignal `CiphertextMessageType::Whisper`).
    Whisper = 2,
    /// A `PreKeySignalMessage`.
    PreKey = 3,
    /// A `SenderKeyMessage` (group).
    SenderKey = 7,
}

/// Why message bytes were refused before any cryptography.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The message version (high nibble of the first byte) is not 3.
    #[error("unsupported message version")]
    UnknownVersion,
    /// The bytes are not a well-formed message: truncated, oversize, unknown or repeated
    /// fields, a missing required field, or a key that does not decode.
    #[error("malformed message")]
    Malformed,
}

/// Reads and checks the version byte; returns the rest.
pub(crate) fn split_version(bytes: &[u8]) -> Result<(u8, &[u8]), WireError> {
    if bytes.len() > crate::consts::MAX_MESSAGE_BYTES {
        return Err(WireError::Malformed);
    }
    let (&version, rest) = bytes.split_first().ok_or(WireError::Malformed)?;
    if version >> 4 != MESSAGE_VERSION {
        return Err(WireError::UnknownVersion);
    }
    Ok((version, rest))
}
