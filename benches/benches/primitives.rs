//! The primitive floor: each primitive tandem's protocol uses, so later benches can state their
//! cost as a ratio to the sum of the primitives a step needs. tandem's wrappers are measured
//! beside the raw crates in the same run, so the wrapper overhead shows as a ratio too.

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey, Verifier};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use std::hint::black_box;
use tandem::crypto::{self, KeyPair, PrivateKey, Secret};

fn curve(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let a = KeyPair::generate(&mut rng);
    let b = KeyPair::generate(&mut rng);
    let msg = [7u8; 100];
    let sig = a.private.sign(&msg, &mut rng);

    let mut g = c.benchmark_group("curve25519");
    g.bench_function("x25519 agree (tandem)", |bench| {
        bench.iter(|| a.private.agree(black_box(&b.public)))
    });
    let raw_secret = x25519_dalek::StaticSecret::from([3u8; 32]);
    let raw_public = x25519_dalek::PublicKey::from([9u8; 32]);
    g.bench_function("x25519 agree (x25519-dalek)", |bench| {
        bench.iter(|| raw_secret.diffie_hellman(black_box(&raw_public)))
    });
    g.bench_function("keygen (tandem)", |bench| {
        bench.iter(|| KeyPair::generate(&mut rng))
    });
    g.bench_function("sign 100 B (tandem, libsignal style)", |bench| {
        bench.iter(|| a.private.sign(black_box(&msg), &mut rng))
    });
    g.bench_function("verify 100 B (tandem, libsignal style)", |bench| {
        bench.iter(|| a.public.verify(black_box(&msg), sig.as_ref()))
    });
    let ed = SigningKey::from_bytes(&[5u8; 32]);
    let ed_sig = ed.sign(&msg);
    let ed_pub = ed.verifying_key();
    g.bench_function("sign 100 B (ed25519-dalek)", |bench| {
        bench.iter(|| ed.sign(black_box(&msg)))
    });
    g.bench_function("verify 100 B (ed25519-dalek)", |bench| {
        bench.iter(|| ed_pub.verify(black_box(&msg), &ed_sig))
    });
    g.finish();
    drop(PrivateKey::generate(&mut rng));
}

fn symmetric(c: &mut Criterion) {
    let key = Secret::new([1u8; 32]);
    let iv = [2u8; 16];
    let nonce = [3u8; 12];
    let msg = [4u8; 100];
    let ct = crypto::aes256_cbc_encrypt(&key, &iv, &msg);
    let sealed = crypto::aes256_gcm_seal(&key, &nonce, b"", &msg).unwrap_or_default();

    let mut g = c.benchmark_group("symmetric");
    g.bench_function("hkdf-sha256 32 -> 80 B", |bench| {
        bench.iter(|| crypto::hkdf_sha256::<80>(black_box(&[9u8; 32]), &[], b"WhisperMessageKeys"))
    });
    g.bench_function("hmac-sha256 100 B", |bench| {
        bench.iter(|| crypto::hmac_sha256(key.expose(), black_box(&msg)))
    });
    g.bench_function("aes-256-cbc encrypt 100 B", |bench| {
        bench.iter(|| crypto::aes256_cbc_encrypt(&key, &iv, black_box(&msg)))
    });
    g.bench_function("aes-256-cbc decrypt 100 B", |bench| {
        bench.iter(|| crypto::aes256_cbc_decrypt(&key, &iv, black_box(&ct)))
    });
    g.bench_function("aes-256-gcm seal 100 B", |bench| {
        bench.iter(|| crypto::aes256_gcm_seal(&key, &nonce, b"", black_box(&msg)))
    });
    g.bench_function("aes-256-gcm open 100 B", |bench| {
        bench.iter(|| crypto::aes256_gcm_open(&key, &nonce, b"", black_box(&sealed)))
    });
    g.bench_function("sha-256 100 B", |bench| {
        bench.iter(|| crypto::sha256(&[black_box(&msg)]))
    });
    g.bench_function("sha-512 100 B", |bench| {
        bench.iter(|| crypto::sha512(&[black_box(&msg)]))
    });
    g.finish();
}

criterion_group!(benches, curve, symmetric);
criterion_main!(benches);
