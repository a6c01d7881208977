//! Invariant violations, and the statistics of a run.

use std::collections::BTreeMap;
use std::fmt;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// A step panicked.
    Panic,
    /// A device decrypted a message twice.
    DecryptedTwice,
    /// A device decrypted a message it should not have (not a recipient then).
    NotEntitled,
    /// A decrypted message differs from what was sent (body, sender, group), or is unknown.
    WrongContent,
    /// At the end, a device that should have a message never decrypted it.
    Missing,
    /// A peer used an account's new identity without being told the account key changed.
    SilentKeyChange,
    /// A send, a re-send or a group change failed where nothing should make it fail.
    OperationFailed,
    /// A device could not be restarted from its store.
    RestartFailed,
    /// Delivering everything did not empty the queues (a retry loop).
    NoQuiesce,
}

impl ViolationKind {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::DecryptedTwice => "decrypted-twice",
            Self::NotEntitled => "not-entitled",
            Self::WrongContent => "wrong-content",
            Self::Missing => "missing",
            Self::SilentKeyChange => "silent-key-change",
            Self::OperationFailed => "operation-failed",
            Self::RestartFailed => "restart-failed",
            Self::NoQuiesce => "no-quiesce",
        }
    }
}

/// One violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What.
    pub kind: ViolationKind,
    /// The trace step it was seen at (the trace length for end-of-run checks).
    pub step: usize,
    /// Details.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] at step {}: {}", self.kind.name(), self.step, self.detail)
    }
}

/// Counters of a run (summed over a campaign).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Runs.
    pub runs: u64,
    /// Accounts created.
    pub accounts: u64,
    /// Device incarnations created (primaries, companions, reinstalled primaries).
    pub devices: u64,
    /// Most devices alive at once (the largest over a campaign).
    pub max_live_devices: u64,
    /// Events run.
    pub events: u64,
    /// 1:1 messages sent.
    pub messages: u64,
    /// Group messages sent.
    pub group_messages: u64,
    /// Probe messages sent after quiescing.
    pub probes: u64,
    /// (message, device) pairs owed.
    pub owed: u64,
    /// Decryptions (messages and sent copies).
    pub decrypted: u64,
    /// Envelopes posted to the relay.
    pub posted: u64,
    /// Envelopes processed by devices.
    pub delivered: u64,
    /// Envelopes refused by the relay (no such device).
    pub refused: u64,
    /// Envelopes wiped with an unlinked or reinstalled device's queue.
    pub wiped: u64,
    /// Envelopes kept after a transient failure, to be offered again.
    pub transient_kept: u64,
    /// Envelopes given up after too many transient failures.
    pub transient_given_up: u64,
    /// Owed (message, device) pairs not due after all: the sender was removed from the group
    /// while the message was in flight (refused by decision, spec 05).
    pub excused_removed_sender: u64,
    /// Duplicates the clients recognised.
    pub duplicates: u64,
    /// Retry requests sent.
    pub retry_requests: u64,
    /// Retry requests served.
    pub retries_served: u64,
    /// Device-set mismatches the relay reported after a send.
    pub mismatches: u64,
    /// Re-sends to missing devices.
    pub resends: u64,
    /// Sends that failed while the directory was stale (the app reports them to the user).
    pub sends_failed_stale: u64,
    /// Messages from an account's previous installation read after the new key was accepted.
    pub old_installation_reads: u64,
    /// Account key changes surfaced to a peer and accepted.
    pub key_changes: u64,
    /// Crashes in the middle of a step.
    pub crashes_mid_step: u64,
    /// Crashes right after a step.
    pub crashes_after_step: u64,
    /// Restarts from the store (after crashes and plain restarts).
    pub restarts: u64,
    /// Companion links.
    pub links: u64,
    /// Companion unlinks.
    pub unlinks: u64,
    /// Primary reinstalls.
    pub reinstalls: u64,
    /// Group membership changes.
    pub membership_changes: u64,
    /// Faults injected, by kind (only those that hit something).
    pub faults: BTreeMap<&'static str, u64>,
    /// Receive failures, by kind.
    pub failures: BTreeMap<String, u64>,
    /// Known tandem issues seen (not reported as violations unless the run is strict), by name.
    pub known: BTreeMap<&'static str, u64>,
    /// Owed (message, device) pairs excused: the envelope was lost for good.
    pub excused_lost: u64,
    /// Owed (message, device) pairs excused: the sender was gone.
    pub excused_sender_gone: u64,
}

impl Stats {
    /// Adds another run's counters.
    pub fn merge(&mut self, o: &Stats) {
        macro_rules! add {
            ($($f:ident),*) => { $(self.$f += o.$f;)* };
        }
        add!(
            runs,
            accounts,
            devices,
            events,
            messages,
            group_messages,
            probes,
            owed,
            decrypted,
            posted,
            delivered,
            refused,
            wiped,
            duplicates,
            transient_kept,
            transient_given_up,
            excused_removed_sender,
            retry_requests,
            retries_served,
            mismatches,
            resends,
            sends_failed_stale,
            old_installation_reads,
            key_changes,
            crashes_mid_step,
            crashes_after_step,
            restarts,
            links,
            unlinks,
            reinstalls,
            membership_changes,
            excused_lost,
            excused_sender_gone
        );
        self.max_live_devices = self.max_live_devices.max(o.max_live_devices);
        for (k, v) in &o.faults {
            *self.faults.entry(k).or_default() += v;
        }
        for (k, v) in &o.known {
            *self.known.entry(k).or_default() += v;
        }
        for (k, v) in &o.failures {
            *self.failures.entry(k.clone()).or_default() += v;
        }
    }
}
