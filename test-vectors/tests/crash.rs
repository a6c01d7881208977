//! The storage crash test: a process running a conversation over two [`SqliteStore`] files is
//! killed with SIGKILL at random instants, many times, and restarted on the same files. After
//! each restart the conversation goes on where it stopped; at the end a last run completes more
//! rounds without a single error, and the journal of everything sent and received is checked:
//! every message sent was decrypted exactly once, to its plaintext; no message key was used
//! twice; the only traces of the kills are the two gaps the protocol allows, each right after a
//! restart.
//!
//! The conversation and the journal are described in `src/bin/tandem-crash-child.rs`.
//!
//! Environment: `TANDEM_CRASH_KILLS` (default 200), `TANDEM_CRASH_SEED` (default fixed; drives
//! the kill delays and the conversation's schedule), `TANDEM_CRASH_MAX_DELAY_MS` (default 40:
//! each kill comes 0 to this many milliseconds after the start, a few of them very early to hit
//! the setup).
//!
//! [`SqliteStore`]: tandem::store::SqliteStore

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use tandem::wire::{PreKeySignalMessage, SignalMessage};

const CHILD: &str = env!("CARGO_BIN_EXE_tandem-crash-child");

/// SIGKILL's number (9 on every Unix).
const SIGKILL: i32 = 9;

/// Rounds of the last, unkilled run after the current one.
const FINAL_ROUNDS: u64 = 8;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A fresh directory under the temp dir, removed on drop unless the test failed (then it is
/// kept for a post-mortem and its path printed).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("tandem-crash-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("crash test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A child process, killed (and reaped) on drop if still there.
struct Running(Child);

impl Running {
    fn spawn(dir: &Path, seed: u64, mode: &[&str]) -> Self {
        let child = Command::new(CHILD)
            .arg(dir)
            .arg(seed.to_string())
            .args(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self(child)
    }

    /// Its status (it must have exited) and what it wrote.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let status = self.0.wait().unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(s) = self.0.stdout.as_mut() {
            s.read_to_string(&mut out).unwrap();
        }
        if let Some(s) = self.0.stderr.as_mut() {
            s.read_to_string(&mut err).unwrap();
        }
        (status, out, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_conversation_survives_sigkill_at_random_points() {
    let kills = env_u64("TANDEM_CRASH_KILLS", 200);
    let seed = env_u64("TANDEM_CRASH_SEED", 0x7a4d_e3c0);
    let max_delay = env_u64("TANDEM_CRASH_MAX_DELAY_MS", 40);
    let dir = TempDir::new();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let clock = Instant::now();

    for i in 0..kills {
        let mut child = Running::spawn(&dir.0, seed, &["run"]);
        // The first kills come very early, to interrupt the setup (creating the stores).
        let bound = if i < 6 { 3 } else { max_delay };
        let delay = rng.next_u64() % (bound + 1);
        std::thread::sleep(Duration::from_millis(delay));
        // On Unix `kill` is SIGKILL; if the child has already exited it is reaped unchanged.
        let _ = child.0.kill();
        let (status, _, err) = child.finish();
        if status.signal() != Some(SIGKILL) {
            // It exited before the signal: only an error makes a `run` exit.
            panic!("kill {i}: the child exited by itself ({status}): {err}");
        }
    }
    let killing = clock.elapsed();

    let mut last = Running::spawn(&dir.0, seed, &["final", &FINAL_ROUNDS.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while last.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the final run did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (status, out, err) = last.finish();
    assert!(status.success(), "the final run failed ({status}): {err}");

    let journal = std::fs::read_to_string(dir.0.join("journal")).unwrap();
    let report = check_journal(&journal).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "crash test (seed {seed:#x}): survived {kills} SIGKILLs ({} processes journalled a start, \
         {} of them before the setup was complete); {} + {} messages sent by Alice + Bob, \
         each decrypted exactly once ({} of them recovered as the duplicate of a decryption \
         committed just before a kill); {} orphaned sends (encrypted and committed just before \
         a kill, sent again at the next counter); final run: {} messages over the current round \
         and {} more, no error; killing took {:.1} s, all {:.1} s\n{}",
        report.starts,
        report.setup_attempts,
        report.sent_alice,
        report.sent_bob,
        report.recovered_duplicates,
        report.orphans,
        report.final_messages,
        FINAL_ROUNDS,
        killing.as_secs_f64(),
        clock.elapsed().as_secs_f64(),
        out.trim_end(),
    );
    assert!(
        report.final_messages >= FINAL_ROUNDS,
        "the final run sent only {} messages",
        report.final_messages
    );
}

/// What the journal shows.
#[derive(Debug, Default)]
struct Report {
    starts: u64,
    setup_attempts: u64,
    sent_alice: u64,
    sent_bob: u64,
    recovered_duplicates: u64,
    orphans: u64,
    final_messages: u64,
}

/// One sender's chains as seen on the wire.
#[derive(Default)]
struct Chains {
    /// Ratchet keys of the chains left behind.
    done: HashSet<Vec<u8>>,
    /// The current chain: its ratchet key and the last counter sent on it.
    current: Option<(Vec<u8>, u32)>,
}

/// Message `n` of sender `from` ("A" or "B"), as the child makes it.
fn plaintext(from: &str, n: u64) -> Vec<u8> {
    let mut text = format!("{from} #{n}:").into_bytes();
    let fill = (n.wrapping_mul(37) % 61) as u8;
    text.extend((0..fill).map(|i| b'a' + (i % 26)));
    text
}

fn other(side: &str) -> Option<&'static str> {
    match side {
        "A" => Some("B"),
        "B" => Some("A"),
        _ => None,
    }
}

/// Fails unless `condition`, with the message.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// Checks every invariant of the journal and counts what it shows; the error names the first
/// line that breaks one.
fn check_journal(journal: &str) -> Result<Report, String> {
    ensure!(
        journal.ends_with("done\n"),
        "the journal does not end with the final run's done"
    );
    let mut report = Report::default();
    let mut setup = false;
    // Consecutive `start` lines just before the current one: each restart allows one trace.
    let mut restarts_before = 0u64;
    let mut sent: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
    let mut received: HashSet<(&str, u64)> = HashSet::new();
    let mut chains: HashMap<&str, Chains> = HashMap::new();
    let mut alice_has_received = false;
    let mut last_start_line = 0;
    for (number, line) in journal.lines().enumerate() {
        let at = || format!("journal line {}: {line:.80}", number + 1);
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["start"] => {
                report.starts += 1;
                if !setup {
                    report.setup_attempts += 1;
                }
                restarts_before += 1;
                last_start_line = number;
                continue;
            }
            ["setup"] => {
                ensure!(!setup, "{}: a second setup", at());
                ensure!(sent.is_empty(), "{}: setup after traffic", at());
                setup = true;
                continue;
            }
            ["done"] => {
                ensure!(
                    number + 1 == journal.lines().count(),
                    "{}: done is not last",
                    at()
                );
                continue;
            }
            ["sent", from, n, kind, hex] => {
                ensure!(setup, "{}: traffic before the setup", at());
                ensure!(other(from).is_some(), "{}: bad side", at());
                let n: u64 = n.parse().map_err(|_| format!("{}: bad number", at()))?;
                let bytes = hex::decode(hex).map_err(|_| format!("{}: bad hex", at()))?;
                let list = sent.entry(from).or_default();
                ensure!(n == list.len() as u64, "{}: messages out of sequence", at());
                // Alice's messages carry the X3DH parameters exactly until she has read a reply:
                // a lost decryption commit would bring them back.
                let expected_kind = if *from == "A" && !alice_has_received {
                    "P"
                } else {
                    "W"
                };
                ensure!(*kind == expected_kind, "{}: wrong message type", at());
                let message = match *kind {
                    "P" => PreKeySignalMessage::parse(&bytes).map(|m| m.message().clone()),
                    _ => SignalMessage::parse(&bytes),
                }
                .map_err(|e| format!("{}: {e}", at()))?;
                report.orphans += check_chain(chains.entry(from).or_default(), &message, restarts_before)
                    .map_err(|e| format!("{}: {e}", at()))?;
                list.push(bytes);
            }
            ["recv", to, n, outcome @ ..] => {
                let n: u64 = n.parse().map_err(|_| format!("{}: bad number", at()))?;
                let from = other(to).ok_or_else(|| format!("{}: bad side", at()))?;
                ensure!(
                    n < sent.get(from).map_or(0, |l| l.len() as u64),
                    "{}: received a message never sent",
                    at()
                );
                ensure!(received.insert((from, n)), "{}: a message received twice", at());
                match outcome {
                    ["ok", hex] => {
                        ensure!(
                            hex::decode(hex).ok() == Some(plaintext(from, n)),
                            "{}: wrong plaintext",
                            at()
                        );
                    }
                    ["dup"] => {
                        ensure!(
                            restarts_before > 0,
                            "{}: a duplicate that is not the first step after a restart",
                            at()
                        );
                        report.recovered_duplicates += 1;
                    }
                    _ => return Err(format!("{}: bad line", at())),
                }
                if *to == "A" {
                    alice_has_received = true;
                }
            }
            _ => return Err(format!("{}: bad line", at())),
        }
        restarts_before = 0;
    }
    let all_sent: u64 = sent.values().map(|l| l.len() as u64).sum();
    ensure!(
        received.len() as u64 == all_sent,
        "some messages were sent but never received"
    );
    report.sent_alice = sent.get("A").map_or(0, |l| l.len() as u64);
    report.sent_bob = sent.get("B").map_or(0, |l| l.len() as u64);
    report.final_messages = journal
        .lines()
        .skip(last_start_line)
        .filter(|l| l.starts_with("sent "))
        .count() as u64;
    Ok(report)
}

/// Checks that `message` follows its sender's previous ones on the wire: within a chain the
/// counters go up by one — or skip the orphans of the restarts just before (at most one per
/// restart) —, a new chain starts at 0 (or after such orphans) with the previous chain's last
/// counter as its previous counter, and a chain left behind never comes back. Returns the
/// number of orphans skipped.
fn check_chain(chains: &mut Chains, message: &SignalMessage, restarts: u64) -> Result<u64, String> {
    let key = message.sender_ratchet_key().serialize().to_vec();
    let counter = message.counter();
    let skipped =
        match chains.current.take() {
            Some((current, last)) if current == key => counter
                .checked_sub(last)
                .and_then(|d| d.checked_sub(1))
                .ok_or_else(|| format!("counter {counter} after {last}: a message key used twice"))?,
            previous => {
                if chains.done.contains(&key) {
                    return Err("a chain left behind came back".into());
                }
                let expected_previous = previous.as_ref().map_or(0, |(_, last)| *last);
                if message.previous_counter() != expected_previous {
                    return Err(format!(
                        "previous counter {} after a chain that ended at {expected_previous}",
                        message.previous_counter()
                    ));
                }
                if let Some((done, _)) = previous {
                    chains.done.insert(done);
                }
                counter
            }
        };
    if u64::from(skipped) > restarts {
        return Err(format!(
            "counter {counter} skips {skipped} positions after {restarts} restarts"
        ));
    }
    chains.current = Some((key, counter));
    Ok(u64::from(skipped))
}

/// The checker itself: a clean journal passes, and each kind of damage a broken store (or a
/// broken harness) would leave is caught.
#[test]
fn the_checker_catches_broken_journals() {
    let dir = TempDir::new();
    let (status, _, err) = Running::spawn(&dir.0, 5, &["final", "6"]).finish();
    assert!(status.success(), "{err}");
    let clean = std::fs::read_to_string(dir.0.join("journal")).unwrap();
    let report = check_journal(&clean).unwrap();
    assert_eq!((report.orphans, report.recovered_duplicates), (0, 0));
    let lines: Vec<&str> = clean.lines().collect();
    let find = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap();
    let edit = |f: &dyn Fn(&mut Vec<String>)| {
        let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        f(&mut l);
        l.join("\n") + "\n"
    };
    // Why a journal is refused ("" if it is not).
    let error = |journal: String| check_journal(&journal).err().unwrap_or_default();

    // A message decrypted twice.
    let recv = find("recv B 1 ");
    assert!(error(edit(&|l| l.insert(recv, lines[recv].to_string()))).contains("received twice"));
    // A message never decrypted.
    assert!(
        error(edit(&|l| {
            l.remove(recv);
        }))
        .contains("never received")
    );
    // A wrong plaintext.
    assert!(error(edit(&|l| l[recv].push_str("00"))).contains("wrong plaintext"));
    // A duplicate that is not the first step after a restart; right after one it is fine.
    let dup = "recv B 1 dup".to_string();
    assert!(error(edit(&|l| l[recv] = dup.clone())).contains("not the first step after a restart"));
    assert_eq!(
        error(edit(&|l| {
            l[recv] = dup.clone();
            l.insert(recv, "start".into());
        })),
        ""
    );
    // Alice's X3DH parameters back after she read a reply (a lost decryption commit).
    let late = find("sent A 1 W ");
    let prekey = lines[late].replacen(" W ", " P ", 1);
    assert!(error(edit(&|l| l[late] = prekey.clone())).contains("wrong message type"));
    // A message key used twice: message 2 on the wire with message 1's counter.
    let (one, two) = (find("sent A 1 "), find("sent A 2 "));
    let reused = lines[one].replacen("sent A 1 ", "sent A 2 ", 1);
    assert!(error(edit(&|l| l[two] = reused.clone())).contains("a message key used twice"));
    // A gap in the counters (an orphan) is allowed only right after a restart. Messages 1 to 3
    // of Alice are one chain (round 2 of seed 5); take message 2 off the wire and number
    // message 3 as 2, ending the journal with that round.
    let orphaned = |restart: bool| {
        edit(&|l| {
            let at = |l: &Vec<String>, prefix: &str| l.iter().position(|x| x.starts_with(prefix)).unwrap();
            let round_end = ["recv B 1 ", "recv B 2 ", "recv B 3 "].map(|p| at(l, p));
            l.truncate(round_end.into_iter().max().unwrap() + 1);
            l.push("done".into());
            l.remove(at(l, "recv B 2 "));
            let three = at(l, "recv B 3 ");
            l[three] = format!("recv B 2 ok {}", hex::encode(plaintext("A", 2)));
            l.remove(at(l, "sent A 2 "));
            let three = at(l, "sent A 3 ");
            l[three] = l[three].replacen("sent A 3 ", "sent A 2 ", 1);
            if restart {
                l.insert(three, "start".into());
            }
        })
    };
    assert!(error(orphaned(false)).contains("skips 1 positions after 0 restarts"));
    let report = check_journal(&orphaned(true)).unwrap();
    assert_eq!(report.orphans, 1);
}
