//! Replays the app-state fuzz seeds (`fuzz/seeds/app_state_patch/`, `fuzz/seeds/app_state_snapshot/`)
//! under `cargo test`, through the targets' own driver (`fuzz/common/app_state_driver.rs`,
//! included here), so their properties are checked on every test run:
//!
//! - every seed, then every truncation and every bit flip in the first 64 bytes of each seed's
//!   payload (after the control byte), as raw bytes;
//! - the mutation mode on the genuine patch and snapshot: every single-bit flip of every byte,
//!   and every truncation.
//!
//! A seed's name says what it must do: `genuine-*` applies (gives the genuine state);
//! `refused-<Error>-*` is refused with that error; `vector-*` (patches and snapshots from
//! `test-vectors/app-state/`, under keys the fixture does not hold) and `edit-*` are refused.
//! `crash-*` / `bad-*` only have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_app_state -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::PathBuf;

#[path = "../../fuzz/common/app_state_driver.rs"]
mod app_state_driver;
#[path = "common/seeds.rs"]
mod seeds;
use seeds::{seed_dir, seeds};

use app_state_driver::{PatchOutcome, SnapshotOutcome, fixture, run_patch, run_snapshot};

/// `refused-<Error>-…` → the error's name.
fn expected_error(name: &str) -> Option<&str> {
    name.strip_prefix("refused-")?.split('-').next()
}

fn error_name(debug: &str) -> &str {
    debug.split(['(', ' ', '{']).next().unwrap()
}

fn raw(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(payload);
    v
}

/// Truncations and bit flips of a raw payload: each must not panic (the driver checks the
/// properties).
fn around<T>(payload: &[u8], run: impl Fn(&[u8]) -> T) {
    for cut in 0..payload.len().min(64) {
        run(&raw(&payload[..cut]));
    }
    for bit in 0..payload.len().min(64) * 8 {
        let mut p = payload.to_vec();
        p[bit / 8] ^= 1 << (bit % 8);
        run(&raw(&p));
    }
}

#[test]
fn app_state_patch_seeds() {
    let seeds = seeds("app_state_patch");
    assert!(seeds.len() >= 10, "only {} seeds", seeds.len());
    assert!(seeds.iter().any(|(n, _)| n.starts_with("vector-")));
    for (name, bytes) in &seeds {
        let outcome = run_patch(bytes);
        match (name.as_str(), &outcome) {
            (n, PatchOutcome::Genuine) if n.starts_with("genuine-") => {}
            (n, PatchOutcome::Refused(e)) if n.starts_with("refused-") => {
                assert_eq!(Some(error_name(e)), expected_error(n), "{name}: {e}");
            }
            (n, PatchOutcome::Refused(_)) if n.starts_with("vector-") || n.starts_with("edit-") => {}
            (n, _) if n.starts_with("crash-") || n.starts_with("bad-") => {}
            _ => panic!("{name}: {outcome:?}"),
        }
        if bytes.first() == Some(&0) {
            around(&bytes[1..], run_patch);
        }
    }
}

#[test]
fn app_state_snapshot_seeds() {
    let seeds = seeds("app_state_snapshot");
    assert!(seeds.len() >= 5, "only {} seeds", seeds.len());
    for (name, bytes) in &seeds {
        let outcome = run_snapshot(bytes);
        match (name.as_str(), &outcome) {
            (n, SnapshotOutcome::Genuine) if n.starts_with("genuine-") => {}
            (n, SnapshotOutcome::Refused(e)) if n.starts_with("refused-") => {
                assert_eq!(Some(error_name(e)), expected_error(n), "{name}: {e}");
            }
            (n, SnapshotOutcome::Refused(_)) if n.starts_with("vector-") || n.starts_with("edit-") => {}
            (n, _) if n.starts_with("crash-") || n.starts_with("bad-") => {}
            _ => panic!("{name}: {outcome:?}"),
        }
        if bytes.first() == Some(&0) {
            around(&bytes[1..], run_snapshot);
        }
    }
}

/// Every single-bit flip and every truncation of the genuine patch and snapshot, through the
/// mutation mode: each is refused, none changes the state.
#[test]
fn every_edit_of_the_genuine_patch_and_snapshot_is_refused() {
    let f = fixture();
    for (len, run) in [
        (
            f.next_patch.len(),
            &(|d: &[u8]| run_patch(d) == PatchOutcome::Genuine) as &dyn Fn(&[u8]) -> bool,
        ),
        (f.snapshot.len(), &|d: &[u8]| {
            run_snapshot(d) == SnapshotOutcome::Genuine
        }),
    ] {
        let mut accepted = 0;
        for pos in 0..len {
            let p = (pos as u16).to_le_bytes();
            for bit in 0..8u8 {
                if run(&[1, 0, p[0], p[1], bit]) {
                    accepted += 1;
                }
            }
            assert!(!run(&[1, 1, p[0], p[1], 0]), "truncation at {pos} accepted");
        }
        // A flip can only be accepted where it changes nothing the MACs cover: there is no
        // such bit in tandem's encoding (no unauthenticated field is written).
        assert_eq!(accepted, 0);
    }
}

/// Rewrites the seeds: the genuine patch and snapshot, typed refusals, edits, and the patches
/// and snapshots of the vector file.
#[test]
#[ignore = "writes fuzz/seeds/app_state_*; run with --ignored to regenerate"]
fn write_seeds() {
    let f = fixture();
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = seed_dir(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes).unwrap();
    };
    for target in ["app_state_patch", "app_state_snapshot"] {
        let dir = seed_dir(target);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
    }
    let flip = |b: &[u8], at: usize| {
        let mut v = b.to_vec();
        v[at] ^= 0x04;
        v
    };
    let p = &f.next_patch;
    write("app_state_patch", "genuine-next", &raw(p));
    let mut with_device_index = p.clone();
    with_device_index.extend_from_slice(&[0x40, 0x02, 0x4a, 0x00]);
    write(
        "app_state_patch",
        "genuine-with-device-index",
        &raw(&with_device_index),
    );
    write(
        "app_state_patch",
        "refused-StaleVersion-earlier",
        &raw(&f.earlier[2]),
    );
    write(
        "app_state_patch",
        "refused-StaleVersion-first",
        &raw(&f.earlier[0]),
    );
    write("app_state_patch", "refused-Parse-empty", &raw(&[]));
    write(
        "app_state_patch",
        "refused-Parse-truncated",
        &raw(&p[..p.len() - 1]),
    );
    write(
        "app_state_patch",
        "refused-BadPatchMac-patch-mac",
        &raw(&flip(p, p.len() - 20)),
    );
    for (i, at) in [40usize, 90, 200].into_iter().enumerate() {
        write(
            "app_state_patch",
            &format!("edit-flip-{i}"),
            &raw(&flip(p, at.min(p.len() - 1))),
        );
    }
    write("app_state_patch", "edit-mode-flip", &[1, 0, 50, 0, 3]);
    write(
        "app_state_patch",
        "edit-mode-insert",
        &[1, 3, 10, 0, 0x42, 0, 60, 0, 1],
    );
    let s = &f.snapshot;
    write("app_state_snapshot", "genuine-v4", &raw(s));
    write(
        "app_state_snapshot",
        "refused-Parse-truncated",
        &raw(&s[..s.len() / 2]),
    );
    write(
        "app_state_snapshot",
        "refused-BadSnapshotMac-mac",
        &raw(&flip(s, s.len() - 12)),
    );
    write("app_state_snapshot", "edit-mode-flip", &[1, 0, 20, 0, 1]);
    write("app_state_snapshot", "edit-patch-as-snapshot", &raw(p));

    // Patches and snapshots from the recorded vectors (other keys: refused, but real encodings).
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/app-state");
    let mut n = 0;
    for entry in fs::read_dir(vectors).unwrap() {
        let text = fs::read_to_string(entry.unwrap().path()).unwrap();
        for (field, target) in [
            ("\"patch\": \"", "app_state_patch"),
            ("\"snapshot\": \"", "app_state_snapshot"),
        ] {
            let mut seen = std::collections::BTreeSet::new();
            for piece in text.split(field).skip(1) {
                let hex_str = piece.split('"').next().unwrap();
                if seen.insert(hex_str.to_owned()) && seen.len() <= 12 {
                    n += 1;
                    write(
                        target,
                        &format!("vector-{n:03}"),
                        &raw(&hex::decode(hex_str).unwrap()),
                    );
                }
            }
        }
    }
    assert!(n > 10);
}
