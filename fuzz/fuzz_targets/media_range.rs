//! Seekable range reads of a real encrypted video with garbage sidecars, ranges and blob edits:
//! whatever reads is the true plaintext. See `common/media_driver.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/media_driver.rs"]
mod media_driver;

fuzz_target!(|data: &[u8]| {
    let _ = media_driver::run_range(data);
});
