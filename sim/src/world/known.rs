//! Known tandem issues: a failure the simulator found that tandem has not fixed yet is recognised
//! here, so that a campaign goes on finding new ones. Each is counted in [`Stats::known`] instead
//! of being a violation, unless the run is strict ([`World::set_strict`]); each has a shrunk
//! trace in `sim/regressions/known-*.trace` replayed strictly by an ignored test in
//! `sim/tests/regressions.rs` (it passes once tandem is fixed; then the trace is renamed
//! `fixed-*`, and its classifier leaves this module).
//!
//! Open: none.
//!
//! Fixed since the simulator found them (their traces are plain regression
//! tests, `sim/regressions/fixed-*.trace`): a message decrypted twice after a retry; a group
//! re-send reaching a member added after the message; a message from a just-linked device
//! refused for good while the directory was stale; a retry refused for good on a stale list; and
//! two losses of the app rather than of tandem, both a crash right after a send or re-send had
//! committed and before its envelopes left (a group message then read as older than the sender
//! key; a sibling's sent copy never re-sent), fixed by the outbox (`Client::atomically`), which
//! the simulated app now uses. Fixed in tandem itself: a patch pushed under an app-state key
//! that another device had already expired (by a companion that had not yet received the
//! rotated key) jammed the collection for every device; now a collection records its newest
//! key epoch, an older-epoch patch after it is skipped by every device alike, and an expired
//! key is kept until no collection can need it (spec 08.7).

use super::*;

impl World {
    /// Device `d` never decrypted message `n`: the open known issue that explains it, if any.
    /// With none open, every such loss is a violation.
    pub(super) fn known_missing(&self, _d: DevId, _n: usize) -> Option<&'static str> {
        None
    }
}
