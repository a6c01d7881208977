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

    /// Queues a SET, under the ring's sending key, of every held entry made under another key
    /// (keeping its timestamp), so that older keys can be expired without losing values. Returns
    /// how many were queued.
    pub fn rekey(&mut self, ring: &AppStateKeyRing) -> usize {
        let Some(sending) = ring.sending_key().map(super::AppStateKey::id) else {
            return 0;
        };
        let mut queued = 0;
        for name in CollectionName::ALL {
            let stale: Vec<Mutation> = self
                .collection(name)
                .entries()
                .filter(|(_, e)| e.key_id != sending)
                .map(|(_, e)| e.to_mutation())
                .collect();
            for m in stale {
                let replaced = self.pending(name).iter().any(|p| p.index == m.index);
                if !replaced && self.queue_in(name, m).is_ok() {
                    queued += 1;
                }
            }
        }
        queued
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
        let fetched = server.fetch(name, state.version(), state.version() == 0);
        let mut next = state;
        let mut changes = Vec::new();
        if let Some(snapshot) = &fetched.snapshot {
            changes.extend(next.apply_snapshot(ring, snapshot).map_err(apply)?.changes);
        }
        for patch in &fetched.patches {
            changes.extend(next.apply_patch(ring, patch).map_err(apply)?.changes);
        }
        *self.slot_mut(name) = next;
        self.rebase_pending(name, &changes, report);
        report.received.entry(name).or_default().extend(changes);

        // Push, rebasing on conflicts.
        for _ in 0..MAX_PUSH_ATTEMPTS {
            let pending = self.pending(name).to_vec();
            if pending.is_empty() {
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
                    *report.pushed.entry(name).or_default() += pending.len();
                    return Ok(());
                }
                Err(PushRefused::Conflict { missing }) => {
                    report.conflicts += 1;
                    let mut next = state.clone();
                    let mut missed: Vec<Change> = Vec::new();
                    for patch in &missing {
                        let ApplyReport { changes, .. } = next.apply_patch(ring, patch).map_err(apply)?;
                        missed.extend(changes);
                    }
                    *self.slot_mut(name) = next;
                    self.rebase_pending(name, &missed, report);
                    report.received.entry(name).or_default().extend(missed);
                }
                Err(PushRefused::Invalid) => return Err(SyncError::Refused { collection: name }),
            }
        }
        if self.pending(name).is_empty() {
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
