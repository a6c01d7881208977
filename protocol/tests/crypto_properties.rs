//! Property tests for the crypto core: signatures round-trip and any single-bit change is
//! refused; agreement is symmetric; CBC and GCM round-trip and refuse tampering; secrets never
//! print.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tandem::crypto::{self, KeyPair, PrivateKey, PublicKey, Secret};

fn key_pair(seed: u64) -> KeyPair {
    KeyPair::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn signatures_verify_and_any_flipped_bit_is_refused(
        seed: u64,
        message in proptest::collection::vec(any::<u8>(), 0..300),
        bit in 0usize..512,
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let pair = KeyPair::generate(&mut rng);
        let sig = pair.private.sign(&message, &mut rng).to_bytes();
        prop_assert!(pair.public.verify(&message, &sig).is_ok());

        let mut bad = sig;
        bad[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(pair.public.verify(&message, &bad).is_err());

        let mut other = message.clone();
        other.push(1);
        prop_assert!(pair.public.verify(&other, &sig).is_err());
        prop_assert!(key_pair(seed ^ 1).public.verify(&message, &sig).is_err());
    }

    #[test]
    fn agreement_is_symmetric(a: u64, b: u64) {
        prop_assume!(a != b);
        let (x, y) = (key_pair(a), key_pair(b));
        prop_assert_eq!(x.private.agree(&y.public).unwrap(), y.private.agree(&x.public).unwrap());
    }

    #[test]
    fn serialized_public_keys_round_trip(raw: [u8; 32]) {
        let key = PublicKey::from_raw(raw);
        prop_assert_eq!(PublicKey::deserialize(&key.serialize()).unwrap(), key);
    }

    #[test]
    fn cbc_round_trips_and_tampering_never_panics(
        plaintext in proptest::collection::vec(any::<u8>(), 0..100),
        flip in 0usize..200,
    ) {
        let key = Secret::new([9u8; 32]);
        let iv = [1u8; 16];
        let ct = crypto::aes256_cbc_encrypt(&key, &iv, &plaintext);
        prop_assert_eq!(ct.len() % 16, 0);
        prop_assert_eq!(crypto::aes256_cbc_decrypt(&key, &iv, &ct).unwrap(), plaintext.clone());
        let mut bad = ct.clone();
        let i = flip % bad.len();
        bad[i] ^= 0x80;
        // CBC alone is not authenticated: a flip gives an error or different bytes, never the
        // original plaintext, and never a panic.
        if let Ok(p) = crypto::aes256_cbc_decrypt(&key, &iv, &bad) { prop_assert_ne!(p, plaintext.clone()) }
        prop_assert!(crypto::aes256_cbc_decrypt(&key, &iv, &ct[..ct.len() - 1]).is_err());
    }

    #[test]
    fn gcm_refuses_any_flipped_bit(
        plaintext in proptest::collection::vec(any::<u8>(), 0..100),
        aad in proptest::collection::vec(any::<u8>(), 0..20),
        flip: usize,
    ) {
        let key = Secret::new([3u8; 32]);
        let nonce = [5u8; 12];
        let sealed = crypto::aes256_gcm_seal(&key, &nonce, &aad, &plaintext).unwrap();
        prop_assert_eq!(crypto::aes256_gcm_open(&key, &nonce, &aad, &sealed).unwrap(), plaintext);
        let mut bad = sealed.clone();
        let bit = flip % (bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(crypto::aes256_gcm_open(&key, &nonce, &aad, &bad), Err(crypto::AeadError::BadTag));
    }
}

#[test]
fn small_order_peer_keys_are_refused() {
    let ours = key_pair(1);
    for u in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        assert_eq!(
            ours.private.agree(&PublicKey::from_raw(u)),
            Err(crypto::AgreementError::NonContributory)
        );
    }
}

#[test]
fn private_keys_are_clamped_on_import_and_never_printed() {
    let key = PrivateKey::from_bytes(&[0xFF; 32]).unwrap();
    let bytes = key.to_bytes();
    assert_eq!(bytes.expose()[0], 0xF8);
    assert_eq!(bytes.expose()[31], 0x7F);
    assert_eq!(format!("{key:?}"), "PrivateKey(redacted)");
    assert!(!format!("{:?}", key_pair(3)).contains("private: PrivateKey"));
    assert_eq!(
        PrivateKey::from_bytes(&[1u8; 31]).err(),
        Some(crypto::KeyError::BadKeyLength)
    );
}
