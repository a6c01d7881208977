//! Regressions: the seeds in `sim/regressions.txt` must run clean, strictly; the shrunk traces
//! in `sim/regressions/` of issues since fixed must run clean strictly. An open issue's
//! `known-*.trace` (none now) must still show it, and only it; replayed strictly it must run
//! clean once tandem is fixed (such tests are ignored until then:
//! `cargo test -p tandem-sim --test regressions -- --ignored`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;

use tandem_sim::config::Config;
use tandem_sim::event::TraceFile;
use tandem_sim::run::{RunOptions, run_seed, run_trace};

fn path(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The seeds of `regressions.txt`, each with its configuration.
fn seeds() -> Vec<(u64, Config, String)> {
    let text = std::fs::read_to_string(path("regressions.txt")).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let (fields, note) = line.split_once('#').unwrap_or((line, ""));
        if fields.trim().is_empty() {
            continue;
        }
        let mut config = Config::small();
        let mut seed = None;
        for f in fields.split_whitespace() {
            let (k, v) = f.split_once('=').unwrap_or_else(|| panic!("{line:?}: {f:?}"));
            match k {
                "seed" => seed = Some(v.parse().unwrap()),
                "accounts" => config.accounts = v.parse().unwrap(),
                "devices" => config.devices = v.parse().unwrap(),
                "events" => config.events = v.parse().unwrap(),
                "durable" => config.durable_share = v.parse().unwrap(),
                "groups" => config.groups = v.parse().unwrap(),
                // The event mix it was found with: `messages` (before app-state and media events).
                "mix" => {
                    assert_eq!(v, "messages", "{line:?}");
                    config.weights = config.weights.without_app_state_and_media();
                }
                _ => panic!("{line:?}: unknown field {k}"),
            }
        }
        out.push((seed.unwrap(), config, note.trim().to_string()));
    }
    out
}

#[test]
fn regression_seeds_run_clean() {
    let seeds = seeds();
    assert!(seeds.len() >= 5);
    let (mut ghost_pushes, mut skipped, mut refused) = (0, 0, 0);
    for (seed, config, note) in seeds {
        let (_, report) = run_seed(seed, &config, false);
        assert!(
            report.violations.is_empty(),
            "seed {seed} ({note}): {:#?}",
            report.violations
        );
        ghost_pushes += report.stats.app_ghost_pushes;
        skipped += report.stats.app_skipped;
        refused += report.stats.app_ghost_refused;
    }
    // Unlinked devices made patches under their old keys; no device took one (the runs are
    // clean), the reference skipped each, and devices that had forgotten the key refused them.
    assert!(
        ghost_pushes > 0 && skipped >= ghost_pushes && refused > 0,
        "{ghost_pushes} / {skipped} / {refused}"
    );
}

fn trace(name: &str) -> TraceFile {
    let text = std::fs::read_to_string(path(&format!("regressions/{name}.trace"))).unwrap();
    TraceFile::parse(&text).unwrap()
}

fn replay(name: &str, strict: bool) -> tandem_sim::RunReport {
    let file = trace(name);
    let options = RunOptions {
        max_companions: file.devices.clamp(1, 4) - 1,
        log: false,
        stop_at_first: false,
        strict,
        transient_attempts: tandem_sim::world::TRANSIENT_ATTEMPTS,
    };
    run_trace(file.seed, &file.events, options)
}

fn strict_clean(name: &str) -> tandem_sim::RunReport {
    let report = replay(name, true);
    assert!(report.violations.is_empty(), "{name}: {:#?}", report.violations);
    report
}

/// Issues tandem fixed (and app bugs the outbox fixed): their traces run clean, strictly.
#[test]
fn fixed_issues_stay_fixed() {
    for name in [
        "fixed-decrypted-twice-after-a-retry",
        "fixed-group-resend-reaches-later-member",
        "fixed-group-send-lost-in-crash-after-commit",
        "fixed-resend-lost-in-crash-after-commit",
        "fixed-group-message-overtaken-by-redistribution",
        "fixed-app-state-keys-from-companion-to-unlinked-device",
        "sim-resend-attempts-used-by-key-changes",
    ] {
        strict_clean(name);
    }
    let report = strict_clean("fixed-unverified-sender-while-directory-stale");
    assert!(report.stats.transient_kept > 0, "{:?}", report.stats);
    // The new installation's retry for a message sent to the old one is refused.
    let report = strict_clean("fixed-retry-served-to-new-installation");
    assert!(
        report.stats.failures.get("BadRetry").is_some_and(|n| *n > 0),
        "{:?}",
        report.stats
    );
}

/// By decision (spec 05.7), not an issue: a message encrypted to a previous installation of an
/// account (the directory was stale after a reinstall) is not due at the new one.
#[test]
fn a_message_to_a_previous_installation_is_not_due_at_the_next() {
    let report = strict_clean("previous-installation-not-due");
    assert_eq!(
        report.stats.excused_previous_installation, 1,
        "{:?}",
        report.stats
    );
}

/// The crash after a committed step in both outbox traces really happens (else they would not
/// test the outbox).
#[test]
fn the_outbox_traces_crash_after_a_committed_step() {
    for name in [
        "fixed-group-send-lost-in-crash-after-commit",
        "fixed-resend-lost-in-crash-after-commit",
    ] {
        let report = strict_clean(name);
        assert!(report.stats.crashes_after_step > 0, "{name}: {:?}", report.stats);
    }
}

/// By decision (spec 05), not an issue: the message is not due at the receiver.
#[test]
fn a_group_message_from_a_member_removed_in_flight_is_not_due() {
    let report = strict_clean("removed-sender-in-flight-not-due");
    assert_eq!(report.stats.excused_removed_sender, 1);
}

/// A patch pushed under an app-state key another device had expired (before any collection
/// moved past it) is applied, re-written under the new key, and the old key is forgotten only
/// after that (unlinked devices' patches under an old key: `regression_seeds_run_clean`).
#[test]
fn a_patch_under_an_expired_key_no_longer_jams_a_collection() {
    let report = strict_clean("fixed-app-state-patch-under-expired-key");
    let s = &report.stats;
    assert!(s.app_rekeyed > 0 && s.app_markers > 0, "{s:?}");
    assert!(s.app_keys_forgotten > 0, "{s:?}");
}
