//! Known tandem issues the simulator found and tandem has not fixed yet: recognised so that a
//! campaign goes on finding new ones. Each is counted in [`Stats::known`] instead of being a
//! violation, unless the run is strict ([`World::set_strict`]); each has a shrunk trace in
//! `sim/regressions/known-*.trace` replayed strictly by an ignored test in
//! `sim/tests/regressions.rs` (it passes once tandem is fixed; then drop the classifier here).
//!
//! - [`STALE_DIRECTORY_LOSS`]: a failure caused by a stale directory answer that is final rather
//!   than transient is never healed once the directory is fresh again. The shape seen: a peer
//!   reinstalls while the directory still serves its old list; a sender encrypts to the old
//!   installation; the new device cannot read it and asks for a retry; the sender refuses the
//!   request (`BadRetry`: the requester's identity is not the one on the stale list) and nothing
//!   asks again, so the message is lost.
//! - [`OLDER_THAN_SENDER_KEY`]: a group message older than the receiver's copy of the sender's
//!   chain (the receiver got the sender key later, from a later distribution) is reported as
//!   `Duplicate` — as libsignal does — so no retry is asked and it is lost. Seen when a sender
//!   crashes right after a group send committed: the envelopes never left, but the sender
//!   recorded the recipients as holding its key, so its next message carries no distribution;
//!   the key reaches them only later (after a retry), and an earlier message that was delayed
//!   then arrives "too old".
//!
//! Fixed in tandem since the simulator found them (their traces are now plain regression
//! tests, `sim/regressions/fixed-*.trace`): a message decrypted twice after a retry; a group
//! re-send reaching a member added after the message; a message from a just-linked device
//! refused for good while the directory was stale (now a transient failure the app offers again).

use super::*;

/// See the module documentation.
pub const OLDER_THAN_SENDER_KEY: &str = "group-message-older-than-sender-key-reported-duplicate";
/// See the module documentation.
pub const STALE_DIRECTORY_LOSS: &str = "loss-after-stale-directory-answer";

impl World {
    /// Device `d` never decrypted message `n`: known if it was told the group message was a
    /// duplicate, or if a stale directory answer was involved.
    pub(super) fn known_missing(&self, d: DevId, n: usize) -> Option<&'static str> {
        let m = self.ledger.get(n)?;
        if self.unread_duplicates.contains(&(d, n)) {
            return Some(OLDER_THAN_SENDER_KEY);
        }
        if !m.sent_while_stale.is_empty() || m.failed_while_stale.contains(&d) {
            return Some(STALE_DIRECTORY_LOSS);
        }
        None
    }
}
