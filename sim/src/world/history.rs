//! History sync to a companion linked later (spec 09), as an app does it around tandem.
//!
//! # The model
//!
//! - The primary's app keeps what it has shown: the messages it sent and the ones it decrypted
//!   (the ledger knows them; a photo's item carries its pointer), in the order they were sent.
//!   When it links a companion it packages that history ([`HistoryPackage`], [`CHUNK_MESSAGES`]
//!   messages a chunk so that a sync has several chunks), puts every chunk in the world's blob
//!   store (the one media uses) and sends the new companion one `HistorySync` self message per
//!   chunk ([`World::send_self`] to that device only, through the network, so every envelope
//!   fault applies). It keeps the package to upload a chunk again when asked. A notification the
//!   directory did not let it address to the companion yet (a stale answer that does not list
//!   the new device) is sent again once the answer is fresh.
//! - The companion's app hands each notification to its [`HistoryImporter`] and applies the
//!   chunks that are ready, showing their items and deleting each applied chunk's blob; the
//!   importer's bytes (`to_bytes`, read back with `from_bytes` at every use) are what the app
//!   saves, with the items, in the receive's transaction, so a crash keeps or loses both (a crash
//!   after the receive committed redelivers the envelope, which tandem recognises as a
//!   duplicate). A chunk that fails (its blob lost or altered: the `history-fault` event) is
//!   asked for again at once with a `HistoryChunkRequest`; chunks that never came (their
//!   notification lost) are asked for when the sync stalls (at the end of the run, in the
//!   settle rounds); the primary uploads each one afresh (a new key, a new blob).
//! - A fault stands for an attack too: a corrupted chunk must be refused (`Tampered`), a lost
//!   one reported missing (`BlobMissing`), never shown.
//!
//! # Invariants
//!
//! - Every item a companion shows from history is a message of the ledger, with its body,
//!   sender and photo pointer, that its primary had shown before the link: it is in the package
//!   of the sync the companion's importer follows, and that sync is the companion's own (so never
//!   a message of a conversation the account was not in, never another account's history, nor a
//!   message sent after the link — those come live).
//! - No message is shown twice from history on a device.
//! - A chunk fails only if a `history-fault` hit the blob its notification named, and with the
//!   matching reason; a chunk whose blob was faulted is never applied.
//! - At the end (after the settle rounds), every live companion whose primary is alive has every
//!   message of its package; a sync none of whose notifications arrived (at least one lost for
//!   good, the others never sent) is excused.
//!
//! Live delivery is checked as before ([`crate::ledger`]): a message sent before the link is
//! still not one the companion may decrypt; it may only be shown from history.

use tandem::blob::{BlobId, BlobStore};
use tandem::client::SelfMessage;
use tandem::history::{
    ChunkFailure, ChunkLimits, HistoryChunkRequest, HistoryImporter, HistoryItem, HistoryPackage,
    HistorySyncNotification, HistorySyncType, NotificationError,
};

use super::*;

/// Messages per history chunk (small, so that a sync has several chunks to order and resume).
pub const CHUNK_MESSAGES: usize = 8;
/// Settle rounds at the end of a run (ask for what is missing, deliver), at most.
const SETTLE_ROUNDS: usize = 8;
/// Times a notification is sent again on a fresh directory answer without reaching the
/// companion before the app gives up on it.
const UNSENT_TRIES: u32 = 3;

/// The history syncs of a run.
#[derive(Default)]
pub(super) struct Histories {
    /// Every sync a primary started, by sync id.
    pub(super) syncs: BTreeMap<[u8; 16], SyncRecord>,
    /// Each companion's saved importer (its `to_bytes`), by device.
    pub(super) importers: BTreeMap<DevId, Vec<u8>>,
    /// The blob named by the notification a companion's importer holds for a chunk.
    pub(super) held: BTreeMap<(DevId, u32), BlobId>,
    /// What each device showed from history (ledger numbers).
    pub(super) shown: BTreeMap<DevId, BTreeSet<usize>>,
    /// Notifications not addressed to their companion yet.
    pub(super) unsent: Vec<Unsent>,
    /// The message ids of notifications sent, with their sync id.
    pub(super) notification_ids: BTreeMap<[u8; 16], [u8; 16]>,
    /// Blobs uploaded for chunks not applied yet, in upload order: (blob, sync id, chunk).
    pub(super) uploaded: Vec<(BlobId, [u8; 16], u32)>,
    /// Blobs a `history-fault` hit, and how (`history-lose`, `history-corrupt`).
    pub(super) faulted: BTreeMap<BlobId, &'static str>,
}

/// One sync, as the primary's app keeps it.
pub(super) struct SyncRecord {
    primary: DevId,
    pub(super) companion: DevId,
    package: HistoryPackage,
    /// The ledger numbers it carries.
    pub(super) numbers: BTreeSet<usize>,
    /// Its notifications lost for good (the `lose` fault).
    lost: u32,
}

/// A notification waiting for a fresh directory answer.
#[derive(Clone, Copy)]
pub(super) struct Unsent {
    sync: [u8; 16],
    order: u32,
    /// Sends on a fresh answer that still did not address the companion.
    tries: u32,
}

/// How a message is named in history: its id in hex.
pub(super) fn id_text(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn id_of(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    if text.len() != 32 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl World {
    /// The primary of `account` has linked companion `companion`: it sends its history.
    pub(super) fn history_on_link(&mut self, account: usize, companion: DevId) {
        let Some(primary) = self.primary(account) else {
            return;
        };
        let numbers: BTreeSet<usize> = self
            .ledger
            .all()
            .iter()
            .filter(|m| m.sender == primary || m.decrypted.get(&primary).is_some_and(|n| *n > 0))
            .map(|m| m.number)
            .collect();
        let items: Vec<HistoryItem> = numbers
            .iter()
            .filter_map(|n| self.ledger.get(*n))
            .map(|m| HistoryItem {
                chat_id: match m.group_id {
                    Some(g) => format!("group:{}", id_text(&g)),
                    None => m
                        .audience
                        .iter()
                        .map(|a| self.name(*a))
                        .collect::<Vec<_>>()
                        .join("+"),
                },
                sender: m.sender_address.to_string(),
                message_id: id_text(&m.id),
                timestamp_ms: m.step as u64,
                body: m.body.clone(),
                media: self.ledger.media(m.number).map(|r| r.pointer.clone()),
            })
            .collect();
        let limits = ChunkLimits {
            max_messages: CHUNK_MESSAGES,
            max_bytes: ChunkLimits::MIN_BYTES * 16,
        };
        let built = HistoryPackage::build(&mut self.rng, HistorySyncType::Full, &items, &[], &limits);
        let package = match built {
            Ok(p) => p,
            Err(e) => {
                let a = self.address(primary);
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{a} packaging history: {e}"),
                );
                return;
            }
        };
        let sync = package.sync_id().0;
        let count = package.chunk_count();
        self.stats.history_syncs += 1;
        self.stats.history_items_sent += items.len() as u64;
        self.histories.syncs.insert(
            sync,
            SyncRecord {
                primary,
                companion,
                package,
                numbers,
                lost: 0,
            },
        );
        let to = self.address(companion);
        self.note(|| {
            format!(
                "the primary sends {to} its history: {} messages in {count} chunks",
                items.len()
            )
        });
        for order in 0..count {
            self.send_history_chunk(sync, order, 0);
        }
    }

    /// Uploads chunk `order` of a sync (afresh: a new key, a new blob) and sends its
    /// notification to the companion; `tries` counts earlier sends on a fresh directory answer
    /// that did not address it.
    fn send_history_chunk(&mut self, sync: [u8; 16], order: u32, tries: u32) {
        let Some(record) = self.histories.syncs.get(&sync) else {
            return;
        };
        let (primary, companion) = (record.primary, record.companion);
        if !self.clients.contains_key(&primary) || !self.clients.contains_key(&companion) {
            return;
        }
        let uploaded = record.package.upload_chunk(&mut self.rng, &mut self.blobs, order);
        let notification = match uploaded {
            Ok(n) => n,
            Err(e) => {
                let a = self.address(primary);
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{a} uploading history chunk {order}: {e}"),
                );
                return;
            }
        };
        let blob = notification.direct_path;
        let to = self.address(companion);
        let message = SelfMessage::HistorySync(notification.encode().to_vec());
        let account = self.devices.get(primary).map(|i| i.account);
        match self.send_self(primary, &message, Some(to.device_id)) {
            Some(report) if report.envelopes.iter().any(|e| e.recipient == to) => {
                self.stats.history_notifications += 1;
                self.histories.notification_ids.insert(report.message_id, sync);
                self.histories.uploaded.push((blob, sync, order));
            }
            _ => {
                // Not addressed (the directory does not list the companion yet): the upload is
                // dropped; the chunk goes again later.
                let _ = self.blobs.delete(&blob);
                let fresh = account.is_some_and(|a| !self.stale_now(a));
                let tries = tries + u32::from(fresh);
                if tries < UNSENT_TRIES {
                    self.note(|| format!("history chunk {order} for {to} not addressed; again later"));
                    self.histories.unsent.push(Unsent { sync, order, tries });
                } else {
                    self.note(|| format!("gave up sending history chunk {order} to {to}"));
                }
            }
        }
    }

    /// Sends again the notifications that could not be addressed, once the directory answers
    /// freshly for the account.
    pub(super) fn process_history_unsent(&mut self) {
        if self.histories.unsent.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.histories.unsent);
        for u in pending {
            let account = self
                .histories
                .syncs
                .get(&u.sync)
                .and_then(|r| self.devices.get(r.primary))
                .map(|i| i.account);
            match account {
                Some(a) if self.stale_now(a) => self.histories.unsent.push(u),
                Some(_) => self.send_history_chunk(u.sync, u.order, u.tries),
                None => {}
            }
        }
    }

    /// An envelope of message `message_id` was lost for good: if it was a history
    /// notification, its sync records the loss.
    pub(super) fn history_envelope_lost(&mut self, message_id: &[u8; 16]) {
        let Some(sync) = self.histories.notification_ids.get(message_id) else {
            return;
        };
        if let Some(r) = self.histories.syncs.get_mut(sync) {
            r.lost += 1;
        }
    }

    /// What the companion's app does with a self message about history; the primary's with a
    /// chunk request. (tandem has checked who may send which: spec 05, self messages.)
    pub(super) fn history_self_message(&mut self, d: DevId, from: &Address, message: &SelfMessage) {
        match message {
            SelfMessage::HistorySync(bytes) => self.history_notification(d, bytes),
            SelfMessage::HistoryChunkRequest(bytes) => self.history_chunk_request(d, from, bytes),
            _ => {}
        }
    }

    /// The companion's saved importer (a new one before the first notification); `None` (and a
    /// violation) if the saved bytes do not read back.
    fn importer(&mut self, d: DevId) -> Option<HistoryImporter> {
        let Some(bytes) = self.histories.importers.get(&d) else {
            return Some(HistoryImporter::new());
        };
        match HistoryImporter::from_bytes(bytes) {
            Ok(i) => Some(i),
            Err(e) => {
                let a = self.address(d);
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{a}: its saved history importer does not read back: {e}"),
                );
                None
            }
        }
    }

    fn history_notification(&mut self, d: DevId, bytes: &[u8]) {
        let a = self.address(d);
        let Some(mut importer) = self.importer(d) else {
            return;
        };
        let received = HistorySyncNotification::parse(bytes).and_then(|n| {
            let blob = n.direct_path;
            importer.receive(n).map(|order| (order, blob))
        });
        match received {
            Ok((order, blob)) => {
                self.histories.held.insert((d, order), blob);
            }
            Err(NotificationError::AlreadyApplied) => {
                // A chunk asked for again whose first notification came after all.
                self.note(|| format!("{a}: a history notification for a chunk already applied"));
                return;
            }
            Err(e) => {
                self.violation(
                    ViolationKind::OperationFailed,
                    format!("{a} refused a history notification: {e}"),
                );
                return;
            }
        }
        self.history_apply(d, importer);
    }

    /// Applies what is ready, shows it, saves the importer; asks for a chunk that failed.
    fn history_apply(&mut self, d: DevId, mut importer: HistoryImporter) {
        let (applied, failure) = importer.apply_ready(&self.blobs);
        let sync = importer.sync_id().map(|s| s.0);
        let a = self.address(d);
        for chunk in applied {
            self.stats.history_chunks_applied += 1;
            let (order, items) = (chunk.chunk_order, chunk.items.len());
            self.note(|| format!("{a} applied history chunk {order} ({items} messages)"));
            if let Some(what) = self.histories.faulted.get(&chunk.blob).copied() {
                self.violation(
                    ViolationKind::TamperAccepted,
                    format!(
                        "{a} applied history chunk {} from a blob hit by {what}",
                        chunk.chunk_order
                    ),
                );
            }
            for item in &chunk.items {
                self.history_item(d, sync, item);
            }
            // The chunk is committed: its blob can go.
            let _ = self.blobs.delete(&chunk.blob);
            let order = chunk.chunk_order;
            self.histories
                .uploaded
                .retain(|(_, s, o)| !(Some(*s) == sync && *o == order));
            self.histories.held.remove(&(d, order));
        }
        self.histories.importers.insert(d, importer.to_bytes().to_vec());
        let Some(e) = failure else { return };
        self.stats.history_chunks_failed += 1;
        let blob = self.histories.held.remove(&(d, e.chunk));
        let faulted = blob.and_then(|b| self.histories.faulted.get(&b).copied());
        let expected = matches!(
            (faulted, e.reason),
            (Some("history-corrupt"), ChunkFailure::Tampered)
                | (Some("history-lose"), ChunkFailure::BlobMissing)
        );
        if expected {
            self.note(|| {
                format!(
                    "{a}: history chunk {} refused ({}); asks for it again",
                    e.chunk, e.reason
                )
            });
        } else {
            self.violation(
                ViolationKind::OperationFailed,
                format!(
                    "{a}: history chunk {} failed ({}), its blob {}",
                    e.chunk,
                    e.reason,
                    faulted.unwrap_or("intact")
                ),
            );
        }
        if e.reason != ChunkFailure::Unavailable {
            let failed: Vec<u32> = importer.failed_chunks().into_iter().map(|(c, _)| c).collect();
            self.request_history_chunks(d, &importer, failed);
        }
    }

    /// The companion asks its primary for `chunks` of the sync its importer follows; whether a
    /// request went out.
    fn request_history_chunks(&mut self, d: DevId, importer: &HistoryImporter, chunks: Vec<u32>) -> bool {
        let Some(sync_id) = importer.sync_id() else {
            return false;
        };
        let chunks: BTreeSet<u32> = chunks.into_iter().collect();
        if chunks.is_empty() {
            return false;
        }
        let request = HistoryChunkRequest {
            sync_id,
            chunks: chunks.into_iter().collect(),
        };
        let message = SelfMessage::HistoryChunkRequest(request.encode());
        let sent = self
            .send_self(d, &message, Some(0))
            .is_some_and(|r| !r.envelopes.is_empty());
        if sent {
            self.stats.history_chunk_requests += 1;
        }
        sent
    }

    /// The primary's app answers a chunk request from the companion its sync went to.
    fn history_chunk_request(&mut self, d: DevId, from: &Address, bytes: &[u8]) {
        let a = self.address(d);
        let Ok(request) = HistoryChunkRequest::parse(bytes) else {
            self.violation(
                ViolationKind::OperationFailed,
                format!("{a}: a malformed history chunk request from {from}"),
            );
            return;
        };
        let sync = request.sync_id.0;
        let ours = self
            .histories
            .syncs
            .get(&sync)
            .is_some_and(|r| r.primary == d && self.address(r.companion) == *from);
        if !ours {
            self.note(|| format!("{a} ignores a chunk request from {from} for a sync it did not send"));
            return;
        }
        for order in request.chunks {
            self.send_history_chunk(sync, order, 0);
        }
    }

    /// One item shown from history on `d`, from the sync its importer follows.
    pub(super) fn history_item(&mut self, d: DevId, sync: Option<[u8; 16]>, item: &HistoryItem) {
        self.stats.history_items_shown += 1;
        let a = self.address(d);
        let Some(n) = id_of(&item.message_id).and_then(|id| self.ledger.find(&id)) else {
            self.violation(
                ViolationKind::WrongContent,
                format!("{a} showed a history item that is no message sent"),
            );
            return;
        };
        let Some(m) = self.ledger.get(n) else { return };
        let pointer = self.ledger.media(n).map(|r| r.pointer.as_slice());
        if item.body != m.body
            || item.sender != m.sender_address.to_string()
            || item.media.as_deref() != pointer
        {
            self.violation(
                ViolationKind::WrongContent,
                format!("{a} showed message {n} from history with another body, sender or photo"),
            );
        }
        let packaged = sync
            .and_then(|s| self.histories.syncs.get(&s))
            .is_some_and(|r| r.companion == d && r.numbers.contains(&n));
        if !packaged {
            self.violation(
                ViolationKind::NotEntitled,
                format!("{a} showed message {n} from history, which its primary had not shown it"),
            );
        }
        if !self.histories.shown.entry(d).or_default().insert(n) {
            self.violation(
                ViolationKind::DecryptedTwice,
                format!("{a} showed message {n} from history twice"),
            );
        }
    }

    /// A `history-fault`: the blob store loses or corrupts the `nth` intact history blob of a
    /// chunk not applied yet by a live companion (in upload order).
    pub(super) fn history_fault(&mut self, nth: u16, corrupt: bool) {
        let intact: Vec<BlobId> = self
            .histories
            .uploaded
            .iter()
            .filter(|(b, sync, _)| {
                let live = self
                    .histories
                    .syncs
                    .get(sync)
                    .is_some_and(|r| self.clients.contains_key(&r.companion));
                live && !self.histories.faulted.contains_key(b)
            })
            .map(|(b, _, _)| *b)
            .collect();
        if intact.is_empty() {
            return;
        }
        let Some(&blob) = intact.get(usize::from(nth) % intact.len()) else {
            return;
        };
        if self.damage_blob(&blob, usize::from(nth), corrupt) {
            let what = if corrupt {
                "history-corrupt"
            } else {
                "history-lose"
            };
            self.fault(what);
            self.histories.faulted.insert(blob, what);
            self.note(|| format!("the blob store: {what} of a history chunk"));
        }
    }

    /// At the end of a run: companions ask for what their sync still lacks (failed chunks and
    /// chunks never notified), until nothing is missing or the rounds run out (deliveries in
    /// between).
    pub(super) fn settle_history(&mut self) {
        for _ in 0..SETTLE_ROUNDS {
            let mut asked = !self.histories.unsent.is_empty();
            self.process_history_unsent();
            let waiting: Vec<DevId> = self
                .histories
                .syncs
                .values()
                .filter(|r| self.clients.contains_key(&r.companion) && self.clients.contains_key(&r.primary))
                .map(|r| r.companion)
                .collect();
            for d in waiting {
                let Some(importer) = self.importer(d) else {
                    continue;
                };
                if importer.is_complete() {
                    continue;
                }
                let mut chunks = importer.missing_chunks();
                chunks.extend(importer.failed_chunks().into_iter().map(|(c, _)| c));
                asked |= self.request_history_chunks(d, &importer, chunks);
            }
            if !asked {
                return;
            }
            self.quiesce();
        }
    }

    /// The history invariant at the end of a run (see the module documentation).
    pub(super) fn check_history(&mut self) {
        let mut missing = Vec::new();
        let syncs: Vec<[u8; 16]> = self.histories.syncs.keys().copied().collect();
        for sync in syncs {
            let Some(r) = self.histories.syncs.get(&sync) else {
                continue;
            };
            let (primary, companion, lost) = (r.primary, r.companion, r.lost);
            let alive = |d: DevId| self.devices.get(d).is_some_and(|i| i.alive);
            if !alive(companion) || !alive(primary) {
                continue;
            }
            let Some(importer) = self.importer(companion) else {
                continue;
            };
            let Some(r) = self.histories.syncs.get(&sync) else {
                continue;
            };
            let bound = importer.sync_id().is_some_and(|s| s.0 == sync);
            if !bound && lost > 0 {
                self.stats.history_syncs_lost += 1;
                continue;
            }
            let shown = self.histories.shown.get(&companion);
            let lacking = r
                .numbers
                .iter()
                .filter(|n| !shown.is_some_and(|s| s.contains(n)))
                .count();
            if lacking > 0 || !importer.is_complete() {
                missing.push(format!(
                    "{} lacks {lacking} of the {} messages of its history sync ({}, {} notifications lost)",
                    self.address(companion),
                    r.numbers.len(),
                    importer.progress(),
                    lost
                ));
            } else {
                self.stats.history_syncs_complete += 1;
            }
        }
        for detail in missing {
            self.violation(ViolationKind::HistoryIncomplete, detail);
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::{id_of, id_text};

    #[test]
    fn a_message_id_goes_through_its_text() {
        let id = [0xa5u8; 16];
        assert_eq!(id_of(&id_text(&id)), Some(id));
        assert_eq!(id_of("zz"), None);
    }
}
