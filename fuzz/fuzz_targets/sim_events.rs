//! The whole-system simulator driven by the fuzzer: its bytes choose the events (accounts,
//! companions, messages, groups, faults, crashes) on a small world of three accounts; the run
//! then quiesces, probes and checks its invariants. See `tandem_sim::fuzz` for the input format.
//! Properties: no panic, and no invariant violation (every message decrypted exactly once on
//! every device owed it, never on one that is not; key changes surfaced). Known tandem issues
//! are tolerated (`sim/src/world/known.rs`), so the fuzzer looks for new ones.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = tandem_sim::fuzz::run_bytes(data);
    if let Some(v) = report.violations.first() {
        panic!("{v}");
    }
});
