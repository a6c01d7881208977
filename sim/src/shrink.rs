//! Shrinking a failing trace: delta debugging (remove chunks, then single events) while the
//! run still shows a violation of the same kind.

use std::time::{Duration, Instant};

use crate::event::Event;
use crate::invariants::ViolationKind;
use crate::run::{RunOptions, run_trace};

/// Whether `trace` still fails with `kind`.
fn fails(seed: u64, trace: &[Event], options: RunOptions, kind: ViolationKind) -> bool {
    let mut o = options;
    o.log = false;
    o.stop_at_first = true;
    run_trace(seed, trace, o)
        .violations
        .iter()
        .any(|v| v.kind == kind)
}

/// The shortest trace found (within `budget`) that still fails with `kind`.
pub fn shrink(
    seed: u64,
    trace: &[Event],
    options: RunOptions,
    kind: ViolationKind,
    budget: Duration,
) -> Vec<Event> {
    let started = Instant::now();
    let mut current = trace.to_vec();
    let mut n = 2usize;
    while current.len() >= 2 && started.elapsed() < budget {
        let chunk = current.len().div_ceil(n);
        let mut reduced = false;
        let mut start = 0;
        while start < current.len() && started.elapsed() < budget {
            let end = (start + chunk).min(current.len());
            let mut candidate = current.clone();
            candidate.drain(start..end);
            if fails(seed, &candidate, options, kind) {
                current = candidate;
                reduced = true;
                // Same position: the next chunk has moved into it.
            } else {
                start = end;
            }
        }
        if reduced {
            n = n.saturating_sub(1).max(2);
        } else if chunk <= 1 {
            break;
        } else {
            n = (n * 2).min(current.len());
        }
    }
    current
}
