//! Envelopes: what a client hands the server for one device, and gets from it.

use crate::address::Address;

/// How an envelope's payload is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// A `PreKeySignalMessage`.
    PreKey,
    /// A `SignalMessage`.
    Whisper,
    /// A `SenderKeyMessage` (group).
    SenderKey,
    /// A `RetryRequest` (in the clear: public, signed material only).
    RetryRequest,
}

/// One ciphertext for one device. The server sees the addresses, kind, id and time, never the
/// content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The sending device.
    pub sender: Address,
    /// The receiving device.
    pub recipient: Address,
    /// How to read the payload.
    pub kind: EnvelopeKind,
    /// The message id (shared by all envelopes of one message; retry requests name it).
    pub message_id: [u8; 16],
    /// The sender's timestamp (ms since the Unix epoch).
    pub timestamp: u64,
    /// The ciphertext (or retry request).
    pub payload: Vec<u8>,
}
