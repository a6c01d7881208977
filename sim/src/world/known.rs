//! Known tandem issues the simulator found: recognised so that a campaign goes on finding new
//! ones. Each is counted in [`Stats::known`] instead of being a violation, unless the run is
//! strict ([`World::set_strict`]); each has a regression test in `sim/tests/regressions.rs`
//! (ignored until tandem fixes it) that replays its shrunk trace strictly.
//!
//! - [`TWICE_AFTER_RETRY`]: a device that could not read a message asks for it again, and the
//!   sender re-sends it in a fresh pairwise envelope; if the device then also reads the original
//!   (a duplicate delivery that arrives after the missing sender key did) or a second re-send (it
//!   asked twice: the undecryptable envelope was delivered twice), it decrypts the message a
//!   second time — the client keeps no record of the message ids it already returned.
//! - [`RESEND_TO_CURRENT_MEMBERS`]: `resend_to_missing` for a group message sends to the
//!   group's *current* members: an account added after the message was sent receives it, and a
//!   member removed since never gets it although it was a member when it was sent.
//! - [`REMOVED_SENDER_IN_FLIGHT`]: a group message sent by a member who is removed before it is
//!   delivered is refused (`NotAllowed`: membership is checked when it arrives, not as of when
//!   it was sent) and, not being a decryption failure, never asked for again: it is lost.
//! - [`STALE_DIRECTORY_LOSS`]: a failure caused by a stale directory answer — an unverified
//!   sender (a device linked since, not yet served), an identity that does not match the stale
//!   list, a retry request the sender refuses because its own view is stale — is never healed
//!   once the directory is fresh again: nothing asks for the message again, so it is lost.

use super::*;

/// See the module documentation.
pub const TWICE_AFTER_RETRY: &str = "decrypted-twice-after-a-retry";
/// See the module documentation.
pub const RESEND_TO_CURRENT_MEMBERS: &str = "group-resend-goes-to-current-members";
/// See the module documentation.
pub const STALE_DIRECTORY_LOSS: &str = "loss-after-stale-directory-answer";
/// See the module documentation.
pub const REMOVED_SENDER_IN_FLIGHT: &str = "group-message-from-member-removed-in-flight-lost";

impl World {
    /// Device `d` decrypted message `n` more than once: known if it had asked for it again.
    pub(super) fn known_twice(&self, d: DevId, n: usize) -> Option<&'static str> {
        let m = self.ledger.get(n)?;
        let asked = self.retries_asked.get(&(d, m.id)).copied().unwrap_or(0);
        (asked >= 1).then_some(TWICE_AFTER_RETRY)
    }

    /// Device `d` decrypted group message `n` without being entitled: known if its account was
    /// not in the audience and the message was re-sent.
    pub(super) fn known_not_entitled(&self, d: DevId, n: usize) -> Option<&'static str> {
        let m = self.ledger.get(n)?;
        let account = self.devices.get(d)?.account;
        (m.group.is_some() && m.resent && !m.audience.contains(&account)).then_some(RESEND_TO_CURRENT_MEMBERS)
    }

    /// Device `d` never decrypted message `n`: known if the sender's account was removed from
    /// the group after sending it; if the device's account was, and the device had not been
    /// sent it (it was waiting for a re-send); if a stale directory answer was involved.
    pub(super) fn known_missing(&self, d: DevId, n: usize) -> Option<&'static str> {
        let m = self.ledger.get(n)?;
        let info = self.devices.get(d)?;
        if let Some(group) = m.group.and_then(|g| self.groups.get(g)) {
            let sender = self.devices.get(m.sender)?.account;
            let removed_after = |account: usize| {
                group
                    .removed
                    .iter()
                    .any(|(a, step)| *a == account && *step >= m.step)
            };
            if removed_after(sender) {
                return Some(REMOVED_SENDER_IN_FLIGHT);
            }
            if removed_after(info.account) && !m.addressed.contains(&info.address) {
                return Some(RESEND_TO_CURRENT_MEMBERS);
            }
        }
        if !m.sent_while_stale.is_empty() || m.failed_while_stale.contains(&d) {
            return Some(STALE_DIRECTORY_LOSS);
        }
        None
    }
}
