//! The driver of the fuzz target `app_state_persisted`, shared (through `#[path]`) with
//! `protocol/tests/fuzz_corpus_app_state_persisted.rs`, which replays its seeds.
//!
//! Two parsers of persisted app state: `AppStateKeyRing::from_bytes` (also peer-supplied: the
//! primary sends its ring to its companions in `SelfMessage::AppStateKeys`) and
//! `CollectionState::from_bytes` (the device's store and backups).
//!
//! # The fixture
//!
//! From seeded ChaCha20, with the public API only:
//!
//! - a key ring that minted three keys (epochs E, E + 1, E + 2, device 0), expired through
//!   E + 1 and forgot through E: it holds E + 1 (expired) and E + 2 (sending). Its format-1
//!   variant is the same bytes with format byte 1, no forgotten field (format 1 forgets
//!   whatever is expired) and only the keys above the expired epoch;
//! - a `regular_high` collection state at version 1, made by encoding a patch of three SETs
//!   (two mutes, a star) under that ring and applying it; its format-1 variant has format
//!   byte 1 and no key-epoch field; and the empty state.
//!
//! # Input
//!
//! ```text
//! byte 0  bit 0: 0 = the rest of the input is the bytes to parse
//!                1 = mutate a genuine input with the rest: 4-byte edits [op, pos lo, pos hi,
//!                    value] (`mutate.rs`)
//!         bit 1: 0 = key ring, 1 = collection state (unless bit 4)
//!         bit 4: 1 = pending mutations (`AppStateSync::restore_pending`)
//!         bits 2-3 (mutation mode): which genuine input, modulo their number:
//!                    ring: format 2, format 1; state: format 2, format 1, empty;
//!                    pending: the fixture's five mutations in three collections
//! ```
//!
//! # Properties (asserted: a violation is a crash)
//!
//! Neither parser panics. An accepted ring: re-encodes (`to_bytes`) to exactly a format-2
//! input; a format-1 input re-encodes to the same bytes upgraded (format byte 2, the expired
//! field repeated as the forgotten field), which parse back to a ring with the same encoding,
//! and its forgotten epoch is its expired epoch; forgotten ≤ expired (none forgotten without
//! an expiry); no held key has a forgotten epoch, each is found by id and expands; the sending
//! key, if any, is not expired and is the highest unexpired key.
//!
//! An accepted collection state: its LTHash is the sum of its entries' value MACs; `to_bytes`
//! of a format-2 input is exactly the input, and of a format-1 input the input with the key
//! epoch (the newest among its entries) inserted; `to_bytes` parses back to an equal state.

#![allow(dead_code)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::app_state::{
    AppStateKeyRing, AppStateSync, CollectionName, CollectionState, Mutation, ParseError, SyncAction,
};

#[path = "mutate.rs"]
mod mutate;
pub use mutate::mutate;

/// Which parser an input went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    KeyRing,
    CollectionState,
    /// `AppStateSync::restore_pending` (pending mutations).
    Pending,
}

/// What the parser did with an input (the properties already checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted(Parser),
    Refused(Parser, ParseError),
}

pub struct Fixture {
    /// The ring: E + 1 (expired) and E + 2 held, E forgotten.
    pub ring: AppStateKeyRing,
    /// The three epochs minted (E, E + 1, E + 2).
    pub epochs: [u32; 3],
    /// `ring.to_bytes()`.
    pub ring_v2: Vec<u8>,
    /// The format-1 encoding of the ring with its expired keys forgotten.
    pub ring_v1: Vec<u8>,
    /// The collection state at version 1.
    pub state: CollectionState,
    /// `state.to_bytes()`.
    pub state_v2: Vec<u8>,
    /// The format-1 encoding of `state` (no key-epoch field).
    pub state_v1: Vec<u8>,
    /// `CollectionState::new(RegularHigh).to_bytes()`.
    pub empty_state: Vec<u8>,
    /// Pending mutations in three collections, as `pending_to_bytes` writes them.
    pub pending: Vec<u8>,
}

impl Fixture {
    /// The genuine inputs of one parser, in the order the control byte's bits 2-3 pick them.
    pub fn genuine(&self, parser: Parser) -> Vec<&[u8]> {
        match parser {
            Parser::KeyRing => vec![&self.ring_v2, &self.ring_v1],
            Parser::CollectionState => vec![&self.state_v2, &self.state_v1, &self.empty_state],
            Parser::Pending => vec![&self.pending],
        }
    }
}

const NAME: CollectionName = CollectionName::RegularHigh;

/// The length of an optional-epoch field (`0x00`, or `0x01 ‖ u32BE`) starting with `tag`.
fn epoch_field_len(tag: u8) -> usize {
    if tag == 0 { 1 } else { 5 }
}

/// Where a collection state's key-epoch field starts (format 2), or its entry count (format 1).
fn state_epoch_offset(bytes: &[u8]) -> usize {
    2 + usize::from(bytes[1]) + 8 + 128
}

/// Format-1 ring bytes from a format-2 encoding: format byte 1, no forgotten field, and only
/// the keys above the expired epoch (format 1 forgets what is expired).
pub fn ring_to_v1(v2: &[u8]) -> Vec<u8> {
    let expired_len = epoch_field_len(v2[1]);
    let expired = (expired_len == 5).then(|| u32::from_be_bytes(v2[2..6].try_into().unwrap()));
    let forgotten_len = epoch_field_len(v2[1 + expired_len]);
    let keys_at = 1 + expired_len + forgotten_len + 4;
    let kept: Vec<&[u8]> = v2[keys_at..]
        .chunks_exact(46)
        .filter(|k| {
            let epoch = u32::from_be_bytes(k[2..6].try_into().unwrap());
            expired.is_none_or(|e| epoch > e)
        })
        .collect();
    let mut out = vec![1];
    out.extend_from_slice(&v2[1..1 + expired_len]);
    out.extend_from_slice(&u32::try_from(kept.len()).unwrap().to_be_bytes());
    for k in kept {
        out.extend_from_slice(k);
    }
    out
}

/// What a format-1 ring re-encodes to: format byte 2 and the expired field repeated as the
/// forgotten one.
fn ring_v1_upgraded(v1: &[u8]) -> Vec<u8> {
    let expired = &v1[1..1 + epoch_field_len(v1[1])];
    let mut out = vec![2];
    out.extend_from_slice(expired);
    out.extend_from_slice(expired);
    out.extend_from_slice(&v1[1 + expired.len()..]);
    out
}

/// Format-1 collection-state bytes from a format-2 encoding: format byte 1, no key-epoch field.
pub fn state_to_v1(v2: &[u8]) -> Vec<u8> {
    let at = state_epoch_offset(v2);
    let mut out = v2.to_vec();
    out[0] = 1;
    out.drain(at..at + epoch_field_len(v2[at]));
    out
}

/// What a format-1 collection state re-encodes to: format byte 2 and `key_epoch` inserted.
fn state_v1_upgraded(v1: &[u8], key_epoch: Option<u32>) -> Vec<u8> {
    let at = state_epoch_offset(v1);
    let mut field = vec![u8::from(key_epoch.is_some())];
    if let Some(e) = key_epoch {
        field.extend_from_slice(&e.to_be_bytes());
    }
    let mut out = v1.to_vec();
    out[0] = 2;
    out.splice(at..at, field);
    out
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xA995_9E45);
        let mut ring = AppStateKeyRing::new();
        let epochs = [1_700_000_000_000, 1_700_000_100_000, 1_700_000_200_000]
            .map(|ts| ring.rotate(&mut rng, 0, ts).expect("rotate").id().epoch());
        ring.expire_through(epochs[1]);
        assert_eq!(ring.forget_through(epochs[0]), 1);
        let ring_v2 = ring.to_bytes().to_vec();
        let ring_v1 = ring_to_v1(&ring_v2);

        let chat_a = "4915187654321@s.whatsapp.net";
        let chat_b = "120363025246125888@g.us";
        let mutations = [
            Mutation::set(
                &SyncAction::Mute {
                    chat: chat_a.into(),
                    muted: true,
                    end_ms: Some(1_767_225_600_000),
                },
                1_700_000_300_000,
            ),
            Mutation::set(
                &SyncAction::Mute {
                    chat: chat_b.into(),
                    muted: true,
                    end_ms: None,
                },
                1_700_000_300_001,
            ),
            Mutation::set(
                &SyncAction::Star {
                    chat: chat_b.into(),
                    message_id: "3EB0C4F1A2".into(),
                    from_me: false,
                    participant: Some("4915112345678@s.whatsapp.net".into()),
                    starred: true,
                },
                1_700_000_300_002,
            ),
        ];
        let mut state = CollectionState::new(NAME);
        let patch = state.encode_patch(&ring, &mutations, &mut rng).expect("encode");
        state.apply_patch(&ring, &patch.bytes).expect("own patch applies");
        assert_eq!(state.len(), 3);
        let state_v2 = state.to_bytes();
        let state_v1 = state_to_v1(&state_v2);
        let empty_state = CollectionState::new(NAME).to_bytes();
        let mut sync = AppStateSync::new();
        for m in &mutations {
            sync.queue(m.clone()).expect("queue");
        }
        sync.queue(Mutation::set(
            &SyncAction::PushName { name: "me".into() },
            1_700_000_300_003,
        ))
        .expect("queue");
        sync.queue(Mutation::remove(
            &SyncAction::Pin {
                chat: chat_a.into(),
                pinned: true,
            },
            1_700_000_300_004,
        ))
        .expect("queue");
        let pending = sync.pending_to_bytes();
        Fixture {
            ring,
            epochs,
            ring_v2,
            ring_v1,
            state,
            state_v2,
            state_v1,
            empty_state,
            pending,
        }
    })
}

/// The parser an input goes to and the bytes it gets.
pub fn input(data: &[u8]) -> (Parser, Vec<u8>) {
    let Some((&control, rest)) = data.split_first() else {
        return (Parser::KeyRing, Vec::new());
    };
    let parser = if control & 16 != 0 {
        Parser::Pending
    } else if control & 2 == 0 {
        Parser::KeyRing
    } else {
        Parser::CollectionState
    };
    if control & 1 == 0 {
        return (parser, rest.to_vec());
    }
    let genuine = fixture().genuine(parser);
    let source = genuine[usize::from(control >> 2 & 3) % genuine.len()];
    (parser, mutate(source, rest))
}

pub fn run(data: &[u8]) -> Outcome {
    let (parser, bytes) = input(data);
    match parser {
        Parser::KeyRing => check_ring(&bytes),
        Parser::CollectionState => check_state(&bytes),
        Parser::Pending => check_pending(&bytes),
    }
}

/// Accepted pending mutations re-encode to exactly the input, and a state holding them is one
/// `AppStateSync::queue_in` could have made (each in its collection, one per index).
pub fn check_pending(bytes: &[u8]) -> Outcome {
    let mut sync = AppStateSync::new();
    if let Err(e) = sync.restore_pending(bytes) {
        assert_eq!(sync.pending_to_bytes(), AppStateSync::new().pending_to_bytes());
        return Outcome::Refused(Parser::Pending, e);
    }
    assert_eq!(
        sync.pending_to_bytes(),
        bytes,
        "pending mutations must re-encode to their input"
    );
    let mut requeued = AppStateSync::new();
    for name in CollectionName::ALL {
        for m in sync.pending(name) {
            requeued
                .queue_in(name, m.clone())
                .expect("a pending mutation queues again");
        }
        assert_eq!(requeued.pending(name), sync.pending(name));
    }
    Outcome::Accepted(Parser::Pending)
}

pub fn check_ring(bytes: &[u8]) -> Outcome {
    let ring = match AppStateKeyRing::from_bytes(bytes) {
        Ok(ring) => ring,
        Err(e) => return Outcome::Refused(Parser::KeyRing, e),
    };
    let expired = ring.expired_through();
    let forgotten = ring.forgotten_through();
    if let Some(f) = forgotten {
        assert!(
            expired.is_some_and(|e| f <= e),
            "forgotten through {f} but expired through {expired:?}"
        );
    }
    let mut highest_unexpired = None;
    for key in ring.keys() {
        let id = key.id();
        assert!(
            forgotten.is_none_or(|f| id.epoch() > f),
            "held key {id:?} is forgotten (through {forgotten:?})"
        );
        assert!(!ring.is_forgotten(&id));
        assert!(ring.get(&id).is_some_and(|k| k == key));
        assert!(ring.mutation_keys(&id).is_ok());
        if !ring.is_expired(&id) {
            highest_unexpired = highest_unexpired.max(Some((id.epoch(), id.device_id())));
        }
    }
    let sending = ring.sending_key().map(|k| k.id());
    if let Some(id) = sending {
        assert!(!ring.is_expired(&id), "sending with expired key {id:?}");
        assert!(expired.is_none_or(|e| id.epoch() > e));
    }
    assert_eq!(sending.map(|id| (id.epoch(), id.device_id())), highest_unexpired);

    let out = ring.to_bytes();
    match bytes[0] {
        2 => assert_eq!(&out[..], bytes, "a format-2 ring must re-encode to its input"),
        1 => {
            assert_eq!(forgotten, expired, "format 1 forgets what is expired");
            assert_eq!(&out[..], &ring_v1_upgraded(bytes)[..]);
        }
        f => panic!("format {f} accepted"),
    }
    let again = AppStateKeyRing::from_bytes(&out).expect("a re-encoded ring parses");
    assert_eq!(again.to_bytes(), out);
    assert_eq!(again.expired_through(), expired);
    assert_eq!(again.forgotten_through(), forgotten);
    Outcome::Accepted(Parser::KeyRing)
}

pub fn check_state(bytes: &[u8]) -> Outcome {
    let state = match CollectionState::from_bytes(bytes) {
        Ok(state) => state,
        Err(e) => return Outcome::Refused(Parser::CollectionState, e),
    };
    assert_eq!(state.recomputed_lthash(), *state.lthash());
    let out = state.to_bytes();
    match bytes[0] {
        2 => assert_eq!(out, bytes, "a format-2 state must re-encode to its input"),
        1 => {
            let newest = state.entries().map(|(_, e)| e.key_id.epoch()).max();
            assert_eq!(state.key_epoch(), newest);
            assert_eq!(out, state_v1_upgraded(bytes, newest));
        }
        f => panic!("format {f} accepted"),
    }
    let again = CollectionState::from_bytes(&out).expect("a re-encoded state parses");
    assert_eq!(again, state);
    Outcome::Accepted(Parser::CollectionState)
}
