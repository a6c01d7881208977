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
    /// A device's app state is not what the server's log gives (after a sync), or at the end
    /// differs from the server's head.
    AppStateDiverged,
    /// At the end, a mutation the server acknowledged is not reflected (and no later one
    /// replaced it).
    AppStateLost,
    /// An honest app-state sync failed, or at the end a device still has mutations it never
    /// pushed.
    AppStateStuck,
    /// App-state keys went to a device that is not a live device of the account, or an
    /// unlinked device holds a key (or an entry under a key) made after its unlink.
    KeyLeak,
    /// A sync through a tampering server took in something the server's log does not give, or
    /// changed the collection it failed on.
    TamperAccepted,
    /// A photo read differs from what was sent (pointer or plaintext).
    MediaWrongContent,
    /// A photo whose blob is intact could not be fetched or decrypted, or was never fetched.
    MediaFailed,
    /// At the end, a live companion lacks messages of its history sync (and the sync was not
    /// lost for good).
    HistoryIncomplete,
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
            Self::AppStateDiverged => "app-state-diverged",
            Self::AppStateLost => "app-state-lost",
            Self::AppStateStuck => "app-state-stuck",
            Self::KeyLeak => "key-leak",
            Self::TamperAccepted => "tamper-accepted",
            Self::MediaWrongContent => "media-wrong-content",
            Self::MediaFailed => "media-failed",
            Self::HistoryIncomplete => "history-incomplete",
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
    /// Owed (message, device) pairs excused: encrypted to a previous installation of the
    /// device's account (a stale directory after a reinstall; never re-sent to a later one).
    pub excused_previous_installation: u64,
    /// Settings changed (app-state mutations queued).
    pub app_settings: u64,
    /// App-state sync passes.
    pub app_syncs: u64,
    /// Mutations the server acknowledged.
    pub app_pushed: u64,
    /// Changes pulled from other devices.
    pub app_received: u64,
    /// Conflicts (409) met while pushing.
    pub app_conflicts: u64,
    /// Pending mutations dropped because a later change won.
    pub app_superseded: u64,
    /// Pending mutations lost in a crash.
    pub app_pending_lost: u64,
    /// App states read back after a restart.
    pub app_restored: u64,
    /// App-state keys minted.
    pub app_keys_minted: u64,
    /// Key rotations (unlinks).
    pub app_rotations: u64,
    /// Values re-written under a new key.
    pub app_rekeyed: u64,
    /// Key shares sent.
    pub app_key_shares: u64,
    /// Key shares taken in.
    pub app_key_shares_taken: u64,
    /// Key requests sent.
    pub app_key_requests: u64,
    /// Empty patches pushed to move a collection past an expired key epoch.
    pub app_markers: u64,
    /// Patches skipped (under an older key epoch than their collection's).
    pub app_skipped: u64,
    /// Expired keys forgotten (once no collection needed them).
    pub app_keys_forgotten: u64,
    /// Patches made by unlinked devices under their old key after the end (`ghost_check`).
    pub app_ghost_pushes: u64,
    /// Such patches refused by a live device that no longer held the key.
    pub app_ghost_refused: u64,
    /// Tampered syncs refused (a typed error, state kept).
    pub app_tamper_detected: u64,
    /// Tampered syncs that took in nothing forged (the attack missed, or only withheld).
    pub app_tamper_harmless: u64,
    /// Photos sent.
    pub photos: u64,
    /// Photos fetched and decrypted.
    pub photos_fetched: u64,
    /// Photos refused after a blob-store fault (a typed error).
    pub photos_refused_faulted: u64,
    /// History syncs started (one per link).
    pub history_syncs: u64,
    /// Messages packaged in them.
    pub history_items_sent: u64,
    /// History notifications sent (first sends and re-uploads).
    pub history_notifications: u64,
    /// History chunks applied by companions.
    pub history_chunks_applied: u64,
    /// History chunks that failed (a faulted blob).
    pub history_chunks_failed: u64,
    /// Chunk requests companions sent.
    pub history_chunk_requests: u64,
    /// Messages shown from history.
    pub history_items_shown: u64,
    /// Syncs complete at the end (live companion and primary).
    pub history_syncs_complete: u64,
    /// Syncs excused at the end: none of their notifications arrived (lost for good).
    pub history_syncs_lost: u64,
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
            excused_sender_gone,
            excused_previous_installation,
            app_settings,
            app_syncs,
            app_pushed,
            app_received,
            app_conflicts,
            app_superseded,
            app_pending_lost,
            app_restored,
            app_keys_minted,
            app_rotations,
            app_rekeyed,
            app_key_shares,
            app_key_shares_taken,
            app_key_requests,
            app_markers,
            app_skipped,
            app_keys_forgotten,
            app_ghost_pushes,
            app_ghost_refused,
            app_tamper_detected,
            app_tamper_harmless,
            photos,
            photos_fetched,
            photos_refused_faulted,
            history_syncs,
            history_items_sent,
            history_notifications,
            history_chunks_applied,
            history_chunks_failed,
            history_chunk_requests,
            history_items_shown,
            history_syncs_complete,
            history_syncs_lost
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
