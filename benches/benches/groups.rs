//! Sender keys (groups): tandem beside vodozemac's Megolm in the same run.
//!
//! - encrypt / decrypt 100 B and 1 MiB on an established chain, messages decrypted in order;
//! - decrypt a message 1,000 iterations ahead of the receiver's chain (fresh receiver each time).
//!
//! The floor is one signature (encrypt) or one verification (decrypt) plus the symmetric work
//! (two HMAC chain steps, HKDF to 48 bytes, AES-256-CBC), all in the `primitives` bench.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tandem::Address;
use tandem::crypto::KeyPair;
use tandem::group;
use tandem::store::MemoryStore;
use vodozemac::megolm::{GroupSession, InboundGroupSession, MegolmMessage, SessionConfig, SessionKey};

const GROUP: [u8; 16] = [9; 16];

fn sender() -> Address {
    Address::new("alice", 1)
}

/// A sender store with its chain, a receiver store that holds it, and the sender's RNG.
fn tandem_pair() -> (MemoryStore, MemoryStore, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut s = MemoryStore::new(KeyPair::generate(&mut rng), 1);
    let mut r = MemoryStore::new(KeyPair::generate(&mut rng), 2);
    if let Ok(skdm) = group::create_distribution_message(&mut s, &sender(), GROUP, &mut rng) {
        let _ = group::process_distribution_message(&mut r, &sender(), &skdm);
    }
    (s, r, rng)
}

fn tandem_batch(s: &mut MemoryStore, rng: &mut ChaCha20Rng, text: &[u8], n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .filter_map(|_| group::encrypt(s, &sender(), GROUP, text, rng).ok())
        .map(|m| m.serialized().to_vec())
        .collect()
}

fn megolm_setup(text: &[u8], n: usize) -> (GroupSession, SessionKey, Vec<MegolmMessage>) {
    let mut out = GroupSession::new(SessionConfig::version_1());
    let key = out.session_key();
    let batch = (0..n).map(|_| out.encrypt(text)).collect();
    (out, key, batch)
}

fn inbound(key: &SessionKey) -> InboundGroupSession {
    InboundGroupSession::new(key, SessionConfig::version_1())
}

/// Times `iters` decryptions of a batch of `len` messages in order, with a fresh receiver from
/// `fresh` whenever the batch starts again (not timed).
fn timed_stream<T, O>(
    iters: u64,
    len: usize,
    fresh: impl Fn() -> T,
    mut decrypt: impl FnMut(&mut T, usize) -> O,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut receiver = fresh();
    let mut next = 0;
    for _ in 0..iters {
        if next == len {
            next = 0;
            receiver = fresh();
        }
        let start = Instant::now();
        black_box(decrypt(&mut receiver, next));
        total += start.elapsed();
        next += 1;
    }
    total
}

fn encrypt_decrypt(c: &mut Criterion, label: &str, size: usize, batch_len: usize) {
    let text = vec![5u8; size];
    let mut g = c.benchmark_group(format!("group {label}"));
    if size > 4096 {
        g.sample_size(20);
    }

    let (mut s, r0, mut rng) = tandem_pair();
    g.bench_function("encrypt/tandem", |b| {
        b.iter(|| {
            group::encrypt(&mut s, &sender(), GROUP, black_box(&text), &mut rng).map(|m| m.serialized().len())
        })
    });
    let (mut out, key, megolm) = megolm_setup(&text, batch_len);
    g.bench_function("encrypt/vodozemac megolm", |b| {
        b.iter(|| out.encrypt(black_box(&text)))
    });

    // Decrypt a stream of fresh messages in order; when the batch is used up, start again with
    // a fresh receiver (outside the timed part).
    drop(r0);
    let (mut s, r_fresh, mut rng) = tandem_pair();
    let batch = tandem_batch(&mut s, &mut rng, &text, batch_len);
    g.bench_function("decrypt/tandem", |b| {
        b.iter_custom(|iters| {
            timed_stream(
                iters,
                batch.len(),
                || r_fresh.clone(),
                |r, i| {
                    group::decrypt(r, &sender(), black_box(&batch[i]))
                        .map(|p| p.len())
                        .ok()
                },
            )
        })
    });
    g.bench_function("decrypt/vodozemac megolm", |b| {
        b.iter_custom(|iters| {
            timed_stream(
                iters,
                megolm.len(),
                || inbound(&key),
                |r, i| r.decrypt(black_box(&megolm[i])).map(|d| d.plaintext.len()).ok(),
            )
        })
    });
    g.finish();
}

fn small(c: &mut Criterion) {
    encrypt_decrypt(c, "100 B", 100, 5_000);
}

fn large(c: &mut Criterion) {
    encrypt_decrypt(c, "1 MiB", 1 << 20, 40);
}

fn far_ahead(c: &mut Criterion) {
    let text = [5u8; 100];
    let mut g = c.benchmark_group("group decrypt 1,000 iterations ahead");
    let (mut s, r0, mut rng) = tandem_pair();
    let batch = tandem_batch(&mut s, &mut rng, &text, 1_001);
    g.bench_function("tandem", |b| {
        b.iter_batched(
            || r0.clone(),
            |mut r| group::decrypt(&mut r, &sender(), black_box(&batch[1_000])).map(|p| p.len()),
            BatchSize::SmallInput,
        )
    });
    let (_, key, megolm) = megolm_setup(&text, 1_001);
    g.bench_function("vodozemac megolm", |b| {
        b.iter_batched(
            || inbound(&key),
            |mut r| r.decrypt(black_box(&megolm[1_000])).map(|d| d.plaintext.len()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, small, far_ahead, large);
criterion_main!(benches);
