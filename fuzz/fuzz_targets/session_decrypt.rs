//! Stateful decryption, in the style of libsignal's fuzzers: two devices with live ratchets,
//! one of them fed fuzzer-made or fuzzer-mutated messages. See `common/session_driver.rs` for
//! the input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/session_driver.rs"]
mod session_driver;

fuzz_target!(|data: &[u8]| {
    session_driver::run(data);
});
