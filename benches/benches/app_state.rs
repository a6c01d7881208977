//! App-state sync: a patch of 1, 100 and 1,000 mutations encoded and applied, a 10,000-record
//! snapshot applied, and the LTHash step alone (one HKDF-SHA256 to 128 bytes plus 64 word adds),
//! which dominates applying a mutation together with its two HMACs and one AES-CBC decryption.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use tandem::app_state::{
    AppStateKeyRing, AppStateServer, CollectionName, CollectionState, LtHash, MemoryAppStateServer, Mutation,
    SyncAction,
};

fn mutations(n: usize, ts: i64) -> Vec<Mutation> {
    (0..n)
        .map(|i| {
            Mutation::set(
                &SyncAction::Mute {
                    chat: format!("49151{i:08}@s.whatsapp.net"),
                    muted: true,
                    end_ms: Some(1_767_225_600_000),
                },
                ts,
            )
        })
        .collect()
}

fn patches(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut ring = AppStateKeyRing::new();
    ring.rotate(&mut rng, 0, 1).unwrap();
    let state = CollectionState::new(CollectionName::RegularHigh);
    let mut g = c.benchmark_group("app_state");
    for n in [1usize, 100, 1000] {
        let ms = mutations(n, 5);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("encode patch, {n} mutations"), |b| {
            b.iter(|| state.encode_patch(&ring, black_box(&ms), &mut rng).unwrap())
        });
        let patch = state.encode_patch(&ring, &ms, &mut rng).unwrap().bytes;
        g.bench_function(format!("apply patch, {n} mutations"), |b| {
            b.iter_batched(
                || state.clone(),
                |mut s| s.apply_patch(&ring, black_box(&patch)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    // A 10,000-record snapshot, as a new device receives it.
    let mut server = MemoryAppStateServer::new();
    let mut s = state.clone();
    for chunk in mutations(10_000, 5).chunks(1000) {
        let p = s.encode_patch(&ring, chunk, &mut rng).unwrap();
        server
            .push(CollectionName::RegularHigh, s.version(), p.bytes.clone())
            .unwrap();
        s.apply_patch(&ring, &p.bytes).unwrap();
    }
    let snapshot = server
        .fetch(CollectionName::RegularHigh, 0, true)
        .snapshot
        .unwrap();
    g.throughput(Throughput::Elements(10_000));
    g.sample_size(10);
    g.bench_function("apply snapshot, 10000 records", |b| {
        b.iter(|| {
            let mut fresh = CollectionState::new(CollectionName::RegularHigh);
            fresh.apply_snapshot(&ring, black_box(&snapshot)).unwrap()
        })
    });
    g.sample_size(100);
    g.throughput(Throughput::Elements(1));
    let mac = [7u8; 32];
    g.bench_function("lthash add one value MAC", |b| {
        let mut h = LtHash::zero();
        b.iter(|| h.add(black_box(&mac)))
    });
    g.finish();
}

criterion_group!(benches, patches);
criterion_main!(benches);
