//! The app-state driver, shared (through `#[path]`) by the fuzz targets `app_state_patch` and
//! `app_state_snapshot`, and by `protocol/tests/fuzz_corpus_app_state.rs`, which replays their
//! seeds.
//!
//! # The fixture
//!
//! From seeded ChaCha20: an account's key ring with two keys (epochs E and E + 1, the newer one
//! sending), and a live `regular_high` collection at version 3 made by three patches (mutes and
//! stars; the second patch under the older key, a REMOVE in the third). The genuine next patch
//! (version 4: a SET that replaces a held value, a new SET, a REMOVE of a held value and a
//! REMOVE of an absent one) and the server's snapshot at version 4 are kept, with the states
//! they lead to. Built once; the drivers work on clones.
//!
//! # Input
//!
//! ```text
//! byte 0  bit 0: 0 = the rest of the input is the bytes to apply
//!                1 = mutate the genuine patch (or snapshot): 4-byte edits [op, pos lo, pos hi,
//!                    value], op % 6: 0 flip bit (value % 8) of byte pos, 1 truncate to pos,
//!                    2 set byte pos to value, 3 insert value at pos, 4 remove byte pos,
//!                    5 append value (positions modulo the current length)
//! ```
//!
//! # Properties
//!
//! `app_state_patch`: `CollectionState::apply_patch` on the live state never panics; a refusal
//! leaves the state exactly as it was; a success can only be the genuine patch (possibly
//! re-encoded: unauthenticated fields like `deviceIndex` added, non-minimal varints) and gives
//! exactly the genuine next state. The same bytes applied to a state that already holds version
//! 4 are refused (`StaleVersion` or a parse error), as are they on an empty state.
//!
//! `app_state_snapshot`: `CollectionState::apply_snapshot` on an empty state and on the live
//! state never panics; a refusal leaves the state as it was; a success gives exactly the
//! genuine snapshot's state (same version, LTHash and entries).

#![allow(dead_code)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::app_state::{
    AppStateKeyRing, AppStateServer, CollectionName, CollectionState, MemoryAppStateServer, Mutation,
    SyncAction,
};

pub struct Fixture {
    pub ring: AppStateKeyRing,
    /// The live state at version 3.
    pub live: CollectionState,
    /// The genuine version-4 patch and the state after it.
    pub next_patch: Vec<u8>,
    pub after: CollectionState,
    /// The patches of versions 1..=3.
    pub earlier: Vec<Vec<u8>>,
    /// The server's snapshot at version 4, and the state it gives.
    pub snapshot: Vec<u8>,
    pub from_snapshot: CollectionState,
}

const NAME: CollectionName = CollectionName::RegularHigh;

fn mute(chat: &str, muted: bool) -> SyncAction {
    SyncAction::Mute {
        chat: chat.into(),
        muted,
        end_ms: Some(1_767_225_600_000),
    }
}

fn star(id: &str) -> SyncAction {
    SyncAction::Star {
        chat: "120363025246125888@g.us".into(),
        message_id: id.into(),
        from_me: false,
        participant: Some("4915112345678@s.whatsapp.net".into()),
        starred: true,
    }
}

fn push(
    state: &mut CollectionState,
    server: &mut MemoryAppStateServer,
    ring: &AppStateKeyRing,
    mutations: &[Mutation],
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let encoded = state.encode_patch(ring, mutations, rng).expect("encode");
    server
        .push(NAME, state.version(), encoded.bytes.clone())
        .expect("push");
    state
        .apply_patch(ring, &encoded.bytes)
        .expect("own patch applies");
    encoded.bytes
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xA995_7A7E);
        let mut old_ring = AppStateKeyRing::new();
        old_ring.rotate(&mut rng, 0, 1).expect("key");
        let mut ring = old_ring.clone();
        ring.rotate(&mut rng, 0, 2).expect("key");
        let mut server = MemoryAppStateServer::new();
        let mut state = CollectionState::new(NAME);
        let a = "4915187654321@s.whatsapp.net";
        let b = "4915112345678@s.whatsapp.net";
        let earlier = vec![
            // Under the older key first: a patch under an older epoch than one already
            // applied would be skipped (spec 08.6).
            push(
                &mut state,
                &mut server,
                &old_ring,
                &[
                    Mutation::set(&mute(b, true), 12),
                    Mutation::set(&star("3EB0BB"), 13),
                ],
                &mut rng,
            ),
            push(
                &mut state,
                &mut server,
                &ring,
                &[
                    Mutation::set(&mute(a, true), 10),
                    Mutation::set(&star("3EB0AA"), 11),
                ],
                &mut rng,
            ),
            push(
                &mut state,
                &mut server,
                &ring,
                &[Mutation::remove(&star("3EB0AA"), 14)],
                &mut rng,
            ),
        ];
        let live = state.clone();
        let next_patch = push(
            &mut state,
            &mut server,
            &ring,
            &[
                Mutation::set(&mute(a, false), 20),
                Mutation::set(&star("3EB0CC"), 21),
                Mutation::remove(&star("3EB0BB"), 22),
                Mutation::remove(&star("3EB0DD"), 23),
            ],
            &mut rng,
        );
        let after = state;
        let snapshot = server.fetch(NAME, 0, true).snapshot.expect("snapshot");
        let mut from_snapshot = CollectionState::new(NAME);
        from_snapshot
            .apply_snapshot(&ring, &snapshot)
            .expect("snapshot applies");
        Fixture {
            ring,
            live,
            next_patch,
            after,
            earlier,
            snapshot,
            from_snapshot,
        }
    })
}

#[path = "mutate.rs"]
mod mutate;
pub use mutate::mutate;

fn input(data: &[u8], genuine: &[u8]) -> Vec<u8> {
    match data.split_first() {
        None => Vec::new(),
        Some((&control, rest)) if control & 1 == 1 => mutate(genuine, rest),
        Some((_, rest)) => rest.to_vec(),
    }
}

/// What applying a patch did to the live state.
#[derive(Debug, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Gave the genuine next state.
    Genuine,
    /// Refused with this error (the state unchanged).
    Refused(String),
}

pub fn run_patch(data: &[u8]) -> PatchOutcome {
    let f = fixture();
    let bytes = input(data, &f.next_patch);
    let mut state = f.live.clone();
    let outcome = match state.apply_patch(&f.ring, &bytes) {
        Ok(report) => {
            assert_eq!(
                state, f.after,
                "an accepted patch must give the genuine next state"
            );
            assert_eq!(report.version, 4);
            assert_eq!(report.removed_absent, 1);
            PatchOutcome::Genuine
        }
        Err(e) => {
            assert_eq!(state, f.live, "a refused patch changed the state: {e:?}");
            PatchOutcome::Refused(format!("{e:?}"))
        }
    };
    // Applied again on top of version 4: never accepted.
    let mut again = f.after.clone();
    match again.apply_patch(&f.ring, &bytes) {
        Ok(_) => panic!("a patch applied twice"),
        Err(_) => assert_eq!(again, f.after),
    }
    // On an empty state: a version-4 patch leaves a gap, anything else must not be accepted
    // unless it is one of the genuine earlier patches.
    let mut empty = CollectionState::new(NAME);
    if empty.apply_patch(&f.ring, &bytes).is_ok() {
        let mut genuine = CollectionState::new(NAME);
        genuine.apply_patch(&f.ring, &f.earlier[0]).expect("first patch");
        assert_eq!(
            empty, genuine,
            "only the genuine first patch applies to an empty state"
        );
    } else {
        assert_eq!(empty, CollectionState::new(NAME));
    }
    outcome
}

/// What applying a snapshot did.
#[derive(Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// Gave the genuine snapshot's state.
    Genuine,
    /// Refused on the empty state with this error.
    Refused(String),
}

pub fn run_snapshot(data: &[u8]) -> SnapshotOutcome {
    let f = fixture();
    let bytes = input(data, &f.snapshot);
    let mut fresh = CollectionState::new(NAME);
    let outcome = match fresh.apply_snapshot(&f.ring, &bytes) {
        Ok(report) => {
            assert_eq!(
                fresh, f.from_snapshot,
                "an accepted snapshot must give the genuine state"
            );
            assert_eq!(fresh.recomputed_lthash(), *fresh.lthash());
            assert_eq!(report.version, 4);
            SnapshotOutcome::Genuine
        }
        Err(e) => {
            assert_eq!(
                fresh,
                CollectionState::new(NAME),
                "a refused snapshot changed the state"
            );
            SnapshotOutcome::Refused(format!("{e:?}"))
        }
    };
    let mut live = f.live.clone();
    match live.apply_snapshot(&f.ring, &bytes) {
        Ok(_) => assert_eq!(live, f.from_snapshot),
        Err(e) => {
            assert_eq!(live, f.live, "a refused snapshot changed the live state");
            if outcome == SnapshotOutcome::Genuine {
                panic!("the genuine snapshot was refused on the live state: {e:?}");
            }
        }
    }
    outcome
}
