//! `tandem-vectors verify PATH...`: checks tandem's known-answer vector files.
//!
//! Prints one line per failing case, then `N passed, N failed`; exits 1 on any failure or on a
//! file it cannot read or parse, 2 on bad usage.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, paths)) = args.split_first() else {
        return usage();
    };
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

fn usage() -> ExitCode {
    eprintln!("usage: tandem-vectors verify PATH...   (vector files, or folders searched for *.json)");
    ExitCode::from(2)
}
