//! Every resource bound in tandem, each with the reason for its value.
//!
//! Where a bound is libsignal's, tandem uses the same number so that a conversation that works
//! between two libsignal clients also works when one side is tandem.

/// How far ahead of a receiving chain's position one message may be (libsignal: 25,000).
///
/// A message with a counter this far ahead forces the receiver to derive and store every key
/// in between; the bound stops a peer (or a corrupted counter) from making us do unbounded work.
pub const MAX_FORWARD_JUMPS: u32 = 25_000;

/// Skipped message keys kept per receiving chain (libsignal: 2,000).
///
/// Keys for messages that arrive out of order; beyond this the oldest are dropped, so a message
/// delayed past 2,000 later ones in its chain can no longer be read. Bounds memory per session.
pub const MAX_MESSAGE_KEYS: usize = 2_000;

/// Receiving chains kept per session (libsignal: 5).
///
/// Each DH ratchet step by the peer starts a new receiving chain; older chains are kept so that
/// late messages from them still decrypt, up to this many.
pub const MAX_RECEIVER_CHAINS: usize = 5;

/// Previous sessions kept per address besides the current one (libsignal: 40).
///
/// When a peer re-initiates (new device install, simultaneous initiation), messages may still
/// arrive under the old session; they are tried against these archived states.
pub const ARCHIVED_STATES_MAX_LENGTH: usize = 40;

/// The largest message tandem parses: 64 MiB.
///
/// Far above any real message (media travels as attachments, not inside messages), and low
/// enough that hostile input cannot make a parser copy or allocate without bound.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// Sender chains kept per (sender, distribution id) (libsignal: 5).
///
/// A sender that rotates its key starts a new chain; earlier chains are kept so messages sent
/// just before the rotation still decrypt, up to this many.
pub const MAX_SENDER_KEY_STATES: usize = 5;

/// How far ahead of a sender chain's position one group message may be (libsignal's group
/// bound; see the sender-key transcripts, which pin where libsignal refuses).
///
/// As for pairwise chains: a bound on the keys a receiver derives for one message.
pub const MAX_GROUP_FORWARD_JUMPS: u32 = 25_000;

/// Sent messages a client keeps for retries (per device).
///
/// A retry request names a message by id; only messages still held can be re-sent. Bounds
/// memory; older messages cannot be healed by a retry.
pub const MAX_SENT_MESSAGES: usize = 1_000;

/// Message ids a client remembers having shown (per device), to show each message once.
///
/// The same message can be decrypted twice in different ciphertexts: a re-send after a retry
/// request and a late original, or two re-sends. The client answers the second with
/// `Received::Duplicate`. Ten times [`MAX_SENT_MESSAGES`]: a sender re-sends only messages it
/// still holds, so a window this wide covers every re-send of a sender that is not far more
/// active than we are; the oldest ids go first.
pub const MAX_RECEIVED_MESSAGE_IDS: usize = 10_000;

/// Retry requests per (device, message), both asked and served (WhatsApp gives up after 5).
///
/// Stops a device that can never decrypt (or a hostile one) from looping.
pub const MAX_RETRIES: u32 = 5;
