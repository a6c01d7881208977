//! Stateful sender-key decryption: a group member holding a sender's chains (with skipped,
//! unread, read and stale messages) fed fuzzer-made or fuzzer-mutated group messages and
//! distribution messages. See `common/group_driver.rs` for the input format and the properties
//! checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/group_driver.rs"]
mod group_driver;

fuzz_target!(|data: &[u8]| {
    group_driver::run(data);
});
