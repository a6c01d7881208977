//! Media decryption of garbage blobs, digests and keys (one-shot, one-pass stream and
//! verify-first must agree; what decrypts re-encrypts to itself). See `common/media_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/media_driver.rs"]
mod media_driver;

fuzz_target!(|data: &[u8]| {
    let _ = media_driver::run_decrypt(data);
});
