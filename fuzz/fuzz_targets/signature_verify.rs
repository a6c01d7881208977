//! Signature verification on arbitrary key, message and signature bytes: never panics, and
//! a garbage signature never verifies under a real key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::crypto::{PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (key, rest) = data.split_at(32);
    let key: [u8; 32] = key.try_into().unwrap();
    let split = rest.len().min(64);
    let (signature, message) = rest.split_at(split);
    // Arbitrary u-coordinate (including off-curve and small-order values).
    let _ = PublicKey::from_raw(key).verify(message, signature);
    // A real key: a fuzzer-made signature must not verify.
    let real = PrivateKey::from_bytes(&key).unwrap().public_key();
    assert!(real.verify(message, signature).is_err());
});
