//! Pairwise sessions: tandem beside vodozemac's Olm in the same run. The primitive floor for
//! each step is the sum of the primitives it needs (see `primitives`, same `cargo bench` run).
//!
//! - setup: initiator processes a bundle, encrypts the first message, responder decrypts it;
//! - same direction: one 100-byte message encrypted and decrypted on an established chain;
//! - ping-pong: one round trip, each message bringing a DH ratchet step;
//! - 1 MiB: one 1 MiB message encrypted and decrypted.
//!
//! tandem is measured through its store API, as an application uses it: the `MemoryStore` lends
//! the session record to each step (`take_session`: moved out, not cloned) and takes the new one
//! back in the commit.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use tandem::Address;
use tandem::crypto::KeyPair;
use tandem::session::{self, PreKeyBundle, PreKeyRecord, SignedPreKeyRecord};
use tandem::store::{MemoryStore, PreKeyStore, SignedPreKeyStore};
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

struct Device {
    store: MemoryStore,
    rng: ChaCha20Rng,
}

fn device(seed: u64) -> (Device, PreKeyBundle) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = KeyPair::generate(&mut rng);
    let mut store = MemoryStore::new(identity.clone(), 1000 + seed as u32);
    let signed = SignedPreKeyRecord::generate(1, &identity, 0, &mut rng);
    let one_time = PreKeyRecord::generate(2, &mut rng);
    let bundle = PreKeyBundle {
        registration_id: 1000 + seed as u32,
        device_id: 1,
        pre_key: Some((2, one_time.key_pair.public)),
        signed_pre_key_id: 1,
        signed_pre_key: signed.key_pair.public,
        signed_pre_key_signature: signed.signature.to_bytes().to_vec(),
        identity_key: identity.public,
    };
    let _ = store.save_signed_pre_key(signed);
    let _ = store.save_pre_key(one_time);
    (Device { store, rng }, bundle)
}

fn alice() -> Address {
    Address::new("alice", 1)
}
fn bob() -> Address {
    Address::new("bob", 1)
}

/// Sends `text` from `a` (at `to`) and decrypts it at `b` (from `from`).
fn deliver(a: &mut Device, to: &Address, b: &mut Device, from: &Address, text: &[u8]) -> Vec<u8> {
    let Ok(m) = session::encrypt(&mut a.store, to, text) else {
        return Vec::new();
    };
    let result = match m.message_type() {
        tandem::wire::MessageType::PreKey => {
            session::decrypt_prekey_message(&mut b.store, from, m.serialized(), &mut b.rng)
        }
        _ => session::decrypt_message(&mut b.store, from, m.serialized(), &mut b.rng),
    };
    result.unwrap_or_default()
}

fn tandem_pair() -> (Device, Device) {
    let (mut a, _) = device(1);
    let (mut b, bundle) = device(2);
    let _ = session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng);
    deliver(&mut a, &bob(), &mut b, &alice(), b"hi");
    deliver(&mut b, &alice(), &mut a, &bob(), b"hello");
    (a, b)
}

fn olm_pair() -> (Session, Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = bob.one_time_keys().values().next().copied();
    let Some(otk) = otk else { panic_free_unreachable() };
    let Ok(mut a) = alice.create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
    else {
        panic_free_unreachable()
    };
    let Ok(OlmMessage::PreKey(m)) = a.encrypt(b"hi") else {
        panic_free_unreachable()
    };
    let Ok(created) = bob.create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &m)
    else {
        panic_free_unreachable()
    };
    let mut b = created.session;
    if let Ok(reply) = b.encrypt(b"hello") {
        let _ = a.decrypt(&reply);
    }
    (a, b)
}

#[allow(
    clippy::panic,
    reason = "bench setup: an Olm session that cannot be made is a broken bench"
)]
fn panic_free_unreachable() -> ! {
    panic!("vodozemac session setup failed")
}

fn setup(c: &mut Criterion) {
    let mut g = c.benchmark_group("session setup + first message + decrypt");
    let (a0, _) = device(1);
    let (b0, bundle) = device(2);
    g.bench_function("tandem", |bench| {
        bench.iter_batched(
            || {
                (
                    Device {
                        store: a0.store.clone(),
                        rng: a0.rng.clone(),
                    },
                    Device {
                        store: b0.store.clone(),
                        rng: b0.rng.clone(),
                    },
                )
            },
            |(mut a, mut b)| {
                let _ = session::process_prekey_bundle(&mut a.store, &bob(), &bundle, &mut a.rng);
                deliver(&mut a, &bob(), &mut b, &alice(), black_box(&[7u8; 100]))
            },
            BatchSize::SmallInput,
        )
    });
    let alice_acct = Account::new();
    g.bench_function("vodozemac olm", |bench| {
        bench.iter_batched(
            || {
                let mut bob = Account::new();
                bob.generate_one_time_keys(1);
                bob
            },
            |mut bob_acct| {
                let otk = bob_acct.one_time_keys().values().next().copied();
                let Some(otk) = otk else { return Vec::new() };
                let Ok(mut s) = alice_acct.create_outbound_session(
                    SessionConfig::version_1(),
                    bob_acct.curve25519_key(),
                    otk,
                ) else {
                    return Vec::new();
                };
                let Ok(OlmMessage::PreKey(m)) = s.encrypt(black_box([7u8; 100])) else {
                    return Vec::new();
                };
                bob_acct
                    .create_inbound_session(SessionConfig::version_1(), alice_acct.curve25519_key(), &m)
                    .map(|r| r.plaintext)
                    .unwrap_or_default()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn same_direction(c: &mut Criterion, name: &str, size: usize) {
    let text = vec![7u8; size];
    let mut g = c.benchmark_group(name);
    if size > 4096 {
        g.sample_size(20);
    }
    let (mut a, mut b) = tandem_pair();
    g.bench_function("tandem", |bench| {
        bench.iter(|| deliver(&mut a, &bob(), &mut b, &alice(), black_box(&text)))
    });
    let (mut oa, mut ob) = olm_pair();
    g.bench_function("vodozemac olm", |bench| {
        bench.iter(|| {
            oa.encrypt(black_box(&text))
                .ok()
                .and_then(|m| ob.decrypt(&m).ok())
        })
    });
    g.finish();
}

fn small(c: &mut Criterion) {
    same_direction(c, "encrypt+decrypt 100 B same direction", 100);
}

fn large(c: &mut Criterion) {
    same_direction(c, "encrypt+decrypt 1 MiB same direction", 1 << 20);
}

fn ping_pong(c: &mut Criterion) {
    let text = [7u8; 100];
    let mut g = c.benchmark_group("ping-pong round trip (DH step every message)");
    let (mut a, mut b) = tandem_pair();
    g.bench_function("tandem", |bench| {
        bench.iter(|| {
            deliver(&mut a, &bob(), &mut b, &alice(), black_box(&text));
            deliver(&mut b, &alice(), &mut a, &bob(), black_box(&text))
        })
    });
    let (mut oa, mut ob) = olm_pair();
    g.bench_function("vodozemac olm", |bench| {
        bench.iter(|| {
            let x = oa
                .encrypt(black_box(&text))
                .ok()
                .and_then(|m| ob.decrypt(&m).ok());
            let y = ob
                .encrypt(black_box(&text))
                .ok()
                .and_then(|m| oa.decrypt(&m).ok());
            (x, y)
        })
    });
    g.finish();
}

criterion_group!(benches, setup, small, ping_pong, large);
criterion_main!(benches);
