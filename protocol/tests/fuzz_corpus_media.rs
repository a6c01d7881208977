//! Replays the media fuzz seeds (`fuzz/seeds/media_decrypt`, `media_pointer`, `media_range`)
//! under `cargo test` through the targets' own driver (`fuzz/common/media_driver.rs`), so the
//! targets' properties are checked on every test run:
//!
//! - `media_decrypt`: seeds made from the recorded vectors (`test-vectors/media/`, Node crypto
//!   and Baileys): `valid-*` must decrypt, `refused-<Error>-*` must be refused with that error
//!   by all three decryptions; plus every truncation and bit flip of a valid seed's blob.
//! - `media_pointer`: pointers built from the vectors' keys and digests: `valid-*` must parse and
//!   round-trip; every truncation and bit flip of them must not panic.
//! - `media_range`: `valid-*` must read; every seed must keep the driver's properties.
//!
//! Files named `bad-*` or `crash-*` only have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_media -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use tandem::media::{MediaDigest, MediaKey, MediaKind, MediaPointer, Sidecar};

#[path = "../../fuzz/common/media_driver.rs"]
mod media_driver;
#[path = "common/seeds.rs"]
mod seeds;
use seeds::seeds;

use media_driver::{HEADER, Outcome, RangeOutcome};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Every prefix up to `skip + 64` bytes, the last 64 prefixes, and flips of the lowest and the
/// highest bit of each of the first 64 bytes after `skip`.
fn mutations(bytes: &[u8], skip: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..bytes.len())
        .filter(|&n| n < skip + 64 || n + 64 >= bytes.len())
        .map(|n| bytes[..n].to_vec())
        .collect();
    for i in skip..bytes.len().min(skip + 64) {
        for bit in [0, 7] {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            out.push(b);
        }
    }
    out
}

#[test]
fn media_decrypt_seeds() {
    let seeds = seeds("media_decrypt");
    assert!(seeds.len() >= 20, "only {} media_decrypt seeds", seeds.len());
    for (name, data) in &seeds {
        let outcome = media_driver::run_decrypt(data);
        if name.starts_with("valid-") {
            assert_eq!(outcome, Outcome::Decrypted, "{name}");
            for m in mutations(data, HEADER) {
                media_driver::run_decrypt(&m);
            }
        } else if let Some(rest) = name.strip_prefix("refused-") {
            let error = rest.split('-').next().unwrap();
            match outcome {
                Outcome::Refused(e) => assert_eq!(e.name(), error, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn media_pointer_seeds() {
    let seeds = seeds("media_pointer");
    assert!(seeds.len() >= 10, "only {} media_pointer seeds", seeds.len());
    for (name, data) in &seeds {
        let parsed = media_driver::run_pointer(data);
        if name.starts_with("valid-") {
            assert!(parsed, "{name}");
            for m in mutations(data, 0) {
                media_driver::run_pointer(&m);
            }
        }
    }
}

#[test]
fn media_range_seeds() {
    let seeds = seeds("media_range");
    assert!(seeds.len() >= 10, "only {} media_range seeds", seeds.len());
    for (name, data) in &seeds {
        let outcome = media_driver::run_range(data);
        if name.starts_with("valid-") {
            assert!(matches!(outcome, RangeOutcome::Read(..)), "{name}: {outcome:?}");
        }
    }
}

// --- the seed writer ---------------------------------------------------------------------------

/// The scalar fields of each case in a vector file as written by `record-media.js` (one
/// `"field": value` per line), by case id. Enough for the seed writer; not a JSON parser.
fn vector_cases(file: &str) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(repo("test-vectors/media").join(file)).unwrap();
    let mut out: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_end_matches(',');
        let Some((key, value)) = line.split_once("\": ") else {
            continue;
        };
        let key = key.trim_start_matches('"');
        let value = value.trim_matches('"');
        if key == "id" {
            out.push(BTreeMap::new());
        }
        if let Some(case) = out.last_mut() {
            case.insert(key.to_owned(), value.to_owned());
        }
    }
    out
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn digest_of(case: &BTreeMap<String, String>) -> MediaDigest {
    MediaDigest {
        file_sha256: hex32(&case["file_sha256"]),
        file_enc_sha256: hex32(&case["file_enc_sha256"]),
        file_length: case["file_length"].parse().unwrap(),
    }
}

#[test]
#[ignore = "rewrites fuzz/seeds/media_*"]
fn write_media_seeds() {
    let mut decrypt: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pointer: Vec<(String, Vec<u8>)> = Vec::new();
    for file in ["media-node-crypto.json", "media-baileys-6.17.16.json"] {
        for case in vector_cases(file) {
            let id = &case["id"];
            let kind = MediaKind::from_name(&case["media_kind"]).unwrap();
            let key = hex32(&case["media_key"]);
            let digest = digest_of(&case);
            if case["expect"] == "valid" {
                let mut p = MediaPointer::new(kind, MediaKey::from(key), digest);
                if let Some(s) = case.get("sidecar") {
                    p.streaming_sidecar = Some(Sidecar::from_bytes(hex::decode(s).unwrap()).unwrap());
                }
                pointer.push((format!("valid-{id}"), p.to_bytes()));
            }
            let Some(blob) = case.get("blob") else { continue };
            if case.contains_key("range") || case.contains_key("decrypt_as") {
                continue;
            }
            let blob = hex::decode(blob).unwrap();
            let input = media_driver::decrypt_input(0, kind, &key, &digest, &blob);
            if case["expect"] == "valid" {
                decrypt.push((format!("valid-{id}"), input));
            } else {
                decrypt.push((format!("refused-{}-{id}", case["error"]), input));
            }
        }
    }
    // Deeper modes on garbage: the MAC made right (mode 2) and the digest made right (mode 3).
    let garbage: Vec<u8> = (0..96u8).map(|i| i.wrapping_mul(37)).collect();
    let zero = MediaDigest {
        file_sha256: [0; 32],
        file_enc_sha256: [0; 32],
        file_length: 0,
    };
    for mode in 0..4 {
        let input = media_driver::decrypt_input(mode, MediaKind::Document, &[3; 32], &zero, &garbage);
        decrypt.push((format!("bad-garbage-mode{mode}"), input));
    }
    decrypt.push(("bad-empty".into(), Vec::new()));
    pointer.push(("bad-empty".into(), Vec::new()));
    pointer.push(("bad-garbage".into(), garbage.clone()));

    let f = media_driver::range_fixture();
    let len = f.plaintext.len() as u64;
    let mut range: Vec<(String, Vec<u8>)> = vec![
        ("valid-whole".into(), media_driver::range_input(0, 0, len, &[])),
        (
            "valid-chunk-border".into(),
            media_driver::range_input(0, 65_530, 65_545, &[]),
        ),
        (
            "valid-last-byte".into(),
            media_driver::range_input(0, len - 1, len, &[]),
        ),
        ("valid-empty".into(), media_driver::range_input(0, 5, 5, &[])),
        (
            "valid-edit-elsewhere".into(),
            media_driver::range_input(2, 10, 20, &[0x00, 0x00, 0x02, 0x00, 0x80]),
        ),
        (
            "bad-edit-inside".into(),
            media_driver::range_input(2, 10, 20, &[0x05, 0x00, 0x00, 0x00, 0x80]),
        ),
        (
            "bad-past-end".into(),
            media_driver::range_input(0, len - 5, len + 3, &[]),
        ),
        ("bad-reversed".into(), media_driver::range_input(0, 9, 3, &[])),
        (
            "bad-garbage-sidecar".into(),
            media_driver::range_input(1, 0, 10, &[7; 40]),
        ),
        (
            "bad-sidecar-odd".into(),
            media_driver::range_input(1, 0, 10, &[7; 41]),
        ),
        (
            "bad-cut-blob".into(),
            media_driver::range_input(3, 0, 10, &70_000u32.to_le_bytes()),
        ),
    ];
    range.push((
        "valid-genuine-sidecar".into(),
        media_driver::range_input(1, 0, 100, f.sidecar.as_bytes()),
    ));

    for (target, seeds) in [
        ("media_decrypt", decrypt),
        ("media_pointer", pointer),
        ("media_range", range),
    ] {
        let dir = repo("fuzz/seeds").join(target);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
