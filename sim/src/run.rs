//! Running a trace: each event in turn (a panic is caught and reported as a violation), then
//! the end of the run — quiesce, probe, check that everything owed was decrypted.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::event::Event;
use crate::generate::generate;
use crate::invariants::{Stats, Violation, ViolationKind};
use crate::world::World;

/// How to run a trace.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Companions per account, at most.
    pub max_companions: usize,
    /// Keep an outcome log.
    pub log: bool,
    /// Stop at the first violation (skipping the end-of-run checks if it came earlier).
    pub stop_at_first: bool,
    /// Report known tandem issues as violations too.
    pub strict: bool,
    /// How many times the app offers an envelope with a transient failure again (0: it drops
    /// them, as an app that ignores `ReceiveFailure::is_transient` would).
    pub transient_attempts: u32,
}

impl RunOptions {
    /// The options for a configuration.
    pub fn for_config(config: &Config) -> Self {
        Self {
            max_companions: config.max_companions(),
            log: false,
            stop_at_first: false,
            strict: false,
            transient_attempts: crate::world::TRANSIENT_ATTEMPTS,
        }
    }
}

/// What a run gave.
#[derive(Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The events run (the trace length).
    pub events: usize,
    /// Violations, in order.
    pub violations: Vec<Violation>,
    /// Counters.
    pub stats: Stats,
    /// The outcome log (with [`RunOptions::log`]).
    pub log: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".to_string()
    }
}

/// Runs `trace` on a world seeded with `seed`.
pub fn run_trace(seed: u64, trace: &[Event], options: RunOptions) -> RunReport {
    let started = Instant::now();
    let mut world = World::new(seed, options.max_companions, options.log);
    world.set_strict(options.strict);
    world.set_transient_attempts(options.transient_attempts);
    let mut panicked = None;
    for (i, event) in trace.iter().enumerate() {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| world.apply(i, event))) {
            panicked = Some(Violation {
                kind: ViolationKind::Panic,
                step: i,
                detail: format!("{event}: {}", panic_text(p.as_ref())),
            });
            break;
        }
        if options.stop_at_first && !world.violations.is_empty() {
            break;
        }
    }
    let go_on = panicked.is_none() && (!options.stop_at_first || world.violations.is_empty());
    if go_on {
        let end = trace.len();
        let ended = catch_unwind(AssertUnwindSafe(|| {
            world.quiesce();
            world.probe();
            world.check_delivered(end);
        }));
        if let Err(p) = ended {
            panicked = Some(Violation {
                kind: ViolationKind::Panic,
                step: end,
                detail: format!("at the end of the run: {}", panic_text(p.as_ref())),
            });
        }
    }
    let mut violations = std::mem::take(&mut world.violations);
    violations.extend(panicked);
    let mut stats = std::mem::take(&mut world.stats);
    stats.runs = 1;
    let log = world.log().to_vec();
    RunReport {
        seed,
        events: trace.len(),
        violations,
        stats,
        log,
        elapsed: started.elapsed(),
    }
}

/// Generates and runs the trace of `seed` under `config`.
pub fn run_seed(seed: u64, config: &Config, log: bool) -> (Vec<Event>, RunReport) {
    let trace = generate(seed, config);
    let mut options = RunOptions::for_config(config);
    options.log = log;
    let report = run_trace(seed, &trace, options);
    (trace, report)
}
