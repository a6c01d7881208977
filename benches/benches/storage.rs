//! Storage: one encrypt + decrypt in the same direction with both devices on SQLite files (WAL,
//! synchronous=FULL) beside the same on the in-memory store, in one run. Each operation is one
//! committed transaction, as a client step is.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use criterion::{Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use tandem::Address;
use tandem::crypto::KeyPair;
use tandem::session::{self, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use tandem::store::{MemoryStore, ProtocolStore, SqliteOptions, SqliteStore};

fn pair<S: ProtocolStore>(make: &mut dyn FnMut(&KeyPair, u32) -> S) -> (S, S, ChaCha20Rng) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let (ia, ib) = (KeyPair::generate(&mut rng), KeyPair::generate(&mut rng));
    let mut a = make(&ia, 1);
    let mut b = make(&ib, 2);
    let signed = SignedPreKeyRecord::generate(1, &ib, 0, &mut rng);
    let otk = PreKeyRecord::generate(2, &mut rng);
    let bundle = PreKeyBundle {
        registration_id: 2,
        device_id: 1,
        pre_key: Some((2, otk.key_pair.public)),
        signed_pre_key_id: 1,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
        identity_key: ib.public,
    };
    b.save_signed_pre_key(signed).unwrap();
    b.save_pre_key(otk).unwrap();
    session::process_prekey_bundle(&mut a, &bob(), &bundle, &mut rng).unwrap();
    let m = session::encrypt(&mut a, &bob(), b"hi").unwrap();
    session::decrypt_prekey_message(&mut b, &alice(), m.serialized(), &mut rng).unwrap();
    let r = session::encrypt(&mut b, &alice(), b"hello").unwrap();
    session::decrypt_message(&mut a, &bob(), r.serialized(), &mut rng).unwrap();
    (a, b, rng)
}

fn alice() -> Address {
    Address::new("alice", 1)
}
fn bob() -> Address {
    Address::new("bob", 1)
}

fn round<S: ProtocolStore>(a: &mut S, b: &mut S, rng: &mut ChaCha20Rng, text: &[u8]) -> usize {
    let m = session::encrypt(a, &bob(), text).unwrap();
    session::decrypt_message(b, &alice(), m.serialized(), rng)
        .unwrap()
        .len()
}

fn storage(c: &mut Criterion) {
    let text = [7u8; 100];
    let mut g = c.benchmark_group("encrypt+decrypt 100 B same direction, by store");
    let (mut a, mut b, mut rng) = pair(&mut |id, reg| MemoryStore::new(id.clone(), reg));
    g.bench_function("memory", |bench| {
        bench.iter(|| round(&mut a, &mut b, &mut rng, black_box(&text)))
    });
    let dir = std::env::temp_dir().join(format!("tandem-bench-storage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut n = 0;
    let (mut a, mut b, mut rng) = pair(&mut |id, reg| {
        n += 1;
        SqliteStore::create(dir.join(format!("d{n}.db")), id, reg, SqliteOptions::default()).unwrap()
    });
    g.bench_function("sqlite file (WAL, synchronous=FULL)", |bench| {
        bench.iter(|| round(&mut a, &mut b, &mut rng, black_box(&text)))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, storage);
criterion_main!(benches);
