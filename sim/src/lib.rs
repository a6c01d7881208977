//! A deterministic whole-system simulator for tandem (issue 9): many accounts, each a primary
//! and up to three companions, over an in-memory relay with a simulated clock, with faults
//! injected and invariants checked as the run goes and at its end.
//!
//! A run is a seed and a trace. The trace ([`event::Event`]s, generated from the seed by
//! [`generate::generate`], or read from a file, or made from fuzzer bytes by
//! [`fuzz::events_from_bytes`]) says what happens; the seed feeds the clients' randomness
//! (ChaCha20). The same seed and trace always give the same run, so a failing run is
//! reported as its seed and a trace, shrunk ([`shrink::shrink`]) to the shortest that still
//! fails.
//!
//! # The world
//!
//! - Accounts `a0, a1, …`, each a primary and 0–3 companions (linked with `begin_link` →
//!   `approve_link` → `finish_with`), each device a `tandem::client::Client` over a
//!   [`store::SimStore`]: in memory, or a SQLite file (in `/dev/shm` when there is one, or
//!   `TANDEM_SIM_DIR`).
//! - Groups: membership is the group service's; a change reaches every device of every member
//!   (and of the member removed) at once, and a new device (linked, or a reinstalled primary)
//!   is told its account's groups.
//! - The relay: `tandem::client::MemoryRelay` as the directory (device lists, identities,
//!   prekeys) and [`network::Network`] as the queues. After each send the relay compares the
//!   devices addressed with the devices registered (the server's device-mismatch answer); the
//!   sender then calls `resend_to_missing` once the directory answers freshly.
//! - The app around each client: it posts what a send or receive returns, accepts an account-key
//!   change when a send fails with `AccountKeyChanged` or a receive with `UnverifiedSender`
//!   turns out to be one (then processes the envelope again), keeps an envelope whose failure is
//!   transient (`ReceiveFailure::is_transient`) and offers it again later (12 times at most, 5 s
//!   apart), and sends again after a crash that undid the send. It keeps an outbox in the
//!   device's store, written in the same transaction as the step that made the envelopes
//!   (`Client::atomically` around a send or re-send, `Client::receive_with` for a receive's
//!   replies), and hands it to the relay after each step and when it starts again
//!   ([`store`] states the model): a crash never loses envelopes of a step that committed.
//!
//! - App state (spec 08; `world/app_state.rs` states the model): each account has a
//!   `MemoryAppStateServer`; the primary mints the account's app-state key and shares it with
//!   its companions as a self message through the simulated network, rotates it when a
//!   companion is unlinked (rekey, `KeyExpiration`), and a reinstall starts afresh; a device
//!   lacking a key asks its own devices (`AppStateKeyRequest`). The app persists each device's
//!   collections, ring and pending mutations (the `persist.rs` encodings) after every setting,
//!   sync and key change, beside the `SimStore`, and reads them back on a restart. At the end, a patch each unlinked device makes under its old key is taken by no live
//!   device (skipped or refused). App state starts at a run's
//!   first app-state event.
//! - Media (spec 07; `world/media.rs`): a photo is encrypted with `tandem::media`, its blob put
//!   in the world's `MemoryBlobStore`, and its pointer sent with `Client::send_attachment`
//!   through the ordinary send path; every device that decrypts the message fetches and
//!   decrypts the blob.
//! - History sync (spec 09; `world/history.rs` states the model): when a companion is linked,
//!   the primary's app packages the messages it has shown (sent or decrypted) with
//!   `HistoryPackage` (8 messages a chunk), puts the chunks in the same blob store and sends one
//!   `HistorySync` self message per chunk to the new companion through the simulated network
//!   (again once the directory lists it, if a stale answer did not). The companion's app keeps
//!   a `HistoryImporter` (its `to_bytes`, the app's saved state), applies the chunks that are
//!   ready and shows their messages; a chunk that fails is asked for again with a
//!   `HistoryChunkRequest` (the primary uploads it afresh), and at the end of a run a stalled
//!   sync asks for the chunks whose notification never came.
//!
//! # Events and faults
//!
//! 1:1 and group messages, group creation and membership changes, linking and unlinking
//! companions, primary reinstalls (a new account key: every old device is gone; peers must be
//! told — see below), deliveries, time passing, settings changed (app state) and app-state
//! syncs, photos (1:1 and group); and the faults: failed delivery attempts, duplicates, delays,
//! reordering, envelopes lost for good ([`network`] states the delivery model), a stale
//! directory ([`directory`]), crashes at any store operation of a step with a restart from the
//! store through `Client::open` ([`store`] states the crash model), an app-state sync served by
//! a tampering server (drop / swap / replay / bit flip / old snapshot), and a blob lost or
//! corrupted by the blob store (a photo's: `blob-fault`; a history chunk's: `history-fault`).
//!
//! # Invariants
//!
//! Checked as events run:
//! - a message decrypts at most once on a device, with the body, sender and group it was sent
//!   with, and only on a device entitled to it ([`ledger`] defines who is);
//! - after a primary reinstall, a peer that knew the old installation encrypts to or accepts
//!   messages (or a sender key) from the new one only after being told the account key changed
//!   (`AccountKeyChanged` from a send, or a receive refused as `UnverifiedSender` that
//!   `refresh_devices` explains; the app then calls `accept_account_key`). A reinstall ends the
//!   old installation: its devices are gone (companions logged out), what was queued for them is
//!   wiped, and what they sent that is still undelivered is no longer owed (receivers check the
//!   sender against the current device list);
//! - no step panics (each is run under `catch_unwind`); sends, group changes and restarts do not
//!   fail in an honest world.
//! - app state: after every sync each collection of the device is the state the server's log
//!   gives at its version; a sync through a tampering server fails with a typed `SyncError`
//!   and leaves the collection it failed on unchanged, or takes in nothing forged; app-state
//!   keys are encrypted only to live devices of the account, and an unlinked device never holds
//!   a key (or an entry under a key) made after its unlink;
//! - media: the attachment a device reads is the pointer sent, and the photo decrypts to exactly
//!   the bytes encrypted (the ledger keeps them); it fails — with a typed error, never other
//!   bytes — only when the blob store lost or corrupted the blob (then the photo, not the
//!   message, is excused).
//! - history: every message a companion shows from history is one its primary had shown
//!   before the link (in that sync's package; the sync is the companion's own), with the body,
//!   sender and photo pointer sent, never shown twice on a device; a chunk fails only when its
//!   blob was faulted (and with the fault's reason), and a faulted blob is never applied.
//!
//! At the end of a run every fault stops (delays and stale answers expire), everything queued is
//! delivered with re-sends and retries running to their bounds ("quiesce"), then every account
//! and group sends one more message (a probe: nothing is stuck) which is delivered too; then
//! every message must have been decrypted on every device that should have it ([`ledger`]).
//! Then every live device syncs its app state (key requests answered) until nothing changes:
//! every live device of an account must hold the same five collections as the server's head,
//! with nothing left pending, and every mutation the server acknowledged must be there unless a
//! later one (last writer wins, by timestamp) replaced it; every device that decrypted a photo
//! message must have fetched the photo. Then companions ask for what their history sync still
//! lacks (a few rounds, deliveries in between): every live companion whose primary is alive must
//! have shown every message of its sync, unless none of the sync's notifications arrived (one
//! lost for good). Live delivery is unchanged: a companion linked after a message is still not
//! entitled to decrypt it; it gets it from history.
//!
//! Known tandem issues (found by this simulator, `world/known.rs`) would be counted and
//! tolerated unless the run is strict, so that a campaign keeps looking for new ones; none is
//! open. Two losses are tandem's decisions and excused: a group message from a member removed
//! while it was in flight (spec 05.6), and a message encrypted to a previous installation of an
//! account, never re-sent to the next (spec 05.7).
//!
//! # Not simulated
//!
//! History syncs other than the full one at link (on-demand, recent, push names) and contacts
//! in chunks. The event enum is where more would go, with their invariants in [`world`].

pub mod campaign;
pub mod clock;
pub mod config;
pub mod directory;
pub mod event;
pub mod fuzz;
pub mod generate;
pub mod invariants;
pub mod ledger;
pub mod network;
pub mod run;
pub mod shrink;
pub mod store;
pub mod world;

pub use config::{Config, Weights};
pub use event::{DevRef, Event};
pub use invariants::{Stats, Violation, ViolationKind};
pub use run::{RunOptions, RunReport, run_seed, run_trace};
