//! One device's app state: the five collections, the local mutations not yet on the server, and
//! the sync loop (pull, then push; on a conflict apply what was missed, rebase, retry).
//!
//! # Conflicts
//!
//! The server's log is the order. A sync first pulls what other devices pushed, then pushes the
//! pending mutations on the version it now holds; if another device pushed in between, the
//! server refuses the push (409) and returns the patches the device is missing. Whenever a
//! device receives changes (pulled, or returned with a 409) it applies them, verifying every MAC
//! as usual, then decides per pending mutation, by last-writer-wins on the mutation timestamp:
//! a pending mutation is dropped if a received change touched the same index with a timestamp
//! at least as late (a tie goes to the change already on the server, so every device decides the
//! same way); the others are encoded on the new version and pushed. At most
//! [`MAX_PUSH_ATTEMPTS`] pushes per sync.
//!
//! # Retired keys
//!
//! A key rotation must not leave a collection that no device can move past (spec 08.7). Each
//! collection records the newest key epoch in its log, and a later patch under an older epoch
//! is skipped by every device alike ([`CollectionState::apply_patch`]). So a sync, once the ring
//! has an expired epoch, (1) re-writes every held entry under an expired key under the sending
//! key, and (2) in a collection whose newest epoch is expired (or that has none yet) with
//! nothing else to push, pushes an empty patch under the sending key: the point in that
//! collection's log after which the old key counts for nothing. Expired keys are kept until
//! [`AppStateSync::forget_expired_keys`] finds that no collection can need them.

use std::collections::BTreeMap;

use super::server::{AppStateServer, PushRefused};
use super::{
    AppStateKeyRing, ApplyError, ApplyReport, Change, CollectionName, CollectionState, EncodeError, Mutation,
    SyncError,
};

/// How many pushes one sync of one collection tries before giving up (WhatsApp retries once).
pub const MAX_PUSH_ATTEMPTS: usize = 5;

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncReport {
    /// Changes made by other devices, per collection, in order.
    pub received: BTreeMap<CollectionName, Vec<Change>>,
    /// Local mutations the server accepted, per collection.
    pub pushed: BTreeMap<CollectionName, usize>,
    /// Local mutations dropped because a later change from another device won.
    pub superseded: BTreeMap<CollectionName, Vec<Mutation>>,
    /// Conflicts (409s) met.
    pub conflicts: usize,
    /// Patches skipped because they were under an older key epoch than their collection's.
    pub skipped: BTreeMap<CollectionName, usize>,
    /// Held entries under an expired key queued again under the sending key.
    pub rekeyed: BTreeMap<CollectionName, usize>,
    /// Empty patches pushed to move a collection past an expired key epoch.
    pub markers: BTreeMap<CollectionName, usize>,
}

/// One device's app state (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct AppStateSync {
    critical_block: CollectionState,
    critical_unblock_low: CollectionState,
    regular_high: CollectionState,
    regular: CollectionState,
    regular_low: CollectionState,
    pending: BTreeMap<CollectionName, Vec<Mutation>>,
}

impl Default for AppStateSync {
    fn default() -> Self {
        Self::new()
    }
}

impl AppStateSync {
    /// Five empty collections, nothing pending.
    pub fn new() -> Self {
        Self {
            critical_block: CollectionState::new(CollectionName::CriticalBlock),
            critical_unblock_low: CollectionState::new(CollectionName::CriticalUnblockLow),
            regular_high: CollectionState::new(CollectionName::RegularHigh),
            regular: CollectionState::new(CollectionName::Regular),
            regular_low: CollectionState::new(CollectionName::RegularLow),
            pending: BTreeMap::new(),
        }
    }

    fn slot_mut(&mut self, name: CollectionName) -> &mut CollectionState {
        match name {
            CollectionName::CriticalBlock => &mut self.critical_block,
            CollectionName::CriticalUnblockLow => &mut self.critical_unblock_low,
            CollectionName::RegularHigh => &mut self.regular_high,
            CollectionName::Regular => &mut self.regular,
            CollectionName::RegularLow => &mut self.regular_low,
        }
    }

    /// One collection's state.
    pub fn collection(&self, name: CollectionName) -> &CollectionState {
        match name {
            CollectionName::CriticalBlock => &self.critical_block,
            CollectionName::CriticalUnblockLow => &self.critical_unblock_low,
            CollectionName::RegularHigh => &self.regular_high,
            CollectionName::Regular => &self.regular,
            CollectionName::RegularLow => &self.regular_low,
        }
    }

    /// Replaces one collection's state (e.g. read back from the store).
    pub fn restore(&mut self, state: CollectionState) {
        let name = state.name();
        *self.slot_mut(name) = state;
    }

    /// The mutations not yet on the server, per collection.
    pub fn pending(&self, name: CollectionName) -> &[Mutation] {
        self.pending.get(&name).map_or(&[], Vec::as_slice)
    }

    /// Every pending mutation as bytes for the device's store (layout in spec 08.7), so that a
    /// change survives a restart before it is pushed. Store it whenever a mutation is queued
    /// and after each sync.
    pub fn pending_to_bytes(&self) -> Vec<u8> {
        super::persist::pending_to_bytes(CollectionName::ALL.into_iter().map(|n| (n, self.pending(n))))
    }

    /// Replaces the pending mutations with those of [`Self::pending_to_bytes`] (parsed
    /// strictly; on error nothing changes). A mutation already pushed before the restart is
    /// dropped at the next sync, when its own patch is pulled (same index, same timestamp: the
    /// change on the server wins).
    pub fn restore_pending(&mut self, bytes: &[u8]) -> Result<(), super::ParseError> {
        let read = super::persist::pending_from_bytes(bytes)?;
        let mut pending: BTreeMap<CollectionName, Vec<Mutation>> = BTreeMap::new();
        for (name, m) in read {
            pending.entry(name).or_default().push(m);
        }
        self.pending = pending;
        Ok(())
    }

    /// Queues a local mutation in the collection its index belongs to; it replaces a pending
    /// one for the same index. `WrongCollection` if tandem does not know the index's collection
    /// (use [`Self::queue_in`]).
    pub fn queue(&mut self, mutation: Mutation) -> Result<(), EncodeError> {
        let name = mutation.collection().ok_or(EncodeError::WrongCollection)?;
        self.queue_in(name, mutation)
    }

    /// Queues a local mutation in a named collection.
    pub fn queue_in(&mut self, name: CollectionName, mutation: Mutation) -> Result<(), EncodeError> {
        if mutation.collection().is_some_and(|c| c != name) {
            return Err(EncodeError::WrongCollection);
        }
        if !mutation.index_ok() {
            return Err(EncodeError::BadIndex);
        }
        let queue = self.pending.entry(name).or_default();
        queue.retain(|m| m.index != mutation.index);
        queue.push(mutation);
        Ok(())
    }

    /// Queues a SET, under the ring's sending key, of every index held under another key (its
    /// current value, as [`CollectionState::get`] picks it, with its timestamp), so that older
    /// keys can be expired without losing values. Returns how many were queued.
    pub fn rekey(&mut self, ring: &AppStateKeyRing) -> usize {
        let Some(sending) = ring.sending_key().map(super::AppStateKey::id) else {
            return 0;
        };
        CollectionName::ALL
            .into_iter()
            .map(|name| self.rekey_where(name, |id| *id != sending))
            .sum()
    }

    /// Queues a SET of the current value of every index of `name` that has an entry whose key
    /// id matches `stale`, unless a mutation for it is already pending.
    fn rekey_where(&mut self, name: CollectionName, stale: impl Fn(&super::AppStateKeyId) -> bool) -> usize {
        let state = self.collection(name);
        let mut indexes: Vec<Vec<String>> = state
            .entries()
            .filter(|(_, e)| stale(&e.key_id))
            .map(|(_, e)| e.index.clone())
            .collect();
        indexes.sort();
        indexes.dedup();
        let current: Vec<Mutation> = indexes
            .iter()
            .filter_map(|index| state.get(index).map(super::Entry::to_mutation))
            .collect();
        let mut queued = 0;
        for m in current {
            let replaced = self.pending(name).iter().any(|p| p.index == m.index);
            if !replaced && self.queue_in(name, m).is_ok() {
                queued += 1;
            }
        }
        queued
    }

    /// Whether `name` needs an empty patch under the sending key to move past an expired epoch
    /// (module docs): the ring has an expired epoch, the collection's newest epoch is at or
    /// below it (or it has none), and there is a key to send with.
    fn needs_marker(&self, name: CollectionName, ring: &AppStateKeyRing) -> bool {
        let Some(expired) = ring.expired_through() else {
            return false;
        };
        ring.sending_key().is_some() && self.collection(name).key_epoch().is_none_or(|e| e <= expired)
    }

    /// Forgets (drops and zeroizes) the expired keys that no collection can need any more:
    /// every collection has moved to a newer epoch (so a later patch under them is skipped) and
    /// no entry is held under them (so no later patch can carry a record under them). Returns
    /// how many keys were dropped. Call it after syncing.
    pub fn forget_expired_keys(&self, ring: &mut AppStateKeyRing) -> usize {
        let Some(expired) = ring.expired_through() else {
            return 0;
        };
        let mut limit = expired;
        for name in CollectionName::ALL {
            let state = self.collection(name);
            let Some(newest) = state.key_epoch() else {
                return 0;
            };
            let oldest_entry = state.entries().map(|(_, e)| e.key_id.epoch()).min();
            for epoch in core::iter::once(newest).chain(oldest_entry) {
                match epoch.checked_sub(1) {
                    Some(below) => limit = limit.min(below),
                    None => return 0,
                }
            }
        }
        ring.forget_through(limit)
    }

    /// Syncs every collection with the server; stops at the first collection that fails (the
    /// ones before it keep what they got; the failing one keeps the state it had).
    pub fn sync<S, R>(
        &mut self,
        server: &mut S,
        ring: &AppStateKeyRing,
        rng: &mut R,
    ) -> Result<SyncReport, SyncError>
    where
        S: AppStateServer + ?Sized,
        R: rand_core::CryptoRng + ?Sized,
    {
        let mut report = SyncReport::default();
        for name in CollectionName::ALL {
            self.sync_collection(name, server, ring, rng, &mut report)?;
        }
        Ok(report)
    }

    /// Syncs one collection: pull what others pushed, then push what is pending.
    pub fn sync_collection<S, R>(
        &mut self,
        name: CollectionName,
        server: &mut S,
        ring: &AppStateKeyRing,
        rng: &mut R,
        report: &mut SyncReport,
    ) -> Result<(), SyncError>
    where
        S: AppStateServer + ?Sized,
        R: rand_core::CryptoRng + ?Sized,
    {
        let apply = |error| SyncError::Apply {
            collection: name,
            error,
        };
        // Pull.
        let state = self.collection(name).clone();
        let mut fetched = server.fetch(name, state.version(), state.version() == 0);
        let mut next = state.clone();
        let mut changes = Vec::new();
        if let Some(snapshot) = &fetched.snapshot {
            match next.apply_snapshot(ring, snapshot) {
                Ok(applied) => changes.extend(applied.changes),
                // A snapshot under an expired key is not taken: replay the log instead.
                Err(ApplyError::ExpiredKey(_)) if state.version() == 0 => {
                    fetched = server.fetch(name, 0, false);
                }
                Err(error) => return Err(apply(error)),
            }
        }
        for patch in &fetched.patches {
            let applied = next.apply_patch(ring, patch).map_err(apply)?;
            if applied.skipped {
                *report.skipped.entry(name).or_default() += 1;
            }
            changes.extend(applied.changes);
        }
        *self.slot_mut(name) = next;
        self.rebase_pending(name, &changes, report);
        report.received.entry(name).or_default().extend(changes);

        // Push, rebasing on conflicts.
        for _ in 0..MAX_PUSH_ATTEMPTS {
            if ring.expired_through().is_some() && ring.sending_key().is_some() {
                // Only keys still held: an entry under a forgotten key cannot be removed.
                let rekeyed = self.rekey_where(name, |id| ring.is_expired(id) && ring.get(id).is_some());
                if rekeyed > 0 {
                    *report.rekeyed.entry(name).or_default() += rekeyed;
                }
            }
            let pending = self.pending(name).to_vec();
            let marker = pending.is_empty() && self.needs_marker(name, ring);
            if pending.is_empty() && !marker {
                return Ok(());
            }
            let state = self.collection(name);
            let encoded = state
                .encode_patch(ring, &pending, rng)
                .map_err(|error| SyncError::Encode {
                    collection: name,
                    error,
                })?;
            match server.push(name, state.version(), encoded.bytes.clone()) {
                Ok(_) => {
                    let mut next = state.clone();
                    next.apply_patch(ring, &encoded.bytes).map_err(apply)?;
                    *self.slot_mut(name) = next;
                    self.pending.remove(&name);
                    if marker {
                        *report.markers.entry(name).or_default() += 1;
                    } else {
                        *report.pushed.entry(name).or_default() += pending.len();
                    }
                    return Ok(());
                }
                Err(PushRefused::Conflict { missing }) => {
                    report.conflicts += 1;
                    let mut next = state.clone();
                    let mut missed: Vec<Change> = Vec::new();
                    for patch in &missing {
                        let ApplyReport { changes, skipped, .. } =
                            next.apply_patch(ring, patch).map_err(apply)?;
                        if skipped {
                            *report.skipped.entry(name).or_default() += 1;
                        }
                        missed.extend(changes);
                    }
                    *self.slot_mut(name) = next;
                    self.rebase_pending(name, &missed, report);
                    report.received.entry(name).or_default().extend(missed);
                }
                Err(PushRefused::Invalid) => return Err(SyncError::Refused { collection: name }),
            }
        }
        if self.pending(name).is_empty() && !self.needs_marker(name, ring) {
            Ok(())
        } else {
            Err(SyncError::TooManyConflicts { collection: name })
        }
    }

    /// Drops the pending mutations that a received change beats (last writer wins).
    fn rebase_pending(&mut self, name: CollectionName, received: &[Change], report: &mut SyncReport) {
        let Some(pending) = self.pending.remove(&name) else {
            return;
        };
        let (keep, dropped) = rebase(pending, received);
        if !dropped.is_empty() {
            report.superseded.entry(name).or_default().extend(dropped);
        }
        if !keep.is_empty() {
            self.pending.insert(name, keep);
        }
    }

    /// Applies a patch pushed by another device (e.g. announced by the server) to a collection.
    pub fn apply_patch(
        &mut self,
        name: CollectionName,
        ring: &AppStateKeyRing,
        bytes: &[u8],
    ) -> Result<ApplyReport, ApplyError> {
        let mut next = self.collection(name).clone();
        let report = next.apply_patch(ring, bytes)?;
        *self.slot_mut(name) = next;
        Ok(report)
    }
}

/// Last-writer-wins: keeps the pending mutations that no missed change on the same index beats.
fn rebase(pending: Vec<Mutation>, missed: &[Change]) -> (Vec<Mutation>, Vec<Mutation>) {
    pending.into_iter().partition(|p| {
        let mine = p.timestamp_ms().unwrap_or(i64::MIN);
        !missed
            .iter()
            .any(|c| c.index == p.index && c.timestamp_ms().unwrap_or(i64::MIN) >= mine)
    })
}
