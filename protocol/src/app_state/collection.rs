//! One collection's state, and how patches and snapshots move it (stage, verify, then merge).

use std::collections::BTreeMap;

use subtle::ConstantTimeEq;

use super::mutation::{OpenedRecord, open_record};
use super::value::SyncActionData;
use super::wire::{SyncdMutation, SyncdPatch, SyncdRecord, SyncdSnapshot};
use super::{
    AppStateKeyId, AppStateKeyRing, ApplyError, EncodeError, LtHash, Mutation, Operation, SyncAction,
};

/// The five collections, each with its own version and LTHash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CollectionName {
    /// `critical_block`: own settings (push name, locale).
    CriticalBlock,
    /// `critical_unblock_low`: contacts.
    CriticalUnblockLow,
    /// `regular_high`: mute, star, delete chat, status privacy.
    RegularHigh,
    /// `regular`: protocol information, call log.
    Regular,
    /// `regular_low`: pin, archive, key expiry.
    RegularLow,
}

impl CollectionName {
    /// Every collection, in the order WhatsApp syncs them.
    pub const ALL: [Self; 5] = [
        Self::CriticalBlock,
        Self::CriticalUnblockLow,
        Self::RegularHigh,
        Self::Regular,
        Self::RegularLow,
    ];

    /// The name as it goes into the MACs and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CriticalBlock => "critical_block",
            Self::CriticalUnblockLow => "critical_unblock_low",
            Self::RegularHigh => "regular_high",
            Self::Regular => "regular",
            Self::RegularLow => "regular_low",
        }
    }

    /// From the wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl core::fmt::Display for CollectionName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a collection holds for one index MAC.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The value MAC of the SET that put it there (what the LTHash sums).
    pub value_mac: [u8; 32],
    /// The key that SET was made with.
    pub key_id: AppStateKeyId,
    /// The index parts.
    pub index: Vec<String>,
    /// The decrypted plaintext (index, value, version).
    pub data: SyncActionData,
}

impl Entry {
    /// When the value was set (ms since the Unix epoch), if it says.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.data.value.as_ref().and_then(|v| v.timestamp)
    }

    /// The typed action, if tandem models it.
    pub fn action(&self) -> Option<SyncAction> {
        SyncAction::from_parts(&self.index, self.data.value.as_ref()?)
    }

    /// The entry as a mutation (SET), e.g. to write it again under a newer key.
    pub fn to_mutation(&self) -> Mutation {
        Mutation {
            operation: Operation::Set,
            index: self.index.clone(),
            value: self.data.value.clone().unwrap_or_default(),
            version: self.data.version.unwrap_or(0),
        }
    }
}

/// One change a patch or snapshot made, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// SET or REMOVE.
    pub operation: Operation,
    /// The index parts.
    pub index: Vec<String>,
    /// The mutation's value (a REMOVE carries the removed value).
    pub data: SyncActionData,
    /// A REMOVE of an index the collection did not hold (a warning, not an error).
    pub removed_absent: bool,
}

impl Change {
    /// The mutation's timestamp, if it says.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.data.value.as_ref().and_then(|v| v.timestamp)
    }

    /// The typed action, if tandem models it.
    pub fn action(&self) -> Option<SyncAction> {
        SyncAction::from_parts(&self.index, self.data.value.as_ref()?)
    }
}

/// What applying a patch or snapshot did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApplyReport {
    /// The collection's version afterwards.
    pub version: u64,
    /// The changes, in order (a snapshot lists every record as a SET).
    pub changes: Vec<Change>,
    /// How many REMOVEs named an index that was not held (WhatsApp logs these as warnings).
    pub removed_absent: usize,
    /// The patch was under an older key epoch than the collection had already moved to, so it
    /// only advanced the version (spec 08.6): written by a device that held only a retired key.
    pub skipped: bool,
}

/// A patch made from local mutations, not yet accepted by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedPatch {
    /// The version the patch makes (held version + 1).
    pub version: u64,
    /// The patch bytes (`SyncdPatch`).
    pub bytes: Vec<u8>,
}

/// A collection: `(version, LTHash, key epoch, index MAC → entry)`.
///
/// Invariant: the LTHash is the sum of the held entries' value MACs, so it can always be
/// recomputed from the entries (persisted state is checked this way when read back). The key
/// epoch is the newest epoch of any patch or snapshot applied; it never goes down, and a later
/// patch under an older epoch is skipped (spec 08.6).
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionState {
    pub(crate) name: CollectionName,
    pub(crate) version: u64,
    pub(crate) lthash: LtHash,
    pub(crate) key_epoch: Option<u32>,
    pub(crate) entries: BTreeMap<[u8; 32], Entry>,
}

/// Mutations staged over a collection, not yet merged.
struct Stage<'a> {
    base: &'a CollectionState,
    lthash: LtHash,
    overlay: BTreeMap<[u8; 32], Option<Entry>>,
    changes: Vec<Change>,
    removed_absent: usize,
}

impl<'a> Stage<'a> {
    fn new(base: &'a CollectionState) -> Self {
        Self {
            base,
            lthash: base.lthash.clone(),
            overlay: BTreeMap::new(),
            changes: Vec::new(),
            removed_absent: 0,
        }
    }

    fn current(&self, index_mac: &[u8; 32]) -> Option<&Entry> {
        match self.overlay.get(index_mac) {
            Some(staged) => staged.as_ref(),
            None => self.base.entries.get(index_mac),
        }
    }

    /// SET adds the new value MAC and subtracts the one it replaces; REMOVE subtracts the held
    /// one, or (nothing held) only counts a warning.
    fn mutate(&mut self, operation: Operation, opened: OpenedRecord) {
        let previous = self.current(&opened.index_mac).map(|e| e.value_mac);
        if let Some(prev) = previous {
            self.lthash.subtract(&prev);
        }
        let absent = operation == Operation::Remove && previous.is_none();
        if absent {
            self.removed_absent += 1;
        }
        self.changes.push(Change {
            operation,
            index: opened.index.clone(),
            data: opened.data.clone(),
            removed_absent: absent,
        });
        match operation {
            Operation::Set => {
                self.lthash.add(&opened.value_mac);
                self.overlay.insert(
                    opened.index_mac,
                    Some(Entry {
                        value_mac: opened.value_mac,
                        key_id: opened.key_id,
                        index: opened.index,
                        data: opened.data,
                    }),
                );
            }
            Operation::Remove => {
                if previous.is_some() {
                    self.overlay.insert(opened.index_mac, None);
                }
            }
        }
    }
}

impl CollectionState {
    /// An empty collection at version 0.
    pub fn new(name: CollectionName) -> Self {
        Self {
            name,
            version: 0,
            lthash: LtHash::zero(),
            key_epoch: None,
            entries: BTreeMap::new(),
        }
    }

    /// The newest key epoch of any patch or snapshot applied (none at version 0).
    pub fn key_epoch(&self) -> Option<u32> {
        self.key_epoch
    }

    /// Whether a patch under `epoch` would be skipped here: the collection has already moved
    /// to a newer epoch.
    pub fn skips_epoch(&self, epoch: u32) -> bool {
        self.key_epoch.is_some_and(|held| epoch < held)
    }

    /// Which collection.
    pub fn name(&self) -> CollectionName {
        self.name
    }

    /// The version held.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The LTHash held.
    pub fn lthash(&self) -> &LtHash {
        &self.lthash
    }

    /// Every entry, by index MAC.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8; 32], &Entry)> {
        self.entries.iter()
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value for an index. Entries are keyed by index MAC, which depends on the key: after
    /// a rotation two entries may name the same index (one per key) until the older is removed.
    /// The newest timestamp wins; ties go to the larger index MAC, so every device picks the same.
    pub fn get(&self, index: &[String]) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|(_, e)| e.index == index)
            .max_by_key(|(mac, e)| (e.timestamp_ms(), **mac))
            .map(|(_, e)| e)
    }

    /// The value for a typed action's index (its current value, whatever it is).
    pub fn get_action(&self, like: &SyncAction) -> Option<SyncAction> {
        self.get(&like.index())?.action()
    }

    /// Every typed value held, one per index (as [`Self::get`] picks them), in index order.
    pub fn actions(&self) -> Vec<SyncAction> {
        let mut by_index: BTreeMap<&[String], &Entry> = BTreeMap::new();
        for e in self.entries.values() {
            by_index.entry(e.index.as_slice()).or_insert(e);
        }
        by_index
            .keys()
            .filter_map(|index| self.get(index)?.action())
            .collect()
    }

    /// Applies a patch: strict parse; the version must be exactly the held version + 1. A patch
    /// under an older key epoch than the collection's is **skipped**: only the version advances
    /// (every device decides this alike from the log, whatever keys it holds or has forgotten;
    /// spec 08.6) once its key is found held and its patch MAC verifies (else `UnknownKey`,
    /// `ExpiredKey` for a forgotten key, or `BadPatchMac`). Otherwise the patch key must be held (an expired key still opens until it
    /// is forgotten); the patch MAC, every value MAC and index MAC, and the snapshot MAC over
    /// the new LTHash must verify. Computed on the side and merged only if all of it holds: a
    /// refusal changes nothing.
    pub fn apply_patch(&mut self, ring: &AppStateKeyRing, bytes: &[u8]) -> Result<ApplyReport, ApplyError> {
        let patch = SyncdPatch::parse(bytes)?;
        self.apply_parsed_patch(ring, &patch)
    }

    /// [`Self::apply_patch`] for a parsed patch.
    pub fn apply_parsed_patch(
        &mut self,
        ring: &AppStateKeyRing,
        patch: &SyncdPatch,
    ) -> Result<ApplyReport, ApplyError> {
        let (held, got) = (self.version, patch.version);
        if got <= held {
            return Err(ApplyError::StaleVersion { held, got });
        }
        if Some(got) != held.checked_add(1) {
            return Err(ApplyError::VersionGap { held, got });
        }
        if self.skips_epoch(patch.key_id.epoch()) {
            // Only a patch its key proves: a skip taken on trust would let a server that rewrote
            // a key id drop any patch's content unseen.
            let keys = ring.mutation_keys(&patch.key_id)?;
            let value_macs: Vec<[u8; 32]> = patch.mutations.iter().map(|m| m.record.value_mac()).collect();
            let expected = keys.patch_mac(&patch.snapshot_mac, &value_macs, got, self.name.as_str());
            if !bool::from(expected.ct_eq(&patch.patch_mac)) {
                return Err(ApplyError::BadPatchMac);
            }
            self.version = got;
            return Ok(ApplyReport {
                version: got,
                skipped: true,
                ..ApplyReport::default()
            });
        }
        let keys = ring.mutation_keys(&patch.key_id)?;
        let value_macs: Vec<[u8; 32]> = patch.mutations.iter().map(|m| m.record.value_mac()).collect();
        let expected = keys.patch_mac(&patch.snapshot_mac, &value_macs, got, self.name.as_str());
        if !bool::from(expected.ct_eq(&patch.patch_mac)) {
            return Err(ApplyError::BadPatchMac);
        }
        let mut stage = Stage::new(self);
        for m in &patch.mutations {
            let opened = open_record(ring, m.operation, &m.record)?;
            stage.mutate(m.operation, opened);
        }
        let expected = keys.snapshot_mac(&stage.lthash, got, self.name.as_str());
        if !bool::from(expected.ct_eq(&patch.snapshot_mac)) {
            return Err(ApplyError::BadSnapshotMac);
        }
        let Stage {
            lthash,
            overlay,
            changes,
            removed_absent,
            ..
        } = stage;
        self.merge(got, lthash, overlay);
        self.key_epoch = Some(patch.key_id.epoch()).max(self.key_epoch);
        Ok(ApplyReport {
            version: got,
            changes,
            removed_absent,
            skipped: false,
        })
    }

    /// Applies a snapshot: it replaces the whole collection if its version is not below the
    /// held one, its key has not expired (a snapshot is not replayed from the log, so one
    /// under a retired key could be made by a device that holds only that key), every record
    /// opens, and its MAC matches the LTHash of its records. A refusal changes nothing.
    pub fn apply_snapshot(
        &mut self,
        ring: &AppStateKeyRing,
        bytes: &[u8],
    ) -> Result<ApplyReport, ApplyError> {
        let snapshot = SyncdSnapshot::parse(bytes)?;
        if snapshot.version < self.version {
            return Err(ApplyError::OldSnapshot {
                held: self.version,
                got: snapshot.version,
            });
        }
        if ring.is_expired(&snapshot.key_id) {
            return Err(ApplyError::ExpiredKey(snapshot.key_id));
        }
        let keys = ring.mutation_keys(&snapshot.key_id)?;
        let empty = Self::new(self.name);
        let mut stage = Stage::new(&empty);
        for record in &snapshot.records {
            let opened = open_record(ring, Operation::Set, record)?;
            stage.mutate(Operation::Set, opened);
        }
        let expected = keys.snapshot_mac(&stage.lthash, snapshot.version, self.name.as_str());
        if !bool::from(expected.ct_eq(&snapshot.mac)) {
            return Err(ApplyError::BadSnapshotMac);
        }
        let Stage {
            lthash,
            overlay,
            changes,
            removed_absent,
            ..
        } = stage;
        *self = empty.clone();
        self.merge(snapshot.version, lthash, overlay);
        self.key_epoch = Some(snapshot.key_id.epoch());
        Ok(ApplyReport {
            version: snapshot.version,
            changes,
            removed_absent,
            skipped: false,
        })
    }

    fn merge(&mut self, version: u64, lthash: LtHash, overlay: BTreeMap<[u8; 32], Option<Entry>>) {
        for (mac, entry) in overlay {
            match entry {
                Some(e) => {
                    self.entries.insert(mac, e);
                }
                None => {
                    self.entries.remove(&mac);
                }
            }
        }
        self.lthash = lthash;
        self.version = version;
    }

    /// Encodes local mutations as the patch for version + 1, under the ring's sending key. The
    /// state is not changed: once the server accepts the patch, apply it like any other.
    ///
    /// Randomness: one 16-byte IV per written mutation, in order. A mutation whose index is
    /// held under another key also REMOVEs that older entry (under its own key, if the ring
    /// still holds it, before the new mutation), so that one index has one entry; a REMOVE
    /// that did so is not written again under the sending key unless that key holds the index.
    pub fn encode_patch<R: rand_core::CryptoRng + ?Sized>(
        &self,
        ring: &AppStateKeyRing,
        mutations: &[Mutation],
        rng: &mut R,
    ) -> Result<EncodedPatch, EncodeError> {
        let key = ring.sending_key().ok_or(EncodeError::NoSendingKey)?;
        let key_id = key.id();
        let keys = ring
            .mutation_keys(&key_id)
            .map_err(|_| EncodeError::NoSendingKey)?;
        let version = self.version.checked_add(1).ok_or(EncodeError::VersionOverflow)?;
        let mut stage = Stage::new(self);
        let mut written = Vec::new();
        for m in mutations {
            if m.collection().is_some_and(|c| c != self.name) {
                return Err(EncodeError::WrongCollection);
            }
            if !m.index_ok() {
                return Err(EncodeError::BadIndex);
            }
            let index_json = m.index_json();
            let index_mac = keys.index_mac(&index_json);
            // Older entries for the same index under the other keys the ring holds (their index
            // MACs are computed, not searched for).
            let stale: Vec<(AppStateKeyId, [u8; 32], SyncActionData)> = ring
                .keys()
                .map(super::AppStateKey::id)
                .filter(|id| *id != key_id)
                .filter_map(|id| {
                    let mac = ring.mutation_keys(&id).ok()?.index_mac(&index_json);
                    let held = stage.current(&mac)?;
                    (held.index == m.index).then(|| (id, mac, held.data.clone()))
                })
                .collect();
            let mut removed_stale = false;
            for (old_key, old_mac, old_data) in stale {
                let Ok(old_keys) = ring.mutation_keys(&old_key) else {
                    continue;
                };
                removed_stale = true;
                let (record, opened) = seal(
                    old_keys,
                    old_key,
                    Operation::Remove,
                    old_mac,
                    &m.index,
                    old_data,
                    rng,
                );
                stage.mutate(Operation::Remove, opened);
                written.push(SyncdMutation {
                    operation: Operation::Remove,
                    record,
                });
            }
            // A REMOVE that removed older entries needs no REMOVE of an absent new-key entry.
            if m.operation == Operation::Remove && removed_stale && stage.current(&index_mac).is_none() {
                continue;
            }
            let (record, opened) = seal(keys, key_id, m.operation, index_mac, &m.index, m.to_data(), rng);
            stage.mutate(m.operation, opened);
            written.push(SyncdMutation {
                operation: m.operation,
                record,
            });
        }
        let name = self.name.as_str();
        let snapshot_mac = keys.snapshot_mac(&stage.lthash, version, name);
        let value_macs: Vec<[u8; 32]> = written.iter().map(|m| m.record.value_mac()).collect();
        let patch_mac = keys.patch_mac(&snapshot_mac, &value_macs, version, name);
        let patch = SyncdPatch {
            version,
            mutations: written,
            snapshot_mac,
            patch_mac,
            key_id,
            device_index: None,
        };
        Ok(EncodedPatch {
            version,
            bytes: patch.to_bytes(),
        })
    }

    /// Recomputes the LTHash from the entries (the state invariant).
    pub fn recomputed_lthash(&self) -> LtHash {
        let mut h = LtHash::zero();
        for e in self.entries.values() {
            h.add(&e.value_mac);
        }
        h
    }
}

/// Encrypts one mutation's plaintext under `keys` and returns the record and what opening it
/// would give (so the stage need not decrypt its own output).
fn seal<R: rand_core::CryptoRng + ?Sized>(
    keys: &super::MutationKeys,
    key_id: AppStateKeyId,
    operation: Operation,
    index_mac: [u8; 32],
    index: &[String],
    data: SyncActionData,
    rng: &mut R,
) -> (SyncdRecord, OpenedRecord) {
    use prost::Message;
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let value_blob = keys.encrypt_value(operation, &key_id, &iv, &data.encode_to_vec());
    let record = SyncdRecord {
        index_mac,
        value_blob,
        key_id,
    };
    let opened = OpenedRecord {
        index_mac,
        value_mac: record.value_mac(),
        key_id,
        index: index.to_vec(),
        data,
    };
    (record, opened)
}
