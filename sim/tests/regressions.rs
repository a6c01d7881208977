//! Regressions: the seeds in `sim/regressions.txt` must run clean (known tandem issues
//! tolerated), and each known tandem issue's shrunk trace in `sim/regressions/` must reproduce
//! it — replayed strictly, it must run clean once tandem is fixed (those tests are ignored
//! until then: `cargo test -p tandem-sim --test regressions -- --ignored`).

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
    for (seed, config, note) in seeds {
        let (_, report) = run_seed(seed, &config, false);
        assert!(
            report.violations.is_empty(),
            "seed {seed} ({note}): {:#?}",
            report.violations
        );
    }
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
    };
    run_trace(file.seed, &file.events, options)
}

const KNOWN: [&str; 4] = [
    "decrypted-twice-after-a-retry",
    "group-resend-goes-to-current-members",
    "group-message-from-member-removed-in-flight-lost",
    "loss-after-stale-directory-answer",
];

/// Each known issue's trace still shows it (tolerated), and nothing else.
#[test]
fn known_issue_traces_show_only_their_issue() {
    for name in KNOWN {
        let report = replay(name, false);
        assert!(report.violations.is_empty(), "{name}: {:#?}", report.violations);
        assert!(
            report.stats.known.contains_key(name),
            "{name} no longer shows: {:?}",
            report.stats.known
        );
    }
}

fn strict_clean(name: &str) {
    let report = replay(name, true);
    assert!(report.violations.is_empty(), "{name}: {:#?}", report.violations);
}

#[test]
#[ignore = "tandem issue: a message re-sent after a retry request is returned again when the original (or a second re-send) is read too; the client keeps no record of message ids it returned"]
fn strict_decrypted_twice_after_a_retry() {
    strict_clean("decrypted-twice-after-a-retry");
}

#[test]
#[ignore = "tandem issue: resend_to_missing for a group message sends to the group's current members, not those it was sent to"]
fn strict_group_resend_goes_to_current_members() {
    strict_clean("group-resend-goes-to-current-members");
}

#[test]
#[ignore = "tandem issue: a group message from a member removed while it is in flight is refused (NotAllowed) and never asked for again"]
fn strict_group_message_from_member_removed_in_flight() {
    strict_clean("group-message-from-member-removed-in-flight-lost");
}

#[test]
#[ignore = "tandem issue: failures caused by a stale directory answer (UnverifiedSender for a just-linked device, UntrustedIdentity, a refused retry) are never healed once the directory is fresh"]
fn strict_loss_after_stale_directory_answer() {
    strict_clean("loss-after-stale-directory-answer");
}
