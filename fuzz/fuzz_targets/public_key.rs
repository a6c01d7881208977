//! Public-key decoding: never panics; whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem::crypto::PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::deserialize(data) {
        assert_eq!(&key.serialize()[..], data);
    }
});
