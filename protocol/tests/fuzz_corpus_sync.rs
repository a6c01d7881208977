//! Replays the sync fuzz seeds (`fuzz/seeds/<target>/`) under `cargo test`, through the
//! targets' own driver (`fuzz/common/sync_driver.rs`, included here), so their properties are
//! checked on every test run, not only when someone fuzzes:
//!
//! - `backup_restore`, `history_chunk`, `history_notification`: every seed, then every
//!   truncation (every length up to 64, then every 61st) and every bit flip in the first 64
//!   bytes of each seed after its control byte.
//! - `history_chunk` also with a decompression bomb (40 MiB of zeros), made here: as a committed
//!   seed it would slow fuzzing to a crawl.
//!
//! A seed's name says what it must do: `genuine-*` restore, apply the genuine chunk, or queue
//! and apply without failure; `refused-<Error>-*` are refused with that error (for
//! `history_chunk`, the chunk fails with that reason); `unparsed-*` do not parse; `failed-<Reason>-*`
//! (notifications) queue and then fail with that reason. Files named `crash-*` or `bad-*` only
//! have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_sync -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::io::{Read, Write};

#[path = "common/seeds.rs"]
mod seeds;
#[path = "../../fuzz/common/sync_driver.rs"]
mod sync_driver;
use seeds::{seed_dir, seeds};

use sync_driver::{BackupOutcome, ChunkOutcome, NotificationOutcome, fixture};
use tandem::blob::BlobId;
use tandem::history::HistorySyncNotification;

const TARGETS: [&str; 3] = ["backup_restore", "history_chunk", "history_notification"];

/// Truncations (every length up to 64, then every 61st) and bit flips in the first 64 bytes.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..bytes.len())
        .filter(|n| *n < 64 || n % 61 == 0)
        .map(|n| bytes[..n].to_vec())
        .collect();
    for i in 0..bytes.len().min(64) {
        for bit in 0..8 {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            out.push(b);
        }
    }
    out
}

/// The error or reason a `refused-<Name>-*` / `failed-<Name>-*` name promises.
fn named(name: &str, prefix: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    Some(rest.split('-').next()?.to_owned())
}

fn variant(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}").split('(').next().unwrap().to_owned()
}

/// Whether the outcome is what the seed's name promises.
fn expected(target: &str, name: &str, data: &[u8]) -> bool {
    let prefix = |p: &str| name.starts_with(p);
    if prefix("bad-") || prefix("crash-") {
        run(target, data);
        return true;
    }
    match target {
        "backup_restore" => match sync_driver::run_backup_restore(data) {
            BackupOutcome::Restored => prefix("genuine-"),
            BackupOutcome::Refused(e) => named(name, "refused-") == Some(variant(&e)),
        },
        "history_chunk" => match sync_driver::run_history_chunk(data) {
            ChunkOutcome::Applied { genuine } => prefix("genuine-") && genuine,
            ChunkOutcome::Failed(r) => named(name, "refused-") == Some(variant(&r)),
        },
        "history_notification" => match sync_driver::run_history_notification(data) {
            NotificationOutcome::Unparsed => prefix("unparsed-"),
            NotificationOutcome::Refused(e) => named(name, "refused-") == Some(variant(&e)),
            NotificationOutcome::Queued { failure: None, .. } => prefix("genuine-"),
            NotificationOutcome::Queued { failure: Some(r), .. } => {
                named(name, "failed-") == Some(variant(&r))
            }
        },
        _ => panic!("unknown target {target}"),
    }
}

/// Runs `data` through the target's driver; says whether it was accepted (restored, applied,
/// or queued and then applied chunks without failure).
fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "backup_restore" => sync_driver::run_backup_restore(data) == BackupOutcome::Restored,
        "history_chunk" => matches!(sync_driver::run_history_chunk(data), ChunkOutcome::Applied { .. }),
        "history_notification" => matches!(
            sync_driver::run_history_notification(data),
            NotificationOutcome::Queued { failure: None, applied, .. } if !applied.is_empty()
        ),
        _ => panic!("unknown target {target}"),
    }
}

/// Every seed does what its name says; every mutant runs through the driver. Returns (seeds,
/// mutants, accepted mutants).
fn replay(target: &str) -> (usize, usize, usize) {
    let seeds = seeds(target);
    assert!(seeds.len() >= 8, "only {} {target} seeds", seeds.len());
    let (mut mutants, mut accepted) = (0, 0);
    for (name, data) in &seeds {
        assert!(expected(target, name, data), "{target}/{name}");
        let keep = usize::from(target != "history_notification").min(data.len());
        let (head, body) = data.split_at(keep);
        for mutant in mutations(body) {
            let mut input = head.to_vec();
            input.extend_from_slice(&mutant);
            accepted += usize::from(run(target, &input));
            mutants += 1;
        }
    }
    (seeds.len(), mutants, accepted)
}

#[test]
fn backup_restore_seeds_and_their_mutants() {
    let (_, mutants, accepted) = replay("backup_restore");
    // Only a mutation-mode seed with an edit that changes nothing (e.g. an edit flipped into
    // "truncate at the end") can still restore.
    assert!(accepted * 20 < mutants, "{accepted} of {mutants} mutants restore");
}

#[test]
fn history_chunk_seeds_and_their_mutants() {
    let (_, mutants, accepted) = replay("history_chunk");
    // A flipped bit in a body or id byte of the plaintext seed still makes a valid chunk (with
    // other contents); nothing else applies.
    assert!(accepted * 4 < mutants, "{accepted} of {mutants} mutants apply");
}

/// The bomb is not a committed seed (each run of it inflates 32 MiB, which slows fuzzing to a
/// crawl); it goes through the driver here instead.
#[test]
fn history_chunk_decompression_bomb_through_the_driver() {
    let bomb = with(0, &zlib_best(&vec![0u8; 40 << 20]));
    assert_eq!(
        sync_driver::run_history_chunk(&bomb),
        ChunkOutcome::Failed(tandem::history::ChunkFailure::DecompressionBomb)
    );
}

#[test]
fn history_notification_seeds_and_their_mutants() {
    let (_, mutants, accepted) = replay("history_notification");
    // A notification is its hashes and key: a change to any of them fails, a change to the
    // sync id is another sync; truncations never parse.
    assert!(
        accepted == 0,
        "{accepted} of {mutants} mutants applied without failure"
    );
}

// ---- Seeds ----

fn inflate(z: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(z).read_to_end(&mut out).unwrap();
    out
}

fn zlib_best(plain: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(plain).unwrap();
    e.finish().unwrap()
}

fn with(control: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![control];
    out.extend_from_slice(bytes);
    out
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 1;
    out
}

fn backup_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let fx = fixture();
    let code = &fx.backup_code_only;
    let both = &fx.backup_both;
    // code-only: descriptor 0..47, wrap 47..95, body 95.. in 80-byte chunks.
    let body = 95;
    let last_chunk = match (code.len() - body) % 80 {
        0 => 80,
        r => r,
    };
    let mut swapped = code.clone();
    swapped[body..body + 80].copy_from_slice(&code[body + 80..body + 160]);
    swapped[body + 80..body + 160].copy_from_slice(&code[body..body + 80]);
    let mut small_chunks = code.clone();
    small_chunks[9..13].copy_from_slice(&16u32.to_le_bytes());
    let mut params = both.clone();
    params[14 + 33 + 1 + 4] ^= 1; // t of the password lock
    // The password lock alone: count 1, the code lock and its wrap dropped.
    let descriptor_both = 14 + 33 + 45;
    let mut p = both[..14].to_vec();
    p[13] = 1;
    p.extend_from_slice(&both[14 + 33..descriptor_both]);
    p.extend_from_slice(&both[descriptor_both + 48..]);
    vec![
        ("genuine-code-only", with(0, code)),
        ("genuine-both", with(0, both)),
        ("genuine-mutation-none-code-only", vec![1]),
        ("genuine-mutation-none-both", vec![3]),
        ("refused-Tampered-body-flip", with(0, &flip(code, body + 5))),
        (
            "refused-Tampered-last-tag-flip",
            with(0, &flip(code, code.len() - 1)),
        ),
        ("refused-Tampered-chunks-swapped", with(0, &swapped)),
        (
            "refused-Tampered-unused-lock",
            with(0, &flip(both, descriptor_both + 48 + 3)),
        ),
        ("refused-Tampered-edit-flip", vec![1, 0, 110, 0, 3]),
        (
            "refused-Truncated-last-chunk",
            with(0, &code[..code.len() - last_chunk]),
        ),
        ("refused-Truncated-header", with(0, &code[..60])),
        ("refused-Truncated-empty", vec![0]),
        ("refused-Truncated-edit-cut", vec![3, 1, 100, 0, 0]),
        ("refused-WrongKey-wrap-flip", with(0, &flip(code, 50))),
        ("refused-WrongKey-salt-flip", with(0, &flip(code, 20))),
        ("refused-WrongKey-password-params", with(0, &params)),
        ("refused-NoMatchingLock-password-only", with(0, &p)),
        (
            "refused-UnknownVersion-2",
            with(0, &{
                let mut v = code.clone();
                v[8] = 2;
                v
            }),
        ),
        ("refused-NotABackup-zip", with(0, b"PK\x03\x04 not a backup")),
        ("refused-Malformed-chunk-size", with(0, &small_chunks)),
        (
            "refused-Malformed-lock-count",
            with(0, &{
                let mut v = code.clone();
                v[13] = 5;
                v
            }),
        ),
    ]
}

fn chunk_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let fx = fixture();
    let compressed = &fx.chunk0_compressed;
    let plain = inflate(compressed);
    // chunk_order (field 5) and progress (field 6, 33) follow the conversations.
    let at = plain
        .windows(4)
        .position(|w| w == [0x28, 0x00, 0x30, 33])
        .unwrap();
    let mut other_order = plain.clone();
    other_order[at + 1] = 1;
    let mut other_sync = plain.clone();
    let last = other_sync.len() - 1;
    other_sync[last] ^= 1; // the sync id is the last field
    let mut unknown = plain.clone();
    unknown.extend_from_slice(&[0xC0, 0x06, 0x01]); // field 104
    let mut trailing = compressed.clone();
    trailing.push(0);
    vec![
        ("genuine-compressed", with(0, compressed)),
        ("genuine-plaintext", with(1, &plain)),
        ("genuine-blob", with(2, &fx.chunk0_blob)),
        ("refused-Tampered-blob-flip", with(2, &flip(&fx.chunk0_blob, 7))),
        (
            "refused-Tampered-blob-truncated",
            with(2, &fx.chunk0_blob[..fx.chunk0_blob.len() - 10]),
        ),
        ("refused-Tampered-empty-blob", vec![2]),
        ("refused-Malformed-not-zlib", with(0, b"hello, not zlib")),
        ("refused-Malformed-trailing-byte", with(0, &trailing)),
        (
            "refused-Malformed-truncated-zlib",
            with(0, &compressed[..compressed.len() - 3]),
        ),
        ("refused-Malformed-plaintext-garbage", with(1, &[0xFF; 12])),
        ("refused-Malformed-plaintext-unknown-field", with(1, &unknown)),
        ("refused-Malformed-plaintext-empty", vec![1]),
        ("refused-Mismatch-order", with(1, &other_order)),
        ("refused-Mismatch-sync-id", with(1, &other_sync)),
        (
            "refused-DecompressionBomb-bomb",
            with(0, &zlib_best(&vec![0u8; 40 << 20])),
        ),
    ]
}

fn notification_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let fx = fixture();
    let one = HistorySyncNotification::parse(&fx.notes[1]).unwrap();
    let mut count = one.clone();
    count.chunk_count = 4;
    count.progress = 50;
    let mut key = one.clone();
    key.media_key = tandem::media::MediaKey::from([9; 32]);
    let mut path = one.clone();
    path.digest.file_enc_sha256[0] ^= 1;
    path.direct_path = BlobId::of(&path.digest);
    let mut unknown = fx.notes[1].clone();
    unknown.extend_from_slice(&[0x40, 0x00]);
    vec![
        ("genuine-chunk1-completes", fx.notes[1].clone()),
        ("genuine-chunk2-again", fx.notes[2].clone()),
        ("refused-AlreadyApplied-chunk0", fx.notes[0].clone()),
        ("refused-OtherSync", fx.other_sync_note.clone()),
        ("refused-Inconsistent-count", count.encode().to_vec()),
        ("failed-Tampered-wrong-key", key.encode().to_vec()),
        ("failed-BlobMissing-path", path.encode().to_vec()),
        ("unparsed-truncated", fx.notes[1][..20].to_vec()),
        ("unparsed-unknown-field", unknown),
        ("unparsed-empty", Vec::new()),
    ]
}

#[test]
#[ignore = "rewrites fuzz/seeds/{backup_restore,history_chunk,history_notification}"]
fn write_seeds() {
    for (target, seeds) in [
        ("backup_restore", backup_seeds()),
        ("history_chunk", chunk_seeds()),
        ("history_notification", notification_seeds()),
    ] {
        let dir = seed_dir(target);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, data) in seeds {
            assert!(expected(target, name, &data), "{target}/{name}");
            fs::write(dir.join(name), data).unwrap();
        }
    }
    let _ = TARGETS;
}
