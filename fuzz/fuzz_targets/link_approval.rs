//! Stateful: the companion's `PendingLink::complete` fed fuzzer-made or fuzzer-mutated
//! approvals (optionally re-MACed with the link secret, as a rogue who saw the QR code could):
//! never panics; succeeds only for the genuine approval's values, and then the primary confirms
//! the device; after a failure the genuine approval still completes. See
//! `common/linking_driver.rs` for the input format and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/linking_driver.rs"]
mod linking_driver;

fuzz_target!(|data: &[u8]| {
    linking_driver::run_approval(data);
});
