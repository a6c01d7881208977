//! `tandem-sim`: runs the simulator from the command line.
//!
//! ```text
//! tandem-sim campaign [--seeds N] [--start S] [WORLD] [--no-shrink] [--traces K] [--strict]
//! tandem-sim run --seed S [WORLD] [--trace] [--replay FILE] [--shrink] [--strict]
//! tandem-sim big [--seed S] [--accounts N] [--events K]
//! WORLD: --accounts N --devices M --events K --durable P --groups G --group-size Z --full --no-faults
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tandem_sim::campaign::run_campaign;
use tandem_sim::config::Config;
use tandem_sim::event::TraceFile;
use tandem_sim::run::{RunOptions, run_trace};
use tandem_sim::shrink::shrink;

const USAGE: &str = "usage:
  tandem-sim campaign [--seeds N] [--start S] [WORLD] [--no-shrink] [--traces K] [--strict]
  tandem-sim run --seed S [WORLD] [--trace] [--replay FILE] [--shrink] [--strict]
  tandem-sim big [--seed S] [--accounts N] [--events K] [--durable P]
WORLD: --accounts N --devices M (1-4) --events K --durable SHARE --groups G --group-size Z
       --full (every account gets M devices) --no-faults";

struct Args(Vec<String>);

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        match self.0.iter().position(|a| a == name) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }

    fn value<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        self.0.remove(i);
        if i >= self.0.len() {
            return Err(format!("{name} needs a value"));
        }
        let v = self.0.remove(i);
        v.parse()
            .map(Some)
            .map_err(|_| format!("{name}: bad value {v:?}"))
    }

    fn world(&mut self, mut c: Config) -> Result<Config, String> {
        if let Some(v) = self.value("--accounts")? {
            c.accounts = v;
        }
        if let Some(v) = self.value::<usize>("--devices")? {
            c.devices = v.clamp(1, 4);
        }
        if let Some(v) = self.value("--events")? {
            c.events = v;
        }
        if let Some(v) = self.value("--durable")? {
            c.durable_share = v;
        }
        if let Some(v) = self.value("--groups")? {
            c.groups = v;
        }
        if let Some(v) = self.value("--group-size")? {
            c.group_size = v;
        }
        if self.flag("--full") {
            c.full = true;
        }
        if self.flag("--no-faults") {
            c.weights = c.weights.without_faults();
        }
        Ok(c)
    }

    fn done(&self) -> Result<(), String> {
        match self.0.first() {
            Some(a) => Err(format!("unexpected argument {a:?}")),
            None => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let mut raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    }
    let command = raw.remove(0);
    let result = match command.as_str() {
        "campaign" => campaign(Args(raw)),
        "run" => run(Args(raw)),
        "big" => big(Args(raw)),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tandem-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn campaign(mut args: Args) -> Result<bool, String> {
    let seeds: u64 = args.value("--seeds")?.unwrap_or(100);
    let start: u64 = args.value("--start")?.unwrap_or(0);
    let traces: usize = args.value("--traces")?.unwrap_or(3);
    let no_shrink = args.flag("--no-shrink");
    let strict = args.flag("--strict");
    let config = args.world(Config::small())?;
    args.done()?;
    let budget = (!no_shrink).then(|| Duration::from_secs(60));
    let started = Instant::now();
    let report = run_campaign(&config, start, seeds, budget, 2, strict, |seed, _, failures| {
        let done = seed - start + 1;
        if done % 50 == 0 || done == seeds {
            eprintln!(
                "  {done}/{seeds} seeds, {failures} failing, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    });
    println!("campaign summary");
    print!("{}", report.table());
    if !report.failures.is_empty() {
        println!("\nfailing seeds");
        print!("{}", report.failure_details(traces));
    }
    Ok(report.failures.is_empty())
}

fn run(mut args: Args) -> Result<bool, String> {
    let seed: Option<u64> = args.value("--seed")?;
    let print_trace = args.flag("--trace");
    let do_shrink = args.flag("--shrink");
    let strict = args.flag("--strict");
    let replay: Option<String> = args.value("--replay")?;
    let mut config = args.world(Config::small())?;
    args.done()?;
    let (seed, trace) = match replay {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            let file = TraceFile::parse(&text).map_err(|e| format!("{path}: {e}"))?;
            config.devices = file.devices;
            (seed.unwrap_or(file.seed), file.events)
        }
        None => {
            let seed = seed.ok_or("--seed or --replay is required")?;
            (seed, tandem_sim::generate::generate(seed, &config))
        }
    };
    let mut options = RunOptions::for_config(&config);
    options.log = print_trace;
    options.strict = strict;
    let report = run_trace(seed, &trace, options);
    if print_trace {
        for line in &report.log {
            println!("{line}");
        }
    }
    let s = &report.stats;
    println!(
        "seed {seed}: {} events, {} devices (most alive {}), {} + {} messages ({} probes), {} owed, {} decrypted, {:.2} s",
        report.events,
        s.devices,
        s.max_live_devices,
        s.messages,
        s.group_messages,
        s.probes,
        s.owed,
        s.decrypted,
        report.elapsed.as_secs_f64()
    );
    for (k, v) in &s.known {
        println!("  known tandem issue {k}: {v}");
    }
    for v in &report.violations {
        println!("  {v}");
    }
    if do_shrink {
        if let Some(first) = report.violations.first() {
            let short = shrink(seed, &trace, options, first.kind, Duration::from_secs(300));
            println!("# shrunk from {} events: {}", trace.len(), first.kind.name());
            let file = TraceFile {
                seed,
                devices: config.devices,
                events: short,
            };
            print!("{file}");
        }
    }
    Ok(report.violations.is_empty())
}

fn big(mut args: Args) -> Result<bool, String> {
    let seed: u64 = args.value("--seed")?.unwrap_or(1);
    let mut config = Config::small();
    config.accounts = 260;
    config.devices = 4;
    config.full = true;
    config.events = 20_000;
    config.durable_share = 0.02;
    config.groups = 30;
    config.group_size = 12;
    let config = args.world(config)?;
    args.done()?;
    let report = run_campaign(&config, seed, 1, None, 0, false, |_, _, _| {});
    println!("big run, seed {seed}");
    print!("{}", report.table());
    print!("{}", report.failure_details(0));
    Ok(report.failures.is_empty())
}
