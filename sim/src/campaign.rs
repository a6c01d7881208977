//! Campaigns: many seeds, one summary table; failing seeds are shrunk to a short trace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::event::{Event, TraceFile};
use crate::generate::generate;
use crate::invariants::{Stats, Violation, ViolationKind};
use crate::run::{RunOptions, run_trace};
use crate::shrink::shrink;

/// A seed that failed.
#[derive(Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Its first violation.
    pub violation: Violation,
    /// Every violation kind it showed.
    pub kinds: Vec<ViolationKind>,
    /// The trace, shrunk when shrinking was asked for.
    pub trace: Vec<Event>,
    /// The trace's length before shrinking.
    pub original_len: usize,
}

/// What a campaign gave.
#[derive(Debug)]
pub struct CampaignReport {
    /// The configuration.
    pub config: Config,
    /// The first seed.
    pub start: u64,
    /// Seeds run.
    pub seeds: u64,
    /// Summed counters.
    pub stats: Stats,
    /// Failing seeds.
    pub failures: Vec<Failure>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs seeds `start..start + count` (`strict`: known tandem issues count as violations).
/// Failing seeds are shrunk (within `shrink_budget` each, for the first `shrink_limit` failures
/// of each violation kind).
pub fn run_campaign(
    config: &Config,
    start: u64,
    count: u64,
    shrink_budget: Option<Duration>,
    shrink_limit: usize,
    strict: bool,
    mut progress: impl FnMut(u64, &Stats, usize),
) -> CampaignReport {
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let mut shrunk: BTreeMap<ViolationKind, usize> = BTreeMap::new();
    for seed in start..start.saturating_add(count) {
        let trace = generate(seed, config);
        let mut options = RunOptions::for_config(config);
        options.strict = strict;
        let report = run_trace(seed, &trace, options);
        stats.merge(&report.stats);
        if let Some(first) = report.violations.first().cloned() {
            let mut kinds: Vec<ViolationKind> = report.violations.iter().map(|v| v.kind).collect();
            kinds.sort();
            kinds.dedup();
            let done = shrunk.entry(first.kind).or_default();
            let trace = match shrink_budget {
                Some(budget) if *done < shrink_limit => {
                    *done += 1;
                    shrink(seed, &trace, options, first.kind, budget)
                }
                _ => trace,
            };
            failures.push(Failure {
                seed,
                violation: first,
                kinds,
                original_len: report.events,
                trace,
            });
        }
        progress(seed, &stats, failures.len());
    }
    CampaignReport {
        config: config.clone(),
        start,
        seeds: count,
        stats,
        failures,
        elapsed: started.elapsed(),
    }
}

impl CampaignReport {
    /// The summary table.
    pub fn table(&self) -> String {
        let s = &self.stats;
        let c = &self.config;
        let mut out = String::new();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<34} {v}");
        };
        row(
            "seeds",
            format!("{} ({}..{})", self.seeds, self.start, self.start + self.seeds),
        );
        row(
            "world",
            format!(
                "{} accounts x up to {} devices{}, {} events, {:.0}% SQLite devices",
                c.accounts,
                c.devices,
                if c.full { " (all full)" } else { "" },
                c.events,
                c.durable_share * 100.0
            ),
        );
        row("events run", s.events.to_string());
        row(
            "accounts / device incarnations",
            format!("{} / {}", s.accounts, s.devices),
        );
        row("most devices alive in one run", s.max_live_devices.to_string());
        row(
            "links / unlinks / reinstalls",
            format!("{} / {} / {}", s.links, s.unlinks, s.reinstalls),
        );
        row("group membership changes", s.membership_changes.to_string());
        row(
            "messages sent (1:1 / group / probe)",
            format!("{} / {} / {}", s.messages, s.group_messages, s.probes),
        );
        row("(message, device) pairs owed", s.owed.to_string());
        row("decryptions", s.decrypted.to_string());
        row(
            "not due (lost / sender gone / removed / earlier installation)",
            format!(
                "{} / {} / {} / {}",
                s.excused_lost,
                s.excused_sender_gone,
                s.excused_removed_sender,
                s.excused_previous_installation
            ),
        );
        row(
            "transient failures kept / given up",
            format!("{} / {}", s.transient_kept, s.transient_given_up),
        );
        row(
            "envelopes posted / processed",
            format!("{} / {}", s.posted, s.delivered),
        );
        row(
            "envelopes refused / wiped",
            format!("{} / {}", s.refused, s.wiped),
        );
        row("duplicates recognised", s.duplicates.to_string());
        row(
            "retry requests / served",
            format!("{} / {}", s.retry_requests, s.retries_served),
        );
        row(
            "device mismatches / re-sends",
            format!("{} / {}", s.mismatches, s.resends),
        );
        row("account key changes accepted", s.key_changes.to_string());
        row(
            "previous-installation reads after",
            s.old_installation_reads.to_string(),
        );
        row(
            "sends refused (stale directory)",
            s.sends_failed_stale.to_string(),
        );
        row(
            "crashes (mid-step / after step)",
            format!("{} / {}", s.crashes_mid_step, s.crashes_after_step),
        );
        row("restarts from the store", s.restarts.to_string());
        row(
            "app state: settings / syncs",
            format!("{} / {}", s.app_settings, s.app_syncs),
        );
        row(
            "  pushed / pulled / conflicts",
            format!("{} / {} / {}", s.app_pushed, s.app_received, s.app_conflicts),
        );
        row(
            "  superseded / lost in crashes",
            format!("{} / {}", s.app_superseded, s.app_pending_lost),
        );
        row(
            "  keys minted / rotations / rekeyed",
            format!("{} / {} / {}", s.app_keys_minted, s.app_rotations, s.app_rekeyed),
        );
        row(
            "  key shares sent / taken / requests",
            format!(
                "{} / {} / {}",
                s.app_key_shares, s.app_key_shares_taken, s.app_key_requests
            ),
        );
        row(
            "  restored / keys forgotten",
            format!("{} / {}", s.app_restored, s.app_keys_forgotten),
        );
        row(
            "  epoch markers / patches skipped",
            format!("{} / {}", s.app_markers, s.app_skipped),
        );
        row(
            "  unlinked devices' patches / refused",
            format!("{} / {}", s.app_ghost_pushes, s.app_ghost_refused),
        );
        row(
            "  tampered syncs refused / harmless",
            format!("{} / {}", s.app_tamper_detected, s.app_tamper_harmless),
        );
        row(
            "photos sent / fetched / refused",
            format!(
                "{} / {} / {}",
                s.photos, s.photos_fetched, s.photos_refused_faulted
            ),
        );
        row(
            "history: syncs / messages packaged",
            format!("{} / {}", s.history_syncs, s.history_items_sent),
        );
        row(
            "  notifications / chunks applied",
            format!("{} / {}", s.history_notifications, s.history_chunks_applied),
        );
        row(
            "  chunks failed / chunk requests",
            format!("{} / {}", s.history_chunks_failed, s.history_chunk_requests),
        );
        row(
            "  messages shown / syncs complete",
            format!("{} / {}", s.history_items_shown, s.history_syncs_complete),
        );
        row("  syncs lost (excused)", s.history_syncs_lost.to_string());
        let faults: Vec<String> = s.faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
        row("faults injected", faults.join(", "));
        let failures: Vec<String> = s.failures.iter().map(|(k, v)| format!("{k} {v}")).collect();
        row("receive failures (healed or excused)", failures.join(", "));
        let known: Vec<String> = s.known.iter().map(|(k, v)| format!("{k} {v}")).collect();
        row(
            "known tandem issues (tolerated)",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        );
        let mut by_kind: BTreeMap<ViolationKind, Vec<u64>> = BTreeMap::new();
        for f in &self.failures {
            for k in &f.kinds {
                by_kind.entry(*k).or_default().push(f.seed);
            }
        }
        if by_kind.is_empty() {
            row("violations", "none".into());
        } else {
            for (k, seeds) in &by_kind {
                let shown: Vec<String> = seeds.iter().take(10).map(u64::to_string).collect();
                let more = if seeds.len() > 10 { ", ..." } else { "" };
                row(
                    &format!("violations: {}", k.name()),
                    format!("{} seeds ({}{more})", seeds.len(), shown.join(", ")),
                );
            }
        }
        row("wall time", format!("{:.1} s", self.elapsed.as_secs_f64()));
        out
    }

    /// The failing seeds, each with its first violation and (shrunk) trace.
    pub fn failure_details(&self, traces: usize) -> String {
        let mut out = String::new();
        for (i, f) in self.failures.iter().enumerate() {
            let _ = writeln!(out, "seed {}: {}", f.seed, f.violation);
            if i < traces {
                let _ = writeln!(
                    out,
                    "  shrunk trace ({} events, from {}):",
                    f.trace.len(),
                    f.original_len
                );
                let file = TraceFile {
                    seed: f.seed,
                    devices: self.config.devices,
                    events: f.trace.clone(),
                };
                for line in file.to_string().lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        out
    }
}
