//! Stateful: the history importer fed a fuzzer-made chunk (compressed, plaintext, or the blob
//! itself) in chunk 0's slot: never panics, fails only with the expected reasons, applies only
//! well-formed chunks of the right sync. See `common/sync_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/sync_driver.rs"]
mod sync_driver;

fuzz_target!(|data: &[u8]| {
    let _ = sync_driver::run_history_chunk(data);
});
