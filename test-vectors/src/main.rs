//! `tandem-vectors verify PATH...`: checks tandem's known-answer vector files.
//!
//! `tandem-vectors generate curve-signatures --seed N` writes a file of tandem-made signatures
//! for another implementation to check (the live interop with libsignal does);
//! `tandem-vectors generate linking --seed N` a `linking` file of whole linking flows with every
//! random draw recorded (`test-vectors/tandem/linking-seed-1.json` is seed 1);
//! `tandem-vectors generate app-state-epochs --seed N` an `app-state` file pinning the key-epoch
//! skip rule (`test-vectors/tandem/app-state-key-epochs-seed-1.json` is seed 1).
//!
//! `verify` prints one line per failing case, then `N passed, N failed`; exits 1 on any failure or on a
//! file it cannot read or parse, 2 on bad usage.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, paths)) = args.split_first() else {
        return usage();
    };
    if command == "generate" {
        return generate(paths);
    }
    if command != "verify" || paths.is_empty() {
        return usage();
    }
    let report = tandem_vectors::verify_paths(paths);
    for line in &report.failures {
        println!("FAIL {line}");
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn generate(args: &[String]) -> ExitCode {
    let [what, flag, seed] = args else { return usage() };
    let (true, Ok(seed)) = (flag == "--seed", seed.parse::<u64>()) else {
        return usage();
    };
    let file = match what.as_str() {
        "curve-signatures" => Ok(tandem_vectors::generate::curve_signatures(seed, 24)),
        "linking" => tandem_vectors::generate::linking(seed),
        "app-state-epochs" => tandem_vectors::generate_app_state::app_state_key_epochs(seed),
        _ => return usage(),
    };
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            eprintln!("cannot generate: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serde_json::to_string_pretty(&file) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write JSON: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: tandem-vectors verify PATH...   (vector files, or folders searched for *.json)");
    eprintln!("       tandem-vectors generate curve-signatures --seed N   (tandem-made cases, to stdout)");
    eprintln!(
        "       tandem-vectors generate linking --seed N            (tandem-made linking flows, to stdout)"
    );
    eprintln!(
        "       tandem-vectors generate app-state-epochs --seed N   (tandem's key-epoch skip rule, to stdout)"
    );
    ExitCode::from(2)
}
