//! Replays the `sim_events` fuzz seeds (`fuzz/seeds/sim_events/`) under `cargo test`, through the
//! same mapping the fuzz target uses (`tandem_sim::fuzz`), so the target's properties are
//! checked on every test run: no panic and no invariant violation, for every seed and every
//! prefix of it (whole events).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use tandem_sim::event::Event;
use tandem_sim::fuzz::{MAX_EVENTS, events_from_bytes, run_bytes};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/sim_events");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_seed_and_every_prefix_runs_clean() {
    let seeds = seeds();
    assert!(seeds.len() >= 5, "{seeds:?}");
    for (name, bytes) in seeds {
        for end in (0..=bytes.len()).step_by(6) {
            let report = run_bytes(&bytes[..end]);
            assert!(
                report.violations.is_empty(),
                "{name}[..{end}]: {:#?}",
                report.violations
            );
        }
        let report = run_bytes(&bytes);
        assert!(report.violations.is_empty(), "{name}: {:#?}", report.violations);
    }
}

#[test]
fn bytes_map_to_a_bounded_trace_over_a_fixed_world() {
    let setup = events_from_bytes(&[]);
    assert_eq!(setup.len(), 4);
    let long = events_from_bytes(&[4u8; 3 * (MAX_EVENTS + 10) + 2]);
    assert_eq!(long.len(), 4 + MAX_EVENTS);
    assert!(long[4..].iter().all(|e| matches!(e, Event::Message { .. })));
    // Every kind is reachable.
    let kinds: std::collections::BTreeSet<usize> = (0..tandem_sim::event::KINDS.len() as u8)
        .flat_map(|k| events_from_bytes(&[k, 1, 2]).pop())
        .map(|e| e.kind())
        .collect();
    assert_eq!(kinds.len(), tandem_sim::event::KINDS.len() - 1, "{kinds:?}"); // `account` is setup only
}
