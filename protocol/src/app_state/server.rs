//! The server side of app-state sync, as a trait, with an in-memory test double and a tampering
//! wrapper for attack tests.
//!
//! [`MemoryAppStateServer`] is a **test double** (like the client's `MemoryRelay`): it keeps each
//! collection's patches in order, serves the patches after a version and, on request, a snapshot
//! built from them, and refuses a push whose base version is not its current one (HTTP 409 in
//! WhatsApp's protocol), answering with the patches the pusher is missing. It holds no key and
//! checks no MAC: like the real server, it cannot read or forge anything, only store, withhold,
//! reorder, replay or corrupt. [`TamperingServer`] does those things on purpose.

use std::collections::BTreeMap;

use super::wire::{SyncdPatch, SyncdRecord, SyncdSnapshot};
use super::{CollectionName, Operation};

/// What a fetch returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    /// A snapshot (`SyncdSnapshot` bytes), when asked for and the collection is not empty.
    pub snapshot: Option<Vec<u8>>,
    /// The patches (`SyncdPatch` bytes) after the requested version (or after the snapshot), in
    /// order.
    pub patches: Vec<Vec<u8>>,
}

/// Why a push was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushRefused {
    /// The base version is not the server's current one (409): here are the patches after it.
    Conflict {
        /// The patches the pusher is missing, in order.
        missing: Vec<Vec<u8>>,
    },
    /// The bytes are not a patch for base version + 1, or the base is ahead of the server.
    Invalid,
}

/// An app-state server, as a device sees it.
pub trait AppStateServer {
    /// The patches of `collection` after version `since`; with `want_snapshot`, a snapshot of
    /// the newest version one can be built at instead, and the patches after it (only patches
    /// that devices skip, for an honest server).
    fn fetch(&mut self, collection: CollectionName, since: u64, want_snapshot: bool) -> Fetched;

    /// Stores `patch` as version `base_version + 1`; returns that version.
    fn push(
        &mut self,
        collection: CollectionName,
        base_version: u64,
        patch: Vec<u8>,
    ) -> Result<u64, PushRefused>;
}

/// The in-memory app-state server (a test double; see the module docs).
#[derive(Clone, Debug, Default)]
pub struct MemoryAppStateServer {
    logs: BTreeMap<CollectionName, Vec<Vec<u8>>>,
}

impl MemoryAppStateServer {
    /// An empty server.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current version of a collection (the number of patches stored).
    pub fn version(&self, collection: CollectionName) -> u64 {
        self.patches(collection).len() as u64
    }

    /// Every stored patch of a collection; index `i` holds version `i + 1`.
    pub fn patches(&self, collection: CollectionName) -> &[Vec<u8>] {
        self.logs.get(&collection).map_or(&[], Vec::as_slice)
    }

    /// The snapshot at `version` (at most the current one), built without keys: the records
    /// left by replaying the patches (SET keeps a record by index MAC, REMOVE drops it), with
    /// the snapshot MAC and key id of the patch that made that version. A patch under an older
    /// key epoch than an earlier patch of the log is skipped, as devices skip it (spec 08.6; key
    /// ids are not secret). `None` at version 0, and at a version made by a skipped patch.
    pub fn snapshot_at(&self, collection: CollectionName, version: u64) -> Option<Vec<u8>> {
        let upto = usize::try_from(version).ok()?;
        if upto > self.patches(collection).len() {
            return None;
        }
        let kept = self.kept(collection, upto);
        let (made_at, last) = kept.last()?;
        if *made_at != version {
            return None;
        }
        let mut records: BTreeMap<[u8; 32], (usize, SyncdRecord)> = BTreeMap::new();
        let mut order = 0usize;
        for m in kept.iter().flat_map(|(_, patch)| &patch.mutations) {
            match m.operation {
                Operation::Set => {
                    order += 1;
                    records.insert(m.record.index_mac, (order, m.record.clone()));
                }
                Operation::Remove => {
                    records.remove(&m.record.index_mac);
                }
            }
        }
        let mut ordered: Vec<(usize, SyncdRecord)> = records.into_values().collect();
        ordered.sort_by_key(|(n, _)| *n);
        Some(
            SyncdSnapshot {
                version,
                records: ordered.into_iter().map(|(_, r)| r).collect(),
                mac: last.snapshot_mac,
                key_id: last.key_id,
            }
            .to_bytes(),
        )
    }

    /// The first `upto` patches of a collection's log that devices apply, with their versions:
    /// a patch under an older key epoch than an earlier kept one is left out (spec 08.6); the
    /// log ends at a patch that does not parse (a push of one is refused).
    fn kept(&self, collection: CollectionName, upto: usize) -> Vec<(u64, SyncdPatch)> {
        let mut newest_epoch: Option<u32> = None;
        let mut kept = Vec::new();
        for (i, bytes) in self.patches(collection).iter().take(upto).enumerate() {
            let Ok(patch) = SyncdPatch::parse(bytes) else {
                break;
            };
            let epoch = patch.key_id.epoch();
            if newest_epoch.is_some_and(|e| epoch < e) {
                continue;
            }
            newest_epoch = Some(epoch);
            kept.push((i as u64 + 1, patch));
        }
        kept
    }
}

impl AppStateServer for MemoryAppStateServer {
    fn fetch(&mut self, collection: CollectionName, since: u64, want_snapshot: bool) -> Fetched {
        // The newest version a snapshot can be built at: the last patch devices apply.
        let at = match want_snapshot {
            true => self.kept(collection, usize::MAX).last().map_or(0, |(v, _)| *v),
            false => 0,
        };
        if at > 0 {
            let from = usize::try_from(at).unwrap_or(usize::MAX);
            return Fetched {
                snapshot: self.snapshot_at(collection, at),
                patches: self.patches(collection).get(from..).unwrap_or_default().to_vec(),
            };
        }
        let from = usize::try_from(since).unwrap_or(usize::MAX);
        Fetched {
            snapshot: None,
            patches: self.patches(collection).get(from..).unwrap_or_default().to_vec(),
        }
    }

    fn push(
        &mut self,
        collection: CollectionName,
        base_version: u64,
        patch: Vec<u8>,
    ) -> Result<u64, PushRefused> {
        let current = self.version(collection);
        if base_version < current {
            let from = usize::try_from(base_version).unwrap_or(usize::MAX);
            return Err(PushRefused::Conflict {
                missing: self.patches(collection).get(from..).unwrap_or_default().to_vec(),
            });
        }
        let next = current.checked_add(1).ok_or(PushRefused::Invalid)?;
        if base_version > current || SyncdPatch::parse(&patch).map(|p| p.version) != Ok(next) {
            return Err(PushRefused::Invalid);
        }
        self.logs.entry(collection).or_default().push(patch);
        Ok(next)
    }
}

/// What a [`TamperingServer`] does to what it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Serve honestly.
    None,
    /// Leave out the `n`-th served patch (0-based).
    DropPatch(usize),
    /// Serve the `a`-th and `b`-th patches in each other's place.
    SwapPatches(usize, usize),
    /// Serve the stored patch of `version` again, before the others.
    ReplayPatch(u64),
    /// Flip bit `bit` (modulo its length in bits) of the `patch`-th served patch.
    FlipPatchBit {
        /// Which served patch (0-based).
        patch: usize,
        /// Which bit.
        bit: usize,
    },
    /// Flip bit `bit` (modulo its length in bits) of the served snapshot.
    FlipSnapshotBit(usize),
    /// Serve the snapshot of an older `version` (and the patches after it).
    OldSnapshot(u64),
}

/// A server that stores honestly but serves with an [`Attack`].
#[derive(Debug)]
pub struct TamperingServer<'a> {
    /// The honest store underneath.
    pub inner: &'a mut MemoryAppStateServer,
    /// What it does to fetches.
    pub attack: Attack,
}

impl AppStateServer for TamperingServer<'_> {
    fn fetch(&mut self, collection: CollectionName, since: u64, want_snapshot: bool) -> Fetched {
        let mut fetched = self.inner.fetch(collection, since, want_snapshot);
        match self.attack {
            Attack::None => {}
            Attack::DropPatch(n) => {
                if n < fetched.patches.len() {
                    fetched.patches.remove(n);
                }
            }
            Attack::SwapPatches(a, b) => {
                if a < fetched.patches.len() && b < fetched.patches.len() {
                    fetched.patches.swap(a, b);
                }
            }
            Attack::ReplayPatch(version) => {
                let old = usize::try_from(version)
                    .ok()
                    .and_then(|v| v.checked_sub(1))
                    .and_then(|i| self.inner.patches(collection).get(i));
                if let Some(old) = old {
                    fetched.patches.insert(0, old.clone());
                }
            }
            Attack::FlipPatchBit { patch, bit } => {
                if let Some(p) = fetched.patches.get_mut(patch) {
                    flip(p, bit);
                }
            }
            Attack::FlipSnapshotBit(bit) => {
                if let Some(s) = fetched.snapshot.as_mut() {
                    flip(s, bit);
                }
            }
            Attack::OldSnapshot(version) => {
                fetched.snapshot = self.inner.snapshot_at(collection, version);
                let from = usize::try_from(version).unwrap_or(usize::MAX);
                fetched.patches = self
                    .inner
                    .patches(collection)
                    .get(from..)
                    .unwrap_or_default()
                    .to_vec();
            }
        }
        fetched
    }

    fn push(
        &mut self,
        collection: CollectionName,
        base_version: u64,
        patch: Vec<u8>,
    ) -> Result<u64, PushRefused> {
        self.inner.push(collection, base_version, patch)
    }
}

fn flip(bytes: &mut [u8], bit: usize) {
    let bits = bytes.len().saturating_mul(8);
    if bits == 0 {
        return;
    }
    let bit = bit % bits;
    if let Some(b) = bytes.get_mut(bit / 8) {
        *b ^= 1 << (bit % 8);
    }
}
