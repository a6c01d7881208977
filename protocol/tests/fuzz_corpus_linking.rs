//! Replays the linking fuzz seeds (`fuzz/seeds/<target>/`) under `cargo test`, through the
//! targets' own driver (`fuzz/common/linking_driver.rs`, included here), so their properties are
//! checked on every test run, not only when someone fuzzes:
//!
//! - `signed_device_identity`, `signed_device_list`, `link_qr_payload`, `link_approval`: every
//!   seed (the artifacts of `test-vectors/tandem/linking-seed-1.json`, the driver's genuine
//!   artifacts, equivalent encodings of them, and edits), then every truncation and every bit
//!   flip in the first 64 bytes of each seed (for `link_approval`, of the approval after the
//!   control byte).
//! - `link_approval` also through its mutation mode: every truncation and every bit flip in the
//!   first 64 bytes (and one bit of every later byte) of both genuine approvals, with and
//!   without the link secret.
//!
//! A seed's name says what it must do: `genuine-*` (the driver's own artifacts, byte for byte)
//! and `variant-*` (other encodings of them) verify, complete or parse; `refused-<Error>-*` are
//! refused (with that error where the target has one); `unparsed-*` do not parse; `notutf8-*`
//! are not UTF-8 and refused; `finding-*` reproduce a known finding (see
//! `finding_bit_255_of_a_named_account_key`). Files named `crash-*` (inputs that once crashed a target) or
//! `bad-*` only have to not panic.
//! `cargo test -p tandem --test fuzz_corpus_linking -- --ignored` rewrites the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::PathBuf;

#[path = "../../fuzz/common/linking_driver.rs"]
mod linking_driver;
#[path = "common/seeds.rs"]
mod seeds;
use seeds::{seed_dir, seeds};

use linking_driver::{ApprovalOutcome, IdentityOutcome, ListOutcome, QrOutcome, TABLET, Value};

const TARGETS: [&str; 4] = [
    "signed_device_identity",
    "signed_device_list",
    "link_qr_payload",
    "link_approval",
];

/// Every truncation, every bit flip in the first 64 bytes.
fn mutations(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
    for i in 0..bytes.len().min(64) {
        for bit in 0..8 {
            let mut b = bytes.to_vec();
            b[i] ^= 1 << bit;
            out.push(b);
        }
    }
    out
}

/// The error a `refused-<Error>-*` name promises, if it names one.
fn named_error(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("refused-")?;
    let error = rest.split('-').next()?;
    error.starts_with(char::is_uppercase).then_some(error)
}

/// Whether `outcome` is what the seed's name promises.
fn expected(target: &str, name: &str, data: &[u8]) -> bool {
    let prefix = |p: &str| name.starts_with(p);
    if prefix("bad-") || prefix("crash-") {
        run(target, data);
        return true;
    }
    match target {
        "signed_device_identity" => match linking_driver::run_identity(data) {
            IdentityOutcome::Verified { exact, .. } => {
                (prefix("genuine-") && exact) || (prefix("variant-") && !exact)
            }
            IdentityOutcome::Refused => prefix("refused-"),
            IdentityOutcome::Unparsed => prefix("unparsed-"),
        },
        "signed_device_list" => match linking_driver::run_list(data) {
            ListOutcome::Verified { exact, .. } => {
                (prefix("genuine-") && exact) || (prefix("variant-") && !exact)
            }
            ListOutcome::Refused(e) => {
                prefix("refused-") && named_error(name).is_none_or(|n| n == format!("{e:?}"))
            }
            ListOutcome::Unparsed => prefix("unparsed-"),
            ListOutcome::AccountKeyBit255 => prefix("finding-"),
        },
        "link_qr_payload" => match linking_driver::run_qr(data) {
            QrOutcome::Parsed => prefix("genuine-") || prefix("parsed-"),
            QrOutcome::Refused => prefix("refused-"),
            QrOutcome::NotUtf8 => prefix("notutf8-"),
        },
        "link_approval" => match linking_driver::run_approval(data) {
            ApprovalOutcome::Completed { exact } => {
                (prefix("genuine-") && exact) || (prefix("variant-") && !exact)
            }
            ApprovalOutcome::Refused(e) => {
                prefix("refused-") && named_error(name).is_none_or(|n| n == format!("{e:?}"))
            }
            ApprovalOutcome::CompletedAccountKeyBit255 => prefix("finding-"),
        },
        _ => panic!("unknown target {target}"),
    }
}

/// Runs `data` through `target`'s driver (which checks the target's properties), and says
/// whether it was accepted (verified, parsed or completed).
fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "signed_device_identity" => matches!(
            linking_driver::run_identity(data),
            IdentityOutcome::Verified { .. }
        ),
        "signed_device_list" => matches!(linking_driver::run_list(data), ListOutcome::Verified { .. }),
        "link_qr_payload" => linking_driver::run_qr(data) == QrOutcome::Parsed,
        "link_approval" => matches!(
            linking_driver::run_approval(data),
            ApprovalOutcome::Completed { .. }
        ),
        _ => panic!("unknown target {target}"),
    }
}

/// Every seed does what its name says; every truncation and bit flip of it runs through the
/// driver. Returns (seeds, mutants, accepted mutants).
fn replay(target: &str) -> (usize, usize, usize) {
    let seeds = seeds(target);
    assert!(seeds.len() >= 10, "only {} {target} seeds", seeds.len());
    assert!(
        seeds.iter().any(|(n, _)| n.contains("vector-")),
        "no {target} seed from the linking vectors"
    );
    let (mut mutants, mut accepted) = (0, 0);
    for (name, data) in &seeds {
        assert!(expected(target, name, data), "{target}/{name}");
        // For link_approval, keep the control byte (and a mutation mode's pick).
        let keep = match (target, data.first()) {
            ("link_approval", Some(c)) if c & 1 == 1 => 2.min(data.len()),
            ("link_approval", Some(_)) => 1,
            _ => 0,
        };
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
fn signed_device_identity_seeds_and_their_mutants() {
    let (seeds, mutants, accepted) = replay("signed_device_identity");
    // Truncating a variant whose account key field comes last drops that optional field: it
    // still verifies. Nothing else does.
    assert!(accepted <= seeds, "{accepted} of {mutants} mutants verify");
}

#[test]
fn signed_device_list_seeds_and_their_mutants() {
    let (seeds, mutants, accepted) = replay("signed_device_list");
    assert!(accepted <= seeds, "{accepted} of {mutants} mutants verify");
}

#[test]
fn link_qr_payload_seeds_and_their_mutants() {
    let (_, mutants, accepted) = replay("link_qr_payload");
    // Flipping a bit of a base64url character can give another base64url character (a
    // different key or reference, still a request); truncations never parse.
    assert!(accepted > 0 && accepted < mutants / 2, "{accepted} of {mutants}");
}

#[test]
fn link_approval_seeds_and_their_mutants() {
    let (_, mutants, accepted) = replay("link_approval");
    // Only flips of the HMAC in seeds made with the link secret (which recomputes it) complete.
    assert!(accepted < mutants / 4, "{accepted} of {mutants}");
}

/// A `link_approval` input in mutation mode.
fn mutated(with_secret: bool, pick: u8, edits: &[[u8; 4]]) -> Vec<u8> {
    let mut input = vec![1 | (u8::from(with_secret) << 1), pick];
    input.extend(edits.iter().flatten());
    input
}

fn at(pos: usize) -> [u8; 2] {
    u16::try_from(pos).unwrap().to_le_bytes()
}

fn truncate(pos: usize) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [1, lo, hi, 0]
}

fn flip(pos: usize, bit: u8) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [0, lo, hi, bit]
}

fn set(pos: usize, value: u8) -> [u8; 4] {
    let [lo, hi] = at(pos);
    [2, lo, hi, value]
}

/// Every truncation, every bit flip in the first 64 bytes and one bit at every later byte of
/// both genuine approvals (the tablet's own and the laptop's), with and without the link
/// secret, through the driver.
#[test]
fn link_approval_systematic_mutations() {
    let fx = linking_driver::fixture();
    let mut completed = [[0; 2]; 2];
    let mut findings = 0;
    for pick in [0u8, 1] {
        let source = if pick == 0 { TABLET } else { 1 - TABLET };
        let len = fx.companions[source].approval.len();
        let mut edits: Vec<[u8; 4]> = (0..len).map(truncate).collect();
        for pos in 0..len.min(64) {
            edits.extend((0..8).map(|bit| flip(pos, bit)));
        }
        edits.extend((64..len).map(|pos| flip(pos, u8::try_from(pos % 8).unwrap())));
        for with_secret in [false, true] {
            for edit in &edits {
                match linking_driver::run_approval(&mutated(with_secret, pick, &[*edit])) {
                    ApprovalOutcome::Completed { .. } => {
                        completed[usize::from(pick)][usize::from(with_secret)] += 1;
                    }
                    ApprovalOutcome::CompletedAccountKeyBit255 => findings += 1,
                    ApprovalOutcome::Refused(_) => {}
                }
            }
        }
    }
    // Without the secret no change completes. With it, the tablet's approval completes when
    // only its HMAC changed (32 flips, recomputed); the laptop's never does (another reference,
    // and an account signature over another key).
    assert_eq!(completed, [[0, 32], [0, 0]]);
    // The former finding (bit 255 of the named account key, with the secret) is now refused as
    // malformed. See `finding_bit_255_of_a_named_account_key`.
    assert_eq!(findings, 0);
}

// ---------------------------------------------------------------------------------------------
// The seed writer.

fn write_seed(target: &str, name: &str, data: &[u8]) {
    let dir = seed_dir(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

/// `(key, value)` of every `"key": "value"` string field of a JSON text, in order (enough for
/// the vector files, whose byte strings are hex).
fn string_fields(json: &str) -> Vec<(String, String)> {
    let strings: Vec<(usize, usize, String)> = {
        let (mut out, mut chars) = (Vec::new(), json.char_indices());
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut s = String::new();
            let mut end = i;
            while let Some((j, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = j;
                        break;
                    }
                    c => s.push(c),
                }
            }
            out.push((i, end, s));
        }
        out
    };
    strings
        .windows(2)
        .filter(|w| json[w[0].1 + 1..w[1].0].trim() == ":")
        .map(|w| (w[0].2.clone(), w[1].2.clone()))
        .collect()
}

/// The artifacts of `test-vectors/tandem/linking-seed-1.json` under `key`, each once, in order.
fn vector_artifacts(key: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/tandem/linking-seed-1.json");
    let json = fs::read_to_string(path).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (k, v) in string_fields(&json) {
        if k != key {
            continue;
        }
        let bytes = if key == "qr_payload" {
            v.into_bytes()
        } else {
            hex::decode(v).unwrap()
        };
        if !out.contains(&bytes) {
            out.push(bytes);
        }
    }
    assert!(!out.is_empty(), "no {key} in the linking vectors");
    out
}

/// Protobuf: a length-delimited field.
fn bytes_field(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    let mut len = value.len();
    while len >= 0x80 {
        out.push(u8::try_from(len & 0x7F).unwrap() | 0x80);
        len >>= 7;
    }
    out.push(u8::try_from(len).unwrap());
    out.extend_from_slice(value);
    out
}

/// The length-delimited field `tag` of `bytes`.
fn field(bytes: &[u8], tag: u64) -> Vec<u8> {
    match linking_driver::get(&linking_driver::fields(bytes).unwrap(), tag) {
        Some(Value::Bytes(b)) => b.to_vec(),
        other => panic!("field {tag}: {other:?}"),
    }
}

/// `bytes` re-encoded with its fields in the order of `tags` (those not listed left out), each
/// as it was written, and `edit` applied to the values.
fn rebuild(bytes: &[u8], tags: &[u64], edit: impl Fn(u64, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let fields = linking_driver::fields(bytes).unwrap();
    let mut out = Vec::new();
    for &tag in tags {
        let f = fields.iter().find(|f| f.tag == tag).unwrap();
        match f.value {
            Value::Bytes(b) => out.extend(bytes_field(u8::try_from(tag).unwrap(), &edit(tag, b))),
            Value::Varint(_) => out.extend_from_slice(f.raw),
        }
    }
    out
}

/// Where the value of field `tag` starts in `bytes`.
fn value_offset(bytes: &[u8], tag: u64) -> usize {
    let mut pos = 0;
    for f in linking_driver::fields(bytes).unwrap() {
        if f.tag == tag {
            let len = match f.value {
                Value::Bytes(b) => b.len(),
                Value::Varint(_) => 1,
            };
            return pos + f.raw.len() - len;
        }
        pos += f.raw.len();
    }
    panic!("no field {tag}")
}

fn same(_: u64, v: &[u8]) -> Vec<u8> {
    v.to_vec()
}

fn flip_last(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    *v.last_mut().unwrap() ^= 1;
    v
}

/// Writes the `signed_device_identity` seeds.
fn write_identity_seeds(write: &mut impl FnMut(&str, String, Vec<u8>)) {
    const T: &str = "signed_device_identity";
    let fx = linking_driver::fixture();
    for c in &fx.companions {
        write(T, format!("genuine-{}", c.name), c.identity.clone());
    }
    let tablet = &fx.companions[TABLET].identity;
    write(
        T,
        "variant-tablet-no-account-key".into(),
        rebuild(tablet, &[1, 3, 4], same),
    );
    write(
        T,
        "variant-tablet-reordered".into(),
        rebuild(tablet, &[4, 3, 2, 1], same),
    );
    write(
        T,
        "variant-tablet-account-key-last".into(),
        rebuild(tablet, &[1, 3, 4, 2], same),
    );
    write(
        T,
        "variant-tablet-account-signature-s-plus-ell".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 3 {
                linking_driver::other_encoding(v)
            } else {
                v.to_vec()
            }
        }),
    );
    write(
        T,
        "variant-tablet-device-signature-s-plus-ell".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 4 {
                linking_driver::other_encoding(v)
            } else {
                v.to_vec()
            }
        }),
    );
    // The details' length as a two-byte varint (0x8B 0x00): strict parsing does not ask for
    // minimal varints.
    let mut long = tablet.clone();
    assert_eq!(long[0], 0x0A);
    long.insert(2, 0);
    long[1] |= 0x80;
    write(T, "variant-tablet-non-minimal-length".into(), long);
    // The account-signed identity inside the approval, before the companion countersigned it.
    let uncountersigned = field(&fx.companions[TABLET].approval, 1);
    write(T, "refused-tablet-uncountersigned".into(), uncountersigned);
    write(
        T,
        "refused-tablet-account-signature".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 3 { flip_last(v) } else { v.to_vec() }
        }),
    );
    write(
        T,
        "refused-tablet-device-signature".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 4 { flip_last(v) } else { v.to_vec() }
        }),
    );
    // Bit 255 of the named account key (the same u-coordinate, other bytes).
    write(
        T,
        "unparsed-tablet-account-key-bit-255".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            let mut v = v.to_vec();
            if t == 2 {
                v[31] ^= 0x80;
            }
            v
        }),
    );
    // Canonical details for another device id (08 02 -> 08 07).
    write(
        T,
        "refused-tablet-device-id".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            let mut v = v.to_vec();
            if t == 1 {
                assert_eq!(v[0], 0x08);
                v[1] = 7;
            }
            v
        }),
    );
    // The laptop's details with the tablet's signatures.
    let laptop = &fx.companions[1 - TABLET].identity;
    write(
        T,
        "refused-tablet-laptop-details".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 1 { field(laptop, 1) } else { v.to_vec() }
        }),
    );
    // Non-canonical details (fields reordered), an unknown field, a repeated field.
    write(
        T,
        "unparsed-details-reordered".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 1 {
                rebuild(v, &[3, 2, 1], same)
            } else {
                v.to_vec()
            }
        }),
    );
    let mut extra = tablet.clone();
    extra.extend(bytes_field(5, b"x"));
    write(T, "unparsed-unknown-field".into(), extra);
    let mut repeated = tablet.clone();
    repeated.extend(bytes_field(4, &field(tablet, 4)));
    write(T, "unparsed-repeated-field".into(), repeated);
    write(
        T,
        "unparsed-short-signature".into(),
        rebuild(tablet, &[1, 2, 3, 4], |t, v| {
            if t == 3 { v[..63].to_vec() } else { v.to_vec() }
        }),
    );
    write(T, "unparsed-empty".into(), Vec::new());
    write(T, "unparsed-garbage".into(), b"\x0a\x03\x08\x01\x10".to_vec());
    for (n, identity) in vector_artifacts("signed_identity").into_iter().enumerate() {
        write(T, format!("refused-vector-{n:02}"), identity);
    }
}

/// Writes the `signed_device_list` seeds.
fn write_list_seeds(write: &mut impl FnMut(&str, String, Vec<u8>)) {
    const T: &str = "signed_device_list";
    let fx = linking_driver::fixture();
    for (name, list) in &fx.lists {
        write(T, format!("genuine-{name}"), list.serialize().to_vec());
    }
    let tablet = fx.lists[2].1.serialize();
    write(
        T,
        "variant-tablet-linked-no-account-key".into(),
        rebuild(tablet, &[1, 2], same),
    );
    write(
        T,
        "variant-tablet-linked-reordered".into(),
        rebuild(tablet, &[3, 2, 1], same),
    );
    write(
        T,
        "variant-tablet-linked-s-plus-ell".into(),
        rebuild(tablet, &[1, 2, 3], |t, v| {
            if t == 2 {
                linking_driver::other_encoding(v)
            } else {
                v.to_vec()
            }
        }),
    );
    write(
        T,
        "refused-BadSignature-signature".into(),
        rebuild(
            tablet,
            &[1, 2, 3],
            |t, v| if t == 2 { flip_last(v) } else { v.to_vec() },
        ),
    );
    // 08 <timestamp varint>: flip its lowest bit (still canonical).
    write(
        T,
        "refused-BadSignature-timestamp".into(),
        rebuild(tablet, &[1, 2, 3], |t, v| {
            let mut v = v.to_vec();
            if t == 1 {
                assert_eq!(v[0], 0x08);
                v[1] ^= 1;
            }
            v
        }),
    );
    // The unlinked laptop's index put back (1a 01 02 -> 1a 02 01 02).
    let unlinked = fx.lists[3].1.serialize();
    write(
        T,
        "refused-BadSignature-laptop-restored".into(),
        rebuild(unlinked, &[1, 2, 3], |t, v| {
            if t == 1 {
                let mut v = v[..v.len() - 3].to_vec();
                v.extend_from_slice(&[0x1A, 0x02, 0x01, 0x02]);
                v
            } else {
                v.to_vec()
            }
        }),
    );
    // See `finding_bit_255_of_a_named_account_key`.
    write(
        T,
        "unparsed-named-account-key-bit-255".into(),
        key_bit_255(tablet),
    );
    // Unparsable details: indexes descending, above the current index, unpacked, empty run.
    let details = field(tablet, 1);
    let ts_end = 1 + details[1..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let timestamp = &details[..ts_end];
    for (what, tail) in [
        ("descending", &[0x10, 0x02, 0x1A, 0x02, 0x02, 0x01][..]),
        ("above-current", &[0x10, 0x01, 0x1A, 0x02, 0x01, 0x02]),
        ("unpacked", &[0x10, 0x02, 0x18, 0x01, 0x18, 0x02]),
        ("empty-run", &[0x10, 0x02, 0x1A, 0x00]),
        ("no-current-index", &[0x1A, 0x02, 0x01, 0x02]),
    ] {
        let mut d = timestamp.to_vec();
        d.extend_from_slice(tail);
        write(
            T,
            format!("unparsed-details-{what}"),
            rebuild(
                tablet,
                &[1, 2, 3],
                |t, v| if t == 1 { d.clone() } else { v.to_vec() },
            ),
        );
    }
    write(T, "unparsed-no-signature".into(), rebuild(tablet, &[1, 3], same));
    write(T, "unparsed-empty".into(), Vec::new());
    // A re-registered account: its list names its own (new) key.
    let mut rng = <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::seed_from_u64(0x2E6);
    let other = tandem::linking::PrimaryAccount::new(
        tandem::crypto::KeyPair::generate(&mut rng),
        linking_driver::NOW,
        &mut rng,
    );
    write(
        T,
        "refused-AccountKeyChanged-reregistered".into(),
        other.device_list().serialize().to_vec(),
    );
    for (n, list) in vector_artifacts("device_list").into_iter().enumerate() {
        let error = match linking_driver::run_list(&list) {
            ListOutcome::Refused(e) => format!("{e:?}"),
            other => panic!("vector list {n}: {other:?}"),
        };
        write(T, format!("refused-{error}-vector-{n:02}"), list);
    }
}

/// A signed list with bit 255 of the account key it names flipped (that field is not signed).
fn key_bit_255(list: &[u8]) -> Vec<u8> {
    rebuild(list, &[1, 2, 3], |t, v| {
        let mut v = v.to_vec();
        if t == 3 {
            v[31] ^= 0x80;
        }
        v
    })
}

/// Writes the `link_qr_payload` seeds.
fn write_qr_seeds(write: &mut impl FnMut(&str, String, Vec<u8>)) {
    const T: &str = "link_qr_payload";
    let fx = linking_driver::fixture();
    for c in &fx.companions {
        write(T, format!("genuine-{}", c.name), c.qr.clone().into_bytes());
    }
    let qr = fx.companions[TABLET].qr.clone();
    let (head, created) = qr.rsplit_once(':').unwrap();
    let parts: Vec<&str> = qr.split(':').collect();
    let account = base64_url(fx.account_key.as_raw());
    for (name, payload) in [
        ("parsed-created-0", format!("{head}:0")),
        ("parsed-created-max", format!("{head}:{}", u64::MAX)),
        (
            "parsed-account-key",
            format!(
                "{}:{}:{}:{account}:{}:{}",
                parts[0], parts[1], parts[2], parts[4], parts[5]
            ),
        ),
        (
            "refused-version-2",
            qr.replace("tandem-link:1:", "tandem-link:2:"),
        ),
        ("refused-extra-field", format!("{qr}:extra")),
        ("refused-missing-field", head.to_string()),
        ("refused-leading-zero", format!("{head}:0{created}")),
        ("refused-plus-sign", format!("{head}:+{created}")),
        ("refused-minus-zero", format!("{head}:-0")),
        ("refused-overflow", format!("{head}:18446744073709551616")),
        ("refused-empty-time", format!("{head}:")),
        ("refused-trailing-newline", format!("{qr}\n")),
        (
            "refused-padding",
            qr.replacen(':', "==:", 3).replacen("==:", ":", 2),
        ),
        (
            "refused-standard-alphabet",
            format!(
                "{}:{}:+{}:{}",
                parts[0],
                parts[1],
                &parts[2][1..],
                parts[3..].join(":")
            ),
        ),
        ("refused-prefix-only", "tandem-link:1:".into()),
        ("refused-empty", String::new()),
    ] {
        write(T, name.into(), payload.into_bytes());
    }
    // The reference (16 bytes: 22 characters) with non-zero trailing bits in its last one.
    let reference = parts[2];
    let last = reference.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let other = alphabet.chars().nth(index ^ 1).unwrap();
    let trailing = format!(
        "{}:{}:{}{other}:{}",
        parts[0],
        parts[1],
        &reference[..reference.len() - 1],
        parts[3..].join(":")
    );
    write(T, "refused-trailing-bits".into(), trailing.into_bytes());
    let mut not_utf8 = qr.clone().into_bytes();
    not_utf8.insert(20, 0xFF);
    write(T, "notutf8-genuine-with-ff".into(), not_utf8);
    write(T, "notutf8-lone-continuation".into(), vec![0x80]);
    for (n, payload) in vector_artifacts("qr_payload").into_iter().enumerate() {
        write(T, format!("parsed-vector-{n:02}"), payload);
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Writes the `link_approval` seeds.
fn write_approval_seeds(write: &mut impl FnMut(&str, String, Vec<u8>)) {
    const T: &str = "link_approval";
    let fx = linking_driver::fixture();
    let genuine = &fx.companions[TABLET].approval;
    let laptop = &fx.companions[1 - TABLET].approval;
    let raw = |ctl: u8, bytes: &[u8]| {
        let mut input = vec![ctl];
        input.extend_from_slice(bytes);
        input
    };
    write(T, "genuine-raw".into(), raw(0, genuine));
    write(T, "genuine-picked".into(), vec![1, 0]);
    write(T, "genuine-with-secret".into(), raw(2, genuine));
    // Other encodings of the same values: fields reordered, the device id as a two-byte varint.
    write(
        T,
        "variant-reordered".into(),
        raw(0, &rebuild(genuine, &[5, 4, 3, 2, 1], same)),
    );
    let device_id = value_offset(genuine, 3);
    let mut long = genuine.clone();
    long[device_id] |= 0x80;
    long.insert(device_id + 1, 0);
    write(T, "variant-non-minimal-device-id".into(), raw(0, &long));
    let hmac = value_offset(genuine, 2);
    let reference = value_offset(genuine, 5);
    let key_index = value_offset(genuine, 4);
    write(
        T,
        "genuine-with-secret-hmac-flipped".into(),
        mutated(true, 0, &[flip(hmac, 0)]),
    );
    let details = value_offset(genuine, 1);
    let inner = field(genuine, 1);
    let account_signature = details + value_offset(&inner, 3);
    // See `finding_bit_255_of_a_named_account_key`.
    let account_key = details + value_offset(&inner, 2);
    write(
        T,
        "refused-Malformed-with-secret-account-key-bit-255".into(),
        mutated(true, 0, &[flip(account_key + 31, 7)]),
    );
    for (name, input) in [
        ("refused-BadHmac-laptop", raw(0, laptop)),
        ("refused-BadHmac-hmac", mutated(false, 0, &[flip(hmac + 31, 0)])),
        (
            "refused-BadHmac-details",
            mutated(false, 0, &[flip(details + 20, 3)]),
        ),
        (
            "refused-BadHmac-account-signature",
            mutated(false, 0, &[flip(account_signature, 0)]),
        ),
        (
            "refused-Malformed-truncated",
            mutated(false, 0, &[truncate(genuine.len() - 1)]),
        ),
        (
            "refused-Malformed-no-reference",
            raw(0, &rebuild(genuine, &[1, 2, 3, 4], same)),
        ),
        ("refused-Malformed-empty", vec![0]),
        ("refused-Malformed-garbage", b"\x00\x0a\x01".to_vec()),
        // The outer copies and the reference are not under the HMAC; they must match.
        (
            "refused-DeviceIdMismatch-outer",
            mutated(false, 0, &[set(device_id, 5)]),
        ),
        (
            "refused-DeviceIdMismatch-outer-zero",
            mutated(false, 0, &[set(device_id, 0)]),
        ),
        (
            "refused-KeyIndexMismatch-outer",
            mutated(false, 0, &[set(key_index, 9)]),
        ),
        (
            "refused-ReferenceMismatch-outer",
            mutated(false, 0, &[flip(reference, 0)]),
        ),
        // With the link secret.
        (
            "refused-ReferenceMismatch-with-secret-laptop",
            mutated(true, 1, &[]),
        ),
        (
            "refused-BadAccountSignature-with-secret",
            mutated(true, 0, &[flip(account_signature, 0)]),
        ),
        (
            "refused-DeviceIdMismatch-with-secret",
            mutated(true, 0, &[set(device_id, 7)]),
        ),
        (
            "refused-KeyIndexMismatch-with-secret",
            mutated(true, 0, &[set(key_index, 7)]),
        ),
        (
            "refused-Malformed-with-secret-details",
            mutated(true, 0, &[flip(details, 0)]),
        ),
    ] {
        write(T, name.into(), input);
    }
    // The laptop's approval with the tablet's reference and the secret: the account signature
    // covers the laptop's key.
    let tablet_reference = fx.companions[TABLET].pending.request().reference;
    let edits: Vec<[u8; 4]> = tablet_reference
        .iter()
        .enumerate()
        .map(|(i, &b)| set(value_offset(laptop, 5) + i, b))
        .collect();
    write(
        T,
        "refused-BadAccountSignature-with-secret-laptop".into(),
        mutated(true, 1, &edits),
    );
    for (n, approval) in vector_artifacts("approval").into_iter().enumerate() {
        write(T, format!("refused-BadHmac-vector-{n:02}"), raw(0, &approval));
        write(
            T,
            format!("refused-ReferenceMismatch-vector-with-secret-{n:02}"),
            raw(2, &approval),
        );
    }
}

/// A known finding (not fixed here: `protocol/src` belongs to others). tandem's signature check
/// ignores bit 255 of a key's u-coordinate (`MontgomeryPoint::to_edwards` masks it), while
/// `PublicKey` equality compares all 32 bytes, and the account key that a signed list or a
/// signed identity names is not covered by any signature. Hence:
///
/// 1. Anyone who can serve a device list (the directory) can take the account's genuine list
///    and flip bit 255 of the account key field: `SignedDeviceListIn::verify` finds it signed by
///    the key it names, which is "another" key, and says `AccountKeyChanged`; `AccountView::update`
///    refuses it as such (the caller is asked whether to accept a new account key) and
///    `LinkedDevice::status` reports `AccountChanged` to every companion, as if the primary had
///    re-registered, though the list is the account's own.
/// 2. With the link secret (someone who saw the QR code), flipping that bit in the signed
///    identity inside an approval makes `PendingLink::complete` succeed with an account key that
///    is not byte-equal to the account's: the primary's `confirm` then refuses the device
///    (`BadAccountSignature`), peers refuse it (`AccountKeyMismatch`), and the companion reads the
///    account's lists as `AccountChanged`.
///
/// A fix would compare keys as curve points or refuse a named key with bit 255 set (and then
/// `verify` would give `BadSignature` for 1, and `complete` `BadAccountSignature` for 2). When
/// that happens, change this test and the driver's `AccountKeyBit255` outcomes.
#[test]
fn finding_bit_255_of_a_named_account_key() {
    // Fixed: a named account key with bit 255 set is refused as malformed, so the directory can
    // no longer make a list that "says" the account changed, and an approval cannot name the
    // account key under a second encoding.
    let fx = linking_driver::fixture();
    let list = key_bit_255(fx.primary.device_list().serialize());
    let mut view = fx.views.last().unwrap().1.clone();
    assert_eq!(
        view.update(&list),
        Err(tandem::account::DeviceListError::Malformed)
    );
    let tablet = &fx.companions[TABLET];
    assert_eq!(
        tablet.linked.status(&list),
        Err(tandem::account::DeviceListError::Malformed)
    );
    assert_eq!(linking_driver::run_list(&list), ListOutcome::Unparsed);
    let approval = seeds("link_approval")
        .into_iter()
        .find(|(n, _)| n == "refused-Malformed-with-secret-account-key-bit-255")
        .unwrap()
        .1;
    assert!(matches!(
        linking_driver::run_approval(&approval),
        ApprovalOutcome::Refused(_)
    ));
}

/// Writes every seed of the four targets (the old ones removed first), checking each does what
/// its name says.
#[test]
#[ignore = "rewrites fuzz/seeds/{signed_device_identity,signed_device_list,link_qr_payload,link_approval}"]
fn write_linking_seeds() {
    for target in TARGETS {
        let _ = fs::remove_dir_all(seed_dir(target));
    }
    let mut written = 0;
    let mut write = |target: &str, name: String, data: Vec<u8>| {
        assert!(expected(target, &name, &data), "{target}/{name}");
        write_seed(target, &name, &data);
        written += 1;
    };
    write_identity_seeds(&mut write);
    write_list_seeds(&mut write);
    write_qr_seeds(&mut write);
    write_approval_seeds(&mut write);
    assert!(written > 100, "{written}");
}
