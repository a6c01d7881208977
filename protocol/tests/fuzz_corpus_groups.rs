//! Replays the sender-key fuzz seeds (`fuzz/seeds/<target>/`) under `cargo test`, so the fuzz
//! targets' properties are checked on every test run, not only when someone fuzzes:
//!
//! - `sender_key_message`, `sender_key_distribution_message`: real messages (recorded from
//!   libsignal-client, and made by tandem); each must parse and keep its bytes, and every
//!   truncation, every one-byte deletion and every bit flip in its first 64 bytes must parse
//!   without panicking (and keep its bytes if it parses).
//! - `group_decrypt`: inputs of the stateful target, run through the same driver
//!   (`fuzz/common/group_driver.rs`, included here); and every truncation and every bit flip in
//!   the first 64 bytes of each genuine group and distribution message, through the driver.
//!
//! Files named `crash-*` (inputs that once crashed a target) or `bad-*` only have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_groups -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::PathBuf;

use tandem::group::GroupDecryptError;
use tandem::wire::{SenderKeyDistributionMessage, SenderKeyMessage, WireError};

#[path = "../../fuzz/common/group_driver.rs"]
mod group_driver;
#[path = "common/seeds.rs"]
mod seeds;
use seeds::{seed_dir, seeds};

use group_driver::{Outcome, Status, Stored};

fn must_be_valid(name: &str) -> bool {
    !(name.starts_with("crash-") || name.starts_with("bad-"))
}

/// Every prefix, every one-byte deletion, every bit flip in the first 64 bytes.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b.remove(i);
        out.push(b);
    }
    for i in 0..bytes.len().min(64) {
        for bit in 0..8 {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            out.push(b);
        }
    }
    out
}

fn replay_parser<M: PartialEq + std::fmt::Debug>(
    target: &str,
    parse: impl Fn(&[u8]) -> Result<M, WireError>,
    wire: impl Fn(&M) -> &[u8],
) {
    let seeds = seeds(target);
    assert!(seeds.len() >= 10, "only {} {target} seeds", seeds.len());
    assert!(
        seeds.iter().any(|(n, _)| n.starts_with("libsignal-")),
        "no {target} seed recorded from libsignal"
    );
    let mut parsed_mutants = 0;
    for (name, bytes) in &seeds {
        match parse(bytes) {
            Ok(m) => {
                assert_eq!(wire(&m), &bytes[..], "{target}/{name}: bytes changed");
                assert_eq!(parse(wire(&m)).as_ref(), Ok(&m), "{target}/{name}: reparse");
            }
            Err(e) if must_be_valid(name) => panic!("{target}/{name} does not parse: {e:?}"),
            Err(_) => {}
        }
        for mutant in mutations(bytes) {
            if let Ok(m) = parse(&mutant) {
                assert_eq!(wire(&m), &mutant[..], "{target}/{name}: a mutant's bytes changed");
                parsed_mutants += 1;
            }
        }
    }
    // Strict parsing refuses almost every mutant; those that parse changed a value, not the
    // framing (e.g. a flipped bit inside the distribution id, the ciphertext or the signature).
    assert!(parsed_mutants > 0);
}

#[test]
fn sender_key_message_seeds_parse_and_mutants_do_not_panic() {
    replay_parser(
        "sender_key_message",
        SenderKeyMessage::parse,
        SenderKeyMessage::serialized,
    );
}

#[test]
fn sender_key_distribution_message_seeds_parse_and_mutants_do_not_panic() {
    replay_parser(
        "sender_key_distribution_message",
        SenderKeyDistributionMessage::parse,
        SenderKeyDistributionMessage::serialized,
    );
}

/// The outcome a `group_decrypt` seed's name promises, if any.
fn expected(name: &str, outcome: &Outcome) -> bool {
    let prefix = |p: &str| name.starts_with(p);
    match outcome {
        _ if prefix("unread-") => matches!(outcome, Outcome::Decrypted(_)),
        _ if prefix("edit-") || prefix("replay-") || prefix("stale-") || prefix("mallory-") => {
            matches!(outcome, Outcome::Refused(_))
        }
        _ if prefix("foreign-") => *outcome == Outcome::Refused(GroupDecryptError::NoSenderKey),
        _ if prefix("dist-kept-") => matches!(outcome, Outcome::Stored(Stored::Kept(_))),
        _ if prefix("dist-replaced-") => matches!(outcome, Outcome::Stored(Stored::Replaced(_))),
        _ if prefix("dist-added-") => *outcome == Outcome::Stored(Stored::Added),
        _ if prefix("dist-elsewhere-") => *outcome == Outcome::Stored(Stored::Elsewhere),
        _ if prefix("dist-unparsed-") => *outcome == Outcome::Unparsed,
        _ => true,
    }
}

#[test]
fn group_decrypt_seeds_hold_the_targets_properties() {
    let seeds = seeds("group_decrypt");
    assert!(seeds.len() >= 10, "only {} group_decrypt seeds", seeds.len());
    for (name, data) in &seeds {
        let outcome = group_driver::run(data);
        assert!(expected(name, &outcome), "{name}: {outcome:?}");
    }
}

/// The driver input that picks source `pick` in mutation mode (`distribution` or message)
/// and applies the 4-byte `edits`.
fn mutated(distribution: bool, pick: usize, edits: &[[u8; 4]]) -> Vec<u8> {
    let mut input = vec![1 | (u8::from(distribution) << 1), u8::try_from(pick).unwrap()];
    input.extend(edits.iter().flatten());
    input
}

fn at(pos: usize) -> [u8; 2] {
    u16::try_from(pos).unwrap().to_le_bytes()
}

fn truncate(pos: usize) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [1, lo, hi, 0]
}

fn flip(pos: usize, bit: u8) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [0, lo, hi, bit]
}

fn set(pos: usize, value: u8) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [2, lo, hi, value]
}

/// Every truncation and every bit flip in the first 64 bytes (and one bit at every byte) of
/// each of Alice's messages, read or not, and of each of her distribution messages: the
/// driver's properties hold for each.
#[test]
fn group_decrypt_systematic_mutations() {
    let fx = group_driver::fixture();
    let sources = fx
        .messages
        .iter()
        .map(|g| (false, &g.bytes))
        .chain(fx.distributions.iter().map(|(_, d)| (true, d)));
    let (mut decrypted, mut stored, mut runs) = (0, 0, 0);
    let mut picks = [0usize; 2];
    for (distribution, bytes) in sources {
        let pick = &mut picks[usize::from(distribution)];
        let mut edits: Vec<[u8; 4]> = (0..bytes.len()).map(truncate).collect();
        for pos in 0..bytes.len().min(64) {
            edits.extend((0..8).map(|bit| flip(pos, bit)));
        }
        edits.extend((64..bytes.len()).map(|pos| flip(pos, u8::try_from(pos % 8).unwrap())));
        for edit in edits {
            match group_driver::run(&mutated(distribution, *pick, &[edit])) {
                Outcome::Decrypted(_) => decrypted += 1,
                Outcome::Stored(_) => stored += 1,
                _ => {}
            }
            runs += 1;
        }
        *pick += 1;
    }
    // A changed group message never decrypts (the signature covers all but itself, and a
    // changed signature fails); a changed distribution message often still parses (values
    // change, the framing does not).
    assert_eq!(decrypted, 0, "of {runs}");
    assert!(stored > 0);
}

/// libsignal's XEdDSA check (like the XEdDSA specification) refuses only `s >= 2^253`, so the
/// scalar `s + ℓ` verifies as well as `s`: every group message has a second encoding that
/// decrypts (once, like the first; replay protection goes by iteration, not bytes). tandem
/// does the same. If tandem ever refuses non-canonical `s`, change this test (and the driver's
/// `carries`).
#[test]
fn signature_scalar_plus_ell_decrypts_once_like_libsignal() {
    let fx = group_driver::fixture();
    for g in fx.messages.iter().filter(|g| g.status == Status::Unread) {
        let other = group_driver::other_encoding(&g.bytes);
        assert_ne!(other, g.bytes);
        let mut input = vec![0];
        input.extend_from_slice(&other);
        assert_eq!(
            group_driver::run(&input),
            Outcome::Decrypted(g.name),
            "{}",
            g.name
        );
    }
}

fn write_seed(target: &str, name: &str, data: &[u8]) {
    let dir = seed_dir(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

/// `(key, value)` of every `"key": "value"` string field of a JSON text, in order (enough for
/// the recorded vector files, whose byte strings are hex).
fn string_fields(json: &str) -> Vec<(String, String)> {
    let strings: Vec<(usize, usize, String)> = {
        let (mut out, mut chars) = (Vec::new(), json.char_indices());
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut s = String::new();
            let mut end = i;
            while let Some((j, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = j;
                        break;
                    }
                    c => s.push(c),
                }
            }
            out.push((i, end, s));
        }
        out
    };
    strings
        .windows(2)
        .filter(|w| json[w[0].1 + 1..w[1].0].trim() == ":")
        .map(|w| (w[0].2.clone(), w[1].2.clone()))
        .collect()
}

/// One recorded case: its id, its messages and its distribution messages.
type Recorded = (String, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Writes the parser seeds recorded from libsignal-client
/// (`test-vectors/libsignal/sender-keys/*.json`): from the newest recording, the first and the
/// last message of each case (the last is the tampered copy in negative cases) and every
/// distribution message; from the others, the first message and the first distribution
/// message of the first 8 cases. Messages over 2 KiB are left out. A seed that does not parse
/// is named `bad-*`.
fn write_libsignal_seeds() -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/libsignal/sender-keys");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut written = 0;
    let mut seen = std::collections::HashSet::new();
    for path in files {
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        let version = file.rsplit('-').next().unwrap().to_string();
        let rotations = file.contains("rotations");
        let newest = version == "0.103.0";
        let json = fs::read_to_string(&path).unwrap();
        let mut cases: Vec<Recorded> = Vec::new();
        for (key, value) in string_fields(&json) {
            match key.as_str() {
                "id" => cases.push((value, Vec::new(), Vec::new())),
                "ciphertext" => cases.last_mut().unwrap().1.push(hex::decode(value).unwrap()),
                "distribution_message" => cases.last_mut().unwrap().2.push(hex::decode(value).unwrap()),
                _ => {}
            }
        }
        assert!(!cases.is_empty(), "{file}: no cases");
        for (i, (id, messages, distributions)) in cases.iter().enumerate() {
            if !newest && i >= 8 {
                break;
            }
            let tag = format!("{version}{}-{id}", if rotations { "-rot" } else { "" });
            let last = messages.len() - 1;
            for (k, m) in messages.iter().enumerate() {
                if !(k == 0 || (newest && k == last)) || m.len() > 2048 || !seen.insert(m.clone()) {
                    continue;
                }
                let bad = if SenderKeyMessage::parse(m).is_err() {
                    "bad-"
                } else {
                    ""
                };
                write_seed("sender_key_message", &format!("{bad}libsignal-{tag}-m{k}"), m);
                written += 1;
            }
            for (k, d) in distributions.iter().enumerate() {
                if !(newest || k == 0) || !seen.insert(d.clone()) {
                    continue;
                }
                let bad = if SenderKeyDistributionMessage::parse(d).is_err() {
                    "bad-"
                } else {
                    ""
                };
                write_seed(
                    "sender_key_distribution_message",
                    &format!("{bad}libsignal-{tag}-d{k}"),
                    d,
                );
                written += 1;
            }
        }
        // For the stateful target: a few of these foreign messages and distribution messages
        // (Bob holds nothing of those senders' groups).
        if newest && !rotations {
            for (id, messages, distributions) in cases.iter().take(4) {
                let mut raw = vec![0];
                raw.extend_from_slice(&messages[0]);
                write_seed(
                    "group_decrypt",
                    &format!("foreign-libsignal-{version}-{id}-m0"),
                    &raw,
                );
                let mut raw = vec![2];
                raw.extend_from_slice(&distributions[0]);
                write_seed(
                    "group_decrypt",
                    &format!("dist-elsewhere-libsignal-{version}-{id}"),
                    &raw,
                );
                written += 2;
            }
        }
    }
    written
}

/// Writes every seed: the libsignal recordings (see `write_libsignal_seeds`), tandem's
/// messages for both parsers, and the `group_decrypt` inputs: each genuine message raw, each
/// picked by index, edits of the unread ones, and distribution messages kept, added, replaced,
/// stored elsewhere or unparsed.
#[test]
#[ignore = "rewrites fuzz/seeds/{sender_key_message,sender_key_distribution_message,group_decrypt}"]
fn write_group_seeds() {
    for target in [
        "sender_key_message",
        "sender_key_distribution_message",
        "group_decrypt",
    ] {
        let _ = fs::remove_dir_all(seed_dir(target));
    }
    let mut written = write_libsignal_seeds();
    let fx = group_driver::fixture();
    let mut write = |target: &str, name: String, data: Vec<u8>| {
        write_seed(target, &name, &data);
        written += 1;
    };
    for (pick, g) in fx.messages.iter().enumerate() {
        write(
            "sender_key_message",
            format!("tandem-{}", g.name),
            g.bytes.clone(),
        );
        let mut raw = vec![0];
        raw.extend_from_slice(&g.bytes);
        let pick = u8::try_from(pick).unwrap();
        let prefix = match g.status {
            Status::Unread => "unread",
            Status::Read => "replay",
            Status::Stale => "stale",
        };
        write("group_decrypt", format!("{prefix}-raw-{}", g.name), raw);
        write("group_decrypt", format!("{prefix}-{}", g.name), vec![1, pick]);
        if g.status != Status::Unread {
            continue;
        }
        write("group_decrypt", format!("mallory-{}", g.name), vec![5, pick]);
        let n = g.bytes.len();
        for (what, edit) in [
            ("truncated", truncate(n - 1)),
            ("version-0x34", set(0, 0x34)),
            ("version-0x23", set(0, 0x23)),
            ("distribution-id", flip(3, 0)),
            ("chain-id", flip(20, 0)),
            ("ciphertext", flip(n - 65, 0)),
            ("signature-r", flip(n - 64, 0)),
            ("signature-s", flip(n - 32, 0)),
            ("signature-sign-bit", flip(n - 1, 7)),
            ("signature-s-high", flip(n - 1, 5)),
        ] {
            write(
                "group_decrypt",
                format!("edit-{}-{what}", g.name),
                mutated(false, usize::from(pick), &[edit]),
            );
        }
        let mut other = vec![0];
        other.extend_from_slice(&group_driver::other_encoding(&g.bytes));
        write("group_decrypt", format!("malleable-{}-s-plus-ell", g.name), other);
    }
    for (pick, (name, d)) in fx.distributions.iter().enumerate() {
        write(
            "sender_key_distribution_message",
            format!("tandem-{name}"),
            d.clone(),
        );
        let m = SenderKeyDistributionMessage::parse(d).unwrap();
        let find = |part: &[u8]| d.windows(part.len()).position(|w| w == part).unwrap();
        let chain_key = find(m.chain_key().expose());
        let signing_key = find(&m.signing_key().serialize());
        // 0x33 0x0A 0x10 id[16] 0x10 chain-id... 0x18 iteration...
        assert_eq!((d[1], d[19]), (0x0A, 0x10));
        let iteration = chain_key - 2 - (1..=5).find(|k| d[chain_key - 2 - k] == 0x18).unwrap();
        let mut raw = vec![2];
        raw.extend_from_slice(d);
        write("group_decrypt", format!("dist-kept-{name}"), raw.clone());
        raw[0] = 6;
        write("group_decrypt", format!("dist-elsewhere-{name}-mallory"), raw);
        for (outcome, what, edit) in [
            ("kept", "iteration", flip(iteration + 1, 0)),
            ("kept", "chain-key", flip(chain_key, 0)),
            ("added", "chain-id", flip(20, 0)),
            ("replaced", "signing-key", flip(signing_key + 1, 0)),
            // The same u-coordinate (bit 255 is ignored): other bytes, the same key in effect.
            ("replaced", "signing-key-bit-255", flip(signing_key + 32, 7)),
            ("elsewhere", "distribution-id", flip(3, 0)),
            ("unparsed", "truncated", truncate(d.len() - 1)),
            ("unparsed", "key-type", set(signing_key, 0x06)),
        ] {
            write(
                "group_decrypt",
                format!("dist-{outcome}-{name}-{what}"),
                mutated(true, pick, &[edit]),
            );
        }
    }
    write("group_decrypt", "bad-empty".into(), Vec::new());
    write("group_decrypt", "bad-garbage".into(), b"\x00\x33garbage".to_vec());
    write(
        "group_decrypt",
        "dist-unparsed-garbage".into(),
        b"\x02\x33garbage".to_vec(),
    );
    assert!(written > 50);
}
