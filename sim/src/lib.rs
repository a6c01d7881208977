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
//!   apart), and sends again after a crash.
//!
//! # Events and faults
//!
//! 1:1 and group messages, group creation and membership changes, linking and unlinking
//! companions, primary reinstalls (a new account key: every old device is gone; peers must be
//! told — see below), deliveries, time passing; and the faults: failed delivery attempts,
//! duplicates, delays, reordering, envelopes lost for good ([`network`] states the delivery
//! model), a stale directory ([`directory`]), and crashes at any store operation of a step with
//! a restart from the store through `Client::open` ([`store`] states the crash model).
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
//!
//! At the end of a run every fault stops (delays and stale answers expire), everything queued is
//! delivered with re-sends and retries running to their bounds ("quiesce"), then every account
//! and group sends one more message (a probe: nothing is stuck) which is delivered too; then
//! every message must have been decrypted on every device that should have it ([`ledger`]).
//!
//! Known tandem issues (found by this simulator, `world/known.rs`) are counted and tolerated
//! unless the run is strict, so that a campaign keeps looking for new ones.
//!
//! # Not yet simulated (hooks for later)
//!
//! The event enum is where these go, with their invariants in [`world`]:
//! - TODO app-state changes (issue: app-state sync): an event that changes a setting on one
//!   device, and the invariant that every device of the account converges to the same state.
//! - TODO media: a message with an attachment (upload to a blob store, the key in the message),
//!   the invariant that every recipient device can fetch and decrypt it, and a fault that loses
//!   or corrupts a blob.
//! - TODO history sync: a device linked later gets the history; then "linked after the message"
//!   moves from *not entitled* to *owed through history*.

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
