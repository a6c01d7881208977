//! Replays the seeds of the fuzz target `app_state_persisted` (`fuzz/seeds/app_state_persisted/`)
//! under `cargo test`, through the target's own driver (`fuzz/common/app_state_persisted_driver.rs`,
//! included here), so its properties are checked on every test run:
//!
//! - every seed, then (for raw seeds) every truncation and every bit flip of its payload;
//! - the mutation mode on each genuine ring and state: every single-bit flip of every byte and
//!   every truncation;
//! - the genuine encodings against the byte layouts documented in `key_ring.rs` and
//!   `persist.rs`, written out here independently.
//!
//! A seed's name says what it must do: `genuine-*` is accepted, `refused-*` is refused as
//! `Malformed`, `edit-*` (edits through the mutation mode) is refused. `crash-*` / `bad-*`
//! only have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_app_state_persisted -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::ops::Range;

#[path = "../../fuzz/common/app_state_persisted_driver.rs"]
mod app_state_persisted_driver;
#[path = "common/seeds.rs"]
mod seeds;
use seeds::{seed_dir, seeds};

use app_state_persisted_driver::{Outcome, Parser, fixture, run};
use tandem::app_state::{AppStateKeyId, AppStateKeyRing, CollectionState, ParseError};

const TARGET: &str = "app_state_persisted";

/// The control byte of a raw input to `parser`.
fn raw_control(parser: Parser) -> u8 {
    match parser {
        Parser::KeyRing => 0,
        Parser::CollectionState => 2,
        Parser::Pending => 16,
    }
}

fn raw(parser: Parser, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![raw_control(parser)];
    v.extend_from_slice(payload);
    v
}

/// The control byte that mutates genuine input `which` of `parser`.
fn mutate_control(parser: Parser, which: u8) -> u8 {
    1 | raw_control(parser) | which << 2
}

fn parser_of(data: &[u8]) -> Parser {
    match data.first() {
        Some(c) if c & 16 == 16 => Parser::Pending,
        Some(c) if c & 2 == 2 => Parser::CollectionState,
        _ => Parser::KeyRing,
    }
}

/// The byte ranges of a format-2 ring's key records.
fn ring_records(v2: &[u8]) -> Vec<Range<usize>> {
    let mut at = 1;
    for _ in 0..2 {
        at += if v2[at] == 0 { 1 } else { 5 };
    }
    let count = u32::from_be_bytes(v2[at..at + 4].try_into().unwrap()) as usize;
    at += 4;
    (0..count).map(|i| at + i * 46..at + (i + 1) * 46).collect()
}

/// The byte ranges of a collection state's entries (format 1 or 2).
fn state_entries(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut at = 2 + usize::from(bytes[1]) + 8 + 128;
    if bytes[0] == 2 {
        at += if bytes[at] == 0 { 1 } else { 5 };
    }
    let count = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    at += 4;
    (0..count)
        .map(|_| {
            let len_at = at + 32 + 32 + 6;
            let len = u32::from_be_bytes(bytes[len_at..len_at + 4].try_into().unwrap()) as usize;
            let entry = at..len_at + 4 + len;
            at = entry.end;
            entry
        })
        .collect()
}

fn swap_ranges(bytes: &[u8], a: Range<usize>, b: Range<usize>) -> Vec<u8> {
    assert_eq!(a.end, b.start);
    let mut v = bytes[..a.start].to_vec();
    v.extend_from_slice(&bytes[b.clone()]);
    v.extend_from_slice(&bytes[a]);
    v.extend_from_slice(&bytes[b.end..]);
    v
}

/// Truncations and bit flips of a raw payload: the driver checks the properties of each.
fn around(parser: Parser, payload: &[u8]) {
    for cut in 0..payload.len() {
        run(&raw(parser, &payload[..cut]));
    }
    for bit in 0..payload.len() * 8 {
        let mut p = payload.to_vec();
        p[bit / 8] ^= 1 << (bit % 8);
        run(&raw(parser, &p));
    }
}

#[test]
fn app_state_persisted_seeds() {
    let seeds = seeds(TARGET);
    assert!(seeds.len() >= 8, "only {} seeds", seeds.len());
    for (name, bytes) in &seeds {
        let outcome = run(bytes);
        let parser = parser_of(bytes);
        match (name.as_str(), outcome) {
            (n, Outcome::Accepted(p)) if n.starts_with("genuine-") && p == parser => {}
            (n, Outcome::Refused(p, ParseError::Malformed)) if n.starts_with("refused-") && p == parser => {}
            (n, Outcome::Refused(p, _)) if n.starts_with("edit-") && p == parser => {}
            (n, _) if n.starts_with("crash-") || n.starts_with("bad-") => {}
            _ => panic!("{name}: {outcome:?}"),
        }
        if bytes.first().is_some_and(|c| c & 1 == 0) {
            around(parser, &bytes[1..]);
        }
    }
}

/// Every single-bit flip and every truncation of each genuine input, through the mutation
/// mode. Truncations are all refused; so are flips of a state's value MACs (the LTHash no
/// longer sums them). Flips of key material, key timestamps and entry key ids are accepted:
/// nothing persisted can check them.
#[test]
fn every_edit_of_the_genuine_inputs() {
    let f = fixture();
    for parser in [Parser::KeyRing, Parser::CollectionState, Parser::Pending] {
        for (which, genuine) in f.genuine(parser).into_iter().enumerate() {
            let control = mutate_control(parser, which as u8);
            assert_eq!(run(&[control]), Outcome::Accepted(parser), "{parser:?} {which}");
            let (must_accept, must_refuse): (Vec<usize>, Vec<usize>) = match parser {
                Parser::KeyRing => {
                    let records = if genuine[0] == 2 {
                        ring_records(genuine)
                    } else {
                        ring_records(&ring_v1_as_v2_layout(genuine))
                            .into_iter()
                            .map(|r| r.start - 5..r.end - 5)
                            .collect()
                    };
                    (
                        records.into_iter().flat_map(|r| r.start + 6..r.end).collect(),
                        vec![0],
                    )
                }
                Parser::CollectionState => {
                    let entries = state_entries(genuine);
                    (
                        entries.iter().flat_map(|e| e.start + 64..e.start + 70).collect(),
                        entries.iter().flat_map(|e| e.start + 32..e.start + 64).collect(),
                    )
                }
                // The format byte and the count.
                Parser::Pending => (Vec::new(), (0..5).collect()),
            };
            for pos in 0..genuine.len() {
                let p = (pos as u16).to_le_bytes();
                for bit in 0..8u8 {
                    let outcome = run(&[control, 0, p[0], p[1], bit]);
                    if must_accept.contains(&pos) {
                        assert_eq!(
                            outcome,
                            Outcome::Accepted(parser),
                            "{parser:?} {which} flip {pos}.{bit}"
                        );
                    }
                    if must_refuse.contains(&pos) {
                        assert!(
                            matches!(outcome, Outcome::Refused(..)),
                            "{parser:?} {which} flip {pos}.{bit}"
                        );
                    }
                }
                assert!(
                    matches!(run(&[control, 1, p[0], p[1], 0]), Outcome::Refused(..)),
                    "{parser:?} {which}: truncation at {pos} accepted"
                );
            }
        }
    }
}

/// A format-1 ring's bytes with a 5-byte placeholder where format 2 has its forgotten field,
/// so [`ring_records`] can find the records (the test only uses it when expired is present).
fn ring_v1_as_v2_layout(v1: &[u8]) -> Vec<u8> {
    assert_eq!(v1[1], 1);
    let mut v = v1[..6].to_vec();
    v.extend_from_slice(&[1, 0, 0, 0, 0]);
    v.extend_from_slice(&v1[6..]);
    v
}

/// The genuine encodings, checked against the documented layouts byte by byte, and what they
/// parse to.
#[test]
fn genuine_encodings_follow_the_documented_layout() {
    let f = fixture();
    let [e0, e1, e2] = f.epochs;
    assert_eq!((e1, e2), (e0 + 1, e0 + 2), "rotation takes the next epoch");
    assert!((1..=65_536).contains(&e0));

    // Ring, format 2: 0x02 ‖ 0x01 ‖ E+1 ‖ 0x01 ‖ E ‖ u32 2 ‖ (id ‖ key ‖ ts) for E+1, E+2.
    let mut expected = vec![2, 1];
    expected.extend_from_slice(&e1.to_be_bytes());
    expected.push(1);
    expected.extend_from_slice(&e0.to_be_bytes());
    expected.extend_from_slice(&2u32.to_be_bytes());
    let mut records = Vec::new();
    for (epoch, ts) in [(e1, 1_700_000_100_000i64), (e2, 1_700_000_200_000)] {
        let id = AppStateKeyId::new(0, epoch);
        assert_eq!(id.as_bytes()[..2], [0, 0]);
        assert_eq!(id.as_bytes()[2..], epoch.to_be_bytes());
        let key = f.ring.get(&id).expect("key held");
        assert_eq!(key.timestamp_ms(), ts);
        let mut record = id.as_bytes().to_vec();
        record.extend_from_slice(key.data().expose());
        record.extend_from_slice(&ts.to_be_bytes());
        records.push(record);
    }
    for r in &records {
        expected.extend_from_slice(r);
    }
    assert_eq!(f.ring_v2, expected);
    assert!(f.ring.get(&AppStateKeyId::new(0, e0)).is_none(), "E forgotten");

    // Ring, format 1: 0x01 ‖ 0x01 ‖ E+1 ‖ u32 1 ‖ the E+2 record.
    let mut expected_v1 = vec![1, 1];
    expected_v1.extend_from_slice(&e1.to_be_bytes());
    expected_v1.extend_from_slice(&1u32.to_be_bytes());
    expected_v1.extend_from_slice(&records[1]);
    assert_eq!(f.ring_v1, expected_v1);
    let v1 = AppStateKeyRing::from_bytes(&f.ring_v1).unwrap();
    assert_eq!(v1.expired_through(), Some(e1));
    assert_eq!(v1.forgotten_through(), Some(e1));
    assert_eq!(v1.keys().count(), 1);
    assert_eq!(v1.sending_key().map(|k| k.id()), Some(AppStateKeyId::new(0, e2)));
    let v2 = AppStateKeyRing::from_bytes(&f.ring_v2).unwrap();
    assert_eq!(v2.sending_key().map(|k| k.id()), Some(AppStateKeyId::new(0, e2)));
    assert!(v2.is_expired(&AppStateKeyId::new(0, e1)) && !v2.is_forgotten(&AppStateKeyId::new(0, e1)));

    // State: 0x02 ‖ 12 ‖ "regular_high" ‖ u64 1 ‖ LTHash ‖ 0x01 ‖ E+2 ‖ u32 3 ‖ entries.
    let s = &f.state_v2;
    assert_eq!(s[..14], *b"\x02\x0cregular_high");
    assert_eq!(s[14..22], 1u64.to_be_bytes());
    assert_eq!(s[22..150], *f.state.lthash().as_bytes());
    assert_eq!(s[150], 1);
    assert_eq!(s[151..155], e2.to_be_bytes());
    assert_eq!(s[155..159], 3u32.to_be_bytes());
    let entries = state_entries(s);
    assert_eq!(entries.len(), 3);
    assert_eq!(entries.last().unwrap().end, s.len());
    let mut previous: Option<&[u8]> = None;
    for e in &entries {
        let index_mac = &s[e.start..e.start + 32];
        assert!(previous.is_none_or(|p| p < index_mac), "ascending index MACs");
        previous = Some(index_mac);
        assert_eq!(
            s[e.start + 64..e.start + 70],
            *AppStateKeyId::new(0, e2).as_bytes()
        );
    }
    // Format 1: the same without the key-epoch field.
    let mut expected_v1 = s.clone();
    expected_v1[0] = 1;
    expected_v1.drain(150..155);
    assert_eq!(f.state_v1, expected_v1);
    for bytes in [&f.state_v2, &f.state_v1] {
        assert_eq!(CollectionState::from_bytes(bytes).unwrap(), f.state);
    }
    // Empty: no key epoch, no entries, the zero LTHash.
    let mut empty = b"\x02\x0cregular_high".to_vec();
    empty.extend_from_slice(&[0; 8 + 128 + 1 + 4]);
    assert_eq!(f.empty_state, empty);
}

/// Rewrites the seeds: the genuine encodings, refusals each breaking one rule, and edits
/// through the mutation mode.
#[test]
#[ignore = "writes fuzz/seeds/app_state_persisted; run with --ignored to regenerate"]
fn write_seeds() {
    let f = fixture();
    let dir = seed_dir(TARGET);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: &[u8]| fs::write(dir.join(name), bytes).unwrap();
    let ring = |name: &str, payload: &[u8]| write(name, &raw(Parser::KeyRing, payload));
    let state = |name: &str, payload: &[u8]| write(name, &raw(Parser::CollectionState, payload));
    let [e0, e1, _] = f.epochs;

    let r = &f.ring_v2;
    ring("genuine-ring-v2", r);
    ring("genuine-ring-v1", &f.ring_v1);
    ring("genuine-ring-empty", &AppStateKeyRing::new().to_bytes());
    state("genuine-state-v2", &f.state_v2);
    state("genuine-state-v1", &f.state_v1);
    state("genuine-state-empty", &f.empty_state);
    let pending = |name: &str, payload: &[u8]| write(name, &raw(Parser::Pending, payload));
    let p = &f.pending;
    pending("genuine-pending", p);
    pending("genuine-pending-none", &[1, 0, 0, 0, 0]);
    pending("refused-pending-trailing-byte", &[&p[..], &[0]].concat());
    pending("refused-pending-count-too-high", &{
        let mut v = p.clone();
        v[4] += 1;
        v
    });
    pending("refused-pending-format-2", &{
        let mut v = p.clone();
        v[0] = 2;
        v
    });

    // r = 02 ‖ 01 E+1 (1..6) ‖ 01 E (6..11) ‖ count (11..15) ‖ records.
    let with = |at: Range<usize>, bytes: &[u8]| {
        let mut v = r.clone();
        v.splice(at, bytes.iter().copied());
        v
    };
    // Forgotten E above expired E - 1 (the held keys are above both).
    ring(
        "refused-ring-forgotten-above-expired",
        &with(2..6, &(e0 - 1).to_be_bytes()),
    );
    ring("refused-ring-forgotten-without-expired", &with(1..6, &[0]));
    // Forgotten through E + 1, which is still held.
    ring("refused-ring-held-key-forgotten", &with(7..11, &e1.to_be_bytes()));
    let records = ring_records(r);
    ring(
        "refused-ring-ids-out-of-order",
        &swap_ranges(r, records[0].clone(), records[1].clone()),
    );
    ring(
        "refused-ring-duplicate-id",
        &with(records[1].clone(), &r[records[0].clone()]),
    );
    let mut trailing = r.clone();
    trailing.push(0);
    ring("refused-ring-trailing-byte", &trailing);
    ring("refused-ring-truncated", &r[..r.len() - 1]);
    ring("refused-ring-format-3", &with(0..1, &[3]));
    // Format 1 forgets what is expired: a held E + 1 is refused.
    let mut v1_with_expired = vec![1];
    v1_with_expired.extend_from_slice(&r[1..6]);
    v1_with_expired.extend_from_slice(&r[11..]);
    ring("refused-ring-v1-holds-expired-key", &v1_with_expired);

    let s = &f.state_v2;
    let mut trailing = s.clone();
    trailing.push(0);
    state("refused-state-trailing-byte", &trailing);
    let mut lthash = s.clone();
    lthash[30] ^= 0x10;
    state("refused-state-lthash", &lthash);
    let entries = state_entries(s);
    state(
        "refused-state-entries-out-of-order",
        &swap_ranges(s, entries[0].clone(), entries[1].clone()),
    );
    let mut name = s.clone();
    name[13] = b'x';
    state("refused-state-unknown-collection", &name);
    let mut format = s.clone();
    format[0] = 3;
    state("refused-state-format-3", &format);
    // Non-canonical plaintext protobuf in the last entry (`… 0x20 0x02`: version 2), which
    // prost would read and `to_bytes` would not give back: an unknown field, a repeated
    // singular field, a non-minimal varint.
    let last = entries.last().unwrap().clone();
    assert_eq!(last.end, s.len());
    assert_eq!(s[s.len() - 2..], [0x20, 0x02]);
    let with_data = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut data = s[last.start + 74..].to_vec();
        edit(&mut data);
        let mut v = s[..last.start + 70].to_vec();
        v.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        v.extend_from_slice(&data);
        v
    };
    state(
        "refused-state-unknown-field",
        &with_data(&|d| d.extend_from_slice(&[0x40, 0x01])),
    );
    state(
        "refused-state-repeated-field",
        &with_data(&|d| d.extend_from_slice(&[0x20, 0x03])),
    );
    state(
        "refused-state-nonminimal-varint",
        &with_data(&|d| {
            d.pop();
            d.extend_from_slice(&[0x82, 0x00]);
        }),
    );

    // Mutation mode: [control, op, pos lo, pos hi, value].
    write(
        "edit-ring-v2-count",
        &[mutate_control(Parser::KeyRing, 0), 0, 14, 0, 0],
    );
    write(
        "edit-ring-v1-format",
        &[mutate_control(Parser::KeyRing, 1), 0, 0, 0, 1],
    );
    write(
        "edit-state-v2-truncate",
        &[mutate_control(Parser::CollectionState, 0), 1, 200, 0, 0],
    );
    write(
        "edit-state-v1-value-mac",
        &[mutate_control(Parser::CollectionState, 1), 0, 190, 0, 3],
    );
    write(
        "edit-state-empty-append",
        &[mutate_control(Parser::CollectionState, 2), 5, 0, 0, 0],
    );
}
