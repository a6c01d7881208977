//! Runs the checker over every vector file in this folder, and shows that the checker itself
//! fails when it should (a wrong answer, a wrong error name, an unknown field, a bad file).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use tandem_vectors::{Report, verify_paths};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn every_vector_file_passes() {
    let report = verify_paths(&[vectors_dir()]);
    for line in &report.failures {
        eprintln!("FAIL {line}");
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    assert_eq!(report.failed, 0);
    // Guard against silently checking nothing: the RFC, curve and libsignal files alone hold
    // well over this many cases.
    assert!(report.passed >= 220, "only {} cases ran", report.passed);
}

fn check_text(text: &str) -> Report {
    let dir = std::env::temp_dir().join(format!("tandem-vectors-{}-{}", std::process::id(), text.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("case.json");
    std::fs::write(&path, text).unwrap();
    let report = verify_paths(&[&path]);
    std::fs::remove_dir_all(&dir).unwrap();
    report
}

const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn a_right_answer_passes_and_a_wrong_one_fails() {
    let ok = check_text(&format!(
        r#"{{"kind":"sha-256","source":"FIPS 180-4","cases":[{{"id":"abc","expect":"valid","msg":"616263","digest":"{ABC_SHA256}"}}]}}"#
    ));
    assert_eq!((ok.passed, ok.failed), (1, 0));
    let wrong = ABC_SHA256.replace("ba78", "ba79");
    let bad = check_text(&format!(
        r#"{{"kind":"sha-256","source":"t","cases":[{{"id":"abc","expect":"valid","msg":"616263","digest":"{wrong}"}}]}}"#
    ));
    assert_eq!((bad.passed, bad.failed), (0, 1));
    assert!(
        bad.failures[0].contains("abc: digest mismatch"),
        "{:?}",
        bad.failures
    );
}

#[test]
fn a_negative_case_needs_exactly_its_error() {
    let key = format!("05{}", "09".to_string() + &"00".repeat(31));
    let right = check_text(&format!(
        r#"{{"kind":"curve-public-key","source":"t","cases":[{{"id":"a","expect":"invalid","error":"BadKeyLength","serialized":"{key}00"}}]}}"#
    ));
    assert_eq!((right.passed, right.failed), (1, 0));
    let wrong_name = check_text(&format!(
        r#"{{"kind":"curve-public-key","source":"t","cases":[{{"id":"a","expect":"invalid","error":"BadKeyType","serialized":"{key}00"}}]}}"#
    ));
    assert_eq!(wrong_name.failed, 1);
    let succeeded = check_text(&format!(
        r#"{{"kind":"curve-public-key","source":"t","cases":[{{"id":"a","expect":"invalid","error":"BadKeyType","serialized":"{key}"}}]}}"#
    ));
    assert_eq!(succeeded.failed, 1);
    assert!(succeeded.failures[0].contains("but it succeeded"));
}

#[test]
fn malformed_files_fail() {
    for text in [
        "not json",
        r#"{"kind":"no-such-kind","source":"t","cases":[{"id":"a","expect":"valid"}]}"#,
        r#"{"kind":"sha-256","source":"t","cases":[]}"#,
        r#"{"kind":"sha-256","cases":[{"id":"a","expect":"valid","msg":"","digest":""}]}"#,
        r#"{"kind":"sha-256","source":"t","cases":[{"id":"a","expect":"maybe","msg":"","digest":""}]}"#,
        r#"{"kind":"sha-256","source":"t","cases":[{"id":"a","expect":"valid","msg":"","digest":""},{"id":"a","expect":"valid","msg":"","digest":""}]}"#,
    ] {
        let r = check_text(text);
        assert_eq!((r.passed, r.failed), (0, 1), "{text}");
    }
    // An unknown field in a case is refused, so a typo cannot skip a check.
    let typo = check_text(&format!(
        r#"{{"kind":"sha-256","source":"t","cases":[{{"id":"a","expect":"valid","msg":"616263","digest":"{ABC_SHA256}","digets":"00"}}]}}"#
    ));
    assert_eq!(typo.failed, 1);
    assert!(typo.failures[0].contains("unknown field"), "{:?}", typo.failures);
}

#[test]
fn the_command_exits_nonzero_on_failure_and_prints_the_summary() {
    let exe = env!("CARGO_BIN_EXE_tandem-vectors");
    let good = std::process::Command::new(exe)
        .args(["verify"])
        .arg(vectors_dir().join("rfc"))
        .output()
        .unwrap();
    assert!(good.status.success());
    let out = String::from_utf8(good.stdout).unwrap();
    assert!(
        out.trim_end().ends_with(" failed") && out.contains(" passed, 0 failed"),
        "{out}"
    );
    let missing = std::process::Command::new(exe)
        .args(["verify", "/no/such/path"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8(missing.stdout)
            .unwrap()
            .ends_with("0 passed, 1 failed\n")
    );
    let usage = std::process::Command::new(exe).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}
