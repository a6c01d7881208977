//! Writers of vector files from tandem's own output, for checking by another implementation
//! (the live interop scripts feed them to the real libsignal). Seeded, so a run is
//! reproducible; never used to produce the expected values of tandem's own tests.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::{Value, json};
use tandem::crypto::{PrivateKey, Secret};

/// A `curve-signature` file of `count` signatures made by tandem from `seed`: valid cases over
/// assorted message lengths, then invalid ones (a flipped bit in R, in s, in the message, and
/// the carried sign bit), which any conforming verifier must refuse.
pub fn curve_signatures(seed: u64, count: usize) -> Value {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let lengths = [0usize, 1, 32, 33, 64, 100, 200, 1000, 4096];
    let mut cases = Vec::new();
    for n in 0..count {
        let private = PrivateKey::generate(&mut rng);
        let len = lengths.get(n % lengths.len()).copied().unwrap_or(100);
        let mut message = vec![0u8; len];
        rng.fill_bytes(&mut message);
        let random = Secret::<64>::random(&mut rng);
        let signature = private.sign_with_randomness(&message, &random).to_bytes();
        let public = hex::encode(private.public_key().serialize());
        cases.push(json!({
            "id": format!("tandem-{n}"),
            "expect": "valid",
            "public": public,
            "private": hex::encode(private.to_bytes().expose()),
            "random": hex::encode(random.expose()),
            "message": hex::encode(&message),
            "signature": hex::encode(signature),
        }));
        let flips: [(&str, usize, u8); 3] = [("r", 0, 0x01), ("s", 40, 0x10), ("sign-bit", 63, 0x80)];
        for (what, byte, mask) in flips {
            let mut bad = signature;
            if let Some(b) = bad.get_mut(byte) {
                *b ^= mask;
            }
            cases.push(json!({
                "id": format!("tandem-{n}-flip-{what}"),
                "expect": "invalid",
                "error": "BadSignature",
                "public": public,
                "message": hex::encode(&message),
                "signature": hex::encode(bad),
            }));
        }
        let mut other = message.clone();
        other.push(0);
        cases.push(json!({
            "id": format!("tandem-{n}-longer-message"),
            "expect": "invalid",
            "error": "BadSignature",
            "public": public,
            "message": hex::encode(&other),
            "signature": hex::encode(signature),
        }));
    }
    json!({
        "kind": "curve-signature",
        "source": format!("tandem {} (tandem-vectors generate curve-signatures --seed {seed})", env!("CARGO_PKG_VERSION")),
        "description": "Signatures made by tandem, for checking by other implementations.",
        "cases": cases,
    })
}
