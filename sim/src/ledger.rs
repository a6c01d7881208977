//! What the simulator knows it sent, and who must, may, and did decrypt it.
//!
//! For every message the ledger keeps three sets of devices:
//!
//! - **required**: the devices that existed when it was sent, of every account it went to
//!   (the recipient, or the group's members, and the sender's own account), except the sending
//!   device. Each must decrypt it exactly once by the end of the run — unless the device is
//!   gone (unlinked, or its account reinstalled), the envelope meant for it was lost for good
//!   (the `lose` fault), or its sender is gone (a receiver checks the sender against the current
//!   device list, so an unlinked device's undelivered messages are refused — by design), or it is
//!   a group message whose sender was removed from the group while it was in flight, or which
//!   missed the device and was to be re-sent when the device's account left the group, or it was
//!   encrypted to a previous installation of the device's account (a stale directory after a
//!   reinstall; never re-sent to a later installation) (all three by decision, spec 05).
//! - **allowed**: `required`, plus the devices that existed when the sender re-sent it to devices
//!   the server said it missed (`resend_to_missing` sends to every current device that lacks it).
//!   A decryption anywhere else — a member added later, a device linked later (it gets older
//!   messages through history sync instead, checked apart: `world/history.rs`), a removed
//!   member, an unlinked device — is a violation.
//! - **decrypted**: how many times each device decrypted it (more than once is a violation).
//!
//! A message with a photo also has a [`MediaRecord`]: the plaintext encrypted, the pointer
//! sent, and what each device got when it fetched the blob (`world/media.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tandem::Address;
use tandem::blob::BlobId;

/// A device incarnation: an index into the world's devices (never reused, so a reinstalled
/// primary at the same address is a different device).
pub type DevId = usize;

/// One message sent.
#[derive(Clone, Debug)]
pub struct MessageRecord {
    /// Its number in the run.
    pub number: usize,
    /// Its id.
    pub id: [u8; 16],
    /// The sending device.
    pub sender: DevId,
    /// The sending device's address.
    pub sender_address: Address,
    /// The group, for group messages (index into the world's groups).
    pub group: Option<usize>,
    /// The group id, for group messages.
    pub group_id: Option<[u8; 16]>,
    /// The accounts it went to (indexes), the sender's included.
    pub audience: BTreeSet<usize>,
    /// The body.
    pub body: Vec<u8>,
    /// The step that sent it.
    pub step: usize,
    /// Devices that must decrypt it.
    pub required: BTreeSet<DevId>,
    /// Devices that may decrypt it.
    pub allowed: BTreeSet<DevId>,
    /// Devices excused, and why.
    pub exempt: BTreeMap<DevId, &'static str>,
    /// Decryptions per device.
    pub decrypted: BTreeMap<DevId, u32>,
    /// Addresses some envelope of it was posted to.
    pub addressed: BTreeSet<Address>,
    /// Sent by the end-of-run probe.
    pub probe: bool,
    /// Re-sent to missing devices at least once.
    pub resent: bool,
    /// For each account it was encrypted to, the installation (reinstall count) it first went
    /// to: a later installation of that account never gets it (spec 05.7), so its devices are
    /// not owed it (a stale directory after a reinstall).
    pub sent_to_epoch: BTreeMap<usize, u32>,
}

/// The photo of a message.
#[derive(Clone, Debug)]
pub struct MediaRecord {
    /// The plaintext that was encrypted.
    pub plaintext: Vec<u8>,
    /// The pointer sent (the message's attachment).
    pub pointer: Vec<u8>,
    /// The blob's id in the blob store.
    pub blob: BlobId,
    /// The blob-store fault that hit the blob (`blob-lose`, `blob-corrupt`), if any: the photo
    /// is then excused (never wrong plaintext, though).
    pub faulted: Option<&'static str>,
    /// Per device that fetched it: whether it got the plaintext.
    pub fetched: BTreeMap<DevId, bool>,
}

/// Every message of a run.
#[derive(Debug, Default)]
pub struct Ledger {
    messages: Vec<MessageRecord>,
    by_id: HashMap<[u8; 16], usize>,
    media: BTreeMap<usize, MediaRecord>,
}

impl Ledger {
    /// The next message's number.
    pub fn next_number(&self) -> usize {
        self.messages.len()
    }

    /// Records a message.
    pub fn add(&mut self, record: MessageRecord) -> usize {
        let n = self.messages.len();
        self.by_id.insert(record.id, n);
        self.messages.push(record);
        n
    }

    /// The message with this id.
    pub fn find(&self, id: &[u8; 16]) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// A message by number.
    pub fn get(&self, n: usize) -> Option<&MessageRecord> {
        self.messages.get(n)
    }

    /// A message by number, to change.
    pub fn get_mut(&mut self, n: usize) -> Option<&mut MessageRecord> {
        self.messages.get_mut(n)
    }

    /// Every message.
    pub fn all(&self) -> &[MessageRecord] {
        &self.messages
    }

    /// Records message `n`'s photo.
    pub fn add_media(&mut self, n: usize, record: MediaRecord) {
        self.media.insert(n, record);
    }

    /// Message `n`'s photo, if it has one.
    pub fn media(&self, n: usize) -> Option<&MediaRecord> {
        self.media.get(&n)
    }

    /// Message `n`'s photo, to change.
    pub fn media_mut(&mut self, n: usize) -> Option<&mut MediaRecord> {
        self.media.get_mut(&n)
    }

    /// The numbers of the messages with a photo that `keep` selects, in order.
    pub fn media_numbers(&self, keep: impl Fn(&MediaRecord) -> bool) -> Vec<usize> {
        self.media
            .iter()
            .filter(|(_, m)| keep(m))
            .map(|(n, _)| *n)
            .collect()
    }
}
