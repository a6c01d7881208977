//! App-state sync between the devices of one account, through the in-memory server double:
//! convergence, every server attack (detected, state unchanged), conflicts (last writer wins by
//! timestamp), key rotation and expiry, the call log, persistence, and a property test that
//! random edits from random devices converge.
//!
//! The byte-level construction is pinned separately by `test-vectors/app-state/`, recorded from
//! Baileys; these tests check behaviour.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::app_state::value::SyncActionData;
use tandem::app_state::{
    AppStateKey, AppStateKeyId, AppStateKeyRing, AppStateServer, AppStateSync, ApplyError, Attack,
    CallDirection, CallLogEntry, CallMedia, CallOutcome, CollectionName, CollectionState, EncodeError,
    KeyRingError, MemoryAppStateServer, Mutation, Operation, ParseError, StatusPrivacyMode, SyncAction,
    SyncError, SyncdMutation, SyncdPatch, SyncdRecord, SyncdSnapshot, TamperingServer, encode_index,
};

const CHAT: &str = "4915187654321@s.whatsapp.net";
const PEER: &str = "4915112345678@s.whatsapp.net";

/// One device of the account: its app state and its key ring.
#[derive(Clone)]
struct Device {
    state: AppStateSync,
    ring: AppStateKeyRing,
}

impl Device {
    fn new(ring: &AppStateKeyRing) -> Self {
        Self {
            state: AppStateSync::new(),
            ring: ring.clone(),
        }
    }

    fn set(&mut self, action: &SyncAction, ts: i64) {
        self.state.queue(Mutation::set(action, ts)).unwrap();
    }

    fn sync(
        &mut self,
        server: &mut dyn AppStateServer,
        rng: &mut ChaCha20Rng,
    ) -> tandem::app_state::SyncReport {
        self.state.sync(server, &self.ring, rng).unwrap()
    }

    fn value(&self, like: &SyncAction) -> Option<SyncAction> {
        self.state.collection(like.collection()).get_action(like)
    }
}

fn account(seed: u64) -> (AppStateKeyRing, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut ring = AppStateKeyRing::new();
    ring.rotate(&mut rng, 0, 1_000).unwrap();
    (ring, rng)
}

fn mute(chat: &str, muted: bool) -> SyncAction {
    SyncAction::Mute {
        chat: chat.into(),
        muted,
        end_ms: None,
    }
}

fn pin(chat: &str, pinned: bool) -> SyncAction {
    SyncAction::Pin {
        chat: chat.into(),
        pinned,
    }
}

fn call(id: &str) -> CallLogEntry {
    CallLogEntry {
        call_id: id.into(),
        peer: PEER.into(),
        direction: CallDirection::Incoming,
        media: CallMedia::Video,
        start_ms: 1_767_225_600_000,
        duration_secs: 754,
        outcome: CallOutcome::Connected,
    }
}

fn snapshot_of(state: &AppStateSync) -> Vec<(CollectionName, u64, Vec<u8>, Vec<SyncAction>)> {
    CollectionName::ALL
        .into_iter()
        .map(|n| {
            let c = state.collection(n);
            (n, c.version(), c.lthash().as_bytes().to_vec(), c.actions())
        })
        .collect()
}

#[test]
fn three_devices_converge_through_the_server() {
    let (ring, mut rng) = account(1);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop, mut tablet) = (Device::new(&ring), Device::new(&ring), Device::new(&ring));

    // A setting changed on the laptop appears on the phone and the tablet.
    laptop.set(&mute(CHAT, true), 10);
    laptop.set(&SyncAction::PushName { name: "Ada".into() }, 11);
    laptop.sync(&mut server, &mut rng);
    let got = phone.sync(&mut server, &mut rng);
    assert_eq!(got.received[&CollectionName::RegularHigh].len(), 1);
    tablet.sync(&mut server, &mut rng);
    for d in [&phone, &tablet] {
        assert_eq!(d.value(&mute(CHAT, false)), Some(mute(CHAT, true)));
        assert_eq!(
            d.value(&SyncAction::PushName { name: String::new() }),
            Some(SyncAction::PushName { name: "Ada".into() })
        );
    }

    // Each device changes something; after two rounds everyone holds everything.
    phone.set(&pin(CHAT, true), 20);
    tablet.set(
        &SyncAction::Contact {
            address: PEER.into(),
            full_name: "Grace Hopper".into(),
            first_name: Some("Grace".into()),
        },
        21,
    );
    laptop.set(&mute(CHAT, false), 22);
    laptop.set(
        &SyncAction::StatusPrivacy {
            mode: StatusPrivacyMode::DenyList,
            users: vec![PEER.into()],
        },
        23,
    );
    for _ in 0..2 {
        for d in [&mut phone, &mut tablet, &mut laptop] {
            d.sync(&mut server, &mut rng);
        }
    }
    let want = snapshot_of(&phone.state);
    assert_eq!(snapshot_of(&tablet.state), want);
    assert_eq!(snapshot_of(&laptop.state), want);
    assert_eq!(phone.value(&mute(CHAT, true)), Some(mute(CHAT, false)));
    assert_eq!(tablet.value(&pin(CHAT, false)), Some(pin(CHAT, true)));
    // Every LTHash is the sum of what the collection holds, and the server's version.
    for n in CollectionName::ALL {
        let c = phone.state.collection(n);
        assert_eq!(c.recomputed_lthash(), *c.lthash());
        assert_eq!(c.version(), server.version(n));
    }
}

#[test]
fn a_new_device_bootstraps_from_a_snapshot() {
    let (ring, mut rng) = account(2);
    let mut server = MemoryAppStateServer::new();
    let mut phone = Device::new(&ring);
    for i in 0..20 {
        phone.set(&mute(&format!("{i}@s.whatsapp.net"), i % 2 == 0), i);
        phone.sync(&mut server, &mut rng);
    }
    // Some values removed again.
    for i in 0..5 {
        phone
            .state
            .queue(Mutation::remove(
                &mute(&format!("{i}@s.whatsapp.net"), true),
                100 + i,
            ))
            .unwrap();
    }
    phone.sync(&mut server, &mut rng);
    let mut late = Device::new(&ring);
    let report = late.sync(&mut server, &mut rng);
    assert_eq!(
        report.received[&CollectionName::RegularHigh].len(),
        15,
        "one SET per live record"
    );
    assert_eq!(snapshot_of(&late.state), snapshot_of(&phone.state));
}

/// A server attack on one device's fetch: the device refuses with `expect` and keeps its state.
fn attacked(attack: Attack, expect: impl Fn(&ApplyError) -> bool) {
    let (ring, mut rng) = account(3);
    let mut server = MemoryAppStateServer::new();
    let (mut laptop, mut phone) = (Device::new(&ring), Device::new(&ring));
    laptop.set(&mute(CHAT, true), 1);
    laptop.sync(&mut server, &mut rng);
    phone.sync(&mut server, &mut rng); // phone at version 1
    for i in 0..3 {
        laptop.set(&pin(&format!("{i}@s.whatsapp.net"), true), 10 + i);
        laptop.set(&mute(&format!("{i}@s.whatsapp.net"), true), 10 + i);
        laptop.sync(&mut server, &mut rng); // regular_high versions 2..4
    }
    let before = phone.state.clone();
    let mut evil = TamperingServer {
        inner: &mut server,
        attack: attack.clone(),
    };
    match phone.state.sync(&mut evil, &phone.ring, &mut rng) {
        Err(SyncError::Apply { collection, error }) => {
            assert_eq!(collection, CollectionName::RegularHigh, "{attack:?}");
            assert!(expect(&error), "{attack:?}: {error:?}");
        }
        other => panic!("{attack:?}: not detected: {other:?}"),
    }
    // The collections before the attacked one got their patches; the attacked one is unchanged.
    assert_eq!(
        phone.state.collection(CollectionName::RegularHigh),
        before.collection(CollectionName::RegularHigh),
        "{attack:?}"
    );
    // The honest server heals it.
    phone.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&phone.state), snapshot_of(&laptop.state));
}

#[test]
fn a_dropped_patch_is_detected() {
    attacked(Attack::DropPatch(0), |e| {
        matches!(e, ApplyError::VersionGap { held: 1, got: 3 })
    });
    attacked(Attack::DropPatch(1), |e| {
        matches!(e, ApplyError::VersionGap { held: 2, got: 4 })
    });
}

#[test]
fn reordered_patches_are_detected() {
    attacked(Attack::SwapPatches(0, 2), |e| {
        matches!(e, ApplyError::VersionGap { held: 1, got: 4 })
    });
    attacked(Attack::SwapPatches(1, 2), |e| {
        matches!(e, ApplyError::VersionGap { held: 2, got: 4 })
    });
}

#[test]
fn a_replayed_patch_is_detected() {
    attacked(Attack::ReplayPatch(1), |e| {
        matches!(e, ApplyError::StaleVersion { held: 1, got: 1 })
    });
}

#[test]
fn an_old_snapshot_is_detected() {
    let (ring, mut rng) = account(30);
    let mut server = MemoryAppStateServer::new();
    let (mut laptop, mut phone) = (Device::new(&ring), Device::new(&ring));
    for i in 0..4 {
        laptop.set(&mute(&format!("{i}@s.whatsapp.net"), true), i);
        laptop.sync(&mut server, &mut rng);
    }
    phone.sync(&mut server, &mut rng); // version 4
    laptop.set(&mute(CHAT, true), 9);
    laptop.sync(&mut server, &mut rng); // version 5
    let before = phone.state.clone();
    let mut evil = TamperingServer {
        inner: &mut server,
        attack: Attack::OldSnapshot(2),
    };
    let err = phone.state.sync(&mut evil, &phone.ring, &mut rng).unwrap_err();
    assert_eq!(
        err,
        SyncError::Apply {
            collection: CollectionName::RegularHigh,
            error: ApplyError::OldSnapshot { held: 4, got: 2 }
        }
    );
    assert_eq!(snapshot_of(&phone.state), snapshot_of(&before));
    // A flipped snapshot served to a new device is refused too, and leaves it empty.
    let mut fresh = Device::new(&ring);
    for bit in [0, 77, 1000, 2047] {
        let mut evil = TamperingServer {
            inner: &mut server,
            attack: Attack::FlipSnapshotBit(bit),
        };
        assert!(
            fresh.state.sync(&mut evil, &fresh.ring, &mut rng).is_err(),
            "bit {bit}"
        );
        assert_eq!(fresh.state.collection(CollectionName::RegularHigh).version(), 0);
    }
    fresh.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&fresh.state), snapshot_of(&laptop.state));
}

#[test]
fn every_bit_flip_in_a_served_patch_is_detected() {
    let (ring, mut rng) = account(4);
    let mut server = MemoryAppStateServer::new();
    let mut laptop = Device::new(&ring);
    laptop.set(&mute(CHAT, true), 1);
    laptop.set(&mute(PEER, true), 2);
    laptop.sync(&mut server, &mut rng);
    let patch = server.patches(CollectionName::RegularHigh)[0].clone();
    let mut kinds = std::collections::BTreeSet::new();
    for bit in 0..patch.len() * 8 {
        let mut flipped = patch.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let mut state = CollectionState::new(CollectionName::RegularHigh);
        let err = state
            .apply_patch(&ring, &flipped)
            .expect_err(&format!("bit {bit} accepted"));
        assert_eq!(
            state,
            CollectionState::new(CollectionName::RegularHigh),
            "bit {bit}"
        );
        kinds.insert(format!("{err:?}").split(['(', ' ']).next().unwrap().to_owned());
    }
    // Every layer of defence is exercised by some bit.
    for k in [
        "Parse",
        "BadPatchMac",
        "BadValueMac",
        "BadIndexMac",
        "UnknownKey",
        "VersionGap",
    ] {
        assert!(kinds.contains(k), "no bit gave {k}: {kinds:?}");
    }
    // And through the sync loop, with state unchanged.
    attacked(Attack::FlipPatchBit { patch: 1, bit: 1000 }, |_| true);
}

#[test]
fn every_bit_flip_in_a_snapshot_is_detected() {
    let (ring, mut rng) = account(5);
    let mut server = MemoryAppStateServer::new();
    let mut laptop = Device::new(&ring);
    laptop.set(&mute(CHAT, true), 1);
    laptop.sync(&mut server, &mut rng);
    let snap = server.snapshot_at(CollectionName::RegularHigh, 1).unwrap();
    for bit in 0..snap.len() * 8 {
        let mut flipped = snap.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let mut state = CollectionState::new(CollectionName::RegularHigh);
        if state.apply_snapshot(&ring, &flipped).is_ok() {
            // Only a version change can go unnoticed by the parser... but not by the MAC.
            panic!("bit {bit} of the snapshot accepted");
        }
        assert_eq!(state.version(), 0);
    }
}

/// A key holder (an own device gone rogue, or a bug) makes a record whose value decrypts but
/// whose index MAC belongs to another index.
#[test]
fn an_index_mac_that_does_not_match_the_value_is_refused() {
    let (ring, mut rng) = account(6);
    let key = ring.sending_key().unwrap().clone();
    let keys = key.expand();
    let real = Mutation::set(&mute(CHAT, true), 5);
    let plaintext = real.to_data().to_bytes();
    let blob = keys.encrypt_value(Operation::Set, &key.id(), &[7u8; 16], &plaintext);
    let wrong_index = keys.index_mac(&encode_index(&["mute".into(), PEER.into()]));
    let record = SyncdRecord {
        index_mac: wrong_index,
        value_blob: blob,
        key_id: key.id(),
    };
    let mut lthash = tandem::app_state::LtHash::zero();
    lthash.add(&record.value_mac());
    let snapshot_mac = keys.snapshot_mac(&lthash, 1, "regular_high");
    let patch = SyncdPatch {
        version: 1,
        patch_mac: keys.patch_mac(&snapshot_mac, &[record.value_mac()], 1, "regular_high"),
        mutations: vec![SyncdMutation {
            operation: Operation::Set,
            record,
        }],
        snapshot_mac,
        key_id: key.id(),
        device_index: None,
    };
    let mut state = CollectionState::new(CollectionName::RegularHigh);
    assert_eq!(
        state.apply_patch(&ring, &patch.to_bytes()),
        Err(ApplyError::BadIndexMac)
    );
    let _ = &mut rng;
}

#[test]
fn a_mutation_under_an_unknown_key_is_refused() {
    let (ring, mut rng) = account(7);
    let mut other = AppStateKeyRing::new();
    other.rotate(&mut rng, 3, 5).unwrap();
    let mut server = MemoryAppStateServer::new();
    let mut rogue = Device::new(&other);
    rogue.set(&mute(CHAT, true), 1);
    rogue.sync(&mut server, &mut rng);
    let mut phone = Device::new(&ring);
    let err = phone.state.sync(&mut server, &phone.ring, &mut rng).unwrap_err();
    let id = other.sending_key().unwrap().id();
    assert_eq!(
        err,
        SyncError::Apply {
            collection: CollectionName::RegularHigh,
            error: ApplyError::UnknownKey(id)
        }
    );
    // Once the key is shared, the same patches apply.
    phone.ring.insert(other.sending_key().unwrap().clone()).unwrap();
    phone.sync(&mut server, &mut rng);
    assert_eq!(phone.value(&mute(CHAT, false)), Some(mute(CHAT, true)));
}

/// A server through which another device pushes just before this device's first push: the
/// push is made on a stale version and meets a 409.
type Hook<'a> = Box<dyn FnOnce(&mut MemoryAppStateServer) + 'a>;

struct Racing<'a> {
    inner: &'a mut MemoryAppStateServer,
    before_first_push: Option<Hook<'a>>,
}

impl AppStateServer for Racing<'_> {
    fn fetch(&mut self, c: CollectionName, since: u64, snap: bool) -> tandem::app_state::Fetched {
        self.inner.fetch(c, since, snap)
    }
    fn push(
        &mut self,
        c: CollectionName,
        base: u64,
        patch: Vec<u8>,
    ) -> Result<u64, tandem::app_state::PushRefused> {
        if let Some(f) = self.before_first_push.take() {
            f(self.inner);
        }
        self.inner.push(c, base, patch)
    }
}

#[test]
fn conflicts_resolve_by_timestamp_and_converge() {
    // (laptop's timestamp, tablet's timestamp, the laptop wins, the laptop pushes mid-sync)
    for (laptop_ts, tablet_ts, laptop_wins) in [(10, 5, true), (5, 10, false), (7, 7, true)] {
        for racing in [false, true] {
            let (ring, mut rng) = account(8);
            let mut server = MemoryAppStateServer::new();
            let (mut laptop, mut tablet) = (Device::new(&ring), Device::new(&ring));
            laptop.set(&pin(CHAT, false), 1);
            laptop.sync(&mut server, &mut rng);
            tablet.sync(&mut server, &mut rng);
            // Both at version 1; both change the mute, the tablet also pins.
            laptop.set(&mute(CHAT, true), laptop_ts);
            tablet.set(&mute(CHAT, false), tablet_ts);
            tablet.set(&pin(CHAT, true), tablet_ts);
            let report = if racing {
                let mut laptop_rng = ChaCha20Rng::seed_from_u64(99);
                let laptop_ref = &mut laptop;
                let mut server = Racing {
                    inner: &mut server,
                    before_first_push: Some(Box::new(move |s: &mut MemoryAppStateServer| {
                        laptop_ref.sync(s, &mut laptop_rng);
                    })),
                };
                tablet.state.sync(&mut server, &tablet.ring, &mut rng).unwrap()
            } else {
                laptop.sync(&mut server, &mut rng);
                tablet.sync(&mut server, &mut rng)
            };
            let case = format!("laptop {laptop_ts} tablet {tablet_ts} racing {racing}");
            assert_eq!(report.conflicts, usize::from(racing), "{case}");
            // The tablet's pin is in another collection and always goes through.
            assert_eq!(report.pushed.get(&CollectionName::RegularLow), Some(&1), "{case}");
            let superseded = report
                .superseded
                .get(&CollectionName::RegularHigh)
                .map_or(0, Vec::len);
            assert_eq!(superseded, usize::from(laptop_wins), "{case}");
            laptop.sync(&mut server, &mut rng);
            assert_eq!(snapshot_of(&laptop.state), snapshot_of(&tablet.state), "{case}");
            assert_eq!(
                laptop.value(&mute(CHAT, true)),
                Some(mute(CHAT, laptop_wins)),
                "{case}"
            );
            assert_eq!(tablet.value(&pin(CHAT, false)), Some(pin(CHAT, true)), "{case}");
            assert!(
                tablet.state.pending(CollectionName::RegularHigh).is_empty(),
                "{case}"
            );
        }
    }
}

#[test]
fn the_server_refuses_a_stale_push_and_returns_the_missing_patches() {
    let (ring, mut rng) = account(9);
    let mut server = MemoryAppStateServer::new();
    let mut laptop = Device::new(&ring);
    laptop.set(&mute(CHAT, true), 1);
    laptop.sync(&mut server, &mut rng);
    laptop.set(&mute(PEER, true), 2);
    laptop.sync(&mut server, &mut rng);
    let stale = CollectionState::new(CollectionName::RegularHigh)
        .encode_patch(&ring, &[Mutation::set(&mute(CHAT, false), 3)], &mut rng)
        .unwrap();
    match server.push(CollectionName::RegularHigh, 0, stale.bytes) {
        Err(tandem::app_state::PushRefused::Conflict { missing }) => {
            assert_eq!(missing, server.patches(CollectionName::RegularHigh).to_vec());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn old_keys_open_until_expired_then_rekey_and_expiry() {
    let (ring, mut rng) = account(10);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop) = (Device::new(&ring), Device::new(&ring));
    let old = ring.sending_key().unwrap().id();
    laptop.set(&mute(CHAT, true), 1);
    laptop.set(&pin(CHAT, true), 1);
    laptop.sync(&mut server, &mut rng);

    // A device is unlinked: the phone rotates and shares the new key with the laptop.
    let new = phone.ring.rotate(&mut rng, 0, 2_000).unwrap();
    assert_eq!(new.id().epoch(), old.epoch() + 1);
    assert_eq!(phone.ring.sending_key().unwrap().id(), new.id());
    laptop.ring.insert(new.clone()).unwrap();
    // Old-key patches still apply on the phone.
    phone.sync(&mut server, &mut rng);
    assert_eq!(phone.value(&mute(CHAT, false)), Some(mute(CHAT, true)));

    // A device that has the new key but syncs late still opens old-key patches.
    let mut tablet = Device::new(&phone.ring);
    tablet.sync(&mut server, &mut rng);

    // The phone re-writes every value under the new key, then expires the old epoch.
    assert_eq!(phone.state.rekey(&phone.ring), 2);
    phone.sync(&mut server, &mut rng);
    for n in CollectionName::ALL {
        assert!(
            phone
                .state
                .collection(n)
                .entries()
                .all(|(_, e)| e.key_id == new.id()),
            "{n}"
        );
    }
    // Expired: no longer sent with, still held until no collection can need it.
    phone.ring.expire_through(old.epoch());
    assert!(phone.ring.get(&old).is_some());
    assert_eq!(phone.ring.sending_key().unwrap().id(), new.id());
    assert_eq!(phone.state.forget_expired_keys(&mut phone.ring), 0);
    // The next sync moves every collection still at the old epoch (or at none) past it with an
    // empty patch under the new key; then the old key is forgotten.
    let report = phone.sync(&mut server, &mut rng);
    let marked: Vec<CollectionName> = report.markers.keys().copied().collect();
    assert_eq!(marked.len(), 3, "{marked:?}"); // the two rekeyed collections need none
    for n in CollectionName::ALL {
        assert_eq!(
            phone.state.collection(n).key_epoch(),
            Some(new.id().epoch()),
            "{n}"
        );
    }
    assert_eq!(phone.state.forget_expired_keys(&mut phone.ring), 1);
    assert!(phone.ring.get(&old).is_none());
    assert_eq!(
        phone.ring.insert(ring.sending_key().unwrap().clone()),
        Err(KeyRingError::Expired(old))
    );
    // The values survive, and a new device with only the new key can bootstrap.
    let mut fresh = Device::new(&phone.ring);
    fresh.sync(&mut server, &mut rng);
    assert_eq!(fresh.value(&pin(CHAT, false)), Some(pin(CHAT, true)));
    assert_eq!(snapshot_of(&fresh.state), snapshot_of(&phone.state));

    // A patch under the old key after the collection moved on (the unlinked device still has
    // the old key; give it the best case, the current state, and a server that takes its push
    // from an unlinked device) is never taken: the laptop, which still holds the old key and
    // was never told of the expiry, checks it and skips it (only the version advances); the
    // phone, which forgot the key, cannot check it and refuses it (a skip taken on trust would
    // let a server drop any patch's content by rewriting its key id).
    let forged = phone
        .state
        .collection(CollectionName::RegularHigh)
        .encode_patch(&ring, &[Mutation::set(&mute(CHAT, false), 99)], &mut rng)
        .unwrap();
    server
        .push(CollectionName::RegularHigh, forged.version - 1, forged.bytes)
        .unwrap();
    let report = laptop.sync(&mut server, &mut rng);
    assert_eq!(report.skipped.get(&CollectionName::RegularHigh), Some(&1));
    assert_eq!(laptop.value(&mute(CHAT, false)), Some(mute(CHAT, true)));
    let held = phone.state.collection(CollectionName::RegularHigh).clone();
    let err = phone.state.sync(&mut server, &phone.ring, &mut rng).unwrap_err();
    assert_eq!(
        err,
        SyncError::Apply {
            collection: CollectionName::RegularHigh,
            error: ApplyError::ExpiredKey(old)
        }
    );
    assert_eq!(phone.state.collection(CollectionName::RegularHigh), &held);
}

/// Found by the simulator (trace `sim/regressions/fixed-app-state-patch-under-expired-key.trace`):
/// a device that has not yet received the rotated key pushes under the old one after another
/// device expired it. Before, every device that had expired the key refused that patch for good
/// and the collection was stuck at the server's head.
#[test]
fn a_patch_under_a_key_expired_elsewhere_does_not_jam_the_collection() {
    let (ring, mut rng) = account(30);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop, mut tablet) = (Device::new(&ring), Device::new(&ring), Device::new(&ring));
    let old = ring.sending_key().unwrap().id();
    phone.set(&mute(CHAT, true), 1);
    phone.sync(&mut server, &mut rng);
    laptop.sync(&mut server, &mut rng);

    // The phone rotates (a fourth device was unlinked), rekeys, announces and expires the old
    // epoch. The tablet gets the new key; the share to the laptop is still in flight.
    let new = phone.ring.rotate(&mut rng, 0, 2).unwrap();
    tablet.ring.insert(new.clone()).unwrap();
    phone.state.rekey(&phone.ring);
    phone.set(&SyncAction::KeyExpiration { epoch: old.epoch() }, 3);
    phone.sync(&mut server, &mut rng);
    phone.ring.expire_through(old.epoch());
    tablet.ring.expire_through(old.epoch());

    // The laptop, at the head of critical_block (empty), pushes under the old key: the server
    // takes it.
    laptop.set(
        &SyncAction::PushName {
            name: "laptop".into(),
        },
        4,
    );
    let report = laptop.state.sync_collection(
        CollectionName::CriticalBlock,
        &mut server,
        &laptop.ring,
        &mut rng,
        &mut Default::default(),
    );
    assert_eq!(report, Ok(()));
    assert_eq!(server.version(CollectionName::CriticalBlock), 1);

    // The phone still holds the expired key, applies the patch (it came before the collection
    // moved on), re-writes the entry under the new key and moves every other collection past
    // the old epoch; only then does it forget the old key.
    assert_eq!(phone.state.forget_expired_keys(&mut phone.ring), 0);
    let report = phone.sync(&mut server, &mut rng);
    assert_eq!(report.rekeyed.get(&CollectionName::CriticalBlock), Some(&1));
    assert_eq!(
        phone.value(&SyncAction::PushName { name: String::new() }),
        Some(SyncAction::PushName {
            name: "laptop".into()
        })
    );
    assert_eq!(phone.state.forget_expired_keys(&mut phone.ring), 1);
    for n in CollectionName::ALL {
        let c = phone.state.collection(n);
        assert_eq!(c.key_epoch(), Some(new.id().epoch()), "{n}");
        assert!(c.entries().all(|(_, e)| e.key_id == new.id()), "{n}");
    }

    // The tablet converges; the laptop lacks the new key until it is shared, then converges.
    tablet.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&tablet.state), snapshot_of(&phone.state));
    assert_eq!(tablet.state.forget_expired_keys(&mut tablet.ring), 1);
    let stuck = laptop
        .state
        .sync(&mut server, &laptop.ring, &mut rng)
        .unwrap_err();
    assert!(
        matches!(
            stuck,
            SyncError::Apply {
                error: ApplyError::UnknownKey(id),
                ..
            } if id == new.id()
        ),
        "{stuck:?}"
    );
    laptop.ring.insert(new.clone()).unwrap();
    laptop.ring.expire_through(old.epoch());
    laptop.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&laptop.state), snapshot_of(&phone.state));
    assert_eq!(laptop.state.forget_expired_keys(&mut laptop.ring), 1);
    // Every device is at the server's head with nothing pending.
    for d in [&phone, &laptop, &tablet] {
        for n in CollectionName::ALL {
            assert_eq!(d.state.collection(n).version(), server.version(n), "{n}");
            assert!(d.state.pending(n).is_empty(), "{n}");
        }
    }
}

#[test]
fn a_snapshot_under_an_expired_key_is_refused_and_the_log_replayed() {
    let (ring, mut rng) = account(31);
    let mut server = MemoryAppStateServer::new();
    let mut phone = Device::new(&ring);
    let old = ring.sending_key().unwrap().id();
    phone.set(&mute(CHAT, true), 1);
    phone.set(&mute(PEER, true), 2);
    phone.sync(&mut server, &mut rng);
    phone.set(&mute(PEER, false), 3);
    phone.sync(&mut server, &mut rng);

    // A new device that already knows the old epoch expired (nothing was re-written yet).
    let mut fresh = phone.ring.clone();
    fresh.rotate(&mut rng, 0, 4).unwrap();
    fresh.expire_through(old.epoch());
    let snapshot = server
        .fetch(CollectionName::RegularHigh, 0, true)
        .snapshot
        .unwrap();
    let mut state = CollectionState::new(CollectionName::RegularHigh);
    assert_eq!(
        state.apply_snapshot(&fresh, &snapshot),
        Err(ApplyError::ExpiredKey(old))
    );
    assert_eq!(state, CollectionState::new(CollectionName::RegularHigh));
    // The sync replays the patches instead (each one checked) and reaches the same state.
    let mut late = Device::new(&fresh);
    late.state
        .sync_collection(
            CollectionName::RegularHigh,
            &mut server,
            &fresh,
            &mut rng,
            &mut Default::default(),
        )
        .unwrap();
    let got = late.state.collection(CollectionName::RegularHigh);
    assert_eq!(
        got.actions(),
        phone.state.collection(CollectionName::RegularHigh).actions()
    );
    // Its sync also re-wrote both values under the new key (version 2 + 1), which the phone
    // (given the new key) applies to the same state.
    assert_eq!(got.version(), 3);
    assert!(got.entries().all(|(_, e)| !fresh.is_expired(&e.key_id)));
    phone.ring = fresh.clone();
    phone.sync(&mut server, &mut rng);
    assert_eq!(
        phone.state.collection(CollectionName::RegularHigh),
        late.state.collection(CollectionName::RegularHigh)
    );
}

#[test]
fn key_expiration_is_an_app_state_action() {
    let (ring, mut rng) = account(11);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop) = (Device::new(&ring), Device::new(&ring));
    let epoch = ring.sending_key().unwrap().id().epoch();
    phone.set(&SyncAction::KeyExpiration { epoch }, 5);
    phone.sync(&mut server, &mut rng);
    let report = laptop.sync(&mut server, &mut rng);
    let change = &report.received[&CollectionName::RegularLow][0];
    assert_eq!(change.action(), Some(SyncAction::KeyExpiration { epoch }));
}

#[test]
fn a_call_on_the_phone_appears_in_the_laptops_call_log() {
    let (ring, mut rng) = account(12);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop) = (Device::new(&ring), Device::new(&ring));
    let entries = [
        call("CA1"),
        CallLogEntry {
            call_id: "CA2".into(),
            direction: CallDirection::Outgoing,
            media: CallMedia::Voice,
            duration_secs: 0,
            outcome: CallOutcome::Missed,
            ..call("CA2")
        },
    ];
    for (i, e) in entries.iter().enumerate() {
        phone.set(&SyncAction::CallLog(e.clone()), 100 + i as i64);
    }
    phone.sync(&mut server, &mut rng);
    let report = laptop.sync(&mut server, &mut rng);
    let got: Vec<SyncAction> = report.received[&CollectionName::Regular]
        .iter()
        .map(|c| c.action().unwrap())
        .collect();
    assert_eq!(
        got,
        entries
            .iter()
            .cloned()
            .map(SyncAction::CallLog)
            .collect::<Vec<_>>()
    );
    let log: Vec<SyncAction> = laptop.state.collection(CollectionName::Regular).actions();
    assert_eq!(log.len(), 2);
    assert_eq!(
        laptop.value(&SyncAction::CallLog(call("CA1"))),
        Some(SyncAction::CallLog(entries[0].clone()))
    );
}

#[test]
fn every_typed_action_round_trips() {
    let actions = [
        mute(CHAT, true),
        SyncAction::Mute {
            chat: CHAT.into(),
            muted: true,
            end_ms: Some(42),
        },
        pin(CHAT, false),
        SyncAction::Archive {
            chat: CHAT.into(),
            archived: true,
        },
        SyncAction::Star {
            chat: CHAT.into(),
            message_id: "3EB0".into(),
            from_me: true,
            participant: None,
            starred: true,
        },
        SyncAction::Star {
            chat: "1@g.us".into(),
            message_id: "3EB1".into(),
            from_me: false,
            participant: Some(PEER.into()),
            starred: false,
        },
        SyncAction::Contact {
            address: PEER.into(),
            full_name: "Ada \"the\" Lovelace\n".into(),
            first_name: None,
        },
        SyncAction::PushName {
            name: "Émilie".into(),
        },
        SyncAction::CallLog(call("X")),
        SyncAction::StatusPrivacy {
            mode: StatusPrivacyMode::Contacts,
            users: vec![],
        },
        SyncAction::DeleteChat {
            chat: CHAT.into(),
            delete_media: true,
        },
        SyncAction::KeyExpiration { epoch: u32::MAX },
    ];
    for a in &actions {
        let m = Mutation::set(a, 7);
        assert_eq!(m.action().as_ref(), Some(a));
        let data = SyncActionData::from_bytes(&m.to_data().to_bytes()).unwrap();
        assert_eq!(data.version, Some(a.version()));
        assert_eq!(
            SyncAction::from_parts(&a.index(), data.value.as_ref().unwrap()).as_ref(),
            Some(a)
        );
    }
}

#[test]
fn a_remove_of_an_absent_value_is_a_warning() {
    let (ring, mut rng) = account(13);
    let state = CollectionState::new(CollectionName::RegularHigh);
    let patch = state
        .encode_patch(&ring, &[Mutation::remove(&mute(CHAT, true), 1)], &mut rng)
        .unwrap();
    let mut s = state.clone();
    let report = s.apply_patch(&ring, &patch.bytes).unwrap();
    assert_eq!(report.removed_absent, 1);
    assert!(report.changes[0].removed_absent);
    assert_eq!((s.version(), s.lthash(), s.len()), (1, state.lthash(), 0));
}

#[test]
fn encode_refuses_what_it_cannot_send() {
    let (ring, mut rng) = account(14);
    let state = CollectionState::new(CollectionName::RegularHigh);
    assert_eq!(
        state.encode_patch(&AppStateKeyRing::new(), &[], &mut rng),
        Err(EncodeError::NoSendingKey)
    );
    assert_eq!(
        state.encode_patch(&ring, &[Mutation::set(&pin(CHAT, true), 1)], &mut rng),
        Err(EncodeError::WrongCollection)
    );
    let mut huge = Mutation::set(&mute(CHAT, true), 1);
    huge.index.push("x".repeat(5000));
    assert_eq!(
        state.encode_patch(&ring, &[huge], &mut rng),
        Err(EncodeError::BadIndex)
    );
}

#[test]
fn state_and_ring_persist_strictly() {
    let (ring, mut rng) = account(15);
    let mut server = MemoryAppStateServer::new();
    let mut phone = Device::new(&ring);
    phone.set(&mute(CHAT, true), 1);
    phone.set(&mute(PEER, false), 2);
    phone.set(&SyncAction::CallLog(call("C")), 3);
    phone.sync(&mut server, &mut rng);
    for n in CollectionName::ALL {
        let c = phone.state.collection(n);
        let bytes = c.to_bytes();
        assert_eq!(&CollectionState::from_bytes(&bytes).unwrap(), c);
        // Truncation, trailing bytes and any flipped bit in the LTHash or a value MAC are refused.
        for cut in 0..bytes.len() {
            assert!(
                CollectionState::from_bytes(&bytes[..cut]).is_err(),
                "{n} cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(CollectionState::from_bytes(&longer), Err(ParseError::Malformed));
        let name_len = bytes[1] as usize;
        let lthash_at = 2 + name_len + 8;
        let epoch_len = if c.key_epoch().is_some() { 5 } else { 1 };
        let mut flipped = bytes.clone();
        flipped[lthash_at + 5] ^= 1;
        assert_eq!(CollectionState::from_bytes(&flipped), Err(ParseError::Malformed));
        let mut bad_tag = bytes.clone();
        bad_tag[lthash_at + 128] = 2;
        assert_eq!(CollectionState::from_bytes(&bad_tag), Err(ParseError::Malformed));
        if !c.is_empty() {
            let mut flipped = bytes.clone();
            flipped[lthash_at + 128 + epoch_len + 4 + 32 + 3] ^= 0x10; // first entry's value MAC
            assert_eq!(CollectionState::from_bytes(&flipped), Err(ParseError::Malformed));
        }
        // Format 1 (no key epoch) is still read, its key epoch taken from the entries.
        let mut v1 = bytes.clone();
        v1[0] = 1;
        v1.drain(lthash_at + 128..lthash_at + 128 + epoch_len);
        let old = CollectionState::from_bytes(&v1).unwrap();
        assert_eq!(old.lthash(), c.lthash());
        let from_entries = c.entries().map(|(_, e)| e.key_id.epoch()).max();
        assert_eq!(old.key_epoch(), from_entries, "{n}");
    }
    // A restored device goes on syncing.
    let mut restored = Device::new(&AppStateKeyRing::from_bytes(&ring.to_bytes()).unwrap());
    for n in CollectionName::ALL {
        restored
            .state
            .restore(CollectionState::from_bytes(&phone.state.collection(n).to_bytes()).unwrap());
    }
    phone.set(&pin(CHAT, true), 9);
    phone.sync(&mut server, &mut rng);
    restored.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&restored.state), snapshot_of(&phone.state));

    let bytes = ring.to_bytes();
    assert!(AppStateKeyRing::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(format!("{ring:?}").len() < 200);

    // A ring with an expired key still held, and one forgotten, round-trips; the forgotten
    // epoch may not pass the expired one, and no held key may be forgotten.
    let mut ring = ring.clone();
    let first = ring.sending_key().unwrap().id();
    let second = ring.rotate(&mut rng, 0, 5).unwrap().id();
    let third = ring.rotate(&mut rng, 0, 6).unwrap().id();
    ring.expire_through(second.epoch());
    assert_eq!(ring.forget_through(first.epoch()), 1);
    let bytes = ring.to_bytes();
    // 0x02 ‖ 0x01 ‖ expired ‖ 0x01 ‖ forgotten ‖ count ‖ keys
    assert_eq!(bytes[..2], [2, 1]);
    assert_eq!(bytes[2..6], second.epoch().to_be_bytes());
    assert_eq!(bytes[6], 1);
    assert_eq!(bytes[7..11], first.epoch().to_be_bytes());
    let back = AppStateKeyRing::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes(), bytes);
    assert!(back.get(&second).is_some() && back.get(&third).is_some() && back.get(&first).is_none());
    assert_eq!(
        (back.expired_through(), back.forgotten_through()),
        (Some(second.epoch()), Some(first.epoch()))
    );
    let mut wrong = bytes.to_vec();
    wrong[7..11].copy_from_slice(&third.epoch().to_be_bytes()); // forgotten past expired
    assert_eq!(
        AppStateKeyRing::from_bytes(&wrong).unwrap_err(),
        ParseError::Malformed
    );
    let mut wrong = bytes.to_vec();
    wrong[7..11].copy_from_slice(&second.epoch().to_be_bytes()); // forgets a held key
    assert_eq!(
        AppStateKeyRing::from_bytes(&wrong).unwrap_err(),
        ParseError::Malformed
    );
    // Format 1 reads as a ring whose expired keys were all forgotten.
    let mut v1 = vec![1u8, 1];
    v1.extend_from_slice(&second.epoch().to_be_bytes());
    v1.extend_from_slice(&1u32.to_be_bytes());
    v1.extend_from_slice(&bytes[bytes.len() - 46..]);
    let old = AppStateKeyRing::from_bytes(&v1).unwrap();
    assert_eq!(old.forgotten_through(), Some(second.epoch()));
    assert_eq!(old.sending_key().unwrap().id(), third);
}

#[test]
fn the_key_ring_refuses_conflicts_and_picks_the_newest() {
    let mut rng = ChaCha20Rng::seed_from_u64(16);
    let mut ring = AppStateKeyRing::new();
    let first = ring.rotate(&mut rng, 0, 1).unwrap();
    assert!((1..=65_536).contains(&first.id().epoch()));
    assert_eq!(ring.insert(first.clone()), Ok(false));
    let other = AppStateKey::new(first.id(), tandem::crypto::Secret::random(&mut rng), 1);
    assert_eq!(ring.insert(other), Err(KeyRingError::Conflict(first.id())));
    let second = ring.rotate(&mut rng, 2, 2).unwrap();
    assert_eq!(second.id(), AppStateKeyId::new(2, first.id().epoch() + 1));
    assert_eq!(ring.sending_key().unwrap().id(), second.id());
    ring.expire_through(second.id().epoch());
    assert!(ring.sending_key().is_none());
    let third = ring.rotate(&mut rng, 0, 3).unwrap();
    assert_eq!(third.id().epoch(), second.id().epoch() + 1);
}

#[test]
fn snapshot_and_patch_parsing_is_strict() {
    let (ring, mut rng) = account(17);
    let patch = CollectionState::new(CollectionName::RegularHigh)
        .encode_patch(&ring, &[Mutation::set(&mute(CHAT, true), 1)], &mut rng)
        .unwrap();
    let parsed = SyncdPatch::parse(&patch.bytes).unwrap();
    assert_eq!(parsed.to_bytes(), patch.bytes);
    // An unknown field, a repeated singular field, external mutations.
    let mut unknown = patch.bytes.clone();
    unknown.extend_from_slice(&[0x58, 0x01]); // field 11 varint
    assert_eq!(SyncdPatch::parse(&unknown), Err(ParseError::Malformed));
    let mut twice = patch.bytes.clone();
    twice.extend_from_slice(&[0x0a, 0x02, 0x08, 0x01]); // field 1 again
    assert_eq!(SyncdPatch::parse(&twice), Err(ParseError::Malformed));
    let mut external = patch.bytes.clone();
    external.extend_from_slice(&[0x1a, 0x00]);
    assert_eq!(SyncdPatch::parse(&external), Err(ParseError::Unsupported));
    // deviceIndex and clientDebugData are taken (and not authenticated).
    let mut extra = patch.bytes.clone();
    extra.extend_from_slice(&[0x40, 0x03, 0x4a, 0x01, 0x00]);
    assert_eq!(SyncdPatch::parse(&extra).unwrap().device_index, Some(3));
    let mut s = CollectionState::new(CollectionName::RegularHigh);
    s.apply_patch(&ring, &extra).unwrap();

    let snap = SyncdSnapshot {
        version: 1,
        records: parsed.mutations.iter().map(|m| m.record.clone()).collect(),
        mac: parsed.snapshot_mac,
        key_id: parsed.key_id,
    };
    let mut fresh = CollectionState::new(CollectionName::RegularHigh);
    fresh.apply_snapshot(&ring, &snap.to_bytes()).unwrap();
    assert_eq!(fresh, s);
    // The same snapshot as another collection's fails its MAC.
    let mut low = CollectionState::new(CollectionName::RegularLow);
    assert_eq!(
        low.apply_snapshot(&ring, &snap.to_bytes()),
        Err(ApplyError::BadSnapshotMac)
    );
}

/// One random edit: which device, which chat, what.
#[derive(Clone, Debug)]
struct Edit {
    device: usize,
    chat: u8,
    op: u8,
    sync_after: bool,
}

fn edit() -> impl Strategy<Value = Edit> {
    (0usize..3, 0u8..4, 0u8..5, any::<bool>()).prop_map(|(device, chat, op, sync_after)| Edit {
        device,
        chat,
        op,
        sync_after,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random SETs and REMOVEs (mute, pin, contact) from three devices, synced at random
    /// points: once everyone syncs twice, every device holds the same versions, LTHashes and
    /// values, each LTHash is the sum of its entries, and each index holds the last write the
    /// server accepted.
    #[test]
    fn random_edits_from_random_devices_converge(edits in proptest::collection::vec(edit(), 1..40), seed in any::<u64>()) {
        let (ring, mut rng) = account(seed);
        let mut server = MemoryAppStateServer::new();
        let mut devices = [Device::new(&ring), Device::new(&ring), Device::new(&ring)];
        for (t, e) in edits.iter().enumerate() {
            let chat = format!("{}@s.whatsapp.net", e.chat);
            let ts = t as i64;
            let m = match e.op {
                0 => Mutation::set(&mute(&chat, true), ts),
                1 => Mutation::set(&mute(&chat, false), ts),
                2 => Mutation::remove(&mute(&chat, false), ts),
                3 => Mutation::set(&pin(&chat, true), ts),
                _ => Mutation::set(&SyncAction::Contact { address: chat.clone(), full_name: format!("n{t}"), first_name: None }, ts),
            };
            devices[e.device].state.queue(m).unwrap();
            if e.sync_after {
                devices[e.device].state.sync(&mut server, &ring, &mut rng).unwrap();
            }
        }
        for _ in 0..2 {
            for d in devices.iter_mut() {
                d.state.sync(&mut server, &ring, &mut rng).unwrap();
            }
        }
        let want = snapshot_of(&devices[0].state);
        for d in &devices[1..] {
            prop_assert_eq!(&snapshot_of(&d.state), &want);
        }
        for n in CollectionName::ALL {
            let c = devices[0].state.collection(n);
            prop_assert_eq!(c.recomputed_lthash(), c.lthash().clone());
            prop_assert_eq!(c.version(), server.version(n));
            prop_assert!(devices.iter().all(|d| d.state.pending(n).is_empty()));
        }
        // The server's snapshot gives a fresh device the same state.
        let mut fresh = Device::new(&ring);
        fresh.state.sync(&mut server, &ring, &mut rng).unwrap();
        prop_assert_eq!(snapshot_of(&fresh.state), want);
    }
}

#[test]
fn pending_mutations_survive_a_restart() {
    let (ring, mut rng) = account(32);
    let mut server = MemoryAppStateServer::new();
    let (mut phone, mut laptop) = (Device::new(&ring), Device::new(&ring));
    laptop.set(&mute(CHAT, true), 1);
    laptop.set(
        &SyncAction::PushName {
            name: "laptop".into(),
        },
        2,
    );
    laptop.set(&SyncAction::CallLog(call("C9")), 3);
    laptop.state.queue(Mutation::remove(&pin(PEER, true), 4)).unwrap();
    let bytes = laptop.state.pending_to_bytes();

    // The laptop restarts before syncing: a fresh state with the pending mutations read back.
    let mut restarted = Device::new(&ring);
    restarted.state.restore_pending(&bytes).unwrap();
    for n in CollectionName::ALL {
        assert_eq!(restarted.state.pending(n), laptop.state.pending(n), "{n}");
    }
    assert_eq!(restarted.state.pending_to_bytes(), bytes);
    restarted.sync(&mut server, &mut rng);
    phone.sync(&mut server, &mut rng);
    assert_eq!(phone.value(&mute(CHAT, false)), Some(mute(CHAT, true)));
    assert_eq!(
        phone.value(&SyncAction::PushName { name: String::new() }),
        Some(SyncAction::PushName {
            name: "laptop".into()
        })
    );
    // Read back once more after it was pushed (an app that stored the pending list late): the
    // SETs are dropped when the device pulls them (same index and timestamp: the server's
    // wins); the REMOVE of an index nobody held leaves no trace in the snapshot the fresh
    // device starts from, so it is pushed again, which changes nothing.
    let mut again = Device::new(&ring);
    again.state.restore_pending(&bytes).unwrap();
    let before = snapshot_of(&phone.state);
    let report = again.sync(&mut server, &mut rng);
    assert_eq!(
        report.superseded.values().map(Vec::len).sum::<usize>(),
        3,
        "{report:#?}"
    );
    assert_eq!(report.pushed.get(&CollectionName::RegularLow), Some(&1));
    phone.sync(&mut server, &mut rng);
    assert_eq!(snapshot_of(&again.state), snapshot_of(&phone.state));
    for (b, a) in before.iter().zip(snapshot_of(&phone.state)) {
        assert_eq!((&b.2, &b.3), (&a.2, &a.3), "{}: only the version moved", a.0);
    }

    // Strict: every truncation, a trailing byte, a mutation in another collection than its
    // index's, the same index twice, a non-canonical plaintext; a refusal changes nothing.
    for cut in 0..bytes.len() {
        assert_eq!(
            again.state.restore_pending(&bytes[..cut]),
            Err(ParseError::Malformed),
            "cut {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(again.state.restore_pending(&longer), Err(ParseError::Malformed));
    let one = |name: &str, m: &Mutation, data: Vec<u8>| {
        let mut b = vec![1, 0, 0, 0, 1, name.len() as u8];
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        let _ = m;
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        b.extend_from_slice(&data);
        b
    };
    use prost::Message;
    let m = Mutation::set(&mute(CHAT, true), 7);
    let data = m.to_data().encode_to_vec();
    assert!(
        again
            .state
            .restore_pending(&one("regular_high", &m, data.clone()))
            .is_ok()
    );
    assert_eq!(again.state.pending(CollectionName::RegularHigh), &[m.clone()][..]);
    assert_eq!(
        again.state.restore_pending(&one("regular_low", &m, data.clone())),
        Err(ParseError::Malformed)
    );
    assert_eq!(again.state.pending(CollectionName::RegularHigh), &[m.clone()][..]);
    let mut twice = one("regular_high", &m, data.clone());
    twice[4] = 2;
    twice.extend_from_slice(&one("regular_high", &m, data.clone())[5..]);
    assert_eq!(again.state.restore_pending(&twice), Err(ParseError::Malformed));
    let mut padded = data.clone();
    padded.extend_from_slice(&[0x1a, 0x00]); // an empty padding field: not what is written
    assert_eq!(
        again.state.restore_pending(&one("regular_high", &m, padded)),
        Err(ParseError::Malformed)
    );
}
