//! Pairwise sessions: tandem beside vodozemac's Olm in the same run. The primitive floor for
//! each step is the sum of the primitives it needs (see `primitives`, same `cargo bench` run).
//!
//! - setup: initiator processes a bundle, encrypts the first message, responder decrypts it;
//! - same direction: one 100-byte message encrypted and decrypted on an established chain, beside
//!   its primitive floor measured in the same group (`primitive floor`: the same primitive calls
//!   on the same sizes through the RustCrypto crates, no tandem code);
//! - ping-pong: one round trip, each message bringing a DH ratchet step;
//! - 1 MiB: one 1 MiB message encrypted and decrypted.
//!
//! tandem is measured through its store API, as an application uses it: the `MemoryStore` lends
//! the session record to each step (`take_session`: moved out, not cloned) and takes the new one
//! back in the commit.

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sha2::Sha256;
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

type HmacSha256 = Hmac<Sha256>;

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key) else {
        return [0; 32];
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The primitive floor of one message encrypted and decrypted on an established chain, with the
/// RustCrypto crates directly (no tandem code): per side one chain step (HMAC of 0x01 and 0x02
/// under the chain key) and one HKDF-SHA256 to 80 bytes ("WhisperMessageKeys"); AES-256-CBC of
/// the plaintext and back; the message MAC (HMAC over both identity keys and the serialized
/// message, the size tandem sends) computed and recomputed.
fn primitive_floor(text: &[u8], chain_key: &[u8; 32]) -> usize {
    let ids = [[5u8; 33], [6u8; 33]];
    let side = || {
        let seed = hmac_parts(chain_key, &[&[0x01]]);
        let next = hmac_parts(chain_key, &[&[0x02]]);
        let mut okm = [0u8; 80];
        let _ = Hkdf::<Sha256>::new(Some(&[0u8; 32]), &seed).expand(b"WhisperMessageKeys", &mut okm);
        (okm, next)
    };
    let (keys, _) = side();
    let (cipher_key, mac_key, iv) = split_keys(&keys);
    let ct = cbc::Encryptor::<Aes256>::new(&cipher_key.into(), &iv.into()).encrypt_padded_vec::<Pkcs7>(text);
    // version byte, ratchet key (33 + 2), counters (2 × 2), ciphertext field (2 + len).
    let mut serialized = vec![0x33; 1 + 35 + 4 + 2];
    serialized.extend_from_slice(&ct);
    let tag = hmac_parts(&mac_key, &[&ids[0], &ids[1], &serialized]);
    let (keys, _) = side();
    let (cipher_key, mac_key, iv) = split_keys(&keys);
    let again = hmac_parts(&mac_key, &[&ids[0], &ids[1], &serialized]);
    let pt = cbc::Decryptor::<Aes256>::new(&cipher_key.into(), &iv.into())
        .decrypt_padded_vec::<Pkcs7>(&ct)
        .unwrap_or_default();
    pt.len() + usize::from(tag.get(..8) == again.get(..8))
}

/// Cipher key, MAC key and IV out of the 80 bytes.
fn split_keys(okm: &[u8; 80]) -> ([u8; 32], [u8; 32], [u8; 16]) {
    let (c, rest) = okm.split_at(32);
    let (m, iv) = rest.split_at(32);
    (
        c.try_into().unwrap_or([0; 32]),
        m.try_into().unwrap_or([0; 32]),
        iv.try_into().unwrap_or([0; 16]),
    )
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
    let chain_key = [9u8; 32];
    g.bench_function("primitive floor", |bench| {
        bench.iter(|| primitive_floor(black_box(&text), black_box(&chain_key)))
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
    // The DH floor of one round trip: per message, a new ratchet key (a fixed-base scalar
    // multiplication) and two X25519 agreements (the receiving and the sending chain), with
    // x25519-dalek directly; plus the same-direction primitive floor for each message.
    let chain_key = [9u8; 32];
    g.bench_function("primitive floor", |bench| {
        bench.iter(|| {
            let mut n = 0u8;
            for side in [1u8, 2] {
                let ours = x25519_dalek::StaticSecret::from([side; 32]);
                let fresh = x25519_dalek::StaticSecret::from([side.wrapping_add(7); 32]);
                let fresh_public = x25519_dalek::PublicKey::from(&fresh);
                let theirs = x25519_dalek::PublicKey::from(black_box([side.wrapping_add(3); 32]));
                let receiving = ours.diffie_hellman(&theirs);
                let sending = fresh.diffie_hellman(&theirs);
                n ^= receiving.as_bytes()[0] ^ sending.as_bytes()[0] ^ fresh_public.as_bytes()[0];
                n ^= primitive_floor(black_box(&text), black_box(&chain_key)) as u8;
            }
            n
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
