//! Known tandem issues: a failure the simulator found that tandem has not fixed yet is recognised
//! here, so that a campaign goes on finding new ones. Each is counted in [`Stats::known`] instead
//! of being a violation, unless the run is strict ([`World::set_strict`]); each has a shrunk
//! trace in `sim/regressions/known-*.trace` replayed strictly by an ignored test in
//! `sim/tests/regressions.rs` (it passes once tandem is fixed; then the trace is renamed
//! `fixed-*`, and its classifier leaves this module).
//!
//! Open:
//!
//! - [`PATCH_UNDER_EXPIRED_KEY`]: a companion that has not yet learned of a key rotation (here a
//!   tampering server withheld the newest patches, so it did not see the `KeyExpiration`) pushes
//!   a mutation under the expired key; the server takes it; every device then refuses that patch
//!   (`ExpiredKey`, spec 08) and the collection is stuck at the server's head for good — a reset
//!   to the snapshot meets the same patch. A device holding an old key (an unlinked one too) can
//!   jam a collection this way. The fix belongs to app-state sync (issue 8): a deterministic rule
//!   for a patch under an expired key that all honest devices apply alike (skip it: version
//!   advances, state and LTHash unchanged, with the next patch's MACs computed the same way) and
//!   the pusher re-sending its mutation under the current key. Classified here: convergence
//!   findings in an account where an honest sync stopped on an expired key.
//!
//! Fixed since the simulator found them (their traces are plain regression
//! tests, `sim/regressions/fixed-*.trace`): a message decrypted twice after a retry; a group
//! re-send reaching a member added after the message; a message from a just-linked device
//! refused for good while the directory was stale; a retry refused for good on a stale list; and
//! two losses of the app rather than of tandem, both a crash right after a send or re-send had
//! committed and before its envelopes left (a group message then read as older than the sender
//! key; a sibling's sent copy never re-sent), fixed by the outbox (`Client::atomically`), which
//! the simulated app now uses.

use super::*;

/// See the module documentation.
pub const PATCH_UNDER_EXPIRED_KEY: &str = "app-state-patch-under-expired-key-jams-collection";

impl World {
    /// Device `d` never decrypted message `n`: the open known issue that explains it, if any.
    /// With none open, every such loss is a violation.
    pub(super) fn known_missing(&self, _d: DevId, _n: usize) -> Option<&'static str> {
        None
    }
}
